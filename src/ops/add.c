/* add.c -- y = a + b; da += dy, db += dy. */
#include "cgen/cgen.h"
#include "core/error.h"
#include "core/simd.h"
#include "int8/q8.h"
#include "ops/ops.h"

#define GRAIN 16384

typedef struct add_job {
    const float *a, *b;
    float *out;
    int set; /* backward: store into the input's dy rather than add */
} add_job;

SC_SIMD_CLONES
static void sum_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const add_job *j = ctx;
    const float *restrict x = j->a, *restrict y = j->b;
    float *restrict out = j->out;
    for (size_t i = b; i < e; i++)
        out[i] = x[i] + y[i];
}

SC_SIMD_CLONES
static void acc_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const add_job *j = ctx;
    const float *restrict g = j->a;
    float *restrict out = j->out;
    if (j->set)
        for (size_t i = b; i < e; i++)
            out[i] = g[i];
    else
        for (size_t i = b; i < e; i++)
            out[i] += g[i];
}

sc_status sc_op_add(sc_net *net, sc_node *nd, sc_op_action action)
{
    sc_node *a = sc_in(net, nd, 0), *b = sc_in(net, nd, 1);
    size_t total = (size_t)net->plan_n * sc_node_size(nd);
    switch (action) {
    case OP_SHAPE:
        if (a->c != b->c || a->h != b->h || a->w != b->w)
            return sc_fail(SC_ERR_SHAPE,
                           "add: shapes %dx%dx%d and %dx%dx%d differ", a->c,
                           a->h, a->w, b->c, b->h, b->w);
        nd->c = a->c;
        nd->h = a->h;
        nd->w = a->w;
        return SC_OK;
    case OP_SCRATCH:
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD: {
        add_job j = {a->y, b->y, nd->y, 0};
        sc_pool_map(net->pool, total, GRAIN, sum_task, &j);
        return SC_OK;
    }
    case OP_BACKWARD: {
        sc_node *in[2] = {a, b};
        for (int i = 0; i < 2; i++)
            if (in[i]->dy) {
                add_job j = {nd->dy, NULL, in[i]->dy, in[i]->dy_set};
                sc_pool_map(net->pool, total, GRAIN, acc_task, &j);
            }
        return SC_OK;
    }
    }
    return sc_fail(SC_ERR_ARG, "add: unknown action %d", action);
}

SC_API sc_status sc_net_add(sc_net *net, int a, int b, int *id)
{
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_ADD);
    int in[2] = {a, b};
    return sc_layer_append(net, &d, in, 2, id, "sc_net_add");
}

typedef struct q8_add_job {
    const uint8_t *a, *b;
    uint8_t *y;
    const sc_q8sum *s;
} q8_add_job;

/* sc_q8_sum() of two inputs over [b, e), in a form the compiler
 * vectorises: (q - z) m is a widening multiply of int32s */
SC_SIMD_CLONES static void q8_sum2(const uint8_t *qa,
                                   const uint8_t *qb,
                                   uint8_t *y, size_t b, size_t e,
                                   const sc_q8sum *s)
{
    const int64_t ma = s->m[0], mb = s->m[1], b0 = s->b;
    const int za = s->z[0], zb = s->z[1], shift = s->shift;
    for (size_t i = b; i < e; i++) {
        int64_t acc = b0 + (int64_t)((int)qa[i] - za) * ma +
                      (int64_t)((int)qb[i] - zb) * mb;
        int64_t r = sc_q8_floor_shift(acc, shift);
        r = r < 0 ? 0 : r;
        y[i] = (uint8_t)(r > 255 ? 255 : r);
    }
}

static void q8_sum_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const q8_add_job *j = ctx;
    q8_sum2(j->a, j->b, j->y, b, e, j->s);
}

/* int8: both inputs rescaled to the output's quantisation and summed */
sc_status sc_q8_add(sc_q8 *q, sc_node *nd, int action)
{
    sc_q8node *qn = sc_q8_of(q, nd);
    switch (action) {
    case Q8_PREPARE: {
        sc_q8t in[2] = {sc_q8_in(q, nd, 0)->t, sc_q8_in(q, nd, 1)->t};
        sc_q8sum *s = malloc(sizeof *s);
        if (s == NULL)
            return sc_fail(SC_ERR_NOMEM, "out of memory");
        if (!sc_q8_sum_init(in, 2, qn->t, s)) {
            free(s);
            return sc_fail(SC_ERR_UNSUPPORTED, "the inputs' scales are out of "
                           "range of the output's");
        }
        free(qn->priv);
        qn->priv = s;
        qn->priv_bytes = sizeof *s;
        return SC_OK;
    }
    case Q8_FORWARD: {
        q8_add_job j = {sc_q8_in(q, nd, 0)->y, sc_q8_in(q, nd, 1)->y, qn->y,
                        qn->priv};
        sc_pool_map(q->net->pool, (size_t)q->plan_n * sc_node_size(nd), GRAIN,
                    q8_sum_task, &j);
        return SC_OK;
    }
    case Q8_EMIT: {
        sc_cgen *g = q->cg;
        int id = sc_q8_sum_emit(g, qn->priv, 1), i = (int)(nd - q->net->nodes);
        sc_cgen_code(g, "    { /* layer %d: the sum of two */\n"
                        "        const uint8_t *x0 = %s, *x1 = %s;\n"
                        "        uint8_t *y = %s;\n"
                        "        for (int i = 0; i < %zu; i++) {\n"
                        "            uint8_t v[2];\n"
                        "            v[0] = x0[i];\n"
                        "            v[1] = x1[i];\n"
                        "            y[i] = q8_sum(&s%d[0], v);\n"
                        "        }\n"
                        "    }\n", i, sc_cgen_y(g, nd->in[0]),
                     sc_cgen_y(g, nd->in[1]), sc_cgen_y(g, i), sc_node_size(nd),
                     id);
        return SC_OK;
    }
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
