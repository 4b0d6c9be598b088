/* activation.c -- element-wise activations: leaky relu, relu6, sigmoid,
 * tanh, hardswish. One forward/backward core maps each kind's pair of
 * element functions over the batch:
 *   F(x, a)  the output of input x (a: the layer's alpha)
 *   D(s, a)  dy/dx, from s = y for the kinds that may work in place (their
 *            table line has SC_OPF_IN_PLACE: y and dy are then x's, and y
 *            determines the slope), from s = x for hardswish (its y does
 *            not: y = -1/3 at x = -2 and at x = -1)
 * The element functions are selects, not branches, so the loops vectorise
 * (sigmoid's and tanh's forward call expf and tanhf). */
#include <math.h>

#include "core/error.h"
#include "core/simd.h"
#include "int8/q8.h"
#include "ops/ops.h"

/* elements per thread below which a loop is not worth splitting */
#define GRAIN 16384

typedef struct act_job {
    const float *x, *s, *g; /* forward: x; backward: s (y or x) and dy */
    float *out;             /* y, or x's dy */
    float alpha;
    int set; /* backward: store into dx rather than add */
} act_job;

/* Forward and backward tasks of one kind. In place (out is x, or out is
 * dy), the in-place loop has no restrict on the shared buffer. */
#define ACT_TASKS(name, F, D)                                                 \
    SC_SIMD_CLONES                                                            \
    static void name##_forward(void *ctx, size_t b, size_t e, int t)          \
    {                                                                         \
        (void)t;                                                              \
        const act_job *j = ctx;                                               \
        const float a = j->alpha;                                             \
        if (j->x == j->out) {                                                 \
            float *p = j->out;                                                \
            for (size_t i = b; i < e; i++)                                    \
                p[i] = F(p[i], a);                                            \
            return;                                                           \
        }                                                                     \
        const float *restrict in = j->x;                                      \
        float *restrict out = j->out;                                         \
        for (size_t i = b; i < e; i++)                                        \
            out[i] = F(in[i], a);                                             \
    }                                                                         \
    SC_SIMD_CLONES                                                            \
    static void name##_backward(void *ctx, size_t b, size_t e, int t)         \
    {                                                                         \
        (void)t;                                                              \
        const act_job *j = ctx;                                               \
        const float a = j->alpha;                                             \
        const float *restrict s = j->s;                                       \
        if (j->g == j->out) {                                                 \
            float *restrict g = j->out;                                       \
            for (size_t i = b; i < e; i++)                                    \
                g[i] = D(s[i], a) * g[i];                                     \
            return;                                                           \
        }                                                                     \
        const float *restrict g = j->g;                                       \
        float *restrict dx = j->out;                                          \
        if (j->set)                                                           \
            for (size_t i = b; i < e; i++)                                    \
                dx[i] = D(s[i], a) * g[i];                                    \
        else                                                                  \
            for (size_t i = b; i < e; i++)                                    \
                dx[i] += D(s[i], a) * g[i];                                   \
    }

/* leaky relu, alpha in [0, 1): y > 0 exactly when x > 0 */
static SC_CLONE_INLINE float leaky_f(float x, float a)
{
    return x > 0.0f ? x : a * x;
}
static SC_CLONE_INLINE float leaky_d(float y, float a)
{
    return y > 0.0f ? 1.0f : a;
}

/* relu6: 0 < y < 6 exactly when 0 < x < 6 */
static SC_CLONE_INLINE float relu6_f(float x, float a)
{
    (void)a;
    float r = x > 0.0f ? x : 0.0f;
    return r < 6.0f ? r : 6.0f;
}
static SC_CLONE_INLINE float relu6_d(float y, float a)
{
    (void)a;
    return y > 0.0f && y < 6.0f ? 1.0f : 0.0f;
}

/* sigmoid: expf(-x) is inf for x below about -88, giving y = 0 */
static SC_CLONE_INLINE float sigmoid_f(float x, float a)
{
    (void)a;
    return 1.0f / (1.0f + expf(-x));
}
static SC_CLONE_INLINE float sigmoid_d(float y, float a)
{
    (void)a;
    return y * (1.0f - y);
}

static SC_CLONE_INLINE float tanh_f(float x, float a)
{
    (void)a;
    return tanhf(x);
}
static SC_CLONE_INLINE float tanh_d(float y, float a)
{
    (void)a;
    return 1.0f - y * y;
}

/* hardswish: 0 below -3, x above 3, x (x + 3) / 6 between; its slope
 * x / 3 + 1/2 between, from x (PyTorch's, with 1.5 at x = 3) */
static SC_CLONE_INLINE float hardswish_f(float x, float a)
{
    (void)a;
    return x * relu6_f(x + 3.0f, 0.0f) / 6.0f;
}
static SC_CLONE_INLINE float hardswish_d(float x, float a)
{
    (void)a;
    float mid = x / 3.0f + 0.5f;
    float hi = x > 3.0f ? 1.0f : mid;
    return x < -3.0f ? 0.0f : hi;
}

/* F as a function int8's tables can call */
#define ACT_F(name, F)                                                        \
    static float name##_scalar(float x, float a) { return F(x, a); }

ACT_F(leaky, leaky_f)
ACT_F(relu6, relu6_f)
ACT_F(sigmoid, sigmoid_f)
ACT_F(tanh, tanh_f)
ACT_F(hardswish, hardswish_f)

ACT_TASKS(leaky, leaky_f, leaky_d)
ACT_TASKS(relu6, relu6_f, relu6_d)
ACT_TASKS(sigmoid, sigmoid_f, sigmoid_d)
ACT_TASKS(tanh, tanh_f, tanh_d)
ACT_TASKS(hardswish, hardswish_f, hardswish_d)

typedef struct act_def {
    const char *name;
    sc_pool_fn forward, backward;
    int slope_from_x; /* D reads x rather than y */
    float (*f)(float x, float alpha); /* F, for int8's tables */
    double lo, hi; /* F is clamp(x, lo, hi) (relu6), or lo > hi */
} act_def;

/* The core every kind's op calls. */
static sc_status act_op(sc_net *net, sc_node *nd, sc_op_action action,
                        const act_def *k)
{
    sc_node *x = sc_in(net, nd, 0);
    size_t total = (size_t)net->plan_n * sc_node_size(nd);
    switch (action) {
    case OP_SHAPE:
        nd->c = x->c;
        nd->h = x->h;
        nd->w = x->w;
        return SC_OK;
    case OP_SCRATCH:
    case OP_COMMIT:
    case OP_COMMIT_CHECK:
        return SC_OK;
    case OP_FORWARD: {
        act_job j = {x->y, NULL, NULL, nd->y, nd->alpha, 0};
        sc_pool_map(net->pool, total, GRAIN, k->forward, &j);
        return SC_OK;
    }
    case OP_BACKWARD: {
        act_job j = {NULL, k->slope_from_x ? x->y : nd->y, nd->dy, x->dy,
                     nd->alpha, x->dy_set};
        if (x->dy)
            sc_pool_map(net->pool, total, GRAIN, k->backward, &j);
        return SC_OK;
    }
    }
    return sc_fail(SC_ERR_ARG, "%s: unknown action %d", k->name, action);
}

static const act_def LEAKY = {"leaky_relu", leaky_forward, leaky_backward, 0,
                              leaky_scalar, 1.0, 0.0};
static const act_def RELU6 = {"relu6", relu6_forward, relu6_backward, 0,
                              relu6_scalar, 0.0, 6.0};
static const act_def SIGMOID = {"sigmoid", sigmoid_forward, sigmoid_backward,
                                0, sigmoid_scalar, 1.0, 0.0};
static const act_def TANH = {"tanh", tanh_forward, tanh_backward, 0,
                             tanh_scalar, 1.0, 0.0};
static const act_def HARDSWISH = {"hardswish", hardswish_forward,
                                  hardswish_backward, 1, hardswish_scalar,
                                  1.0, 0.0};

sc_status sc_op_leaky_relu(sc_net *net, sc_node *nd, sc_op_action action)
{
    /* alpha < 0 would make y's sign differ from x's, and backward reads
     * the slope from y */
    if (action == OP_SHAPE && !(nd->alpha >= 0.0f && nd->alpha < 1.0f))
        return sc_fail(SC_ERR_ARG, "leaky_relu: alpha %g is not in [0, 1)",
                       (double)nd->alpha);
    return act_op(net, nd, action, &LEAKY);
}

sc_status sc_op_relu6(sc_net *net, sc_node *nd, sc_op_action action)
{
    return act_op(net, nd, action, &RELU6);
}

sc_status sc_op_sigmoid(sc_net *net, sc_node *nd, sc_op_action action)
{
    return act_op(net, nd, action, &SIGMOID);
}

sc_status sc_op_tanh(sc_net *net, sc_node *nd, sc_op_action action)
{
    return act_op(net, nd, action, &TANH);
}

sc_status sc_op_hardswish(sc_net *net, sc_node *nd, sc_op_action action)
{
    return act_op(net, nd, action, &HARDSWISH);
}

/* int8: a clamp folds into a weighted layer; else a table of the 256
 * input bytes */
static sc_status act_q8(sc_q8 *q, sc_node *nd, int action, const act_def *k)
{
    return sc_q8_elementwise(q, nd, action, k->f, k->lo, k->hi);
}

sc_status sc_q8_leaky_relu(sc_q8 *q, sc_node *nd, int action)
{
    return act_q8(q, nd, action, &LEAKY);
}

sc_status sc_q8_relu6(sc_q8 *q, sc_node *nd, int action)
{
    return act_q8(q, nd, action, &RELU6);
}

sc_status sc_q8_sigmoid(sc_q8 *q, sc_node *nd, int action)
{
    return act_q8(q, nd, action, &SIGMOID);
}

sc_status sc_q8_tanh(sc_q8 *q, sc_node *nd, int action)
{
    return act_q8(q, nd, action, &TANH);
}

sc_status sc_q8_hardswish(sc_q8 *q, sc_node *nd, int action)
{
    return act_q8(q, nd, action, &HARDSWISH);
}
