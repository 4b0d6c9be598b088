/* q8_conv.c -- an int8 convolution (groups included): per run of samples,
 * each sample's input bytes copied into a frame of its zero point when
 * padded, then per group one integer GEMM read through the tap and position
 * tables (kernels/qkernel.h), requantised into the output's bytes. A small
 * output map would fill the kernel's column panels badly, so a run takes
 * enough samples for about RUN_COLS columns: their positions side by side
 * (each column's sum is the same whatever its panel's other columns). */
#include <string.h>

#include "cgen/cgen.h"
#include "core/error.h"
#include "int8/q8.h"

/* the columns a run of samples aims at */
#define RUN_COLS 256

typedef struct conv8 {
    int ph, pw, padded;      /* the padded image's height and width */
    int cin_g, mg, k, npos;  /* per group: input channels, outputs, taps */
    int run;                 /* most samples per GEMM */
    size_t ldc;              /* run * npos rounded up to the kernel's NR */
    size_t stride;           /* bytes from one sample's image to the next */
    int32_t *tab, *roff;     /* roff: run * npos columns */
    size_t img_bytes, panel_bytes; /* img_bytes: one padded image */
} conv8;

static conv8 *tables(const sc_q8w *w)
{
    return (conv8 *)((uint8_t *)w + w->tail);
}

static sc_status prepare(sc_q8 *q, sc_node *nd)
{
    const sc_node *x = &q->net->nodes[nd->in[0]];
    int groups = sc_groups(nd), cin_g = x->c / groups;
    int k = cin_g * nd->kh * nd->kw, npos = nd->h * nd->w;
    int nr = q->kernel->nr, run = npos >= RUN_COLS ? 1 : (RUN_COLS + npos - 1) / npos;
    size_t cols = (size_t)run * (size_t)npos;
    size_t ldc = (cols + (size_t)nr - 1) / (size_t)nr * (size_t)nr;
    size_t extra = sizeof(conv8) + 64 + ((size_t)k + cols) * 4;
    void *tail;
    sc_status st = sc_q8_weighted_prepare(q, nd, k, groups, extra, &tail);
    if (st != SC_OK)
        return st;
    conv8 *c = tail;
    c->padded = nd->ph > 0 || nd->pw > 0;
    c->ph = x->h + 2 * nd->ph;
    c->pw = x->w + 2 * nd->pw;
    c->cin_g = cin_g;
    c->mg = nd->c / groups;
    c->k = k;
    c->npos = npos;
    c->run = run;
    c->ldc = ldc;
    c->tab = (int32_t *)((uint8_t *)tail + (sizeof(conv8) + 63) / 64 * 64);
    c->roff = c->tab + k;
    size_t plane = (size_t)c->ph * (size_t)c->pw;
    for (int ch = 0, t = 0; ch < cin_g; ch++)
        for (int i = 0; i < nd->kh; i++)
            for (int j = 0; j < nd->kw; j++)
                c->tab[t++] = (int32_t)((size_t)ch * plane +
                                        (size_t)i * (size_t)c->pw + (size_t)j);
    c->img_bytes = c->padded ? ((size_t)x->c * plane + 63) / 64 * 64 : 0;
    c->stride = c->padded ? c->img_bytes : sc_node_size(x);
    if ((size_t)run * c->stride > INT32_MAX)
        return sc_fail(SC_ERR_UNSUPPORTED, "a run of %d images of %zu bytes "
                       "is out of the position table's range", run, c->stride);
    for (int s = 0, p = 0; s < run; s++)
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++)
                c->roff[p++] = (int32_t)((size_t)s * c->stride) +
                               oy * nd->sh * c->pw + ox * nd->sw;
    c->panel_bytes = (sc_qgemm_panel_bytes(q->kernel, k) + 63) / 64 * 64;
    sc_q8_of(q, nd)->scratch = (size_t)run * c->img_bytes + c->panel_bytes +
                               (size_t)c->mg * ldc * 4;
    return SC_OK;
}

typedef struct conv_job {
    sc_q8 *q;
    sc_node *nd;
    int run; /* samples per item */
} conv_job;

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    const conv_job *j = ctx;
    sc_q8 *q = j->q;
    const sc_node *nd = j->nd, *x = &q->net->nodes[nd->in[0]];
    const sc_q8node *qn = sc_q8_of(q, nd), *qx = sc_q8_in(q, nd, 0);
    const sc_q8w *w = qn->priv;
    const conv8 *c = tables(w);
    uint8_t *img = sc_q8_scratch(q, t), *panel = img + (size_t)c->run * c->img_bytes;
    int32_t *acc = (int32_t *)(panel + c->panel_bytes);
    size_t in_size = sc_node_size(x), out_size = sc_node_size(nd);
    size_t plane = (size_t)c->ph * (size_t)c->pw;
    size_t n = (size_t)q->plan_n;
    for (size_t r = b; r < e; r++) {
        size_t s0 = r * (size_t)j->run;
        int ns = (int)(n - s0 < (size_t)j->run ? n - s0 : (size_t)j->run);
        const uint8_t *src = qx->y + s0 * in_size;
        if (c->padded) {
            for (int s = 0; s < ns; s++) {
                uint8_t *im = img + (size_t)s * c->img_bytes;
                const uint8_t *xs = src + (size_t)s * in_size;
                memset(im, qx->t.z, (size_t)x->c * plane);
                for (int ch = 0; ch < x->c; ch++)
                    for (int i = 0; i < x->h; i++)
                        memcpy(im + ch * plane + (size_t)(i + nd->ph) * c->pw + nd->pw,
                               xs + ((size_t)ch * x->h + i) * x->w, (size_t)x->w);
            }
            src = img;
        }
        size_t in_plane = c->padded ? plane : (size_t)x->h * x->w;
        for (int g = 0; g < w->groups; g++) {
            sc_qgemm(q->kernel, c->mg, c->k,
                     (const uint8_t *)w->w + (size_t)g * w->group_bytes,
                     src + (size_t)g * c->cin_g * in_plane, c->tab, c->roff,
                     ns * c->npos, panel, acc, c->ldc);
            for (int s = 0; s < ns; s++) {
                size_t at = (s0 + (size_t)s) * out_size;
                sc_q8_weighted_store(w, acc + (size_t)s * c->npos, c->ldc,
                                     g * c->mg, c->mg, c->npos, qx->t.z,
                                     qn->y ? qn->y + at : NULL,
                                     qn->out_float ? q->out + at : NULL,
                                     (size_t)c->npos, 1);
            }
        }
    }
}

/* samples per item: up to the table's run, but enough items for every
 * thread to get the same number */
static int run_of(const conv8 *c, int n, int threads)
{
    int items = (n + c->run - 1) / c->run;
    items = (items + threads - 1) / threads * threads;
    int run = (n + items - 1) / items;
    return run < 1 ? 1 : run;
}

/* the C of one sample: a direct convolution, the padding read as the
 * input's zero point (the same sums as the frame forward_task pads) */
static const char CONV_C[] =
    "/* a convolution (groups too): its shape and weights */\n"
    "typedef struct q8conv {\n"
    "    const q8w *L;\n"
    "    int cin, ih, iw, groups, kh, kw, sh, sw, ph, pw, oc, oh, ow;\n"
    "} q8conv;\n"
    "static void q8_conv(const q8conv *c, const uint8_t *x, uint8_t *y,\n"
    "                    float *fy)\n"
    "{\n"
    "    const q8w *L = c->L;\n"
    "    int cin_g = c->cin / c->groups, mg = c->oc / c->groups;\n"
    "    int npos = c->oh * c->ow;\n"
    "    for (int o = 0; o < c->oc; o++) {\n"
    "        const int8_t *w = L->w + (size_t)o * (size_t)L->k;\n"
    "        const uint8_t *xg = x + (size_t)(o / mg) * (size_t)cin_g *\n"
    "                                    (size_t)(c->ih * c->iw);\n"
    "        for (int oy = 0; oy < c->oh; oy++)\n"
    "            for (int ox = 0; ox < c->ow; ox++) {\n"
    "                int32_t acc = 0;\n"
    "                int t = 0, p = oy * c->ow + ox;\n"
    "                size_t at = (size_t)o * (size_t)npos + (size_t)p;\n"
    "                for (int ch = 0; ch < cin_g; ch++)\n"
    "                    for (int i = 0; i < c->kh; i++) {\n"
    "                        int iy = oy * c->sh - c->ph + i;\n"
    "                        const uint8_t *row = xg + (size_t)(ch * c->ih) *\n"
    "                                                      (size_t)c->iw;\n"
    "                        int in_y = iy >= 0 && iy < c->ih;\n"
    "                        if (in_y)\n"
    "                            row += (size_t)iy * (size_t)c->iw;\n"
    "                        for (int j = 0; j < c->kw; j++, t++) {\n"
    "                            int ix = ox * c->sw - c->pw + j;\n"
    "                            int v = in_y && ix >= 0 && ix < c->iw\n"
    "                                        ? row[ix]\n"
    "                                        : L->zin;\n"
    "                            acc += (int32_t)w[t] * v;\n"
    "                        }\n"
    "                    }\n"
    "                q8w_put(L, o, p, acc, y ? y + at : 0, fy ? fy + at : 0);\n"
    "            }\n"
    "    }\n"
    "}\n";

static sc_status emit(sc_q8 *q, sc_node *nd)
{
    sc_cgen *g = q->cg;
    const sc_node *x = &q->net->nodes[nd->in[0]];
    const sc_q8node *qn = sc_q8_of(q, nd);
    int id = sc_q8_weighted_emit(q, nd, tables(qn->priv)->k, "q8_conv", CONV_C);
    if (id < 0)
        return SC_ERR_NOMEM;
    int i = (int)(nd - q->net->nodes), cid = g->n_arrays++;
    sc_cgen_def(g, "static const q8conv c%d = {&w%d, %d, %d, %d, %d, %d, %d, "
                "%d, %d, %d, %d, %d, %d, %d};\n", cid, id, x->c, x->h, x->w,
                sc_groups(nd), nd->kh, nd->kw, nd->sh, nd->sw, nd->ph, nd->pw,
                nd->c, nd->h, nd->w);
    sc_cgen_code(g, "    q8_conv(&c%d, %s, %s, %s); /* layer %d */\n", cid,
                 sc_cgen_y(g, nd->in[0]), qn->out_float ? "0" : sc_cgen_y(g, i),
                 qn->out_float ? "logits" : "0", i);
    return SC_OK;
}

sc_status sc_q8_conv2d(sc_q8 *q, sc_node *nd, int action)
{
    switch (action) {
    case Q8_PREPARE:
        return prepare(q, nd);
    case Q8_FORWARD: {
        const conv8 *c = tables(sc_q8_of(q, nd)->priv);
        conv_job j = {q, nd, run_of(c, q->plan_n, sc_pool_threads(q->net->pool))};
        size_t items = ((size_t)q->plan_n + (size_t)j.run - 1) / (size_t)j.run;
        sc_pool_run(q->net->pool, items, forward_task, &j);
        return SC_OK;
    }
    case Q8_EMIT:
        return emit(q, nd);
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
