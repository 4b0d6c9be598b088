/* export.c -- sc_net_export_onnx, sc_model_export_onnx: a net's eval-mode
 * function as an ONNX graph (docs/onnx.md, export). Each layer becomes the
 * ONNX operators that compute it, read through the public per-layer calls;
 * the weights are those the forward computes with (a quantised layer's
 * dequantised values), and the quantised layers whose channels all have at
 * most 8 bits are written as their integer levels (INT8) with a
 * per-output-channel DequantizeLinear of scale 2^e. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "io/file.h"
#include "io/model.h"
#include "nn/layer_params.h"
#include "onnx/emit.h"
#include "quant/quantizer.h"

#define EX_OPSET 17
#define EX_INT8_BITS 8

typedef struct ex {
    const sc_net *net;
    const sc_model *model; /* the net's model, or NULL */
    sc_onnx_export_options opt;
    oe *e;
    const char **val; /* per layer: the ONNX value holding its output */
    int *rank;        /* per layer: that value's rank, 4 or 2 */
    const char *clip[2]; /* relu6's bounds 0 and 6, once written */
    const char *fn;
} ex;

static const char *kind_name(sc_layer_kind k)
{
    switch (k) {
    case SC_LAYER_INPUT: return "input";
    case SC_LAYER_DENSE: return "dense";
    case SC_LAYER_CONV2D: return "conv2d";
    case SC_LAYER_BATCHNORM: return "batchnorm";
    case SC_LAYER_RELU: return "relu";
    case SC_LAYER_MAXPOOL: return "maxpool";
    case SC_LAYER_GAVGPOOL: return "global_avgpool";
    case SC_LAYER_GMAXPOOL: return "global_maxpool";
    case SC_LAYER_FLATTEN: return "flatten";
    case SC_LAYER_ADD: return "add";
    case SC_LAYER_AVGPOOL: return "avgpool";
    case SC_LAYER_LEAKY_RELU: return "leaky_relu";
    case SC_LAYER_RELU6: return "relu6";
    case SC_LAYER_SIGMOID: return "sigmoid";
    case SC_LAYER_TANH: return "tanh";
    case SC_LAYER_HARDSWISH: return "hardswish";
    case SC_LAYER_CONCAT: return "concat";
    case SC_LAYER_DROPOUT: return "dropout";
    }
    return "unknown";
}

static sc_status layer_fail(const ex *x, int id, sc_status st, const char *what)
{
    return sc_fail(st, "%s: layer %d (%s) %s", x->fn, id,
                   kind_name((sc_layer_kind)sc_net_layer_kind(x->net, id)), what);
}

/* ---- weights ---- */

/* A weighted layer's weights as its forward computes them (w, n of them,
 * c rows), and, when they take the integer form, each one's level (lv)
 * and each row's scale 2^e (all three malloc'd; lv NULL otherwise). */
typedef struct ex_w {
    float *w, *scale;
    int8_t *lv;
    size_t n;
    int c;
    int64_t dims[4];
    int rank;
} ex_w;

static void free_w(ex_w *w)
{
    free(w->w);
    free(w->scale);
    free(w->lv);
}

/* Row o's levels for w[0 .. k) under channel ch, when each is an int8 whose
 * value 2^e * level is w bit for bit; 0 otherwise. */
static int row_levels(sc_qchan ch, const float *w, size_t k, int8_t *lv)
{
    for (size_t j = 0; j < k; j++) {
        float l = sc_quant_level(ch, w[j]), q = sc_quant_value(ch.s, l);
        if (!(l >= -128.0f && l <= 127.0f) || memcmp(&q, &w[j], sizeof q) != 0)
            return 0;
        lv[j] = (int8_t)l;
    }
    return 1;
}

static sc_status layer_weights(const ex *x, int id, ex_w *out)
{
    memset(out, 0, sizeof *out);
    sc_status st = sc_net_layer_param_shape(x->net, id, SC_SLOT_WEIGHT,
                                            out->dims, &out->rank);
    if (st != SC_OK)
        return st;
    size_t n = 1;
    for (int i = 0; i < out->rank; i++)
        if (!sc_mul_ok(n, (size_t)out->dims[i], &n))
            return layer_fail(x, id, SC_ERR_SHAPE, "has too many weights");
    int c = (int)out->dims[0];
    size_t k = n / (size_t)c;
    out->n = n;
    out->c = c;
    out->w = malloc(n * sizeof(float));
    float *b = NULL, *e = NULL;
    const unsigned char *bits = NULL;
    const float *fe = NULL;
    int quant = 0;
    if (out->w == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", x->fn);
    if ((st = sc_net_get_layer_param(x->net, id, SC_SLOT_WEIGHT, out->w, n)) != SC_OK)
        goto fail;
    if (x->model != NULL) {
        bits = sc_model_layer_quant(x->model, id, &fe);
        quant = bits != NULL;
    } else if (sc_net_is_quantized(x->net, id)) {
        quant = 1;
        b = malloc((size_t)c * sizeof *b);
        e = malloc((size_t)c * sizeof *e);
        float *raw = malloc(n * sizeof *raw);
        if (b == NULL || e == NULL || raw == NULL) {
            free(raw);
            st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", x->fn);
            goto fail;
        }
        memcpy(raw, out->w, n * sizeof *raw);
        st = sc_net_get_quant(x->net, id, b, e, (size_t)c);
        for (int o = 0; st == SC_OK && o < c; o++) /* the quantiser's own forward */
            sc_quant_channel(raw + (size_t)o * k, k, b[o], e[o],
                             out->w + (size_t)o * k);
        free(raw);
        if (st != SC_OK)
            goto fail;
    }
    int small = quant && x->opt.integer_weights;
    for (int o = 0; small && o < c; o++)
        small = (bits ? bits[o] : sc_quant_bits(b[o])) <= EX_INT8_BITS;
    if (small) {
        out->lv = malloc(n);
        out->scale = malloc((size_t)c * sizeof(float));
        if (out->lv == NULL || out->scale == NULL) {
            st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", x->fn);
            goto fail;
        }
        for (int o = 0; small && o < c; o++) {
            sc_qchan ch = bits ? sc_quant_chan((float)bits[o], fe[o])
                               : sc_quant_chan(b[o], e[o]);
            out->scale[o] = ch.s;
            small = row_levels(ch, out->w + (size_t)o * k, k, out->lv + (size_t)o * k);
        }
        if (!small) { /* not an int8 form of these floats: floats */
            free(out->lv);
            free(out->scale);
            out->lv = NULL;
            out->scale = NULL;
        }
    }
    free(b);
    free(e);
    return SC_OK;
fail:
    free(b);
    free(e);
    free_w(out);
    memset(out, 0, sizeof *out);
    return st;
}

/* The weights' ONNX value: an initializer, or DequantizeLinear of the
 * levels with per-row scales (axis 0, zero point 0). */
static const char *weight_value(ex *x, int id, const ex_w *w)
{
    oe *e = x->e;
    if (w->lv == NULL)
        return oe_init_floats(e, oe_name(e, "l%d_weight", id), w->dims, w->rank,
                              w->w, w->n);
    int64_t cd[1] = {w->c};
    int8_t *zp = calloc((size_t)w->c, 1);
    const char *in[3] = {
        oe_init_int8(e, oe_name(e, "l%d_weight_int8", id), w->dims, w->rank,
                     w->lv, w->n),
        oe_init_floats(e, oe_name(e, "l%d_weight_scale", id), cd, 1, w->scale,
                       (size_t)w->c),
        zp ? oe_init_int8(e, oe_name(e, "l%d_weight_zero", id), cd, 1, zp,
                          (size_t)w->c) : NULL};
    free(zp);
    const char *out = oe_name(e, "l%d_weight", id);
    Onnx__NodeProto *nd = oe_node(e, "DequantizeLinear",
                                  oe_name(e, "l%d_dequantize", id), in, 3, out);
    oe_attr_int(e, nd, "axis", 0);
    return nd ? out : NULL;
}

/* A layer slot's floats as an initializer (rank 1, its count) */
static sc_status slot_value(ex *x, int id, sc_layer_slot slot, const char *tag,
                            const char **name)
{
    int64_t shape[4];
    int nd;
    sc_status st = sc_net_layer_param_shape(x->net, id, slot, shape, &nd);
    if (st != SC_OK)
        return st;
    size_t n = (size_t)shape[0];
    float *f = malloc(n * sizeof *f);
    if (f == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", x->fn);
    if ((st = sc_net_get_layer_param(x->net, id, slot, f, n)) == SC_OK) {
        int64_t d[1] = {(int64_t)n};
        *name = oe_init_floats(x->e, oe_name(x->e, "l%d_%s", id, tag), d, 1, f, n);
    }
    free(f);
    return st;
}

/* A rank-1 initializer of n copies of v */
static sc_status fill_value(ex *x, int id, const char *tag, float v, size_t n,
                            const char **name)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (f == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", x->fn);
    for (size_t i = 0; i < n; i++)
        f[i] = v;
    int64_t d[1] = {(int64_t)n};
    *name = oe_init_floats(x->e, oe_name(x->e, "l%d_%s", id, tag), d, 1, f, n);
    free(f);
    return SC_OK;
}

/* ---- layers ---- */

/* out: the name layer id's output gets (the graph output for the last) */
static const char *out_name(ex *x, int id)
{
    return id == sc_net_layer_count(x->net) - 1 ? "logits"
                                                : oe_name(x->e, "l%d", id);
}

static Onnx__NodeProto *node(ex *x, int id, const char *op, const char **in,
                             int n_in, const char *out)
{
    return oe_node(x->e, op, oe_name(x->e, "%s_%d",
                                     kind_name((sc_layer_kind)sc_net_layer_kind(x->net, id)), id),
                   in, n_in, out);
}

/* kernel_shape, strides and pads of a window layer */
static void window_attrs(ex *x, Onnx__NodeProto *nd, const sc_layer_desc *d,
                         int kernel)
{
    int64_t k[2] = {d->kernel_h, d->kernel_w};
    int64_t s[2] = {d->stride_h ? d->stride_h : 1, d->stride_w ? d->stride_w : 1};
    int64_t p[4] = {d->pad_h, d->pad_w, d->pad_h, d->pad_w};
    if (kernel)
        oe_attr_ints(x->e, nd, "kernel_shape", k, 2);
    oe_attr_ints(x->e, nd, "strides", s, 2);
    oe_attr_ints(x->e, nd, "pads", p, 4);
}

/* A dense or conv layer: Gemm or Conv (a Flatten first for a dense layer
 * on a 4-D tensor), and an Add of its constant map when compress folded
 * one in. */
static sc_status weighted(ex *x, int id, const sc_layer_desc *d, int src,
                          const char *out)
{
    oe *e = x->e;
    int dense = d->kind == SC_LAYER_DENSE;
    const char *in[3] = {x->val[src], NULL, NULL};
    if (!dense && x->rank[src] != 4)
        return layer_fail(x, id, SC_ERR_UNSUPPORTED, "reads a flattened "
                          "tensor (ONNX's Conv takes N x C x H x W)");
    if (dense && x->rank[src] == 4) {
        const char *flat = oe_name(e, "l%d_flat", id);
        Onnx__NodeProto *f = oe_node(e, "Flatten", oe_name(e, "flatten_%d_in", id),
                                     in, 1, flat);
        oe_attr_int(e, f, "axis", 1);
        in[0] = flat;
    }
    ex_w w;
    sc_status st = layer_weights(x, id, &w);
    if (st != SC_OK)
        return st;
    in[1] = weight_value(x, id, &w);
    free_w(&w);
    int n_in = 2;
    if ((d->flags & SC_BIAS) &&
        (st = slot_value(x, id, SC_SLOT_BIAS, "bias", &in[n_in++])) != SC_OK)
        return st;
    int c, h, wd;
    if ((st = sc_net_layer_shape(x->net, id, &c, &h, &wd)) != SC_OK)
        return st;
    const float *map = sc_layer_const_map(x->net, id);
    const char *y = map ? oe_name(e, "l%d_pre", id) : out;
    Onnx__NodeProto *nd = node(x, id, dense ? "Gemm" : "Conv", in, n_in, y);
    if (dense) {
        oe_attr_int(e, nd, "transB", 1);
    } else {
        window_attrs(x, nd, d, 1);
        oe_attr_int(e, nd, "group", d->groups ? d->groups : 1);
    }
    if (map != NULL) {
        int64_t dims[4] = {1, c, h, wd};
        size_t n = (size_t)c * (size_t)h * (size_t)wd;
        const char *a[2] = {y, oe_init_floats(e, oe_name(e, "l%d_const_map", id),
                                              dims, dense ? 2 : 4, map, n)};
        oe_node(e, "Add", oe_name(e, "const_map_%d", id), a, 2, out);
    }
    x->rank[id] = dense ? 2 : 4;
    return SC_OK;
}

static sc_status batchnorm(ex *x, int id, const sc_layer_desc *d, int src,
                           const char *out)
{
    if ((d->flags & SC_BN_BATCH_STATS) && !x->opt.bn_running_stats)
        return layer_fail(x, id, SC_ERR_UNSUPPORTED, "normalises with batch "
                          "statistics in eval mode (SC_BN_BATCH_STATS), which "
                          "ONNX's BatchNormalization cannot say (with "
                          "bn_running_stats set it is written with its running "
                          "statistics)");
    int c, h, w;
    sc_status st = sc_net_layer_shape(x->net, id, &c, &h, &w);
    const char *in[5] = {x->val[src], NULL, NULL, NULL, NULL};
    if (st != SC_OK)
        return st;
    if (d->flags & SC_BN_AFFINE) {
        if ((st = slot_value(x, id, SC_SLOT_NORM_SCALE, "scale", &in[1])) != SC_OK ||
            (st = slot_value(x, id, SC_SLOT_NORM_SHIFT, "shift", &in[2])) != SC_OK)
            return st;
    } else if ((st = fill_value(x, id, "scale", 1.0f, (size_t)c, &in[1])) != SC_OK ||
               (st = fill_value(x, id, "shift", 0.0f, (size_t)c, &in[2])) != SC_OK) {
        return st;
    }
    double eps, mom;
    if ((st = slot_value(x, id, SC_SLOT_RUNNING_MEAN, "mean", &in[3])) != SC_OK ||
        (st = slot_value(x, id, SC_SLOT_RUNNING_VAR, "var", &in[4])) != SC_OK ||
        (st = sc_net_get_param(x->net, SC_PARAM_BN_EPS, &eps)) != SC_OK ||
        (st = sc_net_get_param(x->net, SC_PARAM_BN_MOMENTUM, &mom)) != SC_OK)
        return st;
    Onnx__NodeProto *nd = node(x, id, "BatchNormalization", in, 5, out);
    /* the forward adds eps as a float; ONNX's momentum is the share the
     * running statistics keep, the library's the share a batch gets */
    oe_attr_float(x->e, nd, "epsilon", (float)eps);
    oe_attr_float(x->e, nd, "momentum", (float)(1.0 - mom));
    x->rank[id] = x->rank[src];
    return SC_OK;
}

/* Clip to [0, 6], its bounds written once */
static void relu6(ex *x, int id, int src, const char *out)
{
    static const float bound[2] = {0.0f, 6.0f};
    static const char *name[2] = {"relu6_min", "relu6_max"};
    for (int k = 0; k < 2; k++)
        if (x->clip[k] == NULL)
            x->clip[k] = oe_init_floats(x->e, name[k], NULL, 0, &bound[k], 1);
    const char *in[3] = {x->val[src], x->clip[0], x->clip[1]};
    node(x, id, "Clip", in, 3, out);
}

static sc_status image_only(const ex *x, int id, int src, const char *op)
{
    if (x->rank[src] == 4)
        return SC_OK;
    char what[96];
    snprintf(what, sizeof what, "reads a flattened tensor (ONNX's %s takes "
             "N x C x H x W)", op);
    return layer_fail(x, id, SC_ERR_UNSUPPORTED, what);
}

/* Layer id onto its nodes; its output's value into x->val[id]. */
static sc_status layer(ex *x, int id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_INPUT);
    int in[SC_MAX_LAYER_INPUTS], n_in;
    sc_status st = sc_net_layer_desc(x->net, id, &d, in, &n_in);
    if (st != SC_OK)
        return st;
    const char *out = out_name(x, id);
    const char *one[1] = {x->val[in[0]]};
    const char *many[SC_MAX_LAYER_INPUTS];
    Onnx__NodeProto *nd;
    x->rank[id] = x->rank[in[0]];
    x->val[id] = out;
    switch (d.kind) {
    case SC_LAYER_DENSE:
    case SC_LAYER_CONV2D:
        return weighted(x, id, &d, in[0], out);
    case SC_LAYER_BATCHNORM:
        return batchnorm(x, id, &d, in[0], out);
    case SC_LAYER_RELU:
        node(x, id, "Relu", one, 1, out);
        return SC_OK;
    case SC_LAYER_LEAKY_RELU:
        nd = node(x, id, "LeakyRelu", one, 1, out);
        oe_attr_float(x->e, nd, "alpha", d.alpha);
        return SC_OK;
    case SC_LAYER_RELU6:
        relu6(x, id, in[0], out);
        return SC_OK;
    case SC_LAYER_SIGMOID:
        node(x, id, "Sigmoid", one, 1, out);
        return SC_OK;
    case SC_LAYER_TANH:
        node(x, id, "Tanh", one, 1, out);
        return SC_OK;
    case SC_LAYER_HARDSWISH:
        node(x, id, "HardSwish", one, 1, out);
        return SC_OK;
    case SC_LAYER_MAXPOOL:
    case SC_LAYER_AVGPOOL: {
        int avg = d.kind == SC_LAYER_AVGPOOL;
        if ((st = image_only(x, id, in[0], avg ? "AveragePool" : "MaxPool")) != SC_OK)
            return st;
        nd = node(x, id, avg ? "AveragePool" : "MaxPool", one, 1, out);
        window_attrs(x, nd, &d, 1);
        if (avg)
            oe_attr_int(x->e, nd, "count_include_pad",
                        (d.flags & SC_POOL_COUNT_PAD) != 0);
        return SC_OK;
    }
    case SC_LAYER_GAVGPOOL:
    case SC_LAYER_GMAXPOOL: {
        const char *op = d.kind == SC_LAYER_GAVGPOOL ? "GlobalAveragePool"
                                                     : "GlobalMaxPool";
        if ((st = image_only(x, id, in[0], op)) != SC_OK)
            return st;
        node(x, id, op, one, 1, out);
        return SC_OK;
    }
    case SC_LAYER_FLATTEN:
        nd = node(x, id, "Flatten", one, 1, out);
        oe_attr_int(x->e, nd, "axis", 1);
        x->rank[id] = 2;
        return SC_OK;
    case SC_LAYER_ADD:
    case SC_LAYER_CONCAT:
        for (int k = 0; k < n_in; k++) {
            if (x->rank[in[k]] != x->rank[in[0]])
                return layer_fail(x, id, SC_ERR_UNSUPPORTED, "joins a "
                                  "flattened and an unflattened tensor");
            many[k] = x->val[in[k]];
        }
        nd = node(x, id, d.kind == SC_LAYER_ADD ? "Add" : "Concat", many, n_in, out);
        if (d.kind == SC_LAYER_CONCAT)
            oe_attr_int(x->e, nd, "axis", 1);
        return SC_OK;
    case SC_LAYER_DROPOUT: /* the identity outside a training step */
        if (strcmp(out, "logits") == 0)
            node(x, id, "Identity", one, 1, out);
        else
            x->val[id] = x->val[in[0]];
        return SC_OK;
    case SC_LAYER_INPUT:
        break;
    }
    return layer_fail(x, id, SC_ERR_UNSUPPORTED, "has no ONNX form");
}

/* ---- the calls ---- */

/* The options in o (NULL: the defaults), checked */
static sc_status get_options(const sc_onnx_export_options *o,
                             sc_onnx_export_options *out, const char *fn)
{
    sc_onnx_export_options def = SC_ONNX_EXPORT_OPTIONS_INIT;
    *out = def;
    if (o == NULL)
        return SC_OK;
    if (o->size < sizeof(size_t))
        return sc_fail(SC_ERR_ARG, "%s: options .size is %zu (set it to "
                       "sizeof(sc_onnx_export_options))", fn, o->size);
    /* the fields the caller's struct has whole */
    if (o->size >= offsetof(sc_onnx_export_options, integer_weights) + sizeof(int))
        out->integer_weights = o->integer_weights;
    if (o->size >= offsetof(sc_onnx_export_options, bn_running_stats) + sizeof(int))
        out->bn_running_stats = o->bn_running_stats;
    if ((out->integer_weights != 0 && out->integer_weights != 1) ||
        (out->bn_running_stats != 0 && out->bn_running_stats != 1))
        return sc_fail(SC_ERR_ARG, "%s: options integer_weights (%d) and "
                       "bn_running_stats (%d) take 0 or 1", fn,
                       out->integer_weights, out->bn_running_stats);
    return SC_OK;
}

/* The net (of model, or NULL) as ONNX bytes in a new buffer */
static sc_status export_bytes(const sc_net *net, const sc_model *model,
                              const sc_onnx_export_options *o,
                              unsigned char **data, size_t *n, const char *fn)
{
    ex x;
    memset(&x, 0, sizeof x);
    x.net = net;
    x.model = model;
    x.fn = fn;
    sc_status st = get_options(o, &x.opt, fn);
    if (st != SC_OK)
        return st;
    int layers = sc_net_layer_count(net);
    if (layers < 2)
        return sc_fail(SC_ERR_STATE, "%s: the net has no layer", fn);
    int c, h, w;
    if ((st = sc_net_layer_shape(net, SC_INPUT, &c, &h, &w)) != SC_OK)
        return st;
    x.e = oe_new();
    x.val = calloc((size_t)layers, sizeof *x.val);
    x.rank = calloc((size_t)layers, sizeof *x.rank);
    if (x.e == NULL || x.val == NULL || x.rank == NULL)
        st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    if (st == SC_OK) {
        int64_t dims[4] = {-1, c, h, w};
        x.val[0] = "input";
        x.rank[0] = 4;
        oe_graph_io(x.e, 0, "input", dims, 4);
    }
    for (int id = 1; st == SC_OK && id < layers; id++)
        st = layer(&x, id);
    if (st == SC_OK && (st = sc_net_layer_shape(net, layers - 1, &c, &h, &w)) == SC_OK) {
        int64_t dims[4] = {-1, c, h, w};
        oe_graph_io(x.e, 1, "logits", dims, x.rank[layers - 1]);
        st = oe_pack(x.e, EX_OPSET, model ? "selfcompress_model" : "selfcompress_net",
                     data, n, fn);
    }
    oe_free(x.e);
    free(x.val);
    free(x.rank);
    return st;
}

/* The bytes into buf (cap of them), their count into *size */
static sc_status to_memory(const unsigned char *data, size_t n, void *buf,
                           size_t cap, size_t *size, const char *fn)
{
    *size = n;
    if (buf == NULL && cap == 0)
        return SC_OK;
    if (buf == NULL)
        return sc_fail(SC_ERR_NULL, "%s: argument 'buf' is NULL", fn);
    if (cap < n)
        return sc_fail(SC_ERR_ARG, "%s: the model takes %zu bytes, the "
                       "buffer has %zu", fn, n, cap);
    memcpy(buf, data, n);
    return SC_OK;
}

static sc_status net_memory(const sc_net *net, const sc_model *m, void *buf,
                            size_t cap, size_t *size,
                            const sc_onnx_export_options *o, const char *fn)
{
    SC_CHECK_NULL(size, fn);
    unsigned char *data;
    size_t n;
    sc_status st = export_bytes(net, m, o, &data, &n, fn);
    if (st != SC_OK)
        return st;
    st = to_memory(data, n, buf, cap, size, fn);
    free(data);
    return st;
}

static sc_status net_file(const sc_net *net, const sc_model *m,
                          const char *path, const sc_onnx_export_options *o,
                          const char *fn)
{
    SC_CHECK_NULL(path, fn);
    unsigned char *data;
    size_t n;
    sc_status st = export_bytes(net, m, o, &data, &n, fn);
    if (st != SC_OK)
        return st;
    st = sc_file_write_atomic(path, data, n, fn);
    free(data);
    return st;
}

SC_API sc_status sc_net_export_onnx(const sc_net *net, const char *path,
                                    const sc_onnx_export_options *options)
{
    SC_CHECK_NULL(net, "sc_net_export_onnx");
    return net_file(net, NULL, path, options, "sc_net_export_onnx");
}

SC_API sc_status sc_net_export_onnx_memory(const sc_net *net, void *buf,
                                           size_t cap, size_t *size,
                                           const sc_onnx_export_options *options)
{
    SC_CHECK_NULL(net, "sc_net_export_onnx_memory");
    return net_memory(net, NULL, buf, cap, size, options,
                      "sc_net_export_onnx_memory");
}

SC_API sc_status sc_model_export_onnx(const sc_model *m, const char *path,
                                      const sc_onnx_export_options *options)
{
    SC_CHECK_NULL(m, "sc_model_export_onnx");
    return net_file(sc_model_net(m), m, path, options, "sc_model_export_onnx");
}

SC_API sc_status sc_model_export_onnx_memory(const sc_model *m, void *buf,
                                             size_t cap, size_t *size,
                                             const sc_onnx_export_options *options)
{
    SC_CHECK_NULL(m, "sc_model_export_onnx_memory");
    return net_memory(sc_model_net(m), m, buf, cap, size, options,
                      "sc_model_export_onnx_memory");
}
