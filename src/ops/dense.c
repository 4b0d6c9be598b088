/* dense.c -- y[n,o] = sum_i W[o,i] x[n,i] + b[o]; input flattened. */
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "ops/ops.h"

static sc_status dense(sc_net *net, sc_node *nd, sc_op_action action)
{
    sc_node *x = sc_in(net, nd, 0);
    int in = (int)sc_node_size(x), out = nd->c, n = net->plan_n;
    float *bias = sc_node_param(net, nd, P_B);
    switch (action) {
    case OP_SHAPE:
        nd->h = nd->w = 1;
        nd->kh = nd->kw = 1; /* one weight per input feature */
        nd->pn[P_W] = (size_t)out * (size_t)in;
        nd->pn[P_B] = (nd->flags & SC_BIAS) ? (size_t)out : 0;
        return SC_OK;
    case OP_SCRATCH:
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD: {
        const float *w = sc_layer_weights(net, nd);
        if (bias) {
            for (int i = 0; i < n; i++)
                memcpy(nd->y + (size_t)i * out, bias, (size_t)out * sizeof(float));
        }
        /* y = x W^T (+ b). In training, when W is the larger operand,
         * output channels are shared among the threads: each reads all of
         * x but only its channels' weights, the ones it has just updated
         * and quantised (quantizer.c shares channels the same way), where
         * sharing rows (samples) makes every thread read all of W, half of
         * it from the other core. In inference rows, so that each thread
         * also writes whole rows of y for the next layer. */
        int by_cols = net->training && out >= n;
        (by_cols ? sc_gemm_by_cols : sc_gemm)(net->pool, 0, 1, n, out, in,
                                               1.0f, x->y, in, w, in,
                bias ? 1.0f : 0.0f, nd->y, out);
        const float *cb = sc_layer_cbias(net, nd);
        if (cb)
            for (int i = 0; i < n; i++)
                for (int o = 0; o < out; o++)
                    nd->y[(size_t)i * out + o] += cb[o];
        return SC_OK;
    }
    case OP_BACKWARD: {
        const float *w = sc_layer_weights(net, nd);
        /* dW += dy^T x ; db += sum_n dy ; dx += dy W */
        sc_gemm(net->pool, 1, 0, out, in, n, 1.0f, nd->dy, out, x->y, in, 1.0f,
                sc_node_grad(net, nd, P_W), in);
        if (bias) {
            float *db = sc_node_grad(net, nd, P_B);
            for (int i = 0; i < n; i++)
                for (int o = 0; o < out; o++)
                    db[o] += nd->dy[(size_t)i * out + o];
        }
        if (x->dy) /* stored when x has no other reader (dy_set) */
            sc_gemm(net->pool, 0, 0, n, in, out, 1.0f, nd->dy, out, w, in,
                    x->dy_set ? 0.0f : 1.0f, x->dy, in);
        return SC_OK;
    }
    }
    return sc_fail(SC_ERR_ARG, "dense: unknown action %d", action);
}

sc_status sc_op_dense(sc_net *net, sc_node *nd, sc_op_action action)
{
    return sc_weighted_op(net, nd, action, dense);
}

SC_API sc_status sc_net_dense(sc_net *net, int in, int out_features,
                              int flags, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_DENSE);
    d.channels = out_features;
    d.flags = flags;
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_dense");
}
