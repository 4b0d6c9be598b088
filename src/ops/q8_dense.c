/* q8_dense.c -- an int8 dense layer: the samples' bytes are the columns of
 * one integer GEMM (kernels/qkernel.h), a panel of the kernel's NR samples
 * per task, requantised into each sample's row. */
#include "cgen/cgen.h"
#include "core/error.h"
#include "int8/q8.h"

typedef struct dense8 {
    int32_t *tab, *roff; /* taps 0..k, sample offsets of one panel */
    size_t panel_bytes;
} dense8;

static sc_status prepare(sc_q8 *q, sc_node *nd)
{
    const sc_node *x = &q->net->nodes[nd->in[0]];
    int k = (int)sc_node_size(x), nr = q->kernel->nr;
    size_t extra = 64 + ((size_t)k + (size_t)nr) * 4;
    void *tail;
    sc_status st = sc_q8_weighted_prepare(q, nd, k, 1, extra, &tail);
    if (st != SC_OK)
        return st;
    dense8 *d = tail;
    d->tab = (int32_t *)((uint8_t *)tail + 64);
    d->roff = d->tab + k;
    for (int t = 0; t < k; t++)
        d->tab[t] = t;
    for (int j = 0; j < nr; j++)
        d->roff[j] = j * k;
    d->panel_bytes = (sc_qgemm_panel_bytes(q->kernel, k) + 63) / 64 * 64;
    sc_q8_of(q, nd)->scratch = d->panel_bytes + (size_t)nd->c * (size_t)nr * 4;
    return SC_OK;
}

typedef struct dense_job {
    sc_q8 *q;
    sc_node *nd;
} dense_job;

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    const dense_job *j = ctx;
    sc_q8 *q = j->q;
    const sc_node *nd = j->nd;
    const sc_q8node *qn = sc_q8_of(q, nd), *qx = sc_q8_in(q, nd, 0);
    const sc_q8w *w = qn->priv;
    const dense8 *d = (const dense8 *)((const uint8_t *)w + w->tail);
    int nr = q->kernel->nr, m = nd->c;
    uint8_t *panel = sc_q8_scratch(q, t);
    int32_t *acc = (int32_t *)(panel + d->panel_bytes);
    for (size_t p = b; p < e; p++) {
        size_t s0 = p * (size_t)nr;
        int cols = q->plan_n - (int)s0 < nr ? q->plan_n - (int)s0 : nr;
        sc_qgemm(q->kernel, m, w->k, w->w, qx->y + s0 * (size_t)w->k, d->tab,
                 d->roff, cols, panel, acc, (size_t)nr);
        sc_q8_weighted_store(w, acc, (size_t)nr, 0, m, cols, qx->t.z,
                             qn->y ? qn->y + s0 * (size_t)m : NULL,
                             qn->out_float ? q->out + s0 * (size_t)m : NULL, 1,
                             (size_t)m);
    }
}

/* the C of one sample: each output's sum over the input's bytes */
static const char DENSE_C[] =
    "/* a dense layer: m outputs of the sums of x with each row */\n"
    "static void q8_dense(const q8w *L, int m, const uint8_t *x,\n"
    "                     uint8_t *y, float *fy)\n"
    "{\n"
    "    for (int o = 0; o < m; o++) {\n"
    "        const int8_t *w = L->w + (size_t)o * (size_t)L->k;\n"
    "        int32_t acc = 0;\n"
    "        for (int j = 0; j < L->k; j++)\n"
    "            acc += (int32_t)w[j] * x[j];\n"
    "        q8w_put(L, o, 0, acc, y ? y + o : 0, fy ? fy + o : 0);\n"
    "    }\n"
    "}\n";

static sc_status emit(sc_q8 *q, sc_node *nd)
{
    sc_cgen *g = q->cg;
    const sc_q8node *qn = sc_q8_of(q, nd);
    int k = ((const sc_q8w *)qn->priv)->k, i = (int)(nd - q->net->nodes);
    int id = sc_q8_weighted_emit(q, nd, k, "q8_dense", DENSE_C);
    if (id < 0)
        return SC_ERR_NOMEM;
    sc_cgen_code(g, "    q8_dense(&w%d, %d, %s, %s, %s); /* layer %d */\n", id,
                 nd->c, sc_cgen_y(g, nd->in[0]),
                 qn->out_float ? "0" : sc_cgen_y(g, i),
                 qn->out_float ? "logits" : "0", i);
    return SC_OK;
}

sc_status sc_q8_dense(sc_q8 *q, sc_node *nd, int action)
{
    switch (action) {
    case Q8_PREPARE:
        return prepare(q, nd);
    case Q8_FORWARD: {
        dense_job j = {q, nd};
        size_t panels = ((size_t)q->plan_n + (size_t)q->kernel->nr - 1) /
                        (size_t)q->kernel->nr;
        sc_pool_run(q->net->pool, panels, forward_task, &j);
        return SC_OK;
    }
    case Q8_EMIT:
        return emit(q, nd);
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
