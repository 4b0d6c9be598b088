/* conv_grouped.c -- grouped (and depthwise) convolution, directly:
 *
 *   y[n, o, oy, ox] = b[o] + sum_{c, i, j} W[o, c, i, j]
 *                      x[n, g cin_g + c, oy sh + i - ph, ox sw + j - pw]
 *
 * for output channel o of group g = o / cout_g, c over the group's cin_g
 * input channels; taps outside the input are zero. Each tap (c, i, j) of a
 * row of outputs runs over the output columns whose input column is inside
 * the image, so no padded copy is needed and the column loop is one
 * multiply-add per element (contiguous when sw = 1).
 *
 * Forward and dx run per (sample, group): a task writes only its group's
 * outputs or input gradients. dW runs per output channel over every sample,
 * so no partial sums are needed and the result does not depend on the
 * thread count.
 *
 * A conv with one input channel per group (depthwise) runs on planes
 * instead: its zero-padded input plane (hp = h + 2 ph rows of wp = w + 2 pw)
 * is split by stride into sh x sw phase planes, phase (a, b) holding the
 * padded rows a, a + sh, ... and columns b, b + sw, ..., each hq x wq
 * (hq = ceil(hp / sh), wq = ceil(wp / sw), zeros past the plane), in the
 * thread's scratch. Tap (i, j) then reads phase (i % sh, j % sw) at an
 * offset of (i / sh, j / sw) with stride 1, and output rows computed wq
 * wide (the columns past ow discarded) make every tap one multiply-add over
 * the whole plane, L = (oh - 1) wq + ow elements, rather than one per short
 * row. A tap outside the input adds w * 0: the sums are those of the row
 * loops, in the same order (dW's in 16 lane-wise partial sums). */
#include <string.h>

#include "core/error.h"
#include "core/simd.h"
#include "ops/ops.h"

typedef struct grp_job {
    sc_net *net;
    sc_node *nd, *x;
    const float *w;   /* the weights computed with: [c][cin_g][kh][kw] */
    int cin_g, cout_g, taps;
    size_t hq, wq; /* planes: a phase plane's rows and columns */
    /* planes: phase b < sw holds an input row's columns c0[b], c0[b] + sw,
     * ... from its column cq[b] on (c0[b] >= w: none; sw <= 64, the
     * strides' limit) */
    size_t c0[64], cq[64];
} grp_job;

static void job_init(grp_job *j, sc_net *net, sc_node *nd)
{
    j->net = net;
    j->nd = nd;
    j->x = sc_in(net, nd, 0);
    j->w = sc_layer_weights(net, nd);
    j->cin_g = j->x->c / nd->groups;
    j->cout_g = nd->c / nd->groups;
    j->taps = j->cin_g * nd->kh * nd->kw;
    size_t hp = (size_t)j->x->h + 2 * (size_t)nd->ph;
    size_t wp = (size_t)j->x->w + 2 * (size_t)nd->pw;
    j->hq = (hp + (size_t)nd->sh - 1) / (size_t)nd->sh;
    j->wq = (wp + (size_t)nd->sw - 1) / (size_t)nd->sw;
    for (size_t b = 0, sw = (size_t)nd->sw; b < sw; b++) {
        j->c0[b] = (b + sw - (size_t)nd->pw % sw) % sw; /* (c0 + pw) % sw == b */
        j->cq[b] = (j->c0[b] + (size_t)nd->pw) / sw;
    }
}

/* ---- planes (one input channel per group) ---- */

static int plane_path(const grp_job *j) { return j->cin_g == 1; }

/* floats of the sh x sw phase planes, and the span L of a plane computed
 * wq wide */
static size_t plane_size(const grp_job *j)
{
    return (size_t)j->nd->sh * (size_t)j->nd->sw * j->hq * j->wq;
}

static size_t plane_span(const grp_job *j)
{
    return ((size_t)j->nd->h - 1) * j->wq + (size_t)j->nd->w;
}

/* Where phase b's part of input row r starts in the phases, for b < sw:
 * at[b]; (*a, *rr) is the padded row's phase and its row there, stepped on
 * to row r + 1's. */
static void phase_row(const grp_job *j, size_t *a, size_t *rr, size_t *at)
{
    size_t sw = (size_t)j->nd->sw;
    for (size_t b = 0; b < sw; b++)
        at[b] = ((*a * sw + b) * j->hq + *rr) * j->wq + j->cq[b];
    if (++*a == (size_t)j->nd->sh) {
        *a = 0;
        ++*rr;
    }
}

/* xp = the phases of the h x w plane x inside zeros */
static void pad_plane(const grp_job *j, float *restrict xp, const float *restrict x)
{
    size_t w = (size_t)j->x->w, sw = (size_t)j->nd->sw, at[64];
    size_t a = (size_t)j->nd->ph % (size_t)j->nd->sh, rr = (size_t)j->nd->ph / (size_t)j->nd->sh;
    memset(xp, 0, plane_size(j) * sizeof(float));
    for (size_t r = 0; r < (size_t)j->x->h; r++) {
        phase_row(j, &a, &rr, at);
        for (size_t b = 0; b < sw; b++)
            for (size_t c = j->c0[b], k = at[b]; c < w; c += sw, k++)
                xp[k] = x[r * w + c];
    }
}

/* dx (h x w) = (store) or += the input positions of the phases dxp */
static void unpad_plane(const grp_job *j, float *restrict dx, const float *restrict dxp,
                        int store)
{
    size_t w = (size_t)j->x->w, sw = (size_t)j->nd->sw, at[64];
    size_t a = (size_t)j->nd->ph % (size_t)j->nd->sh, rr = (size_t)j->nd->ph / (size_t)j->nd->sh;
    for (size_t r = 0; r < (size_t)j->x->h; r++) {
        float *d = dx + r * w;
        phase_row(j, &a, &rr, at);
        for (size_t b = 0; b < sw; b++)
            if (store)
                for (size_t c = j->c0[b], k = at[b]; c < w; c += sw, k++)
                    d[c] = dxp[k];
            else
                for (size_t c = j->c0[b], k = at[b]; c < w; c += sw, k++)
                    d[c] += dxp[k];
    }
}

/* q (L floats) = the oh x ow plane y in rows of wq, zeros between */
static void spread_plane(const grp_job *j, float *restrict q, const float *restrict y)
{
    size_t wq = j->wq, ow = (size_t)j->nd->w;
    for (int r = 0; r < j->nd->h; r++) {
        memcpy(q + (size_t)r * wq, y + (size_t)r * ow, ow * sizeof(float));
        if (r + 1 < j->nd->h)
            memset(q + (size_t)r * wq + ow, 0, (wq - ow) * sizeof(float));
    }
}

/* y[q] += a x[q], q < n */
SC_SIMD_CLONES
static void axpy_plane(float *restrict y, const float *restrict x, float a, size_t n)
{
    for (size_t q = 0; q < n; q++)
        y[q] += a * x[q];
}

/* sum of a[q] b[q], q < n, in 16 lane-wise partial sums */
SC_SIMD_CLONES
static float dot_plane(const float *restrict a, const float *restrict b, size_t n)
{
    float part[16] = {0.0f};
    size_t q = 0;
    for (; q + 16 <= n; q += 16)
        for (int k = 0; k < 16; k++)
            part[k] += a[q + k] * b[q + k];
    for (int k = 0; q < n; q++, k++)
        part[k] += a[q] * b[q];
    float s = 0.0f;
    for (int k = 0; k < 16; k++)
        s += part[k];
    return s;
}

/* where tap (i, jj) reads output position 0 in the phases */
static size_t tap_off(const grp_job *j, int i, int jj)
{
    size_t sh = (size_t)j->nd->sh, sw = (size_t)j->nd->sw;
    size_t a = (size_t)i % sh, b = (size_t)jj % sw;
    return ((a * sw + b) * j->hq + (size_t)i / sh) * j->wq + (size_t)jj / sw;
}

static void forward_plane(const grp_job *j, size_t s, int g, float *scratch)
{
    const sc_node *nd = j->nd, *x = j->x;
    const float *bias = sc_node_param(j->net, (sc_node *)nd, P_B);
    const float *cbias = sc_layer_cbias(j->net, nd);
    size_t ihw = (size_t)x->h * x->w, ohw = (size_t)nd->h * nd->w;
    size_t wq = j->wq, span = plane_span(j), ow = (size_t)nd->w;
    size_t off = 0;
    float *xp = sc_carve(scratch, &off, plane_size(j));
    float *yq = sc_carve(scratch, &off, span);
    pad_plane(j, xp, x->y + (s * (size_t)x->c + (size_t)g) * ihw);
    for (int oo = 0; oo < j->cout_g; oo++) {
        int o = g * j->cout_g + oo;
        float *yp = nd->y + (s * (size_t)nd->c + (size_t)o) * ohw;
        const float *wo = j->w + (size_t)o * j->taps;
        float b0 = bias ? bias[o] : 0.0f;
        for (size_t q = 0; q < span; q++)
            yq[q] = b0;
        if (cbias)
            for (size_t r = 0; r < (size_t)nd->h; r++)
                for (size_t c = 0; c < ow; c++)
                    yq[r * wq + c] = b0 + cbias[(size_t)o * ohw + r * ow + c];
        for (int i = 0; i < nd->kh; i++)
            for (int jj = 0; jj < nd->kw; jj++)
                axpy_plane(yq, xp + tap_off(j, i, jj), wo[i * nd->kw + jj], span);
        for (size_t r = 0; r < (size_t)nd->h; r++)
            memcpy(yp + r * ow, yq + r * wq, ow * sizeof(float));
    }
}

static void dx_plane(const grp_job *j, size_t s, int g, float *scratch)
{
    const sc_node *nd = j->nd, *x = j->x;
    size_t ihw = (size_t)x->h * x->w, ohw = (size_t)nd->h * nd->w;
    size_t span = plane_span(j), off = 0;
    float *dxp = sc_carve(scratch, &off, plane_size(j));
    float *dyq = sc_carve(scratch, &off, span);
    memset(dxp, 0, plane_size(j) * sizeof(float));
    for (int oo = 0; oo < j->cout_g; oo++) {
        int o = g * j->cout_g + oo;
        const float *wo = j->w + (size_t)o * j->taps;
        spread_plane(j, dyq, nd->dy + (s * (size_t)nd->c + (size_t)o) * ohw);
        for (int i = 0; i < nd->kh; i++)
            for (int jj = 0; jj < nd->kw; jj++)
                axpy_plane(dxp + tap_off(j, i, jj), dyq, wo[i * nd->kw + jj], span);
    }
    /* the only writer stores */
    unpad_plane(j, x->dy + (s * (size_t)x->c + (size_t)g) * ihw, dxp, x->dy_set);
}

/* dW of output channel o, over every sample */
static void dw_plane(const grp_job *j, size_t o, float *scratch)
{
    const sc_node *nd = j->nd, *x = j->x;
    float *dwo = sc_node_grad(j->net, (sc_node *)nd, P_W) + o * (size_t)j->taps;
    size_t ihw = (size_t)x->h * x->w, ohw = (size_t)nd->h * nd->w;
    size_t span = plane_span(j), off = 0;
    int g = (int)o / j->cout_g;
    float *xp = sc_carve(scratch, &off, plane_size(j));
    float *dyq = sc_carve(scratch, &off, span);
    for (int s = 0; s < j->net->plan_n; s++) {
        pad_plane(j, xp, x->y + ((size_t)s * x->c + (size_t)g) * ihw);
        spread_plane(j, dyq, nd->dy + ((size_t)s * nd->c + o) * ohw);
        for (int i = 0; i < nd->kh; i++)
            for (int jj = 0; jj < nd->kw; jj++)
                dwo[i * nd->kw + jj] += dot_plane(dyq, xp + tap_off(j, i, jj), span);
    }
}

/* ---- rows (any other grouped conv) ---- */

/* The output columns [*lo, *hi) whose input column ox sw + j - pw is in
 * [0, w). */
static void col_range(const sc_node *nd, int w, int j, int *lo, int *hi)
{
    int off = j - nd->pw, a = 0, b = nd->w;
    while (a < b && a * nd->sw + off < 0)
        a++;
    while (b > a && (b - 1) * nd->sw + off >= w)
        b--;
    *lo = a;
    *hi = b;
}

/* y[ox] += wv x[ox sw + off] over [lo, hi) */
static void axpy_cols(float *restrict y, const float *restrict x, float wv,
                      int lo, int hi, int sw, int off)
{
    if (sw == 1) {
        const float *restrict xs = x + off;
        for (int ox = lo; ox < hi; ox++)
            y[ox] += wv * xs[ox];
    } else {
        for (int ox = lo; ox < hi; ox++)
            y[ox] += wv * x[ox * sw + off];
    }
}

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    const grp_job *j = ctx;
    const sc_node *nd = j->nd, *x = j->x;
    const float *bias = sc_node_param(j->net, (sc_node *)nd, P_B);
    const float *cbias = sc_layer_cbias(j->net, nd);
    size_t ihw = (size_t)x->h * x->w, ohw = (size_t)nd->h * nd->w;
    for (size_t task = b; task < e; task++) {
        size_t s = task / (size_t)nd->groups;
        int g = (int)(task % (size_t)nd->groups);
        if (plane_path(j)) {
            forward_plane(j, s, g, sc_thread_scratch(j->net, t));
            continue;
        }
        const float *xs = x->y + (s * (size_t)x->c + (size_t)g * j->cin_g) * ihw;
        for (int oo = 0; oo < j->cout_g; oo++) {
            int o = g * j->cout_g + oo;
            float *yp = nd->y + (s * (size_t)nd->c + (size_t)o) * ohw;
            const float *wo = j->w + (size_t)o * j->taps;
            float b0 = bias ? bias[o] : 0.0f;
            if (cbias)
                for (size_t q = 0; q < ohw; q++)
                    yp[q] = b0 + cbias[(size_t)o * ohw + q];
            else
                for (size_t q = 0; q < ohw; q++)
                    yp[q] = b0;
            for (int c = 0; c < j->cin_g; c++)
                for (int i = 0; i < nd->kh; i++)
                    for (int jj = 0; jj < nd->kw; jj++) {
                        float wv = wo[(c * nd->kh + i) * nd->kw + jj];
                        int lo, hi;
                        col_range(nd, x->w, jj, &lo, &hi);
                        for (int oy = 0; oy < nd->h; oy++) {
                            int iy = oy * nd->sh + i - nd->ph;
                            if (iy < 0 || iy >= x->h)
                                continue;
                            axpy_cols(yp + (size_t)oy * nd->w,
                                      xs + ((size_t)c * x->h + iy) * x->w, wv,
                                      lo, hi, nd->sw, jj - nd->pw);
                        }
                    }
        }
    }
}

/* dx of one (sample, group): the scatter of dy through the weights */
static void dx_task(void *ctx, size_t b, size_t e, int t)
{
    const grp_job *j = ctx;
    const sc_node *nd = j->nd, *x = j->x;
    size_t ihw = (size_t)x->h * x->w, ohw = (size_t)nd->h * nd->w;
    for (size_t task = b; task < e; task++) {
        size_t s = task / (size_t)nd->groups;
        int g = (int)(task % (size_t)nd->groups);
        if (plane_path(j)) {
            dx_plane(j, s, g, sc_thread_scratch(j->net, t));
            continue;
        }
        float *dxs = x->dy + (s * (size_t)x->c + (size_t)g * j->cin_g) * ihw;
        if (x->dy_set) /* the only writer: stores */
            memset(dxs, 0, (size_t)j->cin_g * ihw * sizeof(float));
        for (int oo = 0; oo < j->cout_g; oo++) {
            int o = g * j->cout_g + oo;
            const float *dyp = nd->dy + (s * (size_t)nd->c + (size_t)o) * ohw;
            const float *wo = j->w + (size_t)o * j->taps;
            for (int c = 0; c < j->cin_g; c++)
                for (int i = 0; i < nd->kh; i++)
                    for (int jj = 0; jj < nd->kw; jj++) {
                        float wv = wo[(c * nd->kh + i) * nd->kw + jj];
                        int lo, hi, off = jj - nd->pw;
                        col_range(nd, x->w, jj, &lo, &hi);
                        for (int oy = 0; oy < nd->h; oy++) {
                            int iy = oy * nd->sh + i - nd->ph;
                            if (iy < 0 || iy >= x->h)
                                continue;
                            float *restrict dr = dxs + ((size_t)c * x->h + iy) * x->w;
                            const float *restrict gr = dyp + (size_t)oy * nd->w;
                            if (nd->sw == 1)
                                for (int ox = lo; ox < hi; ox++)
                                    dr[ox + off] += wv * gr[ox];
                            else
                                for (int ox = lo; ox < hi; ox++)
                                    dr[ox * nd->sw + off] += wv * gr[ox];
                        }
                    }
        }
    }
}

/* sum over ox in [lo, hi) of dy[ox] x[ox sw + off] */
static float dot_cols(const float *restrict dy, const float *restrict x,
                      int lo, int hi, int sw, int off)
{
    float acc = 0.0f;
    if (sw == 1) {
        const float *restrict xs = x + off;
        for (int ox = lo; ox < hi; ox++)
            acc += dy[ox] * xs[ox];
    } else {
        for (int ox = lo; ox < hi; ox++)
            acc += dy[ox] * x[ox * sw + off];
    }
    return acc;
}

/* dW of output channels [b, e), over every sample */
static void dw_task(void *ctx, size_t b, size_t e, int t)
{
    const grp_job *j = ctx;
    const sc_node *nd = j->nd, *x = j->x;
    float *dw = sc_node_grad(j->net, (sc_node *)nd, P_W);
    size_t ihw = (size_t)x->h * x->w, ohw = (size_t)nd->h * nd->w;
    for (size_t o = b; o < e; o++) {
        if (plane_path(j)) {
            dw_plane(j, o, sc_thread_scratch(j->net, t));
            continue;
        }
        int g = (int)o / j->cout_g;
        float *dwo = dw + o * (size_t)j->taps;
        for (int s = 0; s < j->net->plan_n; s++) {
            const float *dyp = nd->dy + ((size_t)s * nd->c + o) * ohw;
            const float *xs = x->y + ((size_t)s * x->c + (size_t)g * j->cin_g) * ihw;
            for (int c = 0; c < j->cin_g; c++)
                for (int i = 0; i < nd->kh; i++)
                    for (int jj = 0; jj < nd->kw; jj++) {
                        int lo, hi;
                        col_range(nd, x->w, jj, &lo, &hi);
                        float acc = 0.0f;
                        for (int oy = 0; oy < nd->h; oy++) {
                            int iy = oy * nd->sh + i - nd->ph;
                            if (iy < 0 || iy >= x->h)
                                continue;
                            acc += dot_cols(dyp + (size_t)oy * nd->w,
                                            xs + ((size_t)c * x->h + iy) * x->w,
                                            lo, hi, nd->sw, jj - nd->pw);
                        }
                        dwo[(c * nd->kh + i) * nd->kw + jj] += acc;
                    }
        }
    }
}

sc_status sc_conv_grouped(sc_net *net, sc_node *nd, sc_op_action action)
{
    grp_job j;
    job_init(&j, net, nd);
    size_t tasks = (size_t)net->plan_n * (size_t)nd->groups;
    switch (action) {
    case OP_SCRATCH: /* planes: the phases and one plane computed wq wide */
        if (plane_path(&j)) {
            size_t need = 0;
            sc_carve(NULL, &need, plane_size(&j));
            sc_carve(NULL, &need, plane_span(&j));
            if (need > net->scratch_per_thread)
                net->scratch_per_thread = need;
        }
        return SC_OK;
    case OP_FORWARD:
        sc_pool_map(net->pool, tasks, 1, forward_task, &j);
        return SC_OK;
    case OP_BACKWARD:
        sc_pool_map(net->pool, (size_t)nd->c, 1, dw_task, &j);
        if (j.x->dy)
            sc_pool_map(net->pool, tasks, 1, dx_task, &j);
        sc_conv_bias_grad(net, nd);
        return SC_OK;
    case OP_SHAPE:
    case OP_COMMIT:
    case OP_COMMIT_CHECK: /* sc_op_conv2d answers these itself */
        break;
    }
    return sc_fail(SC_ERR_ARG, "conv2d: no grouped body for action %d",
                   (int)action);
}
