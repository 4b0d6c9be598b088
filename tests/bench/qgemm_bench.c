/* qgemm_bench.c -- throughput of the integer GEMM kernels
 * (src/kernels/qkernel.h) on the 3x3 convolutions of a cnn: every kernel
 * this CPU runs, one line per kernel and shape,
 *
 *   qgemm <kernel> m=.. K=.. ncols=.. gops=.. pack_share=..
 *
 * gops: 2 m K ncols over the median of 5 timings of sc_qgemm (each
 * repeated to at least 20 ms), with conv-style tables (taps of a 3x3
 * kernel into a zero-padded image, output positions along its rows);
 * pack_share: the share of that time the panel packer alone takes.
 * `make qgemm-bench` builds and runs it; it links the static library (the
 * kernels are not exported). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMON_PROG "qgemm_bench"
#include "common.h"
#include "kernels/qkernel.h"

typedef struct shape {
    int m, c, h; /* output channels, input channels, square image side */
} shape;

typedef struct conv {
    int k, n;
    int32_t *tab, *roff;
    uint8_t *x;
} conv;

static void *alloc64(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p == NULL)
        die("out of memory");
    return p;
}

/* a 3x3 padding-1 convolution of c channels on h x h, as tables */
static conv conv_tables(int c, int h)
{
    int hp = h + 2;
    conv v = {c * 9, h * h, malloc((size_t)c * 9 * sizeof(int32_t)),
              malloc((size_t)h * h * sizeof(int32_t)),
              malloc((size_t)c * hp * hp)};
    if (v.tab == NULL || v.roff == NULL || v.x == NULL)
        die("out of memory");
    for (size_t i = 0; i < (size_t)c * hp * hp; i++)
        v.x[i] = (uint8_t)(i * 2654435761u >> 24);
    for (int ch = 0, t = 0; ch < c; ch++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                v.tab[t++] = (ch * hp + i) * hp + j;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < h; x++)
            v.roff[y * h + x] = y * hp + x;
    return v;
}

/* seconds per call of one product (pack_only: its panels only) */
static double time_call(const sc_qkernel *q, int m, const conv *v,
                        const void *w, uint8_t *panel, int32_t *c, size_t ldc,
                        int pack_only)
{
    double t[5];
    int reps = 1;
    for (int s = 0; s < 5; s++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) {
            if (!pack_only) {
                sc_qgemm(q, m, v->k, w, v->x, v->tab, v->roff, v->n, panel, c, ldc);
                continue;
            }
            for (int c0 = 0; c0 < v->n; c0 += q->nr) { /* as sc_qgemm packs */
                int cols = v->n - c0 < q->nr ? v->n - c0 : q->nr;
                int width = q->half != NULL && cols <= q->nr / 2 ? q->nr / 2 : q->nr;
                sc_qpack_panel(v->x, v->tab, v->k, v->roff + c0, cols, width, panel);
            }
        }
        double dt = now() - t0;
        if (dt < 0.02 && s == 0) { /* too short to time: more reps */
            reps = (int)(0.02 / (dt + 1e-9) * reps) + 1;
            s--;
            continue;
        }
        t[s] = dt / reps;
    }
    return median(t, 5);
}

int main(void)
{
    static const shape shapes[] = {{64, 64, 28}, {128, 128, 14}, {256, 256, 14}, {256, 256, 7}};
    const sc_qkernel *ks[8];
    int nk = sc_qkernel_all(ks, 8);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s].m;
        conv v = conv_tables(shapes[s].c, shapes[s].h);
        int8_t *w = malloc((size_t)m * v.k);
        if (w == NULL)
            die("out of memory");
        for (size_t i = 0; i < (size_t)m * v.k; i++)
            w[i] = (int8_t)(i * 40503u >> 8);
        for (int ki = 0; ki < nk; ki++) {
            const sc_qkernel *q = ks[ki];
            void *wp = alloc64(q->wbytes(m, v.k));
            q->pack_w(w, m, v.k, wp);
            size_t ldc = (size_t)(v.n + q->nr - 1) / q->nr * q->nr;
            int32_t *c = alloc64((size_t)m * ldc * sizeof *c);
            uint8_t *panel = alloc64(sc_qgemm_panel_bytes(q, v.k));
            double t = time_call(q, m, &v, wp, panel, c, ldc, 0);
            double tp = time_call(q, m, &v, wp, panel, c, ldc, 1);
            printf("qgemm %-10s m=%d K=%d ncols=%d gops=%.1f pack_share=%.3f\n",
                   q->name, m, v.k, v.n, 2.0 * m * v.k * v.n / t * 1e-9, tp / t);
            free(panel);
            free(c);
            free(wp);
        }
        free(w);
        free(v.x);
        free(v.roff);
        free(v.tab);
    }
    return 0;
}
