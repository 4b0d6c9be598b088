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
 * ever go from "removed" to "kept", so the loop ends.
 *
 * A grouped layer (conv with groups > 1) keeps its groups whole: its output
 * channels read only their group's inputs, and every group keeps as many
 * as the others. Compress removes whole groups of a quantised layer with
 * one input channel per group (a depthwise convolution): a group goes
 * when its input channel goes (its outputs are then constant) or when
 * every output of the group is dead and nothing else needs the input
 * channel (a unit no reader needs is removed like a dead one: "needed"
 * flows backward from the last node). Any other grouped layer keeps all
 * of its inputs and outputs. */
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

/* A layer whose groups compress may remove: quantised, grouped, one input
 * channel per group. */
static int removes_groups(const sc_net *net, const sc_node *nd)
{
    return nd->quantized && sc_groups(nd) > 1 &&
           net->nodes[nd->in[0]].c == sc_groups(nd);
}

static int x_c(const sc_net *net, const sc_node *nd)
{
    return net->nodes[nd->in[0]].c;
}

/* The units of a grouped layer: each group's input unit with its outputs
 * (a layer that removes groups), or every unit kept; 1 when one changed. */
static int keep_groups(sc_net *net, sc_node *nd, unsigned char *g,
                       unsigned char *x)
{
    int changed = 0, cin = x_c(net, nd);
    if (!removes_groups(net, nd)) {
        for (int u = 0; u < cin; u++) {
            changed |= x[u];
            x[u] = 0;
        }
        for (int u = 0; u < nd->c; u++) {
            changed |= g[u];
            g[u] = 0;
        }
        return changed;
    }
    int per = nd->c / cin;
    for (int k = 0; k < cin; k++) {
        unsigned char all = x[k];
        for (int u = k * per; u < (k + 1) * per; u++)
            all &= g[u];
        if (all)
            continue;
        changed |= x[k];
        x[k] = 0;
        for (int u = k * per; u < (k + 1) * per; u++) {
            changed |= g[u];
            g[u] = 0;
        }
    }
    return changed;
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
            break;
        case SC_CHAN_NEW: /* a new space: any input may go, but groups */
            if (sc_groups(nd) > 1)
                changed |= keep_groups(net, nd, g, x);
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

/* Marks removed the units no reader needs: a depthwise group's input when
 * every output of the group is dead, and what only such inputs read, back
 * to the layer that computes them. need[] runs backward from the last
 * node. */
static sc_status unneeded(sc_net *net, sc_cplan *p)
{
    int n = net->n_nodes;
    unsigned char *need = calloc(p->uoff[n] ? p->uoff[n] : 1, 1);
    if (!need)
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    memset(need + p->uoff[n - 1], 1, (size_t)net->nodes[n - 1].c);
    for (int i = n - 1; i >= 1; i--) {
        sc_node *nd = &net->nodes[i];
        unsigned char *me = need + p->uoff[i];
        unsigned char *x = need + p->uoff[nd->in[0]];
        switch (sc_ops[nd->kind].chan) {
        case SC_CHAN_SOURCE:
            break;
        case SC_CHAN_NEW:
            if (removes_groups(net, nd)) {
                const float *b = sc_node_param(net, nd, P_QB);
                int per = nd->c / x_c(net, nd);
                for (int u = 0; u < nd->c; u++)
                    x[u / per] |= me[u] && b[u] > 0.0f;
            } else {
                memset(x, 1, (size_t)x_c(net, nd));
            }
            break;
        case SC_CHAN_JOIN:
            for (int k = 0; k < nd->n_in; k++)
                for (int u = 0; u < nd->c; u++)
                    need[p->uoff[nd->in[k]] + (size_t)u] |= me[u];
            break;
        case SC_CHAN_CONCAT: {
            size_t at = 0;
            for (int k = 0; k < nd->n_in; k++) {
                int ck = net->nodes[nd->in[k]].c;
                for (int u = 0; u < ck; u++)
                    need[p->uoff[nd->in[k]] + (size_t)u] |= me[at + (size_t)u];
                at += (size_t)ck;
            }
            break;
        }
        case SC_CHAN_FLATTEN: {
            sc_node *in = &net->nodes[nd->in[0]];
            int hw = in->h * in->w;
            for (int f = 0; f < nd->c; f++)
                x[f / hw] |= me[f];
            break;
        }
        case SC_CHAN_SAME:
            for (int u = 0; u < nd->c; u++)
                x[u] |= me[u];
            break;
        }
    }
    /* a unit nobody needs goes, but in the spaces of layers that never
     * lose units (the input, an unquantised layer): the kept-together
     * rules of propagate() put those back. A quantised layer keeps one
     * unit (group). */
    for (int i = 1; i < n; i++) {
        sc_node *nd = &net->nodes[i];
        int opens = sc_ops[nd->kind].chan == SC_CHAN_NEW;
        if (opens && !nd->quantized)
            continue;
        unsigned char *g = p->gone + p->uoff[i];
        int alive = 0;
        for (int u = 0; u < nd->c; u++) {
            g[u] |= !need[p->uoff[i] + (size_t)u];
            alive += !g[u];
        }
        if (opens && !alive)
            memset(g, 0, removes_groups(net, nd) ? (size_t)(nd->c / x_c(net, nd)) : 1);
    }
    free(need);
    return SC_OK;
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
            int alive = 0, per = removes_groups(net, nd) ? nd->c / x_c(net, nd) : 0;
            for (int u = 0; u < nd->c; u++) {
                /* dead, or (a depthwise group) reading a removed input */
                g[u] = b[u] <= 0.0f || (per && x[u / per]);
                alive += !g[u];
            }
            if (!alive) /* keep one (dead, all-zero) channel, or group: no
                           empty tensors */
                memset(g, 0, per ? (size_t)per : 1);
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
    sc_status st = unneeded(net, p);
    if (st != SC_OK)
        return st;
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
    }
    free(p->fold);
    free(p->to_bias);
    free(p->newc);
    free(p->gone);
    free(p->uoff);
    memset(p, 0, sizeof *p);
}
