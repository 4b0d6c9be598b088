/* qkernel_avx512.c -- 8 x 32 integer tile for AVX-512 VNNI: 16 zmm
 * accumulators; per group of 4 steps two loads of the panel (32 columns
 * of 4 bytes each) and eight broadcasts of a row's 4 weight bytes, 16
 * vpdpbusd (u8 panel x s8 weights, 4 products summed into each int32
 * lane, without saturation: exact). An 8 x 16 variant computes a narrow
 * last panel. */
#include "kernels/qkernel.h"

#define MR 8
#define NR 32

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512vnni")))

#define ZERO(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0;
#define STEP(r)                                                               \
    {                                                                         \
        int32_t w_;                                                           \
        memcpy(&w_, w + 4 * (r), 4);                                          \
        __m512i a_ = _mm512_set1_epi32(w_);                                   \
        c##r##0 = _mm512_dpbusd_epi32(c##r##0, b0, a_);                       \
        c##r##1 = _mm512_dpbusd_epi32(c##r##1, b1, a_);                       \
    }
#define SAVE(r)                                                               \
    if ((r) < rows) {                                                         \
        _mm512_storeu_si512(c + (r) * ldc, c##r##0);                          \
        _mm512_storeu_si512(c + (r) * ldc + 16, c##r##1);                     \
    }

TARGET static void kernel_8x32(int k4, const void *wv, int rows,
                               const uint8_t *restrict p,
                               int32_t *restrict c, size_t ldc)
{
    const int8_t *w = wv;
    ZERO(0) ZERO(1) ZERO(2) ZERO(3) ZERO(4) ZERO(5) ZERO(6) ZERO(7)
    for (int g = 0; g < k4 / 4; g++) {
        __m512i b0 = _mm512_loadu_si512(p), b1 = _mm512_loadu_si512(p + 64);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
        w += 4 * MR;
        p += 4 * NR;
    }
    SAVE(0) SAVE(1) SAVE(2) SAVE(3) SAVE(4) SAVE(5) SAVE(6) SAVE(7)
}

#define STEP1(c, r, b)                                                        \
    {                                                                         \
        int32_t w_;                                                           \
        memcpy(&w_, w + 4 * (r), 4);                                          \
        c##r = _mm512_dpbusd_epi32(c##r, b, _mm512_set1_epi32(w_));           \
    }
#define STEP8(c, b)                                                           \
    STEP1(c, 0, b) STEP1(c, 1, b) STEP1(c, 2, b) STEP1(c, 3, b)               \
    STEP1(c, 4, b) STEP1(c, 5, b) STEP1(c, 6, b) STEP1(c, 7, b)
#define SAVE1(r)                                                              \
    if ((r) < rows)                                                           \
        _mm512_storeu_si512(c + (r) * ldc, _mm512_add_epi32(c##r, d##r));

/* The first 16 columns only (the panel packed 16 wide). Eight
 * accumulators would be eight dependent chains, too few to hide the
 * latency: two sets take the even and the odd groups, added at the end. */
TARGET static void kernel_8x16(int k4, const void *wv, int rows,
                               const uint8_t *restrict p,
                               int32_t *restrict c, size_t ldc)
{
    const int8_t *w = wv;
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0,
            c5 = c0, c6 = c0, c7 = c0;
    __m512i d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0, d6 = c0,
            d7 = c0;
    int g = 0;
    for (; g + 2 <= k4 / 4; g += 2) {
        __m512i b0 = _mm512_loadu_si512(p), b1 = _mm512_loadu_si512(p + 64);
        STEP8(c, b0)
        w += 4 * MR;
        STEP8(d, b1)
        w += 4 * MR;
        p += 2 * 4 * NR / 2;
    }
    if (g < k4 / 4) {
        __m512i b0 = _mm512_loadu_si512(p);
        STEP8(c, b0)
    }
    SAVE1(0) SAVE1(1) SAVE1(2) SAVE1(3) SAVE1(4) SAVE1(5) SAVE1(6) SAVE1(7)
}

SC_QKERNEL_W4_LAYOUT(MR, 0)

static const sc_qkernel vnni = {"avx512vnni", MR,     NR,
                                kernel_8x32,  kernel_8x16,
                                pack_w,       wbytes, block_bytes};

const sc_qkernel *sc_qkernel_avx512vnni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512vnni")
               ? &vnni
               : NULL;
}
#else
const sc_qkernel *sc_qkernel_avx512vnni(void) { return NULL; }
#endif
