/* qkernel_avx512.c -- 8 x 32 integer tile for AVX-512 VNNI: 16 zmm
 * accumulators; per group of 4 steps two loads of the panel (32 columns
 * of 4 bytes each) and eight broadcasts of a row's 4 weight bytes, 16
 * vpdpbusd (u8 panel x s8 weights, 4 products summed into each int32
 * lane, without saturation: exact). */
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

SC_QKERNEL_W4_LAYOUT(MR, 0)

static const sc_qkernel vnni = {"avx512vnni", MR, NR, kernel_8x32,
    pack_w, wbytes, block_bytes};

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
