/* bench_compress.c -- does compress() make training faster?
 *
 *   build/examples/bench_compress [--quick] [--net cnn|tinynet]
 *                                 [--threads N] [--batch N] [--steps N]
 *
 * Builds a conv net on 28x28x1 synthetic data (public API only), measures
 * the median time of a training step, then kills 80% of the output channels
 * of every quantised layer but the last (b = -1, as training with a size
 * loss would), calls sc_net_compress() and measures again. Prints one line:
 *
 *   BENCH_COMPRESS net=cnn threads=1 batch=64 steps=20 before_ms=...
 *     after_ms=... speedup=... weights_pct=... params_before=...
 *     params_after=... removed=... blas="..."
 *
 * Not a test: timings depend on the machine (log the BLAS kernel with them).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <selfcompress.h>

#define COMMON_PROG "bench_compress"
#include "common.h"

enum { IMG = 28, CLASSES = 10 };

/* conv 3x3 (padding 1, no bias), batch norm (affine), relu; the relu's id */
static int conv_bn_relu(sc_net *net, int in, int channels)
{
    int id;
    check(sc_net_conv2d(net, in, channels, 3, 3, 1, 1, SC_NO_BIAS, &id), "conv");
    check(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id), "bn");
    check(sc_net_relu(net, id, &id), "relu");
    return id;
}

/* The last layer added is the logits: every dense/conv before it can die. */
static void build(sc_net *net, const char *kind)
{
    int id;
    if (strcmp(kind, "tinynet") == 0) {
        id = conv_bn_relu(net, SC_INPUT, 16);
        check(sc_net_maxpool(net, id, 2, 2, &id), "maxpool");
        id = conv_bn_relu(net, id, 32);
        check(sc_net_global_avgpool(net, id, &id), "gavgpool");
        check(sc_net_dense(net, id, CLASSES, SC_BIAS, &id), "dense");
        return;
    }
    /* cnn: 32 and 64 3x3 channels, two pools, a 128-wide hidden layer */
    id = conv_bn_relu(net, SC_INPUT, 32);
    check(sc_net_maxpool(net, id, 2, 2, &id), "maxpool");
    id = conv_bn_relu(net, id, 64);
    check(sc_net_maxpool(net, id, 2, 2, &id), "maxpool");
    check(sc_net_flatten(net, id, &id), "flatten");
    check(sc_net_dense(net, id, 128, SC_BIAS, &id), "dense");
    check(sc_net_relu(net, id, &id), "relu");
    check(sc_net_dense(net, id, CLASSES, SC_BIAS, &id), "dense");
}

/* Median milliseconds of `steps` training steps after `warm` unmeasured. */
static double step_ms(sc_net *net, sc_optimizer *opt, sc_tensor *x,
                      const int32_t *labels, int warm, int steps)
{
    double *t = malloc((size_t)steps * sizeof *t);
    if (!t)
        die("out of memory");
    for (int i = 0; i < warm + steps; i++) {
        double t0 = now();
        check(sc_net_train_step(net, opt, x, labels, NULL), "sc_net_train_step");
        if (i >= warm)
            t[i - warm] = 1e3 * (now() - t0);
    }
    double m = median(t, steps);
    free(t);
    return m;
}

/* b = -1 for the first 80% (rounded down, at least one kept) of the
 * channels of every quantised layer but the last; returns how many. */
static int kill_channels(sc_net *net)
{
    int n = sc_net_layer_count(net), killed = 0;
    for (int id = 1; id < n - 1; id++) {
        if (!sc_net_is_quantized(net, id))
            continue;
        int c;
        check(sc_net_layer_shape(net, id, &c, NULL, NULL), "sc_net_layer_shape");
        float *b = malloc((size_t)c * sizeof *b);
        if (!b)
            die("out of memory");
        check(sc_net_get_quant(net, id, b, NULL, (size_t)c), "sc_net_get_quant");
        int k = c * 8 / 10;
        if (k >= c)
            k = c - 1;
        for (int o = 0; o < k; o++)
            b[o] = -1.0f;
        killed += k;
        check(sc_net_set_quant(net, id, b, NULL, (size_t)c), "sc_net_set_quant");
        free(b);
    }
    return killed;
}

int main(int argc, char **argv)
{
    const char *kind = "cnn";
    int quick = 0, threads = 1, batch = 64, steps = 20, warm = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (strcmp(a, "--net") == 0 && v) {
            kind = v;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            threads = atoi(v);
            i++;
        } else if (strcmp(a, "--batch") == 0 && v) {
            batch = atoi(v);
            i++;
        } else if (strcmp(a, "--steps") == 0 && v) {
            steps = atoi(v);
            i++;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s [--quick] [--net cnn|tinynet] [--threads N] "
                   "[--batch N] [--steps N]\n", argv[0]);
            return 0;
        } else {
            die("unknown or incomplete argument '%s' (see --help)", a);
        }
    }
    if (strcmp(kind, "cnn") != 0 && strcmp(kind, "tinynet") != 0)
        die("--net must be cnn or tinynet");
    if (quick) {
        batch = 16;
        steps = 5;
        warm = 1;
    }
    if (threads < 1 || batch < 1 || steps < 1)
        die("--threads, --batch and --steps must be positive");

    sc_net *net;
    check(sc_net_create(&net, 1, IMG, IMG), "sc_net_create");
    build(net, kind);
    check(sc_net_init(net, 1), "sc_net_init");
    check(sc_net_quantize(net, SC_ALL_LAYERS), "sc_net_quantize");
    check(sc_net_set_threads(net, threads), "sc_net_set_threads");
    check(sc_net_set_param(net, SC_PARAM_GAMMA, 0.05), "sc_net_set_param");
    sc_optimizer *opt;
    check(sc_optimizer_create(&opt, net, SC_OPT_ADAM), "sc_optimizer_create");

    /* synthetic data: a fixed pseudo-random batch */
    size_t numel = (size_t)batch * IMG * IMG;
    float *pix = malloc(numel * sizeof *pix);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    if (!pix || !labels)
        die("out of memory");
    uint64_t s = 42;
    for (size_t i = 0; i < numel; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        pix[i] = (float)(s >> 40) / (float)(1 << 24);
    }
    for (int i = 0; i < batch; i++)
        labels[i] = i % CLASSES;
    sc_tensor *x;
    check(sc_tensor_wrap(&x, 4, (int64_t[]){batch, 1, IMG, IMG}, pix),
          "sc_tensor_wrap");

    size_t params_before = sc_net_param_count(net);
    double before = step_ms(net, opt, x, labels, warm, steps);
    kill_channels(net);
    int removed = 0;
    check(sc_net_compress(net, &removed), "sc_net_compress");
    size_t params_after = sc_net_param_count(net);
    double after = step_ms(net, opt, x, labels, warm, steps);
    sc_size_report r = SC_SIZE_REPORT_INIT;
    check(sc_net_size_report(net, SC_ALL_LAYERS, &r), "sc_net_size_report");

    printf("BENCH_COMPRESS net=%s threads=%d batch=%d steps=%d before_ms=%.3f "
           "after_ms=%.3f speedup=%.2f weights_pct=%.2f params_before=%zu "
           "params_after=%zu removed=%d blas=\"%s\"\n",
           kind, threads, batch, steps, before, after, before / after,
           r.weights_pct, params_before, params_after, removed, sc_blas_info());

    sc_tensor_free(x);
    free(pix);
    free(labels);
    sc_optimizer_free(opt);
    sc_net_free(net);
    return 0;
}
