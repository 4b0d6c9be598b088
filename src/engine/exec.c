/* exec.c -- forward and backward passes in the graph's topological order. */
#include <stdatomic.h>
#include <string.h>

#include "core/error.h"
#include "core/fpenv.h"
#include "core/tensor.h"
#include "ops/ops.h"

void sc_forward_nodes(sc_net *net, int from, int to)
{
    unsigned fp = sc_fpenv_enter();
    net->nodes[0].y = (float *)net->input; /* read only: no op writes it */
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (nd->alias) /* the input node's y is the caller's batch */
            nd->y = net->nodes[nd->in[0]].y;
    }
    for (int i = from; i < to; i++) {
        sc_node *nd = &net->nodes[i];
        sc_ops[nd->kind].fn(net, nd, OP_FORWARD);
    }
    sc_fpenv_leave(fp);
}

void sc_forward(sc_net *net, int n)
{
    (void)n;
    sc_forward_nodes(net, 1, net->n_nodes);
}

void sc_zero_dy(sc_net *net, int n)
{
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->alias && !nd->dy_set)
            memset(nd->dy, 0, (size_t)n * sc_node_size(nd) * sizeof(float));
    }
}

/* The grads are zeroed and checked on the pool in blocks of this many
 * floats; tasks [b, e) cover grads [lo, hi). */
#define GRAD_BLOCK 16384

static size_t grad_blocks(const sc_net *net)
{
    return (net->n_params + GRAD_BLOCK - 1) / GRAD_BLOCK;
}

static void grad_span(const sc_net *net, size_t b, size_t e, size_t *lo,
                      size_t *hi)
{
    *lo = b * GRAD_BLOCK;
    *hi = e * GRAD_BLOCK < net->n_params ? e * GRAD_BLOCK : net->n_params;
}

static void zero_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    sc_net *net = ctx;
    size_t lo, hi;
    grad_span(net, b, e, &lo, &hi);
    memset(net->grads + lo, 0, (hi - lo) * sizeof(float));
}

void sc_backward(sc_net *net, int n)
{
    (void)n;
    unsigned fp = sc_fpenv_enter();
    /* on the pool, so that the grads' lines are not all pulled into one
     * core's cache only to be written by the others next */
    sc_pool_map(net->pool, grad_blocks(net), 2, zero_task, net);
    for (int i = net->n_nodes - 1; i >= 1; i--) {
        sc_node *nd = &net->nodes[i];
        sc_ops[nd->kind].fn(net, nd, OP_BACKWARD);
    }
    sc_fpenv_leave(fp);
}

typedef struct finite_job {
    const sc_net *net;
    atomic_int bad;
} finite_job;

/* Checks grads [lo, hi) but the weight gradients of quantised layers: their
 * straight-through backward (quantizer.c) makes a channel's exponent gradient non-finite
 * whenever one of its weight gradients is, and those are checked. That
 * spares self-compression a pass over the weights. */
static int range_finite(const sc_net *net, size_t lo, size_t hi)
{
    for (int i = 1; i < net->n_nodes && lo < hi; i++) { /* W by node order */
        const sc_node *nd = &net->nodes[i];
        if (!nd->quantized || nd->pn[P_W] == 0)
            continue;
        size_t b = nd->poff[P_W], e = b + nd->pn[P_W];
        if (e <= lo)
            continue;
        if (b >= hi)
            break;
        if (b > lo && !sc_all_finite(net->grads + lo, b - lo))
            return 0;
        lo = e;
    }
    return lo >= hi || sc_all_finite(net->grads + lo, hi - lo);
}

static void finite_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    finite_job *j = ctx;
    size_t lo, hi;
    grad_span(j->net, b, e, &lo, &hi);
    if (!range_finite(j->net, lo, hi))
        atomic_store(&j->bad, 1);
}

int sc_grads_finite(sc_net *net)
{
    finite_job j = {.net = net};
    atomic_init(&j.bad, 0);
    sc_pool_map(net->pool, grad_blocks(net), 2, finite_task, &j);
    return !atomic_load(&j.bad);
}

sc_status sc_commit_check(sc_net *net)
{
    for (int i = 1; i < net->n_nodes; i++) {
        sc_status st = sc_ops[net->nodes[i].kind].fn(net, &net->nodes[i],
                                                     OP_COMMIT_CHECK);
        if (st != SC_OK)
            return st;
    }
    return SC_OK;
}

void sc_commit_stats(sc_net *net)
{
    for (int i = 1; i < net->n_nodes; i++)
        sc_ops[net->nodes[i].kind].fn(net, &net->nodes[i], OP_COMMIT);
}

sc_status sc_check_input(const sc_net *net, const sc_tensor *x, int *n,
                         const char *fn)
{
    if (!net->initialized)
        return sc_fail(SC_ERR_STATE, "%s: call sc_net_init() first", fn);
    if (net->n_nodes < 2)
        return sc_fail(SC_ERR_STATE, "%s: the net has no layers", fn);
    int64_t want[4] = {0, net->in_c, net->in_h, net->in_w};
    int ok = x->ndim == 4;
    for (int i = 1; ok && i < 4; i++)
        ok = x->shape[i] == want[i];
    /* a 2-D N x (c*h*w) batch is accepted for dense-first nets */
    if (!ok && x->ndim == 2 &&
        x->shape[1] == (int64_t)net->in_c * net->in_h * net->in_w)
        ok = 1;
    if (!ok)
        return sc_fail(SC_ERR_SHAPE,
                       "%s: input must be N x %d x %d x %d (or N x %d)", fn,
                       net->in_c, net->in_h, net->in_w,
                       net->in_c * net->in_h * net->in_w);
    if (x->shape[0] > 1 << 24)
        return sc_fail(SC_ERR_SHAPE, "%s: batch %lld is too large", fn,
                       (long long)x->shape[0]);
    if (!sc_all_finite(x->data, x->numel))
        return sc_fail(SC_ERR_NONFINITE, "%s: the input holds NaN or Inf", fn);
    *n = (int)x->shape[0];
    return SC_OK;
}
