/* maxpool.c -- y = max of each kh x kw window (strides sh, sw; padding ph,
 * pw that never wins: it acts as -inf); dx[argmax] += dy. The argmax is an
 * index into the input sample plane. Ties go to the first maximum in
 * row-major window order. */
#include <string.h>

#include "cgen/cgen.h"
#include "core/error.h"
#include "int8/q8.h"
#include "ops/ops.h"

/* planes per thread below which a loop is not worth splitting */
#define GRAIN 16

typedef struct pool_job {
    const sc_node *x, *nd;
} pool_job;

/* the common 2 x 2, stride 2 window: four selects per output, written so
 * the compiler vectorises along the row (maxima are random: no branches) */
static void row_2x2(const float *restrict r0, const float *restrict r1,
                    int32_t base, int32_t w, int n, float *restrict y,
                    int32_t *restrict arg)
{
    for (int ox = 0; ox < n; ox++) {
        int32_t at = base + 2 * ox;
        float v = r0[2 * ox], t = r0[2 * ox + 1];
        int32_t a = at;
        a = t > v ? at + 1 : a;
        v = t > v ? t : v;
        t = r1[2 * ox];
        a = t > v ? at + w : a;
        v = t > v ? t : v;
        t = r1[2 * ox + 1];
        a = t > v ? at + w + 1 : a;
        v = t > v ? t : v;
        y[ox] = v;
        arg[ox] = a;
    }
}

/* the window's first maximum inside the input, from (y0, x0) on */
static void window_max(const float *xp, int w, int y0, int y1, int x0, int x1,
                       float *y, int32_t *arg)
{
    int best = y0 * w + x0;
    float bv = xp[best];
    for (int i = y0; i < y1; i++)
        for (int j = x0; j < x1; j++) {
            int at = i * w + j;
            float v = xp[at];
            best = v > bv ? at : best;
            bv = v > bv ? v : bv;
        }
    *y = bv;
    *arg = best;
}

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const pool_job *j = ctx;
    const sc_node *x = j->x, *nd = j->nd;
    int fast = nd->kh == 2 && nd->kw == 2 && nd->sh == 2 && nd->sw == 2 &&
               nd->ph == 0 && nd->pw == 0;
    size_t isz = (size_t)x->h * x->w, osz = (size_t)nd->h * nd->w;
    for (size_t p = b; p < e; p++) {
        const float *xp = x->y + p * isz;
        float *yp = nd->y + p * osz;
        int32_t *ap = nd->arg + p * osz;
        for (int oy = 0; oy < nd->h; oy++) {
            if (fast) {
                int32_t base = 2 * oy * x->w;
                row_2x2(xp + base, xp + base + x->w, base, x->w, nd->w,
                        yp + oy * nd->w, ap + oy * nd->w);
                continue;
            }
            int y0, y1;
            sc_window_span(oy, nd->kh, nd->sh, nd->ph, x->h, &y0, &y1);
            for (int ox = 0; ox < nd->w; ox++) {
                int x0, x1;
                sc_window_span(ox, nd->kw, nd->sw, nd->pw, x->w, &x0, &x1);
                window_max(xp, x->w, y0, y1, x0, x1, yp + oy * nd->w + ox,
                           ap + oy * nd->w + ox);
            }
        }
    }
}

static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const pool_job *j = ctx;
    const sc_node *x = j->x, *nd = j->nd;
    size_t isz = (size_t)x->h * x->w, osz = (size_t)nd->h * nd->w;
    if (x->dy_set) /* ours alone: zero it here, not in a pass of its own */
        memset(x->dy + b * isz, 0, (e - b) * isz * sizeof(float));
    for (size_t p = b; p < e; p++)
        for (size_t o = 0; o < osz; o++)
            x->dy[p * isz + (size_t)nd->arg[p * osz + o]] += nd->dy[p * osz + o];
}

sc_status sc_op_maxpool(sc_net *net, sc_node *nd, sc_op_action action)
{
    sc_node *x = sc_in(net, nd, 0);
    size_t planes = (size_t)net->plan_n * nd->c;
    pool_job j = {x, nd};
    switch (action) {
    case OP_SHAPE:
        return sc_window_shape(net, nd);
    case OP_SCRATCH: /* the argmax of every output */
        nd->n_arg = planes * (size_t)nd->h * (size_t)nd->w;
        return SC_OK;
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD:
        sc_pool_map(net->pool, planes, GRAIN, forward_task, &j);
        return SC_OK;
    case OP_BACKWARD:
        if (x->dy)
            sc_pool_map(net->pool, planes, GRAIN, backward_task, &j);
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "maxpool: unknown action %d", action);
}

SC_API sc_status sc_net_maxpool(sc_net *net, int in, int k, int stride,
                                int *id)
{
    if (stride <= 0)
        return sc_fail(SC_ERR_ARG, "sc_net_maxpool: stride %d is not valid",
                       stride);
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_MAXPOOL);
    d.kernel_h = d.kernel_w = k;
    d.stride_h = d.stride_w = stride;
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_maxpool");
}

typedef struct q8_pool_job {
    sc_q8 *q;
    sc_node *nd;
} q8_pool_job;

/* int8's 2 x 2, stride 2 window: a row of outputs, the largest of four
 * bytes each */
static void q8_row_2x2(const uint8_t *restrict r0, const uint8_t *restrict r1,
                       int n, uint8_t *restrict y)
{
    for (int ox = 0; ox < n; ox++) {
        uint8_t a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
        uint8_t c = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
        y[ox] = a > c ? a : c;
    }
}

/* int8: the window's largest byte, in the input's quantisation */
static void q8_forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const q8_pool_job *j = ctx;
    const sc_node *nd = j->nd, *x = &j->q->net->nodes[nd->in[0]];
    const uint8_t *xb = sc_q8_in(j->q, nd, 0)->y;
    uint8_t *y = sc_q8_of(j->q, nd)->y;
    int fast = nd->kh == 2 && nd->kw == 2 && nd->sh == 2 && nd->sw == 2 &&
               nd->ph == 0 && nd->pw == 0;
    size_t isz = (size_t)x->h * x->w, osz = (size_t)nd->h * nd->w;
    for (size_t p = b; p < e; p++) {
        const uint8_t *xp = xb + p * isz;
        for (int oy = 0; oy < nd->h; oy++) {
            if (fast) {
                const uint8_t *r0 = xp + (size_t)2 * oy * x->w;
                q8_row_2x2(r0, r0 + x->w, nd->w, y + p * osz + (size_t)oy * nd->w);
                continue;
            }
            for (int ox = 0; ox < nd->w; ox++) {
                int y0, y1, x0, x1;
                sc_window_span(oy, nd->kh, nd->sh, nd->ph, x->h, &y0, &y1);
                sc_window_span(ox, nd->kw, nd->sw, nd->pw, x->w, &x0, &x1);
                unsigned m = 0;
                for (int i = y0; i < y1; i++)
                    for (int k = x0; k < x1; k++)
                        m = xp[i * x->w + k] > m ? xp[i * x->w + k] : m;
                y[p * osz + (size_t)oy * nd->w + ox] = (uint8_t)m;
            }
        }
    }
}

/* C for one sample: each window's largest byte */
static const char MAXPOOL_C[] =
    "static void q8_maxpool(const q8win *p, const uint8_t *x, uint8_t *y)\n"
    "{\n"
    "    int plane = p->oh * p->ow;\n"
    "    for (int o = 0; o < p->c * plane; o++) {\n"
    "        const uint8_t *xc = x + (size_t)(o / plane) * (size_t)(p->ih * p->iw);\n"
    "        int oy = o % plane / p->ow, ox = o % p->ow, y0, y1, x0, x1;\n"
    "        unsigned m = 0;\n"
    "        q8_span(oy, p->kh, p->sh, p->ph, p->ih, &y0, &y1);\n"
    "        q8_span(ox, p->kw, p->sw, p->pw, p->iw, &x0, &x1);\n"
    "        for (int i = y0; i < y1; i++)\n"
    "            for (int k = x0; k < x1; k++)\n"
    "                m = xc[i * p->iw + k] > m ? xc[i * p->iw + k] : m;\n"
    "        y[o] = (uint8_t)m;\n"
    "    }\n"
    "}\n";

static void q8_emit(sc_q8 *q, sc_node *nd)
{
    sc_cgen *g = q->cg;
    int id = sc_window_emit(g, q->net, nd, "q8_maxpool", MAXPOOL_C);
    int i = (int)(nd - q->net->nodes);
    sc_cgen_code(g, "    q8_maxpool(&p%d, %s, %s); /* layer %d */\n", id,
                 sc_cgen_y(g, nd->in[0]), sc_cgen_y(g, i), i);
}

sc_status sc_q8_maxpool(sc_q8 *q, sc_node *nd, int action)
{
    q8_pool_job j = {q, nd};
    switch (action) {
    case Q8_PREPARE:
        sc_q8_keep_input(q, nd, 0);
        return SC_OK;
    case Q8_FORWARD:
        sc_pool_map(q->net->pool, (size_t)q->plan_n * nd->c, 64,
                    q8_forward_task, &j);
        return SC_OK;
    case Q8_EMIT:
        q8_emit(q, nd);
        return SC_OK;
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
