/* sizeloss.c -- Q = (1/N0) sum_{l,o} B[l,o] live_in(l,o) kh kw (spec
 * section 2; live_in(l,o): the live inputs of o's group), the liveness of
 * channels it rests on, and the size report. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"
#include "quant/quantizer.h"

void sc_liveness(sc_net *net)
{
    for (int i = 0; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        sc_node *a = i ? &net->nodes[nd->in[0]] : NULL;
        switch (sc_ops[nd->kind].chan) {
        case SC_CHAN_SOURCE:
            for (int c = 0; c < nd->c; c++)
                nd->live[c] = 1.0f;
            break;
        case SC_CHAN_NEW: {
            const float *b = sc_node_param(net, nd, P_QB);
            for (int c = 0; c < nd->c; c++)
                nd->live[c] = (!nd->quantized || b[c] > 0.0f) ? 1.0f : 0.0f;
            break;
        }
        case SC_CHAN_FLATTEN: {
            int hw = a->h * a->w;
            for (int c = 0; c < nd->c; c++)
                nd->live[c] = a->live[c / hw];
            break;
        }
        case SC_CHAN_JOIN: /* live where any input is */
            for (int c = 0; c < nd->c; c++) {
                float sum = 0.0f;
                for (int k = 0; k < nd->n_in; k++)
                    sum += net->nodes[nd->in[k]].live[c];
                nd->live[c] = sum > 0.0f ? 1.0f : 0.0f;
            }
            break;
        case SC_CHAN_CONCAT: { /* the inputs' channels one after another */
            int at = 0;
            for (int k = 0; k < nd->n_in; k++) {
                const sc_node *x = &net->nodes[nd->in[k]];
                for (int c = 0; c < x->c; c++)
                    nd->live[at + c] = x->live[c];
                at += x->c;
            }
            break;
        }
        case SC_CHAN_SAME: /* channel-wise layers keep their input's */
            for (int c = 0; c < nd->c; c++)
                nd->live[c] = a->live[c];
            break;
        }
    }
}

int64_t sc_live_in(sc_net *net, sc_node *nd, int o)
{
    sc_node *x = &net->nodes[nd->in[0]];
    int g = sc_groups(nd), cin = x->c / g, c0 = o / (nd->c / g) * cin;
    int64_t n = 0;
    for (int c = c0; c < c0 + cin; c++)
        n += x->live[c] > 0.0f;
    /* dense reads every feature of a c x h x w input */
    if (sc_op_flags(nd) & SC_OPF_FLAT_IN)
        n *= (int64_t)x->h * x->w;
    return n;
}

double sc_size_loss(sc_net *net, int add_grad)
{
    if (net->n0 <= 0)
        return 0.0;
    double q = 0.0;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->quantized)
            continue;
        const float *b = sc_node_param(net, nd, P_QB);
        float *gb = sc_node_grad(net, nd, P_QB);
        int per_group = nd->c / sc_groups(nd);
        double per = 0.0;
        for (int o = 0; o < nd->c; o++) {
            if (o % per_group == 0)
                per = (double)sc_live_in(net, nd, o) * nd->kh * nd->kw /
                      (double)net->n0;
            if (b[o] <= 0.0f)
                continue;
            q += b[o] * per;
            if (add_grad)
                gb[o] += (float)(net->gamma * per);
        }
    }
    return q;
}

/* Adds layer nd's figures to r (r's N0 is set by the caller). */
static void report_layer(sc_net *net, sc_node *nd, sc_size_report *r,
                         double *q)
{
    int64_t live_out = 0, weights = 0, k = nd->kh * nd->kw, live_in = 0;
    const float *b = nd->quantized ? sc_node_param(net, nd, P_QB) : NULL;
    int per_group = nd->c / sc_groups(nd);
    double bits = 0.0;
    for (int o = 0; o < nd->c; o++) {
        if (o % per_group == 0) {
            int64_t in_g = sc_live_in(net, nd, o);
            live_in += in_g;
            weights = in_g * k; /* per live output channel of the group */
        }
        if (nd->live[o] == 0.0f)
            continue;
        live_out++;
        r->weights += weights;
        bits += (b ? ceil(b[o]) : 32.0) * (double)weights;
        if (b)
            *q += b[o] * (double)weights;
    }
    r->in_channels = live_in;
    r->out_channels += live_out;
    r->bits += bits;
    r->overhead_floats += (int64_t)(nd->pn[P_B] + nd->pn[P_QB] + nd->pn[P_QE]);
    /* constants compress folded in, per mode */
    r->overhead_floats += (int64_t)sc_node_size(nd) *
                          ((nd->cbias != NULL) + (nd->tbias != NULL));
}

SC_API sc_status sc_net_size_report(const sc_net *cnet, int id,
                                    sc_size_report *report)
{
    SC_CHECK_NULL(cnet, "sc_net_size_report");
    SC_CHECK_NULL(report, "sc_net_size_report");
    sc_net *net = (sc_net *)cnet; /* liveness is scratch, not state */
    if (!net->initialized)
        return sc_fail(SC_ERR_STATE, "sc_net_size_report: call sc_net_init() first");
    if (report->size < sizeof(size_t) || report->size > 4096)
        return sc_fail(SC_ERR_ARG,
                       "sc_net_size_report: report->size must be set to "
                       "sizeof(sc_size_report)");
    if (id != SC_ALL_LAYERS &&
        (id < 1 || id >= net->n_nodes ||
         !sc_is_weighted(&net->nodes[id])))
        return sc_fail(SC_ERR_ARG,
                       "sc_net_size_report: layer %d is not a dense or conv "
                       "layer", id);
    sc_liveness(net);
    sc_size_report r = SC_SIZE_REPORT_INIT;
    double q = 0.0;
    if (id == SC_ALL_LAYERS) {
        r.weights0 = net->n0;
        for (int i = 1; i < net->n_nodes; i++) {
            sc_node *nd = &net->nodes[i];
            if (!sc_is_weighted(nd)) /* norm scale, shift and statistics */
                r.overhead_floats += (int64_t)(nd->pn[P_GAMMA] + nd->pn[P_BETA] +
                                               nd->sn[S_MEAN] + nd->sn[S_VAR]);
            if (nd->quantized)
                report_layer(net, nd, &r, &q);
            else /* biases (dense/conv) and constant maps (any layer) */
                r.overhead_floats += (int64_t)nd->pn[P_B] +
                                     (int64_t)sc_node_size(nd) *
                                         ((nd->cbias != NULL) + (nd->tbias != NULL));
        }
        r.in_channels = 0;
    } else {
        sc_node *nd = &net->nodes[id];
        r.weights0 = nd->n0;
        report_layer(net, nd, &r, &q);
    }
    int64_t n0 = r.weights0 > 0 ? r.weights0 : 1;
    r.bits_pct = 100.0 * r.bits / (32.0 * (double)n0);
    r.weights_pct = 100.0 * (double)r.weights / (double)n0;
    r.size_loss = q / (double)n0;
    size_t n = report->size < sizeof r ? report->size : sizeof r;
    r.size = report->size;
    memcpy(report, &r, n);
    return SC_OK;
}
