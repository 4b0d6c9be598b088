/* test_reduce.c -- the reduction hook (sc_net_set_reduce()) in one process:
 * what it is handed and when, that the update uses what it leaves, and
 * every failure. tests/mpi.sh runs it across ranks under mpirun. */
#include <math.h>
#include <stdlib.h>

#include "util/testutil.h"

#define N 16

typedef struct record {
    int calls[2];          /* per sc_reduce_what */
    int order_ok;          /* SC_REDUCE_STATE came after SC_REDUCE_GRADS */
    size_t n[2];
    int n_figures;
    double figures[SC_REDUCE_FIG_COUNT]; /* as handed in */
    int all_zero;          /* the gradients handed in were all 0 */
    int fail_on;           /* -1: never; else fail that kind */
    int zero;              /* zero the gradients */
    int set_failed;        /* report another rank's failure */
    double task_scale;     /* multiply the task loss figure */
} record;

static int hook(sc_reduce_what what, float *data, size_t n, double *figures,
                int n_figures, void *user)
{
    record *r = user;
    r->calls[what]++;
    r->n[what] = n;
    if (what == SC_REDUCE_STATE) {
        r->order_ok = r->calls[SC_REDUCE_GRADS] == r->calls[SC_REDUCE_STATE];
        ck_assert_ptr_null(figures);
        ck_assert_int_eq(n_figures, 0);
    } else {
        r->n_figures = n_figures;
        for (int i = 0; i < n_figures && i < SC_REDUCE_FIG_COUNT; i++)
            r->figures[i] = figures[i];
        r->all_zero = 1;
        for (size_t i = 0; i < n; i++)
            r->all_zero &= data[i] == 0.0f;
        if (r->zero)
            for (size_t i = 0; i < n; i++)
                data[i] = 0.0f;
        if (r->set_failed)
            figures[SC_REDUCE_FIG_FAILED] = 1.0;
        figures[SC_REDUCE_FIG_TASK] *= r->task_scale;
    }
    return (int)what == r->fail_on;
}

static record fresh(void)
{
    record r = {{0, 0}, 0, {0, 0}, 0, {0, 0, 0}, 0, -1, 0, 0, 1.0};
    return r;
}

/* conv, batch norm, relu, dense; quantised, gamma > 0 */
static sc_net *make(int bn)
{
    sc_net *net;
    int id = SC_INPUT;
    TU_OK(sc_net_create(&net, 2, 6, 6));
    TU_OK(sc_net_conv2d(net, id, 4, 3, 3, 1, 1, SC_BIAS, &id));
    if (bn)
        TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 3));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.01));
    return net;
}

START_TEST(test_handed_buffers)
{
    sc_net *net = make(1);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    tu_batch b = tu_batch_make(N, 2, 6, 6, 3, 5);
    record r = fresh();
    r.task_scale = 2.0;
    TU_OK(sc_net_set_reduce(net, hook, &r));
    sc_step_stats st = SC_STEP_STATS_INIT;
    TU_OK(sc_net_train_step(net, opt, b.x, b.labels, &st));
    ck_assert_int_eq(r.calls[SC_REDUCE_GRADS], 1);
    ck_assert_int_eq(r.calls[SC_REDUCE_STATE], 1);
    ck_assert(r.order_ok);
    ck_assert_uint_eq(r.n[SC_REDUCE_GRADS], sc_net_param_count(net));
    ck_assert_uint_eq(r.n[SC_REDUCE_STATE], 2 * 4); /* mean, var of 4 */
    ck_assert_int_eq(r.n_figures, SC_REDUCE_FIG_COUNT);
    ck_assert(r.figures[SC_REDUCE_FIG_FAILED] == 0.0);
    ck_assert(!r.all_zero);
    /* the step reports what the hook left */
    ck_assert(fabs(st.task_loss - 2.0 * r.figures[SC_REDUCE_FIG_TASK]) < 1e-12);
    ck_assert(st.accuracy == r.figures[SC_REDUCE_FIG_ACCURACY]);
    ck_assert(fabs(st.loss - (st.task_loss + 0.01 * st.size_loss)) < 1e-12);
    /* removed: no more calls */
    TU_OK(sc_net_set_reduce(net, NULL, NULL));
    TU_OK(sc_net_train_step(net, opt, b.x, b.labels, &st));
    ck_assert_int_eq(r.calls[SC_REDUCE_GRADS], 1);
    /* without batch norm there is no state call */
    sc_net *plain = make(0);
    sc_optimizer *po;
    TU_OK(sc_optimizer_create(&po, plain, SC_OPT_ADAM));
    record q = fresh();
    TU_OK(sc_net_set_reduce(plain, hook, &q));
    TU_OK(sc_net_train_step(plain, po, b.x, b.labels, &st));
    ck_assert_int_eq(q.calls[SC_REDUCE_GRADS], 1);
    ck_assert_int_eq(q.calls[SC_REDUCE_STATE], 0);
    TU_FAILS(sc_net_set_reduce(NULL, hook, &q), SC_ERR_NULL);
    sc_optimizer_free(po);
    sc_net_free(plain);
    tu_batch_free(&b);
    sc_optimizer_free(opt);
    sc_net_free(net);
}
END_TEST

/* the update uses the hook's buffer: an identity hook changes nothing
 * against no hook, zeroed gradients leave SGD's parameters as they were */
START_TEST(test_update_uses_reduced)
{
    tu_batch b = tu_batch_make(N, 2, 6, 6, 3, 6);
    sc_net *a = make(1), *c = make(1), *z = make(0);
    sc_optimizer *oa, *oc, *oz;
    TU_OK(sc_optimizer_create(&oa, a, SC_OPT_ADAM));
    TU_OK(sc_optimizer_create(&oc, c, SC_OPT_ADAM));
    TU_OK(sc_optimizer_create(&oz, z, SC_OPT_SGD));
    record r = fresh(), rz = fresh();
    rz.zero = 1;
    TU_OK(sc_net_set_reduce(c, hook, &r));
    TU_OK(sc_net_set_reduce(z, hook, &rz));
    size_t n;
    float *before = tu_params(z, &n);
    for (int s = 0; s < 3; s++) {
        TU_OK(sc_net_train_step(a, oa, b.x, b.labels, NULL));
        TU_OK(sc_net_train_step(c, oc, b.x, b.labels, NULL));
        TU_OK(sc_net_train_step(z, oz, b.x, b.labels, NULL));
    }
    ck_assert_int_eq(r.calls[SC_REDUCE_GRADS], 3);
    size_t m;
    float *pa = tu_params(a, &m);
    ck_assert(tu_params_equal(c, pa, m));
    ck_assert(tu_params_equal(z, before, n));
    float va[4], vc[4];
    TU_OK(sc_net_get_layer_param(a, 2, SC_SLOT_RUNNING_VAR, va, 4));
    TU_OK(sc_net_get_layer_param(c, 2, SC_SLOT_RUNNING_VAR, vc, 4));
    ck_assert(memcmp(va, vc, sizeof va) == 0);
    free(pa);
    free(before);
    sc_optimizer_free(oa);
    sc_optimizer_free(oc);
    sc_optimizer_free(oz);
    sc_net_free(a);
    sc_net_free(c);
    sc_net_free(z);
    tu_batch_free(&b);
}
END_TEST

/* a failing hook or another rank's failure: the status, nothing changed */
START_TEST(test_failures)
{
    tu_batch b = tu_batch_make(N, 2, 6, 6, 3, 7);
    sc_net *net = make(1);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    record r = fresh();
    TU_OK(sc_net_set_reduce(net, hook, &r));
    TU_OK(sc_net_train_step(net, opt, b.x, b.labels, NULL));
    size_t n;
    float *p = tu_params(net, &n);
    float var[4], var2[4];
    TU_OK(sc_net_get_layer_param(net, 2, SC_SLOT_RUNNING_VAR, var, 4));

    r.fail_on = SC_REDUCE_GRADS;
    TU_FAILS(sc_net_train_step(net, opt, b.x, b.labels, NULL), SC_ERR_HOST);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "reduction hook"));
    ck_assert(tu_params_equal(net, p, n));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 1);
    r.fail_on = -1;
    r.set_failed = 1;
    TU_FAILS(sc_net_train_step(net, opt, b.x, b.labels, NULL), SC_ERR_DIVERGED);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "another rank"));
    ck_assert(tu_params_equal(net, p, n));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 1);
    TU_OK(sc_net_get_layer_param(net, 2, SC_SLOT_RUNNING_VAR, var2, 4));
    ck_assert(memcmp(var, var2, sizeof var) == 0);

    /* the state's reduction fails after the update: reported, applied */
    r.set_failed = 0;
    r.fail_on = SC_REDUCE_STATE;
    TU_FAILS(sc_net_train_step(net, opt, b.x, b.labels, NULL), SC_ERR_HOST);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "update was applied"));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 2);
    ck_assert(!tu_params_equal(net, p, n));
    ck_assert_str_eq(sc_strerror(SC_ERR_HOST), "the host's reduction hook failed");
    free(p);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_batch_free(&b);
}
END_TEST

/* a local non-finite loss still calls the hook (zero gradients, FAILED 1),
 * so other ranks do not wait, and fails the step */
START_TEST(test_local_divergence_calls_hook)
{
    tu_batch b = tu_batch_make(N, 2, 6, 6, 3, 8);
    sc_net *net = make(0);
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    size_t n;
    float *p = tu_params(net, &n);
    for (size_t i = 0; i < n; i++)
        p[i] *= 1e30f;
    TU_OK(sc_net_set_params(net, p, n));
    record r = fresh();
    TU_OK(sc_net_set_reduce(net, hook, &r));
    TU_FAILS(sc_net_train_step(net, opt, b.x, b.labels, NULL), SC_ERR_DIVERGED);
    ck_assert_int_eq(r.calls[SC_REDUCE_GRADS], 1);
    ck_assert(r.figures[SC_REDUCE_FIG_FAILED] == 1.0);
    ck_assert(r.all_zero);
    ck_assert(tu_params_equal(net, p, n));
    ck_assert_uint_eq(sc_optimizer_steps(opt), 0);
    free(p);
    sc_optimizer_free(opt);
    sc_net_free(net);
    tu_batch_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_handed_buffers);
    tcase_add_test(tc, test_update_uses_reduced);
    tcase_add_test(tc, test_failures);
    tcase_add_test(tc, test_local_divergence_calls_hook);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
