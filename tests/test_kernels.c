/* test_kernels.c -- the GEMM micro-kernels of every ISA this CPU runs
 * (kernels/kernel.h), full and half width, against a double-precision
 * reference, in both tile layouts, and their transposing packers; and the
 * conv op on each kernel, direct and Winograd (5x5): its output against a
 * direct convolution in double, its gradients against the portable
 * kernel's direct GEMM (test_grad checks the best kernel's by finite
 * differences), over geometries that exercise partial tiles, strides,
 * paddings larger than the kernel, and two threads. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gradcheck.h"
#include "kernels/kernel.h"
#include "ops/ops.h"
#include "util/testutil.h"

#define MAXK 8

static int kernels(const sc_kernel **k)
{
    int n = sc_kernel_all(k, MAXK);
    ck_assert_int_ge(n, 1);
    ck_assert_str_eq(k[n - 1]->name, "generic"); /* always there, last */
    ck_assert_ptr_eq(sc_kernel_best(), k[0]);
    ck_assert_str_eq(sc_conv_kernel(), k[0]->name); /* the public name */
    return n;
}

/* ------------------------------------------------------------ tiles */

START_TEST(test_tile)
{
    static const int lens[] = {0, 1, 7, 300};
    const sc_kernel *ks[MAXK];
    int nk = kernels(ks);
    tu_lcg r;
    tu_lcg_seed(&r, 5);
    enum { NA = 4096 };
    float *a = malloc(NA * sizeof *a);
    tu_fill(&r, a, NA, -1.0, 1.0);
    for (int ki = 0; ki < nk; ki++) {
        const sc_kernel *k = ks[ki];
        ck_assert_int_le(k->mr, SC_KERNEL_MAX_MR);
        ck_assert_int_le(k->nr, SC_KERNEL_MAX_NR);
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int n = lens[li];
            int32_t *tab = malloc((size_t)(n + 1) * sizeof *tab);
            int32_t roff[SC_KERNEL_MAX_MR];
            float *b = malloc((size_t)(n + 1) * k->nr * sizeof *b);
            tu_fill(&r, b, (size_t)n * k->nr, -1.0, 1.0);
            for (int t = 0; t < n; t++)
                tab[t] = (int32_t)(tu_lcg_next(&r) % 2048);
            for (int i = 0; i < k->mr; i++)
                roff[i] = (int32_t)(tu_lcg_next(&r) % 2048);
            enum { GAP = 16 }; /* rows ld = NR + GAP apart: a product's rows */
            float tile[SC_KERNEL_MAX_MR * (SC_KERNEL_MAX_NR + GAP)]
                __attribute__((aligned(64)));
            /* full / half, plain / trans / plain with rows ld apart */
            for (int v = 0; v < 6; v++) {
                int half = v / 3, trans = v % 3 == 1, wide = v % 3 == 2;
                int cols = half ? k->nr / 2 : k->nr; /* B packed cols wide */
                size_t ld = (size_t)k->nr + (wide ? GAP : 0);
                memset(tile, 0xff, sizeof tile); /* NaN: every slot written */
                (half ? k->half : k->fn)(n, a, tab, roff, b, tile, ld, trans);
                if (!trans) /* nothing beyond the columns: gaps stay NaN */
                    for (int i = 0; i < k->mr; i++)
                        for (size_t j = (size_t)cols; j < ld; j++)
                            ck_assert_msg(isnan(tile[i * ld + j]),
                                          "%s%s ld=%zu wrote [%d][%zu]", k->name,
                                          half ? " half" : "", ld, i, j);
                for (int i = 0; i < k->mr; i++)
                    for (int j = 0; j < cols; j++) {
                        double ref = 0.0, mag = 0.0;
                        for (int t = 0; t < n; t++) {
                            double v = (double)a[tab[t] + roff[i]] * b[t * cols + j];
                            ref += v;
                            mag += fabs(v);
                        }
                        float got = tile[trans ? (size_t)j * k->mr + i : i * ld + j];
                        ck_assert_msg(fabs(got - ref) <= 1e-6 * mag + 1e-30,
                                      "%s%s n=%d trans=%d [%d][%d]: %g vs %g",
                                      k->name, half ? " half" : "", n, trans,
                                      i, j, got, ref);
                    }
            }
            free(tab);
            free(b);
        }
    }
    free(a);
}
END_TEST

START_TEST(test_pack_t)
{
    /* dst[q * ldd + r] = src[r][q] for r < rows, 0 beyond; every kernel,
     * both panel widths and wider transposes (multiples of NR/2, rows ldd
     * apart with a gap: conv_winograd.c's channels-last copies), partial
     * row counts and lengths that are not multiples of 16 */
    const sc_kernel *ks[MAXK];
    int nk = kernels(ks);
    tu_lcg r;
    tu_lcg_seed(&r, 9);
    enum { LD = 53, MAXW = 4 * 16, GAP = 3 };
    float src[MAXW * LD];
    tu_fill(&r, src, sizeof src / sizeof src[0], -1.0, 1.0);
    for (int ki = 0; ki < nk; ki++) {
        const sc_kernel *k = ks[ki];
        static const int lens[] = {1, 15, 16, 17, 50};
        for (int width = k->nr / 2; width <= MAXW; width += k->nr / 2)
            for (int gap = 0; gap <= GAP; gap += GAP)
                for (int rows = 1; rows <= width; rows += 5)
                    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                        int n = lens[li], ldd = width + gap;
                        float dst[50 * (MAXW + GAP) + 1];
                        memset(dst, 0xff, sizeof dst);
                        k->pack_t(src, LD, rows, n, width, dst, (size_t)ldd);
                        for (int q = 0; q < n; q++) {
                            for (int c = 0; c < width; c++)
                                ck_assert_msg(dst[q * ldd + c] ==
                                                  (c < rows ? src[c * LD + q] : 0.0f),
                                              "%s width %d ldd %d rows %d n %d [%d][%d]",
                                              k->name, width, ldd, rows, n, q, c);
                            /* the gap and what follows the last row are
                             * not written */
                            for (int c = width; c < (q + 1 < n ? ldd : width + 1); c++) {
                                uint32_t bits;
                                memcpy(&bits, &dst[q * ldd + c], sizeof bits);
                                ck_assert_uint_eq(bits, 0xffffffffu);
                            }
                        }
                    }
    }
}
END_TEST

/* ------------------------------------------------------------ conv */

static const struct geom {
    int c, o, h, w, kh, kw, s, p;
} geoms[] = {
    {3, 35, 9, 7, 3, 3, 1, 1},  /* O not a multiple of MR or NR */
    {33, 8, 6, 5, 3, 2, 2, 0},  /* C over one panel, stride 2, kh != kw */
    {1, 40, 11, 11, 5, 5, 1, 2}, /* one input channel, 5x5 */
    {5, 3, 4, 4, 1, 1, 1, 0},   /* 1x1 */
    {2, 9, 7, 6, 3, 3, 2, 1},   /* stride 2 with padding: dilated dy */
    {4, 6, 5, 5, 3, 3, 1, 3},   /* padding larger than the kernel */
    {32, 32, 12, 12, 5, 5, 1, 0}, /* tinynet's second conv, smaller */
    {7, 20, 9, 8, 3, 2, 1, 0},  /* unpadded, kh != kw, partial panels */
    /* wide inputs: chunks of 2-3 samples, so one thread runs several
     * chunks on the same scratch (the last one shorter) */
    {64, 4, 16, 16, 3, 3, 1, 1},  /* padded input and dy frames */
    {48, 6, 20, 20, 3, 3, 2, 1},  /* stride 2: dilated dy */
    {160, 3, 5, 5, 3, 3, 1, 3},   /* padding larger than the kernel */
    /* 5x5, stride 1: Winograd F(4x4, 5x5) (conv_winograd.c) */
    {20, 40, 13, 11, 5, 5, 1, 2}, /* padded, partial tiles, a narrow last panel */
    {13, 13, 12, 12, 5, 5, 1, 1}, /* 13 channels (compressed), spare lanes */
    {32, 16, 28, 28, 5, 5, 1, 2}, /* chunks of 2 samples, blocks across them */
};

#define NB 5 /* batch: an odd number, so chunks and tiles do not divide it */

/* input -> relu -> conv -> dense: the relu (identity on positive inputs)
 * makes the conv's input gradient a real buffer of the engine */
static sc_net *conv_net(const struct geom *g, int *conv)
{
    sc_net *net = NULL;
    int id;
    TU_OK(sc_net_create(&net, g->c, g->h, g->w));
    TU_OK(sc_net_relu(net, SC_INPUT, &id));
    TU_OK(sc_net_conv2d(net, id, g->o, g->kh, g->kw, g->s, g->p, SC_BIAS, conv));
    TU_OK(sc_net_dense(net, *conv, 3, SC_BIAS, &id));
    TU_OK(sc_net_init(net, 77));
    float *b = sc_node_param(net, &net->nodes[*conv], P_B);
    for (int o = 0; o < g->o; o++) /* non-zero biases */
        b[o] = 0.01f * (float)(o + 1);
    return net;
}

/* y of the conv by direct summation in double */
static double ref_y(sc_net *net, int conv, const float *x, int n, int o,
                    int oy, int ox)
{
    sc_node *nd = &net->nodes[conv];
    const float *w = sc_node_param(net, nd, P_W), *b = sc_node_param(net, nd, P_B);
    int c = net->in_c, h = net->in_h, wd = net->in_w;
    double acc = b[o];
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < nd->kh; i++)
            for (int j = 0; j < nd->kw; j++) {
                int iy = oy * nd->sh - nd->ph + i, ix = ox * nd->sw - nd->pw + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                    continue;
                acc += (double)w[((o * c + ch) * nd->kh + i) * nd->kw + j] *
                       x[((size_t)(n * c + ch) * h + iy) * wd + ix];
            }
    return acc;
}

/* |a - b| <= tol of b's largest magnitude, element by element */
static void check_close(const float *a, const float *b, size_t n, double tol,
                        const char *what, const char *k)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(a[i] - b[i]) <= tol * (scale + 1e-3),
                      "%s (%s) element %zu: %g vs %g", what, k, i, a[i], b[i]);
}

START_TEST(test_conv_on_every_kernel)
{
    const struct geom *g = &geoms[_i];
    const sc_kernel *ks[MAXK];
    int nk = kernels(ks);
    int conv;
    sc_net *net = conv_net(g, &conv);
    size_t nx = (size_t)NB * g->c * g->h * g->w, np = net->n_params;
    float *x = malloc(nx * sizeof *x);
    tu_lcg r;
    tu_lcg_seed(&r, 100 + (uint64_t)_i);
    tu_fill(&r, x, nx, 0.05, 1.0); /* positive: the relu passes it */
    int32_t labels[NB];
    tu_labels(&r, labels, NB, 3);
    float *dp0 = malloc(np * sizeof *dp0), *dx0 = malloc(nx * sizeof *dx0);
    float *dp = malloc(np * sizeof *dp), *dx = malloc(nx * sizeof *dx);
    float *y0 = NULL;
    size_t ny = 0;
    /* Pass 0, the reference: the direct GEMM on the portable kernel
     * (generic is last in the list), checked against double. Then every
     * kernel with 1 and 2 threads, direct and as the op picks (Winograd
     * for the 5x5 geometries). Winograd's fp32 error, measured on these
     * geometries with the avx512, avx2 and generic kernels, is at most
     * 3.7e-6 of the scale in y, 4.4e-6 in dx and 2.7e-6 in dparams: the
     * bound is 2e-5 there (a transform coefficient 1e-3 off gives 6e-4 to
     * 5e-3), 1e-5 elsewhere. */
    int wino = g->kh == 5 && g->kw == 5 && g->s == 1 && g->p <= 2 && g->c >= 2;
    for (int pass = 0; pass <= 4 * nk; pass++) {
        int q = pass == 0 ? 0 : pass - 1; /* kernel, threads, algorithm */
        int ki = pass == 0 ? nk - 1 : q % nk;
        int threads = q / nk % 2 + 1;
        int algo = pass == 0 || q / (2 * nk) == 0 ? SC_CONV_ALGO_DIRECT : SC_CONV_ALGO_AUTO;
        const sc_kernel *k = ks[ki];
        char what[128];
        snprintf(what, sizeof what, "geom %d, %s, %d thread(s), %s", _i,
                 k->name, threads, algo == SC_CONV_ALGO_DIRECT ? "direct" : "auto");
        TU_OK(sc_net_set_threads(net, threads));
        TU_OK(sc_net_set_param(net, SC_PARAM_CONV_ALGO, algo));
        double got;
        TU_OK(sc_net_get_param(net, SC_PARAM_CONV_ALGO, &got));
        ck_assert_double_eq(got, algo);
        net->kernel = k;
        net->plan_dirty = 1; /* scratch depends on the tile shape */
        /* the geometries meant for Winograd get it */
        ck_assert_int_eq(sc_winograd_fits(net, &net->nodes[conv]),
                         algo == SC_CONV_ALGO_AUTO && wino);
        double tol = algo == SC_CONV_ALGO_AUTO && wino ? 2e-5 : 1e-5;
        double loss;
        TU_OK(sc_grad_loss(net, x, NB, labels, NULL, &loss, dp, dx));
        sc_node *nd = &net->nodes[conv];
        ny = (size_t)NB * sc_node_size(nd);
        if (y0 == NULL) { /* the reference pass: generic against double */
            y0 = malloc(ny * sizeof *y0);
            memcpy(y0, nd->y, ny * sizeof *y0);
            memcpy(dp0, dp, np * sizeof *dp0);
            memcpy(dx0, dx, nx * sizeof *dx0);
            for (int n = 0; n < NB; n++)
                for (int o = 0; o < g->o; o++)
                    for (int oy = 0; oy < nd->h; oy++)
                        for (int ox = 0; ox < nd->w; ox++) {
                            double ref = ref_y(net, conv, x, n, o, oy, ox);
                            float got = y0[((size_t)(n * g->o + o) * nd->h + oy) * nd->w + ox];
                            ck_assert_msg(fabs(got - ref) <= 1e-5 * (1.0 + fabs(ref)),
                                          "%s y[%d][%d][%d][%d]: %g vs %g", what,
                                          n, o, oy, ox, got, ref);
                        }
            continue;
        }
        check_close(nd->y, y0, ny, tol, "y", what);
        check_close(dp, dp0, np, tol, "dparams", what);
        check_close(dx, dx0, nx, tol, "dx", what);
    }
    free(y0);
    free(x);
    free(dp0);
    free(dx0);
    free(dp);
    free(dx);
    sc_net_free(net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("tiles");
    tcase_set_timeout(tc, 60); /* about 3 s alone: Check's 4 s default is too close */
    tcase_add_test(tc, test_tile);
    tcase_add_test(tc, test_pack_t);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("conv");
    tcase_set_timeout(tv, 60);
    tcase_add_loop_test(tv, test_conv_on_every_kernel, 0,
                        (int)(sizeof geoms / sizeof geoms[0]));
    suite_add_tcase(s, tv);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
