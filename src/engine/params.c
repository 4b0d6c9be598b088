/* params.c -- the flat parameter and state buffers, laid out by group. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/net.h"
#include "optim/optimizer.h"

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
                nd->poff[s] = nd->pn[s] ? off : SC_NONE;
                off += nd->pn[s];
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

sc_status sc_params_relayout(sc_net *net, const size_t *pmap,
                             const size_t *smap, size_t new_np, size_t new_ns)
{
    float *params = calloc(new_np ? new_np : 1, sizeof(float));
    float *grads = calloc(new_np ? new_np : 1, sizeof(float));
    float *state = calloc(new_ns ? new_ns : 1, sizeof(float));
    size_t n_live = 0;
    for (int i = 0; i < net->n_nodes; i++)
        n_live += (size_t)net->nodes[i].c;
    float *live = calloc(n_live, sizeof(float));
    if (!params || !grads || !state || !live) {
        free(params);
        free(grads);
        free(state);
        free(live);
        return sc_fail(SC_ERR_NOMEM, "out of memory for %zu parameters",
                       new_np);
    }
    if (net->opt && sc_optimizer_remap(net->opt, pmap, new_np) != SC_OK) {
        free(params);
        free(grads);
        free(state);
        free(live);
        return SC_ERR_NOMEM;
    }
    sc_gather(params, net->params, pmap, new_np);
    sc_gather(state, net->state, smap, new_ns);
    free(net->params);
    free(net->grads);
    free(net->state);
    free(net->live);
    net->live = live;
    for (int i = 0; i < net->n_nodes; i++) {
        net->nodes[i].live = live;
        live += net->nodes[i].c;
    }
    net->params = params;
    net->grads = grads;
    net->state = state;
    net->n_params = new_np;
    net->n_state = new_ns;
    net->plan_dirty = 1;
    return SC_OK;
}
