/* concat.c -- y = the inputs' channels one after another (same h, w);
 * each input's dy gets its slice of dy. */
#include <string.h>

#include "cgen/cgen.h"
#include "core/error.h"
#include "int8/q8.h"
#include "ops/ops.h"

typedef struct cat_job {
    sc_net *net;
    sc_node *nd;
} cat_job;

/* samples [b, e): the inputs' maps into y */
static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const cat_job *j = ctx;
    const sc_node *nd = j->nd;
    size_t ysz = sc_node_size(nd);
    for (size_t s = b; s < e; s++) {
        float *y = nd->y + s * ysz;
        for (int k = 0; k < nd->n_in; k++) {
            const sc_node *x = sc_in(j->net, (sc_node *)nd, k);
            size_t xsz = sc_node_size(x);
            memcpy(y, x->y + s * xsz, xsz * sizeof(float));
            y += xsz;
        }
    }
}

/* samples [b, e): dy's slices into (or onto) the inputs' dy */
static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const cat_job *j = ctx;
    const sc_node *nd = j->nd;
    size_t ysz = sc_node_size(nd);
    for (size_t s = b; s < e; s++) {
        const float *dy = nd->dy + s * ysz;
        for (int k = 0; k < nd->n_in; k++) {
            const sc_node *x = sc_in(j->net, (sc_node *)nd, k);
            size_t xsz = sc_node_size(x);
            float *restrict dx = x->dy ? x->dy + s * xsz : NULL;
            const float *restrict g = dy;
            dy += xsz;
            if (!dx)
                continue;
            if (x->dy_set)
                memcpy(dx, g, xsz * sizeof(float));
            else
                for (size_t i = 0; i < xsz; i++)
                    dx[i] += g[i];
        }
    }
}

sc_status sc_op_concat(sc_net *net, sc_node *nd, sc_op_action action)
{
    cat_job j = {net, nd};
    switch (action) {
    case OP_SHAPE: {
        const sc_node *a = sc_in(net, nd, 0);
        int64_t c = 0;
        for (int k = 0; k < nd->n_in; k++) {
            const sc_node *x = sc_in(net, nd, k);
            if (x->h != a->h || x->w != a->w)
                return sc_fail(SC_ERR_SHAPE, "concat: input %d is %dx%d, "
                               "input 0 %dx%d: the maps must be the same size",
                               k, x->h, x->w, a->h, a->w);
            c += x->c;
        }
        if (c > (1 << 28))
            return sc_fail(SC_ERR_SHAPE, "concat: %lld channels",
                           (long long)c);
        nd->c = (int)c;
        nd->h = a->h;
        nd->w = a->w;
        return SC_OK;
    }
    case OP_SCRATCH:
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD:
        sc_pool_map(net->pool, (size_t)net->plan_n, 1, forward_task, &j);
        return SC_OK;
    case OP_BACKWARD:
        sc_pool_map(net->pool, (size_t)net->plan_n, 1, backward_task, &j);
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "concat: unknown action %d", action);
}

/* int8: each input's bytes rescaled to the output's quantisation */
sc_status sc_q8_concat(sc_q8 *q, sc_node *nd, int action)
{
    sc_q8node *qn = sc_q8_of(q, nd);
    sc_q8sum *s = qn->priv;
    switch (action) {
    case Q8_PREPARE:
        s = malloc((size_t)nd->n_in * sizeof *s);
        if (s == NULL)
            return sc_fail(SC_ERR_NOMEM, "out of memory");
        for (int k = 0; k < nd->n_in; k++)
            if (!sc_q8_sum_init(&sc_q8_in(q, nd, k)->t, 1, qn->t, &s[k])) {
                free(s);
                return sc_fail(SC_ERR_UNSUPPORTED, "input %d's scale is out "
                               "of range of the output's", k);
            }
        free(qn->priv);
        qn->priv = s;
        qn->priv_bytes = (size_t)nd->n_in * sizeof *s;
        return SC_OK;
    case Q8_FORWARD: {
        size_t ysz = sc_node_size(nd);
        for (size_t i = 0; i < (size_t)q->plan_n; i++) {
            uint8_t *y = qn->y + i * ysz;
            for (int k = 0; k < nd->n_in; k++) {
                size_t xsz = sc_node_size(sc_in(q->net, nd, k));
                const uint8_t *x = sc_q8_in(q, nd, k)->y + i * xsz;
                for (size_t e = 0; e < xsz; e++)
                    y[e] = sc_q8_sum(&s[k], x + e);
                y += xsz;
            }
        }
        return SC_OK;
    }
    case Q8_EMIT: {
        sc_cgen *g = q->cg;
        int id = sc_q8_sum_emit(g, s, nd->n_in), i = (int)(nd - q->net->nodes);
        size_t at = 0;
        sc_cgen_code(g, "    { /* layer %d: its inputs one after another */\n"
                        "        uint8_t *y = %s;\n", i, sc_cgen_y(g, i));
        for (int k = 0; k < nd->n_in; k++) {
            size_t xsz = sc_node_size(sc_in(q->net, nd, k));
            sc_cgen_code(g, "        for (int i = 0; i < %zu; i++)\n"
                            "            y[%zu + i] = q8_sum(&s%d[%d], %s + i);\n",
                         xsz, at, id, k, sc_cgen_y(g, nd->in[k]));
            at += xsz;
        }
        sc_cgen_code(g, "    }\n");
        return SC_OK;
    }
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
