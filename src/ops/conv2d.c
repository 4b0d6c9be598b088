/* conv2d.c -- y[n,o] = sum_{c,i,j} W[o,c,i,j] x[n,c,sh*y+i-ph,sw*x+j-pw] + b[o],
 * as GEMMs on the library's micro-kernels (kernels/kernel.h), which read
 * the images in place through offset tables (no im2col matrix):
 *
 *   forward  y[o, q]   = sum_k W[o, k] xp[tap(k) + pos(q)]
 *   dW       dW[o, k] += sum_q dy[o, q] xp[tap(k) + pos(q)]
 *   dx       dx[c, q] += sum_k' Wf[c, k'] dyp[tap'(k') + pos'(q)]
 *
 * xp is the input with its zero padding (a copy when there is padding), k
 * runs over the taps (c, i, j), q over output positions; dx is the "full"
 * convolution of dy, dilated by the strides and padded by kh - 1 - ph above
 * and below and kw - 1 - pw left and right (dyp), with the kernel
 * flipped (Wf[c, (o, i, j)] = W[o, c, kh-1-i, kw-1-j]).
 *
 * Samples are taken in chunks whose padded images fit in L2; the chunks are
 * shared evenly among the pool's threads. */
#include <string.h>

#include "core/error.h"
#include "core/simd.h"
#include "kernels/kernel.h"
#include "ops/ops.h"

/* floats of padded images per chunk (256 KB) */
#define CHUNK_FLOATS 65536

/* Images of ch channels in hp x wp planes, the image at (top, left) of each
 * plane; sample after sample. */
typedef struct layout {
    int ch, hp, wp, top, left;
} layout;

static size_t lay_size(const layout *l)
{
    return (size_t)l->ch * (size_t)l->hp * (size_t)l->wp;
}

typedef struct conv_job {
    sc_net *net;
    sc_node *nd, *x;
    const sc_kernel *kr;
    int k, kx;        /* taps of the forward (c kh kw) and of dx (o kh kw) */
    int ohw, ihw;     /* output / input positions per sample */
    int chunk;        /* samples per chunk */
    size_t xsz, ysz;  /* floats per input / output sample */
    layout in, dyl;   /* padded input, padded (dilated) dy */
    const float *wp;  /* packed weights: W^T panels, or Wf panels */
    const int32_t *tap, *tapx; /* offsets of the taps in in / dyl */
    unsigned char ran[256];    /* backward: thread t summed a dW^T partial */
} conv_job;

static void job_init(conv_job *j, sc_net *net, sc_node *nd)
{
    sc_node *x = sc_in(net, nd, 0);
    int ph = nd->ph, pw = nd->pw;
    memset(j, 0, sizeof *j);
    j->net = net;
    j->nd = nd;
    j->x = x;
    j->kr = net->kernel;
    j->k = x->c * nd->kh * nd->kw;
    j->kx = nd->c * nd->kh * nd->kw;
    j->ohw = nd->h * nd->w;
    j->ihw = x->h * x->w;
    j->xsz = sc_node_size(x);
    j->ysz = sc_node_size(nd);
    j->in = (layout){x->c, x->h + 2 * ph, x->w + 2 * pw, ph, pw};
    j->dyl = (layout){nd->c, x->h + nd->kh - 1, x->w + nd->kw - 1,
                      nd->kh - 1 - ph, nd->kw - 1 - pw};
    /* a chunk's padded images stay in L2; its outputs are counted too, so
     * that a chunk's offsets in y (fill_positions) are bounded like those
     * in the images (net.h's limits: all below 2^31) */
    size_t per = lay_size(&j->in) > lay_size(&j->dyl) ? lay_size(&j->in)
                                                       : lay_size(&j->dyl);
    per = per > j->ysz ? per : j->ysz;
    j->chunk = sc_conv_chunk(net, per, CHUNK_FLOATS);
}

int sc_conv_chunk(const sc_net *net, size_t per, size_t budget)
{
    int want = (int)(budget / (per ? per : 1));
    int threads = sc_pool_threads(net->pool), n = net->plan_n;
    want = want < 1 ? 1 : want;
    int chunks = threads * ((n + threads * want - 1) / (threads * want));
    int chunk = (n + chunks - 1) / chunks;
    return chunk < 1 ? 1 : chunk;
}

int sc_conv_chunk_span(const sc_net *net, int chunk, size_t c, size_t *s0)
{
    size_t n = (size_t)net->plan_n;
    *s0 = c * (size_t)chunk;
    return (int)(*s0 + (size_t)chunk <= n ? (size_t)chunk : n - *s0);
}

static int padded(const sc_node *nd)
{
    return nd->ph > 0 || nd->pw > 0;
}

/* A thread's scratch: padded input and dy of a chunk, dy^T panels, the
 * position tables and the kernel's tile. */
typedef struct conv_scratch {
    float *xp, *dyp, *dyt, *tile;
    int32_t *pos, *out, *dpos, *dout;
    size_t floats;
} conv_scratch;

static conv_scratch scratch_of(const conv_job *j, float *base)
{
    conv_scratch s;
    size_t off = 0, m = (size_t)j->chunk, cols = m * (size_t)j->ohw,
           icols = m * (size_t)j->ihw;
    s.xp = sc_carve(base, &off, padded(j->nd) ? m * lay_size(&j->in) : 0);
    s.dyp = sc_carve(base, &off, m * lay_size(&j->dyl));
    s.dyt = sc_carve(base, &off, (size_t)sc_round_up(j->nd->c, j->kr->nr) * cols);
    s.tile = sc_carve(base, &off, (size_t)SC_KERNEL_MAX_MR * SC_KERNEL_MAX_NR);
    s.pos = sc_carve(base, &off, cols);
    s.out = sc_carve(base, &off, cols);
    s.dpos = sc_carve(base, &off, icols);
    s.dout = sc_carve(base, &off, icols);
    s.floats = off;
    return s;
}

static conv_scratch thread_scratch(const conv_job *j, int t)
{
    return scratch_of(j, sc_thread_scratch(j->net, t));
}

/* floats the shared weight panels and tap tables take */
static size_t shared_floats(const conv_job *j)
{
    int nr = j->kr->nr;
    size_t fwd = (size_t)sc_round_up(j->nd->c, nr) * j->k + sc_up16((size_t)j->k);
    size_t bwd = (size_t)sc_round_up(j->x->c, nr) * j->kx +
                 sc_up16((size_t)j->k) + sc_up16((size_t)j->kx);
    return sc_up16(fwd > bwd ? fwd : bwd);
}

/* offsets of the taps (c, i, j) in a layout */
static void fill_taps(int32_t *tap, const layout *l, int kh, int kw)
{
    int k = 0;
    for (int c = 0; c < l->ch; c++)
        for (int i = 0; i < kh; i++)
            for (int jj = 0; jj < kw; jj++)
                tap[k++] = (c * l->hp + i) * l->wp + jj;
}

/* Where the output positions (s, oy, ox) of a chunk of m samples read in
 * the padded input (pos) and write in y (out): the same for every chunk (a
 * shorter last chunk uses a prefix), so filled once per call. */
static void fill_positions(const conv_job *j, int m, int32_t *pos, int32_t *out)
{
    const sc_node *nd = j->nd;
    int t = 0;
    for (int s = 0; s < m; s++)
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++, t++) {
                pos[t] = (int32_t)((size_t)s * lay_size(&j->in) +
                                   (size_t)oy * nd->sh * j->in.wp +
                                   (size_t)ox * nd->sw);
                out[t] = (int32_t)((size_t)s * j->ysz + (size_t)oy * nd->w + ox);
            }
}

/* Where the input positions of a chunk of m samples read in the padded dy
 * (dpos) and write in dx (dout); like fill_positions, once per call. */
static void fill_dpositions(const conv_job *j, int m, int32_t *dpos,
                            int32_t *dout)
{
    const sc_node *x = j->x;
    int t = 0;
    for (int s = 0; s < m; s++)
        for (int iy = 0; iy < x->h; iy++)
            for (int ix = 0; ix < x->w; ix++, t++) {
                dpos[t] = (int32_t)((size_t)s * lay_size(&j->dyl) +
                                    (size_t)iy * j->dyl.wp + ix);
                dout[t] = (int32_t)((size_t)s * j->xsz + (size_t)iy * x->w + ix);
            }
}

/* Zeroes the frame of a padded layout's planes: the rows above and below
 * the image and the columns left and right of it (rows x cols inside). */
static void zero_frame(float *base, const layout *l, int planes, int rows,
                       int cols)
{
    size_t plane = (size_t)l->hp * l->wp;
    for (int p = 0; p < planes; p++) {
        float *pl = base + (size_t)p * plane;
        memset(pl, 0, (size_t)l->top * l->wp * sizeof(float));
        size_t below = (size_t)(l->top + rows) * l->wp;
        memset(pl + below, 0, (plane - below) * sizeof(float));
        for (int r = l->top; r < l->top + rows; r++) {
            float *row = pl + (size_t)r * l->wp;
            memset(row, 0, (size_t)l->left * sizeof(float));
            memset(row + l->left + cols, 0,
                   (size_t)(l->wp - l->left - cols) * sizeof(float));
        }
    }
}

/* The chunk's images with their zero padding (the frame zeroed by
 * task_setup), or the images themselves. */
static const float *padded_input(const conv_job *j, size_t s0, int m, float *xp)
{
    const sc_node *x = j->x;
    const float *src = x->y + s0 * j->xsz;
    if (!padded(j->nd))
        return src;
    for (int s = 0; s < m; s++)
        for (int c = 0; c < x->c; c++)
            for (int r = 0; r < x->h; r++)
                memcpy(xp + (size_t)s * lay_size(&j->in) +
                           ((size_t)c * j->in.hp + r + j->in.top) * j->in.wp +
                           j->in.left,
                       src + (size_t)s * j->xsz + ((size_t)c * x->h + r) * x->w,
                       (size_t)x->w * sizeof(float));
    return xp;
}

/* dst[out[r] + c * plane] = tile[c][r] (+ bias[c]), or += when add: a
 * transposed tile, rows being positions (mostly consecutive ones: then
 * each column is a run). Every element is one tile's. */
static SC_CLONE_INLINE void scatter_t(const float *tile, int mr, int rows,
                                      int cols, const int32_t *out, float *dst,
                                      size_t plane, const float *bias, int add)
{
    int run = out[rows - 1] - out[0] == rows - 1;
    if (run && rows == 8) { /* a whole 8-row tile: one vector per column */
        for (int c = 0; c < cols; c++) {
            const float *restrict tc = tile + c * mr;
            float *restrict d = dst + (size_t)c * plane + out[0];
            if (add)
                for (int r = 0; r < 8; r++)
                    d[r] += tc[r];
            else if (bias)
                for (int r = 0; r < 8; r++)
                    d[r] = tc[r] + bias[c];
            else
                for (int r = 0; r < 8; r++)
                    d[r] = tc[r];
        }
        return;
    }
    for (int c = 0; c < cols; c++) {
        const float *restrict tc = tile + c * mr;
        float *restrict d = dst + (size_t)c * plane;
        float bc = bias ? bias[c] : 0.0f;
        if (run && !add)
            for (int r = 0; r < rows; r++)
                d[out[0] + r] = tc[r] + bc;
        else if (run)
            for (int r = 0; r < rows; r++)
                d[out[0] + r] += tc[r];
        else
            for (int r = 0; r < rows; r++)
                d[out[r]] = (add ? d[out[r]] : bc) + tc[r];
    }
}

typedef struct fwd_ctx {
    const conv_job *j;
    float *y;
    const float *bias;
    const int32_t *out;
} fwd_ctx;

/* y[out[r], o] = tile[o][r] + bias[o] (tile rows: output positions) */
SC_SIMD_CLONES
static void store_y(void *ctx, const float *tile, int r0, int rows, int c0,
                    int cols)
{
    const fwd_ctx *f = ctx;
    const conv_job *j = f->j;
    scatter_t(tile, j->kr->mr, rows, cols, f->out + r0,
              f->y + (size_t)c0 * j->ohw, (size_t)j->ohw,
              f->bias ? f->bias + c0 : NULL, 0);
}

/* What every chunk of a task call shares: the position tables, and the
 * zeros of the padded layouts, which the chunks' copies never overwrite
 * (the dilated dy's too: a stride leaves the same holes every time). */
static void task_setup(const conv_job *j, const conv_scratch *sc, int dx)
{
    const sc_node *nd = j->nd, *x = j->x;
    int m = j->chunk;
    fill_positions(j, m, sc->pos, sc->out);
    if (padded(nd))
        zero_frame(sc->xp, &j->in, m * x->c, x->h, x->w);
    if (!dx)
        return;
    fill_dpositions(j, m, sc->dpos, sc->dout);
    const layout *l = &j->dyl;
    if (nd->sh == 1 && nd->sw == 1 && l->top >= 0 && l->left >= 0) /* dy is inside */
        zero_frame(sc->dyp, l, m * nd->c, nd->h, nd->w);
    else
        memset(sc->dyp, 0, (size_t)m * lay_size(l) * sizeof(float));
}

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    const conv_job *j = ctx;
    sc_node *nd = j->nd;
    conv_scratch sc = thread_scratch(j, t);
    task_setup(j, &sc, 0);
    for (size_t c = b; c < e; c++) {
        size_t s0;
        int m = sc_conv_chunk_span(j->net, j->chunk, c, &s0), cols = m * j->ohw;
        const float *a = padded_input(j, s0, m, sc.xp);
        fwd_ctx f = {j, nd->y + s0 * j->ysz, sc_node_param(j->net, nd, P_B), sc.out};
        sc_gemm_rows(j->kr, a, j->tap, j->k, sc.pos, cols, j->wp, nd->c, sc.tile,
                     0, 1, store_y, &f);
        const float *cbias = sc_layer_cbias(j->net, nd);
        if (cbias)
            for (int s = 0; s < m; s++) {
                float *restrict y = nd->y + (s0 + s) * j->ysz;
                const float *restrict cb = cbias;
                for (size_t i = 0; i < j->ysz; i++)
                    y[i] += cb[i];
            }
    }
}

/* dy^T panels: row q of dy^T is output position q of the chunk */
static void pack_dyt(const conv_job *j, size_t s0, int m, float *dst)
{
    int nr = j->kr->nr, o = j->nd->c, cols = m * j->ohw;
    for (int o0 = 0; o0 < o; o0 += nr) { /* a panel of up to NR channels */
        int rows = sc_panel_cols(j->kr, o, o0), width = sc_panel_width(j->kr, rows);
        for (int s = 0; s < m; s++)
            j->kr->pack_t(j->nd->dy + (s0 + s) * j->ysz + (size_t)o0 * j->ohw,
                          (size_t)j->ohw, rows, j->ohw, width,
                          dst + (size_t)(o0 / nr) * cols * nr +
                              (size_t)s * j->ohw * width,
                          (size_t)width);
    }
}

/* The chunk's dy, dilated by the stride, in its padded layout (whose
 * zeros task_setup wrote). */
SC_SIMD_CLONES
static void padded_dy(const conv_job *j, size_t s0, int m, float *dyp)
{
    const sc_node *nd = j->nd;
    const layout *l = &j->dyl;
    int sh = nd->sh, sw = nd->sw;
    /* dy's rows and columns that land inside the layout: [r0, r1), [c0, c1) */
    int r0 = 0, r1 = nd->h, c0 = 0, c1 = nd->w;
    while (r0 < r1 && l->top + r0 * sh < 0)
        r0++;
    while (r1 > r0 && l->top + (r1 - 1) * sh >= l->hp)
        r1--;
    while (c0 < c1 && l->left + c0 * sw < 0)
        c0++;
    while (c1 > c0 && l->left + (c1 - 1) * sw >= l->wp)
        c1--;
    for (int s = 0; s < m; s++)
        for (int o = 0; o < nd->c; o++) {
            const float *src = nd->dy + (s0 + s) * j->ysz + (size_t)o * j->ohw;
            float *plane = dyp + (size_t)s * lay_size(l) + (size_t)o * l->hp * l->wp;
            for (int oy = r0; oy < r1; oy++) {
                float *row = plane + (size_t)(l->top + oy * sh) * l->wp + l->left;
                const float *in = src + (size_t)oy * nd->w;
                if (sw == 1)
                    memcpy(row + c0, in + c0, (size_t)(c1 - c0) * sizeof(float));
                else
                    for (int ox = c0; ox < c1; ox++)
                        row[ox * sw] = in[ox];
            }
        }
}

typedef struct dw_ctx {
    const conv_job *j;
    float *dwt; /* dW^T [k][o] */
    int set;    /* the thread's first chunk: store rather than add */
} dw_ctx;

/* dW^T[k0 + r][c] (+)= tile[r][c] (tile rows: taps) */
SC_SIMD_CLONES
static void store_dw(void *ctx, const float *tile, int r0, int rows, int c0,
                     int cols)
{
    const dw_ctx *d = ctx;
    const conv_job *j = d->j;
    int nr = j->kr->nr, o = j->nd->c;
    for (int r = 0; r < rows; r++) {
        float *restrict dst = d->dwt + (size_t)(r0 + r) * o + c0;
        const float *restrict tr = tile + r * nr;
        if (d->set)
            for (int c = 0; c < cols; c++)
                dst[c] = tr[c];
        else
            for (int c = 0; c < cols; c++)
                dst[c] += tr[c];
    }
}

typedef struct dx_ctx {
    const conv_job *j;
    float *dx;
    const int32_t *out;
    int set; /* store rather than add: x has no other reader */
} dx_ctx;

/* dx[out[r], c] (+)= tile[c][r] (tile rows: input positions) */
SC_SIMD_CLONES
static void store_dx(void *ctx, const float *tile, int r0, int rows, int c0,
                     int cols)
{
    const dx_ctx *d = ctx;
    const conv_job *j = d->j;
    scatter_t(tile, j->kr->mr, rows, cols, d->out + r0,
              d->dx + (size_t)c0 * j->ihw, (size_t)j->ihw, NULL, !d->set);
}

static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    conv_job *j = ctx;
    sc_net *net = j->net;
    sc_node *nd = j->nd, *x = j->x;
    conv_scratch sc = thread_scratch(j, t);
    /* the first chunk stores every element of the partial (each (k, o) of
     * dW^T is one tile's), later chunks add to it */
    dw_ctx dw = {j, net->wgrad + (size_t)t * net->wgrad_per_thread, 1};
    j->ran[t] = 1;
    task_setup(j, &sc, x->dy != NULL);
    for (size_t c = b; c < e; c++) {
        size_t s0;
        int m = sc_conv_chunk_span(j->net, j->chunk, c, &s0), cols = m * j->ohw;
        /* dW^T [k, o] += sum_q xp[tap(k) + pos(q)] dy[o, q] */
        const float *a = padded_input(j, s0, m, sc.xp);
        pack_dyt(j, s0, m, sc.dyt);
        sc_gemm_rows(j->kr, a, sc.pos, cols, j->tap, j->k, sc.dyt, nd->c,
                     sc.tile, 0, 0, store_dw, &dw);
        dw.set = 0;
        if (x->dy == NULL)
            continue;
        /* dx[c, q] += sum_k' Wf[c, k'] dyp[tap'(k') + pos'(q)] */
        padded_dy(j, s0, m, sc.dyp);
        dx_ctx d = {j, x->dy + s0 * j->xsz, sc.dout, x->dy_set};
        sc_gemm_rows(j->kr, sc.dyp, j->tapx, j->kx, sc.dpos, m * j->ihw, j->wp,
                     x->c, sc.tile, 0, 1, store_dx, &d);
    }
}

/* W^T panels for the forward: panel row k holds W[o][k] for NR o's (NR/2
 * in a narrow last panel: sc_panel_width); panels [b, e) */
SC_SIMD_CLONES
static void pack_w_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const conv_job *j = ctx;
    const float *w = sc_layer_weights(j->net, j->nd);
    int o = j->nd->c, k = j->k, nr = j->kr->nr;
    for (size_t p = b; p < e; p++) {
        float *dst = (float *)j->wp + p * k * nr;
        int o0 = (int)p * nr, wd = sc_panel_width(j->kr, sc_panel_cols(j->kr, o, o0));
        for (int kk = 0; kk < k; kk++)
            for (int c = 0; c < wd; c++)
                dst[(size_t)kk * wd + c] =
                    o0 + c < o ? w[(size_t)(o0 + c) * k + kk] : 0.0f;
    }
}

/* Wf panels for dx: row (o, i, j) holds W[o][c][kh-1-i][kw-1-j] for NR
 * c's (or NR/2, as above); panels [b, e) */
SC_SIMD_CLONES
static void pack_wflip_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const conv_job *j = ctx;
    const float *w = sc_layer_weights(j->net, j->nd);
    int o = j->nd->c, c = j->x->c, kh = j->nd->kh, kw = j->nd->kw,
        nr = j->kr->nr;
    for (size_t p = b; p < e; p++) {
        float *dst = (float *)j->wp + p * j->kx * nr;
        int c0 = (int)p * nr, wd = sc_panel_width(j->kr, sc_panel_cols(j->kr, c, c0));
        size_t r = 0;
        for (int oc = 0; oc < o; oc++)
            for (int i = 0; i < kh; i++)
                for (int jj = 0; jj < kw; jj++, r++)
                    for (int l = 0; l < wd; l++)
                        dst[r * wd + l] =
                            c0 + l < c
                                ? w[(((size_t)oc * c + c0 + l) * kh + kh - 1 - i) * kw +
                                    kw - 1 - jj]
                                : 0.0f;
    }
}

/* dW[o][k] += the threads' dW^T partials [k][o], rows o in [b, e) */
SC_SIMD_CLONES
static void reduce_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const conv_job *j = ctx;
    sc_net *net = j->net;
    int o = j->nd->c, threads = sc_pool_threads(net->pool);
    float *dw = sc_node_grad(net, j->nd, P_W);
    for (int th = 0; th < threads; th++) {
        if (!j->ran[th])
            continue;
        const float *part = net->wgrad + (size_t)th * net->wgrad_per_thread;
        for (size_t oc = b; oc < e; oc++) {
            float *restrict d = dw + oc * j->k;
            for (int k = 0; k < j->k; k++)
                d[k] += part[(size_t)k * o + oc];
        }
    }
}

static sc_status conv_shape(sc_net *net, sc_node *nd)
{
    sc_node *x = sc_in(net, nd, 0);
    int hp = x->h + 2 * nd->ph, wp = x->w + 2 * nd->pw, g = nd->groups;
    if (x->c % g != 0 || nd->c % g != 0)
        return sc_fail(SC_ERR_SHAPE, "conv2d: %d groups do not divide its "
                       "%d input and %d output channels", g, x->c, nd->c);
    if (hp < nd->kh || wp < nd->kw)
        return sc_fail(SC_ERR_SHAPE,
                       "conv2d: kernel %dx%d is larger than the padded "
                       "input %dx%d", nd->kh, nd->kw, hp, wp);
    nd->h = (hp - nd->kh) / nd->sh + 1;
    nd->w = (wp - nd->kw) / nd->sw + 1;
    /* the padded images the offset tables index (net.h's limits) */
    size_t in = (size_t)x->c * (size_t)hp * (size_t)wp,
           dy = (size_t)nd->c * (size_t)(x->h + nd->kh - 1) *
                (size_t)(x->w + nd->kw - 1);
    if (in > SC_MAX_CONV_IMAGE || dy > SC_MAX_CONV_IMAGE)
        return sc_fail(SC_ERR_SHAPE,
                       "conv2d: the padded input (%zu floats) or padded "
                       "gradient (%zu floats) per sample is more than the "
                       "limit of 2^30", in, dy);
    nd->pn[P_W] = (size_t)nd->c * (size_t)(x->c / g) * nd->kh * nd->kw;
    nd->pn[P_B] = (nd->flags & SC_BIAS) ? (size_t)nd->c : 0;
    return SC_OK;
}

/* db[o] += sum_{n, q} dy[n, o, q] */
void sc_conv_bias_grad(sc_net *net, sc_node *nd)
{
    float *db = sc_node_grad(net, nd, P_B);
    size_t ohw = (size_t)nd->h * nd->w;
    if (db)
        for (int s = 0; s < net->plan_n; s++)
            for (int oc = 0; oc < nd->c; oc++) {
                const float *dy = nd->dy + ((size_t)s * nd->c + oc) * ohw;
                float acc = 0.0f;
                for (size_t i = 0; i < ohw; i++)
                    acc += dy[i];
                db[oc] += acc;
            }
}

static sc_status conv2d(sc_net *net, sc_node *nd, sc_op_action action)
{
    if (action == OP_SHAPE)
        return conv_shape(net, nd);
    if (action == OP_COMMIT || action == OP_COMMIT_CHECK)
        return SC_OK;
    if (nd->groups > 1)
        return sc_conv_grouped(net, nd, action);
    if (sc_winograd_fits(net, nd)) {
        sc_status st = sc_conv_winograd(net, nd, action);
        if (st == SC_OK && action == OP_BACKWARD)
            sc_conv_bias_grad(net, nd);
        return st;
    }
    conv_job j;
    job_init(&j, net, nd);
    int nr = j.kr->nr, o = nd->c;
    size_t chunks = ((size_t)net->plan_n + (size_t)j.chunk - 1) / (size_t)j.chunk;
    /* shared (planned: not yet at OP_SCRATCH): weight panels, then the tap
     * tables */
    float *wp = net->packed;
    int32_t *tap;
    switch (action) {
    case OP_SCRATCH: {
        size_t need = scratch_of(&j, NULL).floats;
        if (need > net->scratch_per_thread)
            net->scratch_per_thread = need;
        if (sc_up16(nd->pn[P_W]) > net->wgrad_per_thread)
            net->wgrad_per_thread = sc_up16(nd->pn[P_W]);
        if (shared_floats(&j) > net->packed_floats)
            net->packed_floats = shared_floats(&j);
        return SC_OK;
    }
    case OP_FORWARD:
        j.wp = wp;
        sc_pool_run(net->pool, (size_t)(o + nr - 1) / nr, pack_w_task, &j);
        tap = (int32_t *)(void *)(wp + (size_t)sc_round_up(o, nr) * j.k);
        fill_taps(tap, &j.in, nd->kh, nd->kw);
        j.tap = tap;
        sc_pool_run(net->pool, chunks, forward_task, &j);
        return SC_OK;
    case OP_BACKWARD: {
        /* shared: Wf panels, the input's taps, dy's taps */
        size_t wf = (size_t)sc_round_up(j.x->c, nr) * j.kx;
        int32_t *tapx = NULL;
        tap = (int32_t *)(void *)(wp + wf);
        fill_taps(tap, &j.in, nd->kh, nd->kw);
        j.wp = wp;
        if (j.x->dy) {
            sc_pool_run(net->pool, (size_t)(j.x->c + nr - 1) / nr,
                        pack_wflip_task, &j);
            tapx = tap + sc_up16((size_t)j.k);
            fill_taps(tapx, &j.dyl, nd->kh, nd->kw);
        }
        j.tap = tap;
        j.tapx = tapx;
        /* every thread that gets chunks sums dW^T over them into its own
         * partial; the partials are added into dW in thread order */
        sc_pool_run(net->pool, chunks, backward_task, &j);
        sc_pool_run(net->pool, (size_t)o, reduce_task, &j);
        sc_conv_bias_grad(net, nd);
        return SC_OK;
    }
    case OP_SHAPE:
    case OP_COMMIT:
    case OP_COMMIT_CHECK: /* sc_op_conv2d answers these itself */
        break;
    }
    return sc_fail(SC_ERR_ARG, "%s: no body for action %d", "conv2d",
                   (int)action);
}

sc_status sc_op_conv2d(sc_net *net, sc_node *nd, sc_op_action action)
{
    return sc_weighted_op(net, nd, action, conv2d);
}

SC_API sc_status sc_net_conv2d(sc_net *net, int in, int out_channels, int kh,
                               int kw, int stride, int pad, int flags, int *id)
{
    if (stride <= 0)
        return sc_fail(SC_ERR_ARG, "sc_net_conv2d: stride %d is not valid",
                       stride);
    sc_layer_desc d = SC_LAYER_DESC_INIT(SC_LAYER_CONV2D);
    d.channels = out_channels;
    d.kernel_h = kh;
    d.kernel_w = kw;
    d.stride_h = d.stride_w = stride;
    d.pad_h = d.pad_w = pad;
    d.flags = flags;
    return sc_layer_append(net, &d, &in, 1, id, "sc_net_conv2d");
}
