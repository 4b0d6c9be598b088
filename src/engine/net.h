/* net.h -- the network: its layer graph, flat parameter buffers and plan.
 *
 * Layers are nodes appended in order; a node only reads earlier nodes, so the
 * append order is a topological order and forward/backward are two loops.
 * Every trainable float lives in one flat buffer `params` (gradients in
 * `grads`, same layout), sorted by optimizer group so that each group is one
 * contiguous range. A loaded model is forward-only: no `grads`, no gradient
 * buffers in its plan, and its quantised layers keep their weights as
 * integer levels outside `params`. Non-trained state (batch-norm running statistics) lives
 * in a second flat buffer `state`. Activations, their gradients and scratch
 * space are planned once per batch size into one arena.
 */
#ifndef SC_ENGINE_NET_H
#define SC_ENGINE_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/pool.h"
#include "kernels/kernel.h"
#include "selfcompress.h"

#define SC_NONE ((size_t)-1)

/* Parameter slots a node may own, and the optimizer group of each. */
enum { P_W, P_B, P_GAMMA, P_BETA, P_QB, P_QE, P_SLOTS };
/* State slots (not trained). */
enum { S_MEAN, S_VAR, S_SLOTS };

#define SC_LAYER_KIND_COUNT 18

/* Size limits of every layer, the input included (include/selfcompress.h,
 * "Limits"), checked by sc_graph_add for the builders and the loaders alike:
 * - a layer's output per sample, c*h*w, at most 2^28 floats (1 GiB), as
 *   sc_net_create's input: every index within a sample (h*w, c*h*w, the max
 *   pools' int32 argmax, dense's fan-in) fits in an int;
 * - a layer's weights at most 2^28 floats, so its fan-in (c*kh*kw of a conv,
 *   c*h*w of a dense input: the kernels' int reduction length) fits too;
 * - a conv's zero-padded input image and its padded (dilated) dy image per
 *   sample at most 2^30 floats: conv2d.c's int32 position and tap tables
 *   index one chunk of samples, which holds at most max(2^16, one sample's
 *   image) floats (sc_conv_chunk), so every offset, and the sum of a tap's
 *   and a position's, stays below 2^31.
 * With the batch at most 2^24 (sc_check_input), a buffer of n samples is at
 * most 2^52 floats; sums over buffers are checked (plan.c). */
#define SC_MAX_SAMPLE_FLOATS ((size_t)1 << 28)
#define SC_MAX_LAYER_WEIGHTS ((size_t)1 << 28)
#define SC_MAX_CONV_IMAGE ((size_t)1 << 30)
_Static_assert(SC_MAX_SAMPLE_FLOATS <= 0x7fffffff / 4 &&
               SC_MAX_LAYER_WEIGHTS <= 0x7fffffff / 4 &&
               SC_MAX_CONV_IMAGE <= 0x7fffffff / 2 + 1,
               "the size limits keep every int index and int32 offset in range");

/* The task losses: the public sc_loss, the index of their table
 * (ops/loss.c). */
#define SC_LOSS_COUNT 4

typedef struct sc_node {
    sc_layer_kind kind;
    int in[SC_MAX_LAYER_INPUTS]; /* input node ids */
    int n_in;
    int c, h, w;     /* output shape per sample */
    /* attributes (sc_layer_desc's; strides and groups at least 1 where the
     * kind takes them, else 0) */
    int kh, kw, sh, sw, ph, pw, groups, flags;
    float alpha;
    int quantized;
    int64_t n0;      /* dense/conv: weights at construction (for N0) */
    /* flat-buffer offsets (SC_NONE when absent) and element counts */
    size_t poff[P_SLOTS], pn[P_SLOTS];
    size_t soff[S_SLOTS], sn[S_SLOTS];
    /* planned buffers (valid after sc_plan) */
    float *y, *dy;   /* output and its gradient, N*c*h*w each */
    float *save;     /* the op's saved floats (bn: batch mean, invstd, var) */
    int32_t *arg;    /* the op's saved indices (max pools: argmax into the
                        input sample) */
    size_t n_save, n_arg; /* their sizes, set by the op at OP_SCRATCH */
    float *qw;       /* quantised weights (pn[P_W] floats) when quantized;
                        with int_weights the net's shared wshared */
    int int_weights; /* a loaded model's quantised layer: its weights are the
                        integer levels in mant, P_W holds no floats, and a
                        forward turns mant into qw */
    struct sc_mantissas *mant; /* those levels (quant/mantissa.h), owned */
    float *cbias;    /* constants folded by compress: c*h*w per sample */
    float *tbias;    /* the same in training mode (NULL: cbias), where batch
                        norm gives a removed channel a different constant */
    float *live;     /* 1/0 per output channel (feature), see sc_liveness */
    int alias;       /* plan: y and dy are the input's buffers (in place) */
    int fuse_relu;   /* plan: a batch norm that also applies the relu after it */
    int dy_set;      /* plan: dy has one writer, which stores (=) rather than
                        adds (+=) into it, so it is not zeroed before backward */
    int fused;       /* plan: a relu its batch norm input applies */
} sc_node;

struct sc_optimizer;

/* The host's progress and log hooks and their bookkeeping (nn/progress.c). */
typedef struct sc_hooks {
    sc_progress_fn progress;
    void *progress_user;
    int every;
    sc_log_sink log;
    sc_reduce_fn reduce;       /* sc_net_set_reduce(): data-parallel steps */
    void *reduce_user;
    int blas_checked;          /* the BLAS warning was considered */
    int gamma_warned;          /* the gamma-without-quantiser warning went */
    int epoch_next;            /* last reported epoch + 1 */
    int stepped;               /* a train step succeeded on this net */
    double loss, task, q, acc; /* the last step's figures, when stepped */
    double t_step, t_epoch;    /* interval starts (monotonic seconds) */
    uint64_t img_step, img_epoch; /* images trained in the intervals */
} sc_hooks;

struct sc_net {
    int in_c, in_h, in_w;
    sc_node *nodes;
    int n_nodes, cap_nodes;
    int initialized;
    int training;
    int forward_only; /* a loaded model: no gradients, no dy buffers, no
                         weight-gradient partials or loss scratch */
    uint64_t seed;
    uint64_t drop_step; /* during a train step: its counter + 1 (dropout's
                           masks); else 0: dropout is the identity */
    /* trainable parameters, sorted by group */
    float *params, *grads;
    size_t n_params;
    size_t group_off[SC_GROUP_COUNT + 1];
    /* running statistics */
    float *state;
    size_t n_state;
    float *live;      /* backing store of every node's live[] */
    /* sc_net_calibrate(): each node's output range (lo, hi), and the images
     * it was measured on (0: none; calib NULL) */
    float *calib;
    int64_t calib_images;
    /* settings */
    double gamma, bn_momentum, bn_eps, quant_b0, quant_e0;
    double quant_b_max; /* SC_PARAM_QUANT_B_MAX: the bit depths' cap */
    double budget_bits, budget_weights; /* SC_PARAM_BUDGET_*_PCT (0: off) */
    int64_t budget_every;  /* SC_PARAM_BUDGET_EVERY */
    int bits_frozen;       /* SC_PARAM_QUANT_BITS_FROZEN: b does not learn */
    sc_loss loss;       /* the task loss (ops/loss.c) */
    float *loss_weights; /* its class weights (n_loss_weights), or NULL */
    int n_loss_weights;
    float label_smoothing;
    int64_t compress_every;
    uint64_t steps_since_compress;
    int64_t n0; /* quantised weights at construction, over all layers */
    /* threads */
    int threads;
    sc_pool *pool;
    /* plan */
    int plan_n;       /* batch size the pointers are laid out for */
    int plan_cap_n;   /* batch size the arena was sized for */
    int plan_dirty;   /* shapes changed: recompute everything */
    float *arena;
    size_t arena_floats;
    float *probs;     /* the loss's scratch (softmax output), N * classes */
    float *scratch;   /* per-thread op scratch (packed im2col panels) */
    size_t scratch_per_thread;
    float *wgrad;     /* per-thread weight-gradient partials */
    size_t wgrad_per_thread;
    float *packed;    /* a layer's weights packed for the kernels (shared) */
    float *wshared;   /* an int_weights layer's weights as floats (shared) */
    size_t packed_floats;
    const sc_kernel *kernel; /* GEMM micro-kernel of the conv layers */
    int conv_algo;    /* an sc_conv_algo (SC_PARAM_CONV_ALGO) */
    const float *input; /* the current batch (caller memory, or host_x) */
    /* the forward sc_net_train_forward kept for sc_net_train_backward: its
     * batch (0: none; every plan and setter drops it) and input copy */
    int host_n;
    float *host_x;
    size_t host_x_cap;
    struct sc_optimizer *opt;
    sc_hooks hooks;
};

/* ---- graph (graph.c) ---- */
/* Appends a node; validates in-range inputs and computes the output shape
 * through the op's shape function. On failure nothing changes. */
sc_status sc_graph_add(sc_net *net, sc_node *proto, int *id);
/* A public builder's append: checks net and id, that the net is not yet
 * initialised, then sc_graph_add. fn names the builder in messages. */
sc_status sc_net_append(sc_net *net, sc_node *proto, int *id, const char *fn);
/* Group of a parameter slot. */
int sc_slot_group(int slot);

/* ---- parameters (params.c) ---- */
/* New parameter, gradient, state and live buffers, allocated before the
 * net changes (sc_params_stage), then either put in place
 * (sc_params_commit, which cannot fail) or dropped (sc_params_unstage). So a
 * caller with more to allocate in between (the optimizer's moments:
 * optim/optimizer.h's sc_optimizer_relayout) can fail with nothing
 * changed. */
typedef struct sc_layout {
    float *params, *grads, *state, *live;
    size_t np, ns;
} sc_layout;
/* Allocates buffers for new_np parameters and new_ns state floats and the
 * live masks of the nodes' current channel counts. ENOMEM: nothing kept. */
sc_status sc_params_stage(sc_net *net, size_t new_np, size_t new_ns,
                          sc_layout *l);
void sc_params_unstage(sc_layout *l);
/* Element i of the new params comes from old element pmap[i] (SC_NONE:
 * zero), likewise smap for state; NULL maps mean "fresh, all zero". The
 * gradients start at zero. Takes l's buffers. */
void sc_params_commit(sc_net *net, sc_layout *l, const size_t *pmap,
                      const size_t *smap);
/* Stage and commit, for a net without an optimizer (SC_ERR_STATE with
 * one). On failure (ENOMEM) nothing changes except the nodes' counts, which
 * the caller restores. */
sc_status sc_params_relayout(sc_net *net, const size_t *pmap,
                             const size_t *smap, size_t new_np,
                             size_t new_ns);
/* out[i] = old[map[i]] (0 where map[i] is SC_NONE or map is NULL). */
void sc_gather(float *out, const float *old, const size_t *map, size_t n);
/* Computes offsets for the current counts: returns totals. */
void sc_params_offsets(sc_net *net, size_t *np, size_t *ns);
/* Pointer to a slot's floats, or NULL. */
float *sc_node_param(sc_net *net, sc_node *nd, int slot);
float *sc_node_grad(sc_net *net, sc_node *nd, int slot);
float *sc_node_state(sc_net *net, sc_node *nd, int slot);

/* ---- planning and execution (plan.c, exec.c) ---- */
/* Lays out the buffers for batch n (the arena only grows). SC_ERR_NOMEM
 * when they do not fit; the net's buffers are then as they were. */
sc_status sc_plan(sc_net *net, int n);
void sc_plan_free(sc_net *net);
/* What a forward and backward of one sample on one thread needs: the bytes
 * of the arena sc_plan lays out for it (plain: as a loaded model lays it
 * out, forward-only, with one shared float buffer for the quantised
 * layers' weights and SC_CONV_ALGO_AUTO) and the
 * operations: a multiply-add per
 * weight and output position of dense and conv layers, a max pool's
 * window per output, one per input element of every other layer and of the
 * net's input (sc_check_input reads each). The plan
 * stays as it was. SC_ERR_SHAPE when the bytes overflow. */
sc_status sc_plan_cost(sc_net *net, int plain, int64_t *bytes, double *ops);
/* Forward over all nodes for batch n (input in net->input). */
void sc_forward(sc_net *net, int n);
/* Forward of nodes [from, to) only (each quantised layer's quantiser
 * first), for the planned batch, reading the outputs earlier nodes left in
 * their buffers (input in net->input). */
void sc_forward_nodes(sc_net *net, int from, int to);
/* Zeroes the dy buffers that are accumulated into (those not dy_set), before
 * the loss writes the last node's dy and backward runs. */
void sc_zero_dy(sc_net *net, int n);
/* Backward from the output gradient in the last node's dy (zero the grads,
 * then every op in reverse order). */
void sc_backward(sc_net *net, int n);
/* 1 when every parameter gradient is finite (checked on the pool; a
 * quantised layer's weight gradients through its exponent gradients). */
int sc_grads_finite(sc_net *net);
/* After a successful training step on the planned batch: every op's
 * OP_COMMIT (batch norm folds its batch statistics into its running
 * statistics). */
void sc_commit_stats(sc_net *net);
/* SC_ERR_DIVERGED with a message when sc_commit_stats would store a
 * non-finite value; changes nothing. */
sc_status sc_commit_check(sc_net *net);

/* Input shape check shared by forward and train step. */
sc_status sc_check_input(const sc_net *net, const sc_tensor *x, int *n,
                         const char *fn);

/* Discards the calibrated ranges (int8/calib.c): the parameters changed. */
static inline void sc_calib_drop(sc_net *net)
{
    free(net->calib);
    net->calib = NULL;
    net->calib_images = 0;
}

static inline size_t sc_node_size(const sc_node *nd)
{
    return (size_t)nd->c * (size_t)nd->h * (size_t)nd->w;
}

#endif
