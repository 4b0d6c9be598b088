/* quantizer.h -- learned per-output-channel quantisation (spec section 1). */
#ifndef SC_QUANT_QUANTIZER_H
#define SC_QUANT_QUANTIZER_H

#include "engine/net.h"

/* qw = 2^e round(clamp(2^-e w, -2^(B-1), 2^(B-1) - 1)), B = max(b, 0) */
void sc_quant_forward(sc_net *net, sc_node *nd);
/* Straight-through backward: on entry grad(w) holds dL/dq; on exit it
 * holds dL/dw, and dL/de, dL/db are added to the b/e grads. */
void sc_quant_backward(sc_net *net, sc_node *nd);
/* One channel's forward, for tests and the model file: n weights. */
void sc_quant_channel(const float *w, size_t n, float b, float e, float *q);
/* The exponent that keeps a channel with largest magnitude maxabs
 * unclamped at bit depth b (e0 when maxabs is 0). */
float sc_quant_initial_exponent(float maxabs, float b, float e0);

/* ---- size (sizeloss.c) ---- */
/* Marks live channels of every node in nd->live (1/0) from the b's. */
void sc_liveness(sc_net *net);
/* Live input features (channels, or flattened features for dense). */
int64_t sc_live_in(sc_net *net, sc_node *nd);
/* Q over all quantised layers (needs sc_liveness first); adds gamma dQ/db
 * to the b grads when add_grad is set. */
double sc_size_loss(sc_net *net, int add_grad);

#endif
