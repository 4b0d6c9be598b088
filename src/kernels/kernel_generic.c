/* kernel_generic.c -- portable 4 x 16 tile in plain C (the compiler
 * vectorises the j loop for whatever SIMD the target has). */
#include "kernels/kernel.h"

#define MR 4
#define NR 16

/* the first `cols` columns of the tile (NR or NR / 2), B packed cols wide */
static inline void tile_4xn(int n, const float *restrict a,
                            const int32_t *restrict tab,
                            const int32_t *restrict roff,
                            const float *restrict b, float *restrict tile,
                            size_t ld, int trans, int cols)
{
    float t[MR][NR] = {{0}};
    for (int s = 0; s < n; s++) {
        const float *at = a + tab[s];
        for (int r = 0; r < MR; r++) {
            float av = at[roff[r]];
            for (int j = 0; j < cols; j++)
                t[r][j] += av * b[j];
        }
        b += cols;
    }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < cols; j++)
            tile[trans ? (size_t)j * MR + r : r * ld + j] = t[r][j];
}

static void kernel_4x16(int n, const float *a, const int32_t *tab,
                        const int32_t *roff, const float *b, float *tile,
                        size_t ld, int trans)
{
    tile_4xn(n, a, tab, roff, b, tile, ld, trans, NR);
}

static void kernel_4x8(int n, const float *a, const int32_t *tab,
                       const int32_t *roff, const float *b, float *tile,
                       size_t ld, int trans)
{
    tile_4xn(n, a, tab, roff, b, tile, ld, trans, NR / 2);
}

static const sc_kernel generic = {"generic", MR, NR, kernel_4x16, kernel_4x8,
                                  sc_pack_t_generic};

const sc_kernel *sc_kernel_generic(void) { return &generic; }
