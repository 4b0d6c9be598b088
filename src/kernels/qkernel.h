/* qkernel.h -- integer GEMM micro-kernels for int8 inference, picked at run
 * time (AVX-512 VNNI, AVX2, portable C).
 *
 * The product is
 *
 *     C[i][j] = sum_{k < K} W[i][k] * x[tab[k] + roff[j]]
 *
 * with W a layer's int8 weights (one row of K per output channel), x uint8
 * activations read through two offset tables, as the float kernels read
 * theirs (kernel.h): tab over the reduction (a conv's taps (c, i, j) in its
 * padded input image, or k for a dense layer), roff over the columns (a
 * conv's output positions, or a dense layer's samples). C is int32, and
 * exact: |C| <= K * 255 * 128, which sc_qgemm's callers keep below 2^31
 * (K <= SC_QGEMM_MAX_K), so every kernel gives the same bits.
 *
 * The operands are packed first:
 * - W once per layer by the kernel's pack_w into its own layout
 *   (wbytes(m, K) bytes, 64-byte aligned by the caller), K rounded up to a
 *   multiple of 4 with zero weights;
 * - x one panel of NR columns at a time, by sc_qpack_panel(): the panel is
 *   [K4 / 4][NR][4] bytes, K4 = K rounded up to 4: for each group of 4
 *   reduction steps, NR columns of 4 consecutive steps' bytes (the
 *   operand of one VNNI dot product per column); steps >= K and columns
 *   >= the panel's count are 0.
 * The kernel computes an MR x NR tile: MR rows of packed W against one
 * panel, and writes it to c[r * ldc + j] for its rows and the panel's
 * columns (all NR of them: the caller's C has room for whole panels).
 * A kernel may have a half-width variant, which sc_qgemm runs on a last
 * panel of at most NR / 2 columns, packed NR / 2 wide.
 */
#ifndef SC_KERNELS_QKERNEL_H
#define SC_KERNELS_QKERNEL_H

#include <stddef.h>
#include <stdint.h>

/* The longest reduction a product may have: K * 255 * 128 < 2^31. */
#define SC_QGEMM_MAX_K 65536

#define SC_QKERNEL_MAX_NR 32

/* One tile: MR rows of packed weights (the block at w: block i0 / MR is at
 * wpacked + i0 / MR * block_bytes(K)) against one panel, k4 = K4 (K
 * rounded up to 4: k4 / 4 groups); rows [0, rows) (rows <= MR) of the
 * MR x NR result go to c[r * ldc + j], all NR columns. */
typedef void (*sc_qukernel_fn)(int k4, const void *w, int rows,
                               const uint8_t *panel, int32_t *c, size_t ldc);

/* Lays out m rows of K int8 weights (row i at src + i * K) for the kernel:
 * dst holds wbytes(m, K) bytes, every one written (rows of the last block
 * beyond m and steps beyond K are zero weights). */
typedef void (*sc_qpack_w_fn)(const int8_t *src, int m, int k, void *dst);

typedef struct sc_qkernel {
    const char *name; /* "avx512vnni", "avx2", "generic" */
    int mr, nr;
    sc_qukernel_fn fn;
    /* the first NR / 2 columns only, from a panel packed NR / 2 wide (for
     * a last panel of at most NR / 2 columns), or NULL */
    sc_qukernel_fn half;
    sc_qpack_w_fn pack_w;
    size_t (*wbytes)(int m, int k);
    /* bytes from the packed rows of block i0 to those of i0 + MR */
    size_t (*block_bytes)(int k);
} sc_qkernel;

/* Packs one panel: columns roff[0..cols) (cols <= nr) of the product's x
 * operand into panel ([K4 / 4][nr][4] bytes), zeros beyond K and cols. */
void sc_qpack_panel(const uint8_t *x, const int32_t *tab, int k,
                    const int32_t *roff, int cols, int nr, uint8_t *panel);

/* C[i][j] for i < m, j < ncols, rows ldc int32 apart (ldc >= ncols rounded
 * up to the kernel's NR): panel by panel (packed into the caller's
 * scratch of sc_qgemm_panel_bytes(k, K) bytes, 64-byte aligned), then
 * every MR-row block of wpacked against it. K <= SC_QGEMM_MAX_K. */
void sc_qgemm(const sc_qkernel *k, int m, int kk, const void *wpacked,
              const uint8_t *x, const int32_t *tab, const int32_t *roff,
              int ncols, uint8_t *panel, int32_t *c, size_t ldc);
size_t sc_qgemm_panel_bytes(const sc_qkernel *k, int kk);

/* The fastest integer kernel this CPU runs (cpuid decides). */
const sc_qkernel *sc_qkernel_best(void);
/* Every integer kernel this CPU can run, best first: up to max into out;
 * returns how many (tests run each one). */
int sc_qkernel_all(const sc_qkernel **out, int max);

/* Per-ISA kernels (qkernel_avx512.c, qkernel_avx2.c, qkernel_generic.c):
 * NULL where the CPU (or the compiler) lacks the instructions. */
const sc_qkernel *sc_qkernel_avx512vnni(void);
const sc_qkernel *sc_qkernel_avx2(void);
const sc_qkernel *sc_qkernel_generic(void);

/* The layout pack_w writes for the VNNI and the portable kernels (int16:
 * 0) and for AVX2 (int16: 1): blocks of mr rows, each [K4 / 4][mr][4]
 * weights, int8 or int16. */
void sc_qpack_w4(const int8_t *src, int m, int k, int mr, int int16,
                 void *dst);
/* bytes of one block of that layout */
size_t sc_qblock_bytes(int k, int mr, int int16);

/* A kernel's pack_w, wbytes and block_bytes (static functions of those
 * names) for that layout. */
#define SC_QKERNEL_W4_LAYOUT(mr, int16)                                       \
    static void pack_w(const int8_t *src, int m, int k, void *dst)            \
    {                                                                         \
        sc_qpack_w4(src, m, k, mr, int16, dst);                               \
    }                                                                         \
    static size_t block_bytes(int k) { return sc_qblock_bytes(k, mr, int16); } \
    static size_t wbytes(int m, int k)                                        \
    {                                                                         \
        return (size_t)((m + (mr)-1) / (mr)) * block_bytes(k);                \
    }

#endif
