/* test_threads.c -- the header's thread-safety promise: independent objects
 * used from different threads at once behave exactly as they do one after
 * the other (bit-identical losses, parameters, saved models), and each
 * thread keeps its own sc_last_error() message. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "selfcompress.h"
#include "util/testutil.h"

#define STEPS 30
#define N 32
#define K 5

typedef struct job {
    uint64_t seed;
    int threads;          /* the net's own thread count */
    char path[96];        /* where the model is saved */
    /* results */
    double loss[STEPS];
    float *params;
    size_t n_params;
    int removed;
    float logits[N * K];  /* the loaded model's, on the last batch */
    char err[512];        /* this thread's sc_last_error() after a failure */
    int failed_line;
} job;

#define JOB_OK(call)                                                          \
    do {                                                                      \
        if ((call) != SC_OK) {                                                \
            j->failed_line = __LINE__;                                        \
            goto out;                                                         \
        }                                                                     \
    } while (0)

/* Builds, trains (with automatic compress), saves and reloads a net. Uses
 * no Check asserts (they are not thread-safe); failures are recorded. */
static void *run_job(void *arg)
{
    job *j = arg;
    sc_net *net = NULL;
    sc_optimizer *opt = NULL;
    sc_tensor *x = NULL, *out = NULL;
    sc_model *m = NULL;
    float *data = malloc(sizeof(float) * N * 12 * 12);
    int32_t labels[N];
    int id;
    if (!data) {
        j->failed_line = __LINE__;
        return NULL;
    }
    JOB_OK(sc_net_create(&net, 1, 12, 12));
    JOB_OK(sc_net_set_threads(net, j->threads));
    JOB_OK(sc_net_conv2d(net, SC_INPUT, 8, 3, 3, 1, 1, SC_NO_BIAS, &id));
    JOB_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    JOB_OK(sc_net_relu(net, id, &id));
    JOB_OK(sc_net_maxpool(net, id, 2, 2, &id));
    JOB_OK(sc_net_flatten(net, id, &id));
    JOB_OK(sc_net_dense(net, id, K, SC_BIAS, &id));
    JOB_OK(sc_net_init(net, j->seed));
    JOB_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    JOB_OK(sc_net_set_param(net, SC_PARAM_GAMMA, 0.5));
    JOB_OK(sc_net_set_param(net, SC_PARAM_COMPRESS_EVERY, 5));
    JOB_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
    int64_t shape[4] = {N, 1, 12, 12};
    JOB_OK(sc_tensor_wrap(&x, 4, shape, data));
    tu_lcg r;
    tu_lcg_seed(&r, j->seed * 7 + 1);
    for (int s = 0; s < STEPS; s++) {
        tu_fill(&r, data, (size_t)N * 12 * 12, -1.0, 1.0);
        tu_labels(&r, labels, N, K);
        sc_step_stats st = SC_STEP_STATS_INIT;
        JOB_OK(sc_net_train_step(net, opt, x, labels, &st));
        j->loss[s] = st.loss;
    }
    /* a failure of this thread's own: its message must stay its own */
    if (sc_net_set_threads(net, -(int)j->seed) != SC_ERR_ARG) {
        j->failed_line = __LINE__;
        goto out;
    }
    snprintf(j->err, sizeof j->err, "%s", sc_last_error());
    int c;
    JOB_OK(sc_net_layer_shape(net, 1, &c, NULL, NULL));
    j->removed = 8 - c;
    j->n_params = sc_net_param_count(net);
    j->params = malloc(j->n_params * sizeof(float));
    if (!j->params) {
        j->failed_line = __LINE__;
        goto out;
    }
    JOB_OK(sc_net_get_params(net, j->params, j->n_params));
    JOB_OK(sc_net_save(net, j->path, NULL));
    JOB_OK(sc_model_load(&m, j->path));
    int64_t oshape[2] = {N, K};
    JOB_OK(sc_tensor_create(&out, 2, oshape));
    JOB_OK(sc_model_forward(m, x, out));
    JOB_OK(sc_tensor_copy_to(out, j->logits, N * K));
    /* let the other thread fail in between */
    nanosleep(&(struct timespec){0, 1000000}, NULL);
    if (strcmp(j->err, sc_last_error()) != 0)
        j->failed_line = __LINE__;
out:
    unlink(j->path);
    sc_model_free(m);
    sc_tensor_free(out);
    sc_tensor_free(x);
    sc_optimizer_free(opt);
    sc_net_free(net);
    free(data);
    return NULL;
}

static void init_job(job *j, uint64_t seed, int threads, const char *tag)
{
    memset(j, 0, sizeof *j);
    j->seed = seed;
    j->threads = threads;
    snprintf(j->path, sizeof j->path, "/tmp/sc_test_threads.%ld.%s.%llu.scm",
             (long)getpid(), tag, (unsigned long long)seed);
}

static void assert_same(const job *a, const job *b)
{
    ck_assert_msg(a->failed_line == 0, "job failed at line %d: %s",
                  a->failed_line, sc_last_error());
    ck_assert_msg(b->failed_line == 0, "job failed at line %d",
                  b->failed_line);
    ck_assert(memcmp(a->loss, b->loss, sizeof a->loss) == 0);
    ck_assert_uint_eq(a->n_params, b->n_params);
    ck_assert(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
    ck_assert_int_eq(a->removed, b->removed);
    ck_assert(memcmp(a->logits, b->logits, sizeof a->logits) == 0);
    ck_assert_str_eq(a->err, b->err);
}

/* Two nets trained at once in two threads vs one after the other. */
static void concurrent_equals_sequential(int threads)
{
    job seq[2], par[2];
    init_job(&seq[0], 1, threads, "seq");
    init_job(&seq[1], 2, threads, "seq");
    init_job(&par[0], 1, threads, "par");
    init_job(&par[1], 2, threads, "par");
    run_job(&seq[0]);
    run_job(&seq[1]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, run_job, &par[i]), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_same(&seq[i], &par[i]);
        /* each thread saw its own failure message */
        char want[64];
        snprintf(want, sizeof want, "%d is not in", -(int)seq[i].seed);
        ck_assert_ptr_nonnull(strstr(par[i].err, want));
    }
    /* the two nets differ, so the comparison means something, and the
     * size loss made compress remove channels along the way */
    ck_assert(memcmp(seq[0].loss, seq[1].loss, sizeof seq[0].loss) != 0);
    ck_assert_int_gt(seq[0].removed + seq[1].removed, 0);
    for (int i = 0; i < 2; i++) {
        free(seq[i].params);
        free(par[i].params);
    }
}

START_TEST(test_two_nets_one_thread_each)
{
    concurrent_equals_sequential(1);
}
END_TEST

START_TEST(test_two_nets_two_threads_each)
{
    concurrent_equals_sequential(2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_two_nets_one_thread_each);
    tcase_add_test(tc, test_two_nets_two_threads_each);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
