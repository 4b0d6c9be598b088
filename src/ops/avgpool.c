/* avgpool.c -- y = mean of each kh x kw window (strides sh, sw; padding ph,
 * pw). With SC_POOL_COUNT_PAD the padding's zeros count in the mean (the
 * divisor is kh kw, PyTorch's count_include_pad = True); without it the
 * divisor is the number of the window's elements inside the input. */
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

/* The input span of output (oy, ox) and the mean's divisor. */
static int window(const sc_node *x, const sc_node *nd, int oy, int ox,
                  int *y0, int *y1, int *x0, int *x1)
{
    sc_window_span(oy, nd->kh, nd->sh, nd->ph, x->h, y0, y1);
    sc_window_span(ox, nd->kw, nd->sw, nd->pw, x->w, x0, x1);
    return nd->flags & SC_POOL_COUNT_PAD ? nd->kh * nd->kw
                                         : (*y1 - *y0) * (*x1 - *x0);
}

/* The sum in double is exact for a window of equal values (at most 64 x
 * 64 floats), so the mean of a constant map is that constant at every
 * position its divisor is the window's count: compress folds such maps into
 * a bias. */
static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const pool_job *j = ctx;
    const sc_node *x = j->x, *nd = j->nd;
    size_t isz = (size_t)x->h * x->w, osz = (size_t)nd->h * nd->w;
    for (size_t p = b; p < e; p++) {
        const float *xp = x->y + p * isz;
        float *yp = nd->y + p * osz;
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++) {
                int y0, y1, x0, x1;
                int count = window(x, nd, oy, ox, &y0, &y1, &x0, &x1);
                double acc = 0.0;
                for (int i = y0; i < y1; i++)
                    for (int jj = x0; jj < x1; jj++)
                        acc += xp[i * x->w + jj];
                yp[oy * nd->w + ox] = (float)(acc / count);
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
    for (size_t p = b; p < e; p++) {
        float *dxp = x->dy + p * isz;
        const float *dyp = nd->dy + p * osz;
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++) {
                int y0, y1, x0, x1;
                float g = dyp[oy * nd->w + ox] /
                          (float)window(x, nd, oy, ox, &y0, &y1, &x0, &x1);
                for (int i = y0; i < y1; i++)
                    for (int jj = x0; jj < x1; jj++)
                        dxp[i * x->w + jj] += g;
            }
    }
}

sc_status sc_op_avgpool(sc_net *net, sc_node *nd, sc_op_action action)
{
    sc_node *x = sc_in(net, nd, 0);
    size_t planes = (size_t)net->plan_n * nd->c;
    pool_job j = {x, nd};
    switch (action) {
    case OP_SHAPE:
        return sc_window_shape(net, nd);
    case OP_SCRATCH:
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
    return sc_fail(SC_ERR_ARG, "avgpool: unknown action %d", action);
}

typedef struct q8_pool_job {
    sc_q8 *q;
    sc_node *nd;
} q8_pool_job;

/* int8: in the input's quantisation (real 0 is byte z), the window's mean
 * rounded half up: z + floor((2 (sum - inside z) + div) / (2 div)) */
static void q8_forward_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const q8_pool_job *j = ctx;
    const sc_node *nd = j->nd, *x = &j->q->net->nodes[nd->in[0]];
    const sc_q8node *qx = sc_q8_in(j->q, nd, 0);
    uint8_t *y = sc_q8_of(j->q, nd)->y;
    const int z = qx->t.z;
    size_t isz = (size_t)x->h * x->w, osz = (size_t)nd->h * nd->w;
    for (size_t p = b; p < e; p++) {
        const uint8_t *xp = qx->y + p * isz;
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++) {
                int y0, y1, x0, x1;
                int64_t div = window(x, nd, oy, ox, &y0, &y1, &x0, &x1);
                int64_t acc = 0;
                for (int i = y0; i < y1; i++)
                    for (int jj = x0; jj < x1; jj++)
                        acc += xp[i * x->w + jj] - z;
                int64_t num = 2 * acc + div, den = 2 * div;
                int64_t r = z + (num >= 0 ? num / den : -((-num + den - 1) / den));
                y[p * osz + (size_t)oy * nd->w + ox] =
                    (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
            }
    }
}

/* C for one sample: each window's mean, as q8_forward_task */
static const char AVGPOOL_C[] =
    "static void q8_avgpool(const q8win *p, int count_pad, int z,\n"
    "                       const uint8_t *x, uint8_t *y)\n"
    "{\n"
    "    for (int c = 0; c < p->c; c++, x += p->ih * p->iw)\n"
    "        for (int oy = 0; oy < p->oh; oy++)\n"
    "            for (int ox = 0; ox < p->ow; ox++) {\n"
    "                int y0, y1, x0, x1;\n"
    "                int64_t acc = 0, div, num, den, r;\n"
    "                q8_span(oy, p->kh, p->sh, p->ph, p->ih, &y0, &y1);\n"
    "                q8_span(ox, p->kw, p->sw, p->pw, p->iw, &x0, &x1);\n"
    "                div = count_pad ? p->kh * p->kw : (y1 - y0) * (x1 - x0);\n"
    "                for (int i = y0; i < y1; i++)\n"
    "                    for (int k = x0; k < x1; k++)\n"
    "                        acc += x[i * p->iw + k] - z;\n"
    "                num = 2 * acc + div;\n"
    "                den = 2 * div;\n"
    "                r = z + (num >= 0 ? num / den : -((-num + den - 1) / den));\n"
    "                *y++ = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);\n"
    "            }\n"
    "}\n";

static void q8_emit(sc_q8 *q, sc_node *nd)
{
    sc_cgen *g = q->cg;
    int id = sc_window_emit(g, q->net, nd, "q8_avgpool", AVGPOOL_C);
    int i = (int)(nd - q->net->nodes);
    sc_cgen_code(g, "    q8_avgpool(&p%d, %d, %d, %s, %s); /* layer %d */\n", id,
                 (nd->flags & SC_POOL_COUNT_PAD) != 0, sc_q8_in(q, nd, 0)->t.z,
                 sc_cgen_y(g, nd->in[0]), sc_cgen_y(g, i), i);
}

sc_status sc_q8_avgpool(sc_q8 *q, sc_node *nd, int action)
{
    q8_pool_job j = {q, nd};
    switch (action) {
    case Q8_PREPARE:
        sc_q8_keep_input(q, nd, 0);
        return SC_OK;
    case Q8_FORWARD:
        sc_pool_map(q->net->pool, (size_t)q->plan_n * nd->c, GRAIN,
                    q8_forward_task, &j);
        return SC_OK;
    case Q8_EMIT:
        q8_emit(q, nd);
        return SC_OK;
    default:
        return SC_ERR_UNSUPPORTED;
    }
}
