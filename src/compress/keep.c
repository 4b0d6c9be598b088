/* keep.c -- which units of every node a compress removes.
 *
 * Start: a quantised output channel of a layer that opens a channel space
 * (SC_CHAN_NEW: dense, conv) with b <= 0 is dead; the verdict flows forward
 * through channel-wise layers, concatenations and flatten, and a joined
 * unit (add) is dead when it is dead in every input. How a layer maps
 * channels is its op table line (ops.c). Then constraints flow both ways
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

/* The units of input k of node nd. */
static unsigned char *in_units(const sc_cplan *p, const sc_node *nd, int k)
{
    return p->gone + p->uoff[nd->in[k]];
}

static int propagate(sc_net *net, sc_cplan *p)
{
    int changed = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        unsigned char *g = p->gone + p->uoff[i];
        unsigned char *x = in_units(p, nd, 0);
        switch (sc_ops[nd->kind].chan) {
        case SC_CHAN_SOURCE:
        case SC_CHAN_NEW: /* a new space: any input may go */
            break;
        case SC_CHAN_JOIN: /* a unit goes only where it goes everywhere */
            for (int u = 0; u < nd->c; u++) {
                unsigned char all = g[u], any = g[u];
                for (int k = 0; k < nd->n_in; k++) {
                    all &= in_units(p, nd, k)[u];
                    any |= in_units(p, nd, k)[u];
                }
                if (all || !any)
                    continue;
                g[u] = 0;
                for (int k = 0; k < nd->n_in; k++)
                    in_units(p, nd, k)[u] = 0;
                changed = 1;
            }
            break;
        case SC_CHAN_CONCAT: { /* each input's units are a run of ours */
            int at = 0;
            for (int k = 0; k < nd->n_in; k++) {
                unsigned char *xk = in_units(p, nd, k);
                int ck = net->nodes[nd->in[k]].c;
                for (int u = 0; u < ck; u++)
                    changed |= join(&g[at + u], &xk[u]);
                at += ck;
            }
            break;
        }
        case SC_CHAN_FLATTEN: {
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
        case SC_CHAN_SAME: /* channel-wise: the input's units */
            for (int u = 0; u < nd->c; u++)
                changed |= join(&g[u], &x[u]);
            break;
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
        unsigned char *x = in_units(p, nd, 0);
        switch (sc_ops[nd->kind].chan) {
        case SC_CHAN_SOURCE:
            break;
        case SC_CHAN_NEW: {
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
        case SC_CHAN_JOIN:
            memcpy(g, x, (size_t)nd->c);
            for (int k = 1; k < nd->n_in; k++)
                for (int u = 0; u < nd->c; u++)
                    g[u] &= in_units(p, nd, k)[u];
            break;
        case SC_CHAN_CONCAT: {
            size_t at = 0;
            for (int k = 0; k < nd->n_in; k++) {
                size_t ck = (size_t)net->nodes[nd->in[k]].c;
                memcpy(g + at, in_units(p, nd, k), ck);
                at += ck;
            }
            break;
        }
        case SC_CHAN_FLATTEN: {
            sc_node *in = &net->nodes[nd->in[0]];
            int hw = in->h * in->w;
            for (int f = 0; f < nd->c; f++)
                g[f] = x[f / hw];
            break;
        }
        case SC_CHAN_SAME:
            memcpy(g, x, (size_t)nd->c);
            break;
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
