/* kernel_avx2.c -- 6 x 16 tile for AVX2 + FMA: 12 ymm accumulators (of 16
 * registers), two loads of B and six broadcasts of A per step. */
#include "kernels/kernel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* the tile's row offsets, in registers for the whole loop */
#define ROW_OFFSETS                                                           \
    const int32_t o0 = roff[0], o1 = roff[1], o2 = roff[2], o3 = roff[3],       \
                  o4 = roff[4], o5 = roff[5];

#define ZERO(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps();
#define STEP(r)                                                               \
    {                                                                         \
        __m256 a_ = _mm256_broadcast_ss(at + o##r);                           \
        c##r##0 = _mm256_fmadd_ps(a_, b0, c##r##0);                           \
        c##r##1 = _mm256_fmadd_ps(a_, b1, c##r##1);                           \
    }
#define SAVE(r)                                                               \
    _mm256_store_ps(tile + (r) * ld, c##r##0);                                \
    _mm256_store_ps(tile + (r) * ld + 8, c##r##1);

__attribute__((target("avx2,fma"))) static void
kernel_6x16(int n, const float *restrict a, const int32_t *restrict tab,
            const int32_t *restrict roff, const float *restrict b,
            float *restrict tile, size_t ld, int trans)
{
    ROW_OFFSETS
    ZERO(0) ZERO(1) ZERO(2) ZERO(3) ZERO(4) ZERO(5)
    for (int t = 0; t < n; t++) {
        const float *at = a + tab[t];
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
        b += 16;
    }
    if (!trans) {
        SAVE(0) SAVE(1) SAVE(2) SAVE(3) SAVE(4) SAVE(5)
        return;
    }
    float t[6 * 16] __attribute__((aligned(32)));
    float *tile_ = tile;
    tile = t;
    ld = 16;
    SAVE(0) SAVE(1) SAVE(2) SAVE(3) SAVE(4) SAVE(5)
    for (int r = 0; r < 6; r++)
        for (int j = 0; j < 16; j++)
            tile_[j * 6 + r] = t[r * 16 + j];
}

#define STEP1(r)                                                              \
    c##r##0 = _mm256_fmadd_ps(_mm256_broadcast_ss(at + o##r), b0, c##r##0);
#define SAVE1(r) _mm256_store_ps(t + (r) * 16, c##r##0);

/* the first 8 columns only (B packed 8 wide) */
__attribute__((target("avx2,fma"))) static void
kernel_6x8(int n, const float *restrict a, const int32_t *restrict tab,
           const int32_t *restrict roff, const float *restrict b,
           float *restrict tile, size_t ld, int trans)
{
    ROW_OFFSETS
    __m256 c00 = _mm256_setzero_ps(), c10 = c00, c20 = c00, c30 = c00,
           c40 = c00, c50 = c00;
    for (int s = 0; s < n; s++) {
        const float *at = a + tab[s];
        __m256 b0 = _mm256_loadu_ps(b);
        STEP1(0) STEP1(1) STEP1(2) STEP1(3) STEP1(4) STEP1(5)
        b += 8;
    }
    float t[6 * 16] __attribute__((aligned(32)));
    SAVE1(0) SAVE1(1) SAVE1(2) SAVE1(3) SAVE1(4) SAVE1(5)
    for (int r = 0; r < 6; r++)
        for (int j = 0; j < 8; j++)
            tile[trans ? (size_t)j * 6 + r : r * ld + j] = t[r * 16 + j];
}

static const sc_kernel avx2 = {"avx2", 6, 16, kernel_6x16, kernel_6x8,
                               sc_pack_t_generic};

const sc_kernel *sc_kernel_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
               ? &avx2
               : NULL;
}
#else
const sc_kernel *sc_kernel_avx2(void) { return NULL; }
#endif
