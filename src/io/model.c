/* model.c -- the compressed model file and the inference handle.
 * Layout: docs/format.md. Quantised weights are stored as integers
 * round(clamp(2^-e w)) bit-packed at ceil(B) bits per channel, and turned
 * back into floats 2^e * int once, at load. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"
#include "io/file.h"
#include "io/cmap.h"
#include "io/graph_io.h"
#include "int8/q8.h"
#include "io/model.h"
#include "ops/ops.h"
#include "quant/mantissa.h"
#include "quant/quantizer.h"

static const char MODEL_MAGIC[8] = {'S', 'C', 'M', 'O', 'D', 'E', 'L', 0};
#define MODEL_VERSION 4u /* written; read: 1 (layer table version 1) to 4 */
#define MODEL_OLDEST 1u
#define MODEL_CMAP 3u    /* the first version with CBIAS_CLASSES */
#define MODEL_CALIB 4u   /* the first with activation ranges */

/* A dense/conv layer's constant map record (docs/format.md) */
enum { CBIAS_NONE, CBIAS_FLOATS, CBIAS_CLASSES };

struct sc_model {
    sc_net *net;
    sc_model_info info;
    int inference; /* an sc_inference */
    sc_q8 *q8;     /* the int8 program, once prepared */
};

/* ---- bit packing: LSB first, two's complement ---- */

typedef struct bitw {
    sc_wbuf *w;
    uint64_t acc;
    int n;
} bitw;

static void put_bits(bitw *b, uint32_t v, int bits)
{
    if (bits == 0)
        return;
    b->acc |= (uint64_t)(v & (uint32_t)((1ull << bits) - 1)) << b->n;
    b->n += bits;
    while (b->n >= 8) {
        sc_put_u8(b->w, (unsigned)(b->acc & 0xFF));
        b->acc >>= 8;
        b->n -= 8;
    }
}

static void flush_bits(bitw *b)
{
    if (b->n > 0)
        sc_put_u8(b->w, (unsigned)(b->acc & 0xFF));
    b->acc = 0;
    b->n = 0;
}

typedef struct bitr {
    const unsigned char *p;
    uint64_t pos, len_bits;
} bitr;

static int32_t get_bits(bitr *b, int bits)
{
    if (bits == 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < bits; i++, b->pos++)
        v |= (uint64_t)((b->p[b->pos >> 3] >> (b->pos & 7)) & 1) << i;
    if (v & (1ull << (bits - 1))) /* sign-extend */
        v |= ~((1ull << bits) - 1);
    return (int32_t)(int64_t)v;
}

/* ---- save ---- */

/* A layer's float slots in file order after its weights (docs/format.md):
 * bias, norm scale and shift, running mean and variance; each present only
 * when the layer has it. Then, for a layer with weights, its cbias. */
static const int FLOAT_SLOTS[] = {P_B, P_GAMMA, P_BETA};
static const int STATE_SLOTS[] = {S_MEAN, S_VAR};

static void put_slots(sc_wbuf *w, sc_net *net, sc_node *nd)
{
    for (size_t s = 0; s < sizeof FLOAT_SLOTS / sizeof *FLOAT_SLOTS; s++)
        if (nd->pn[FLOAT_SLOTS[s]])
            sc_put_f32s(w, sc_node_param(net, nd, FLOAT_SLOTS[s]),
                        nd->pn[FLOAT_SLOTS[s]]);
    for (size_t s = 0; s < sizeof STATE_SLOTS / sizeof *STATE_SLOTS; s++)
        if (nd->sn[STATE_SLOTS[s]])
            sc_put_f32s(w, sc_node_state(net, nd, STATE_SLOTS[s]),
                        nd->sn[STATE_SLOTS[s]]);
}

/* 0 when the reader ran out */
static int get_slots(sc_rbuf *r, sc_net *net, sc_node *nd)
{
    for (size_t s = 0; s < sizeof FLOAT_SLOTS / sizeof *FLOAT_SLOTS; s++)
        if (nd->pn[FLOAT_SLOTS[s]] &&
            !sc_get_f32s(r, sc_node_param(net, nd, FLOAT_SLOTS[s]),
                         nd->pn[FLOAT_SLOTS[s]]))
            return 0;
    for (size_t s = 0; s < sizeof STATE_SLOTS / sizeof *STATE_SLOTS; s++)
        if (nd->sn[STATE_SLOTS[s]] &&
            !sc_get_f32s(r, sc_node_state(net, nd, STATE_SLOTS[s]),
                         nd->sn[STATE_SLOTS[s]]))
            return 0;
    return 1;
}

/* A layer's constant map: its record kind (CBIAS_*), then the map as
 * classes when that is smaller than its floats, else the floats. */
static sc_status put_cbias(sc_wbuf *w, const sc_node *nd, const char *fn)
{
    if (nd->cbias == NULL) {
        sc_put_u8(w, CBIAS_NONE);
        return SC_OK;
    }
    size_t m = sc_node_size(nd);
    sc_wbuf cw = {0};
    if (!sc_cmap_put(&cw, nd->cbias, nd->c, nd->h, nd->w)) {
        free(cw.data);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    }
    if (cw.len < 4 * m) {
        sc_put_u8(w, CBIAS_CLASSES);
        sc_put_bytes(w, cw.data, cw.len);
    } else {
        sc_put_u8(w, CBIAS_FLOATS);
        sc_put_f32s(w, nd->cbias, m);
    }
    free(cw.data);
    return SC_OK;
}

/* What a loaded model keeps resident besides its weights: biases, norm
 * scales and shifts, running statistics, live masks and constant maps. */
static int64_t other_bytes(const sc_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        const sc_node *nd = &net->nodes[i];
        n += nd->pn[P_B] + nd->pn[P_GAMMA] + nd->pn[P_BETA] + nd->sn[S_MEAN] +
             nd->sn[S_VAR] + (size_t)nd->c + (nd->cbias ? sc_node_size(nd) : 0);
    }
    return (int64_t)(n * sizeof(float));
}

static sc_status write_layers(sc_wbuf *w, sc_net *net, sc_model_info *info,
                              const char *fn)
{
    size_t wbytes = 0; /* the weights' resident bytes in the loaded model */
    uint64_t total_bits = 0, headers = 0;
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        int weighted = sc_is_weighted(nd);
        if (weighted) {
            size_t k = nd->pn[P_W] / (size_t)nd->c;
            if (nd->quantized) {
                const float *b = sc_node_param(net, nd, P_QB);
                const float *e = sc_node_param(net, nd, P_QE);
                for (int o = 0; o < nd->c; o++) {
                    int nb = sc_quant_bits(b[o]);
                    if (nb > 32)
                        return sc_fail(SC_ERR_UNSUPPORTED, "%s: layer %d channel "
                                       "%d has %d bits (at most 32 are stored)",
                                       fn, i, o, nb);
                    /* what the loader accepts (2^e a normal float) */
                    if (!isfinite(e[o]) || fabsf(e[o]) > 126.0f)
                        return sc_fail(SC_ERR_UNSUPPORTED, "%s: layer %d channel "
                                       "%d has exponent %g (at most 126 in "
                                       "magnitude is stored)", fn, i, o,
                                       (double)e[o]);
                    sc_put_u8(w, (unsigned)nb);
                    sc_put_f32(w, e[o]);
                    total_bits += (uint64_t)nb * k;
                    headers += 5;
                    info->weights += nb ? (int64_t)k : 0;
                    wbytes += k * (size_t)sc_mantissa_width((unsigned)nb);
                }
                wbytes += sc_mantissa_overhead((size_t)nd->c);
            } else {
                sc_put_f32s(w, sc_node_param(net, nd, P_W), nd->pn[P_W]);
                wbytes += nd->pn[P_W] * sizeof(float);
            }
        }
        put_slots(w, net, nd);
        if (weighted) {
            sc_status st = put_cbias(w, nd, fn);
            if (st != SC_OK)
                return st;
        }
    }
    /* every quantised weight in one bitstream: ceil(total bits / 8) bytes */
    sc_put_u64(w, total_bits);
    bitw bw = {w, 0, 0};
    for (int i = 1; i < net->n_nodes; i++) {
        sc_node *nd = &net->nodes[i];
        if (!nd->quantized)
            continue;
        size_t k = nd->pn[P_W] / (size_t)nd->c;
        const float *wt = sc_node_param(net, nd, P_W);
        const float *b = sc_node_param(net, nd, P_QB);
        const float *e = sc_node_param(net, nd, P_QE);
        for (int o = 0; o < nd->c; o++) {
            int nb = sc_quant_bits(b[o]);
            /* the quantiser's own levels (quantizer.c) */
            sc_qchan qc = sc_quant_chan(b[o], e[o]);
            /* the integers the quantiser produces fit in nb bits; the clamp
             * to the nb-bit range only guards the conversion */
            int64_t imax = ((int64_t)1 << (nb > 0 ? nb - 1 : 0)) - 1, imin = -imax - 1;
            for (size_t j = 0; nb && j < k; j++) {
                float r = sc_quant_level(qc, wt[(size_t)o * k + j]);
                int64_t q = r >= (float)imax ? imax : (r <= (float)imin ? imin : (int64_t)r);
                put_bits(&bw, (uint32_t)q, nb);
            }
        }
    }
    flush_bits(&bw);
    /* the activation ranges: their images, then lo, hi per layer */
    sc_put_u64(w, net->calib ? (uint64_t)net->calib_images : 0);
    if (net->calib)
        sc_put_f32s(w, net->calib, 2 * (size_t)net->n_nodes);
    info->calibrated_images = net->calib ? net->calib_images : 0;
    info->weight_bits = (double)total_bits;
    info->weight_payload_bytes = (int64_t)((total_bits + 7) / 8);
    info->channel_header_bytes = (int64_t)headers;
    info->weights0 = net->n0;
    info->weight_bytes = (int64_t)wbytes;
    info->param_bytes = other_bytes(net);
    /* the model's cost, as a load will find it */
    return sc_plan_cost(net, 1, &info->activation_bytes, &info->macs);
}

SC_API sc_status sc_net_save(const sc_net *cnet, const char *path,
                             sc_model_info *info)
{
    const char *fn = "sc_net_save";
    SC_CHECK_NULL(cnet, fn);
    SC_CHECK_NULL(path, fn);
    if (info && (info->size < sizeof(size_t) || info->size > 4096))
        return sc_fail(SC_ERR_ARG, "%s: info->size must be set to "
                       "sizeof(sc_model_info)", fn);
    if (!cnet->initialized)
        return sc_fail(SC_ERR_STATE, "%s: call sc_net_init() first", fn);
    sc_net *net = (sc_net *)cnet; /* only read */
    if (!sc_all_finite(net->params, net->n_params) ||
        !sc_all_finite(net->state, net->n_state))
        return sc_fail(SC_ERR_STATE, "%s: the net holds non-finite "
                       "parameters or statistics", fn);
    sc_status qs = sc_graph_check_values(net, SC_ERR_STATE, fn);
    if (qs != SC_OK)
        return qs;
    sc_wbuf w = {0};
    sc_model_info mi = SC_MODEL_INFO_INIT;
    sc_file_begin(&w, MODEL_MAGIC, MODEL_VERSION);
    sc_graph_write(&w, net);
    sc_status st = write_layers(&w, net, &mi, fn);
    sc_file_end(&w);
    if (st == SC_OK && w.failed)
        st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    if (st == SC_OK)
        st = sc_file_write_atomic(path, w.data, w.len, fn);
    if (st == SC_OK && info) {
        mi.file_bytes = (int64_t)w.len;
        mi.size = info->size;
        memcpy(info, &mi, info->size < sizeof mi ? info->size : sizeof mi);
    }
    free(w.data);
    return st;
}

/* ---- load ---- */

/* The activation ranges after the bitstream (stream bytes from r's
 * position): into net->calib when the file has them; *bytes is their
 * length. SC_ERR_FORMAT for ranges that are not finite or not ordered. */
static sc_status read_calib(const sc_rbuf *r, size_t stream, sc_net *net,
                            size_t *bytes, const char *fn)
{
    sc_rbuf c = {r->data + r->pos + stream, sc_remaining(r) - stream, 0, 0};
    uint64_t images = sc_get_u64(&c);
    size_t n = 2 * (size_t)net->n_nodes;
    *bytes = 8;
    if (c.failed || images == 0)
        return SC_OK; /* a short file fails the caller's length check */
    if (images > INT64_MAX || n > sc_remaining(&c) / 4)
        return sc_fail(SC_ERR_FORMAT, "%s: the activation ranges are "
                       "truncated", fn);
    float *cal = malloc(n * sizeof *cal);
    if (cal == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    sc_get_f32s(&c, cal, n);
    for (size_t i = 0; i < n; i += 2)
        if (!isfinite(cal[i]) || !isfinite(cal[i + 1]) || cal[i] > cal[i + 1]) {
            free(cal);
            return sc_fail(SC_ERR_FORMAT, "%s: layer %zu's activation range "
                           "is not a finite interval", fn, i / 2);
        }
    free(net->calib);
    net->calib = cal;
    net->calib_images = (int64_t)images;
    *bytes += 4 * n;
    return SC_OK;
}

static sc_status read_layers(sc_rbuf *r, sc_net *net, uint32_t version,
                             sc_model_info *info, const char *fn)
{
    /* per quantised channel: bits and exponent, kept until the bitstream */
    size_t nch = 0;
    for (int i = 1; i < net->n_nodes; i++)
        if (net->nodes[i].quantized)
            nch += (size_t)net->nodes[i].c;
    unsigned char *bits = malloc(nch ? nch : 1);
    float *exps = malloc((nch ? nch : 1) * sizeof(float));
    unsigned char *quant = calloc((size_t)net->n_nodes, 1);
    sc_status st = SC_OK;
    if (!bits || !exps || !quant)
        st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    uint64_t need_bits = 0, headers = 0;
    size_t ch = 0;
    int finite = 1; /* every value the file gives, as the model computes it */
    for (int i = 1; i < net->n_nodes && st == SC_OK; i++) {
        sc_node *nd = &net->nodes[i];
        int weighted = sc_is_weighted(nd);
        if (weighted) {
            size_t k = nd->pn[P_W] / (size_t)nd->c;
            quant[i] = (unsigned char)nd->quantized;
            if (quant[i]) {
                for (int o = 0; o < nd->c; o++, ch++) {
                    bits[ch] = (unsigned char)sc_get_u8(r);
                    exps[ch] = sc_get_f32(r);
                    if (bits[ch] > 32 || !isfinite(exps[ch]) || fabsf(exps[ch]) > 126.0f)
                        r->failed = 1;
                    need_bits += (uint64_t)bits[ch] * k;
                    headers += 5;
                    info->weights += bits[ch] ? (int64_t)k : 0;
                }
            } else if (!sc_get_f32s(r, sc_node_param(net, nd, P_W), nd->pn[P_W])) {
                break;
            }
        }
        if (!get_slots(r, net, nd))
            break;
        if (weighted) {
            unsigned kind = sc_get_u8(r);
            if (kind > (version >= MODEL_CMAP ? CBIAS_CLASSES : CBIAS_FLOATS))
                r->failed = 1;
            if (kind != CBIAS_NONE && !r->failed) {
                /* the whole map, or per channel at least a mode byte and
                 * one float; the map itself is the layer's output per
                 * sample, within the cost caps */
                int compact = kind == CBIAS_CLASSES;
                size_t m = sc_node_size(nd);
                if (compact ? (size_t)nd->c > sc_remaining(r) / 5
                            : m > sc_remaining(r) / 4) {
                    r->failed = 1;
                    break;
                }
                nd->cbias = malloc(m * sizeof(float));
                if (nd->cbias == NULL)
                    st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
                else if (compact)
                    sc_cmap_get(r, nd->cbias, nd->c, nd->h, nd->w);
                else
                    sc_get_f32s(r, nd->cbias, m);
            }
        }
    }
    uint64_t total_bits = sc_get_u64(r);
    /* the bitstream, then (from version 4) the activation ranges */
    size_t stream = (size_t)((total_bits + 7) / 8), after = 0;
    if (st == SC_OK && !r->failed && total_bits == need_bits &&
        stream <= sc_remaining(r) && version >= MODEL_CALIB)
        st = read_calib(r, stream, net, &after, fn);
    if (st == SC_OK && (r->failed || total_bits != need_bits ||
                        (uint64_t)stream + after != sc_remaining(r)))
        st = sc_fail(SC_ERR_FORMAT, "%s: the layer data is truncated or "
                     "inconsistent", fn);
    if (st == SC_OK) {
        bitr br = {r->data + r->pos, 0, total_bits};
        ch = 0;
        for (int i = 1; i < net->n_nodes && st == SC_OK; i++) {
            sc_node *nd = &net->nodes[i];
            if (!quant[i])
                continue;
            size_t k = nd->pn[P_W] / (size_t)nd->c, at = 0;
            nd->mant = sc_mantissas_new((size_t)nd->c, k, bits + ch, exps + ch);
            if (nd->mant == NULL) {
                st = sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
                break;
            }
            for (int o = 0; o < nd->c; o++, ch++) {
                const float sc = sc_quant_chan(bits[ch], exps[ch]).s;
                for (size_t j = 0; j < k; j++) {
                    int32_t v = get_bits(&br, bits[ch]);
                    finite = finite && isfinite(sc_quant_value(sc, (float)v));
                    sc_mantissas_put(nd->mant, &at, (size_t)o, v);
                }
            }
        }
    }
    if (st == SC_OK) {
        info->weight_bits = (double)total_bits;
        info->weight_payload_bytes = (int64_t)((total_bits + 7) / 8);
        info->channel_header_bytes = (int64_t)headers;
        info->weights0 = net->n0;
        info->calibrated_images = net->calib_images;
        size_t wbytes = 0;
        for (int i = 1; i < net->n_nodes; i++) {
            const sc_node *nd = &net->nodes[i];
            wbytes += nd->mant ? sc_mantissas_resident(nd->mant)
                               : nd->pn[P_W] * sizeof(float);
        }
        info->weight_bytes = (int64_t)wbytes;
        info->param_bytes = other_bytes(net);
        finite = finite && sc_all_finite(net->params, net->n_params) &&
                 sc_all_finite(net->state, net->n_state);
        for (int i = 1; i < net->n_nodes; i++)
            if (net->nodes[i].cbias)
                finite = finite && sc_all_finite(net->nodes[i].cbias,
                                                 sc_node_size(&net->nodes[i]));
        if (!finite)
            st = sc_fail(SC_ERR_FORMAT, "%s: the file holds NaN or Inf values", fn);
        if (st == SC_OK)
            st = sc_graph_check_variances(net, SC_ERR_FORMAT, fn);
    }
    free(bits);
    free(exps);
    free(quant);
    return st;
}

SC_API sc_status sc_model_load_memory_v2(sc_model **out, const void *data,
                                         size_t size,
                                         const sc_load_limits *limits)
{
    const char *fn = "sc_model_load";
    SC_CHECK_NULL(out, fn);
    SC_CHECK_NULL(data, fn);
    sc_load_limits lim;
    sc_status st = sc_load_limits_get(limits, &lim, fn);
    if (st != SC_OK)
        return st;
    sc_rbuf r;
    uint32_t version;
    st = sc_file_open_versions(data, size, MODEL_MAGIC, MODEL_OLDEST,
                               MODEL_VERSION, &version, &r, fn);
    if (st != SC_OK)
        return st;
    sc_net *net;
    /* version 1 has version 1 of the layer table, 2 and 3 version 2 */
    if ((st = sc_graph_read(&r, version == 1 ? SC_GRAPH_V1 : SC_GRAPH_V2, 0,
                            &lim, &net, fn)) != SC_OK)
        return st;
    sc_model *m = calloc(1, sizeof *m);
    sc_model_info info = SC_MODEL_INFO_INIT;
    st = m ? read_layers(&r, net, version, &info, fn)
           : sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    if (st != SC_OK) {
        free(m);
        sc_net_free(net);
        return st;
    }
    for (int i = 1; i < net->n_nodes; i++)
        net->nodes[i].quantized = 0; /* weights are plain floats now */
    net->training = 0;
    sc_plan_cost(net, 1, &info.activation_bytes, &info.macs); /* read checked it */
    info.file_bytes = (int64_t)size;
    m->net = net;
    m->info = info;
    m->inference = net->calib ? SC_INFERENCE_INT8 : SC_INFERENCE_FP32;
    *out = m;
    return SC_OK;
}

SC_API sc_status sc_model_load_memory(sc_model **out, const void *data,
                                      size_t size)
{
    return sc_model_load_memory_v2(out, data, size, NULL);
}

SC_API sc_status sc_model_load_v2(sc_model **out, const char *path,
                                  const sc_load_limits *limits)
{
    SC_CHECK_NULL(out, "sc_model_load");
    SC_CHECK_NULL(path, "sc_model_load");
    sc_load_limits lim;
    sc_status st = sc_load_limits_get(limits, &lim, "sc_model_load");
    if (st != SC_OK)
        return st;
    unsigned char *data;
    size_t n;
    st = sc_file_read(path, SC_FILE_MAX_BYTES, &data, &n, "sc_model_load");
    if (st != SC_OK)
        return st;
    st = sc_model_load_memory_v2(out, data, n, &lim);
    free(data);
    return st;
}

SC_API sc_status sc_model_load(sc_model **out, const char *path)
{
    return sc_model_load_v2(out, path, NULL);
}

sc_net *sc_model_net(const sc_model *m) { return m->net; }

const unsigned char *sc_model_layer_quant(const sc_model *m, int id,
                                          const float **e)
{
    if (id < 1 || id >= m->net->n_nodes || m->net->nodes[id].mant == NULL)
        return NULL;
    *e = m->net->nodes[id].mant->exp;
    return m->net->nodes[id].mant->bits;
}

SC_API void sc_model_free(sc_model *m)
{
    if (m == NULL)
        return;
    sc_q8_free(m->q8);
    sc_net_free(m->net);
    free(m);
}

sc_status sc_model_prepare_int8(sc_model *m, const sc_qkernel *kernel,
                                const char *fn)
{
    sc_q8 *q;
    sc_status st = sc_q8_build(m->net, kernel, &q, fn);
    if (st != SC_OK)
        return st;
    sc_q8_free(m->q8);
    m->q8 = q;
    m->info.int8_bytes = (int64_t)sc_q8_resident(q);
    return SC_OK;
}

SC_API sc_status sc_model_forward(sc_model *m, const sc_tensor *x,
                                  sc_tensor *out)
{
    const char *fn = "sc_model_forward";
    SC_CHECK_NULL(m, fn);
    if (m->inference == SC_INFERENCE_FP32)
        return sc_net_forward(m->net, x, out);
    SC_CHECK_NULL(x, fn);
    SC_CHECK_NULL(out, fn);
    int n;
    sc_status st = sc_check_input(m->net, x, &n, fn);
    if (st != SC_OK)
        return st;
    size_t k = (size_t)sc_net_output_size(m->net);
    if (out->numel != (size_t)n * k || out->shape[0] != n)
        return sc_fail(SC_ERR_SHAPE, "%s: out must hold %d x %zu floats", fn,
                       n, k);
    if (m->q8 == NULL && (st = sc_model_prepare_int8(m, NULL, fn)) != SC_OK) {
        m->inference = SC_INFERENCE_FP32;
        return st;
    }
    return sc_q8_forward(m->q8, x->data, n, out->data, fn);
}

SC_API sc_status sc_model_set_threads(sc_model *m, int threads)
{
    SC_CHECK_NULL(m, "sc_model_set_threads");
    sc_status st = sc_net_set_threads(m->net, threads);
    if (st == SC_OK && m->q8)
        m->q8->plan_n = 0; /* the scratch is per thread */
    return st;
}

/* the settings that change how a model computes, not what it learned */
static int model_setting(sc_param p)
{
    return p == SC_PARAM_CONV_ALGO || p == SC_PARAM_INFERENCE;
}

SC_API sc_status sc_model_set_param(sc_model *m, sc_param p, double value)
{
    const char *fn = "sc_model_set_param";
    SC_CHECK_NULL(m, fn);
    if (!model_setting(p))
        return sc_fail(SC_ERR_ARG, "%s: parameter %d is not a setting of a "
                       "model", fn, (int)p);
    if (p != SC_PARAM_INFERENCE)
        return sc_net_set_param(m->net, p, value);
    if (value != SC_INFERENCE_FP32 && value != SC_INFERENCE_INT8)
        return sc_fail(SC_ERR_ARG, "%s: SC_PARAM_INFERENCE takes "
                       "SC_INFERENCE_FP32 or SC_INFERENCE_INT8, not %g", fn,
                       value);
    if (value == SC_INFERENCE_INT8 && m->net->calib == NULL)
        return sc_fail(SC_ERR_STATE, "%s: the model has no activation ranges "
                       "for int8 (sc_net_calibrate() before sc_net_save())", fn);
    m->inference = (int)value;
    return SC_OK;
}

SC_API sc_status sc_model_get_param(const sc_model *m, sc_param p,
                                    double *value)
{
    SC_CHECK_NULL(m, "sc_model_get_param");
    SC_CHECK_NULL(value, "sc_model_get_param");
    if (!model_setting(p))
        return sc_fail(SC_ERR_ARG, "sc_model_get_param: parameter %d is not "
                       "a setting of a model", (int)p);
    if (p == SC_PARAM_INFERENCE) {
        *value = m->inference;
        return SC_OK;
    }
    return sc_net_get_param(m->net, p, value);
}

SC_API int sc_model_output_size(const sc_model *m)
{
    return m ? sc_net_output_size(m->net) : 0;
}

SC_API sc_status sc_model_input_shape(const sc_model *m, int *c, int *h, int *w)
{
    SC_CHECK_NULL(m, "sc_model_input_shape");
    return sc_net_layer_shape(m->net, SC_INPUT, c, h, w);
}

SC_API sc_status sc_model_get_info(const sc_model *m, sc_model_info *info)
{
    SC_CHECK_NULL(m, "sc_model_get_info");
    SC_CHECK_NULL(info, "sc_model_get_info");
    if (info->size < sizeof(size_t) || info->size > 4096)
        return sc_fail(SC_ERR_ARG, "sc_model_get_info: info->size must be set "
                       "to sizeof(sc_model_info)");
    sc_model_info mi = m->info;
    mi.size = info->size;
    memcpy(info, &mi, info->size < sizeof mi ? info->size : sizeof mi);
    return SC_OK;
}
