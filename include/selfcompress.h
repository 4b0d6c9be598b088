/**
 * \file selfcompress.h
 * \brief The public API of libselfcompress.
 *
 * libselfcompress trains neural networks that compress themselves while they
 * learn (Self-Compression, Csefalvay & Imber 2023): every dense/conv layer can
 * carry a learned bit depth b and exponent e per output channel, a size term
 * in the loss pushes the bit depths down, and channels whose bit depth reaches
 * zero are removed from the network.
 *
 * If it is not in this header, it is not API.
 *
 * A whole flow, in brief (error checks elided; every call returns sc_status):
 *
 * \code{.c}
 *     sc_net *net;
 *     int x, id;
 *     sc_net_create(&net, 1, 28, 28);               // input: 1x28x28 images
 *     x = SC_INPUT;
 *     sc_net_conv2d(net, x, 16, 3, 3, 1, 1, SC_NO_BIAS, &id);
 *     sc_net_batchnorm(net, id, SC_BN_AFFINE, &id);
 *     sc_net_relu(net, id, &id);
 *     sc_net_maxpool(net, id, 2, 2, &id);
 *     sc_net_flatten(net, id, &id);
 *     sc_net_dense(net, id, 10, SC_BIAS, &id);      // logits: the last layer
 *     sc_net_init(net, 42);                          // seeded He init
 *     sc_net_quantize(net, SC_ALL_LAYERS);           // self-compression on
 *     sc_net_set_param(net, SC_PARAM_GAMMA, 0.05);   // size/accuracy dial
 *
 *     sc_optimizer *opt;
 *     sc_optimizer_create(&opt, net, SC_OPT_ADAM);
 *     sc_optimizer_set_lr(opt, SC_GROUP_QUANT, 0.5);
 *
 *     sc_tensor *images;                             // N x 1 x 28 x 28
 *     int64_t shape[4] = {128, 1, 28, 28};
 *     sc_tensor_wrap(&images, 4, shape, pixels);     // no copy
 *     sc_step_stats st = SC_STEP_STATS_INIT;
 *     sc_net_train_step(net, opt, images, labels, &st); // st.loss, st.accuracy
 *     sc_net_compress(net, NULL);                    // drop dead channels
 *
 *     sc_optimizer_free(opt);                        // destructors take NULL
 *     sc_tensor_free(images);
 *     sc_net_free(net);
 * \endcode
 *
 * Errors are values: every function that can fail returns an sc_status, and
 * sc_last_error() gives a human-readable message for the calling thread's last
 * failure. A failed call leaves every object as it was. The library never
 * prints and never exits.
 *
 * Threads: different objects may be used from different threads at once; one
 * object (and a net with the optimizer attached to it) must not be used from
 * two threads at the same time. sc_net_set_threads() sets how many threads a
 * net uses for its own work; results do not depend on which threads run
 * other nets. The library keeps no mutable global state of its own except
 * each thread's sc_last_error() message. It drives OpenBLAS single-threaded
 * and runs its own thread pool, so sc_net_create() (every net and loaded
 * model starts there) and sc_net_set_threads() call
 * openblas_set_num_threads(1) unless openblas_get_num_threads() is 1
 * already; that sets OpenBLAS's process-wide thread count (always to the
 * same value). Hooks (sc_net_set_progress(),
 * sc_net_set_log()) run on the thread that made the call.
 */
#ifndef SELFCOMPRESS_H
#define SELFCOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------- */

#define SC_VERSION_MAJOR 0 /**< incompatible ABI changes (the SONAME) */
#define SC_VERSION_MINOR 8 /**< compatible additions */
#define SC_VERSION_PATCH 0 /**< fixes */
/** MAJOR*10000 + MINOR*100 + PATCH, as sc_version_number() returns. */
#define SC_VERSION_NUMBER \
    (SC_VERSION_MAJOR * 10000 + SC_VERSION_MINOR * 100 + SC_VERSION_PATCH)

/* ---- Export macro ------------------------------------------------------ */

/** Marks exported declarations (default visibility; dllexport when
 *  building a Windows DLL). */
#if defined(_WIN32)
#  if defined(SC_BUILDING)
#    define SC_API __declspec(dllexport)
#  else
#    define SC_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define SC_API __attribute__((visibility("default")))
#else
#  define SC_API
#endif

/** The version of the loaded library (compare with SC_VERSION_NUMBER). */
SC_API unsigned sc_version_number(void);
/** The version of the loaded library as "MAJOR.MINOR.PATCH". */
SC_API const char *sc_version_string(void);

/* ---- BLAS kernel ------------------------------------------------------- */

/** The BLAS build and the kernel it chose for this CPU, e.g. OpenBLAS's
 *  "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell". Log it next to any timing. */
SC_API const char *sc_blas_info(void);
/** The name of the kernel running now, e.g. "Haswell". */
SC_API const char *sc_blas_kernel(void);
/** The best OpenBLAS core type this CPU supports ("SkylakeX", "Haswell",
 *  "Sandybridge"), or NULL when it cannot tell. */
SC_API const char *sc_blas_best_coretype(void);
/** 1 when the running kernel is below what the CPU supports (Debian 12's
 *  OpenBLAS runs "Prescott" or "Haswell" code on CPUs it does not know).
 *  OpenBLAS reads OPENBLAS_CORETYPE once, when it loads: a host application
 *  fixes this by setting OPENBLAS_CORETYPE=sc_blas_best_coretype() in its
 *  environment and re-executing itself (examples/blas_kernel.h shows how),
 *  or by setting the variable in the service that starts it. */
SC_API int sc_blas_kernel_suboptimal(void);
/** The library's own micro-kernel that runs the convolutions on this CPU,
 *  picked at run time: "avx512", "avx2" or "generic" (portable C). Dense
 *  layers run on the BLAS; convolutions on this kernel, which reads the
 *  images in place instead of unfolding them (docs/design.md). */
SC_API const char *sc_conv_kernel(void);
/** The library's integer micro-kernel that runs a model's int8 inference
 *  on this CPU, picked at run time: "avx512vnni", "avx2" or "generic"
 *  (portable C). All three give the same bits (since 0.8). */
SC_API const char *sc_int8_kernel(void);

/* ---- Errors ------------------------------------------------------------ */

/** Status codes. Values are append-only: a code never changes meaning. */
typedef enum sc_status {
    SC_OK = 0,              /**< success */
    SC_ERR_NULL = 1,        /**< a required pointer argument was NULL */
    SC_ERR_ARG = 2,         /**< an argument is out of its valid range */
    SC_ERR_SHAPE = 3,       /**< tensor or layer shapes do not fit */
    SC_ERR_NOMEM = 4,       /**< an allocation failed */
    SC_ERR_NONFINITE = 5,   /**< input data holds NaN or Inf */
    SC_ERR_LABEL = 6,       /**< a label is outside [0, classes) */
    SC_ERR_STATE = 7,       /**< the call is not valid in the object's state */
    SC_ERR_IO = 8,          /**< reading or writing a file failed */
    SC_ERR_FORMAT = 9,      /**< a file is truncated, corrupt or not of the kind read */
    SC_ERR_DIVERGED = 10,   /**< training produced NaN/Inf; nothing changed */
    SC_ERR_UNSUPPORTED = 11, /**< valid request this build cannot do */
    SC_ERR_HOST = 12        /**< the host's reduction hook reported failure */
} sc_status;

/** A fixed English description of a status code (never NULL). */
SC_API const char *sc_strerror(sc_status status);
/** The calling thread's message for its last failed call ("" if none). */
SC_API const char *sc_last_error(void);

/* ---- Tensors ----------------------------------------------------------- */

/** A float32 tensor of 1 to 4 dimensions, row-major (NCHW for images). */
typedef struct sc_tensor sc_tensor;

#define SC_MAX_DIMS 4 /**< most dimensions a tensor has */

/** A zero-filled tensor that owns its memory. */
SC_API sc_status sc_tensor_create(sc_tensor **out, int ndim,
                                  const int64_t *shape);
/** A tensor that owns a copy of data (numel floats, all finite or not). */
SC_API sc_status sc_tensor_from_data(sc_tensor **out, int ndim,
                                     const int64_t *shape, const float *data);
/** A tensor over the caller's memory (no copy). data must outlive it. */
SC_API sc_status sc_tensor_wrap(sc_tensor **out, int ndim,
                                const int64_t *shape, float *data);
/** Frees the handle (and the data it owns). NULL is a no-op. */
SC_API void sc_tensor_free(sc_tensor *t);
/** Number of dimensions, or 0 for NULL. */
SC_API int sc_tensor_ndim(const sc_tensor *t);
/** Size of dimension i, or -1 when t is NULL or i is out of range. */
SC_API int64_t sc_tensor_dim(const sc_tensor *t, int i);
/** Number of elements, or 0 for NULL. */
SC_API size_t sc_tensor_numel(const sc_tensor *t);
/** The element storage (numel floats), or NULL for NULL. */
SC_API float *sc_tensor_data(sc_tensor *t);
/** Copies count == numel floats out of the tensor. */
SC_API sc_status sc_tensor_copy_to(const sc_tensor *t, float *dst,
                                   size_t count);
/** Copies count == numel floats into the tensor. */
SC_API sc_status sc_tensor_copy_from(sc_tensor *t, const float *src,
                                     size_t count);

/* ---- Networks ---------------------------------------------------------- */

/** A network: a graph of layers, its parameters and its buffers. */
typedef struct sc_net sc_net;

/** Layer id of the network input, usable wherever a layer id is taken. */
#define SC_INPUT 0
/** "Every dense/conv layer", for sc_net_quantize() and reports. */
#define SC_ALL_LAYERS (-1)

/** Layer flags (bitwise or). */
enum sc_layer_flags {
    SC_NO_BIAS = 0,            /**< dense/conv: no bias */
    SC_BIAS = 1,               /**< dense/conv: add a learned bias */
    SC_BN_AFFINE = 2,          /**< batch norm: learned scale and shift */
    SC_BN_BATCH_STATS = 4,     /**< batch norm: batch statistics in eval too */
    SC_POOL_COUNT_PAD = 8      /**< average pool: the padding's zeros count
                                    in the mean (PyTorch's count_include_pad
                                    = True); without it the mean is over
                                    the window's part inside the input */
};

/** Layer kinds, as sc_net_layer_kind() reports them. Append-only. */
typedef enum sc_layer_kind {
    SC_LAYER_INPUT = 0,     /**< the network input (id SC_INPUT) */
    SC_LAYER_DENSE = 1,     /**< y = W x + b */
    SC_LAYER_CONV2D = 2,    /**< y = W * x + b (cross-correlation) */
    SC_LAYER_BATCHNORM = 3, /**< y = g (x - mean) / sqrt(var + eps) + beta */
    SC_LAYER_RELU = 4,      /**< y = max(x, 0) */
    SC_LAYER_MAXPOOL = 5,   /**< y = max over a kh x kw window */
    SC_LAYER_GAVGPOOL = 6,  /**< y[c] = mean over h, w of x[c] */
    SC_LAYER_GMAXPOOL = 7,  /**< y[c] = max over h, w of x[c] */
    SC_LAYER_FLATTEN = 8,   /**< C x H x W -> (C*H*W) */
    SC_LAYER_ADD = 9,       /**< y = a + b (residual join) */
    SC_LAYER_AVGPOOL = 10,  /**< y = mean over a kh x kw window */
    SC_LAYER_LEAKY_RELU = 11, /**< y = x > 0 ? x : alpha x */
    SC_LAYER_RELU6 = 12,    /**< y = min(max(x, 0), 6) */
    SC_LAYER_SIGMOID = 13,  /**< y = 1 / (1 + exp(-x)) */
    SC_LAYER_TANH = 14,     /**< y = tanh(x) */
    SC_LAYER_HARDSWISH = 15, /**< y = x relu6(x + 3) / 6 */
    SC_LAYER_CONCAT = 16,   /**< the inputs' channels one after another */
    SC_LAYER_DROPOUT = 17   /**< y = x m / (1 - p) in a training step */
} sc_layer_kind;

/** A new, empty network whose input samples are c x h x w (each at least
 *  1, c*h*w at most 2^28; SC_ERR_SHAPE otherwise). */
SC_API sc_status sc_net_create(sc_net **out, int c, int h, int w);
/** Frees the network. NULL is a no-op. Free its optimizer first or after:
 *  either order is fine. */
SC_API void sc_net_free(sc_net *net);

/*
 * Building: each call appends one layer fed by the layer `in` (an id an
 * earlier call returned, or SC_INPUT) and stores the new layer's id in *id.
 * The last layer added is the network's output (the logits). Layers can only
 * be added before sc_net_init().
 *
 * Limits (the same for layers a file describes): every layer's output per
 * sample, c*h*w, is at most 2^28 floats (1 GiB), like the input; a layer
 * has at most 2^28 weights; a convolution's zero-padded input, c x (h+2pad)
 * x (w+2pad), and its padded gradient image, out_channels x (h+kh-1) x
 * (w+kw-1) (h, w: its input's), are at most 2^30 floats per sample. A layer
 * beyond them gets SC_ERR_SHAPE and a message. They keep every index of a
 * sample within 32 bits, so the kernels' offset tables cannot overflow;
 * a batch (at most 2^24 samples) is sized with checked 64-bit arithmetic.
 */
/** Fully connected; flattens a c x h x w input. */
SC_API sc_status sc_net_dense(sc_net *net, int in, int out_features,
                              int flags, int *id);
/** 2-D convolution, kernel kh x kw, zero padding pad on every side. */
SC_API sc_status sc_net_conv2d(sc_net *net, int in, int out_channels, int kh,
                               int kw, int stride, int pad, int flags,
                               int *id);
/** Batch norm over channels (flags: SC_BN_AFFINE, SC_BN_BATCH_STATS). */
SC_API sc_status sc_net_batchnorm(sc_net *net, int in, int flags, int *id);
/** y = max(x, 0). */
SC_API sc_status sc_net_relu(sc_net *net, int in, int *id);
/** Max pool with a k x k window and the given stride, no padding
 *  (sc_net_add_layer() takes per-axis windows, strides and padding). */
SC_API sc_status sc_net_maxpool(sc_net *net, int in, int k, int stride,
                                int *id);
/** y[c] = mean over h, w of x[c]: c x h x w -> c x 1 x 1. */
SC_API sc_status sc_net_global_avgpool(sc_net *net, int in, int *id);
/** y[c] = max over h, w of x[c]: c x h x w -> c x 1 x 1. */
SC_API sc_status sc_net_global_maxpool(sc_net *net, int in, int *id);
/** c x h x w -> (c*h*w) x 1 x 1, no data movement. */
SC_API sc_status sc_net_flatten(sc_net *net, int in, int *id);
/** Element-wise sum of two layers of the same shape. */
SC_API sc_status sc_net_add(sc_net *net, int a, int b, int *id);

/** The most inputs a layer takes (a concatenation's). */
#define SC_MAX_LAYER_INPUTS 16

/**
 * A layer described by its attributes, for sc_net_add_layer(): the one
 * builder every layer kind has (the functions above are shorthands for it)
 * and the form sc_net_layer_desc() reports a layer in. A field a kind does
 * not take must be 0; a stride or group count of 0 means 1. Start from
 * SC_LAYER_DESC_INIT(kind); fields past .size (an older caller's struct)
 * are 0.
 *
 *   kind            takes
 *   DENSE           channels (output features), flags SC_BIAS
 *   CONV2D          channels, kernel, stride, pad, groups (dividing the
 *                   input and output channels; groups = input channels:
 *                   depthwise), flags SC_BIAS
 *   BATCHNORM       flags SC_BN_AFFINE, SC_BN_BATCH_STATS
 *   MAXPOOL         kernel, stride, pad (the padding never wins the max:
 *                   it acts as -inf)
 *   AVGPOOL         kernel, stride, pad, flags SC_POOL_COUNT_PAD (the
 *                   padding's zeros count in the mean, divisor kernel_h
 *                   kernel_w: PyTorch's count_include_pad = True; without
 *                   it the divisor is the window's elements inside the
 *                   input, count_include_pad = False)
 *   RELU, GAVGPOOL, GMAXPOOL, FLATTEN    nothing
 *   ADD             two inputs of the same shape
 *   CONCAT          2 .. SC_MAX_LAYER_INPUTS inputs of the same h x w
 *   DROPOUT         alpha = p in [0, 1): in sc_net_train_step each element
 *                   is zeroed with probability p and the others scaled by
 *                   1 / (1 - p); the mask is a hash of the net's seed, the
 *                   layer and the optimizer's step count, so a run (and a
 *                   resumed run) is reproducible. Everywhere else
 *                   (sc_net_forward in either mode, loaded models) it is
 *                   the identity
 *   LEAKY_RELU      alpha in [0, 1): y = x > 0 ? x : alpha x (alpha 0, the
 *                   SC_LAYER_DESC_INIT value, makes it a relu; PyTorch's
 *                   default slope 0.01 must be set)
 *   RELU6           nothing: y = min(max(x, 0), 6)
 *   SIGMOID         nothing: y = 1 / (1 + exp(-x))
 *   TANH            nothing: y = tanh(x)
 *   HARDSWISH       nothing: y = x min(max(x + 3, 0), 6) / 6 (PyTorch's)
 *
 * Output size along an axis: (in + 2 pad - kernel) / stride + 1 (rounded
 * down, PyTorch's ceil_mode = False). The pools' pad is at most kernel / 2
 * (rounded down) on each axis, as PyTorch's, else SC_ERR_ARG, so every
 * window overlaps the input; a window larger than the padded input is
 * SC_ERR_SHAPE.
 */
typedef struct sc_layer_desc {
    size_t size;            /**< sizeof(sc_layer_desc) as the caller knows */
    sc_layer_kind kind;     /**< what the layer is (the table above) */
    int channels;           /**< dense: output features; conv: output
                                 channels (1 .. 2^24) */
    int kernel_h;           /**< window height (1 .. 64) */
    int kernel_w;           /**< window width (1 .. 64) */
    int stride_h;           /**< step along the height (0: 1; at most 64) */
    int stride_w;           /**< step along the width (0: 1; at most 64) */
    int pad_h;              /**< zeros above and below (0 .. 64) */
    int pad_w;              /**< zeros left and right (0 .. 64) */
    int groups;             /**< conv: input and output channels split into
                                 this many groups, each group's outputs
                                 reading its inputs only (0: 1). Compress
                                 removes whole groups of a depthwise conv
                                 (one input channel per group) and keeps
                                 every channel of other grouped convs */
    int flags;              /**< sc_layer_flags */
    float alpha;            /**< a kind's scalar attribute: leaky relu's
                                 slope, dropout's p */
} sc_layer_desc;

/** A descriptor of the given kind with .size set and every field 0. */
#define SC_LAYER_DESC_INIT(kind) \
    {sizeof(sc_layer_desc), (kind), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0f}

/** Appends a layer of kind desc->kind reading the n_inputs layers in
 *  inputs[] (ids of earlier layers or SC_INPUT): SC_ERR_ARG for a field the
 *  kind does not take, out of its range, or the wrong input count;
 *  SC_ERR_SHAPE when the inputs' shapes do not fit it. */
SC_API sc_status sc_net_add_layer(sc_net *net, const sc_layer_desc *desc,
                                  const int *inputs, int n_inputs, int *id);
/** Layer id as a descriptor (its channels the current ones: fewer after
 *  compress), its inputs in inputs[] (SC_MAX_LAYER_INPUTS ints, or NULL)
 *  and their count in *n_inputs (or NULL). out->size must be set; a
 *  shorter struct gets the fields it has. The input layer is
 *  SC_ERR_ARG: it is sc_net_create()'s. */
SC_API sc_status sc_net_layer_desc(const sc_net *net, int id,
                                   sc_layer_desc *out, int *inputs,
                                   int *n_inputs);

/** Allocates the parameters and initialises them from seed: He (Kaiming)
 *  normal weights, zero biases, unit/zero batch-norm scale/shift. */
SC_API sc_status sc_net_init(sc_net *net, uint64_t seed);

/** Number of layers, the input included (ids are 0 .. count-1). */
SC_API int sc_net_layer_count(const sc_net *net);
/** The kind of layer id, or -1 when net is NULL or id is out of range. */
SC_API int sc_net_layer_kind(const sc_net *net, int id);
/** The current output shape of layer id per sample (channels, h, w). */
SC_API sc_status sc_net_layer_shape(const sc_net *net, int id, int *c, int *h,
                                    int *w);
/** Number of outputs per sample (the classes, for a classifier). */
SC_API int sc_net_output_size(const sc_net *net);
/** Number of trainable floats (weights, biases, norm and quantiser). */
SC_API size_t sc_net_param_count(const sc_net *net);
/** Copies all trainable floats, in the library's order, to dst. */
SC_API sc_status sc_net_get_params(const sc_net *net, float *dst,
                                   size_t count);
/** Overwrites all trainable floats (all must be finite). */
SC_API sc_status sc_net_set_params(sc_net *net, const float *src,
                                   size_t count);

/** A layer's parameter (or running statistic) slots. Append-only. */
typedef enum sc_layer_slot {
    SC_SLOT_WEIGHT = 0,       /**< dense [out][in features] (features in
                                   c, h, w order), conv [out][in / groups]
                                   [kh][kw]: PyTorch's layouts */
    SC_SLOT_BIAS = 1,         /**< dense/conv with SC_BIAS: [out] */
    SC_SLOT_NORM_SCALE = 2,   /**< affine batch norm: gamma [c] */
    SC_SLOT_NORM_SHIFT = 3,   /**< affine batch norm: beta [c] */
    SC_SLOT_RUNNING_MEAN = 4, /**< batch norm: [c] */
    SC_SLOT_RUNNING_VAR = 5   /**< batch norm: [c], at least 0 */
} sc_layer_slot;

/** The shape of layer id's slot (after sc_net_init(); the current channels
 *  after compress): *ndim dimensions into shape[0 .. *ndim). SC_ERR_ARG
 *  when the layer has no such slot (a relu's weights, a bias-free conv's
 *  bias), naming the layer; SC_ERR_STATE before sc_net_init(). */
SC_API sc_status sc_net_layer_param_shape(const sc_net *net, int id,
                                          sc_layer_slot slot, int64_t shape[4],
                                          int *ndim);
/** Copies layer id's slot to dst (count = its elements; SC_ERR_SHAPE
 *  otherwise). A quantised layer's weights are its float weights w, which
 *  the quantiser rounds in every forward. */
SC_API sc_status sc_net_get_layer_param(const sc_net *net, int id,
                                        sc_layer_slot slot, float *dst,
                                        size_t count);
/** Overwrites layer id's slot from src: every value finite
 *  (SC_ERR_NONFINITE), running variances at least 0 (SC_ERR_ARG); on
 *  failure nothing changes. The optimizer's moments stay as they are. */
SC_API sc_status sc_net_set_layer_param(sc_net *net, int id,
                                        sc_layer_slot slot, const float *src,
                                        size_t count);

/** Numeric settings of a net. Append-only. */
typedef enum sc_param {
    SC_PARAM_GAMMA = 0,       /**< size-loss weight (default 0). A train
                                   step with gamma > 0 on a net with no
                                   quantised layer warns once through the
                                   log hook (sc_net_set_log()): nothing
                                   would compress */
    SC_PARAM_BN_MOMENTUM = 1, /**< running-stat update rate (default 0.1) */
    SC_PARAM_BN_EPS = 2,      /**< batch-norm epsilon (default 1e-5) */
    SC_PARAM_QUANT_B0 = 3,    /**< initial bit depth (default 5; 8 before
                                   0.2: docs/results.md measured 5 better) */
    SC_PARAM_QUANT_E0 = 4,    /**< fixed initial exponent; NaN (default):
                                   per channel from max |w| */
    SC_PARAM_COMPRESS_EVERY = 5, /**< train steps between automatic
                                   compress() calls; 0 (default): never.
                                   Steps per epoch: at each epoch end */
    SC_PARAM_CONV_ALGO = 6,   /**< how conv layers compute: an sc_conv_algo
                                   (default SC_CONV_ALGO_AUTO; since 0.3).
                                   Like the thread count, a choice of this
                                   process: not saved in files (a loaded
                                   sc_model starts with AUTO;
                                   sc_model_set_param() changes it) */
    SC_PARAM_QUANT_B_MAX = 7, /**< the largest bit depth a channel may
                                   take, in [1, 32] (since 0.5; default
                                   8, where every channel fits an int8
                                   pipeline, 4 makes it int4; the cost of
                                   8 against 32: docs/results.md). After every
                                   step b is brought back to the cap, and
                                   setting a lower cap brings the current
                                   b's down; sc_net_quantize() starts at
                                   min(SC_PARAM_QUANT_B0, the cap) and
                                   sc_net_set_quant() refuses b above it */
    SC_PARAM_BUDGET_BITS_PCT = 8, /**< the size budget (since 0.6): bits
                                   as a % of the float weights' (the size
                                   report's bits_pct), in [0, 100]; 0
                                   (default): not a condition. With this or
                                   SC_PARAM_BUDGET_WEIGHTS_PCT above 0, a
                                   train step after which
                                   sc_optimizer_steps() is a multiple of
                                   SC_PARAM_BUDGET_EVERY checks the size
                                   report; once both set conditions hold,
                                   the net compresses itself and sets
                                   SC_PARAM_QUANT_BITS_FROZEN, logs it
                                   (SC_LOG_INFO) and fires an
                                   SC_PROGRESS_BUDGET record. Kept in
                                   checkpoints */
    SC_PARAM_BUDGET_WEIGHTS_PCT = 9, /**< the budget's live weights as a %
                                   of the quantised weights at construction
                                   (weights_pct), in [0, 100]; 0 (default):
                                   not a condition */
    SC_PARAM_BUDGET_EVERY = 10, /**< train steps between budget checks, in
                                   [1, 2^31) (default 20) */
    SC_PARAM_QUANT_BITS_FROZEN = 11, /**< 1: the optimizer leaves every bit
                                   depth as it is (their moments too), the
                                   exponents and weights go on learning;
                                   0 (default): b learns. Set by the budget
                                   on reaching it, and by the host at will;
                                   no budget check runs while it is 1. Kept
                                   in checkpoints */
    SC_PARAM_INFERENCE = 12       /**< a model's arithmetic, an
                                   sc_inference (since 0.8): a model whose
                                   file holds activation ranges
                                   (sc_net_calibrate()) starts with
                                   SC_INFERENCE_INT8, any other with
                                   SC_INFERENCE_FP32, the only value it
                                   takes. A model setting only */
} sc_param;

/** Values of SC_PARAM_INFERENCE. Append-only. */
typedef enum sc_inference {
    SC_INFERENCE_FP32 = 0, /**< float arithmetic: the logits of the net
                                that was saved, bit for bit */
    SC_INFERENCE_INT8 = 1  /**< every layer's input in 8 bits (per-tensor
                                scales from the calibrated ranges), integer
                                products and sums, batch norm, biases and
                                relus folded into the requantisation;
                                logits in float (docs/int8.md) */
} sc_inference;

/** Values of SC_PARAM_CONV_ALGO. Both compute the same convolution; they
 *  differ in speed and in rounding. Append-only. */
typedef enum sc_conv_algo {
    SC_CONV_ALGO_AUTO = 0,  /**< the fastest the library has for each layer:
                                 Winograd F(4x4, 5x5) for stride-1 5x5
                                 layers with padding <= 2 and 2 or more
                                 input channels (4 multiplies per output
                                 instead of 25; results within 5e-5 of the
                                 outputs' scale of the direct ones), a
                                 direct GEMM for every other layer */
    SC_CONV_ALGO_DIRECT = 1 /**< a direct GEMM for every layer: products
                                 summed tap by tap, as before 0.3 */
} sc_conv_algo;

/** Sets setting p (SC_ERR_ARG when value is out of its range). */
SC_API sc_status sc_net_set_param(sc_net *net, sc_param p, double value);
/** Reads setting p into *value. */
SC_API sc_status sc_net_get_param(const sc_net *net, sc_param p,
                                  double *value);

/** Threads this net uses (>= 1, default 1). */
SC_API sc_status sc_net_set_threads(sc_net *net, int threads);

/** Training mode (batch statistics; the default) or eval (running). */
SC_API sc_status sc_net_set_training(sc_net *net, int training);

/** Inference: x is N x c x h x w, out is N x outputs (logits). */
SC_API sc_status sc_net_forward(sc_net *net, const sc_tensor *x,
                                sc_tensor *out);

/** What one training step measured. Set .size = sizeof(sc_step_stats)
 *  (SC_STEP_STATS_INIT does): fields past .size are never written, so old
 *  callers keep working when fields are appended. */
typedef struct sc_step_stats {
    size_t size;       /**< sizeof(sc_step_stats) as the caller knows it */
    double loss;       /**< total loss: task_loss + gamma * size_loss
                            (+ distill_loss) */
    double task_loss;  /**< the net's loss (sc_loss) on the batch:
                            SOFTMAX_XENT the mean cross-entropy (weighted
                            and smoothed as set), MSE and BCE_LOGITS the
                            mean over the n*k outputs, HOST the host_loss
                            handed to sc_net_train_backward() */
    double size_loss;  /**< Q, average bits per original weight */
    double accuracy;   /**< SOFTMAX_XENT: fraction of the batch whose
                            largest logit is its label; BCE_LOGITS: fraction
                            of the n*k outputs whose sign matches the
                            target (logit > 0 where target > 0.5); MSE and
                            HOST: 0 */
    int loss_kind;     /**< the sc_loss of the step */
    double distill_loss; /**< the distillation term the step added to loss
                              (sc_batch.teacher; 0 without one; since
                              0.7) */
} sc_step_stats;
/** An sc_step_stats with .size set and zero figures. */
#define SC_STEP_STATS_INIT {sizeof(sc_step_stats), 0, 0, 0, 0, 0, 0}

/* ---- Optimizers -------------------------------------------------------- */

/** An optimizer: the update rule, its hyper-parameters and state. */
typedef struct sc_optimizer sc_optimizer;

/** Update rules. Append-only. */
typedef enum sc_optimizer_kind {
    SC_OPT_SGD = 0,   /**< SGD with momentum (0.9) / Nesterov options */
    SC_OPT_ADAM = 1,  /**< Adam, L2 weight decay added to the gradient */
    SC_OPT_ADAMW = 2  /**< Adam with decoupled weight decay */
} sc_optimizer_kind;

/** Parameter groups; each has its own learning rate and weight decay. */
typedef enum sc_group {
    SC_GROUP_WEIGHTS = 0,    /**< dense and conv weights */
    SC_GROUP_BIASES = 1,     /**< biases and batch-norm scale/shift */
    SC_GROUP_QUANT_BITS = 2, /**< quantiser bit depths b */
    SC_GROUP_QUANT_EXP = 3,  /**< quantiser exponents e */
    SC_GROUP_COUNT = 4,
    SC_GROUP_QUANT = -2,     /**< setters only: both quantiser groups */
    SC_GROUP_ALL = -1,       /**< setters only: weights and biases, the
                                  model's own parameters; the quantiser's
                                  groups keep their rates, which are set
                                  by name (SC_GROUP_QUANT, _QUANT_BITS,
                                  _QUANT_EXP) or with SC_GROUP_EVERY
                                  (every group before 0.7) */
    SC_GROUP_EVERY = -3      /**< setters only: every group, the
                                  quantiser's included (since 0.7) */
} sc_group;

/** Optimizer hyper-parameters (sc_optimizer_set). Append-only. */
typedef enum sc_opt_param {
    SC_OPT_LR = 0,           /**< per group */
    SC_OPT_WEIGHT_DECAY = 1, /**< per group */
    SC_OPT_MOMENTUM = 2,     /**< SGD momentum, all groups (default 0.9) */
    SC_OPT_NESTEROV = 3,     /**< SGD: 1 for Nesterov momentum (default 0) */
    SC_OPT_BETA1 = 4,        /**< Adam (default 0.9) */
    SC_OPT_BETA2 = 5,        /**< Adam (default 0.999) */
    SC_OPT_EPS = 6           /**< Adam (default 1e-8) */
} sc_opt_param;

/** An optimizer for net, attached to it (one per net; a second create
 *  fails with SC_ERR_STATE until the first is freed). Defaults: lr 1e-3
 *  (Adam) or 0.01 (SGD) for weights and biases, 0.5 for the bit depths and
 *  0.05 for the exponents (0.5 before 0.2; docs/results.md), no weight
 *  decay. */
SC_API sc_status sc_optimizer_create(sc_optimizer **out, sc_net *net,
                                     sc_optimizer_kind kind);
/** Frees and detaches. NULL is a no-op. */
SC_API void sc_optimizer_free(sc_optimizer *opt);
/** Sets a hyper-parameter; group is used by LR and WEIGHT_DECAY only. */
SC_API sc_status sc_optimizer_set(sc_optimizer *opt, sc_opt_param p,
                                  int group, double value);
/** Reads a hyper-parameter (of group, for LR and WEIGHT_DECAY; a single
 *  group there, not SC_GROUP_ALL, SC_GROUP_QUANT or SC_GROUP_EVERY). */
SC_API sc_status sc_optimizer_get(const sc_optimizer *opt, sc_opt_param p,
                                  int group, double *value);
/** Shorthand for sc_optimizer_set(opt, SC_OPT_LR, group, lr). */
SC_API sc_status sc_optimizer_set_lr(sc_optimizer *opt, int group,
                                     double lr);
/** Steps taken so far. */
SC_API uint64_t sc_optimizer_steps(const sc_optimizer *opt);

/** One training step on a batch: forward, loss (+ gamma * Q), backward,
 *  update. x is N x c x h x w, labels N ints in [0, outputs). stats may be
 *  NULL. On any error nothing changes. SC_ERR_DIVERGED when the loss, a
 *  gradient, a new parameter, an optimizer moment or a new running
 *  statistic would not be finite; after a step that succeeds, every
 *  quantised channel's b is at most 32 and its e within [-64, 64] (values
 *  the update takes beyond are brought back to the bound). */
SC_API sc_status sc_net_train_step(sc_net *net, sc_optimizer *opt,
                                   const sc_tensor *x, const int32_t *labels,
                                   sc_step_stats *stats);

/* ---- Losses ------------------------------------------------------ */

/** The task loss a train step minimises (with gamma * Q added). k is the
 *  net's output size, n the batch. Append-only. */
typedef enum sc_loss {
    SC_LOSS_SOFTMAX_XENT = 0, /**< softmax cross-entropy on labels in
                                   [0, k), as PyTorch's CrossEntropyLoss
                                   (the default): optional class weights
                                   (the weighted mean sum_i w[y_i] l_i /
                                   sum_i w[y_i]) and label smoothing eps
                                   (targets (1 - eps) onehot + eps / k; with
                                   weights, PyTorch's weighting of the
                                   smoothing term: each class c's share
                                   times w[c], over the same sum) */
    SC_LOSS_MSE = 1,          /**< mean squared error on float targets
                                   [n, k]: sum (z - t)^2 / (n k) */
    SC_LOSS_BCE_LOGITS = 2,   /**< binary cross-entropy of sigmoid(z) on
                                   float targets [n, k] in [0, 1], mean over
                                   the n k outputs: max(z, 0) - z t +
                                   log1p(exp(-|z|)) (PyTorch's
                                   BCEWithLogitsLoss) */
    SC_LOSS_HOST = 3          /**< the host's own: sc_net_train_forward(),
                                   then sc_net_train_backward() with its
                                   dL/dz; sc_net_train_step() and _v2 refuse
                                   it (SC_ERR_STATE) */
} sc_loss;

/** A loss setting. Set .size (SC_LOSS_DESC_INIT does); fields past .size
 *  take their defaults (no weights, no smoothing). */
typedef struct sc_loss_desc {
    size_t size;             /**< sizeof(sc_loss_desc) as the caller knows */
    sc_loss kind;            /**< the loss */
    const float *class_weights; /**< SOFTMAX_XENT only: one weight per
                                   output, finite and >= 0 (copied), or
                                   NULL (all 1) */
    int n_class_weights;     /**< their count: sc_net_output_size(), or 0
                                   with NULL */
    float label_smoothing;   /**< SOFTMAX_XENT only: in [0, 1) (default 0) */
} sc_loss_desc;
/** A loss setting of kind with no weights and no smoothing. */
#define SC_LOSS_DESC_INIT(kind) {sizeof(sc_loss_desc), (kind), NULL, 0, 0.0f}

/** Sets the net's loss (default: SC_LOSS_SOFTMAX_XENT without weights or
 *  smoothing). SC_ERR_ARG, and nothing changes, for an unknown kind,
 *  weights or smoothing on another kind, a weight count other than the
 *  output size, a weight not finite or negative, smoothing outside [0, 1).
 *  Checkpoints keep the setting; model files (inference) do not. */
SC_API sc_status sc_net_set_loss(sc_net *net, const sc_loss_desc *d);
/** The net's loss setting into *out (out->size must be set; a shorter
 *  struct gets the fields it has). out->class_weights then points at the
 *  net's copy (NULL without weights), valid until the next
 *  sc_net_set_loss() or sc_net_free(). */
SC_API sc_status sc_net_get_loss(const sc_net *net, sc_loss_desc *out);

/** A training batch. Set .size (SC_BATCH_INIT does). x is N x c x h x w;
 *  give labels (N ints in [0, k)) for SC_LOSS_SOFTMAX_XENT, targets (an
 *  N x k tensor of finite floats, in [0, 1] for SC_LOSS_BCE_LOGITS) for
 *  SC_LOSS_MSE and SC_LOSS_BCE_LOGITS, and leave the other NULL. */
typedef struct sc_batch {
    size_t size;             /**< sizeof(sc_batch) as the caller knows */
    const sc_tensor *x;      /**< the inputs */
    const int32_t *labels;   /**< class labels, or NULL */
    const sc_tensor *targets;/**< float targets, or NULL */
    const sc_tensor *teacher;/**< knowledge distillation (since 0.7;
                                  SC_LOSS_SOFTMAX_XENT only): a teacher's
                                  logits for these inputs, N x k (of a
                                  loaded float model: its
                                  sc_model_forward() of x), or NULL. The
                                  step adds distill_weight * T^2 * the mean
                                  over the batch of KL(softmax(teacher / T)
                                  || softmax(logits / T)) to the task loss
                                  (T = distill_temperature) */
    double distill_temperature; /**< T > 0 (SC_BATCH_INIT: 4) */
    double distill_weight;      /**< >= 0 (SC_BATCH_INIT: 1) */
} sc_batch;
/** An empty sc_batch with .size set and the distillation defaults. */
#define SC_BATCH_INIT {sizeof(sc_batch), NULL, NULL, NULL, NULL, 4.0, 1.0}

/** sc_net_train_step() for any loss the library computes: the same step
 *  on b's inputs and the labels or targets the net's loss takes.
 *  SC_ERR_ARG when b gives the other one (or both, or neither),
 *  SC_ERR_LABEL for a label out of range, SC_ERR_SHAPE for targets not
 *  N x k, SC_ERR_NONFINITE for a target NaN or Inf, SC_ERR_ARG for a BCE
 *  target outside [0, 1]; SC_ERR_STATE with SC_LOSS_HOST. With a teacher:
 *  SC_ERR_STATE unless the loss is SC_LOSS_SOFTMAX_XENT, SC_ERR_SHAPE for
 *  teacher logits not N x k, SC_ERR_NONFINITE for a NaN or Inf among them,
 *  SC_ERR_ARG for a temperature not > 0 or a weight not >= 0 (or either
 *  not finite). On any error nothing changes. sc_net_train_step(net, opt,
 *  x, labels, stats) is this with labels. */
SC_API sc_status sc_net_train_step_v2(sc_net *net, sc_optimizer *opt,
                                      const sc_batch *b,
                                      sc_step_stats *stats);

/** The net's task loss on b in the net's current mode (training: batch
 *  statistics, not folded into the running ones), without the size loss,
 *  gradient or update, into *task_loss (stats' task_loss) and, when not
 *  NULL, *accuracy (stats' accuracy). b as for sc_net_train_step_v2(),
 *  whose teacher is not read; SC_ERR_STATE with SC_LOSS_HOST. */
SC_API sc_status sc_net_eval_loss(sc_net *net, const sc_batch *b,
                                  double *task_loss, double *accuracy);

/** The first half of a step with the host's loss (the net's loss must be
 *  SC_LOSS_HOST, else SC_ERR_STATE): the training-mode forward of x (as a
 *  train step runs it), the outputs into logits (N x k), and what backward
 *  needs kept in the net (x is copied). Running or changing the net in
 *  any other way before sc_net_train_backward() (a forward, a step,
 *  compress, a setter) drops what was kept. */
SC_API sc_status sc_net_train_forward(sc_net *net, const sc_tensor *x,
                                      sc_tensor *logits);

/** The second half: backward from the host's dL/dlogits (dlogits: N x k of
 *  the kept forward's batch, finite; the host's loss is a mean or sum as it
 *  chooses), the size loss gamma * Q added, the checks and the update of
 *  sc_net_train_step() (SC_ERR_DIVERGED when host_loss + gamma * Q, a
 *  gradient, a new parameter or running statistic would not be finite;
 *  on any error nothing changes). stats->task_loss is host_loss, accuracy
 *  0. SC_ERR_STATE when no forward is kept (none was run, or the net ran
 *  or changed since); SC_ERR_SHAPE or SC_ERR_NONFINITE for dlogits. The
 *  kept forward is used up by a backward that reached the backward pass
 *  (a success, or SC_ERR_DIVERGED on a gradient or update); after an
 *  argument error it stays for another call. */
SC_API sc_status sc_net_train_backward(sc_net *net, sc_optimizer *opt,
                                       const sc_tensor *dlogits,
                                       double host_loss,
                                       sc_step_stats *stats);

/* ---- Progress and log hooks -------------------------------------------- */
/*
 * A host that wants progress lines or the library's messages registers
 * callbacks on a net; the library itself never prints. Callbacks run on
 * the thread that made the call (train step, compress, ...), after the work
 * is done. They may query the net (sc_net_size_report(), sc_net_get_quant(),
 * ...) but must not change, train, compress or free it. With no hook set
 * nothing is computed for it; with a progress hook the size figures are
 * computed on the reporting steps only, and nothing is allocated.
 */

/** What a progress record reports. Append-only. */
typedef enum sc_progress_kind {
    SC_PROGRESS_STEP = 0,  /**< after every n-th train step */
    SC_PROGRESS_EPOCH = 1, /**< from sc_net_report_epoch() */
    SC_PROGRESS_BUDGET = 2 /**< once, at the train step that reached the
                                size budget (SC_PARAM_BUDGET_BITS_PCT):
                                bits_pct and weights_pct as compressed */
} sc_progress_kind;

/** One progress record. The library sets .size to sizeof(sc_progress) as
 *  it knows it: read only fields that end within .size (a field f is there
 *  when offsetof(sc_progress, f) + sizeof f <= p->size). Fields are only
 *  ever appended. */
typedef struct sc_progress {
    size_t size;           /**< sizeof(sc_progress) of the library */
    int kind;              /**< sc_progress_kind */
    int epoch;             /**< EPOCH: as reported; STEP: last reported + 1
                                (0 before any report: the epoch running) */
    uint64_t step;         /**< steps taken: sc_optimizer_steps() */
    double loss;           /**< last step: task_loss + gamma * size_loss */
    double task_loss;      /**< last step: its task loss (the net's
                                sc_loss: sc_step_stats.task_loss) */
    double size_loss;      /**< last step: Q, bits per original weight */
    double accuracy;       /**< last step: sc_step_stats.accuracy */
    double bits_pct;       /**< now: sc_net_size_report(SC_ALL_LAYERS) */
    double weights_pct;    /**< now: the same report's weights_pct */
    double images_per_sec; /**< images trained / seconds, over the interval */
    double seconds;        /**< the interval: wall clock since the previous
                                record of this kind (or the hook was set) */
    double test_accuracy;  /**< EPOCH: as reported; STEP: NaN */
} sc_progress;

/** Receives a progress record (valid during the call only). */
typedef void (*sc_progress_fn)(const sc_progress *p, void *user);

/** Calls fn(p, user) after every every_n-th train step (when
 *  sc_optimizer_steps() is a multiple of every_n, every_n >= 1) and on
 *  sc_net_report_epoch(). fn NULL removes the hook. Setting it starts the
 *  interval of both record kinds. */
SC_API sc_status sc_net_set_progress(sc_net *net, sc_progress_fn fn,
                                     void *user, int every_n);
/** Fires an SC_PROGRESS_EPOCH record for the host's epoch (>= 0) with its
 *  test_accuracy (any value, NaN when it has none) and the last step's
 *  figures. The library has no epochs: call this at the end of each.
 *  SC_OK and nothing happens without a progress hook. */
SC_API sc_status sc_net_report_epoch(sc_net *net, int epoch,
                                     double test_accuracy);

/** Message levels. Append-only. */
typedef enum sc_log_level {
    SC_LOG_DEBUG = 0,  /**< detail for the library's developers */
    SC_LOG_INFO = 1,   /**< e.g. what compress removed */
    SC_LOG_WARN = 2    /**< e.g. a BLAS kernel below the CPU */
} sc_log_level;

/** Receives one message (one line, no newline; valid during the call). */
typedef void (*sc_log_fn)(int level, const char *msg, void *user);

/** Calls fn(level, msg, user) for the net's messages; fn NULL removes the
 *  hook. On the first hook set on a net, warns (SC_LOG_WARN) when
 *  sc_blas_kernel_suboptimal(). sc_net_compress() logs (SC_LOG_INFO) the
 *  channels it removed. */
SC_API sc_status sc_net_set_log(sc_net *net, sc_log_fn fn, void *user);

/** What a reduction hook is handed (sc_reduce_fn). Append-only. */
typedef enum sc_reduce_what {
    SC_REDUCE_GRADS = 0, /**< the flat gradient buffer and the step's figures */
    SC_REDUCE_STATE = 1  /**< the running statistics (batch norm's means and
                              variances) after the step folded its batch in */
} sc_reduce_what;

/** The step's figures handed with SC_REDUCE_GRADS, as indices into
 *  figures[]; the host averages each over its ranks. Append-only. */
typedef enum sc_reduce_figure {
    SC_REDUCE_FIG_FAILED = 0,   /**< 1 when this rank's loss or statistics
                                     were not finite (its gradients are then
                                     0), else 0: any rank's failure fails the
                                     step on every rank */
    SC_REDUCE_FIG_TASK = 1,     /**< the task loss on the local batch */
    SC_REDUCE_FIG_ACCURACY = 2, /**< the accuracy on the local batch */
    SC_REDUCE_FIG_COUNT = 3     /**< the number of figures */
} sc_reduce_figure;

/** Reduces data[0 .. n) and figures[0 .. n_figures) in place, as every rank
 *  does at the same moment (e.g. MPI_Allreduce with MPI_SUM, then divide by
 *  the number of ranks): the average of the ranks' values, the same bits on
 *  every rank. Returns 0 on success; anything else fails the step with
 *  SC_ERR_HOST. figures is NULL (n_figures 0) for SC_REDUCE_STATE. */
typedef int (*sc_reduce_fn)(sc_reduce_what what, float *data, size_t n,
                            double *figures, int n_figures, void *user);

/** Makes every train step (sc_net_train_step(), _v2 and
 *  sc_net_train_backward()) data-parallel through the host: fn NULL removes
 *  the hook. Once per step, after backward and before the optimizer update,
 *  fn(SC_REDUCE_GRADS, grads, n_grads, figures, SC_REDUCE_FIG_COUNT, user)
 *  gets the whole flat gradient buffer (weights, biases, norm parameters,
 *  bit depths and exponents, the size loss's gamma * dQ/db included) and the
 *  step's figures (sc_reduce_figure); the update, the finite checks and
 *  stats use what it left there. Every rank then takes the same update from
 *  the same parameters, so the bit depths reach zero at the same step
 *  and sc_net_compress() removes the same channels everywhere. The hook is
 *  called on every step, also when this rank's loss is not finite (then
 *  with SC_REDUCE_FIG_FAILED 1), so the ranks never wait on one another.
 *  Batch norm normalises with the local batch's statistics (as PyTorch's
 *  DistributedDataParallel); after the update, a net with running statistics
 *  calls fn(SC_REDUCE_STATE, state, n_state, NULL, 0, user) so that they
 *  stay equal across ranks: the average of ranks that started equal is the
 *  running statistics of the ranks' averaged batch statistics. A non-zero
 *  return for SC_REDUCE_GRADS fails the step with SC_ERR_HOST and nothing
 *  changed; for SC_REDUCE_STATE with SC_ERR_HOST after the update was
 *  applied, the running statistics this rank's own. All ranks must build
 *  the same net with the same seed (or load the same checkpoint) and set
 *  the hook before their first step; the hook does not allocate in the
 *  library, which calls it from the step's calling thread. */
SC_API sc_status sc_net_set_reduce(sc_net *net, sc_reduce_fn fn, void *user);

/* ---- Self-compression -------------------------------------------------- */

/** Quantise layer id (dense or conv) or every dense/conv layer
 *  (SC_ALL_LAYERS) with learned per-output-channel bit depth and exponent,
 *  initialised from SC_PARAM_QUANT_B0 / SC_PARAM_QUANT_E0 (the default
 *  exponent keeps each channel's largest |w| unclamped when b0 >= 2). After
 *  sc_net_init(); an attached optimizer keeps its state for the existing
 *  parameters and starts the new b and e from zero state. */
SC_API sc_status sc_net_quantize(sc_net *net, int id);
/** 1 when layer id is quantised, else 0. */
SC_API int sc_net_is_quantized(const sc_net *net, int id);
/** Copies layer id's bit depths b / exponents e (count = its channels). */
SC_API sc_status sc_net_get_quant(const sc_net *net, int id, float *b,
                                  float *e, size_t count);
/** Sets them (either pointer may be NULL to leave it as it is). */
SC_API sc_status sc_net_set_quant(sc_net *net, int id, const float *b,
                                  const float *e, size_t count);

/** Size figures of one layer or (id = SC_ALL_LAYERS) the whole net, as
 *  defined by the self-compression spec. Set .size = sizeof(sc_size_report)
 *  (SC_SIZE_REPORT_INIT does); fields past .size are never written. */
typedef struct sc_size_report {
    size_t size;            /**< sizeof(sc_size_report) as the caller knows */
    int64_t in_channels;    /**< live input channels (0 for the whole net) */
    int64_t out_channels;   /**< live output channels (sum for the net) */
    int64_t weights;        /**< live weights: both ends alive */
    int64_t weights0;       /**< N0: quantised weights at construction */
    double bits;            /**< bits as stored: ceil(B) per live weight */
    double bits_pct;        /**< bits / (32 * N0) * 100 */
    double weights_pct;     /**< weights / N0 * 100 */
    double size_loss;       /**< Q: sum B * live_in * kh * kw / N0 */
    int64_t overhead_floats;/**< fp32 floats besides the weights: the
                                 biases of every dense/conv layer,
                                 quantised or not; the quantised layers'
                                 b and e (one each per channel); batch
                                 norm's gamma, beta, running mean and
                                 variance; the constant maps compress
                                 folded in (c*h*w floats per mode that
                                 has one, on any layer). For one layer:
                                 its biases, b and e and constant maps.
                                 Dead channels' floats count until
                                 compress removes them; the weights of
                                 layers that are not quantised are in
                                 none of the net's figures */
} sc_size_report;
/** An sc_size_report with .size set and zero figures. */
#define SC_SIZE_REPORT_INIT {sizeof(sc_size_report), 0, 0, 0, 0, 0, 0, 0, 0, 0}

/** Fills report with layer id's figures (a dense/conv layer) or, for
 *  SC_ALL_LAYERS, the whole net's. */
SC_API sc_status sc_net_size_report(const sc_net *net, int id,
                                    sc_size_report *report);

/** Removes every dead channel (b <= 0) in place, with all that only fed
 *  or consumed it and the attached optimizer's state. What a removed
 *  channel still added (its bias, then batch norm's shift, ...) is folded
 *  into the next dense/conv layer's bias or a per-position constant, one
 *  for both modes (the model file stores such a constant by its distinct
 *  values, the interior, edges and corners of a padded convolution): a batch norm normalises a removed channel's map, the
 *  same for every sample, with the map's own statistics, as in training
 *  mode and as its running statistics do once they have caught up with
 *  the dead channel. So the training-mode function is preserved to float
 *  rounding, and the eval-mode one where the dead channels' running
 *  statistics have caught up (sc_net_update_bn_stats() brings them there;
 *  training with the channel dead does over time). A channel that died
 *  just before compress thus leaves no statistics of its live past in the
 *  eval-mode net, which training after compress, in training mode, would
 *  never see. *removed (may be NULL) gets the number of dense/conv
 *  output channels removed (0, and nothing changes, when none is dead).
 *  Plans the net for a batch of one while it works (the next forward or
 *  train step plans for its own batch again; no allocation when the net
 *  was planned before). On failure nothing changes.
 *  Kept although dead (their weights stay exactly zero): the channels of
 *  the last layer (the logits keep their count) and every channel in the
 *  same space, e.g. a conv under a final global pool; a channel feeding an
 *  add while the other branch has it alive; one channel of a layer whose
 *  channels are all dead. N0 of the size report does not change. */
SC_API sc_status sc_net_compress(sc_net *net, int *removed);

/* Training to a size budget (what docs/results.md measured best, and what
 * examples/fashion_mnist.c does): gamma makes the net shrink; every few
 * steps the host reads sc_net_size_report(SC_ALL_LAYERS); once bits_pct
 * and weights_pct are within the budget it calls sc_net_compress() and sets
 * the learning rate of SC_GROUP_QUANT_BITS to 0 (the size can no longer
 * change), and trains on: the exponents and weights recover the accuracy on
 * the smaller, faster net. */

/** Forward pass of batch x with batch statistics, folded into the batch
 *  norms' running statistics (with SC_PARAM_BN_MOMENTUM); no gradient, no
 *  update. A few batches of training data bring the running statistics up
 *  to date after the net changed (bit depths moved, channels died). A batch
 *  whose statistics would make a running statistic non-finite gets
 *  SC_ERR_DIVERGED and changes nothing (as in sc_net_train_step). */
SC_API sc_status sc_net_update_bn_stats(sc_net *net, const sc_tensor *x);

/* ---- Model files and inference ---------------------------------------- */

/** A loaded model: a network for inference only (eval mode). */
typedef struct sc_model sc_model;

/** Sizes of a model file (docs/format.md). Set .size (SC_MODEL_INFO_INIT
 *  does); fields past .size are never written. */
typedef struct sc_model_info {
    size_t size;                  /**< sizeof(sc_model_info) as known */
    int64_t file_bytes;           /**< the whole file */
    int64_t weight_payload_bytes; /**< ceil(weight_bits / 8) */
    int64_t channel_header_bytes; /**< 5 per quantised channel (bits, e) */
    double weight_bits;           /**< sum of ceil(B) per stored weight */
    int64_t weights;              /**< quantised weights stored with > 0 bits */
    int64_t weights0;             /**< N0: quantised weights at construction */
    int64_t activation_bytes;     /**< bytes of the buffers a loaded
                                       model's forward of one sample on one
                                       thread lays out: every layer's output
                                       (no gradients: a model is
                                       forward-only), max-pool indices, conv
                                       scratch, packed weights and one float
                                       copy of the largest quantised layer's
                                       weights, which its integer levels
                                       fill layer by layer (since 0.4;
                                       without gradients since 0.7). A batch
                                       of n takes about n times the
                                       per-sample part; each extra thread
                                       its own conv scratch */
    double macs;                  /**< operations of one sample's forward: a
                                       multiply-add per weight and output
                                       position of the dense and conv layers
                                       (as a direct convolution computes
                                       them), a max pool's window per output,
                                       one per input element of every other
                                       layer and of the net's input, which a
                                       forward checks for NaN (since 0.4) */
    int64_t weight_bytes;         /**< the weights' resident bytes in a
                                       loaded model: a quantised channel's
                                       integer levels at 1 byte each up to 8
                                       bits, 2 up to 16, 4 above, plus a
                                       width byte and a float scale per
                                       channel; 4 per weight of a layer
                                       stored in float (since 0.7) */
    int64_t param_bytes;          /**< the rest of a loaded model's
                                       parameters: biases, norm scales and
                                       shifts, running statistics, a float
                                       per channel of live mask, constant
                                       maps (since 0.7) */
    int64_t calibrated_images;    /**< the images sc_net_calibrate() measured
                                       the activation ranges on; 0: the file
                                       has none and the model runs fp32 only
                                       (since 0.8) */
    int64_t int8_bytes;           /**< what SC_INFERENCE_INT8 keeps resident
                                       besides the above once prepared: the
                                       packed int8 weights and the
                                       requantisation tables (0 until the
                                       model first runs in int8; since 0.8) */
} sc_model_info;
/** An sc_model_info with .size set and zero figures. */
#define SC_MODEL_INFO_INIT {sizeof(sc_model_info), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

/** The default cap on sc_model_info.activation_bytes of a load: 1 GiB per
 *  sample (the benchmark cnn takes about 8 MB). */
#define SC_LOAD_MAX_ACTIVATION_BYTES ((int64_t)1 << 30)
/** The default cap on sc_model_info.macs of a load: 1e10 per sample (the
 *  benchmark cnn takes about 7e7). */
#define SC_LOAD_MAX_MACS 1e10

/** What a load may accept, per sample (sc_model_load_v2(),
 *  sc_model_load_memory_v2(), sc_checkpoint_load_v2(); since 0.4): a file
 *  whose net needs more is refused with SC_ERR_FORMAT and a message giving
 *  the figure and the cap, before its parameters or buffers are allocated.
 *  The figures are those of sc_model_info (for a checkpoint: of the training
 *  net, with the quantised weights' buffers). Set .size
 *  (SC_LOAD_LIMITS_INIT does, with the defaults); fields past .size take the
 *  defaults. sc_model_load(), sc_model_load_memory() and
 *  sc_checkpoint_load() apply the defaults. */
typedef struct sc_load_limits {
    size_t size;                  /**< sizeof(sc_load_limits) as known */
    int64_t max_activation_bytes; /**< activation_bytes at most this
                                       (default SC_LOAD_MAX_ACTIVATION_BYTES) */
    double max_macs;              /**< macs at most this (default
                                       SC_LOAD_MAX_MACS; not NaN) */
} sc_load_limits;
/** An sc_load_limits with .size set and the default caps. */
#define SC_LOAD_LIMITS_INIT \
    {sizeof(sc_load_limits), SC_LOAD_MAX_ACTIVATION_BYTES, SC_LOAD_MAX_MACS}

/** Measures the range of every layer's output on the batch x (N x c x h x
 *  w), in eval mode, for int8 inference: the ranges widen over calls (a few
 *  batches of training data are enough), sc_net_save() stores them, and a
 *  model loaded from that file then runs in int8 (SC_PARAM_INFERENCE).
 *  Calibrate last: a train step, a compress or any change of the net's
 *  parameters discards the ranges (the figures in docs/int8.md were
 *  measured on 1,024 training images). Since 0.8. */
SC_API sc_status sc_net_calibrate(sc_net *net, const sc_tensor *x);
/** The images the net's current activation ranges were measured on (0:
 *  none) into *images (since 0.8). */
SC_API sc_status sc_net_calibrated(const sc_net *net, int64_t *images);
/** Writes the net's inference model (quantised weights bit-packed, fp32
 *  biases, norm parameters and running statistics, the constants compress
 *  folded in by their distinct values) to path, atomically.
 *  info (may be NULL) gets the file's sizes and the cost per sample of
 *  the model it holds. */
SC_API sc_status sc_net_save(const sc_net *net, const char *path,
                             sc_model_info *info);
/** Loads a model file. A truncated, corrupt or hostile file gets
 *  SC_ERR_FORMAT (or SC_ERR_IO) and a message; *out is then untouched. A
 *  net over the default caps of sc_load_limits gets SC_ERR_FORMAT too.
 *  Anything but a regular file (FIFO, device, directory) is SC_ERR_IO at
 *  once, as for sc_checkpoint_load. */
SC_API sc_status sc_model_load(sc_model **out, const char *path);
/** The same from size bytes in memory (the bytes are not kept). */
SC_API sc_status sc_model_load_memory(sc_model **out, const void *data,
                                      size_t size);
/** sc_model_load() with the caps in limits (NULL: the defaults; since
 *  0.4). A net over a cap gets SC_ERR_FORMAT; limits with a bad .size or a
 *  NaN cap SC_ERR_ARG. */
SC_API sc_status sc_model_load_v2(sc_model **out, const char *path,
                                  const sc_load_limits *limits);
/** sc_model_load_memory() with the caps in limits (NULL: the defaults;
 *  since 0.4). */
SC_API sc_status sc_model_load_memory_v2(sc_model **out, const void *data,
                                         size_t size,
                                         const sc_load_limits *limits);
/** Frees a model. NULL is a no-op. */
SC_API void sc_model_free(sc_model *m);
/** Inference: x is N x c x h x w, out N x outputs (logits). */
SC_API sc_status sc_model_forward(sc_model *m, const sc_tensor *x,
                                  sc_tensor *out);
/** Threads the model uses (>= 1, default 1). */
SC_API sc_status sc_model_set_threads(sc_model *m, int threads);
/** Sets a setting of the model's computation (since 0.3). A model takes
 *  SC_PARAM_CONV_ALGO and SC_PARAM_INFERENCE (since 0.8); any other p is
 *  SC_ERR_ARG (the training settings have no effect on inference).
 *  SC_PARAM_INFERENCE = SC_INFERENCE_INT8 on a model without activation
 *  ranges is SC_ERR_STATE; the first int8 forward prepares the integer
 *  weights and tables (SC_ERR_UNSUPPORTED, with the layer named, for a
 *  model int8 cannot run; it then stays in fp32). */
SC_API sc_status sc_model_set_param(sc_model *m, sc_param p, double value);
/** Reads setting p (SC_PARAM_CONV_ALGO, SC_PARAM_INFERENCE) into *value
 *  (since 0.3). */
SC_API sc_status sc_model_get_param(const sc_model *m, sc_param p,
                                    double *value);
/** Outputs per sample (the classes), or 0 for NULL. */
SC_API int sc_model_output_size(const sc_model *m);
/** The input shape per sample, c x h x w (pointers may be NULL). */
SC_API sc_status sc_model_input_shape(const sc_model *m, int *c, int *h,
                                      int *w);
/** The sizes of the file the model was loaded from. */
SC_API sc_status sc_model_get_info(const sc_model *m, sc_model_info *info);

/* ---- ONNX import ------------------------------------------------------ */

/** Builds a new, initialised net from the ONNX model at path (opsets 11 to
 *  17; docs/onnx.md lists the operators and how each maps onto the layer
 *  kinds), with the file's weights, biases, norm scales and shifts and
 *  running statistics set, in training mode like a net from
 *  sc_net_create(); it trains (with self-compression after
 *  sc_net_quantize()) or evaluates as any other net. The graph has one
 *  float input, N x C x H x W or N x F (N may be symbolic), and one output,
 *  the last layer. limits caps the net's cost per sample as for
 *  sc_model_load_v2() (NULL: the defaults). SC_ERR_UNSUPPORTED, with a
 *  message naming the node (its name and op_type) and what it has, for an
 *  operator, attribute, data type or shape the library cannot represent;
 *  SC_ERR_FORMAT for a truncated or corrupt file, a graph with a cycle or a
 *  node reading a name nothing produces, a tensor whose data does not fit
 *  its shape, or a net over a cap; SC_ERR_IO when path cannot be read.
 *  Nothing the file declares makes the import allocate much more than the
 *  file's size. On failure *out is untouched. */
SC_API sc_status sc_net_import_onnx(sc_net **out, const char *path,
                                    const sc_load_limits *limits);
/** sc_net_import_onnx() from size bytes in memory (not kept). */
SC_API sc_status sc_net_import_onnx_memory(sc_net **out, const void *data,
                                           size_t size,
                                           const sc_load_limits *limits);

/* ---- ONNX export ------------------------------------------------------ */

/** How the ONNX export writes a net (since 0.7). Set .size
 *  (SC_ONNX_EXPORT_OPTIONS_INIT does, with the defaults); fields past .size
 *  take the defaults. */
typedef struct sc_onnx_export_options {
    size_t size;          /**< sizeof(sc_onnx_export_options) as known */
    int integer_weights;  /**< 1 (default): a quantised layer whose channels
                               all have at most 8 bits is written as its
                               integer levels (an INT8 initializer) and a
                               DequantizeLinear per output channel (axis 0,
                               scale 2^e, zero point 0) feeding its Conv or
                               Gemm; a layer with a wider channel is written
                               in float. 0: every layer in float */
    int bn_running_stats; /**< 0 (default): a batch norm that normalises
                               with batch statistics in eval mode
                               (SC_BN_BATCH_STATS) is SC_ERR_UNSUPPORTED,
                               as ONNX's BatchNormalization cannot say it.
                               1: it is written with its running statistics
                               (what PyTorch's eval mode computes), so the
                               graph's outputs differ from sc_net_forward's
                               in eval mode */
} sc_onnx_export_options;
/** An sc_onnx_export_options with .size set and the defaults. */
#define SC_ONNX_EXPORT_OPTIONS_INIT {sizeof(sc_onnx_export_options), 1, 0}

/** Writes the net's eval-mode function (what sc_net_forward() computes with
 *  training 0) to path as an ONNX model, atomically (since 0.7): opset 17,
 *  ir_version 8, producer "libselfcompress" and sc_version_string(), one
 *  input "input" (N x C x H x W, N symbolic) and one output "logits"
 *  (N x F, or N x C x H x W for a net ending in an image). The weights are
 *  those the forward computes with, bit for bit: a quantised layer's
 *  quantised values (see sc_onnx_export_options.integer_weights for their
 *  integer form); the constants compress folded in are an Add after their
 *  layer; dropout is left out. docs/onnx.md lists the operators each layer
 *  kind becomes; sc_net_import_onnx() reads the file back to a net whose
 *  outputs equal this one's bit for bit. After sc_net_init(). options may
 *  be NULL (the defaults). SC_ERR_UNSUPPORTED, with a message naming the
 *  layer, for a layer ONNX cannot take as the library computes it (a
 *  convolution or pool reading a flattened tensor, a batch norm with
 *  SC_BN_BATCH_STATS unless options say otherwise); SC_ERR_IO when path
 *  cannot be written. */
SC_API sc_status sc_net_export_onnx(const sc_net *net, const char *path,
                                    const sc_onnx_export_options *options);
/** sc_net_export_onnx() into memory (since 0.7): *size gets the model's
 *  bytes; with buf NULL and cap 0 nothing else happens (a query), else
 *  the bytes go to buf, which must hold cap >= *size of them (SC_ERR_ARG
 *  otherwise, *size still set). */
SC_API sc_status sc_net_export_onnx_memory(const sc_net *net, void *buf,
                                           size_t cap, size_t *size,
                                           const sc_onnx_export_options *options);
/** sc_net_export_onnx() of a loaded model (since 0.7): its weights as it
 *  computes them, the channels the file stores with at most 8 bits in
 *  their integer form (per layer, as for a net). */
SC_API sc_status sc_model_export_onnx(const sc_model *m, const char *path,
                                      const sc_onnx_export_options *options);
/** sc_model_export_onnx() into memory, as sc_net_export_onnx_memory()
 *  (since 0.7). */
SC_API sc_status sc_model_export_onnx_memory(const sc_model *m, void *buf,
                                             size_t cap, size_t *size,
                                             const sc_onnx_export_options *options);

/* ---- C code for microcontrollers (docs/mcu.md) ------------------------ */

/** What sc_model_export_c() writes into the files' top comment (since
 *  0.8). Set .size (SC_C_EXPORT_OPTIONS_INIT does); fields past .size take
 *  the defaults. */
typedef struct sc_c_export_options {
    size_t size;             /**< sizeof(sc_c_export_options) as known */
    const char *description; /**< what the model is (no "*" "/" in it), or
                                  NULL */
    double accuracy;         /**< its measured test accuracy in [0, 1], or
                                  < 0: unknown (the default, -1) */
} sc_c_export_options;
/** The defaults: no description, accuracy unknown. */
#define SC_C_EXPORT_OPTIONS_INIT {sizeof(sc_c_export_options), NULL, -1.0}

/** What the exported code needs (since 0.8). Set .size (SC_C_FOOTPRINT_INIT
 *  does); fields past .size are never written. Code and stack are what a
 *  compiler makes of the file: `make mcu-demo` measures them. */
typedef struct sc_c_footprint {
    size_t size;            /**< sizeof(sc_c_footprint) as known */
    int64_t const_bytes;    /**< the const arrays: int8 weights, their
                                 requantisation, tables (flash) */
    int64_t arena_bytes;    /**< NAME_ARENA_BYTES: the activations' bytes,
                                 buffers that are not live at once sharing
                                 memory (RAM) */
    int64_t unshared_bytes; /**< the activations' bytes without sharing */
} sc_c_footprint;
/** An sc_c_footprint with .size set and zero figures. */
#define SC_C_FOOTPRINT_INIT {sizeof(sc_c_footprint), 0, 0, 0}

/** Writes a model's int8 inference as C99 (since 0.8): dir/name.h and
 *  dir/name.c, which need no malloc, stdio, threads or library (but
 *  <math.h> for a batch norm with SC_BN_BATCH_STATS) and compute the same
 *  logits as sc_model_forward() in SC_INFERENCE_INT8, bit for bit:
 *
 *      void NAME_predict(const float *input, float *logits, void *arena);
 *      void NAME_predict_q8(const uint8_t *input, float *logits, void *arena);
 *
 *  for one sample, with NAME_ARENA_BYTES of arena (macros in upper case:
 *  NAME_INPUTS, NAME_OUTPUTS, NAME_INPUT_SCALE, NAME_INPUT_ZERO). The
 *  weights are const arrays. name must be a C identifier (SC_ERR_ARG);
 *  options may be NULL; footprint (may be NULL) gets the sizes. A model
 *  without activation ranges is SC_ERR_STATE; a layer with no int8 or C
 *  code SC_ERR_UNSUPPORTED naming it; a file that cannot be written
 *  SC_ERR_IO. A batch-statistics norm (SC_BN_BATCH_STATS) takes the
 *  statistics of the one sample, as sc_model_forward() of a batch of 1. */
SC_API sc_status sc_model_export_c(const sc_model *m, const char *dir,
                                   const char *name,
                                   const sc_c_export_options *options,
                                   sc_c_footprint *footprint);

/* ---- Training checkpoints --------------------------------------------- */

/** Saves the whole training state: layers (with removed channels),
 *  parameters with b and e, running statistics, settings, the optimizer's
 *  state and step count (opt may be NULL), and user_len bytes of the
 *  caller's own (its data-order RNG, epoch, ...). Atomic: written to a
 *  temporary file `path.tmp.PID.N`, fsynced and renamed, so a crash never
 *  loses the previous checkpoint at path. A successful save (this one or
 *  sc_net_save) also removes the temporaries of path that processes which
 *  no longer exist left behind (docs/format.md, crash safety). */
SC_API sc_status sc_checkpoint_save(const sc_net *net, const sc_optimizer *opt,
                                    const void *user, size_t user_len,
                                    const char *path);
/** Restores a checkpoint (within the default caps of sc_load_limits) into
 *  a new net and optimizer (*opt_out is NULL
 *  when none was saved) and copies the user bytes into user (at most
 *  user_cap; *user_len gets their count, and may be NULL). Threads are not
 *  part of the state: set them again. With 1 thread a resumed run is
 *  bit-identical to one that never stopped. */
SC_API sc_status sc_checkpoint_load(const char *path, sc_net **net_out,
                                    sc_optimizer **opt_out, void *user,
                                    size_t user_cap, size_t *user_len);
/** sc_checkpoint_load() with the caps in limits (NULL: the defaults;
 *  since 0.4). */
SC_API sc_status sc_checkpoint_load_v2(const char *path, sc_net **net_out,
                                       sc_optimizer **opt_out, void *user,
                                       size_t user_cap, size_t *user_len,
                                       const sc_load_limits *limits);

#ifdef __cplusplus
}
#endif

#endif /* SELFCOMPRESS_H */
