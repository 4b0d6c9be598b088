/* relu.c -- y = max(x, 0); dx += dy [x > 0]. In place when planned so
 * (y and dy are then x's): the mask is read from y, since y > 0 iff x > 0.
 * In place after a batch norm, the batch norm does it (nd->fused). */
#include <math.h>

#include "core/error.h"
#include "core/simd.h"
#include "int8/q8.h"
#include "ops/ops.h"

/* elements per thread below which a loop is not worth splitting */
#define GRAIN 16384

typedef struct relu_job {
    const float *x, *y, *g;
    float *out;
    int set; /* backward: store into dx rather than add */
} relu_job;

/* restrict lets these loops vectorise: as branches on random signs they
 * mispredict and run ~20x slower */
SC_SIMD_CLONES
static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const relu_job *j = ctx;
    if (j->x == j->out) { /* in place */
        float *p = j->out;
        for (size_t i = b; i < e; i++)
            p[i] = p[i] > 0.0f ? p[i] : 0.0f;
        return;
    }
    const float *restrict in = j->x;
    float *restrict out = j->out;
    for (size_t i = b; i < e; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

SC_SIMD_CLONES
static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const relu_job *j = ctx;
    const float *restrict y = j->y;
    if (j->g == j->out) { /* in place: x's gradient is ours, masked */
        float *restrict g = j->out;
        for (size_t i = b; i < e; i++)
            g[i] = y[i] > 0.0f ? g[i] : 0.0f;
        return;
    }
    const float *restrict g = j->g;
    float *restrict dx = j->out;
    if (j->set)
        for (size_t i = b; i < e; i++)
            dx[i] = y[i] > 0.0f ? g[i] : 0.0f;
    else
        for (size_t i = b; i < e; i++)
            dx[i] += y[i] > 0.0f ? g[i] : 0.0f;
}

sc_status sc_op_relu(sc_net *net, sc_node *nd, sc_op_action action)
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
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD: {
        if (nd->fused)
            return SC_OK;
        relu_job j = {x->y, NULL, NULL, nd->y, 0};
        sc_pool_map(net->pool, total, GRAIN, forward_task, &j);
        return SC_OK;
    }
    case OP_BACKWARD: {
        relu_job j = {NULL, nd->y, nd->dy, x->dy, x->dy_set};
        if (x->dy && !nd->fused)
            sc_pool_map(net->pool, total, GRAIN, backward_task, &j);
        return SC_OK;
    }
    }
    return sc_fail(SC_ERR_ARG, "relu: unknown action %d", action);
}

SC_API sc_status sc_net_relu(sc_net *net, int in, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_RELU);
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_relu");
}

static float relu_f(float x, float a)
{
    (void)a;
    return x > 0.0f ? x : 0.0f;
}

/* int8: folded into a weighted layer as a clamp at 0, else a table */
sc_status sc_q8_relu(sc_q8 *q, sc_node *nd, int action)
{
    return sc_q8_elementwise(q, nd, action, relu_f, 0.0, INFINITY);
}
