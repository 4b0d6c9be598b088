/* test_budget.c -- training to a size budget inside the library: the check
 * runs every SC_PARAM_BUDGET_EVERY steps, reaching the budget compresses the
 * net and freezes its bit depths (logged, and a progress record), the run
 * equals a host loop that does the same by hand, frozen bit depths stay put
 * while exponents learn, the settings are checked and kept in checkpoints. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "selfcompress.h"
#include "util/testutil.h"

#define N 16 /* batch */
#define K 3  /* classes */
#define EVERY 10

typedef struct fixture {
    sc_net *net;
    sc_optimizer *opt;
    float data[N * 1 * 8 * 8];
    int32_t labels[N];
    sc_tensor *x;
} fixture;

static void setup(fixture *f)
{
    int id;
    TU_OK(sc_net_create(&f->net, 1, 8, 8));
    TU_OK(sc_net_conv2d(f->net, SC_INPUT, 8, 3, 3, 1, 1, SC_BIAS, &id));
    TU_OK(sc_net_relu(f->net, id, &id));
    TU_OK(sc_net_maxpool(f->net, id, 2, 2, &id));
    TU_OK(sc_net_flatten(f->net, id, &id));
    TU_OK(sc_net_dense(f->net, id, K, SC_BIAS, &id));
    TU_OK(sc_net_init(f->net, 3));
    TU_OK(sc_net_quantize(f->net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_param(f->net, SC_PARAM_GAMMA, 0.01));
    TU_OK(sc_optimizer_create(&f->opt, f->net, SC_OPT_ADAM));
    tu_lcg r;
    tu_lcg_seed(&r, 11);
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

static double bits_pct(const sc_net *net)
{
    sc_size_report r = SC_SIZE_REPORT_INIT;
    TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r));
    return r.bits_pct;
}

static double frozen(const sc_net *net)
{
    double v;
    TU_OK(sc_net_get_param(net, SC_PARAM_QUANT_BITS_FROZEN, &v));
    return v;
}

/* A budget the fixture's net reaches: its bits % after 40 steps without one
 * (some channels dead by then, the rest still shrinking). */
static double reachable_bits(void)
{
    fixture f;
    setup(&f);
    for (int i = 0; i < 40; i++)
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
    double b = bits_pct(f.net);
    ck_assert(b > 0.0 && b < 15.0); /* below b0 = 5 of 32 bits */
    teardown(&f);
    return b;
}

typedef struct seen {
    int budget_records, infos;
    sc_progress rec;
    char msg[512];
} seen;

static void on_progress(const sc_progress *p, void *user)
{
    seen *s = user;
    if (p->kind == SC_PROGRESS_BUDGET) {
        s->budget_records++;
        s->rec = *p;
    }
}

static void on_log(int level, const char *msg, void *user)
{
    seen *s = user;
    if (level == SC_LOG_INFO && strstr(msg, "size budget reached")) {
        s->infos++;
        strncpy(s->msg, msg, sizeof s->msg - 1);
        s->msg[sizeof s->msg - 1] = '\0';
    }
}

START_TEST(test_budget_reached)
{
    double target = reachable_bits();
    fixture f;
    setup(&f);
    seen s = {0};
    TU_OK(sc_net_set_progress(f.net, on_progress, &s, 1000));
    TU_OK(sc_net_set_log(f.net, on_log, &s));
    TU_OK(sc_net_set_param(f.net, SC_PARAM_BUDGET_BITS_PCT, target));
    TU_OK(sc_net_set_param(f.net, SC_PARAM_BUDGET_EVERY, EVERY));
    int reached_at = 0;
    for (int i = 1; i <= 60 && !reached_at; i++) {
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
        if (frozen(f.net) == 1.0)
            reached_at = i;
        else
            ck_assert_int_eq(s.budget_records, 0);
    }
    ck_assert_int_gt(reached_at, 0);
    ck_assert_int_eq(reached_at % EVERY, 0);
    ck_assert(bits_pct(f.net) <= target);
    ck_assert_int_eq(s.budget_records, 1);
    ck_assert_int_eq(s.infos, 1);
    ck_assert_ptr_nonnull(strstr(s.msg, "bit depths frozen"));
    ck_assert_uint_eq(s.rec.step, (uint64_t)reached_at);
    ck_assert(s.rec.bits_pct == bits_pct(f.net));
    /* frozen: b stays, e and the weights go on learning, no second record */
    int c, h, w;
    TU_OK(sc_net_layer_shape(f.net, 1, &c, &h, &w));
    float b0[8], e0[8], b1[8], e1[8];
    TU_OK(sc_net_get_quant(f.net, 1, b0, e0, (size_t)c));
    for (int i = 0; i < 3 * EVERY; i++)
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
    TU_OK(sc_net_get_quant(f.net, 1, b1, e1, (size_t)c));
    ck_assert(memcmp(b0, b1, (size_t)c * sizeof *b0) == 0);
    ck_assert(memcmp(e0, e1, (size_t)c * sizeof *e0) != 0);
    ck_assert_int_eq(s.budget_records, 1);
    teardown(&f);
}
END_TEST

/* The library's budget gives the run a host gets by checking every EVERY
 * steps itself, compressing and setting the bit depths' rate to 0. */
START_TEST(test_budget_equals_host_loop)
{
    double target = reachable_bits();
    fixture a, b;
    setup(&a);
    setup(&b);
    TU_OK(sc_net_set_param(a.net, SC_PARAM_BUDGET_BITS_PCT, target));
    TU_OK(sc_net_set_param(a.net, SC_PARAM_BUDGET_WEIGHTS_PCT, 100.0));
    TU_OK(sc_net_set_param(a.net, SC_PARAM_BUDGET_EVERY, EVERY));
    int reached = 0;
    for (int step = 0; step < 90; step++) {
        if (!reached && step > 0 && step % EVERY == 0 && bits_pct(b.net) <= target) {
            reached = 1;
            TU_OK(sc_net_compress(b.net, NULL));
            TU_OK(sc_optimizer_set_lr(b.opt, SC_GROUP_QUANT_BITS, 0.0));
        }
        TU_OK(sc_net_train_step(a.net, a.opt, a.x, a.labels, NULL));
        TU_OK(sc_net_train_step(b.net, b.opt, b.x, b.labels, NULL));
    }
    ck_assert(reached && frozen(a.net) == 1.0);
    size_t n;
    float *pa = tu_params(a.net, &n);
    ck_assert_uint_eq(n, sc_net_param_count(b.net));
    ck_assert(tu_params_equal(b.net, pa, n));
    free(pa);
    teardown(&a);
    teardown(&b);
}
END_TEST

/* The host freezes and thaws the bit depths itself. */
START_TEST(test_bits_frozen_by_host)
{
    fixture f;
    setup(&f);
    float b0[8], b1[8], e0[8], e1[8];
    TU_OK(sc_net_set_param(f.net, SC_PARAM_QUANT_BITS_FROZEN, 1));
    TU_OK(sc_net_get_quant(f.net, 1, b0, e0, 8));
    for (int i = 0; i < 5; i++)
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
    TU_OK(sc_net_get_quant(f.net, 1, b1, e1, 8));
    ck_assert(memcmp(b0, b1, sizeof b0) == 0);
    ck_assert(memcmp(e0, e1, sizeof e0) != 0);
    TU_OK(sc_net_set_param(f.net, SC_PARAM_QUANT_BITS_FROZEN, 0));
    TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
    TU_OK(sc_net_get_quant(f.net, 1, b1, NULL, 8));
    ck_assert(memcmp(b0, b1, sizeof b0) != 0);
    teardown(&f);
}
END_TEST

START_TEST(test_budget_settings_checked)
{
    fixture f;
    setup(&f);
    const struct { sc_param p; double v; } bad[] = {
        {SC_PARAM_BUDGET_BITS_PCT, -1.0},    {SC_PARAM_BUDGET_BITS_PCT, 100.5},
        {SC_PARAM_BUDGET_BITS_PCT, NAN},     {SC_PARAM_BUDGET_WEIGHTS_PCT, -0.1},
        {SC_PARAM_BUDGET_WEIGHTS_PCT, INFINITY}, {SC_PARAM_BUDGET_EVERY, 0.0},
        {SC_PARAM_BUDGET_EVERY, 2.5},        {SC_PARAM_BUDGET_EVERY, 4e9},
        {SC_PARAM_QUANT_BITS_FROZEN, 0.5},   {SC_PARAM_QUANT_BITS_FROZEN, 2.0},
    };
    TU_OK(sc_net_set_param(f.net, SC_PARAM_BUDGET_BITS_PCT, 3.0));
    TU_OK(sc_net_set_param(f.net, SC_PARAM_BUDGET_WEIGHTS_PCT, 18.0));
    TU_OK(sc_net_set_param(f.net, SC_PARAM_BUDGET_EVERY, 7.0));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TU_FAILS(sc_net_set_param(f.net, bad[i].p, bad[i].v), SC_ERR_ARG);
    const struct { sc_param p; double v; } kept[] = {
        {SC_PARAM_BUDGET_BITS_PCT, 3.0}, {SC_PARAM_BUDGET_WEIGHTS_PCT, 18.0},
        {SC_PARAM_BUDGET_EVERY, 7.0},    {SC_PARAM_QUANT_BITS_FROZEN, 0.0},
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        double v;
        TU_OK(sc_net_get_param(f.net, kept[i].p, &v));
        ck_assert(v == kept[i].v);
    }
    teardown(&f);
}
END_TEST

/* A checkpoint keeps the budget and the frozen bit depths: the resumed run
 * is the run that went on. */
START_TEST(test_budget_in_checkpoint)
{
    double target = reachable_bits();
    fixture f;
    setup(&f);
    TU_OK(sc_net_set_param(f.net, SC_PARAM_BUDGET_BITS_PCT, target));
    TU_OK(sc_net_set_param(f.net, SC_PARAM_BUDGET_EVERY, EVERY));
    for (int i = 0; i < 60; i++)
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
    ck_assert(frozen(f.net) == 1.0);
    tu_make_tmpdir("sc_budget");
    TU_OK(sc_checkpoint_save(f.net, f.opt, NULL, 0, tu_path("ck")));
    sc_net *net;
    sc_optimizer *opt;
    TU_OK(sc_checkpoint_load(tu_path("ck"), &net, &opt, NULL, 0, NULL));
    double v;
    TU_OK(sc_net_get_param(net, SC_PARAM_BUDGET_BITS_PCT, &v));
    ck_assert(v == target);
    TU_OK(sc_net_get_param(net, SC_PARAM_BUDGET_EVERY, &v));
    ck_assert(v == EVERY);
    ck_assert(frozen(net) == 1.0);
    for (int i = 0; i < 5; i++) {
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
        TU_OK(sc_net_train_step(net, opt, f.x, f.labels, NULL));
    }
    size_t n;
    float *p = tu_params(f.net, &n);
    ck_assert(tu_params_equal(net, p, n));
    free(p);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_remove_tmpdir();
    teardown(&f);
}
END_TEST

/* No budget set, or no quantised layer: training never compresses or
 * freezes on its own. */
START_TEST(test_no_budget_no_freeze)
{
    fixture f;
    setup(&f);
    for (int i = 0; i < 3 * EVERY; i++)
        TU_OK(sc_net_train_step(f.net, f.opt, f.x, f.labels, NULL));
    ck_assert(frozen(f.net) == 0.0);
    teardown(&f);

    sc_net *net;
    sc_optimizer *opt;
    int id;
    TU_OK(sc_net_create(&net, 1, 8, 8));
    TU_OK(sc_net_flatten(net, SC_INPUT, &id));
    TU_OK(sc_net_dense(net, id, K, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    TU_OK(sc_net_set_param(net, SC_PARAM_BUDGET_BITS_PCT, 100.0));
    TU_OK(sc_net_set_param(net, SC_PARAM_BUDGET_EVERY, 1.0));
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    setup(&f); /* its data */
    TU_OK(sc_net_train_step(net, opt, f.x, f.labels, NULL));
    ck_assert(frozen(net) == 0.0);
    teardown(&f);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_budget_reached);
    tcase_add_test(tc, test_budget_equals_host_loop);
    tcase_add_test(tc, test_bits_frozen_by_host);
    tcase_add_test(tc, test_budget_settings_checked);
    tcase_add_test(tc, test_budget_in_checkpoint);
    tcase_add_test(tc, test_no_budget_no_freeze);
    suite_add_tcase(s, tc);
    return tu_run_suite(s, CK_NORMAL);
}
