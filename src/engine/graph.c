/* graph.c -- appending layers: inputs checked, shapes inferred by the op. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "ops/ops.h"

int sc_slot_group(int slot)
{
    switch (slot) {
    case P_W:
        return SC_GROUP_WEIGHTS;
    case P_QB:
        return SC_GROUP_QUANT_BITS;
    case P_QE:
        return SC_GROUP_QUANT_EXP;
    default:
        return SC_GROUP_BIASES;
    }
}

/* The limits of net.h on a node whose shape its op has just set. */
static sc_status check_limits(const sc_node *nd)
{
    size_t hw, chw;
    if (nd->c <= 0 || nd->h <= 0 || nd->w <= 0 ||
        !sc_mul_ok((size_t)nd->h, (size_t)nd->w, &hw) ||
        !sc_mul_ok(hw, (size_t)nd->c, &chw) || chw > SC_MAX_SAMPLE_FLOATS)
        return sc_fail(SC_ERR_SHAPE, "%s: output %dx%dx%d per sample is more "
                       "than the limit of 2^28 floats", sc_ops[nd->kind].name,
                       nd->c, nd->h, nd->w);
    if (nd->pn[P_W] > SC_MAX_LAYER_WEIGHTS)
        return sc_fail(SC_ERR_SHAPE, "%s: %zu weights is more than the limit "
                       "of 2^28", sc_ops[nd->kind].name, nd->pn[P_W]);
    return SC_OK;
}

sc_status sc_net_append(sc_net *net, sc_node *proto, int *id, const char *fn)
{
    SC_CHECK_NULL(net, fn);
    SC_CHECK_NULL(id, fn);
    if (net->initialized)
        return sc_fail(SC_ERR_STATE,
                       "%s: layers cannot be added after sc_net_init()", fn);
    return sc_graph_add(net, proto, id);
}

sc_status sc_graph_add(sc_net *net, sc_node *proto, int *id)
{
    for (int i = 0; i < proto->n_in; i++)
        if (proto->in[i] < 0 || proto->in[i] >= net->n_nodes)
            return sc_fail(SC_ERR_ARG, "%s: input layer id %d does not exist "
                           "(the net has %d layers)",
                           sc_ops[proto->kind].name, proto->in[i], net->n_nodes);
    if (net->n_nodes == net->cap_nodes) {
        int cap = net->cap_nodes ? 2 * net->cap_nodes : 16;
        sc_node *nodes = realloc(net->nodes, (size_t)cap * sizeof *nodes);
        if (nodes == NULL)
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory",
                           sc_ops[proto->kind].name);
        net->nodes = nodes;
        net->cap_nodes = cap;
    }
    sc_node *nd = &net->nodes[net->n_nodes];
    *nd = *proto;
    for (int s = 0; s < P_SLOTS; s++) {
        nd->poff[s] = SC_NONE;
        nd->pn[s] = 0;
    }
    for (int s = 0; s < S_SLOTS; s++) {
        nd->soff[s] = SC_NONE;
        nd->sn[s] = 0;
    }
    sc_status st = sc_ops[nd->kind].fn(net, nd, OP_SHAPE);
    if (st != SC_OK)
        return st; /* the slot stays unused: n_nodes is unchanged */
    if ((st = check_limits(nd)) != SC_OK)
        return st;
    if (sc_is_weighted(nd))
        nd->n0 = (int64_t)nd->pn[P_W];
    *id = net->n_nodes++;
    return SC_OK;
}
