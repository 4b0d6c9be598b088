/* quantizer.h -- learned per-output-channel quantisation (spec section 1). */
#ifndef SC_QUANT_QUANTIZER_H
#define SC_QUANT_QUANTIZER_H

#include "engine/net.h"

/* One channel's constants: s = 2^e, inv = 2^-e, the clamp [lo, hi] =
 * [-2^(B-1), 2^(B-1) - 1] (from B = 25 on, where 2^(B-1) - 1 rounds up in
 * float, the float below 2^(B-1)), B = max(b, 0), and whether every
 * clamped value is below 2^22 (rounding's fast path). */
typedef struct sc_qchan {
    float s, inv, lo, hi;
    int small;
} sc_qchan;
sc_qchan sc_quant_chan(float b, float e);
/* The integer level of weight w: round(clamp(2^-e w, lo, hi)), ties to
 * even; what a model file stores. */
float sc_quant_level(sc_qchan c, float w);
/* The value of a level: 2^e * level (s = 2^e), + 0 so it is never -0. */
static inline float sc_quant_value(float s, float level)
{
    return s * level + 0.0f;
}
/* Bits a channel is stored with: ceil(B) (65 for any b above 64). */
int sc_quant_bits(float b);
/* The ranges sc_net_set_quant() accepts, which every loader applies too:
 * b finite and at most 32 and the net's cap bmax (SC_PARAM_QUANT_B_MAX),
 * e finite within [-64, 64]. */
#define SC_QUANT_MAX_BITS 32.0f
#define SC_QUANT_MAX_EXP 64.0f
int sc_quant_in_range(float b, float e, float bmax);
/* SC_OK when every quantised channel of the net is in those ranges, else
 * status with a message naming the channel. */
sc_status sc_quant_check_ranges(sc_net *net, sc_status status, const char *fn);
/* Brings every quantised channel's b and e back into those ranges (after
 * an update, or a lower cap): b to at most the cap, e to [-64, 64]. The
 * projection defines the cap's gradient: a step that would take b above
 * the cap leaves it there, and the next gradient is taken at b = cap. */
void sc_quant_clamp_ranges(sc_net *net);

/* The quantiser over c channels of k weights w (row-major), split over the
 * pool by channels: q = 2^e round(clamp(2^-e w, -2^(B-1), 2^(B-1) - 1)),
 * B = max(b, 0). */
void sc_quant_forward(sc_pool *pool, const float *w, const float *b,
                      const float *e, size_t c, size_t k, float *q);
/* Straight-through backward: on entry gw holds dL/dq; on exit it holds
 * dL/dw, and dL/de, dL/db are added to ge, gb. */
void sc_quant_backward(sc_pool *pool, const float *w, const float *b,
                       const float *e, size_t c, size_t k, float *gw,
                       float *gb, float *ge);
/* One channel's forward, for tests and the model file: n weights. */
void sc_quant_channel(const float *w, size_t n, float b, float e, float *q);
/* The exponent that keeps a channel with largest magnitude maxabs
 * unclamped at bit depth b (e0 when maxabs is 0), within [-64, 64]. */
float sc_quant_initial_exponent(float maxabs, float b, float e0);

/* ---- size (sizeloss.c) ---- */
/* Marks live channels of every node in nd->live (1/0) from the b's. */
void sc_liveness(sc_net *net);
/* Live input features (channels, or flattened features for dense) that
 * output channel o of weighted layer nd reads: those of its group. */
int64_t sc_live_in(sc_net *net, sc_node *nd, int o);
/* Q over all quantised layers (needs sc_liveness first); adds gamma dQ/db
 * to the b grads when add_grad is set. */
double sc_size_loss(sc_net *net, int add_grad);

#endif
