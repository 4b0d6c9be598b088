/* plan.c -- one arena per batch size: outputs, gradients, scratch.
 * The arena only grows, so a smaller batch (the last of an epoch) and every
 * later step reuse it: a steady-state step allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "ops/ops.h"

#define ALIGN_FLOATS 16

static size_t up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* Ops that always alias (SC_OPF_ALIAS: a flatten), and ops that may work
 * in place (SC_OPF_IN_PLACE: a relu) when they are the only reader of a
 * computed input, work in place: their y and dy are their input's. (An
 * in-place op needs only its own output in backward, as relu reads the
 * sign of it; so overwriting the input of a sole-consumer one loses
 * nothing, unless the input's own op reads that output in backward: an
 * SC_OPF_IN_PLACE op, so one never works in place on another's output.) */
/* The node whose buffer node id's output lives in: aliasing ops share
 * their input's. */
static int buffer_owner(const sc_net *net, int id)
{
    while (sc_op_flags(&net->nodes[id]) & SC_OPF_ALIAS)
        id = net->nodes[id].in[0];
    return id;
}

static int works_in_place(const sc_net *net, int i)
{
    const sc_node *nd = &net->nodes[i];
    if (sc_op_flags(nd) & SC_OPF_ALIAS)
        return 1;
    /* never the caller's batch, also not through a flatten of it */
    int owner = sc_op_flags(nd) & SC_OPF_IN_PLACE
                    ? buffer_owner(net, nd->in[0]) : 0;
    if (owner == 0 || (sc_op_flags(&net->nodes[owner]) & SC_OPF_IN_PLACE))
        return 0;
    /* the only reader of that buffer, also through flattens of it */
    int readers = 0;
    for (int j = 1; j < net->n_nodes; j++)
        for (int k = 0; k < net->nodes[j].n_in; k++)
            readers += !(sc_op_flags(&net->nodes[j]) & SC_OPF_ALIAS) &&
                       buffer_owner(net, net->nodes[j].in[k]) == owner;
    return readers == 1;
}

/* The next `count` floats of the layout at *off, rounded up to 16: their
 * offset in *at; 0 when the layout no longer fits in a size_t. */
static int take(size_t *off, size_t count, size_t *at)
{
    if (count > SIZE_MAX - (ALIGN_FLOATS - 1))
        return 0;
    *at = *off;
    return sc_add_ok(*off, up(count), off);
}

/* Walks the layout for batch n on `threads` threads, assigning pointers
 * when base is not NULL; *floats gets the total. A forward-only net, or
 * any net when plain is set (the cost of its loaded model), has no
 * gradient buffers and one float buffer its quantised layers share for
 * their weights instead of a qw each. Returns 0 when a size overflows a
 * size_t (sc_plan sizes the layout before it assigns it). */
static int layout(sc_net *net, int n, int threads, int plain, float *base,
                  size_t *floats)
{
    const int model = plain || net->forward_only;
    size_t off = 0, at, cnt, shared = 0;
#define TAKE(ptr, count, type)                                                \
    do {                                                                      \
        if (!take(&off, count, &at))                                          \
            return 0;                                                         \
        if (base)                                                             \
            ptr = (type *)(void *)(base + at);                                \
    } while (0)
/* count = a * b, or the layout fails */
#define PRODUCT(a, b)                                                         \
    do {                                                                      \
        if (!sc_mul_ok((size_t)(a), (size_t)(b), &cnt))                       \
            return 0;                                                         \
    } while (0)
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (nd->alias)
            continue;
        PRODUCT(n, sc_node_size(nd));
        TAKE(nd->y, cnt, float);
        if (nd->n_arg)
            TAKE(nd->arg, nd->n_arg, int32_t); /* int32 and float: one size */
        if (nd->n_save)
            TAKE(nd->save, nd->n_save, float);
        if (nd->quantized && !model)
            TAKE(nd->qw, nd->pn[P_W], float);
        if ((nd->quantized || nd->int_weights) && nd->pn[P_W] > shared)
            shared = nd->pn[P_W];
    }
    PRODUCT(threads, net->scratch_per_thread);
    TAKE(net->scratch, cnt, float);
    TAKE(net->packed, net->packed_floats, float);
    if (model) {
        TAKE(net->wshared, shared, float);
        for (int i = 0; base && i < net->n_nodes; i++) {
            if (net->nodes[i].int_weights)
                net->nodes[i].qw = net->wshared;
            net->nodes[i].dy = NULL;
        }
        if (base)
            net->probs = net->wgrad = NULL;
    } else {
        for (int i = 1; i < net->n_nodes; i++) {
            sc_node *nd = &net->nodes[i];
            PRODUCT(n, sc_node_size(nd));
            if (!nd->alias)
                TAKE(nd->dy, cnt, float);
        }
        sc_node *last = &net->nodes[net->n_nodes - 1];
        PRODUCT(n, sc_node_size(last));
        TAKE(net->probs, cnt, float);
        PRODUCT(threads, net->wgrad_per_thread);
        TAKE(net->wgrad, cnt, float);
        if (base)
            net->wshared = NULL;
    }
#undef PRODUCT
#undef TAKE
    *floats = off;
    return off <= SIZE_MAX / sizeof(float) - ALIGN_FLOATS;
}

/* A relu working in place on the output of an op that takes relus (a batch
 * norm) is done by that op itself, in the same pass (forward: y =
 * max(bn(x), 0); backward: dy masked by y > 0 as it is read). */
static void fuse(sc_net *net)
{
    for (int i = 1; i < net->n_nodes; i++)
        net->nodes[i].fuse_relu = net->nodes[i].fused = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i], *x = &net->nodes[nd->in[0]];
        if ((sc_op_flags(nd) & SC_OPF_RELU) && nd->alias &&
            (sc_op_flags(x) & SC_OPF_TAKES_RELU))
            nd->fused = x->fuse_relu = 1;
    }
}

/* A buffer with exactly one writer in backward (one op taking it as input,
 * once; or the loss, for the last node's) is stored into, not added to, so
 * it need not be zeroed. In-place nodes write nothing: their consumers
 * write into the owner's buffer. The input node's dy (gradient checks) is
 * always accumulated. */
static int alias_owner(const sc_net *net, int id)
{
    while (net->nodes[id].alias)
        id = net->nodes[id].in[0];
    return id;
}

static void single_writers(sc_net *net)
{
    int n = net->n_nodes;
    for (int i = 0; i < n; i++)
        net->nodes[i].dy_set = 0; /* used as the writer count first */
    for (int j = 1; j < n; j++) {
        const sc_node *nd = &net->nodes[j];
        if (!nd->alias)
            for (int k = 0; k < nd->n_in; k++)
                net->nodes[alias_owner(net, nd->in[k])].dy_set++;
    }
    net->nodes[alias_owner(net, n - 1)].dy_set++; /* the loss */
    for (int i = 0; i < n; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->alias)
            nd->dy_set = i > 0 && nd->dy_set == 1;
    }
    for (int i = 1; i < n; i++) /* in order: chains of in-place nodes */
        if (net->nodes[i].alias)
            net->nodes[i].dy_set = net->nodes[net->nodes[i].in[0]].dy_set;
}

/* in-place nodes share their input's buffers (in order: chains work) */
static void alias_in_place(sc_net *net)
{
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (nd->alias) {
            nd->y = net->nodes[nd->in[0]].y;
            nd->dy = net->nodes[nd->in[0]].dy;
        }
    }
}

/* The buffer decisions and the ops' scratch needs for batch n. */
static void prepare(sc_net *net, int n)
{
    net->scratch_per_thread = net->wgrad_per_thread = net->packed_floats = 0;
    for (int i = 1; i < net->n_nodes; i++)
        net->nodes[i].alias = works_in_place(net, i);
    fuse(net);
    single_writers(net);
    net->plan_n = n;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        nd->n_arg = nd->n_save = 0;
        sc_ops[nd->kind].fn(net, nd, OP_SCRATCH);
    }
}

sc_status sc_plan(sc_net *net, int n)
{
    net->host_n = 0; /* whatever plans runs the net over the kept forward */
    if (!net->plan_dirty && n == net->plan_n)
        return SC_OK;
    int saved_n = net->plan_n, threads = sc_pool_threads(net->pool);
    prepare(net, n);
    size_t need;
    sc_status st = SC_OK;
    if (!layout(net, n, threads, 0, NULL, &need))
        st = sc_fail(SC_ERR_NOMEM, "the buffers for batch %d take more bytes "
                     "than a size_t holds", n);
    if (st == SC_OK && need > net->arena_floats) {
        float *arena = aligned_alloc(64, up(need) * sizeof(float));
        if (arena == NULL)
            st = sc_fail(SC_ERR_NOMEM,
                         "out of memory planning %zu floats for batch %d",
                         need, n);
        else {
            free(net->arena);
            net->arena = arena;
            net->arena_floats = up(need);
            net->plan_cap_n = n;
        }
    }
    if (st != SC_OK) {
        net->plan_n = saved_n;
        net->plan_dirty = 1;
        return st;
    }
    layout(net, n, threads, 0, net->arena, &need);
    net->nodes[0].dy = NULL;
    alias_in_place(net);
    net->plan_dirty = 0;
    return SC_OK;
}

sc_status sc_plan_cost(sc_net *net, int plain, int64_t *bytes, double *ops)
{
    int saved_n = net->plan_n, algo = net->conv_algo;
    size_t spt = net->scratch_per_thread, wpt = net->wgrad_per_thread,
           packed = net->packed_floats, floats;
    if (plain) /* a loaded model starts with the default algorithm */
        net->conv_algo = SC_CONV_ALGO_AUTO;
    prepare(net, 1);
    int ok = layout(net, 1, 1, plain, NULL, &floats);
    net->conv_algo = algo;
    net->plan_n = saved_n;
    net->scratch_per_thread = spt;
    net->wgrad_per_thread = wpt;
    net->packed_floats = packed;
    if (!ok || floats > (size_t)INT64_MAX / sizeof(float))
        return sc_fail(SC_ERR_SHAPE, "the buffers of one sample take more "
                       "bytes than a size_t holds");
    *bytes = (int64_t)(floats * sizeof(float));
    double sum = (double)sc_node_size(&net->nodes[0]); /* the input's check */
    for (int i = 1; i < net->n_nodes; i++) {
        const sc_node *nd = &net->nodes[i];
        if (nd->pn[P_W]) /* a multiply-add per weight and output position */
            sum += (double)nd->pn[P_W] * nd->h * nd->w;
        else if (nd->kh > 0) /* a pool: its kh x kw window per output */
            sum += (double)sc_node_size(nd) * nd->kh * nd->kw;
        else /* one per input element */
            sum += (double)sc_node_size(&net->nodes[nd->in[0]]);
    }
    *ops = sum;
    return SC_OK;
}

void sc_plan_free(sc_net *net)
{
    free(net->arena);
    net->arena = NULL;
    net->arena_floats = 0;
    net->plan_dirty = 1;
}
