/* mpi_check.c -- the reduction hook under mpirun (tests/mpi.sh runs it).
 *
 *   mpi_check equiv            2 ranks at 64 each = 1 rank at 128, no batch norm
 *   mpi_check bn               batch norm: local statistics, running ones averaged
 *   mpi_check compress DIR     every rank removes the same channels, same model file
 *   mpi_check ckpt-write DIR   trains, checkpoints at step 10, keeps the step-15 params
 *   mpi_check ckpt-resume DIR  resumes the checkpoint (any ranks), compares at 15
 *   mpi_check die              rank 1 kills itself at step 5
 *
 * Every rank builds the same net from the same seed; the data are synthetic:
 * step s's global batch of 128 samples, of which rank r of R trains its
 * 128 / R. Exits 1 with a message on the first failed assertion. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <selfcompress.h>

#include "../../examples/mpi_reduce.h"

#define GLOBAL 128
#define C 2
#define H 8
#define W 8
#define FEAT (C * H * W)

static int rank, ranks;

__attribute__((format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mpi_check rank %d: FAIL: ", rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static void ok(sc_status st, const char *what)
{
    if (st != SC_OK)
        fail("%s: %s (%s)", what, sc_strerror(st), sc_last_error());
}

/* sample i of step s: a deterministic pattern whose label decides it,
 * the second half of the batch shifted */
static void sample(long s, int i, float *x, int32_t *y)
{
    uint32_t h = (uint32_t)(s * 7919 + i * 104729 + 1);
    *y = (int32_t)(h % 10);
    for (int k = 0; k < FEAT; k++) {
        h = h * 1664525u + 1013904223u;
        float noise = (float)(h >> 8) / 16777216.0f - 0.5f;
        x[k] = noise + ((k % 10) == *y ? 1.0f : 0.0f) + 0.3f * (float)(*y % 3) +
               (i < GLOBAL / 2 ? 0.0f : 1.5f); /* halves differ: bn tells */
    }
}

/* a conv net; with bn a batch norm reads the input first */
static sc_net *build(int bn)
{
    sc_net *net;
    int id = SC_INPUT;
    ok(sc_net_create(&net, C, H, W), "sc_net_create");
    if (bn)
        ok(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id), "batchnorm");
    ok(sc_net_conv2d(net, id, 8, 3, 3, 1, 1, SC_BIAS, &id), "conv");
    ok(sc_net_relu(net, id, &id), "relu");
    ok(sc_net_maxpool(net, id, 2, 2, &id), "maxpool");
    ok(sc_net_dense(net, id, 10, SC_BIAS, &id), "dense");
    ok(sc_net_init(net, 7), "init");
    ok(sc_net_quantize(net, SC_ALL_LAYERS), "quantize");
    ok(sc_net_set_param(net, SC_PARAM_GAMMA, 0.05), "gamma");
    ok(sc_net_set_param(net, SC_PARAM_BN_MOMENTUM, 0.1), "momentum");
    return net;
}

static sc_optimizer *optimizer(sc_net *net, double qlr)
{
    sc_optimizer *opt;
    ok(sc_optimizer_create(&opt, net, SC_OPT_ADAM), "optimizer");
    ok(sc_optimizer_set_lr(opt, SC_GROUP_QUANT_BITS, qlr), "qlr");
    return opt;
}

/* one step of step s: samples [first, first + n) of its global batch */
static void step(sc_net *net, sc_optimizer *opt, long s, int first, int n)
{
    static float x[GLOBAL * FEAT];
    static int32_t y[GLOBAL];
    for (int i = 0; i < n; i++)
        sample(s, first + i, x + (size_t)i * FEAT, y + i);
    int64_t shape[4] = {n, C, H, W};
    sc_tensor *t;
    ok(sc_tensor_wrap(&t, 4, shape, x), "wrap");
    sc_step_stats st = SC_STEP_STATS_INIT;
    ok(sc_net_train_step(net, opt, t, y, &st), "train step");
    sc_tensor_free(t);
}

/* this rank's share of step s */
static void local_step(sc_net *net, sc_optimizer *opt, long s)
{
    int n = GLOBAL / ranks;
    step(net, opt, s, rank * n, n);
}

static float *params(const sc_net *net, size_t *n)
{
    *n = sc_net_param_count(net);
    float *p = malloc(*n * sizeof *p);
    if (p == NULL)
        fail("out of memory");
    ok(sc_net_get_params(net, p, *n), "get params");
    return p;
}

/* every element within 1e-5 relative (of the larger magnitude, at least
 * 1e-3); returns the largest such ratio */
static double compare(const char *what, const float *a, const float *b,
                      size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fmax(fmax(fabs(a[i]), fabs(b[i])), 1e-3);
        double r = fabs((double)a[i] - b[i]) / s;
        worst = fmax(worst, r);
        if (!(r <= 1e-5))
            fail("%s: element %zu differs: %g vs %g", what, i, a[i], b[i]);
    }
    return worst;
}

/* a[0 .. n) is bit-identical on every rank (rank 0's broadcast) */
static void same_everywhere(const char *what, const void *a, size_t bytes)
{
    char *b = malloc(bytes ? bytes : 1);
    if (b == NULL)
        fail("out of memory");
    memcpy(b, a, bytes);
    MPI_Bcast(b, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (memcmp(a, b, bytes) != 0)
        fail("%s differs from rank 0's (%zu bytes)", what, bytes);
    free(b);
}

static void equiv(void)
{
    sc_net *net = build(0);
    sc_optimizer *opt = optimizer(net, 0.05);
    mpi_reduce r = MPI_REDUCE_INIT(MPI_COMM_WORLD);
    ok(sc_net_set_reduce(net, mpi_reduce_hook, &r), "set reduce");
    for (long s = 0; s < 20; s++)
        local_step(net, opt, s);
    size_t n;
    float *p = params(net, &n);
    same_everywhere("the parameters", p, n * sizeof *p);
    if (rank == 0) {
        sc_net *ref = build(0);
        sc_optimizer *ro = optimizer(ref, 0.05);
        for (long s = 0; s < 20; s++)
            step(ref, ro, s, 0, GLOBAL);
        size_t m;
        float *q = params(ref, &m);
        if (m != n)
            fail("%zu vs %zu parameters", n, m);
        double w = compare("2 ranks at 64 vs 1 at 128", p, q, n);
        printf("equiv: %zu parameters after 20 steps, largest relative "
               "difference %.2g (%d ranks, %ld reductions)\n", n, w, ranks,
               r.calls);
        free(q);
        sc_optimizer_free(ro);
        sc_net_free(ref);
    }
    free(p);
    sc_optimizer_free(opt);
    sc_net_free(net);
}

/* local batch statistics: after one step the running mean of the input's
 * batch norm is m * the batch's mean, its running variance (1 - m) + m *
 * the ranks' average unbiased local variance (not the global one) */
static void bn(void)
{
    sc_net *net = build(1);
    sc_optimizer *opt = optimizer(net, 0.05);
    mpi_reduce r = MPI_REDUCE_INIT(MPI_COMM_WORLD);
    ok(sc_net_set_reduce(net, mpi_reduce_hook, &r), "set reduce");
    local_step(net, opt, 0);
    float mean[C], var[C];
    ok(sc_net_get_layer_param(net, 1, SC_SLOT_RUNNING_MEAN, mean, C), "mean");
    ok(sc_net_get_layer_param(net, 1, SC_SLOT_RUNNING_VAR, var, C), "var");
    same_everywhere("the running statistics", var, sizeof var);
    static float x[GLOBAL * FEAT];
    int32_t y;
    for (int i = 0; i < GLOBAL; i++)
        sample(0, i, x + (size_t)i * FEAT, &y);
    int n = GLOBAL / ranks, hw = H * W;
    for (int c = 0; c < C; c++) {
        double gs = 0, gss = 0, local = 0;
        for (int k = 0; k < ranks; k++) {
            double s = 0, ss = 0;
            for (int i = k * n; i < (k + 1) * n; i++)
                for (int j = 0; j < hw; j++) {
                    double v = x[(size_t)i * FEAT + (size_t)c * hw + j];
                    s += v;
                    ss += v * v;
                }
            double m = (double)n * hw;
            local += (ss - s * s / m) / (m - 1) / ranks;
            gs += s;
            gss += ss;
        }
        double m = (double)GLOBAL * hw;
        double want_mean = 0.1 * gs / m, want_var = 0.9 + 0.1 * local;
        double global_var = 0.9 + 0.1 * (gss - gs * gs / m) / (m - 1);
        if (fabs(mean[c] - want_mean) > 1e-5 * fmax(fabs(want_mean), 1))
            fail("bn: running mean %g, want %g", mean[c], want_mean);
        if (fabs(var[c] - want_var) > 1e-5 * want_var)
            fail("bn: running var %g, want %g", var[c], want_var);
        if (ranks > 1 && fabs(global_var - want_var) < 1e-4)
            fail("bn: the test cannot tell local from global (%g, %g)",
                 global_var, want_var);
    }
    for (long s = 1; s < 20; s++)
        local_step(net, opt, s);
    size_t np;
    float *p = params(net, &np);
    same_everywhere("the parameters", p, np * sizeof *p);
    ok(sc_net_get_layer_param(net, 1, SC_SLOT_RUNNING_VAR, var, C), "var");
    same_everywhere("the running statistics after 20 steps", var, sizeof var);
    if (rank == 0)
        printf("bn: running statistics as the local-statistics rule gives, "
               "equal on %d ranks\n", ranks);
    free(p);
    sc_optimizer_free(opt);
    sc_net_free(net);
}

static char *read_all(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *b = malloc((size_t)*len + 1);
    if (b == NULL || fread(b, 1, (size_t)*len, f) != (size_t)*len)
        fail("cannot read %s", path);
    fclose(f);
    return b;
}

static void compress(const char *dir)
{
    sc_net *net = build(0);
    sc_optimizer *opt = optimizer(net, 2.0);
    ok(sc_net_set_param(net, SC_PARAM_GAMMA, 2.0), "gamma");
    mpi_reduce r = MPI_REDUCE_INIT(MPI_COMM_WORLD);
    ok(sc_net_set_reduce(net, mpi_reduce_hook, &r), "set reduce");
    int removed = 0;
    for (long s = 0; s < 30; s++) {
        local_step(net, opt, s);
        int k;
        ok(sc_net_compress(net, &k), "compress");
        removed += k;
    }
    int ch[8];
    for (int id = 1; id <= 4; id++) {
        int h, w;
        ok(sc_net_layer_shape(net, id, &ch[id - 1], &h, &w), "shape");
    }
    same_everywhere("the channels kept", ch, 4 * sizeof *ch);
    same_everywhere("the count removed", &removed, sizeof removed);
    if (removed == 0)
        fail("compress: nothing was removed");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.%d", dir, rank);
    ok(sc_net_save(net, path, NULL), "save");
    long len;
    char *b = read_all(path, &len);
    same_everywhere("the model file's length", &len, sizeof len);
    same_everywhere("the model file", b, (size_t)len);
    if (rank == 0)
        printf("compress: %d channels removed alike on %d ranks (conv keeps "
               "%d), model files of %ld bytes identical\n", removed, ranks,
               ch[0], len);
    free(b);
    sc_optimizer_free(opt);
    sc_net_free(net);
}

static void save_params(const sc_net *net, const char *path)
{
    size_t n;
    float *p = params(net, &n);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, sizeof *p, n, f) != n || fclose(f) != 0)
        fail("cannot write %s", path);
    free(p);
}

static void ckpt(const char *dir, int resume)
{
    char cp[4096], ref[4096];
    snprintf(cp, sizeof cp, "%s/run.ckpt", dir);
    snprintf(ref, sizeof ref, "%s/ref.params", dir);
    sc_net *net;
    sc_optimizer *opt;
    long s = 0;
    if (resume) {
        size_t len;
        ok(sc_checkpoint_load(cp, &net, &opt, &s, sizeof s, &len), "load");
        if (len != sizeof s || opt == NULL)
            fail("checkpoint: no step count or optimizer (%zu bytes)", len);
    } else { /* no batch norm: 1 rank at 128 is then 2 at 64 */
        net = build(0);
        opt = optimizer(net, 0.05);
    }
    mpi_reduce r = MPI_REDUCE_INIT(MPI_COMM_WORLD);
    ok(sc_net_set_reduce(net, mpi_reduce_hook, &r), "set reduce");
    for (; s < 15; s++) {
        if (!resume && s == 10 && rank == 0)
            ok(sc_checkpoint_save(net, opt, &s, sizeof s, cp), "checkpoint");
        local_step(net, opt, s);
    }
    if (!resume && rank == 0)
        save_params(net, ref);
    if (resume) {
        size_t n;
        float *p = params(net, &n);
        same_everywhere("the parameters", p, n * sizeof *p);
        long len;
        float *q = (float *)read_all(ref, &len);
        if ((size_t)len != n * sizeof *p)
            fail("reference: %ld vs %zu bytes", len, n * sizeof *p);
        double w = compare("resumed vs uninterrupted", p, q, n);
        if (rank == 0)
            printf("ckpt: resumed under %d ranks, largest relative "
                   "difference at step 15: %.2g\n", ranks, w);
        free(p);
        free(q);
    }
    sc_optimizer_free(opt);
    sc_net_free(net);
}

static void die(void)
{
    sc_net *net = build(0);
    sc_optimizer *opt = optimizer(net, 0.05);
    mpi_reduce r = MPI_REDUCE_INIT(MPI_COMM_WORLD);
    ok(sc_net_set_reduce(net, mpi_reduce_hook, &r), "set reduce");
    for (long s = 0; s < 1000000; s++) {
        if (s == 5 && rank == 1)
            raise(SIGKILL);
        local_step(net, opt, s);
    }
    sc_optimizer_free(opt);
    sc_net_free(net);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const char *mode = argc > 1 ? argv[1] : "";
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (GLOBAL % ranks != 0)
        fail("%d ranks do not divide the batch of %d", ranks, GLOBAL);
    if (!strcmp(mode, "equiv"))
        equiv();
    else if (!strcmp(mode, "bn"))
        bn();
    else if (!strcmp(mode, "compress"))
        compress(dir);
    else if (!strcmp(mode, "ckpt-write"))
        ckpt(dir, 0);
    else if (!strcmp(mode, "ckpt-resume"))
        ckpt(dir, 1);
    else if (!strcmp(mode, "die"))
        die();
    else
        fail("unknown mode '%s'", mode);
    MPI_Finalize();
    return 0;
}
