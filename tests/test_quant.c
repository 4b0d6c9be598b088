/* test_quant.c -- the differentiable quantiser (spec section 1):
 * q = 2^e round(clamp(2^-e w, -2^(B-1), 2^(B-1) - 1)), B = max(b, 0),
 * forward against a double-precision reference written here, backward
 * against the closed forms of the straight-through estimator, computed here
 * independently of the library. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "ops/ops.h"
#include "quant/quantizer.h"
#include "selfcompress.h"
#include "util/testutil.h"

#define LN2 0.69314718055994530942

/* round half to even, without the floating-point environment */
static double round_even(double x)
{
    double f = floor(x), d = x - f;
    if (d > 0.5)
        return f + 1.0;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

typedef struct ref {
    double u, lo, hi, q;
} ref;

static ref quant_ref(double w, double b, double e)
{
    ref r;
    double big = b > 0.0 ? b : 0.0;
    r.u = w * pow(2.0, -e);
    r.lo = -pow(2.0, big - 1.0);
    r.hi = pow(2.0, big - 1.0) - 1.0;
    double c = r.u < r.lo ? r.lo : (r.u > r.hi ? r.hi : r.u);
    r.q = pow(2.0, e) * round_even(c);
    return r;
}

static float quant1(float w, float b, float e)
{
    float q;
    sc_quant_channel(&w, 1, b, e, &q);
    return q;
}

/* ---- forward ------------------------------------------------------------ */

START_TEST(test_forward_random_vs_reference)
{
    tu_lcg r;
    tu_lcg_seed(&r, 1);
    enum { N = 257 };
    float w[N], q[N];
    int checked = 0, clamped = 0;
    for (int trial = 0; trial < 200; trial++) {
        /* integer e: 2^-e w is exact in float, so the results must match
         * the double reference bit for bit */
        float b = (float)tu_lcg_range(&r, -1.0, 12.0);
        float e = (float)(tu_lcg_int(&r, 16) - 12);
        tu_fill(&r, w, N, -3.0, 3.0);
        sc_quant_channel(w, N, b, e, q);
        for (int i = 0; i < N; i++) {
            ref x = quant_ref(w[i], b, e);
            ck_assert_msg(q[i] == (float)x.q,
                          "w %.9g b %g e %g: q %.9g, reference %.9g", w[i], b,
                          e, q[i], x.q);
            checked++;
            clamped += x.u <= x.lo || x.u >= x.hi;
        }
    }
    /* both regimes were exercised */
    ck_assert_int_gt(clamped, checked / 20);
    ck_assert_int_lt(clamped, checked - checked / 20);

    /* fractional e: 2^-e w rounds in float; equal up to that rounding,
     * except next to a rounding tie */
    int compared = 0;
    for (int trial = 0; trial < 100; trial++) {
        float b = (float)tu_lcg_range(&r, 1.0, 10.0);
        float e = (float)tu_lcg_range(&r, -10.0, 1.0);
        tu_fill(&r, w, N, -2.0, 2.0);
        sc_quant_channel(w, N, b, e, q);
        for (int i = 0; i < N; i++) {
            ref x = quant_ref(w[i], b, e);
            double frac = x.u - floor(x.u);
            if (fabs(frac - 0.5) < 1e-4)
                continue;
            ck_assert_msg(fabs(q[i] - x.q) <= 1e-6 * fmax(fabs(x.q), pow(2.0, e)),
                          "w %.9g b %g e %g: q %.9g, reference %.9g", w[i], b,
                          e, q[i], x.q);
            compared++;
        }
    }
    ck_assert_int_gt(compared, 100 * N * 9 / 10);
}
END_TEST

START_TEST(test_forward_zero_bits)
{
    const float w[] = {0.0f, 1e-6f, -1e-6f, 0.3f, -0.3f, 7.0f, -7.0f, 1e6f, -1e6f};
    float q[9];
    const float bs[] = {0.0f, -0.5f, -3.0f, -50.0f};
    const float es[] = {-8.0f, 0.0f, 3.0f};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            sc_quant_channel(w, 9, bs[i], es[j], q);
            for (int k = 0; k < 9; k++) {
                ck_assert_msg(q[k] == 0.0f, "b %g e %g w %g: q %g", bs[i],
                              es[j], w[k], q[k]);
                ck_assert(!signbit(q[k])); /* and +0 */
            }
        }
}
END_TEST

START_TEST(test_forward_fractional_bits)
{
    /* B = 2.5: lo = -2^1.5 = -2.828..., hi = 2^1.5 - 1 = 1.828... */
    ck_assert_float_eq(quant1(1.2f, 2.5f, 0.0f), 1.0f);
    ck_assert_float_eq(quant1(1.7f, 2.5f, 0.0f), 2.0f);  /* below hi, rounds up */
    ck_assert_float_eq(quant1(5.0f, 2.5f, 0.0f), 2.0f);  /* round(1.828) */
    ck_assert_float_eq(quant1(-2.6f, 2.5f, 0.0f), -3.0f);
    ck_assert_float_eq(quant1(-5.0f, 2.5f, 0.0f), -3.0f); /* round(-2.828) */
    ck_assert_float_eq(quant1(-2.4f, 2.5f, 0.0f), -2.0f);
    /* B = 0.5: lo = -0.707, hi = -0.293: everything rounds to -1 or 0 */
    ck_assert_float_eq(quant1(3.0f, 0.5f, 0.0f), 0.0f);
    ck_assert_float_eq(quant1(-3.0f, 0.5f, 0.0f), -1.0f);
    /* B = 1: lo = -1, hi = 0 */
    ck_assert_float_eq(quant1(0.9f, 1.0f, 0.0f), 0.0f);
    ck_assert_float_eq(quant1(-0.9f, 1.0f, 0.0f), -1.0f);
    /* with a scale: e = -2, B = 3.25: hi = 2^2.25 - 1 = 3.757 */
    ck_assert_float_eq(quant1(1.0f, 3.25f, -2.0f), 1.0f);   /* u = 4 -> 3.757 -> 4 */
    ck_assert_float_eq(quant1(-1.3f, 3.25f, -2.0f), -1.25f); /* u = -5.2 -> lo = -4.757 -> -5 */
}
END_TEST

START_TEST(test_forward_extreme_exponents)
{
    /* e = 20: a quantum of 2^20 */
    ck_assert_float_eq(quant1(3e6f, 8.0f, 20.0f), 3.0f * 1048576.0f);
    ck_assert_float_eq(quant1(1e9f, 8.0f, 20.0f), 127.0f * 1048576.0f);
    ck_assert_float_eq(quant1(-1e12f, 8.0f, 20.0f), -128.0f * 1048576.0f);
    ck_assert_float_eq(quant1(0.5f, 8.0f, 20.0f), 0.0f);
    /* e = -30: a quantum of 2^-30 */
    ck_assert_float_eq(quant1(1e-9f, 8.0f, -30.0f), ldexpf(1.0f, -30));
    ck_assert_float_eq(quant1(1.0f, 8.0f, -30.0f), ldexpf(127.0f, -30));
    ck_assert_float_eq(quant1(-1.0f, 8.0f, -30.0f), ldexpf(-128.0f, -30));
    /* the ends of what sc_net_set_quant accepts: finite, as the formula */
    const float es[] = {-64.0f, 64.0f};
    const float ws[] = {0.0f, 1e-30f, -1.0f, 3e38f, -3e38f};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5; j++)
            for (float b = 0.0f; b <= 32.0f; b += 8.0f) {
                float q = quant1(ws[j], b, es[i]);
                ref x = quant_ref(ws[j], b, es[i]);
                ck_assert_msg(isfinite(q), "w %g b %g e %g: q %g", ws[j], b,
                              es[i], q);
                ck_assert_msg(fabs(q - x.q) <= 1e-6 * fabs(x.q),
                              "w %g b %g e %g: q %g, reference %g", ws[j], b,
                              es[i], q, x.q);
            }
}
END_TEST

START_TEST(test_forward_ties_to_even)
{
    const float u[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.5f, -3.5f};
    const float want[] = {0.0f, 2.0f, 2.0f, 0.0f, -2.0f, -2.0f, 4.0f, -4.0f};
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(quant1(u[i], 8.0f, 0.0f) == want[i], "round(%g) = %g",
                      u[i], quant1(u[i], 8.0f, 0.0f));
        /* the same ties one octave down: u = w / 2^-1 */
        ck_assert_float_eq(quant1(u[i] / 2.0f, 8.0f, -1.0f), want[i] / 2.0f);
    }
}
END_TEST

START_TEST(test_initial_exponent_unclamped)
{
    /* the data-aware start: max |w| stays strictly inside [lo, hi] (for
     * b >= 2; below, hi < 1 cannot hold a positive weight's largest
     * magnitude at any scale that keeps it representable) */
    const float ms[] = {1e-3f, 0.07f, 0.9f, 3.0f};
    const float bs[] = {2.0f, 3.5f, 8.0f, 16.0f};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float e = sc_quant_initial_exponent(ms[i], bs[j], -8.0f);
            ref x = quant_ref(ms[i], bs[j], e);
            ck_assert_msg(x.u < x.hi && -x.u > x.lo, "m %g b %g: u %g hi %g",
                          ms[i], bs[j], x.u, x.hi);
        }
    ck_assert_float_eq(sc_quant_initial_exponent(0.0f, 8.0f, -8.0f), -8.0f);
    /* the extremes of float stay within e's range [-64, 64] */
    ck_assert_float_eq(sc_quant_initial_exponent(3e38f, 2.0f, -8.0f), 64.0f);
    ck_assert_float_eq(sc_quant_initial_exponent(1e-40f, 16.0f, -8.0f), -64.0f);
}
END_TEST

/* ---- backward ----------------------------------------------------------- */

/* closed forms of spec section 1 for one channel, dL/dq = g */
static void backward_ref(const float *w, const float *g, size_t k, double b,
                         double e, double *gw, double *gb, double *ge)
{
    *gb = *ge = 0.0;
    double big = b > 0.0 ? b : 0.0;
    for (size_t i = 0; i < k; i++) {
        ref x = quant_ref(w[i], b, e);
        int inside = x.lo < x.u && x.u < x.hi;
        gw[i] = inside ? g[i] : 0.0;
        *ge += inside ? g[i] * LN2 * (x.q - w[i]) : g[i] * LN2 * x.q;
        if (!inside && b > 0.0)
            *gb += g[i] * pow(2.0, e) * LN2 * pow(2.0, big - 1.0) *
                   (x.u >= x.hi ? 1.0 : -1.0);
    }
}

static void assert_close(double got, double want, double tol, const char *what,
                         int o)
{
    ck_assert_msg(fabs(got - want) <= tol * fmax(1e-2, fabs(want)),
                  "%s of channel %d: %.9g, closed form %.9g", what, o, got,
                  want);
}

/* A quantised dense layer 24 -> 6 on a 24 x 1 x 1 input; channel o gets
 * (b, e) from the tables: some clamp at both ends, one is fractional, two
 * are dead. */
enum { K = 24, C = 6 };
static const float tb[C] = {3.0f, 2.5f, 8.0f, 0.0f, -1.0f, 1.0f};
static const float te[C] = {-2.0f, -3.0f, -6.0f, -2.0f, -2.0f, -1.0f};

static sc_net *dense_net(int id_out[1])
{
    sc_net *net;
    TU_OK(sc_net_create(&net, K, 1, 1));
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 32)); /* the full range */
    TU_OK(sc_net_dense(net, SC_INPUT, C, SC_NO_BIAS, id_out));
    TU_OK(sc_net_init(net, 4));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_quant(net, id_out[0], tb, te, C));
    /* weights spread so that both clamps are hit */
    tu_lcg r;
    tu_lcg_seed(&r, 5);
    float *w = sc_node_param(net, &net->nodes[id_out[0]], P_W);
    tu_fill(&r, w, (size_t)K * C, -1.5, 1.5);
    return net;
}

/* The node's quantiser forward, then its backward from dL/dq = g (filled
 * from seed): on return its grads hold dL/dw, dL/db and dL/de. */
static void backward_from(sc_net *net, sc_node *nd, uint64_t seed, float g[K * C])
{
    TU_OK(sc_plan(net, 1)); /* qw */
    sc_layer_quantize(net, nd);
    tu_lcg r;
    tu_lcg_seed(&r, seed);
    tu_fill(&r, g, K * C, -1.0, 1.0);
    memset(net->grads, 0, net->n_params * sizeof(float));
    memcpy(sc_node_grad(net, nd, P_W), g, K * C * sizeof(float)); /* dL/dq */
    sc_layer_straight_through(net, nd);
}

/* Channel o's dL/dw (exactly), dL/db and dL/de against the closed forms
 * for bit depth b and exponent e; rw gets the closed-form dL/dw. */
static void check_channel(const float *w, const float *g, const float *gw,
                          const float *gb, const float *ge, int o, double b,
                          double e, double rw[K])
{
    double rb, re;
    backward_ref(w + o * K, g + o * K, K, b, e, rw, &rb, &re);
    for (int i = 0; i < K; i++)
        ck_assert_msg(gw[o * K + i] == (float)rw[i],
                      "dL/dw[%d][%d] = %g, closed form %g", o, i,
                      gw[o * K + i], rw[i]);
    assert_close(gb[o], rb, 1e-5, "dL/db", o);
    assert_close(ge[o], re, 1e-5, "dL/de", o);
}

START_TEST(test_backward_node_closed_forms)
{
    int id;
    sc_net *net = dense_net(&id);
    sc_node *nd = &net->nodes[id];
    float g[K * C];
    backward_from(net, nd, 6, g);
    const float *w = sc_node_param(net, nd, P_W);
    const float *gw = sc_node_grad(net, nd, P_W);
    const float *gb = sc_node_grad(net, nd, P_QB), *ge = sc_node_grad(net, nd, P_QE);
    int inside = 0, outside = 0;
    for (int o = 0; o < C; o++) {
        double rw[K];
        check_channel(w, g, gw, gb, ge, o, tb[o], te[o], rw);
        for (int i = 0; i < K && tb[o] > 0.0f; i++)
            *(rw[i] != 0.0 ? &inside : &outside) += 1;
        if (tb[o] <= 0.0f) { /* dead: all zero */
            ck_assert_float_eq(gb[o], 0.0f);
            ck_assert_float_eq(ge[o], 0.0f);
        }
    }
    ck_assert_int_gt(inside, 20);
    ck_assert_int_gt(outside, 20);
    sc_net_free(net);
}
END_TEST

/* Bit depths of 23.5 bits and more (hi >= 2^22), where rounding leaves
 * the fast path (quantizer.c's round_even), against the same closed forms:
 * e = -22 puts |2^-e w| between 2^19 and 2^22.6, inside the range. */
START_TEST(test_backward_wide_bits)
{
    int id;
    sc_net *net = dense_net(&id);
    sc_node *nd = &net->nodes[id];
    const float wb[C] = {23.5f, 24.0f, 30.0f, 32.0f, 25.0f, 26.5f};
    const float we[C] = {-22.0f, -22.0f, -22.0f, -22.0f, -21.0f, -22.0f};
    TU_OK(sc_net_set_quant(net, id, wb, we, C));
    float g[K * C];
    backward_from(net, nd, 8, g);
    const float *w = sc_node_param(net, nd, P_W);
    const float *gw = sc_node_grad(net, nd, P_W);
    const float *gb = sc_node_grad(net, nd, P_QB), *ge = sc_node_grad(net, nd, P_QE);
    int big = 0;
    for (int o = 0; o < C; o++) {
        double rw[K];
        check_channel(w, g, gw, gb, ge, o, wb[o], we[o], rw);
        for (int i = 0; i < K; i++)
            big += fabs(quant_ref(w[o * K + i], wb[o], we[o]).u) >= 4194304.0;
    }
    ck_assert_int_gt(big, 20); /* the slow path really ran */
    sc_net_free(net);
}
END_TEST

/* A non-finite dL/dq makes its channel's dL/de non-finite, wherever the
 * weight lies (inside, clamped, in a dead channel) and whichever lane or
 * tail position it takes: sc_grads_finite() checks quantised layers' weight
 * gradients only through it. And that check still sees them, and a
 * non-finite gradient outside those weights. */
START_TEST(test_backward_nonfinite_reaches_exponent)
{
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int v = 0; v < 3; v++)
        for (int at = 0; at < K * C; at += 5) {
            int id;
            sc_net *net = dense_net(&id);
            sc_node *nd = &net->nodes[id];
            TU_OK(sc_plan(net, 1));
            sc_layer_quantize(net, nd);
            float *gw = sc_node_grad(net, nd, P_W);
            tu_lcg r;
            tu_lcg_seed(&r, 9);
            memset(net->grads, 0, net->n_params * sizeof(float));
            tu_fill(&r, gw, K * C, -1.0, 1.0);
            ck_assert(sc_grads_finite(net));
            gw[at] = bad[v];
            sc_layer_straight_through(net, nd);
            const float *ge = sc_node_grad(net, nd, P_QE);
            for (int o = 0; o < C; o++)
                ck_assert_msg(isfinite(ge[o]) == (o != at / K),
                              "value %d at %d: dL/de[%d] = %g", v, at, o,
                              ge[o]);
            ck_assert_msg(!sc_grads_finite(net), "value %d at %d passed", v, at);
            sc_net_free(net);
        }
    /* a quantised net's non-weight gradient (a bit depth's) is checked */
    int id;
    sc_net *net = dense_net(&id);
    memset(net->grads, 0, net->n_params * sizeof(float));
    ck_assert(sc_grads_finite(net));
    sc_node_grad(net, &net->nodes[id], P_QB)[C - 1] = NAN;
    ck_assert(!sc_grads_finite(net));
    sc_net_free(net);
    /* and a layer that is not quantised has its weight gradients checked */
    TU_OK(sc_net_create(&net, K, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, C, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 4));
    memset(net->grads, 0, net->n_params * sizeof(float));
    ck_assert(sc_grads_finite(net));
    sc_node_grad(net, &net->nodes[id], P_W)[K * C - 1] = INFINITY;
    ck_assert(!sc_grads_finite(net));
    sc_net_free(net);
}
END_TEST

/* The same closed forms through a whole training step: SGD without momentum
 * at lr = 2^10 makes the update -1024 * gradient; the task gradient dL/dq =
 * (softmax - onehot)^T x / n and the size term gamma dQ/db are computed here
 * in double. */
/* SGD without momentum: lr on weights and biases, lrq on b and e. */
static sc_optimizer *plain_sgd(sc_net *net, double lr, double lrq)
{
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    TU_OK(sc_optimizer_set(opt, SC_OPT_MOMENTUM, 0, 0.0));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_ALL, lr));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_QUANT, lrq));
    return opt;
}

/* A batch of N random inputs and labels (from seed) for dense_net,
 * wrapped around x. */
enum { N = 5 };
static sc_tensor *step_batch(uint64_t seed, float x[N * K], int32_t labels[N])
{
    tu_lcg r;
    tu_lcg_seed(&r, seed);
    tu_fill(&r, x, N * K, -1.0, 1.0);
    tu_labels(&r, labels, N, C);
    int64_t shape[4] = {N, K, 1, 1};
    sc_tensor *t;
    TU_OK(sc_tensor_wrap(&t, 4, shape, x));
    return t;
}

START_TEST(test_backward_through_train_step)
{
    int id;
    sc_net *net = dense_net(&id);
    /* lrq small enough that no b or e leaves its range (the step clamps
     * them back) */
    const double gamma = 0.25, lr = 1024.0, lrq = 16.0;
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, gamma));
    sc_optimizer *opt = plain_sgd(net, lr, lrq);
    float x[N * K];
    int32_t labels[N];
    sc_tensor *t = step_batch(7, x, labels);
    size_t np = sc_net_param_count(net);
    ck_assert_uint_eq(np, (size_t)K * C + 2 * C); /* W, then b, then e */
    float *p0 = tu_params(net, NULL);

    /* the reference: q from the double quantiser, logits, softmax */
    double q[C][K], gq[C][K] = {{0}};
    for (int o = 0; o < C; o++)
        for (int i = 0; i < K; i++)
            q[o][i] = quant_ref(p0[o * K + i], tb[o], te[o]).q;
    for (int s = 0; s < N; s++) {
        double z[C], m = -INFINITY, sum = 0.0;
        for (int o = 0; o < C; o++) {
            z[o] = 0.0;
            for (int i = 0; i < K; i++)
                z[o] += q[o][i] * x[s * K + i];
            m = fmax(m, z[o]);
        }
        for (int o = 0; o < C; o++)
            sum += exp(z[o] - m);
        for (int o = 0; o < C; o++) {
            double dz = (exp(z[o] - m) / sum - (labels[s] == o)) / N;
            for (int i = 0; i < K; i++)
                gq[o][i] += dz * x[s * K + i];
        }
    }
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(net, opt, t, labels, &st));
    float *p1 = tu_params(net, NULL);
    /* N0 = K*C; live_in = K; dQ/db = K / (K C) for b > 0 */
    double qsum = 0.0;
    for (int o = 0; o < C; o++) {
        float gqf[K];
        double rw[K], rb, re;
        for (int i = 0; i < K; i++)
            gqf[i] = (float)gq[o][i];
        backward_ref(p0 + o * K, gqf, K, tb[o], te[o], rw, &rb, &re);
        if (tb[o] > 0.0f) {
            rb += gamma * (double)K / (K * C);
            qsum += tb[o] * (double)K / (K * C);
        }
        for (int i = 0; i < K; i++) {
            double got = ((double)p0[o * K + i] - p1[o * K + i]) / lr;
            ck_assert_msg(fabs(got - rw[i]) <= 1e-5 * fmax(fabs(rw[i]), 1e-3),
                          "dL/dw[%d][%d] = %.9g, closed form %.9g", o, i, got,
                          rw[i]);
        }
        double gotb = ((double)p0[K * C + o] - p1[K * C + o]) / lrq;
        double gote = ((double)p0[K * C + C + o] - p1[K * C + C + o]) / lrq;
        assert_close(gotb, rb, 1e-4, "dL/db", o);
        assert_close(gote, re, 1e-4, "dL/de", o);
    }
    ck_assert_double_eq_tol(st.size_loss, qsum, 1e-9);
    free(p0);
    free(p1);
    sc_tensor_free(t);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* A step whose update takes b above 32 or e outside [-64, 64] leaves them
 * at the bounds, so the net still saves: lr 1e6 on b and e. */
START_TEST(test_step_keeps_quant_ranges)
{
    int id;
    sc_net *net = dense_net(&id);
    const float tb2[C] = {31.5f, 31.5f, 8.0f, 8.0f, 3.0f, 31.9f};
    TU_OK(sc_net_set_quant(net, id, tb2, te, C));
    sc_optimizer *opt = plain_sgd(net, 0.0, 1e6);
    float x[N * K];
    int32_t labels[N];
    sc_tensor *t = step_batch(9, x, labels);
    TU_OK(sc_net_train_step(net, opt, t, labels, NULL));
    float b[C], e[C];
    TU_OK(sc_net_get_quant(net, id, b, e, C));
    int at_bound = 0;
    for (int o = 0; o < C; o++) {
        ck_assert_msg(b[o] <= 32.0f && fabsf(e[o]) <= 64.0f,
                      "channel %d: b %g e %g", o, b[o], e[o]);
        at_bound += fabsf(e[o]) == 64.0f;
    }
    ck_assert_int_gt(at_bound, 0); /* the clamp was needed */
    tu_make_tmpdir("sc_test_quant");
    TU_OK(sc_net_save(net, tu_path("q.scm"), NULL));
    tu_remove_tmpdir();
    sc_tensor_free(t);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* SC_PARAM_QUANT_B_MAX: quantize starts within the cap, a step that would
 * raise b past it stops there (without the cap the same step goes past),
 * set_quant refuses b above it, a lower cap brings b down, and a
 * checkpoint keeps it. */
START_TEST(test_bit_depth_cap)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, K, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, C, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 4));
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B0, 10.0));
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 6.0));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    float b[C], e[C];
    TU_OK(sc_net_get_quant(net, id, b, e, C));
    for (int o = 0; o < C; o++)
        ck_assert_float_eq(b[o], 6.0f);
    sc_net_free(net);

    float x[N * K];
    int32_t labels[N];
    for (int i = 0; i < N * K; i++)
        x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    for (int i = 0; i < N; i++)
        labels[i] = i % C;
    int64_t shape[4] = {N, K, 1, 1};
    sc_tensor *t;
    TU_OK(sc_tensor_wrap(&t, 4, shape, x));
    for (int capped = 0; capped < 2; capped++) {
        /* 7.5 bits and exponents that clamp nothing: the steps' gradients
         * raise some b past 8 */
        TU_OK(sc_net_create(&net, K, 1, 1));
        TU_OK(sc_net_dense(net, SC_INPUT, C, SC_NO_BIAS, &id));
        TU_OK(sc_net_init(net, 4));
        double cap;
        TU_OK(sc_net_get_param(net, SC_PARAM_QUANT_B_MAX, &cap));
        ck_assert_double_eq(cap, 8.0); /* the default */
        TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 32.0));
        TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B0, 7.5));
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        if (capped)
            TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 8.0));
        sc_optimizer *opt = plain_sgd(net, 0.0, 100.0);
        for (int s = 0; s < 3; s++)
            TU_OK(sc_net_train_step(net, opt, t, labels, NULL));
        TU_OK(sc_net_get_quant(net, id, b, e, C));
        int above = 0, at = 0;
        for (int o = 0; o < C; o++) {
            above += b[o] > 8.0f;
            at += b[o] == 8.0f;
        }
        if (!capped) {
            ck_assert_int_gt(above, 0); /* the step raises some b past 8 */
        } else {
            ck_assert_int_eq(above, 0);
            ck_assert_int_gt(at, 0);
            const float nine[C] = {9, 1, 1, 1, 1, 1};
            TU_FAILS(sc_net_set_quant(net, id, nine, NULL, C), SC_ERR_ARG);
            TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 4.0));
            TU_OK(sc_net_get_quant(net, id, b, e, C));
            for (int o = 0; o < C; o++)
                ck_assert(b[o] <= 4.0f);
            tu_make_tmpdir("sc_test_quant");
            TU_OK(sc_checkpoint_save(net, opt, NULL, 0, tu_path("cap.sck")));
            sc_net *back;
            sc_optimizer *ob;
            TU_OK(sc_checkpoint_load(tu_path("cap.sck"), &back, &ob, NULL, 0, NULL));
            TU_OK(sc_net_get_param(back, SC_PARAM_QUANT_B_MAX, &cap));
            ck_assert_double_eq(cap, 4.0);
            sc_optimizer_free(ob);
            sc_net_free(back);
            tu_remove_tmpdir();
        }
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
    sc_tensor_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("quantiser");
    tcase_add_test(tc, test_forward_random_vs_reference);
    tcase_add_test(tc, test_forward_zero_bits);
    tcase_add_test(tc, test_forward_fractional_bits);
    tcase_add_test(tc, test_forward_extreme_exponents);
    tcase_add_test(tc, test_forward_ties_to_even);
    tcase_add_test(tc, test_initial_exponent_unclamped);
    tcase_add_test(tc, test_backward_node_closed_forms);
    tcase_add_test(tc, test_backward_wide_bits);
    tcase_add_test(tc, test_backward_nonfinite_reaches_exponent);
    tcase_add_test(tc, test_backward_through_train_step);
    tcase_add_test(tc, test_step_keeps_quant_ranges);
    tcase_add_test(tc, test_bit_depth_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
