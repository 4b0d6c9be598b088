/* test_optim.c -- optimizer updates against references computed here in
 * double from the textbook formulas (not from the library's code), on a
 * dense 3 -> 2 layer with set parameters; parameter groups; settings. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "optim/optimizer.h"
#include "util/testutil.h"

#define IN 3
#define OUT 2
#define NB 4 /* batch */
#define NP (OUT * IN + OUT)

static const float X[NB * IN] = {0.5f, -1.0f, 0.25f, 1.5f,  0.3f, -0.7f,
                                 -0.2f, 0.8f, 1.1f,  -1.3f, -0.4f, 0.6f};
static const int32_t Y[NB] = {1, 0, 1, 0};
static const float P0[NP] = {0.3f, -0.2f, 0.5f, -0.4f, 0.1f, 0.25f, /* W */
                             0.05f, -0.1f};                        /* b */

/* ---- the reference: loss gradient of mean softmax cross-entropy ---- */

/* g = dL/dp for p = [W (row-major OUT x IN), b] */
static void ref_grad(const double *p, double *g)
{
    memset(g, 0, NP * sizeof *g);
    for (int n = 0; n < NB; n++) {
        double z[OUT], m = -INFINITY, s = 0.0;
        for (int o = 0; o < OUT; o++) {
            z[o] = p[OUT * IN + o];
            for (int i = 0; i < IN; i++)
                z[o] += p[o * IN + i] * X[n * IN + i];
            m = fmax(m, z[o]);
        }
        for (int o = 0; o < OUT; o++)
            s += exp(z[o] - m);
        for (int o = 0; o < OUT; o++) {
            double dz = (exp(z[o] - m) / s - (o == Y[n])) / NB;
            for (int i = 0; i < IN; i++)
                g[o * IN + i] += dz * X[n * IN + i];
            g[OUT * IN + o] += dz;
        }
    }
}

typedef struct ref_cfg {
    const char *name;
    sc_optimizer_kind kind;
    double lr_w, lr_b, wd_w, wd_b;
    double momentum; /* SGD */
    int nesterov;
    double beta1, beta2, eps; /* Adam; 0: leave the default */
    int steps;
} ref_cfg;

/* PyTorch's SGD (dampening 0) and Adam / AdamW, in double. */
static void ref_run(const ref_cfg *c, double *p)
{
    double m[NP] = {0}, v[NP] = {0}, g[NP];
    double b1 = c->beta1 ? c->beta1 : 0.9, b2 = c->beta2 ? c->beta2 : 0.999;
    double eps = c->eps ? c->eps : 1e-8;
    for (int i = 0; i < NP; i++)
        p[i] = P0[i];
    for (int t = 1; t <= c->steps; t++) {
        ref_grad(p, g);
        for (int i = 0; i < NP; i++) {
            int w = i < OUT * IN;
            double lr = w ? c->lr_w : c->lr_b, wd = w ? c->wd_w : c->wd_b;
            if (c->kind == SC_OPT_SGD) {
                double d = g[i] + wd * p[i];
                m[i] = t == 1 ? d : c->momentum * m[i] + d;
                p[i] -= lr * (c->nesterov ? d + c->momentum * m[i] : m[i]);
            } else {
                double gi = g[i];
                if (c->kind == SC_OPT_ADAM)
                    gi += wd * p[i];
                else
                    p[i] *= 1.0 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * gi;
                v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                double mh = m[i] / (1 - pow(b1, t)), vh = v[i] / (1 - pow(b2, t));
                p[i] -= lr * mh / (sqrt(vh) + eps);
            }
        }
    }
}

/* ---- the library on the same problem ---- */

static sc_net *tiny_net(void)
{
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, IN, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, OUT, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    ck_assert_uint_eq(sc_net_param_count(net), NP);
    /* the layout the reference assumes: weights group, then biases */
    ck_assert_uint_eq(net->nodes[id].poff[P_W], 0);
    ck_assert_uint_eq(net->nodes[id].poff[P_B], OUT * IN);
    TU_OK(sc_net_set_params(net, P0, NP));
    return net;
}

static void lib_step(sc_net *net, sc_optimizer *opt, int steps)
{
    int64_t shape[2] = {NB, IN};
    sc_tensor *x = NULL;
    TU_OK(sc_tensor_from_data(&x, 2, shape, X));
    for (int s = 0; s < steps; s++)
        TU_OK(sc_net_train_step(net, opt, x, Y, NULL));
    sc_tensor_free(x);
}

static const ref_cfg cfgs[] = {
    {"sgd plain", SC_OPT_SGD, 0.5, 0.3, 0, 0, 0.0, 0, 0, 0, 0, 2},
    {"sgd momentum", SC_OPT_SGD, 0.5, 0.5, 0, 0, 0.9, 0, 0, 0, 0, 3},
    {"sgd momentum 0.5", SC_OPT_SGD, 0.2, 0.4, 0, 0, 0.5, 0, 0, 0, 0, 3},
    {"sgd nesterov", SC_OPT_SGD, 0.5, 0.5, 0, 0, 0.9, 1, 0, 0, 0, 3},
    {"sgd weight decay", SC_OPT_SGD, 0.5, 0.5, 0.1, 0, 0.9, 0, 0, 0, 0, 3},
    {"sgd nesterov decay", SC_OPT_SGD, 0.3, 0.2, 0.05, 0.2, 0.8, 1, 0, 0, 0, 2},
    {"adam", SC_OPT_ADAM, 0.01, 0.02, 0, 0, 0, 0, 0, 0, 0, 3},
    {"adam l2", SC_OPT_ADAM, 0.01, 0.01, 0.5, 0.0, 0, 0, 0, 0, 0, 3},
    {"adam betas eps", SC_OPT_ADAM, 0.05, 0.05, 0, 0, 0, 0, 0.5, 0.9, 1e-3, 4},
    {"adamw", SC_OPT_ADAMW, 0.01, 0.01, 0.5, 0.0, 0, 0, 0, 0, 0, 3},
    {"adamw both decay", SC_OPT_ADAMW, 0.1, 0.05, 0.3, 0.2, 0, 0, 0.8, 0.99,
     1e-6, 2},
};

START_TEST(test_update_matches_reference)
{
    const ref_cfg *c = &cfgs[_i];
    sc_net *net = tiny_net();
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, c->kind));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_WEIGHTS, c->lr_w));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_BIASES, c->lr_b));
    TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_WEIGHTS, c->wd_w));
    TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_BIASES, c->wd_b));
    if (c->kind == SC_OPT_SGD) {
        TU_OK(sc_optimizer_set(opt, SC_OPT_MOMENTUM, 0, c->momentum));
        TU_OK(sc_optimizer_set(opt, SC_OPT_NESTEROV, 0, c->nesterov));
    }
    if (c->beta1)
        TU_OK(sc_optimizer_set(opt, SC_OPT_BETA1, 0, c->beta1));
    if (c->beta2)
        TU_OK(sc_optimizer_set(opt, SC_OPT_BETA2, 0, c->beta2));
    if (c->eps)
        TU_OK(sc_optimizer_set(opt, SC_OPT_EPS, 0, c->eps));
    double want[NP];
    ref_run(c, want);
    lib_step(net, opt, c->steps);
    float got[NP];
    TU_OK(sc_net_get_params(net, got, NP));
    double moved = 0.0;
    for (int i = 0; i < NP; i++) {
        ck_assert_msg(fabs(got[i] - want[i]) <= 2e-6 * (1.0 + fabs(want[i])),
                      "%s: param %d: %.9g, reference %.9g", c->name, i, got[i],
                      want[i]);
        moved = fmax(moved, fabs(want[i] - P0[i]));
    }
    /* the steps are large enough that a wrong formula shows */
    ck_assert_msg(moved > 1e-2, "%s: parameters barely moved (%g)", c->name, moved);
    ck_assert_uint_eq(sc_optimizer_steps(opt), (uint64_t)c->steps);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

START_TEST(test_reference_distinguishes)
{
    /* sanity of the reference itself: the variants give different results,
     * so matching one is not matching them all */
    double a[NP], b[NP], c[NP], d[NP];
    ref_run(&cfgs[1], a); /* momentum */
    ref_run(&cfgs[3], b); /* nesterov */
    ref_run(&cfgs[7], c); /* adam l2 */
    ref_run(&cfgs[9], d); /* adamw, same numbers */
    double dab = 0.0, dcd = 0.0;
    for (int i = 0; i < NP; i++) {
        dab = fmax(dab, fabs(a[i] - b[i]));
        dcd = fmax(dcd, fabs(c[i] - d[i]));
    }
    ck_assert_double_gt(dab, 1e-3);
    ck_assert_double_gt(dcd, 1e-4);
}
END_TEST

/* ---- groups ---- */

/* dense 3 -> 4 (quantised) -> dense 2, gamma > 0 so b has a gradient */
static sc_net *quant_net(int *q)
{
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, IN, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, 4, SC_BIAS, q));
    TU_OK(sc_net_relu(net, *q, &id));
    TU_OK(sc_net_dense(net, id, OUT, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 5));
    TU_OK(sc_net_quantize(net, *q));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.05));
    return net;
}

/* Runs `steps` steps of Adam with lr of group g set to lr (the others
 * 0.01); returns the params. */
static float *group_run(int g, double lr, int steps, sc_net **out_net)
{
    int q;
    sc_net *net = quant_net(&q);
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_EVERY, 0.01));
    if (g != 99)
        TU_OK(sc_optimizer_set_lr(opt, g, lr));
    lib_step(net, opt, steps);
    float *p = tu_params(net, NULL);
    sc_optimizer_free(opt);
    *out_net = net;
    return p;
}

/* max |a - b| over group g's range */
static double group_diff(const sc_net *net, int g, const float *a, const float *b)
{
    double d = 0.0;
    for (size_t i = net->group_off[g]; i < net->group_off[g + 1]; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

START_TEST(test_group_lr)
{
    int q;
    sc_net *n0 = quant_net(&q);
    float *p0 = tu_params(n0, NULL);
    for (int g = 0; g < SC_GROUP_COUNT; g++)
        ck_assert_uint_gt(n0->group_off[g + 1], n0->group_off[g]);
    ck_assert_uint_eq(n0->group_off[SC_GROUP_QUANT_BITS + 1] -
                          n0->group_off[SC_GROUP_QUANT_BITS], 4);

    sc_net *na, *nb;
    /* one step: only the b's differ (later steps see different b's, so
     * the clamping of the weights may differ) */
    float *pa = group_run(SC_GROUP_QUANT_BITS, 0.01, 1, &na);
    float *pb = group_run(SC_GROUP_QUANT_BITS, 0.1, 1, &nb);
    ck_assert_double_eq(group_diff(n0, SC_GROUP_WEIGHTS, pa, pb), 0.0);
    ck_assert_double_eq(group_diff(n0, SC_GROUP_BIASES, pa, pb), 0.0);
    ck_assert_double_eq(group_diff(n0, SC_GROUP_QUANT_EXP, pa, pb), 0.0);
    ck_assert_double_gt(group_diff(n0, SC_GROUP_QUANT_BITS, pa, pb), 1e-3);
    /* and every group moved from the start */
    for (int g = 0; g < SC_GROUP_COUNT; g++)
        ck_assert_msg(group_diff(n0, g, pa, p0) > 0.0, "group %d did not move", g);
    /* Adam's first step moves b by lr, down (gamma > 0), from b0 = 5 (the
     * default) */
    float b[4];
    TU_OK(sc_net_get_quant(nb, q, b, NULL, 4));
    for (int o = 0; o < 4; o++)
        ck_assert_msg(fabsf(b[o] - (5.0f - 0.1f)) < 1e-4f, "b[%d] = %g", o,
                      b[o]);
    free(pa);
    free(pb);
    sc_net_free(na);
    sc_net_free(nb);

    /* lr 0 freezes exactly its group */
    static const int groups[] = {SC_GROUP_WEIGHTS, SC_GROUP_BIASES,
                                 SC_GROUP_QUANT_BITS, SC_GROUP_QUANT_EXP};
    for (int k = 0; k < 4; k++) {
        sc_net *nz;
        float *pz = group_run(groups[k], 0.0, 3, &nz);
        for (int g = 0; g < SC_GROUP_COUNT; g++) {
            double d = group_diff(n0, g, pz, p0);
            if (g == groups[k])
                ck_assert_msg(d == 0.0, "frozen group %d moved %g", g, d);
            else
                ck_assert_msg(d > 0.0, "group %d did not move (group %d frozen)",
                              g, groups[k]);
        }
        free(pz);
        sc_net_free(nz);
    }
    /* SC_GROUP_QUANT freezes both quantiser groups */
    sc_net *nq;
    float *pq = group_run(SC_GROUP_QUANT, 0.0, 3, &nq);
    ck_assert_double_eq(group_diff(n0, SC_GROUP_QUANT_BITS, pq, p0), 0.0);
    ck_assert_double_eq(group_diff(n0, SC_GROUP_QUANT_EXP, pq, p0), 0.0);
    ck_assert_double_gt(group_diff(n0, SC_GROUP_WEIGHTS, pq, p0), 0.0);
    free(pq);
    sc_net_free(nq);
    /* SC_GROUP_EVERY freezes everything */
    sc_net *nall;
    float *pall = group_run(SC_GROUP_EVERY, 0.0, 3, &nall);
    ck_assert(memcmp(pall, p0, n0->n_params * sizeof *p0) == 0);
    free(pall);
    sc_net_free(nall);
    /* SC_GROUP_ALL freezes weights and biases; the quantiser still learns */
    float *pwb = group_run(SC_GROUP_ALL, 0.0, 3, &nall);
    ck_assert_double_eq(group_diff(n0, SC_GROUP_WEIGHTS, pwb, p0), 0.0);
    ck_assert_double_eq(group_diff(n0, SC_GROUP_BIASES, pwb, p0), 0.0);
    ck_assert_double_gt(group_diff(n0, SC_GROUP_QUANT_BITS, pwb, p0), 0.0);
    ck_assert_double_gt(group_diff(n0, SC_GROUP_QUANT_EXP, pwb, p0), 0.0);
    free(pwb);
    sc_net_free(nall);
    free(p0);
    sc_net_free(n0);
}
END_TEST

/* ---- settings ---- */

START_TEST(test_defaults)
{
    for (int kind = 0; kind <= 2; kind++) {
        sc_net *net = tiny_net();
        sc_optimizer *opt = NULL;
        TU_OK(sc_optimizer_create(&opt, net, (sc_optimizer_kind)kind));
        double v, base = kind == SC_OPT_SGD ? 0.01 : 1e-3;
        TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_WEIGHTS, &v));
        ck_assert_double_eq(v, base);
        TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_BIASES, &v));
        ck_assert_double_eq(v, base);
        TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_BITS, &v));
        ck_assert_double_eq(v, 0.5);
        TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_EXP, &v));
        ck_assert_double_eq(v, 0.05);
        for (int g = 0; g < SC_GROUP_COUNT; g++) {
            TU_OK(sc_optimizer_get(opt, SC_OPT_WEIGHT_DECAY, g, &v));
            ck_assert_double_eq(v, 0.0);
        }
        TU_OK(sc_optimizer_get(opt, SC_OPT_MOMENTUM, 0, &v));
        ck_assert_double_eq(v, 0.9);
        TU_OK(sc_optimizer_get(opt, SC_OPT_NESTEROV, 0, &v));
        ck_assert_double_eq(v, 0.0);
        TU_OK(sc_optimizer_get(opt, SC_OPT_BETA1, 0, &v));
        ck_assert_double_eq(v, 0.9);
        TU_OK(sc_optimizer_get(opt, SC_OPT_BETA2, 0, &v));
        ck_assert_double_eq(v, 0.999);
        TU_OK(sc_optimizer_get(opt, SC_OPT_EPS, 0, &v));
        ck_assert_double_eq(v, 1e-8);
        ck_assert_uint_eq(sc_optimizer_steps(opt), 0);
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
}
END_TEST

START_TEST(test_set_get_round_trip)
{
    sc_net *net = tiny_net();
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    double v;
    for (int g = 0; g < SC_GROUP_COUNT; g++) {
        TU_OK(sc_optimizer_set(opt, SC_OPT_LR, g, 0.125 * (g + 1)));
        TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, g, 0.01 * (g + 1)));
    }
    for (int g = 0; g < SC_GROUP_COUNT; g++) {
        TU_OK(sc_optimizer_get(opt, SC_OPT_LR, g, &v));
        ck_assert_double_eq(v, 0.125 * (g + 1));
        TU_OK(sc_optimizer_get(opt, SC_OPT_WEIGHT_DECAY, g, &v));
        ck_assert_double_eq(v, 0.01 * (g + 1));
    }
    /* group sets */
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_QUANT, 0.75));
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_WEIGHTS, &v));
    ck_assert_double_eq(v, 0.125);
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_BIASES, &v));
    ck_assert_double_eq(v, 0.25);
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_BITS, &v));
    ck_assert_double_eq(v, 0.75);
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_EXP, &v));
    ck_assert_double_eq(v, 0.75);
    TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_EVERY, 0.3));
    for (int g = 0; g < SC_GROUP_COUNT; g++) {
        TU_OK(sc_optimizer_get(opt, SC_OPT_WEIGHT_DECAY, g, &v));
        ck_assert_double_eq(v, 0.3);
    }
    /* one rate for "all" (the PyTorch habit) leaves the quantiser's own */
    TU_OK(sc_optimizer_set(opt, SC_OPT_LR, SC_GROUP_ALL, 0.01));
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_WEIGHTS, &v));
    ck_assert_double_eq(v, 0.01);
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_BIASES, &v));
    ck_assert_double_eq(v, 0.01);
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_BITS, &v));
    ck_assert_double_eq(v, 0.75);
    TU_OK(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_EXP, &v));
    ck_assert_double_eq(v, 0.75);
    TU_FAILS(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_EVERY, &v), SC_ERR_ARG);
    /* the scalar settings; the group argument is ignored for them */
    const struct {
        sc_opt_param p;
        double v;
    } sets[] = {{SC_OPT_MOMENTUM, 0.0},  {SC_OPT_MOMENTUM, 0.5},
                {SC_OPT_NESTEROV, 1.0},  {SC_OPT_NESTEROV, 0.0},
                {SC_OPT_BETA1, 0.0},     {SC_OPT_BETA1, 0.8},
                {SC_OPT_BETA2, 0.95},    {SC_OPT_EPS, 1e-6},
                {SC_OPT_LR, 0.0}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        int g = sets[i].p == SC_OPT_LR ? SC_GROUP_BIASES : 12345;
        TU_OK(sc_optimizer_set(opt, sets[i].p, g, sets[i].v));
        TU_OK(sc_optimizer_get(opt, sets[i].p, sets[i].p == SC_OPT_LR ? g : -7, &v));
        ck_assert_double_eq(v, sets[i].v);
    }
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

START_TEST(test_set_range_errors)
{
    sc_net *net = tiny_net();
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    const struct {
        sc_opt_param p;
        int group;
        double v;
    } bad[] = {
        {SC_OPT_LR, SC_GROUP_WEIGHTS, -0.1},
        {SC_OPT_LR, SC_GROUP_WEIGHTS, NAN},
        {SC_OPT_LR, SC_GROUP_WEIGHTS, INFINITY},
        {SC_OPT_LR, SC_GROUP_WEIGHTS, 1e39}, /* finite, but not as a float */
        {SC_OPT_WEIGHT_DECAY, SC_GROUP_ALL, 3.5e38},
        {SC_OPT_LR, SC_GROUP_COUNT, 0.1},
        {SC_OPT_LR, -4, 0.1},
        {SC_OPT_LR, 1000, 0.1},
        {SC_OPT_WEIGHT_DECAY, SC_GROUP_BIASES, -1e-9},
        {SC_OPT_WEIGHT_DECAY, SC_GROUP_ALL, -INFINITY},
        {SC_OPT_WEIGHT_DECAY, 7, 0.1},
        {SC_OPT_MOMENTUM, 0, 1.0},
        {SC_OPT_MOMENTUM, 0, -0.1},
        {SC_OPT_MOMENTUM, 0, NAN},
        {SC_OPT_NESTEROV, 0, 0.5},
        {SC_OPT_NESTEROV, 0, 2.0},
        {SC_OPT_NESTEROV, 0, -1.0},
        {SC_OPT_BETA1, 0, 1.0},
        {SC_OPT_BETA1, 0, -0.5},
        {SC_OPT_BETA2, 0, 1.5},
        {SC_OPT_BETA2, 0, NAN},
        {SC_OPT_EPS, 0, 0.0},
        {SC_OPT_EPS, 0, -1e-8},
        {SC_OPT_EPS, 0, INFINITY},
        {SC_OPT_EPS, 0, 1e300},
        {(sc_opt_param)7, 0, 0.1},
        {(sc_opt_param)-1, 0, 0.1},
        {(sc_opt_param)1000, 0, 0.1},
    };
    double before[7][SC_GROUP_COUNT], after;
    for (int p = 0; p < 7; p++)
        for (int g = 0; g < SC_GROUP_COUNT; g++)
            TU_OK(sc_optimizer_get(opt, (sc_opt_param)p, g, &before[p][g]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TU_FAILS(sc_optimizer_set(opt, bad[i].p, bad[i].group, bad[i].v),
                 SC_ERR_ARG);
        /* nothing changed */
        for (int p = 0; p < 7; p++)
            for (int g = 0; g < SC_GROUP_COUNT; g++) {
                TU_OK(sc_optimizer_get(opt, (sc_opt_param)p, g, &after));
                ck_assert_msg(after == before[p][g],
                              "bad set %zu changed setting %d group %d", i, p, g);
            }
    }
    /* getters: single groups only, known settings only, no NULLs */
    double v;
    TU_FAILS(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_ALL, &v), SC_ERR_ARG);
    TU_FAILS(sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT, &v), SC_ERR_ARG);
    TU_FAILS(sc_optimizer_get(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_COUNT, &v),
             SC_ERR_ARG);
    TU_FAILS(sc_optimizer_get(opt, (sc_opt_param)7, 0, &v), SC_ERR_ARG);
    TU_FAILS(sc_optimizer_get(opt, SC_OPT_LR, 0, NULL), SC_ERR_NULL);
    TU_FAILS(sc_optimizer_get(NULL, SC_OPT_LR, 0, &v), SC_ERR_NULL);
    TU_FAILS(sc_optimizer_set(NULL, SC_OPT_LR, 0, 0.1), SC_ERR_NULL);
    TU_FAILS(sc_optimizer_set_lr(NULL, 0, 0.1), SC_ERR_NULL);
    TU_FAILS(sc_optimizer_set_lr(opt, 0, -1.0), SC_ERR_ARG);
    ck_assert_uint_eq(sc_optimizer_steps(NULL), 0);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

START_TEST(test_steps_count)
{
    sc_net *net = tiny_net();
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAMW));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 0);
    lib_step(net, opt, 3);
    ck_assert_uint_eq(sc_optimizer_steps(opt), 3);
    /* a failed step is not a step */
    int64_t shape[2] = {NB, IN};
    sc_tensor *x = NULL;
    TU_OK(sc_tensor_from_data(&x, 2, shape, X));
    int32_t bad[NB] = {0, 1, 2, 0};
    TU_FAILS(sc_net_train_step(net, opt, x, bad, NULL), SC_ERR_LABEL);
    ck_assert_uint_eq(sc_optimizer_steps(opt), 3);
    TU_OK(sc_net_train_step(net, opt, x, Y, NULL));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 4);
    /* forward passes are not steps */
    int64_t oshape[2] = {NB, OUT};
    sc_tensor *out = NULL;
    TU_OK(sc_tensor_create(&out, 2, oshape));
    TU_OK(sc_net_forward(net, x, out));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 4);
    sc_tensor_free(out);
    sc_tensor_free(x);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* An update that would overflow a parameter or a moment fails with
 * SC_ERR_DIVERGED and changes nothing: params, moments, step count; the
 * optimizer then trains on. _i: SGD, SGD with Nesterov, Adam, AdamW. */
START_TEST(test_update_diverged)
{
    static const sc_optimizer_kind kinds[] = {SC_OPT_SGD, SC_OPT_SGD,
                                              SC_OPT_ADAM, SC_OPT_ADAMW};
    sc_net *net = tiny_net();
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, kinds[_i]));
    if (_i == 1)
        TU_OK(sc_optimizer_set(opt, SC_OPT_NESTEROV, 0, 1.0));
    lib_step(net, opt, 2);
    float p0[NP], m0[NP], v0[NP], p1[NP];
    TU_OK(sc_net_get_params(net, p0, NP));
    memcpy(m0, opt->m, sizeof m0);
    memcpy(v0, opt->v, sizeof v0);
    /* finite floats whose products overflow: lr wd p for SGD, lr / (1 -
     * beta1^t) for Adam */
    TU_OK(sc_optimizer_set(opt, SC_OPT_LR, SC_GROUP_ALL, 3e38));
    TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_ALL, 3e38));
    int64_t shape[2] = {NB, IN};
    sc_tensor *x = NULL;
    TU_OK(sc_tensor_from_data(&x, 2, shape, X));
    TU_FAILS(sc_net_train_step(net, opt, x, Y, NULL), SC_ERR_DIVERGED);
    ck_assert_msg(strstr(sc_last_error(), "non-finite") != NULL, "%s",
                  sc_last_error());
    TU_OK(sc_net_get_params(net, p1, NP));
    ck_assert(memcmp(p0, p1, sizeof p0) == 0);
    ck_assert(memcmp(m0, opt->m, sizeof m0) == 0);
    ck_assert(memcmp(v0, opt->v, sizeof v0) == 0);
    ck_assert_uint_eq(sc_optimizer_steps(opt), 2);
    TU_OK(sc_optimizer_set(opt, SC_OPT_LR, SC_GROUP_ALL, 1e-3));
    TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_ALL, 0.0));
    TU_OK(sc_net_train_step(net, opt, x, Y, NULL));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 3);
    TU_OK(sc_net_get_params(net, p1, NP));
    for (int i = 0; i < NP; i++)
        ck_assert(isfinite(p1[i]));
    sc_tensor_free(x);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_loop_test(tc, test_update_matches_reference, 0,
                        (int)(sizeof cfgs / sizeof cfgs[0]));
    tcase_add_test(tc, test_reference_distinguishes);
    tcase_add_test(tc, test_group_lr);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_set_get_round_trip);
    tcase_add_test(tc, test_set_range_errors);
    tcase_add_test(tc, test_steps_count);
    tcase_add_loop_test(tc, test_update_diverged, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
