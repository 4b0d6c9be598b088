/* relu.c -- y = max(x, 0); dx += dy [x > 0]. In place when planned so
 * (y and dy are then x's): the mask is read from y, since y > 0 iff x > 0. */
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
    case OP_FORWARD: {
        /* restrict lets these loops vectorise: as branches on random
         * signs they mispredict and run ~20x slower */
        if (x->y == nd->y) {
            float *p = nd->y;
            for (size_t i = 0; i < total; i++)
                p[i] = p[i] > 0.0f ? p[i] : 0.0f;
        } else {
            const float *restrict in = x->y;
            float *restrict out = nd->y;
            for (size_t i = 0; i < total; i++)
                out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        }
        return SC_OK;
    }
    case OP_BACKWARD:
    {
        const float *restrict y = nd->y;
        if (nd->dy == x->dy) { /* in place: x's gradient is ours, masked */
            float *restrict g = nd->dy;
            for (size_t i = 0; i < total; i++)
                g[i] = y[i] > 0.0f ? g[i] : 0.0f;
        } else if (x->dy) {
            const float *restrict g = nd->dy;
            float *restrict dx = x->dy;
            for (size_t i = 0; i < total; i++)
                dx[i] += y[i] > 0.0f ? g[i] : 0.0f;
        }
        return SC_OK;
    }
    }
    return sc_fail(SC_ERR_ARG, "relu: unknown action %d", action);
}
