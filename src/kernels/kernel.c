/* kernel.c -- which micro-kernel runs: the best the CPU supports. */
#include "kernels/kernel.h"

#include "selfcompress.h"

int sc_kernel_all(const sc_kernel **out, int max)
{
    const sc_kernel *all[3] = {sc_kernel_avx512(), sc_kernel_avx2(),
                               sc_kernel_generic()};
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (all[i] != NULL && n < max)
            out[n++] = all[i];
    return n;
}

void sc_pack_t_generic(const float *src, size_t ld, int rows, int n, int width,
                       float *dst, size_t ldd)
{
    for (int q = 0; q < n; q++) {
        float *d = dst + (size_t)q * ldd;
        for (int r = 0; r < rows; r++)
            d[r] = src[(size_t)r * ld + q];
        for (int r = rows; r < width; r++)
            d[r] = 0.0f;
    }
}

void sc_gemm_rows(const sc_kernel *k, const float *a, const int32_t *tab,
                  int n, const int32_t *roff, int rows, const float *b,
                  int ncols, float *tile, size_t ld, int trans,
                  sc_tile_store store, void *ctx)
{
    int mr = k->mr, nr = k->nr;
    int32_t ro[SC_KERNEL_MAX_MR];
    for (int c0 = 0; c0 < ncols; c0 += nr) {
        const float *panel = b + (size_t)(c0 / nr) * n * nr;
        int cols = sc_panel_cols(k, ncols, c0);
        sc_ukernel_fn fn = sc_panel_width(k, cols) < nr ? k->half : k->fn;
        for (int r0 = 0; r0 < rows; r0 += mr) {
            int nrow = rows - r0 < mr ? rows - r0 : mr;
            for (int r = 0; r < mr; r++)
                ro[r] = roff[r0 + (r < nrow ? r : 0)];
            if (store == NULL) {
                fn(n, a, tab, ro, panel, tile + (size_t)r0 * ld + c0, ld, 0);
                continue;
            }
            fn(n, a, tab, ro, panel, tile, (size_t)nr, trans);
            store(ctx, tile, r0, nrow, c0, cols);
        }
    }
}

const sc_kernel *sc_kernel_best(void)
{
    const sc_kernel *k = sc_kernel_avx512();
    if (k == NULL)
        k = sc_kernel_avx2();
    return k ? k : sc_kernel_generic();
}

SC_API const char *sc_conv_kernel(void) { return sc_kernel_best()->name; }
