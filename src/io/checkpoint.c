/* checkpoint.c -- the full training state in one file, written atomically:
 * graph (with removed channels), parameters with b and e, running
 * statistics, folded constants (both modes), settings, the loss, optimizer
 * state and step count,
 * and the caller's own bytes (e.g. its data-order RNG). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "io/file.h"
#include "io/graph_io.h"
#include "optim/optimizer.h"
#include "quant/quantizer.h"

static const char CKPT_MAGIC[8] = {'S', 'C', 'C', 'K', 'P', 'T', 0, 0};
#define CKPT_VERSION 5u /* written; read: 1 (no training-mode maps), 2,
                           3 (layer table version 2), 4 (the loss) and 5
                           (the size budget) */
#define CKPT_OLDEST 1u
#define USER_MAX ((size_t)1 << 30)

SC_API sc_status sc_checkpoint_save(const sc_net *cnet,
                                    const sc_optimizer *opt, const void *user,
                                    size_t user_len, const char *path)
{
    const char *fn = "sc_checkpoint_save";
    SC_CHECK_NULL(cnet, fn);
    SC_CHECK_NULL(path, fn);
    if (user_len && user == NULL)
        return sc_fail(SC_ERR_NULL, "%s: user is NULL but user_len is %zu", fn,
                       user_len);
    if (user_len > USER_MAX)
        return sc_fail(SC_ERR_ARG, "%s: user_len %zu is too large", fn, user_len);
    if (!cnet->initialized)
        return sc_fail(SC_ERR_STATE, "%s: call sc_net_init() first", fn);
    if (opt && opt->net != cnet)
        return sc_fail(SC_ERR_ARG, "%s: the optimizer belongs to another net", fn);
    const sc_net *net = cnet;
    sc_wbuf w = {0};
    sc_file_begin(&w, CKPT_MAGIC, CKPT_VERSION);
    sc_graph_write(&w, net);
    sc_put_f64(&w, net->gamma);
    sc_put_f64(&w, net->bn_momentum);
    sc_put_f64(&w, net->bn_eps);
    sc_put_f64(&w, net->quant_b0);
    sc_put_f64(&w, net->quant_e0);
    sc_put_u64(&w, (uint64_t)net->compress_every);
    sc_put_u64(&w, net->steps_since_compress);
    sc_put_u64(&w, net->seed);
    sc_put_u8(&w, (unsigned)net->training);
    sc_put_u8(&w, (unsigned)net->loss);
    sc_put_f32(&w, net->label_smoothing);
    sc_put_u32(&w, (uint32_t)net->n_loss_weights);
    sc_put_f32s(&w, net->loss_weights, (size_t)net->n_loss_weights);
    sc_put_f64(&w, net->quant_b_max);
    sc_put_f64(&w, net->budget_bits);
    sc_put_f64(&w, net->budget_weights);
    sc_put_u64(&w, (uint64_t)net->budget_every);
    sc_put_u8(&w, (unsigned)net->bits_frozen);
    sc_put_u64(&w, net->n_params);
    sc_put_u64(&w, net->n_state);
    sc_put_f32s(&w, net->params, net->n_params);
    sc_put_f32s(&w, net->state, net->n_state);
    for (int i = 1; i < net->n_nodes; i++) {
        const sc_node *nd = &net->nodes[i];
        sc_put_u8(&w, nd->cbias != NULL);
        if (nd->cbias)
            sc_put_f32s(&w, nd->cbias, sc_node_size(nd));
        sc_put_u8(&w, nd->tbias != NULL);
        if (nd->tbias)
            sc_put_f32s(&w, nd->tbias, sc_node_size(nd));
    }
    sc_put_u8(&w, opt != NULL);
    if (opt) {
        sc_put_u8(&w, (unsigned)opt->kind);
        for (int g = 0; g < SC_GROUP_COUNT; g++) {
            sc_put_f64(&w, opt->lr[g]);
            sc_put_f64(&w, opt->wd[g]);
        }
        sc_put_f64(&w, opt->momentum);
        sc_put_f64(&w, opt->beta1);
        sc_put_f64(&w, opt->beta2);
        sc_put_f64(&w, opt->eps);
        sc_put_u8(&w, (unsigned)opt->nesterov);
        sc_put_u64(&w, opt->t);
        sc_put_f32s(&w, opt->m, opt->n);
        sc_put_f32s(&w, opt->v, opt->n);
    }
    sc_put_u64(&w, user_len);
    sc_put_bytes(&w, user, user_len);
    sc_file_end(&w);
    sc_status st = w.failed ? sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn)
                            : sc_file_write_atomic(path, w.data, w.len, fn);
    free(w.data);
    return st;
}

/* Restores the optimizer through the public setters, which range-check. */
static sc_status read_optimizer(sc_rbuf *r, sc_net *net, sc_optimizer **out,
                                const char *fn)
{
    unsigned kind = sc_get_u8(r);
    double lr[SC_GROUP_COUNT], wd[SC_GROUP_COUNT], hp[4];
    for (int g = 0; g < SC_GROUP_COUNT; g++) {
        lr[g] = sc_get_f64(r);
        wd[g] = sc_get_f64(r);
    }
    for (int k = 0; k < 4; k++)
        hp[k] = sc_get_f64(r);
    unsigned nesterov = sc_get_u8(r);
    uint64_t t = sc_get_u64(r);
    if (r->failed || kind > SC_OPT_ADAMW || t > SC_OPT_MAX_STEPS)
        return sc_fail(SC_ERR_FORMAT, "%s: bad optimizer record", fn);
    sc_optimizer *o;
    sc_status st = sc_optimizer_create(&o, net, (sc_optimizer_kind)kind);
    if (st != SC_OK)
        return st;
    for (int g = 0; g < SC_GROUP_COUNT && st == SC_OK; g++) {
        st = sc_optimizer_set(o, SC_OPT_LR, g, lr[g]);
        if (st == SC_OK)
            st = sc_optimizer_set(o, SC_OPT_WEIGHT_DECAY, g, wd[g]);
    }
    const sc_opt_param ps[4] = {SC_OPT_MOMENTUM, SC_OPT_BETA1, SC_OPT_BETA2,
                                SC_OPT_EPS};
    for (int k = 0; k < 4 && st == SC_OK; k++)
        st = sc_optimizer_set(o, ps[k], 0, hp[k]);
    if (st == SC_OK)
        st = sc_optimizer_set(o, SC_OPT_NESTEROV, 0, nesterov);
    if (st == SC_OK && (!sc_get_f32s(r, o->m, o->n) || !sc_get_f32s(r, o->v, o->n) ||
                        !sc_all_finite(o->m, o->n) || !sc_all_finite(o->v, o->n)))
        st = SC_ERR_FORMAT;
    if (st != SC_OK) {
        sc_optimizer_free(o);
        return sc_fail(SC_ERR_FORMAT, "%s: bad optimizer state", fn);
    }
    o->t = t;
    *out = o;
    return SC_OK;
}

static sc_status read_settings(sc_rbuf *r, sc_net *net, const char *fn)
{
    double v[5];
    for (int k = 0; k < 5; k++)
        v[k] = sc_get_f64(r);
    uint64_t every = sc_get_u64(r), since = sc_get_u64(r), seed = sc_get_u64(r);
    unsigned training = sc_get_u8(r);
    const sc_param ps[5] = {SC_PARAM_GAMMA, SC_PARAM_BN_MOMENTUM,
                            SC_PARAM_BN_EPS, SC_PARAM_QUANT_B0,
                            SC_PARAM_QUANT_E0};
    sc_status st = r->failed || training > 1 || every > ((uint64_t)1 << 50)
                       ? SC_ERR_FORMAT : SC_OK;
    for (int k = 0; k < 5 && st == SC_OK; k++)
        st = sc_net_set_param(net, ps[k], v[k]);
    if (st == SC_OK)
        st = sc_net_set_param(net, SC_PARAM_COMPRESS_EVERY, (double)every);
    if (st != SC_OK)
        return sc_fail(SC_ERR_FORMAT, "%s: bad settings record", fn);
    net->steps_since_compress = since;
    net->seed = seed;
    net->training = (int)training;
    return SC_OK;
}

/* The loss record (version 4): u8 kind, f32 smoothing, u32 K, f32[K]
 * class weights, set through sc_net_set_loss, which range-checks. */
static sc_status read_loss(sc_rbuf *r, sc_net *net, const char *fn)
{
    unsigned kind = sc_get_u8(r);
    float eps = sc_get_f32(r);
    uint32_t k = sc_get_u32(r);
    if (r->failed || (size_t)k > sc_remaining(r) / 4)
        return sc_fail(SC_ERR_FORMAT, "%s: bad loss record", fn);
    float *w = NULL;
    if (k && (w = malloc((size_t)k * sizeof *w)) == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    sc_get_f32s(r, w, k);
    sc_loss_desc d = SC_LOSS_DESC_INIT((sc_loss)kind);
    d.class_weights = w;
    d.n_class_weights = (int)k;
    d.label_smoothing = eps;
    sc_status st = r->failed || k > (uint32_t)INT32_MAX ? SC_ERR_FORMAT
                                                        : sc_net_set_loss(net, &d);
    free(w);
    if (st != SC_OK)
        return sc_fail(SC_ERR_FORMAT, "%s: bad loss record", fn);
    return SC_OK;
}

/* A constant map record: u8 flag, then c*h*w floats when 1. */
static sc_status read_map(sc_rbuf *r, const sc_node *nd, float **map,
                          const char *fn)
{
    unsigned has = sc_get_u8(r);
    size_t m = sc_node_size(nd);
    if (has > 1 || r->failed || (has && m > sc_remaining(r) / 4))
        return sc_fail(SC_ERR_FORMAT, "%s: bad constant record", fn);
    if (!has)
        return SC_OK;
    if ((*map = malloc(m * sizeof(float))) == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    if (!sc_get_f32s(r, *map, m) || !sc_all_finite(*map, m))
        return sc_fail(SC_ERR_FORMAT, "%s: bad constant record", fn);
    return SC_OK;
}

/* Version 1 has no training-mode maps (tbias). */
static sc_status read_state(sc_rbuf *r, sc_net *net, uint32_t version,
                            const char *fn)
{
    uint64_t np = sc_get_u64(r), ns = sc_get_u64(r);
    if (r->failed || np != net->n_params || ns != net->n_state ||
        !sc_get_f32s(r, net->params, net->n_params) ||
        !sc_get_f32s(r, net->state, net->n_state) ||
        !sc_all_finite(net->params, net->n_params) ||
        !sc_all_finite(net->state, net->n_state))
        return sc_fail(SC_ERR_FORMAT, "%s: parameters do not match the layers "
                       "or are not finite", fn);
    sc_status qs = sc_graph_check_values(net, SC_ERR_FORMAT, fn);
    if (qs != SC_OK)
        return qs;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        sc_status st = read_map(r, nd, &nd->cbias, fn);
        if (st == SC_OK && version >= 2)
            st = read_map(r, nd, &nd->tbias, fn);
        if (st != SC_OK)
            return st;
    }
    return SC_OK;
}

/* The size budget and whether the bit depths are frozen (version 5). */
static sc_status read_budget(sc_rbuf *r, sc_net *net, const char *fn)
{
    double bits = sc_get_f64(r), weights = sc_get_f64(r);
    uint64_t every = sc_get_u64(r);
    unsigned frozen = sc_get_u8(r);
    if (r->failed || every >= ((uint64_t)1 << 31) ||
        sc_net_set_param(net, SC_PARAM_BUDGET_BITS_PCT, bits) != SC_OK ||
        sc_net_set_param(net, SC_PARAM_BUDGET_WEIGHTS_PCT, weights) != SC_OK ||
        sc_net_set_param(net, SC_PARAM_BUDGET_EVERY, (double)every) != SC_OK ||
        sc_net_set_param(net, SC_PARAM_QUANT_BITS_FROZEN, frozen) != SC_OK)
        return sc_fail(SC_ERR_FORMAT, "%s: bad size budget record", fn);
    return SC_OK;
}

SC_API sc_status sc_checkpoint_load_v2(const char *path, sc_net **net_out,
                                       sc_optimizer **opt_out, void *user,
                                       size_t user_cap, size_t *user_len,
                                       const sc_load_limits *limits)
{
    const char *fn = "sc_checkpoint_load";
    SC_CHECK_NULL(path, fn);
    SC_CHECK_NULL(net_out, fn);
    SC_CHECK_NULL(opt_out, fn);
    if (user_cap && user == NULL)
        return sc_fail(SC_ERR_NULL, "%s: user is NULL but user_cap is %zu", fn,
                       user_cap);
    sc_load_limits lim;
    sc_status st = sc_load_limits_get(limits, &lim, fn);
    if (st != SC_OK)
        return st;
    unsigned char *data;
    size_t n;
    st = sc_file_read(path, SC_FILE_MAX_BYTES, &data, &n, fn);
    if (st != SC_OK)
        return st;
    sc_rbuf r;
    sc_net *net = NULL;
    sc_optimizer *opt = NULL;
    uint32_t version = 0;
    st = sc_file_open_versions(data, n, CKPT_MAGIC, CKPT_OLDEST, CKPT_VERSION,
                               &version, &r, fn);
    if (st == SC_OK)
        st = sc_graph_read(&r, version >= 3 ? SC_GRAPH_V2 : SC_GRAPH_V1, 1,
                           &lim, &net, fn);
    if (st == SC_OK)
        st = read_settings(&r, net, fn);
    if (st == SC_OK && version >= 4)
        st = read_loss(&r, net, fn);
    /* before version 4 a net had no cap: b could reach 32 */
    if (st == SC_OK &&
        sc_net_set_param(net, SC_PARAM_QUANT_B_MAX,
                         version >= 4 ? sc_get_f64(&r) : 32.0) != SC_OK)
        st = sc_fail(SC_ERR_FORMAT, "%s: bad bit-depth cap", fn);
    if (st == SC_OK && version >= 5)
        st = read_budget(&r, net, fn);
    if (st == SC_OK)
        st = read_state(&r, net, version, fn);
    if (st == SC_OK) {
        unsigned has_opt = sc_get_u8(&r);
        if (has_opt > 1 || r.failed)
            st = sc_fail(SC_ERR_FORMAT, "%s: bad optimizer flag", fn);
        else if (has_opt)
            st = read_optimizer(&r, net, &opt, fn);
    }
    uint64_t ulen = 0;
    if (st == SC_OK) {
        ulen = sc_get_u64(&r);
        if (r.failed || ulen != sc_remaining(&r))
            st = sc_fail(SC_ERR_FORMAT, "%s: bad user data record", fn);
        else if (ulen > user_cap)
            st = sc_fail(SC_ERR_ARG, "%s: the checkpoint holds %llu bytes of "
                         "user data but user_cap is %zu", fn,
                         (unsigned long long)ulen, user_cap);
    }
    if (st == SC_OK) {
        if (ulen)
            memcpy(user, r.data + r.pos, (size_t)ulen);
        if (user_len)
            *user_len = (size_t)ulen;
        *net_out = net;
        *opt_out = opt;
    } else {
        sc_optimizer_free(opt);
        sc_net_free(net);
    }
    free(data);
    return st;
}

SC_API sc_status sc_checkpoint_load(const char *path, sc_net **net_out,
                                    sc_optimizer **opt_out, void *user,
                                    size_t user_cap, size_t *user_len)
{
    return sc_checkpoint_load_v2(path, net_out, opt_out, user, user_cap,
                                 user_len, NULL);
}
