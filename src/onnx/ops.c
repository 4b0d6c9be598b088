/* ops.c -- each ONNX operator onto the library's layers: one handler per
 * operator, found through one table that also lists the attributes each
 * takes (docs/onnx.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "nn/layer_params.h"
#include "onnx/onnx.h"

typedef struct ox_op ox_op;
typedef sc_status (*ox_handler)(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                                const ox_op *op);

struct ox_op {
    const char *name;
    int min_in, max_in;
    const char *attrs[8]; /* the attributes it takes, NULL after the last */
    ox_handler fn;
    sc_layer_kind kind;   /* the layer of the one-to-one operators */
};

/* ---- inputs, outputs, attributes ---- */

/* Input k's value id, or -1 when the node has none there (or its name is
 * empty: an optional input left out). */
static int in_id(const ox_ctx *c, int ni, int k)
{
    int n = c->in_off[ni + 1] - c->in_off[ni];
    return k < n ? c->in_ids[c->in_off[ni] + k] : -1;
}

static ox_val *out_val(ox_ctx *c, int ni)
{
    return &c->vals[c->out_ids[c->out_off[ni]]];
}

static void set_layer(ox_ctx *c, int ni, int layer, int rank)
{
    ox_val *v = out_val(c, ni);
    v->kind = OX_LAYER;
    v->layer = layer;
    v->rank = rank;
}

/* Input k as a layer (*layer, the ONNX rank in *rank). */
static sc_status layer_in(ox_ctx *c, int ni, int k, int *layer, int *rank)
{
    int id = in_id(c, ni, k);
    if (id < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has no input %d", k);
    const ox_val *v = &c->vals[id];
    switch (v->kind) {
    case OX_LAYER:
        *layer = v->layer;
        *rank = v->rank;
        return SC_OK;
    case OX_CONST:
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "its input %d "
                            "('%.100s') is a constant (layers read the "
                            "graph input or other layers)", k, v->name);
    case OX_HSIG:
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "reads the HardSigmoid "
                            "'%.100s': only x * HardSigmoid(x) with alpha "
                            "1/6 and beta 1/2, a HardSwish, is supported",
                            v->name);
    case OX_PAD:
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "reads the Pad '%.100s' "
                            "(only a Conv or AveragePool after a zero Pad of "
                            "the height and width is supported)", v->name);
    case OX_MATMUL:
    case OX_UNSET:
        break;
    }
    return ox_node_fail(c, ni, SC_ERR_FORMAT, "its input %d ('%.100s') has "
                        "no value yet", k, v->name);
}

/* Input k as a float constant. */
static sc_status const_in(ox_ctx *c, int ni, int k, const char *what,
                          const float **f, size_t *n, int64_t dims[8],
                          int *rank)
{
    int id = in_id(c, ni, k);
    if (id < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has no %s", what);
    if (c->vals[id].kind != OX_CONST)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "its %s ('%.100s') is "
                            "computed, not a constant", what,
                            c->vals[id].name);
    return ox_const_floats(c, ni, id, what, f, n, dims, rank);
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *nd,
                                        const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (strcmp(nd->attribute[i]->name, name) == 0)
            return nd->attribute[i];
    return NULL;
}

static sc_status bad_type(ox_ctx *c, int ni, const char *name, const char *t)
{
    return ox_node_fail(c, ni, SC_ERR_FORMAT, "its attribute '%s' is not %s",
                        name, t);
}

static sc_status attr_int(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                          const char *name, int64_t def, int64_t *v)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    *v = def;
    if (a == NULL)
        return SC_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        return bad_type(c, ni, name, "an int");
    *v = a->i;
    return SC_OK;
}

static sc_status attr_float(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                            const char *name, float def, float *v)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    *v = def;
    if (a == NULL)
        return SC_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
        return bad_type(c, ni, name, "a float");
    *v = a->f;
    return SC_OK;
}

/* ints attribute name: *n values at *v (0 and NULL when absent) */
static sc_status attr_ints(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                           const char *name, const int64_t **v, size_t *n)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    *v = NULL;
    *n = 0;
    if (a == NULL)
        return SC_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
        return bad_type(c, ni, name, "a list of ints");
    *v = a->ints;
    *n = a->n_ints;
    return SC_OK;
}

/* 1 when string attribute a is s */
static int str_is(const Onnx__AttributeProto *a, const char *s)
{
    size_t n = strlen(s);
    return a->s.len == n && (n == 0 || memcmp(a->s.data, s, n) == 0);
}

/* ---- layers and their parameters ---- */

/* sc_net_add_layer, its refusals as SC_ERR_UNSUPPORTED naming the node */
static sc_status add(ox_ctx *c, int ni, const sc_layer_desc *d,
                     const int *in, int n_in, int *id)
{
    sc_status st = sc_net_add_layer(c->net, d, in, n_in, id);
    if (st == SC_ERR_ARG || st == SC_ERR_SHAPE) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", sc_last_error());
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "the library cannot "
                            "take it as a layer: %s", msg);
    }
    return st;
}

/* Records that layer's slot gets data (n floats) once the net is
 * initialised; all such floats together stay within the file's budget. */
static sc_status assign_to(ox_ctx *c, int ni, int layer, sc_layer_slot slot,
                           int map, const float *data, size_t n)
{
    size_t used;
    if (!sc_add_ok(c->used_floats, n, &used) || used > c->budget_floats)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "the layers' parameters "
                            "come to more than the %zu floats a file of "
                            "this size allows", c->budget_floats);
    if (c->n_assign == c->cap_assign) {
        size_t cap = c->cap_assign ? 2 * c->cap_assign : 16, bytes;
        ox_assign *p = sc_mul_ok(cap, sizeof *p, &bytes) ? realloc(c->assign, bytes) : NULL;
        if (p == NULL)
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory", c->fn);
        c->assign = p;
        c->cap_assign = cap;
    }
    c->assign[c->n_assign++] = (ox_assign){layer, ni, slot, map, data, n};
    c->used_floats = used;
    return SC_OK;
}

static sc_status assign(ox_ctx *c, int ni, int layer, sc_layer_slot slot,
                        const float *data, size_t n)
{
    return assign_to(c, ni, layer, slot, 0, data, n);
}

/* b (rows x cols) transposed into a new array */
static const float *transpose(ox_ctx *c, const float *b, size_t rows,
                              size_t cols)
{
    float *t = ox_alloc_floats(c, rows * cols);
    if (t != NULL)
        for (size_t r = 0; r < rows; r++)
            for (size_t k = 0; k < cols; k++)
                t[k * rows + r] = b[r * cols + k];
    return t;
}

/* A dense layer of out features over layer x with weights w [out][in]
 * and bias (NULL: none). */
static sc_status dense(ox_ctx *c, int ni, int x, int out, const float *w,
                       size_t nw, const float *bias, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_DENSE);
    d.channels = out;
    d.flags = bias ? SC_BIAS : SC_NO_BIAS;
    sc_status st = add(c, ni, &d, &x, 1, id);
    if (st == SC_OK)
        st = assign(c, ni, *id, SC_SLOT_WEIGHT, w, nw);
    if (st == SC_OK && bias)
        st = assign(c, ni, *id, SC_SLOT_BIAS, bias, (size_t)out);
    return st;
}

/* A bias of n: [n] or [1, n] */
static int bias_shape(const int64_t *dims, int rank, size_t numel, int64_t n)
{
    return (int64_t)numel == n &&
           (rank == 1 || (rank == 2 && dims[0] == 1));
}

/* ---- windows: Conv and the pools ---- */

typedef struct win {
    int kh, kw, sh, sw, ph, pw;
} win;

/* One axis: ONNX's padding b (begin) and e (end) with ceil_mode onto the
 * library's one pad per axis, when both give the same windows: the same
 * count (which the library's floor((in + 2 b - k) / s) + 1 gives) ending
 * within ONNX's padded input. */
static sc_status axis_pad(ox_ctx *c, int ni, const char *axis, int64_t in,
                          int64_t k, int64_t s, int64_t b, int64_t e,
                          int ceil_mode, int *pad)
{
    if (b < 0 || e < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has a negative pad along "
                            "the %s (%lld, %lld)", axis, (long long)b,
                            (long long)e);
    if (b > 64 || e > 64)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "pads the %s by %lld "
                            "and %lld (at most 64 is supported)", axis,
                            (long long)b, (long long)e);
    int64_t span = in + b + e - k;
    if (span < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "its window (%lld) is "
                            "larger than its padded input (%lld) along the "
                            "%s", (long long)k, (long long)(in + b + e), axis);
    int64_t o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
    if (ceil_mode && (o - 1) * s >= in + b)
        o--; /* a window starts inside the input or its first padding */
    int64_t lib = in + 2 * b - k, ol = lib < 0 ? 0 : lib / s + 1;
    if (o != ol || -b + (o - 1) * s + k > in + e)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "pads the %s by %lld "
                            "and %lld%s, %lld outputs, which the same pad on "
                            "both sides (%lld) does not give", axis,
                            (long long)b, (long long)e,
                            ceil_mode ? " with ceil_mode" : "", (long long)o,
                            (long long)ol);
    *pad = (int)b;
    return SC_OK;
}

/* The window of a Conv or pool over an in_h x in_w input with kernel
 * ker[2]: strides, dilations (1 only), pads or auto_pad, ceil_mode. */
static sc_status window(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                        int in_h, int in_w, const int64_t ker[2],
                        int ceil_mode, const int64_t extra[4], win *w)
{
    const int64_t *s, *d, *p;
    size_t ns, nd_, np;
    sc_status st;
    if ((st = attr_ints(c, ni, nd, "strides", &s, &ns)) != SC_OK ||
        (st = attr_ints(c, ni, nd, "dilations", &d, &nd_)) != SC_OK ||
        (st = attr_ints(c, ni, nd, "pads", &p, &np)) != SC_OK)
        return st;
    if ((ns != 0 && ns != 2) || (nd_ != 0 && nd_ != 2) || (np != 0 && np != 4))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has %zu strides, %zu "
                            "dilations and %zu pads (a 2-D window takes 2, "
                            "2 and 4)", ns, nd_, np);
    if (nd_ && (d[0] != 1 || d[1] != 1))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has dilations "
                            "%lldx%lld (only 1 is supported)", (long long)d[0],
                            (long long)d[1]);
    int64_t sh = ns ? s[0] : 1, sw = ns ? s[1] : 1;
    if (ker[0] < 1 || ker[1] < 1 || ker[0] > 64 || ker[1] > 64 || sh < 1 ||
        sw < 1 || sh > 64 || sw > 64)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has kernel %lldx%lld "
                            "and strides %lldx%lld (1 to 64 are supported)",
                            (long long)ker[0], (long long)ker[1],
                            (long long)sh, (long long)sw);
    int64_t b[2] = {np ? p[0] : 0, np ? p[1] : 0};
    int64_t e[2] = {np ? p[2] : 0, np ? p[3] : 0};
    const Onnx__AttributeProto *ap = attr(nd, "auto_pad");
    if (ap != NULL) {
        if (ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
            return bad_type(c, ni, "auto_pad", "a string");
        int same_u = str_is(ap, "SAME_UPPER"), same_l = str_is(ap, "SAME_LOWER");
        if (!str_is(ap, "NOTSET") && !str_is(ap, "VALID") && !same_u && !same_l)
            return ox_node_fail(c, ni, SC_ERR_FORMAT, "its auto_pad is none "
                                "of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
        if (!str_is(ap, "NOTSET") && np)
            return ox_node_fail(c, ni, SC_ERR_FORMAT, "has both pads and an "
                                "auto_pad");
        int64_t in[2] = {in_h, in_w}, st2[2] = {sh, sw};
        for (int a = 0; a < 2 && (same_u || same_l); a++) {
            int64_t o = (in[a] + st2[a] - 1) / st2[a];
            int64_t total = (o - 1) * st2[a] + ker[a] - in[a];
            if (total < 0)
                total = 0;
            b[a] = same_u ? total / 2 : total - total / 2;
            e[a] = total - b[a];
        }
    }
    for (int a = 0; a < 2; a++) { /* a Pad before the node */
        b[a] += extra[a];
        e[a] += extra[a + 2];
    }
    w->kh = (int)ker[0];
    w->kw = (int)ker[1];
    w->sh = (int)sh;
    w->sw = (int)sw;
    if ((st = axis_pad(c, ni, "height", in_h, ker[0], sh, b[0], e[0], ceil_mode,
                       &w->ph)) != SC_OK)
        return st;
    return axis_pad(c, ni, "width", in_w, ker[1], sw, b[1], e[1], ceil_mode,
                    &w->pw);
}

/* Input 0 as a layer of an N x C x H x W tensor: its shape into *ch, *h,
 * *w. With pads (not NULL) the input may be a Pad, whose pads (top, left,
 * bottom, right) go there (else zeros). */
static sc_status image_in(ox_ctx *c, int ni, int *x, int *ch, int *h, int *w,
                          int64_t pads[4])
{
    int rank, id = in_id(c, ni, 0);
    if (pads != NULL) {
        memset(pads, 0, 4 * sizeof *pads);
        if (id >= 0 && c->vals[id].kind == OX_PAD) {
            memcpy(pads, c->vals[id].pads, 4 * sizeof *pads);
            *x = c->vals[id].src;
            return sc_net_layer_shape(c->net, *x, ch, h, w);
        }
    }
    sc_status st = layer_in(c, ni, 0, x, &rank);
    if (st != SC_OK)
        return st;
    if (rank != 4)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "reads a %d-D tensor "
                            "(it takes N x C x H x W)", rank);
    return sc_net_layer_shape(c->net, *x, ch, h, w);
}

/* ---- the operators ---- */

static sc_status op_conv(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                         const ox_op *op)
{
    (void)op;
    int x, ic, ih, iw;
    int64_t extra[4];
    sc_status st = image_in(c, ni, &x, &ic, &ih, &iw, extra);
    const float *w, *bias = NULL;
    size_t nw, nb;
    int64_t wd[8], bd[8];
    int wr, br;
    if (st != SC_OK || (st = const_in(c, ni, 1, "weight", &w, &nw, wd, &wr)) != SC_OK)
        return st;
    if (wr != 4)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "its weight has %d "
                            "dimensions (a 2-D convolution's has 4)", wr);
    int64_t group;
    const int64_t *ks;
    size_t nks;
    if ((st = attr_int(c, ni, nd, "group", 1, &group)) != SC_OK ||
        (st = attr_ints(c, ni, nd, "kernel_shape", &ks, &nks)) != SC_OK)
        return st;
    if (group < 1 || group > ic || ic % group != 0 || wd[1] != ic / group ||
        wd[0] % group != 0 || wd[0] < 1)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "its weight %lldx%lldx"
                            "%lldx%lld in %lld groups does not fit its input "
                            "of %d channels", (long long)wd[0], (long long)wd[1],
                            (long long)wd[2], (long long)wd[3], (long long)group,
                            ic);
    if (nks && (nks != 2 || ks[0] != wd[2] || ks[1] != wd[3]))
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "its kernel_shape is not its "
                            "weight's");
    if (wd[0] > (1 << 24))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has %lld output "
                            "channels (at most 2^24)", (long long)wd[0]);
    win wn;
    if ((st = window(c, ni, nd, ih, iw, wd + 2, 0, extra, &wn)) != SC_OK)
        return st;
    if (in_id(c, ni, 2) >= 0) {
        if ((st = const_in(c, ni, 2, "bias", &bias, &nb, bd, &br)) != SC_OK)
            return st;
        if (br != 1 || (int64_t)nb != wd[0])
            return ox_node_fail(c, ni, SC_ERR_FORMAT, "its bias of %zu values "
                                "does not fit its %lld output channels", nb,
                                (long long)wd[0]);
    }
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = (int)wd[0];
    d.kernel_h = wn.kh;
    d.kernel_w = wn.kw;
    d.stride_h = wn.sh;
    d.stride_w = wn.sw;
    d.pad_h = wn.ph;
    d.pad_w = wn.pw;
    d.groups = (int)group;
    d.flags = bias ? SC_BIAS : SC_NO_BIAS;
    int id;
    if ((st = add(c, ni, &d, &x, 1, &id)) != SC_OK ||
        (st = assign(c, ni, id, SC_SLOT_WEIGHT, w, nw)) != SC_OK ||
        (bias && (st = assign(c, ni, id, SC_SLOT_BIAS, bias, nb)) != SC_OK))
        return st;
    set_layer(c, ni, id, 4);
    return SC_OK;
}

/* Input 0 as a layer of an N x F tensor: F into *f. */
static sc_status rows_in(ox_ctx *c, int ni, int *x, int *f)
{
    int rank, h, w;
    sc_status st = layer_in(c, ni, 0, x, &rank);
    if (st != SC_OK)
        return st;
    if (rank != 2)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "reads a %d-D tensor "
                            "(it takes N x F: a Flatten before it does)", rank);
    return sc_net_layer_shape(c->net, *x, f, &h, &w);
}

static sc_status op_gemm(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                         const ox_op *op)
{
    (void)op;
    int x, k;
    sc_status st = rows_in(c, ni, &x, &k);
    const float *b, *bias = NULL;
    size_t nb, nc = 0;
    int64_t bd[8], cd[8];
    int brank, crank;
    if (st != SC_OK || (st = const_in(c, ni, 1, "weight B", &b, &nb, bd, &brank)) != SC_OK)
        return st;
    int64_t ta, tb;
    float alpha, beta;
    if ((st = attr_int(c, ni, nd, "transA", 0, &ta)) != SC_OK ||
        (st = attr_int(c, ni, nd, "transB", 0, &tb)) != SC_OK ||
        (st = attr_float(c, ni, nd, "alpha", 1.0f, &alpha)) != SC_OK ||
        (st = attr_float(c, ni, nd, "beta", 1.0f, &beta)) != SC_OK)
        return st;
    int has_c = in_id(c, ni, 2) >= 0;
    if (ta != 0 || alpha != 1.0f || (has_c && beta != 1.0f))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has transA %lld, alpha "
                            "%g, beta %g (only 0, 1, 1 are supported)",
                            (long long)ta, (double)alpha, (double)beta);
    if (brank != 2)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "its B has %d dimensions, "
                            "not 2", brank);
    int64_t out = tb ? bd[0] : bd[1], in = tb ? bd[1] : bd[0];
    if (in != k || out < 1)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "its B %lldx%lld (transB "
                            "%lld) does not fit its input of %d features",
                            (long long)bd[0], (long long)bd[1], (long long)tb, k);
    if (out > (1 << 24))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has %lld outputs (at "
                            "most 2^24)", (long long)out);
    if (has_c) {
        if ((st = const_in(c, ni, 2, "bias C", &bias, &nc, cd, &crank)) != SC_OK)
            return st;
        if (!bias_shape(cd, crank, nc, out))
            return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "its C of %zu "
                                "values in %d dimensions is no bias of %lld "
                                "(only [N] or [1, N] is supported)", nc, crank,
                                (long long)out);
    }
    if (!tb && (b = transpose(c, b, (size_t)in, (size_t)out)) == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", c->fn);
    int id;
    if ((st = dense(c, ni, x, (int)out, b, nb, bias, &id)) != SC_OK)
        return st;
    set_layer(c, ni, id, 2);
    return SC_OK;
}

/* A MatMul with a constant B: a dense layer, or, when its one reader is
 * an Add, a value that Add makes a dense layer with its bias. */
static sc_status op_matmul(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                           const ox_op *op)
{
    (void)nd;
    (void)op;
    int x, k;
    sc_status st = rows_in(c, ni, &x, &k);
    const float *b;
    size_t nb;
    int64_t bd[8];
    int brank;
    if (st != SC_OK || (st = const_in(c, ni, 1, "B", &b, &nb, bd, &brank)) != SC_OK)
        return st;
    if (brank != 2 || bd[0] != k || bd[1] < 1)
        return ox_node_fail(c, ni, brank == 2 ? SC_ERR_FORMAT : SC_ERR_UNSUPPORTED,
                            "its B in %d dimensions does not fit its input "
                            "of %d features (a 2-D K x N B is supported)",
                            brank, k);
    if (bd[1] > (1 << 24))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has %lld outputs (at "
                            "most 2^24)", (long long)bd[1]);
    const float *w = transpose(c, b, (size_t)bd[0], (size_t)bd[1]);
    if (w == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", c->fn);
    ox_val *v = out_val(c, ni);
    const Onnx__NodeProto *reader =
        v->n_cons == 1 && v->uses == 1 ? c->g->node[c->cons_list[v->cons]] : NULL;
    if (reader != NULL && strcmp(reader->op_type, "Add") == 0) {
        v->kind = OX_MATMUL;
        v->src = x;
        v->w = w;
        v->nw = nb;
        v->out_features = (int)bd[1];
        return SC_OK;
    }
    int id;
    if ((st = dense(c, ni, x, (int)bd[1], w, nb, NULL, &id)) != SC_OK)
        return st;
    set_layer(c, ni, id, 2);
    return SC_OK;
}

/* A MatMul value its Add does not fuse: the dense layer without bias. */
static sc_status matmul_layer(ox_ctx *c, int ni, ox_val *m)
{
    int id;
    sc_status st = dense(c, ni, m->src, m->out_features, m->w, m->nw, NULL, &id);
    if (st != SC_OK)
        return st;
    m->kind = OX_LAYER;
    m->layer = id;
    m->rank = 2;
    return SC_OK;
}

/* An Add of constant k to the output v of a dense or conv layer that
 * nothing else reads: the layer's constant map, one value per output
 * element of a sample (k [1, C, H, W] or [C, H, W]; [1, F] or [F]). */
static sc_status const_map(ox_ctx *c, int ni, const ox_val *v, ox_val *k)
{
    int kind = v->kind == OX_LAYER ? sc_net_layer_kind(c->net, v->layer) : -1;
    if ((kind != SC_LAYER_DENSE && kind != SC_LAYER_CONV2D) || v->uses != 1)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "adds a constant to "
                            "'%.100s' (only to a Gemm's or Conv's output that "
                            "nothing else reads, a constant map of the layer)",
                            v->name);
    for (size_t i = 0; i < c->n_assign; i++)
        if (c->assign[i].map && c->assign[i].layer == v->layer)
            return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "adds a second "
                                "constant map to '%.100s'", v->name);
    int ch, h, w, rank;
    sc_status st = sc_net_layer_shape(c->net, v->layer, &ch, &h, &w);
    const float *f;
    size_t n;
    int64_t dims[8];
    if (st != SC_OK ||
        (st = ox_const_floats(c, ni, (int)(k - c->vals), "constant", &f, &n,
                              dims, &rank)) != SC_OK)
        return st;
    int lead = rank == v->rank; /* a leading batch dimension of 1 */
    int ok = (rank == v->rank || rank == v->rank - 1) && (!lead || dims[0] == 1);
    int64_t want[3] = {ch, h, w};
    for (int i = 0; ok && i < v->rank - 1; i++)
        ok = dims[i + lead] == want[i];
    if (!ok)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "adds a constant of "
                            "%d dimensions that is not one value per element "
                            "of a sample of '%.100s' (broadcasting is not "
                            "supported)", rank, v->name);
    if ((st = assign_to(c, ni, v->layer, SC_SLOT_BIAS, 1, f, n)) != SC_OK)
        return st;
    set_layer(c, ni, v->layer, v->rank);
    return SC_OK;
}

static sc_status op_add(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                        const ox_op *op)
{
    (void)nd;
    (void)op;
    int ia = in_id(c, ni, 0), ib = in_id(c, ni, 1);
    if (ia < 0 || ib < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has an empty input name");
    ox_val *a = &c->vals[ia], *b = &c->vals[ib];
    sc_status st;
    if (b->kind == OX_MATMUL) {
        ox_val *t = a;
        a = b;
        b = t;
    }
    if (a->kind == OX_MATMUL && b->kind == OX_CONST) {
        const float *bias;
        size_t n;
        int64_t dims[8];
        int rank, id;
        if ((st = ox_const_floats(c, ni, (int)(b - c->vals), "bias", &bias,
                                  &n, dims, &rank)) != SC_OK)
            return st;
        if (!bias_shape(dims, rank, n, a->out_features))
            return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "adds %zu values "
                                "in %d dimensions to a MatMul of %d outputs "
                                "(only a bias [N] or [1, N] is supported)", n,
                                rank, a->out_features);
        if ((st = dense(c, ni, a->src, a->out_features, a->w, a->nw, bias,
                        &id)) != SC_OK)
            return st;
        a->kind = OX_UNSET; /* read by this Add only */
        set_layer(c, ni, id, 2);
        return SC_OK;
    }
    if (a->kind == OX_MATMUL && (st = matmul_layer(c, ni, a)) != SC_OK)
        return st;
    if (a->kind == OX_CONST || b->kind == OX_CONST)
        return const_map(c, ni, a->kind == OX_CONST ? b : a,
                         a->kind == OX_CONST ? a : b);
    int x[2], r[2], id;
    if ((st = layer_in(c, ni, 0, &x[0], &r[0])) != SC_OK ||
        (st = layer_in(c, ni, 1, &x[1], &r[1])) != SC_OK)
        return st;
    if (r[0] != r[1])
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "adds a %d-D and a "
                            "%d-D tensor (broadcasting is not supported)",
                            r[0], r[1]);
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_ADD);
    if ((st = add(c, ni, &d, x, 2, &id)) != SC_OK)
        return st;
    set_layer(c, ni, id, r[0]);
    return SC_OK;
}

static sc_status op_batchnorm(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                              const ox_op *op)
{
    (void)op;
    int x, rank, ch, h, w;
    sc_status st = layer_in(c, ni, 0, &x, &rank);
    if (st != SC_OK || (st = sc_net_layer_shape(c->net, x, &ch, &h, &w)) != SC_OK)
        return st;
    static const char *what[4] = {"scale", "B", "mean", "var"};
    static const sc_layer_slot slot[4] = {SC_SLOT_NORM_SCALE, SC_SLOT_NORM_SHIFT,
                                          SC_SLOT_RUNNING_MEAN,
                                          SC_SLOT_RUNNING_VAR};
    const float *p[4];
    size_t n[4];
    for (int k = 0; k < 4; k++) {
        int64_t dims[8];
        int r;
        if ((st = const_in(c, ni, k + 1, what[k], &p[k], &n[k], dims, &r)) != SC_OK)
            return st;
        if (r != 1 || n[k] != (size_t)ch)
            return ox_node_fail(c, ni, SC_ERR_FORMAT, "its %s of %zu values "
                                "does not fit its input of %d channels",
                                what[k], n[k], ch);
    }
    float eps, mom;
    int64_t training;
    if ((st = attr_float(c, ni, nd, "epsilon", 1e-5f, &eps)) != SC_OK ||
        (st = attr_float(c, ni, nd, "momentum", 0.9f, &mom)) != SC_OK ||
        (st = attr_int(c, ni, nd, "training_mode", 0, &training)) != SC_OK)
        return st;
    if (training != 0)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has training_mode %lld "
                            "(only inference, 0, is supported)",
                            (long long)training);
    if (!(eps > 0.0f && eps < 1.0f) || !(mom >= 0.0f && mom <= 1.0f))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has epsilon %g and "
                            "momentum %g (the library takes (0, 1) and [0, 1])",
                            (double)eps, (double)mom);
    if (c->have_bn && (eps != c->bn_eps || mom != c->bn_momentum))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has epsilon %g and "
                            "momentum %g, an earlier BatchNormalization %g and "
                            "%g (a net has one of each)", (double)eps,
                            (double)mom, (double)c->bn_eps,
                            (double)c->bn_momentum);
    c->have_bn = 1;
    c->bn_eps = eps;
    c->bn_momentum = mom;
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_BATCHNORM);
    d.flags = SC_BN_AFFINE;
    int id;
    if ((st = add(c, ni, &d, &x, 1, &id)) != SC_OK)
        return st;
    for (int k = 0; k < 4; k++)
        if ((st = assign(c, ni, id, slot[k], p[k], n[k])) != SC_OK)
            return st;
    set_layer(c, ni, id, rank);
    return SC_OK;
}

/* A layer of op->kind on input 0 (alpha: LeakyRelu's) */
static sc_status one_layer(ox_ctx *c, int ni, sc_layer_kind kind, float alpha)
{
    int x, rank, id;
    sc_status st = layer_in(c, ni, 0, &x, &rank);
    if (st != SC_OK)
        return st;
    sc_layer_desc d = SC_LAYER_DESC_INIT(kind);
    d.alpha = alpha;
    if ((st = add(c, ni, &d, &x, 1, &id)) != SC_OK)
        return st;
    set_layer(c, ni, id, rank);
    return SC_OK;
}

static sc_status op_unary(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                          const ox_op *op)
{
    (void)nd;
    return one_layer(c, ni, op->kind, 0.0f);
}

static sc_status op_leaky(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                          const ox_op *op)
{
    float alpha;
    sc_status st = attr_float(c, ni, nd, "alpha", 0.01f, &alpha);
    return st != SC_OK ? st : one_layer(c, ni, op->kind, alpha);
}

/* Clip(x, min, max) with constant bounds: [0, 6] a relu6, [0, inf) a relu */
static sc_status op_clip(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                         const ox_op *op)
{
    (void)nd;
    (void)op;
    float bound[2] = {-INFINITY, INFINITY};
    static const char *what[2] = {"min", "max"};
    for (int k = 0; k < 2; k++) {
        if (in_id(c, ni, k + 1) < 0)
            continue;
        const float *f;
        size_t n;
        int64_t dims[8];
        int rank;
        sc_status st = const_in(c, ni, k + 1, what[k], &f, &n, dims, &rank);
        if (st != SC_OK)
            return st;
        if (n != 1 || rank > 1)
            return ox_node_fail(c, ni, SC_ERR_FORMAT, "its %s is not a scalar",
                                what[k]);
        bound[k] = f[0];
    }
    if (bound[0] == 0.0f && bound[1] == 6.0f)
        return one_layer(c, ni, SC_LAYER_RELU6, 0.0f);
    if (bound[0] == 0.0f && bound[1] == INFINITY)
        return one_layer(c, ni, SC_LAYER_RELU, 0.0f);
    return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "clips to [%g, %g] (only "
                        "[0, 6], a relu6, and [0, inf), a relu, are supported)",
                        (double)bound[0], (double)bound[1]);
}

/* HardSigmoid: a value for the Mul x * HardSigmoid(x) (opset 11's
 * HardSwish, as PyTorch exports it) */
static sc_status op_hardsigmoid(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                                const ox_op *op)
{
    (void)op;
    int x, rank;
    float alpha, beta;
    sc_status st = layer_in(c, ni, 0, &x, &rank);
    if (st != SC_OK ||
        (st = attr_float(c, ni, nd, "alpha", 0.2f, &alpha)) != SC_OK ||
        (st = attr_float(c, ni, nd, "beta", 0.5f, &beta)) != SC_OK)
        return st;
    ox_val *v = out_val(c, ni);
    v->kind = OX_HSIG;
    v->src = x;
    v->rank = rank;
    v->alpha = alpha;
    v->beta = beta;
    return SC_OK;
}

static sc_status op_mul(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                        const ox_op *op)
{
    (void)nd;
    (void)op;
    int ia = in_id(c, ni, 0), ib = in_id(c, ni, 1);
    if (ia < 0 || ib < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has an empty input name");
    const ox_val *a = &c->vals[ia], *h = &c->vals[ib];
    if (a->kind == OX_HSIG) {
        const ox_val *t = a;
        a = h;
        h = t;
    }
    if (a->kind == OX_LAYER && h->kind == OX_HSIG && h->src == a->layer &&
        h->uses == 1 && fabsf(h->alpha - 1.0f / 6.0f) < 1e-6f && h->beta == 0.5f)
        return one_layer(c, ni, SC_LAYER_HARDSWISH, 0.0f);
    return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "multiplies '%.100s' by "
                        "'%.100s' (only x * HardSigmoid(x) with alpha 1/6 and "
                        "beta 1/2, a HardSwish, is supported)", a->name, h->name);
}

static sc_status op_pool(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                         const ox_op *op)
{
    int x, ic, ih, iw;
    int64_t extra[4];
    sc_status st = image_in(c, ni, &x, &ic, &ih, &iw,
                            op->kind == SC_LAYER_AVGPOOL ? extra : NULL);
    if (op->kind != SC_LAYER_AVGPOOL)
        memset(extra, 0, sizeof extra);
    const int64_t *ks;
    size_t nks;
    int64_t ceil_mode, count_pad;
    if (st != SC_OK ||
        (st = attr_ints(c, ni, nd, "kernel_shape", &ks, &nks)) != SC_OK ||
        (st = attr_int(c, ni, nd, "ceil_mode", 0, &ceil_mode)) != SC_OK ||
        (st = attr_int(c, ni, nd, "count_include_pad", 0, &count_pad)) != SC_OK)
        return st;
    if (nks != 2)
        return ox_node_fail(c, ni, nks ? SC_ERR_UNSUPPORTED : SC_ERR_FORMAT,
                            "has a kernel_shape of %zu values (a 2-D pool's "
                            "has 2)", nks);
    int padded = extra[0] || extra[1] || extra[2] || extra[3];
    const int64_t *own;
    size_t n_own;
    if ((st = attr_ints(c, ni, nd, "pads", &own, &n_own)) != SC_OK)
        return st;
    for (size_t k = 0; padded && !count_pad && k < n_own; k++)
        if (own[k] != 0)
            return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "pads without "
                                "counting the padding after a Pad whose "
                                "zeros count (not supported)");
    count_pad = count_pad || padded; /* the Pad's zeros are in the mean */
    win wn;
    if ((st = window(c, ni, nd, ih, iw, ks, ceil_mode != 0, extra, &wn)) != SC_OK)
        return st;
    sc_layer_desc d = SC_LAYER_DESC_INIT(op->kind);
    d.kernel_h = wn.kh;
    d.kernel_w = wn.kw;
    d.stride_h = wn.sh;
    d.stride_w = wn.sw;
    d.pad_h = wn.ph;
    d.pad_w = wn.pw;
    d.flags = op->kind == SC_LAYER_AVGPOOL && count_pad ? SC_POOL_COUNT_PAD : 0;
    int id;
    if ((st = add(c, ni, &d, &x, 1, &id)) != SC_OK)
        return st;
    set_layer(c, ni, id, 4);
    return SC_OK;
}

static sc_status op_global_pool(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                                const ox_op *op)
{
    (void)nd;
    int x, ic, ih, iw, id;
    sc_status st = image_in(c, ni, &x, &ic, &ih, &iw, NULL);
    if (st != SC_OK)
        return st;
    sc_layer_desc d = SC_LAYER_DESC_INIT(op->kind);
    if ((st = add(c, ni, &d, &x, 1, &id)) != SC_OK)
        return st;
    set_layer(c, ni, id, 4);
    return SC_OK;
}

/* The output is input k's value (Identity, Dropout, a Flatten or Reshape
 * that changes nothing). */
static sc_status alias(ox_ctx *c, int ni, int k)
{
    int id = in_id(c, ni, k);
    if (id < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has no input %d", k);
    const ox_val *s = &c->vals[id];
    ox_val *v = out_val(c, ni);
    if (s->kind != OX_CONST && s->kind != OX_LAYER) {
        int x, rank;
        sc_status st = layer_in(c, ni, k, &x, &rank);
        return st != SC_OK ? st : ox_node_fail(c, ni, SC_ERR_UNSUPPORTED,
                                               "reads a fused value");
    }
    v->kind = s->kind;
    v->t = s->t;
    v->root = s->root;
    v->layer = s->layer;
    v->rank = s->rank;
    return SC_OK;
}

/* The 4-D input as N x F: a flatten layer; a 2-D one as it is. */
static sc_status to_rows(ox_ctx *c, int ni, int x, int rank)
{
    if (rank == 2)
        return alias(c, ni, 0);
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_FLATTEN);
    int id;
    sc_status st = add(c, ni, &d, &x, 1, &id);
    if (st != SC_OK)
        return st;
    set_layer(c, ni, id, 2);
    return SC_OK;
}

static sc_status op_flatten(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                            const ox_op *op)
{
    (void)op;
    int x, rank;
    int64_t axis;
    sc_status st = layer_in(c, ni, 0, &x, &rank);
    if (st != SC_OK || (st = attr_int(c, ni, nd, "axis", 1, &axis)) != SC_OK)
        return st;
    if (axis != 1 && axis != 1 - rank)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has axis %lld on a "
                            "%d-D tensor (only 1, keeping the batch, is "
                            "supported)", (long long)axis, rank);
    return to_rows(c, ni, x, rank);
}

/* Reshape to N x F, F the features per sample */
static sc_status op_reshape(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                            const ox_op *op)
{
    (void)op;
    int x, rank, ch, h, w;
    int64_t allowzero, s[8];
    size_t n;
    sc_status st = layer_in(c, ni, 0, &x, &rank);
    if (st != SC_OK || (st = sc_net_layer_shape(c->net, x, &ch, &h, &w)) != SC_OK ||
        (st = attr_int(c, ni, nd, "allowzero", 0, &allowzero)) != SC_OK)
        return st;
    int id = in_id(c, ni, 1);
    if (id < 0 || c->vals[id].kind != OX_CONST)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "its shape is computed "
                            "(only a constant shape is supported)");
    if ((st = ox_const_ints(c, ni, id, "shape", s, 8, &n)) != SC_OK)
        return st;
    int64_t f = (int64_t)ch * h * w;
    /* [batch, F] with the batch -1, 0 (copied) or given, F given or -1
     * (with a batch that is not -1); 0 copies C, which is F on 2-D */
    int ok = n == 2 && s[0] >= -1 && (s[1] == f || (s[1] == -1 && s[0] != -1) ||
                                      (s[1] == 0 && !allowzero && ch == f));
    if (ok && allowzero && s[0] == 0)
        ok = 0;
    if (!ok)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "reshapes %s (only to "
                            "N x F, F = %lld the features per sample, is "
                            "supported)", n == 2 ? "to another 2-D shape" :
                            "to other than 2-D", (long long)f);
    return to_rows(c, ni, x, rank);
}

static sc_status op_concat(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                           const ox_op *op)
{
    (void)op;
    const Onnx__AttributeProto *a = attr(nd, "axis");
    if (a == NULL)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has no axis");
    int64_t axis;
    sc_status st = attr_int(c, ni, nd, "axis", 0, &axis);
    int n = c->in_off[ni + 1] - c->in_off[ni];
    if (st != SC_OK)
        return st;
    if (n > SC_MAX_LAYER_INPUTS)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "joins %d tensors (at "
                            "most %d)", n, SC_MAX_LAYER_INPUTS);
    int x[SC_MAX_LAYER_INPUTS], rank = 0;
    for (int k = 0; k < n; k++) {
        int r;
        if ((st = layer_in(c, ni, k, &x[k], &r)) != SC_OK)
            return st;
        if (k > 0 && r != rank)
            return ox_node_fail(c, ni, SC_ERR_FORMAT, "joins tensors of %d "
                                "and %d dimensions", rank, r);
        rank = r;
    }
    if (axis != 1 && axis != 1 - rank)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has axis %lld (only "
                            "1, the channels, is supported)", (long long)axis);
    if (n == 1)
        return alias(c, ni, 0);
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONCAT);
    int id;
    if ((st = add(c, ni, &d, x, n, &id)) != SC_OK)
        return st;
    set_layer(c, ni, id, rank);
    return SC_OK;
}

/* Pad with zeros of the height and width only: none is the identity; else
 * a value the Conv or AveragePool reading it (its one reader) takes as its
 * own padding */
static sc_status op_pad(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                        const ox_op *op)
{
    (void)op;
    int x, ch, h, w;
    sc_status st = image_in(c, ni, &x, &ch, &h, &w, NULL);
    if (st != SC_OK)
        return st;
    const Onnx__AttributeProto *mode = attr(nd, "mode");
    if (mode != NULL && (mode->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING ||
                         !str_is(mode, "constant")))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "pads in a mode other "
                            "than 'constant' (not supported)");
    int pid = in_id(c, ni, 1);
    int64_t p[8];
    size_t n;
    if (pid < 0 || c->vals[pid].kind != OX_CONST)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "its pads are computed "
                            "(only constant pads are supported)");
    if ((st = ox_const_ints(c, ni, pid, "pads", p, 8, &n)) != SC_OK)
        return st;
    if (in_id(c, ni, 2) >= 0) {
        const float *f;
        size_t nf;
        int64_t dims[8];
        int rank;
        if ((st = const_in(c, ni, 2, "constant_value", &f, &nf, dims, &rank)) != SC_OK)
            return st;
        if (nf != 1 || f[0] != 0.0f)
            return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "pads with a value "
                                "other than 0 (not supported)");
    }
    if (n != 8 || p[0] || p[1] || p[4] || p[5] || p[2] < 0 || p[3] < 0 ||
        p[6] < 0 || p[7] < 0)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "pads other than the "
                            "height and width by >= 0 (not supported)");
    if (!p[2] && !p[3] && !p[6] && !p[7])
        return alias(c, ni, 0);
    ox_val *v = out_val(c, ni);
    const Onnx__NodeProto *reader =
        v->n_cons == 1 && v->uses == 1 ? c->g->node[c->cons_list[v->cons]] : NULL;
    if (reader == NULL || (strcmp(reader->op_type, "Conv") != 0 &&
                           strcmp(reader->op_type, "AveragePool") != 0))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "pads for a reader "
                            "other than one Conv or AveragePool (not "
                            "supported)");
    v->kind = OX_PAD;
    v->src = x;
    v->pads[0] = p[2];
    v->pads[1] = p[3];
    v->pads[2] = p[6];
    v->pads[3] = p[7];
    return SC_OK;
}

/* Dropout and Identity: dropped (Dropout is the identity in inference) */
static sc_status op_identity(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                             const ox_op *op)
{
    (void)nd;
    (void)op;
    if (in_id(c, ni, 2) >= 0)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has a training_mode "
                            "input (only inference is supported)");
    return alias(c, ni, 0);
}

static sc_status op_constant(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                             const ox_op *op)
{
    (void)op;
    const Onnx__AttributeProto *a = attr(nd, "value");
    if (a == NULL || a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR ||
        a->t == NULL)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has no tensor value "
                            "(only 'value' is supported)");
    ox_val *v = out_val(c, ni);
    v->kind = OX_CONST;
    v->t = a->t;
    v->root = (int)(v - c->vals);
    return SC_OK;
}

/* DequantizeLinear of an INT8 constant: the float constant
 * (x - zero_point) * scale, per tensor or (opset 13 on) per slice along
 * axis */
static sc_status op_dequantize(ox_ctx *c, int ni, const Onnx__NodeProto *nd,
                               const ox_op *op)
{
    (void)op;
    int xid = in_id(c, ni, 0), zid = in_id(c, ni, 2);
    if (xid < 0 || c->vals[xid].kind != OX_CONST ||
        (zid >= 0 && c->vals[zid].kind != OX_CONST))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "dequantizes a "
                            "computed tensor (only constants are supported)");
    float *f, *zp = NULL;
    const float *s;
    size_t n, ns, nz = 0;
    int64_t dims[8], sd[8], zd[8], axis;
    int rank, sr, zr;
    sc_status st = ox_const_int8(c, ni, xid, "x", &f, &n, dims, &rank);
    if (st != SC_OK ||
        (st = const_in(c, ni, 1, "x_scale", &s, &ns, sd, &sr)) != SC_OK ||
        (zid >= 0 && (st = ox_const_int8(c, ni, zid, "x_zero_point", &zp, &nz,
                                         zd, &zr)) != SC_OK) ||
        (st = attr_int(c, ni, nd, "axis", 1, &axis)) != SC_OK)
        return st;
    int per_tensor = ns == 1 && sr <= 1;
    if (axis < 0)
        axis += rank;
    if (!per_tensor && (c->opset < 13 || sr != 1 || axis < 0 || axis >= rank ||
                        (int64_t)ns != dims[axis]))
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has %zu scales for "
                            "axis %lld of a %d-D tensor (one, or from opset 13 "
                            "one per slice along the axis, is supported)", ns,
                            (long long)axis, rank);
    if (zp != NULL && (nz != ns || zr != sr))
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "its zero point's shape is "
                            "not its scale's");
    size_t inner = 1;
    for (int i = (int)axis + 1; !per_tensor && i < rank; i++)
        inner *= (size_t)dims[i]; /* within numel, which shape_of checked */
    for (size_t i = 0; i < n; i++) {
        size_t k = per_tensor ? 0 : (i / inner) % ns;
        f[i] = (f[i] - (zp ? zp[k] : 0.0f)) * s[k];
    }
    ox_val *v = out_val(c, ni);
    v->kind = OX_CONST;
    v->t = c->vals[c->vals[xid].root].t;
    v->root = (int)(v - c->vals);
    v->f = f;
    v->nf = n;
    v->decoded = 1;
    v->dequantized = 1;
    return SC_OK;
}

#define WIN_ATTRS "auto_pad", "kernel_shape", "pads", "strides"

static const ox_op OPS[] = {
    {"Conv", 2, 3, {WIN_ATTRS, "dilations", "group", NULL}, op_conv, SC_LAYER_CONV2D},
    {"Gemm", 2, 3, {"alpha", "beta", "transA", "transB", NULL}, op_gemm, SC_LAYER_DENSE},
    {"MatMul", 2, 2, {NULL}, op_matmul, SC_LAYER_DENSE},
    {"Add", 2, 2, {NULL}, op_add, SC_LAYER_ADD},
    {"BatchNormalization", 5, 5, {"epsilon", "momentum", "training_mode", NULL},
     op_batchnorm, SC_LAYER_BATCHNORM},
    {"Relu", 1, 1, {NULL}, op_unary, SC_LAYER_RELU},
    {"LeakyRelu", 1, 1, {"alpha", NULL}, op_leaky, SC_LAYER_LEAKY_RELU},
    {"Clip", 1, 3, {NULL}, op_clip, SC_LAYER_RELU6},
    {"Sigmoid", 1, 1, {NULL}, op_unary, SC_LAYER_SIGMOID},
    {"Tanh", 1, 1, {NULL}, op_unary, SC_LAYER_TANH},
    {"HardSwish", 1, 1, {NULL}, op_unary, SC_LAYER_HARDSWISH},
    {"HardSigmoid", 1, 1, {"alpha", "beta", NULL}, op_hardsigmoid, SC_LAYER_HARDSWISH},
    {"Mul", 2, 2, {NULL}, op_mul, SC_LAYER_HARDSWISH},
    {"MaxPool", 1, 1, {WIN_ATTRS, "ceil_mode", "dilations", "storage_order", NULL},
     op_pool, SC_LAYER_MAXPOOL},
    {"AveragePool", 1, 1, {WIN_ATTRS, "ceil_mode", "count_include_pad", NULL},
     op_pool, SC_LAYER_AVGPOOL},
    {"GlobalAveragePool", 1, 1, {NULL}, op_global_pool, SC_LAYER_GAVGPOOL},
    {"GlobalMaxPool", 1, 1, {NULL}, op_global_pool, SC_LAYER_GMAXPOOL},
    {"Flatten", 1, 1, {"axis", NULL}, op_flatten, SC_LAYER_FLATTEN},
    {"Reshape", 2, 2, {"allowzero", NULL}, op_reshape, SC_LAYER_FLATTEN},
    {"Concat", 1, SC_MAX_LAYER_INPUTS, {"axis", NULL}, op_concat, SC_LAYER_CONCAT},
    {"Pad", 2, 3, {"mode", NULL}, op_pad, SC_LAYER_INPUT},
    {"Dropout", 1, 3, {"ratio", "seed", NULL}, op_identity, SC_LAYER_DROPOUT},
    {"Identity", 1, 1, {NULL}, op_identity, SC_LAYER_INPUT},
    {"Constant", 0, 0, {"value", NULL}, op_constant, SC_LAYER_INPUT},
    {"DequantizeLinear", 2, 3, {"axis", NULL}, op_dequantize, SC_LAYER_INPUT},
};

sc_status ox_op_apply(ox_ctx *c, int ni)
{
    const Onnx__NodeProto *nd = c->g->node[ni];
    if (nd->domain != NULL && nd->domain[0] != '\0' &&
        strcmp(nd->domain, "ai.onnx") != 0)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "is in the operator "
                            "domain '%.100s' (only the default one is "
                            "supported)", nd->domain);
    const ox_op *op = NULL;
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(OPS[i].name, nd->op_type) == 0)
            op = &OPS[i];
    if (op == NULL)
        return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "the operator is not "
                            "supported (docs/onnx.md lists those that are)");
    int n_in = c->in_off[ni + 1] - c->in_off[ni];
    if (n_in < op->min_in || n_in > op->max_in)
        return ox_node_fail(c, ni, n_in > op->max_in && op->max_in == SC_MAX_LAYER_INPUTS
                                       ? SC_ERR_UNSUPPORTED : SC_ERR_FORMAT,
                            "has %d inputs (it takes %d to %d)", n_in,
                            op->min_in, op->max_in);
    int n_out = c->out_off[ni + 1] - c->out_off[ni];
    if (n_out < 1 || c->out_ids[c->out_off[ni]] < 0)
        return ox_node_fail(c, ni, SC_ERR_FORMAT, "has no output");
    for (int k = 1; k < n_out; k++) {
        int id = c->out_ids[c->out_off[ni] + k];
        if (id >= 0 && c->vals[id].uses > 0)
            return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "its output %d "
                                "('%.100s') is read (only the first output "
                                "is supported)", k, c->vals[id].name);
    }
    for (size_t i = 0; i < nd->n_attribute; i++) {
        const char *name = nd->attribute[i]->name;
        if (name == NULL)
            return ox_node_fail(c, ni, SC_ERR_FORMAT, "has an attribute "
                                "without a name");
        int known = 0;
        for (int k = 0; op->attrs[k] != NULL; k++)
            known |= strcmp(op->attrs[k], name) == 0;
        if (!known)
            return ox_node_fail(c, ni, SC_ERR_UNSUPPORTED, "has the attribute "
                                "'%.100s' (not supported)", name);
    }
    return op->fn(c, ni, nd, op);
}

sc_status ox_assign_params(ox_ctx *c)
{
    static const char *slot_name[] = {
        [SC_SLOT_WEIGHT] = "weights", [SC_SLOT_BIAS] = "bias",
        [SC_SLOT_NORM_SCALE] = "scale", [SC_SLOT_NORM_SHIFT] = "shift",
        [SC_SLOT_RUNNING_MEAN] = "running mean",
        [SC_SLOT_RUNNING_VAR] = "running variance"};
    for (size_t i = 0; i < c->n_assign; i++) {
        const ox_assign *a = &c->assign[i];
        sc_status st = a->map ? sc_layer_set_const_map(c->net, a->layer, a->data,
                                                       a->n, c->fn)
                              : sc_net_set_layer_param(c->net, a->layer, a->slot,
                                                       a->data, a->n);
        if (st == SC_ERR_NONFINITE)
            return ox_node_fail(c, a->node, SC_ERR_FORMAT, "its %s hold NaN or "
                                "Inf", a->map ? "constants" : slot_name[a->slot]);
        if (st == SC_ERR_ARG)
            return ox_node_fail(c, a->node, SC_ERR_FORMAT, "its %s hold a "
                                "negative value", slot_name[a->slot]);
        if (st != SC_OK)
            return st;
    }
    return SC_OK;
}
