/* test_checkpoint.c -- training checkpoints (docs/format.md): a resumed run
 * is bit-identical to one that never stopped, a SIGKILL during a save never
 * leaves a partial file, and corrupt or truncated files are rejected. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/net.h"
#include "io/bytes.h"
#include "optim/optimizer.h"
#include "selfcompress.h"
#include "util/testutil.h"

/* ---- the training script ------------------------------------------------ */

enum { C = 2, H = 8, W = 8, CLASSES = 5, BATCH = 16 };

/* What the caller keeps besides the net and the optimizer: its data RNG
 * and its step counter. Saved as the checkpoint's user bytes. */
typedef struct script {
    tu_lcg data;
    int64_t step;
} script;

static sc_net *make_net(uint64_t seed)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, C, H, W));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 6, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_conv2d(net, id, 6, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, CLASSES, SC_BIAS, &id));
    TU_OK(sc_net_init(net, seed));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.05));
    TU_OK(sc_net_set_param(net, SC_PARAM_COMPRESS_EVERY, 3));
    TU_OK(sc_net_set_threads(net, 1));
    return net;
}

static sc_optimizer *make_opt(sc_net *net)
{
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAMW));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_WEIGHTS, 3e-3));
    TU_OK(sc_optimizer_set(opt, SC_OPT_WEIGHT_DECAY, SC_GROUP_WEIGHTS, 1e-3));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_QUANT, 0.05));
    return opt;
}

static void kill_channels(sc_net *net, int id, int a, int b)
{
    int c;
    TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
    float *bits = malloc((size_t)c * sizeof(float));
    ck_assert_ptr_nonnull(bits);
    TU_OK(sc_net_get_quant(net, id, bits, NULL, (size_t)c));
    bits[a] = bits[b] = -50.0f;
    TU_OK(sc_net_set_quant(net, id, bits, NULL, (size_t)c));
    free(bits);
}

/* One step of the script: a fresh batch from the caller's RNG; at step 6
 * two channels of layer 4 die (the automatic compress removes them). */
static double step(sc_net *net, sc_optimizer *opt, script *s)
{
    float x[BATCH * C * H * W];
    int32_t labels[BATCH];
    tu_fill(&s->data, x, sizeof x / sizeof x[0], -1.0, 1.0);
    tu_labels(&s->data, labels, BATCH, CLASSES);
    if (s->step == 6)
        kill_channels(net, 4, 1, 4);
    int64_t shape[4] = {BATCH, C, H, W};
    sc_tensor *t;
    TU_OK(sc_tensor_wrap(&t, 4, shape, x));
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(net, opt, t, labels, &st));
    sc_tensor_free(t);
    s->step++;
    return st.loss;
}

static int channels(sc_net *net, int id)
{
    int c;
    TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
    return c;
}

/* K steps, a compress (two channels of layer 1 die first), a checkpoint,
 * M more steps; then the checkpoint is loaded into new objects and the
 * same M steps must give the same losses and parameters bit for bit. */
START_TEST(test_resume_equals_uninterrupted)
{
    tu_make_tmpdir("sc_test_ckpt");
    enum { K = 4, M = 7 };
    script s = {{0}, 0};
    tu_lcg_seed(&s.data, 77);
    sc_net *net = make_net(9);
    sc_optimizer *opt = make_opt(net);
    for (int i = 0; i < K; i++)
        step(net, opt, &s);
    kill_channels(net, 1, 0, 3);
    int removed;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(channels(net, 1), 4);
    step(net, opt, &s); /* one step after the compress: 1 of 3 towards the next */
    TU_OK(sc_checkpoint_save(net, opt, &s, sizeof s, tu_path("ck")));

    double loss_a[M];
    for (int i = 0; i < M; i++)
        loss_a[i] = step(net, opt, &s);
    /* the automatic compress removed the channels killed at step 6 */
    ck_assert_int_eq(channels(net, 4), 4);
    size_t np;
    float *pa = tu_params(net, &np);
    script end_a = s;

    sc_net *net2 = NULL;
    sc_optimizer *opt2 = NULL;
    script s2;
    size_t ulen = 0;
    TU_OK(sc_checkpoint_load(tu_path("ck"), &net2, &opt2, &s2, sizeof s2, &ulen));
    ck_assert_ptr_nonnull(net2);
    ck_assert_ptr_nonnull(opt2);
    ck_assert_uint_eq(ulen, sizeof s2);
    ck_assert_int_eq(s2.step, K + 1);
    ck_assert_int_eq(channels(net2, 1), 4);
    ck_assert_int_eq(channels(net2, 4), 6);
    ck_assert_uint_eq(sc_optimizer_steps(opt2), K + 1);
    double v;
    TU_OK(sc_net_get_param(net2, SC_PARAM_COMPRESS_EVERY, &v));
    ck_assert(v == 3.0);
    TU_OK(sc_net_get_param(net2, SC_PARAM_GAMMA, &v));
    ck_assert(v == 0.05);
    TU_OK(sc_optimizer_get(opt2, SC_OPT_LR, SC_GROUP_QUANT_BITS, &v));
    ck_assert(v == 0.05);
    TU_OK(sc_optimizer_get(opt2, SC_OPT_WEIGHT_DECAY, SC_GROUP_WEIGHTS, &v));
    ck_assert(v == 1e-3);
    TU_OK(sc_net_set_threads(net2, 1));
    double loss_b[M];
    for (int i = 0; i < M; i++)
        loss_b[i] = step(net2, opt2, &s2);
    ck_assert(memcmp(loss_a, loss_b, sizeof loss_a) == 0);
    ck_assert_int_eq(channels(net2, 4), 4);
    ck_assert_uint_eq(sc_net_param_count(net2), np);
    ck_assert(tu_params_equal(net2, pa, np));
    ck_assert(memcmp(&s2, &end_a, sizeof s2) == 0);
    ck_assert_uint_eq(sc_optimizer_steps(opt2), sc_optimizer_steps(opt));
    /* running statistics too: the eval outputs agree bit for bit */
    float x[3 * C * H * W], ya[3 * CLASSES], yb[3 * CLASSES];
    tu_lcg r;
    tu_lcg_seed(&r, 5);
    tu_fill(&r, x, sizeof x / sizeof x[0], -1, 1);
    int64_t xs[4] = {3, C, H, W}, ys[2] = {3, CLASSES};
    sc_tensor *tx, *ta, *tb;
    TU_OK(sc_tensor_wrap(&tx, 4, xs, x));
    TU_OK(sc_tensor_wrap(&ta, 2, ys, ya));
    TU_OK(sc_tensor_wrap(&tb, 2, ys, yb));
    TU_OK(sc_net_set_training(net, 0));
    TU_OK(sc_net_set_training(net2, 0));
    TU_OK(sc_net_forward(net, tx, ta));
    TU_OK(sc_net_forward(net2, tx, tb));
    ck_assert(memcmp(ya, yb, sizeof ya) == 0);
    sc_tensor_free(tx);
    sc_tensor_free(ta);
    sc_tensor_free(tb);
    free(pa);
    sc_optimizer_free(opt2);
    sc_net_free(net2);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* A checkpoint without an optimizer, without user bytes, of a fresh net. */
/* Values the setters refuse are refused by the loaders too: b and e out of
 * sc_net_set_quant's ranges, a negative running variance, an optimizer step
 * count past SC_OPT_MAX_STEPS; and sc_net_save refuses a net holding them
 * (or non-finite values) instead of writing what no loader reads. Each
 * value is planted behind the setters' back, saved, and loaded. */
static void plant_and_expect(int what, float value)
{
    sc_net *net = make_net(5);
    sc_optimizer *opt = make_opt(net);
    sc_node *nd = &net->nodes[1]; /* the first conv: quantised, then BN */
    switch (what) {
    case 0: sc_node_param(net, nd, P_QB)[2] = value; break;
    case 1: sc_node_param(net, nd, P_QE)[3] = value; break;
    case 2: sc_node_state(net, &net->nodes[2], S_VAR)[1] = value; break;
    case 3: opt->t = SC_OPT_MAX_STEPS + 1; break;
    default: ck_abort();
    }
    TU_OK(sc_checkpoint_save(net, opt, NULL, 0, tu_path("bad")));
    sc_net *n2 = NULL;
    sc_optimizer *o2 = NULL;
    TU_FAILS(sc_checkpoint_load(tu_path("bad"), &n2, &o2, NULL, 0, NULL),
             SC_ERR_FORMAT);
    ck_assert_ptr_null(n2);
    if (what < 3)
        TU_FAILS(sc_net_save(net, tu_path("bad.scm"), NULL), SC_ERR_STATE);
    sc_optimizer_free(opt);
    sc_net_free(net);
}

START_TEST(test_loaders_refuse_what_setters_refuse)
{
    tu_make_tmpdir("sc_test_ckpt");
    plant_and_expect(0, 1e30f);
    plant_and_expect(0, 33.0f);
    plant_and_expect(1, 1e30f);
    plant_and_expect(1, -65.0f);
    plant_and_expect(2, -1.0f);
    plant_and_expect(3, 0.0f);
    /* the setters refuse the same values */
    sc_net *net = make_net(6);
    float b[6] = {4, 4, 33, 4, 4, 4}, e[6] = {0, 0, 0, 65, 0, 0};
    TU_FAILS(sc_net_set_quant(net, 1, b, NULL, 6), SC_ERR_ARG);
    TU_FAILS(sc_net_set_quant(net, 1, NULL, e, 6), SC_ERR_ARG);
    /* a NaN parameter: sc_net_save refuses it */
    net->params[0] = NAN;
    TU_FAILS(sc_net_save(net, tu_path("nan.scm"), NULL), SC_ERR_STATE);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

START_TEST(test_step_count_cannot_wrap)
{
    tu_batch bt = tu_batch_make(4, C, H, W, CLASSES, 9);
    sc_net *net = make_net(7);
    sc_optimizer *opt = make_opt(net);
    opt->t = SC_OPT_MAX_STEPS;
    size_t np;
    float *p = tu_params(net, &np);
    TU_FAILS(sc_net_train_step(net, opt, bt.x, bt.labels, NULL), SC_ERR_STATE);
    ck_assert(tu_params_equal(net, p, np));
    ck_assert(opt->t == SC_OPT_MAX_STEPS);
    opt->t = SC_OPT_MAX_STEPS - 1;
    TU_OK(sc_net_train_step(net, opt, bt.x, bt.labels, NULL));
    free(p);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_batch_free(&bt);
}
END_TEST

START_TEST(test_no_optimizer_no_user_data)
{
    tu_make_tmpdir("sc_test_ckpt");
    sc_net *net = make_net(3);
    TU_OK(sc_checkpoint_save(net, NULL, NULL, 0, tu_path("ck")));
    sc_net *n2 = NULL;
    sc_optimizer *o2 = (sc_optimizer *)(uintptr_t)1;
    size_t ulen = 99;
    TU_OK(sc_checkpoint_load(tu_path("ck"), &n2, &o2, NULL, 0, &ulen));
    ck_assert_ptr_null(o2);
    ck_assert_uint_eq(ulen, 0);
    size_t np;
    float *p = tu_params(net, &np);
    ck_assert(tu_params_equal(n2, p, np));
    /* a fresh optimizer can be attached to the loaded net */
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, n2, SC_OPT_SGD));
    sc_optimizer_free(opt);
    free(p);
    sc_net_free(n2);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

#define NET_SENTINEL ((sc_net *)(uintptr_t)0x77)
#define OPT_SENTINEL ((sc_optimizer *)(uintptr_t)0x99)

static void load_fails(const char *path, sc_status want, long where)
{
    sc_net *n = NET_SENTINEL;
    sc_optimizer *o = OPT_SENTINEL;
    unsigned char user[64];
    size_t ulen = 12345;
    tu_clear_error();
    sc_status st = sc_checkpoint_load(path, &n, &o, user, sizeof user, &ulen);
    if (st == SC_OK) {
        sc_optimizer_free(o);
        sc_net_free(n);
    }
    ck_assert_msg(st == want, "at %ld: status %d (%s), want %d", where, (int)st,
                  sc_last_error(), (int)want);
    ck_assert_msg(n == NET_SENTINEL && o == OPT_SENTINEL && ulen == 12345,
                  "at %ld: outputs changed on failure", where);
    ck_assert_msg(sc_last_error()[0] && strcmp(sc_last_error(), tu_marker_message()) != 0,
                  "at %ld: no message", where);
}

/* The stored n0 (a layer's weights at construction) must be what
 * sc_graph_write writes for the graph: 0 on a layer without weights; on a
 * dense or conv layer its channels at construction (its own channels unless
 * quantised) times its input's at construction times its weights per
 * input unit. Net: conv 4 (quantised, one channel removed by compress),
 * relu, flatten, dense 5 (not quantised). */
static void put_n0(unsigned char *d, size_t n, int layer, uint64_t n0)
{
    /* version 2 layer records: 63 bytes and 4 per input (byte 2), n0
     * last */
    size_t at = 20 + 16;
    for (int k = 1; k < layer; k++)
        at += 63 + 4 * (size_t)d[at + 2];
    at += 63 + 4 * (size_t)d[at + 2] - 8;
    ck_assert_uint_le(at + 8, n);
    for (int i = 0; i < 8; i++)
        d[at + (size_t)i] = (unsigned char)(n0 >> (8 * i));
    tu_reseal(d, n);
}

START_TEST(test_n0_must_match_the_graph)
{
    tu_make_tmpdir("sc_test_ckpt");
    sc_net *net;
    int conv, id, removed = 0;
    TU_OK(sc_net_create(&net, C, H, W));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &conv));
    TU_OK(sc_net_relu(net, conv, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, CLASSES, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 4));
    TU_OK(sc_net_quantize(net, conv));
    kill_channels(net, conv, 0, 0);
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 1);
    ck_assert_uint_eq(net->nodes[conv].pn[P_W], 3 * C * 9);
    ck_assert_int_eq((int)net->nodes[conv].n0, 4 * C * 9);
    ck_assert_uint_eq(net->nodes[id].pn[P_W], CLASSES * 3 * H * W);
    ck_assert_int_eq((int)net->nodes[id].n0, CLASSES * 4 * H * W);
    TU_OK(sc_checkpoint_save(net, NULL, NULL, 0, tu_path("ck")));
    size_t n;
    unsigned char *good = tu_read_all(tu_path("ck"), &n);
    unsigned char *d = malloc(n);
    ck_assert_ptr_nonnull(d);
    const uint64_t per_conv = C * 9, per_dense = H * W;
    struct { int layer; uint64_t n0; } bad[] = {
        {2, 1},                           /* the relu has no weights */
        {3, 64},                          /* nor the flatten */
        {1, 2 * per_conv},                /* fewer than its 3 channels' */
        {1, 4 * per_conv + 1},            /* not whole input channels */
        {1, 0},
        {1, 5 * per_conv},                /* 5 channels: the dense had 4 in */
        {4, CLASSES * 3 * per_dense},     /* the dense's input had 4 */
        {4, CLASSES * 5 * per_dense},
        {4, CLASSES * 4 * per_dense + 1},
        {4, (CLASSES + 1) * 4 * per_dense}, /* its own channels never go */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memcpy(d, good, n);
        put_n0(d, n, bad[k].layer, bad[k].n0);
        tu_write_all(tu_path("bad"), d, n);
        load_fails(tu_path("bad"), SC_ERR_FORMAT, (long)k);
        ck_assert_msg(strstr(sc_last_error(), "n0"), "%zu: %s", k,
                      sc_last_error());
    }
    /* another consistent history (conv 5 at construction) loads */
    memcpy(d, good, n);
    put_n0(d, n, 1, 5 * per_conv);
    put_n0(d, n, 4, CLASSES * 5 * per_dense);
    tu_write_all(tu_path("other"), d, n);
    sc_net *n2 = NULL;
    sc_optimizer *o2 = NULL;
    TU_OK(sc_checkpoint_load(tu_path("other"), &n2, &o2, NULL, 0, NULL));
    ck_assert_int_eq((int)n2->nodes[conv].n0, 5 * C * 9);
    ck_assert_int_eq((int)n2->n0, 5 * C * 9);
    sc_net_free(n2);
    TU_OK(sc_checkpoint_load(tu_path("ck"), &n2, &o2, NULL, 0, NULL));
    ck_assert_int_eq((int)n2->nodes[id].n0, CLASSES * 4 * H * W);
    sc_net_free(n2);
    free(d);
    free(good);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* Loads the old-version file old and the current file cur (both under
 * tests/data) and checks that they hold the same net, parameters,
 * optimizer and user bytes. */
static void same_as_current(const char *old, const char *cur)
{
    const char *root = getenv("SC_ROOT");
    char po[512], pc[512];
    snprintf(po, sizeof po, "%s/tests/data/%s", root && *root ? root : ".", old);
    snprintf(pc, sizeof pc, "%s/tests/data/%s", root && *root ? root : ".", cur);
    sc_net *a, *b;
    sc_optimizer *oa, *ob;
    char ua[8], ub[8];
    size_t la, lb;
    TU_OK(sc_checkpoint_load(po, &a, &oa, ua, sizeof ua, &la));
    TU_OK(sc_checkpoint_load(pc, &b, &ob, ub, sizeof ub, &lb));
    ck_assert(la == 4 && lb == 4 && memcmp(ua, ub, 4) == 0);
    ck_assert_int_eq(sc_net_layer_count(a), sc_net_layer_count(b));
    for (int i = 1; i < sc_net_layer_count(a); i++) {
        sc_layer_desc da = SC_LAYER_DESC_INIT(SC_LAYER_INPUT),
                      db = SC_LAYER_DESC_INIT(SC_LAYER_INPUT);
        int ia[SC_MAX_LAYER_INPUTS], ib[SC_MAX_LAYER_INPUTS], na, nb;
        TU_OK(sc_net_layer_desc(a, i, &da, ia, &na));
        TU_OK(sc_net_layer_desc(b, i, &db, ib, &nb));
        ck_assert(memcmp(&da, &db, sizeof da) == 0);
        ck_assert_int_eq(na, nb);
        ck_assert(memcmp(ia, ib, (size_t)na * sizeof *ia) == 0);
    }
    sc_loss_desc ld = SC_LOSS_DESC_INIT(SC_LOSS_MSE);
    TU_OK(sc_net_get_loss(a, &ld)); /* before version 4: the default */
    ck_assert(ld.kind == SC_LOSS_SOFTMAX_XENT && ld.class_weights == NULL &&
              ld.label_smoothing == 0.0f);
    size_t np;
    float *p = tu_params(a, &np);
    ck_assert_uint_eq(np, sc_net_param_count(b));
    ck_assert(tu_params_equal(b, p, np));
    ck_assert(oa != NULL && ob != NULL && oa->t == ob->t);
    free(p);
    sc_optimizer_free(oa);
    sc_optimizer_free(ob);
    sc_net_free(a);
    sc_net_free(b);
}

/* tests/data/ckpt_v2.scc is tests/data/fuzz_seed_ckpt/adam.sck as the
 * library wrote it in checkpoint format 2 (layer table version 1, at
 * 6ee56b2): the two load to the same net, parameters and optimizer. */
START_TEST(test_checkpoint_v2_loads)
{
    same_as_current("ckpt_v2.scc", "fuzz_seed_ckpt/adam.sck");
}
END_TEST

/* tests/data/ckpt_v3.scc is the same in checkpoint format 3 (no loss
 * record, at 52d7986). */
START_TEST(test_checkpoint_v3_loads)
{
    same_as_current("ckpt_v3.scc", "fuzz_seed_ckpt/adam.sck");
}
END_TEST

/* tests/data/ckpt_v4.scc is the same in checkpoint format 4 (no size
 * budget record, at 30b5766): no budget, bit depths learning. */
START_TEST(test_checkpoint_v4_loads)
{
    same_as_current("ckpt_v4.scc", "fuzz_seed_ckpt/adam.sck");
    char path[4096];
    const char *root = getenv("SC_ROOT");
    snprintf(path, sizeof path, "%s/tests/data/ckpt_v4.scc", root && *root ? root : ".");
    sc_net *net;
    sc_optimizer *opt;
    char u[8];
    size_t ul;
    TU_OK(sc_checkpoint_load(path, &net, &opt, u, sizeof u, &ul));
    double v;
    TU_OK(sc_net_get_param(net, SC_PARAM_BUDGET_BITS_PCT, &v));
    ck_assert(v == 0.0);
    TU_OK(sc_net_get_param(net, SC_PARAM_BUDGET_EVERY, &v));
    ck_assert(v == 20.0);
    TU_OK(sc_net_get_param(net, SC_PARAM_QUANT_BITS_FROZEN, &v));
    ck_assert(v == 0.0);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* The loss setting survives a save and load: each kind, and the weights
 * and smoothing of softmax cross-entropy. */
START_TEST(test_loss_setting_kept)
{
    tu_make_tmpdir("sc_test_ckpt_loss");
    sc_net *net = make_net(3);
    int k = sc_net_output_size(net);
    float w[64];
    ck_assert_int_le(k, 64);
    for (int c = 0; c < k; c++)
        w[c] = 0.25f * (float)(c + 1);
    for (int kind = 0; kind <= SC_LOSS_HOST; kind++) {
        sc_loss_desc d = SC_LOSS_DESC_INIT((sc_loss)kind);
        if (kind == SC_LOSS_SOFTMAX_XENT) {
            d.class_weights = w;
            d.n_class_weights = k;
            d.label_smoothing = 0.3f;
        }
        TU_OK(sc_net_set_loss(net, &d));
        TU_OK(sc_checkpoint_save(net, NULL, NULL, 0, tu_path("ck")));
        sc_net *back;
        sc_optimizer *ob;
        TU_OK(sc_checkpoint_load(tu_path("ck"), &back, &ob, NULL, 0, NULL));
        sc_loss_desc got = SC_LOSS_DESC_INIT(SC_LOSS_SOFTMAX_XENT);
        TU_OK(sc_net_get_loss(back, &got));
        ck_assert_int_eq(got.kind, kind);
        ck_assert_float_eq(got.label_smoothing, d.label_smoothing);
        ck_assert_int_eq(got.n_class_weights, d.n_class_weights);
        if (d.class_weights)
            ck_assert(memcmp(got.class_weights, w, (size_t)k * sizeof *w) == 0);
        else
            ck_assert_ptr_null(got.class_weights);
        ck_assert_ptr_null(ob);
        sc_net_free(back);
    }
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

START_TEST(test_errors)
{
    tu_make_tmpdir("sc_test_ckpt");
    sc_net *net = make_net(3), *other = make_net(4);
    sc_optimizer *opt = make_opt(net);
    char user[40] = "the caller's own bytes";
    TU_FAILS(sc_checkpoint_save(NULL, opt, user, 4, tu_path("ck")), SC_ERR_NULL);
    TU_FAILS(sc_checkpoint_save(net, opt, user, 4, NULL), SC_ERR_NULL);
    TU_FAILS(sc_checkpoint_save(net, opt, NULL, 4, tu_path("ck")), SC_ERR_NULL);
    TU_FAILS(sc_checkpoint_save(other, opt, user, 4, tu_path("ck")), SC_ERR_ARG);
    TU_FAILS(sc_checkpoint_save(net, opt, user, 4, tu_path("no/dir/ck")), SC_ERR_IO);
    ck_assert_int_eq(access(tu_path("ck"), F_OK), -1);
    TU_OK(sc_checkpoint_save(net, opt, user, sizeof user, tu_path("ck")));
    /* user_cap too small */
    sc_net *n = NET_SENTINEL;
    sc_optimizer *o = OPT_SENTINEL;
    char small[39];
    size_t ulen = 7;
    TU_FAILS(sc_checkpoint_load(tu_path("ck"), &n, &o, small, sizeof small, &ulen), SC_ERR_ARG);
    ck_assert(n == NET_SENTINEL && o == OPT_SENTINEL && ulen == 7);
    TU_FAILS(sc_checkpoint_load(tu_path("ck"), &n, &o, NULL, 0, &ulen), SC_ERR_ARG);
    TU_FAILS(sc_checkpoint_load(tu_path("ck"), &n, &o, NULL, 8, &ulen), SC_ERR_NULL);
    TU_FAILS(sc_checkpoint_load(NULL, &n, &o, small, 1, NULL), SC_ERR_NULL);
    TU_FAILS(sc_checkpoint_load(tu_path("ck"), NULL, &o, small, 1, NULL), SC_ERR_NULL);
    TU_FAILS(sc_checkpoint_load(tu_path("ck"), &n, NULL, small, 1, NULL), SC_ERR_NULL);
    ck_assert(n == NET_SENTINEL && o == OPT_SENTINEL);
    /* exactly big enough; user_len may be NULL */
    char back[40];
    TU_OK(sc_checkpoint_load(tu_path("ck"), &n, &o, back, sizeof back, NULL));
    ck_assert(memcmp(back, user, sizeof user) == 0);
    sc_optimizer_free(o);
    sc_net_free(n);
    /* missing file, a directory, a model file */
    load_fails(tu_path("missing"), SC_ERR_IO, 0);
    load_fails(tu_tmpdir(), SC_ERR_IO, 0);
    TU_OK(sc_net_save(net, tu_path("m.scm"), NULL));
    load_fails(tu_path("m.scm"), SC_ERR_FORMAT, 0);
    sc_model *m = (sc_model *)(uintptr_t)0x55;
    TU_FAILS(sc_model_load(&m, tu_path("ck")), SC_ERR_FORMAT);
    ck_assert(m == (sc_model *)(uintptr_t)0x55);
    /* an unknown version with a valid CRC */
    size_t len;
    unsigned char *d = tu_read_all(tu_path("ck"), &len);
    d[8] = 6;
    tu_reseal(d, len);
    tu_write_all(tu_path("v6"), d, len);
    load_fails(tu_path("v6"), SC_ERR_FORMAT, 0);
    free(d);
    sc_optimizer_free(opt);
    sc_net_free(net);
    sc_net_free(other);
    tu_remove_tmpdir();
}
END_TEST

/* A FIFO, a device and a directory are refused at once with SC_ERR_IO by
 * both loaders (a blocking open of a FIFO with no writer would wait
 * forever: the alarm turns a hang into a failed test). */
START_TEST(test_special_files_fail_at_once)
{
    tu_make_tmpdir("sc_test_ckpt");
    ck_assert_int_eq(mkfifo(tu_path("fifo"), 0600), 0);
    const char *paths[3] = {tu_path("fifo"), "/dev/zero", tu_tmpdir()};
    alarm(10);
    for (int i = 0; i < 3; i++) {
        load_fails(paths[i], SC_ERR_IO, i);
        sc_model *m = (sc_model *)(uintptr_t)0x55;
        TU_FAILS(sc_model_load(&m, paths[i]), SC_ERR_IO);
        ck_assert(m == (sc_model *)(uintptr_t)0x55);
    }
    alarm(0);
    tu_remove_tmpdir();
}
END_TEST

static int exists(const char *name) { return access(tu_path(name), F_OK) == 0; }

/* A successful save of a path removes the temporary files of that path
 * left by processes that no longer exist, and nothing else: not a live
 * process's (this one's, its parent's), not another path's, not a name
 * that only looks similar. */
START_TEST(test_save_removes_dead_processes_temporaries)
{
    tu_make_tmpdir("sc_test_ckpt");
    pid_t dead = fork();
    ck_assert_int_ge(dead, 0);
    if (dead == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
    char names[8][64];
    snprintf(names[0], 64, "ck.tmp.%ld.0", (long)dead);
    snprintf(names[1], 64, "ck.tmp.%ld.123", (long)dead);
    snprintf(names[2], 64, "ck.tmp.%ld.5", (long)getpid());
    snprintf(names[3], 64, "ck.tmp.%ld.1", (long)getppid());
    snprintf(names[4], 64, "other.tmp.%ld.0", (long)dead);
    snprintf(names[5], 64, "ck.tmp.%ld.0x", (long)dead);
    snprintf(names[6], 64, "ck.tmp.%ld", (long)dead);
    snprintf(names[7], 64, "xck.tmp.%ld.0", (long)dead);
    for (int i = 0; i < 8; i++)
        tu_write_all(tu_path(names[i]), "junk", 4);
    sc_net *net = make_net(3);
    sc_optimizer *opt = make_opt(net);
    TU_OK(sc_checkpoint_save(net, opt, NULL, 0, tu_path("ck")));
    for (int i = 0; i < 8; i++)
        ck_assert_msg(exists(names[i]) == (i >= 2), "%s %s", names[i],
                      i >= 2 ? "was removed" : "is still there");
    /* a model save of the same folder cleans its own path only */
    snprintf(names[0], 64, "m.scm.tmp.%ld.7", (long)dead);
    tu_write_all(tu_path(names[0]), "junk", 4);
    TU_OK(sc_net_save(net, tu_path("m.scm"), NULL));
    ck_assert(!exists(names[0]) && exists(names[2]) && exists(names[4]));
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* A small net's checkpoint: every byte flipped (xor 0xFF, +1) and every
 * truncation is rejected, with no change to the outputs. */
START_TEST(test_corruption_and_truncation_rejected)
{
    tu_make_tmpdir("sc_test_ckpt");
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 1, 4, 4));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 2, 3, 3, 1, 0, SC_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    TU_OK(sc_checkpoint_save(net, opt, "user", 4, tu_path("ck")));
    size_t n;
    unsigned char *d = tu_read_all(tu_path("ck"), &n);
    ck_assert_uint_lt(n, 4000);
    unsigned char *c = malloc(n);
    ck_assert_ptr_nonnull(c);
    /* every offset for a file this small */
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            memcpy(c, d, n);
            c[i] = k ? (unsigned char)(c[i] + 1) : (unsigned char)(c[i] ^ 0xFF);
            tu_write_all(tu_path("bad"), c, n);
            load_fails(tu_path("bad"), SC_ERR_FORMAT, (long)i);
        }
    for (size_t len = 0; len < n; len++) {
        tu_write_all(tu_path("bad"), d, len);
        load_fails(tu_path("bad"), SC_ERR_FORMAT, (long)len);
        if (len >= 24 && len % 3 == 0) { /* resealed cuts: a valid CRC */
            memcpy(c, d, len);
            tu_reseal(c, len);
            tu_write_all(tu_path("bad"), c, len);
            load_fails(tu_path("bad"), SC_ERR_FORMAT, (long)len);
        }
    }
    /* hostile with a valid CRC: optimizer kind, a NaN parameter, a
     * training flag of 2, the user length */
    size_t ofs_opt = n - 4 - 4 - 8; /* ... u64 user_len, 4 user bytes, CRC */
    memcpy(c, d, n);
    c[ofs_opt] = 7; /* user_len low byte */
    tu_reseal(c, n);
    tu_write_all(tu_path("bad"), c, n);
    load_fails(tu_path("bad"), SC_ERR_FORMAT, -1);
    free(c);
    free(d);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* ---- crash safety ------------------------------------------------------- */

typedef struct state {
    sc_net *net;
    sc_optimizer *opt;
    char user[16];
    float *params;
    size_t np;
} state;

static void make_state(state *s, uint64_t seed, int compressed, const char *tag)
{
    s->net = make_net(seed);
    if (compressed) {
        kill_channels(s->net, 1, 0, 2);
        TU_OK(sc_net_compress(s->net, NULL));
    }
    s->opt = make_opt(s->net);
    memset(s->user, 0, sizeof s->user);
    strcpy(s->user, tag);
    s->params = tu_params(s->net, &s->np);
}

static void free_state(state *s)
{
    free(s->params);
    sc_optimizer_free(s->opt);
    sc_net_free(s->net);
}

/* 0 or 1: which of the two states the file holds; -1: neither. */
static int which(const char *path, const state *st)
{
    sc_net *n = NULL;
    sc_optimizer *o = NULL;
    char user[16];
    size_t ulen = 0;
    sc_status s = sc_checkpoint_load(path, &n, &o, user, sizeof user, &ulen);
    ck_assert_msg(s == SC_OK, "the checkpoint after SIGKILL does not load: %s",
                  sc_last_error());
    int k = -1;
    for (int i = 0; i < 2; i++)
        if (ulen == sizeof user && memcmp(user, st[i].user, sizeof user) == 0 &&
            sc_net_param_count(n) == st[i].np && tu_params_equal(n, st[i].params, st[i].np) &&
            o != NULL && sc_optimizer_steps(o) == 0)
            k = i;
    sc_optimizer_free(o);
    sc_net_free(n);
    return k;
}

static int count_temps(const char *prefix)
{
    DIR *dir = opendir(tu_tmpdir());
    ck_assert_ptr_nonnull(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dir)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(dir);
    return n;
}

/* A child saves two different states in turn over the same path until it
 * is killed (SIGKILL) at a random moment; the file then always loads and
 * is one of the two complete states. Temporary files a kill leaves behind
 * (path.tmp.*) are removed by the next successful save. */
START_TEST(test_sigkill_never_leaves_a_partial_file)
{
    tu_make_tmpdir("sc_test_ckpt");
    state st[2];
    make_state(&st[0], 11, 0, "state A");
    make_state(&st[1], 12, 1, "state B");
    ck_assert_uint_ne(st[0].np, st[1].np);
    const char *path = tu_path("ck");
    TU_OK(sc_checkpoint_save(st[0].net, st[0].opt, st[0].user, sizeof st[0].user, path));
    ck_assert_int_eq(which(path, st), 0);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int seen[2] = {0, 0};
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            for (unsigned i = (unsigned)round;; i++) {
                const state *s = &st[i & 1];
                if (sc_checkpoint_save(s->net, s->opt, s->user, sizeof s->user, path) != SC_OK)
                    _exit(2);
            }
        }
        struct timespec ts = {0, (long)(1 + rand() % 40) * 1000000L};
        nanosleep(&ts, NULL);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "the saving child ended by itself (status 0x%x)", status);
        int k = which(path, st);
        ck_assert_msg(k >= 0, "round %d: the file is neither state", round);
        seen[k]++;
    }
    /* count what the kills left behind; one save removes it all */
    int leftovers = count_temps("ck.tmp.");
    TU_OK(sc_checkpoint_save(st[0].net, st[0].opt, st[0].user, sizeof st[0].user, path));
    ck_assert_int_eq(count_temps("ck.tmp."), 0);
    fprintf(stderr, "sigkill test: states seen A %d, B %d; %d temporary files left by kills, "
            "removed by the next save\n", seen[0], seen[1], leftovers);
    free_state(&st[0]);
    free_state(&st[1]);
    tu_remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_resume_equals_uninterrupted);
    tcase_add_test(tc, test_no_optimizer_no_user_data);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_checkpoint_v2_loads);
    tcase_add_test(tc, test_checkpoint_v3_loads);
    tcase_add_test(tc, test_checkpoint_v4_loads);
    tcase_add_test(tc, test_loss_setting_kept);
    tcase_add_test(tc, test_loaders_refuse_what_setters_refuse);
    tcase_add_test(tc, test_step_count_cannot_wrap);
    tcase_add_test(tc, test_n0_must_match_the_graph);
    tcase_add_test(tc, test_special_files_fail_at_once);
    tcase_add_test(tc, test_save_removes_dead_processes_temporaries);
    tcase_add_test(tc, test_corruption_and_truncation_rejected);
    tcase_add_test(tc, test_sigkill_never_leaves_a_partial_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_ENV); }
