/* maxpool.c -- y = max of each k x k window (stride s); dx[argmax] += dy.
 * Ties go to the first maximum in row-major window order. */
#include "core/error.h"
#include "ops/ops.h"

sc_status sc_op_maxpool(sc_net *net, sc_node *nd, int action)
{
    sc_node *x = sc_in(net, nd, 0);
    int k = nd->kh, s = nd->stride, n = net->plan_n;
    size_t planes = (size_t)n * nd->c, isz = (size_t)x->h * x->w,
           osz = (size_t)nd->h * nd->w;
    switch (action) {
    case OP_SHAPE:
        if (x->h < k || x->w < k)
            return sc_fail(SC_ERR_SHAPE,
                           "maxpool: window %d is larger than the input %dx%d",
                           k, x->h, x->w);
        nd->c = x->c;
        nd->h = (x->h - k) / s + 1;
        nd->w = (x->w - k) / s + 1;
        return SC_OK;
    case OP_SCRATCH:
        return SC_OK;
    case OP_FORWARD:
        for (size_t p = 0; p < planes; p++) {
            const float *xp = x->y + p * isz;
            float *yp = nd->y + p * osz;
            int32_t *ap = nd->arg + p * osz;
            for (int oy = 0; oy < nd->h; oy++)
                for (int ox = 0; ox < nd->w; ox++) {
                    int best = (oy * s) * x->w + ox * s;
                    float bv = xp[best];
                    for (int i = 0; i < k; i++)
                        for (int jj = 0; jj < k; jj++) {
                            int at = (oy * s + i) * x->w + ox * s + jj;
                            float v = xp[at];
                            /* selects, not branches: maxima are random */
                            best = v > bv ? at : best;
                            bv = v > bv ? v : bv;
                        }
                    yp[oy * nd->w + ox] = bv;
                    ap[oy * nd->w + ox] = best;
                }
        }
        return SC_OK;
    case OP_BACKWARD:
        if (x->dy)
            for (size_t p = 0; p < planes; p++)
                for (size_t o = 0; o < osz; o++)
                    x->dy[p * isz + (size_t)nd->arg[p * osz + o]] +=
                        nd->dy[p * osz + o];
        return SC_OK;
    }
    return sc_fail(SC_ERR_ARG, "maxpool: unknown action %d", action);
}
