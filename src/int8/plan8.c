/* plan8.c -- the int8 program of a loaded model: which nodes fold into a
 * weighted layer's requantisation, each tensor's quantisation, every op's
 * prepared data, and the byte buffers for a batch. */
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "int8/q8.h"

/* the one node reading node i, or -1 (none, or more than one read) */
static int sole_reader(const sc_net *net, int i)
{
    int r = -1, reads = 0;
    for (int j = i + 1; j < net->n_nodes; j++)
        for (int k = 0; k < net->nodes[j].n_in; k++)
            if (net->nodes[j].in[k] == i) {
                r = j;
                reads++;
            }
    return reads == 1 ? r : -1;
}

static sc_status q8_call(sc_q8 *q, sc_node *nd, sc_q8_action a)
{
    sc_q8_fn f = sc_ops[nd->kind].q8;
    return f ? f(q, nd, (int)a) : SC_ERR_UNSUPPORTED;
}

/* A weighted layer's chain: a per-channel affine (a norm) and then a clamp
 * (a relu) that are each the only reader of what comes before. */
static void fold_chain(sc_q8 *q, int i)
{
    sc_net *net = q->net;
    int cur = i, affine = 0;
    for (;;) {
        int r = sole_reader(net, cur);
        if (r < 0)
            break;
        sc_node *rd = &net->nodes[r];
        if (!affine && q8_call(q, rd, Q8_AFFINE) == SC_OK)
            affine = 1;
        else if (q8_call(q, rd, Q8_CLAMP) == SC_OK)
            affine = 2; /* nothing after a clamp */
        else
            break;
        q->nodes[cur].next = r;
        q->nodes[r].fused = 1;
        q->nodes[r].end = i; /* a fold's end is its head */
        cur = r;
        if (affine == 2)
            break;
    }
    q->nodes[i].end = cur;
}

sc_status sc_q8_build(sc_net *net, const sc_qkernel *kernel, sc_q8 **out,
                      const char *fn)
{
    if (net->calib == NULL)
        return sc_fail(SC_ERR_STATE, "%s: the model has no activation ranges "
                       "(sc_net_calibrate() before saving)", fn);
    sc_q8 *q = calloc(1, sizeof *q);
    int maxc = 1;
    for (int i = 0; i < net->n_nodes; i++)
        maxc = net->nodes[i].c > maxc ? net->nodes[i].c : maxc;
    if (q == NULL ||
        (q->nodes = calloc((size_t)net->n_nodes, sizeof *q->nodes)) == NULL ||
        (q->aff_a = malloc((size_t)maxc * sizeof(float))) == NULL ||
        (q->aff_b = malloc((size_t)maxc * sizeof(float))) == NULL) {
        sc_q8_free(q);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    }
    q->net = net;
    q->kernel = kernel ? kernel : sc_qkernel_best();
    int last = net->n_nodes - 1;
    for (int i = 0; i < net->n_nodes; i++) {
        q->nodes[i].next = -1;
        q->nodes[i].end = i;
    }
    for (int i = 1; i < net->n_nodes; i++)
        if (sc_is_weighted(&net->nodes[i]) && !q->nodes[i].fused)
            fold_chain(q, i);
    sc_status st = SC_OK;
    for (int i = 0; i < net->n_nodes && st == SC_OK; i++) {
        sc_q8node *qn = &q->nodes[i];
        if (qn->fused) { /* its head writes the chain's output */
            qn->t = q->nodes[qn->end].t;
            continue;
        }
        const float *r = net->calib + 2 * qn->end;
        qn->t = sc_q8_tensor(r[0], r[1]);
        qn->out_float = qn->end == last;
        if (i == 0)
            continue;
        st = q8_call(q, &net->nodes[i], Q8_PREPARE);
        if (st == SC_ERR_UNSUPPORTED && sc_ops[net->nodes[i].kind].q8 == NULL)
            st = sc_fail(st, "%s: layer %d (%s) has no int8 inference", fn, i,
                         sc_ops[net->nodes[i].kind].name);
        else if (st != SC_OK)
            st = sc_fail(st, "%s: layer %d (%s): %s", fn, i,
                         sc_ops[net->nodes[i].kind].name, sc_last_error());
        if (qn->scratch > q->scratch_per_thread)
            q->scratch_per_thread = qn->scratch;
    }
    if (st != SC_OK) {
        sc_q8_free(q);
        return st;
    }
    q->scratch_per_thread = (q->scratch_per_thread + 63) / 64 * 64;
    *out = q;
    return SC_OK;
}

void sc_q8_free(sc_q8 *q)
{
    if (q == NULL)
        return;
    if (q->nodes)
        for (int i = 0; i < q->net->n_nodes; i++)
            free(q->nodes[i].priv);
    free(q->nodes);
    free(q->aff_a);
    free(q->aff_b);
    free(q->arena);
    free(q->scratch);
    free(q);
}

size_t sc_q8_resident(const sc_q8 *q)
{
    size_t n = 0;
    for (int i = 0; i < q->net->n_nodes; i++)
        n += q->nodes[i].priv_bytes;
    return n;
}

/* The byte buffers of a batch of n: every node's output that is not a
 * fold, an alias or the float logits, and each thread's scratch. */
sc_status sc_q8_plan(sc_q8 *q, int n, const char *fn)
{
    sc_net *net = q->net;
    if (n == q->plan_n)
        return SC_OK;
    size_t total = 0;
    int ok = 1;
    for (int i = 0; i < net->n_nodes; i++) {
        const sc_q8node *qn = &q->nodes[i];
        if (qn->fused || qn->alias || qn->out_float)
            continue;
        size_t b;
        ok = ok && sc_mul_ok((size_t)n, sc_node_size(&net->nodes[i]), &b) &&
             sc_add_ok(total, (b + 63) / 64 * 64, &total);
    }
    size_t sbytes;
    ok = ok && sc_mul_ok(q->scratch_per_thread, (size_t)net->threads, &sbytes);
    if (!ok)
        return sc_fail(SC_ERR_NOMEM, "%s: a batch of %d does not fit", fn, n);
    if (total > q->arena_bytes) {
        uint8_t *a = aligned_alloc(64, total);
        if (a == NULL)
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
        free(q->arena);
        q->arena = a;
        q->arena_bytes = total;
    }
    if (q->scratch == NULL || sbytes > q->scratch_bytes) {
        uint8_t *s = aligned_alloc(64, sbytes ? sbytes : 64);
        if (s == NULL)
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
        free(q->scratch);
        q->scratch = s;
        q->scratch_bytes = sbytes;
    }
    size_t off = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        sc_q8node *qn = &q->nodes[i];
        const sc_node *nd = &net->nodes[i];
        if (qn->fused) /* its head writes the chain's output */
            qn->y = q->nodes[qn->end].y;
        else if (qn->out_float)
            qn->y = NULL;
        else if (qn->alias)
            qn->y = q->nodes[nd->in[0]].y;
        else {
            qn->y = q->arena + off;
            off += ((size_t)n * sc_node_size(nd) + 63) / 64 * 64;
        }
    }
    q->plan_n = n;
    return SC_OK;
}

SC_API const char *sc_int8_kernel(void) { return sc_qkernel_best()->name; }
