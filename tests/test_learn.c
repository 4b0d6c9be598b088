/* test_learn.c -- nets learn seeded synthetic tasks: an MLP on a non-linear
 * (XOR-like) task and conv nets (plain and residual) on bar/box images, to
 * > 95% training accuracy; runs are bit-reproducible; every optimizer
 * learns; a steady-state training step allocates nothing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "optim/optimizer.h"
#include "util/testutil.h"

/* Under valgrind (make valgrind: a memory check) the runs are cut to a few
 * steps and the learning assertions are skipped; every other build asserts
 * them in full. */
#define VALGRIND_STEPS 8

#define MAX_STEPS 600

/* ------------------------------------------------------------ data */

typedef struct dataset {
    int n, c, h, w, classes;
    float *x;
    int32_t *y;
} dataset;

static void dataset_free(dataset *d)
{
    free(d->x);
    free(d->y);
}

static size_t sample_size(const dataset *d) { return (size_t)d->c * d->h * d->w; }

/* 8 features uniform in [-1, 1); label = [x0 > 0] xor [x1 > 0] + 2 [x2 > 0]
 * (4 classes, not linearly separable); the other 5 features are noise.
 * Points within 0.05 of a boundary are redrawn so the classes have a gap. */
static dataset xor_task(int n, uint64_t seed)
{
    dataset d = {n, 8, 1, 1, 4, malloc((size_t)n * 8 * sizeof(float)),
                 malloc((size_t)n * sizeof(int32_t))};
    tu_lcg r;
    tu_lcg_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        float *x = d.x + (size_t)i * 8;
        do
            tu_fill(&r, x, 8, -1.0, 1.0);
        while (fabsf(x[0]) < 0.05f || fabsf(x[1]) < 0.05f || fabsf(x[2]) < 0.05f);
        d.y[i] = ((x[0] > 0) ^ (x[1] > 0)) + 2 * (x[2] > 0);
    }
    return d;
}

/* 1 x 8 x 8 images with noise: class 0 a horizontal bar, 1 a vertical bar,
 * 2 a 3x3 hollow box, each at a random place. */
static dataset shape_task(int n, uint64_t seed)
{
    const int h = 8, w = 8;
    dataset d = {n, 1, h, w, 3, malloc((size_t)n * h * w * sizeof(float)),
                 malloc((size_t)n * sizeof(int32_t))};
    tu_lcg r;
    tu_lcg_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        float *x = d.x + (size_t)i * h * w;
        tu_fill(&r, x, (size_t)h * w, -0.3, 0.3);
        int cls = tu_lcg_int(&r, 3);
        d.y[i] = cls;
        if (cls == 0) {
            int y0 = tu_lcg_int(&r, h), x0 = tu_lcg_int(&r, w - 3);
            for (int k = 0; k < 4; k++)
                x[y0 * w + x0 + k] += 1.0f;
        } else if (cls == 1) {
            int y0 = tu_lcg_int(&r, h - 3), x0 = tu_lcg_int(&r, w);
            for (int k = 0; k < 4; k++)
                x[(y0 + k) * w + x0] += 1.0f;
        } else {
            int y0 = tu_lcg_int(&r, h - 2), x0 = tu_lcg_int(&r, w - 2);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    if (a != 1 || b != 1)
                        x[(y0 + a) * w + x0 + b] += 1.0f;
        }
    }
    return d;
}

/* ------------------------------------------------------------ training */

/* Minibatches in order, wrapping around; losses[s] gets step s's loss. */
static void train(sc_net *net, sc_optimizer *opt, const dataset *d, int batch,
                  int steps, double *losses)
{
    size_t ss = sample_size(d);
    int64_t shape[4] = {batch, d->c, d->h, d->w};
    for (int s = 0; s < steps; s++) {
        int first = (int)(((int64_t)s * batch) % (d->n - batch + 1));
        sc_tensor *t = NULL;
        TU_OK(sc_tensor_wrap(&t, 4, shape, d->x + (size_t)first * ss));
        sc_step_stats st = SC_STEP_STATS_INIT;
        TU_OK(sc_net_train_step(net, opt, t, d->y + first, &st));
        ck_assert_msg(isfinite(st.loss), "step %d: loss %g", s, st.loss);
        if (losses)
            losses[s] = st.loss;
        sc_tensor_free(t);
    }
}

/* Accuracy on the whole set in eval mode (running statistics). */
static double accuracy(sc_net *net, const dataset *d)
{
    int64_t shape[4] = {d->n, d->c, d->h, d->w}, oshape[2] = {d->n, d->classes};
    sc_tensor *x = NULL, *out = NULL;
    TU_OK(sc_tensor_wrap(&x, 4, shape, d->x));
    TU_OK(sc_tensor_create(&out, 2, oshape));
    TU_OK(sc_net_set_training(net, 0));
    TU_OK(sc_net_forward(net, x, out));
    TU_OK(sc_net_set_training(net, 1));
    const float *z = sc_tensor_data(out);
    int right = 0;
    for (int i = 0; i < d->n; i++) {
        int arg = 0;
        for (int c = 1; c < d->classes; c++)
            if (z[i * d->classes + c] > z[i * d->classes + arg])
                arg = c;
        right += arg == d->y[i];
    }
    sc_tensor_free(x);
    sc_tensor_free(out);
    return (double)right / d->n;
}

static sc_net *mlp(void)
{
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, 8, 1, 1));
    TU_OK(sc_net_dense(net, SC_INPUT, 32, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 32, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 4, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 1234));
    return net;
}

/* conv+BN+relu+maxpool+flatten+dense */
static sc_net *cnn(void)
{
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, 1, 8, 8));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 8, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 99));
    return net;
}

/* conv-bn-relu, then a residual block conv-bn-relu-conv + skip, maxpool,
 * global average pool, dense */
static sc_net *resnet(void)
{
    sc_net *net = NULL;
    int a, b, id;
    TU_OK(sc_net_create(&net, 1, 8, 8));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 8, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &a));
    TU_OK(sc_net_conv2d(net, a, 8, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_conv2d(net, id, 8, 3, 3, 1, 1, SC_BIAS, &b));
    TU_OK(sc_net_add(net, a, b, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_global_maxpool(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 7));
    return net;
}

typedef sc_net *(*net_fn)(void);

typedef struct run_cfg {
    const char *name;
    net_fn make;
    int conv; /* shape task, else xor task */
    sc_optimizer_kind kind;
    double lr, momentum;
    int nesterov;
    double wd;
    int threads, steps, batch;
} run_cfg;

/* Trains cfg from scratch; returns the training accuracy and, when losses
 * is not NULL, every step's loss. */
static double run(const run_cfg *in, double *losses)
{
    run_cfg c = *in;
    const run_cfg *cfg = &c;
    if (UNDER_VALGRIND() && c.steps > VALGRIND_STEPS)
        c.steps = VALGRIND_STEPS;
    dataset d = cfg->conv ? shape_task(192, 5) : xor_task(256, 3);
    sc_net *net = cfg->make();
    sc_optimizer *opt = NULL;
    TU_OK(sc_net_set_threads(net, cfg->threads));
    TU_OK(sc_optimizer_create(&opt, net, cfg->kind));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_EVERY, cfg->lr));
    if (cfg->kind == SC_OPT_SGD) {
        TU_OK(sc_optimizer_set(opt, SC_OPT_MOMENTUM, 0, cfg->momentum));
        TU_OK(sc_optimizer_set(opt, SC_OPT_NESTEROV, 0, cfg->nesterov));
    }
    if (cfg->wd > 0)
        TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_WEIGHTS, cfg->wd));
    double before = accuracy(net, &d);
    train(net, opt, &d, cfg->batch, cfg->steps, losses);
    ck_assert_uint_eq(sc_optimizer_steps(opt), (uint64_t)cfg->steps);
    double acc = accuracy(net, &d);
    if (getenv("TU_VERBOSE"))
        fprintf(stderr, "%-28s accuracy %.3f -> %.3f\n", cfg->name, before, acc);
    ck_assert_msg(before < 0.7, "%s: the task is too easy (%.3f untrained)",
                  cfg->name, before);
    sc_optimizer_free(opt);
    sc_net_free(net);
    dataset_free(&d);
    return acc;
}

static const run_cfg cfgs[] = {
    {"mlp adam", mlp, 0, SC_OPT_ADAM, 0.01, 0, 0, 0, 1, 250, 32},
    {"mlp adamw", mlp, 0, SC_OPT_ADAMW, 0.01, 0, 0, 1e-2, 1, 250, 32},
    {"mlp sgd momentum", mlp, 0, SC_OPT_SGD, 0.05, 0.9, 0, 0, 1, 250, 32},
    {"mlp sgd nesterov", mlp, 0, SC_OPT_SGD, 0.05, 0.9, 1, 1e-4, 1, 250, 32},
    {"mlp sgd plain", mlp, 0, SC_OPT_SGD, 0.2, 0.0, 0, 0, 1, 300, 32},
    {"cnn adam", cnn, 1, SC_OPT_ADAM, 0.01, 0, 0, 0, 1, 150, 32},
    {"cnn sgd nesterov", cnn, 1, SC_OPT_SGD, 0.05, 0.9, 1, 0, 1, 150, 32},
    {"resnet adam", resnet, 1, SC_OPT_ADAM, 0.01, 0, 0, 0, 1, 150, 32},
    {"cnn adam 2 threads", cnn, 1, SC_OPT_ADAM, 0.01, 0, 0, 0, 2, 150, 32},
    {"resnet adamw 2 threads", resnet, 1, SC_OPT_ADAMW, 0.01, 0, 0, 1e-3, 2,
     150, 32},
    {"mlp adam 2 threads", mlp, 0, SC_OPT_ADAM, 0.01, 0, 0, 0, 2, 250, 32},
};

START_TEST(test_learns)
{
    const run_cfg *cfg = &cfgs[_i];
    double acc = run(cfg, NULL);
    if (UNDER_VALGRIND())
        return;
    ck_assert_msg(acc > 0.95, "%s: training accuracy %.3f", cfg->name, acc);
}
END_TEST

START_TEST(test_reproducible)
{
    /* the same seeds give bit-identical losses at every step (1 thread,
     * and 2 threads, whose work split depends only on the batch) */
    static const int which[] = {0, 5, 7, 8, 9};
    const run_cfg *cfg = &cfgs[which[_i]];
    double *l1 = malloc(MAX_STEPS * sizeof *l1), *l2 = malloc(MAX_STEPS * sizeof *l2);
    ck_assert_int_le(cfg->steps, MAX_STEPS);
    run(cfg, l1);
    run(cfg, l2);
    int steps = UNDER_VALGRIND() ? VALGRIND_STEPS : cfg->steps;
    ck_assert_msg(memcmp(l1, l2, (size_t)steps * sizeof *l1) == 0,
                  "%s: runs differ", cfg->name);
    if (UNDER_VALGRIND()) {
        free(l1);
        free(l2);
        return;
    }
    /* and the loss went down */
    ck_assert_msg(l1[cfg->steps - 1] < 0.5 * l1[0], "%s: loss %g -> %g",
                  cfg->name, l1[0], l1[cfg->steps - 1]);
    free(l1);
    free(l2);
}
END_TEST

START_TEST(test_threads_match)
{
    /* 1 and 2 threads compute the same first step up to summation order */
    run_cfg c1 = cfgs[7], c2 = cfgs[7];
    c1.steps = c2.steps = 5;
    c2.threads = 2;
    double l1[5], l2[5];
    run(&c1, l1);
    run(&c2, l2);
    ck_assert_msg(fabs(l1[0] - l2[0]) <= 1e-5 * fabs(l1[0]), "%.9g vs %.9g",
                  l1[0], l2[0]);
    for (int s = 1; s < 5; s++)
        ck_assert_msg(fabs(l1[s] - l2[s]) <= 1e-3 * fabs(l1[s]),
                      "step %d: %.9g vs %.9g", s, l1[s], l2[s]);
}
END_TEST

/* ------------------------------------------------------------ allocation */

START_TEST(test_no_allocation_in_steady_state)
{
    dataset d = shape_task(64, 11);
    sc_net *net = resnet();
    sc_optimizer *opt = NULL;
    TU_OK(sc_net_set_threads(net, 1 + _i));
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    train(net, opt, &d, 32, 2, NULL);
    float *arena = net->arena, *params = net->params, *grads = net->grads;
    float *m = opt->m, *v = opt->v;
    size_t floats = net->arena_floats;
    ck_assert_ptr_nonnull(arena);
    train(net, opt, &d, 32, UNDER_VALGRIND() ? 4 : 48, NULL); /* to step 50 */
    ck_assert_ptr_eq(net->arena, arena);
    ck_assert_uint_eq(net->arena_floats, floats);
    ck_assert_ptr_eq(net->params, params);
    ck_assert_ptr_eq(net->grads, grads);
    ck_assert_ptr_eq(opt->m, m);
    ck_assert_ptr_eq(opt->v, v);
    /* a smaller batch (the last of an epoch) and back: the arena stays */
    train(net, opt, &d, 17, 3, NULL);
    ck_assert_int_eq(net->plan_n, 17);
    ck_assert_ptr_eq(net->arena, arena);
    ck_assert_uint_eq(net->arena_floats, floats);
    train(net, opt, &d, 32, 3, NULL);
    ck_assert_ptr_eq(net->arena, arena);
    ck_assert_uint_eq(net->arena_floats, floats);
    /* inference on a batch no larger reuses it too */
    dataset half = d;
    half.n = 32;
    ck_assert_double_gt(accuracy(net, &half), 0.0);
    ck_assert_ptr_eq(net->arena, arena);
    ck_assert_uint_eq(net->arena_floats, floats);
    ck_assert_ptr_eq(net->params, params);
    /* a larger batch must grow it (the check above can fail) */
    train(net, opt, &d, 48, 1, NULL);
    ck_assert_uint_gt(net->arena_floats, floats);
    sc_optimizer_free(opt);
    sc_net_free(net);
    dataset_free(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("learn");
    TCase *tc = tcase_create("learn");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_learns, 0, (int)(sizeof cfgs / sizeof cfgs[0]));
    tcase_add_loop_test(tc, test_reproducible, 0, 5);
    tcase_add_test(tc, test_threads_match);
    suite_add_tcase(s, tc);
    TCase *ta = tcase_create("alloc");
    tcase_set_timeout(ta, 60);
    tcase_add_loop_test(ta, test_no_allocation_in_steady_state, 0, 2);
    suite_add_tcase(s, ta);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
