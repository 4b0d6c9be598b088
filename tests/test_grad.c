/* test_grad.c -- every op's and layer's gradient against central finite
 * differences (src/nn/gradcheck.c), the checker's own sensitivity to a
 * wrong factor or a transposition, the max-pool tie rule, and the softmax
 * cross-entropy values. Float nets only (quantised layers use a
 * straight-through estimator). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gradcheck.h"
#include "ops/ops.h"
#include "util/testutil.h"

#define EPS 1e-2
#define FLOOR 1e-2  /* err = |a - n| / max(FLOOR, |a|, |n|) */
#define TOL 1e-2    /* pass: err <= TOL */
#define MARGIN 2e-2
#define N 4         /* batch */

/* ------------------------------------------------------------ helpers */

static sc_net *new_net(int c, int h, int w)
{
    sc_net *net = NULL;
    TU_OK(sc_net_create(&net, c, h, w));
    return net;
}

static size_t in_size(const sc_net *net)
{
    return (size_t)net->in_c * net->in_h * net->in_w;
}

/* A batch for net whose forward pass keeps MARGIN away from every kink:
 * the first of seeds 1, 2, ... that does (deterministic). */
static float *make_batch(sc_net *net, int n, int32_t *labels, double scale)
{
    size_t nx = (size_t)n * in_size(net);
    float *x = malloc(nx * sizeof *x);
    ck_assert_ptr_nonnull(x);
    tu_lcg r;
    for (uint64_t seed = 1; seed <= 3000; seed++) {
        tu_lcg_seed(&r, seed);
        tu_fill(&r, x, nx, -scale, scale);
        tu_labels(&r, labels, n, sc_net_output_size(net));
        if (tu_kink_margin(net, x, n) >= MARGIN) {
            if (getenv("TU_VERBOSE"))
                fprintf(stderr, "batch seed %d\n", (int)seed);
            return x;
        }
    }
    ck_abort_msg("no batch keeps %g away from a kink", MARGIN);
    return NULL;
}

static float *copy_state(const sc_net *net)
{
    float *s = malloc((net->n_state ? net->n_state : 1) * sizeof *s);
    ck_assert_ptr_nonnull(s);
    memcpy(s, net->state, net->n_state * sizeof *s);
    return s;
}

/* conv layers of net that run by Winograd (conv_winograd.c) */
static int winograd_layers(const sc_net *net)
{
    int k = 0;
    for (int i = 1; i < net->n_nodes; i++)
        k += net->nodes[i].kind == SC_LAYER_CONV2D &&
             sc_winograd_fits(net, &net->nodes[i]);
    return k;
}

/* Checks every parameter and input element of net on a kink-free batch,
 * then that doubling the analytic gradient would have been caught.
 * With Winograd layers, the analytic gradient (Winograd's backward) is
 * compared with central differences of the direct forward: the same
 * function, but Winograd's own forward rounds more (its transforms have
 * entries up to 5.25), and central differences of it missed TOL by its
 * rounding alone (errors up to 1.1e-2, against 1e-3 for the direct
 * forward on the same nets). */
static void check_net_n(sc_net *net, int n, const char *what)
{
    int32_t labels[16];
    ck_assert_int_le(n, 16);
    float *x = make_batch(net, n, labels, 1.0);
    size_t nx = (size_t)n * in_size(net), np = net->n_params;
    float *x0 = malloc(nx * sizeof *x0);
    memcpy(x0, x, nx * sizeof *x0);
    size_t cnt;
    float *p0 = tu_params(net, &cnt);
    float *s0 = copy_state(net);

    /* every element; under valgrind an even spread of about 96 parameters
     * and 48 inputs (the same code runs, far fewer times) */
    size_t lp = UNDER_VALGRIND() ? 96 : 0, lx = UNDER_VALGRIND() ? 48 : 0;
    sc_gc_opts o = {EPS, FLOOR, lp, lx, 0};
    sc_gc_result res;
    int wino = winograd_layers(net);
    float *da = malloc((np ? np : 1) * sizeof *da), *dxa = malloc(nx * sizeof *dxa);
    TU_OK(sc_grad_loss(net, x, n, labels, NULL, NULL, da, dxa));
    if (wino)
        TU_OK(sc_net_set_param(net, SC_PARAM_CONV_ALGO, SC_CONV_ALGO_DIRECT));
    TU_OK(sc_grad_compare(net, x, n, labels, NULL, da, dxa, &o, &res));
    free(da);
    free(dxa);
    ck_assert_msg(res.max_err <= TOL,
                  "%s: %s element %zu: analytic %.6g numeric %.6g (err %.3g)",
                  what, res.worst_is_input ? "input" : "param", res.worst,
                  res.worst_analytic, res.worst_numeric, res.max_err);
    if (!UNDER_VALGRIND())
        ck_assert_uint_eq(res.checked, np + nx);
    if (getenv("TU_VERBOSE"))
        fprintf(stderr, "%-36s err %.2e (%zu elements)\n", what, res.max_err,
                res.checked);
    ck_assert_msg(isfinite(res.loss) && res.loss > 0.0, "%s: loss %g", what,
                  res.loss);

    /* the check changed nothing */
    ck_assert_msg(tu_params_equal(net, p0, cnt), "%s: params changed", what);
    ck_assert_msg(memcmp(s0, net->state, net->n_state * sizeof *s0) == 0,
                  "%s: running statistics changed", what);
    ck_assert_msg(memcmp(x0, x, nx * sizeof *x0) == 0, "%s: x changed", what);

    /* sensitivity: the same comparison with a gradient off by a factor 2
     * must fail, for the parameters and for the input separately */
    float *dp = malloc((np ? np : 1) * sizeof *dp), *dx = malloc(nx * sizeof *dx);
    double loss;
    TU_OK(sc_grad_loss(net, x, n, labels, NULL, &loss, dp, dx));
    ck_assert_msg(loss == res.loss, "%s: loss %.17g vs %.17g", what, loss,
                  res.loss);
    if (np) {
        for (size_t i = 0; i < np; i++)
            dp[i] *= 2.0f;
        sc_gc_opts op = {EPS, FLOOR, lp, 0, 1};
        TU_OK(sc_grad_compare(net, x, n, labels, NULL, dp, NULL, &op, &res));
        ck_assert_msg(res.max_err > 0.3, "%s: doubled dparams not caught "
                      "(err %g)", what, res.max_err);
        for (size_t i = 0; i < np; i++)
            dp[i] *= 0.5f;
    }
    for (size_t i = 0; i < nx; i++)
        dx[i] *= 2.0f;
    TU_OK(sc_grad_compare(net, x, n, labels, NULL, dp, dx, &o, &res));
    ck_assert_msg(res.max_err > 0.3 && res.worst_is_input,
                  "%s: doubled dx not caught (err %g)", what, res.max_err);
    if (wino)
        TU_OK(sc_net_set_param(net, SC_PARAM_CONV_ALGO, SC_CONV_ALGO_AUTO));
    free(dp);
    free(dx);
    free(p0);
    free(s0);
    free(x0);
    free(x);
}

static void check_net(sc_net *net, const char *what)
{
    check_net_n(net, N, what);
}

/* Initialises a freshly built net with seed, checks it and frees it. */
static void init_check_free(sc_net *net, uint64_t seed, const char *what)
{
    TU_OK(sc_net_init(net, seed));
    check_net(net, what);
    sc_net_free(net);
}

/* ------------------------------------------------------------ dense */

START_TEST(test_dense)
{
    for (int bias = 0; bias <= 1; bias++) {
        sc_net *net = new_net(2, 2, 3);
        int id;
        TU_OK(sc_net_dense(net, SC_INPUT, 4, bias ? SC_BIAS : SC_NO_BIAS, &id));
        init_check_free(net, 11, bias ? "dense bias" : "dense");
    }
}
END_TEST

START_TEST(test_dense_dense)
{
    /* the second layer's input gradient feeds the first layer's params */
    sc_net *net = new_net(5, 1, 1);
    int id;
    TU_OK(sc_net_dense(net, SC_INPUT, 6, SC_BIAS, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &id));
    init_check_free(net, 12, "dense-dense");
}
END_TEST

/* ------------------------------------------------------------ conv2d */

static const struct conv_case {
    int kh, kw, sh, sw, ph, pw, bias;
} conv_cases[] = {
    {3, 3, 1, 1, 1, 1, 1}, {3, 3, 1, 1, 0, 0, 0}, {3, 3, 2, 2, 1, 1, 1},
    {3, 3, 2, 2, 0, 0, 0},
    {1, 1, 1, 1, 0, 0, 1}, /* direct path */
    {1, 1, 1, 1, 0, 0, 0}, /* direct path, no bias */
    {1, 1, 2, 2, 0, 0, 1}, {1, 1, 1, 1, 1, 1, 0}, {5, 3, 1, 1, 2, 2, 1},
    {5, 3, 2, 2, 2, 2, 0}, {5, 3, 1, 1, 0, 0, 1}, {3, 3, 1, 1, 2, 2, 0},
    {5, 5, 1, 1, 2, 2, 1}, {5, 5, 1, 1, 1, 1, 0}, /* Winograd F(4x4, 5x5) */
    {5, 5, 1, 1, 0, 0, 1},                        /* Winograd, unpadded */
    /* per axis: a 1-D kernel, strides and pads that differ */
    {1, 5, 1, 1, 0, 2, 1}, {3, 2, 2, 1, 1, 0, 0}, {2, 3, 1, 2, 0, 1, 1},
    {5, 5, 1, 1, 2, 1, 1}, /* pads differ: not Winograd */
    {5, 5, 2, 1, 2, 2, 0}, /* strides differ: not Winograd */
};

/* The case's conv of c output channels after layer in. */
static void conv_of(sc_net *net, int in, int c, const struct conv_case *cc,
                    int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = c;
    d.kernel_h = cc->kh;
    d.kernel_w = cc->kw;
    d.stride_h = cc->sh;
    d.stride_w = cc->sw;
    d.pad_h = cc->ph;
    d.pad_w = cc->pw;
    d.flags = cc->bias ? SC_BIAS : SC_NO_BIAS;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, id));
}

START_TEST(test_conv2d)
{
    const struct conv_case *cc = &conv_cases[_i];
    int wino = cc->kh == 5 && cc->kw == 5 && cc->sh == 1 && cc->sw == 1 &&
               cc->ph == cc->pw; /* pads <= 2 */
    char what[96];
    snprintf(what, sizeof what, "conv %dx%d s%dx%d p%dx%d %s", cc->kh, cc->kw,
             cc->sh, cc->sw, cc->ph, cc->pw, cc->bias ? "bias" : "nobias");
    /* conv under test after a first conv: its input gradient reaches the
     * first conv's weights and the input */
    sc_net *net = new_net(2, 7, 6);
    int id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &id));
    conv_of(net, id, 3, cc, &id);
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    ck_assert_int_eq(winograd_layers(net), wino);
    init_check_free(net, 100 + (uint64_t)_i, what);

    /* and directly on the input */
    net = new_net(2, 7, 6);
    conv_of(net, SC_INPUT, 2, cc, &id);
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &id));
    ck_assert_int_eq(winograd_layers(net), wino);
    init_check_free(net, 200 + (uint64_t)_i, what);

    /* its input read by a second branch too: the conv adds its dx to the
     * other branch's instead of storing it */
    int first, a, b;
    net = new_net(2, 7, 6);
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &first));
    conv_of(net, first, 3, cc, &id);
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &a));
    TU_OK(sc_net_global_avgpool(net, first, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &b));
    TU_OK(sc_net_add(net, a, b, &id));
    ck_assert_int_eq(winograd_layers(net), wino);
    TU_OK(sc_net_init(net, 300 + (uint64_t)_i));
    check_net(net, what);
    ck_assert(!net->nodes[first].dy_set); /* planned: two writers, summed */
    sc_net_free(net);
}
END_TEST

/* grouped convolutions: groups > 1 with strides and padding, depthwise
 * (one input per group) with and without a channel multiplier, per axis */
static const struct grouped_case {
    int cin, cout, groups, kh, kw, sh, sw, ph, pw, bias;
} grouped_cases[] = {
    {4, 6, 2, 3, 3, 2, 2, 1, 1, 1},
    {3, 3, 3, 3, 3, 1, 1, 1, 1, 0}, /* depthwise */
    {3, 3, 3, 3, 3, 2, 2, 1, 1, 1}, /* depthwise, stride 2 (dscnn's) */
    {3, 6, 3, 3, 2, 1, 2, 1, 0, 1}, /* depthwise x 2, per axis */
    {4, 4, 2, 1, 3, 1, 1, 0, 1, 0},
    {4, 8, 4, 5, 5, 1, 1, 2, 2, 1}, /* 5x5: never Winograd when grouped */
};

static int grouped_conv(sc_net *net, int in, const struct grouped_case *g)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = g->cout;
    d.kernel_h = g->kh;
    d.kernel_w = g->kw;
    d.stride_h = g->sh;
    d.stride_w = g->sw;
    d.pad_h = g->ph;
    d.pad_w = g->pw;
    d.groups = g->groups;
    d.flags = g->bias ? SC_BIAS : SC_NO_BIAS;
    int id;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, &id));
    return id;
}

START_TEST(test_conv_grouped)
{
    const struct grouped_case *g = &grouped_cases[_i];
    char what[96];
    snprintf(what, sizeof what, "grouped conv %d->%d g%d %dx%d s%dx%d p%dx%d",
             g->cin, g->cout, g->groups, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw);
    /* after a first conv, so its dx reaches parameters; and once with
     * a second reader of that conv's output (dx added, not stored) */
    for (int branch = 0; branch < 2; branch++) {
        sc_net *net = new_net(2, 7, 6);
        int first, id, a;
        TU_OK(sc_net_conv2d(net, SC_INPUT, g->cin, 3, 3, 1, 1, SC_BIAS, &first));
        id = grouped_conv(net, first, g);
        ck_assert_int_eq(winograd_layers(net), 0);
        TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &a));
        if (branch) {
            int b;
            TU_OK(sc_net_global_avgpool(net, first, &id));
            TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &b));
            TU_OK(sc_net_add(net, a, b, &id));
        }
        TU_OK(sc_net_init(net, 400 + (uint64_t)(_i * 2 + branch)));
        check_net(net, what);
        sc_net_free(net);
    }
}
END_TEST

/* A grouped conv computes what the ungrouped conv with the same weights in
 * its group's block (zero elsewhere) computes. */
START_TEST(test_conv_grouped_is_block_diagonal)
{
    const struct grouped_case *g = &grouped_cases[_i];
    struct grouped_case full = *g;
    full.groups = 1;
    sc_net *a = new_net(g->cin, 7, 6), *b = new_net(g->cin, 7, 6);
    int ia = grouped_conv(a, SC_INPUT, g), ib = grouped_conv(b, SC_INPUT, &full);
    TU_OK(sc_net_init(a, 9));
    TU_OK(sc_net_init(b, 9));
    int cin_g = g->cin / g->groups, cout_g = g->cout / g->groups;
    size_t taps = (size_t)g->kh * g->kw;
    float *wa = sc_node_param(a, &a->nodes[ia], P_W), *wb = sc_node_param(b, &b->nodes[ib], P_W);
    for (int o = 0; o < g->cout; o++)
        for (int c = 0; c < g->cin; c++)
            for (size_t t = 0; t < taps; t++) {
                int grp = o / cout_g, own = c / cin_g == grp;
                wb[((size_t)o * g->cin + c) * taps + t] =
                    own ? wa[((size_t)o * cin_g + c % cin_g) * taps + t] : 0.0f;
            }
    if (g->bias)
        memcpy(sc_node_param(b, &b->nodes[ib], P_B), sc_node_param(a, &a->nodes[ia], P_B),
               (size_t)g->cout * sizeof(float));
    tu_batch x = tu_batch_make(3, g->cin, 7, 6, 0, 10);
    float *ya = tu_eval_out(a, &x), *yb = tu_eval_out(b, &x);
    size_t m = (size_t)3 * sc_net_output_size(a);
    ck_assert_int_eq(sc_net_output_size(a), sc_net_output_size(b));
    for (size_t k = 0; k < m; k++)
        ck_assert_msg(fabsf(ya[k] - yb[k]) <= 1e-5f * (1.0f + fabsf(yb[k])),
                      "output %zu: %g vs %g", k, ya[k], yb[k]);
    free(ya);
    free(yb);
    tu_batch_free(&x);
    sc_net_free(a);
    sc_net_free(b);
}
END_TEST

START_TEST(test_conv2d_threads)
{
    /* two threads split samples and sum weight-gradient partials: the same
     * gradient as one thread, and it passes the check too */
    sc_net *net = new_net(2, 6, 6);
    int id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_conv2d(net, id, 4, 3, 3, 2, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 7));
    int32_t labels[N];
    float *x = make_batch(net, N, labels, 1.0);
    size_t np = net->n_params, nx = N * in_size(net);
    float *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
    float *x1 = malloc(nx * sizeof *x1), *x2 = malloc(nx * sizeof *x2);
    TU_OK(sc_grad_loss(net, x, N, labels, NULL, NULL, g1, x1));
    TU_OK(sc_net_set_threads(net, 2));
    TU_OK(sc_grad_loss(net, x, N, labels, NULL, NULL, g2, x2));
    for (size_t i = 0; i < np; i++)
        ck_assert_msg(fabsf(g1[i] - g2[i]) <= 1e-5f * (1.0f + fabsf(g1[i])),
                      "param grad %zu: %g vs %g", i, g1[i], g2[i]);
    /* dx is computed per sample: identical */
    ck_assert(memcmp(x1, x2, nx * sizeof *x1) == 0);
    check_net(net, "conv threads 2");
    free(g1);
    free(g2);
    free(x1);
    free(x2);
    free(x);
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ batchnorm */

/* Sets running statistics to values far from the batch's. */
static void set_running_stats(sc_net *net, int id)
{
    sc_node *nd = &net->nodes[id];
    float *rm = sc_node_state(net, nd, S_MEAN), *rv = sc_node_state(net, nd, S_VAR);
    for (int c = 0; c < nd->c; c++) {
        rm[c] = 0.1f * (float)(c + 1) - 0.2f;
        rv[c] = 0.5f + 0.3f * (float)c;
    }
}

/* Gives affine batch norms non-trivial scale and shift. */
static void set_affine(sc_net *net, int id)
{
    sc_node *nd = &net->nodes[id];
    float *g = sc_node_param(net, nd, P_GAMMA), *b = sc_node_param(net, nd, P_BETA);
    for (int c = 0; g && c < nd->c; c++) {
        g[c] = 0.7f + 0.2f * (float)c;
        b[c] = 0.1f * (float)c - 0.1f;
    }
}

START_TEST(test_batchnorm)
{
    /* _i: bit 0 affine, bit 1 eval mode, bit 2 SC_BN_BATCH_STATS */
    int affine = _i & 1, eval = (_i >> 1) & 1, bstats = (_i >> 2) & 1;
    char what[96];
    snprintf(what, sizeof what, "batchnorm%s%s%s", affine ? " affine" : "",
             eval ? " eval" : " train", bstats ? " batch-stats" : "");
    int flags = (affine ? SC_BN_AFFINE : 0) | (bstats ? SC_BN_BATCH_STATS : 0);

    /* after a conv (spatial, batch statistics over n*h*w) */
    sc_net *net = new_net(2, 4, 3);
    int id, bn;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, flags, &bn));
    TU_OK(sc_net_dense(net, bn, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 31 + (uint64_t)_i));
    set_running_stats(net, bn);
    set_affine(net, bn);
    TU_OK(sc_net_set_training(net, !eval));
    check_net(net, what);
    sc_net_free(net);

    /* directly on the input, and on a dense output (h = w = 1) */
    net = new_net(3, 2, 2);
    TU_OK(sc_net_batchnorm(net, SC_INPUT, flags, &bn));
    TU_OK(sc_net_dense(net, bn, 5, SC_BIAS, &id));
    int bn2;
    TU_OK(sc_net_batchnorm(net, id, flags, &bn2));
    TU_OK(sc_net_dense(net, bn2, 3, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 41 + (uint64_t)_i));
    set_running_stats(net, bn);
    set_running_stats(net, bn2);
    set_affine(net, bn);
    set_affine(net, bn2);
    TU_OK(sc_net_set_training(net, !eval));
    check_net_n(net, 6, what);
    sc_net_free(net);
}
END_TEST

START_TEST(test_batchnorm_eval_uses_running_stats)
{
    /* eval without SC_BN_BATCH_STATS: y = (x - rm) / sqrt(rv + eps), so the
     * input gradient is exactly dy / sqrt(rv + eps) per element: no
     * batch coupling (checked by value, in double) */
    sc_net *net = new_net(2, 1, 1);
    int bn, id;
    TU_OK(sc_net_batchnorm(net, SC_INPUT, SC_NO_BIAS, &bn));
    TU_OK(sc_net_dense(net, bn, 2, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 5));
    set_running_stats(net, bn);
    TU_OK(sc_net_set_training(net, 0));
    float x[6] = {0.3f, -1.0f, 2.0f, 0.5f, -0.7f, 0.1f};
    int32_t labels[3] = {0, 1, 1};
    float dx[6], dp[4];
    TU_OK(sc_grad_loss(net, x, 3, labels, NULL, NULL, dp, dx));
    const float *rv = sc_node_state(net, &net->nodes[bn], S_VAR);
    const float *dy = net->nodes[bn].dy;
    for (int i = 0; i < 6; i++) {
        double want = dy[i] / sqrt((double)rv[i % 2] + 1e-5);
        ck_assert_msg(fabs(dx[i] - want) <= 1e-6 * (1 + fabs(want)),
                      "dx[%d] %g want %g", i, dx[i], want);
    }
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ pointwise */

START_TEST(test_relu)
{
    sc_net *net = new_net(2, 4, 4);
    int id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 4, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 21, "relu");

    net = new_net(3, 2, 2);
    TU_OK(sc_net_relu(net, SC_INPUT, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 22, "relu on input");

    /* a relu on a flatten of the input (a relu may be planned in place on
     * its sole input, here one that aliases the input) */
    net = new_net(3, 2, 2);
    TU_OK(sc_net_flatten(net, SC_INPUT, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 23, "relu on flatten of input");
}
END_TEST

/* ------------------------------------------------------------ activations */

/* Each activation kind, its alpha, the conv biases that centre its
 * channels' inputs on its kinks (smooth kinds: on both tails and the
 * middle), and whether it works in place on a conv it alone reads. */
static const struct act_case {
    sc_layer_kind kind;
    float alpha;
    float centre[4];
    int in_place;
    const char *name;
} act_cases[] = {
    {SC_LAYER_LEAKY_RELU, 0.1f, {0.0f, 0.0f, 0.5f, -0.5f}, 1, "leaky relu"},
    {SC_LAYER_LEAKY_RELU, 0.0f, {0.0f, 0.0f, 0.5f, -0.5f}, 1,
     "leaky relu, alpha 0"},
    {SC_LAYER_RELU6, 0.0f, {0.0f, 6.0f, 0.5f, 5.5f}, 1, "relu6"},
    {SC_LAYER_SIGMOID, 0.0f, {0.0f, 2.5f, -2.5f, 0.0f}, 1, "sigmoid"},
    {SC_LAYER_TANH, 0.0f, {0.0f, 1.5f, -1.5f, 0.0f}, 1, "tanh"},
    {SC_LAYER_HARDSWISH, 0.0f, {-3.0f, 3.0f, 0.0f, -2.5f}, 0, "hardswish"},
};
#define N_ACT ((int)(sizeof act_cases / sizeof act_cases[0]))

static void act_of(sc_net *net, int in, const struct act_case *ac, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(ac->kind);
    d.alpha = ac->alpha;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, id));
}

START_TEST(test_activation)
{
    const struct act_case *ac = &act_cases[_i];
    char what[96];
    /* conv -> activation -> dense, the conv's channel k centred on
     * centre[k]: its outputs (spread about +-2) fall on both sides of
     * every kink, the batch keeps MARGIN from each, and a step of EPS in a
     * weight, bias or input moves a conv output by at most EPS max(|x|,
     * |w|) with |x| <= 1 and |w| < 2, less than MARGIN: no difference
     * straddles a kink */
    sc_net *net = new_net(2, 4, 4);
    int c, act, id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &c));
    act_of(net, c, ac, &act);
    TU_OK(sc_net_dense(net, act, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 31 + (uint64_t)_i));
    const float *w = sc_node_param(net, &net->nodes[c], P_W);
    for (size_t k = 0; k < net->nodes[c].pn[P_W]; k++)
        ck_assert(fabsf(w[k]) < 2.0f);
    float *b = sc_node_param(net, &net->nodes[c], P_B);
    for (int k = 0; k < 4; k++)
        b[k] = ac->centre[k];
    check_net(net, ac->name);
    ck_assert_int_eq(net->nodes[act].alias, ac->in_place);
    sc_net_free(net);

    /* on the input: never in place on the caller's batch */
    net = new_net(3, 2, 2);
    act_of(net, SC_INPUT, ac, &act);
    TU_OK(sc_net_dense(net, act, 3, SC_BIAS, &id));
    snprintf(what, sizeof what, "%s on input", ac->name);
    init_check_free(net, 41 + (uint64_t)_i, what);

    /* after a tanh, whose backward reads its own output: the activation
     * must not overwrite it */
    net = new_net(2, 3, 3);
    sc_layer_desc t = SC_LAYER_DESC_INIT(SC_LAYER_TANH);
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &c));
    TU_OK(sc_net_add_layer(net, &t, &c, 1, &id));
    act_of(net, id, ac, &act);
    TU_OK(sc_net_dense(net, act, 3, SC_BIAS, &id));
    snprintf(what, sizeof what, "%s after tanh", ac->name);
    init_check_free(net, 51 + (uint64_t)_i, what);
}
END_TEST

/* The double reference of case ac's y (slope 0) or dy/dx (slope 1) at x;
 * at a kink the slope is PyTorch's: relu6 0 at 0 and 6, leaky relu alpha
 * at 0, hardswish x / 3 + 1/2 on [-3, 3]. */
static double act_ref(const struct act_case *ac, double x, int slope)
{
    double s = 1.0 / (1.0 + exp(-x)), t = tanh(x);
    switch ((int)ac->kind) { /* the activations only */
    case SC_LAYER_LEAKY_RELU:
        return slope ? (x > 0 ? 1.0 : ac->alpha) : (x > 0 ? x : ac->alpha * x);
    case SC_LAYER_RELU6:
        return slope ? (x > 0 && x < 6) : fmin(fmax(x, 0.0), 6.0);
    case SC_LAYER_SIGMOID:
        return slope ? s * (1.0 - s) : s;
    case SC_LAYER_TANH:
        return slope ? 1.0 - t * t : t;
    case SC_LAYER_HARDSWISH:
        if (slope)
            return x < -3 ? 0.0 : x > 3 ? 1.0 : x / 3.0 + 0.5;
        return x * fmin(fmax(x + 3.0, 0.0), 6.0) / 6.0;
    default:
        ck_abort_msg("kind %d", (int)ac->kind);
    }
    return 0.0;
}

START_TEST(test_activation_values)
{
    /* y and dx = f'(x) dL/dy, at, beside and far from the kinks, against
     * double references; on the input, and after a conv of weight 1 (in
     * place there, but hardswish) */
    static const float xs[] = {-100.0f, -6.0f, -3.5f, -3.0f, -2.5f, -1.0f,
                               -0.25f, 0.0f, 0.25f, 1.0f, 2.5f, 3.0f,
                               3.5f, 5.75f, 6.0f, 6.5f, 100.0f};
    enum { K = sizeof xs / sizeof xs[0] };
    const struct act_case *ac = &act_cases[_i];
    for (int copy = 0; copy < 2; copy++) {
        sc_net *net = new_net(1, 1, K);
        int in = SC_INPUT, act;
        if (copy)
            TU_OK(sc_net_conv2d(net, SC_INPUT, 1, 1, 1, 1, 0, SC_NO_BIAS, &in));
        act_of(net, in, ac, &act);
        TU_OK(sc_net_init(net, 3));
        if (copy) {
            float one = 1.0f;
            TU_OK(sc_net_set_params(net, &one, 1));
        }
        int32_t label = 3;
        float dx[K], dp[1];
        TU_OK(sc_grad_loss(net, xs, 1, &label, NULL, NULL, dp, dx));
        const sc_node *nd = &net->nodes[act];
        ck_assert_int_eq(nd->alias, copy && ac->in_place);
        /* dL/dy = softmax(y) - onehot(label) (one sample) */
        double y[K], m = -INFINITY, sum = 0.0;
        for (int i = 0; i < K; i++) {
            y[i] = act_ref(ac, xs[i], 0);
            m = fmax(m, y[i]);
        }
        for (int i = 0; i < K; i++)
            sum += exp(y[i] - m);
        for (int i = 0; i < K; i++) {
            ck_assert_msg(fabs(nd->y[i] - y[i]) <= 1e-6 * (1 + fabs(y[i])),
                          "%s: y(%g) = %.9g, want %.9g", ac->name, xs[i],
                          nd->y[i], y[i]);
            double d = act_ref(ac, xs[i], 1) *
                       (exp(y[i] - m) / sum - (i == label));
            ck_assert_msg(fabs(dx[i] - d) <= 1e-6, "%s%s: dx(%g) = %.9g, "
                          "want %.9g", ac->name, copy ? " after conv" : "",
                          xs[i], dx[i], d);
        }
        sc_net_free(net);
    }
}
END_TEST

START_TEST(test_maxpool)
{
    /* _i 0: k2 s2; 1: k3 s1 (overlapping windows); 2: k3 s2; 3: k2 s1 */
    static const int ks[4][2] = {{2, 2}, {3, 1}, {3, 2}, {2, 1}};
    int k = ks[_i][0], s = ks[_i][1];
    char what[64];
    snprintf(what, sizeof what, "maxpool k%d s%d", k, s);
    sc_net *net = new_net(2, 6, 5);
    int id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_maxpool(net, id, k, s, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 51 + (uint64_t)_i, what);

    net = new_net(2, 5, 6);
    TU_OK(sc_net_maxpool(net, SC_INPUT, k, s, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &id));
    init_check_free(net, 61 + (uint64_t)_i, what);

    /* the pooled conv output read by a second branch too: the pool adds
     * its dx to the other branch's instead of storing it */
    int conv, a, b;
    net = new_net(2, 5, 7);
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 1, SC_BIAS, &conv));
    TU_OK(sc_net_maxpool(net, conv, k, s, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &a));
    TU_OK(sc_net_global_avgpool(net, conv, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &b));
    TU_OK(sc_net_add(net, a, b, &id));
    TU_OK(sc_net_init(net, 71 + (uint64_t)_i));
    check_net(net, what);
    ck_assert(!net->nodes[conv].dy_set); /* planned: two writers, summed */
    sc_net_free(net);
}
END_TEST

/* windowed pools through the descriptor: per-axis windows, strides and
 * padding, max and average (both count modes) */
static const struct pool_case {
    sc_layer_kind kind;
    int kh, kw, sh, sw, ph, pw, flags;
} pool_cases[] = {
    {SC_LAYER_MAXPOOL, 3, 2, 2, 1, 1, 0, 0},
    {SC_LAYER_MAXPOOL, 3, 3, 2, 2, 1, 1, 0},
    {SC_LAYER_MAXPOOL, 2, 3, 1, 2, 0, 1, 0},
    {SC_LAYER_AVGPOOL, 3, 2, 2, 1, 1, 1, 0},
    {SC_LAYER_AVGPOOL, 3, 2, 2, 1, 1, 1, SC_POOL_COUNT_PAD},
    {SC_LAYER_AVGPOOL, 2, 3, 1, 2, 1, 1, 0},
    {SC_LAYER_AVGPOOL, 2, 3, 1, 2, 1, 1, SC_POOL_COUNT_PAD},
    {SC_LAYER_AVGPOOL, 2, 2, 2, 2, 0, 0, 0},
};
#define N_POOL_CASES (int)(sizeof pool_cases / sizeof pool_cases[0])

static void add_pool(sc_net *net, const struct pool_case *pc, int in, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(pc->kind);
    d.kernel_h = pc->kh;
    d.kernel_w = pc->kw;
    d.stride_h = pc->sh;
    d.stride_w = pc->sw;
    d.pad_h = pc->ph;
    d.pad_w = pc->pw;
    d.flags = pc->flags;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, id));
}

static void pool_name(const struct pool_case *pc, char *buf, size_t size)
{
    snprintf(buf, size, "%s %dx%d s%dx%d p%dx%d%s",
             pc->kind == SC_LAYER_MAXPOOL ? "maxpool" : "avgpool", pc->kh,
             pc->kw, pc->sh, pc->sw, pc->ph, pc->pw,
             pc->flags & SC_POOL_COUNT_PAD ? " count_pad" : "");
}

START_TEST(test_window_pools)
{
    const struct pool_case *pc = &pool_cases[_i];
    char what[80];
    pool_name(pc, what, sizeof what);
    sc_net *net = new_net(2, 6, 5);
    int id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 1, SC_BIAS, &id));
    add_pool(net, pc, id, &id);
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 121 + (uint64_t)_i, what);

    net = new_net(2, 5, 6);
    add_pool(net, pc, SC_INPUT, &id);
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &id));
    init_check_free(net, 141 + (uint64_t)_i, what);

    /* the pooled conv output read by a second branch too: the pool adds
     * its dx to the other branch's */
    int conv, a, b;
    net = new_net(2, 5, 7);
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 1, SC_BIAS, &conv));
    add_pool(net, pc, conv, &id);
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &a));
    TU_OK(sc_net_global_avgpool(net, conv, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &b));
    TU_OK(sc_net_add(net, a, b, &id));
    TU_OK(sc_net_init(net, 161 + (uint64_t)_i));
    check_net(net, what);
    ck_assert(!net->nodes[conv].dy_set);
    sc_net_free(net);
}
END_TEST

/* The pools' outputs against their definition on the zero-padded (avg) or
 * -inf-padded (max) input, written out here: the mean's divisor is kh kw
 * with SC_POOL_COUNT_PAD, else the window's elements inside the input; the
 * max pool's argmax is the first maximum inside the input. */
START_TEST(test_window_pool_values)
{
    const struct pool_case *pc = &pool_cases[_i];
    char what[80];
    pool_name(pc, what, sizeof what);
    const int c = 2, h = 5, w = 4, n = 2;
    sc_net *net = new_net(c, h, w);
    int pool, id;
    add_pool(net, pc, SC_INPUT, &pool);
    TU_OK(sc_net_dense(net, pool, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 7));
    size_t nx = (size_t)n * c * h * w;
    float *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx);
    float *dp = malloc(net->n_params * sizeof *dp);
    for (size_t i = 0; i < nx; i++) /* distinct values, negative ones too */
        x[i] = (float)((i * 37) % nx) / (float)nx - 0.7f;
    int32_t labels[2] = {0, 2};
    TU_OK(sc_grad_loss(net, x, n, labels, NULL, NULL, dp, dx));
    const sc_node *nd = &net->nodes[pool];
    int oh = (h + 2 * pc->ph - pc->kh) / pc->sh + 1,
        ow = (w + 2 * pc->pw - pc->kw) / pc->sw + 1;
    ck_assert_int_eq(nd->h, oh);
    ck_assert_int_eq(nd->w, ow);
    int padded_windows = 0;
    for (int p = 0; p < n * c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *xp = x + (size_t)p * h * w;
                double sum = 0.0, best = -INFINITY;
                int inside = 0, at = -1;
                for (int i = 0; i < pc->kh; i++)
                    for (int j = 0; j < pc->kw; j++) {
                        int iy = oy * pc->sh - pc->ph + i,
                            ix = ox * pc->sw - pc->pw + j;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue; /* 0 in the sum, -inf for the max */
                        inside++;
                        sum += xp[iy * w + ix];
                        if (xp[iy * w + ix] > best) {
                            best = xp[iy * w + ix];
                            at = iy * w + ix;
                        }
                    }
                padded_windows += inside < pc->kh * pc->kw;
                size_t o = ((size_t)p * oh + oy) * ow + ox;
                double want = pc->kind == SC_LAYER_MAXPOOL ? best
                              : pc->flags & SC_POOL_COUNT_PAD
                                  ? sum / (pc->kh * pc->kw)
                                  : sum / inside;
                ck_assert_msg(fabs(nd->y[o] - want) <= 1e-6,
                              "%s: plane %d (%d, %d): %g, want %g", what, p,
                              oy, ox, nd->y[o], want);
                if (pc->kind == SC_LAYER_MAXPOOL)
                    ck_assert_int_eq(nd->arg[o], at);
            }
    /* the padded cases have windows that cross the padding */
    ck_assert(pc->ph + pc->pw == 0 || padded_windows > 0);
    free(x);
    free(dx);
    free(dp);
    sc_net_free(net);
}
END_TEST

START_TEST(test_global_pools)
{
    for (int is_max = 0; is_max <= 1; is_max++) {
        const char *what = is_max ? "global maxpool" : "global avgpool";
        sc_net *net = new_net(2, 4, 3);
        int id;
        TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &id));
        if (is_max)
            TU_OK(sc_net_global_maxpool(net, id, &id));
        else
            TU_OK(sc_net_global_avgpool(net, id, &id));
        TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
        init_check_free(net, 71 + (uint64_t)is_max, what);

        net = new_net(3, 3, 4);
        if (is_max)
            TU_OK(sc_net_global_maxpool(net, SC_INPUT, &id));
        else
            TU_OK(sc_net_global_avgpool(net, SC_INPUT, &id));
        TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &id));
        init_check_free(net, 81 + (uint64_t)is_max, what);
    }
}
END_TEST

/* Concat of three inputs, one of which also feeds an add (its dy gets a
 * slice and the add's), one twice; and straight on the input. */
START_TEST(test_concat)
{
    sc_net *net = new_net(2, 5, 4);
    int a, b, c, sum, cat, id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &a));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 1, 1, 1, 0, SC_NO_BIAS, &b));
    TU_OK(sc_net_conv2d(net, a, 3, 3, 3, 1, 1, SC_BIAS, &c));
    TU_OK(sc_net_add(net, a, c, &sum));
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    int ins[4] = {a, b, sum, b};
    TU_OK(sc_net_add_layer(net, &d, ins, 4, &cat));
    int ch, h, w;
    TU_OK(sc_net_layer_shape(net, cat, &ch, &h, &w));
    ck_assert(ch == 3 + 2 + 3 + 2 && h == 5 && w == 4);
    TU_OK(sc_net_conv2d(net, cat, 3, 3, 3, 2, 1, SC_BIAS, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 91, "concat of conv, conv, add, conv");

    net = new_net(2, 3, 3);
    int in2[2] = {SC_INPUT, SC_INPUT};
    TU_OK(sc_net_add_layer(net, &d, in2, 2, &cat));
    TU_OK(sc_net_dense(net, cat, 3, SC_BIAS, &id));
    init_check_free(net, 92, "concat of the input twice");
}
END_TEST

static int dropout_layer(sc_net *net, int in, float p)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_DROPOUT);
    d.alpha = p;
    int id;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, &id));
    return id;
}

/* Dropout with a fixed mask (a step counter set as a train step sets it):
 * its gradient; the mask drops about p of the elements and scales the rest
 * by 1 / (1 - p), is the same for the same step and another for the next. */
START_TEST(test_dropout)
{
    sc_net *net = new_net(2, 5, 4);
    int id, drop;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &id));
    drop = dropout_layer(net, id, 0.3f);
    TU_OK(sc_net_dense(net, drop, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 93));
    net->drop_step = 7;
    check_net(net, "dropout p 0.3, step 6");
    sc_net_free(net);

    /* the mask, on a big input */
    net = new_net(4, 32, 32);
    drop = dropout_layer(net, SC_INPUT, 0.25f);
    TU_OK(sc_net_flatten(net, drop, &id));
    TU_OK(sc_net_init(net, 5));
    int n = 8;
    size_t m = (size_t)n * 4 * 32 * 32;
    float *x = malloc(m * sizeof *x), *y1 = malloc(m * sizeof *y1);
    ck_assert(x && y1);
    for (size_t i = 0; i < m; i++)
        x[i] = 1.0f + (float)(i % 7);
    TU_OK(sc_plan(net, n));
    net->input = x;
    net->training = 1;
    net->drop_step = 3;
    sc_forward(net, n);
    memcpy(y1, net->nodes[drop].y, m * sizeof *y1);
    size_t zeros = 0;
    for (size_t i = 0; i < m; i++) {
        if (y1[i] == 0.0f)
            zeros++;
        else
            ck_assert_float_eq_tol(y1[i], x[i] / 0.75f, 1e-6f * y1[i]);
    }
    /* 32768 elements: p within 4 standard deviations (0.0096) */
    ck_assert_msg(fabs((double)zeros / m - 0.25) < 0.01, "dropped %zu of %zu",
                  zeros, m);
    sc_forward(net, n);
    ck_assert(memcmp(y1, net->nodes[drop].y, m * sizeof *y1) == 0);
    net->drop_step = 4;
    sc_forward(net, n);
    size_t same = 0;
    for (size_t i = 0; i < m; i++)
        same += (y1[i] == 0.0f) == (net->nodes[drop].y[i] == 0.0f);
    ck_assert_msg(same < m * 9 / 10, "the next step's mask is the same (%zu)", same);
    /* outside a train step: the identity */
    net->drop_step = 0;
    sc_forward(net, n);
    ck_assert(memcmp(x, net->nodes[drop].y, m * sizeof *x) == 0);
    free(x);
    free(y1);
    sc_net_free(net);
}
END_TEST

START_TEST(test_flatten)
{
    /* flatten between a conv and a dense, and directly on the input (its
     * dy aliases the input's, which the checker points at its dx) */
    sc_net *net = new_net(2, 3, 3);
    int id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 0, SC_BIAS, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 91, "conv-flatten-dense");

    net = new_net(2, 2, 3);
    TU_OK(sc_net_flatten(net, SC_INPUT, &id));
    TU_OK(sc_net_flatten(net, id, &id)); /* flatten of a flatten */
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    init_check_free(net, 92, "input-flatten-flatten-dense");
}
END_TEST

START_TEST(test_add)
{
    /* residual: a = conv(x); b = conv(relu(a)); s = a + b: a is consumed
     * twice and its gradient must be the sum of both paths */
    sc_net *net = new_net(2, 4, 4);
    int a, b, s, id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &a));
    TU_OK(sc_net_relu(net, a, &id));
    TU_OK(sc_net_conv2d(net, id, 3, 3, 3, 1, 1, SC_NO_BIAS, &b));
    TU_OK(sc_net_add(net, a, b, &s));
    TU_OK(sc_net_dense(net, s, 3, SC_BIAS, &id));
    init_check_free(net, 101, "residual add");

    /* one node as both operands: y = 2a */
    net = new_net(2, 3, 3);
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 1, SC_BIAS, &a));
    TU_OK(sc_net_add(net, a, a, &s));
    TU_OK(sc_net_dense(net, s, 3, SC_BIAS, &id));
    init_check_free(net, 102, "add(a, a)");

    /* the input itself as an operand: x + conv(x) */
    net = new_net(2, 3, 3);
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 1, SC_NO_BIAS, &a));
    TU_OK(sc_net_add(net, SC_INPUT, a, &s));
    TU_OK(sc_net_dense(net, s, 3, SC_BIAS, &id));
    init_check_free(net, 103, "add(x, conv(x))");
}
END_TEST

START_TEST(test_small_cnn)
{
    /* everything together: conv-bn-relu-maxpool-residual-gap-dense */
    sc_net *net = new_net(1, 4, 4);
    int id, a, b;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &a));
    TU_OK(sc_net_conv2d(net, a, 2, 3, 3, 1, 1, SC_BIAS, &b));
    TU_OK(sc_net_add(net, a, b, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_global_avgpool(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 111));
    check_net_n(net, 3, "small cnn");
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ the checker */

START_TEST(test_checker_flags_wrong_gradients)
{
    /* dense 4 -> 4 -> 3: a factor 2 on one slot, the transposed weight
     * gradient of the square layer, a swapped pair of bias gradients and a
     * sign flip of the input gradient each fail a check that passes on
     * the true gradient */
    sc_net *net = new_net(4, 1, 1);
    int d1, d2;
    TU_OK(sc_net_dense(net, SC_INPUT, 4, SC_BIAS, &d1));
    TU_OK(sc_net_dense(net, d1, 3, SC_BIAS, &d2));
    TU_OK(sc_net_init(net, 3));
    int32_t labels[N];
    float *x = make_batch(net, N, labels, 1.0);
    size_t np = net->n_params, nx = N * in_size(net);
    float *dp = malloc(np * sizeof *dp), *dx = malloc(nx * sizeof *dx);
    float *bad = malloc(np * sizeof *bad), *badx = malloc(nx * sizeof *badx);
    TU_OK(sc_grad_loss(net, x, N, labels, NULL, NULL, dp, dx));
    sc_gc_opts o = {EPS, FLOOR, 0, 0, 0};
    sc_gc_result r;
    TU_OK(sc_grad_compare(net, x, N, labels, NULL, dp, dx, &o, &r));
    ck_assert_msg(r.max_err <= TOL, "true gradient: err %g", r.max_err);

    sc_node *n1 = &net->nodes[d1], *n2 = &net->nodes[d2];
    /* factor 2 on the second layer's bias only */
    memcpy(bad, dp, np * sizeof *bad);
    for (size_t i = 0; i < n2->pn[P_B]; i++)
        bad[n2->poff[P_B] + i] *= 2.0f;
    TU_OK(sc_grad_compare(net, x, N, labels, NULL, bad, dx, &o, &r));
    ck_assert_msg(r.max_err > 0.3 && !r.worst_is_input &&
                      r.worst >= n2->poff[P_B] &&
                      r.worst < n2->poff[P_B] + n2->pn[P_B],
                  "factor 2 on the bias: err %g at %zu", r.max_err, r.worst);

    /* transposed weight gradient of the square 4x4 layer */
    memcpy(bad, dp, np * sizeof *bad);
    float *w = bad + n1->poff[P_W];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            w[i * 4 + j] = dp[n1->poff[P_W] + (size_t)j * 4 + i];
    TU_OK(sc_grad_compare(net, x, N, labels, NULL, bad, dx, &o, &r));
    ck_assert_msg(r.max_err > 0.3 && r.worst >= n1->poff[P_W] &&
                      r.worst < n1->poff[P_W] + 16,
                  "transposed dW: err %g at %zu", r.max_err, r.worst);

    /* two bias gradients swapped */
    memcpy(bad, dp, np * sizeof *bad);
    size_t b0 = n1->poff[P_B];
    float t = bad[b0];
    bad[b0] = bad[b0 + 1];
    bad[b0 + 1] = t;
    TU_OK(sc_grad_compare(net, x, N, labels, NULL, bad, dx, &o, &r));
    ck_assert_msg(r.max_err > 0.3, "swapped biases: err %g", r.max_err);

    /* sign of one input-gradient element with a non-negligible value */
    size_t big = 0;
    for (size_t i = 1; i < nx; i++)
        if (fabsf(dx[i]) > fabsf(dx[big]))
            big = i;
    memcpy(badx, dx, nx * sizeof *badx);
    badx[big] = -badx[big];
    TU_OK(sc_grad_compare(net, x, N, labels, NULL, dp, badx, &o, &r));
    ck_assert_msg(r.max_err > 1.0 && r.worst_is_input && r.worst == big,
                  "flipped dx[%zu]: err %g at %zu", big, r.max_err, r.worst);

    /* sampling: a budget of 10 params still visits every slot, so a
     * factor 2 on the smallest slot (3 biases) is caught */
    memcpy(bad, dp, np * sizeof *bad);
    for (size_t i = 0; i < n2->pn[P_B]; i++)
        bad[n2->poff[P_B] + i] *= 2.0f;
    sc_gc_opts os = {EPS, FLOOR, 10, 5, 0};
    TU_OK(sc_grad_compare(net, x, N, labels, NULL, bad, dx, &os, &r));
    ck_assert_msg(r.max_err > 0.3, "sampled: err %g", r.max_err);
    ck_assert_uint_lt(r.checked, np + nx);
    ck_assert_uint_ge(r.checked, 4 * 2 + 5); /* >= 2 per slot + inputs */

    free(dp);
    free(dx);
    free(bad);
    free(badx);
    free(x);
    sc_net_free(net);
}
END_TEST

START_TEST(test_checker_errors)
{
    sc_net *net = new_net(2, 1, 1);
    float x[4] = {0.1f, 0.2f, 0.3f, 0.4f}, dp[1];
    int32_t labels[2] = {0, 1}, badl[2] = {0, 2};
    sc_gc_result r;
    int id;
    TU_OK(sc_net_dense(net, SC_INPUT, 2, SC_NO_BIAS, &id));
    TU_FAILS(sc_grad_check(net, x, 2, labels, NULL, NULL, &r), SC_ERR_STATE);
    TU_OK(sc_net_init(net, 1));
    TU_FAILS(sc_grad_check(NULL, x, 2, labels, NULL, NULL, &r), SC_ERR_NULL);
    TU_FAILS(sc_grad_check(net, NULL, 2, labels, NULL, NULL, &r), SC_ERR_NULL);
    TU_FAILS(sc_grad_check(net, x, 2, NULL, NULL, NULL, &r), SC_ERR_ARG);
    TU_FAILS(sc_grad_check(net, x, 2, labels, NULL, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_grad_check(net, x, 0, labels, NULL, NULL, &r), SC_ERR_ARG);
    TU_FAILS(sc_grad_check(net, x, 2, badl, NULL, NULL, &r), SC_ERR_LABEL);
    TU_FAILS(sc_grad_compare(net, x, 2, labels, NULL, dp, NULL, NULL, &r),
             SC_ERR_NULL); /* dx needed unless skip_input */
    TU_OK(sc_grad_check(net, x, 2, labels, NULL, NULL, &r)); /* defaults */
    ck_assert_double_le(r.max_err, TOL);
    ck_assert_uint_eq(r.checked, 4 + 4);
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ ties */

/* Reference: index of the first maximum of a k x k window, row-major. */
static int first_max(const float *xp, int w, int oy, int ox, int k, int s)
{
    int best = (oy * s) * w + ox * s;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            int at = (oy * s + i) * w + ox * s + j;
            if (xp[at] > xp[best])
                best = at;
        }
    return best;
}

START_TEST(test_maxpool_ties)
{
    /* inputs made of few distinct values, so most windows tie: all the
     * gradient of a window goes to its first maximum in row-major order,
     * and the total is conserved */
    static const int ks[3][2] = {{2, 2}, {3, 1}, {2, 1}};
    int k = ks[_i][0], s = ks[_i][1];
    const int c = 2, h = 5, w = 5, n = 3;
    sc_net *net = new_net(c, h, w);
    int mp, id;
    TU_OK(sc_net_maxpool(net, SC_INPUT, k, s, &mp));
    TU_OK(sc_net_dense(net, mp, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 5));
    size_t nx = (size_t)n * c * h * w;
    float *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx);
    float *dp = malloc(net->n_params * sizeof *dp);
    tu_lcg r;
    tu_lcg_seed(&r, 77);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)tu_lcg_int(&r, 2); /* 0 or 1 */
    for (size_t i = 0; i < (size_t)c * h * w; i++)
        x[i] = 0.5f; /* sample 0: every window is one big tie */
    int32_t labels[3] = {0, 2, 1};
    TU_OK(sc_grad_loss(net, x, n, labels, NULL, NULL, dp, dx));
    sc_node *nd = &net->nodes[mp];
    int oh = nd->h, ow = nd->w;
    float *want = calloc(nx, sizeof *want);
    double sum_dy = 0.0, sum_dx = 0.0;
    int ties = 0;
    for (int p = 0; p < n * c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *xp = x + (size_t)p * h * w;
                int at = first_max(xp, w, oy, ox, k, s);
                float g = nd->dy[((size_t)p * oh + oy) * ow + ox];
                want[(size_t)p * h * w + at] += g;
                sum_dy += g;
                ck_assert_int_eq(nd->arg[((size_t)p * oh + oy) * ow + ox], at);
                int cnt = 0;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++)
                        cnt += xp[(oy * s + i) * w + ox * s + j] == xp[at];
                ties += cnt > 1;
            }
    ck_assert_int_gt(ties, n * c * oh * ow / 2);
    for (size_t i = 0; i < nx; i++) {
        ck_assert_msg(fabsf(dx[i] - want[i]) <= 1e-6f * (1 + fabsf(want[i])),
                      "dx[%zu] = %g, want %g", i, dx[i], want[i]);
        sum_dx += dx[i];
    }
    ck_assert_msg(fabs(sum_dx - sum_dy) <= 1e-5 * (1 + fabs(sum_dy)),
                  "gradient not conserved: %g vs %g", sum_dx, sum_dy);
    /* sample 0's windows all tie: only their first elements get gradient */
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < h * w; i++) {
            int y = i / w, xx = i % w;
            int first = y % s == 0 && xx % s == 0 && y / s < oh && xx / s < ow;
            if (!first)
                ck_assert_float_eq(dx[(size_t)ch * h * w + i], 0.0f);
        }
    free(want);
    free(x);
    free(dx);
    free(dp);
    sc_net_free(net);
}
END_TEST

START_TEST(test_global_maxpool_ties)
{
    const int c = 3, h = 2, w = 3, n = 2;
    sc_net *net = new_net(c, h, w);
    int gp, id;
    TU_OK(sc_net_global_maxpool(net, SC_INPUT, &gp));
    TU_OK(sc_net_dense(net, gp, 2, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 9));
    /* planes: all equal; max at positions 2 and 4; max at 5 only... */
    float x[2 * 3 * 6] = {
        1, 1, 1, 1, 1, 1,   0, 0, 3, 0, 3, 0,   -1, -2, -3, -4, -5, 2,
        -1, -1, -1, -1, -1, -1, 4, 4, 0, 0, 0, 4, 0, 1, 0, 1, 0, 1,
    };
    int first[6] = {0, 2, 5, 0, 0, 1};
    int32_t labels[2] = {1, 0};
    float dx[36], dp[64];
    ck_assert_uint_le(net->n_params, 64);
    TU_OK(sc_grad_loss(net, x, n, labels, NULL, NULL, dp, dx));
    const float *dy = net->nodes[gp].dy;
    for (int p = 0; p < n * c; p++)
        for (int i = 0; i < h * w; i++) {
            float want = i == first[p] ? dy[p] : 0.0f;
            ck_assert_msg(dx[p * 6 + i] == want, "plane %d elem %d: %g want %g",
                          p, i, dx[p * 6 + i], want);
        }
    for (int p = 0; p < n * c; p++)
        ck_assert_float_ne(dy[p], 0.0f);
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ running stats */

START_TEST(test_batchnorm_running_stats)
{
    /* one training step folds the batch statistics in: rm = (1-m) rm +
     * m mean, rv = (1-m) rv + m var * M/(M-1) (unbiased, M = n*h*w), from
     * the initial rm = 0, rv = 1; the reference is computed here in double */
    const int c = 2, h = 2, w = 3, n = 4, M = n * h * w;
    sc_net *net = new_net(c, h, w);
    int bn, id;
    TU_OK(sc_net_batchnorm(net, SC_INPUT, SC_BN_AFFINE, &bn));
    TU_OK(sc_net_dense(net, bn, 2, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 8));
    TU_OK(sc_net_set_param(net, SC_PARAM_BN_MOMENTUM, 0.25));
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    float x[4 * 12];
    tu_lcg r;
    tu_lcg_seed(&r, 21);
    tu_fill(&r, x, 48, -1.0, 3.0);
    int32_t labels[4] = {0, 1, 1, 0};
    int64_t shape[4] = {n, c, h, w};
    sc_tensor *t = NULL;
    TU_OK(sc_tensor_wrap(&t, 4, shape, x));
    TU_OK(sc_net_train_step(net, opt, t, labels, NULL));
    const float *rm = sc_node_state(net, &net->nodes[bn], S_MEAN);
    const float *rv = sc_node_state(net, &net->nodes[bn], S_VAR);
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0, ss = 0.0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < h * w; k++)
                s += x[(i * c + ch) * h * w + k];
        double mean = s / M;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < h * w; k++) {
                double d = x[(i * c + ch) * h * w + k] - mean;
                ss += d * d;
            }
        double want_m = 0.25 * mean, want_v = 0.75 + 0.25 * ss / (M - 1);
        ck_assert_msg(fabs(rm[ch] - want_m) <= 1e-6, "rm[%d] %g want %g", ch,
                      rm[ch], want_m);
        ck_assert_msg(fabs(rv[ch] - want_v) <= 1e-6, "rv[%d] %g want %g", ch,
                      rv[ch], want_v);
    }
    /* eval mode then normalises with them: y = (x - rm) / sqrt(rv + eps)
     * (gamma 1, beta 0 moved by one SGD step only: compare the first
     * sample through the batch-norm output directly) */
    TU_OK(sc_net_set_training(net, 0));
    ck_assert_int_eq(sc_plan(net, n), SC_OK);
    net->input = x;
    sc_forward(net, n);
    const float *g = sc_node_param(net, &net->nodes[bn], P_GAMMA);
    const float *b = sc_node_param(net, &net->nodes[bn], P_BETA);
    for (int ch = 0; ch < c; ch++)
        for (int k = 0; k < h * w; k++) {
            double xv = x[ch * h * w + k];
            double want = g[ch] * (xv - rm[ch]) / sqrt(rv[ch] + 1e-5) + b[ch];
            double got = net->nodes[bn].y[ch * h * w + k];
            ck_assert_msg(fabs(got - want) <= 1e-5 * (1 + fabs(want)),
                          "eval y %g want %g", got, want);
        }
    sc_tensor_free(t);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

START_TEST(test_bn_relu_fused)
{
    /* a relu in place after a batch norm is done by the batch norm: the
     * plan marks both; outputs and every gradient equal the unfused pass
     * bit for bit (training and eval), and the fused net passes the check.
     * A relu that cannot work in place (its input has a second reader)
     * stays a relu of its own. */
    for (int eval = 0; eval < 2; eval++) {
        sc_net *net = new_net(2, 5, 4);
        int c, bn, r, id;
        TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_NO_BIAS, &c));
        TU_OK(sc_net_batchnorm(net, c, SC_BN_AFFINE, &bn));
        TU_OK(sc_net_relu(net, bn, &r));
        TU_OK(sc_net_dense(net, r, 3, SC_BIAS, &id));
        TU_OK(sc_net_init(net, 61));
        set_running_stats(net, bn);
        set_affine(net, bn);
        TU_OK(sc_net_set_training(net, !eval));
        int32_t labels[N];
        float *x = make_batch(net, N, labels, 1.0);
        ck_assert_int_eq(sc_plan(net, N), SC_OK);
        ck_assert(net->nodes[bn].fuse_relu && net->nodes[r].fused);
        size_t np = net->n_params, nx = N * in_size(net);
        size_t ny = (size_t)N * sc_node_size(&net->nodes[r]);
        float *g[2], *dx[2], *y[2];
        double loss[2];
        for (int f = 0; f < 2; f++) { /* f = 0: fused; 1: unfused */
            g[f] = malloc(np * sizeof(float));
            dx[f] = malloc(nx * sizeof(float));
            y[f] = malloc(ny * sizeof(float));
            net->nodes[bn].fuse_relu = net->nodes[r].fused = !f;
            TU_OK(sc_grad_loss(net, x, N, labels, NULL, &loss[f], g[f], dx[f]));
            memcpy(y[f], net->nodes[r].y, ny * sizeof(float));
        }
        ck_assert(loss[0] == loss[1]);
        ck_assert(memcmp(y[0], y[1], ny * sizeof(float)) == 0);
        ck_assert(memcmp(g[0], g[1], np * sizeof(float)) == 0);
        ck_assert(memcmp(dx[0], dx[1], nx * sizeof(float)) == 0);
        net->nodes[bn].fuse_relu = net->nodes[r].fused = 1;
        check_net(net, eval ? "bn relu fused, eval" : "bn relu fused");
        for (int f = 0; f < 2; f++) {
            free(g[f]);
            free(dx[f]);
            free(y[f]);
        }
        free(x);
        sc_net_free(net);
    }

    /* the batch norm's output also feeds an add: no fusion */
    sc_net *net = new_net(2, 5, 4);
    int c, bn, r, id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_NO_BIAS, &c));
    TU_OK(sc_net_batchnorm(net, c, SC_BN_AFFINE, &bn));
    TU_OK(sc_net_relu(net, bn, &r));
    TU_OK(sc_net_add(net, bn, r, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 62));
    ck_assert_int_eq(sc_plan(net, N), SC_OK);
    ck_assert(!net->nodes[bn].fuse_relu && !net->nodes[r].fused);
    ck_assert(!net->nodes[r].alias);
    check_net(net, "bn relu, not fused");
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ buffers */

START_TEST(test_dy_set_covers)
{
    /* A gradient buffer with a single writer is not zeroed before backward:
     * its writer stores into every element. Poisoning those buffers with
     * NaN must change no gradient, for every kind of writer (conv, dense,
     * batch norm, relu, max and average pools, add), while buffers with two
     * writers (a residual) are still zeroed and summed. (Each op's gradient
     * itself is checked by finite differences above.) */
    sc_net *net = new_net(2, 6, 6);
    int c1, bn, r, p, c2, c3, a, g, f, d, id;
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_NO_BIAS, &c1));
    TU_OK(sc_net_batchnorm(net, c1, SC_BN_AFFINE, &bn));
    TU_OK(sc_net_relu(net, bn, &r));
    TU_OK(sc_net_maxpool(net, r, 2, 2, &p));
    TU_OK(sc_net_conv2d(net, p, 3, 3, 3, 1, 1, SC_BIAS, &c2));
    TU_OK(sc_net_relu(net, c2, &c3)); /* in place on c2 */
    TU_OK(sc_net_add(net, p, c3, &a));
    TU_OK(sc_net_global_avgpool(net, a, &g));
    TU_OK(sc_net_global_maxpool(net, a, &f));
    TU_OK(sc_net_add(net, g, f, &id));
    TU_OK(sc_net_dense(net, id, 4, SC_BIAS, &d));
    TU_OK(sc_net_relu(net, d, &id)); /* after a dense: not fused */
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 71));
    int32_t labels[N];
    size_t nx = N * in_size(net);
    float *x = malloc(nx * sizeof *x);
    tu_lcg rng;
    tu_lcg_seed(&rng, 72);
    tu_fill(&rng, x, nx, -1.0, 1.0);
    tu_labels(&rng, labels, N, 3);
    ck_assert_int_eq(sc_plan(net, N), SC_OK);
    int set = 0, summed = 0;
    for (int i = 1; i < net->n_nodes; i++)
        if (!net->nodes[i].alias)
            *(net->nodes[i].dy_set ? &set : &summed) += 1;
    ck_assert_msg(set >= 6 && summed >= 2, "%d stored, %d summed", set, summed);
    ck_assert(!net->nodes[p].dy_set && !net->nodes[a].dy_set); /* two readers */
    ck_assert(net->nodes[c1].dy_set && net->nodes[d].dy_set);
    size_t np = net->n_params;
    float *g0 = malloc(np * sizeof *g0), *g1 = malloc(np * sizeof *g1);
    float *x0 = malloc(nx * sizeof *x0), *x1 = malloc(nx * sizeof *x1);
    TU_OK(sc_grad_loss(net, x, N, labels, NULL, NULL, g0, x0));
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->alias && nd->dy_set)
            for (size_t k = 0; k < N * sc_node_size(nd); k++)
                nd->dy[k] = NAN;
    }
    TU_OK(sc_grad_loss(net, x, N, labels, NULL, NULL, g1, x1));
    ck_assert(memcmp(g0, g1, np * sizeof *g0) == 0);
    ck_assert(memcmp(x0, x1, nx * sizeof *x0) == 0);
    for (size_t k = 0; k < np; k++)
        ck_assert(isfinite(g0[k]));
    free(g0);
    free(g1);
    free(x0);
    free(x1);
    free(x);
    sc_net_free(net);
}
END_TEST

START_TEST(test_relu_in_place_safe)
{
    /* a relu may run in place on its input's buffer; never on the caller's
     * batch (also through a flatten of it) and never on a buffer another
     * layer still reads (also through a flatten of it) */
    sc_net *net = new_net(1, 2, 2);
    int a, f, r, d1, g, d2, id;
    TU_OK(sc_net_flatten(net, SC_INPUT, &f));
    TU_OK(sc_net_relu(net, f, &r));
    TU_OK(sc_net_dense(net, r, 2, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    float x[8] = {-1, 2, -3, 4, 5, -6, 7, -8}, x0[8];
    memcpy(x0, x, sizeof x);
    int64_t shape[4] = {2, 1, 2, 2}, oshape[2] = {2, 2};
    sc_tensor *t = NULL, *out = NULL;
    TU_OK(sc_tensor_wrap(&t, 4, shape, x));
    TU_OK(sc_tensor_create(&out, 2, oshape));
    TU_OK(sc_net_forward(net, t, out));
    ck_assert_msg(memcmp(x, x0, sizeof x) == 0, "forward wrote into the batch");
    sc_optimizer *opt = NULL;
    int32_t labels[2] = {0, 1};
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    TU_OK(sc_net_train_step(net, opt, t, labels, NULL));
    ck_assert_msg(memcmp(x, x0, sizeof x) == 0, "train step wrote into the batch");
    sc_optimizer_free(opt);
    sc_net_free(net);

    /* a = conv 1x1 (weight 1, so a = x); relu(flatten(a)) and gap(a) both
     * read a: the pool must see a, not relu(a) */
    net = new_net(1, 2, 2);
    TU_OK(sc_net_conv2d(net, SC_INPUT, 1, 1, 1, 1, 0, SC_NO_BIAS, &a));
    TU_OK(sc_net_flatten(net, a, &f));
    TU_OK(sc_net_relu(net, f, &r));
    TU_OK(sc_net_dense(net, r, 2, SC_NO_BIAS, &d1));
    TU_OK(sc_net_global_avgpool(net, a, &g));
    TU_OK(sc_net_dense(net, g, 2, SC_NO_BIAS, &d2));
    TU_OK(sc_net_add(net, d1, d2, &id));
    TU_OK(sc_net_init(net, 2));
    float *p = tu_params(net, NULL);
    p[net->nodes[a].poff[P_W]] = 1.0f;
    TU_OK(sc_net_set_params(net, p, net->n_params));
    free(p);
    TU_OK(sc_net_forward(net, t, out));
    for (int s = 0; s < 2; s++) {
        float mean = (x[4 * s] + x[4 * s + 1] + x[4 * s + 2] + x[4 * s + 3]) / 4;
        ck_assert_msg(fabsf(net->nodes[g].y[s] - mean) <= 1e-6f,
                      "sample %d: pooled %g, want %g", s, net->nodes[g].y[s], mean);
    }
    sc_tensor_free(t);
    sc_tensor_free(out);
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ xent */

START_TEST(test_xent_values)
{
    /* mean softmax cross-entropy and (p - onehot) / n against a double
     * reference, including logits whose exp would overflow */
    const int n = 3, k = 4;
    float z[12] = {0.5f, -1.0f, 2.0f, 0.0f,  1000.0f, 999.0f, -1000.0f, 0.0f,
                   -3.0f, -3.0f, -3.0f, -3.0f};
    int32_t lab[3] = {2, 1, 3};
    float probs[12], d[12];
    double correct = -1.0;
    sc_loss_batch b = {z, lab, NULL, n, k, probs, NULL, 0.0f};
    double loss = sc_xent(&b, d, &correct);
    double want = 0.0;
    for (int i = 0; i < n; i++) {
        double m = -INFINITY, s = 0.0;
        for (int c = 0; c < k; c++)
            m = fmax(m, z[i * k + c]);
        for (int c = 0; c < k; c++)
            s += exp(z[i * k + c] - m);
        want += m + log(s) - z[i * k + lab[i]];
        for (int c = 0; c < k; c++) {
            double p = exp(z[i * k + c] - m) / s;
            ck_assert_msg(fabs(probs[i * k + c] - p) <= 1e-6, "p[%d][%d]", i, c);
            double g = (p - (c == lab[i])) / n;
            ck_assert_msg(fabs(d[i * k + c] - g) <= 1e-6, "d[%d][%d] %g want %g",
                          i, c, d[i * k + c], g);
        }
    }
    want /= n;
    ck_assert_msg(fabs(loss - want) <= 1e-6 * want, "loss %.9g want %.9g",
                  loss, want);
    /* sample 0 right (argmax 2), sample 1 wrong (argmax 0), sample 2: all
     * tie, argmax is the first class, label 3: wrong */
    ck_assert_double_eq(correct, 1.0 / 3.0);
    /* uniform logits: loss log(k) */
    sc_loss_batch u = {z + 8, lab + 2, NULL, 1, k, probs, NULL, 0.0f};
    ck_assert_double_eq_tol(sc_xent(&u, NULL, NULL), log(4.0), 1e-6);
}
END_TEST

START_TEST(test_xent_grad)
{
    /* the loss itself: a dense layer straight onto the logits, the input
     * gradient being W^T dlogits */
    sc_net *net = new_net(3, 1, 1);
    int id;
    TU_OK(sc_net_dense(net, SC_INPUT, 5, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 13));
    check_net_n(net, 7, "xent");
    sc_net_free(net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("grad");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_dense);
    tcase_add_test(tc, test_dense_dense);
    tcase_add_loop_test(tc, test_conv2d, 0,
                        (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_test(tc, test_conv2d_threads);
    tcase_add_loop_test(tc, test_conv_grouped, 0,
                        (int)(sizeof grouped_cases / sizeof grouped_cases[0]));
    tcase_add_loop_test(tc, test_conv_grouped_is_block_diagonal, 0,
                        (int)(sizeof grouped_cases / sizeof grouped_cases[0]));
    tcase_add_loop_test(tc, test_batchnorm, 0, 8);
    tcase_add_test(tc, test_batchnorm_eval_uses_running_stats);
    tcase_add_test(tc, test_relu);
    tcase_add_loop_test(tc, test_activation, 0, N_ACT);
    tcase_add_loop_test(tc, test_maxpool, 0, 4);
    tcase_add_loop_test(tc, test_window_pools, 0, N_POOL_CASES);
    tcase_add_test(tc, test_global_pools);
    tcase_add_test(tc, test_flatten);
    tcase_add_test(tc, test_concat);
    tcase_add_test(tc, test_dropout);
    tcase_add_test(tc, test_add);
    tcase_add_test(tc, test_small_cnn);
    suite_add_tcase(s, tc);

    TCase *tk = tcase_create("checker");
    tcase_set_timeout(tk, 60);
    tcase_add_test(tk, test_checker_flags_wrong_gradients);
    tcase_add_test(tk, test_checker_errors);
    suite_add_tcase(s, tk);

    TCase *tt = tcase_create("ties");
    tcase_add_loop_test(tt, test_maxpool_ties, 0, 3);
    tcase_add_test(tt, test_global_maxpool_ties);
    tcase_add_loop_test(tt, test_window_pool_values, 0, N_POOL_CASES);
    tcase_add_test(tt, test_batchnorm_running_stats);
    tcase_add_test(tt, test_bn_relu_fused);
    tcase_add_test(tt, test_dy_set_covers);
    tcase_add_test(tt, test_relu_in_place_safe);
    tcase_add_loop_test(tt, test_activation_values, 0, N_ACT);
    tcase_add_test(tt, test_xent_values);
    tcase_add_test(tt, test_xent_grad);
    suite_add_tcase(s, tt);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
