/* qkernel.c -- the integer GEMM: which kernel runs, the packers of its
 * operands (weights in 4-step groups, activation panels) and the driver
 * that runs a kernel over panels and row blocks. */
#include "kernels/qkernel.h"

#include <string.h>

#include "core/simd.h"

int sc_qkernel_all(const sc_qkernel **out, int max)
{
    const sc_qkernel *all[3] = {sc_qkernel_avx512vnni(), sc_qkernel_avx2(),
                                sc_qkernel_generic()};
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (all[i] != NULL && n < max)
            out[n++] = all[i];
    return n;
}

const sc_qkernel *sc_qkernel_best(void)
{
    const sc_qkernel *k = sc_qkernel_avx512vnni();
    if (k == NULL)
        k = sc_qkernel_avx2();
    return k ? k : sc_qkernel_generic();
}

/* K rounded up to a multiple of 4 */
static int k4_of(int k) { return (k + 3) / 4 * 4; }

size_t sc_qblock_bytes(int k, int mr, int int16)
{
    return (size_t)k4_of(k) * (size_t)mr * (int16 ? 2 : 1);
}

void sc_qpack_w4(const int8_t *src, int m, int k, int mr, int int16,
                 void *dst)
{
    int groups = k4_of(k) / 4;
    int8_t *d8 = dst;
    int16_t *d16 = dst;
    size_t o = 0;
    for (int i0 = 0; i0 < m; i0 += mr)
        for (int g = 0; g < groups; g++)
            for (int r = 0; r < mr; r++)
                for (int t = 0; t < 4; t++, o++) {
                    int i = i0 + r, s = 4 * g + t;
                    int8_t v = i < m && s < k ? src[(size_t)i * k + s] : 0;
                    if (int16)
                        d16[o] = v;
                    else
                        d8[o] = v;
                }
}

/* Columns [j, j + w) of one group whose 4 steps read the runs s0..s3:
 * column i's 4 bytes are s0[i], s1[i], s2[i], s3[i]. */
static SC_CLONE_INLINE void interleave(const uint8_t *restrict s0,
                                       const uint8_t *restrict s1,
                                       const uint8_t *restrict s2,
                                       const uint8_t *restrict s3, int j,
                                       int w, uint8_t *restrict d)
{
    for (int i = j; i < j + w; i++) {
        d[4 * i] = s0[i];
        d[4 * i + 1] = s1[i];
        d[4 * i + 2] = s2[i];
        d[4 * i + 3] = s3[i];
    }
}

/* All n columns, in blocks of a fixed width (16, 8 or 4: whole vectors,
 * no scalar tail), the last block moved back to end at n (it rewrites
 * some columns with the same bytes) instead of reading past the run. */
static SC_CLONE_INLINE void interleave_run(const uint8_t *restrict s0,
                                           const uint8_t *restrict s1,
                                           const uint8_t *restrict s2,
                                           const uint8_t *restrict s3, int n,
                                           uint8_t *restrict d)
{
    if (n >= 16)
        for (int j = 0; j < n; j += 16)
            interleave(s0, s1, s2, s3, j + 16 <= n ? j : n - 16, 16, d);
    else if (n >= 8) {
        interleave(s0, s1, s2, s3, 0, 8, d);
        interleave(s0, s1, s2, s3, n - 8, 8, d);
    } else if (n >= 4) {
        interleave(s0, s1, s2, s3, 0, 4, d);
        interleave(s0, s1, s2, s3, n - 4, 4, d);
    } else
        interleave(s0, s1, s2, s3, 0, n, d);
}

/* tab[t] == tab[0] + t for every step (a dense layer's identity) */
static int contiguous(const int32_t *tab, int k)
{
    for (int t = 1; t < k; t++)
        if (tab[t] != tab[0] + t)
            return 0;
    return 1;
}

/* The panel of a contiguous tab: column j's steps are the bytes from
 * x + tab[0] + roff[j] on, copied 4 at a time. */
static void pack_rows(const uint8_t *x, int32_t t0, int k,
                      const int32_t *roff, int cols, int nr, uint8_t *panel)
{
    int full = k / 4, groups = k4_of(k) / 4;
    for (int j = 0; j < cols; j++) {
        const uint8_t *s = x + ((ptrdiff_t)t0 + roff[j]);
        uint8_t *d = panel + 4 * (size_t)j;
        for (int g = 0; g < full; g++)
            memcpy(d + (size_t)g * nr * 4, s + 4 * g, 4);
        if (full < groups)
            for (int t = 0; t < 4; t++)
                d[(size_t)full * nr * 4 + t] =
                    4 * full + t < k ? s[4 * full + t] : 0;
    }
    for (int g = 0; g < groups; g++)
        memset(panel + ((size_t)g * nr + cols) * 4, 0,
               (size_t)(nr - cols) * 4);
}

/* The panel of any tab: the columns split into runs of consecutive roff
 * (a conv's output positions along a row); run by run, each group's 4
 * steps interleaved (the last group's steps beyond K read zeros). */
SC_SIMD_CLONES static void pack_runs(const uint8_t *x, const int32_t *tab,
                                     int k, const int32_t *roff, int cols,
                                     int nr, uint8_t *panel)
{
    static const uint8_t zeros[SC_QKERNEL_MAX_NR];
    int start[SC_QKERNEL_MAX_NR + 1], runs = 0;
    for (int j = 0; j < cols; j++)
        if (j == 0 || roff[j] != roff[j - 1] + 1)
            start[runs++] = j;
    start[runs] = cols;
    int full = k / 4, groups = k4_of(k) / 4;
    size_t gb = (size_t)nr * 4; /* bytes of one group */
    for (int q = 0; q < runs; q++) {
        int j0 = start[q], n = start[q + 1] - j0;
        ptrdiff_t r0 = roff[j0];
        uint8_t *d = panel + 4 * j0;
        for (int g = 0; g < full; g++) {
            const int32_t *t = tab + 4 * g;
            interleave_run(x + (t[0] + r0), x + (t[1] + r0), x + (t[2] + r0),
                           x + (t[3] + r0), n, d + g * gb);
        }
        if (full < groups) {
            const uint8_t *s[4];
            for (int t = 0; t < 4; t++)
                s[t] = 4 * full + t < k ? x + (tab[4 * full + t] + r0) : zeros;
            interleave_run(s[0], s[1], s[2], s[3], n, d + full * gb);
        }
    }
    if (cols < nr)
        for (int g = 0; g < groups; g++)
            memset(panel + g * gb + 4 * cols, 0, (size_t)(nr - cols) * 4);
}

void sc_qpack_panel(const uint8_t *x, const int32_t *tab, int k,
                    const int32_t *roff, int cols, int nr, uint8_t *panel)
{
    if (k > 0 && contiguous(tab, k))
        pack_rows(x, tab[0], k, roff, cols, nr, panel);
    else
        pack_runs(x, tab, k, roff, cols, nr, panel);
}

size_t sc_qgemm_panel_bytes(const sc_qkernel *k, int kk)
{
    return (size_t)k4_of(kk) * (size_t)k->nr;
}

void sc_qgemm(const sc_qkernel *k, int m, int kk, const void *wpacked,
              const uint8_t *x, const int32_t *tab, const int32_t *roff,
              int ncols, uint8_t *panel, int32_t *c, size_t ldc)
{
    int mr = k->mr, nr = k->nr, k4 = k4_of(kk);
    size_t block = k->block_bytes(kk);
    const uint8_t *w = wpacked;
    for (int c0 = 0; c0 < ncols; c0 += nr) {
        int cols = ncols - c0 < nr ? ncols - c0 : nr;
        int half = k->half != NULL && cols <= nr / 2;
        sc_qukernel_fn fn = half ? k->half : k->fn;
        sc_qpack_panel(x, tab, kk, roff + c0, cols, half ? nr / 2 : nr,
                       panel);
        for (int i0 = 0; i0 < m; i0 += mr)
            fn(k4, w + (size_t)(i0 / mr) * block, m - i0 < mr ? m - i0 : mr,
               panel, c + (size_t)i0 * ldc + c0, ldc);
    }
}
