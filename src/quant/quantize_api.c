/* quantize_api.c -- turning self-compression on per layer, and access to
 * each layer's bit depths and exponents. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"
#include "optim/optimizer.h"
#include "quant/quantizer.h"

SC_API sc_status sc_net_quantize(sc_net *net, int id)
{
    const char *fn = "sc_net_quantize";
    SC_CHECK_NULL(net, fn);
    if (!net->initialized)
        return sc_fail(SC_ERR_STATE, "%s: call sc_net_init() first", fn);
    if (id != SC_ALL_LAYERS &&
        (id < 1 || id >= net->n_nodes || !sc_is_weighted(&net->nodes[id])))
        return sc_fail(SC_ERR_ARG, "%s: layer %d is not a dense or conv layer",
                       fn, id);
    /* old layout, kept to build the map and to roll back */
    int nn = net->n_nodes;
    size_t(*old)[P_SLOTS] = malloc((size_t)nn * sizeof *old);
    int *was = malloc((size_t)nn * sizeof *was);
    if (!old || !was) {
        free(old);
        free(was);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    }
    for (int i = 0; i < nn; i++) {
        sc_node *nd = &net->nodes[i];
        memcpy(old[i], nd->poff, sizeof old[i]);
        was[i] = nd->quantized;
        if (sc_is_weighted(nd) && (id == SC_ALL_LAYERS || id == i) && !nd->quantized) {
            nd->quantized = 1;
            nd->pn[P_QB] = nd->pn[P_QE] = (size_t)nd->c;
        }
    }
    size_t np, ns;
    sc_params_offsets(net, &np, &ns);
    size_t *map = malloc((np ? np : 1) * sizeof *map);
    sc_status st = map ? SC_OK : sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    if (st == SC_OK) {
        for (int i = 0; i < nn; i++) {
            sc_node *nd = &net->nodes[i];
            for (int s = 0; s < P_SLOTS; s++)
                for (size_t k = 0; k < nd->pn[s]; k++)
                    map[nd->poff[s] + k] = old[i][s] == SC_NONE ? SC_NONE : old[i][s] + k;
        }
        /* state keeps its layout: identity map */
        size_t *smap = malloc((ns ? ns : 1) * sizeof *smap);
        if (smap == NULL) {
            st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
        } else {
            for (size_t k = 0; k < ns; k++)
                smap[k] = k;
            st = sc_optimizer_relayout(net, map, smap, np, ns);
            free(smap);
        }
    }
    if (st != SC_OK) { /* roll back */
        for (int i = 0; i < nn; i++) {
            sc_node *nd = &net->nodes[i];
            memcpy(nd->poff, old[i], sizeof old[i]);
            if (!was[i] && nd->quantized) {
                nd->quantized = 0;
                nd->pn[P_QB] = nd->pn[P_QE] = 0;
            }
        }
        sc_params_offsets(net, &np, &ns);
    } else {
        net->host_n = 0;
        net->n0 = 0;
        for (int i = 0; i < nn; i++) {
            sc_node *nd = &net->nodes[i];
            if (!nd->quantized)
                continue;
            net->n0 += nd->n0;
            if (was[i])
                continue;
            float *w = sc_node_param(net, nd, P_W), *b = sc_node_param(net, nd, P_QB),
                  *e = sc_node_param(net, nd, P_QE);
            size_t k = nd->pn[P_W] / (size_t)nd->c;
            for (int o = 0; o < nd->c; o++) {
                float m = 0.0f;
                for (size_t j = 0; j < k; j++)
                    m = fmaxf(m, fabsf(w[(size_t)o * k + j]));
                b[o] = (float)fmin(net->quant_b0, net->quant_b_max);
                e[o] = isnan(net->quant_e0)
                           ? sc_quant_initial_exponent(m, b[o], -8.0f)
                           : (float)net->quant_e0;
            }
        }
    }
    free(map);
    free(old);
    free(was);
    return st;
}

SC_API int sc_net_is_quantized(const sc_net *net, int id)
{
    return net && id >= 0 && id < net->n_nodes && net->nodes[id].quantized;
}

static sc_status quant_layer(const sc_net *net, int id, size_t count,
                             const char *fn)
{
    SC_CHECK_NULL(net, fn);
    if (id < 0 || id >= net->n_nodes || !net->nodes[id].quantized)
        return sc_fail(SC_ERR_ARG, "%s: layer %d is not quantised", fn, id);
    if (count != (size_t)net->nodes[id].c)
        return sc_fail(SC_ERR_SHAPE, "%s: count %zu != the layer's %d channels",
                       fn, count, net->nodes[id].c);
    return SC_OK;
}

SC_API sc_status sc_net_get_quant(const sc_net *net, int id, float *b,
                                  float *e, size_t count)
{
    sc_status st = quant_layer(net, id, count, "sc_net_get_quant");
    if (st != SC_OK)
        return st;
    sc_net *mnet = (sc_net *)net;
    sc_node *nd = &mnet->nodes[id];
    if (b)
        memcpy(b, sc_node_param(mnet, nd, P_QB), count * sizeof(float));
    if (e)
        memcpy(e, sc_node_param(mnet, nd, P_QE), count * sizeof(float));
    return SC_OK;
}

SC_API sc_status sc_net_set_quant(sc_net *net, int id, const float *b,
                                  const float *e, size_t count)
{
    sc_status st = quant_layer(net, id, count, "sc_net_set_quant");
    if (st != SC_OK)
        return st;
    for (size_t i = 0; i < count; i++)
        if (!sc_quant_in_range(b ? b[i] : 0.0f, e ? e[i] : 0.0f,
                               (float)net->quant_b_max))
            return sc_fail(SC_ERR_ARG,
                           "sc_net_set_quant: channel %zu: b must be finite and "
                           "<= %g (SC_PARAM_QUANT_B_MAX), e finite in "
                           "[-64, 64]", i, net->quant_b_max);
    sc_node *nd = &net->nodes[id];
    if (b)
        memcpy(sc_node_param(net, nd, P_QB), b, count * sizeof(float));
    if (e)
        memcpy(sc_node_param(net, nd, P_QE), e, count * sizeof(float));
    net->host_n = 0;
    sc_calib_drop(net); /* the layer's effective weights changed */
    return SC_OK;
}

sc_status sc_quant_check_ranges(sc_net *net, sc_status status, const char *fn)
{
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->quantized || nd->pn[P_QB] == 0)
            continue;
        const float *b = sc_node_param(net, nd, P_QB);
        const float *e = sc_node_param(net, nd, P_QE);
        for (int o = 0; o < nd->c; o++)
            if (!sc_quant_in_range(b[o], e[o], (float)net->quant_b_max))
                return sc_fail(status, "%s: layer %d channel %d has bit depth "
                               "%g and exponent %g (b must be finite and <= %g, "
                               "e finite in [-64, 64])", fn, i, o,
                               (double)b[o], (double)e[o], net->quant_b_max);
    }
    return SC_OK;
}

void sc_quant_clamp_ranges(sc_net *net)
{
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->quantized || nd->pn[P_QB] == 0)
            continue;
        float *b = sc_node_param(net, nd, P_QB), *e = sc_node_param(net, nd, P_QE);
        for (int o = 0; o < nd->c; o++) {
            b[o] = fminf(b[o], fminf((float)net->quant_b_max, SC_QUANT_MAX_BITS));
            e[o] = fminf(fmaxf(e[o], -SC_QUANT_MAX_EXP), SC_QUANT_MAX_EXP);
        }
    }
}
