/* qkernel_generic.c -- portable 4 x 16 integer tile in plain C, int32
 * arithmetic (the compiler vectorises the column loop). */
#include "kernels/qkernel.h"

#define MR 4
#define NR 16

static void kernel_4x16(int k4, const void *wv, int rows,
                        const uint8_t *restrict p, int32_t *restrict c,
                        size_t ldc)
{
    const int8_t *w = wv;
    int32_t t[MR][NR] = {{0}};
    for (int g = 0; g < k4 / 4; g++) {
        for (int r = 0; r < MR; r++) {
            int32_t w0 = w[4 * r], w1 = w[4 * r + 1], w2 = w[4 * r + 2],
                    w3 = w[4 * r + 3];
            for (int j = 0; j < NR; j++)
                t[r][j] += w0 * p[4 * j] + w1 * p[4 * j + 1] +
                           w2 * p[4 * j + 2] + w3 * p[4 * j + 3];
        }
        w += 4 * MR;
        p += 4 * NR;
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < NR; j++)
            c[r * ldc + j] = t[r][j];
}

SC_QKERNEL_W4_LAYOUT(MR, 0)

static const sc_qkernel generic = {"generic", MR, NR, kernel_4x16, NULL,
    pack_w, wbytes, block_bytes};

const sc_qkernel *sc_qkernel_generic(void) { return &generic; }
