/* lut.c -- int8 ops of one input byte: a table of 256 output bytes (an
 * activation computed once on every input value), and the ops that keep
 * their input's quantisation (int8/q8.h). */
#include <string.h>

#include "cgen/cgen.h"
#include "core/error.h"
#include "int8/q8.h"

static sc_status lut_prepare(sc_q8 *q, sc_node *nd, float (*f)(float, float))
{
    const sc_q8t tin = sc_q8_in(q, nd, 0)->t;
    sc_q8node *qn = sc_q8_of(q, nd);
    uint8_t *lut = malloc(256);
    if (lut == NULL)
        return sc_fail(SC_ERR_NOMEM, "out of memory");
    float inv = 1.0f / qn->t.s;
    for (int v = 0; v < 256; v++)
        lut[v] = sc_q8_quantize(f(tin.s * (float)(v - tin.z), nd->alpha), inv,
                                qn->t.z);
    free(qn->priv);
    qn->priv = lut;
    qn->priv_bytes = 256;
    return SC_OK;
}

typedef struct lut_job {
    const uint8_t *x, *lut;
    uint8_t *y;
} lut_job;

static void lut_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const lut_job *j = ctx;
    for (size_t i = b; i < e; i++)
        j->y[i] = j->lut[j->x[i]];
}

static void lut_forward(sc_q8 *q, sc_node *nd)
{
    const sc_q8node *qn = sc_q8_of(q, nd);
    lut_job j = {sc_q8_in(q, nd, 0)->y, qn->priv, qn->y};
    sc_pool_map(q->net->pool, (size_t)q->plan_n * sc_node_size(nd), 16384,
                lut_task, &j);
}

void sc_q8_keep_input(sc_q8 *q, sc_node *nd, int alias)
{
    sc_q8node *qn = sc_q8_of(q, nd);
    qn->t = sc_q8_in(q, nd, 0)->t;
    qn->alias = alias;
}

static sc_status lut_emit(sc_q8 *q, sc_node *nd)
{
    sc_cgen *g = q->cg;
    const sc_q8node *qn = sc_q8_of(q, nd);
    int id = sc_cgen_array(g, SC_CG_U8, qn->priv, 256);
    sc_cgen_code(g, "    { /* layer %d: a table of its input byte */\n"
                    "        const uint8_t *x = %s;\n"
                    "        uint8_t *y = %s;\n"
                    "        for (int i = 0; i < %zu; i++)\n"
                    "            y[i] = k%d[x[i]];\n"
                    "    }\n",
                 (int)(nd - q->net->nodes), sc_cgen_y(g, nd->in[0]),
                 sc_cgen_y(g, (int)(nd - q->net->nodes)), sc_node_size(nd), id);
    return SC_OK;
}

sc_status sc_q8_elementwise(sc_q8 *q, sc_node *nd, int action,
                            float (*f)(float, float), double lo, double hi)
{
    switch (action) {
    case Q8_CLAMP:
        if (lo > hi)
            return SC_ERR_UNSUPPORTED;
        q->clamp_lo = lo;
        q->clamp_hi = hi;
        return SC_OK;
    case Q8_PREPARE:
        return lut_prepare(q, nd, f);
    case Q8_FORWARD:
        lut_forward(q, nd);
        return SC_OK;
    case Q8_EMIT:
        return lut_emit(q, nd);
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
