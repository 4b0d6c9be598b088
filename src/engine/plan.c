/* plan.c -- one arena per batch size: outputs, gradients, scratch.
 * The arena only grows, so a smaller batch (the last of an epoch) and every
 * later step reuse it: a steady-state step allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

#define ALIGN_FLOATS 16

static size_t up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* Ops that always alias (SC_OPF_ALIAS: a flatten), and ops that may work
 * in place (SC_OPF_IN_PLACE: a relu) when they are the only reader of a
 * computed input, work in place: their y and dy are their input's. (An
 * in-place op needs only its own output in backward, as relu reads the
 * sign of it; so overwriting the input of a sole-consumer one loses
 * nothing.) */
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
    if (owner == 0)
        return 0;
    /* the only reader of that buffer, also through flattens of it */
    int readers = 0;
    for (int j = 1; j < net->n_nodes; j++)
        for (int k = 0; k < net->nodes[j].n_in; k++)
            readers += !(sc_op_flags(&net->nodes[j]) & SC_OPF_ALIAS) &&
                       buffer_owner(net, net->nodes[j].in[k]) == owner;
    return readers == 1;
}

/* Walks the layout for batch n; assigns pointers when base is not NULL. */
static size_t layout(sc_net *net, int n, float *base)
{
    size_t off = 0;
#define TAKE(ptr, count, type)                                                \
    do {                                                                      \
        size_t cnt_ = up(count);                                              \
        if (base)                                                             \
            ptr = (type *)(void *)(base + off);                               \
        off += cnt_;                                                          \
    } while (0)
    int threads = sc_pool_threads(net->pool);
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        size_t sz = (size_t)n * sc_node_size(nd);
        if (nd->alias)
            continue;
        TAKE(nd->y, sz, float);
        if (nd->n_arg)
            TAKE(nd->arg, nd->n_arg, int32_t); /* int32 and float: one size */
        if (nd->n_save)
            TAKE(nd->save, nd->n_save, float);
        if (nd->quantized)
            TAKE(nd->qw, nd->pn[P_W], float);
    }
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->alias)
            TAKE(nd->dy, (size_t)n * sc_node_size(nd), float);
    }
    sc_node *last = &net->nodes[net->n_nodes - 1];
    TAKE(net->probs, (size_t)n * sc_node_size(last), float);
    TAKE(net->scratch, (size_t)threads * net->scratch_per_thread, float);
    TAKE(net->wgrad, (size_t)threads * net->wgrad_per_thread, float);
    TAKE(net->packed, net->packed_floats, float);
#undef TAKE
    return off;
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

sc_status sc_plan(sc_net *net, int n)
{
    if (!net->plan_dirty && n == net->plan_n)
        return SC_OK;
    net->scratch_per_thread = net->wgrad_per_thread = net->packed_floats = 0;
    for (int i = 1; i < net->n_nodes; i++)
        net->nodes[i].alias = works_in_place(net, i);
    fuse(net);
    single_writers(net);
    int saved_n = net->plan_n;
    net->plan_n = n;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        nd->n_arg = nd->n_save = 0;
        sc_ops[nd->kind].fn(net, nd, OP_SCRATCH);
    }
    size_t need = layout(net, n, NULL);
    if (need > net->arena_floats) {
        float *arena = aligned_alloc(64, up(need) * sizeof(float));
        if (arena == NULL) {
            net->plan_n = saved_n;
            net->plan_dirty = 1;
            return sc_fail(SC_ERR_NOMEM,
                           "out of memory planning %zu floats for batch %d",
                           need, n);
        }
        free(net->arena);
        net->arena = arena;
        net->arena_floats = up(need);
        net->plan_cap_n = n;
    }
    layout(net, n, net->arena);
    net->nodes[0].dy = NULL;
    alias_in_place(net);
    net->plan_dirty = 0;
    return SC_OK;
}

void sc_plan_free(sc_net *net)
{
    free(net->arena);
    net->arena = NULL;
    net->arena_floats = 0;
    net->plan_dirty = 1;
}
