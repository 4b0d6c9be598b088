/* params.c -- the flat parameter and state buffers, laid out by group. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/net.h"

void sc_params_offsets(sc_net *net, size_t *np, size_t *ns)
{
    size_t off = 0;
    for (int g = 0; g < SC_GROUP_COUNT; g++) {
        net->group_off[g] = off;
        for (int i = 0; i < net->n_nodes; i++) {
            sc_node *nd = &net->nodes[i];
            for (int s = 0; s < P_SLOTS; s++) {
                if (sc_slot_group(s) != g)
                    continue;
                size_t n = s == P_W && nd->int_weights ? 0 : nd->pn[s];
                nd->poff[s] = n ? off : SC_NONE;
                off += n;
            }
        }
    }
    net->group_off[SC_GROUP_COUNT] = off;
    *np = off;
    off = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        for (int s = 0; s < S_SLOTS; s++) {
            nd->soff[s] = nd->sn[s] ? off : SC_NONE;
            off += nd->sn[s];
        }
    }
    *ns = off;
}

float *sc_node_param(sc_net *net, sc_node *nd, int slot)
{
    return nd->poff[slot] == SC_NONE ? NULL : net->params + nd->poff[slot];
}

float *sc_node_grad(sc_net *net, sc_node *nd, int slot)
{
    return nd->poff[slot] == SC_NONE ? NULL : net->grads + nd->poff[slot];
}

float *sc_node_state(sc_net *net, sc_node *nd, int slot)
{
    return nd->soff[slot] == SC_NONE ? NULL : net->state + nd->soff[slot];
}

/* out[i] = old[map[i]] (0 where map[i] is SC_NONE or map is NULL) */
void sc_gather(float *out, const float *old, const size_t *map, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (map && map[i] != SC_NONE) ? old[map[i]] : 0.0f;
}

sc_status sc_params_stage(sc_net *net, size_t new_np, size_t new_ns,
                          sc_layout *l)
{
    size_t n_live = 0;
    for (int i = 0; i < net->n_nodes; i++)
        n_live += (size_t)net->nodes[i].c;
    *l = (sc_layout){calloc(new_np ? new_np : 1, sizeof(float)),
                     net->forward_only
                         ? NULL : calloc(new_np ? new_np : 1, sizeof(float)),
                     calloc(new_ns ? new_ns : 1, sizeof(float)),
                     calloc(n_live ? n_live : 1, sizeof(float)), new_np, new_ns};
    if (!l->params || (!l->grads && !net->forward_only) || !l->state ||
        !l->live) {
        sc_params_unstage(l);
        return sc_fail(SC_ERR_NOMEM, "out of memory for %zu parameters",
                       new_np);
    }
    return SC_OK;
}

void sc_params_unstage(sc_layout *l)
{
    free(l->params);
    free(l->grads);
    free(l->state);
    free(l->live);
    *l = (sc_layout){0};
}

void sc_params_commit(sc_net *net, sc_layout *l, const size_t *pmap,
                      const size_t *smap)
{
    sc_calib_drop(net); /* the layers the ranges were measured on changed */
    sc_gather(l->params, net->params, pmap, l->np);
    sc_gather(l->state, net->state, smap, l->ns);
    free(net->params);
    free(net->grads);
    free(net->state);
    free(net->live);
    net->live = l->live;
    float *live = l->live;
    for (int i = 0; i < net->n_nodes; i++) {
        net->nodes[i].live = live;
        live += net->nodes[i].c;
    }
    net->params = l->params;
    net->grads = l->grads;
    net->state = l->state;
    net->n_params = l->np;
    net->n_state = l->ns;
    net->plan_dirty = 1;
    *l = (sc_layout){0};
}

sc_status sc_params_relayout(sc_net *net, const size_t *pmap,
                             const size_t *smap, size_t new_np, size_t new_ns)
{
    if (net->opt) /* its moments would not follow */
        return sc_fail(SC_ERR_STATE, "sc_params_relayout: the net has an "
                       "optimizer (sc_optimizer_relayout moves it along)");
    sc_layout l;
    sc_status st = sc_params_stage(net, new_np, new_ns, &l);
    if (st == SC_OK)
        sc_params_commit(net, &l, pmap, smap);
    return st;
}
