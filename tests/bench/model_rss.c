/* model_rss.c -- the memory of loading a model file and classifying one
 * image, measured in this process.
 *
 *   build/tests/bench/model_rss FILE            measure FILE
 *   build/tests/bench/model_rss --float NET OUT write the float model file
 *                                               of a benchmark net
 *                                               (examples/nets.h), He-init
 *
 * Measuring prints one line:
 *   RSS file=<FILE> file_bytes=.. weights=.. weight_bytes=.. bytes_per_weight=..
 *       param_bytes=.. activation_bytes=.. rss_start_kb=.. rss_peak_kb=..
 *       rss_added_kb=..
 * the first ones from sc_model_get_info() (weights: those stored with bits;
 * bytes_per_weight: weight_bytes over them); rss_start_kb is the resident set
 * before the load (the program, libc, the library and OpenBLAS mapped),
 * rss_peak_kb the high-water mark after sc_model_load() and one
 * sc_model_forward() of one image (Linux /proc/self/status VmRSS and
 * VmHWM), rss_added_kb their difference: what the model cost, the file's
 * bytes that the load reads whole included. The image's pixels are
 * synthetic: the memory does not depend on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMON_PROG "model_rss"
#include "common.h"
#include "nets.h"
#include "selfcompress.h"

/* A field of /proc/self/status in kB, or -1. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return kb;
}

static int write_float(const char *name, const char *out)
{
    if (!nets_known(name))
        die("unknown net '%s'", name);
    sc_net *net;
    nets_info info;
    check(nets_build(name, &net, &info), "building the net");
    check(sc_net_init(net, 1), "sc_net_init");
    check(sc_net_save(net, out, NULL), "sc_net_save");
    sc_net_free(net);
    return 0;
}

static int measure(const char *path)
{
    long start = status_kb("VmRSS");
    sc_model *m;
    check(sc_model_load(&m, path), "sc_model_load");
    int c, h, w;
    check(sc_model_input_shape(m, &c, &h, &w), "sc_model_input_shape");
    size_t n = (size_t)c * (size_t)h * (size_t)w;
    int classes = sc_model_output_size(m);
    float *img = malloc(n * sizeof *img), *logits = malloc((size_t)classes * sizeof *logits);
    if (img == NULL || logits == NULL)
        die("out of memory");
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        img[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    int64_t xs[4] = {1, c, h, w}, ys[2] = {1, classes};
    sc_tensor *x, *y;
    check(sc_tensor_wrap(&x, 4, xs, img), "sc_tensor_wrap");
    check(sc_tensor_wrap(&y, 2, ys, logits), "sc_tensor_wrap");
    check(sc_model_forward(m, x, y), "sc_model_forward");
    long peak = status_kb("VmHWM");
    sc_model_info info = SC_MODEL_INFO_INIT;
    check(sc_model_get_info(m, &info), "sc_model_get_info");
    printf("RSS file=%s file_bytes=%lld weights=%lld weight_bytes=%lld "
           "bytes_per_weight=%.4f param_bytes=%lld activation_bytes=%lld "
           "rss_start_kb=%ld rss_peak_kb=%ld rss_added_kb=%ld\n",
           path, (long long)info.file_bytes, (long long)info.weights,
           (long long)info.weight_bytes,
           info.weights ? (double)info.weight_bytes / (double)info.weights : 0.0,
           (long long)info.param_bytes, (long long)info.activation_bytes, start,
           peak, peak - start);
    sc_tensor_free(x);
    sc_tensor_free(y);
    free(img);
    free(logits);
    sc_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--float") == 0)
        return write_float(argv[2], argv[3]);
    if (argc == 2 && argv[1][0] != '-')
        return measure(argv[1]);
    fprintf(stderr, "usage: model_rss FILE | model_rss --float NET OUT\n");
    return 2;
}
