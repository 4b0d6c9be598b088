/* ops.h -- one function per layer kind, dispatched through one table.
 *
 * Each op answers four actions for its node (kann's kad_op_* pattern):
 *   OP_SHAPE     validate the inputs, set the output shape and slot sizes
 *   OP_SCRATCH   raise net->scratch_per_thread, wgrad_per_thread and
 *                packed_floats to its need, and set the node's own planned
 *                buffers' sizes (n_arg, n_save) for the planned batch
 *   OP_FORWARD   y = f(inputs) for the planned batch (net->plan_n)
 *   OP_BACKWARD  accumulate into the inputs' dy and the parameter grads
 *   OP_COMMIT    after a successful training step: fold what the forward
 *                measured into the node's state (batch norm's running
 *                statistics)
 *   OP_COMMIT_CHECK  SC_ERR_DIVERGED (and a message) when OP_COMMIT would
 *                store a non-finite value; changes nothing
 *
 * The table line of each kind says what the rest of the library needs to
 * know about it without naming it: whether it has weights (and so can be
 * quantised), how its output channels relate to its inputs' (compress and
 * liveness follow channels through it), and how the plan may place its
 * buffers.
 */
#ifndef SC_OPS_OPS_H
#define SC_OPS_OPS_H

#include "engine/net.h"

typedef enum sc_op_action {
    OP_SHAPE,
    OP_SCRATCH,
    OP_FORWARD,
    OP_BACKWARD,
    OP_COMMIT,
    OP_COMMIT_CHECK
} sc_op_action;

typedef sc_status (*sc_op_fn)(sc_net *net, sc_node *nd, sc_op_action action);

/* How output channel (unit) u of a node relates to its inputs' units. */
typedef enum sc_chan_map {
    SC_CHAN_SOURCE,  /* the net's input: every unit live, none ever goes */
    SC_CHAN_SAME,    /* unit u is input unit u (batch norm, relu, pools) */
    SC_CHAN_NEW,     /* a new space computed by weights from every input
                        unit (dense, conv): its units die by their b */
    SC_CHAN_JOIN,    /* unit u is unit u of every input, joined (add) */
    SC_CHAN_CONCAT,  /* the inputs' units one after another */
    SC_CHAN_FLATTEN  /* feature f is input channel f / (h w) */
} sc_chan_map;

/* Table flags. */
enum {
    SC_OPF_WEIGHTS = 1 << 0,  /* has weights P_W, one row per output
                                 channel: quantisable, counted in N0 */
    SC_OPF_FLAT_IN = 1 << 1,  /* with weights: reads each input feature
                                 (c*h*w) as an input, not each channel */
    SC_OPF_ALIAS = 1 << 2,    /* always works in place: y and dy are the
                                 input's (a flatten moves nothing) */
    SC_OPF_IN_PLACE = 1 << 3, /* may work in place when it is the only
                                 reader of its input (needs only y in
                                 backward) */
    SC_OPF_RELU = 1 << 4,     /* y = max(x, 0): an SC_OPF_TAKES_RELU input
                                 may apply it in its own pass */
    SC_OPF_TAKES_RELU = 1 << 5 /* applies an in-place relu on its output
                                  itself (nd->fuse_relu) */
};

/* The sc_layer_desc fields a kind takes (every other one must be 0). */
enum {
    SC_ATTR_CHANNELS = 1 << 0,
    SC_ATTR_KERNEL = 1 << 1,
    SC_ATTR_STRIDE = 1 << 2,
    SC_ATTR_PAD = 1 << 3,
    SC_ATTR_GROUPS = 1 << 4,
    SC_ATTR_ALPHA = 1 << 5
};

struct sc_q8;
/* int8 inference of a kind (int8/q8.h's sc_q8_fn) */
typedef sc_status (*sc_op_q8_fn)(struct sc_q8 *q, sc_node *nd, int action);

typedef struct sc_op_def {
    const char *name;
    sc_op_fn fn;
    sc_chan_map chan;
    unsigned flags;      /* SC_OPF_* */
    unsigned attrs;      /* SC_ATTR_*: the descriptor fields it takes */
    int layer_flags;     /* the sc_layer_flags it takes */
    int min_in, max_in;  /* how many inputs */
    sc_op_q8_fn q8;      /* its int8 inference (NULL: none) */
} sc_op_def;

extern const sc_op_def sc_ops[SC_LAYER_KIND_COUNT];

static inline unsigned sc_op_flags(const sc_node *nd)
{
    return sc_ops[nd->kind].flags;
}

/* A layer with weights: dense or conv today, quantisable. */
static inline int sc_is_weighted(const sc_node *nd)
{
    return (sc_op_flags(nd) & SC_OPF_WEIGHTS) != 0;
}

/* The groups a weighted layer's channels are split into (conv's groups;
 * 1 for a dense layer). Output channel o reads only the input channels of
 * its group, o / (c / groups). */
static inline int sc_groups(const sc_node *nd)
{
    return nd->groups > 1 ? nd->groups : 1;
}

/* Weights per output channel and input channel it reads, of a weighted
 * layer: the kernel's taps, or the input's h*w features per channel for
 * one that reads features (SC_OPF_FLAT_IN). */
static inline size_t sc_weights_per_in(const sc_node *nd, const sc_node *x)
{
    return nd->pn[P_W] / ((size_t)nd->c * (size_t)(x->c / sc_groups(nd)));
}

/* The one builder (layer.c): checks desc against the kind's table line
 * (fields it takes, their ranges, the input count), then sc_net_append.
 * fn names the public call in messages. */
sc_status sc_layer_append(sc_net *net, const sc_layer_desc *desc,
                          const int *inputs, int n_inputs, int *id,
                          const char *fn);
/* A node's attributes as the descriptor that builds it (size: the
 * library's). */
void sc_node_desc(const sc_node *nd, sc_layer_desc *d);

sc_status sc_op_input(sc_net *net, sc_node *nd, sc_op_action action);
/* Appends node 0, the input of shape c x h x w, to a new net. */
sc_status sc_input_append(sc_net *net, int c, int h, int w);
sc_status sc_op_dense(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_conv2d(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_batchnorm(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_relu(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_maxpool(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_avgpool(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_gavgpool(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_gmaxpool(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_flatten(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_add(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_concat(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_dropout(sc_net *net, sc_node *nd, sc_op_action action);

/* int8 inference of each kind (int8/q8.h): in the kind's file, the weighted
 * ones in q8_conv.c and q8_dense.c */
sc_status sc_q8_dense(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_conv2d(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_batchnorm(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_relu(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_maxpool(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_avgpool(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_gavgpool(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_gmaxpool(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_flatten(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_add(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_concat(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_dropout(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_leaky_relu(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_relu6(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_sigmoid(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_tanh(struct sc_q8 *q, sc_node *nd, int action);
sc_status sc_q8_hardswish(struct sc_q8 *q, sc_node *nd, int action);

/* A windowed pool's OP_SHAPE (window.c): SC_ERR_ARG when a pad is more
 * than half its window (PyTorch's rule: every window then overlaps the
 * input), SC_ERR_SHAPE when the window is larger than the padded input;
 * else the output c x h x w, (in + 2 pad - kernel) / stride + 1 per axis. */
sc_status sc_window_shape(sc_net *net, sc_node *nd);
struct sc_cgen;
/* The window of pool nd as a static const q8win pN of exported C (the type
 * and q8_span, sc_window_span, once) and the pool's own helper (C text
 * under key, once); returns N. */
int sc_window_emit(struct sc_cgen *g, const sc_net *net, const sc_node *nd,
                   const char *key, const char *helper);

/* The input rows (or columns) [*lo, *hi) that output position o of a
 * window of k, stride s, padding p reads along an axis of n inputs: the
 * window without its padding, never empty for a shape sc_window_shape
 * accepted. */
static inline void sc_window_span(int o, int k, int s, int p, int n, int *lo,
                                  int *hi)
{
    int a = o * s - p, b = a + k;
    *lo = a > 0 ? a : 0;
    *hi = b < n ? b : n;
}
/* activation.c */
sc_status sc_op_leaky_relu(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_relu6(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_sigmoid(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_tanh(sc_net *net, sc_node *nd, sc_op_action action);
sc_status sc_op_hardswish(sc_net *net, sc_node *nd, sc_op_action action);

/* Winograd convolution (conv_winograd.c), for the conv layers it fits:
 * stride 1, a 5x5 kernel, padding at most 2, two or more input channels.
 * Answers OP_SCRATCH, OP_FORWARD and OP_BACKWARD (not the bias gradient). */
int sc_winograd_fits(const sc_net *net, const sc_node *nd);
/* Grouped convolution (conv_grouped.c), for conv layers with groups > 1:
 * answers OP_SCRATCH, OP_FORWARD and OP_BACKWARD. */
sc_status sc_conv_grouped(sc_net *net, sc_node *nd, sc_op_action action);
/* db[o] += sum over samples and positions of dy[o] (conv2d.c). */
void sc_conv_bias_grad(sc_net *net, sc_node *nd);
sc_status sc_conv_winograd(sc_net *net, sc_node *nd, sc_op_action action);

/* How both convolutions deal samples to threads (conv2d.c): the samples
 * per chunk when one sample's scratch is `per` floats and a chunk's should
 * stay near `budget`, the chunk count a multiple of the thread count (every
 * thread the same share); and the first sample and count of chunk c. */
int sc_conv_chunk(const sc_net *net, size_t per, size_t budget);
int sc_conv_chunk_span(const sc_net *net, int chunk, size_t c, size_t *s0);

/* The weights a dense/conv layer computes with: quantised or plain. */
const float *sc_layer_weights(sc_net *net, sc_node *nd);
/* A quantised layer's qw from its w, b and e (quant/quantizer.h). */
void sc_layer_quantize(sc_net *net, sc_node *nd);
/* A quantised layer's straight-through backward: its w gradient holds
 * dL/dq on entry and dL/dw on exit; dL/db, dL/de are added. */
void sc_layer_straight_through(sc_net *net, sc_node *nd);
/* What every op with weights answers around its own body: a quantised
 * layer's forward first computes qw, its backward ends with the
 * straight-through backward. */
sc_status sc_weighted_op(sc_net *net, sc_node *nd, sc_op_action action, sc_op_fn body);
/* The per-position constants a dense/conv forward adds after its bias
 * (c*h*w floats per sample, or NULL): in training mode compress's
 * training-mode map when the layer has one, else its eval-mode map. */
const float *sc_layer_cbias(const sc_net *net, const sc_node *nd);

/* ---- losses (loss.c, xent.c): one table, like the ops' ---- */
/* What a loss reads: the last node's output z [n, k], its targets (labels,
 * or floats [n, k]), the net's class weights (k, or NULL) and smoothing,
 * and n * k floats of scratch (the softmax's probabilities). */
typedef struct sc_loss_batch {
    const float *z;
    const int32_t *labels;
    const float *targets;
    int n, k;
    float *scratch;
    const float *weights;
    float smoothing;
} sc_loss_batch;
/* The loss of the batch; dL/dz into dz when not NULL; *accuracy (when not
 * NULL) as sc_step_stats documents it for the loss. */
typedef double (*sc_loss_fn)(const sc_loss_batch *b, float *dz,
                             double *accuracy);
/* What a loss's targets are. */
typedef enum sc_loss_input {
    SC_LOSS_IN_LABELS, /* ints in [0, k) */
    SC_LOSS_IN_FLOATS, /* floats [n, k] in [tmin, tmax] */
    SC_LOSS_IN_HOST    /* none: the host hands dL/dz to backward */
} sc_loss_input;
typedef struct sc_loss_def {
    const char *name;
    sc_loss_input input;
    float tmin, tmax;
    sc_loss_fn fn; /* NULL for the host's */
} sc_loss_def;
extern const sc_loss_def sc_losses[SC_LOSS_COUNT];
/* Softmax cross-entropy with the batch's class weights and smoothing
 * (xent.c): probabilities into b->scratch. */
double sc_xent(const sc_loss_batch *b, float *dz, double *accuracy);
/* Knowledge distillation's term (distill.c) for n samples of k logits z
 * against a teacher's t at temperature T > 0 with weight w >= 0:
 * w T^2 mean KL(softmax(t / T) || softmax(z / T)); its gradient is added
 * to dz when not NULL. */
double sc_distill(const float *z, const float *t, int n, int k, double T,
                  double w, float *dz);
/* SC_OK when labels / targets (n * k floats) are what the net's loss takes
 * (the other NULL) and in range: SC_ERR_ARG, SC_ERR_LABEL, SC_ERR_NONFINITE
 * with fn's message otherwise; SC_ERR_STATE for the host's loss. */
sc_status sc_loss_check(const sc_net *net, const int32_t *labels,
                        const float *targets, int n, const char *fn);
/* The net's loss (net->loss) on the planned batch of n at its last node,
 * on checked targets. */
double sc_task_loss(sc_net *net, const int32_t *labels, const float *targets,
                    int n, float *dz, double *accuracy);

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
