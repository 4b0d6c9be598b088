/* fold.c -- keeping the function: what removed units still contributed.
 *
 * A removed dense/conv channel has all-zero (quantised) weights, so it
 * outputs the same map for every sample: its bias plus its constant map
 * (cbias, or tbias in training mode). The layers after it map that constant
 * on, and a dense/conv consumer loses it as an input: what it contributed
 * there, delta = W K (K: the removed units' constants), is computed here,
 * per output position, to be folded into the consumer.
 *
 * Both come from the ops' own forward code, in a masked forward pass over a
 * batch of one: the input is zero, the nodes run one at a time, and after
 * each the maps of the units compress keeps are zeroed, so that only the
 * removed units' constants flow on. A consumer runs twice: once with its
 * bias and constant maps hidden, which leaves delta in its output, and once
 * as it is, which gives its own removed rows their constant. The pass runs
 * in training mode: a batch norm normalises a removed unit's map, the same
 * for every sample, with its own statistics (the same in a batch of one as
 * in any batch), which are also what its running statistics converge to
 * once the unit is constant. So the eval-mode function after compress is
 * that of the net whose dead channels' running statistics have caught up
 * (sc_net_update_bn_stats() on any batch brings them there); a channel that
 * died just before compress no longer carries statistics of its live past
 * into the eval-mode constant, which training after compress (in training
 * mode) would never see.
 *
 * The pass convolves directly, whatever the net's algorithm, so that the
 * folded maps have one value per class of positions (cmap.c stores them
 * so).
 *
 * The delta goes into the bias when it is the same at every position
 * (dense; conv without padding over spatially uniform constants) and the
 * layer has one, else into cbias, which both modes then add. */
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/error.h"

/* 1 when dense/conv node i reads removed units. */
static int absorbs(const sc_net *net, const sc_cplan *p, int i)
{
    const sc_node *nd = &net->nodes[i];
    if (!sc_is_weighted(nd))
        return 0;
    const unsigned char *xg = p->gone + p->uoff[nd->in[0]];
    for (int c = 0; c < net->nodes[nd->in[0]].c; c++)
        if (xg[c])
            return 1;
    return 0;
}

/* Whether every removed unit of node x has the same constant at every
 * position (x's output for the batch of one). */
static int uniform(const sc_net *net, const sc_cplan *p, int xi)
{
    const sc_node *x = &net->nodes[xi];
    const unsigned char *g = p->gone + p->uoff[xi];
    size_t hw = (size_t)x->h * x->w;
    for (int c = 0; c < x->c; c++)
        for (size_t q = 1; g[c] && q < hw; q++)
            if (x->y[(size_t)c * hw + q] != x->y[(size_t)c * hw])
                return 0;
    return 1;
}

/* W K of dense/conv node i into delta: its forward in eval mode with its
 * bias and constant maps taken away for the call. */
static void consumer_delta(sc_net *net, int i, float *delta)
{
    sc_node *nd = &net->nodes[i];
    float *cbias = nd->cbias, *tbias = nd->tbias;
    size_t boff = nd->poff[P_B];
    int mode = net->training;
    nd->cbias = nd->tbias = NULL;
    nd->poff[P_B] = SC_NONE;
    net->training = 0;
    sc_forward_nodes(net, i, i + 1);
    net->training = mode;
    nd->poff[P_B] = boff;
    nd->cbias = cbias;
    nd->tbias = tbias;
    memcpy(delta, nd->y, sc_node_size(nd) * sizeof(float));
}

/* The masked forward in the net's current mode; deltas into out[i]. */
static void masked_pass(sc_net *net, sc_cplan *p, float **out)
{
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (out[i]) {
            if (out == p->fold)
                p->to_bias[i] = (nd->flags & SC_BIAS) &&
                                ((sc_op_flags(nd) & SC_OPF_FLAT_IN) ||
                                 (nd->ph == 0 && nd->pw == 0 && uniform(net, p, nd->in[0])));
            consumer_delta(net, i, out[i]);
        }
        sc_forward_nodes(net, i, i + 1);
        const unsigned char *g = p->gone + p->uoff[i];
        size_t hw = (size_t)nd->h * nd->w;
        for (int u = 0; u < nd->c; u++)
            if (!g[u])
                memset(nd->y + (size_t)u * hw, 0, hw * sizeof(float));
    }
}

sc_status sc_cplan_fold(sc_net *net, sc_cplan *p)
{
    int n = net->n_nodes;
    p->fold = calloc((size_t)n, sizeof *p->fold);
    p->to_bias = calloc((size_t)n, 1);
    size_t in = (size_t)net->in_c * net->in_h * net->in_w;
    float *zeros = calloc(in, sizeof(float));
    int ok = p->fold && p->to_bias && zeros;
    for (int i = 1; ok && i < n; i++)
        if (absorbs(net, p, i)) {
            size_t m = sc_node_size(&net->nodes[i]);
            p->fold[i] = malloc(m * sizeof(float));
            ok = p->fold[i] != NULL;
        }
    if (!ok) {
        free(zeros);
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    }
    /* by the direct convolution, which computes every position's sum in
     * the same order: the positions a constant map gives the same inputs
     * (the interior, an edge) get the same value, bit for bit, and a map
     * keeps the few distinct values the model file stores compactly
     * (Winograd's tiles round their positions differently) */
    int algo = net->conv_algo;
    net->conv_algo = SC_CONV_ALGO_DIRECT;
    net->plan_dirty = 1;
    sc_status st = sc_plan(net, 1);
    if (st != SC_OK) {
        net->conv_algo = algo;
        free(zeros);
        return st;
    }
    /* in training mode only: a removed unit's batch norm normalises its
     * constant map with the map's own statistics, the values its running
     * statistics converge to, so both modes fold the same constants */
    int mode = net->training;
    const float *input = net->input;
    net->input = zeros;
    net->training = 1;
    masked_pass(net, p, p->fold);
    net->training = mode;
    net->input = input;
    net->conv_algo = algo;
    net->plan_dirty = 1; /* the scratch of the net's own algorithm */
    free(zeros);
    return SC_OK;
}
