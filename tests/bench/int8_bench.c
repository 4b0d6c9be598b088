/* int8_bench.c -- a calibrated model file's inference speed in int8 and in
 * fp32, measured in one run on real Fashion-MNIST test images
 * (`make bench-int8 MODEL=FILE`; docs/performance.md, "int8 inference").
 *
 *   build/tests/bench/int8_bench [options] MODEL
 *
 * For each thread count and batch size, each repetition runs about
 * --seconds of forwards in fp32, then as long in int8
 * (sc_model_set_param(SC_PARAM_INFERENCE)), over the first --images test
 * images in turn; after one such warm-up round, the median images/s of each
 * and the median of the repetitions' int8/fp32 ratios (with its quartiles)
 * are printed. Lines:
 *   MACHINE libselfcompress=.. blas_core=.. blas_info=".." conv_kernel=..
 *       int8_kernel=..
 *   MODEL file=.. file_bytes=.. weights=.. calibrated_images=.. int8_bytes=..
 *   ACCURACY images=N fp32=.. int8=..      (on the timed images, at the
 *       first of --batches)
 *   SPEED impl=ours threads=T batch=B fp32_img_s=.. int8_img_s=..
 *       ratio=.. q1=.. q3=..
 *
 * --export DIR writes what the PyTorch counterpart (tests/bench/int8_torch.py)
 * reads: model.onnx (sc_model_export_onnx), calib.f32 (the first 1,024
 * training images, normalised as the example program does: float32 raw,
 * 784 each), test.f32 and test_labels.u8 (the timed images and their
 * labels), fp32_logits.f32 (this model's fp32 logits of them, 10 each).
 * --dump FILE writes the int8 logits of the timed images (float32
 * raw): the same bytes before and after a change of the int8 code show that
 * it computes the same. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMMON_PROG "int8_bench"
#include "blas_kernel.h"
#include "common.h"
#include "fmnist_data.h"
#include "selfcompress.h"

/* the example program's calibration set: its first training images */
#define CALIB_IMAGES 1024
#define MAX_LIST 8
#define MAX_REPS 64

typedef struct options {
    const char *model, *data, *export_dir, *dump;
    long images;
    int reps;
    double seconds;
    int threads[MAX_LIST], nthreads;
    int batches[MAX_LIST], nbatches;
} options;

static int parse_list(const char *s, int *out, const char *what)
{
    int n = 0;
    char *end;
    for (;;) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 4096 || n == MAX_LIST)
            die("%s: a comma-separated list of up to %d integers in [1, 4096]",
                what, MAX_LIST);
        out[n++] = (int)v;
        if (*end != ',')
            break;
        s = end + 1;
    }
    if (*end != '\0')
        die("%s: a comma-separated list of integers", what);
    return n;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: int8_bench [options] MODEL\n"
            "  --data DIR        Fashion-MNIST IDX files (default %s)\n"
            "  --images N        test images timed, from the first (default 2048)\n"
            "  --threads LIST    thread counts (default 1,2)\n"
            "  --batches LIST    batch sizes (default 128,1)\n"
            "  --reps N          repetitions, medians reported (default 7)\n"
            "  --seconds S       seconds of each mode per repetition (default 0.3)\n"
            "  --export DIR      the files of the PyTorch counterpart\n"
            "  --dump FILE       the int8 logits of the timed images (float32 raw)\n",
            DEFAULT_DATA);
    exit(2);
}

static options parse(int argc, char **argv)
{
    options o = {NULL, DEFAULT_DATA, NULL, NULL, 2048, 7, 0.3, {1, 2}, 2, {128, 1}, 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (o.model != NULL)
                usage();
            o.model = a;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--data") == 0)
            o.data = v;
        else if (strcmp(a, "--images") == 0)
            o.images = strtol(v, NULL, 10);
        else if (strcmp(a, "--threads") == 0)
            o.nthreads = parse_list(v, o.threads, "--threads");
        else if (strcmp(a, "--batches") == 0)
            o.nbatches = parse_list(v, o.batches, "--batches");
        else if (strcmp(a, "--reps") == 0)
            o.reps = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--seconds") == 0)
            o.seconds = strtod(v, NULL);
        else if (strcmp(a, "--export") == 0)
            o.export_dir = v;
        else if (strcmp(a, "--dump") == 0)
            o.dump = v;
        else
            usage();
    }
    if (o.model == NULL || o.images < 1 || o.reps < 1 || o.reps > MAX_REPS ||
        !(o.seconds > 0.0 && o.seconds <= 60.0))
        usage();
    return o;
}

/* images/s of forwards of `batch` images of d, from the first in turn, for
 * at least `seconds` */
static double rate(sc_model *m, const dataset *d, int batch, double seconds, float *logits)
{
    long done = 0, at = 0;
    double t0 = now(), t;
    do {
        int n = (int)(d->n - at < batch ? d->n - at : batch);
        int64_t xs[4] = {n, d->c, d->h, d->w}, ys[2] = {n, 10};
        sc_tensor *x, *y;
        check(sc_tensor_wrap(&x, 4, xs, d->x + at * 784), "sc_tensor_wrap");
        check(sc_tensor_wrap(&y, 2, ys, logits), "sc_tensor_wrap");
        check(sc_model_forward(m, x, y), "sc_model_forward");
        sc_tensor_free(x);
        sc_tensor_free(y);
        done += n;
        at = at + n >= d->n ? 0 : at + n;
        t = now();
    } while (t - t0 < seconds);
    return (double)done / (t - t0);
}

static void set_mode(sc_model *m, int mode)
{
    check(sc_model_set_param(m, SC_PARAM_INFERENCE, mode), "SC_PARAM_INFERENCE");
}

/* one SPEED line: fp32 and int8 alternating, a warm-up round first */
static void measure(sc_model *m, const dataset *d, const options *o, int threads,
                    int batch)
{
    check(sc_model_set_threads(m, threads), "sc_model_set_threads");
    float *logits = malloc((size_t)batch * 10 * sizeof *logits);
    if (logits == NULL)
        die("out of memory");
    double fp[MAX_REPS], i8[MAX_REPS], ratio[MAX_REPS];
    for (int r = -1; r < o->reps; r++) {
        set_mode(m, SC_INFERENCE_FP32);
        double a = rate(m, d, batch, o->seconds, logits);
        set_mode(m, SC_INFERENCE_INT8);
        double b = rate(m, d, batch, o->seconds, logits);
        if (r >= 0) {
            fp[r] = a;
            i8[r] = b;
            ratio[r] = b / a;
        }
    }
    double med = median(ratio, o->reps); /* sorts ratio */
    printf("SPEED impl=ours threads=%d batch=%d fp32_img_s=%.1f int8_img_s=%.1f "
           "ratio=%.3f q1=%.3f q3=%.3f\n",
           threads, batch, median(fp, o->reps), median(i8, o->reps), med,
           ratio[(o->reps - 1) / 4], ratio[o->reps - 1 - (o->reps - 1) / 4]);
    fflush(stdout);
    free(logits);
}

static void write_file(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, bytes, f) != bytes || fclose(f) != 0)
        die("cannot write %s", path);
}

/* the files of --export; leaves m in fp32 */
static void export_files(sc_model *m, const dataset *train, const dataset *test,
                         const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    check(sc_model_export_onnx(m, path, NULL), "sc_model_export_onnx");
    long nc = train->n < CALIB_IMAGES ? train->n : CALIB_IMAGES;
    write_file(dir, "calib.f32", train->x, (size_t)nc * 784 * sizeof(float));
    write_file(dir, "test.f32", test->x, (size_t)test->n * 784 * sizeof(float));
    unsigned char *lab = malloc((size_t)test->n);
    float *logits = malloc((size_t)test->n * 10 * sizeof *logits);
    if (lab == NULL || logits == NULL)
        die("out of memory");
    for (long i = 0; i < test->n; i++)
        lab[i] = (unsigned char)test->y[i];
    write_file(dir, "test_labels.u8", lab, (size_t)test->n);
    set_mode(m, SC_INFERENCE_FP32);
    int64_t xs[4] = {test->n, test->c, test->h, test->w}, ys[2] = {test->n, 10};
    sc_tensor *x, *y;
    check(sc_tensor_wrap(&x, 4, xs, test->x), "sc_tensor_wrap");
    check(sc_tensor_wrap(&y, 2, ys, logits), "sc_tensor_wrap");
    check(sc_model_forward(m, x, y), "sc_model_forward");
    write_file(dir, "fp32_logits.f32", logits, (size_t)test->n * 10 * sizeof(float));
    sc_tensor_free(x);
    sc_tensor_free(y);
    free(logits);
    free(lab);
}

int main(int argc, char **argv)
{
    sc_use_best_blas_kernel(argv);
    options o = parse(argc, argv);

    sc_model *m;
    check(sc_model_load(&m, o.model), "sc_model_load");
    sc_model_info info = SC_MODEL_INFO_INIT;
    check(sc_model_get_info(m, &info), "sc_model_get_info");
    if (info.calibrated_images == 0)
        die("%s has no activation ranges (sc_net_calibrate before saving)", o.model);
    int c, h, w;
    check(sc_model_input_shape(m, &c, &h, &w), "sc_model_input_shape");
    if (c * h * w != 784 || sc_model_output_size(m) != 10)
        die("%s does not take Fashion-MNIST images (784 in, 10 out)", o.model);

    dataset train = load(o.data, "train", 0), test = load(o.data, "t10k", o.images);
    normalise(&train, &test);
    /* the layout of the benchmark net whose input shape the model takes
     * (seq1d reads an image's rows as time steps), as the example does */
    int qc, qh, qw;
    nets_input_shape("seq1d", &qc, &qh, &qw);
    if (c == qc && h == qh && w == qw) {
        to_net_input(&train, "seq1d");
        to_net_input(&test, "seq1d");
    }
    train.c = test.c = c;
    train.h = test.h = h;
    train.w = test.w = w;

    /* the int8 tables are prepared by the first int8 forward: before the
     * figures of int8_bytes and the accuracy */
    set_mode(m, SC_INFERENCE_INT8);
    FILE *dump = o.dump ? fopen(o.dump, "wb") : NULL;
    if (o.dump && dump == NULL)
        die("cannot write %s", o.dump);
    double acc8 = evaluate_dump(model_forward, m, &test, o.batches[0], dump, test.n);
    if (dump && fclose(dump) != 0)
        die("cannot write %s", o.dump);
    check(sc_model_get_info(m, &info), "sc_model_get_info");
    set_mode(m, SC_INFERENCE_FP32);
    double acc32 = evaluate(model_forward, m, &test, o.batches[0]);

    printf("MACHINE libselfcompress=%s blas_core=%s blas_info=\"%s\" "
           "conv_kernel=%s int8_kernel=%s\n",
           sc_version_string(), sc_blas_kernel(), sc_blas_info(), sc_conv_kernel(),
           sc_int8_kernel());
    printf("MODEL file=%s file_bytes=%lld weights=%lld calibrated_images=%lld "
           "int8_bytes=%lld\n",
           o.model, (long long)info.file_bytes, (long long)info.weights,
           (long long)info.calibrated_images, (long long)info.int8_bytes);
    printf("ACCURACY images=%ld fp32=%.4f int8=%.4f\n", test.n, acc32, acc8);
    fflush(stdout);
    if (o.export_dir != NULL)
        export_files(m, &train, &test, o.export_dir);

    for (int t = 0; t < o.nthreads; t++)
        for (int b = 0; b < o.nbatches; b++)
            measure(m, &test, &o, o.threads[t], o.batches[b]);
    sc_model_free(m);
    dataset_free(&train);
    dataset_free(&test);
    return 0;
}
