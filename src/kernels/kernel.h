/* kernel.h -- the library's own GEMM micro-kernels for convolutions,
 * picked at run time (AVX-512, AVX2 + FMA, portable C).
 *
 * One kernel computes one MR x NR tile
 *
 *     T[r][j] = sum_{t < n} a[tab[t] + roff[r]] * b[t * NR + j]
 *
 * with A read straight from an image through two offset tables (tab over
 * the reduction, roff over the tile's rows) and B a packed panel of n rows
 * of NR floats. A convolution is then a GEMM whose A operand is never
 * unfolded: forward, tab holds the kernel taps (ch, i, j) and roff MR output
 * positions; for the weight gradient the roles swap (tab: positions, roff:
 * taps). Every roff entry must be a valid offset (callers repeat one for
 * rows they will not store). T goes to tile (64-byte aligned), row-major
 * with rows ld floats apart (ld a multiple of 16: NR for a scratch tile, or
 * a row of the caller's product), or transposed [NR][MR] when trans is set
 * (then the MR floats of one column are contiguous: one output channel at
 * MR consecutive positions; ld is not used).
 *
 * half computes only the first NR/2 columns, from a panel packed NR/2 wide
 * (the tile laid out as for NR): narrow layers, e.g. 13 channels after
 * compression, would waste most of a full-width tile and of its panel. */
#ifndef SC_KERNELS_KERNEL_H
#define SC_KERNELS_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#define SC_KERNEL_MAX_MR 8
#define SC_KERNEL_MAX_NR 32

typedef void (*sc_ukernel_fn)(int n, const float *a, const int32_t *tab,
                              const int32_t *roff, const float *b,
                              float *tile, size_t ld, int trans);

/* Packs `rows` (<= width) rows of n floats, ld apart, transposed into n
 * rows of width floats, ldd apart (a panel: width NR, or NR/2 for a half
 * kernel's, and ldd = width; any multiple of NR/2 for other transposes):
 * dst[q * ldd + r] = src[r * ld + q], 0 for r >= rows. */
typedef void (*sc_pack_t_fn)(const float *src, size_t ld, int rows, int n,
                             int width, float *dst, size_t ldd);

typedef struct sc_kernel {
    const char *name; /* "avx512", "avx2", "generic" */
    int mr, nr;
    sc_ukernel_fn fn, half;
    sc_pack_t_fn pack_t;
} sc_kernel;

/* The portable sc_pack_t_fn (kernel.c). */
void sc_pack_t_generic(const float *src, size_t ld, int rows, int n, int width,
                       float *dst, size_t ldd);

/* The fastest kernel this CPU runs (cpuid decides). */
const sc_kernel *sc_kernel_best(void);
/* Every kernel this CPU can run, best first: up to max into out; returns
 * how many (tests run each one). */
int sc_kernel_all(const sc_kernel **out, int max);

/* Per-ISA kernels (kernel_avx512.c, kernel_avx2.c, kernel_generic.c): NULL
 * where the CPU (or the compiler) lacks the instructions. */
const sc_kernel *sc_kernel_avx512(void);
const sc_kernel *sc_kernel_avx2(void);
const sc_kernel *sc_kernel_generic(void);

/* the columns of the panel that starts at column c0 of total */
static inline int sc_panel_cols(const sc_kernel *k, int total, int c0)
{
    return total - c0 < k->nr ? total - c0 : k->nr;
}

/* the width a panel of `cols` (<= NR) columns is packed in: NR/2 when they
 * fit, and then the half kernel computes it */
static inline int sc_panel_width(const sc_kernel *k, int cols)
{
    return cols <= k->nr / 2 ? k->nr / 2 : k->nr;
}

/* n rounded up to a multiple of b */
static inline int sc_round_up(int n, int b) { return (n + b - 1) / b * b; }

/* n rounded up to a multiple of 16 (scratch regions, 64-byte aligned) */
static inline size_t sc_up16(size_t n) { return (n + 15) / 16 * 16; }

/* Where a tile goes: rows [r0, r0 + rows) and columns [c0, c0 + cols) of
 * the product, the tile as the kernel wrote it (transposed when asked). */
typedef void (*sc_tile_store)(void *ctx, const float *tile, int r0, int rows,
                              int c0, int cols);

/* The product over rows [0, rows) of a table of row offsets (roff) and
 * ncols columns of b, tile by tile: MR rows (spare rows repeat row r0) by
 * one panel of B at a time. b's panels hold n rows each, NR floats apart
 * (panel c0 / NR at b + c0 / NR * n * NR), a narrow last one packed NR/2
 * wide (sc_panel_width) and computed by the half kernel.
 * With a store, each tile goes to the scratch tile (MR * NR floats) and
 * store puts its real rows and columns where they belong. Without one
 * (store NULL, trans 0), the kernels write the product straight to
 * tile[r * ld + c], ld a multiple of 16: tile then needs room for
 * whole tiles, rows up to a multiple of MR and each panel's packed width,
 * and its spare rows and columns receive the spare rows' repeats and the
 * panels' padding. */
void sc_gemm_rows(const sc_kernel *k, const float *a, const int32_t *tab,
                  int n, const int32_t *roff, int rows, const float *b,
                  int ncols, float *tile, size_t ld, int trans,
                  sc_tile_store store, void *ctx);

#endif
