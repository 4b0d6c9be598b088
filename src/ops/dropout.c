/* dropout.c -- y = x m / (1 - p) in a training step, y = x otherwise;
 * dx = dy m / (1 - p).
 *
 * The mask m of element i (its index in the batch) is a hash of the net's
 * seed, the layer's id, the step counter net->drop_step and i, so the
 * forward and the backward of a step agree without storing it, and a run
 * from a seed (or resumed from a checkpoint: the counter is the
 * optimizer's step) drops the same elements. Outside a training step
 * (drop_step 0: sc_net_forward in either mode, compress's folding, batch
 * statistics refreshes) dropout is the identity, its expectation. */
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "int8/q8.h"
#include "ops/ops.h"

/* elements per thread below which a loop is not worth splitting */
#define GRAIN 16384

typedef struct drop_job {
    const float *in;
    float *out;
    uint64_t key;     /* seed, layer and step, hashed */
    uint32_t thresh;  /* an element is kept when its 32-bit hash >= thresh */
    float scale;      /* 1 / (1 - p) */
    int set;          /* backward: store into dx rather than add */
} drop_job;

static uint32_t mask_bits(uint64_t key, size_t i)
{
    return (uint32_t)(sc_hash64(key + (uint64_t)i * SC_RNG_GOLDEN) >> 32);
}

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const drop_job *j = ctx;
    for (size_t i = b; i < e; i++)
        j->out[i] = mask_bits(j->key, i) >= j->thresh ? j->in[i] * j->scale
                                                       : 0.0f;
}

static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const drop_job *j = ctx;
    for (size_t i = b; i < e; i++) {
        float g = mask_bits(j->key, i) >= j->thresh ? j->in[i] * j->scale : 0.0f;
        j->out[i] = j->set ? g : j->out[i] + g;
    }
}

static void copy_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const drop_job *j = ctx;
    if (j->out != j->in)
        memcpy(j->out + b, j->in + b, (e - b) * sizeof(float));
}

static void add_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const drop_job *j = ctx;
    for (size_t i = b; i < e; i++)
        j->out[i] = j->set ? j->in[i] : j->out[i] + j->in[i];
}

sc_status sc_op_dropout(sc_net *net, sc_node *nd, sc_op_action action)
{
    sc_node *x = sc_in(net, nd, 0);
    double p = nd->alpha;
    if (action == OP_SHAPE) {
        if (!(p >= 0.0 && p < 1.0))
            return sc_fail(SC_ERR_ARG, "dropout: p (alpha) %g is not in [0, 1)",
                           p);
        nd->c = x->c;
        nd->h = x->h;
        nd->w = x->w;
        return SC_OK;
    }
    /* p in [0, 1) from here on: the threshold is below 2^32 */
    size_t total = (size_t)net->plan_n * sc_node_size(nd);
    drop_job j = {NULL, NULL,
                  sc_hash64(net->seed ^ sc_hash64((uint64_t)(nd - net->nodes) << 32 ^
                                                  net->drop_step)),
                  (uint32_t)(p * 4294967296.0), (float)(1.0 / (1.0 - p)),
                  x->dy_set};
    int drop = net->drop_step != 0 && p > 0.0;
    switch (action) {
    case OP_SHAPE: /* answered above */
    case OP_SCRATCH:
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD:
        j.in = x->y;
        j.out = nd->y;
        sc_pool_map(net->pool, total, GRAIN, drop ? forward_task : copy_task, &j);
        return SC_OK;
    case OP_BACKWARD:
        if (!x->dy)
            return SC_OK;
        j.in = nd->dy;
        j.out = x->dy;
        sc_pool_map(net->pool, total, GRAIN, drop ? backward_task : add_task, &j);
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "dropout: unknown action %d", action);
}

/* int8 (inference): the identity, on the input's bytes */
sc_status sc_q8_dropout(sc_q8 *q, sc_node *nd, int action)
{
    if (action != Q8_PREPARE)
        return action == Q8_FORWARD ? SC_OK : SC_ERR_UNSUPPORTED;
    sc_q8_keep_input(q, nd, 1);
    return SC_OK;
}
