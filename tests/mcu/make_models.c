/* make_models.c -- small calibrated model files for tests/export_c.sh:
 *
 *   make_models DIR
 *
 * writes DIR/kinds.scm (every layer kind with int8 code: convs with and
 * without padding and stride, a grouped one, a norm folded and one on its
 * own, one with batch statistics, every activation, the pools, add,
 * concat, dropout, flatten, dense; part quantised and compressed, so that
 * folded constants appear) and DIR/tinynet.scm, DIR/dscnn.scm (the
 * benchmark nets, examples/nets.h, quantised at random widths and
 * compressed), each with random weights and norm statistics. */
#define _POSIX_C_SOURCE 200809L
#define COMMON_PROG "make_models"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/common.h"
#include "../../examples/nets.h"

static uint64_t rng = 42;

static double uniform(double lo, double hi)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

/* random running statistics, scales and shifts of every norm */
static void random_bn(sc_net *net)
{
    static const struct { sc_layer_slot slot; double lo, hi; } s[4] = {
        {SC_SLOT_RUNNING_MEAN, -0.5, 0.5}, {SC_SLOT_RUNNING_VAR, 0.5, 2.0},
        {SC_SLOT_NORM_SCALE, 0.5, 1.5}, {SC_SLOT_NORM_SHIFT, -0.5, 0.5}};
    for (int id = 1; id < sc_net_layer_count(net); id++) {
        if (sc_net_layer_kind(net, id) != SC_LAYER_BATCHNORM)
            continue;
        sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_INPUT);
        check(sc_net_layer_desc(net, id, &d, NULL, NULL), "sc_net_layer_desc");
        for (int k = 0; k < ((d.flags & SC_BN_AFFINE) ? 4 : 2); k++) {
            int64_t shape[4];
            int nd;
            check(sc_net_layer_param_shape(net, id, s[k].slot, shape, &nd),
                  "sc_net_layer_param_shape");
            float *f = malloc((size_t)shape[0] * sizeof *f);
            for (int64_t i = 0; i < shape[0]; i++)
                f[i] = (float)uniform(s[k].lo, s[k].hi);
            check(sc_net_set_layer_param(net, id, s[k].slot, f, (size_t)shape[0]),
                  "sc_net_set_layer_param");
            free(f);
        }
    }
}

/* quantised layers at 2 to 8 bits, every fourth channel but the last
 * layer's killed, then compressed */
static void quantise_and_compress(sc_net *net)
{
    int last = sc_net_layer_count(net) - 1;
    for (int id = 1; id <= last; id++) {
        if (!sc_net_is_quantized(net, id))
            continue;
        int c;
        check(sc_net_layer_shape(net, id, &c, NULL, NULL), "sc_net_layer_shape");
        float *b = malloc((size_t)c * sizeof *b);
        for (int o = 0; o < c; o++)
            b[o] = id < last && o % 4 == 1 ? 0.0f : (float)(2 + (int)uniform(0, 7));
        check(sc_net_set_quant(net, id, b, NULL, (size_t)c), "sc_net_set_quant");
        free(b);
    }
    check(sc_net_compress(net, NULL), "sc_net_compress");
}

static void save(sc_net *net, const char *dir, const char *name)
{
    int c, h, w;
    check(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w), "sc_net_layer_shape");
    int64_t shape[4] = {32, c, h, w};
    sc_tensor *x;
    check(sc_tensor_create(&x, 4, shape), "sc_tensor_create");
    float *p = sc_tensor_data(x);
    for (size_t i = 0; i < sc_tensor_numel(x); i++)
        p[i] = (float)uniform(-2.0, 2.0);
    check(sc_net_calibrate(net, x), "sc_net_calibrate");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.scm", dir, name);
    check(sc_net_save(net, path, NULL), "sc_net_save");
    sc_tensor_free(x);
}

static void layer(sc_net *net, sc_layer_kind k, float alpha, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(k);
    d.alpha = alpha;
    check(sc_net_add_layer(net, &d, id, 1, id), "sc_net_add_layer");
}

static void kinds(const char *dir)
{
    sc_net *net;
    check(sc_net_create(&net, 3, 12, 12), "sc_net_create");
    int x = SC_INPUT, a, b, id, ab[2];
    check(sc_net_conv2d(net, x, 8, 3, 3, 1, 1, SC_BIAS, &a), "conv");
    check(sc_net_batchnorm(net, a, SC_BN_AFFINE, &a), "bn");
    layer(net, SC_LAYER_LEAKY_RELU, 0.1f, &a);
    check(sc_net_conv2d(net, x, 8, 1, 1, 1, 0, 0, &b), "conv");
    layer(net, SC_LAYER_SIGMOID, 0.0f, &b);
    check(sc_net_add(net, a, b, &id), "add");
    check(sc_net_batchnorm(net, id, 0, &id), "bn"); /* on its own */
    ab[0] = a;
    ab[1] = id;
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    check(sc_net_add_layer(net, &d, ab, 2, &id), "concat");
    layer(net, SC_LAYER_TANH, 0.0f, &id);
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_AVGPOOL);
    d.kernel_h = d.kernel_w = 3;
    d.stride_h = d.stride_w = 2;
    d.pad_h = d.pad_w = 1;
    check(sc_net_add_layer(net, &d, &id, 1, &id), "avgpool");
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_CONV2D); /* depthwise */
    d.channels = 16;
    d.kernel_h = d.kernel_w = 3;
    d.stride_h = d.stride_w = 2;
    d.pad_h = d.pad_w = 1;
    d.groups = 16;
    d.flags = SC_BIAS;
    check(sc_net_add_layer(net, &d, &id, 1, &id), "grouped conv");
    check(sc_net_batchnorm(net, id, SC_BN_BATCH_STATS | SC_BN_AFFINE, &id), "bn");
    check(sc_net_conv2d(net, id, 12, 3, 3, 1, 1, 0, &id), "conv");
    layer(net, SC_LAYER_HARDSWISH, 0.0f, &id);
    check(sc_net_conv2d(net, id, 12, 2, 2, 1, 0, SC_BIAS, &id), "conv");
    check(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id), "bn");
    layer(net, SC_LAYER_RELU6, 0.0f, &id); /* folded: a clamp */
    b = id;
    check(sc_net_maxpool(net, id, 2, 1, &id), "maxpool");
    layer(net, SC_LAYER_RELU, 0.0f, &id);
    layer(net, SC_LAYER_DROPOUT, 0.2f, &id);
    check(sc_net_global_avgpool(net, b, &b), "gavgpool");
    check(sc_net_global_maxpool(net, id, &id), "gmaxpool");
    check(sc_net_add(net, id, b, &id), "add");
    check(sc_net_flatten(net, id, &id), "flatten");
    check(sc_net_dense(net, id, 16, SC_BIAS, &id), "dense");
    layer(net, SC_LAYER_RELU, 0.0f, &id);
    check(sc_net_dense(net, id, 6, SC_BIAS, &id), "dense");
    check(sc_net_init(net, 3), "sc_net_init");
    random_bn(net);
    for (int l = 1; l < sc_net_layer_count(net); l += 2) /* half quantised */
        if (sc_net_layer_kind(net, l) == SC_LAYER_CONV2D ||
            sc_net_layer_kind(net, l) == SC_LAYER_DENSE)
            check(sc_net_quantize(net, l), "sc_net_quantize");
    quantise_and_compress(net);
    save(net, dir, "kinds");
    sc_net_free(net);
}

static void bench(const char *dir, const char *name)
{
    sc_net *net;
    check(nets_build(name, &net, NULL), "nets_build");
    check(sc_net_init(net, 5), "sc_net_init");
    random_bn(net);
    check(sc_net_quantize(net, SC_ALL_LAYERS), "sc_net_quantize");
    quantise_and_compress(net);
    save(net, dir, name);
    sc_net_free(net);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: make_models DIR");
    kinds(argv[1]);
    bench(argv[1], "tinynet");
    bench(argv[1], "dscnn");
    return 0;
}
