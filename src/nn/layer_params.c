/* layer_params.c -- one layer's parameters and running statistics by slot,
 * in PyTorch's layouts (which are the library's own: conv weights
 * [out][in / groups][kh][kw], dense weights [out][in features], the
 * features in (c, h, w) order as a flatten of NCHW); and internally a
 * dense/conv layer's constant map (layer_params.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/layer_params.h"
#include "ops/ops.h"
#include "quant/mantissa.h"

/* Where slot lives in layer id: *buf (params or state) and its offset
 * and count; SC_ERR_ARG with a message when it has no such slot,
 * SC_ERR_SHAPE when count (SIZE_MAX: any) is not its count. */
static sc_status locate(const sc_net *net, int id, sc_layer_slot slot,
                        size_t count, float **buf, size_t *off, size_t *n,
                        const char *fn)
{
    SC_CHECK_NULL(net, fn);
    if (!net->initialized)
        return sc_fail(SC_ERR_STATE, "%s: call sc_net_init() first", fn);
    if (id <= 0 || id >= net->n_nodes)
        return sc_fail(SC_ERR_ARG, "%s: layer id %d is not an added layer "
                       "(1 .. %d)", fn, id, net->n_nodes - 1);
    static const struct { int param, index; const char *name; } slots[] = {
        [SC_SLOT_WEIGHT] = {1, P_W, "weights"},
        [SC_SLOT_BIAS] = {1, P_B, "a bias"},
        [SC_SLOT_NORM_SCALE] = {1, P_GAMMA, "a norm scale"},
        [SC_SLOT_NORM_SHIFT] = {1, P_BETA, "a norm shift"},
        [SC_SLOT_RUNNING_MEAN] = {0, S_MEAN, "a running mean"},
        [SC_SLOT_RUNNING_VAR] = {0, S_VAR, "a running variance"},
    };
    if ((int)slot < 0 || (size_t)slot >= sizeof slots / sizeof slots[0])
        return sc_fail(SC_ERR_ARG, "%s: slot %d is not an sc_layer_slot", fn,
                       (int)slot);
    const sc_node *nd = &net->nodes[id];
    int k = slots[slot].index;
    size_t o = slots[slot].param ? nd->poff[k] : nd->soff[k];
    size_t c = slots[slot].param ? nd->pn[k] : nd->sn[k];
    /* a loaded model's quantised weights are integer levels (nd->mant) */
    int levels = slots[slot].param && k == P_W && nd->int_weights;
    if ((o == SC_NONE && !levels) || c == 0)
        return sc_fail(SC_ERR_ARG, "%s: layer %d (%s) has no %s", fn, id,
                       sc_ops[nd->kind].name, slots[slot].name);
    if (count != SIZE_MAX && count != c)
        return sc_fail(SC_ERR_SHAPE, "%s: layer %d's slot holds %zu floats, "
                       "not %zu", fn, id, c, count);
    *buf = slots[slot].param ? net->params : net->state;
    *off = o;
    *n = c;
    return SC_OK;
}

SC_API sc_status sc_net_layer_param_shape(const sc_net *net, int id,
                                          sc_layer_slot slot, int64_t shape[4],
                                          int *ndim)
{
    const char *fn = "sc_net_layer_param_shape";
    SC_CHECK_NULL(shape, fn);
    SC_CHECK_NULL(ndim, fn);
    float *buf;
    size_t off, n;
    sc_status st = locate(net, id, slot, SIZE_MAX, &buf, &off, &n, fn);
    if (st != SC_OK)
        return st;
    const sc_node *nd = &net->nodes[id];
    int64_t s[4] = {(int64_t)n, 0, 0, 0};
    int d = 1;
    if (slot == SC_SLOT_WEIGHT) {
        s[0] = nd->c;
        if (sc_op_flags(nd) & SC_OPF_FLAT_IN) {
            s[1] = (int64_t)(n / (size_t)nd->c);
            d = 2;
        } else {
            s[1] = net->nodes[nd->in[0]].c / sc_groups(nd);
            s[2] = nd->kh;
            s[3] = nd->kw;
            d = 4;
        }
    }
    memcpy(shape, s, sizeof s);
    *ndim = d;
    return SC_OK;
}

SC_API sc_status sc_net_get_layer_param(const sc_net *net, int id,
                                        sc_layer_slot slot, float *dst,
                                        size_t count)
{
    const char *fn = "sc_net_get_layer_param";
    SC_CHECK_NULL(dst, fn);
    float *buf;
    size_t off, n;
    sc_status st = locate(net, id, slot, count, &buf, &off, &n, fn);
    if (st != SC_OK)
        return st;
    const sc_node *nd = &net->nodes[id];
    if (slot == SC_SLOT_WEIGHT && nd->int_weights)
        sc_mantissas_dequantize(nd->mant, dst);
    else
        memcpy(dst, buf + off, n * sizeof(float));
    return SC_OK;
}

SC_API sc_status sc_net_set_layer_param(sc_net *net, int id,
                                        sc_layer_slot slot, const float *src,
                                        size_t count)
{
    const char *fn = "sc_net_set_layer_param";
    SC_CHECK_NULL(src, fn);
    float *buf;
    size_t off, n;
    sc_status st = locate(net, id, slot, count, &buf, &off, &n, fn);
    if (st != SC_OK)
        return st;
    if (slot == SC_SLOT_WEIGHT && net->nodes[id].int_weights)
        return sc_fail(SC_ERR_STATE, "%s: layer %d's weights are a loaded "
                       "model's integer levels", fn, id);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(src[i]))
            return sc_fail(SC_ERR_NONFINITE, "%s: element %zu is not finite",
                           fn, i);
        if (slot == SC_SLOT_RUNNING_VAR && src[i] < 0.0f)
            return sc_fail(SC_ERR_ARG, "%s: running variance %zu is negative "
                           "(%g)", fn, i, (double)src[i]);
    }
    memcpy(buf + off, src, n * sizeof(float));
    sc_calib_drop(net);
    return SC_OK;
}

const float *sc_layer_const_map(const sc_net *net, int id)
{
    if (net == NULL || id <= 0 || id >= net->n_nodes)
        return NULL;
    return net->nodes[id].cbias;
}

sc_status sc_layer_set_const_map(sc_net *net, int id, const float *src,
                                 size_t n, const char *fn)
{
    if (!net->initialized || id <= 0 || id >= net->n_nodes ||
        !sc_is_weighted(&net->nodes[id]))
        return sc_fail(SC_ERR_ARG, "%s: layer %d is no initialised dense or "
                       "conv layer, which alone take a constant map", fn, id);
    sc_node *nd = &net->nodes[id];
    if (n != sc_node_size(nd))
        return sc_fail(SC_ERR_ARG, "%s: layer %d's constant map holds %zu "
                       "floats, not %zu", fn, id, sc_node_size(nd), n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(src[i]))
            return sc_fail(SC_ERR_NONFINITE, "%s: layer %d's constant map "
                           "holds NaN or Inf", fn, id);
    float *m = malloc(n * sizeof *m);
    if (m == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(m, src, n * sizeof *m);
    free(nd->cbias);
    nd->cbias = m;
    return SC_OK;
}
