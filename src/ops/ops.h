/* ops.h -- one function per layer kind, dispatched through one table.
 *
 * Each op answers four actions for its node (kann's kad_op_* pattern):
 *   OP_SHAPE     validate the inputs, set the output shape and slot sizes
 *   OP_SCRATCH   raise net->scratch_per_thread, wgrad_per_thread and
 *                packed_floats to its need
 *   OP_FORWARD   y = f(inputs) for the planned batch (net->plan_n)
 *   OP_BACKWARD  accumulate into the inputs' dy and the parameter grads
 */
#ifndef SC_OPS_OPS_H
#define SC_OPS_OPS_H

#include "engine/net.h"

enum { OP_SHAPE, OP_SCRATCH, OP_FORWARD, OP_BACKWARD };

typedef sc_status (*sc_op_fn)(sc_net *net, sc_node *nd, int action);

typedef struct sc_op_def {
    const char *name;
    sc_op_fn fn;
} sc_op_def;

extern const sc_op_def sc_ops[SC_LAYER_KIND_COUNT];

sc_status sc_op_input(sc_net *net, sc_node *nd, int action);
sc_status sc_op_dense(sc_net *net, sc_node *nd, int action);
sc_status sc_op_conv2d(sc_net *net, sc_node *nd, int action);
sc_status sc_op_batchnorm(sc_net *net, sc_node *nd, int action);
sc_status sc_op_relu(sc_net *net, sc_node *nd, int action);
sc_status sc_op_maxpool(sc_net *net, sc_node *nd, int action);
sc_status sc_op_gavgpool(sc_net *net, sc_node *nd, int action);
sc_status sc_op_gmaxpool(sc_net *net, sc_node *nd, int action);
sc_status sc_op_flatten(sc_net *net, sc_node *nd, int action);
sc_status sc_op_add(sc_net *net, sc_node *nd, int action);

/* Winograd convolution (conv_winograd.c), for the conv layers it fits:
 * stride 1, a 5x5 kernel, padding at most 2, two or more input channels.
 * Answers OP_SCRATCH, OP_FORWARD and OP_BACKWARD (not the bias gradient). */
int sc_winograd_fits(const sc_net *net, const sc_node *nd);
sc_status sc_conv_winograd(sc_net *net, sc_node *nd, int action);

/* How both convolutions deal samples to threads (conv2d.c): the samples
 * per chunk when one sample's scratch is `per` floats and a chunk's should
 * stay near `budget`, the chunk count a multiple of the thread count (every
 * thread the same share); and the first sample and count of chunk c. */
int sc_conv_chunk(const sc_net *net, size_t per, size_t budget);
int sc_conv_chunk_span(const sc_net *net, int chunk, size_t c, size_t *s0);

/* The weights a dense/conv layer computes with: quantised or plain. */
const float *sc_layer_weights(sc_net *net, sc_node *nd);
/* The per-position constants a dense/conv forward adds after its bias
 * (c*h*w floats per sample, or NULL): in training mode compress's
 * training-mode map when the layer has one, else its eval-mode map. */
const float *sc_layer_cbias(const sc_net *net, const sc_node *nd);

/* Softmax cross-entropy over logits [n, k] with integer labels: returns the
 * mean loss, writes probabilities to probs, (probs - onehot) / n to dlogits
 * (when not NULL) and the number of correct argmax predictions. */
double sc_xent(const float *logits, const int32_t *labels, int n, int k,
               float *probs, float *dlogits, int *correct);

/* Thread t's op scratch (net->scratch_per_thread floats). */
static inline float *sc_thread_scratch(const sc_net *net, int t)
{
    return net->scratch + (size_t)t * net->scratch_per_thread;
}

/* The next `count` floats (or int32s) of a scratch layout at *off, rounded
 * up to 16; NULL while only sizing it (base NULL). */
static inline void *sc_carve(float *base, size_t *off, size_t count)
{
    void *p = base ? (void *)(base + *off) : NULL;
    *off += sc_up16(count);
    return p;
}

static inline sc_node *sc_in(sc_net *net, sc_node *nd, int i)
{
    return &net->nodes[nd->in[i]];
}

#endif
