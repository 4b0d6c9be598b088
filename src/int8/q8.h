/* q8.h -- int8 inference of a loaded model (docs/int8.md).
 *
 * Every tensor between layers is one byte per value: real = s (q - z), q in
 * [0, 255], with a per-tensor scale s from the range sc_net_calibrate()
 * measured and a zero point z of 0 (a range that never goes below 0, as
 * after a relu) or 128 (one that does). A weighted layer multiplies its
 * int8 weights with its input's bytes into exact int32 sums (the integer
 * kernels, kernels/qkernel.h), and the batch norm and clamp (relu, relu6)
 * that are its output's only readers fold into its requantisation:
 *
 *     q_out = clamp(floor((v * m + b) / 2^shift), lo, hi),
 *     v = sum_k W[k] q_in[k] - z_in sum_k W[k]
 *
 * with m, shift a fixed-point form of s_in s_w a / s_out (a the norm's
 * scale) and b the bias, the norm's shift, the folded constants and z_out
 * in units of 2^-shift output steps, rounding included: integers only, so
 * a microcontroller reproduces it bit for bit. The last layer writes float
 * logits, s_in s_w v + bias. The other ops (pools, add, concat, a norm or
 * activation on its own) work on the bytes too: ops/q8_*.c, one function
 * per kind reached through sc_ops[kind].q8.
 */
#ifndef SC_INT8_Q8_H
#define SC_INT8_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "engine/net.h"
#include "kernels/qkernel.h"
#include "ops/ops.h"

/* a tensor's quantisation: real = s (q - z) */
typedef struct sc_q8t {
    float s;
    int z; /* 0 or 128 */
} sc_q8t;

/* a real multiplier r as m 2^-shift: |m| < 2^31, 1 <= shift <= 48 */
typedef struct sc_q8mul {
    int32_t m;
    int shift;
} sc_q8mul;

/* One node's part of the program. */
typedef struct sc_q8node {
    sc_q8t t;        /* the output's quantisation */
    int fused;       /* folded into an earlier weighted layer's output */
    int end;         /* the node whose output it writes (itself, or the
                        last node folded into it); a fold's: its head */
    int next;        /* the node folded into this one's output (-1: none) */
    int out_float;   /* writes the model's float logits */
    int alias;       /* its output is its input's bytes (set by the op) */
    uint8_t *y;      /* planned output (n x c x h x w bytes; an alias's is
                        its input's), NULL for out_float */
    void *priv;      /* the op's own prepared data (one allocation) */
    size_t priv_bytes;
    size_t scratch;  /* bytes per thread its forward needs */
} sc_q8node;

typedef struct sc_q8 {
    sc_net *net;
    const sc_qkernel *kernel;
    sc_q8node *nodes;   /* one per net node */
    int plan_n;         /* batch the buffers are laid out for */
    uint8_t *arena;
    size_t arena_bytes;
    uint8_t *scratch;   /* per-thread scratch, scratch_per_thread apart */
    size_t scratch_per_thread, scratch_bytes;
    float *out;         /* during a forward: the caller's logits */
    /* answers of Q8_AFFINE (c floats each, owned) and Q8_CLAMP */
    float *aff_a, *aff_b;
    double clamp_lo, clamp_hi;
    struct sc_cgen *cg; /* during Q8_EMIT: the C code being written */
} sc_q8;

typedef enum sc_q8_action {
    Q8_PREPARE, /* compute priv and scratch from the quantisations of the
                   inputs and of t (all set); SC_ERR_UNSUPPORTED when the
                   op cannot run in int8 */
    Q8_FORWARD, /* y from the inputs' bytes for the planned batch */
    Q8_AFFINE,  /* SC_OK when the node is y = a x + b per channel whatever
                   the batch (a norm's running statistics): a, b into
                   aff_a, aff_b */
    Q8_CLAMP,   /* SC_OK when the node is y = clamp(x, lo, hi) (a relu):
                   the bounds into clamp_lo, clamp_hi */
    Q8_EMIT     /* writes the node's forward for one sample as C into cg
                   (cgen/cgen.h, docs/mcu.md): the same bytes as
                   Q8_FORWARD; SC_ERR_UNSUPPORTED when it cannot */
} sc_q8_action;

typedef sc_op_q8_fn sc_q8_fn; /* action: an sc_q8_action */

/* ---- the program (plan8.c, exec8.c) ---- */
/* The int8 program of a forward-only net whose calibrated ranges are set
 * (net->calib), with kernel (NULL: the best). SC_ERR_UNSUPPORTED (naming
 * the layer) when a layer cannot run in int8. */
sc_status sc_q8_build(sc_net *net, const sc_qkernel *kernel, sc_q8 **out,
                      const char *fn);
void sc_q8_free(sc_q8 *q);
/* The resident bytes of the prepared data (packed weights, tables). */
size_t sc_q8_resident(const sc_q8 *q);
/* logits (n x outputs) of the n samples of x, which the caller checked. */
sc_status sc_q8_forward(sc_q8 *q, const float *x, int n, float *logits,
                        const char *fn);
/* The buffers of a batch of n (exec8.c's forward plans itself). */
sc_status sc_q8_plan(sc_q8 *q, int n, const char *fn);

static inline sc_q8node *sc_q8_of(sc_q8 *q, const sc_node *nd)
{
    return &q->nodes[nd - q->net->nodes];
}
static inline sc_q8node *sc_q8_in(sc_q8 *q, const sc_node *nd, int i)
{
    return &q->nodes[nd->in[i]];
}
/* thread t's scratch */
static inline uint8_t *sc_q8_scratch(const sc_q8 *q, int t)
{
    return q->scratch + (size_t)t * q->scratch_per_thread;
}

/* ---- the arithmetic (requant.c): one home for the fixed point ---- */
/* The quantisation of a calibrated range [lo, hi]. */
sc_q8t sc_q8_tensor(float lo, float hi);
/* r as m 2^-shift; 0 when r is not finite or |r| >= 2^30 (the caller
 * refuses it). */
int sc_q8_multiplier(double r, sc_q8mul *out);
/* The b of a requantisation: off (the real offset over the output scale,
 * in output steps) plus the zero point z and the rounding half, in units of
 * 2^-shift, off clamped where the output saturates anyway for sums of at
 * most vmax in magnitude (so v m + b never overflows). */
int64_t sc_q8_offset(double off, int z, sc_q8mul mul, int64_t vmax);
/* A requantised sum of n inputs' bytes (an add; a concat's one input):
 * out = clamp(floor((sum_i (q_i - z_i) m_i + b) / 2^shift), 0, 255). */
typedef struct sc_q8sum {
    int n, shift;
    int32_t m[SC_MAX_LAYER_INPUTS];
    int z[SC_MAX_LAYER_INPUTS];
    int64_t b;
} sc_q8sum;
/* 0 when a ratio of scales is out of range */
int sc_q8_sum_init(const sc_q8t *in, int n, sc_q8t out, sc_q8sum *s);
/* floor(v / 2^s) for any sign (an arithmetic shift, portably) */
static inline int64_t sc_q8_floor_shift(int64_t v, int s)
{
    return v < 0 ? ~(~v >> s) : v >> s;
}
/* one requantised byte */
static inline uint8_t sc_q8_requant(int64_t v, sc_q8mul mul, int64_t b,
                                    int lo, int hi)
{
    int64_t r = sc_q8_floor_shift(v * mul.m + b, mul.shift);
    return (uint8_t)(r < lo ? lo : r > hi ? hi : r);
}
/* a float's byte in t: round half up of x / s + z, clamped */
static inline uint8_t sc_q8_quantize(float x, float inv_s, int z)
{
    float v = x * inv_s + (float)z;
    v = v > 0.0f ? v : 0.0f;
    v = v < 255.0f ? v : 255.0f;
    return (uint8_t)(int)(v + 0.5f);
}
/* the sum's byte of the inputs' bytes v[0..n) */
static inline uint8_t sc_q8_sum(const sc_q8sum *s, const uint8_t *v)
{
    int64_t acc = s->b;
    for (int i = 0; i < s->n; i++)
        acc += (int64_t)((int)v[i] - s->z[i]) * s->m[i];
    int64_t r = sc_q8_floor_shift(acc, s->shift);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}
/* The largest |v| of a product of k weights with bytes of zero point z. */
static inline int64_t sc_q8_vmax(int64_t k, int z)
{
    return k * 128 * (z ? 128 : 255);
}

/* The longest reduction int8 takes: v m + b stays within int64
 * (requant.c). */
#define SC_Q8_MAX_K 32768

/* ---- exported C (emit8.c): the arithmetic above as generated code ---- */
/* Writes q8_fs (sc_q8_floor_shift) and q8_rq (sc_q8_requant) into the
 * definitions of the C code (cgen/cgen.h), once. */
void sc_q8_emit_arith(struct sc_cgen *g);
/* Writes s as a static const q8sum (and the type and q8_sum, once);
 * returns its array number N (named sN). */
int sc_q8_sum_emit(struct sc_cgen *g, const sc_q8sum *s, int n);
/* Writes q8_mult (sc_q8_multiplier) and q8_off (sc_q8_offset), which need
 * <math.h>, once. */
void sc_q8_emit_mult(struct sc_cgen *g);

/* ---- ops of one input byte (lut.c) ---- */
/* The int8 op of an element-wise kind y = f(x, alpha): Q8_CLAMP answers
 * [lo, hi] when f is that clamp (lo > hi: it is not), and otherwise it is a
 * table, byte v of the input giving f(s_in (v - z_in), alpha) in nd's
 * quantisation (Q8_PREPARE, Q8_FORWARD, Q8_EMIT: the table and its loop). */
sc_status sc_q8_elementwise(sc_q8 *q, sc_node *nd, int action,
                            float (*f)(float, float), double lo, double hi);
/* nd's output keeps its input's quantisation; with alias, its bytes too. */
void sc_q8_keep_input(sc_q8 *q, sc_node *nd, int alias);

/* ---- what the weighted ops share (ops/q8_weighted.c) ---- */
/* A weighted layer's prepared data: packed weights, their row sums, and
 * the requantisation of each output channel (by classes of positions when
 * compress folded constants, cmap) or its float output. */
typedef struct sc_q8w {
    int m, k;            /* rows (output channels) and reduction */
    int groups;          /* a conv's groups: each packed on its own */
    void *w;             /* packed, group after group */
    size_t group_bytes;  /* packed bytes of one group */
    int32_t *rowsum;     /* m */
    sc_q8mul *mul;       /* m */
    int64_t *b;          /* per channel; with cmap, each channel's table */
    size_t nb;           /* b's entries (fb's too) */
    int lo, hi;          /* the clamp */
    float *fs, *fb;      /* out_float: logit = fs v + fb (fb indexed as b) */
    /* cmap: the layer has compress's folded constants, as classes of equal
     * rows and of equal columns of its oh x ow output map (a padded
     * convolution of constant maps has few: cmap.c), so channel o's offset
     * at (y, x) is b[boff[o] + rcls[o oh + y] ncol[o] + ccls[o ow + x]] */
    int cmap, oh, ow;
    int32_t *boff, *ncol, *rcls, *ccls;
    size_t tail;         /* where the op's own tables start */
} sc_q8w;
/* Prepares nd (conv or dense) for k weights per output channel in `groups`
 * groups: its int8 levels, the folded norm and clamp of its chain, the
 * tables; the op's own tables go after, extra bytes at *tail (64-byte
 * aligned). The result is q's node priv, starting with the sc_q8w. */
sc_status sc_q8_weighted_prepare(sc_q8 *q, sc_node *nd, int k, int groups,
                                 size_t extra, void **tail);
/* Requantises the tile c (rows o0.. o0 + rows of the layer's channels,
 * cols columns, ldc apart, zero point zin of the input) into the bytes
 * y[o * ostride + j * jstride], or the floats fy at the same places for an
 * out_float layer; with cmap, the columns are the oh x ow positions of one
 * sample (jstride 1). */
/* Q8_EMIT's part that dense and conv share: the int8 rows and tables of
 * nd as arrays and a static const q8w wN (the type and q8w_put, which
 * requantises one sum as sc_q8_weighted_store does, once), and the op's
 * own helper (C text under key, once); returns N, or -1 (and the error
 * set) when out of memory. */
int sc_q8_weighted_emit(sc_q8 *q, sc_node *nd, int k, const char *key,
                        const char *helper);
void sc_q8_weighted_store(const sc_q8w *w, const int32_t *c, size_t ldc,
                          int o0, int rows, int cols, int zin, uint8_t *y,
                          float *fy, size_t ostride, size_t jstride);

#endif
