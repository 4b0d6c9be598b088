/* test_progress.c -- the progress and log hooks: records fire on the right
 * steps with the figures sc_step_stats and sc_net_size_report give, epochs
 * are the host's, compress logs what it removed, nothing fires unset, and
 * hooks never change what training computes. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfcompress.h"
#include "util/testutil.h"

#define N 16      /* batch */
#define K 3       /* classes */
#define MAXREC 64

typedef struct fixture {
    sc_net *net;
    sc_optimizer *opt;
    float data[N * 1 * 8 * 8];
    int32_t labels[N];
    sc_tensor *x;
} fixture;

static void setup(fixture *f, uint64_t seed)
{
    int id;
    TU_OK(sc_net_create(&f->net, 1, 8, 8));
    TU_OK(sc_net_conv2d(f->net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_relu(f->net, id, &id));
    TU_OK(sc_net_maxpool(f->net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(f->net, id, &id));
    TU_OK(sc_net_dense(f->net, id, K, SC_BIAS, &id));
    TU_OK(sc_net_init(f->net, seed));
    TU_OK(sc_net_quantize(f->net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_param(f->net, SC_PARAM_GAMMA, 0.01));
    TU_OK(sc_optimizer_create(&f->opt, f->net, SC_OPT_ADAM));
    tu_lcg r;
    tu_lcg_seed(&r, seed + 1);
    tu_fill(&r, f->data, sizeof f->data / sizeof f->data[0], -1.0, 1.0);
    tu_labels(&r, f->labels, N, K);
    int64_t shape[4] = {N, 1, 8, 8};
    TU_OK(sc_tensor_wrap(&f->x, 4, shape, f->data));
}

static void teardown(fixture *f)
{
    sc_tensor_free(f->x);
    sc_optimizer_free(f->opt);
    sc_net_free(f->net);
}

/* What the callbacks saw. */
typedef struct seen {
    int count;
    sc_progress rec[MAXREC];
    double inner_bits_pct[MAXREC]; /* size report made inside the callback */
    sc_net *net;
} seen;

static void on_progress(const sc_progress *p, void *user)
{
    seen *s = user;
    ck_assert_int_lt(s->count, MAXREC);
    ck_assert_uint_eq(p->size, sizeof(sc_progress));
    s->rec[s->count] = *p;
    sc_size_report r = SC_SIZE_REPORT_INIT;
    ck_assert_int_eq(sc_net_size_report(s->net, SC_ALL_LAYERS, &r), SC_OK);
    s->inner_bits_pct[s->count] = r.bits_pct;
    s->count++;
}

typedef struct logged {
    int count, warns, infos;
    char last[512];
} logged;

static void on_log(int level, const char *msg, void *user)
{
    logged *l = user;
    ck_assert_ptr_nonnull(msg);
    ck_assert(strchr(msg, '\n') == NULL);
    l->count++;
    l->warns += level == SC_LOG_WARN;
    l->infos += level == SC_LOG_INFO;
    strncpy(l->last, msg, sizeof l->last - 1);
    l->last[sizeof l->last - 1] = '\0';
}

START_TEST(test_step_records)
{
    fixture f;
    setup(&f, 7);
    seen s = {0};
    s.net = f.net;
    TU_OK(sc_net_set_progress(f.net, on_progress, &s, 3));
    sc_step_stats st[11];
    sc_size_report rep[11];
    for (int i = 1; i <= 10; i++) {
        st[i] = (sc_step_stats)SC_STEP_STATS_INIT;
        rep[i] = (sc_size_report)SC_SIZE_REPORT_INIT;
        int before = s.count;
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, &st[i]));
        TU_OK(sc_net_size_report(f.net, SC_ALL_LAYERS, &rep[i]));
        ck_assert_int_eq(s.count - before, i % 3 == 0);
    }
    ck_assert_int_eq(s.count, 3);
    for (int r = 0; r < 3; r++) {
        const sc_progress *p = &s.rec[r];
        int i = 3 * (r + 1);
        ck_assert_int_eq(p->kind, SC_PROGRESS_STEP);
        ck_assert_uint_eq(p->step, (uint64_t)i);
        ck_assert_int_eq(p->epoch, 0);
        ck_assert(p->loss == st[i].loss);
        ck_assert(p->task_loss == st[i].task_loss);
        ck_assert(p->size_loss == st[i].size_loss);
        ck_assert(p->accuracy == st[i].accuracy);
        ck_assert(p->bits_pct == rep[i].bits_pct);
        ck_assert(p->weights_pct == rep[i].weights_pct);
        ck_assert(p->bits_pct == s.inner_bits_pct[r]);
        ck_assert(p->bits_pct > 0.0 && p->bits_pct <= 25.0); /* 8 of 32 */
        ck_assert(isnan(p->test_accuracy));
        /* throughput over 3 steps of N images */
        ck_assert(p->seconds > 0.0);
        ck_assert(fabs(p->images_per_sec * p->seconds - 3.0 * N) < 1e-6);
    }
    /* Q goes down under the size loss, and the records show it */
    ck_assert(s.rec[2].size_loss < s.rec[0].size_loss);
    teardown(&f);
}
END_TEST

START_TEST(test_epoch_records)
{
    fixture f;
    setup(&f, 8);
    seen s = {0};
    s.net = f.net;
    TU_OK(sc_net_set_progress(f.net, on_progress, &s, 100));
    /* before any step: the figures are NaN, the size is the net's */
    TU_OK(sc_net_report_epoch(f.net, 0, 0.25));
    ck_assert_int_eq(s.count, 1);
    ck_assert(isnan(s.rec[0].loss) && isnan(s.rec[0].accuracy));
    ck_assert_uint_eq(s.rec[0].step, 0);
    ck_assert(s.rec[0].bits_pct == 100.0 * 5 / 32); /* every weight at b0 = 5 */
    ck_assert(s.rec[0].weights_pct == 100.0);
    sc_step_stats st = SC_STEP_STATS_INIT;
    for (int i = 0; i < 5; i++)
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, &st));
    TU_OK(sc_net_report_epoch(f.net, 1, 0.5));
    ck_assert_int_eq(s.count, 2);
    const sc_progress *p = &s.rec[1];
    ck_assert_int_eq(p->kind, SC_PROGRESS_EPOCH);
    ck_assert_int_eq(p->epoch, 1);
    ck_assert_uint_eq(p->step, 5);
    ck_assert(p->test_accuracy == 0.5);
    ck_assert(p->loss == st.loss && p->accuracy == st.accuracy);
    ck_assert(fabs(p->images_per_sec * p->seconds - 5.0 * N) < 1e-6);
    /* step records now say epoch 2 is running */
    TU_OK(sc_net_set_progress(f.net, on_progress, &s, 1));
    TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, &st));
    ck_assert_int_eq(s.count, 3);
    ck_assert_int_eq(s.rec[2].epoch, 2);
    ck_assert_uint_eq(s.rec[2].step, 6);
    teardown(&f);
}
END_TEST

START_TEST(test_unset_and_errors)
{
    fixture f;
    setup(&f, 9);
    seen s = {0};
    s.net = f.net;
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, &st));
    TU_OK(sc_net_report_epoch(f.net, 0, 1.0)); /* no hook: nothing */
    TU_OK(sc_net_set_progress(f.net, on_progress, &s, 1));
    TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, &st));
    ck_assert_int_eq(s.count, 1);
    TU_OK(sc_net_set_progress(f.net, NULL, NULL, 0)); /* removed */
    TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, &st));
    TU_OK(sc_net_report_epoch(f.net, 1, 1.0));
    ck_assert_int_eq(s.count, 1);
    TU_OK(sc_net_set_log(f.net, NULL, NULL));
    int removed = -1;
    TU_OK(sc_net_compress(f.net, &removed)); /* no hook: silent */

    TU_FAILS(sc_net_set_progress(NULL, on_progress, &s, 1), SC_ERR_NULL);
    TU_FAILS(sc_net_set_progress(f.net, on_progress, &s, 0), SC_ERR_ARG);
    TU_FAILS(sc_net_report_epoch(NULL, 0, 0.0), SC_ERR_NULL);
    TU_FAILS(sc_net_report_epoch(f.net, -1, 0.0), SC_ERR_ARG);
    TU_FAILS(sc_net_set_log(NULL, on_log, NULL), SC_ERR_NULL);
    ck_assert_int_eq(s.count, 1);
    teardown(&f);
}
END_TEST

START_TEST(test_log_compress_and_blas)
{
    fixture f;
    setup(&f, 10);
    logged l = {0};
    TU_OK(sc_net_set_log(f.net, on_log, &l));
    int want_warn = sc_blas_kernel_suboptimal();
    ck_assert_int_eq(l.warns, want_warn); /* once, when the hook is set */
    if (want_warn)
        ck_assert_ptr_nonnull(strstr(l.last, sc_blas_kernel()));
    TU_OK(sc_net_set_log(f.net, on_log, &l)); /* not again */
    ck_assert_int_eq(l.warns, want_warn);
    ck_assert_int_eq(l.count, want_warn);

    int removed = -1;
    TU_OK(sc_net_compress(f.net, &removed)); /* nothing dead: no message */
    ck_assert_int_eq(removed, 0);
    ck_assert_int_eq(l.count, want_warn);

    /* kill 2 of the conv's 4 channels */
    float b[4];
    TU_OK(sc_net_get_quant(f.net, 1, b, NULL, 4));
    b[1] = b[3] = -5.0f;
    TU_OK(sc_net_set_quant(f.net, 1, b, NULL, 4));
    size_t before = sc_net_param_count(f.net);
    TU_OK(sc_net_compress(f.net, &removed));
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(l.infos, 1);
    char want[128];
    snprintf(want, sizeof want, "compress: removed 2 channels, parameters "
             "%zu -> %zu", before, sc_net_param_count(f.net));
    ck_assert_str_eq(l.last, want);
    teardown(&f);
}
END_TEST

/* gamma > 0 on a net without a quantised layer: one warning, at the first
 * step; none on a quantised net. */
START_TEST(test_log_gamma_without_quantiser)
{
    for (int quant = 0; quant < 2; quant++) {
        sc_net *net;
        int id;
        TU_OK(sc_net_create(&net, 1, 8, 8));
        TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 3, 3, 1, 1, SC_BIAS, &id));
        TU_OK(sc_net_flatten(net, id, &id));
        TU_OK(sc_net_dense(net, id, K, SC_BIAS, &id));
        TU_OK(sc_net_init(net, 3));
        if (quant)
            TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.01));
        logged l = {0};
        TU_OK(sc_net_set_log(net, on_log, &l));
        int base = l.warns; /* the BLAS warning, if any */
        sc_optimizer *opt;
        TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
        tu_batch b = tu_batch_make(4, 1, 8, 8, K, 5);
        for (int s = 0; s < 3; s++)
            TU_OK(sc_net_train_step(net, opt, b.x, b.labels, NULL));
        ck_assert_int_eq(l.warns - base, quant ? 0 : 1);
        if (!quant)
            ck_assert_ptr_nonnull(strstr(l.last, "no layer is quantised"));
        tu_batch_free(&b);
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
}
END_TEST

/* Hooks observe: a net trained with them is bit-identical to one without. */
START_TEST(test_hooks_change_nothing)
{
    fixture a, b;
    setup(&a, 11);
    setup(&b, 11);
    seen s = {0};
    s.net = b.net;
    logged l = {0};
    TU_OK(sc_net_set_progress(b.net, on_progress, &s, 1));
    TU_OK(sc_net_set_log(b.net, on_log, &l));
    TU_OK(sc_net_set_param(a.net, SC_PARAM_COMPRESS_EVERY, 4));
    TU_OK(sc_net_set_param(b.net, SC_PARAM_COMPRESS_EVERY, 4));
    TU_OK(sc_net_set_param(a.net, SC_PARAM_GAMMA, 5.0));
    TU_OK(sc_net_set_param(b.net, SC_PARAM_GAMMA, 5.0));
    for (int i = 0; i < 12; i++) {
        sc_step_stats sa = SC_STEP_STATS_INIT, sb = SC_STEP_STATS_INIT;
        TU_OK(sc_net_train_step(a.net, a.opt, a.x, a.labels, &sa));
        TU_OK(sc_net_train_step(b.net, b.opt, b.x, b.labels, &sb));
        ck_assert(sa.loss == sb.loss);
    }
    ck_assert_int_eq(s.count, 12);
    size_t n;
    float *pa = tu_params(a.net, &n);
    ck_assert(tu_params_equal(b.net, pa, n));
    free(pa);
    teardown(&a);
    teardown(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("progress");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_step_records);
    tcase_add_test(tc, test_epoch_records);
    tcase_add_test(tc, test_unset_and_errors);
    tcase_add_test(tc, test_log_compress_and_blas);
    tcase_add_test(tc, test_log_gamma_without_quantiser);
    tcase_add_test(tc, test_hooks_change_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
