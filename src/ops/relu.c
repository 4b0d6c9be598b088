/* relu.c -- y = max(x, 0); dx += dy [x > 0]. */
#include "core/error.h"
#include "ops/ops.h"

sc_status sc_op_relu(sc_net *net, sc_node *nd, int action)
{
    sc_node *x = sc_in(net, nd, 0);
    size_t total = (size_t)net->plan_n * sc_node_size(nd);
    switch (action) {
    case OP_SHAPE:
        nd->c = x->c;
        nd->h = x->h;
        nd->w = x->w;
        return SC_OK;
    case OP_SCRATCH:
        return SC_OK;
    case OP_FORWARD:
        for (size_t i = 0; i < total; i++)
            nd->y[i] = x->y[i] > 0.0f ? x->y[i] : 0.0f;
        return SC_OK;
    case OP_BACKWARD:
        if (x->dy)
            for (size_t i = 0; i < total; i++)
                x->dy[i] += x->y[i] > 0.0f ? nd->dy[i] : 0.0f;
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "relu: unknown action %d", action);
}
