/* test_qkernels.c -- the integer GEMM micro-kernels of every ISA this CPU
 * runs (kernels/qkernel.h) through sc_qgemm, against a plain int64
 * reference: every kernel's C must equal it exactly, over shapes with
 * partial row blocks and panels, reductions that are not multiples of 4,
 * dense, channel-major, gathered and conv-style offset tables, and the
 * extreme values (255 x -128 at the longest reduction allowed); and the
 * panel packer's layout and zero fill. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/qkernel.h"
#include "util/testutil.h"

#define MAXK 8
/* the C entries a kernel never writes: the gap after each row's whole
 * panels, and the row after the last */
#define SENTINEL 0x7f7f7f7f

static int kernels(const sc_qkernel **k)
{
    int n = sc_qkernel_all(k, MAXK);
    ck_assert_int_ge(n, 1);
    ck_assert_str_eq(k[n - 1]->name, "generic"); /* always there, last */
    ck_assert_ptr_eq(sc_qkernel_best(), k[0]);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni"))
        ck_assert_str_eq(k[0]->name, "avx512vnni");
    if (__builtin_cpu_supports("avx2"))
        ck_assert_int_ge(n, 2);
#endif
    for (int i = 0; i < n; i++)
        ck_assert_int_le(k[i]->nr, SC_QKERNEL_MAX_NR);
    return n;
}

static void *alloc64(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* weights in [-128, 127], a quarter of them -128 or 127 */
static void fill_w(tu_lcg *r, int8_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int u = tu_lcg_int(r, 8);
        w[i] = (int8_t)(u == 0 ? -128 : u == 1 ? 127 : tu_lcg_int(r, 256) - 128);
    }
}

/* activations in [0, 255], a quarter of them 0 or 255 */
static void fill_x(tu_lcg *r, uint8_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int u = tu_lcg_int(r, 8);
        x[i] = (uint8_t)(u == 0 ? 0 : u == 1 ? 255 : tu_lcg_int(r, 256));
    }
}

/* C = W x through the tables in int64, and every value fits int32 */
static int64_t *reference(int m, int k, const int8_t *w, const uint8_t *x,
                          const int32_t *tab, const int32_t *roff, int ncols)
{
    int64_t *ref = malloc((size_t)m * ncols * sizeof *ref);
    ck_assert_ptr_nonnull(ref);
    int fits = 1;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ncols; j++) {
            int64_t s = 0;
            for (int t = 0; t < k; t++)
                s += (int64_t)w[(size_t)i * k + t] * x[tab[t] + roff[j]];
            fits &= s >= INT32_MIN && s <= INT32_MAX;
            ref[(size_t)i * ncols + j] = s;
        }
    ck_assert(fits);
    return ref;
}

/* sc_qgemm on every kernel equals ref: columns < ncols hold the product,
 * the rest of each panel 0 (the panel's zero columns; a last panel of at
 * most NR / 2 columns is NR / 2 wide when the kernel has a half variant),
 * and nothing beyond the panels or the m rows is written */
static void check_all(const char *what, int m, int k, const int8_t *w,
                      const uint8_t *x, const int32_t *tab,
                      const int32_t *roff, int ncols, const int64_t *ref)
{
    const sc_qkernel *ks[MAXK];
    int nk = kernels(ks);
    for (int ki = 0; ki < nk; ki++) {
        const sc_qkernel *q = ks[ki];
        size_t wb = q->wbytes(m, k);
        ck_assert_uint_eq(wb, (size_t)((m + q->mr - 1) / q->mr) * q->block_bytes(k));
        /* every byte written: the same packing over two fills */
        uint8_t *wp = alloc64(wb), *wq = alloc64(wb);
        memset(wp, 0x5a, wb);
        memset(wq, 0xa5, wb);
        q->pack_w(w, m, k, wp);
        q->pack_w(w, m, k, wq);
        ck_assert_msg(memcmp(wp, wq, wb) == 0, "%s: pack_w leaves bytes unset", q->name);
        free(wq);
        int whole = (ncols + q->nr - 1) / q->nr * q->nr;
        size_t ldc = (size_t)whole + 3;
        int written = q->half != NULL && ncols - (whole - q->nr) <= q->nr / 2
                          ? whole - q->nr / 2
                          : whole;
        int32_t *c = alloc64((size_t)(m + 1) * ldc * sizeof *c);
        for (size_t i = 0; i < (size_t)(m + 1) * ldc; i++)
            c[i] = SENTINEL;
        uint8_t *panel = alloc64(sc_qgemm_panel_bytes(q, k));
        sc_qgemm(q, m, k, wp, x, tab, roff, ncols, panel, c, ldc);
        /* the first entry that differs (Check's asserts are too slow to
         * make one per entry) */
        int bi = -1;
        size_t bj = 0;
        int64_t want = 0;
        for (int i = 0; i <= m && bi < 0; i++)
            for (size_t j = 0; j < ldc; j++) {
                want = i == m || j >= (size_t)written ? SENTINEL
                       : j >= (size_t)ncols         ? 0
                                                    : ref[(size_t)i * ncols + j];
                if (c[i * ldc + j] != want) {
                    bi = i, bj = j;
                    break;
                }
            }
        ck_assert_msg(bi < 0, "%s %s m=%d K=%d ncols=%d C[%d][%zu] = %d, want %lld",
                      q->name, what, m, k, ncols, bi, bj,
                      bi < 0 ? 0 : c[bi * ldc + bj], (long long)want);
        free(panel);
        free(c);
        free(wp);
    }
}

static void check_case(tu_lcg *r, const char *what, int m, int k,
                       const uint8_t *x, const int32_t *tab,
                       const int32_t *roff, int ncols)
{
    int8_t *w = malloc((size_t)m * k + 1);
    fill_w(r, w, (size_t)m * k);
    int64_t *ref = reference(m, k, w, x, tab, roff, ncols);
    check_all(what, m, k, w, x, tab, roff, ncols, ref);
    free(ref);
    free(w);
}

/* ------------------------------------------------------------ shapes */

static const int ms[] = {1, 2, 3, 7, 8, 9, 13, 31, 64, 100, 256};
static const int kks[] = {1, 3, 4, 5, 9, 25, 140, 192, 288, 320, 576, 800, 1152, 2304, 784};
static const int ns[] = {1, 5, 16, 17, 31, 32, 33, 100, 196, 784};
#define LEN(a) (int)(sizeof a / sizeof a[0])

/* x and the tables of one product of reduction k over n columns:
 * kind 0 dense (x [n][k], tab[t] = t, roff[j] = j k: the packer's
 * contiguous path), 1 channel-major (x [k][n], tab[t] = t n, roff[j] = j:
 * one run of columns), 2 gathered (random offsets, runs of one) */
static uint8_t *tables(tu_lcg *r, int kind, int k, int n, int32_t *tab,
                       int32_t *roff)
{
    enum { SPAN = 1000 };
    size_t bytes = kind == 2 ? 2 * SPAN : (size_t)k * n;
    uint8_t *x = malloc(bytes);
    fill_x(r, x, bytes);
    for (int t = 0; t < k; t++)
        tab[t] = kind == 0 ? t : kind == 1 ? t * n : tu_lcg_int(r, SPAN);
    for (int j = 0; j < n; j++)
        roff[j] = kind == 0 ? j * k : kind == 1 ? j : tu_lcg_int(r, SPAN);
    return x;
}

/* every (m, K, ncols) of the lists whose product is at most 2M
 * multiply-adds, the table kinds in turn; and cnn-sized ones */
START_TEST(test_shapes)
{
    static const int big[][3] = {{64, 576, 784}, {128, 1152, 196}, {256, 2304, 49}};
    tu_lcg r;
    tu_lcg_seed(&r, 11);
    int cases = 0;
    for (int a = 0; a < LEN(ms); a++)
        for (int b = 0; b < LEN(kks); b++)
            for (int d = 0; d < LEN(ns) + LEN(big); d++) {
                int big_case = d >= LEN(ns);
                if (big_case && (a != 0 || b != 0))
                    continue;
                int m = big_case ? big[d - LEN(ns)][0] : ms[a];
                int k = big_case ? big[d - LEN(ns)][1] : kks[b];
                int n = big_case ? big[d - LEN(ns)][2] : ns[d];
                if (!big_case && (double)m * k * n > 2e6)
                    continue;
                int kind = cases++ % 3;
                int32_t *tab = malloc((size_t)k * sizeof *tab);
                int32_t *roff = malloc((size_t)n * sizeof *roff);
                uint8_t *x = tables(&r, kind, k, n, tab, roff);
                static const char *names[] = {"dense", "channel-major", "gathered"};
                check_case(&r, names[kind], m, k, x, tab, roff, n);
                free(x);
                free(roff);
                free(tab);
            }
    ck_assert_int_eq(cases, 1462 + 3);
}
END_TEST

/* conv-style tables: taps (c, i, j) of a kh x kw kernel into a C x Hp x Wp
 * image padded by pad, output positions at the stride */
START_TEST(test_conv_tables)
{
    static const struct {
        int c, h, w, kh, kw, pad, stride, m;
    } g[] = {
        {64, 7, 7, 3, 3, 1, 1, 64},   {256, 7, 7, 3, 3, 1, 1, 13},
        {1, 28, 28, 3, 3, 1, 1, 8},   {16, 28, 28, 3, 3, 1, 1, 33},
        {1, 24, 24, 5, 5, 0, 1, 32},  {32, 24, 24, 5, 5, 0, 1, 9},
        {8, 1, 28, 1, 5, 0, 1, 7},    {16, 14, 14, 3, 3, 1, 2, 17},
        {3, 28, 28, 3, 3, 1, 2, 100},
    };
    tu_lcg r;
    tu_lcg_seed(&r, 12);
    for (int q = 0; q < LEN(g); q++) {
        int hp = g[q].h + 2 * g[q].pad, wp = g[q].w + 2 * g[q].pad;
        int oh = (hp - g[q].kh) / g[q].stride + 1, ow = (wp - g[q].kw) / g[q].stride + 1;
        int k = g[q].c * g[q].kh * g[q].kw, n = oh * ow;
        size_t bytes = (size_t)g[q].c * hp * wp;
        uint8_t *x = malloc(bytes);
        fill_x(&r, x, bytes);
        int32_t *tab = malloc((size_t)k * sizeof *tab);
        int32_t *roff = malloc((size_t)n * sizeof *roff);
        for (int c = 0, t = 0; c < g[q].c; c++)
            for (int i = 0; i < g[q].kh; i++)
                for (int j = 0; j < g[q].kw; j++)
                    tab[t++] = (c * hp + i) * wp + j;
        for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++)
                roff[y * ow + xo] = (y * wp + xo) * g[q].stride;
        check_case(&r, "conv", g[q].m, k, x, tab, roff, n);
        free(roff);
        free(tab);
        free(x);
    }
}
END_TEST

/* all 255 against all -128 (and 127): the largest |C|, at K = 2304 and at
 * the longest reduction allowed, SC_QGEMM_MAX_K */
START_TEST(test_extremes)
{
    static const int shapes[][3] = {{9, 2304, 33}, {3, SC_QGEMM_MAX_K, 2}};
    for (int s = 0; s < LEN(shapes); s++)
        for (int sign = 0; sign < 2; sign++) {
            int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
            int8_t wv = sign ? 127 : -128;
            int8_t *w = malloc((size_t)m * k);
            memset(w, (unsigned char)wv, (size_t)m * k);
            uint8_t *x = malloc((size_t)k * n);
            memset(x, 255, (size_t)k * n);
            int32_t *tab = malloc((size_t)k * sizeof *tab), roff[33];
            for (int t = 0; t < k; t++)
                tab[t] = t;
            for (int j = 0; j < n; j++)
                roff[j] = j * k;
            int64_t *ref = reference(m, k, w, x, tab, roff, n);
            ck_assert_int_eq(ref[0], (int64_t)k * 255 * wv);
            check_all("extreme", m, k, w, x, tab, roff, n, ref);
            free(ref);
            free(tab);
            free(x);
            free(w);
        }
    ck_assert((int64_t)SC_QGEMM_MAX_K * 255 * -128 >= INT32_MIN);
}
END_TEST

/* the panel: [K4 / 4][nr][4] bytes, column j's step s at (s / 4 * nr + j)
 * * 4 + s % 4, 0 for steps >= K and columns >= cols, nothing after it
 * written; through each packing path (contiguous tab, runs, gathers) */
START_TEST(test_pack_panel)
{
    static const int klist[] = {1, 3, 4, 5, 9, 30};
    static const int nrs[] = {8, 16, 32};
    tu_lcg r;
    tu_lcg_seed(&r, 13);
    enum { NCOL = 40 };
    for (int a = 0; a < LEN(klist); a++)
        for (int b = 0; b < LEN(nrs); b++)
            for (int cols = 1; cols <= nrs[b]; cols += 3)
                for (int kind = 0; kind < 3; kind++) {
                    int k = klist[a], nr = nrs[b], k4 = (k + 3) / 4 * 4;
                    int32_t tab[30], roff[NCOL];
                    uint8_t *x = tables(&r, kind, k, NCOL, tab, roff);
                    uint8_t panel[32 * 32 + 1];
                    memset(panel, 0xaa, sizeof panel);
                    sc_qpack_panel(x, tab, k, roff, cols, nr, panel);
                    int bad = -1;
                    for (int s = 0; s < k4 * nr && bad < 0; s++) {
                        int st = s / nr, j = s % nr; /* step, column */
                        int want = st < k && j < cols ? x[tab[st] + roff[j]] : 0;
                        if (panel[(st / 4 * nr + j) * 4 + st % 4] != want)
                            bad = s;
                    }
                    ck_assert_msg(bad < 0, "kind %d K=%d nr=%d cols=%d step %d col %d",
                                  kind, k, nr, cols, bad / nr, bad % nr);
                    ck_assert_int_eq(panel[k4 * nr], 0xaa);
                    free(x);
                }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("qkernels");
    TCase *tc = tcase_create("qgemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pack_panel);
    tcase_add_test(tc, test_extremes);
    tcase_add_test(tc, test_conv_tables);
    tcase_add_test(tc, test_shapes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite(), CK_NORMAL); }
