/* exec8.c -- an int8 forward: the input quantised, every op on bytes in
 * order, the logits in float. */
#include "core/error.h"
#include "int8/q8.h"

typedef struct in_job {
    const float *x;
    uint8_t *y;
    float inv;
    int z;
} in_job;

static void quantize_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const in_job *j = ctx;
    for (size_t i = b; i < e; i++)
        j->y[i] = sc_q8_quantize(j->x[i], j->inv, j->z);
}

sc_status sc_q8_forward(sc_q8 *q, const float *x, int n, float *logits,
                        const char *fn)
{
    sc_net *net = q->net;
    sc_status st = sc_q8_plan(q, n, fn);
    if (st != SC_OK)
        return st;
    q->out = logits;
    sc_q8node *in = &q->nodes[0];
    in_job j = {x, in->y, 1.0f / in->t.s, in->t.z};
    sc_pool_map(net->pool, (size_t)n * sc_node_size(&net->nodes[0]), 16384,
                quantize_task, &j);
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (q->nodes[i].fused || q->nodes[i].alias)
            continue;
        sc_ops[nd->kind].q8(q, nd, Q8_FORWARD);
    }
    const sc_q8node *last = &q->nodes[net->n_nodes - 1];
    if (!last->fused && !last->out_float) { /* bytes: their real values */
        size_t m = (size_t)n * sc_node_size(&net->nodes[net->n_nodes - 1]);
        for (size_t i = 0; i < m; i++)
            logits[i] = last->t.s * (float)((int)last->y[i] - last->t.z);
    }
    q->out = NULL;
    return SC_OK;
}
