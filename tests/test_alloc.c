/* test_alloc.c -- allocation failure: for every k, the k-th allocation of a
 * call fails; the call returns SC_ERR_NOMEM (or SC_OK once k is past its
 * allocations), leaves the state as it was (parameters, running
 * statistics, optimizer state: a checkpoint saved before and after is
 * byte-identical; eval outputs; an existing file at a save's path) and
 * leaks nothing. A steady-state train step allocates nothing at all.
 *
 * The Makefile links this program with -Wl,--wrap=malloc,calloc,realloc,
 * aligned_alloc,free: the library's (and this file's) calls go to the
 * __wrap_ functions below, which count live blocks and fail on demand. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selfcompress.h"
#include "util/testutil.h"

/* ---- the interposed allocator ------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void __real_free(void *p);

static long live;    /* blocks allocated through the wrappers, not freed */
static long calls;   /* allocations since arm() */
static long fail_at; /* 0: none fails; else the fail_at-th after arm() */

static int should_fail(void)
{
    calls++;
    return fail_at != 0 && calls == fail_at;
}

static void *counted(void *p)
{
    if (p)
        live++;
    return p;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : counted(__real_malloc(n));
}

void *__wrap_calloc(size_t k, size_t n)
{
    return should_fail() ? NULL : counted(__real_calloc(k, n));
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
    return should_fail() ? NULL : counted(__real_aligned_alloc(a, n));
}

void *__wrap_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    if (p == NULL)
        return counted(__real_realloc(NULL, n));
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    if (p)
        live--;
    __real_free(p);
}

static void arm(long k)
{
    calls = 0;
    fail_at = k;
}

/* allocations made since arm(); none fails afterwards */
static long disarm(void)
{
    fail_at = 0;
    return calls;
}

/* ---- nets and their state ------------------------------------------------ */

enum { C = 2, H = 6, W = 6, K = 4, N = 8 };

static sc_net *make_net(void)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, C, H, W));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_conv2d(net, id, 4, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_maxpool(net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, K, SC_BIAS, &id));
    return net;
}

static sc_net *make_init_net(int quantize)
{
    sc_net *net = make_net();
    TU_OK(sc_net_init(net, 7));
    if (quantize) {
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.05));
    }
    return net;
}

/* The whole training state as a checkpoint's bytes. */
static unsigned char *state_bytes(const sc_net *net, const sc_optimizer *opt,
                                  size_t *n)
{
    const char *p = tu_path("state.ckpt");
    TU_OK(sc_checkpoint_save(net, opt, "u", 1, p));
    unsigned char *d = tu_read_all(p, n);
    unlink(p);
    return d;
}

typedef struct snapshot {
    unsigned char *ckpt;
    size_t n_ckpt;
    float *out;
    int layers;
} snapshot;

static snapshot take(sc_net *net, const sc_optimizer *opt, const tu_batch *b)
{
    snapshot s;
    s.ckpt = state_bytes(net, opt, &s.n_ckpt);
    s.out = tu_eval_out(net, b);
    s.layers = sc_net_layer_count(net);
    return s;
}

static void assert_same(sc_net *net, const sc_optimizer *opt,
                        const tu_batch *b, const snapshot *s, long k)
{
    snapshot now = take(net, opt, b);
    ck_assert_msg(now.n_ckpt == s->n_ckpt &&
                      memcmp(now.ckpt, s->ckpt, s->n_ckpt) == 0,
                  "failure at allocation %ld changed the state", k);
    ck_assert_msg(memcmp(now.out, s->out, (size_t)N * K * sizeof(float)) == 0,
                  "failure at allocation %ld changed the outputs", k);
    ck_assert_int_eq(now.layers, s->layers);
    free(now.ckpt);
    free(now.out);
}

static void drop(snapshot *s)
{
    free(s->ckpt);
    free(s->out);
}

/* Checks one armed call's outcome; returns 1 when it succeeded without
 * reaching allocation k (the sweep is over). */
static int outcome(const char *what, long k, sc_status st, long made)
{
    if (made < k) {
        ck_assert_msg(st == SC_OK, "%s: %d (%s) with no failed allocation",
                      what, (int)st, sc_last_error());
        return 1;
    }
    ck_assert_msg(st == SC_ERR_NOMEM, "%s: allocation %ld failed: got %d (%s)",
                  what, k, (int)st, sc_last_error());
    ck_assert(sc_last_error()[0] != '\0');
    return 0;
}

/* leaked: live - before, taken right after the call (Check, linked
 * statically, allocates and frees in every passing assertion) */
static void assert_no_leak(long leaked, const char *what, long k)
{
    ck_assert_msg(leaked == 0, "%s: %ld blocks leaked at failure %ld", what,
                  leaked, k);
}

/* ---- the calls ---------------------------------------------------------- */

START_TEST(test_create)
{
    for (long k = 1;; k++) {
        long before = live;
        sc_net *net = NULL;
        arm(k);
        sc_status st = sc_net_create(&net, C, H, W);
        long made = disarm(), leaked = live - before;
        int done = outcome("sc_net_create", k, st, made);
        if (!done) {
            ck_assert_ptr_null(net);
            assert_no_leak(leaked, "sc_net_create", k);
        }
        sc_net_free(net);
        if (done)
            break;
    }
}
END_TEST

/* every builder, appended to a net that has each layer kind before it */
static sc_status build(sc_net *net, int which, int *id)
{
    int last = 5; /* the second relu: 4 x 6 x 6 */
    switch (which) {
    case 0: return sc_net_conv2d(net, last, 3, 3, 3, 1, 1, SC_BIAS, id);
    case 1: return sc_net_batchnorm(net, last, SC_BN_AFFINE, id);
    case 2: return sc_net_relu(net, last, id);
    case 3: return sc_net_maxpool(net, last, 2, 1, id);
    case 4: return sc_net_global_avgpool(net, last, id);
    case 5: return sc_net_global_maxpool(net, last, id);
    case 6: return sc_net_flatten(net, last, id);
    case 7: return sc_net_add(net, last, last, id);
    default: return sc_net_dense(net, last, 3, SC_BIAS, id);
    }
}

START_TEST(test_builders)
{
    for (int which = 0; which < 9; which++)
        for (long k = 1;; k++) {
            sc_net *net = make_net();
            int layers = sc_net_layer_count(net), id = -1;
            long before = live;
            arm(k);
            sc_status st = build(net, which, &id);
            long made = disarm(), leaked = live - before;
            int done = outcome("builder", k, st, made);
            if (!done) {
                ck_assert_int_eq(sc_net_layer_count(net), layers);
                ck_assert_int_eq(id, -1);
                assert_no_leak(leaked, "builder", k);
                /* the net still builds and runs */
                TU_OK(build(net, which, &id));
            }
            TU_OK(sc_net_init(net, 1));
            sc_net_free(net);
            if (done)
                break;
        }
}
END_TEST

START_TEST(test_init)
{
    sc_net *ref = make_init_net(0);
    size_t n_ref;
    float *p_ref = tu_params(ref, &n_ref);
    sc_net_free(ref);
    for (long k = 1;; k++) {
        sc_net *net = make_net();
        long before = live;
        arm(k);
        sc_status st = sc_net_init(net, 7);
        long made = disarm(), leaked = live - before;
        int done = outcome("sc_net_init", k, st, made);
        if (!done) {
            ck_assert_uint_eq(sc_net_param_count(net), 0);
            assert_no_leak(leaked, "sc_net_init", k);
            TU_OK(sc_net_init(net, 7));
        }
        ck_assert(tu_params_equal(net, p_ref, n_ref));
        sc_net_free(net);
        if (done)
            break;
    }
    free(p_ref);
}
END_TEST

/* Runs op on a fresh net (and optimizer, when with_opt) from setup, for
 * every k; checks the outcome, the state and the live blocks. */
typedef sc_status (*net_op)(sc_net *net, sc_optimizer *opt);

static void sweep_net_op(const char *what, int quantize, int with_opt,
                         void (*setup)(sc_net *, sc_optimizer *), net_op op)
{
    tu_make_tmpdir("sc_test_alloc");
    tu_batch b = tu_batch_make(N, C, H, W, K, 3);
    for (long k = 1;; k++) {
        sc_net *net = make_init_net(quantize);
        sc_optimizer *opt = NULL;
        if (with_opt)
            TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
        TU_OK(sc_net_set_threads(net, 1));
        if (setup)
            setup(net, opt);
        snapshot s = take(net, opt, &b);
        long before = live;
        arm(k);
        sc_status st = op(net, opt);
        long made = disarm(), leaked = live - before;
        int done = outcome(what, k, st, made);
        if (!done) {
            assert_no_leak(leaked, what, k);
            assert_same(net, opt, &b, &s, k);
            /* and the call works once memory is there */
            TU_OK(op(net, opt));
        }
        drop(&s);
        sc_optimizer_free(opt);
        sc_net_free(net);
        if (done)
            break;
    }
    tu_batch_free(&b);
    tu_remove_tmpdir();
}

static sc_status op_quantize(sc_net *net, sc_optimizer *opt)
{
    (void)opt;
    return sc_net_quantize(net, SC_ALL_LAYERS);
}

START_TEST(test_quantize)
{
    sweep_net_op("sc_net_quantize", 0, 1, NULL, op_quantize);
}
END_TEST

/* kills channels 0 and 2 of the first conv (layer 1) and 1 of the second
 * (layer 4), so compress removes some */
static void kill_some(sc_net *net, sc_optimizer *opt)
{
    (void)opt;
    float bits[4];
    TU_OK(sc_net_get_quant(net, 1, bits, NULL, 4));
    bits[0] = bits[2] = -1.0f;
    TU_OK(sc_net_set_quant(net, 1, bits, NULL, 4));
    TU_OK(sc_net_get_quant(net, 4, bits, NULL, 4));
    bits[1] = -1.0f;
    TU_OK(sc_net_set_quant(net, 4, bits, NULL, 4));
}

static int removed;

static sc_status op_compress(sc_net *net, sc_optimizer *opt)
{
    (void)opt;
    removed = -1;
    return sc_net_compress(net, &removed);
}

START_TEST(test_compress)
{
    sweep_net_op("sc_net_compress", 1, 1, kill_some, op_compress);
    ck_assert_int_eq(removed, 3);
}
END_TEST

static tu_batch train_batch;

static sc_status op_train(sc_net *net, sc_optimizer *opt)
{
    sc_step_stats stats = SC_STEP_STATS_INIT;
    return sc_net_train_step(net, opt, train_batch.x, train_batch.labels,
                             &stats);
}

static void one_step(sc_net *net, sc_optimizer *opt)
{
    TU_OK(op_train(net, opt));
}

/* no Check assertion while armed: they allocate */
static sc_optimizer *made_opt;

START_TEST(test_train_first_step)
{
    train_batch = tu_batch_make(N, C, H, W, K, 5);
    sweep_net_op("sc_net_train_step (first)", 1, 1, NULL, op_train);
    tu_batch_free(&train_batch);
}
END_TEST

/* A later step on the same batch size plans nothing and allocates
 * nothing; with the automatic compress, the step that compresses may. */
START_TEST(test_train_steady_state)
{
    tu_make_tmpdir("sc_test_alloc");
    train_batch = tu_batch_make(N, C, H, W, K, 5);
    sc_net *net = make_init_net(1);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    one_step(net, opt);
    for (int i = 0; i < 3; i++) {
        arm(0);
        sc_status st = op_train(net, opt);
        long made = disarm();
        TU_OK(st);
        ck_assert_int_eq(made, 0);
    }
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_batch_free(&train_batch);
    tu_remove_tmpdir();
}
END_TEST

/* a trained step, then compress: the next step plans again */
static void step_compressed(sc_net *net, sc_optimizer *opt)
{
    one_step(net, opt);
    kill_some(net, opt);
    TU_OK(op_compress(net, opt));
}

START_TEST(test_train_later_step_after_compress)
{
    /* a step after compress re-plans the smaller net: its failures too */
    train_batch = tu_batch_make(N, C, H, W, K, 5);
    sweep_net_op("sc_net_train_step (after compress)", 1, 1, step_compressed,
                 op_train);
    tu_batch_free(&train_batch);
}
END_TEST

static void drop_made_opt(sc_net *net, sc_optimizer *opt)
{
    (void)net;
    (void)opt;
    sc_optimizer_free(made_opt);
    made_opt = NULL;
}

static sc_status op_optimizer(sc_net *net, sc_optimizer *opt)
{
    (void)opt;
    sc_status st = sc_optimizer_create(&made_opt, net, SC_OPT_SGD);
    if (st != SC_OK && made_opt != NULL)
        st = SC_ERR_STATE; /* *out written on failure */
    return st;
}

START_TEST(test_optimizer_create)
{
    sweep_net_op("sc_optimizer_create", 1, 0, drop_made_opt, op_optimizer);
    sc_optimizer_free(made_opt);
    made_opt = NULL;
}
END_TEST

/* ---- saves: the old file at the path stays; no temporary is left ---- */

static int dir_entries(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", tu_tmpdir());
    return system(cmd) == 0 ? 1 : 0;
}

static void sweep_save(int checkpoint)
{
    const char *what = checkpoint ? "sc_checkpoint_save" : "sc_net_save";
    tu_make_tmpdir("sc_test_alloc");
    sc_net *old = make_init_net(1);
    sc_net *net = make_init_net(1);
    size_t np; /* a different net: halved parameters */
    float *p = tu_params(net, &np);
    for (size_t i = 0; i < np; i++)
        p[i] *= 0.5f;
    TU_OK(sc_net_set_params(net, p, np));
    free(p);
    const char *path = tu_path("file");
    char keep[192];
    strcpy(keep, path);
    for (long k = 1;; k++) {
        if (checkpoint)
            TU_OK(sc_checkpoint_save(old, NULL, NULL, 0, keep));
        else
            TU_OK(sc_net_save(old, keep, NULL));
        size_t n_old;
        unsigned char *d_old = tu_read_all(keep, &n_old);
        long before = live;
        arm(k);
        sc_status st = checkpoint ? sc_checkpoint_save(net, NULL, NULL, 0, keep)
                                  : sc_net_save(net, keep, NULL);
        long made = disarm(), leaked = live - before;
        int done = outcome(what, k, st, made);
        if (!done)
            assert_no_leak(leaked, what, k);
        ck_assert_msg(dir_entries(), "%s: a temporary file was left", what);
        size_t n_now;
        unsigned char *d_now = tu_read_all(keep, &n_now);
        int same = n_now == n_old && memcmp(d_now, d_old, n_old) == 0;
        ck_assert_msg(done ? !same : same, "%s: file at failure %ld", what, k);
        free(d_now);
        free(d_old);
        if (done)
            break;
    }
    sc_net_free(old);
    sc_net_free(net);
    tu_remove_tmpdir();
}

START_TEST(test_net_save) { sweep_save(0); }
END_TEST

START_TEST(test_checkpoint_save) { sweep_save(1); }
END_TEST

/* ---- loads: *out untouched, nothing leaked ---- */

START_TEST(test_model_load)
{
    tu_make_tmpdir("sc_test_alloc");
    sc_net *net = make_init_net(1);
    const char *path = tu_path("m.scm");
    TU_OK(sc_net_save(net, path, NULL));
    sc_net_free(net);
    size_t n;
    unsigned char *d = tu_read_all(path, &n);
    for (int from_memory = 0; from_memory < 2; from_memory++)
        for (long k = 1;; k++) {
            sc_model *m = NULL;
            long before = live;
            arm(k);
            sc_status st = from_memory ? sc_model_load_memory(&m, d, n)
                                       : sc_model_load(&m, path);
            long made = disarm(), leaked = live - before;
            int done = outcome("sc_model_load", k, st, made);
            if (!done) {
                ck_assert_ptr_null(m);
                assert_no_leak(leaked, "sc_model_load", k);
            }
            sc_model_free(m);
            if (done)
                break;
        }
    free(d);
    tu_remove_tmpdir();
}
END_TEST

START_TEST(test_checkpoint_load)
{
    tu_make_tmpdir("sc_test_alloc");
    train_batch = tu_batch_make(N, C, H, W, K, 5);
    sc_net *net = make_init_net(1);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    one_step(net, opt);
    const char *path = tu_path("c.ckpt");
    TU_OK(sc_checkpoint_save(net, opt, "user", 4, path));
    sc_optimizer_free(opt);
    sc_net_free(net);
    for (long k = 1;; k++) {
        sc_net *n2 = NULL;
        sc_optimizer *o2 = NULL;
        char user[8] = {0};
        size_t ulen = 99;
        long before = live;
        arm(k);
        sc_status st = sc_checkpoint_load(path, &n2, &o2, user, sizeof user, &ulen);
        long made = disarm(), leaked = live - before;
        int done = outcome("sc_checkpoint_load", k, st, made);
        if (!done) {
            ck_assert_ptr_null(n2);
            ck_assert_ptr_null(o2);
            assert_no_leak(leaked, "sc_checkpoint_load", k);
        } else {
            ck_assert_uint_eq(ulen, 4);
        }
        sc_optimizer_free(o2);
        sc_net_free(n2);
        if (done)
            break;
    }
    tu_batch_free(&train_batch);
    tu_remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_builders);
    tcase_add_test(tc, test_init);
    tcase_add_test(tc, test_quantize);
    tcase_add_test(tc, test_compress);
    tcase_add_test(tc, test_train_first_step);
    tcase_add_test(tc, test_train_steady_state);
    tcase_add_test(tc, test_train_later_step_after_compress);
    tcase_add_test(tc, test_optimizer_create);
    tcase_add_test(tc, test_net_save);
    tcase_add_test(tc, test_checkpoint_save);
    tcase_add_test(tc, test_model_load);
    tcase_add_test(tc, test_checkpoint_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
