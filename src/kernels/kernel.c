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

const sc_kernel *sc_kernel_best(void)
{
    const sc_kernel *k = sc_kernel_avx512();
    if (k == NULL)
        k = sc_kernel_avx2();
    return k ? k : sc_kernel_generic();
}

SC_API const char *sc_conv_kernel(void) { return sc_kernel_best()->name; }
