/* conv_winograd.c -- stride-1 convolutions with a 5x5 kernel by Winograd's
 * minimal filtering F(4x4, 5x5) on 8 x 8 tiles (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016). The 4 x 4 outputs
 * of one tile, for output channel o:
 *
 *   Y = A^T [ sum_c (G W[o,c] G^T) .* (B^T D[c] B) ] A
 *
 * D[c] the tile's 8 x 8 window of input channel c; interpolation points
 * 0, +-1, +-2, +-1/2 and infinity. Each of the 64 points xi of a
 * transformed tile is a GEMM on the library's micro-kernels:
 *
 *   forward  M[xi] (tiles x O) = V[xi] (tiles x C) U[xi] (C x O),
 *            V = B^T D B, U = G W G^T, y = A^T M A
 *   dW       dU[xi] (C x O) = sum_tiles V[xi]^T dM[xi], dM = A dY A^T,
 *            dW = G^T dU G (the adjoints of the forward's transforms)
 *   dx       dV[xi] (tiles x C) = dM[xi] U[xi]^T, and each tile's
 *            dD = B dV B^T added into dx (tiles overlap by 4): the same
 *            dM as dW's, on the forward's tiles
 *
 * 4 multiplies per output instead of 25; the fp32 results stay within
 * 2e-5 of the outputs' scale of the direct GEMM's, outputs and gradients
 * (tests/test_kernels.c: at most 4.4e-6 measured).
 *
 * Images are copied channels-last, channels rounded up to 16, so that each
 * transform runs on 16 channels at once. Samples are taken in chunks shared
 * evenly among the pool's threads, a chunk's tiles in blocks.
 *
 * The same points give F(6x6, 3x3); it made the cnn's training slower
 * (outputs of 7 to 28 waste much of a 6 x 6 tile, and 256 channels make
 * U and the dU partials large) and tinynet's no faster: 3x3 stays direct
 * (docs/design.md). */
#include <string.h>

#include "core/error.h"
#include "core/simd.h"
#include "kernels/kernel.h"
#include "ops/ops.h"

#define WA 8          /* the tile's side */
#define WR 5          /* the kernel's side */
#define WM 4          /* the tile's outputs' side: WA + 1 - WR */
#define WP (WA * WA)  /* points of a transformed tile */
#define LANES 16      /* channels a transform runs on at once */
#define CHUNK_FLOATS 131072 /* channels-last input floats per chunk */

/* B^T (bt_1d computes it):
 *   -1     0   5.25    0   -5.25    0    1   0
 *    0     1   1     -4.25 -4.25    1    1   0
 *    0    -1   1      4.25 -4.25   -1    1   0
 *    0   1/2   1/4   -5/2  -5/4     2    1   0
 *    0  -1/2   1/4    5/2  -5/4    -2    1   0
 *    0     2   4     -5/2  -5     1/2    1   0
 *    0    -2   4      5/2  -5    -1/2    1   0
 *    0    -1   0      5.25  0    -5.25   0   1 */

/* G (8 x 5): row j < 7 is p_j^k / prod_{l != j} (p_j - p_l), row 7 picks
 * the last tap */
static const float G[WA][WR] = {
    {-1, 0, 0, 0, 0},
    {-2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9},
    {-2.0f / 9, 2.0f / 9, -2.0f / 9, 2.0f / 9, -2.0f / 9},
    {1.0f / 90, 2.0f / 90, 4.0f / 90, 8.0f / 90, 16.0f / 90},
    {1.0f / 90, -2.0f / 90, 4.0f / 90, -8.0f / 90, 16.0f / 90},
    {32.0f / 45, 16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45},
    {32.0f / 45, -16.0f / 45, 8.0f / 45, -4.0f / 45, 2.0f / 45},
    {0, 0, 0, 0, 1},
};
/* A^T (at_1d computes it, a_1d its transpose): row i is p_j^i, and the
 * point at infinity in the last row
 *    1  1  1  1  1  1     1     0
 *    0  1 -1  2 -2  1/2  -1/2   0
 *    0  1  1  4  4  1/4   1/4   0
 *    0  1 -1  8 -8  1/8  -1/8   1 */

/* out[i][l] = sum_j M[i][j] in[j][l] for i < rows, j < cols and 16 lanes
 * (M[j][i], M stored cols x rows, when tr); in's rows `is` floats apart,
 * out's `os`. Called with constant matrices: unrolled, their zeros fold
 * away. */
static SC_CLONE_INLINE void
mat_lanes(const float *M, int rows, int cols, int tr, const float *restrict in,
          size_t is, float *restrict out, size_t os)
{
#pragma GCC unroll 8
    for (int i = 0; i < rows; i++) {
        float acc[LANES] = {0};
#pragma GCC unroll 8
        for (int j = 0; j < cols; j++) {
            float mij = tr ? M[j * rows + i] : M[i * cols + j];
            if (mij == 0.0f)
                continue;
            for (int l = 0; l < LANES; l++)
                acc[l] += mij * in[j * is + l];
        }
        for (int l = 0; l < LANES; l++)
            out[i * os + l] = acc[l];
    }
}

/* The 1-D transforms on 16 lanes, inputs `is` floats apart, outputs `os`
 * apart; B^T's and A's rows come in pairs that share an even and an odd
 * part (the tables above, factored). Results go through a local array:
 * stores to rows a run-time stride apart would keep GCC from vectorising. */

/* out[k * os + l] = r[k][l] (+= when add; add is a constant at every
 * call, so each caller compiles one loop: 0 + r would be an add per store,
 * which IEEE keeps for r = -0) */
static SC_CLONE_INLINE void
put_rows(float (*r)[LANES], int rows, float *restrict out, size_t os, int add)
{
    for (int k = 0; k < rows; k++)
        for (int l = 0; l < LANES; l++) {
            if (add)
                out[k * os + l] += r[k][l];
            else
                out[k * os + l] = r[k][l];
        }
}

/* out = B^T in (8 -> 8) */
static SC_CLONE_INLINE void
bt_1d(const float *restrict in, size_t is, float *restrict out, size_t os)
{
    float r[WA][LANES];
    for (int l = 0; l < LANES; l++) {
        float d0 = in[l], d1 = in[is + l], d2 = in[2 * is + l],
              d3 = in[3 * is + l], d4 = in[4 * is + l], d5 = in[5 * is + l],
              d6 = in[6 * is + l], d7 = in[7 * is + l];
        r[0][l] = d6 - d0 + 5.25f * (d2 - d4);
        float e = d2 + d6 - 4.25f * d4, o = d1 + d5 - 4.25f * d3;
        r[1][l] = e + o;
        r[2][l] = e - o;
        e = 0.25f * d2 - 1.25f * d4 + d6;
        o = 0.5f * d1 - 2.5f * d3 + 2.0f * d5;
        r[3][l] = e + o;
        r[4][l] = e - o;
        e = 4.0f * d2 - 5.0f * d4 + d6;
        o = 2.0f * d1 - 2.5f * d3 + 0.5f * d5;
        r[5][l] = e + o;
        r[6][l] = e - o;
        r[7][l] = d7 - d1 + 5.25f * (d3 - d5);
    }
    put_rows(r, WA, out, os, 0);
}

/* out (+)= B in (8 -> 8): bt_1d's adjoint */
static SC_CLONE_INLINE void
b_1d(const float *restrict in, size_t is, float *restrict out, size_t os,
     int add)
{
    float r[WA][LANES];
    for (int l = 0; l < LANES; l++) {
        float m0 = in[l], m1 = in[is + l], m2 = in[2 * is + l],
              m3 = in[3 * is + l], m4 = in[4 * is + l], m5 = in[5 * is + l],
              m6 = in[6 * is + l], m7 = in[7 * is + l];
        float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4,
              s56 = m5 + m6, d56 = m5 - m6;
        r[0][l] = -m0;
        r[1][l] = d12 + 0.5f * d34 + 2.0f * d56 - m7;
        r[2][l] = 5.25f * m0 + s12 + 0.25f * s34 + 4.0f * s56;
        r[3][l] = 5.25f * m7 - 4.25f * d12 - 2.5f * (d34 + d56);
        r[4][l] = -5.25f * m0 - 4.25f * s12 - 1.25f * s34 - 5.0f * s56;
        r[5][l] = d12 + 2.0f * d34 + 0.5f * d56 - 5.25f * m7;
        r[6][l] = m0 + s12 + s34 + s56;
        r[7][l] = m7;
    }
    put_rows(r, WA, out, os, add);
}

/* out = A^T in (8 -> 4) */
static SC_CLONE_INLINE void
at_1d(const float *restrict in, size_t is, float *restrict out, size_t os)
{
    float r[WM][LANES];
    for (int l = 0; l < LANES; l++) {
        float m1 = in[is + l], m2 = in[2 * is + l], m3 = in[3 * is + l],
              m4 = in[4 * is + l], m5 = in[5 * is + l], m6 = in[6 * is + l];
        float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4,
              s56 = m5 + m6, d56 = m5 - m6;
        r[0][l] = in[l] + s12 + s34 + s56;
        r[1][l] = d12 + 2.0f * d34 + 0.5f * d56;
        r[2][l] = s12 + 4.0f * s34 + 0.25f * s56;
        r[3][l] = d12 + 8.0f * d34 + 0.125f * d56 + in[7 * is + l];
    }
    put_rows(r, WM, out, os, 0);
}

/* out = A in (4 -> 8): at_1d's adjoint */
static SC_CLONE_INLINE void
a_1d(const float *restrict in, size_t is, float *restrict out, size_t os)
{
    float r[WA][LANES];
    for (int l = 0; l < LANES; l++) {
        float y0 = in[l], y1 = in[is + l], y2 = in[2 * is + l],
              y3 = in[3 * is + l];
        r[0][l] = y0;
        float e = y0 + y2, o = y1 + y3;
        r[1][l] = e + o;
        r[2][l] = e - o;
        e = y0 + 4.0f * y2;
        o = 2.0f * y1 + 8.0f * y3;
        r[3][l] = e + o;
        r[4][l] = e - o;
        e = y0 + 0.25f * y2;
        o = 0.5f * y1 + 0.125f * y3;
        r[5][l] = e + o;
        r[6][l] = e - o;
        r[7][l] = y3;
    }
    put_rows(r, WA, out, os, 0);
}

/* V = B^T D B for 16 channels: D[i][j] at d + i * row + j * col, V[xi][nu]
 * to v + (8 xi + nu) * vs */
SC_SIMD_CLONES
static void in_tile(const float *d, size_t row, size_t col, float *v, size_t vs)
{
    float t[WA][WA][LANES]; /* t[i][nu] = sum_j D[i][j] B[j][nu] */
    for (int i = 0; i < WA; i++)
        bt_1d(d + i * row, col, t[i][0], LANES);
    for (int nu = 0; nu < WA; nu++)
        bt_1d(t[0][nu], WA * LANES, v + nu * vs, WA * vs);
}

/* Y = A^T M A (4 x 4, to y[i][j][16]) from M[xi][nu] at mp + (8 xi + nu) ms */
SC_SIMD_CLONES
static void out_tile(const float *mp, size_t ms, float *y)
{
    float t[WA][WM][LANES]; /* t[xi][j] = sum_nu M[xi][nu] A[nu][j] */
    for (int xi = 0; xi < WA; xi++)
        at_1d(mp + xi * WA * ms, ms, t[xi][0], LANES);
    for (int j = 0; j < WM; j++)
        at_1d(t[0][j], WM * LANES, y + j * LANES, WM * LANES);
}

/* dM = A dY A^T (8 x 8, to dm + (8 xi + nu) vs) from the 4 x 4 dY[i][j]
 * at dy + i * row + j * col: the adjoint of out_tile */
SC_SIMD_CLONES
static void grad_tile(const float *dy, size_t row, size_t col, float *dm,
                      size_t vs)
{
    float t[WM][WA][LANES]; /* t[i][nu] = sum_j dY[i][j] A^T[j][nu] */
    for (int i = 0; i < WM; i++)
        a_1d(dy + i * row, col, t[i][0], LANES);
    for (int nu = 0; nu < WA; nu++)
        a_1d(t[0][nu], WA * LANES, dm + nu * vs, WA * vs);
}

/* dD = B dV B^T (8 x 8, added to d + i * row + j * col) from dV[xi][nu]
 * at dv + (8 xi + nu) vs: in_tile's adjoint */
SC_SIMD_CLONES
static void dx_tile(const float *dv, size_t vs, float *d, size_t row, size_t col)
{
    float t[WA][WA][LANES]; /* t[xi][j] = sum_nu dV[xi][nu] B^T[nu][j] */
    for (int xi = 0; xi < WA; xi++)
        b_1d(dv + xi * WA * vs, vs, t[xi][0], LANES, 0);
    for (int j = 0; j < WA; j++)
        b_1d(t[0][j], WA * LANES, d + j * col, row, 1);
}

/* One application of the algorithm: src (ci channels of ih x iw, pad
 * zeros around) convolved into dst (co channels of oh x ow). The backward
 * keeps one for dy: its geometry is that of the dx convolution (dy padded
 * by 4 - p into x's shape), whose window holds the dM tiles' dy; its U is
 * U^T in blocks of NR rows (pack_u_task), dst and add where dx goes. */
typedef struct wg_pass {
    const float *src;
    int ci, ih, iw, pad;
    size_t isz;            /* floats per source sample */
    float *dst;
    int co, oh, ow;
    size_t osz;            /* floats per destination sample */
    int add;               /* dx: dst += rather than = */
    const float *bias, *cbias;
    float *u;              /* U panels: [xi][ci blocks][co panels][ci][NR] */
    int th, tw;            /* tiles down and across */
    int nh, nw, cp;        /* channels-last window: rows, columns, channels */
} wg_pass;

typedef struct wg_job {
    sc_net *net;
    sc_node *nd, *x;
    const sc_kernel *kr;
    int tb;                /* tiles per block */
    int chunk;             /* samples per chunk */
    wg_pass fwd, dx;       /* x -> y; dy (its window) -> dx (see wg_pass) */
    unsigned char ran[256]; /* backward: thread t summed a dU partial */
} wg_job;

/* Floats per tile in a block's V or M (tile after tile, points of cp
 * channels): a line more than the points take, so that tiles are not a
 * multiple of 4 KB apart (the GEMMs read across tiles; rows that share
 * an L1 set would evict each other). */
static size_t tile_floats(size_t cp) { return WP * cp + LANES; }

static void pass_init(wg_pass *p, int ci, int ih, int iw,
                      int pad, int co, int oh, int ow)
{
    memset(p, 0, sizeof *p);
    p->ci = ci;
    p->ih = ih;
    p->iw = iw;
    p->pad = pad;
    p->isz = (size_t)ci * ih * iw;
    p->co = co;
    p->oh = oh;
    p->ow = ow;
    p->osz = (size_t)co * oh * ow;
    p->th = (oh + WM - 1) / WM;
    p->tw = (ow + WM - 1) / WM;
    p->nh = p->th * WM + WR - 1;
    p->nw = p->tw * WM + WR - 1;
    p->cp = (int)sc_up16((size_t)ci);
}

static size_t window(const wg_pass *p)
{
    return (size_t)p->nh * p->nw * p->cp;
}

static void job_init(wg_job *j, sc_net *net, sc_node *nd)
{
    sc_node *x = sc_in(net, nd, 0);
    memset(j, 0, sizeof *j);
    j->net = net;
    j->nd = nd;
    j->x = x;
    j->kr = net->kernel;
    j->tb = 4 * j->kr->mr;
    pass_init(&j->fwd, x->c, x->h, x->w, nd->ph, nd->c, nd->h, nd->w);
    pass_init(&j->dx, nd->c, nd->h, nd->w, nd->kh - 1 - nd->ph, x->c,
              x->h, x->w);
    j->chunk = sc_conv_chunk(net, 2 * window(&j->fwd) + window(&j->dx), CHUNK_FLOATS);
}

int sc_winograd_fits(const sc_net *net, const sc_node *nd)
{
    const sc_node *x = &net->nodes[nd->in[0]];
    return net->conv_algo == SC_CONV_ALGO_AUTO && nd->groups == 1 && nd->sh == 1 &&
           nd->sw == 1 && nd->kh == WR && nd->kw == WR && nd->ph == nd->pw &&
           nd->ph <= (WR - 1) / 2 &&
           x->c >= 2;
}

/* Floats per point of a block's dM panels ([xi][O panel][tile][NR]), a
 * line more than the panels take, as in tile_floats. */
static size_t dm_point(const wg_job *j)
{
    return (size_t)sc_round_up(j->nd->c, j->kr->nr) * j->tb + LANES;
}

/* A thread's scratch: the chunk's channels-last x, padded dy and dx (x's
 * window), a block's V (or dV) and M (or dM panels), the kernel's tile, the
 * dU partial, three offset tables (channels 0, 1, 2, ...; a block's tiles
 * in V; a block's rows in a dM panel) and one row of dx, channels first. */
typedef struct wg_scratch {
    float *xt, *dyt, *dxt, *v, *mm, *tile, *du, *row;
    int32_t *ident, *tiles, *rows;
    size_t floats;
} wg_scratch;

static wg_scratch scratch_of(const wg_job *j, float *base)
{
    wg_scratch s;
    size_t off = 0, m = (size_t)j->chunk, tb = (size_t)j->tb;
    size_t cpx = (size_t)j->fwd.cp, cpy = (size_t)j->dx.cp,
           cmax = cpx > cpy ? cpx : cpy;
    size_t mm = tb * tile_floats(cmax) > WP * dm_point(j)
                    ? tb * tile_floats(cmax) : WP * dm_point(j);
    s.xt = sc_carve(base, &off, m * window(&j->fwd));
    s.dyt = sc_carve(base, &off, m * window(&j->dx));
    s.dxt = sc_carve(base, &off, m * window(&j->fwd));
    s.v = sc_carve(base, &off, tb * tile_floats(cmax));
    s.mm = sc_carve(base, &off, mm);
    s.tile = sc_carve(base, &off, (size_t)SC_KERNEL_MAX_MR * SC_KERNEL_MAX_NR);
    s.du = sc_carve(base, &off, WP * (size_t)j->x->c * (size_t)j->nd->c);
    s.ident = sc_carve(base, &off, cmax);
    s.tiles = sc_carve(base, &off, tb);
    s.rows = sc_carve(base, &off, tb);
    s.row = sc_carve(base, &off, cpx * sc_up16((size_t)j->x->w));
    s.floats = off;
    return s;
}

static wg_scratch thread_scratch(const wg_job *j, int t)
{
    return scratch_of(j, sc_thread_scratch(j->net, t));
}

/* The pass's window of samples [s0, s0 + m), channels-last:
 * w[s][y][x][c] = src[s0 + s][c][y - pad][x - pad]. The zeros around the
 * images are the caller's (written once per task); pack_t writes those of
 * the spare channels. */
static void to_window(const wg_job *j, const wg_pass *p, size_t s0, int m,
                      float *w)
{
    int rows = p->ih < p->nh - p->pad ? p->ih : p->nh - p->pad;
    int cols = p->iw < p->nw - p->pad ? p->iw : p->nw - p->pad;
    size_t cp = (size_t)p->cp, plane = (size_t)p->ih * p->iw;
    for (int s = 0; s < m; s++) {
        const float *src = p->src + (s0 + (size_t)s) * p->isz;
        float *ws = w + (size_t)s * window(p) + ((size_t)p->pad * p->nw + p->pad) * cp;
        for (int y = 0; y < rows; y++) { /* row y of every channel, transposed */
            if (y + 2 < rows) /* more streams than the hardware follows */
                for (int c = 0; c < p->ci; c++)
                    __builtin_prefetch(src + c * plane + (size_t)(y + 2) * p->iw);
            j->kr->pack_t(src + (size_t)y * p->iw, plane, p->ci, cols, p->cp,
                          ws + (size_t)y * p->nw * cp, cp);
        }
    }
}

/* sample, tile row and tile column of tile t of a pass's tiling */
static void tile_at(const wg_pass *p, int t, int *s, int *ty, int *tx)
{
    int per = p->th * p->tw;
    *s = t / per;
    *ty = t % per / p->tw;
    *tx = t % p->tw;
}

/* V of tiles [t0, t0 + nt): v[t][xi][cp] */
static void transform_in(const wg_pass *p, const float *w,
                         int t0, int nt, float *v)
{
    size_t cp = (size_t)p->cp;
    for (int t = 0; t < nt; t++) {
        int s, ty, tx;
        tile_at(p, t0 + t, &s, &ty, &tx);
        const float *d = w + (size_t)s * window(p) +
                         ((size_t)ty * WM * p->nw + (size_t)tx * WM) * cp;
        for (size_t g = 0; g < cp; g += LANES)
            in_tile(d + g, p->nw * cp, cp, v + (size_t)t * tile_floats(cp) + g, cp);
    }
}

/* where a kernel tile of dU goes (rows: input channels) */
typedef struct rows_ctx {
    float *dst;
    size_t ld;
    int nr;
} rows_ctx;

/* dst[r0 + r][c0 + c] += tile[r][c] */
SC_SIMD_CLONES
static void add_rows(void *ctx, const float *tile, int r0, int rows, int c0,
                     int cols)
{
    const rows_ctx *m = ctx;
    for (int r = 0; r < rows; r++) {
        float *restrict d = m->dst + (size_t)(r0 + r) * m->ld + c0;
        const float *restrict tr = tile + r * m->nr;
        for (int c = 0; c < cols; c++)
            d[c] += tr[c];
    }
}

/* the offsets of a block's first nt tiles in V (cp channels a point) */
static void fill_tiles(int32_t *tiles, int nt, size_t cp)
{
    for (int t = 0; t < nt; t++)
        tiles[t] = (int32_t)((size_t)t * tile_floats(cp));
}

/* M[t][xi][co] = sum_c V[t][xi][c] U[xi][c][co], t < nt: per point, rows
 * the tiles, the reduction over the channels. The kernels write M in
 * place: its cpo channels a point hold the panels' width, and its tb tiles
 * a whole number of MR-row tiles (the spare rows and channels they fill are
 * never read; U's padding makes the channels 0). */
static void gemm_points(const wg_job *j, const wg_pass *p, const float *v,
                        int nt, float *mm, const wg_scratch *sc)
{
    size_t cp = (size_t)p->cp, cpo = sc_up16((size_t)p->co);
    size_t ustride = (size_t)sc_round_up(p->co, j->kr->nr) * p->ci;
    fill_tiles(sc->tiles, nt, cp);
    for (int xi = 0; xi < WP; xi++)
        sc_gemm_rows(j->kr, v + (size_t)xi * cp, sc->ident, p->ci, sc->tiles,
                     nt, p->u + xi * ustride, p->co, mm + (size_t)xi * cpo,
                     tile_floats(cpo), 0, NULL, NULL);
}

/* y = A^T M A (+ biases) of tiles [t0, t0 + nt), stored into dst */
SC_SIMD_CLONES
static void transform_out(const wg_job *j, const wg_pass *p, size_t s0,
                          const float *mm, int t0, int nt)
{
    int ow = p->ow;
    size_t cpo = sc_up16((size_t)p->co), plane = (size_t)p->oh * ow;
    float y[WM * WM * LANES], yt[LANES * WM * WM];
    for (int t = 0; t < nt; t++) {
        int s, ty, tx;
        tile_at(p, t0 + t, &s, &ty, &tx);
        int rows = p->oh - ty * WM < WM ? p->oh - ty * WM : WM;
        int cols = ow - tx * WM < WM ? ow - tx * WM : WM;
        size_t at = (size_t)ty * WM * ow + (size_t)tx * WM;
        float *dst = p->dst + (s0 + (size_t)s) * p->osz + at;
        for (int g = 0; g < p->co; g += LANES) {
            out_tile(mm + (size_t)t * tile_floats(cpo) + g, cpo, y);
            int lanes = p->co - g < LANES ? p->co - g : LANES;
            /* yt[l][i][j]: each channel's 4 x 4 outputs together */
            j->kr->pack_t(y, LANES, WM * WM, lanes, WM * WM, yt, WM * WM);
            for (int l = 0; l < lanes; l++) {
                size_t o = (size_t)(g + l);
                float *restrict d = dst + o * plane;
                const float *restrict yl = yt + l * WM * WM;
                float b = p->bias ? p->bias[o] : 0.0f;
                if (cols == WM) /* whole rows: one vector each */
                    for (int i = 0; i < rows; i++)
                        for (int jj = 0; jj < WM; jj++)
                            d[i * ow + jj] = yl[i * WM + jj] + b;
                else
                    for (int i = 0; i < rows; i++)
                        for (int jj = 0; jj < cols; jj++)
                            d[i * ow + jj] = yl[i * WM + jj] + b;
                if (p->cbias) {
                    const float *restrict cb = p->cbias + o * plane + at;
                    for (int i = 0; i < rows; i++)
                        for (int jj = 0; jj < cols; jj++)
                            d[i * ow + jj] += cb[i * ow + jj];
                }
            }
        }
    }
}

/* The pass over a chunk whose channels-last window w is ready. */
static void run_pass(const wg_job *j, const wg_pass *p, size_t s0, int m,
                     const float *w, const wg_scratch *sc)
{
    int tiles = m * p->th * p->tw;
    for (int t0 = 0; t0 < tiles; t0 += j->tb) {
        int nt = tiles - t0 < j->tb ? tiles - t0 : j->tb;
        transform_in(p, w, t0, nt, sc->v);
        gemm_points(j, p, sc->v, nt, sc->mm, sc);
        transform_out(j, p, s0, sc->mm, t0, nt);
    }
}

/* the channel table, and the zeros of a task's windows: frames and spare
 * channels, which the chunks' copies never overwrite; M's channels beyond
 * the last panel's width (a narrow panel's kernel writes half of NR) */
static void task_setup(const wg_job *j, const wg_scratch *sc, int bwd)
{
    size_t m = (size_t)j->chunk, cmax = j->fwd.cp > j->dx.cp ? j->fwd.cp : j->dx.cp;
    for (size_t c = 0; c < cmax; c++)
        sc->ident[c] = (int32_t)c;
    memset(sc->xt, 0, m * window(&j->fwd) * sizeof(float));
    memset(sc->mm, 0, (size_t)j->tb * tile_floats(cmax) * sizeof(float));
    if (bwd)
        memset(sc->dyt, 0, m * window(&j->dx) * sizeof(float));
}

static void forward_task(void *ctx, size_t b, size_t e, int t)
{
    const wg_job *j = ctx;
    wg_scratch sc = thread_scratch(j, t);
    task_setup(j, &sc, 0);
    for (size_t c = b; c < e; c++) {
        size_t s0;
        int m = sc_conv_chunk_span(j->net, j->chunk, c, &s0);
        to_window(j, &j->fwd, s0, m, sc.xt);
        run_pass(j, &j->fwd, s0, m, sc.xt, &sc);
    }
}

/* dM panels of the backward's tiles [t0, t0 + nt) (the forward's tiling):
 * dm[xi][O panel][t][NR] (points dm_point apart, panels of nt rows), from
 * dy's window (laid out as the dx convolution's input: see wg_pass) */
static void transform_grad(const wg_job *j, const float *dyw, int t0, int nt,
                           float *dm)
{
    const wg_pass *f = &j->fwd, *p = &j->dx;
    const sc_kernel *k = j->kr;
    int nr = k->nr, o = j->nd->c;
    size_t cp = (size_t)p->cp, vs = dm_point(j);
    float tmp[WP * LANES];
    for (int t = 0; t < nt; t++) {
        int s, ty, tx;
        tile_at(f, t0 + t, &s, &ty, &tx);
        const float *d = dyw + (size_t)s * window(p) +
                         ((size_t)(ty * WM + p->pad) * p->nw + tx * WM + p->pad) * cp;
        for (int g = 0; g < o; g += LANES) {
            int c0 = g / nr * nr, col = g - c0;
            int width = sc_panel_width(k, sc_panel_cols(k, o, c0));
            float *dst = dm + (size_t)(c0 / nr) * nt * nr + (size_t)t * width + col;
            if (col + LANES <= width) { /* the 16 lanes within one panel */
                grad_tile(d + g, p->nw * cp, cp, dst, vs);
                continue;
            }
            grad_tile(d + g, p->nw * cp, cp, tmp, LANES);
            for (int l = 0; l < LANES && g + l < o; l++) {
                int c = g + l, pc0 = c / nr * nr;
                int pw = sc_panel_width(k, sc_panel_cols(k, o, pc0));
                float *pd = dm + (size_t)(pc0 / nr) * nt * nr + (size_t)t * pw + (c - pc0);
                for (int xi = 0; xi < WP; xi++)
                    pd[xi * vs] = tmp[xi * LANES + l];
            }
        }
    }
}

/* dU[xi][c][o] += sum_t V[t][xi][c] dM[xi][t][o], t < nt: per point,
 * rows the input channels, the reduction over the tiles */
static void gemm_grad(const wg_job *j, const float *v, const float *dm, int nt,
                      float *du, const wg_scratch *sc)
{
    int c = j->x->c, o = j->nd->c;
    size_t cp = (size_t)j->fwd.cp;
    fill_tiles(sc->tiles, nt, cp);
    for (int xi = 0; xi < WP; xi++) {
        rows_ctx d = {du + (size_t)xi * c * o, (size_t)o, j->kr->nr};
        sc_gemm_rows(j->kr, v + (size_t)xi * cp, sc->tiles, nt, sc->ident, c,
                     dm + (size_t)xi * dm_point(j), o, sc->tile, 0, 0, add_rows, &d);
    }
}

/* dV[t][xi][c] = sum_o dM[xi][t][o] U[xi][c][o], t < nt: per point and
 * per panel of dM (a share of the reduction over the output channels),
 * rows the tiles. The first panel's product is written in place (as in
 * gemm_points), later ones added. */
static void gemm_dv(const wg_job *j, const float *dm, int nt, float *dv,
                    const wg_scratch *sc)
{
    const sc_kernel *k = j->kr;
    int o = j->nd->c, c = j->x->c, nr = k->nr;
    size_t cp = (size_t)j->fwd.cp, cr = (size_t)sc_round_up(c, nr);
    for (int o0 = 0; o0 < o; o0 += nr) {
        int cols = sc_panel_cols(k, o, o0), width = sc_panel_width(k, cols);
        for (int t = 0; t < nt; t++)
            sc->rows[t] = t * width;
        for (int xi = 0; xi < WP; xi++) {
            const float *a = dm + (size_t)xi * dm_point(j) + (size_t)(o0 / nr) * nt * nr;
            const float *u = j->dx.u + (size_t)xi * cr * o + (size_t)o0 * cr;
            rows_ctx d = {dv + (size_t)xi * cp, tile_floats(cp), nr};
            sc_gemm_rows(k, a, sc->ident, cols, sc->rows, nt, u, c,
                         o0 ? sc->tile : d.dst, d.ld, 0, o0 ? add_rows : NULL, &d);
        }
    }
}

/* dD = B dV B^T of tiles [t0, t0 + nt) (dV: dv[t][xi][cp]) added into the
 * chunk's dx window w (x's window: the tiles where the forward read them) */
static void transform_dx(const wg_pass *f, const float *dv, int t0, int nt,
                         float *w)
{
    size_t cp = (size_t)f->cp;
    for (int t = 0; t < nt; t++) {
        int s, ty, tx;
        tile_at(f, t0 + t, &s, &ty, &tx);
        float *d = w + (size_t)s * window(f) +
                   ((size_t)ty * WM * f->nw + (size_t)tx * WM) * cp;
        for (size_t g = 0; g < cp; g += LANES)
            dx_tile(dv + (size_t)t * tile_floats(cp) + g, cp, d + g, f->nw * cp, cp);
    }
}

/* dx of samples [s0, s0 + m) from their window w (the frame, x's padding,
 * dropped), a row at a time channels first (through row), stored or added */
static void from_window(const wg_job *j, size_t s0, int m, const float *w,
                        float *row)
{
    const wg_pass *f = &j->fwd, *p = &j->dx;
    size_t cp = (size_t)f->cp, plane = (size_t)f->ih * f->iw,
           wd = sc_up16((size_t)f->iw);
    for (int s = 0; s < m; s++) {
        const float *ws = w + (size_t)s * window(f) +
                          ((size_t)f->pad * f->nw + f->pad) * cp;
        float *dst = p->dst + (s0 + (size_t)s) * f->isz;
        for (int y = 0; y < f->ih; y++) {
            j->kr->pack_t(ws + (size_t)y * f->nw * cp, cp, f->iw, f->ci,
                          (int)wd, row, wd);
            for (int c = 0; c < f->ci; c++) {
                float *restrict d = dst + c * plane + (size_t)y * f->iw;
                const float *restrict r = row + c * wd;
                if (p->add)
                    for (int x = 0; x < f->iw; x++)
                        d[x] += r[x];
                else
                    for (int x = 0; x < f->iw; x++)
                        d[x] = r[x];
            }
        }
    }
}

static void backward_task(void *ctx, size_t b, size_t e, int t)
{
    wg_job *j = ctx;
    const wg_pass *f = &j->fwd, *p = &j->dx;
    wg_scratch sc = thread_scratch(j, t);
    j->ran[t] = 1;
    task_setup(j, &sc, 1);
    memset(sc.du, 0, WP * (size_t)j->x->c * j->nd->c * sizeof(float));
    for (size_t c = b; c < e; c++) {
        size_t s0;
        int m = sc_conv_chunk_span(j->net, j->chunk, c, &s0), tiles = m * f->th * f->tw;
        to_window(j, f, s0, m, sc.xt);
        to_window(j, p, s0, m, sc.dyt);
        if (p->dst)
            memset(sc.dxt, 0, (size_t)m * window(f) * sizeof(float));
        for (int t0 = 0; t0 < tiles; t0 += j->tb) {
            int nt = tiles - t0 < j->tb ? tiles - t0 : j->tb;
            transform_in(f, sc.xt, t0, nt, sc.v);
            transform_grad(j, sc.dyt, t0, nt, sc.mm);
            gemm_grad(j, sc.v, sc.mm, nt, sc.du, &sc);
            if (p->dst) { /* V is spent: dV takes its place */
                gemm_dv(j, sc.mm, nt, sc.v, &sc);
                transform_dx(f, sc.v, t0, nt, sc.dxt);
            }
        }
        if (p->dst)
            from_window(j, s0, m, sc.dxt, sc.row);
    }
}

/* out = M X M^T for 16 lanes (M^T X M when tr, M stored cols x rows): X
 * cols x cols, out rows x rows, both row-major with 16 lanes per entry */
static SC_CLONE_INLINE void
sandwich(const float *M, int rows, int cols, int tr, const float *x, float *out)
{
    float t[WA][WA][LANES]; /* t[i][b] = sum_a M[i][a] X[a][b] */
    for (int b = 0; b < cols; b++)
        mat_lanes(M, rows, cols, tr, x + b * LANES, cols * LANES, t[0][b],
                  WA * LANES);
    for (int i = 0; i < rows; i++)
        mat_lanes(M, rows, cols, tr, t[i][0], LANES, out + i * rows * LANES,
                  LANES);
}

/* U = G W G^T (to u[xi][nu][16]) of 16 kernels w[a][b][16] */
SC_SIMD_CLONES
static void weight_tile(const float *w, float *u)
{
    sandwich(&G[0][0], WA, WR, 0, w, u);
}

/* dW = G^T dU G (to w[a][b][16]) of 16 dU[xi][nu][16]: weight_tile's adjoint */
SC_SIMD_CLONES
static void weight_grad(const float *du, float *w)
{
    sandwich(&G[0][0], WR, WA, 1, du, w);
}

typedef struct pack_ctx {
    const wg_job *j;
    const wg_pass *p;
    int trans; /* dx: U^T, rows (ci) the output channels, in blocks of NR */
} pack_ctx;

/* U[xi][ci block][co panel][ci][NR] of column groups [b, e) (16 each): the
 * group's transformed kernels first (in the thread's scratch), then written
 * point by point (the points are a panel set apart), spare columns 0. The
 * forward's rows are one block; U^T's come in blocks of NR rows, one per
 * panel of dM (gemm_dv). */
static void pack_u_task(void *ctx, size_t b, size_t e, int t)
{
    const pack_ctx *pc = ctx;
    const wg_job *j = pc->j;
    const wg_pass *p = pc->p;
    const sc_kernel *k = j->kr;
    const float *w = sc_layer_weights(j->net, j->nd);
    int rr = WR * WR, nr = k->nr, c = j->x->c;
    int kb = pc->trans ? nr : p->ci; /* rows per block */
    size_t cr = (size_t)sc_round_up(p->co, nr), ustride = cr * p->ci;
    float ker[WR * WR * LANES], *u = thread_scratch(j, t).v; /* u[ci][xi][16] */
    for (size_t gi = b; gi < e; gi++) {
        int g = (int)gi * LANES, lanes = p->co - g < LANES ? p->co - g : LANES;
        for (int ci = 0; ci < p->ci; ci++) {
            memset(ker, 0, sizeof ker);
            for (int l = 0; l < lanes; l++) {
                int co = g + l;
                const float *src = pc->trans ? w + ((size_t)ci * c + co) * rr
                                             : w + ((size_t)co * c + ci) * rr;
                for (int q = 0; q < rr; q++)
                    ker[q * LANES + l] = src[q];
            }
            weight_tile(ker, u + (size_t)ci * WP * LANES);
        }
        for (int l = 0; l < LANES; l++) { /* and the panel's padding: 0 */
            int co = g + l, c0 = co / nr * nr;
            if (c0 >= p->co)
                break;
            int width = sc_panel_width(k, sc_panel_cols(k, p->co, c0));
            if (co - c0 >= width)
                break;
            for (int ci = 0; ci < p->ci; ci++) {
                int b0 = ci / kb * kb, rows = p->ci - b0 < kb ? p->ci - b0 : kb;
                float *dst = p->u + (size_t)b0 * cr + (size_t)(c0 / nr) * rows * nr +
                             (size_t)(ci - b0) * width + (co - c0);
                for (int xi = 0; xi < WP; xi++)
                    dst[xi * ustride] = u[((size_t)ci * WP + xi) * LANES + l];
            }
        }
    }
}

/* dW[o][c] += G^T (the threads' dU[.][c][o] summed) G, for output
 * channel groups [b, e) (16 each) */
static void reduce_task(void *ctx, size_t b, size_t e, int t)
{
    (void)t;
    const wg_job *j = ctx;
    sc_net *net = j->net;
    int c = j->x->c, o = j->nd->c, rr = WR * WR,
        threads = sc_pool_threads(net->pool);
    float *dw = sc_node_grad(net, j->nd, P_W);
    const float *part[256];
    int parts = 0;
    for (int th = 0; th < threads; th++)
        if (j->ran[th])
            part[parts++] = thread_scratch(j, th).du;
    float du[WP * LANES], gd[WR * WR * LANES];
    for (size_t gi = b; gi < e; gi++) {
        int g = (int)gi * LANES, lanes = o - g < LANES ? o - g : LANES;
        for (int ci = 0; ci < c; ci++) {
            memset(du, 0, sizeof du);
            for (int q = 0; q < parts; q++)
                for (int xi = 0; xi < WP; xi++) {
                    const float *src = part[q] + ((size_t)xi * c + ci) * o + g;
                    for (int l = 0; l < lanes; l++)
                        du[xi * LANES + l] += src[l];
                }
            weight_grad(du, gd);
            for (int l = 0; l < lanes; l++) {
                float *d = dw + ((size_t)(g + l) * c + ci) * rr;
                for (int q = 0; q < rr; q++)
                    d[q] += gd[q * LANES + l];
            }
        }
    }
}

size_t sc_winograd_packed_floats(const sc_net *net, const sc_node *nd)
{
    const sc_node *x = &net->nodes[nd->in[0]];
    int nr = net->kernel->nr;
    size_t f = (size_t)sc_round_up(nd->c, nr) * x->c,
           b = (size_t)sc_round_up(x->c, nr) * nd->c;
    return WP * (f > b ? f : b);
}

sc_status sc_conv_winograd(sc_net *net, sc_node *nd, sc_op_action action)
{
    wg_job j;
    job_init(&j, net, nd);
    size_t chunks = ((size_t)net->plan_n + (size_t)j.chunk - 1) / (size_t)j.chunk;
    switch (action) {
    case OP_SCRATCH: {
        size_t need = scratch_of(&j, NULL).floats;
        if (need > net->scratch_per_thread)
            net->scratch_per_thread = need;
        if (sc_winograd_packed_floats(net, nd) > net->packed_floats)
            net->packed_floats = sc_winograd_packed_floats(net, nd);
        return SC_OK;
    }
    case OP_FORWARD: {
        j.fwd.src = j.x->y;
        j.fwd.dst = nd->y;
        j.fwd.bias = sc_node_param(net, nd, P_B);
        j.fwd.cbias = sc_layer_cbias(net, nd);
        j.fwd.u = net->packed;
        pack_ctx pc = {&j, &j.fwd, 0};
        sc_pool_run(net->pool, (size_t)(nd->c + LANES - 1) / LANES, pack_u_task, &pc);
        sc_pool_run(net->pool, chunks, forward_task, &j);
        return SC_OK;
    }
    case OP_BACKWARD: {
        j.fwd.src = j.x->y;
        j.dx.src = nd->dy;
        if (j.x->dy) {
            j.dx.dst = j.x->dy;
            j.dx.add = !j.x->dy_set;
            j.dx.u = net->packed;
            pack_ctx pc = {&j, &j.dx, 1};
            sc_pool_run(net->pool, (size_t)(j.x->c + LANES - 1) / LANES, pack_u_task, &pc);
        }
        sc_pool_run(net->pool, chunks, backward_task, &j);
        sc_pool_run(net->pool, (size_t)(nd->c + LANES - 1) / LANES, reduce_task, &j);
        return SC_OK;
    }
    case OP_SHAPE:
    case OP_COMMIT:
    case OP_COMMIT_CHECK: /* sc_op_conv2d answers these itself */
        break;
    }
    return sc_fail(SC_ERR_ARG, "%s: no body for action %d", "conv2d (winograd)",
                   (int)action);
}
