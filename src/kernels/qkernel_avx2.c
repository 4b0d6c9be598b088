/* qkernel_avx2.c -- 6 x 8 integer tile for AVX2, exact: the panel's bytes
 * are widened to int16 (vpmovzxbw) and multiplied by int16 weights with
 * vpmaddwd, whose pair sums (at most 2 * 255 * 128) are exact in int32.
 * (vpmaddubsw, u8 x s8, would add its pairs in saturating int16: 255 *
 * 127 * 2 does not fit.) One ymm holds 4 columns x 2 pair sums; 12
 * accumulators, two widened loads of the panel and six 4-weight
 * broadcasts per group of 4 steps; the pair sums are added at the end. */
#include "kernels/qkernel.h"

#define MR 6
#define NR 8

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx2")))

#define ZERO(r) __m256i c##r##0 = _mm256_setzero_si256(), c##r##1 = c##r##0;
#define STEP(r)                                                               \
    {                                                                         \
        int64_t w_;                                                           \
        memcpy(&w_, w + 4 * (r), 8);                                          \
        __m256i a_ = _mm256_set1_epi64x(w_);                                  \
        c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(b0, a_));       \
        c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(b1, a_));       \
    }
/* lanes (column, pair) of columns 0-3 and 4-7 summed per column: hadd
 * gives columns 0 1 4 5 | 2 3 6 7, the permute puts them in order */
#define SAVE(r)                                                               \
    if ((r) < rows)                                                           \
        _mm256_storeu_si256(                                                  \
            (__m256i *)(c + (r) * ldc),                                       \
            _mm256_permute4x64_epi64(_mm256_hadd_epi32(c##r##0, c##r##1),     \
                                     0xD8));

TARGET static void kernel_6x8(int k4, const void *wv, int rows,
                              const uint8_t *restrict p, int32_t *restrict c,
                              size_t ldc)
{
    const int16_t *w = wv;
    ZERO(0) ZERO(1) ZERO(2) ZERO(3) ZERO(4) ZERO(5)
    for (int g = 0; g < k4 / 4; g++) {
        __m256i b0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
        __m256i b1 =
            _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p + 16)));
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
        w += 4 * MR;
        p += 4 * NR;
    }
    SAVE(0) SAVE(1) SAVE(2) SAVE(3) SAVE(4) SAVE(5)
}

SC_QKERNEL_W4_LAYOUT(MR, 1)

static const sc_qkernel avx2 = {"avx2", MR, NR, kernel_6x8, NULL,
    pack_w, wbytes, block_bytes};

const sc_qkernel *sc_qkernel_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? &avx2 : NULL;
}
#else
const sc_qkernel *sc_qkernel_avx2(void) { return NULL; }
#endif
