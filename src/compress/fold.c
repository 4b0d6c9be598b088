/* fold.c -- keeping the function: what removed units still contributed.
 *
 * A removed dense/conv channel has all-zero (quantised) weights, so in eval
 * mode it outputs a constant map: its bias plus its cbias, if any. Every
 * layer after it maps that constant on (batch norm with running statistics,
 * or with SC_BN_BATCH_STATS the statistics of the map itself; relu; pools;
 * add sums the branches; flatten re-indexes). A dense/conv consumer loses
 * the input channel, so its contribution is computed here once, exactly:
 *   dense:  delta[o]        = sum_f  Wq[o,f] k[f]
 *   conv:   delta[o][oy,ox] = sum over c and taps inside the input of
 *                             Wq[o,c,i,j] k[c][oy*s+i-pad, ox*s+j-pad]
 * with Wq the weights the layer computes with (quantised when it is). The
 * delta goes into the bias when it is the same at every position (dense;
 * conv without padding over spatially uniform constants) and the layer has
 * one, else into the per-position constant bias cbias.
 *
 * Only the eval-mode function is kept exactly. In training mode, batch norm
 * with running statistics normalises a constant channel with its batch
 * statistics, to beta; after compress the folded eval-mode constant stands
 * in for it in both modes. The two agree with SC_BN_BATCH_STATS, and
 * otherwise converge as the running mean settles on the constant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/error.h"
#include "ops/ops.h"
#include "quant/quantizer.h"

static float *node_map(sc_cplan *p, int i) { return p->konst + p->moff[i]; }

/* The eval-mode output map of every removed unit of node i. */
static void constants(sc_net *net, sc_cplan *p, int i)
{
    sc_node *nd = &net->nodes[i], *x = &net->nodes[nd->in[0]];
    const unsigned char *g = p->gone + p->uoff[i];
    float *k = node_map(p, i);
    const float *xk = node_map(p, nd->in[0]);
    size_t hw = (size_t)nd->h * nd->w, xhw = (size_t)x->h * x->w;
    for (int u = 0; u < nd->c; u++) {
        if (!g[u])
            continue;
        float *ku = k + (size_t)u * hw;
        /* a flatten's unit u is its input's float u */
        const float *xu =
            xk + (nd->kind == SC_LAYER_FLATTEN ? (size_t)u : (size_t)u * xhw);
        switch (nd->kind) {
        case SC_LAYER_DENSE:
        case SC_LAYER_CONV2D: {
            const float *bias = sc_node_param(net, nd, P_B);
            for (size_t q = 0; q < hw; q++) {
                ku[q] = bias ? bias[u] : 0.0f;
                if (nd->cbias)
                    ku[q] += nd->cbias[(size_t)u * hw + q];
            }
            break;
        }
        case SC_LAYER_BATCHNORM: { /* as batchnorm.c computes it */
            const float *gm = sc_node_param(net, nd, P_GAMMA);
            const float *beta = sc_node_param(net, nd, P_BETA);
            float mean, var;
            if (nd->flags & SC_BN_BATCH_STATS) {
                double s = 0.0, ss = 0.0;
                for (size_t q = 0; q < hw; q++)
                    s += xu[q];
                double mu = s / (double)hw;
                for (size_t q = 0; q < hw; q++)
                    ss += (xu[q] - mu) * (xu[q] - mu);
                mean = (float)mu;
                var = (float)(ss / (double)hw);
            } else {
                mean = sc_node_state(net, nd, S_MEAN)[u];
                var = sc_node_state(net, nd, S_VAR)[u];
            }
            float invstd = 1.0f / sqrtf(var + (float)net->bn_eps);
            float scale = gm ? gm[u] * invstd : invstd;
            float shift = (beta ? beta[u] : 0.0f) - mean * scale;
            for (size_t q = 0; q < hw; q++)
                ku[q] = xu[q] * scale + shift;
            break;
        }
        case SC_LAYER_RELU:
            for (size_t q = 0; q < hw; q++)
                ku[q] = xu[q] > 0.0f ? xu[q] : 0.0f;
            break;
        case SC_LAYER_MAXPOOL: {
            int kk = nd->kh, s = nd->stride;
            for (int oy = 0; oy < nd->h; oy++)
                for (int ox = 0; ox < nd->w; ox++) {
                    float best = xu[(size_t)(oy * s) * x->w + ox * s];
                    for (int a = 0; a < kk; a++)
                        for (int b = 0; b < kk; b++) {
                            float v = xu[(size_t)(oy * s + a) * x->w + ox * s + b];
                            if (v > best)
                                best = v;
                        }
                    ku[(size_t)oy * nd->w + ox] = best;
                }
            break;
        }
        case SC_LAYER_GAVGPOOL: {
            double acc = 0.0;
            for (size_t q = 0; q < xhw; q++)
                acc += xu[q];
            ku[0] = (float)(acc / (double)xhw);
            break;
        }
        case SC_LAYER_GMAXPOOL: {
            float best = xu[0];
            for (size_t q = 1; q < xhw; q++)
                if (xu[q] > best)
                    best = xu[q];
            ku[0] = best;
            break;
        }
        case SC_LAYER_FLATTEN: /* same floats, features instead of maps */
            ku[0] = xu[0];
            break;
        case SC_LAYER_ADD: {
            const float *yk = node_map(p, nd->in[1]) + (size_t)u * hw;
            for (size_t q = 0; q < hw; q++)
                ku[q] = xu[q] + yk[q];
            break;
        }
        case SC_LAYER_INPUT: /* the input is never computed here */
            break;
        }
    }
}

/* The weights row o of a dense/conv computes with, into row (k floats). */
static const float *weights_row(sc_net *net, sc_node *nd, int o, size_t k,
                                float *row)
{
    const float *w = sc_node_param(net, nd, P_W) + (size_t)o * k;
    if (!nd->quantized)
        return w;
    sc_quant_channel(w, k, sc_node_param(net, nd, P_QB)[o],
                     sc_node_param(net, nd, P_QE)[o], row);
    return row;
}

/* delta of dense/conv node i for the removed units of its input. */
static sc_status fold_into(sc_net *net, sc_cplan *p, int i)
{
    sc_node *nd = &net->nodes[i], *x = &net->nodes[nd->in[0]];
    const unsigned char *xg = p->gone + p->uoff[nd->in[0]];
    const unsigned char *g = p->gone + p->uoff[i];
    const float *xk = node_map(p, nd->in[0]);
    size_t xhw = (size_t)x->h * x->w, hw = (size_t)nd->h * nd->w;
    size_t k = nd->pn[P_W] / (size_t)nd->c;
    int any = 0, uniform = 1;
    for (int c = 0; c < x->c; c++) {
        if (!xg[c])
            continue;
        any = 1;
        for (size_t q = 1; q < xhw; q++)
            uniform &= xk[(size_t)c * xhw + q] == xk[(size_t)c * xhw];
    }
    if (!any)
        return SC_OK;
    float *delta = calloc(sc_node_size(nd), sizeof(float));
    float *row = malloc(k * sizeof(float));
    if (!delta || !row) {
        free(delta);
        free(row);
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    }
    for (int o = 0; o < nd->c; o++) {
        if (g[o])
            continue; /* the row goes too */
        const float *w = weights_row(net, nd, o, k, row);
        if (nd->kind == SC_LAYER_DENSE) { /* feature f = c * xhw + q */
            double acc = 0.0;
            for (int c = 0; c < x->c; c++)
                if (xg[c])
                    for (size_t q = 0; q < xhw; q++)
                        acc += (double)w[(size_t)c * xhw + q] *
                               xk[(size_t)c * xhw + q];
            delta[o] = (float)acc;
            continue;
        }
        int kh = nd->kh, kw = nd->kw, s = nd->stride, pad = nd->pad;
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++) {
                double acc = 0.0;
                for (int c = 0; c < x->c; c++) {
                    if (!xg[c])
                        continue;
                    const float *wc = w + (size_t)c * kh * kw;
                    const float *kc = xk + (size_t)c * xhw;
                    for (int a = 0; a < kh; a++) {
                        int iy = oy * s + a - pad;
                        if (iy < 0 || iy >= x->h)
                            continue;
                        for (int b = 0; b < kw; b++) {
                            int ix = ox * s + b - pad;
                            if (ix >= 0 && ix < x->w)
                                acc += (double)wc[a * kw + b] *
                                       kc[(size_t)iy * x->w + ix];
                        }
                    }
                }
                delta[(size_t)o * hw + (size_t)oy * nd->w + ox] = (float)acc;
            }
    }
    free(row);
    p->fold[i] = delta;
    p->to_bias[i] = (nd->flags & SC_BIAS) &&
                    (nd->kind == SC_LAYER_DENSE || (nd->pad == 0 && uniform));
    return SC_OK;
}

sc_status sc_cplan_fold(sc_net *net, sc_cplan *p)
{
    int n = net->n_nodes;
    p->moff = malloc(((size_t)n + 1) * sizeof *p->moff);
    p->fold = calloc((size_t)n, sizeof *p->fold);
    p->to_bias = calloc((size_t)n, 1);
    if (!p->moff || !p->fold || !p->to_bias)
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    p->moff[0] = 0;
    for (int i = 0; i < n; i++)
        p->moff[i + 1] = p->moff[i] + sc_node_size(&net->nodes[i]);
    p->konst = calloc(p->moff[n] ? p->moff[n] : 1, sizeof(float));
    if (!p->konst)
        return sc_fail(SC_ERR_NOMEM, "sc_net_compress: out of memory");
    for (int i = 1; i < n; i++)
        constants(net, p, i);
    for (int i = 1; i < n; i++) {
        if (!sc_is_weighted(&net->nodes[i]))
            continue;
        sc_status st = fold_into(net, p, i);
        if (st != SC_OK)
            return st;
    }
    return SC_OK;
}
