/* layer.c -- the one builder: a layer descriptor checked against its kind's
 * table line, and a node's attributes as a descriptor. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

/* The descriptor fields past .size are 0. */
static sc_status read_desc(const sc_layer_desc *desc, sc_layer_desc *d,
                           const char *fn)
{
    size_t need = offsetof(sc_layer_desc, kind) + sizeof desc->kind;
    if (desc->size < need || desc->size > 4096)
        return sc_fail(SC_ERR_ARG, "%s: desc->size must be set to "
                       "sizeof(sc_layer_desc)", fn);
    memset(d, 0, sizeof *d);
    memcpy(d, desc, desc->size < sizeof *d ? desc->size : sizeof *d);
    d->size = sizeof *d;
    return SC_OK;
}

/* SC_ERR_ARG unless v is 0 or the kind takes it (bit) and it is in
 * [lo, hi]. */
static sc_status field(const sc_op_def *op, unsigned bit, int v, int lo,
                       int hi, const char *what, const char *fn)
{
    if (!(op->attrs & bit)) {
        if (v != 0)
            return sc_fail(SC_ERR_ARG, "%s: a %s layer takes no %s (%d)", fn,
                           op->name, what, v);
        return SC_OK;
    }
    if (v < lo || v > hi)
        return sc_fail(SC_ERR_ARG, "%s: %s %s %d is not in [%d, %d]", fn,
                       op->name, what, v, lo, hi);
    return SC_OK;
}

static sc_status check_fields(const sc_op_def *op, const sc_layer_desc *d,
                              const char *fn)
{
    sc_status st;
    if ((st = field(op, SC_ATTR_CHANNELS, d->channels, 1, 1 << 24,
                    "channels", fn)) != SC_OK ||
        (st = field(op, SC_ATTR_KERNEL, d->kernel_h, 1, 64, "kernel_h",
                    fn)) != SC_OK ||
        (st = field(op, SC_ATTR_KERNEL, d->kernel_w, 1, 64, "kernel_w",
                    fn)) != SC_OK ||
        (st = field(op, SC_ATTR_STRIDE, d->stride_h, 0, 64, "stride_h",
                    fn)) != SC_OK ||
        (st = field(op, SC_ATTR_STRIDE, d->stride_w, 0, 64, "stride_w",
                    fn)) != SC_OK ||
        (st = field(op, SC_ATTR_PAD, d->pad_h, 0, 64, "pad_h", fn)) != SC_OK ||
        (st = field(op, SC_ATTR_PAD, d->pad_w, 0, 64, "pad_w", fn)) != SC_OK ||
        (st = field(op, SC_ATTR_GROUPS, d->groups, 0, 1 << 20, "groups",
                    fn)) != SC_OK)
        return st;
    if (d->flags & ~op->layer_flags)
        return sc_fail(SC_ERR_ARG, "%s: %s takes no flags 0x%x", fn, op->name,
                       (unsigned)(d->flags & ~op->layer_flags));
    if (!(op->attrs & SC_ATTR_ALPHA) && d->alpha != 0.0f)
        return sc_fail(SC_ERR_ARG, "%s: a %s layer takes no alpha (%g)", fn,
                       op->name, (double)d->alpha);
    if (!isfinite(d->alpha))
        return sc_fail(SC_ERR_ARG, "%s: %s alpha %g is not finite", fn,
                       op->name, (double)d->alpha);
    return SC_OK;
}

sc_status sc_layer_append(sc_net *net, const sc_layer_desc *desc,
                          const int *inputs, int n_inputs, int *id,
                          const char *fn)
{
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(desc, fn);
    SC_CHECK_NULL(id, fn);
    sc_layer_desc d;
    sc_status st = read_desc(desc, &d, fn);
    if (st != SC_OK)
        return st;
    if ((int)d.kind <= (int)SC_LAYER_INPUT ||
        (int)d.kind >= SC_LAYER_KIND_COUNT || sc_ops[d.kind].fn == NULL)
        return sc_fail(SC_ERR_ARG, "%s: layer kind %d is not one a layer "
                       "can be added as", fn, (int)d.kind);
    const sc_op_def *op = &sc_ops[d.kind];
    if (n_inputs < op->min_in || n_inputs > op->max_in)
        return op->min_in == op->max_in
                   ? sc_fail(SC_ERR_ARG, "%s: %s takes %d input%s, not %d", fn,
                             op->name, op->min_in, op->min_in > 1 ? "s" : "",
                             n_inputs)
                   : sc_fail(SC_ERR_ARG, "%s: %s takes %d to %d inputs, not %d",
                             fn, op->name, op->min_in, op->max_in, n_inputs);
    SC_CHECK_NULL(inputs, fn);
    if ((st = check_fields(op, &d, fn)) != SC_OK)
        return st;
    int strided = (op->attrs & SC_ATTR_STRIDE) != 0,
        grouped = (op->attrs & SC_ATTR_GROUPS) != 0;
    sc_node p = {.kind = d.kind, .n_in = n_inputs, .c = d.channels,
                 .kh = d.kernel_h, .kw = d.kernel_w,
                 .sh = d.stride_h ? d.stride_h : strided,
                 .sw = d.stride_w ? d.stride_w : strided,
                 .ph = d.pad_h, .pw = d.pad_w,
                 .groups = d.groups ? d.groups : grouped,
                 .flags = d.flags, .alpha = d.alpha};
    for (int i = 0; i < n_inputs; i++)
        p.in[i] = inputs[i];
    return sc_net_append(net, &p, id, fn);
}

void sc_node_desc(const sc_node *nd, sc_layer_desc *d)
{
    unsigned a = sc_ops[nd->kind].attrs;
    *d = (sc_layer_desc)SC_LAYER_DESC_INIT(nd->kind);
    d->channels = a & SC_ATTR_CHANNELS ? nd->c : 0;
    d->kernel_h = a & SC_ATTR_KERNEL ? nd->kh : 0;
    d->kernel_w = a & SC_ATTR_KERNEL ? nd->kw : 0;
    d->stride_h = nd->sh;
    d->stride_w = nd->sw;
    d->pad_h = nd->ph;
    d->pad_w = nd->pw;
    d->groups = nd->groups;
    d->flags = nd->flags;
    d->alpha = nd->alpha;
}

SC_API sc_status sc_net_add_layer(sc_net *net, const sc_layer_desc *desc,
                                  const int *inputs, int n_inputs, int *id)
{
    return sc_layer_append(net, desc, inputs, n_inputs, id, "sc_net_add_layer");
}

SC_API sc_status sc_net_layer_desc(const sc_net *net, int id,
                                   sc_layer_desc *out, int *inputs,
                                   int *n_inputs)
{
    const char *fn = "sc_net_layer_desc";
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(out, fn);
    if (id <= 0 || id >= net->n_nodes)
        return sc_fail(SC_ERR_ARG, "%s: layer id %d is not an added layer "
                       "(1 .. %d)", fn, id, net->n_nodes - 1);
    if (out->size < sizeof out->size || out->size > 4096)
        return sc_fail(SC_ERR_ARG, "%s: out->size must be set to "
                       "sizeof(sc_layer_desc)", fn);
    const sc_node *nd = &net->nodes[id];
    sc_layer_desc d;
    sc_node_desc(nd, &d);
    size_t size = out->size < sizeof d ? out->size : sizeof d;
    memcpy((char *)out + sizeof out->size, (const char *)&d + sizeof d.size,
           size - sizeof d.size);
    if (inputs)
        for (int i = 0; i < nd->n_in; i++)
            inputs[i] = nd->in[i];
    if (n_inputs)
        *n_inputs = nd->n_in;
    return SC_OK;
}
