/* keep.c -- which units of every node a compress removes.
 *
 * Start: a quantised dense/conv output channel with b <= 0 is dead; the
 * verdict flows forward through channel-wise layers and flatten, and an add
 * unit is dead when both of its inputs are. Then constraints flow both ways
 * until nothing changes: units that share a space go together (an add unit
 * only when every branch has it dead, a channel before a flatten only with
 * all of its features), and the last node keeps all of its units. Units only
 * ever go from "removed" to "kept", so the loop ends. */
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/error.h"

/* Sets units a and b to their conjunction; returns 1 when one changed. */
static int join(unsigned char *a, unsigned char *b)
{
    if (*a == *b)
        return 0;
    *a = *b = 0;
    return 1;
}

static int propagate(sc_net *net, sc_cplan *p)
{
    int changed = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        unsigned char *g = p->gone + p->uoff[i];
        unsigned char *x = p->gone + p->uoff[nd->in[0]];
        switch (nd->kind) {
        case SC_LAYER_DENSE:
        case SC_LAYER_CONV2D: /* a new space: any input may go */
            break;
        case SC_LAYER_ADD: {
            unsigned char *y = p->gone + p->uoff[nd->in[1]];
            for (int u = 0; u < nd->c; u++)
                if (!(g[u] && x[u] && y[u]) && (g[u] || x[u] || y[u])) {
                    g[u] = x[u] = y[u] = 0;
                    changed = 1;
                }
            break;
        }
        case SC_LAYER_FLATTEN: {
            sc_node *in = &net->nodes[nd->in[0]];
            int hw = in->h * in->w;
            for (int u = 0; u < in->c; u++) {
                unsigned char all = x[u];
                for (int q = 0; q < hw; q++)
                    all &= g[u * hw + q];
                if (all)
                    continue;
                changed |= x[u];
                x[u] = 0;
                for (int q = 0; q < hw; q++) {
                    changed |= g[u * hw + q];
                    g[u * hw + q] = 0;
                }
            }
            break;
        }
        default: /* channel-wise: the input's units */
            for (int u = 0; u < nd->c; u++)
                changed |= join(&g[u], &x[u]);
        }
    }
    return changed;
}

sc_status sc_cplan_keep(sc_net *net, sc_cplan *p)
{
    int n = net->n_nodes;
    p->n = n;
    p->uoff = malloc(((size_t)n + 1) * sizeof *p->uoff);
    p->newc = malloc((size_t)n * sizeof *p->newc);
    if (!p->uoff || !p->newc)
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    p->uoff[0] = 0;
    for (int i = 0; i < n; i++)
        p->uoff[i + 1] = p->uoff[i] + (size_t)net->nodes[i].c;
    p->gone = calloc(p->uoff[n] ? p->uoff[n] : 1, 1);
    if (!p->gone)
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");

    /* forward: where death starts and how far it flows */
    for (int i = 1; i < n; i++) {
        sc_node *nd = &net->nodes[i];
        unsigned char *g = p->gone + p->uoff[i];
        unsigned char *x = p->gone + p->uoff[nd->in[0]];
        switch (nd->kind) {
        case SC_LAYER_DENSE:
        case SC_LAYER_CONV2D: {
            if (!nd->quantized)
                break;
            const float *b = sc_node_param(net, nd, P_QB);
            int alive = 0;
            for (int u = 0; u < nd->c; u++) {
                g[u] = b[u] <= 0.0f;
                alive += !g[u];
            }
            if (!alive)
                g[0] = 0; /* keep one (dead, all-zero) channel: no empty
                             tensors */
            break;
        }
        case SC_LAYER_ADD: {
            unsigned char *y = p->gone + p->uoff[nd->in[1]];
            for (int u = 0; u < nd->c; u++)
                g[u] = x[u] && y[u];
            break;
        }
        case SC_LAYER_FLATTEN: {
            sc_node *in = &net->nodes[nd->in[0]];
            int hw = in->h * in->w;
            for (int f = 0; f < nd->c; f++)
                g[f] = x[f / hw];
            break;
        }
        default:
            memcpy(g, x, (size_t)nd->c);
        }
    }
    /* the logits keep their count */
    memset(p->gone + p->uoff[n - 1], 0, (size_t)net->nodes[n - 1].c);
    while (propagate(net, p))
        ;
    p->removed = 0;
    for (int i = 0; i < n; i++) {
        int gone = 0;
        for (size_t u = p->uoff[i]; u < p->uoff[i + 1]; u++)
            gone += p->gone[u];
        p->newc[i] = net->nodes[i].c - gone;
        if (sc_is_weighted(&net->nodes[i]))
            p->removed += gone;
    }
    return SC_OK;
}

void sc_cplan_free(sc_cplan *p)
{
    for (int i = 0; i < p->n; i++) {
        if (p->fold)
            free(p->fold[i]);
        if (p->tfold)
            free(p->tfold[i]);
    }
    free(p->fold);
    free(p->tfold);
    free(p->to_bias);
    free(p->newc);
    free(p->gone);
    free(p->uoff);
    memset(p, 0, sizeof *p);
}
