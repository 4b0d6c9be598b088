/* conv2d.c -- y[n,o] = sum_{c,i,j} W[o,c,i,j] x[n,c,s*y+i-p,s*x+j-p] + b[o],
 * as im2col + sgemm per sample, samples shared among the pool's threads. */
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "ops/im2col.h"
#include "ops/ops.h"

typedef struct conv_job {
    sc_net *net;
    sc_node *nd, *x;
    const float *w;
    int k, ohw, xsz;
    int direct; /* 1x1, stride 1, no padding: the input is its own column */
} conv_job;

static const float *columns(const conv_job *j, const float *xs, float *col)
{
    const sc_node *nd = j->nd, *x = j->x;
    if (j->direct)
        return xs;
    sc_im2col(xs, x->c, x->h, x->w, nd->kh, nd->kw, nd->stride, nd->pad, nd->h,
              nd->w, col);
    return col;
}

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    const conv_job *j = ctx;
    sc_node *nd = j->nd;
    float *col = j->net->scratch + (size_t)t * j->net->scratch_per_thread;
    const float *bias = sc_node_param(j->net, nd, P_B);
    size_t ysz = (size_t)nd->c * j->ohw;
    for (size_t s = b; s < e; s++) {
        const float *cols = columns(j, j->x->y + s * j->xsz, col);
        float *y = nd->y + s * ysz;
        sc_gemm1(0, 0, nd->c, j->ohw, j->k, 1.0f, j->w, j->k, cols, j->ohw,
                 0.0f, y, j->ohw);
        if (bias)
            for (int o = 0; o < nd->c; o++) {
                float *restrict yo = y + (size_t)o * j->ohw;
                float bo = bias[o];
                for (int i = 0; i < j->ohw; i++)
                    yo[i] += bo;
            }
        if (nd->cbias) {
            const float *restrict cb = nd->cbias;
            float *restrict yy = y;
            for (size_t i = 0; i < ysz; i++)
                yy[i] += cb[i];
        }
    }
}

static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    const conv_job *j = ctx;
    sc_net *net = j->net;
    sc_node *nd = j->nd, *x = j->x;
    size_t kohw = (size_t)j->k * j->ohw;
    float *col = net->scratch + (size_t)t * net->scratch_per_thread;
    float *dcol = col + kohw;
    float *dw = t == 0 ? sc_node_grad(net, nd, P_W)
                       : net->wgrad + (size_t)(t - 1) * net->wgrad_per_thread;
    size_t ysz = (size_t)nd->c * j->ohw;
    for (size_t s = b; s < e; s++) {
        const float *xs = x->y + s * j->xsz;
        const float *dy = nd->dy + s * ysz;
        const float *cols = columns(j, xs, col);
        /* dW += dy col^T */
        sc_gemm1(0, 1, nd->c, j->k, j->ohw, 1.0f, dy, j->ohw, cols, j->ohw,
                 1.0f, dw, j->k);
        if (x->dy == NULL)
            continue;
        float *dx = x->dy + s * j->xsz;
        if (j->direct) { /* dx += W^T dy */
            sc_gemm1(1, 0, j->k, j->ohw, nd->c, 1.0f, j->w, j->k, dy, j->ohw,
                     1.0f, dx, j->ohw);
        } else { /* dcol = W^T dy, dx += fold(dcol) */
            sc_gemm1(1, 0, j->k, j->ohw, nd->c, 1.0f, j->w, j->k, dy, j->ohw,
                     0.0f, dcol, j->ohw);
            sc_col2im(dcol, x->c, x->h, x->w, nd->kh, nd->kw, nd->stride,
                      nd->pad, nd->h, nd->w, dx);
        }
    }
}

sc_status sc_op_conv2d(sc_net *net, sc_node *nd, int action)
{
    sc_node *x = sc_in(net, nd, 0);
    conv_job j = {net, nd, x, NULL, x->c * nd->kh * nd->kw, nd->h * nd->w,
                  (int)sc_node_size(x),
                  nd->kh == 1 && nd->kw == 1 && nd->stride == 1 && nd->pad == 0};
    switch (action) {
    case OP_SHAPE: {
        int oh = (x->h + 2 * nd->pad - nd->kh) / nd->stride + 1;
        int ow = (x->w + 2 * nd->pad - nd->kw) / nd->stride + 1;
        if (x->h + 2 * nd->pad < nd->kh || x->w + 2 * nd->pad < nd->kw)
            return sc_fail(SC_ERR_SHAPE,
                           "conv2d: kernel %dx%d is larger than the padded "
                           "input %dx%d",
                           nd->kh, nd->kw, x->h + 2 * nd->pad,
                           x->w + 2 * nd->pad);
        nd->h = oh;
        nd->w = ow;
        nd->pn[P_W] = (size_t)nd->c * (size_t)j.k;
        nd->pn[P_B] = (nd->flags & SC_BIAS) ? (size_t)nd->c : 0;
        return SC_OK;
    }
    case OP_SCRATCH: {
        size_t need = j.direct ? (size_t)j.k * j.ohw : 2 * (size_t)j.k * j.ohw;
        if (need > net->scratch_per_thread)
            net->scratch_per_thread = need;
        if (nd->pn[P_W] > net->wgrad_per_thread)
            net->wgrad_per_thread = nd->pn[P_W];
        return SC_OK;
    }
    case OP_FORWARD:
        j.w = sc_layer_weights(net, nd);
        sc_pool_run(net->pool, (size_t)net->plan_n, forward_task, &j);
        return SC_OK;
    case OP_BACKWARD: {
        j.w = sc_layer_weights(net, nd);
        /* threads other than 0 sum into their own partials (zeroed here,
         * since a thread may get no samples), added in thread order */
        int parts = net->plan_n > 1 ? sc_pool_threads(net->pool) : 1;
        for (int t = 1; t < parts; t++)
            memset(net->wgrad + (size_t)(t - 1) * net->wgrad_per_thread, 0,
                   nd->pn[P_W] * sizeof(float));
        sc_pool_run(net->pool, (size_t)net->plan_n, backward_task, &j);
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
