/* test_loss.c -- the task losses: values and dL/dz against double
 * references computed here (PyTorch's definitions), gradient checks of
 * every loss setting through a net, the host's loss step against
 * sc_net_train_step, float-target steps, distillation's term (values,
 * gradient, steps), and the errors of the setting, the batch and the
 * host's two calls. */
#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gradcheck.h"
#include "ops/ops.h"
#include "util/testutil.h"

#define N 6 /* batch */
#define K 5 /* outputs */

/* ------------------------------------------------------------ references */

/* PyTorch's CrossEntropyLoss(weight=w, label_smoothing=eps), reduction
 * mean: each sample's (1 - eps) w[y] (-log p_y) + (eps / k) sum_c w[c]
 * (-log p_c), over sum_i w[y_i]; dz by differentiating each term. */
static double ref_xent(const float *z, const int32_t *y, int n, int k,
                       const float *w, double eps, double *dz)
{
    double num = 0.0, den = 0.0, wall = 0.0;
    for (int c = 0; c < k; c++)
        wall += w ? w[c] : 1.0;
    for (int i = 0; i < n; i++)
        den += w ? w[y[i]] : 1.0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + i * k;
        double m = -INFINITY, s = 0.0;
        for (int c = 0; c < k; c++)
            m = fmax(m, zi[c]);
        for (int c = 0; c < k; c++)
            s += exp(zi[c] - m);
        double wy = w ? w[y[i]] : 1.0;
        for (int c = 0; c < k; c++) {
            double logp = zi[c] - m - log(s), p = exp(logp);
            double wc = w ? w[c] : 1.0;
            if (c == y[i])
                num += (1.0 - eps) * wy * -logp;
            num += eps / k * wc * -logp;
            dz[i * k + c] = ((1.0 - eps) * wy * (p - (c == y[i])) +
                             eps / k * (wall * p - wc)) / den;
        }
    }
    return num / den;
}

/* MSE, mean over n*k. */
static double ref_mse(const float *z, const float *t, int m, double *dz)
{
    double s = 0.0;
    for (int i = 0; i < m; i++) {
        s += ((double)z[i] - t[i]) * ((double)z[i] - t[i]);
        dz[i] = 2.0 * ((double)z[i] - t[i]) / m;
    }
    return s / m;
}

/* BCE of sigmoid(z) against t, mean over n*k: -(t log s + (1-t) log(1-s))
 * written with log-sigmoids so that |z| = 100 stays finite. */
static double ref_bce(const float *z, const float *t, int m, double *dz)
{
    double s = 0.0;
    for (int i = 0; i < m; i++) {
        double zi = z[i];
        /* log sigmoid(z) = -log(1 + e^-z), log(1 - sigmoid(z)) = -z + that */
        double ls = zi >= 0 ? -log1p(exp(-zi)) : zi - log1p(exp(zi));
        double l1s = ls - zi;
        s += -(t[i] * ls + (1.0 - t[i]) * l1s);
        dz[i] = (1.0 / (1.0 + exp(-zi)) - t[i]) / m;
    }
    return s / m;
}

static void assert_close(const float *got, const double *want, int m,
                         double tol, const char *what)
{
    for (int i = 0; i < m; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i])),
                      "%s: dz[%d] %.9g want %.9g", what, i, got[i], want[i]);
}

/* ------------------------------------------------------------ values */

static const float Z[N * K] = {
    0.5f, -1.0f, 2.0f,   0.0f,  0.3f,   1000.0f, 999.0f, -1000.0f, 0.0f, 2.0f,
    -3.0f, -3.0f, -3.0f, -3.0f, -3.0f,  0.1f, 0.2f, 0.3f, 0.4f, 0.5f,
    -0.7f, 1.5f, 0.0f,   0.2f,  -2.0f,  4.0f, -4.0f, 100.0f, -100.0f, 0.0f};
static const int32_t Y[N] = {2, 1, 3, 4, 0, 2};
static const float W[K] = {0.5f, 2.0f, 1.0f, 0.0f, 3.0f};

static double run_loss(sc_loss kind, const float *targets, const float *w,
                       float eps, float *dz, double *acc)
{
    float probs[N * K];
    sc_loss_batch b = {Z, kind == SC_LOSS_SOFTMAX_XENT ? Y : NULL, targets, N,
                       K, probs, w, eps};
    return sc_losses[kind].fn(&b, dz, acc);
}

START_TEST(test_xent_weighted_smoothed_values)
{
    const float *ws[2] = {NULL, W};
    const float eps[2] = {0.0f, 0.2f};
    for (int a = 0; a < 2; a++)
        for (int e = 0; e < 2; e++) {
            float dz[N * K];
            double want[N * K], acc;
            double l = run_loss(SC_LOSS_SOFTMAX_XENT, NULL, ws[a], eps[e], dz,
                                &acc);
            double r = ref_xent(Z, Y, N, K, ws[a], eps[e], want);
            ck_assert_msg(fabs(l - r) <= 1e-6 * fabs(r), "weights %d eps %g: "
                          "loss %.12g want %.12g", a, (double)eps[e], l, r);
            assert_close(dz, want, N * K, 1e-6, "xent");
            /* argmax == label: samples 0 (2), 5 (2); 3 (argmax 4) */
            ck_assert_double_eq(acc, 3.0 / N);
        }
}
END_TEST

START_TEST(test_xent_zero_weight_batch)
{
    /* every label of weight 0: loss 0 and dz 0 rather than 0 / 0 */
    const float w[K] = {0, 0, 0, 0, 1};
    const int32_t y[2] = {1, 2};
    float probs[2 * K], dz[2 * K];
    sc_loss_batch b = {Z, y, NULL, 2, K, probs, w, 0.1f};
    ck_assert_double_eq(sc_xent(&b, dz, NULL), 0.0);
    for (int i = 0; i < 2 * K; i++)
        ck_assert_float_eq(dz[i], 0.0f);
}
END_TEST

START_TEST(test_mse_bce_values)
{
    float t[N * K], dz[N * K];
    double want[N * K], acc;
    tu_lcg r;
    tu_lcg_seed(&r, 5);
    tu_fill(&r, t, N * K, 0.0, 1.0);
    t[7] = 1.0f; /* hard targets beside |z| = 1000 and 100 */
    t[27] = 0.0f;
    double l = run_loss(SC_LOSS_MSE, t, NULL, 0.0f, dz, &acc);
    double rm = ref_mse(Z, t, N * K, want);
    ck_assert_msg(fabs(l - rm) <= 1e-6 * rm, "mse %.12g want %.12g", l, rm);
    assert_close(dz, want, N * K, 1e-6, "mse");
    ck_assert_double_eq(acc, 0.0);

    l = run_loss(SC_LOSS_BCE_LOGITS, t, NULL, 0.0f, dz, &acc);
    double rb = ref_bce(Z, t, N * K, want);
    ck_assert_msg(isfinite(l) && fabs(l - rb) <= 1e-9 * rb,
                  "bce %.12g want %.12g", l, rb);
    assert_close(dz, want, N * K, 1e-6, "bce");
    int right = 0;
    for (int i = 0; i < N * K; i++)
        right += (Z[i] > 0.0f) == (t[i] > 0.5f);
    ck_assert_double_eq(acc, (double)right / (N * K));
}
END_TEST

/* ------------------------------------------------------------ nets */

/* dense 4 -> 6, batch norm, dense -> K: smooth everywhere */
static sc_net *small_net(uint64_t seed)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 4, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, 6, SC_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_dense(net, id, K, SC_BIAS, &id));
    TU_OK(sc_net_init(net, seed));
    return net;
}

static void set_loss(sc_net *net, sc_loss kind, const float *w, float eps)
{
    sc_loss_desc d = SC_LOSS_DESC_INIT(kind);
    d.class_weights = w;
    d.n_class_weights = w ? K : 0;
    d.label_smoothing = eps;
    TU_OK(sc_net_set_loss(net, &d));
}

/* Gradient check of every parameter and input of the small net under a
 * loss setting, with a size loss on (gamma, quantised dense layers are
 * checked elsewhere: this net is float). */
static void grad_check(sc_loss kind, const float *w, float eps,
                       const char *what)
{
    sc_net *net = small_net(3);
    set_loss(net, kind, w, eps);
    float x[N * 4], t[N * K];
    int32_t y[N];
    tu_lcg r;
    tu_lcg_seed(&r, 11);
    tu_fill(&r, x, N * 4, -1.0, 1.0);
    tu_fill(&r, t, N * K, kind == SC_LOSS_MSE ? -2.0 : 0.0, 1.0);
    tu_labels(&r, y, N, K);
    int labels = kind == SC_LOSS_SOFTMAX_XENT;
    sc_gc_opts o = {1e-2, 1e-2, 0, 0, 0};
    sc_gc_result res;
    TU_OK(sc_grad_check(net, x, N, labels ? y : NULL, labels ? NULL : t, &o,
                        &res));
    ck_assert_msg(res.max_err <= 1e-2, "%s: %s element %zu: analytic %.6g "
                  "numeric %.6g (err %.3g)", what,
                  res.worst_is_input ? "input" : "param", res.worst,
                  res.worst_analytic, res.worst_numeric, res.max_err);
    ck_assert_uint_eq(res.checked, sc_net_param_count(net) + N * 4);
    sc_net_free(net);
}

START_TEST(test_grad_xent_weights) { grad_check(SC_LOSS_SOFTMAX_XENT, W, 0.0f, "weights"); }
END_TEST
START_TEST(test_grad_xent_smoothing) { grad_check(SC_LOSS_SOFTMAX_XENT, NULL, 0.3f, "smoothing"); }
END_TEST
START_TEST(test_grad_xent_both) { grad_check(SC_LOSS_SOFTMAX_XENT, W, 0.3f, "weights and smoothing"); }
END_TEST
START_TEST(test_grad_mse) { grad_check(SC_LOSS_MSE, NULL, 0.0f, "mse"); }
END_TEST
START_TEST(test_grad_bce) { grad_check(SC_LOSS_BCE_LOGITS, NULL, 0.0f, "bce"); }
END_TEST

/* ------------------------------------------------------------ distillation */

static sc_tensor *wrap(float *d, int ndim, int64_t a, int64_t b)
{
    int64_t s[4] = {a, b, 1, 1};
    sc_tensor *t;
    TU_OK(sc_tensor_wrap(&t, ndim, s, d));
    return t;
}


/* Hinton's term from its definition, in double: w T^2 mean_i sum_c p_c
 * (log p_c - log q_c), p = softmax(t / T), q = softmax(z / T). */
static double ref_distill(const float *z, const float *t, int n, int k,
                          double T, double w)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        double mt = -INFINITY, mz = -INFINITY, st = 0.0, sz = 0.0;
        for (int c = 0; c < k; c++) {
            mt = fmax(mt, t[i * k + c] / T);
            mz = fmax(mz, z[i * k + c] / T);
        }
        for (int c = 0; c < k; c++) {
            st += exp(t[i * k + c] / T - mt);
            sz += exp(z[i * k + c] / T - mz);
        }
        for (int c = 0; c < k; c++) {
            double logp = t[i * k + c] / T - mt - log(st);
            double logq = z[i * k + c] / T - mz - log(sz);
            sum += exp(logp) * (logp - logq);
        }
    }
    return w * T * T * sum / n;
}

START_TEST(test_distill_values_and_gradient)
{
    float t[N * K], dz[N * K], z[N * K];
    tu_lcg r;
    tu_lcg_seed(&r, 21);
    tu_fill(&r, t, N * K, -3.0, 3.0);
    memcpy(z, Z, sizeof z);
    static const double temps[] = {1.0, 2.0, 4.0, 8.0};
    for (int ti = 0; ti < 4; ti++) {
        const double T = temps[ti], w = 0.7;
        for (int i = 0; i < N * K; i++)
            dz[i] = 0.25f; /* the term adds to what is there */
        double got = sc_distill(z, t, N, K, T, w, dz);
        double want = ref_distill(z, t, N, K, T, w);
        ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-12,
                      "T %g: %.9g, reference %.9g", T, got, want);
        ck_assert(got > 0.0);
        /* central differences of the reference */
        for (int i = 0; i < N * K; i++) {
            const float h = 1e-2f, zi = z[i];
            z[i] = zi + h;
            double up = ref_distill(z, t, N, K, T, w);
            z[i] = zi - h;
            double down = ref_distill(z, t, N, K, T, w);
            z[i] = zi;
            double num = (up - down) / (2.0 * h), ana = dz[i] - 0.25;
            ck_assert_msg(fabs(ana - num) <= 1e-3 * fmax(fabs(num), 1e-2),
                          "T %g, dz[%d]: analytic %.6g, numeric %.6g", T, i, ana,
                          num);
        }
    }
    /* the teacher's own logits: no divergence, no gradient */
    for (int i = 0; i < N * K; i++)
        dz[i] = 0.0f;
    ck_assert(fabs(sc_distill(t, t, N, K, 2.0, 1.0, dz)) < 1e-12);
    for (int i = 0; i < N * K; i++)
        ck_assert(fabsf(dz[i]) < 1e-7f);
}
END_TEST

/* dense 4 -> 6 -> K, no batch norm: a training forward is the eval one */
static sc_net *plain_net(uint64_t seed)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 4, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, 6, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, K, SC_BIAS, &id));
    TU_OK(sc_net_init(net, seed));
    return net;
}

START_TEST(test_distill_steps)
{
    sc_net *a = plain_net(4), *b = plain_net(4);
    sc_optimizer *oa, *ob;
    TU_OK(sc_optimizer_create(&oa, a, SC_OPT_ADAM));
    TU_OK(sc_optimizer_create(&ob, b, SC_OPT_ADAM));
    tu_batch bt = tu_batch_make(N, 4, 1, 1, K, 5);
    float t[N * K], z[N * K];
    tu_lcg r;
    tu_lcg_seed(&r, 6);
    tu_fill(&r, t, N * K, -2.0, 2.0);
    sc_tensor *tt = wrap(t, 2, N, K), *zt = wrap(z, 2, N, K);
    /* the step's term is the reference on the net's logits */
    TU_OK(sc_net_forward(a, bt.x, zt));
    sc_batch d = SC_BATCH_INIT;
    ck_assert(d.distill_temperature == 4.0 && d.distill_weight == 1.0);
    d.x = bt.x;
    d.labels = bt.labels;
    d.teacher = tt;
    d.distill_temperature = 3.0;
    d.distill_weight = 0.5;
    sc_step_stats sa = SC_STEP_STATS_INIT, sb = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step_v2(a, oa, &d, &sa));
    double want = ref_distill(z, t, N, K, 3.0, 0.5);
    ck_assert_msg(fabs(sa.distill_loss - want) <= 1e-6 * want, "%.9g, reference %.9g",
                  sa.distill_loss, want);
    ck_assert(sa.loss == sa.task_loss + sa.distill_loss);
    TU_OK(sc_net_train_step(b, ob, bt.x, bt.labels, &sb));
    ck_assert(sb.distill_loss == 0.0 && sa.task_loss == sb.task_loss);
    size_t np;
    float *pa = tu_params(a, &np);
    ck_assert(!tu_params_equal(b, pa, np)); /* the teacher moved a */
    free(pa);
    /* weight 0: the step without a teacher, bit for bit */
    sc_net *c = plain_net(4), *e = plain_net(4);
    sc_optimizer *oc, *oe;
    TU_OK(sc_optimizer_create(&oc, c, SC_OPT_ADAM));
    TU_OK(sc_optimizer_create(&oe, e, SC_OPT_ADAM));
    d.distill_weight = 0.0;
    for (int s = 0; s < 3; s++) {
        TU_OK(sc_net_train_step_v2(c, oc, &d, NULL));
        TU_OK(sc_net_train_step(e, oe, bt.x, bt.labels, NULL));
    }
    float *pc = tu_params(c, &np);
    ck_assert(tu_params_equal(e, pc, np));
    free(pc);
    /* distillation pulls the net's softmax towards the teacher's: after
     * the same steps, c (with the teacher) is nearer to it than e */
    d.distill_weight = 4.0;
    d.distill_temperature = 1.0;
    TU_OK(sc_optimizer_set_lr(oc, SC_GROUP_ALL, 0.01));
    TU_OK(sc_optimizer_set_lr(oe, SC_GROUP_ALL, 0.01));
    for (int s = 0; s < 40; s++) {
        TU_OK(sc_net_train_step_v2(c, oc, &d, NULL));
        TU_OK(sc_net_train_step(e, oe, bt.x, bt.labels, NULL));
    }
    TU_OK(sc_net_forward(c, bt.x, zt));
    double kc = ref_distill(z, t, N, K, 1.0, 1.0);
    TU_OK(sc_net_forward(e, bt.x, zt));
    double ke = ref_distill(z, t, N, K, 1.0, 1.0);
    ck_assert_msg(kc < 0.8 * ke, "KL to the teacher: %g with it, %g without", kc, ke);
    sc_tensor_free(tt);
    sc_tensor_free(zt);
    tu_batch_free(&bt);
    sc_optimizer_free(oa);
    sc_optimizer_free(ob);
    sc_optimizer_free(oc);
    sc_optimizer_free(oe);
    sc_net_free(a);
    sc_net_free(b);
    sc_net_free(c);
    sc_net_free(e);
}
END_TEST

START_TEST(test_distill_errors)
{
    sc_net *net = plain_net(8);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch bt = tu_batch_make(N, 4, 1, 1, K, 9);
    float t[N * K] = {0};
    sc_tensor *tt = wrap(t, 2, N, K), *short_t = wrap(t, 2, N - 1, K);
    size_t np;
    float *p0 = tu_params(net, &np);
    sc_batch d = SC_BATCH_INIT;
    d.x = bt.x;
    d.labels = bt.labels;
    d.teacher = short_t;
    TU_FAILS(sc_net_train_step_v2(net, opt, &d, NULL), SC_ERR_SHAPE);
    d.teacher = tt;
    t[7] = NAN;
    TU_FAILS(sc_net_train_step_v2(net, opt, &d, NULL), SC_ERR_NONFINITE);
    t[7] = 0.0f;
    static const double bad_t[] = {0.0, -1.0, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        d.distill_temperature = bad_t[i];
        TU_FAILS(sc_net_train_step_v2(net, opt, &d, NULL), SC_ERR_ARG);
    }
    d.distill_temperature = 2.0;
    static const double bad_w[] = {-0.1, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        d.distill_weight = bad_w[i];
        TU_FAILS(sc_net_train_step_v2(net, opt, &d, NULL), SC_ERR_ARG);
    }
    d.distill_weight = 1.0;
    ck_assert(tu_params_equal(net, p0, np)); /* nothing changed */
    ck_assert_uint_eq(sc_optimizer_steps(opt), 0);
    /* float-target losses take no teacher */
    set_loss(net, SC_LOSS_MSE, NULL, 0.0f);
    float y[N * K] = {0};
    sc_tensor *yt = wrap(y, 2, N, K);
    d.labels = NULL;
    d.targets = yt;
    TU_FAILS(sc_net_train_step_v2(net, opt, &d, NULL), SC_ERR_STATE);
    d.teacher = NULL;
    TU_OK(sc_net_train_step_v2(net, opt, &d, NULL));
    free(p0);
    sc_tensor_free(tt);
    sc_tensor_free(short_t);
    sc_tensor_free(yt);
    tu_batch_free(&bt);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ steps */

START_TEST(test_unit_weights_are_the_default)
{
    /* class weights all 1 and no smoothing: bit for bit the default */
    sc_net *a = small_net(9), *b = small_net(9);
    const float ones[K] = {1, 1, 1, 1, 1};
    set_loss(b, SC_LOSS_SOFTMAX_XENT, ones, 0.0f);
    sc_optimizer *oa, *ob;
    TU_OK(sc_optimizer_create(&oa, a, SC_OPT_ADAM));
    TU_OK(sc_optimizer_create(&ob, b, SC_OPT_ADAM));
    tu_batch bt = tu_batch_make(N, 4, 1, 1, K, 2);
    for (int s = 0; s < 4; s++) {
        sc_step_stats sa = SC_STEP_STATS_INIT, sb = SC_STEP_STATS_INIT;
        TU_OK(sc_net_train_step(a, oa, bt.x, bt.labels, &sa));
        TU_OK(sc_net_train_step(b, ob, bt.x, bt.labels, &sb));
        ck_assert(sa.loss == sb.loss && sa.task_loss == sb.task_loss);
        ck_assert_int_eq(sa.loss_kind, SC_LOSS_SOFTMAX_XENT);
    }
    size_t np;
    float *p = tu_params(a, &np);
    ck_assert(tu_params_equal(b, p, np));
    free(p);
    tu_batch_free(&bt);
    sc_optimizer_free(oa);
    sc_optimizer_free(ob);
    sc_net_free(a);
    sc_net_free(b);
}
END_TEST

START_TEST(test_float_target_steps)
{
    /* MSE and BCE steps: the stats' task loss is the reference loss of the
     * step's logits (the training-mode forward, before the update) */
    for (int kind = SC_LOSS_MSE; kind <= SC_LOSS_BCE_LOGITS; kind++) {
        sc_net *net = small_net(4), *twin = small_net(4);
        set_loss(net, (sc_loss)kind, NULL, 0.0f);
        sc_optimizer *opt;
        TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
        tu_batch bt = tu_batch_make(N, 4, 1, 1, 0, 6);
        float t[N * K], z[N * K];
        double want[N * K];
        tu_lcg r;
        tu_lcg_seed(&r, 8);
        tu_fill(&r, t, N * K, 0.0, 1.0);
        sc_tensor *tt = wrap(t, 2, N, K), *tz = wrap(z, 2, N, K);
        /* the twin's training-mode logits: the same forward */
        TU_OK(sc_net_forward(twin, bt.x, tz));
        double ref = kind == SC_LOSS_MSE ? ref_mse(z, t, N * K, want)
                                         : ref_bce(z, t, N * K, want);
        sc_batch b = SC_BATCH_INIT;
        b.x = bt.x;
        b.targets = tt;
        double ev;
        TU_OK(sc_net_eval_loss(net, &b, &ev, NULL));
        ck_assert_msg(fabs(ev - ref) <= 1e-6 * ref, "eval %g ref %g", ev, ref);
        sc_step_stats st = SC_STEP_STATS_INIT;
        TU_OK(sc_net_train_step_v2(net, opt, &b, &st));
        ck_assert_msg(fabs(st.task_loss - ref) <= 1e-6 * ref, "%d: %g vs %g",
                      kind, st.task_loss, ref);
        ck_assert_int_eq(st.loss_kind, kind);
        /* the update moved the parameters */
        size_t np;
        float *p = tu_params(twin, &np);
        ck_assert(!tu_params_equal(net, p, np));
        free(p);
        sc_tensor_free(tt);
        sc_tensor_free(tz);
        tu_batch_free(&bt);
        sc_optimizer_free(opt);
        sc_net_free(net);
        sc_net_free(twin);
    }
}
END_TEST

/* The host's loss with dL/dz = the softmax cross-entropy gradient
 * computed here steps a quantised net with gamma > 0 as
 * sc_net_train_step does. */
START_TEST(test_host_step_matches_train_step)
{
    sc_net *a = small_net(21), *b = small_net(21);
    sc_optimizer *oa, *ob;
    sc_net *nets[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        TU_OK(sc_net_quantize(nets[i], SC_ALL_LAYERS));
        TU_OK(sc_net_set_param(nets[i], SC_PARAM_GAMMA, 0.05));
    }
    set_loss(b, SC_LOSS_HOST, NULL, 0.0f);
    TU_OK(sc_optimizer_create(&oa, a, SC_OPT_SGD));
    TU_OK(sc_optimizer_create(&ob, b, SC_OPT_SGD));
    float z[N * K], g[N * K];
    double dz[N * K];
    sc_tensor *tz = wrap(z, 2, N, K), *tg = wrap(g, 2, N, K);
    for (int s = 0; s < 5; s++) {
        tu_batch bt = tu_batch_make(N, 4, 1, 1, K, 30 + s);
        sc_step_stats sa = SC_STEP_STATS_INIT, sb = SC_STEP_STATS_INIT;
        TU_OK(sc_net_train_forward(b, bt.x, tz));
        double l = ref_xent(z, bt.labels, N, K, NULL, 0.0, dz);
        for (int i = 0; i < N * K; i++)
            g[i] = (float)dz[i];
        TU_OK(sc_net_train_backward(b, ob, tg, l, &sb));
        TU_OK(sc_net_train_step(a, oa, bt.x, bt.labels, &sa));
        ck_assert_msg(fabs(sa.task_loss - sb.task_loss) <= 1e-6 * sa.task_loss,
                      "task %.9g vs %.9g", sa.task_loss, sb.task_loss);
        ck_assert(sb.size_loss > 0.0 &&
                  fabs(sa.size_loss - sb.size_loss) <= 1e-6 * sa.size_loss);
        ck_assert(fabs(sb.loss - (sb.task_loss + 0.05 * sb.size_loss)) <=
                  1e-12 * sb.loss);
        ck_assert_int_eq(sb.loss_kind, SC_LOSS_HOST);
        ck_assert_double_eq(sb.accuracy, 0.0);
        tu_batch_free(&bt);
    }
    ck_assert_uint_eq(sc_optimizer_steps(ob), 5);
    size_t np;
    float *pa = tu_params(a, &np), *pb = tu_params(b, &np);
    for (size_t i = 0; i < np; i++)
        ck_assert_msg(fabsf(pa[i] - pb[i]) <= 1e-5f * fmaxf(1.0f, fabsf(pa[i])),
                      "param %zu: %.9g vs %.9g", i, pa[i], pb[i]);
    free(pa);
    free(pb);
    sc_tensor_free(tz);
    sc_tensor_free(tg);
    sc_optimizer_free(oa);
    sc_optimizer_free(ob);
    sc_net_free(a);
    sc_net_free(b);
}
END_TEST

START_TEST(test_short_stats_struct)
{
    /* a caller's struct that ends before loss_kind: not written past it */
    sc_net *net = small_net(5);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    tu_batch bt = tu_batch_make(N, 4, 1, 1, K, 2);
    sc_step_stats st = SC_STEP_STATS_INIT;
    st.size = offsetof(sc_step_stats, loss_kind);
    st.loss_kind = 77;
    TU_OK(sc_net_train_step(net, opt, bt.x, bt.labels, &st));
    ck_assert_int_eq(st.loss_kind, 77);
    ck_assert(st.task_loss > 0.0);
    tu_batch_free(&bt);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* ------------------------------------------------------------ errors */

static void assert_loss(const sc_net *net, sc_loss kind, int nw, float eps)
{
    sc_loss_desc d = SC_LOSS_DESC_INIT(SC_LOSS_HOST);
    TU_OK(sc_net_get_loss(net, &d));
    ck_assert_int_eq(d.kind, kind);
    ck_assert_int_eq(d.n_class_weights, nw);
    ck_assert_float_eq(d.label_smoothing, eps);
}

START_TEST(test_setting_errors)
{
    sc_net *net = small_net(1);
    set_loss(net, SC_LOSS_SOFTMAX_XENT, W, 0.1f);
    float w[K + 1];
    memcpy(w, W, sizeof W);
    sc_loss_desc d = SC_LOSS_DESC_INIT(SC_LOSS_SOFTMAX_XENT);
    d.class_weights = w;
    d.n_class_weights = K + 1;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG); /* count */
    d.n_class_weights = K - 1;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    d.n_class_weights = K;
    w[2] = -0.5f;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    w[2] = NAN;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    w[2] = INFINITY;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    w[2] = 1.0f;
    d.label_smoothing = 1.0f;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    d.label_smoothing = -0.1f;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    d.label_smoothing = NAN;
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    d.label_smoothing = 0.0f;
    d.kind = SC_LOSS_BCE_LOGITS; /* weights on another loss */
    TU_FAILS(sc_net_set_loss(net, &d), SC_ERR_ARG);
    sc_loss_desc m = SC_LOSS_DESC_INIT(SC_LOSS_MSE);
    m.label_smoothing = 0.1f;
    TU_FAILS(sc_net_set_loss(net, &m), SC_ERR_ARG);
    m = (sc_loss_desc)SC_LOSS_DESC_INIT((sc_loss)4);
    TU_FAILS(sc_net_set_loss(net, &m), SC_ERR_ARG);
    m = (sc_loss_desc)SC_LOSS_DESC_INIT((sc_loss)-1);
    TU_FAILS(sc_net_set_loss(net, &m), SC_ERR_ARG);
    m = (sc_loss_desc)SC_LOSS_DESC_INIT(SC_LOSS_MSE);
    m.size = 0;
    TU_FAILS(sc_net_set_loss(net, &m), SC_ERR_ARG);
    TU_FAILS(sc_net_set_loss(net, NULL), SC_ERR_NULL);
    /* nothing changed, the weights are the net's copy */
    assert_loss(net, SC_LOSS_SOFTMAX_XENT, K, 0.1f);
    sc_loss_desc got = SC_LOSS_DESC_INIT(SC_LOSS_HOST);
    TU_OK(sc_net_get_loss(net, &got));
    ck_assert(got.class_weights != W &&
              memcmp(got.class_weights, W, sizeof W) == 0);
    /* a shorter struct: the kind alone */
    m = (sc_loss_desc)SC_LOSS_DESC_INIT(SC_LOSS_MSE);
    m.size = offsetof(sc_loss_desc, class_weights);
    m.label_smoothing = 0.5f; /* past .size: not read */
    TU_OK(sc_net_set_loss(net, &m));
    assert_loss(net, SC_LOSS_MSE, 0, 0.0f);
    sc_net_free(net);
}
END_TEST

START_TEST(test_batch_errors)
{
    sc_net *net = small_net(2);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    tu_batch bt = tu_batch_make(N, 4, 1, 1, K, 3);
    float t[N * K];
    for (int i = 0; i < N * K; i++)
        t[i] = 0.25f;
    sc_tensor *tt = wrap(t, 2, N, K), *short_t = wrap(t, 2, N - 1, K),
              *flat = wrap(t, 1, N * K, 0);
    size_t np;
    float *p0 = tu_params(net, &np);
    sc_batch b = SC_BATCH_INIT;
    b.x = bt.x;
    /* softmax xent: labels only */
    b.targets = tt;
    TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
    b.labels = bt.labels;
    TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
    b.targets = NULL;
    b.labels = NULL;
    TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
    bt.labels[3] = K;
    b.labels = bt.labels;
    TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_LABEL);
    bt.labels[3] = 0;
    b.size = 0;
    TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
    b.size = sizeof b;
    b.x = NULL;
    TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_NULL);
    b.x = bt.x;
    /* MSE and BCE: targets only, N x K, finite; BCE in [0, 1] */
    for (int kind = SC_LOSS_MSE; kind <= SC_LOSS_BCE_LOGITS; kind++) {
        set_loss(net, (sc_loss)kind, NULL, 0.0f);
        b.labels = bt.labels;
        b.targets = NULL;
        TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
        TU_FAILS(sc_net_train_step(net, opt, bt.x, bt.labels, NULL),
                 SC_ERR_ARG);
        b.targets = tt;
        TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
        b.labels = NULL;
        b.targets = short_t;
        TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_SHAPE);
        b.targets = flat;
        TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_SHAPE);
        b.targets = tt;
        t[7] = NAN;
        TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_NONFINITE);
        t[7] = INFINITY;
        TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_NONFINITE);
        double l;
        TU_FAILS(sc_net_eval_loss(net, &b, &l, NULL), SC_ERR_NONFINITE);
        t[7] = 1.5f;
        if (kind == SC_LOSS_BCE_LOGITS) {
            TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
            t[7] = -0.5f;
            TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_ARG);
        }
        t[7] = 0.25f;
    }
    ck_assert_uint_eq(sc_optimizer_steps(opt), 0);
    ck_assert(tu_params_equal(net, p0, np));
    /* the host's loss: no step of the library's */
    set_loss(net, SC_LOSS_HOST, NULL, 0.0f);
    TU_FAILS(sc_net_train_step(net, opt, bt.x, bt.labels, NULL), SC_ERR_STATE);
    b.targets = tt;
    TU_FAILS(sc_net_train_step_v2(net, opt, &b, NULL), SC_ERR_STATE);
    ck_assert(tu_params_equal(net, p0, np));
    free(p0);
    sc_tensor_free(tt);
    sc_tensor_free(short_t);
    sc_tensor_free(flat);
    tu_batch_free(&bt);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

START_TEST(test_host_errors)
{
    sc_net *net = small_net(2);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    tu_batch bt = tu_batch_make(N, 4, 1, 1, K, 3);
    float z[N * K], g[N * K];
    for (int i = 0; i < N * K; i++)
        g[i] = 0.01f * (float)(i % 7) - 0.03f;
    sc_tensor *tz = wrap(z, 2, N, K), *tg = wrap(g, 2, N, K),
              *short_g = wrap(g, 2, N - 1, K), *wide_g = wrap(g, 2, N, K - 1);
    size_t np;
    float *p0 = tu_params(net, &np);
    /* the net's loss is not the host's */
    TU_FAILS(sc_net_train_forward(net, bt.x, tz), SC_ERR_STATE);
    set_loss(net, SC_LOSS_HOST, NULL, 0.0f);
    /* backward without a forward */
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    /* logits of the wrong shape */
    TU_FAILS(sc_net_train_forward(net, bt.x, short_g), SC_ERR_SHAPE);
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    TU_OK(sc_net_train_forward(net, bt.x, tz));
    /* dlogits of the wrong shape, not finite: the forward stays kept */
    TU_FAILS(sc_net_train_backward(net, opt, short_g, 1.0, NULL), SC_ERR_SHAPE);
    TU_FAILS(sc_net_train_backward(net, opt, wide_g, 1.0, NULL), SC_ERR_SHAPE);
    g[4] = NAN;
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_NONFINITE);
    g[4] = 0.0f;
    TU_FAILS(sc_net_train_backward(net, opt, tg, NAN, NULL), SC_ERR_DIVERGED);
    TU_FAILS(sc_net_train_backward(net, NULL, tg, 1.0, NULL), SC_ERR_NULL);
    ck_assert(tu_params_equal(net, p0, np));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 0);
    TU_OK(sc_net_train_backward(net, opt, tg, 1.0, NULL));
    ck_assert(!tu_params_equal(net, p0, np));
    /* used up */
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    /* a forward, a setter or new parameters in between drop it */
    float out[N * K];
    sc_tensor *to = wrap(out, 2, N, K);
    free(p0);
    p0 = tu_params(net, &np);
    TU_OK(sc_net_train_forward(net, bt.x, tz));
    TU_OK(sc_net_forward(net, bt.x, to));
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    TU_OK(sc_net_train_forward(net, bt.x, tz));
    TU_OK(sc_net_set_params(net, p0, np));
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    TU_OK(sc_net_train_forward(net, bt.x, tz));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.01));
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    TU_OK(sc_net_train_forward(net, bt.x, tz));
    set_loss(net, SC_LOSS_HOST, NULL, 0.0f);
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    TU_OK(sc_net_train_forward(net, bt.x, tz));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_FAILS(sc_net_train_backward(net, opt, tg, 1.0, NULL), SC_ERR_STATE);
    ck_assert_uint_eq(sc_optimizer_steps(opt), 1);
    /* the forward's logits are the net's outputs in training mode */
    TU_OK(sc_net_train_forward(net, bt.x, tz));
    TU_OK(sc_net_set_training(net, 1));
    TU_OK(sc_net_forward(net, bt.x, to));
    ck_assert(memcmp(out, z, sizeof z) == 0);
    free(p0);
    sc_tensor_free(tz);
    sc_tensor_free(tg);
    sc_tensor_free(short_g);
    sc_tensor_free(wide_g);
    sc_tensor_free(to);
    tu_batch_free(&bt);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* Backward reads the copy of x the forward kept, not the caller's batch. */
START_TEST(test_host_keeps_its_input)
{
    sc_net *a = small_net(6), *b = small_net(6);
    set_loss(a, SC_LOSS_HOST, NULL, 0.0f);
    set_loss(b, SC_LOSS_HOST, NULL, 0.0f);
    sc_optimizer *oa, *ob;
    TU_OK(sc_optimizer_create(&oa, a, SC_OPT_SGD));
    TU_OK(sc_optimizer_create(&ob, b, SC_OPT_SGD));
    tu_batch bt = tu_batch_make(N, 4, 1, 1, 0, 3);
    float z[N * K], g[N * K];
    for (int i = 0; i < N * K; i++)
        g[i] = 0.02f * (float)(i % 7) - 0.06f; /* differs by sample */
    sc_tensor *tz = wrap(z, 2, N, K), *tg = wrap(g, 2, N, K);
    TU_OK(sc_net_train_forward(a, bt.x, tz));
    TU_OK(sc_net_train_backward(a, oa, tg, 1.0, NULL));
    TU_OK(sc_net_train_forward(b, bt.x, tz));
    for (int i = 0; i < N * 4; i++)
        bt.data[i] = 0.0f;
    TU_OK(sc_net_train_backward(b, ob, tg, 1.0, NULL));
    size_t np;
    float *p = tu_params(a, &np);
    ck_assert(tu_params_equal(b, p, np));
    free(p);
    sc_tensor_free(tz);
    sc_tensor_free(tg);
    tu_batch_free(&bt);
    sc_optimizer_free(oa);
    sc_optimizer_free(ob);
    sc_net_free(a);
    sc_net_free(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_xent_weighted_smoothed_values);
    tcase_add_test(tc, test_xent_zero_weight_batch);
    tcase_add_test(tc, test_mse_bce_values);
    tcase_add_test(tc, test_grad_xent_weights);
    tcase_add_test(tc, test_grad_xent_smoothing);
    tcase_add_test(tc, test_grad_xent_both);
    tcase_add_test(tc, test_grad_mse);
    tcase_add_test(tc, test_grad_bce);
    tcase_add_test(tc, test_unit_weights_are_the_default);
    tcase_add_test(tc, test_float_target_steps);
    tcase_add_test(tc, test_host_step_matches_train_step);
    tcase_add_test(tc, test_short_stats_struct);
    tcase_add_test(tc, test_setting_errors);
    tcase_add_test(tc, test_batch_errors);
    tcase_add_test(tc, test_host_errors);
    tcase_add_test(tc, test_host_keeps_its_input);
    tcase_add_test(tc, test_distill_values_and_gradient);
    tcase_add_test(tc, test_distill_steps);
    tcase_add_test(tc, test_distill_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
