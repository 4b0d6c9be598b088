/* net.c -- a network: create, initialise, settings, queries (the layer
 * builders are in their op files, src/ops/). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm.h"
#include "core/rng.h"
#include "ops/ops.h"
#include "optim/optimizer.h"
#include "quant/mantissa.h"
#include "quant/quantizer.h"

SC_API sc_status sc_net_create(sc_net **out, int c, int h, int w)
{
    SC_CHECK_NULL(out, "sc_net_create");
    if (c <= 0 || h <= 0 || w <= 0 || (int64_t)c * h * w > (1 << 28))
        return sc_fail(SC_ERR_SHAPE,
                       "sc_net_create: input shape %dx%dx%d is not valid", c, h,
                       w);
    sc_net *net = calloc(1, sizeof *net);
    sc_pool *pool = sc_pool_create(1);
    if (net == NULL || pool == NULL) {
        free(net);
        sc_pool_free(pool);
        return sc_fail(SC_ERR_NOMEM, "sc_net_create: out of memory");
    }
    net->in_c = c;
    net->in_h = h;
    net->in_w = w;
    net->training = 1;
    net->gamma = 0.0;
    net->bn_momentum = 0.1;
    net->bn_eps = 1e-5;
    net->quant_b0 = 5.0; /* measured: docs/results.md */
    net->quant_e0 = NAN;
    net->quant_b_max = 8.0; /* measured: docs/results.md */
    net->budget_every = 20;
    net->threads = 1;
    net->pool = pool;
    net->kernel = sc_kernel_best();
    net->plan_dirty = 1;
    sc_blas_single_thread(); /* our pool runs the threads */
    sc_status st = sc_input_append(net, c, h, w);
    if (st != SC_OK) {
        sc_net_free(net);
        return st;
    }
    *out = net;
    return SC_OK;
}

SC_API void sc_net_free(sc_net *net)
{
    if (net == NULL)
        return;
    if (net->opt)
        sc_optimizer_detach(net->opt);
    for (int i = 0; i < net->n_nodes; i++) {
        free(net->nodes[i].cbias);
        sc_mantissas_free(net->nodes[i].mant);
        free(net->nodes[i].tbias);
    }
    free(net->nodes);
    free(net->params);
    free(net->grads);
    free(net->state);
    free(net->live);
    free(net->calib);
    free(net->loss_weights);
    free(net->host_x);
    sc_plan_free(net);
    sc_pool_free(net->pool);
    free(net);
}

SC_API sc_status sc_net_init(sc_net *net, uint64_t seed)
{
    SC_CHECK_NULL(net, "sc_net_init");
    if (net->initialized)
        return sc_fail(SC_ERR_STATE, "sc_net_init: already initialised");
    if (net->n_nodes < 2)
        return sc_fail(SC_ERR_STATE, "sc_net_init: the net has no layers");
    size_t np, ns;
    sc_params_offsets(net, &np, &ns);
    sc_status st = sc_params_relayout(net, NULL, NULL, np, ns);
    if (st != SC_OK)
        return st;
    sc_rng rng;
    sc_rng_seed(&rng, seed);
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        float *w = sc_node_param(net, nd, P_W);
        if (w) { /* He normal: std = sqrt(2 / fan_in) */
            size_t fan_in = nd->pn[P_W] / (size_t)nd->c;
            float std = sqrtf(2.0f / (float)fan_in);
            for (size_t k = 0; k < nd->pn[P_W]; k++)
                w[k] = std * sc_rng_normal(&rng);
        }
        float *g = sc_node_param(net, nd, P_GAMMA);
        for (size_t k = 0; g && k < nd->pn[P_GAMMA]; k++)
            g[k] = 1.0f;
        float *rv = sc_node_state(net, nd, S_VAR);
        for (size_t k = 0; rv && k < nd->sn[S_VAR]; k++)
            rv[k] = 1.0f;
    }
    net->seed = seed;
    net->initialized = 1;
    return SC_OK;
}

static int valid_id(const sc_net *net, int id)
{
    return net && id >= 0 && id < net->n_nodes;
}

SC_API int sc_net_layer_count(const sc_net *net) { return net ? net->n_nodes : 0; }

SC_API int sc_net_layer_kind(const sc_net *net, int id)
{
    return valid_id(net, id) ? (int)net->nodes[id].kind : -1;
}

SC_API sc_status sc_net_layer_shape(const sc_net *net, int id, int *c, int *h,
                                    int *w)
{
    SC_CHECK_NULL(net, "sc_net_layer_shape");
    if (!valid_id(net, id))
        return sc_fail(SC_ERR_ARG, "sc_net_layer_shape: no layer %d", id);
    const sc_node *nd = &net->nodes[id];
    if (c)
        *c = nd->c;
    if (h)
        *h = nd->h;
    if (w)
        *w = nd->w;
    return SC_OK;
}

SC_API int sc_net_output_size(const sc_net *net)
{
    if (net == NULL || net->n_nodes < 2)
        return 0;
    return (int)sc_node_size(&net->nodes[net->n_nodes - 1]);
}

SC_API size_t sc_net_param_count(const sc_net *net)
{
    return net ? net->n_params : 0;
}

SC_API sc_status sc_net_get_params(const sc_net *net, float *dst, size_t count)
{
    SC_CHECK_NULL(net, "sc_net_get_params");
    SC_CHECK_NULL(dst, "sc_net_get_params");
    if (count != net->n_params)
        return sc_fail(SC_ERR_SHAPE, "sc_net_get_params: count %zu != %zu",
                       count, net->n_params);
    memcpy(dst, net->params, count * sizeof(float));
    return SC_OK;
}

SC_API sc_status sc_net_set_params(sc_net *net, const float *src, size_t count)
{
    SC_CHECK_NULL(net, "sc_net_set_params");
    SC_CHECK_NULL(src, "sc_net_set_params");
    if (count != net->n_params)
        return sc_fail(SC_ERR_SHAPE, "sc_net_set_params: count %zu != %zu",
                       count, net->n_params);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(src[i]))
            return sc_fail(SC_ERR_NONFINITE,
                           "sc_net_set_params: element %zu is not finite", i);
    memcpy(net->params, src, count * sizeof(float));
    net->host_n = 0;
    sc_calib_drop(net);
    return SC_OK;
}

SC_API sc_status sc_net_set_param(sc_net *net, sc_param p, double v)
{
    SC_CHECK_NULL(net, "sc_net_set_param");
    int ok;
    switch (p) {
    case SC_PARAM_GAMMA:
        ok = isfinite(v) && v >= 0.0;
        if (ok)
            net->gamma = v;
        break;
    case SC_PARAM_BN_MOMENTUM:
        ok = v >= 0.0 && v <= 1.0;
        if (ok)
            net->bn_momentum = v;
        break;
    case SC_PARAM_BN_EPS:
        ok = v > 0.0 && v < 1.0;
        if (ok)
            net->bn_eps = v;
        break;
    case SC_PARAM_QUANT_B0:
        ok = v >= 0.0 && v <= 32.0;
        if (ok)
            net->quant_b0 = v;
        break;
    case SC_PARAM_QUANT_E0:
        ok = isnan(v) || (v >= -64.0 && v <= 64.0);
        if (ok)
            net->quant_e0 = v;
        break;
    case SC_PARAM_COMPRESS_EVERY:
        ok = v >= 0.0 && v <= 1e15 && v == floor(v);
        if (ok)
            net->compress_every = (int64_t)v;
        break;
    case SC_PARAM_QUANT_B_MAX:
        ok = v >= 1.0 && v <= 32.0;
        if (ok) {
            net->quant_b_max = v;
            sc_quant_clamp_ranges(net); /* every b within the new cap */
        }
        break;
    case SC_PARAM_BUDGET_BITS_PCT:
        ok = v >= 0.0 && v <= 100.0;
        if (ok)
            net->budget_bits = v;
        break;
    case SC_PARAM_BUDGET_WEIGHTS_PCT:
        ok = v >= 0.0 && v <= 100.0;
        if (ok)
            net->budget_weights = v;
        break;
    case SC_PARAM_BUDGET_EVERY:
        ok = v >= 1.0 && v < 2147483648.0 && v == floor(v);
        if (ok)
            net->budget_every = (int64_t)v;
        break;
    case SC_PARAM_QUANT_BITS_FROZEN:
        ok = v == 0.0 || v == 1.0;
        if (ok)
            net->bits_frozen = (int)v;
        break;
    case SC_PARAM_CONV_ALGO:
        ok = v == SC_CONV_ALGO_AUTO || v == SC_CONV_ALGO_DIRECT;
        if (ok && net->conv_algo != (int)v) {
            net->conv_algo = (int)v;
            net->plan_dirty = 1; /* the scratch each algorithm needs */
        }
        break;
    case SC_PARAM_INFERENCE:
        return sc_fail(SC_ERR_ARG, "sc_net_set_param: SC_PARAM_INFERENCE is "
                       "a setting of a loaded model (sc_model_set_param())");
    default:
        return sc_fail(SC_ERR_ARG, "sc_net_set_param: unknown parameter %d",
                       (int)p);
    }
    if (!ok)
        return sc_fail(SC_ERR_ARG,
                       "sc_net_set_param: value %g is out of range for "
                       "parameter %d",
                       v, (int)p);
    net->host_n = 0;
    return SC_OK;
}

SC_API sc_status sc_net_get_param(const sc_net *net, sc_param p, double *v)
{
    SC_CHECK_NULL(net, "sc_net_get_param");
    SC_CHECK_NULL(v, "sc_net_get_param");
    switch (p) {
    case SC_PARAM_GAMMA: *v = net->gamma; return SC_OK;
    case SC_PARAM_BN_MOMENTUM: *v = net->bn_momentum; return SC_OK;
    case SC_PARAM_BN_EPS: *v = net->bn_eps; return SC_OK;
    case SC_PARAM_QUANT_B0: *v = net->quant_b0; return SC_OK;
    case SC_PARAM_QUANT_E0: *v = net->quant_e0; return SC_OK;
    case SC_PARAM_COMPRESS_EVERY: *v = (double)net->compress_every; return SC_OK;
    case SC_PARAM_CONV_ALGO: *v = net->conv_algo; return SC_OK;
    case SC_PARAM_QUANT_B_MAX: *v = net->quant_b_max; return SC_OK;
    case SC_PARAM_BUDGET_BITS_PCT: *v = net->budget_bits; return SC_OK;
    case SC_PARAM_BUDGET_WEIGHTS_PCT: *v = net->budget_weights; return SC_OK;
    case SC_PARAM_BUDGET_EVERY: *v = (double)net->budget_every; return SC_OK;
    case SC_PARAM_QUANT_BITS_FROZEN: *v = net->bits_frozen; return SC_OK;
    case SC_PARAM_INFERENCE:
        return sc_fail(SC_ERR_ARG, "sc_net_get_param: SC_PARAM_INFERENCE is "
                       "a setting of a loaded model (sc_model_get_param())");
    }
    return sc_fail(SC_ERR_ARG, "sc_net_get_param: unknown parameter %d", (int)p);
}

SC_API sc_status sc_net_set_threads(sc_net *net, int threads)
{
    SC_CHECK_NULL(net, "sc_net_set_threads");
    if (threads < 1 || threads > 256)
        return sc_fail(SC_ERR_ARG, "sc_net_set_threads: %d is not in 1..256",
                       threads);
    if (threads == net->threads)
        return SC_OK;
    sc_pool *pool = sc_pool_create(threads);
    if (pool == NULL)
        return sc_fail(SC_ERR_NOMEM, "sc_net_set_threads: cannot start %d "
                       "threads", threads);
    sc_pool_free(net->pool);
    net->pool = pool;
    net->threads = threads;
    net->plan_dirty = 1; /* scratch is per thread */
    net->host_n = 0;
    sc_blas_single_thread();
    return SC_OK;
}

SC_API sc_status sc_net_set_training(sc_net *net, int training)
{
    SC_CHECK_NULL(net, "sc_net_set_training");
    net->training = training != 0;
    net->host_n = 0;
    return SC_OK;
}
