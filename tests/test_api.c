/* test_api.c -- the public API's error contract: every function given NULL,
 * wrong shapes, bad sizes, non-finite data, bad labels, unknown enums and
 * wrong states returns the matching sc_status with a message, and leaves
 * its objects as they were and usable. Also versions and status strings. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net.h"
#include "util/testutil.h"

/* ------------------------------------------------------------ fixture */

#define FN 6 /* batch */
#define CLASSES 3

/* A trained-a-little conv net with an optimizer, a valid batch and a
 * snapshot of everything a failed call must not change. */
typedef struct fixture {
    sc_net *net;
    sc_optimizer *opt;
    sc_tensor *x, *out;
    float xdata[FN * 2 * 5 * 5];
    int32_t labels[FN];
    float *params;
    size_t np;
    float *state;
    float eval_out[FN * CLASSES];
    uint64_t steps;
    int bn, dense, conv;
} fixture;

static fixture F;

static void eval_forward(float *dst)
{
    TU_OK(sc_net_set_training(F.net, 0));
    TU_OK(sc_net_forward(F.net, F.x, F.out));
    TU_OK(sc_net_set_training(F.net, 1));
    TU_OK(sc_tensor_copy_to(F.out, dst, FN * CLASSES));
}

static void snapshot(void)
{
    free(F.params);
    F.params = tu_params(F.net, &F.np);
    free(F.state);
    F.state = malloc(F.net->n_state * sizeof *F.state);
    memcpy(F.state, F.net->state, F.net->n_state * sizeof *F.state);
    eval_forward(F.eval_out);
    F.steps = sc_optimizer_steps(F.opt);
}

/* After a failed call: nothing changed, and the net still trains. */
static void assert_intact(const char *what)
{
    ck_assert_msg(tu_params_equal(F.net, F.params, F.np), "%s: params changed",
                  what);
    ck_assert_msg(memcmp(F.state, F.net->state, F.net->n_state * sizeof *F.state) == 0,
                  "%s: running statistics changed", what);
    ck_assert_uint_eq(sc_optimizer_steps(F.opt), F.steps);
    float now[FN * CLASSES];
    eval_forward(now);
    ck_assert_msg(memcmp(now, F.eval_out, sizeof now) == 0,
                  "%s: eval outputs changed", what);
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(F.net, F.opt, F.x, F.labels, &st));
    ck_assert(isfinite(st.loss) && st.loss > 0.0);
    ck_assert_msg(!tu_params_equal(F.net, F.params, F.np),
                  "%s: a valid step changed no parameter", what);
    ck_assert_msg(memcmp(F.state, F.net->state, F.net->n_state * sizeof *F.state) != 0,
                  "%s: a valid step changed no running statistic", what);
    snapshot();
}

static void setup(void)
{
    memset(&F, 0, sizeof F);
    int id;
    TU_OK(sc_net_create(&F.net, 2, 5, 5));
    TU_OK(sc_net_conv2d(F.net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &F.conv));
    TU_OK(sc_net_batchnorm(F.net, F.conv, SC_BN_AFFINE, &F.bn));
    TU_OK(sc_net_relu(F.net, F.bn, &id));
    TU_OK(sc_net_maxpool(F.net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(F.net, id, &id));
    TU_OK(sc_net_dense(F.net, id, CLASSES, SC_BIAS, &F.dense));
    TU_OK(sc_net_init(F.net, 17));
    TU_OK(sc_optimizer_create(&F.opt, F.net, SC_OPT_SGD));
    tu_lcg r;
    tu_lcg_seed(&r, 4);
    tu_fill(&r, F.xdata, sizeof F.xdata / sizeof F.xdata[0], -1.0, 1.0);
    tu_labels(&r, F.labels, FN, CLASSES);
    int64_t shape[4] = {FN, 2, 5, 5}, oshape[2] = {FN, CLASSES};
    TU_OK(sc_tensor_wrap(&F.x, 4, shape, F.xdata));
    TU_OK(sc_tensor_create(&F.out, 2, oshape));
    /* two steps so the running statistics are not the initial ones */
    TU_OK(sc_net_train_step(F.net, F.opt, F.x, F.labels, NULL));
    TU_OK(sc_net_train_step(F.net, F.opt, F.x, F.labels, NULL));
    snapshot();
}

static void teardown(void)
{
    sc_optimizer_free(F.opt);
    sc_net_free(F.net);
    sc_tensor_free(F.x);
    sc_tensor_free(F.out);
    free(F.params);
    free(F.state);
}

/* ------------------------------------------------------------ versions */

START_TEST(test_version)
{
    ck_assert_uint_eq(sc_version_number(), SC_VERSION_NUMBER);
    ck_assert_uint_eq(SC_VERSION_NUMBER, SC_VERSION_MAJOR * 10000u +
                                             SC_VERSION_MINOR * 100u +
                                             SC_VERSION_PATCH);
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", SC_VERSION_MAJOR, SC_VERSION_MINOR,
             SC_VERSION_PATCH);
    ck_assert_str_eq(sc_version_string(), want);
    const char *blas = sc_blas_info();
    ck_assert_ptr_nonnull(blas);
    ck_assert_uint_gt(strlen(blas), 0);
}
END_TEST

START_TEST(test_strerror)
{
    const char *seen[SC_ERR_UNSUPPORTED + 1];
    for (int s = SC_OK; s <= SC_ERR_UNSUPPORTED; s++) {
        seen[s] = sc_strerror((sc_status)s);
        ck_assert_ptr_nonnull(seen[s]);
        ck_assert_uint_gt(strlen(seen[s]), 3);
        for (int t = 0; t < s; t++)
            ck_assert_str_ne(seen[s], seen[t]);
    }
    const int unknown[] = {-1, SC_ERR_UNSUPPORTED + 1, 1000, -1000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *u = sc_strerror((sc_status)unknown[i]);
        ck_assert_ptr_nonnull(u);
        ck_assert_uint_gt(strlen(u), 0);
        for (int s = SC_OK; s <= SC_ERR_UNSUPPORTED; s++)
            ck_assert_str_ne(u, seen[s]);
    }
}
END_TEST

static void *other_thread(void *arg)
{
    (void)arg;
    /* a fresh thread has no message, and its failures stay its own */
    int fresh = sc_last_error()[0] == '\0';
    sc_net *net = NULL;
    sc_status st = sc_net_create(&net, 0, 1, 1);
    int own = st == SC_ERR_SHAPE && strstr(sc_last_error(), "sc_net_create");
    return (void *)(intptr_t)(fresh && own);
}

START_TEST(test_last_error_per_thread)
{
    TU_FAILS(sc_net_set_threads(NULL, 1), SC_ERR_NULL);
    char mine[512];
    snprintf(mine, sizeof mine, "%s", sc_last_error());
    ck_assert_ptr_nonnull(strstr(mine, "sc_net_set_threads"));
    pthread_t t;
    void *ok = NULL;
    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(t, &ok), 0);
    ck_assert_msg(ok != NULL, "the other thread saw a stale or no message");
    ck_assert_str_eq(sc_last_error(), mine);
}
END_TEST

START_TEST(test_destructors_take_null)
{
    sc_net_free(NULL);
    sc_optimizer_free(NULL);
    sc_tensor_free(NULL);
    /* either order of freeing a net and its optimizer */
    sc_net *net = NULL;
    sc_optimizer *opt = NULL;
    int id;
    for (int order = 0; order < 2; order++) {
        TU_OK(sc_net_create(&net, 1, 1, 2));
        TU_OK(sc_net_dense(net, SC_INPUT, 2, SC_BIAS, &id));
        TU_OK(sc_net_init(net, 1));
        TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
        if (order) {
            sc_net_free(net);
            sc_optimizer_free(opt);
        } else {
            sc_optimizer_free(opt);
            sc_net_free(net);
        }
    }
}
END_TEST

/* ------------------------------------------------------------ building */

START_TEST(test_create_errors)
{
    sc_net *net = (sc_net *)(uintptr_t)0x1;
    TU_FAILS(sc_net_create(NULL, 1, 1, 1), SC_ERR_NULL);
    TU_FAILS(sc_net_create(&net, 0, 1, 1), SC_ERR_SHAPE);
    TU_FAILS(sc_net_create(&net, 1, -1, 1), SC_ERR_SHAPE);
    TU_FAILS(sc_net_create(&net, 1, 1, 0), SC_ERR_SHAPE);
    TU_FAILS(sc_net_create(&net, 1 << 20, 1 << 10, 1 << 10), SC_ERR_SHAPE);
    ck_assert_ptr_eq(net, (sc_net *)(uintptr_t)0x1);
}
END_TEST

START_TEST(test_builder_errors)
{
    sc_net *net = NULL;
    int id = -77, conv;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 0, SC_BIAS, &conv)); /* 4x4x4 */
    int count = sc_net_layer_count(net);
    ck_assert_int_eq(count, 2);

    /* NULLs */
    TU_FAILS(sc_net_dense(NULL, SC_INPUT, 3, SC_BIAS, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_dense(net, SC_INPUT, 3, SC_BIAS, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_conv2d(NULL, SC_INPUT, 3, 3, 3, 1, 1, 0, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, 0, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_batchnorm(NULL, conv, 0, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_batchnorm(net, conv, 0, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_relu(NULL, conv, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_relu(net, conv, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_maxpool(NULL, conv, 2, 2, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_maxpool(net, conv, 2, 2, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_global_avgpool(NULL, conv, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_global_avgpool(net, conv, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_global_maxpool(NULL, conv, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_global_maxpool(net, conv, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_flatten(NULL, conv, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_flatten(net, conv, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_add(NULL, conv, conv, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_add(net, conv, conv, NULL), SC_ERR_NULL);

    /* input ids that do not exist */
    const int bad_ids[] = {-1, SC_ALL_LAYERS, -100, 2, 1000};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        int b = bad_ids[i];
        TU_FAILS(sc_net_dense(net, b, 3, 0, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_conv2d(net, b, 3, 1, 1, 1, 0, 0, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_batchnorm(net, b, 0, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_relu(net, b, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_maxpool(net, b, 2, 2, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_global_avgpool(net, b, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_global_maxpool(net, b, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_flatten(net, b, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_add(net, conv, b, &id), SC_ERR_ARG);
        TU_FAILS(sc_net_add(net, b, conv, &id), SC_ERR_ARG);
    }
    /* sizes and flags */
    TU_FAILS(sc_net_dense(net, conv, 0, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_dense(net, conv, -3, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_dense(net, conv, 3, SC_BN_AFFINE, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_dense(net, conv, 3, 64, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 0, 3, 3, 1, 0, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 0, 3, 1, 0, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 3, -1, 1, 0, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 3, 3, 0, 0, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 3, 3, -2, 0, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 3, 3, 1, -1, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 3, 3, 1, 0, SC_BN_BATCH_STATS, &id),
             SC_ERR_ARG);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 5, 5, 1, 0, 0, &id), SC_ERR_SHAPE);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 1, 7, 1, 1, 0, &id), SC_ERR_SHAPE);
    TU_FAILS(sc_net_batchnorm(net, conv, SC_BIAS, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_batchnorm(net, conv, 8, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_maxpool(net, conv, 0, 1, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_maxpool(net, conv, 2, 0, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_maxpool(net, conv, -2, 2, &id), SC_ERR_ARG);
    TU_FAILS(sc_net_maxpool(net, conv, 5, 1, &id), SC_ERR_SHAPE);
    TU_FAILS(sc_net_add(net, SC_INPUT, conv, &id), SC_ERR_SHAPE);
    /* none of that added a layer or touched id */
    ck_assert_int_eq(sc_net_layer_count(net), count);
    ck_assert_int_eq(id, -77);

    /* the net is still buildable and trains */
    int bn, f;
    TU_OK(sc_net_batchnorm(net, conv, SC_BN_AFFINE | SC_BN_BATCH_STATS, &bn));
    TU_OK(sc_net_add(net, conv, bn, &id));
    TU_OK(sc_net_flatten(net, id, &f));
    TU_OK(sc_net_dense(net, f, 2, SC_BIAS, &id));
    ck_assert_int_eq(id, count + 3);
    TU_OK(sc_net_init(net, 3));
    /* layers after init, a second init */
    TU_FAILS(sc_net_relu(net, id, &id), SC_ERR_STATE);
    TU_FAILS(sc_net_dense(net, id, 2, 0, &id), SC_ERR_STATE);
    TU_FAILS(sc_net_conv2d(net, conv, 2, 1, 1, 1, 0, 0, &id), SC_ERR_STATE);
    TU_FAILS(sc_net_add(net, conv, conv, &id), SC_ERR_STATE);
    TU_FAILS(sc_net_init(net, 3), SC_ERR_STATE);
    ck_assert_int_eq(sc_net_layer_count(net), count + 4);
    sc_optimizer *opt = NULL;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    float x[3 * 72] = {0};
    for (int i = 0; i < 3 * 72; i++)
        x[i] = (float)((i * 7) % 11) / 11.0f;
    int64_t shape[4] = {3, 2, 6, 6};
    int32_t labels[3] = {0, 1, 1};
    sc_tensor *t = NULL;
    TU_OK(sc_tensor_wrap(&t, 4, shape, x));
    TU_OK(sc_net_train_step(net, opt, t, labels, NULL));
    sc_tensor_free(t);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* sc_net_add_layer: the descriptor is checked against its kind; the
 * shorthands are the same builder. */
START_TEST(test_add_layer)
{
    sc_net *net;
    int id = -77, conv, in = SC_INPUT;
    TU_OK(sc_net_create(&net, 2, 1, 12)); /* a 1 x T input */
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = 4;
    d.kernel_h = 1;
    d.kernel_w = 5;
    d.pad_w = 2;
    d.flags = SC_BIAS;
    TU_FAILS(sc_net_add_layer(NULL, &d, &in, 1, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_add_layer(net, NULL, &in, 1, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_add_layer(net, &d, NULL, 1, &id), SC_ERR_NULL);
    TU_FAILS(sc_net_add_layer(net, &d, &in, 1, NULL), SC_ERR_NULL);
    /* a padded 1 x 5 kernel over 1 x 12 stays 1 x 12 */
    TU_OK(sc_net_add_layer(net, &d, &in, 1, &conv));
    int c, h, w;
    TU_OK(sc_net_layer_shape(net, conv, &c, &h, &w));
    ck_assert(c == 4 && h == 1 && w == 12);
    /* it reads back with the strides made explicit */
    sc_layer_desc back = SC_LAYER_DESC_INIT(SC_LAYER_INPUT);
    int ins[SC_MAX_LAYER_INPUTS], n_in = -1;
    TU_OK(sc_net_layer_desc(net, conv, &back, ins, &n_in));
    ck_assert(back.kind == SC_LAYER_CONV2D && back.channels == 4 &&
              back.kernel_h == 1 && back.kernel_w == 5 && back.stride_h == 1 &&
              back.stride_w == 1 && back.pad_h == 0 && back.pad_w == 2 &&
              back.groups == 1 && back.flags == SC_BIAS && back.alpha == 0.0f);
    ck_assert(n_in == 1 && ins[0] == SC_INPUT);
    TU_FAILS(sc_net_layer_desc(net, SC_INPUT, &back, NULL, NULL), SC_ERR_ARG);
    TU_FAILS(sc_net_layer_desc(net, 2, &back, NULL, NULL), SC_ERR_ARG);
    TU_FAILS(sc_net_layer_desc(net, conv, NULL, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_layer_desc(NULL, conv, &back, NULL, NULL), SC_ERR_NULL);
    back.size = 0;
    TU_FAILS(sc_net_layer_desc(net, conv, &back, NULL, NULL), SC_ERR_ARG);
    back.size = sizeof back;

    /* pools over the 1 x 12 map: a 1 x 3 window padded 0 x 1 stays 1 x 12;
     * a pad is at most half its window (SC_ERR_ARG), a window at most the
     * padded input (SC_ERR_SHAPE) */
    for (int avg = 0; avg <= 1; avg++) {
        sc_layer_desc p = SC_LAYER_DESC_INIT(avg ? SC_LAYER_AVGPOOL : SC_LAYER_MAXPOOL);
        p.kernel_h = 1;
        p.kernel_w = 3;
        p.pad_w = 1;
        p.flags = avg ? SC_POOL_COUNT_PAD : 0;
        int pid, n0 = sc_net_layer_count(net);
        TU_OK(sc_net_add_layer(net, &p, &conv, 1, &pid));
        TU_OK(sc_net_layer_shape(net, pid, &c, &h, &w));
        ck_assert(c == 4 && h == 1 && w == 12);
        p.stride_w = 2; /* (12 + 2 - 3) / 2 + 1 */
        TU_OK(sc_net_add_layer(net, &p, &conv, 1, &pid));
        TU_OK(sc_net_layer_shape(net, pid, &c, &h, &w));
        ck_assert(c == 4 && h == 1 && w == 6);
        p.kernel_h = 3; /* padded by 1 to height 3: one row of windows */
        p.pad_h = 1;
        TU_OK(sc_net_add_layer(net, &p, &conv, 1, &pid));
        TU_OK(sc_net_layer_shape(net, pid, &c, &h, &w));
        ck_assert(c == 4 && h == 1 && w == 6);
        n0 = sc_net_layer_count(net);
        p.kernel_h = 1; /* pad 1 is more than half of 1 */
        TU_FAILS(sc_net_add_layer(net, &p, &conv, 1, &id), SC_ERR_ARG);
        p.pad_h = 0;
        p.pad_w = 2; /* more than half of 3 */
        TU_FAILS(sc_net_add_layer(net, &p, &conv, 1, &id), SC_ERR_ARG);
        p.kernel_w = 5; /* half of 5 is 2 */
        TU_OK(sc_net_add_layer(net, &p, &conv, 1, &pid));
        n0++;
        p.kernel_h = 2; /* taller than the unpadded height 1 */
        TU_FAILS(sc_net_add_layer(net, &p, &conv, 1, &id), SC_ERR_SHAPE);
        p.kernel_h = 1;
        p.kernel_w = 17; /* 12 + 2 pad 2 = 16 < 17 */
        TU_FAILS(sc_net_add_layer(net, &p, &conv, 1, &id), SC_ERR_SHAPE);
        ck_assert_int_eq(sc_net_layer_count(net), n0);
        ck_assert_int_eq(id, -77);
    }

    /* refused: every field a kind does not take, out of range, the wrong
     * input count, kinds that are not layers, bad sizes */
    int count = sc_net_layer_count(net), two[2] = {conv, conv};
    struct { sc_layer_kind kind; int field, value, n_in; float alpha; } bad[] = {
        {SC_LAYER_RELU, 0, 3, 1, 0},   /* channels */
        {SC_LAYER_RELU, 1, 1, 1, 0},   /* kernel */
        {SC_LAYER_RELU, 3, 1, 1, 0},   /* stride */
        {SC_LAYER_RELU, 5, 1, 1, 0},   /* pad */
        {SC_LAYER_RELU, 7, 1, 1, 0},   /* groups */
        {SC_LAYER_RELU, 8, SC_BIAS, 1, 0},
        {SC_LAYER_RELU, -1, 0, 1, 0.5f},
        {SC_LAYER_DENSE, 1, 1, 1, 0},  /* a dense takes channels only */
        {SC_LAYER_DENSE, 0, 0, 1, 0},  /* and needs them */
        {SC_LAYER_DENSE, 0, (1 << 24) + 1, 1, 0},
        {SC_LAYER_BATCHNORM, 0, 4, 1, 0},
        {SC_LAYER_BATCHNORM, 8, SC_POOL_COUNT_PAD, 1, 0},
        {SC_LAYER_MAXPOOL, 0, 4, 1, 0},
        {SC_LAYER_MAXPOOL, 1, 0, 1, 0},  /* kernel 0 */
        {SC_LAYER_MAXPOOL, 2, 65, 1, 0}, /* kernel 65 */
        {SC_LAYER_MAXPOOL, 3, -1, 1, 0},
        {SC_LAYER_MAXPOOL, 4, 65, 1, 0},
        {SC_LAYER_MAXPOOL, 6, 65, 1, 0},
        {SC_LAYER_MAXPOOL, 5, -1, 1, 0},
        {SC_LAYER_MAXPOOL, 8, SC_POOL_COUNT_PAD, 1, 0},
        {SC_LAYER_AVGPOOL, 0, 4, 1, 0},
        {SC_LAYER_AVGPOOL, 1, 0, 1, 0},
        {SC_LAYER_AVGPOOL, 4, 65, 1, 0},
        {SC_LAYER_AVGPOOL, 6, -1, 1, 0},
        {SC_LAYER_AVGPOOL, 7, 2, 1, 0},
        {SC_LAYER_AVGPOOL, 8, SC_BIAS, 1, 0},
        {SC_LAYER_AVGPOOL, -1, 0, 2, 0},
        {SC_LAYER_RELU, -1, 0, 0, 0},  /* inputs */
        {SC_LAYER_RELU, -1, 0, 2, 0},
        {SC_LAYER_RELU, -1, 0, -1, 0},
        {SC_LAYER_ADD, -1, 0, 1, 0},
        {SC_LAYER_ADD, -1, 0, 3, 0},
        {SC_LAYER_CONCAT, -1, 0, 1, 0},
        {SC_LAYER_CONCAT, -1, 0, SC_MAX_LAYER_INPUTS + 1, 0},
        {SC_LAYER_CONCAT, 0, 4, 2, 0},
        {SC_LAYER_INPUT, -1, 0, 1, 0},
        {(sc_layer_kind)-1, -1, 0, 1, 0},
        {(sc_layer_kind)SC_LAYER_KIND_COUNT, -1, 0, 1, 0},
        {SC_LAYER_LEAKY_RELU, -1, 0, 1, -0.01f}, /* alpha in [0, 1) */
        {SC_LAYER_LEAKY_RELU, -1, 0, 1, 1.0f},
        {SC_LAYER_LEAKY_RELU, -1, 0, 1, INFINITY},
        {SC_LAYER_LEAKY_RELU, -1, 0, 1, -INFINITY},
        {SC_LAYER_LEAKY_RELU, 0, 3, 1, 0.1f},
        {SC_LAYER_LEAKY_RELU, -1, 0, 2, 0.1f},
        {SC_LAYER_RELU6, -1, 0, 1, 0.5f}, /* the others take no alpha */
        {SC_LAYER_SIGMOID, -1, 0, 1, 0.5f},
        {SC_LAYER_TANH, -1, 0, 1, 0.5f},
        {SC_LAYER_HARDSWISH, -1, 0, 1, 0.5f},
        {SC_LAYER_HARDSWISH, 1, 1, 1, 0},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        sc_layer_desc b = SC_LAYER_DESC_INIT(bad[k].kind);
        if (bad[k].kind == SC_LAYER_MAXPOOL || bad[k].kind == SC_LAYER_AVGPOOL)
            b.kernel_h = b.kernel_w = 1;
        if (bad[k].kind == SC_LAYER_DENSE)
            b.channels = 3;
        int *f[9] = {&b.channels, &b.kernel_h, &b.kernel_w, &b.stride_h,
                     &b.stride_w, &b.pad_h, &b.pad_w, &b.groups, &b.flags};
        if (bad[k].field >= 0)
            *f[bad[k].field] = bad[k].value;
        b.alpha = bad[k].alpha;
        int three[SC_MAX_LAYER_INPUTS + 1] = {conv, conv, conv};
        tu_clear_error();
        sc_status st = sc_net_add_layer(net, &b, bad[k].n_in > 1 ? three : two,
                                        bad[k].n_in, &id);
        ck_assert_msg(st == SC_ERR_ARG, "case %zu: %d (%s)", k, (int)st,
                      sc_last_error());
    }
    sc_layer_desc r = SC_LAYER_DESC_INIT(SC_LAYER_RELU);
    r.alpha = NAN;
    TU_FAILS(sc_net_add_layer(net, &r, &conv, 1, &id), SC_ERR_ARG);
    r = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_LEAKY_RELU);
    r.alpha = NAN;
    TU_FAILS(sc_net_add_layer(net, &r, &conv, 1, &id), SC_ERR_ARG);
    r = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_RELU);
    r.size = 0;
    TU_FAILS(sc_net_add_layer(net, &r, &conv, 1, &id), SC_ERR_ARG);
    r.size = 4097;
    TU_FAILS(sc_net_add_layer(net, &r, &conv, 1, &id), SC_ERR_ARG);
    /* concat needs maps of one size (a 1 x 12 and a 1 x 6 here) */
    sc_layer_desc s2 = d;
    s2.stride_w = 2;
    int half;
    TU_OK(sc_net_add_layer(net, &s2, &conv, 1, &half));
    count++;
    sc_layer_desc cd = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    TU_FAILS(sc_net_add_layer(net, &cd, (int[]){conv, half}, 2, &id), SC_ERR_SHAPE);
    /* groups must divide both channel counts (conv has 4 channels) */
    sc_layer_desc gd = d;
    gd.groups = 3;
    TU_FAILS(sc_net_add_layer(net, &gd, &conv, 1, &id), SC_ERR_SHAPE);
    gd.groups = 2;
    gd.channels = 5;
    TU_FAILS(sc_net_add_layer(net, &gd, &conv, 1, &id), SC_ERR_SHAPE);
    gd.groups = -1;
    TU_FAILS(sc_net_add_layer(net, &gd, &conv, 1, &id), SC_ERR_ARG);
    ck_assert_int_eq(sc_net_layer_count(net), count);
    ck_assert_int_eq(id, -77);

    /* an older caller's shorter struct: the fields past its size are 0 */
    d.size = offsetof(sc_layer_desc, flags);
    d.flags = 0x7fff; /* not read */
    TU_OK(sc_net_add_layer(net, &d, &conv, 1, &id));
    ck_assert_int_eq(sc_net_layer_count(net), count + 1);
    TU_OK(sc_net_layer_desc(net, id, &back, NULL, NULL));
    ck_assert_int_eq(back.flags, 0);
    /* add through the descriptor: two inputs, reported in order */
    sc_layer_desc a = SC_LAYER_DESC_INIT(SC_LAYER_ADD);
    two[1] = id;
    TU_OK(sc_net_add_layer(net, &a, two, 2, &id));
    TU_OK(sc_net_layer_desc(net, id, &back, ins, &n_in));
    ck_assert(n_in == 2 && ins[0] == conv && ins[1] == two[1]);
    /* leaky relu's alpha: 0 (a relu) and just below 1 taken, read back */
    static const float alphas[] = {0.0f, 0.01f, 0.999f};
    for (int k = 0; k < 3; k++) {
        sc_layer_desc l = SC_LAYER_DESC_INIT(SC_LAYER_LEAKY_RELU);
        l.alpha = alphas[k];
        TU_OK(sc_net_add_layer(net, &l, &conv, 1, &id));
        TU_OK(sc_net_layer_desc(net, id, &back, NULL, NULL));
        ck_assert(back.kind == SC_LAYER_LEAKY_RELU && back.alpha == alphas[k]);
    }
    sc_net_free(net);
}
END_TEST

/* Dropout: its p is checked; train steps drop, reproducibly from the seed
 * and the step count; sc_net_forward does not. */
static sc_net *dropout_net(float p)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_DROPOUT);
    d.alpha = p;
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 8));
    return net;
}

START_TEST(test_dropout_steps)
{
    sc_net *bad;
    int id;
    TU_OK(sc_net_create(&bad, 2, 6, 6));
    const float ps[] = {-0.1f, 1.0f, 1.5f, NAN};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_DROPOUT);
        d.alpha = ps[k];
        TU_FAILS(sc_net_add_layer(bad, &d, &(int){SC_INPUT}, 1, &id), SC_ERR_ARG);
    }
    sc_net_free(bad);

    tu_batch b = tu_batch_make(8, 2, 6, 6, 3, 4);
    float *p[3];
    for (int k = 0; k < 3; k++) {
        sc_net *net = dropout_net(k == 2 ? 0.0f : 0.5f);
        /* sc_net_forward in training mode: the identity */
        if (k == 0) {
            sc_net *plain = dropout_net(0.0f);
            TU_OK(sc_net_set_training(net, 1));
            TU_OK(sc_net_set_training(plain, 1));
            size_t m = (size_t)b.n * 3;
            float *a = tu_eval_out(net, &b), *c = tu_eval_out(plain, &b);
            ck_assert(memcmp(a, c, m * sizeof *a) == 0);
            free(a);
            free(c);
            sc_net_free(plain);
        }
        sc_optimizer *opt;
        TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
        for (int s = 0; s < 3; s++)
            TU_OK(sc_net_train_step(net, opt, b.x, b.labels, NULL));
        size_t np;
        p[k] = tu_params(net, &np);
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
    size_t np = 0;
    sc_net *net = dropout_net(0.5f);
    np = sc_net_param_count(net);
    sc_net_free(net);
    /* the same run twice: the same parameters; without dropout, others */
    ck_assert(memcmp(p[0], p[1], np * sizeof(float)) == 0);
    ck_assert(memcmp(p[0], p[2], np * sizeof(float)) != 0);
    for (int k = 0; k < 3; k++)
        free(p[k]);
    tu_batch_free(&b);
}
END_TEST

/* Per-layer parameters by slot, in PyTorch's layouts: shapes, values that
 * compute what the formulas say, errors that change nothing. */
START_TEST(test_layer_params)
{
    sc_net *net;
    int conv, bn, relu, flat, dense;
    TU_OK(sc_net_create(&net, 2, 3, 3));
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = 4;
    d.kernel_h = 3;
    d.kernel_w = 1;
    d.pad_h = 1;
    d.groups = 2;
    d.flags = SC_BIAS;
    TU_OK(sc_net_add_layer(net, &d, &(int){SC_INPUT}, 1, &conv));
    TU_OK(sc_net_batchnorm(net, conv, SC_BN_AFFINE, &bn));
    TU_OK(sc_net_relu(net, bn, &relu));
    TU_OK(sc_net_flatten(net, relu, &flat));
    TU_OK(sc_net_dense(net, flat, 5, SC_NO_BIAS, &dense));
    int64_t shape[4];
    int ndim;
    TU_FAILS(sc_net_layer_param_shape(net, conv, SC_SLOT_WEIGHT, shape, &ndim),
             SC_ERR_STATE);
    TU_OK(sc_net_init(net, 3));
    TU_OK(sc_net_layer_param_shape(net, conv, SC_SLOT_WEIGHT, shape, &ndim));
    ck_assert(ndim == 4 && shape[0] == 4 && shape[1] == 1 && shape[2] == 3 &&
              shape[3] == 1);
    TU_OK(sc_net_layer_param_shape(net, dense, SC_SLOT_WEIGHT, shape, &ndim));
    ck_assert(ndim == 2 && shape[0] == 5 && shape[1] == 4 * 3 * 3);
    TU_OK(sc_net_layer_param_shape(net, bn, SC_SLOT_RUNNING_VAR, shape, &ndim));
    ck_assert(ndim == 1 && shape[0] == 4);
    /* slots a layer has not */
    TU_FAILS(sc_net_layer_param_shape(net, relu, SC_SLOT_WEIGHT, shape, &ndim), SC_ERR_ARG);
    TU_FAILS(sc_net_layer_param_shape(net, dense, SC_SLOT_BIAS, shape, &ndim), SC_ERR_ARG);
    ck_assert(strstr(sc_last_error(), "dense"));
    TU_FAILS(sc_net_layer_param_shape(net, conv, SC_SLOT_RUNNING_MEAN, shape, &ndim), SC_ERR_ARG);
    TU_FAILS(sc_net_layer_param_shape(net, conv, (sc_layer_slot)6, shape, &ndim), SC_ERR_ARG);
    TU_FAILS(sc_net_layer_param_shape(net, 0, SC_SLOT_WEIGHT, shape, &ndim), SC_ERR_ARG);
    TU_FAILS(sc_net_layer_param_shape(net, 99, SC_SLOT_WEIGHT, shape, &ndim), SC_ERR_ARG);

    /* set, then the eval forward computes the formulas */
    float w[4 * 3], b[4], g[4], beta[4], mean[4], var[4], wd[5 * 36];
    for (int i = 0; i < 12; i++)
        w[i] = 0.25f * (float)(i % 5) - 0.5f;
    for (int c = 0; c < 4; c++) {
        b[c] = 0.1f * (float)c;
        g[c] = 1.0f + 0.5f * (float)c;
        beta[c] = -0.2f * (float)c;
        mean[c] = 0.05f * (float)c;
        var[c] = 0.5f + (float)c;
    }
    for (int i = 0; i < 5 * 36; i++)
        wd[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    TU_OK(sc_net_set_layer_param(net, conv, SC_SLOT_WEIGHT, w, 12));
    TU_OK(sc_net_set_layer_param(net, conv, SC_SLOT_BIAS, b, 4));
    TU_OK(sc_net_set_layer_param(net, bn, SC_SLOT_NORM_SCALE, g, 4));
    TU_OK(sc_net_set_layer_param(net, bn, SC_SLOT_NORM_SHIFT, beta, 4));
    TU_OK(sc_net_set_layer_param(net, bn, SC_SLOT_RUNNING_MEAN, mean, 4));
    TU_OK(sc_net_set_layer_param(net, bn, SC_SLOT_RUNNING_VAR, var, 4));
    TU_OK(sc_net_set_layer_param(net, dense, SC_SLOT_WEIGHT, wd, 5 * 36));
    float back[5 * 36];
    TU_OK(sc_net_get_layer_param(net, dense, SC_SLOT_WEIGHT, back, 5 * 36));
    ck_assert(memcmp(back, wd, sizeof wd) == 0);
    TU_OK(sc_net_get_layer_param(net, bn, SC_SLOT_RUNNING_VAR, back, 4));
    ck_assert(memcmp(back, var, sizeof var) == 0);
    float x[18], want[5] = {0};
    for (int i = 0; i < 18; i++)
        x[i] = (float)i / 9.0f - 1.0f;
    float feat[36];
    for (int o = 0; o < 4; o++) {
        int ci = o / 2; /* group of o: input channel o / 2 */
        for (int y = 0; y < 3; y++)
            for (int xx = 0; xx < 3; xx++) {
                double acc = b[o];
                for (int i = 0; i < 3; i++) {
                    int iy = y + i - 1;
                    if (iy >= 0 && iy < 3)
                        acc += (double)w[o * 3 + i] * x[(ci * 3 + iy) * 3 + xx];
                }
                double z = (acc - mean[o]) / sqrt(var[o] + 1e-5) * g[o] + beta[o];
                feat[(o * 3 + y) * 3 + xx] = (float)(z > 0 ? z : 0);
            }
    }
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 36; i++)
            want[k] += wd[k * 36 + i] * feat[i];
    int64_t xs[4] = {1, 2, 3, 3}, ys[2] = {1, 5};
    float y[5];
    sc_tensor *tx, *ty;
    TU_OK(sc_tensor_wrap(&tx, 4, xs, x));
    TU_OK(sc_tensor_wrap(&ty, 2, ys, y));
    TU_OK(sc_net_set_training(net, 0));
    TU_OK(sc_net_forward(net, tx, ty));
    for (int k = 0; k < 5; k++)
        ck_assert_msg(fabsf(y[k] - want[k]) <= 1e-5f * (1.0f + fabsf(want[k])),
                      "logit %d: %g, want %g", k, y[k], want[k]);
    sc_tensor_free(tx);
    sc_tensor_free(ty);

    /* errors change nothing */
    float bad[4] = {1, 2, NAN, 4};
    TU_FAILS(sc_net_set_layer_param(net, bn, SC_SLOT_NORM_SCALE, bad, 4), SC_ERR_NONFINITE);
    bad[2] = -1.0f;
    TU_FAILS(sc_net_set_layer_param(net, bn, SC_SLOT_RUNNING_VAR, bad, 4), SC_ERR_ARG);
    TU_FAILS(sc_net_set_layer_param(net, bn, SC_SLOT_RUNNING_VAR, var, 3), SC_ERR_SHAPE);
    TU_FAILS(sc_net_get_layer_param(net, bn, SC_SLOT_RUNNING_VAR, back, 5), SC_ERR_SHAPE);
    TU_FAILS(sc_net_set_layer_param(net, relu, SC_SLOT_WEIGHT, var, 4), SC_ERR_ARG);
    TU_FAILS(sc_net_set_layer_param(net, bn, SC_SLOT_RUNNING_VAR, NULL, 4), SC_ERR_NULL);
    TU_FAILS(sc_net_get_layer_param(NULL, bn, SC_SLOT_RUNNING_VAR, back, 4), SC_ERR_NULL);
    TU_OK(sc_net_get_layer_param(net, bn, SC_SLOT_RUNNING_VAR, back, 4));
    ck_assert(memcmp(back, var, sizeof var) == 0);
    TU_OK(sc_net_get_layer_param(net, bn, SC_SLOT_NORM_SCALE, back, 4));
    ck_assert(memcmp(back, g, sizeof g) == 0);
    sc_net_free(net);
}
END_TEST

START_TEST(test_init_errors)
{
    sc_net *net = NULL;
    TU_FAILS(sc_net_init(NULL, 1), SC_ERR_NULL);
    TU_OK(sc_net_create(&net, 1, 2, 2));
    TU_FAILS(sc_net_init(net, 1), SC_ERR_STATE); /* no layers */
    /* an uninitialised net refuses everything that needs parameters */
    sc_optimizer *opt = (sc_optimizer *)(uintptr_t)0x1;
    TU_FAILS(sc_optimizer_create(&opt, net, SC_OPT_SGD), SC_ERR_STATE);
    ck_assert_ptr_eq(opt, (sc_optimizer *)(uintptr_t)0x1);
    TU_FAILS(sc_net_quantize(net, SC_ALL_LAYERS), SC_ERR_STATE);
    sc_size_report rep = SC_SIZE_REPORT_INIT;
    TU_FAILS(sc_net_size_report(net, SC_ALL_LAYERS, &rep), SC_ERR_STATE);
    int id;
    TU_OK(sc_net_dense(net, SC_INPUT, 2, 0, &id));
    float xd[4] = {1, 2, 3, 4}, od[2];
    int64_t shape[4] = {1, 1, 2, 2}, oshape[2] = {1, 2};
    sc_tensor *x = NULL, *out = NULL;
    TU_OK(sc_tensor_wrap(&x, 4, shape, xd));
    TU_OK(sc_tensor_wrap(&out, 2, oshape, od));
    TU_FAILS(sc_net_forward(net, x, out), SC_ERR_STATE);
    ck_assert_uint_eq(sc_net_param_count(net), 0);
    TU_OK(sc_net_init(net, 1));
    TU_OK(sc_net_forward(net, x, out));
    sc_tensor_free(x);
    sc_tensor_free(out);
    sc_net_free(net);
}
END_TEST

START_TEST(test_queries)
{
    ck_assert_int_eq(sc_net_layer_count(NULL), 0);
    ck_assert_int_eq(sc_net_layer_kind(NULL, 0), -1);
    ck_assert_int_eq(sc_net_output_size(NULL), 0);
    ck_assert_uint_eq(sc_net_param_count(NULL), 0);
    ck_assert_int_eq(sc_net_is_quantized(NULL, 1), 0);
    ck_assert_int_eq(sc_net_layer_count(F.net), 7);
    const int kinds[7] = {SC_LAYER_INPUT,   SC_LAYER_CONV2D,  SC_LAYER_BATCHNORM,
                          SC_LAYER_RELU,    SC_LAYER_MAXPOOL, SC_LAYER_FLATTEN,
                          SC_LAYER_DENSE};
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(sc_net_layer_kind(F.net, i), kinds[i]);
    ck_assert_int_eq(sc_net_layer_kind(F.net, 7), -1);
    ck_assert_int_eq(sc_net_layer_kind(F.net, -1), -1);
    ck_assert_int_eq(sc_net_output_size(F.net), CLASSES);
    /* conv 3x3x3x2 + 3, bn 3 + 3, dense 3 x 12 + 3 */
    ck_assert_uint_eq(sc_net_param_count(F.net), 54 + 3 + 6 + 36 + 3);
    int c = -1, h = -1, w = -1;
    TU_OK(sc_net_layer_shape(F.net, 4, &c, &h, &w));
    ck_assert(c == 3 && h == 2 && w == 2);
    TU_OK(sc_net_layer_shape(F.net, 5, &c, NULL, NULL)); /* NULL outs ok */
    ck_assert_int_eq(c, 12);
    TU_FAILS(sc_net_layer_shape(NULL, 1, &c, &h, &w), SC_ERR_NULL);
    TU_FAILS(sc_net_layer_shape(F.net, 7, &c, &h, &w), SC_ERR_ARG);
    TU_FAILS(sc_net_layer_shape(F.net, -1, &c, &h, &w), SC_ERR_ARG);
    ck_assert_int_eq(c, 12);
    assert_intact("queries");
}
END_TEST

START_TEST(test_params_errors)
{
    size_t np = F.np;
    float *buf = malloc((np + 1) * sizeof *buf);
    memcpy(buf, F.params, np * sizeof *buf);
    TU_FAILS(sc_net_get_params(NULL, buf, np), SC_ERR_NULL);
    TU_FAILS(sc_net_get_params(F.net, NULL, np), SC_ERR_NULL);
    TU_FAILS(sc_net_get_params(F.net, buf, np - 1), SC_ERR_SHAPE);
    TU_FAILS(sc_net_get_params(F.net, buf, np + 1), SC_ERR_SHAPE);
    TU_FAILS(sc_net_get_params(F.net, buf, 0), SC_ERR_SHAPE);
    TU_FAILS(sc_net_set_params(NULL, buf, np), SC_ERR_NULL);
    TU_FAILS(sc_net_set_params(F.net, NULL, np), SC_ERR_NULL);
    TU_FAILS(sc_net_set_params(F.net, buf, np - 1), SC_ERR_SHAPE);
    TU_FAILS(sc_net_set_params(F.net, buf, np + 1), SC_ERR_SHAPE);
    for (size_t i = 0; i < np; i++)
        buf[i] = 0.5f; /* would change everything */
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const size_t where[3] = {0, np / 2, np - 1};
    for (int k = 0; k < 3; k++) {
        buf[where[k]] = bad[k];
        TU_FAILS(sc_net_set_params(F.net, buf, np), SC_ERR_NONFINITE);
        buf[where[k]] = 0.5f;
        assert_intact("set_params non-finite");
    }
    /* a valid round trip */
    TU_OK(sc_net_set_params(F.net, buf, np));
    float *got = tu_params(F.net, NULL);
    ck_assert(memcmp(got, buf, np * sizeof *got) == 0);
    free(got);
    free(buf);
}
END_TEST

START_TEST(test_settings_errors)
{
    const struct {
        sc_param p;
        double v;
    } bad[] = {
        {SC_PARAM_GAMMA, -0.1},          {SC_PARAM_GAMMA, NAN},
        {SC_PARAM_GAMMA, INFINITY},      {SC_PARAM_BN_MOMENTUM, -0.01},
        {SC_PARAM_BN_MOMENTUM, 1.01},    {SC_PARAM_BN_MOMENTUM, NAN},
        {SC_PARAM_BN_EPS, 0.0},          {SC_PARAM_BN_EPS, -1e-5},
        {SC_PARAM_BN_EPS, 1.0},          {SC_PARAM_BN_EPS, NAN},
        {SC_PARAM_QUANT_B0, -1.0},       {SC_PARAM_QUANT_B0, 33.0},
        {SC_PARAM_QUANT_B0, NAN},        {SC_PARAM_QUANT_E0, 65.0},
        {SC_PARAM_QUANT_E0, -65.0},      {SC_PARAM_QUANT_E0, INFINITY},
        {SC_PARAM_COMPRESS_EVERY, -1.0}, {SC_PARAM_COMPRESS_EVERY, 2.5},
        {SC_PARAM_COMPRESS_EVERY, NAN},  {SC_PARAM_COMPRESS_EVERY, 1e300},
        {SC_PARAM_CONV_ALGO, 2.0},       {SC_PARAM_CONV_ALGO, -1.0},
        {SC_PARAM_CONV_ALGO, 0.5},       {SC_PARAM_CONV_ALGO, NAN},
        {SC_PARAM_QUANT_B_MAX, 0.5},     {SC_PARAM_QUANT_B_MAX, 33.0},
        {SC_PARAM_QUANT_B_MAX, NAN},
        {(sc_param)12, 0.0},             {(sc_param)-1, 0.0},
        {(sc_param)100, 0.0},
    };
    enum { NPARAM = 12 };
    double before[NPARAM], v;
    for (int p = 0; p < NPARAM; p++)
        TU_OK(sc_net_get_param(F.net, (sc_param)p, &before[p]));
    ck_assert_double_eq(before[SC_PARAM_GAMMA], 0.0);
    ck_assert_double_eq(before[SC_PARAM_BN_MOMENTUM], 0.1);
    ck_assert_double_eq(before[SC_PARAM_BN_EPS], 1e-5);
    ck_assert_double_eq(before[SC_PARAM_QUANT_B0], 5.0);
    ck_assert(isnan(before[SC_PARAM_QUANT_E0]));
    ck_assert_double_eq(before[SC_PARAM_COMPRESS_EVERY], 0.0);
    ck_assert_double_eq(before[SC_PARAM_CONV_ALGO], SC_CONV_ALGO_AUTO);
    ck_assert_double_eq(before[SC_PARAM_QUANT_B_MAX], 8.0);
    ck_assert_double_eq(before[SC_PARAM_BUDGET_BITS_PCT], 0.0);
    ck_assert_double_eq(before[SC_PARAM_BUDGET_WEIGHTS_PCT], 0.0);
    ck_assert_double_eq(before[SC_PARAM_BUDGET_EVERY], 20.0);
    ck_assert_double_eq(before[SC_PARAM_QUANT_BITS_FROZEN], 0.0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TU_FAILS(sc_net_set_param(F.net, bad[i].p, bad[i].v), SC_ERR_ARG);
        for (int p = 0; p < NPARAM; p++) {
            TU_OK(sc_net_get_param(F.net, (sc_param)p, &v));
            ck_assert_msg(v == before[p] || (isnan(v) && isnan(before[p])),
                          "bad set %zu changed setting %d", i, p);
        }
    }
    TU_FAILS(sc_net_set_param(NULL, SC_PARAM_GAMMA, 0.1), SC_ERR_NULL);
    TU_FAILS(sc_net_get_param(NULL, SC_PARAM_GAMMA, &v), SC_ERR_NULL);
    TU_FAILS(sc_net_get_param(F.net, SC_PARAM_GAMMA, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_get_param(F.net, (sc_param)13, &v), SC_ERR_ARG);
    /* a model's setting, not a net's */
    TU_FAILS(sc_net_get_param(F.net, SC_PARAM_INFERENCE, &v), SC_ERR_ARG);
    TU_FAILS(sc_net_set_param(F.net, SC_PARAM_INFERENCE, 0), SC_ERR_ARG);
    TU_FAILS(sc_net_get_param(F.net, (sc_param)-1, &v), SC_ERR_ARG);
    /* round trips, edges included */
    const struct {
        sc_param p;
        double v;
    } good[] = {{SC_PARAM_GAMMA, 0.25},       {SC_PARAM_BN_MOMENTUM, 0.0},
                {SC_PARAM_BN_MOMENTUM, 1.0},  {SC_PARAM_BN_EPS, 1e-3},
                {SC_PARAM_QUANT_B0, 0.0},     {SC_PARAM_QUANT_B0, 32.0},
                {SC_PARAM_QUANT_E0, -64.0},   {SC_PARAM_QUANT_E0, 3.0},
                {SC_PARAM_COMPRESS_EVERY, 0}, {SC_PARAM_COMPRESS_EVERY, 0},
                {SC_PARAM_CONV_ALGO, SC_CONV_ALGO_DIRECT},
                {SC_PARAM_CONV_ALGO, SC_CONV_ALGO_AUTO}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        TU_OK(sc_net_set_param(F.net, good[i].p, good[i].v));
        TU_OK(sc_net_get_param(F.net, good[i].p, &v));
        ck_assert_double_eq(v, good[i].v);
    }
    TU_OK(sc_net_set_param(F.net, SC_PARAM_QUANT_E0, NAN));
    TU_OK(sc_net_get_param(F.net, SC_PARAM_QUANT_E0, &v));
    ck_assert(isnan(v));
    TU_OK(sc_net_set_param(F.net, SC_PARAM_GAMMA, 0.0));
    TU_OK(sc_net_set_param(F.net, SC_PARAM_BN_MOMENTUM, 0.1));
    TU_OK(sc_net_set_param(F.net, SC_PARAM_BN_EPS, 1e-5));

    /* threads and mode */
    TU_FAILS(sc_net_set_threads(NULL, 2), SC_ERR_NULL);
    TU_FAILS(sc_net_set_threads(F.net, 0), SC_ERR_ARG);
    TU_FAILS(sc_net_set_threads(F.net, -1), SC_ERR_ARG);
    TU_FAILS(sc_net_set_threads(F.net, 257), SC_ERR_ARG);
    TU_FAILS(sc_net_set_training(NULL, 1), SC_ERR_NULL);
    ck_assert_int_eq(F.net->threads, 1);
    assert_intact("settings");
}
END_TEST

/* ------------------------------------------------------------ forward */

START_TEST(test_conv_algo)
{
    /* a 5x5 layer by both algorithms: the same function, to the rounding
     * of Winograd's transforms (which do run: the outputs are not the
     * direct ones bit for bit); each switch re-plans the net, whose
     * scratch differs by algorithm (sanitizer builds check its bounds) */
    enum { N = 3, C = 4, S = 12, O = 6 };
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, C, S, S));
    TU_OK(sc_net_conv2d(net, SC_INPUT, O, 5, 5, 1, 2, SC_BIAS, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_init(net, 23));
    float xd[N * C * S * S];
    tu_lcg r;
    tu_lcg_seed(&r, 8);
    tu_fill(&r, xd, sizeof xd / sizeof xd[0], -1.0, 1.0);
    int64_t xs[4] = {N, C, S, S}, ys[2] = {N, O * S * S};
    ck_assert_int_eq(sc_net_output_size(net), O * S * S);
    sc_tensor *x = NULL, *y = NULL;
    TU_OK(sc_tensor_wrap(&x, 4, xs, xd));
    TU_OK(sc_tensor_create(&y, 2, ys));
    static float out[3][N * O * S * S];
    static const sc_conv_algo algo[3] = {SC_CONV_ALGO_DIRECT, SC_CONV_ALGO_AUTO,
                                         SC_CONV_ALGO_DIRECT};
    for (int a = 0; a < 3; a++) {
        TU_OK(sc_net_set_param(net, SC_PARAM_CONV_ALGO, algo[a]));
        TU_OK(sc_net_forward(net, x, y));
        TU_OK(sc_tensor_copy_to(y, out[a], sizeof out[a] / sizeof out[a][0]));
    }
    double scale = 0.0, diff = 0.0;
    for (size_t i = 0; i < sizeof out[0] / sizeof out[0][0]; i++) {
        scale = fmax(scale, fabs(out[0][i]));
        diff = fmax(diff, fabs((double)out[1][i] - out[0][i]));
        ck_assert_float_eq(out[2][i], out[0][i]); /* direct again: the same */
    }
    ck_assert_double_gt(scale, 0.1);
    ck_assert_double_gt(diff, 0.0);
    ck_assert_double_le(diff, 2e-5 * scale); /* measured: 3.6e-6 (avx512) */
    sc_tensor_free(x);
    sc_tensor_free(y);
    sc_net_free(net);
}
END_TEST

START_TEST(test_forward_errors)
{
    float junk[FN * CLASSES];
    for (int i = 0; i < FN * CLASSES; i++)
        junk[i] = -123.0f;
    TU_OK(sc_tensor_copy_from(F.out, junk, FN * CLASSES));
    TU_FAILS(sc_net_forward(NULL, F.x, F.out), SC_ERR_NULL);
    TU_FAILS(sc_net_forward(F.net, NULL, F.out), SC_ERR_NULL);
    TU_FAILS(sc_net_forward(F.net, F.x, NULL), SC_ERR_NULL);
    /* wrong input shapes */
    float big[FN * 2 * 6 * 6] = {0};
    const struct {
        int nd;
        int64_t s[4];
    } shapes[] = {{4, {FN, 3, 5, 5}}, {4, {FN, 2, 5, 4}}, {4, {FN, 2, 6, 5}},
                  {3, {FN, 2, 25}},   {2, {FN, 49}},      {2, {FN, 51}},
                  {1, {FN * 50}}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        sc_tensor *x = NULL;
        TU_OK(sc_tensor_wrap(&x, shapes[i].nd, shapes[i].s, big));
        TU_FAILS(sc_net_forward(F.net, x, F.out), SC_ERR_SHAPE);
        sc_tensor_free(x);
    }
    /* wrong output sizes */
    const int64_t oshapes[][2] = {{FN, CLASSES + 1}, {FN - 1, CLASSES},
                                  {1, FN * CLASSES}};
    for (size_t i = 0; i < 3; i++) {
        sc_tensor *o = NULL;
        TU_OK(sc_tensor_create(&o, 2, oshapes[i]));
        TU_FAILS(sc_net_forward(F.net, F.x, o), SC_ERR_SHAPE);
        sc_tensor_free(o);
    }
    /* non-finite input */
    float xd[FN * 50];
    memcpy(xd, F.xdata, sizeof xd);
    xd[7] = NAN;
    int64_t shape[4] = {FN, 2, 5, 5};
    sc_tensor *x = NULL;
    TU_OK(sc_tensor_wrap(&x, 4, shape, xd));
    TU_FAILS(sc_net_forward(F.net, x, F.out), SC_ERR_NONFINITE);
    xd[7] = -INFINITY;
    TU_FAILS(sc_net_forward(F.net, x, F.out), SC_ERR_NONFINITE);
    sc_tensor_free(x);
    /* out untouched by all of that */
    float now[FN * CLASSES];
    TU_OK(sc_tensor_copy_to(F.out, now, FN * CLASSES));
    ck_assert(memcmp(now, junk, sizeof now) == 0);
    /* a 2-D N x (c*h*w) batch is accepted and gives the same logits */
    sc_tensor *flat = NULL;
    int64_t fshape[2] = {FN, 50};
    TU_OK(sc_tensor_wrap(&flat, 2, fshape, F.xdata));
    TU_OK(sc_net_set_training(F.net, 0));
    TU_OK(sc_net_forward(F.net, flat, F.out));
    TU_OK(sc_net_set_training(F.net, 1));
    TU_OK(sc_tensor_copy_to(F.out, now, FN * CLASSES));
    ck_assert(memcmp(now, F.eval_out, sizeof now) == 0);
    sc_tensor_free(flat);
    assert_intact("forward errors");
}
END_TEST

/* ------------------------------------------------------------ optimizers */

START_TEST(test_optimizer_errors)
{
    sc_optimizer *o = (sc_optimizer *)(uintptr_t)0x1;
    TU_FAILS(sc_optimizer_create(NULL, F.net, SC_OPT_SGD), SC_ERR_NULL);
    TU_FAILS(sc_optimizer_create(&o, NULL, SC_OPT_SGD), SC_ERR_NULL);
    /* a second optimizer on the same net */
    TU_FAILS(sc_optimizer_create(&o, F.net, SC_OPT_ADAM), SC_ERR_STATE);
    ck_assert_ptr_eq(o, (sc_optimizer *)(uintptr_t)0x1);
    assert_intact("second optimizer");

    /* unknown kinds, on a net without one */
    sc_net *other = NULL;
    int id;
    TU_OK(sc_net_create(&other, 2, 5, 5));
    TU_OK(sc_net_dense(other, SC_INPUT, CLASSES, SC_BIAS, &id));
    TU_OK(sc_net_init(other, 2));
    TU_FAILS(sc_optimizer_create(&o, other, (sc_optimizer_kind)3), SC_ERR_ARG);
    TU_FAILS(sc_optimizer_create(&o, other, (sc_optimizer_kind)-1), SC_ERR_ARG);
    ck_assert_ptr_eq(o, (sc_optimizer *)(uintptr_t)0x1);

    /* the optimizer of another net */
    sc_optimizer *oo = NULL;
    TU_OK(sc_optimizer_create(&oo, other, SC_OPT_SGD));
    TU_FAILS(sc_net_train_step(F.net, oo, F.x, F.labels, NULL), SC_ERR_ARG);
    TU_FAILS(sc_net_train_step(other, F.opt, F.x, F.labels, NULL), SC_ERR_ARG);
    ck_assert_uint_eq(sc_optimizer_steps(oo), 0);
    assert_intact("optimizer of another net");
    /* after freeing, a new one may be created, and it trains */
    sc_optimizer_free(oo);
    TU_OK(sc_optimizer_create(&oo, other, SC_OPT_ADAMW));
    TU_OK(sc_net_train_step(other, oo, F.x, F.labels, NULL));
    ck_assert_uint_eq(sc_optimizer_steps(oo), 1);
    sc_optimizer_free(oo);
    sc_net_free(other);
}
END_TEST

/* ------------------------------------------------------------ train step */

START_TEST(test_train_step_errors)
{
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_FAILS(sc_net_train_step(NULL, F.opt, F.x, F.labels, &st), SC_ERR_NULL);
    TU_FAILS(sc_net_train_step(F.net, NULL, F.x, F.labels, &st), SC_ERR_NULL);
    TU_FAILS(sc_net_train_step(F.net, F.opt, NULL, F.labels, &st), SC_ERR_NULL);
    TU_FAILS(sc_net_train_step(F.net, F.opt, F.x, NULL, &st), SC_ERR_NULL);
    assert_intact("NULL");

    /* labels out of range */
    const int32_t badl[] = {-1, CLASSES, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof badl / sizeof badl[0]; i++) {
        int32_t labels[FN];
        memcpy(labels, F.labels, sizeof labels);
        labels[i % FN] = badl[i];
        TU_FAILS(sc_net_train_step(F.net, F.opt, F.x, labels, &st), SC_ERR_LABEL);
        assert_intact("label");
    }
    /* wrong shapes */
    float big[FN * 2 * 6 * 6] = {0};
    int64_t s1[4] = {FN, 2, 6, 5}, s2[3] = {FN, 2, 25};
    sc_tensor *x = NULL;
    TU_OK(sc_tensor_wrap(&x, 4, s1, big));
    TU_FAILS(sc_net_train_step(F.net, F.opt, x, F.labels, &st), SC_ERR_SHAPE);
    sc_tensor_free(x);
    TU_OK(sc_tensor_wrap(&x, 3, s2, big));
    TU_FAILS(sc_net_train_step(F.net, F.opt, x, F.labels, &st), SC_ERR_SHAPE);
    sc_tensor_free(x);
    assert_intact("shape");
    /* stats with an unset size */
    sc_step_stats zero;
    memset(&zero, 0, sizeof zero);
    TU_FAILS(sc_net_train_step(F.net, F.opt, F.x, F.labels, &zero), SC_ERR_ARG);
    zero.size = (size_t)1 << 40;
    TU_FAILS(sc_net_train_step(F.net, F.opt, F.x, F.labels, &zero), SC_ERR_ARG);
    assert_intact("stats size");
}
END_TEST

START_TEST(test_train_step_nonfinite)
{
    /* NaN or Inf anywhere in the batch: SC_ERR_NONFINITE, and neither the
     * params nor the batch-norm running statistics change (eval outputs
     * identical) */
    float xd[FN * 50];
    int64_t shape[4] = {FN, 2, 5, 5};
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const int where[3] = {0, 123, FN * 50 - 1};
    sc_step_stats st = SC_STEP_STATS_INIT;
    st.loss = -5.0;
    for (int k = 0; k < 3; k++) {
        memcpy(xd, F.xdata, sizeof xd);
        xd[where[k]] = bad[k];
        sc_tensor *x = NULL;
        TU_OK(sc_tensor_wrap(&x, 4, shape, xd));
        TU_FAILS(sc_net_train_step(F.net, F.opt, x, F.labels, &st),
                 SC_ERR_NONFINITE);
        ck_assert_double_eq(st.loss, -5.0); /* stats untouched */
        sc_tensor_free(x);
        assert_intact("non-finite input");
    }
}
END_TEST

START_TEST(test_update_diverged_keeps_stats)
{
    /* a step whose update would overflow (lr wd p beyond a float) fails
     * with SC_ERR_DIVERGED: params, running statistics and the step count
     * stay as they were */
    snapshot();
    TU_OK(sc_optimizer_set(F.opt, SC_OPT_LR, SC_GROUP_ALL, 3e38));
    TU_OK(sc_optimizer_set(F.opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_ALL, 3e38));
    TU_FAILS(sc_net_train_step(F.net, F.opt, F.x, F.labels, NULL),
             SC_ERR_DIVERGED);
    TU_OK(sc_optimizer_set(F.opt, SC_OPT_LR, SC_GROUP_ALL, 0.01));
    TU_OK(sc_optimizer_set(F.opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_ALL, 0.0));
    assert_intact("diverged update");
}
END_TEST

START_TEST(test_stats_overflow_changes_nothing)
{
    /* inputs so large that the conv's batch variance overflows a float:
     * the batch norm's output stays finite, but its running variance would
     * not. The step and sc_net_update_bn_stats fail with SC_ERR_DIVERGED
     * and change nothing. */
    snapshot();
    float big[sizeof F.xdata / sizeof F.xdata[0]];
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        big[i] = F.xdata[i] * 1e30f;
    int64_t shape[4] = {FN, 2, 5, 5};
    sc_tensor *x = NULL;
    TU_OK(sc_tensor_wrap(&x, 4, shape, big));
    TU_FAILS(sc_net_train_step(F.net, F.opt, x, F.labels, NULL),
             SC_ERR_DIVERGED);
    ck_assert_msg(strstr(sc_last_error(), "running statistics") != NULL, "%s",
                  sc_last_error());
    TU_FAILS(sc_net_update_bn_stats(F.net, x), SC_ERR_DIVERGED);
    sc_tensor_free(x);
    assert_intact("running statistics overflow");
}
END_TEST

START_TEST(test_train_step_diverged)
{
    /* parameters so large the logits overflow: SC_ERR_DIVERGED and nothing
     * updated */
    float *p = tu_params(F.net, NULL);
    sc_node *d = &F.net->nodes[F.dense];
    for (size_t i = 0; i < d->pn[P_W]; i++)
        p[d->poff[P_W] + i] = (i % 2 ? -3e38f : 3e38f);
    TU_OK(sc_net_set_params(F.net, p, F.np));
    snapshot();
    TU_FAILS(sc_net_train_step(F.net, F.opt, F.x, F.labels, NULL),
             SC_ERR_DIVERGED);
    ck_assert_msg(tu_params_equal(F.net, F.params, F.np), "params changed");
    ck_assert(memcmp(F.state, F.net->state, F.net->n_state * sizeof *F.state) == 0);
    ck_assert_uint_eq(sc_optimizer_steps(F.opt), F.steps);
    free(p);
}
END_TEST

START_TEST(test_grads_finite)
{
    /* the step's check that every gradient is finite, run on the pool in
     * blocks: one infinity or NaN anywhere (first element, either side of
     * a block boundary, last element) is found, with 1 and 2 threads */
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, 1, 28, 28));
    TU_OK(sc_net_dense(net, SC_INPUT, 64, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 5));
    size_t n = net->n_params, at[] = {0, 16383, 16384, 32768, n - 1};
    ck_assert_uint_gt(n, 3 * 16384); /* several blocks */
    for (int threads = 1; threads <= 2; threads++) {
        TU_OK(sc_net_set_threads(net, threads));
        for (size_t i = 0; i < n; i++)
            net->grads[i] = (float)i * 1e-3f - 7.0f;
        ck_assert_int_eq(sc_grads_finite(net), 1);
        for (size_t a = 0; a < sizeof at / sizeof at[0]; a++)
            for (int nan = 0; nan < 2; nan++) {
                float keep = net->grads[at[a]];
                net->grads[at[a]] = nan ? NAN : -INFINITY;
                ck_assert_msg(!sc_grads_finite(net), "%d thread(s), %s at %zu",
                              threads, nan ? "NaN" : "-inf", at[a]);
                net->grads[at[a]] = keep;
            }
        ck_assert_int_eq(sc_grads_finite(net), 1);
    }
    sc_net_free(net);
}
END_TEST

START_TEST(test_stats_size_respected)
{
    /* an old caller's smaller struct: fields past .size are not written */
    sc_step_stats st;
    memset(&st, 0x5a, sizeof st);
    st.size = offsetof(sc_step_stats, task_loss);
    TU_OK(sc_net_train_step(F.net, F.opt, F.x, F.labels, &st));
    unsigned char tail[sizeof st - offsetof(sc_step_stats, task_loss)];
    memset(tail, 0x5a, sizeof tail);
    ck_assert(memcmp((unsigned char *)&st + offsetof(sc_step_stats, task_loss),
                     tail, sizeof tail) == 0);
    ck_assert(isfinite(st.loss) && st.loss > 0.0);
    ck_assert_uint_eq(st.size, offsetof(sc_step_stats, task_loss));
    /* the full struct: every field filled, consistent */
    sc_step_stats full = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(F.net, F.opt, F.x, F.labels, &full));
    ck_assert_double_eq(full.loss, full.task_loss + 0.0 * full.size_loss);
    ck_assert_double_eq(full.size_loss, 0.0);
    ck_assert(full.accuracy >= 0.0 && full.accuracy <= 1.0);
    ck_assert_double_eq_tol(full.accuracy * FN, round(full.accuracy * FN), 1e-9);
    /* NULL stats is fine */
    TU_OK(sc_net_train_step(F.net, F.opt, F.x, F.labels, NULL));
}
END_TEST

/* ------------------------------------------------------------ quantiser */

START_TEST(test_quant_api_errors)
{
    /* argument errors only (their numerics are tested elsewhere) */
    TU_FAILS(sc_net_quantize(NULL, SC_ALL_LAYERS), SC_ERR_NULL);
    const int bad_ids[] = {SC_INPUT, F.bn, 3, 4, 5, 7, -2, 100};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
        TU_FAILS(sc_net_quantize(F.net, bad_ids[i]), SC_ERR_ARG);
    ck_assert_int_eq(sc_net_is_quantized(F.net, F.conv), 0);
    ck_assert_uint_eq(sc_net_param_count(F.net), F.np);
    assert_intact("quantize bad id");

    float b[8], e[8];
    /* not quantised yet */
    TU_FAILS(sc_net_get_quant(F.net, F.conv, b, e, 3), SC_ERR_ARG);
    TU_FAILS(sc_net_set_quant(F.net, F.conv, b, e, 3), SC_ERR_ARG);

    /* a separate net, since quantising changes the parameter count */
    sc_net *net = NULL;
    int conv, id;
    TU_OK(sc_net_create(&net, 1, 4, 4));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 3, 3, 3, 1, 1, SC_BIAS, &conv));
    TU_OK(sc_net_relu(net, conv, &id));
    TU_OK(sc_net_dense(net, id, 2, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 4));
    TU_OK(sc_net_quantize(net, conv));
    ck_assert_int_eq(sc_net_is_quantized(net, conv), 1);
    ck_assert_int_eq(sc_net_is_quantized(net, id), 0);
    ck_assert_int_eq(sc_net_is_quantized(net, -1), 0);
    ck_assert_int_eq(sc_net_is_quantized(net, 99), 0);
    TU_FAILS(sc_net_get_quant(NULL, conv, b, e, 3), SC_ERR_NULL);
    TU_FAILS(sc_net_get_quant(net, id, b, e, 2), SC_ERR_ARG); /* not quantised */
    TU_FAILS(sc_net_get_quant(net, -1, b, e, 3), SC_ERR_ARG);
    TU_FAILS(sc_net_get_quant(net, 99, b, e, 3), SC_ERR_ARG);
    TU_FAILS(sc_net_get_quant(net, conv, b, e, 2), SC_ERR_SHAPE);
    TU_FAILS(sc_net_get_quant(net, conv, b, e, 4), SC_ERR_SHAPE);
    TU_FAILS(sc_net_get_quant(net, conv, b, e, 0), SC_ERR_SHAPE);
    float b0[3], e0[3];
    TU_OK(sc_net_get_quant(net, conv, b0, e0, 3));
    TU_OK(sc_net_get_quant(net, conv, NULL, NULL, 3));
    for (int o = 0; o < 3; o++) /* b0 = 5, the default */
        ck_assert_float_eq(b0[o], 5.0f);
    float bb[3] = {4.0f, 4.0f, 4.0f}, ee[3] = {-3.0f, -3.0f, -3.0f};
    TU_FAILS(sc_net_set_quant(NULL, conv, bb, ee, 3), SC_ERR_NULL);
    TU_FAILS(sc_net_set_quant(net, conv, bb, ee, 2), SC_ERR_SHAPE);
    TU_FAILS(sc_net_set_quant(net, id, bb, ee, 2), SC_ERR_ARG);
    const float badb[] = {NAN, INFINITY, 33.0f}, bade[] = {NAN, -INFINITY, 65.0f};
    for (int k = 0; k < 3; k++) {
        bb[1] = badb[k];
        TU_FAILS(sc_net_set_quant(net, conv, bb, ee, 3), SC_ERR_ARG);
        bb[1] = 4.0f;
        ee[2] = bade[k];
        TU_FAILS(sc_net_set_quant(net, conv, bb, ee, 3), SC_ERR_ARG);
        TU_FAILS(sc_net_set_quant(net, conv, NULL, ee, 3), SC_ERR_ARG);
        ee[2] = -3.0f;
    }
    float b1[3], e1[3];
    TU_OK(sc_net_get_quant(net, conv, b1, e1, 3));
    ck_assert(memcmp(b0, b1, sizeof b0) == 0 && memcmp(e0, e1, sizeof e0) == 0);

    /* size reports */
    sc_size_report rep = SC_SIZE_REPORT_INIT;
    TU_FAILS(sc_net_size_report(NULL, SC_ALL_LAYERS, &rep), SC_ERR_NULL);
    TU_FAILS(sc_net_size_report(net, SC_ALL_LAYERS, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_size_report(net, SC_INPUT, &rep), SC_ERR_ARG);
    TU_FAILS(sc_net_size_report(net, conv + 1, &rep), SC_ERR_ARG); /* relu */
    TU_FAILS(sc_net_size_report(net, 99, &rep), SC_ERR_ARG);
    TU_FAILS(sc_net_size_report(net, -5, &rep), SC_ERR_ARG);
    sc_size_report z;
    memset(&z, 0x5a, sizeof z);
    z.size = 0;
    TU_FAILS(sc_net_size_report(net, SC_ALL_LAYERS, &z), SC_ERR_ARG);
    z.size = 100000;
    TU_FAILS(sc_net_size_report(net, SC_ALL_LAYERS, &z), SC_ERR_ARG);
    ck_assert_int_eq(z.weights, (int64_t)0x5a5a5a5a5a5a5a5a);
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &rep));
    TU_OK(sc_net_size_report(net, conv, &rep));

    /* compress: argument errors */
    TU_FAILS(sc_net_compress(NULL, NULL), SC_ERR_NULL);
    int removed = -1;
    TU_FAILS(sc_net_compress(NULL, &removed), SC_ERR_NULL);
    ck_assert_int_eq(removed, -1);
    sc_net_free(net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("api");
    TCase *tb = tcase_create("basics");
    tcase_add_test(tb, test_version);
    tcase_add_test(tb, test_strerror);
    tcase_add_test(tb, test_last_error_per_thread);
    tcase_add_test(tb, test_destructors_take_null);
    tcase_add_test(tb, test_create_errors);
    tcase_add_test(tb, test_builder_errors);
    tcase_add_test(tb, test_add_layer);
    tcase_add_test(tb, test_dropout_steps);
    tcase_add_test(tb, test_layer_params);
    tcase_add_test(tb, test_init_errors);
    suite_add_tcase(s, tb);

    TCase *tf = tcase_create("fixture");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_set_timeout(tf, 30);
    tcase_add_test(tf, test_queries);
    tcase_add_test(tf, test_params_errors);
    tcase_add_test(tf, test_settings_errors);
    tcase_add_test(tf, test_conv_algo);
    tcase_add_test(tf, test_forward_errors);
    tcase_add_test(tf, test_optimizer_errors);
    tcase_add_test(tf, test_train_step_errors);
    tcase_add_test(tf, test_train_step_nonfinite);
    tcase_add_test(tf, test_train_step_diverged);
    tcase_add_test(tf, test_update_diverged_keeps_stats);
    tcase_add_test(tf, test_stats_overflow_changes_nothing);
    tcase_add_test(tf, test_stats_size_respected);
    tcase_add_test(tf, test_quant_api_errors);
    tcase_add_test(tf, test_grads_finite);
    suite_add_tcase(s, tf);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
