/* test_model.c -- the compressed model file (docs/format.md) and the
 * inference handle: round trips bit-identical to the training net in eval
 * mode for every layer kind and bit depth, the size accounting, a golden
 * file, error cases, and every corruption and truncation of a small file.
 *
 * SC_REGEN_DATA=1 ./build/tests/test_model rewrites tests/data/golden.scm
 * and the fuzz seed corpus tests/data/fuzz_seed/ (run from the repo root);
 * only do that for a deliberate format change (docs/format.md). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/net.h"
#include "io/bytes.h"
#include "io/cmap.h"
#include "io/model.h"
#include "quant/mantissa.h"
#include "selfcompress.h"
#include "util/testutil.h"

/* ---- nets from a layer table --------------------------------------------- */

typedef struct lspec {
    int kind;
    int in, in2;           /* input layer ids (in2: add only) */
    int out;               /* dense/conv: outputs */
    int k, stride, pad;    /* conv (square kernel), pools: the height's */
    int flags;
    int groups;            /* conv: 0 or 1 ungrouped */
    int kw, sw, pw;        /* pools: the width's (kw 0: the height's) */
    float alpha;           /* leaky relu */
} lspec;

#define MAXL 16

typedef struct tnet {
    int c, h, w;
    int n;
    lspec l[MAXL]; /* l[i] is layer id i + 1 */
} tnet;

/* a pool through the descriptor */
static void add_pool(sc_net *net, const lspec *s, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT((sc_layer_kind)s->kind);
    d.kernel_h = s->k;
    d.kernel_w = s->kw ? s->kw : s->k;
    d.stride_h = s->stride;
    d.stride_w = s->kw ? s->sw : s->stride;
    d.pad_h = s->pad;
    d.pad_w = s->kw ? s->pw : s->pad;
    d.flags = s->flags;
    TU_OK(sc_net_add_layer(net, &d, &s->in, 1, id));
}

static sc_net *build(const tnet *t)
{
    sc_net *net;
    TU_OK(sc_net_create(&net, t->c, t->h, t->w));
    TU_OK(sc_net_set_param(net, SC_PARAM_QUANT_B_MAX, 32)); /* the files' range */
    for (int i = 0; i < t->n; i++) {
        const lspec *s = &t->l[i];
        int id = -1;
        switch (s->kind) {
        case SC_LAYER_DENSE: TU_OK(sc_net_dense(net, s->in, s->out, s->flags, &id)); break;
        case SC_LAYER_CONV2D: {
            sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
            d.channels = s->out;
            d.kernel_h = d.kernel_w = s->k;
            d.stride_h = d.stride_w = s->stride;
            d.pad_h = d.pad_w = s->pad;
            d.groups = s->groups;
            d.flags = s->flags;
            TU_OK(sc_net_add_layer(net, &d, &s->in, 1, &id));
            break;
        }
        case SC_LAYER_BATCHNORM: TU_OK(sc_net_batchnorm(net, s->in, s->flags, &id)); break;
        case SC_LAYER_RELU: TU_OK(sc_net_relu(net, s->in, &id)); break;
        case SC_LAYER_MAXPOOL:
            if (s->kw)
                add_pool(net, s, &id);
            else
                TU_OK(sc_net_maxpool(net, s->in, s->k, s->stride, &id));
            break;
        case SC_LAYER_AVGPOOL: add_pool(net, s, &id); break;
        case SC_LAYER_GAVGPOOL: TU_OK(sc_net_global_avgpool(net, s->in, &id)); break;
        case SC_LAYER_GMAXPOOL: TU_OK(sc_net_global_maxpool(net, s->in, &id)); break;
        case SC_LAYER_FLATTEN: TU_OK(sc_net_flatten(net, s->in, &id)); break;
        case SC_LAYER_ADD: TU_OK(sc_net_add(net, s->in, s->in2, &id)); break;
        case SC_LAYER_CONCAT: {
            sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
            int two[2] = {s->in, s->in2};
            TU_OK(sc_net_add_layer(net, &d, two, 2, &id));
            break;
        }
        case SC_LAYER_DROPOUT:
        case SC_LAYER_LEAKY_RELU:
        case SC_LAYER_RELU6:
        case SC_LAYER_SIGMOID:
        case SC_LAYER_TANH:
        case SC_LAYER_HARDSWISH: {
            sc_layer_desc d = SC_LAYER_DESC_INIT((sc_layer_kind)s->kind);
            d.alpha = s->alpha;
            TU_OK(sc_net_add_layer(net, &d, &s->in, 1, &id));
            break;
        }
        default: ck_abort_msg("bad kind %d", s->kind);
        }
        ck_assert_int_eq(id, i + 1);
    }
    return net;
}

#define DENSE(i, o, f) {.kind = SC_LAYER_DENSE, .in = i, .out = o, .flags = f}
#define CONV(i, o, k_, s, p, f) \
    {.kind = SC_LAYER_CONV2D, .in = i, .out = o, .k = k_, .stride = s, .pad = p, .flags = f}
#define BN(i, f) {.kind = SC_LAYER_BATCHNORM, .in = i, .flags = f}
#define RELU(i) {.kind = SC_LAYER_RELU, .in = i}
#define MAXPOOL(i, k_, s) {.kind = SC_LAYER_MAXPOOL, .in = i, .k = k_, .stride = s}
/* a max or average pool, per axis */
#define POOL(kd, i, kh, kw_, sh, sw_, ph, pw_, f) \
    {.kind = kd, .in = i, .k = kh, .stride = sh, .pad = ph, .flags = f, .kw = kw_, \
     .sw = sw_, .pw = pw_}
#define GAVG(i) {.kind = SC_LAYER_GAVGPOOL, .in = i}
#define GMAX(i) {.kind = SC_LAYER_GMAXPOOL, .in = i}
#define FLAT(i) {.kind = SC_LAYER_FLATTEN, .in = i}
#define ADD(a, b) {.kind = SC_LAYER_ADD, .in = a, .in2 = b}
#define GCONV(i, o, k_, s, p, f, g) \
    {.kind = SC_LAYER_CONV2D, .in = i, .out = o, .k = k_, .stride = s, .pad = p, .flags = f, \
     .groups = g}
#define CAT(a, b) {.kind = SC_LAYER_CONCAT, .in = a, .in2 = b}
#define ACT(kd, i) {.kind = SC_LAYER_##kd, .in = i}
#define LEAKY(i, a) {.kind = SC_LAYER_LEAKY_RELU, .in = i, .alpha = a}
#define DROP(i, p) {.kind = SC_LAYER_DROPOUT, .in = i, .alpha = p}

/* Every layer kind and option, over a few nets. */
static const tnet NETS[] = {
    /* dense with and without bias, on a c x h x w input */
    {3, 4, 4, 4, {DENSE(0, 7, SC_BIAS), RELU(1), DENSE(2, 6, SC_NO_BIAS), DENSE(3, 4, SC_BIAS)}},
    /* conv stride 2 pad 1, affine batch norm, maxpool, flatten */
    {2, 9, 9, 7, {CONV(0, 6, 3, 2, 1, SC_BIAS), BN(1, SC_BN_AFFINE), RELU(2),
                  MAXPOOL(3, 2, 2), FLAT(4), DENSE(5, 5, SC_BIAS), DENSE(6, 3, SC_NO_BIAS)}},
    /* conv without padding, non-affine norm, global average pool */
    {3, 7, 6, 5, {CONV(0, 5, 3, 1, 0, SC_NO_BIAS), BN(1, 0), RELU(2), GAVG(3),
                  DENSE(4, 4, SC_BIAS)}},
    /* batch statistics in eval, global max pool, 1x1 conv, 5x5 kernel */
    {1, 8, 8, 6, {CONV(0, 4, 5, 1, 2, SC_BIAS), BN(1, SC_BN_AFFINE | SC_BN_BATCH_STATS),
                  CONV(2, 6, 1, 1, 0, SC_BIAS), BN(3, SC_BN_BATCH_STATS), GMAX(4),
                  DENSE(5, 4, SC_BIAS)}},
    /* residual join */
    {2, 6, 6, 8, {CONV(0, 4, 3, 1, 1, SC_NO_BIAS), BN(1, SC_BN_AFFINE), RELU(2),
                  CONV(3, 4, 3, 1, 1, SC_BIAS), ADD(4, 3), RELU(5), MAXPOOL(6, 3, 1),
                  FLAT(7), DENSE(8, 3, SC_BIAS)}},
    /* grouped and depthwise convolutions (with a channel multiplier) */
    {4, 7, 7, 7, {GCONV(0, 8, 3, 2, 1, SC_BIAS, 2), BN(1, SC_BN_AFFINE), RELU(2),
                  CONV(3, 6, 1, 1, 0, SC_BIAS), GCONV(4, 12, 3, 1, 1, SC_NO_BIAS, 6),
                  GAVG(5), DENSE(6, 3, SC_BIAS)}},
    /* concatenation of two branches, one read twice; dropout (identity in
     * a model) */
    {2, 6, 6, 8, {CONV(0, 3, 3, 1, 1, SC_BIAS), CONV(0, 4, 1, 1, 0, SC_NO_BIAS), CAT(1, 2),
                  CAT(3, 1), CONV(4, 4, 3, 2, 1, SC_BIAS), GMAX(5), DROP(6, 0.25f),
                  DENSE(7, 3, SC_BIAS)}},
    /* padded average pools: padding counted (square), not counted (per
     * axis) */
    {2, 9, 8, 8, {CONV(0, 4, 3, 1, 1, SC_NO_BIAS), BN(1, SC_BN_AFFINE), RELU(2),
                  POOL(SC_LAYER_AVGPOOL, 3, 3, 3, 2, 2, 1, 1, SC_POOL_COUNT_PAD),
                  CONV(4, 5, 3, 1, 0, SC_BIAS),
                  POOL(SC_LAYER_AVGPOOL, 5, 2, 3, 1, 2, 1, 1, 0), FLAT(6),
                  DENSE(7, 3, SC_BIAS)}},
    /* a padded per-axis max pool */
    {3, 7, 6, 5, {CONV(0, 4, 3, 1, 1, SC_BIAS), RELU(1),
                  POOL(SC_LAYER_MAXPOOL, 2, 3, 2, 2, 1, 1, 0, 0), FLAT(3),
                  DENSE(4, 4, SC_BIAS)}},
    /* the activations: leaky relu (its alpha stored; a conv reads its
     * negative side), hardswish, sigmoid, relu6, tanh */
    {2, 6, 6, 12, {CONV(0, 5, 3, 1, 1, SC_BIAS), LEAKY(1, 0.05f),
                   CONV(2, 4, 3, 2, 1, SC_BIAS), ACT(HARDSWISH, 3),
                   BN(4, SC_BN_AFFINE), ACT(SIGMOID, 5), FLAT(6),
                   DENSE(7, 6, SC_BIAS), ACT(RELU6, 8), DENSE(9, 5, SC_BIAS),
                   ACT(TANH, 10), DENSE(11, 3, SC_BIAS)}},
};
#define N_NETS ((int)(sizeof NETS / sizeof NETS[0]))

/* ---- data and outputs --------------------------------------------------- */

static float *model_out(sc_model *m, const tu_batch *b)
{
    int k = sc_model_output_size(m);
    ck_assert_int_gt(k, 0);
    int64_t shape[2] = {b->n, k};
    sc_tensor *out;
    TU_OK(sc_tensor_create(&out, 2, shape));
    TU_OK(sc_model_forward(m, b->x, out));
    float *v = malloc((size_t)b->n * k * sizeof(float));
    ck_assert_ptr_nonnull(v);
    TU_OK(sc_tensor_copy_to(out, v, (size_t)b->n * k));
    sc_tensor_free(out);
    return v;
}

/* The model's logits must be the training net's eval logits bit for bit:
 * the same weights (2^e * int is exactly what the quantiser computes), the
 * same ops in the same order. */
static void assert_same_outputs(sc_net *net, sc_model *m, const tu_batch *b)
{
    ck_assert_int_eq(sc_model_output_size(m), sc_net_output_size(net));
    int c, h, w, mc, mh, mw;
    TU_OK(sc_net_layer_shape(net, SC_INPUT, &c, &h, &w));
    TU_OK(sc_model_input_shape(m, &mc, &mh, &mw));
    ck_assert(c == mc && h == mh && w == mw);
    float *a = tu_eval_out(net, b), *o = model_out(m, b);
    size_t n = (size_t)b->n * sc_net_output_size(net);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(a[i]), "net output %zu is not finite", i);
        ck_assert_msg(memcmp(&a[i], &o[i], sizeof(float)) == 0,
                      "output %zu: net %.9g, model %.9g", i, a[i], o[i]);
    }
    free(a);
    free(o);
}

/* ---- the format, computed independently of src/io ------------------------ */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void wr64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

#define HEADER 20
#define TABLE_HEAD 16
/* docs/format.md: a version 2 layer record is 63 bytes and 4 per input;
 * version 1 records were 50 bytes */
#define RECORD(n_in) (63 + 4 * (n_in))
#define RECORD_V1 50
/* fields of a version 2 record with one input */
enum { F_KIND = 0, F_QUANT = 1, F_NIN = 2, F_IN0 = 3, F_CHANNELS = 7,
       F_KH = 11, F_KW = 15, F_SH = 19, F_SW = 23, F_PH = 27, F_PW = 31,
       F_GROUPS = 35, F_FLAGS = 39, F_ALPHA = 43, F_C = 47, F_H = 51,
       F_W = 55, F_N0 = 59 };

/* Offset of layer i's record in a version 2 model file (i past the last
 * layer: the first payload byte). */
static size_t record_at(const unsigned char *d, int i)
{
    size_t at = HEADER + TABLE_HEAD;
    for (int k = 1; k < i; k++)
        at += RECORD(d[at + F_NIN]);
    return at;
}

/* ---- constant maps as docs/format.md stores them, computed naively ---- */

static int64_t leb_bytes(uint64_t v)
{
    int64_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/* Element j of line i of an h x w map: row i (rows 1) or column i. */
static uint32_t line_bits(const float *m, int w, int rows, int i, int j)
{
    uint32_t u;
    memcpy(&u, rows ? &m[(size_t)i * w + j] : &m[(size_t)j * w + i], 4);
    return u;
}

/* Classes of identical rows (rows 1) or columns of an h x w map, numbered
 * by first appearance, each line compared with every class so far; rep[k]:
 * the first line of class k. Returns the class count. */
static int naive_classes(const float *m, int h, int w, int rows, int *cls, int *rep)
{
    int n = rows ? h : w, len = rows ? w : h, k = 0;
    for (int i = 0; i < n; i++) {
        int found = -1;
        for (int c = 0; c < k && found < 0; c++) {
            int same = 1;
            for (int j = 0; j < len && same; j++)
                same = line_bits(m, w, rows, i, j) == line_bits(m, w, rows, rep[c], j);
            if (same)
                found = c;
        }
        if (found < 0) {
            rep[k] = i;
            found = k++;
        }
        cls[i] = found;
    }
    return k;
}

/* An axis: class count, run count, (class, length) per run. */
static int64_t naive_axis_bytes(const int *cls, int n, int k)
{
    int64_t bytes = leb_bytes((uint64_t)k), runs = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && cls[j] == cls[i])
            j++;
        bytes += leb_bytes((uint64_t)cls[i]) + leb_bytes((uint64_t)(j - i));
        runs++;
        i = j;
    }
    return bytes + leb_bytes((uint64_t)runs);
}

/* The bytes of c channels of h x w as classes: a channel reuses the axes
 * stored last when they fit it and its table is not larger than its own
 * axes and table. */
static int64_t naive_classes_bytes(const float *m, int c, int h, int w)
{
    int *rc = malloc(2 * (size_t)(h + w) * sizeof(int)), *cc = rc + h;
    int *lr = cc + w, *lc = lr + h; /* the last stored axes' first lines */
    int *lrc = malloc(((size_t)h + w) * sizeof(int)), *lcc = lrc + h;
    int *rrep = malloc(((size_t)h + w) * sizeof(int)), *crep = rrep + h;
    ck_assert(rc && lrc && rrep);
    int lk_r = 0, lk_c = 0;
    int64_t bytes = 0;
    for (int o = 0; o < c; o++) {
        const float *mo = m + (size_t)o * h * w;
        int kr = naive_classes(mo, h, w, 1, rc, rrep);
        int kc = naive_classes(mo, h, w, 0, cc, crep);
        int64_t own = naive_axis_bytes(rc, h, kr) + naive_axis_bytes(cc, w, kc) +
                      4 * (int64_t)kr * kc;
        int fit = o > 0;
        for (int y = 0; y < h && fit; y++)
            for (int x = 0; x < w && fit; x++)
                fit = memcmp(&mo[(size_t)y * w + x],
                             &mo[(size_t)lr[lrc[y]] * w + lc[lcc[x]]], 4) == 0;
        if (fit && 4 * (int64_t)lk_r * lk_c <= own) {
            bytes += 1 + 4 * (int64_t)lk_r * lk_c;
            continue;
        }
        bytes += 1 + own;
        memcpy(lrc, rc, (size_t)h * sizeof(int));
        memcpy(lcc, cc, (size_t)w * sizeof(int));
        memcpy(lr, rrep, (size_t)kr * sizeof(int));
        memcpy(lc, crep, (size_t)kc * sizeof(int));
        lk_r = kr;
        lk_c = kc;
    }
    free(rc);
    free(lrc);
    free(rrep);
    return bytes;
}

/* The bytes of a constant map record of c channels of h x w (the kind byte
 * included): the classes where they take fewer bytes than the floats.
 * *classes: whether the classes were chosen. */
static int64_t naive_cbias_bytes(const float *m, int c, int h, int w, int *classes)
{
    int64_t bytes = naive_classes_bytes(m, c, h, w), floats = 4 * (int64_t)c * h * w;
    if (classes)
        *classes = bytes < floats;
    return 1 + (bytes < floats ? bytes : floats);
}

typedef struct expect {
    int64_t file_bytes, weight_bits, headers;
} expect;

static int shape_of(sc_net *net, int id, int *c, int *h, int *w)
{
    TU_OK(sc_net_layer_shape(net, id, c, h, w));
    return *c * *h * *w;
}

/* The file size docs/format.md gives for the net built from t. */
static expect expected_size(sc_net *net, const tnet *t)
{
    expect e = {0, 0, 0};
    int64_t bytes = HEADER + TABLE_HEAD;
    for (int i = 0; i < t->n; i++) {
        const lspec *s = &t->l[i];
        bytes += RECORD(s->kind == SC_LAYER_ADD || s->kind == SC_LAYER_CONCAT ? 2 : 1);
        int id = i + 1, c, h, w, ic, ih, iw;
        shape_of(net, id, &c, &h, &w);
        int insz = shape_of(net, s->in, &ic, &ih, &iw);
        if (s->kind == SC_LAYER_DENSE || s->kind == SC_LAYER_CONV2D) {
            sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_INPUT);
            TU_OK(sc_net_layer_desc(net, id, &d, NULL, NULL)); /* groups now */
            int64_t k = s->kind == SC_LAYER_DENSE
                            ? insz
                            : (int64_t)(ic / d.groups) * s->k * s->k;
            if (sc_net_is_quantized(net, id)) {
                float *b = malloc((size_t)c * sizeof(float));
                ck_assert_ptr_nonnull(b);
                TU_OK(sc_net_get_quant(net, id, b, NULL, (size_t)c));
                for (int o = 0; o < c; o++)
                    e.weight_bits += (b[o] > 0 ? (int64_t)ceilf(b[o]) : 0) * k;
                free(b);
                e.headers += 5 * c;
            } else {
                bytes += 4 * (int64_t)c * k;
            }
            if (s->flags & SC_BIAS)
                bytes += 4 * c;
            bytes += net->nodes[id].cbias
                         ? naive_cbias_bytes(net->nodes[id].cbias, c, h, w, NULL)
                         : 1;
        } else if (s->kind == SC_LAYER_BATCHNORM) {
            bytes += 8 * c + ((s->flags & SC_BN_AFFINE) ? 8 * c : 0);
        }
    }
    /* the bitstream, the activation ranges (the images, 0: none), the CRC */
    e.file_bytes = bytes + e.headers + 8 + (e.weight_bits + 7) / 8 + 8 +
                   (net->calib ? 8 * (int64_t)net->n_nodes : 0) + 4;
    return e;
}

/* ---- setting nets up ---------------------------------------------------- */

/* Bit depths for every quantised layer (and the initial exponents): random
 * in [lo, hi) from r, or all lo when r is NULL. */
static void random_bits(sc_net *net, tu_lcg *r, double lo, double hi)
{
    for (int id = 1; id < sc_net_layer_count(net); id++) {
        if (!sc_net_is_quantized(net, id))
            continue;
        int c;
        TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
        float *b = malloc((size_t)c * sizeof(float));
        ck_assert_ptr_nonnull(b);
        if (r)
            tu_fill(r, b, (size_t)c, lo, hi);
        else
            for (int o = 0; o < c; o++)
                b[o] = (float)lo;
        TU_OK(sc_net_set_quant(net, id, b, NULL, (size_t)c));
        free(b);
    }
}

static void all_bits(sc_net *net, float v) { random_bits(net, NULL, v, v); }

/* A few SGD steps so that weights, biases, norm parameters and running
 * statistics are all away from their initial values. */
static void train_a_bit(sc_net *net, const tnet *t, int steps, uint64_t seed)
{
    sc_optimizer *opt;
    TU_OK(sc_optimizer_create(&opt, net, SC_OPT_SGD));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_ALL, 0.01));
    TU_OK(sc_optimizer_set_lr(opt, SC_GROUP_QUANT, 0.0));
    tu_batch b = tu_batch_make(8, t->c, t->h, t->w, 0, seed);
    int32_t labels[8];
    tu_lcg r;
    tu_lcg_seed(&r, seed + 1);
    tu_labels(&r, labels, 8, sc_net_output_size(net));
    for (int s = 0; s < steps; s++)
        TU_OK(sc_net_train_step(net, opt, b.x, labels, NULL));
    tu_batch_free(&b);
    sc_optimizer_free(opt);
}

/* Saves, loads, checks outputs, info and the file size; returns the info. */
/* A loaded model is forward-only: no gradients, no gradient buffers after
 * a forward, and each quantised layer of net holds its weights as levels of
 * the narrowest integer type for each channel's bits, outside the float
 * parameters. The resident bytes sc_model_info reports, counted by hand. */
static void assert_forward_only(sc_net *net, sc_model *m,
                                const sc_model_info *si,
                                const sc_model_info *mi)
{
    const sc_net *mn = sc_model_net(m);
    ck_assert_ptr_null(mn->grads);
    ck_assert_ptr_null(mn->probs);
    ck_assert_ptr_null(mn->wgrad);
    ck_assert_int_eq(mn->n_nodes, net->n_nodes);
    int64_t wbytes = 0, other = 0;
    for (int i = 0; i < mn->n_nodes; i++) {
        const sc_node *nd = &mn->nodes[i];
        ck_assert_ptr_null(nd->dy);
        other += 4 * (int64_t)(nd->pn[P_B] + nd->pn[P_GAMMA] + nd->pn[P_BETA] +
                               nd->sn[S_MEAN] + nd->sn[S_VAR] + (size_t)nd->c +
                               (nd->cbias ? sc_node_size(nd) : 0));
        ck_assert_uint_eq(nd->pn[P_QB] + nd->pn[P_QE], 0);
        if (!sc_net_is_quantized(net, i)) {
            ck_assert(!nd->int_weights && nd->mant == NULL);
            wbytes += 4 * (int64_t)nd->pn[P_W];
            continue;
        }
        ck_assert(nd->int_weights && nd->mant != NULL && !nd->quantized);
        ck_assert_uint_eq(nd->poff[P_W], SC_NONE);
        float b[512], e[512];
        ck_assert_int_le(nd->c, 512);
        TU_OK(sc_net_get_quant(net, i, b, e, (size_t)nd->c));
        size_t k = nd->pn[P_W] / (size_t)nd->c;
        wbytes += (int64_t)(sizeof(sc_mantissas) + 5 * (size_t)nd->c);
        for (int o = 0; o < nd->c; o++) {
            double bits = ceil(b[o] > 0 ? b[o] : 0);
            int width = bits == 0 ? 0 : bits <= 8 ? 1 : bits <= 16 ? 2 : 4;
            ck_assert_int_eq(nd->mant->bits[o], (int)bits);
            ck_assert_int_eq(sc_mantissa_width(nd->mant->bits[o]), width);
            wbytes += (int64_t)k * width;
        }
    }
    ck_assert_int_eq(mi->weight_bytes, wbytes);
    ck_assert_int_eq(si->weight_bytes, wbytes);
    ck_assert_int_eq(mi->param_bytes, other);
    ck_assert_int_eq(si->param_bytes, other);
}

static sc_model_info round_trip(sc_net *net, const tnet *t, uint64_t seed)
{
    const char *path = tu_path("rt.scm");
    sc_model_info si = SC_MODEL_INFO_INIT, mi = SC_MODEL_INFO_INIT;
    TU_OK(sc_net_save(net, path, &si));
    sc_model *m = NULL;
    TU_OK(sc_model_load(&m, path));
    ck_assert_ptr_nonnull(m);
    TU_OK(sc_model_get_info(m, &mi));
    expect e = expected_size(net, t);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq((int64_t)st.st_size, e.file_bytes);
    ck_assert_int_eq(si.file_bytes, e.file_bytes);
    ck_assert_int_eq(mi.file_bytes, e.file_bytes);
    ck_assert(si.weight_bits == (double)e.weight_bits);
    ck_assert(mi.weight_bits == (double)e.weight_bits);
    ck_assert_int_eq(si.weight_payload_bytes, (e.weight_bits + 7) / 8);
    ck_assert_int_eq(mi.weight_payload_bytes, (e.weight_bits + 7) / 8);
    ck_assert_int_eq(si.channel_header_bytes, e.headers);
    ck_assert_int_eq(mi.channel_header_bytes, e.headers);
    tu_batch b = tu_batch_make(5, t->c, t->h, t->w, 0, seed);
    assert_same_outputs(net, m, &b);
    assert_forward_only(net, m, &si, &mi);
    tu_batch_free(&b);
    sc_model_free(m);
    return si;
}

/* ---- round trips -------------------------------------------------------- */

/* Every net: unquantised (fp32 weights), all quantised, and only some
 * layers quantised; after a little training. */
START_TEST(test_round_trip_every_layer_kind)
{
    tu_make_tmpdir("sc_test_model");
    const tnet *t = &NETS[_i];
    for (int mode = 0; mode < 3; mode++) {
        sc_net *net = build(t);
        TU_OK(sc_net_init(net, 100 + (uint64_t)_i));
        if (mode == 1) {
            TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        } else if (mode == 2) {
            int first = 0;
            for (int id = 1; id <= t->n && !first; id++)
                if (t->l[id - 1].kind == SC_LAYER_DENSE || t->l[id - 1].kind == SC_LAYER_CONV2D)
                    first = id;
            TU_OK(sc_net_quantize(net, first));
            ck_assert_int_eq(sc_net_is_quantized(net, first), 1);
        }
        if (mode) {
            tu_lcg r;
            tu_lcg_seed(&r, 7 + (uint64_t)mode);
            random_bits(net, &r, 1.0, 9.0);
        }
        train_a_bit(net, t, 3, 55);
        sc_model_info si = round_trip(net, t, 99);
        if (mode == 0) {
            ck_assert(si.weight_bits == 0.0);
            ck_assert_int_eq(si.channel_header_bytes, 0);
        } else {
            ck_assert(si.weight_bits > 0.0);
        }
        sc_net_free(net);
    }
    tu_remove_tmpdir();
}
END_TEST

/* Every whole bit depth 1..16 and some fractional ones, on every net. */
START_TEST(test_round_trip_every_bit_depth)
{
    tu_make_tmpdir("sc_test_model");
    static const float extra[] = {0.3f, 0.999f, 2.5f, 7.9f, 12.01f, 15.5f};
    for (int k = 0; k < 16 + 6; k++) {
        float v = k < 16 ? (float)(k + 1) : extra[k - 16];
        for (int i = 0; i < N_NETS; i++) {
            const tnet *t = &NETS[i];
            sc_net *net = build(t);
            TU_OK(sc_net_init(net, 300 + (uint64_t)i));
            TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
            all_bits(net, v);
            sc_model_info si = round_trip(net, t, 1000 + (uint64_t)k);
            /* every weight is stored with ceil(v) bits */
            int64_t weights = 0;
            for (int id = 1; id <= t->n; id++)
                if (sc_net_is_quantized(net, id)) {
                    sc_size_report rep = SC_SIZE_REPORT_INIT;
                    TU_OK(sc_net_size_report(net, id, &rep));
                    weights += rep.weights;
                }
            ck_assert(si.weight_bits == ceil(v) * (double)weights);
            sc_net_free(net);
        }
    }
    tu_remove_tmpdir();
}
END_TEST

/* Bit depths 17..32 with weights far beyond the clamp: the top integer
 * 2^(B-1) - 1 must fit in ceil(B) bits (a float rounding of it did not). */
START_TEST(test_round_trip_top_bit_depths)
{
    tu_make_tmpdir("sc_test_model");
    static const tnet t = {1, 1, 4, 1, {DENSE(0, 3, SC_BIAS)}};
    for (int bits = 17; bits <= 32; bits++) {
        for (int frac = 0; frac < 2; frac++) {
            sc_net *net = build(&t);
            TU_OK(sc_net_init(net, 1));
            TU_OK(sc_net_quantize(net, 1));
            float p[12 + 3 + 6] = {3e9f, -3e9f, 12345.678f, -3.0f, 1e7f, -1e7f, 0.5f, 33554431.0f,
                                   4294967296.0f, 16777217.0f, -16777216.0f, 2.0f, 0.25f, -0.5f, 1.0f};
            ck_assert_uint_eq(sc_net_param_count(net), 21);
            TU_OK(sc_net_set_params(net, p, 21));
            float b[3], e[3] = {0.0f, 0.0f, -1.0f};
            for (int o = 0; o < 3; o++)
                b[o] = (float)bits - (frac ? 0.5f : 0.0f);
            TU_OK(sc_net_set_quant(net, 1, b, e, 3));
            sc_model_info si = round_trip(net, &t, 3);
            ck_assert(si.weight_bits == 12.0 * bits);
            sc_net_free(net);
        }
    }
    tu_remove_tmpdir();
}
END_TEST

/* A net of the benchmarks' shape (tinynet's layers) capped at 8 bits keeps
 * at most 1.05 resident bytes per live weight in its loaded model, and a
 * quarter of the float model's weight bytes. */
START_TEST(test_resident_bytes_at_cap_8)
{
    tu_make_tmpdir("sc_test_model");
    static const tnet t = {1, 28, 28, 8,
                           {CONV(0, 16, 3, 1, 1, SC_BIAS), RELU(1), MAXPOOL(2, 2, 2),
                            CONV(3, 32, 3, 1, 1, SC_BIAS), RELU(4), MAXPOOL(5, 2, 2),
                            FLAT(6), DENSE(7, 10, SC_BIAS)}};
    sc_net *net = build(&t);
    TU_OK(sc_net_init(net, 5));
    sc_model_info fi = round_trip(net, &t, 6); /* float weights */
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    tu_lcg r;
    tu_lcg_seed(&r, 7);
    random_bits(net, &r, 0.5, 8.0);
    sc_model_info qi = round_trip(net, &t, 8);
    int64_t weights = 16 * 9 + 32 * 16 * 9 + 10 * 32 * 7 * 7;
    ck_assert_int_eq(qi.weights, weights);
    ck_assert_int_eq(fi.weight_bytes, 4 * weights);
    ck_assert_int_le(qi.weight_bytes, weights * 105 / 100);
    ck_assert_int_gt(qi.weight_bytes, weights);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* Dead channels removed by sc_net_compress; the accounting against
 * sc_net_size_report. */
START_TEST(test_round_trip_after_compress)
{
    tu_make_tmpdir("sc_test_model");
    for (int i = 0; i < N_NETS; i++) {
        const tnet *t = &NETS[i];
        sc_net *net = build(t);
        TU_OK(sc_net_init(net, 500 + (uint64_t)i));
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        tu_lcg r;
        tu_lcg_seed(&r, 17 + (uint64_t)i);
        random_bits(net, &r, 2.0, 7.0);
        train_a_bit(net, t, 2, 77);
        /* kill channels 0 and 2 of every quantised layer but the last */
        for (int id = 1; id < t->n; id++) {
            if (!sc_net_is_quantized(net, id))
                continue;
            int c;
            TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
            float *b = malloc((size_t)c * sizeof(float));
            ck_assert_ptr_nonnull(b);
            TU_OK(sc_net_get_quant(net, id, b, NULL, (size_t)c));
            b[0] = -1.0f;
            b[2] = -1.0f;
            TU_OK(sc_net_set_quant(net, id, b, NULL, (size_t)c));
            free(b);
        }
        tu_batch bb = tu_batch_make(5, t->c, t->h, t->w, 0, 4242);
        tu_settle_bn(net);
        float *before = tu_eval_out(net, &bb);
        int removed = 0;
        TU_OK(sc_net_compress(net, &removed));
        /* net 4: compress keeps the channels that meet at the add; net 5
         * dead ones in groups that stay */
        ck_assert_msg(i == 4 || removed > 0, "net %d: nothing removed", i);
        sc_model_info si = round_trip(net, t, 4242);
        /* the model computes what the net computed before compress, to
         * float rounding (the folds reorder sums) */
        sc_model *m;
        TU_OK(sc_model_load(&m, tu_path("rt.scm")));
        float *after = model_out(m, &bb);
        int k = sc_net_output_size(net);
        for (int j = 0; j < bb.n * k; j++)
            ck_assert_msg(fabsf(after[j] - before[j]) <= 1e-4f * (1.0f + fabsf(before[j])),
                          "net %d output %d: %.9g before compress, %.9g loaded", i, j,
                          before[j], after[j]);
        /* the payload is ceil(report bits / 8); 5 header bytes per channel */
        sc_size_report rep = SC_SIZE_REPORT_INIT;
        TU_OK(sc_net_size_report(net, SC_ALL_LAYERS, &rep));
        if (i == 4 || i == 5) {
            /* kept dead channels (at the add; in whole groups): the file
             * stores the weights they feed, the report does not count them
             * (not live) */
            ck_assert(si.weight_bits > rep.bits);
        } else {
            ck_assert_msg(si.weight_bits == rep.bits, "net %d: %g bits stored, report %g", i,
                          si.weight_bits, rep.bits);
            ck_assert_int_eq(si.weight_payload_bytes, (int64_t)ceil(rep.bits / 8.0));
        }
        int64_t qch = 0;
        for (int id = 1; id <= t->n; id++)
            if (sc_net_is_quantized(net, id)) {
                int c;
                TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
                qch += c;
            }
        ck_assert_int_eq(si.channel_header_bytes, 5 * qch);
        ck_assert_msg(i == 4 || i == 5 || si.channel_header_bytes == 5 * rep.out_channels,
                      "net %d: %lld header bytes, %lld live channels", i,
                      (long long)si.channel_header_bytes, (long long)rep.out_channels);
        free(before);
        free(after);
        tu_batch_free(&bb);
        sc_model_free(m);
        sc_net_free(net);
    }
    tu_remove_tmpdir();
}
END_TEST

START_TEST(test_load_memory_equals_load)
{
    tu_make_tmpdir("sc_test_model");
    const tnet *t = &NETS[1];
    sc_net *net = build(t);
    TU_OK(sc_net_init(net, 8));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    train_a_bit(net, t, 2, 3);
    TU_OK(sc_net_save(net, tu_path("a.scm"), NULL));
    size_t n;
    unsigned char *d = tu_read_all(tu_path("a.scm"), &n);
    sc_model *a, *b;
    TU_OK(sc_model_load(&a, tu_path("a.scm")));
    TU_OK(sc_model_load_memory(&b, d, n));
    memset(d, 0, n); /* the bytes are not kept */
    free(d);
    sc_model_info ia = SC_MODEL_INFO_INIT, ib = SC_MODEL_INFO_INIT;
    TU_OK(sc_model_get_info(a, &ia));
    TU_OK(sc_model_get_info(b, &ib));
    ck_assert_int_eq(ia.file_bytes, (int64_t)n);
    ck_assert(memcmp(&ia, &ib, sizeof ia) == 0);
    tu_batch x = tu_batch_make(6, t->c, t->h, t->w, 0, 5);
    float *oa = model_out(a, &x), *ob = model_out(b, &x);
    ck_assert(memcmp(oa, ob, (size_t)6 * sc_model_output_size(a) * sizeof(float)) == 0);
    /* two threads: the same logits to float rounding */
    TU_OK(sc_model_set_threads(b, 2));
    float *o2 = model_out(b, &x);
    for (int i = 0; i < 6 * sc_model_output_size(a); i++)
        ck_assert(fabsf(o2[i] - oa[i]) <= 1e-5f * (1.0f + fabsf(oa[i])));
    /* a short info struct gets only the fields it knows */
    sc_model_info part;
    memset(&part, 0xAB, sizeof part);
    part.size = offsetof(sc_model_info, weight_payload_bytes);
    TU_OK(sc_model_get_info(a, &part));
    ck_assert_int_eq(part.file_bytes, (int64_t)n);
    unsigned char *tail = (unsigned char *)&part + offsetof(sc_model_info, weight_payload_bytes);
    for (size_t i = 0; i < sizeof part - offsetof(sc_model_info, weight_payload_bytes); i++)
        ck_assert_uint_eq(tail[i], 0xAB);
    free(oa);
    free(ob);
    free(o2);
    tu_batch_free(&x);
    sc_model_free(a);
    sc_model_free(b);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

START_TEST(test_conv_algo)
{
    /* a model with a 5x5 layer computes it by Winograd unless told
     * otherwise; under either algorithm its logits are the net's under the
     * same one, bit for bit, and the two algorithms differ by rounding
     * only; training settings are refused and change nothing */
    tu_make_tmpdir("sc_test_model");
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, 2, 12, 12));
    TU_OK(sc_net_conv2d(net, SC_INPUT, 4, 5, 5, 1, 2, SC_BIAS, &id));
    TU_OK(sc_net_relu(net, id, &id));
    TU_OK(sc_net_flatten(net, id, &id));
    TU_OK(sc_net_dense(net, id, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 9));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    TU_OK(sc_net_save(net, tu_path("w.scm"), NULL));
    sc_model *m;
    TU_OK(sc_model_load(&m, tu_path("w.scm")));
    tu_batch x = tu_batch_make(5, 2, 12, 12, 0, 7);
    double v;
    TU_OK(sc_model_get_param(m, SC_PARAM_CONV_ALGO, &v));
    ck_assert_double_eq(v, SC_CONV_ALGO_AUTO);
    float *out[2];
    for (int a = 0; a < 2; a++) { /* AUTO, then DIRECT */
        TU_OK(sc_model_set_param(m, SC_PARAM_CONV_ALGO, a));
        TU_OK(sc_model_get_param(m, SC_PARAM_CONV_ALGO, &v));
        ck_assert_double_eq(v, a);
        TU_OK(sc_net_set_param(net, SC_PARAM_CONV_ALGO, a));
        assert_same_outputs(net, m, &x);
        out[a] = model_out(m, &x);
    }
    double diff = 0.0, scale = 0.0;
    for (int i = 0; i < 5 * 3; i++) {
        diff = fmax(diff, fabs((double)out[0][i] - out[1][i]));
        scale = fmax(scale, fabs(out[1][i]));
    }
    ck_assert_double_gt(diff, 0.0); /* Winograd did run */
    ck_assert_double_le(diff, 1e-4 * scale);
    TU_FAILS(sc_model_set_param(m, SC_PARAM_GAMMA, 0.1), SC_ERR_ARG);
    TU_FAILS(sc_model_get_param(m, SC_PARAM_BN_EPS, &v), SC_ERR_ARG);
    TU_FAILS(sc_model_set_param(m, SC_PARAM_CONV_ALGO, 2.0), SC_ERR_ARG);
    TU_FAILS(sc_model_set_param(m, (sc_param)100, 0.0), SC_ERR_ARG);
    TU_FAILS(sc_model_set_param(NULL, SC_PARAM_CONV_ALGO, 0.0), SC_ERR_NULL);
    TU_FAILS(sc_model_get_param(NULL, SC_PARAM_CONV_ALGO, &v), SC_ERR_NULL);
    TU_FAILS(sc_model_get_param(m, SC_PARAM_CONV_ALGO, NULL), SC_ERR_NULL);
    TU_OK(sc_model_get_param(m, SC_PARAM_CONV_ALGO, &v));
    ck_assert_double_eq(v, SC_CONV_ALGO_DIRECT); /* the failures kept it */
    free(out[0]);
    free(out[1]);
    tu_batch_free(&x);
    sc_model_free(m);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* ---- the format, byte for byte ------------------------------------------- */

static void put32(unsigned char **p, uint32_t v) { wr32(*p, v); *p += 4; }
static void put64(unsigned char **p, uint64_t v) { wr64(*p, v); *p += 8; }

/* A hand-assembled file for a one-weight-row dense layer: the framing, the
 * layer record, the channel header and the LSB-first two's complement
 * bitstream exactly as docs/format.md describes them. */
START_TEST(test_exact_bytes_of_a_tiny_model)
{
    tu_make_tmpdir("sc_test_model");
    /* the CRC is zlib's CRC-32 */
    ck_assert_uint_eq(sc_crc32(0, "123456789", 9), 0xCBF43926u);
    sc_net *net;
    int id;
    TU_OK(sc_net_create(&net, 1, 1, 4));
    TU_OK(sc_net_dense(net, SC_INPUT, 1, SC_NO_BIAS, &id));
    TU_OK(sc_net_init(net, 1));
    TU_OK(sc_net_quantize(net, id));
    /* b = 3: integers in [-4, 3]; e = 0. b and e come after the weight in
     * the parameter order (groups), so set_quant after set_params. */
    float p[6] = {1.0f, -1.0f, 3.0f, -4.75f, 0, 0}, b = 3.0f, e = 0.0f;
    ck_assert_uint_eq(sc_net_param_count(net), 6);
    TU_OK(sc_net_set_params(net, p, 6));
    TU_OK(sc_net_set_quant(net, id, &b, &e, 1));
    TU_OK(sc_net_save(net, tu_path("tiny.scm"), NULL));
    size_t n;
    unsigned char *d = tu_read_all(tu_path("tiny.scm"), &n);

    unsigned char want[160], *q = want;
    memcpy(q, "SCMODEL", 8); /* with its NUL */
    q += 8;
    put32(&q, 4); /* version */
    put64(&q, 0); /* content length, below */
    put32(&q, 1); put32(&q, 1); put32(&q, 4); /* input c, h, w */
    put32(&q, 2);                             /* layers, the input included */
    *q++ = SC_LAYER_DENSE;
    *q++ = 1;                                 /* quantised */
    *q++ = 1;                                 /* one input: */
    put32(&q, 0);                             /* the net's */
    put32(&q, 1);                             /* channels */
    put32(&q, 0); put32(&q, 0);               /* kernel h, w */
    put32(&q, 0); put32(&q, 0);               /* stride h, w */
    put32(&q, 0); put32(&q, 0);               /* pad h, w */
    put32(&q, 0);                             /* groups */
    put32(&q, 0);                             /* flags */
    put32(&q, 0);                             /* alpha 0.0f */
    put32(&q, 1); put32(&q, 1); put32(&q, 1); /* output c, h, w */
    put64(&q, 4);                             /* n0 */
    *q++ = 3;                                 /* channel header: bits, */
    put32(&q, 0);                             /* exponent 0.0f */
    *q++ = 0;                                 /* no cbias */
    put64(&q, 12);                            /* total bits */
    /* 1 = 001, -1 = 111, 3 = 011, clamp(-4.75) = -4 = 100, LSB first:
     * bits 1 0 0 | 1 1 1 | 1 1 0 | 0 0 1 */
    *q++ = 0xF9;
    *q++ = 0x08;
    put64(&q, 0);                             /* no activation ranges */
    size_t len = (size_t)(q - want) + 4;
    tu_reseal(want, len);
    ck_assert_uint_eq(n, len);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(d[i] == want[i], "byte %zu: 0x%02x, want 0x%02x", i, d[i], want[i]);
    /* and it loads to exactly those weights */
    sc_model *m;
    TU_OK(sc_model_load_memory(&m, d, n));
    float x[4] = {1, 10, 100, 1000}, y;
    int64_t xs[4] = {1, 1, 1, 4}, ys[2] = {1, 1};
    sc_tensor *tx, *ty;
    TU_OK(sc_tensor_wrap(&tx, 4, xs, x));
    TU_OK(sc_tensor_wrap(&ty, 2, ys, &y));
    TU_OK(sc_model_forward(m, tx, ty));
    ck_assert_float_eq(y, 1.0f - 10.0f + 300.0f - 4000.0f);
    sc_tensor_free(tx);
    sc_tensor_free(ty);
    sc_model_free(m);
    free(d);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* The golden net: fixed parameters from the test's own generator, fixed
 * b/e, one dead channel compressed away (a per-position constant). */
static const tnet GOLDEN = {2, 6, 6, 9, {CONV(0, 4, 3, 1, 1, SC_BIAS), BN(1, SC_BN_AFFINE), RELU(2),
                                         CONV(3, 3, 3, 2, 1, SC_NO_BIAS), BN(4, 0), RELU(5),
                                         MAXPOOL(6, 2, 1), FLAT(7), DENSE(8, 5, SC_BIAS)}};

/* The golden net, compressed unless compress is 0. */
static sc_net *golden_net_c(int compress)
{
    sc_net *net = build(&GOLDEN);
    TU_OK(sc_net_init(net, 2024));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    size_t np = sc_net_param_count(net);
    float *p = malloc(np * sizeof(float));
    ck_assert_ptr_nonnull(p);
    tu_lcg r;
    tu_lcg_seed(&r, 2024);
    tu_fill(&r, p, np, -0.75, 0.75);
    TU_OK(sc_net_set_params(net, p, np));
    free(p);
    /* channel 1 of layer 1 dies with a positive constant after norm and
     * relu: compress folds it into layer 4 as a per-position constant */
    sc_node_param(net, &net->nodes[1], P_B)[1] = 0.25f;
    sc_node_param(net, &net->nodes[2], P_GAMMA)[1] = 0.5f;
    sc_node_param(net, &net->nodes[2], P_BETA)[1] = 0.625f;
    static const float b1[4] = {3.0f, -1.0f, 2.5f, 6.0f}, e1[4] = {-3, -4, -2, -5};
    static const float b4[3] = {1.0f, 4.0f, 8.0f}, e4[3] = {-1, -3, -6};
    static const float b9[5] = {2, 3, 4, 5, 16}, e9[5] = {-2, -3, -4, -5, -14};
    TU_OK(sc_net_set_quant(net, 1, b1, e1, 4));
    TU_OK(sc_net_set_quant(net, 4, b4, e4, 3));
    TU_OK(sc_net_set_quant(net, 9, b9, e9, 5));
    if (!compress)
        return net;
    int removed;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 1);
    ck_assert_ptr_nonnull(net->nodes[4].cbias);
    return net;
}

static sc_net *golden_net(void)
{
    return golden_net_c(1);
}

static const char *data_dir(void)
{
    const char *root = getenv("SC_ROOT");
    static char p[512];
    snprintf(p, sizeof p, "%s/tests/data", root && *root ? root : ".");
    return p;
}

START_TEST(test_golden_file)
{
    tu_make_tmpdir("sc_test_model");
    sc_net *net = golden_net();
    char golden[600];
    snprintf(golden, sizeof golden, "%s/golden.scm", data_dir());
    TU_OK(sc_net_save(net, tu_path("g.scm"), NULL));
    size_t n, gn;
    unsigned char *d = tu_read_all(tu_path("g.scm"), &n);
    unsigned char *g = tu_read_all(golden, &gn);
    ck_assert_msg(n == gn, "golden file: %zu bytes saved, %zu in %s", n, gn, golden);
    /* The folded constants come from the conv's own forward, so their last
     * bits follow the conv kernel; the file was written with the AVX-512
     * one, and valgrind runs another: there only the size and the load are
     * checked. */
    int same_kernel = !UNDER_VALGRIND();
    for (size_t i = 0; same_kernel && i < n; i++)
        ck_assert_msg(d[i] == g[i], "golden file differs at byte %zu: the format "
                      "changed (docs/format.md: how to regenerate deliberately)", i);
    ck_assert_int_eq(expected_size(net, &GOLDEN).file_bytes, (int64_t)gn);
    /* and the stored golden file computes what the net computes */
    tu_batch b = tu_batch_make(4, 2, 6, 6, 0, 11);
    sc_model *m;
    TU_OK(sc_model_load(&m, golden));
    if (same_kernel)
        assert_same_outputs(net, m, &b);
    sc_model_free(m);
    /* the same net in format version 3 (no activation ranges), written at
     * ab2e6f8: the same logits bit for bit */
    snprintf(golden, sizeof golden, "%s/golden_v3.scm", data_dir());
    unsigned char *g3 = tu_read_all(golden, &gn);
    ck_assert_uint_eq(rd32(g3 + 8), 3);
    free(g3);
    TU_OK(sc_model_load(&m, golden));
    if (same_kernel)
        assert_same_outputs(net, m, &b);
    sc_model_free(m);
    /* the same net in format version 2 (its constant map as c*h*w floats):
     * the same map, so the same logits bit for bit */
    snprintf(golden, sizeof golden, "%s/golden_v2.scm", data_dir());
    unsigned char *g2 = tu_read_all(golden, &gn);
    ck_assert_uint_eq(rd32(g2 + 8), 2);
    free(g2);
    TU_OK(sc_model_load(&m, golden));
    ck_assert_int_eq(sc_model_net(m)->nodes[4].c, net->nodes[4].c);
    ck_assert_ptr_nonnull(sc_model_net(m)->nodes[4].cbias);
    if (same_kernel) {
        assert_same_outputs(net, m, &b);
        ck_assert(memcmp(sc_model_net(m)->nodes[4].cbias, net->nodes[4].cbias,
                         sc_node_size(&net->nodes[4]) * sizeof(float)) == 0);
    }
    sc_model_free(m);
    /* the same net in format version 1 (50-byte layer records), written by
     * a compress that kept the eval function of the net as it was (dead
     * channel's running statistics and all): what the uncompressed net
     * computes in eval mode */
    snprintf(golden, sizeof golden, "%s/golden_v1.scm", data_dir());
    TU_OK(sc_model_load(&m, golden));
    sc_net *whole = golden_net_c(0);
    float *a = tu_eval_out(whole, &b), *o = model_out(m, &b);
    for (int i = 0; i < b.n * 5; i++)
        ck_assert_msg(fabsf(a[i] - o[i]) <= 1e-5f * (1.0f + fabsf(a[i])),
                      "golden_v1 output %d: %g, the net %g", i, o[i], a[i]);
    free(a);
    free(o);
    sc_net_free(whole);
    sc_model_free(m);
    tu_batch_free(&b);
    free(d);
    free(g);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

#define SENTINEL ((sc_model *)(uintptr_t)0x5A5A5A5A)

static void load_fails(const void *d, size_t n, sc_status want, int i)
{
    sc_model *m = SENTINEL;
    tu_clear_error();
    sc_status st = sc_model_load_memory(&m, d, n);
    if (st == SC_OK)
        sc_model_free(m);
    ck_assert_msg(st == want, "case %d: status %d (%s), want %d", i, (int)st,
                  sc_last_error(), (int)want);
    ck_assert_msg(m == SENTINEL, "case %d: *out changed on failure", i);
    ck_assert_msg(sc_last_error()[0] && strcmp(sc_last_error(), tu_marker_message()) != 0,
                  "case %d: no message", i);
}

/* A small model of several layer kinds, as bytes. */
static unsigned char *small_model(size_t *n)
{
    static const tnet t = {1, 5, 5, 7, {CONV(0, 3, 3, 1, 1, SC_BIAS), BN(1, SC_BN_AFFINE), RELU(2),
                                        MAXPOOL(3, 2, 2), FLAT(4), DENSE(5, 4, SC_NO_BIAS),
                                        DENSE(6, 3, SC_BIAS)}};
    sc_net *net = build(&t);
    TU_OK(sc_net_init(net, 5));
    TU_OK(sc_net_quantize(net, 1));
    TU_OK(sc_net_quantize(net, 7));
    tu_lcg r;
    tu_lcg_seed(&r, 5);
    random_bits(net, &r, 1.0, 5.0);
    TU_OK(sc_net_save(net, tu_path("small.scm"), NULL));
    sc_net_free(net);
    return tu_read_all(tu_path("small.scm"), n);
}

START_TEST(test_errors)
{
    tu_make_tmpdir("sc_test_model");
    size_t n;
    unsigned char *d = small_model(&n);
    sc_model *m = SENTINEL;
    /* NULL arguments */
    TU_FAILS(sc_model_load(NULL, tu_path("small.scm")), SC_ERR_NULL);
    TU_FAILS(sc_model_load(&m, NULL), SC_ERR_NULL);
    TU_FAILS(sc_model_load_memory(NULL, d, n), SC_ERR_NULL);
    TU_FAILS(sc_model_load_memory(&m, NULL, n), SC_ERR_NULL);
    ck_assert_ptr_eq(m, SENTINEL);
    TU_FAILS(sc_model_forward(NULL, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_model_get_info(NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_model_input_shape(NULL, NULL, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_model_set_threads(NULL, 1), SC_ERR_NULL);
    ck_assert_int_eq(sc_model_output_size(NULL), 0);
    sc_model_free(NULL);
    /* missing file, a directory */
    TU_FAILS(sc_model_load(&m, tu_path("missing.scm")), SC_ERR_IO);
    ck_assert_ptr_eq(m, SENTINEL);
    TU_FAILS(sc_model_load(&m, tu_tmpdir()), SC_ERR_IO);
    ck_assert_ptr_eq(m, SENTINEL);
    /* wrong magic, version (with a valid CRC), a checkpoint */
    unsigned char *c = malloc(n);
    ck_assert_ptr_nonnull(c);
    memcpy(c, d, n);
    c[2] = 'X';
    tu_reseal(c, n);
    load_fails(c, n, SC_ERR_FORMAT, 1);
    memcpy(c, d, n);
    wr32(c + 8, 5);
    tu_reseal(c, n);
    load_fails(c, n, SC_ERR_FORMAT, 2);
    memcpy(c, d, n);
    wr32(c + 8, 0);
    tu_reseal(c, n);
    load_fails(c, n, SC_ERR_FORMAT, 3);
    memcpy(c, "SCCKPT\0\0", 8);
    tu_reseal(c, n);
    load_fails(c, n, SC_ERR_FORMAT, 4);
    tu_write_all(tu_path("bad.scm"), c, n);
    TU_FAILS(sc_model_load(&m, tu_path("bad.scm")), SC_ERR_FORMAT);
    ck_assert_ptr_eq(m, SENTINEL);
    /* an empty file */
    tu_write_all(tu_path("empty.scm"), c, 0);
    TU_FAILS(sc_model_load(&m, tu_path("empty.scm")), SC_ERR_FORMAT);
    ck_assert_ptr_eq(m, SENTINEL);
    /* trailing bytes */
    unsigned char *longer = malloc(n + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, d, n);
    longer[n] = 0;
    load_fails(longer, n + 1, SC_ERR_FORMAT, 5);
    free(longer);
    /* save errors */
    sc_net *net;
    TU_OK(sc_net_create(&net, 1, 2, 2));
    int id;
    TU_OK(sc_net_dense(net, SC_INPUT, 2, SC_BIAS, &id));
    TU_FAILS(sc_net_save(net, tu_path("x.scm"), NULL), SC_ERR_STATE);
    TU_OK(sc_net_init(net, 1));
    TU_FAILS(sc_net_save(NULL, tu_path("x.scm"), NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_save(net, NULL, NULL), SC_ERR_NULL);
    TU_FAILS(sc_net_save(net, tu_path("no/such/dir/x.scm"), NULL), SC_ERR_IO);
    sc_model_info bad = SC_MODEL_INFO_INIT;
    bad.size = 0;
    TU_FAILS(sc_net_save(net, tu_path("x.scm"), &bad), SC_ERR_ARG);
    ck_assert_int_eq(access(tu_path("x.scm"), F_OK), -1);
    sc_net_free(net);
    free(c);
    free(d);
    tu_remove_tmpdir();
}
END_TEST

/* ---- robustness --------------------------------------------------------- */

START_TEST(test_every_byte_corruption_rejected)
{
    tu_make_tmpdir("sc_test_model");
    size_t n;
    unsigned char *d = small_model(&n);
    ck_assert_uint_gt(n, 200);
    unsigned char *c = malloc(n);
    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; i < n; i++) {
        static const int ops[3] = {0xFF, 1, 0x80};
        for (int k = 0; k < 3; k++) {
            memcpy(c, d, n);
            c[i] = k == 1 ? (unsigned char)(c[i] + 1) : (unsigned char)(c[i] ^ ops[k]);
            load_fails(c, n, SC_ERR_FORMAT, (int)i);
        }
    }
    free(c);
    free(d);
    tu_remove_tmpdir();
}
END_TEST

START_TEST(test_every_truncation_rejected)
{
    tu_make_tmpdir("sc_test_model");
    size_t n;
    unsigned char *d = small_model(&n);
    for (size_t len = 0; len < n; len++) {
        /* a buffer of exactly len bytes, so ASan sees any over-read */
        unsigned char *c = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(c);
        memcpy(c, d, len);
        load_fails(c, len, SC_ERR_FORMAT, (int)len);
        /* the same with the length and CRC made to fit the cut */
        if (len >= 24) {
            tu_reseal(c, len);
            load_fails(c, len, SC_ERR_FORMAT, (int)len);
        }
        free(c);
    }
    /* through a file as well, sampled */
    for (size_t len = 0; len < n; len += 37) {
        tu_write_all(tu_path("cut.scm"), d, len);
        sc_model *m = SENTINEL;
        TU_FAILS(sc_model_load(&m, tu_path("cut.scm")), SC_ERR_FORMAT);
        ck_assert_ptr_eq(m, SENTINEL);
    }
    free(d);
    tu_remove_tmpdir();
}
END_TEST

typedef struct patch {
    const char *what;
    int layer;   /* 0: the table head */
    int field;   /* byte offset inside the record / head */
    int width;   /* 1, 4 or 8 */
    uint64_t value;
} patch;

/* small_model(): input 1x5x5; 1 conv 3ch k3 p1 (quantised, bias), 2 bn,
 * 3 relu, 4 maxpool 2/2, 5 flatten, 6 dense 4 (fp32), 7 dense 3 (quantised,
 * bias); every layer one input (the F_ fields). */
static const patch HOSTILE[] = {
    {"layer count huge", 0, 12, 4, 0xFFFFFFFFu},
    {"layer count 1 more", 0, 12, 4, 9},
    {"layer count 1 less", 0, 12, 4, 7},
    {"layer count 0", 0, 12, 4, 0},
    {"layer count 1", 0, 12, 4, 1},
    {"input channels huge", 0, 0, 4, 0x7FFFFFFFu},
    {"input channels 0", 0, 0, 4, 0},
    {"input 2^20 x 2^20", 0, 4, 8, ((uint64_t)1 << 20) | ((uint64_t)1 << 52)},
    {"layer code input", 1, F_KIND, 1, SC_LAYER_INPUT},
    {"layer code past the last", 3, F_KIND, 1, SC_LAYER_KIND_COUNT},
    {"layer code 255", 6, F_KIND, 1, 255},
    {"layer code relu for conv", 1, F_KIND, 1, SC_LAYER_RELU},
    {"layer code add for relu", 3, F_KIND, 1, SC_LAYER_ADD},
    {"layer code dense for flatten", 5, F_KIND, 1, SC_LAYER_DENSE},
    {"input id itself", 2, F_IN0, 4, 2},
    {"input id later", 2, F_IN0, 4, 5},
    {"input id huge", 2, F_IN0, 4, 0xFFFFFFFFu},
    {"input id 2^31", 6, F_IN0, 4, 0x80000000u},
    {"no inputs", 3, F_NIN, 1, 0},
    {"two inputs on a relu", 3, F_NIN, 1, 2},
    {"255 inputs", 3, F_NIN, 1, 255},
    {"channels huge", 1, F_CHANNELS, 4, 1u << 25},
    {"channels 2^32-1", 7, F_CHANNELS, 4, 0xFFFFFFFFu},
    {"channels 0", 6, F_CHANNELS, 4, 0},
    {"channels +1", 1, F_CHANNELS, 4, 4},
    {"bn channels", 2, F_CHANNELS, 4, 3},
    {"bn output channels", 2, F_C, 4, 2},
    {"output channels", 1, F_C, 4, 4},
    {"height", 1, F_H, 4, 6},
    {"width", 4, F_W, 4, 3},
    {"kernel huge", 1, F_KH, 4, 1u << 30},
    {"kernel 0", 1, F_KW, 4, 0},
    {"kernel differs", 1, F_KH, 4, 5},
    {"dense kernel", 6, F_KH, 4, 3},
    {"stride 0", 1, F_SH, 4, 0},
    {"stride huge", 4, F_SW, 4, 0xFFFFFFFFu},
    {"stride 4", 4, F_SH, 4, 4},
    {"pad huge", 1, F_PH, 4, 1000},
    {"pad differs", 1, F_PW, 4, 2},
    {"relu pad", 3, F_PH, 4, 1},
    {"groups on a conv", 1, F_GROUPS, 4, 2},
    {"groups on a relu", 3, F_GROUPS, 4, 1},
    {"alpha on a relu", 3, F_ALPHA, 4, 0x3F800000u},
    {"alpha NaN", 3, F_ALPHA, 4, 0x7FC00000u},
    {"conv flags", 1, F_FLAGS, 4, 0xFF},
    {"bn flags", 2, F_FLAGS, 4, 8},
    {"bn not affine", 2, F_FLAGS, 4, 0},
    {"dense bias removed", 7, F_FLAGS, 4, 0},
    {"relu flags", 3, F_FLAGS, 4, 1},
    {"quantised relu", 3, F_QUANT, 1, 1},
    {"quantised 2", 1, F_QUANT, 1, 2},
    {"fp32 layer marked quantised", 6, F_QUANT, 1, 1},
    {"quantised layer marked fp32", 1, F_QUANT, 1, 0},
    {"n0 huge", 1, F_N0, 8, ~(uint64_t)0},
};
#define N_HOSTILE ((int)(sizeof HOSTILE / sizeof HOSTILE[0]))

static void apply(unsigned char *c, const patch *p)
{
    size_t at = p->layer == 0 ? HEADER + (size_t)p->field
                              : record_at(c, p->layer) + (size_t)p->field;
    for (int i = 0; i < p->width; i++)
        c[at + (size_t)i] = (unsigned char)(p->value >> (8 * i));
}

/* Offset of the first channel header of layer 1 (the first payload). */
#define PAYLOAD_AT (record_at(d, 8))

/* Runs every hostile case; returns how many were not rejected with
 * SC_ERR_FORMAT (reported on stderr). */
static int hostile_all(const unsigned char *d, size_t n, int check_msgs)
{
    int bad = 0;
    unsigned char *c = malloc(n);
    if (c == NULL)
        return 1;
    for (int i = 0; i < N_HOSTILE + 7; i++) {
        memcpy(c, d, n);
        const char *what;
        if (i < N_HOSTILE) {
            apply(c, &HOSTILE[i]);
            what = HOSTILE[i].what;
        } else {
            /* payload fields: channel bits, exponents, cbias flag, total bits */
            static const char *names[7] = {"bits 33", "bits 255", "exponent NaN",
                                            "exponent 200", "cbias kind 3",
                                            "total bits +8", "total bits huge"};
            what = names[i - N_HOSTILE];
            size_t at = PAYLOAD_AT;
            switch (i - N_HOSTILE) {
            case 0: c[at] = 33; break;
            case 1: c[at + 5] = 255; break;
            case 2: wr32(c + at + 1, 0x7FC00000u); break;
            case 3: wr32(c + at + 6, 0x43480000u); break; /* 200.0f */
            case 4: c[at + 15 + 12] = 3; break; /* after 3 headers, 3 biases */
            default: break;
            }
            if (i - N_HOSTILE >= 5) {
                /* the total-bits field sits right before the payload bytes;
                 * find it: it is the only u64 whose value's bytes fit */
                size_t found = 0;
                for (size_t k = at; k + 8 + 4 <= n; k++) {
                    uint64_t v = 0;
                    for (int q = 0; q < 8; q++)
                        v |= (uint64_t)d[k + (size_t)q] << (8 * q);
                    if (v > 0 && (v + 7) / 8 == n - 4 - 8 - (k + 8))
                        found = k;
                }
                if (found == 0) {
                    fprintf(stderr, "hostile: no total-bits field found\n");
                    bad++;
                    continue;
                }
                uint64_t v = 0;
                for (int q = 0; q < 8; q++)
                    v |= (uint64_t)d[found + (size_t)q] << (8 * q);
                wr64(c + found, i - N_HOSTILE == 5 ? v + 8 : ~(uint64_t)0 >> 1);
            }
        }
        tu_reseal(c, n);
        sc_model *m = SENTINEL;
        tu_clear_error();
        sc_status st = sc_model_load_memory(&m, c, n);
        if (st == SC_OK)
            sc_model_free(m);
        if (st != SC_ERR_FORMAT || m != SENTINEL ||
            (check_msgs && strcmp(sc_last_error(), tu_marker_message()) == 0)) {
            fprintf(stderr, "hostile '%s': status %d (%s)\n", what, (int)st, sc_last_error());
            bad++;
        }
    }
    free(c);
    return bad;
}

#if !defined(__SANITIZE_ADDRESS__)
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

static long vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = -1;
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = -1;
        fclose(f);
    }
    return pages < 0 ? -1 : pages * sysconf(_SC_PAGESIZE);
}
#endif

/* Hostile files with a valid checksum: mutated layer-table and payload
 * fields are rejected with SC_ERR_FORMAT, and (where the address space can
 * be limited: not under ASan or valgrind) without allocating more than
 * 64 MiB on the way. */
START_TEST(test_hostile_files_with_valid_crc)
{
    tu_make_tmpdir("sc_test_model");
    size_t n;
    unsigned char *d = small_model(&n);
    /* the test's idea of the layout is right: layer 7 is a dense of 3 */
    ck_assert_uint_eq(d[record_at(d, 7)], SC_LAYER_DENSE);
    ck_assert_uint_eq(rd32(d + record_at(d, 7) + F_CHANNELS), 3);
    ck_assert_uint_eq(rd32(d + record_at(d, 7) + F_C), 3);
    ck_assert_uint_eq(d[PAYLOAD_AT], d[PAYLOAD_AT]); /* in range */
    ck_assert_uint_ge(d[PAYLOAD_AT], 1);
    ck_assert_uint_le(d[PAYLOAD_AT], 5);
    ck_assert_int_eq(hostile_all(d, n, 1), 0);
#if !defined(__SANITIZE_ADDRESS__)
    if (!under_valgrind()) {
        long vm = vm_bytes();
        ck_assert_int_gt(vm, 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct rlimit rl = {(rlim_t)vm + (64l << 20), (rlim_t)vm + (64l << 20)};
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                _exit(3);
            _exit(hostile_all(d, n, 0) ? 1 : 0);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "hostile files under a 64 MiB allocation limit: status 0x%x", status);
    }
#endif
    free(d);
    tu_remove_tmpdir();
}
END_TEST

/* A big but honest layer claimed by a small (version 1) file: the
 * allocation budget refuses it before allocating. */
START_TEST(test_budget_refuses_big_layers)
{
    /* head + one dense of 2^24 outputs on a 2^28-float input */
    unsigned char c[HEADER + TABLE_HEAD + RECORD_V1 + 64];
    memset(c, 0, sizeof c);
    memcpy(c, "SCMODEL", 8);
    wr32(c + 8, 1);
    unsigned char *q = c + HEADER;
    put32(&q, 1u << 8); put32(&q, 1u << 10); put32(&q, 1u << 10);
    put32(&q, 2);
    *q++ = SC_LAYER_DENSE;
    put32(&q, 0); put32(&q, 0);
    put32(&q, 1u << 24); put32(&q, 1); put32(&q, 1);
    put32(&q, 1); put32(&q, 1); put32(&q, 1); put32(&q, 0);
    put32(&q, 0);
    *q++ = 1;
    put64(&q, 1);
    tu_reseal(c, sizeof c);
    load_fails(c, sizeof c, SC_ERR_FORMAT, 0);
    /* a relu over a 2^28-float input, from a 110-byte file */
    q = c + HEADER + TABLE_HEAD;
    *q++ = SC_LAYER_RELU;
    memset(q, 0, RECORD_V1 - 1);
    wr32(q + 8, 1u << 8);
    wr32(q + 12, 1u << 10);
    wr32(q + 16, 1u << 10);
    tu_reseal(c, sizeof c);
    load_fails(c, sizeof c, SC_ERR_FORMAT, 1);
}
END_TEST

/* A legitimate model with big feature maps and few weights loads: the
 * budget counts what the loader allocates, not activations. */
START_TEST(test_big_feature_maps_load)
{
    tu_make_tmpdir("sc_test_model");
    static const tnet t = {1, 512, 512, 5, {CONV(0, 16, 3, 1, 1, SC_BIAS), BN(1, SC_BN_AFFINE),
                                            RELU(2), GAVG(3), DENSE(4, 2, SC_BIAS)}};
    sc_net *net = build(&t);
    TU_OK(sc_net_init(net, 3));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    sc_model_info si = round_trip(net, &t, 8);
    ck_assert_int_lt(si.file_bytes, 2000);
    sc_net_free(net);
    tu_remove_tmpdir();
}
END_TEST

/* ---- constant maps --------------------------------------------------- */

/* c maps of h x w: each channel rows of kr <= h classes and columns of
 * kc <= w classes (random assignments, random table with 0, -0 and
 * repeats), or,
 * kr 0, every value random; channels past the first reuse its classes
 * when share is set. */
static float *structured_maps(tu_lcg *r, int c, int h, int w, int kr, int kc, int share)
{
    float *m = malloc((size_t)c * h * w * sizeof(float));
    int *rc = malloc(((size_t)h + w) * sizeof(int)), *cc = rc + h;
    float *t = malloc((size_t)h * w * sizeof(float));
    ck_assert(m && rc && t);
    for (int o = 0; o < c; o++) {
        if (o == 0 || !share) {
            for (int y = 0; y < h; y++)
                rc[y] = kr ? (int)(tu_lcg_next(r) % (uint32_t)kr) : y;
            for (int x = 0; x < w; x++)
                cc[x] = kr ? (int)(tu_lcg_next(r) % (uint32_t)kc) : x;
        }
        for (int i = 0; i < h * w; i++) {
            uint32_t k = tu_lcg_next(r) % 8;
            t[i] = k == 0 ? 0.0f : k == 1 ? -0.0f : k == 2 ? 1.5f : (float)tu_lcg_uniform(r) - 0.5f;
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                m[((size_t)o * h + y) * w + x] = t[rc[y] * w + cc[x]];
    }
    free(rc);
    free(t);
    return m;
}

/* Every map comes back bit for bit, in the bytes the format gives; a cut
 * encoding fails. */
START_TEST(test_cmap_codec)
{
    static const int shapes[][2] = {{1, 1}, {1, 28}, {28, 1}, {4, 5}, {7, 7}, {28, 28}, {3, 200}};
    tu_lcg r;
    tu_lcg_seed(&r, 77);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int h = shapes[s][0], w = shapes[s][1];
        for (int kind = 0; kind < 5; kind++) {
            /* constant; few classes, shared or not; many; none (random) */
            int kr = kind == 0 ? 1 : kind < 3 ? (h < 3 ? h : 3) : kind == 3 ? h : 0;
            int kc = kind == 0 ? 1 : kind < 3 ? (w < 3 ? w : 3) : kind == 3 ? w : 0;
            int c = 5;
            float *m = structured_maps(&r, c, h, w, kr, kc, kind == 1);
            sc_wbuf wb = {0};
            ck_assert_int_eq(sc_cmap_put(&wb, m, c, h, w), 1);
            ck_assert_int_eq((int64_t)wb.len, naive_classes_bytes(m, c, h, w));
            float *back = malloc((size_t)c * h * w * sizeof(float));
            ck_assert_ptr_nonnull(back);
            sc_rbuf rb = {wb.data, wb.len, 0, 0};
            ck_assert_int_eq(sc_cmap_get(&rb, back, c, h, w), 1);
            ck_assert_uint_eq(rb.pos, wb.len);
            ck_assert_msg(memcmp(m, back, (size_t)c * h * w * sizeof(float)) == 0,
                          "shape %dx%d kind %d: the map did not come back bit for bit", h, w,
                          kind);
            /* a structured map takes its classes' floats and a few bytes
             * per run; one without structure its floats and a few bytes per
             * row and column */
            if (kind < 3)
                ck_assert_int_le((int64_t)wb.len,
                                 c * (1 + 4 * kr * kc + 2 * (2 + 3 * 4) + 2 * (h + w)));
            else
                ck_assert_int_le((int64_t)wb.len, c * (1 + 4 * h * w + 2 * (4 + 3 * (h + w))));
            for (size_t cut = 0; kind == 2 && cut < wb.len; cut++) {
                sc_rbuf cr = {wb.data, cut, 0, 0};
                ck_assert_int_eq(sc_cmap_get(&cr, back, c, h, w), 0);
                ck_assert(cr.failed);
            }
            free(wb.data);
            free(back);
            free(m);
        }
    }
}
END_TEST

/* A net of padded convolutions after dead channels, on 28 x 28: compress
 * folds a constant into the next convolution (the map of a 3x3 and of a
 * 5x5 kernel, padding 1 and 2), and the map of a dead channel after such a
 * fold into the one after (two paddings deep). */
static const tnet PADDED = {2, 28, 28, 10,
                            {CONV(0, 4, 3, 1, 1, SC_NO_BIAS), BN(1, SC_BN_AFFINE), RELU(2),
                             CONV(3, 5, 5, 1, 2, SC_NO_BIAS), BN(4, SC_BN_AFFINE), RELU(5),
                             CONV(6, 3, 3, 1, 1, SC_BIAS), GAVG(7), FLAT(8),
                             DENSE(9, 3, SC_BIAS)}};

/* The maps of a padded net are stored in space set by the paddings, not
 * the image: at most (2 p + 1) classes per axis (p: the paddings between
 * the dead channel and the map), and the model computes the net's logits
 * bit for bit. */
/* A net of t's layers (PADDED's), trained a little with the conv algorithm
 * algo, channel 1 of layer 1 and channel 2 of layer 4 dead with a positive
 * constant after their norm and relu, compressed. */
static sc_net *padded_compressed(const tnet *t, int algo)
{
    sc_net *net = build(t);
    TU_OK(sc_net_init(net, 61));
    TU_OK(sc_net_set_param(net, SC_PARAM_CONV_ALGO, algo));
    TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    all_bits(net, 6.0f);
    train_a_bit(net, t, 2, 5);
    static const int dead[2][2] = {{1, 1}, {4, 2}};
    for (int d = 0; d < 2; d++) {
        int id = dead[d][0], ch = dead[d][1], c;
        TU_OK(sc_net_layer_shape(net, id, &c, NULL, NULL));
        float b[8];
        TU_OK(sc_net_get_quant(net, id, b, NULL, (size_t)c));
        b[ch] = -1.0f;
        TU_OK(sc_net_set_quant(net, id, b, NULL, (size_t)c));
        sc_node_param(net, &net->nodes[id + 1], P_BETA)[ch] = 0.5f;
    }
    tu_settle_bn(net);
    int removed;
    TU_OK(sc_net_compress(net, &removed));
    ck_assert_int_eq(removed, 2);
    return net;
}

START_TEST(test_cbias_of_padded_convs_is_small)
{
    tu_make_tmpdir("sc_test_model");
    for (int algo = 0; algo < 2; algo++) { /* Winograd for the 5x5 (AUTO), direct */
        sc_net *net = padded_compressed(&PADDED, algo);
        static const int maps[2][2] = {{4, 2}, {7, 3}}; /* layer, the paddings on its way */
        for (int k = 0; k < 2; k++) {
            sc_node *nd = &net->nodes[maps[k][0]];
            ck_assert_ptr_nonnull(nd->cbias);
            int kmax = 2 * maps[k][1] + 1, c = nd->c, h = nd->h, w = nd->w;
            int *cls = malloc(2 * ((size_t)h + w) * sizeof(int)), *rep = cls + h + w;
            ck_assert_ptr_nonnull(cls);
            for (int o = 0; o < c; o++) {
                const float *mo = nd->cbias + (size_t)o * h * w;
                int kr = naive_classes(mo, h, w, 1, cls, rep);
                int kc = naive_classes(mo, h, w, 0, cls, rep);
                ck_assert_msg(kr <= kmax && kc <= kmax,
                              "algo %d layer %d channel %d: %d x %d classes", algo,
                              maps[k][0], o, kr, kc);
            }
            free(cls);
            /* a record of a mode byte, two axes of at most kmax runs of a
             * byte's class and length each, and the table, per channel */
            int classes;
            int64_t bytes = naive_cbias_bytes(nd->cbias, c, h, w, &classes);
            ck_assert(classes);
            ck_assert_int_le(bytes, 1 + c * (1 + 2 * (2 + 2 * kmax) + 4 * kmax * kmax));
            ck_assert_int_lt(bytes, 4 * c * h * w / 20);
        }
        /* the file's size is the format's (the records above), and the
         * model computes the net's logits bit for bit */
        TU_OK(sc_net_set_param(net, SC_PARAM_CONV_ALGO, SC_CONV_ALGO_AUTO)); /* the model's */
        round_trip(net, &PADDED, 8);
        sc_net_free(net);
    }
    tu_remove_tmpdir();
}
END_TEST

/* A model file by hand: input 1 x 4 x 5, one 1x1 conv of 2 channels with
 * fp32 weights and no bias, its constant map as classes (enc, n bytes);
 * version 3. Returns the file, its length in *len. */
static unsigned char *cmap_file(const unsigned char *enc, size_t n, size_t *len)
{
    sc_net *net;
    int id;
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = 2;
    d.kernel_h = d.kernel_w = 1;
    TU_OK(sc_net_create(&net, 1, 4, 5));
    int in = SC_INPUT;
    TU_OK(sc_net_add_layer(net, &d, &in, 1, &id));
    TU_OK(sc_net_init(net, 1));
    float wt[2] = {2.0f, -3.0f};
    TU_OK(sc_net_set_params(net, wt, 2));
    TU_OK(sc_net_save(net, tu_path("c.scm"), NULL));
    sc_net_free(net);
    size_t fn;
    unsigned char *f = tu_read_all(tu_path("c.scm"), &fn);
    /* ... its weights, a cbias kind of 0, the total bits 0, no activation
     * ranges, the CRC */
    size_t at = fn - 4 - 8 - 8 - 1;
    ck_assert_uint_eq(f[at], 0);
    unsigned char *c = malloc(at + 1 + n + 8 + 8 + 4);
    ck_assert_ptr_nonnull(c);
    memcpy(c, f, at);
    c[at] = 2; /* classes */
    memcpy(c + at + 1, enc, n);
    memset(c + at + 1 + n, 0, 8 + 8 + 4);
    *len = at + 1 + n + 8 + 8 + 4;
    tu_reseal(c, *len);
    free(f);
    return c;
}

#define F32(v) ((v) & 0xFF), ((v) >> 8 & 0xFF), ((v) >> 16 & 0xFF), ((v) >> 24 & 0xFF)
/* 1.0f .. 12.0f */
#define F1 F32(0x3F800000u)
#define F2 F32(0x40000000u)
#define F3 F32(0x40400000u)
#define F4 F32(0x40800000u)
#define F5 F32(0x40A00000u)
#define F6 F32(0x40C00000u)

/* A valid encoding: channel 0 with rows {0, 3} {1, 2} and columns {0}
 * {1, 2, 3} {4}, table 1 .. 6; channel 1 reusing them, table 6 .. 1. The
 * offsets of its fields, for the hostile cases below. */
static const unsigned char CMAP_OK[] = {
    0,                   /* [0] mode: own axes */
    2, 3, 0, 1, 1, 2, 0, 1, /* [1] rows: 2 classes, 3 runs (0 x1) (1 x2) (0 x1) */
    3, 3, 0, 1, 1, 3, 2, 1, /* [9] columns: 3 classes, 3 runs (0 x1) (1 x3) (2 x1) */
    F1, F2, F3, F4, F5, F6, /* [17] table */
    1,                   /* [41] mode: reuse */
    F6, F5, F4, F3, F2, F1, /* [42] table */
};

START_TEST(test_cmap_hand_made)
{
    tu_make_tmpdir("sc_test_model");
    size_t n;
    unsigned char *f = cmap_file(CMAP_OK, sizeof CMAP_OK, &n);
    sc_model *m;
    TU_OK(sc_model_load_memory(&m, f, n));
    /* a zero input: the output is the constant map */
    float x[20] = {0}, y[40];
    int64_t xs[4] = {1, 1, 4, 5}, ys[2] = {1, 40};
    sc_tensor *tx, *ty;
    TU_OK(sc_tensor_wrap(&tx, 4, xs, x));
    TU_OK(sc_tensor_wrap(&ty, 2, ys, y));
    TU_OK(sc_model_forward(m, tx, ty));
    static const int rcls[4] = {0, 1, 1, 0}, ccls[5] = {0, 1, 1, 1, 2};
    for (int o = 0; o < 2; o++)
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 5; c++) {
                float t = (float)(rcls[r] * 3 + ccls[c] + 1);
                ck_assert_float_eq(y[o * 20 + r * 5 + c], o ? 7.0f - t : t);
            }
    sc_tensor_free(tx);
    sc_tensor_free(ty);
    sc_model_free(m);
    free(f);
    /* hostile encodings: each is SC_ERR_FORMAT */
    static const struct { const char *what; size_t at; unsigned char v; } bad[] = {
        {"mode 2", 0, 2},
        {"reuse on the first channel", 0, 1},
        {"mode 255 on the second channel", 41, 255},
        {"row classes 0", 1, 0},
        {"row classes more than the rows", 1, 5},
        {"row classes fewer than used", 1, 1},
        {"row classes more than used", 1, 3},
        {"column classes more than the columns", 9, 6},
        {"row runs 0", 2, 0},
        {"row runs more than the rows", 2, 5},
        {"row class out of range", 5, 2},
        {"row class skipping a new one", 3, 1},
        {"column class out of range", 15, 3},
        {"a run of the previous run's class", 5, 0},
        {"run length 0", 4, 0},
        {"run lengths past the rows", 6, 3},
        {"run lengths short of the columns", 14, 2},
        {"a column run of 2^31", 14, 0x80},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char e[sizeof CMAP_OK];
        memcpy(e, CMAP_OK, sizeof e);
        e[bad[i].at] = bad[i].v;
        f = cmap_file(e, sizeof e, &n);
        tu_clear_error();
        sc_model *bm = SENTINEL;
        sc_status st = sc_model_load_memory(&bm, f, n);
        ck_assert_msg(st == SC_ERR_FORMAT && bm == SENTINEL, "%s: status %d", bad[i].what,
                      (int)st);
        free(f);
    }
    /* varints: overlong (a trailing zero group), past 2^32, past 5 bytes;
     * the axis then does not parse */
    static const unsigned char vars[][6] = {
        {0x82, 0x00}, {0xFF, 0xFF, 0xFF, 0xFF, 0x1F}, {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}};
    static const size_t vlen[3] = {2, 5, 6};
    for (int v = 0; v < 3; v++) {
        unsigned char e[sizeof CMAP_OK + 6];
        e[0] = 0;
        memcpy(e + 1, vars[v], vlen[v]); /* as the row class count */
        memcpy(e + 1 + vlen[v], CMAP_OK + 2, sizeof CMAP_OK - 2);
        f = cmap_file(e, sizeof CMAP_OK - 1 + vlen[v], &n);
        load_fails(f, n, SC_ERR_FORMAT, v);
        free(f);
    }
    /* cut anywhere (the file resealed to the cut): SC_ERR_FORMAT */
    for (size_t cut = 0; cut < sizeof CMAP_OK; cut++) {
        f = cmap_file(CMAP_OK, cut, &n);
        load_fails(f, n, SC_ERR_FORMAT, (int)cut);
        free(f);
    }
    /* a version 2 file has no classes */
    f = cmap_file(CMAP_OK, sizeof CMAP_OK, &n);
    wr32(f + 8, 2);
    tu_reseal(f, n);
    load_fails(f, n, SC_ERR_FORMAT, 0);
    free(f);
    tu_remove_tmpdir();
}
END_TEST

/* ---- regenerating the golden file and the fuzz seeds --------------------- */

static void save_seed(const tnet *t, int quant, float bits, const char *name)
{
    sc_net *net = build(t);
    TU_OK(sc_net_init(net, 31));
    if (quant)
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
    if (quant)
        all_bits(net, bits);
    char p[600];
    snprintf(p, sizeof p, "%s/fuzz_seed/%s", data_dir(), name);
    TU_OK(sc_net_save(net, p, NULL));
    sc_net_free(net);
}

START_TEST(regenerate)
{
    char p[600];
    snprintf(p, sizeof p, "%s/fuzz_seed", data_dir());
    ck_assert_msg(mkdir(p, 0777) == 0 || errno == EEXIST, "cannot create %s", p);
    sc_net *g = golden_net();
    snprintf(p, sizeof p, "%s/golden.scm", data_dir());
    TU_OK(sc_net_save(g, p, NULL));
    sc_net_free(g);
    /* small nets of every layer kind: the fuzzer mutates from these */
    static const tnet seeds[] = {
        {1, 3, 3, 2, {DENSE(0, 3, SC_BIAS), DENSE(1, 2, SC_NO_BIAS)}},
        {2, 5, 5, 5, {CONV(0, 3, 3, 2, 1, SC_BIAS), BN(1, SC_BN_AFFINE), RELU(2), FLAT(3),
                      DENSE(4, 2, SC_BIAS)}},
        {1, 6, 6, 5, {CONV(0, 2, 3, 1, 0, SC_NO_BIAS), BN(1, SC_BN_BATCH_STATS),
                      MAXPOOL(2, 2, 2), GAVG(3), DENSE(4, 2, SC_BIAS)}},
        {2, 4, 4, 5, {CONV(0, 2, 1, 1, 0, SC_BIAS), BN(1, 0), ADD(2, 0), GMAX(3),
                      DENSE(4, 2, SC_NO_BIAS)}},
        /* the kinds the descriptor brought: depthwise, avg and padded max
         * pools, activations, concat, dropout */
        {2, 6, 6, 10, {GCONV(0, 4, 3, 1, 1, SC_BIAS, 2), LEAKY(1, 0.1f),
                       POOL(SC_LAYER_AVGPOOL, 2, 3, 3, 1, 1, 1, 1, SC_POOL_COUNT_PAD),
                       CAT(3, 1), ACT(HARDSWISH, 4),
                       POOL(SC_LAYER_MAXPOOL, 5, 2, 3, 2, 1, 1, 1, 0), DROP(6, 0.5f),
                       ACT(SIGMOID, 7), FLAT(8), DENSE(9, 2, SC_BIAS)}},
    };
    save_seed(&seeds[0], 0, 0, "dense_fp32.scm");
    save_seed(&seeds[0], 1, 3, "dense_3bit.scm");
    save_seed(&seeds[1], 1, 2.5f, "conv_bn_relu.scm");
    save_seed(&seeds[2], 1, 1, "maxpool_gavg.scm");
    save_seed(&seeds[3], 1, 16, "add_gmax.scm");
    save_seed(&seeds[4], 1, 4, "new_kinds.scm");
    /* compressed nets: constant maps as classes (3 x 3 maps; 8 x 8 maps of
     * 5 x 5 classes, channels reusing the axes) */
    g = golden_net();
    snprintf(p, sizeof p, "%s/fuzz_seed/golden_cbias.scm", data_dir());
    TU_OK(sc_net_save(g, p, NULL));
    sc_net_free(g);
    /* with activation ranges: its forward runs in int8 */
    g = golden_net();
    tu_batch cb = tu_batch_make(4, 2, 6, 6, 0, 12);
    TU_OK(sc_net_calibrate(g, cb.x));
    tu_batch_free(&cb);
    snprintf(p, sizeof p, "%s/fuzz_seed/golden_int8.scm", data_dir());
    TU_OK(sc_net_save(g, p, NULL));
    sc_net_free(g);
    tnet small = PADDED;
    small.h = small.w = 8;
    g = padded_compressed(&small, SC_CONV_ALGO_AUTO);
    snprintf(p, sizeof p, "%s/fuzz_seed/padded_cbias.scm", data_dir());
    TU_OK(sc_net_save(g, p, NULL));
    sc_net_free(g);
    /* checkpoints for the checkpoint fuzzer */
    snprintf(p, sizeof p, "%s/fuzz_seed_ckpt", data_dir());
    ck_assert_msg(mkdir(p, 0777) == 0 || errno == EEXIST, "cannot create %s", p);
    for (int k = 0; k < 2; k++) {
        sc_net *net = build(&seeds[k ? 3 : 1]);
        TU_OK(sc_net_init(net, 41));
        TU_OK(sc_net_quantize(net, SC_ALL_LAYERS));
        sc_optimizer *opt = NULL;
        if (k == 0)
            TU_OK(sc_optimizer_create(&opt, net, SC_OPT_ADAM));
        if (k == 1) { /* a loss record with weights and smoothing */
            const float w[2] = {0.5f, 2.0f};
            sc_loss_desc d = SC_LOSS_DESC_INIT(SC_LOSS_SOFTMAX_XENT);
            d.class_weights = w;
            d.n_class_weights = 2;
            d.label_smoothing = 0.1f;
            TU_OK(sc_net_set_loss(net, &d));
        }
        snprintf(p, sizeof p, "%s/fuzz_seed_ckpt/%s", data_dir(), k ? "no_opt.sck" : "adam.sck");
        TU_OK(sc_checkpoint_save(net, opt, "seed", 4, p));
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
    printf("regenerated %s/golden.scm, %s/fuzz_seed/ and %s/fuzz_seed_ckpt/\n", data_dir(),
           data_dir(), data_dir());
}
END_TEST

/* ---- main --------------------------------------------------------------- */

static Suite *suite(int regen)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    if (regen) {
        tcase_add_test(tc, regenerate);
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_round_trip_every_layer_kind, 0, N_NETS);
    tcase_add_test(tc, test_round_trip_every_bit_depth);
    tcase_add_test(tc, test_round_trip_top_bit_depths);
    tcase_add_test(tc, test_resident_bytes_at_cap_8);
    tcase_add_test(tc, test_round_trip_after_compress);
    tcase_add_test(tc, test_load_memory_equals_load);
    tcase_add_test(tc, test_conv_algo);
    tcase_add_test(tc, test_exact_bytes_of_a_tiny_model);
    tcase_add_test(tc, test_golden_file);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_every_byte_corruption_rejected);
    tcase_add_test(tc, test_every_truncation_rejected);
    tcase_add_test(tc, test_hostile_files_with_valid_crc);
    tcase_add_test(tc, test_budget_refuses_big_layers);
    tcase_add_test(tc, test_big_feature_maps_load);
    tcase_add_test(tc, test_cmap_codec);
    tcase_add_test(tc, test_cbias_of_padded_convs_is_small);
    tcase_add_test(tc, test_cmap_hand_made);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *regen = getenv("SC_REGEN_DATA");
    return tu_run_suite(suite(regen && strcmp(regen, "1") == 0), CK_ENV);
}
