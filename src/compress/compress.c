/* compress.c -- removal of dead channels in place (spec section 3).
 *
 * keep.c decides which units go, fold.c what they still contributed; here
 * the nodes get their new shapes (producers their kept channel count, every
 * other node through its op's OP_SHAPE), the parameters and running
 * statistics are gathered into the new layout (sc_optimizer_relayout, which
 * moves the optimizer's state along the same map) and the folded constants
 * are added to the consumers' biases or constant maps (cbias; and tbias,
 * the training-mode map an older checkpoint may bring). Everything that
 * can fail is allocated before the net changes; on failure the nodes are
 * put back as they were. */
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/error.h"
#include "core/log.h"
#include "ops/ops.h"
#include "optim/optimizer.h"

/* Old indices of the kept units of node i, into kept (newc[i] ints). */
static void kept_units(const sc_cplan *p, const sc_node *old, int i, int *kept)
{
    const unsigned char *g = p->gone + p->uoff[i];
    int r = 0;
    for (int u = 0; u < old[i].c; u++)
        if (!g[u])
            kept[r++] = u;
}

/* Gather maps from the old layout (old nodes) to the new one (net). */
static sc_status build_maps(sc_net *net, const sc_cplan *p, const sc_node *old,
                            size_t *pmap, size_t *smap)
{
    int maxc = 1;
    for (int i = 0; i < net->n_nodes; i++)
        if (old[i].c > maxc)
            maxc = old[i].c;
    int *rows = malloc((size_t)maxc * sizeof *rows);
    int *cols = malloc((size_t)maxc * sizeof *cols);
    if (!rows || !cols) {
        free(rows);
        free(cols);
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    }
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        const sc_node *od = &old[i];
        kept_units(p, old, i, rows);
        for (int s = 0; s < P_SLOTS; s++) {
            if (nd->pn[s] == 0)
                continue;
            size_t to = nd->poff[s], from = od->poff[s];
            if (s != P_W) { /* one float per output unit */
                for (int r = 0; r < nd->c; r++)
                    pmap[to + (size_t)r] = from + (size_t)rows[r];
                continue;
            }
            int xi = nd->in[0];
            const sc_node *ox = &old[xi];
            kept_units(p, old, xi, cols);
            /* dense: columns are input features c*h*w + q; conv: each row
             * is c x kh x kw; either way a column block per input channel.
             * A grouped layer's rows read their own group's inputs, whose
             * count stays: its rows move whole */
            size_t blk = sc_weights_per_in(od, ox);
            size_t oldk = od->pn[P_W] / (size_t)od->c;
            size_t newk = nd->pn[P_W] / (size_t)nd->c;
            if (sc_groups(od) > 1) {
                for (int r = 0; r < nd->c; r++)
                    for (size_t q = 0; q < newk; q++)
                        pmap[to + (size_t)r * newk + q] =
                            from + (size_t)rows[r] * oldk + q;
                continue;
            }
            for (int r = 0; r < nd->c; r++)
                for (int c = 0; c < p->newc[xi]; c++)
                    for (size_t q = 0; q < blk; q++)
                        pmap[to + (size_t)r * newk + (size_t)c * blk + q] =
                            from + (size_t)rows[r] * oldk +
                            (size_t)cols[c] * blk + q;
        }
        for (int s = 0; s < S_SLOTS; s++)
            for (size_t r = 0; r < nd->sn[s]; r++)
                smap[nd->soff[s] + r] = od->soff[s] + (size_t)rows[r];
    }
    free(rows);
    free(cols);
    return SC_OK;
}

/* A new constant map of node i (NULL when it needs none), its kept rows
 * only: in eval mode (train 0) the old cbias plus the fold that does not go
 * into the bias; in training mode, where the node has a map of its own
 * (a checkpoint of format 2 or 3 may bring one), that map plus the fold
 * less what went into the bias. */
static sc_status new_map(const sc_cplan *p, const sc_node *old, int i,
                         int train, float **out)
{
    const sc_node *od = &old[i];
    const float *fold = p->fold[i], *base = od->cbias;
    const float *add = p->to_bias[i] ? NULL : fold;
    size_t hw = (size_t)od->h * od->w;
    int need = od->cbias != NULL;
    if (train) {
        base = od->tbias;
        add = fold;
        need = od->tbias != NULL;
    } else if (add && !need) { /* a fold of zeros needs no map */
        for (size_t q = 0; q < (size_t)od->c * hw && !need; q++)
            need = add[q] != 0.0f;
    }
    *out = NULL;
    if (!need)
        return SC_OK;
    float *cb = malloc((size_t)p->newc[i] * hw * sizeof(float));
    if (!cb)
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    const unsigned char *g = p->gone + p->uoff[i];
    size_t r = 0;
    for (int u = 0; u < od->c; u++) {
        if (g[u])
            continue;
        /* the training map leaves out what the bias got */
        float in_bias = train && fold && p->to_bias[i] ? fold[(size_t)u * hw]
                                                       : 0.0f;
        for (size_t q = 0; q < hw; q++) {
            size_t at = (size_t)u * hw + q;
            cb[r * hw + q] = (base ? base[at] : 0.0f) +
                             (add ? add[at] - in_bias : 0.0f);
        }
        r++;
    }
    *out = cb;
    return SC_OK;
}

static sc_status relayout(sc_net *net, const sc_cplan *p)
{
    int n = net->n_nodes;
    sc_node *old = malloc((size_t)n * sizeof *old);
    float **cb = calloc((size_t)n, sizeof *cb);
    float **tb = calloc((size_t)n, sizeof *tb);
    size_t *pmap = NULL, *smap = NULL;
    sc_status st = SC_OK;
    if (!old || !cb || !tb) {
        st = sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
        goto out;
    }
    memcpy(old, net->nodes, (size_t)n * sizeof *old);
    for (int i = 1; i < n && st == SC_OK; i++) {
        sc_node *nd = &net->nodes[i];
        if (sc_is_weighted(nd))
            nd->c = p->newc[i];
        if (sc_groups(nd) > 1) /* whole groups went: as many inputs each */
            nd->groups = p->newc[nd->in[0]] / (old[nd->in[0]].c / old[i].groups);
        st = sc_ops[nd->kind].fn(net, nd, OP_SHAPE);
        if (nd->quantized)
            nd->pn[P_QB] = nd->pn[P_QE] = (size_t)nd->c;
        if (st == SC_OK && (nd->c != p->newc[i] || nd->h != old[i].h ||
                            nd->w != old[i].w))
            st = sc_fail(SC_ERR_STATE, "sc_net_compress: layer %d: "
                         "inconsistent channel removal", i);
    }
    size_t np = 0, ns = 0;
    if (st == SC_OK) {
        sc_params_offsets(net, &np, &ns);
        pmap = malloc((np ? np : 1) * sizeof *pmap);
        smap = malloc((ns ? ns : 1) * sizeof *smap);
        if (!pmap || !smap)
            st = sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    }
    if (st == SC_OK)
        st = build_maps(net, p, old, pmap, smap);
    for (int i = 1; i < n && st == SC_OK; i++) {
        st = new_map(p, old, i, 0, &cb[i]);
        if (st == SC_OK)
            st = new_map(p, old, i, 1, &tb[i]);
    }
    if (st == SC_OK)
        st = sc_optimizer_relayout(net, pmap, smap, np, ns);
    if (st != SC_OK) { /* put the nodes back */
        memcpy(net->nodes, old, (size_t)n * sizeof *old);
        sc_params_offsets(net, &np, &ns);
        for (int i = 0; i < n; i++) {
            free(cb[i]);
            free(tb[i]);
        }
        goto out;
    }
    for (int i = 1; i < n; i++) {
        sc_node *nd = &net->nodes[i];
        free(old[i].cbias);
        free(old[i].tbias);
        nd->cbias = cb[i];
        nd->tbias = tb[i];
        if (!p->fold[i] || !p->to_bias[i])
            continue;
        float *bias = sc_node_param(net, nd, P_B);
        const unsigned char *g = p->gone + p->uoff[i];
        size_t hw = (size_t)nd->h * nd->w, r = 0;
        for (int u = 0; u < old[i].c; u++)
            if (!g[u])
                bias[r++] += p->fold[i][(size_t)u * hw];
    }
out:
    free(pmap);
    free(smap);
    free(cb);
    free(tb);
    free(old);
    return st;
}

SC_API sc_status sc_net_compress(sc_net *net, int *removed)
{
    SC_CHECK_NULL(net, "sc_net_compress");
    if (!net->initialized)
        return sc_fail(SC_ERR_STATE, "sc_net_compress: call sc_net_init() "
                       "first");
    sc_cplan p = {0};
    sc_status st = sc_cplan_keep(net, &p);
    int count = p.removed;
    size_t params0 = net->n_params;
    if (st == SC_OK && count > 0) {
        st = sc_cplan_fold(net, &p);
        if (st == SC_OK)
            st = relayout(net, &p);
    }
    sc_cplan_free(&p);
    if (st == SC_OK && count > 0)
        sc_log(&net->hooks.log, SC_LOG_INFO, "compress: removed %d channel%s, "
               "parameters %zu -> %zu", count, count == 1 ? "" : "s",
               params0, net->n_params);
    if (st == SC_OK && removed)
        *removed = count;
    return st;
}
