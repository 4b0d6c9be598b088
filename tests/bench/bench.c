/* bench.c -- throughput of the benchmark networks (mlp, tinynet, cnn, dscnn,
 * seq1d) on synthetic data of Fashion-MNIST's size (each net's input shape:
 * examples/nets.h), against the machine's ceilings.
 *
 *   build/tests/bench/bench [--quick] [--nets mlp,tinynet,cnn,dscnn,seq1d] [--threads 1,2]
 *                           [--modes float,sc,infer] [--batches 128,512]
 *                           [--reps N] [--steps N] [--warmup N] [--no-pairs]
 *
 * For each net, batch, thread count and mode one forked child builds the
 * net, warms up, times `reps` repetitions of `steps` steps and prints one
 * line. Modes:
 *   float    training steps, no quantiser
 *   sc       training steps with self-compression on (gamma 0.05)
 *   infer    eval-mode forward of the float net (sc_net_forward)
 *   sc18     sc after channels were killed (b = -1, the first ones of every
 *            quantised layer but the last) until 18% of the weights are
 *            left, and sc_net_compress() removed them
 *   model    inference of the float net's model file (sc_net_save,
 *            sc_model_load, sc_model_forward)
 *   model18  the same for the sc18 net's (compressed) model file
 *
 *   BENCH net=<net> threads=<t> batch=<b> mode=<mode> img_s=<..>
 *         gflops=<..> peak_frac=<..> sgemm_gflops=<..> blas_core=<..> rss_mb=<..>
 *         conv_kernel=<avx512|avx2|generic> weights_pct=<..>
 *
 * img_s is the median over the repetitions; gflops = 3 (training) or 1
 * (inference) x forward FLOPs per image (examples/nets.h; of the compressed
 * net in the *18 modes) x img_s; peak_frac
 * = gflops / the FMA-loop peak measured with that many threads (MACHINE and
 * PEAK lines, printed first); sgemm_gflops is cblas_sgemm, single-threaded
 * inside each of `threads` threads running at once (as the library drives
 * OpenBLAS), on the net's own GEMM shapes for that batch, FLOP-weighted
 * (a depthwise conv has none: it runs by direct loops);
 * rss_mb is the child's peak resident set (getrusage ru_maxrss) after the
 * timed steps; conv_kernel the library's micro-kernel (sc_conv_kernel());
 * weights_pct the quantised weights left (100 without compression).
 * Default batches: 128 for every net, and 512 for tinynet.
 * --quick: batch 32, 2 repetitions of 2 steps after 1 warm-up step, short
 * FMA and sgemm measurements (for make check).
 *
 * After a net's cases (at each batch and thread count), one child per pair
 * of modes whose ratio a target judges, when both modes were asked for
 * (--no-pairs: none), sets both up side by side and alternates their
 * blocks of steps (about half a repetition each, 2 reps + 1 rounds):
 *
 *   PAIR net=<net> threads=<t> batch=<b> a=<mode> b=<mode> ratio=<..>
 *        q1=<..> q3=<..> rounds=<..>
 *
 * ratio is the median of (a's seconds per step) / (b's), q1 and q3 its
 * quartiles; the pairs are sc/float, sc18/sc and model/model18.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <immintrin.h>

#include <cblas.h>

#include <selfcompress.h>

#define COMMON_PROG "bench"
#include "blas_kernel.h"
#include "common.h"
#include "nets.h"

#define MAX_LIST 8
#define MAX_THREADS 64
#define NMODES 6

static const char *const all_modes[NMODES] = {"float", "sc",    "infer",
                                              "sc18",  "model", "model18"};

typedef struct options {
    int quick;
    int pairs; /* the PAIR measurements too (--no-pairs: not) */
    const char *nets[MAX_LIST];
    int nnets;
    int threads[MAX_LIST];
    int nthreads;
    const char *modes[MAX_LIST];
    int nmodes;
    int batches[MAX_LIST];
    int nbatches; /* 0: the defaults */
    int reps, steps, warmup;
    double rep_seconds;   /* adaptive steps: a repetition lasts about this */
    double fma_seconds;   /* FMA peak measurement per thread count */
    double sgemm_seconds; /* sgemm timing per shape */
} options;

static double peak_gflops[MAX_THREADS + 1];
static const char *fma_isa = "none";

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) /* (0, 1) */
{
    return ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
    return sqrt(-2.0 * log(uniform(s))) * cos(6.283185307179586 * uniform(s));
}

/* ---- threads started together ---- */

typedef struct worker {
    int index;
    void *ctx;
    double result;
} worker;

/* runs fn(worker) on n threads (worker 0 on the calling thread) */
static void run_team(int n, void *(*fn)(void *), void *ctx, worker *w)
{
    pthread_t tid[MAX_THREADS];
    for (int i = 0; i < n; i++) {
        w[i].index = i;
        w[i].ctx = ctx;
        w[i].result = 0.0;
    }
    for (int i = 1; i < n; i++)
        if (pthread_create(&tid[i], NULL, fn, &w[i]) != 0)
            die("pthread_create failed");
    fn(&w[0]);
    for (int i = 1; i < n; i++)
        pthread_join(tid[i], NULL);
}

/* ---- the machine's peak: an FMA loop ---- */

typedef struct fma_job {
    pthread_barrier_t *bar;
    long iters;
    int isa; /* 2: AVX-512, 1: AVX2/FMA */
} fma_job;

/* 12 independent chains in named registers (an array would be kept in
 * memory at -O2): enough to fill two FMA pipes of latency up to 6 */
#define FMA12(F, T, S)                                                         \
    T a0 = S(0.f), a1 = S(1.f), a2 = S(2.f), a3 = S(3.f), a4 = S(4.f),         \
      a5 = S(5.f), a6 = S(6.f), a7 = S(7.f), a8 = S(8.f), a9 = S(9.f),         \
      a10 = S(10.f), a11 = S(11.f);                                            \
    for (long it = 0; it < iters; it++) {                                      \
        a0 = F(a0, m, c); a1 = F(a1, m, c); a2 = F(a2, m, c);                  \
        a3 = F(a3, m, c); a4 = F(a4, m, c); a5 = F(a5, m, c);                  \
        a6 = F(a6, m, c); a7 = F(a7, m, c); a8 = F(a8, m, c);                  \
        a9 = F(a9, m, c); a10 = F(a10, m, c); a11 = F(a11, m, c);              \
    }

__attribute__((target("avx512f"))) static float fma_avx512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    FMA12(_mm512_fmadd_ps, __m512, _mm512_set1_ps)
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters)
{
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    FMA12(_mm256_fmadd_ps, __m256, _mm256_set1_ps)
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float f[8];
    _mm256_storeu_ps(f, s);
    return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}

static volatile float fma_sink;

static void *fma_worker(void *arg)
{
    worker *w = arg;
    fma_job *j = w->ctx;
    pthread_barrier_wait(j->bar);
    double t0 = now();
    fma_sink = j->isa == 2 ? fma_avx512(j->iters) : fma_avx2(j->iters);
    w->result = now() - t0;
    pthread_barrier_wait(j->bar);
    return NULL;
}

/* GFLOP/s of `threads` threads running the FMA loop at once (0: no FMA) */
static double measure_fma_peak(int threads, double seconds)
{
    __builtin_cpu_init();
    int isa = __builtin_cpu_supports("avx512f") ? 2
              : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    if (isa == 0)
        return 0.0;
    fma_isa = isa == 2 ? "avx512" : "avx2";
    double lanes = isa == 2 ? 16.0 : 8.0, per_iter = 12.0 * 2.0 * lanes;
    pthread_barrier_t bar;
    worker w[MAX_THREADS];
    fma_job j = {&bar, 1000, isa};
    /* calibrate on one thread, then run each thread about `seconds` */
    double t = 0.0;
    while (t < 0.02) {
        j.iters *= 4;
        double t0 = now();
        fma_sink = isa == 2 ? fma_avx512(j.iters) : fma_avx2(j.iters);
        t = now() - t0;
    }
    j.iters = (long)((double)j.iters * seconds / t) + 1;
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) { /* best of 3: the peak */
        pthread_barrier_init(&bar, NULL, (unsigned)threads);
        double t0 = now();
        run_team(threads, fma_worker, &j, w);
        double wall = now() - t0;
        pthread_barrier_destroy(&bar);
        double rate = (double)threads * (double)j.iters * per_iter / wall / 1e9;
        if (rate > best)
            best = rate;
    }
    return best;
}

/* ---- cblas_sgemm on the net's own shapes ---- */

typedef struct sgemm_job {
    pthread_barrier_t *bar;
    const nets_gemm *g;
    long reps;
    float *buf[MAX_THREADS][3];
} sgemm_job;

static void sgemm_call(const nets_gemm *g, const float *a, const float *b, float *c)
{
    float beta = strcmp(g->pass, "dW") == 0 ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0f, a,
                g->ta ? g->m : g->k, b, g->tb ? g->k : g->n, beta, c, g->n);
}

static void *sgemm_worker(void *arg)
{
    worker *w = arg;
    sgemm_job *j = w->ctx;
    float **buf = j->buf[w->index];
    pthread_barrier_wait(j->bar);
    for (long r = 0; r < j->reps; r++)
        sgemm_call(j->g, buf[0], buf[1], buf[2]);
    pthread_barrier_wait(j->bar);
    return NULL;
}

/* OpenBLAS single-threaded, without asking when it already is: in a forked
 * case process that would start a server thread spinning next to ours */
static void single_thread_blas(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

/* FLOP-weighted GFLOP/s of the shapes, each run by `threads` threads at once
 * (every thread single-threaded OpenBLAS): total FLOPs / total time. */
static double measure_sgemm(const nets_gemm *g, int count, int threads,
                            double seconds)
{
    single_thread_blas();
    size_t most[3] = {0, 0, 0};
    for (int i = 0; i < count; i++) {
        size_t s[3] = {(size_t)g[i].m * g[i].k, (size_t)g[i].k * g[i].n,
                       (size_t)g[i].m * g[i].n};
        for (int k = 0; k < 3; k++)
            if (s[k] > most[k])
                most[k] = s[k];
    }
    sgemm_job j;
    pthread_barrier_t bar;
    j.bar = &bar;
    uint64_t seed = 7;
    for (int t = 0; t < threads; t++)
        for (int k = 0; k < 3; k++) {
            j.buf[t][k] = malloc(most[k] * sizeof(float));
            if (j.buf[t][k] == NULL)
                die("out of memory");
            for (size_t i = 0; i < most[k]; i++)
                j.buf[t][k][i] = (float)(uniform(&seed) - 0.5);
        }
    worker w[MAX_THREADS];
    double flops = 0.0, secs = 0.0;
    for (int i = 0; i < count; i++) {
        double f = 2.0 * g[i].m * g[i].n * g[i].k;
        j.g = &g[i];
        /* calibrate: one call, then about `seconds` worth */
        double t0 = now();
        sgemm_call(&g[i], j.buf[0][0], j.buf[0][1], j.buf[0][2]);
        double t1 = now() - t0;
        j.reps = (long)(seconds / (t1 > 1e-7 ? t1 : 1e-7));
        if (j.reps < 3)
            j.reps = 3;
        pthread_barrier_init(&bar, NULL, (unsigned)threads);
        t0 = now();
        run_team(threads, sgemm_worker, &j, w);
        double wall = now() - t0;
        pthread_barrier_destroy(&bar);
        double rate = (double)threads * (double)j.reps * f / wall; /* FLOP/s */
        flops += (double)g[i].calls * f;
        secs += (double)g[i].calls * f / rate;
    }
    for (int t = 0; t < threads; t++)
        for (int k = 0; k < 3; k++)
            free(j.buf[t][k]);
    return secs > 0.0 ? flops / secs / 1e9 : 0.0;
}

/* ---- one case, in a forked child ---- */

static int is(const char *mode, const char *name) { return strcmp(mode, name) == 0; }

/* b = -1 for the first channels of every quantised layer but the last (the
 * logits), the same fraction everywhere (so that the channels of residual
 * sums die in every branch), the smallest fraction that leaves at most
 * `pct`% of the weights; then sc_net_compress(). Returns weights_pct. */
static double shrink(sc_net *net, double pct)
{
    int n = sc_net_layer_count(net), last = -1;
    for (int id = 1; id < n; id++)
        if (sc_net_is_quantized(net, id))
            last = id;
    sc_size_report r = SC_SIZE_REPORT_INIT;
    for (int keep = 100; keep > 0; keep--) {
        for (int id = 1; id < last; id++) {
            if (!sc_net_is_quantized(net, id))
                continue;
            int c;
            check(sc_net_layer_shape(net, id, &c, NULL, NULL), "layer shape");
            float *b = malloc((size_t)c * sizeof *b);
            if (b == NULL)
                die("out of memory");
            int dead = c - (c * keep + 99) / 100;
            for (int o = 0; o < c; o++)
                b[o] = o < dead ? -1.0f : 8.0f;
            check(sc_net_set_quant(net, id, b, NULL, (size_t)c), "set quant");
            free(b);
        }
        check(sc_net_size_report(net, SC_ALL_LAYERS, &r), "size report");
        if (r.weights_pct <= pct)
            break;
    }
    check(sc_net_compress(net, NULL), "sc_net_compress");
    return r.weights_pct;
}

/* The net's model file, loaded (written to a temporary file and removed). */
static sc_model *as_model(sc_net *net, int threads)
{
    char path[] = "/tmp/sc_bench_model.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        die("mkstemp: %s", strerror(errno));
    close(fd);
    sc_model *m;
    check(sc_net_save(net, path, NULL), "sc_net_save");
    check(sc_model_load(&m, path), "sc_model_load");
    remove(path);
    check(sc_model_set_threads(m, threads), "sc_model_set_threads");
    return m;
}

/* A net (or its model file) set up for one mode, with its synthetic data:
 * a few distinct batches of N(0, 1) pixels (the normalised data's scale),
 * labels uniform in 0..9, fixed seed. */
enum { NB = 4 };
typedef struct runner {
    sc_net *net;
    sc_optimizer *opt; /* training modes */
    sc_model *model;   /* model, model18 */
    int infer, batch;
    long step;
    double weights_pct, fwd_flops;
    nets_info info;
    float *pix, *logits;
    int32_t *lab;
    sc_tensor *x[NB], *y;
} runner;

static void runner_init(runner *r, const char *name, int threads, int batch,
                        const char *mode)
{
    int small = is(mode, "sc18") || is(mode, "model18");
    int sc = is(mode, "sc") || small;
    memset(r, 0, sizeof *r);
    r->infer = !(is(mode, "float") || is(mode, "sc") || is(mode, "sc18"));
    r->batch = batch;
    check(nets_build(name, &r->net, &r->info), "building the net");
    check(sc_net_init(r->net, 1), "sc_net_init");
    check(sc_net_set_threads(r->net, threads), "sc_net_set_threads");
    r->weights_pct = 100.0;
    r->fwd_flops = nets_forward_flops(&r->info);
    if (sc) {
        check(sc_net_quantize(r->net, SC_ALL_LAYERS), "sc_net_quantize");
        check(sc_net_set_param(r->net, SC_PARAM_GAMMA, 0.05), "gamma");
    }
    if (small) {
        r->weights_pct = shrink(r->net, 18.0);
        r->fwd_flops = nets_current_flops(r->net, &r->info);
    }
    if (r->infer)
        check(sc_net_set_training(r->net, 0), "eval mode");
    else
        check(sc_optimizer_create(&r->opt, r->net, SC_OPT_ADAM), "sc_optimizer_create");
    if (is(mode, "model") || is(mode, "model18"))
        r->model = as_model(r->net, threads);

    uint64_t seed = 20240601;
    size_t per = (size_t)batch * 784;
    r->pix = malloc(NB * per * sizeof(float));
    r->logits = malloc((size_t)batch * 10 * sizeof(float));
    r->lab = malloc(NB * (size_t)batch * sizeof(int32_t));
    if (!r->pix || !r->lab || !r->logits)
        die("out of memory");
    for (size_t i = 0; i < NB * per; i++)
        r->pix[i] = (float)normal(&seed);
    for (size_t i = 0; i < NB * (size_t)batch; i++)
        r->lab[i] = (int32_t)(splitmix(&seed) % 10);
    int c, h, w;
    nets_input_shape(name, &c, &h, &w);
    int64_t xs[4] = {batch, c, h, w}, ys[2] = {batch, 10};
    for (int b = 0; b < NB; b++)
        check(sc_tensor_wrap(&r->x[b], 4, xs, r->pix + b * per), "tensor");
    check(sc_tensor_wrap(&r->y, 2, ys, r->logits), "tensor");
}

/* k steps (training steps, or forwards); returns the seconds they took */
static double runner_steps(runner *r, int k)
{
    double t0 = now();
    for (int i = 0; i < k; i++) {
        int b = (int)(r->step++ % NB);
        if (r->model)
            check(sc_model_forward(r->model, r->x[b], r->y), "sc_model_forward");
        else if (r->infer)
            check(sc_net_forward(r->net, r->x[b], r->y), "sc_net_forward");
        else
            check(sc_net_train_step(r->net, r->opt, r->x[b],
                                    r->lab + (size_t)b * r->batch, NULL),
                  "sc_net_train_step");
    }
    return now() - t0;
}

/* the warm-up steps; then how many steps take about `seconds` */
static int runner_warm(runner *r, const options *o, double seconds)
{
    double per_step = runner_steps(r, o->warmup) / (o->warmup > 0 ? o->warmup : 1);
    if (o->steps > 0)
        return o->steps;
    double s = ceil(seconds / (per_step > 1e-6 ? per_step : 1e-6));
    return s < 2 ? 2 : s > 10000 ? 10000 : (int)s;
}

static void runner_free(runner *r)
{
    for (int b = 0; b < NB; b++)
        sc_tensor_free(r->x[b]);
    sc_tensor_free(r->y);
    sc_model_free(r->model);
    sc_optimizer_free(r->opt);
    sc_net_free(r->net);
    free(r->pix);
    free(r->lab);
    free(r->logits);
}

static void run_case(const options *o, const char *name, int threads,
                     int batch, const char *mode)
{
    runner r;
    runner_init(&r, name, threads, batch, mode);
    int steps = runner_warm(&r, o, o->rep_seconds);
    double rate[64];
    int reps = o->reps > 64 ? 64 : o->reps;
    for (int i = 0; i < reps; i++)
        rate[i] = (double)steps * batch / runner_steps(&r, steps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    double img_s = median(rate, reps);
    double gflops = (r.infer ? 1.0 : 3.0) * r.fwd_flops * img_s / 1e9;
    double peak = threads <= MAX_THREADS ? peak_gflops[threads] : 0.0;

    nets_gemm g[NETS_MAX_GEMMS];
    int ng = nets_gemm_shapes(&r.info, batch, !r.infer, g, NETS_MAX_GEMMS);
    double sg = measure_sgemm(g, ng, threads, o->sgemm_seconds);

    char core[64];
    snprintf(core, sizeof core, "%s", sc_blas_kernel());
    for (char *c = core; *c; c++)
        if (*c == ' ' || *c == '=')
            *c = '_';
    printf("BENCH net=%s threads=%d batch=%d mode=%s img_s=%.1f gflops=%.2f "
           "peak_frac=%.4f sgemm_gflops=%.2f blas_core=%s rss_mb=%.1f "
           "conv_kernel=%s weights_pct=%.2f\n",
           name, threads, batch, mode, img_s, gflops,
           peak > 0 ? gflops / peak : 0.0, sg, core[0] ? core : "unknown", rss_mb,
           sc_conv_kernel(), r.weights_pct);
    fflush(stdout);
    runner_free(&r);
}

/* The ratios the targets judge (sc over float, sc18 over sc, model over
 * model18), measured in one process: both runners are set up side by side
 * and their blocks of steps alternate, each block about rep_seconds / 2;
 * ratio is the median over 2 reps + 1 rounds of (a's time per step) / (b's),
 * q1 and q3 its quartiles. The separate cases run seconds to minutes apart,
 * long enough for a shared machine's speed to drift by tens of percent. */
static const char *const pairs[][2] = {{"sc", "float"}, {"sc18", "sc"},
                                       {"model", "model18"}};
enum { NPAIRS = sizeof pairs / sizeof pairs[0] };

static void run_pair(const options *o, const char *name, int threads, int batch,
                     const char *a, const char *b)
{
    runner ra, rb;
    runner_init(&ra, name, threads, batch, a);
    runner_init(&rb, name, threads, batch, b);
    int sa = runner_warm(&ra, o, o->rep_seconds / 2);
    int sb = runner_warm(&rb, o, o->rep_seconds / 2);
    double ratio[129];
    int rounds = 2 * (o->reps > 64 ? 64 : o->reps) + 1;
    for (int i = 0; i < rounds; i++) {
        double ta = runner_steps(&ra, sa) / sa;
        ratio[i] = ta / (runner_steps(&rb, sb) / sb);
    }
    qsort(ratio, (size_t)rounds, sizeof ratio[0], cmp_double);
    printf("PAIR net=%s threads=%d batch=%d a=%s b=%s ratio=%.4f q1=%.4f "
           "q3=%.4f rounds=%d\n",
           name, threads, batch, a, b, ratio[rounds / 2], ratio[rounds / 4],
           ratio[(3 * rounds) / 4], rounds);
    fflush(stdout);
    runner_free(&ra);
    runner_free(&rb);
}

/* ---- flags ---- */

static void usage(void)
{
    puts("usage: bench [options]\n"
         "  --quick             tiny run for make check: batch 32, 2 x 2 steps\n"
         "  --nets LIST         comma-separated: mlp,tinynet,cnn,dscnn,seq1d\n"
         "                      (default all)\n"
         "  --threads LIST      thread counts (default 1,2)\n"
         "  --modes LIST        float,sc,infer,sc18,model,model18 (default all)\n"
         "  --batches LIST      batch sizes for every net (default: 128, and\n"
         "                      512 too for tinynet)\n"
         "  --reps N            timed repetitions, median reported (default 5)\n"
         "  --steps N           steps per repetition (default: about 0.5 s worth)\n"
         "  --warmup N          warm-up steps (default 2)\n"
         "  --no-pairs          skip the PAIR lines (ratios measured in one\n"
         "                      process: sc/float, sc18/sc, model/model18)");
}

static int to_int(const char *flag, const char *v, int lo, int hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi)
        die("%s wants an integer in [%d, %d], got '%s'", flag, lo, hi, v);
    return (int)x;
}

/* splits a comma-separated list in place */
static int split(char *s, const char **out, const char *flag)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_LIST)
            die("%s: at most %d entries", flag, MAX_LIST);
        out[n++] = tok;
    }
    if (n == 0)
        die("%s: empty list", flag);
    return n;
}

static options parse(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.reps = 5;
    o.pairs = 1;
    o.warmup = 2;
    o.rep_seconds = 0.5;
    o.fma_seconds = 0.2;
    o.sgemm_seconds = 0.01;
    const char *defnets[5] = {"mlp", "tinynet", "cnn", "dscnn", "seq1d"};
    for (int i = 0; i < 5; i++)
        o.nets[i] = defnets[i];
    for (int i = 0; i < NMODES; i++)
        o.modes[i] = all_modes[i];
    o.nnets = 5;
    o.nmodes = NMODES;
    o.threads[0] = 1;
    o.threads[1] = 2;
    o.nthreads = 2;
    int reps = -1, steps = -1, warmup = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            exit(0);
        }
        if (strcmp(a, "--quick") == 0) {
            o.quick = 1;
            continue;
        }
        if (strcmp(a, "--no-pairs") == 0) {
            o.pairs = 0;
            continue;
        }
        if (i + 1 >= argc)
            die("unknown flag or missing value: '%s' (see --help)", a);
        char *v = argv[++i];
        const char *tmp[MAX_LIST];
        if (strcmp(a, "--nets") == 0) {
            o.nnets = split(v, o.nets, a);
            for (int k = 0; k < o.nnets; k++)
                if (!nets_known(o.nets[k]))
                    die("unknown net '%s' (" NETS_NAMES ")", o.nets[k]);
        } else if (strcmp(a, "--modes") == 0) {
            o.nmodes = split(v, o.modes, a);
            for (int k = 0; k < o.nmodes; k++) {
                int known = 0;
                for (int m = 0; m < NMODES; m++)
                    known |= is(o.modes[k], all_modes[m]);
                if (!known)
                    die("unknown mode '%s' (float, sc, infer, sc18, model or "
                        "model18)", o.modes[k]);
            }
        } else if (strcmp(a, "--threads") == 0) {
            o.nthreads = split(v, tmp, a);
            for (int k = 0; k < o.nthreads; k++)
                o.threads[k] = to_int(a, tmp[k], 1, MAX_THREADS);
        } else if (strcmp(a, "--batches") == 0) {
            o.nbatches = split(v, tmp, a);
            for (int k = 0; k < o.nbatches; k++)
                o.batches[k] = to_int(a, tmp[k], 1, 65536);
        } else if (strcmp(a, "--reps") == 0) {
            reps = to_int(a, v, 1, 64);
        } else if (strcmp(a, "--steps") == 0) {
            steps = to_int(a, v, 1, 1000000);
        } else if (strcmp(a, "--warmup") == 0) {
            warmup = to_int(a, v, 0, 1000000);
        } else {
            die("unknown flag '%s' (see --help)", a);
        }
    }
    if (o.quick) {
        o.reps = 2;
        o.steps = 2;
        o.warmup = 1;
        o.fma_seconds = 0.02;
        o.sgemm_seconds = 0.0005;
        if (o.nbatches == 0) {
            o.batches[0] = 32;
            o.nbatches = 1;
        }
    }
    if (reps > 0) o.reps = reps;
    if (steps > 0) o.steps = steps;
    if (warmup >= 0) o.warmup = warmup;
    return o;
}

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = 0;
                for (char *c = p; *c; c++)
                    if (*c == '"')
                        *c = '\'';
                snprintf(buf, cap, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

static int has_mode(const options *o, const char *mode)
{
    for (int m = 0; m < o->nmodes; m++)
        if (is(o->modes[m], mode))
            return 1;
    return 0;
}

/* One case (b == NULL) or pair (a over b) in a forked child; 1 if it failed. */
static int in_child(const options *o, const char *net, int threads, int batch,
                    const char *a, const char *b)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        if (b == NULL)
            run_case(o, net, threads, batch, a);
        else
            run_pair(o, net, threads, batch, a, b);
        fflush(stdout);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) >= 0 && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0)
        return 0;
    fprintf(stderr, "bench: %s net=%s threads=%d batch=%d mode=%s%s%s failed "
            "(%s %d)\n", b ? "pair" : "case", net, threads, batch, a,
            b ? "/" : "", b ? b : "",
            WIFSIGNALED(status) ? "signal" : "exit status",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return 1;
}

int main(int argc, char **argv)
{
    sc_use_best_blas_kernel(argv);
    options o = parse(argc, argv);
    single_thread_blas();

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    const char *best = sc_blas_best_coretype();
    printf("MACHINE cpu=\"%s\" cores=%ld libselfcompress=%s blas_core=%s "
           "best_core=%s OPENBLAS_CORETYPE=%s blas_info=\"%s\"\n",
           cpu, cores, sc_version_string(), sc_blas_kernel(),
           best ? best : "unknown", ct ? ct : "(unset)", sc_blas_info());
    for (int i = 0; i < o.nthreads; i++) {
        int t = o.threads[i];
        if (peak_gflops[t] == 0.0)
            peak_gflops[t] = measure_fma_peak(t, o.fma_seconds);
        printf("PEAK threads=%d fma_gflops=%.1f isa=%s\n", t, peak_gflops[t], fma_isa);
    }
    fflush(stdout);

    int failed = 0;
    for (int n = 0; n < o.nnets; n++) {
        int batches[MAX_LIST], nb = o.nbatches;
        if (nb > 0) {
            memcpy(batches, o.batches, sizeof batches);
        } else {
            batches[nb++] = 128;
            if (strcmp(o.nets[n], "tinynet") == 0)
                batches[nb++] = 512;
        }
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < o.nthreads; t++)
                for (int m = 0; m <= o.nmodes + NPAIRS; m++) {
                    const char *a = NULL, *b2 = NULL;
                    if (m < o.nmodes) {
                        a = o.modes[m];
                    } else if (m > o.nmodes && o.pairs &&
                               has_mode(&o, pairs[m - o.nmodes - 1][0]) &&
                               has_mode(&o, pairs[m - o.nmodes - 1][1])) {
                        a = pairs[m - o.nmodes - 1][0];
                        b2 = pairs[m - o.nmodes - 1][1];
                    }
                    if (a != NULL)
                        failed |= in_child(&o, o.nets[n], o.threads[t],
                                           batches[b], a, b2);
                }
    }
    return failed;
}
