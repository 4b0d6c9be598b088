/* kernel_avx512.c -- 8 x 32 tile: 16 zmm accumulators; per step one offset
 * load, two loads of B and eight broadcasts of A, 16 FMAs. */
#include "kernels/kernel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512dq")))

/* the tile's row offsets, in registers for the whole loop */
#define ROW_OFFSETS                                                           \
    const int32_t o0 = roff[0], o1 = roff[1], o2 = roff[2], o3 = roff[3],       \
                  o4 = roff[4], o5 = roff[5], o6 = roff[6], o7 = roff[7];

#define ZERO(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
#define STEP(r)                                                               \
    {                                                                         \
        __m512 a_ = _mm512_set1_ps(at[o##r]);                                 \
        c##r##0 = _mm512_fmadd_ps(a_, b0, c##r##0);                           \
        c##r##1 = _mm512_fmadd_ps(a_, b1, c##r##1);                           \
    }
#define SAVE(r)                                                               \
    _mm512_store_ps(tile + (r) * ld, c##r##0);                                \
    _mm512_store_ps(tile + (r) * ld + 16, c##r##1);

/* Rows r0..r7 (16 columns each) written transposed: column c's 8 values
 * to t + 8 c, for the 16 columns. Three rounds of 2-input shuffles. */
TARGET static inline void transpose8x16(__m512 r0, __m512 r1, __m512 r2,
                                        __m512 r3, __m512 r4, __m512 r5,
                                        __m512 r6, __m512 r7, float *t)
{
    /* pairs of rows interleaved within 128-bit lanes */
    __m512 t0 = _mm512_unpacklo_ps(r0, r1), t1 = _mm512_unpackhi_ps(r0, r1);
    __m512 t2 = _mm512_unpacklo_ps(r2, r3), t3 = _mm512_unpackhi_ps(r2, r3);
    __m512 t4 = _mm512_unpacklo_ps(r4, r5), t5 = _mm512_unpackhi_ps(r4, r5);
    __m512 t6 = _mm512_unpacklo_ps(r6, r7), t7 = _mm512_unpackhi_ps(r6, r7);
    /* lane l of u[k] (u[k+4]): rows 0-3 (4-7) of column 4l + k */
    __m512 u[8] = {
        _mm512_shuffle_ps(t0, t2, 0x44), _mm512_shuffle_ps(t0, t2, 0xEE),
        _mm512_shuffle_ps(t1, t3, 0x44), _mm512_shuffle_ps(t1, t3, 0xEE),
        _mm512_shuffle_ps(t4, t6, 0x44), _mm512_shuffle_ps(t4, t6, 0xEE),
        _mm512_shuffle_ps(t5, t7, 0x44), _mm512_shuffle_ps(t5, t7, 0xEE)};
    const __m512i lo = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18,
                                        17, 16, 3, 2, 1, 0);
    const __m512i hi = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27,
                                        26, 25, 24, 11, 10, 9, 8);
    for (int k = 0; k < 4; k++) {
        /* columns k, 4 + k; then 8 + k, 12 + k */
        __m512 a = _mm512_permutex2var_ps(u[k], lo, u[k + 4]);
        __m512 b = _mm512_permutex2var_ps(u[k], hi, u[k + 4]);
        _mm256_store_ps(t + 8 * k, _mm512_castps512_ps256(a));
        _mm256_store_ps(t + 8 * (4 + k), _mm512_extractf32x8_ps(a, 1));
        _mm256_store_ps(t + 8 * (8 + k), _mm512_castps512_ps256(b));
        _mm256_store_ps(t + 8 * (12 + k), _mm512_extractf32x8_ps(b, 1));
    }
}

TARGET static void kernel_8x32(int n, const float *restrict a,
                               const int32_t *restrict tab,
                               const int32_t *restrict roff,
                               const float *restrict b, float *restrict tile,
                               size_t ld, int trans)
{
    ROW_OFFSETS
    ZERO(0) ZERO(1) ZERO(2) ZERO(3) ZERO(4) ZERO(5) ZERO(6) ZERO(7)
    for (int t = 0; t < n; t++) {
        const float *at = a + tab[t];
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
        b += 32;
    }
    if (trans) {
        transpose8x16(c00, c10, c20, c30, c40, c50, c60, c70, tile);
        transpose8x16(c01, c11, c21, c31, c41, c51, c61, c71, tile + 128);
        return;
    }
    SAVE(0) SAVE(1) SAVE(2) SAVE(3) SAVE(4) SAVE(5) SAVE(6) SAVE(7)
}

#define STEP1(r, c, at, bv) c##r = _mm512_fmadd_ps(_mm512_set1_ps(at[o##r]), bv, c##r);
/* one step of B (bv) against the 8 rows of A at `at`, into c0..c7 or d0..d7 */
#define STEP8(c, at, bv)                                                      \
    STEP1(0, c, at, bv) STEP1(1, c, at, bv) STEP1(2, c, at, bv)               \
    STEP1(3, c, at, bv) STEP1(4, c, at, bv) STEP1(5, c, at, bv)               \
    STEP1(6, c, at, bv) STEP1(7, c, at, bv)
#define SAVE1(r) _mm512_store_ps(tile + (r) * ld, c##r);

/* The first 16 columns only (B packed 16 wide). Eight
 * accumulators would be eight FMA chains, too few to hide the FMA latency:
 * two sets take the even and the odd steps (16 chains), added at the end. */
TARGET static void kernel_8x16(int n, const float *restrict a,
                               const int32_t *restrict tab,
                               const int32_t *restrict roff,
                               const float *restrict b, float *restrict tile,
                               size_t ld, int trans)
{
    ROW_OFFSETS
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0,
           c5 = c0, c6 = c0, c7 = c0;
    __m512 d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0, d6 = c0,
           d7 = c0;
    int t = 0;
    for (; t + 2 <= n; t += 2) {
        const float *at = a + tab[t], *au = a + tab[t + 1];
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        STEP8(c, at, b0)
        STEP8(d, au, b1)
        b += 32;
    }
    if (t < n) {
        const float *at = a + tab[t];
        __m512 b0 = _mm512_loadu_ps(b);
        STEP8(c, at, b0)
    }
    c0 = _mm512_add_ps(c0, d0), c1 = _mm512_add_ps(c1, d1);
    c2 = _mm512_add_ps(c2, d2), c3 = _mm512_add_ps(c3, d3);
    c4 = _mm512_add_ps(c4, d4), c5 = _mm512_add_ps(c5, d5);
    c6 = _mm512_add_ps(c6, d6), c7 = _mm512_add_ps(c7, d7);
    if (trans) {
        transpose8x16(c0, c1, c2, c3, c4, c5, c6, c7, tile);
        return;
    }
    SAVE1(0) SAVE1(1) SAVE1(2) SAVE1(3) SAVE1(4) SAVE1(5) SAVE1(6) SAVE1(7)
}

/* 16 x 16 transpose of r[0..15] in place (four rounds of 2-input
 * shuffles): afterwards r[q] holds column q. */
TARGET static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) { /* pairs within 128-bit lanes */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* quads within 128-bit lanes */
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) { /* 128-bit lanes across row groups */
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
}

/* 16 columns at a time: width / 16 blocks of 16 x 16, transposed in
 * registers, make 16 rows of width */
TARGET static void pack_t(const float *src, size_t ld, int rows, int n,
                          int width, float *dst, size_t ldd)
{
    for (int q0 = 0; q0 < n; q0 += 16) {
        int nq = n - q0 < 16 ? n - q0 : 16;
        __mmask16 in = (__mmask16)((1u << nq) - 1);
        for (int r0 = 0; r0 < width; r0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = r0 + i < rows
                           ? _mm512_maskz_loadu_ps(in, src + (size_t)(r0 + i) * ld + q0)
                           : _mm512_setzero_ps();
            transpose16(r);
            for (int q = 0; q < nq; q++)
                _mm512_storeu_ps(dst + (size_t)(q0 + q) * ldd + r0, r[q]);
        }
    }
}

static const sc_kernel avx512 = {"avx512", 8, 32, kernel_8x32, kernel_8x16,
                                 pack_t};

const sc_kernel *sc_kernel_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512dq")
               ? &avx512
               : NULL;
}
#else
const sc_kernel *sc_kernel_avx512(void) { return NULL; }
#endif
