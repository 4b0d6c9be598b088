/* test_limits.c -- the size limits of every layer (include/selfcompress.h,
 * "Limits"), the checked arithmetic of the plan, the cost of a model per
 * sample (sc_model_info.activation_bytes, .macs) and the load caps
 * (sc_load_limits).
 *
 * Nets whose sizes overflow 32 and 64 bits are built through the public
 * builders and written as files with a valid CRC; each is refused with a
 * status and a message. The program runs under an address-space limit of
 * 256 MiB (with ASan, which reserves far more virtual memory, allocations
 * over 256 MiB fail instead), so that a size that slipped through shows as
 * a failure here rather than as a machine out of memory. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../examples/nets.h"
#include "engine/net.h"
#include "io/bytes.h"
#include "io/model.h"
#include "selfcompress.h"
#include "util/testutil.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TL_ASAN 1
#endif

#define MEM_LIMIT ((size_t)256 << 20)

#ifdef TL_ASAN
/* read by the ASan runtime (a shared library): exported despite the
 * build's -fvisibility=hidden */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=256";
}
#endif

/* ---- model files from a layer table ------------------------------------- */

typedef struct layer {
    int kind;
    int in;                /* input layer id */
    int c;                 /* dense/conv: outputs */
    int k, stride, pad;    /* conv (square kernel) */
    int flags;
    int quant;             /* stored quantised, every channel with 0 bits */
} layer;

typedef struct shape {
    int64_t c, h, w;
} shape;

/* The shape the library derives for layer l (shapes of earlier layers in
 * s[0 .. ]), and its weights. */
static shape derive(const layer *l, const shape *s, int64_t *weights)
{
    shape x = s[l->in], y = x;
    *weights = 0;
    switch (l->kind) {
    case SC_LAYER_DENSE:
        y = (shape){l->c, 1, 1};
        *weights = (int64_t)l->c * x.c * x.h * x.w;
        break;
    case SC_LAYER_CONV2D:
        y.c = l->c;
        y.h = (x.h + 2 * l->pad - l->k) / l->stride + 1;
        y.w = (x.w + 2 * l->pad - l->k) / l->stride + 1;
        *weights = (int64_t)l->c * x.c * l->k * l->k;
        break;
    case SC_LAYER_FLATTEN:
        y = (shape){x.c * x.h * x.w, 1, 1};
        break;
    default: /* relu, batch norm */
        break;
    }
    return y;
}

/* A model file (docs/format.md) of input c x h x w and n layers, sealed
 * with its CRC; the layer data (weights 0.25, biases 0, batch norm with
 * mean 0 and variance 1) only when all of it takes less than 64 MB: a
 * larger net must be refused before its data is read. */
static unsigned char *model_file(int c, int h, int w, const layer *ls, int n,
                                 size_t *len)
{
    shape s[512];
    int64_t wts[512], total = 0;
    ck_assert_int_le(n, 511);
    s[0] = (shape){c, h, w};
    for (int i = 0; i < n; i++) {
        s[i + 1] = derive(&ls[i], s, &wts[i + 1]);
        total += ls[i].quant ? 5 * s[i + 1].c : wts[i + 1];
    }
    sc_wbuf b = {0};
    sc_put_bytes(&b, "SCMODEL", 8);
    sc_put_u32(&b, 1);
    sc_put_u64(&b, 0);
    sc_put_u32(&b, (uint32_t)c);
    sc_put_u32(&b, (uint32_t)h);
    sc_put_u32(&b, (uint32_t)w);
    sc_put_u32(&b, (uint32_t)(n + 1));
    for (int i = 0; i < n; i++) {
        const layer *l = &ls[i];
        int weighted = l->kind == SC_LAYER_DENSE || l->kind == SC_LAYER_CONV2D;
        sc_put_u8(&b, (unsigned)l->kind);
        sc_put_u32(&b, (uint32_t)l->in);
        sc_put_u32(&b, 0);
        sc_put_u32(&b, (uint32_t)s[i + 1].c);
        sc_put_u32(&b, (uint32_t)s[i + 1].h);
        sc_put_u32(&b, (uint32_t)s[i + 1].w);
        sc_put_u32(&b, (uint32_t)(l->kind == SC_LAYER_CONV2D ? l->k
                                  : l->kind == SC_LAYER_DENSE ? 1 : 0));
        sc_put_u32(&b, (uint32_t)(l->kind == SC_LAYER_CONV2D ? l->k
                                  : l->kind == SC_LAYER_DENSE ? 1 : 0));
        sc_put_u32(&b, (uint32_t)(weighted ? l->stride ? l->stride : 1 : 0));
        sc_put_u32(&b, (uint32_t)l->pad);
        sc_put_u32(&b, (uint32_t)l->flags);
        sc_put_u8(&b, (unsigned)l->quant);
        sc_put_u64(&b, (uint64_t)(weighted ? wts[i + 1] : 0));
    }
    if (total < (16 << 20)) {
        for (int i = 0; i < n; i++) {
            const layer *l = &ls[i];
            int64_t ch = s[i + 1].c;
            if (l->kind == SC_LAYER_DENSE || l->kind == SC_LAYER_CONV2D) {
                for (int64_t o = 0; l->quant && o < ch; o++) {
                    sc_put_u8(&b, 0);     /* bits */
                    sc_put_f32(&b, 0.0f); /* exponent */
                }
                for (int64_t k = 0; !l->quant && k < wts[i + 1]; k++)
                    sc_put_f32(&b, 0.25f);
                for (int64_t o = 0; (l->flags & SC_BIAS) && o < ch; o++)
                    sc_put_f32(&b, 0.0f);
                sc_put_u8(&b, 0); /* no folded constants */
            } else if (l->kind == SC_LAYER_BATCHNORM) {
                for (int64_t k = 0; k < ch * ((l->flags & SC_BN_AFFINE) ? 4 : 2); k++)
                    sc_put_f32(&b, k >= ch * ((l->flags & SC_BN_AFFINE) ? 3 : 1) ||
                                           ((l->flags & SC_BN_AFFINE) && k < ch)
                                       ? 1.0f : 0.0f);
            }
        }
        sc_put_u64(&b, 0); /* total bits: every quantised channel has 0 */
    }
    sc_put_u32(&b, 0); /* CRC, sealed below */
    ck_assert(!b.failed);
    tu_reseal(b.data, b.len);
    *len = b.len;
    return b.data;
}

/* The file must be refused with SC_ERR_FORMAT and a message holding want. */
static void file_refused(const unsigned char *d, size_t n, const char *want)
{
    sc_model *m = NULL;
    TU_FAILS(sc_model_load_memory(&m, d, n), SC_ERR_FORMAT);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(sc_last_error(), want) != NULL, "message '%s' lacks '%s'",
                  sc_last_error(), want);
}

/* The net built from the table through the builders: the first failing
 * call's status, its layer index in *at (n when all were added). */
static sc_status build(int c, int h, int w, const layer *ls, int n, int *at,
                       sc_net **out)
{
    sc_net *net;
    TU_OK(sc_net_create(&net, c, h, w));
    sc_status st = SC_OK;
    int i, id;
    for (i = 0; i < n && st == SC_OK; i++) {
        const layer *l = &ls[i];
        switch (l->kind) {
        case SC_LAYER_DENSE: st = sc_net_dense(net, l->in, l->c, l->flags, &id); break;
        case SC_LAYER_CONV2D:
            st = sc_net_conv2d(net, l->in, l->c, l->k, l->k,
                               l->stride ? l->stride : 1, l->pad, l->flags, &id);
            break;
        case SC_LAYER_BATCHNORM: st = sc_net_batchnorm(net, l->in, l->flags, &id); break;
        case SC_LAYER_RELU: st = sc_net_relu(net, l->in, &id); break;
        case SC_LAYER_FLATTEN: st = sc_net_flatten(net, l->in, &id); break;
        default: ck_abort_msg("kind %d", l->kind);
        }
    }
    *at = st == SC_OK ? n : i - 1;
    if (out && st == SC_OK)
        *out = net;
    else
        sc_net_free(net);
    return st;
}

/* One layer l on input c x h x w: refused by the builder with SC_ERR_SHAPE
 * and by the loader with SC_ERR_FORMAT, both messages naming the limit. */
static void one_layer_refused(int c, int h, int w, layer l, const char *what)
{
    int at;
    tu_clear_error();
    ck_assert_int_eq(build(c, h, w, &l, 1, &at, NULL), SC_ERR_SHAPE);
    ck_assert_msg(strstr(sc_last_error(), what) != NULL, "'%s' lacks '%s'",
                  sc_last_error(), what);
    size_t n;
    unsigned char *d = model_file(c, h, w, &l, 1, &n);
    file_refused(d, n, what);
    free(d);
}

/* ---- the example: 200 convs padded by 64 from a 1x1x1 input ----- */

static layer padded_conv(int in) { return (layer){SC_LAYER_CONV2D, in, 1, 1, 1, 64, 0, 0}; }

START_TEST(test_padded_convs_refused)
{
    layer ls[200];
    for (int i = 0; i < 200; i++)
        ls[i] = padded_conv(i);
    /* each adds 128 to h and w: layer i (from 0) is 1 + 128 (i + 1) square,
     * over 2^28 floats from i = 127 (16385^2) */
    int at;
    tu_clear_error();
    ck_assert_int_eq(build(1, 1, 1, ls, 200, &at, NULL), SC_ERR_SHAPE);
    ck_assert_int_eq(at, 127);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "2^28"));
    size_t n;
    unsigned char *d = model_file(1, 1, 1, ls, 200, &n);
    file_refused(d, n, "layer 128");
    file_refused(d, n, "2^28");
    free(d);
    /* 127 of them are within the limit of a layer, but together they ask
     * for about 1.1e11 bytes per sample: the default cap refuses the file
     * (3 kB) before anything is allocated */
    d = model_file(1, 1, 1, ls, 127, &n);
    ck_assert_uint_lt(n, 8000);
    file_refused(d, n, "bytes of activations per sample");
    /* with the cap lifted the loader allocates the (small) parameters, and
     * a forward needs more memory than there is */
    sc_load_limits lim = SC_LOAD_LIMITS_INIT;
    lim.max_activation_bytes = INT64_MAX;
    lim.max_macs = INFINITY;
    sc_model *m = NULL;
    TU_OK(sc_model_load_memory_v2(&m, d, n, &lim));
    sc_model_info info = SC_MODEL_INFO_INIT;
    TU_OK(sc_model_get_info(m, &info));
    ck_assert_int_gt(info.activation_bytes, (int64_t)5e10);
    float x = 1.0f;
    int64_t xs[4] = {1, 1, 1, 1}, ys[2] = {1, 16257 * 16257};
    sc_tensor *tx, *ty;
    TU_OK(sc_tensor_wrap(&tx, 4, xs, &x));
    TU_OK(sc_tensor_wrap(&ty, 2, ys, &x)); /* 1 GB: never written */
    TU_FAILS(sc_model_forward(m, tx, ty), SC_ERR_NOMEM);
    sc_tensor_free(tx);
    sc_tensor_free(ty);
    sc_model_free(m);
    free(d);
    /* the same 127 layers through the builders: a forward cannot plan */
    sc_net *net;
    ck_assert_int_eq(build(1, 1, 1, ls, 127, &at, &net), SC_OK);
    TU_OK(sc_net_init(net, 1));
    TU_FAILS(sc_plan(net, 1), SC_ERR_NOMEM);
    ck_assert_ptr_null(net->arena);
    sc_net_free(net);
}
END_TEST

/* ---- every place a size could exceed 32 bits ---------------------------- */

START_TEST(test_layer_limits)
{
    /* a conv's output c*h*w: 2^32 floats (16 channels of 2^28) */
    one_layer_refused(1, 16384, 16384, (layer){SC_LAYER_CONV2D, 0, 16, 1, 1, 0, 0, 0},
                      "limit of 2^");
    /* 2^20 channels padded to 129 x 129: 2^34 floats */
    one_layer_refused(1, 1, 1, (layer){SC_LAYER_CONV2D, 0, 1 << 20, 1, 1, 64, 0, 0},
                      "2^28 floats");
    /* a dense layer's weights (and fan-in x W): 2 x 2^28 */
    one_layer_refused(1, 16384, 16384, (layer){SC_LAYER_DENSE, 0, 2, 0, 0, 0, 0, 0},
                      "weights");
    /* a conv's weights: 2^12 x 2^16 x 3 x 3 */
    one_layer_refused(1 << 16, 32, 32, (layer){SC_LAYER_CONV2D, 0, 1 << 12, 3, 1, 0, 0, 0},
                      "weights");
    /* a conv's fan-in c*kh*kw (the kernels' int k), 2^20 * 46^2 > 2^31, is
     * at most its padded input: refused as that */
    one_layer_refused(1 << 20, 16, 16, (layer){SC_LAYER_CONV2D, 0, 1, 46, 1, 15, 0, 0},
                      "2^30");
    /* the fan-in of its dx (int kx), 2^20 * 64^2 = 2^32, at most its padded
     * dy */
    one_layer_refused(1, 64, 64, (layer){SC_LAYER_CONV2D, 0, 1 << 20, 64, 1, 0, 0, 0},
                      "2^30");
    /* the padded input the int32 tap and position tables index: 2^20
     * channels of 144 x 144, over 2^34 floats */
    one_layer_refused(1 << 20, 16, 16, (layer){SC_LAYER_CONV2D, 0, 1, 1, 1, 64, 0, 0},
                      "2^30");
    /* the padded dy of the input gradient: 8 x 16386^2 > 2^31 floats, from
     * an output of only 8 x 256 x 256 (stride 64) */
    one_layer_refused(1, 16384, 16384, (layer){SC_LAYER_CONV2D, 0, 8, 3, 64, 1, 0, 0},
                      "2^30");
    /* and the largest layers within the limits are accepted */
    int at;
    layer fit[3] = {{SC_LAYER_CONV2D, 0, 4, 1, 1, 0, 0, 0},
                    {SC_LAYER_FLATTEN, 1, 0, 0, 0, 0, 0, 0},
                    {SC_LAYER_DENSE, 2, 1, 0, 0, 0, 0, 0}};
    ck_assert_int_eq(build(1, 8192, 8192, fit, 3, &at, NULL), SC_OK);
    /* the input itself */
    sc_net *net = NULL;
    TU_FAILS(sc_net_create(&net, 1 << 10, 1 << 10, 1 << 9), SC_ERR_SHAPE);
    TU_FAILS(sc_net_create(&net, 65536, 65536, 65536), SC_ERR_SHAPE);
    ck_assert_ptr_null(net);
}
END_TEST

/* A net of count batch norms on a 1 x 2^14 x 2^14 input (2^28 floats). */
static sc_net *bn_chain(int count)
{
    sc_net *net;
    TU_OK(sc_net_create(&net, 1, 16384, 16384));
    int id = SC_INPUT;
    for (int i = 0; i < count; i++)
        TU_OK(sc_net_batchnorm(net, id, 0, &id));
    return net;
}

START_TEST(test_plan_overflow)
{
    /* batch 2^24 of 2^28 floats per buffer: 2^52 floats each, the total
     * over 2^54 bytes: fits in a size_t, cannot be allocated */
    sc_net *net = bn_chain(2);
    TU_OK(sc_net_init(net, 1));
    TU_FAILS(sc_plan(net, 1 << 24), SC_ERR_NOMEM);
    ck_assert_ptr_null(net->arena);
    /* 4096 layers: the total overflows 64 bits (2^65 floats) */
    sc_net *big = bn_chain(4096);
    TU_OK(sc_net_init(big, 1));
    TU_FAILS(sc_plan(big, 1 << 24), SC_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "size_t"));
    ck_assert_ptr_null(big->arena);
    /* 600 layers: 2^62.2 floats fit in a size_t, their bytes do not */
    sc_net *mid = bn_chain(600);
    TU_OK(sc_net_init(mid, 1));
    TU_FAILS(sc_plan(mid, 1 << 24), SC_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "size_t"));
    /* the batch itself: at most 2^24 */
    sc_net *small;
    int id;
    TU_OK(sc_net_create(&small, 1, 1, 1));
    TU_OK(sc_net_dense(small, SC_INPUT, 2, SC_BIAS, &id));
    TU_OK(sc_net_init(small, 1));
    float v = 0.0f;
    int64_t xs[2] = {((int64_t)1 << 24) + 1, 1};
    sc_tensor *tx;
    TU_OK(sc_tensor_wrap(&tx, 2, xs, &v)); /* never read */
    sc_tensor *ty = NULL;
    int64_t ys[2] = {((int64_t)1 << 24) + 1, 2};
    TU_OK(sc_tensor_wrap(&ty, 2, ys, &v));
    TU_FAILS(sc_net_forward(small, tx, ty), SC_ERR_SHAPE);
    sc_tensor_free(tx);
    sc_tensor_free(ty);
    sc_net_free(small);
    sc_net_free(mid);
    sc_net_free(big);
    sc_net_free(net);
}
END_TEST

/* ---- the cost of a model and the caps ----------------------------------- */

/* 2x4x4 -> maxpool 2/2 -> batch norm (affine) -> relu -> flatten -> dense 3 */
static sc_net *small_net(void)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 2, 4, 4));
    TU_OK(sc_net_maxpool(net, SC_INPUT, 2, 2, &id));
    TU_OK(sc_net_batchnorm(net, id, SC_BN_AFFINE, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 7));
    return net;
}

/* By hand, for a batch of 1 of the loaded model (forward-only: no dy
 * buffers, no softmax), every buffer rounded up to 16 floats:
 *   maxpool   y 8 -> 16, argmax 8 -> 16
 *   batchnorm y 16, saved statistics 3 x 2 -> 16
 *   relu, flatten: in place (the relu fused into the batch norm)
 *   dense     y 3 -> 16 (float weights: no shared weight buffer)
 *   the batch norm's scratch, 1 x 2 x 2 -> 16
 * = 96 floats, 384 bytes. The training net (a checkpoint's) adds a dy of
 * 16 floats for each of the three and a softmax of 16: 160 floats, 640
 * bytes. Operations: the input's 32 (checked for NaN),
 * the max pool 8 outputs x 4, the batch norm, relu and flatten 8 each, the
 * dense 24 weights: 112. */
#define SMALL_BYTES 384
#define SMALL_TRAIN_BYTES 640
#define SMALL_MACS 112.0

START_TEST(test_info_cost)
{
    sc_net *net = small_net();
    sc_model_info saved = SC_MODEL_INFO_INIT, info = SC_MODEL_INFO_INIT;
    const char *path = tu_path("small.scm");
    TU_OK(sc_net_save(net, path, &saved));
    ck_assert_int_eq(saved.activation_bytes, SMALL_BYTES);
    ck_assert(saved.macs == SMALL_MACS);
    sc_model *m;
    TU_OK(sc_model_load(&m, path));
    TU_OK(sc_model_get_info(m, &info));
    ck_assert_int_eq(info.activation_bytes, SMALL_BYTES);
    ck_assert(info.macs == SMALL_MACS);
    /* what a forward of one sample really lays out */
    tu_batch b = tu_batch_make(1, 2, 4, 4, 0, 3);
    float out[3];
    int64_t os[2] = {1, 3};
    sc_tensor *to;
    TU_OK(sc_tensor_wrap(&to, 2, os, out));
    TU_OK(sc_model_forward(m, b.x, to));
    ck_assert_uint_eq(sc_model_net(m)->arena_floats * sizeof(float), SMALL_BYTES);
    sc_tensor_free(to);
    tu_batch_free(&b);
    /* an info of the old size gets the old fields only */
    sc_model_info old = SC_MODEL_INFO_INIT;
    old.size = offsetof(sc_model_info, activation_bytes);
    old.activation_bytes = -5;
    TU_OK(sc_model_get_info(m, &old));
    ck_assert_int_eq(old.activation_bytes, -5);
    ck_assert_int_eq(old.file_bytes, info.file_bytes);
    sc_model_free(m);
    sc_net_free(net);
}
END_TEST

/* The pools' operations are their kh x kw windows per output. By hand:
 * the input's 60; avg pool 3x2 stride 2x1 pad 1x0 on 2 x 5 x 6: 2 x 3 x 5
 * outputs x 6; max pool 1x3 pad 0x1: 30 outputs x 3; flatten 30; dense 90
 * weights: 450. */
START_TEST(test_info_cost_windows)
{
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 2, 5, 6));
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_AVGPOOL);
    d.kernel_h = 3;
    d.kernel_w = 2;
    d.stride_h = 2;
    d.pad_h = 1;
    int in = SC_INPUT;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, &id));
    d = (sc_layer_desc)SC_LAYER_DESC_INIT(SC_LAYER_MAXPOOL);
    d.kernel_h = 1;
    d.kernel_w = 3;
    d.pad_w = 1;
    TU_OK(sc_net_add_layer(net, &d, &id, 1, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 3));
    sc_model_info saved = SC_MODEL_INFO_INIT;
    TU_OK(sc_net_save(net, tu_path("windows.scm"), &saved));
    ck_assert_msg(saved.macs == 450.0, "macs %g", saved.macs);
    sc_net_free(net);
}
END_TEST

/* The benchmark nets have the quantised weights the benchmark definitions
 * give them, load under the default caps, and each one's figure is what a
 * forward of one sample lays out. */
START_TEST(test_benchmark_nets_fit)
{
    const char *names[5] = {"mlp", "tinynet", "cnn", "dscnn", "seq1d"};
    const int64_t spec_weights[5] = {234752, 87456, 1643296, 52416, 55296};
    for (int i = 0; i < 5; i++) {
        sc_net *net;
        ck_assert(nets_known(names[i]));
        TU_OK(nets_build(names[i], &net, NULL));
        TU_OK(sc_net_init(net, 1));
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        sc_size_report r = SC_SIZE_REPORT_INIT;
        TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &r));
        ck_assert_msg(r.weights0 == spec_weights[i], "%s: %lld quantised weights",
                      names[i], (long long)r.weights0);
        const char *path = tu_path("bench.scm");
        sc_model_info info = SC_MODEL_INFO_INIT;
        TU_OK(sc_net_save(net, path, &info));
        sc_model *m;
        TU_OK(sc_model_load(&m, path));
        int c, h, w, k = sc_model_output_size(m);
        TU_OK(sc_model_input_shape(m, &c, &h, &w));
        tu_batch b = tu_batch_make(1, c, h, w, 0, 3);
        float *out = malloc((size_t)k * sizeof(float));
        int64_t os[2] = {1, k};
        sc_tensor *to;
        TU_OK(sc_tensor_wrap(&to, 2, os, out));
        TU_OK(sc_model_forward(m, b.x, to));
        ck_assert_int_eq((int64_t)(sc_model_net(m)->arena_floats * sizeof(float)),
                         info.activation_bytes);
        fprintf(stderr, "%s: %lld activation bytes, %.4g operations per sample\n",
                names[i], (long long)info.activation_bytes, info.macs);
        ck_assert_int_lt(info.activation_bytes, SC_LOAD_MAX_ACTIVATION_BYTES / 16);
        ck_assert(info.macs < SC_LOAD_MAX_MACS / 100);
        if (strcmp(names[i], "cnn") == 0) /* ~69M multiply-adds in its convs */
            ck_assert(info.macs > 6.9e7 && info.macs < 7.5e7);
        if (strcmp(names[i], "dscnn") == 0) { /* ~3.7M in its dense/convs */
            nets_info layers;
            sc_net *again;
            TU_OK(nets_build(names[i], &again, &layers));
            double macs = nets_forward_flops(&layers) / 2.0;
            ck_assert_msg(macs > 3.7e6 && macs < 3.8e6, "dscnn: %g", macs);
            sc_net_free(again);
        }
        sc_tensor_free(to);
        free(out);
        tu_batch_free(&b);
        sc_model_free(m);
        sc_net_free(net);
    }
}
END_TEST

START_TEST(test_caps)
{
    sc_net *net = small_net();
    const char *path = tu_path("caps.scm"), *ck = tu_path("caps.ckpt");
    TU_OK(sc_net_save(net, path, NULL));
    TU_OK(sc_checkpoint_save(net, NULL, NULL, 0, ck));
    size_t n;
    unsigned char *d = tu_read_all(path, &n);
    sc_model *m = NULL;
    sc_load_limits lim = SC_LOAD_LIMITS_INIT;
    ck_assert_int_eq(lim.max_activation_bytes, (int64_t)1 << 30);
    ck_assert(lim.max_macs == 1e10);
    /* memory: a cap just below the figure refuses, at the figure accepts */
    lim.max_activation_bytes = SMALL_BYTES - 1;
    TU_FAILS(sc_model_load_memory_v2(&m, d, n, &lim), SC_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "384 bytes"));
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "cap of 383"));
    TU_FAILS(sc_model_load_v2(&m, path, &lim), SC_ERR_FORMAT);
    ck_assert_ptr_null(m);
    lim.max_activation_bytes = SMALL_BYTES;
    TU_OK(sc_model_load_v2(&m, path, &lim));
    sc_model_free(m);
    /* operations likewise */
    lim.max_macs = SMALL_MACS - 1;
    TU_FAILS(sc_model_load_memory_v2(&m, d, n, &lim), SC_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sc_last_error(), "112 operations"));
    lim.max_macs = SMALL_MACS;
    TU_OK(sc_model_load_memory_v2(&m, d, n, &lim));
    sc_model_free(m);
    /* checkpoints: the training net's figures (gradients too) */
    sc_net *back = NULL;
    sc_optimizer *opt = NULL;
    lim.max_activation_bytes = SMALL_TRAIN_BYTES - 1;
    TU_FAILS(sc_checkpoint_load_v2(ck, &back, &opt, NULL, 0, NULL, &lim),
             SC_ERR_FORMAT);
    ck_assert_ptr_null(back);
    lim.max_activation_bytes = SMALL_TRAIN_BYTES;
    TU_OK(sc_checkpoint_load_v2(ck, &back, &opt, NULL, 0, NULL, &lim));
    sc_net_free(back);
    TU_OK(sc_checkpoint_load_v2(ck, &back, &opt, NULL, 0, NULL, NULL));
    sc_net_free(back);
    /* a quantised net's checkpoint also plans the quantised weights (24
     * floats of the dense: 32 more floats, 128 bytes) */
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_checkpoint_save(net, NULL, NULL, 0, ck));
    lim.max_activation_bytes = SMALL_TRAIN_BYTES + 127;
    TU_FAILS(sc_checkpoint_load_v2(ck, &back, &opt, NULL, 0, NULL, &lim),
             SC_ERR_FORMAT);
    lim.max_activation_bytes = SMALL_TRAIN_BYTES + 128;
    TU_OK(sc_checkpoint_load_v2(ck, &back, &opt, NULL, 0, NULL, &lim));
    sc_net_free(back);
    back = NULL;
    /* fields past .size take the defaults; a bad size or a NaN is refused */
    sc_load_limits part = {offsetof(sc_load_limits, max_macs), SMALL_BYTES, -1.0};
    TU_OK(sc_model_load_memory_v2(&m, d, n, &part));
    sc_model_free(m);
    m = NULL;
    part.size = 1;
    TU_FAILS(sc_model_load_memory_v2(&m, d, n, &part), SC_ERR_ARG);
    lim.max_macs = NAN;
    TU_FAILS(sc_model_load_memory_v2(&m, d, n, &lim), SC_ERR_ARG);
    TU_FAILS(sc_checkpoint_load_v2(ck, &back, &opt, NULL, 0, NULL, &lim), SC_ERR_ARG);
    ck_assert_ptr_null(m);
    ck_assert_ptr_null(back);
    free(d);
    sc_net_free(net);
}
END_TEST

/* A 37 kB file of 100 quantised 64-channel 3x3 convs on 64 x 64 (every
 * channel at 0 bits: no weight is stored) asks for 1.5e10 multiply-adds
 * per sample: over the default cap, within it when lifted. */
START_TEST(test_compute_cap)
{
    layer ls[100];
    for (int i = 0; i < 100; i++)
        ls[i] = (layer){SC_LAYER_CONV2D, i, 64, 3, 1, 1, 0, 1};
    size_t n;
    unsigned char *d = model_file(64, 64, 64, ls, 100, &n);
    ck_assert_uint_lt(n, 40000);
    file_refused(d, n, "operations per sample");
    sc_load_limits lim = SC_LOAD_LIMITS_INIT;
    lim.max_macs = 2e10;
    sc_model *m = NULL;
    TU_OK(sc_model_load_memory_v2(&m, d, n, &lim));
    sc_model_info info = SC_MODEL_INFO_INIT;
    TU_OK(sc_model_get_info(m, &info));
    ck_assert(info.macs == 100.0 * 64 * 64 * 9 * 64 * 64 + 64 * 64 * 64);
    sc_model_free(m);
    free(d);
}
END_TEST

static void setup(void) { tu_make_tmpdir("sc_test_limits"); }
static void teardown(void) { tu_remove_tmpdir(); }

static Suite *suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_padded_convs_refused);
    tcase_add_test(tc, test_layer_limits);
    tcase_add_test(tc, test_plan_overflow);
    tcase_add_test(tc, test_info_cost);
    tcase_add_test(tc, test_info_cost_windows);
    tcase_add_test(tc, test_benchmark_nets_fit);
    tcase_add_test(tc, test_caps);
    tcase_add_test(tc, test_compute_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    (void)argc;
#ifndef TL_ASAN
    if (!UNDER_VALGRIND()) {
        /* OpenBLAS sizes its threads' buffers when the program loads and
         * spins when they cannot be had: run it single-threaded (the library
         * drives it so anyway) from the start, by running this program
         * again with that set */
        if (getenv("OPENBLAS_NUM_THREADS") == NULL) {
            setenv("OPENBLAS_NUM_THREADS", "1", 1);
            execv("/proc/self/exe", argv);
            perror("execv");
            return EXIT_FAILURE;
        }
        struct rlimit rl = {MEM_LIMIT, MEM_LIMIT};
        if (setrlimit(RLIMIT_AS, &rl) != 0) {
            perror("setrlimit");
            return EXIT_FAILURE;
        }
    }
#else
    (void)argv;
#endif
    return tu_run_suite(suite(), CK_ENV);
}
