/* fashion_mnist.c -- train a network that compresses itself on Fashion-MNIST.
 *
 *   build/examples/fashion_mnist [--net mlp|tinynet|cnn|dscnn|seq1d] [--epochs N] ...
 *
 * Reads the IDX gzip files of Debian's dataset-fashion-mnist (or --data DIR),
 * trains with self-compression (or --float), compresses the net, evaluates
 * it on the test set and prints a per-layer summary and one RESULT line.
 * Run with --help for every flag.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <selfcompress.h>

#define COMMON_PROG "fashion_mnist"
#include "blas_kernel.h"
#include "common.h"
#include "fmnist_data.h"
#include "nets.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* training images the int8 activation ranges are measured on */
#define CALIB_IMAGES 1024

/* an option left to the library's default (flags take values >= 0) */
#define UNSET (-1.0)

typedef struct options {
    const char *data, *net, *save, *eval, *trace;
    int epochs, batch, threads, use_float, cosine, freeze, bn_refresh;
    long steps, train_limit, test_limit, compress_every;
    double gamma, lr, qlr, elr, qwarmup, b0, target_bits, target_weights, max_bits;
    unsigned long seed;
    const char *init_onnx; /* --init-onnx: start from this ONNX model */
    const char *eval_onnx; /* --eval-onnx: only evaluate this ONNX model */
    const char *dump_logits; /* --dump-logits: the first dump_count test logits */
    long dump_count;
    const char *teacher; /* --teacher: distil from this float model file */
    double distill_t, distill_w; /* --distill-t, --distill-w */
} options;

/* ---- the benchmark networks (../shared/spec/benchmarks.md): nets.h ---- */

static void known_net(const char *name)
{
    if (!nets_known(name))
        die("unknown --net '%s' (" NETS_NAMES ")", name);
}

static sc_net *build(const char *name)
{
    sc_net *net;
    known_net(name);
    check(nets_build(name, &net, NULL), "building the net");
    return net;
}

/* The bytes of net's model file, through a temporary file. Saved before any
 * quantisation it is the float model file (a model file stores the weights
 * of an unquantised layer as f32): file_pct is a model file's bytes over
 * these. */
static long long net_file_bytes(const sc_net *net)
{
    char tmp[] = "/tmp/fashion_mnist_float.XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        die("cannot create a temporary file: %s", strerror(errno));
    close(fd);
    sc_model_info info = SC_MODEL_INFO_INIT;
    check(sc_net_save(net, tmp, &info), "sc_net_save");
    remove(tmp);
    return (long long)info.file_bytes;
}

/* A model file's bytes once calibrated: the activation ranges add two
 * floats per layer (docs/format.md) */
static long long with_ranges(long long bytes, const sc_net *net)
{
    return bytes + 8LL * sc_net_layer_count(net);
}

/* The float model file of net `name` as built, every channel, with
 * activation ranges when calibrated. */
static long long float_file_bytes(const char *name, int calibrated)
{
    sc_net *net = build(name);
    check(sc_net_init(net, 1), "sc_net_init");
    long long n = net_file_bytes(net);
    if (calibrated)
        n = with_ranges(n, net);
    sc_net_free(net);
    return n;
}

/* The size report of layer id into *r when it is a dense or conv layer
 * (returns its kind); -1 for any other layer. */
static int weight_layer_report(sc_net *net, int id, sc_size_report *r)
{
    int kind = sc_net_layer_kind(net, id);
    if (kind != SC_LAYER_DENSE && kind != SC_LAYER_CONV2D)
        return -1;
    *r = (sc_size_report)SC_SIZE_REPORT_INIT;
    check(sc_net_size_report(net, id, r), "size report");
    return kind;
}

/* How many times fewer bits than float weights: 100 / bits_pct (a layer
 * with no bits left: infinitely). */
static double times_smaller(double bits_pct)
{
    return bits_pct > 0.0 ? 100.0 / bits_pct : INFINITY;
}

static void summary(sc_net *net)
{
    static const char *kinds[] = {"input", "dense", "conv2d", "batchnorm",
                                  "relu", "maxpool", "gavgpool", "gmaxpool",
                                  "flatten", "add"};
    printf("\n%-5s %-8s %8s %8s %10s %8s %8s %8s %8s\n", "layer", "kind", "in_ch",
           "out_ch", "weights", "w0", "bits%", "weights%", "smaller");
    for (int id = 1; id < sc_net_layer_count(net); id++) {
        sc_size_report r;
        int kind = weight_layer_report(net, id, &r);
        if (kind < 0)
            continue;
        printf("%-5d %-8s %8lld %8lld %10lld %8lld %8.2f %8.2f %7.1fx\n", id,
               kinds[kind], (long long)r.in_channels, (long long)r.out_channels,
               (long long)r.weights, (long long)r.weights0, r.bits_pct,
               r.weights_pct, times_smaller(r.bits_pct));
    }
    sc_size_report t = SC_SIZE_REPORT_INIT;
    check(sc_net_size_report(net, SC_ALL_LAYERS, &t), "size report");
    printf("%-14s %17s %10lld %8lld %8.2f %8.2f %7.1fx\n", "total", "",
           (long long)t.weights, (long long)t.weights0, t.bits_pct, t.weights_pct,
           times_smaller(t.bits_pct));
    printf("smaller: the float weights' bits over the bits stored\n");
    printf("fp32 overhead: %lld floats (biases, norm parameters, b and e)\n",
           (long long)t.overhead_floats);
}

/* the largest bit depth any channel stores: ceil(b) */
static int max_stored_bits(const sc_net *net)
{
    int most = 0;
    for (int id = 1; id < sc_net_layer_count(net); id++) {
        int c, h, w;
        if (!sc_net_is_quantized(net, id))
            continue;
        check(sc_net_layer_shape(net, id, &c, &h, &w), "layer shape");
        float *b = malloc((size_t)c * sizeof *b);
        if (b == NULL)
            die("out of memory");
        check(sc_net_get_quant(net, id, b, NULL, (size_t)c), "quantiser");
        for (int o = 0; o < c; o++)
            if (b[o] > 0 && (int)ceilf(b[o]) > most)
                most = (int)ceilf(b[o]);
        free(b);
    }
    return most;
}

typedef struct progress_line {
    long total;
    double t0;
    int tty;      /* stderr is a terminal: one live line */
    double shown; /* when the last line went out (not a terminal) */
} progress_line;

/* Seconds between progress lines when stderr is not a terminal. */
#define PROGRESS_EVERY_S 5.0

/* the progress hook: on a terminal one live line on stderr, else a line
 * every PROGRESS_EVERY_S seconds */
static void show_progress(const sc_progress *p, void *user)
{
    progress_line *pl = user;
    if (p->kind != SC_PROGRESS_STEP)
        return;
    double t = now(), el = t - pl->t0;
    if (!pl->tty && t - pl->shown < PROGRESS_EVERY_S)
        return;
    pl->shown = t;
    fprintf(stderr,
            "%sstep %6llu/%ld  %7.0f img/s  loss %.4f  acc %5.1f%%  Q %.3f  "
            "bits %6.2f%%  weights %6.2f%%  ETA %4.0fs %s",
            pl->tty ? "\r" : "", (unsigned long long)p->step, pl->total,
            p->images_per_sec, p->task_loss, 100.0 * p->accuracy, p->size_loss,
            p->bits_pct, p->weights_pct,
            el / (double)p->step * (double)(pl->total - (long)p->step),
            pl->tty ? "" : "\n");
}

/* --trace FILE: live channels of every dense/conv layer at this step */
static void write_trace(FILE *f, sc_net *net, long step)
{
    for (int id = 1; id < sc_net_layer_count(net); id++) {
        sc_size_report r;
        if (weight_layer_report(net, id, &r) < 0)
            continue;
        fprintf(f, "%ld,%d,%lld,%lld,%.4f,%.4f\n", step, id,
                (long long)r.out_channels, (long long)r.in_channels, r.bits_pct,
                r.weights_pct);
    }
}

/* fn (the running statistics' refresh, the int8 calibration) on the first
 * `batches` training batches of order */
static void over_batches(sc_net *net, const dataset *d, const long *order,
                         int batches, int batch, float *bx, int32_t *by,
                         sc_status (*fn)(sc_net *, const sc_tensor *),
                         const char *what)
{
    for (long b = 0, at = 0; b < batches && at < d->n; b++, at += batch) {
        int n = gather(d, order, at, batch, bx, by);
        int64_t xs[4] = {n, d->c, d->h, d->w};
        sc_tensor *x;
        check(sc_tensor_wrap(&x, 4, xs, bx), "tensor");
        check(fn(net, x), what);
        sc_tensor_free(x);
    }
}

/* running statistics brought up to date on `batches` training batches */
static void refresh_bn(sc_net *net, const dataset *d, const long *order,
                       int batches, int batch, float *bx, int32_t *by)
{
    over_batches(net, d, order, batches, batch, bx, by, sc_net_update_bn_stats,
                 "sc_net_update_bn_stats");
}

/* The test accuracy of model in int8 (NAN when its file has no activation
 * ranges); the model is left in fp32. */
static double int8_accuracy(sc_model *model, const dataset *test)
{
    sc_model_info info = SC_MODEL_INFO_INIT;
    check(sc_model_get_info(model, &info), "model info");
    if (info.calibrated_images == 0)
        return NAN;
    check(sc_model_set_param(model, SC_PARAM_INFERENCE, SC_INFERENCE_INT8),
          "int8 inference");
    double acc = evaluate(model_forward, model, test, 256);
    check(sc_model_set_param(model, SC_PARAM_INFERENCE, SC_INFERENCE_FP32),
          "fp32 inference");
    return acc;
}

/* --eval FILE: the RESULT line of a saved model */
static int eval_only(const options *o, dataset *train, dataset *test)
{
    sc_model *model;
    sc_model_info info = SC_MODEL_INFO_INIT;
    check(sc_model_load(&model, o->eval), "sc_model_load");
    check(sc_model_get_info(model, &info), "model info");
    int c, h, w;
    check(sc_model_input_shape(model, &c, &h, &w), "model input shape");
    if (c != test->c || h != test->h || w != test->w)
        die("%s takes %d x %d x %d inputs, --net %s %d x %d x %d: pass its --net",
            o->eval, c, h, w, o->net, test->c, test->h, test->w);
    check(sc_model_set_threads(model, o->threads), "model threads");
    check(sc_model_set_param(model, SC_PARAM_INFERENCE, SC_INFERENCE_FP32),
          "fp32 inference");
    double acc = evaluate(model_forward, model, test, 256);
    double acc8 = int8_accuracy(model, test);
    int is_float = info.weights0 == 0;
    double bits = is_float ? 100.0 : 100.0 * info.weight_bits / (32.0 * (double)info.weights0);
    double weights = is_float ? 100.0 : 100.0 * (double)info.weights / (double)info.weights0;
    long long fbytes = float_file_bytes(o->net, info.calibrated_images > 0);
    printf("RESULT net=%s float=%d epochs=0 accuracy=%.4f bits_pct=%.3f "
           "weights_pct=%.3f file_bytes=%lld train_s=0.0 file_pct=%.3f "
           "int8_accuracy=%.4f\n",
           o->net, is_float, acc, bits, weights, (long long)info.file_bytes,
           100.0 * (double)info.file_bytes / (double)fbytes, acc8);
    sc_model_free(model);
    dataset_free(train);
    dataset_free(test);
    return 0;
}

/* --eval-onnx FILE: import an ONNX model and print its eval-mode test
 * accuracy as an ONNX line (and with --dump-logits, its first logits) */
static int eval_onnx_only(const options *o, dataset *train, dataset *test)
{
    sc_net *net;
    check(sc_net_import_onnx(&net, o->eval_onnx, NULL), "sc_net_import_onnx");
    int c, h, w;
    check(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w), "input shape");
    if (c != test->c || h != test->h || w != test->w || sc_net_output_size(net) != 10)
        die("%s takes %d x %d x %d inputs to %d outputs, --net %s %d x %d x %d "
            "to 10: pass its --net", o->eval_onnx, c, h, w, sc_net_output_size(net),
            o->net, test->c, test->h, test->w);
    check(sc_net_set_threads(net, o->threads), "sc_net_set_threads");
    check(sc_net_set_training(net, 0), "eval mode");
    FILE *dump = NULL;
    if (o->dump_logits && (dump = fopen(o->dump_logits, "wb")) == NULL)
        die("cannot write %s: %s", o->dump_logits, strerror(errno));
    double acc = evaluate_dump(net_forward, net, test, 256, dump, o->dump_count);
    if (dump && fclose(dump) != 0)
        die("cannot write %s: %s", o->dump_logits, strerror(errno));
    printf("ONNX net=%s file=%s layers=%d test_images=%ld accuracy=%.4f\n", o->net,
           o->eval_onnx, sc_net_layer_count(net) - 1, test->n, acc);
    sc_net_free(net);
    dataset_free(train);
    dataset_free(test);
    return 0;
}

/* ---- flags ---- */

static void usage(void)
{
    puts("usage: fashion_mnist [options]\n"
         "  --data DIR          IDX gzip files (default " DEFAULT_DATA ")\n"
         "  --net NAME          mlp, tinynet (default), cnn, dscnn or seq1d\n"
         "  --epochs N          training epochs (default 10)\n"
         "  --batch N           batch size (default 128)\n"
         "  --gamma G           size-loss weight (default 0.05)\n"
         "  --lr R              learning rate of weights (default: the library's)\n"
         "  --qlr R             learning rate of bit depths (default: the library's)\n"
         "  --elr R             learning rate of exponents (default: the library's)\n"
         "  --qwarmup E         ramp the bit depths' and exponents' learning rates\n"
         "                      up from 0 over the first E epochs (default 1)\n"
         "  --b0 B              initial bit depth (default: the library's)\n"
         "  --max-bits B        the largest bit depth a channel may take, in\n"
         "                      [1, 32] (8: every channel fits an int8 pipeline;\n"
         "                      default: the library's)\n"
         "  --seed S            initialisation and shuffling seed (default 1)\n"
         "  --threads T         threads (default: online CPUs)\n"
         "  --float             no quantiser: the float baseline\n"
         "  --save FILE         keep the trained model file (default: a temporary)\n"
         "  --eval FILE         only evaluate a saved model on the test set\n"
         "  --init-onnx FILE    start from the net of an ONNX model (e.g. trained\n"
         "                      and exported by PyTorch; docs/onnx.md) instead of\n"
         "                      a fresh --net, whose input layout it must take\n"
         "  --eval-onnx FILE    only import an ONNX model and evaluate it (eval\n"
         "                      mode, its own batch-norm statistics) on the test\n"
         "                      set: an ONNX line with its accuracy\n"
         "  --dump-logits FILE  with --eval-onnx: write the logits of the first\n"
         "                      --dump-count test images (float32, raw, 10 each)\n"
         "  --dump-count N      (default 1000)\n"
         "  --teacher FILE      distil from a model file (a float net this program\n"
         "                      trained with --float --save): its logits of each\n"
         "                      batch guide the training (sc_batch.teacher)\n"
         "  --distill-t T       the distillation's temperature (default 4)\n"
         "  --distill-w W       its weight beside the task loss (default 1)\n"
         "  --trace FILE        CSV of live channels per layer every 50 steps\n"
         "  --steps N           stop after N training steps (smoke tests)\n"
         "  --compress-every N  compress every N steps (default 0: each epoch end)\n"
         "  --schedule S        weights' learning rate: cosine (default) or constant\n"
         "  --freeze N          freeze bit depths and exponents for the last N\n"
         "                      epochs, if there are more (default 2)\n"
         "  --target-bits P     the size target: once the net is down to P% of\n"
         "                      the bits and --target-weights P% of the weights\n"
         "                      (checked every 20 steps) it is compressed and its\n"
         "                      bit depths freeze; exponents and weights go on\n"
         "                      learning (default 3, the paper's budget)\n"
         "  --target-weights P  (default 18; both 0: no target, gamma alone\n"
         "                      decides where the size ends)\n"
         "  --bn-refresh N      refresh batch-norm statistics on N batches before\n"
         "                      each evaluation (default 20)\n"
         "  --train-limit N     use the first N training images\n"
         "  --test-limit N      use the first N test images");
    /* the library's defaults, read from a net and optimizer of its own */
    sc_net *net = NULL;
    sc_optimizer *opt = NULL;
    double b0, bmax, lr, qlr, elr;
    int id;
    if (sc_net_create(&net, 1, 28, 28) == SC_OK &&
        sc_net_flatten(net, SC_INPUT, &id) == SC_OK &&
        sc_net_dense(net, id, 10, SC_BIAS, &id) == SC_OK &&
        sc_net_get_param(net, SC_PARAM_QUANT_B0, &b0) == SC_OK &&
        sc_net_get_param(net, SC_PARAM_QUANT_B_MAX, &bmax) == SC_OK &&
        sc_net_init(net, 1) == SC_OK &&
        sc_optimizer_create(&opt, net, SC_OPT_ADAM) == SC_OK &&
        sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_WEIGHTS, &lr) == SC_OK &&
        sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_BITS, &qlr) == SC_OK &&
        sc_optimizer_get(opt, SC_OPT_LR, SC_GROUP_QUANT_EXP, &elr) == SC_OK)
        printf("the library's defaults: --lr %g --qlr %g --elr %g --b0 %g "
               "--max-bits %g\n", lr, qlr, elr, b0, bmax);
    sc_optimizer_free(opt);
    sc_net_free(net);
}

static long to_long(const char *flag, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi)
        die("%s wants an integer in [%ld, %ld], got '%s'", flag, lo, hi, v);
    return x;
}

static double to_double(const char *flag, const char *v, double lo, double hi)
{
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v || !(x >= lo && x <= hi))
        die("%s wants a number in [%g, %g], got '%s'", flag, lo, hi, v);
    return x;
}

static options parse(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    /* defaults: what measured best (docs/results.md); UNSET (lr, qlr, elr,
     * b0): the library's own default, read once the net exists */
    options o = {DEFAULT_DATA, "tinynet", NULL, NULL, NULL, 10, 128,
                 cpus > 0 ? (int)cpus : 1, 0, 1, 2, 20, 0, 0, 0, 0,
                 0.05, UNSET, UNSET, UNSET, 1.0, UNSET, 3.0, 18.0, UNSET, 1, NULL,
                 NULL, NULL, 1000, NULL, 4.0, 1.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            exit(0);
        }
        if (strcmp(a, "--float") == 0) {
            o.use_float = 1;
            continue;
        }
        if (i + 1 >= argc)
            die("unknown flag or missing value: '%s' (see --help)", a);
        const char *v = argv[++i];
        if (strcmp(a, "--data") == 0) o.data = v;
        else if (strcmp(a, "--net") == 0) o.net = v;
        else if (strcmp(a, "--save") == 0) o.save = v;
        else if (strcmp(a, "--eval") == 0) o.eval = v;
        else if (strcmp(a, "--trace") == 0) o.trace = v;
        else if (strcmp(a, "--init-onnx") == 0) o.init_onnx = v;
        else if (strcmp(a, "--eval-onnx") == 0) o.eval_onnx = v;
        else if (strcmp(a, "--dump-logits") == 0) o.dump_logits = v;
        else if (strcmp(a, "--dump-count") == 0) o.dump_count = to_long(a, v, 1, 1L << 40);
        else if (strcmp(a, "--teacher") == 0) o.teacher = v;
        else if (strcmp(a, "--distill-t") == 0) o.distill_t = to_double(a, v, 1e-3, 1e3);
        else if (strcmp(a, "--distill-w") == 0) o.distill_w = to_double(a, v, 0.0, 1e6);
        else if (strcmp(a, "--epochs") == 0) o.epochs = (int)to_long(a, v, 1, 10000);
        else if (strcmp(a, "--batch") == 0) o.batch = (int)to_long(a, v, 1, 65536);
        else if (strcmp(a, "--threads") == 0) o.threads = (int)to_long(a, v, 1, 256);
        else if (strcmp(a, "--steps") == 0) o.steps = to_long(a, v, 1, 1L << 40);
        else if (strcmp(a, "--train-limit") == 0) o.train_limit = to_long(a, v, 1, 1L << 40);
        else if (strcmp(a, "--test-limit") == 0) o.test_limit = to_long(a, v, 1, 1L << 40);
        else if (strcmp(a, "--schedule") == 0) {
            if (strcmp(v, "cosine") != 0 && strcmp(v, "constant") != 0)
                die("--schedule wants cosine or constant, got '%s'", v);
            o.cosine = strcmp(v, "cosine") == 0;
        }
        else if (strcmp(a, "--freeze") == 0) o.freeze = (int)to_long(a, v, 0, 10000);
        else if (strcmp(a, "--bn-refresh") == 0) o.bn_refresh = (int)to_long(a, v, 0, 100000);
        else if (strcmp(a, "--compress-every") == 0) o.compress_every = to_long(a, v, 0, 1L << 40);
        else if (strcmp(a, "--gamma") == 0) o.gamma = to_double(a, v, 0, 1e6);
        else if (strcmp(a, "--lr") == 0) o.lr = to_double(a, v, 0, 10);
        else if (strcmp(a, "--qlr") == 0) o.qlr = to_double(a, v, 0, 100);
        else if (strcmp(a, "--elr") == 0) o.elr = to_double(a, v, 0, 100);
        else if (strcmp(a, "--qwarmup") == 0) o.qwarmup = to_double(a, v, 0, 10000);
        else if (strcmp(a, "--b0") == 0) o.b0 = to_double(a, v, 0, 32);
        else if (strcmp(a, "--max-bits") == 0) o.max_bits = to_double(a, v, 1, 32);
        else if (strcmp(a, "--target-bits") == 0) o.target_bits = to_double(a, v, 0, 100);
        else if (strcmp(a, "--target-weights") == 0) o.target_weights = to_double(a, v, 0, 100);
        else if (strcmp(a, "--seed") == 0) o.seed = (unsigned long)to_long(a, v, 0, 1L << 62);
        else die("unknown flag '%s' (see --help)", a);
    }
    return o;
}

int main(int argc, char **argv)
{
    sc_use_best_blas_kernel(argv);
    setvbuf(stdout, NULL, _IOLBF, 0); /* epoch lines as they happen, also in logs */
    options o = parse(argc, argv);
    printf("libselfcompress %s, BLAS: %s (kernel %s), threads %d\n",
           sc_version_string(), sc_blas_info(), sc_blas_kernel(), o.threads);
    dataset train = load(o.data, "train", o.train_limit);
    dataset test = load(o.data, "t10k", o.test_limit);
    normalise(&train, &test);
    known_net(o.net);
    to_net_input(&train, o.net);
    to_net_input(&test, o.net);
    if (o.eval)
        return eval_only(&o, &train, &test);
    if (o.eval_onnx)
        return eval_onnx_only(&o, &train, &test);
    if (o.dump_logits)
        die("--dump-logits needs --eval-onnx");
    printf("data: %ld training and %ld test images from %s\n", train.n, test.n,
           o.data);

    sc_net *net;
    if (o.init_onnx) {
        check(sc_net_import_onnx(&net, o.init_onnx, NULL), "sc_net_import_onnx");
        int c, h, w;
        check(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w), "input shape");
        if (c != train.c || h != train.h || w != train.w || sc_net_output_size(net) != 10)
            die("%s takes %d x %d x %d inputs to %d outputs, --net %s %d x %d x %d "
                "to 10: pass its --net", o.init_onnx, c, h, w, sc_net_output_size(net),
                o.net, train.c, train.h, train.w);
        printf("net: %d layers imported from %s\n", sc_net_layer_count(net) - 1,
               o.init_onnx);
    } else {
        net = build(o.net);
        check(sc_net_init(net, o.seed), "sc_net_init");
    }
    check(sc_net_set_threads(net, o.threads), "sc_net_set_threads");
    /* as built or imported: float, and calibrated as the model will be */
    long long fbytes = with_ranges(net_file_bytes(net), net);
    if (!o.use_float) {
        if (o.b0 != UNSET)
            check(sc_net_set_param(net, SC_PARAM_QUANT_B0, o.b0), "b0");
        if (o.max_bits != UNSET)
            check(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, o.max_bits), "max bits");
        check(sc_net_quantize(net, SC_ALL_LAYERS), "sc_net_quantize");
        check(sc_net_set_param(net, SC_PARAM_GAMMA, o.gamma), "gamma");
        check(sc_net_set_param(net, SC_PARAM_COMPRESS_EVERY, (double)o.compress_every),
              "compress every");
    }
    sc_optimizer *opt;
    check(sc_optimizer_create(&opt, net, SC_OPT_ADAM), "sc_optimizer_create");
    const struct { double *v; int group; } lib[] = {
        {&o.lr, SC_GROUP_WEIGHTS}, {&o.qlr, SC_GROUP_QUANT_BITS}, {&o.elr, SC_GROUP_QUANT_EXP}};
    for (size_t i = 0; i < sizeof lib / sizeof lib[0]; i++)
        if (*lib[i].v == UNSET)
            check(sc_optimizer_get(opt, SC_OPT_LR, lib[i].group, lib[i].v), "lr");
    check(sc_optimizer_set_lr(opt, SC_GROUP_WEIGHTS, o.lr), "lr");
    check(sc_optimizer_set_lr(opt, SC_GROUP_BIASES, o.lr), "lr");

    long *order = malloc((size_t)train.n * sizeof *order);
    float *bx = malloc((size_t)o.batch * 784 * sizeof(float));
    int32_t *by = malloc((size_t)o.batch * sizeof(int32_t));
    if (!order || !bx || !by)
        die("out of memory");
    for (long i = 0; i < train.n; i++)
        order[i] = i;
    unsigned long long rng = o.seed * 6364136223846793005ULL + 1442695040888963407ULL;

    long steps_per_epoch = (train.n + o.batch - 1) / o.batch, step = 0;
    long total = o.steps > 0 && o.steps < steps_per_epoch * o.epochs
                     ? o.steps : steps_per_epoch * o.epochs;
    int tty = isatty(fileno(stderr));
    double t0 = now(), train_s = 0.0, acc = 0.0;
    /* the live progress line comes from the library's progress hook */
    progress_line pl = {total, t0, tty, t0};
    check(sc_net_set_progress(net, show_progress, &pl, 20), "progress hook");
    FILE *trace = NULL;
    if (o.trace) {
        trace = fopen(o.trace, "w");
        if (trace == NULL)
            die("cannot write %s: %s", o.trace, strerror(errno));
        fprintf(trace, "step,layer,out_channels,in_channels,bits_pct,weights_pct\n");
    }
    sc_step_stats st = SC_STEP_STATS_INIT;
    /* --teacher: a loaded model whose logits of each batch go with it */
    sc_model *teacher = NULL;
    float *tl = NULL;
    if (o.teacher) {
        check(sc_model_load(&teacher, o.teacher), "loading the teacher");
        int c, h, w;
        check(sc_model_input_shape(teacher, &c, &h, &w), "teacher input");
        if (c != train.c || h != train.h || w != train.w || sc_model_output_size(teacher) != 10)
            die("the teacher %s takes %d x %d x %d inputs to %d outputs, not the "
                "net's %d x %d x %d to 10", o.teacher, c, h, w,
                sc_model_output_size(teacher), train.c, train.h, train.w);
        check(sc_model_set_threads(teacher, o.threads), "teacher threads");
        if ((tl = malloc((size_t)o.batch * 10 * sizeof *tl)) == NULL)
            die("out of memory");
        printf("teacher: %s (temperature %g, weight %g)\n", o.teacher, o.distill_t,
               o.distill_w);
    }
    /* the size target is the library's budget, checked every 20 steps: once
     * met, the net is compressed and its bit depths stay frozen */
    int target = !o.use_float && (o.target_bits > 0 || o.target_weights > 0);
    if (target) {
        check(sc_net_set_param(net, SC_PARAM_BUDGET_BITS_PCT, o.target_bits), "budget");
        check(sc_net_set_param(net, SC_PARAM_BUDGET_WEIGHTS_PCT, o.target_weights), "budget");
        check(sc_net_set_param(net, SC_PARAM_BUDGET_EVERY, 20), "budget");
    }
    int reached = 0, epoch;
    for (epoch = 0; epoch < o.epochs && step < total; epoch++) {
        for (long i = train.n - 1; i > 0; i--) { /* Fisher-Yates */
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            long j = (long)((rng >> 33) % (unsigned long long)(i + 1));
            long t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double te = now(), train_hits = 0.0;
        long epoch_steps = 0, epoch_images = 0;
        for (long at = 0; at < train.n && step < total;
             at += o.batch, step++, epoch_steps++) {
            int n = gather(&train, order, at, o.batch, bx, by);
            /* cosine: lr * (1 + cos(pi t / T)) / 2 */
            double decay = o.cosine ? 0.5 * (1.0 + cos(M_PI * (double)step / (double)total)) : 1.0;
            if (!o.use_float) {
                /* (b, e) ramped up; frozen for the last --freeze epochs. At the
                 * size target the bit depths (the size) freeze, while the
                 * exponents go on fitting the grid to the weights, decaying
                 * with them */
                int frozen = o.freeze > 0 && o.freeze < o.epochs &&
                             epoch >= o.epochs - o.freeze;
                double ramp = o.qwarmup > 0 ? (double)step / (o.qwarmup * steps_per_epoch) : 1.0;
                double f = frozen ? 0.0 : (ramp < 1.0 ? ramp : 1.0);
                check(sc_optimizer_set_lr(opt, SC_GROUP_QUANT_BITS, reached ? 0.0 : o.qlr * f), "qlr");
                check(sc_optimizer_set_lr(opt, SC_GROUP_QUANT_EXP,
                                          reached ? o.elr * decay * (frozen ? 0.0 : 1.0) : o.elr * f),
                      "elr");
            }
            check(sc_optimizer_set_lr(opt, SC_GROUP_WEIGHTS, o.lr * decay), "lr");
            check(sc_optimizer_set_lr(opt, SC_GROUP_BIASES, o.lr * decay), "lr");
            int64_t xs[4] = {n, train.c, train.h, train.w};
            sc_tensor *x;
            check(sc_tensor_wrap(&x, 4, xs, bx), "tensor");
            sc_batch b = SC_BATCH_INIT;
            b.x = x;
            b.labels = by;
            sc_tensor *t = NULL;
            if (teacher) {
                int64_t ts[2] = {n, 10};
                check(sc_tensor_wrap(&t, 2, ts, tl), "tensor");
                check(sc_model_forward(teacher, x, t), "the teacher's forward");
                b.teacher = t;
                b.distill_temperature = o.distill_t;
                b.distill_weight = o.distill_w;
            }
            check(sc_net_train_step_v2(net, opt, &b, &st), "sc_net_train_step_v2");
            sc_tensor_free(t);
            sc_tensor_free(x);
            train_hits += st.accuracy * n;
            epoch_images += n;
            double bits_frozen = 0.0;
            if (target && !reached &&
                sc_net_get_param(net, SC_PARAM_QUANT_BITS_FROZEN, &bits_frozen) == SC_OK &&
                bits_frozen == 1.0) {
                reached = 1;
                sc_size_report r = SC_SIZE_REPORT_INIT;
                check(sc_net_size_report(net, SC_ALL_LAYERS, &r), "report");
                if (tty)
                    fputc('\n', stderr);
                printf("size target reached at step %ld (epoch %d): bits "
                       "%.2f%%, weights %.2f%%; bit depths frozen from "
                       "here\n",
                       step + 1, epoch + 1, r.bits_pct, r.weights_pct);
            }
            if (trace && (step % 50 == 0 || step + 1 == total))
                write_trace(trace, net, step + 1);
        }
        train_s += now() - te;
        if (!o.use_float && o.compress_every == 0)
            check(sc_net_compress(net, NULL), "sc_net_compress");
        refresh_bn(net, &train, order, o.bn_refresh, o.batch, bx, by);
        check(sc_net_set_training(net, 0), "eval mode");
        acc = evaluate(net_forward, net, &test, 256);
        check(sc_net_set_training(net, 1), "train mode");
        sc_size_report r = SC_SIZE_REPORT_INIT;
        check(sc_net_size_report(net, SC_ALL_LAYERS, &r), "report");
        if (tty)
            fputc('\n', stderr);
        check(sc_net_report_epoch(net, epoch + 1, acc), "epoch report");
        char part[64] = ""; /* an epoch --steps cut short says so */
        if (epoch_steps < steps_per_epoch)
            snprintf(part, sizeof part, " (%ld of %ld steps)", epoch_steps,
                     steps_per_epoch);
        printf("epoch %d%s: train accuracy %.2f%%, test accuracy %.2f%%", epoch + 1,
               part, 100.0 * train_hits / (double)epoch_images, 100 * acc);
        if (!o.use_float)
            printf(", bits %.2f%%, weights %.2f%%", r.bits_pct, r.weights_pct);
        printf(", %.1f s\n", now() - te);
    }
    if (!o.use_float)
        check(sc_net_compress(net, NULL), "sc_net_compress");
    refresh_bn(net, &train, order, o.bn_refresh, o.batch, bx, by);
    check(sc_net_set_training(net, 0), "eval mode");
    double mem_acc = evaluate(net_forward, net, &test, 256);
    summary(net);
    sc_size_report t = SC_SIZE_REPORT_INIT;
    check(sc_net_size_report(net, SC_ALL_LAYERS, &t), "size report");
    if (o.use_float) { /* a float net stores 32 bits for every weight */
        t.bits_pct = 100.0;
        t.weights_pct = 100.0;
    }

    /* the file is what the compression is for: save, reload, evaluate */
    char tmp[] = "/tmp/fashion_mnist_model.XXXXXX";
    const char *path = o.save;
    if (path == NULL) {
        int fd = mkstemp(tmp);
        if (fd < 0)
            die("cannot create a temporary file: %s", strerror(errno));
        close(fd);
        path = tmp;
    }
    /* the activation ranges int8 inference quantises with, on the first
     * CALIB_IMAGES training images */
    over_batches(net, &train, order, (CALIB_IMAGES + o.batch - 1) / o.batch,
                 o.batch, bx, by, sc_net_calibrate, "sc_net_calibrate");
    sc_model_info info = SC_MODEL_INFO_INIT;
    check(sc_net_save(net, path, &info), "sc_net_save");
    sc_model *model;
    check(sc_model_load(&model, path), "sc_model_load");
    check(sc_model_set_threads(model, o.threads), "model threads");
    check(sc_model_set_param(model, SC_PARAM_INFERENCE, SC_INFERENCE_FP32),
          "fp32 inference");
    acc = evaluate(model_forward, model, &test, 256);
    double acc8 = int8_accuracy(model, &test);
    sc_model_free(model);
    if (o.save == NULL)
        remove(tmp);
    printf("model file: %lld bytes (quantised weights %lld bytes, channel "
           "headers %lld bytes)%s%s\n",
           (long long)info.file_bytes, (long long)info.weight_payload_bytes,
           (long long)info.channel_header_bytes, o.save ? ", saved to " : "",
           o.save ? o.save : "");
    double file_pct = 100.0 * (double)info.file_bytes / (double)fbytes;
    printf("model file: %.3f%% of the float model file (%lld bytes): %.1f times "
           "smaller\n", file_pct, fbytes,
           (double)fbytes / (double)info.file_bytes);
    printf("test accuracy: in memory %.4f, reloaded from the file %.4f, in "
           "int8 %.4f (%+.2f points, kernel %s)\n", mem_acc, acc, acc8,
           100.0 * (acc8 - acc), sc_int8_kernel());
    /* epochs trained: whole, or with the fraction --steps left of the last */
    char epochs[32];
    if (step % steps_per_epoch == 0)
        snprintf(epochs, sizeof epochs, "%ld", step / steps_per_epoch);
    else
        snprintf(epochs, sizeof epochs, "%.2f", (double)step / (double)steps_per_epoch);
    printf("RESULT net=%s float=%d epochs=%s accuracy=%.4f bits_pct=%.3f "
           "weights_pct=%.3f file_bytes=%lld train_s=%.1f file_pct=%.3f max_bits=%d "
           "int8_accuracy=%.4f\n",
           o.net, o.use_float, epochs, acc, t.bits_pct, t.weights_pct,
           (long long)info.file_bytes, train_s, file_pct,
           o.use_float ? 32 : max_stored_bits(net), acc8);

    if (trace)
        fclose(trace);
    sc_model_free(teacher);
    free(tl);
    sc_optimizer_free(opt);
    sc_net_free(net);
    free(order);
    free(bx);
    free(by);
    dataset_free(&train);
    dataset_free(&test);
    return 0;
}
