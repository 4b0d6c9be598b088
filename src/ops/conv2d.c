/* conv2d.c -- y[n,o] = sum_{c,i,j} W[o,c,i,j] x[n,c,s*y+i-p,s*x+j-p] + b[o],
 * as im2col + sgemm. Samples are taken in chunks whose columns sit side by
 * side in one matrix, so that small images (3x3 after pooling) still give
 * the GEMM a wide N; chunks are shared among the pool's threads. */
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "ops/im2col.h"
#include "ops/ops.h"

/* samples per chunk: enough columns (~512) for an efficient GEMM */
static int chunk_samples(int ohw)
{
    int s = 512 / ohw;
    return s < 1 ? 1 : (s > 64 ? 64 : s);
}

typedef struct conv_job {
    sc_net *net;
    sc_node *nd, *x;
    const float *w;
    int k, ohw, xsz, chunk;
} conv_job;

/* Scratch of one thread: columns [k, chunk*ohw], their gradient (same
 * size), and the chunk's outputs or output gradients [c, chunk*ohw]. */
static float *thread_scratch(const conv_job *j, int t, float **dcol,
                             float **yb)
{
    size_t cols = (size_t)j->k * j->chunk * j->ohw;
    float *col = j->net->scratch + (size_t)t * j->net->scratch_per_thread;
    *dcol = col + cols;
    *yb = col + 2 * cols;
    return col;
}

/* Unfolds samples [s0, s0 + m) side by side into col (row length m*ohw). */
static void unfold(const conv_job *j, size_t s0, int m, float *col)
{
    const sc_node *nd = j->nd, *x = j->x;
    for (int s = 0; s < m; s++)
        sc_im2col(x->y + (s0 + s) * j->xsz, x->c, x->h, x->w, nd->kh, nd->kw,
                  nd->stride, nd->pad, nd->h, nd->w, col + (size_t)s * j->ohw,
                  (size_t)m * j->ohw);
}

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    const conv_job *j = ctx;
    sc_node *nd = j->nd;
    float *dcol, *yb, *col = thread_scratch(j, t, &dcol, &yb);
    const float *bias = sc_node_param(j->net, nd, P_B);
    size_t ysz = (size_t)nd->c * j->ohw, n = (size_t)j->net->plan_n;
    for (size_t c = b; c < e; c++) {
        size_t s0 = c * (size_t)j->chunk;
        int m = (int)(s0 + (size_t)j->chunk <= n ? (size_t)j->chunk : n - s0);
        size_t row = (size_t)m * j->ohw;
        unfold(j, s0, m, col);
        sc_gemm1(0, 0, nd->c, (int)row, j->k, 1.0f, j->w, j->k, col, (int)row,
                 0.0f, yb, (int)row);
        for (int s = 0; s < m; s++) { /* [c, m*ohw] -> m samples [c, ohw] */
            float *y = nd->y + (s0 + s) * ysz;
            for (int o = 0; o < nd->c; o++) {
                const float *restrict src = yb + o * row + (size_t)s * j->ohw;
                float *restrict dst = y + (size_t)o * j->ohw;
                float bo = bias ? bias[o] : 0.0f;
                for (int i = 0; i < j->ohw; i++)
                    dst[i] = src[i] + bo;
            }
            if (nd->cbias) {
                const float *restrict cb = nd->cbias;
                for (size_t i = 0; i < ysz; i++)
                    y[i] += cb[i];
            }
        }
    }
}

static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    const conv_job *j = ctx;
    sc_net *net = j->net;
    sc_node *nd = j->nd, *x = j->x;
    float *dcol, *yb, *col = thread_scratch(j, t, &dcol, &yb);
    float *dw = t == 0 ? sc_node_grad(net, nd, P_W)
                       : net->wgrad + (size_t)(t - 1) * net->wgrad_per_thread;
    size_t ysz = (size_t)nd->c * j->ohw, n = (size_t)net->plan_n;
    for (size_t c = b; c < e; c++) {
        size_t s0 = c * (size_t)j->chunk;
        int m = (int)(s0 + (size_t)j->chunk <= n ? (size_t)j->chunk : n - s0);
        size_t row = (size_t)m * j->ohw;
        unfold(j, s0, m, col);
        for (int s = 0; s < m; s++) /* m samples [c, ohw] -> [c, m*ohw] */
            for (int o = 0; o < nd->c; o++)
                memcpy(yb + o * row + (size_t)s * j->ohw,
                       nd->dy + (s0 + s) * ysz + (size_t)o * j->ohw,
                       (size_t)j->ohw * sizeof(float));
        /* dW += dy col^T */
        sc_gemm1(0, 1, nd->c, j->k, (int)row, 1.0f, yb, (int)row, col, (int)row,
                 1.0f, dw, j->k);
        if (x->dy == NULL)
            continue;
        /* dcol = W^T dy, dx += fold(dcol) */
        sc_gemm1(1, 0, j->k, (int)row, nd->c, 1.0f, j->w, j->k, yb, (int)row,
                 0.0f, dcol, (int)row);
        for (int s = 0; s < m; s++)
            sc_col2im(dcol + (size_t)s * j->ohw, x->c, x->h, x->w, nd->kh,
                      nd->kw, nd->stride, nd->pad, nd->h, nd->w,
                      x->dy + (s0 + s) * j->xsz, row);
    }
}

sc_status sc_op_conv2d(sc_net *net, sc_node *nd, int action)
{
    sc_node *x = sc_in(net, nd, 0);
    int ohw = nd->h * nd->w;
    conv_job j = {net, nd, x, NULL, x->c * nd->kh * nd->kw, ohw,
                  (int)sc_node_size(x), ohw > 0 ? chunk_samples(ohw) : 1};
    size_t chunks = ((size_t)net->plan_n + (size_t)j.chunk - 1) / (size_t)j.chunk;
    switch (action) {
    case OP_SHAPE: {
        if (x->h + 2 * nd->pad < nd->kh || x->w + 2 * nd->pad < nd->kw)
            return sc_fail(SC_ERR_SHAPE,
                           "conv2d: kernel %dx%d is larger than the padded "
                           "input %dx%d",
                           nd->kh, nd->kw, x->h + 2 * nd->pad,
                           x->w + 2 * nd->pad);
        nd->h = (x->h + 2 * nd->pad - nd->kh) / nd->stride + 1;
        nd->w = (x->w + 2 * nd->pad - nd->kw) / nd->stride + 1;
        nd->pn[P_W] = (size_t)nd->c * (size_t)j.k;
        nd->pn[P_B] = (nd->flags & SC_BIAS) ? (size_t)nd->c : 0;
        return SC_OK;
    }
    case OP_SCRATCH: {
        size_t cols = (size_t)j.chunk * j.ohw;
        size_t need = (2 * (size_t)j.k + (size_t)nd->c) * cols;
        if (need > net->scratch_per_thread)
            net->scratch_per_thread = need;
        if (nd->pn[P_W] > net->wgrad_per_thread)
            net->wgrad_per_thread = nd->pn[P_W];
        return SC_OK;
    }
    case OP_FORWARD:
        j.w = sc_layer_weights(net, nd);
        sc_pool_run(net->pool, chunks, forward_task, &j);
        return SC_OK;
    case OP_BACKWARD: {
        j.w = sc_layer_weights(net, nd);
        /* threads other than 0 sum into their own partials (zeroed here,
         * since a thread may get no chunk), added in thread order */
        int parts = chunks > 1 ? sc_pool_threads(net->pool) : 1;
        for (int t = 1; t < parts; t++)
            memset(net->wgrad + (size_t)(t - 1) * net->wgrad_per_thread, 0,
                   nd->pn[P_W] * sizeof(float));
        sc_pool_run(net->pool, chunks, backward_task, &j);
        float *dw = sc_node_grad(net, nd, P_W);
        for (int t = 1; t < parts; t++) {
            const float *part = net->wgrad + (size_t)(t - 1) * net->wgrad_per_thread;
            for (size_t i = 0; i < nd->pn[P_W]; i++)
                dw[i] += part[i];
        }
        float *db = sc_node_grad(net, nd, P_B);
        if (db) {
            size_t ysz = (size_t)nd->c * j.ohw;
            for (int s = 0; s < net->plan_n; s++)
                for (int o = 0; o < nd->c; o++) {
                    const float *dy = nd->dy + s * ysz + (size_t)o * j.ohw;
                    float acc = 0.0f;
                    for (int i = 0; i < j.ohw; i++)
                        acc += dy[i];
                    db[o] += acc;
                }
        }
        return SC_OK;
    }
    }
    return sc_fail(SC_ERR_ARG, "conv2d: unknown action %d", action);
}
