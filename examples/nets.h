/* nets.h -- the benchmark networks (mlp, tinynet, cnn, dscnn, seq1d), built
 * with the public
 * API exactly as the project's benchmark definitions describe them, with
 * what a benchmark needs to know about them: forward FLOPs per image and the
 * sgemm shapes the library runs for each dense/conv layer.
 *
 *     sc_net *net;
 *     nets_info info;
 *     if (!nets_known(name)) ...                       // NETS_NAMES
 *     int c, h, w;
 *     nets_input_shape(name, &c, &h, &w);              // 1 x 28 x 28, seq1d 28 x 1 x 28
 *     sc_status st = nets_build(name, &net, &info);    // info may be NULL
 *     double flops = nets_forward_flops(&info);        // per image
 *     nets_gemm g[NETS_MAX_GEMMS];
 *     int n = nets_gemm_shapes(&info, 128, 1, g, NETS_MAX_GEMMS);
 *
 * Everything is static inline: include it from any number of programs.
 *
 * FLOPs count the multiply-adds of the dense and conv layers only (2 FLOPs
 * each); batch norm, relu, pooling, the residual adds and the quantiser are
 * not counted (they are a few percent of the work at most).
 *
 * GEMM shapes are the products the library computes (src/ops/conv2d.c,
 * dense.c), written as sgemm calls; a grouped (depthwise) conv runs by
 * direct loops (src/ops/conv_grouped.c) and has none. A conv's samples are grouped g at a time
 * so that a product has at least 512 columns (g = ceil(512 / (oh*ow)), as
 * the library's chunks do), K = in_c * kh * kw:
 *     forward  y  = W col         M = out_c, N = g*oh*ow, K = K
 *     backward dW += dy col^T     M = out_c, N = K,       K = g*oh*ow
 *              dx = Wf col(dy)    M = in_c,  N = g*h*w,   K = out_c*kh*kw
 *                   (the full convolution of dy; not for the first layer)
 * each batch/g times; a dense layer one sgemm per batch (rows split among
 * the net's threads):
 *     forward  y  = x W^T         M = batch, N = out,   K = in
 *     backward dW += dy^T x       M = out,   N = in,    K = batch
 *              dx += dy W         M = batch, N = in,    K = out (not the first)
 */
#ifndef SC_EXAMPLES_NETS_H
#define SC_EXAMPLES_NETS_H

#include <string.h>

#include <selfcompress.h>

#define NETS_MAX_LAYERS 16

/** The benchmark networks' names, for messages. */
#define NETS_NAMES "mlp, tinynet, cnn, dscnn or seq1d"
#define NETS_MAX_GEMMS (3 * NETS_MAX_LAYERS)

/** One dense or conv layer of a built net. */
typedef struct nets_layer {
    int kind;               /* SC_LAYER_DENSE or SC_LAYER_CONV2D */
    int id;                 /* its layer id in the net */
    int in_c, in_h, in_w;   /* input per sample (dense: flattened, in_c) */
    int out_c, out_h, out_w;
    int kh, kw;
    int groups;             /* conv: 1, or in_c for a depthwise conv */
    int needs_dx;           /* 0 when fed by the input: no dx in backward */
} nets_layer;

/** The dense/conv layers of a net, in the order they were added. */
typedef struct nets_info {
    int count;
    nets_layer layer[NETS_MAX_LAYERS];
} nets_info;

/** One sgemm shape: C[m,n] = op(A)[m,k] op(B)[k,n], `calls` times per
 *  batch (row-major, ta/tb: A/B transposed). */
typedef struct nets_gemm {
    const char *pass;       /* "fwd", "dW" or "dX" */
    int layer;              /* index into nets_info.layer */
    int ta, tb, m, n, k;
    double calls;
} nets_gemm;

typedef struct nets_builder {
    sc_net *net;
    nets_info *info;
    sc_status st;
} nets_builder;

/** 1 when name is one of the benchmark networks. */
static inline int nets_known(const char *name)
{
    return name != NULL && (strcmp(name, "mlp") == 0 ||
                            strcmp(name, "tinynet") == 0 ||
                            strcmp(name, "cnn") == 0 ||
                            strcmp(name, "dscnn") == 0 ||
                            strcmp(name, "seq1d") == 0);
}

/** A net's input per sample: 1 x 28 x 28 (an image), and 28 x 1 x 28 for
 *  seq1d (channel c, time t = pixel (row t, column c) of the image:
 *  nets_image_to_input() lays an image out so). */
static inline void nets_input_shape(const char *name, int *c, int *h, int *w)
{
    int seq = name != NULL && strcmp(name, "seq1d") == 0;
    *c = seq ? 28 : 1;
    *h = seq ? 1 : 28;
    *w = 28;
}

/** One 28 x 28 image (row-major) as the input of net `name` into out (784
 *  floats, not overlapping img): a copy, and for seq1d its transpose,
 *  out[c * 28 + t] = img[t * 28 + c]. */
static inline void nets_image_to_input(const char *name, const float *img,
                                       float *out)
{
    if (name != NULL && strcmp(name, "seq1d") == 0) {
        for (int c = 0; c < 28; c++)
            for (int t = 0; t < 28; t++)
                out[c * 28 + t] = img[t * 28 + c];
    } else {
        memcpy(out, img, 784 * sizeof(float));
    }
}

static inline void nets_record_(nets_builder *b, int kind, int in, int id,
                                int kh, int kw, int groups)
{
    nets_info *info = b->info;
    if (info == NULL || info->count >= NETS_MAX_LAYERS)
        return;
    nets_layer *l = &info->layer[info->count++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->id = id;
    l->kh = kh;
    l->kw = kw;
    l->groups = groups;
    l->needs_dx = in != SC_INPUT;
    sc_net_layer_shape(b->net, in, &l->in_c, &l->in_h, &l->in_w);
    sc_net_layer_shape(b->net, id, &l->out_c, &l->out_h, &l->out_w);
    if (kind == SC_LAYER_DENSE) {
        l->in_c *= l->in_h * l->in_w;
        l->in_h = l->in_w = 1;
    }
}

/* Each helper returns the new layer's id, or -1 once a call has failed
 * (b->st keeps the first failure). */
static inline int nets_conv_(nets_builder *b, int in, int out, int k, int pad)
{
    int id = -1;
    if (b->st == SC_OK &&
        (b->st = sc_net_conv2d(b->net, in, out, k, k, 1, pad, SC_NO_BIAS, &id)) == SC_OK)
        nets_record_(b, SC_LAYER_CONV2D, in, id, k, k, 1);
    return b->st == SC_OK ? id : -1;
}

/* A conv with per-axis kernel and padding, stride s on both axes, `groups`
 * groups (0: 1), no bias. */
static inline int nets_conv_desc_(nets_builder *b, int in, int out, int kh,
                                  int kw, int s, int ph, int pw, int groups)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    int id = -1;
    d.channels = out;
    d.kernel_h = kh;
    d.kernel_w = kw;
    d.stride_h = d.stride_w = s;
    d.pad_h = ph;
    d.pad_w = pw;
    d.groups = groups;
    d.flags = SC_NO_BIAS;
    if (b->st == SC_OK &&
        (b->st = sc_net_add_layer(b->net, &d, &in, 1, &id)) == SC_OK)
        nets_record_(b, SC_LAYER_CONV2D, in, id, kh, kw, groups > 0 ? groups : 1);
    return b->st == SC_OK ? id : -1;
}

static inline int nets_dense_(nets_builder *b, int in, int out, int flags)
{
    int id = -1;
    if (b->st == SC_OK &&
        (b->st = sc_net_dense(b->net, in, out, flags, &id)) == SC_OK)
        nets_record_(b, SC_LAYER_DENSE, in, id, 1, 1, 1);
    return b->st == SC_OK ? id : -1;
}

static inline int nets_relu_(nets_builder *b, int in)
{
    int id = -1;
    if (b->st == SC_OK)
        b->st = sc_net_relu(b->net, in, &id);
    return b->st == SC_OK ? id : -1;
}

static inline int nets_bn_(nets_builder *b, int in, int flags)
{
    int id = -1;
    if (b->st == SC_OK)
        b->st = sc_net_batchnorm(b->net, in, flags, &id);
    return b->st == SC_OK ? id : -1;
}

static inline int nets_maxpool_(nets_builder *b, int in)
{
    int id = -1;
    if (b->st == SC_OK)
        b->st = sc_net_maxpool(b->net, in, 2, 2, &id);
    return b->st == SC_OK ? id : -1;
}

/* a layer of a kind without attributes (relu6) */
static inline int nets_plain_(nets_builder *b, int in, sc_layer_kind kind)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(kind);
    int id = -1;
    if (b->st == SC_OK)
        b->st = sc_net_add_layer(b->net, &d, &in, 1, &id);
    return b->st == SC_OK ? id : -1;
}

/* max pool 1 x 2, stride 1 x 2 */
static inline int nets_maxpool_1x2_(nets_builder *b, int in)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_MAXPOOL);
    int id = -1;
    d.kernel_h = d.stride_h = 1;
    d.kernel_w = d.stride_w = 2;
    if (b->st == SC_OK)
        b->st = sc_net_add_layer(b->net, &d, &in, 1, &id);
    return b->st == SC_OK ? id : -1;
}

static inline int nets_gavgpool_(nets_builder *b, int in)
{
    int id = -1;
    if (b->st == SC_OK)
        b->st = sc_net_global_avgpool(b->net, in, &id);
    return b->st == SC_OK ? id : -1;
}

static inline int nets_add_(nets_builder *b, int x, int y)
{
    int id = -1;
    if (b->st == SC_OK)
        b->st = sc_net_add(b->net, x, y, &id);
    return b->st == SC_OK ? id : -1;
}

/* cnn's block: conv 3x3 (padding 1, no bias), BN affine/running, relu */
static inline int nets_conv_bn_relu_(nets_builder *b, int in, int out)
{
    return nets_relu_(b, nets_bn_(b, nets_conv_(b, in, out, 3, 1), SC_BN_AFFINE));
}

/* dscnn's conv (kernel k, stride s, padding k / 2, `groups` groups), BN
 * affine/running, relu6 */
static inline int nets_conv_bn_relu6_(nets_builder *b, int in, int out, int k,
                                      int s, int groups)
{
    int id = nets_conv_desc_(b, in, out, k, k, s, k / 2, k / 2, groups);
    return nets_plain_(b, nets_bn_(b, id, SC_BN_AFFINE), SC_LAYER_RELU6);
}

/* seq1d's conv 1 x k (padding 0 x k / 2), BN affine/running, relu */
static inline int nets_conv1d_bn_relu_(nets_builder *b, int in, int out, int k)
{
    int id = nets_conv_desc_(b, in, out, 1, k, 1, 0, k / 2, 1);
    return nets_relu_(b, nets_bn_(b, id, SC_BN_AFFINE));
}

/** Builds network `name` (NETS_NAMES) for the input nets_input_shape()
 *  gives, not yet initialised (call sc_net_init). info (may be NULL) gets its
 *  dense/conv layers. An unknown name gets SC_ERR_ARG (sc_last_error() is
 *  not set for it: check nets_known() first for a message). On failure
 *  *out is NULL. */
static inline sc_status nets_build(const char *name, sc_net **out,
                                   nets_info *info)
{
    nets_builder b = {NULL, info, SC_OK};
    int id = SC_INPUT, x, r;
    *out = NULL;
    if (info)
        info->count = 0;
    if (!nets_known(name))
        return SC_ERR_ARG;
    int c, h, w;
    nets_input_shape(name, &c, &h, &w);
    if ((b.st = sc_net_create(&b.net, c, h, w)) != SC_OK)
        return b.st;
    if (strcmp(name, "mlp") == 0) {
        id = nets_relu_(&b, nets_dense_(&b, id, 256, SC_BIAS));
        id = nets_relu_(&b, nets_dense_(&b, id, 128, SC_BIAS));
        nets_dense_(&b, id, 10, SC_BIAS);
    } else if (strcmp(name, "tinynet") == 0) {
        const int k[4] = {5, 5, 3, 3}, c[4] = {32, 32, 64, 64};
        for (int i = 0; i < 4; i++) {
            id = nets_relu_(&b, nets_conv_(&b, id, c[i], k[i], 0));
            if (i % 2 == 1)
                id = nets_maxpool_(&b, nets_bn_(&b, id, SC_BN_BATCH_STATS));
        }
        if (b.st == SC_OK)
            b.st = sc_net_flatten(b.net, id, &id);
        nets_dense_(&b, id, 10, SC_NO_BIAS);
    } else if (strcmp(name, "dscnn") == 0) {
        /* blocks (c_in, c_out, stride): depthwise 3x3, then pointwise 1x1 */
        static const int blk[5][3] = {
            {32, 64, 2}, {64, 64, 1}, {64, 128, 2}, {128, 128, 1}, {128, 128, 1}};
        id = nets_conv_bn_relu6_(&b, id, 32, 3, 1, 1); /* stem */
        for (int i = 0; i < 5; i++) {
            id = nets_conv_bn_relu6_(&b, id, blk[i][0], 3, blk[i][2], blk[i][0]);
            id = nets_conv_bn_relu6_(&b, id, blk[i][1], 1, 1, 1);
        }
        nets_dense_(&b, nets_gavgpool_(&b, id), 10, SC_BIAS);
    } else if (strcmp(name, "seq1d") == 0) {
        id = nets_conv1d_bn_relu_(&b, id, 64, 5);
        id = nets_maxpool_1x2_(&b, nets_conv1d_bn_relu_(&b, id, 64, 5));
        id = nets_gavgpool_(&b, nets_conv1d_bn_relu_(&b, id, 128, 3));
        nets_dense_(&b, id, 10, SC_BIAS);
    } else { /* cnn */
        id = nets_conv_bn_relu_(&b, id, 32);                  /* prep */
        x = nets_maxpool_(&b, nets_conv_bn_relu_(&b, id, 64)); /* layer1 */
        r = nets_conv_bn_relu_(&b, nets_conv_bn_relu_(&b, x, 64), 64);
        id = nets_add_(&b, x, r);
        id = nets_maxpool_(&b, nets_conv_bn_relu_(&b, id, 128)); /* layer2 */
        x = nets_maxpool_(&b, nets_conv_bn_relu_(&b, id, 256));  /* layer3 */
        r = nets_conv_bn_relu_(&b, nets_conv_bn_relu_(&b, x, 256), 256);
        id = nets_add_(&b, x, r);
        if (b.st == SC_OK)
            b.st = sc_net_global_maxpool(b.net, id, &id);     /* head */
        nets_dense_(&b, id, 10, SC_BIAS);
    }
    if (b.st != SC_OK) {
        sc_net_free(b.net);
        if (info)
            info->count = 0;
        return b.st;
    }
    *out = b.net;
    return SC_OK;
}

/** Multiply-adds of one dense/conv layer per image. */
static inline double nets_layer_macs(const nets_layer *l)
{
    return (double)l->out_c * l->out_h * l->out_w *
           (double)(l->in_c / l->groups) * l->kh * l->kw;
}

/** Forward FLOPs per image (2 per multiply-add of the dense/conv layers). */
static inline double nets_forward_flops(const nets_info *info)
{
    double f = 0.0;
    for (int i = 0; i < info->count; i++)
        f += 2.0 * nets_layer_macs(&info->layer[i]);
    return f;
}

/** Forward FLOPs per image of the quantised net as it is now: after
 *  sc_net_compress() its layers hold only the live weights of the size
 *  report, fewer than info recorded at construction. */
static inline double nets_current_flops(const sc_net *net, const nets_info *info)
{
    double f = 0.0;
    for (int i = 0; i < info->count; i++) {
        const nets_layer *l = &info->layer[i];
        sc_size_report r = SC_SIZE_REPORT_INIT;
        if (sc_net_size_report(net, l->id, &r) == SC_OK)
            f += 2.0 * (double)r.weights * l->out_h * l->out_w;
        else /* not quantised: as built */
            f += 2.0 * nets_layer_macs(l);
    }
    return f;
}

/** Fills g (room for max, NETS_MAX_GEMMS is always enough) with the sgemm
 *  calls of one batch: the forward ones, and with training the backward
 *  ones too. Returns how many. */
static inline int nets_gemm_shapes(const nets_info *info, int batch,
                                   int training, nets_gemm *g, int max)
{
    int n = 0;
#define NETS_GEMM_(P, I, TA, TB, M, N, K, C)                                   \
    do {                                                                       \
        if (n < max) {                                                         \
            nets_gemm e_ = {P, I, TA, TB, M, N, K, C};                         \
            g[n++] = e_;                                                       \
        }                                                                      \
    } while (0)
    for (int i = 0; i < info->count; i++) {
        const nets_layer *l = &info->layer[i];
        if (l->kind == SC_LAYER_CONV2D && l->groups > 1)
            continue; /* direct loops, no sgemm */
        if (l->kind == SC_LAYER_CONV2D) {
            int k = l->in_c * l->kh * l->kw, ohw = l->out_h * l->out_w;
            int grp = (512 + ohw - 1) / ohw;
            grp = grp < batch ? grp : batch;
            double calls = (double)batch / grp;
            NETS_GEMM_("fwd", i, 0, 0, l->out_c, grp * ohw, k, calls);
            if (training) {
                NETS_GEMM_("dW", i, 0, 1, l->out_c, k, grp * ohw, calls);
                if (l->needs_dx)
                    NETS_GEMM_("dX", i, 0, 0, l->in_c, grp * l->in_h * l->in_w,
                               l->out_c * l->kh * l->kw, calls);
            }
        } else {
            NETS_GEMM_("fwd", i, 0, 1, batch, l->out_c, l->in_c, 1);
            if (training) {
                NETS_GEMM_("dW", i, 1, 0, l->out_c, l->in_c, batch, 1);
                if (l->needs_dx)
                    NETS_GEMM_("dX", i, 0, 0, batch, l->in_c, l->out_c, 1);
            }
        }
    }
#undef NETS_GEMM_
    return n;
}

#endif
