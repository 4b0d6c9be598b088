/* gpool.c -- global pools: y[c] = mean_hw x[c] or y[c] = max_hw x[c]. */
#include <string.h>

#include "cgen/cgen.h"
#include "core/error.h"
#include "int8/q8.h"
#include "ops/ops.h"

static sc_status gpool(sc_net *net, sc_node *nd, sc_op_action action, int is_max)
{
    sc_node *x = sc_in(net, nd, 0);
    size_t planes = (size_t)net->plan_n * nd->c, hw = (size_t)x->h * x->w;
    switch (action) {
    case OP_SHAPE:
        nd->c = x->c;
        nd->h = nd->w = 1;
        return SC_OK;
    case OP_SCRATCH: /* the max's argmax of every plane */
        nd->n_arg = is_max ? planes : 0;
        return SC_OK;
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD:
        for (size_t p = 0; p < planes; p++) {
            const float *xp = x->y + p * hw;
            if (is_max) {
                size_t best = 0;
                for (size_t i = 1; i < hw; i++)
                    if (xp[i] > xp[best])
                        best = i;
                nd->y[p] = xp[best];
                nd->arg[p] = (int32_t)best;
            } else {
                double acc = 0.0;
                for (size_t i = 0; i < hw; i++)
                    acc += xp[i];
                nd->y[p] = (float)(acc / (double)hw);
            }
        }
        return SC_OK;
    case OP_BACKWARD:
        if (x->dy == NULL)
            return SC_OK;
        for (size_t p = 0; p < planes; p++) {
            float *dxp = x->dy + p * hw;
            if (is_max) {
                if (x->dy_set) /* ours alone: not zeroed for us */
                    memset(dxp, 0, hw * sizeof(float));
                dxp[nd->arg[p]] += nd->dy[p];
            } else {
                float g = nd->dy[p] / (float)hw;
                for (size_t i = 0; i < hw; i++)
                    dxp[i] = (x->dy_set ? 0.0f : dxp[i]) + g;
            }
        }
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "global pool: unknown action %d", action);
}

sc_status sc_op_gavgpool(sc_net *net, sc_node *nd, sc_op_action action)
{
    return gpool(net, nd, action, 0);
}

sc_status sc_op_gmaxpool(sc_net *net, sc_node *nd, sc_op_action action)
{
    return gpool(net, nd, action, 1);
}

SC_API sc_status sc_net_global_avgpool(sc_net *net, int in, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_GAVGPOOL);
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_global_avgpool");
}

SC_API sc_status sc_net_global_maxpool(sc_net *net, int in, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_GMAXPOOL);
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_global_maxpool");
}

/* int8: in the input's quantisation, the max or the mean rounded half up */
static void q8_gpool(sc_q8 *q, sc_node *nd, int is_max)
{
    const sc_node *x = &q->net->nodes[nd->in[0]];
    const uint8_t *xp = sc_q8_in(q, nd, 0)->y;
    uint8_t *y = sc_q8_of(q, nd)->y;
    size_t planes = (size_t)q->plan_n * nd->c, hw = (size_t)x->h * x->w;
    for (size_t p = 0; p < planes; p++, xp += hw) {
        uint64_t acc = 0;
        unsigned best = 0;
        for (size_t i = 0; i < hw; i++) {
            acc += xp[i];
            best = xp[i] > best ? xp[i] : best;
        }
        y[p] = (uint8_t)(is_max ? best : (2 * acc + hw) / (2 * hw));
    }
}

/* C for one sample: as q8_gpool */
static void q8_gpool_emit(sc_q8 *q, sc_node *nd, int is_max)
{
    sc_cgen *g = q->cg;
    const sc_node *x = &q->net->nodes[nd->in[0]];
    int i = (int)(nd - q->net->nodes);
    if (sc_cgen_once(g, "q8_gpool"))
        sc_cgen_def(g,
            "/* each plane's largest byte (is_max) or its mean rounded half up */\n"
            "static void q8_gpool(const uint8_t *x, uint8_t *y, int planes,\n"
            "                     uint64_t hw, int is_max)\n"
            "{\n"
            "    for (int p = 0; p < planes; p++, x += hw) {\n"
            "        uint64_t acc = 0;\n"
            "        unsigned best = 0;\n"
            "        for (uint64_t i = 0; i < hw; i++) {\n"
            "            acc += x[i];\n"
            "            best = x[i] > best ? x[i] : best;\n"
            "        }\n"
            "        y[p] = (uint8_t)(is_max ? best : (2 * acc + hw) / (2 * hw));\n"
            "    }\n"
            "}\n");
    sc_cgen_code(g, "    q8_gpool(%s, %s, %d, %d, %d); /* layer %d */\n",
                 sc_cgen_y(g, nd->in[0]), sc_cgen_y(g, i), nd->c, x->h * x->w,
                 is_max, i);
}

static sc_status q8_gpool_op(sc_q8 *q, sc_node *nd, int action, int is_max)
{
    switch (action) {
    case Q8_PREPARE:
        sc_q8_keep_input(q, nd, 0);
        return SC_OK;
    case Q8_FORWARD:
        q8_gpool(q, nd, is_max);
        return SC_OK;
    case Q8_EMIT:
        q8_gpool_emit(q, nd, is_max);
        return SC_OK;
    default:
        return SC_ERR_UNSUPPORTED;
    }
}

sc_status sc_q8_gavgpool(sc_q8 *q, sc_node *nd, int action)
{
    return q8_gpool_op(q, nd, action, 0);
}

sc_status sc_q8_gmaxpool(sc_q8 *q, sc_node *nd, int action)
{
    return q8_gpool_op(q, nd, action, 1);
}
