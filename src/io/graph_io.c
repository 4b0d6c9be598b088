/* graph_io.c -- writing and re-building the layer graph; file framing. */
#include "io/graph_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quantizer.h"
#include "ops/ops.h"

void sc_file_begin(sc_wbuf *w, const char magic[8], uint32_t version)
{
    sc_put_bytes(w, magic, 8);
    sc_put_u32(w, version);
    sc_put_u64(w, 0); /* content length, filled in by sc_file_end */
}

void sc_file_end(sc_wbuf *w)
{
    if (w->failed)
        return;
    uint64_t content = w->len - SC_FILE_HEADER_BYTES;
    for (int i = 0; i < 8; i++)
        w->data[12 + i] = (unsigned char)(content >> (8 * i));
    sc_put_u32(w, sc_crc32(0, w->data, w->len));
}

sc_status sc_file_open(const unsigned char *data, size_t n,
                       const char magic[8], uint32_t version, sc_rbuf *r,
                       const char *fn)
{
    uint32_t v;
    return sc_file_open_versions(data, n, magic, version, version, &v, r, fn);
}

sc_status sc_file_open_versions(const unsigned char *data, size_t n,
                                const char magic[8], uint32_t oldest,
                                uint32_t newest, uint32_t *version, sc_rbuf *r,
                                const char *fn)
{
    if (n < SC_FILE_HEADER_BYTES + SC_FILE_TRAILER_BYTES)
        return sc_fail(SC_ERR_FORMAT, "%s: %zu bytes is too short", fn, n);
    if (memcmp(data, magic, 8) != 0)
        return sc_fail(SC_ERR_FORMAT, "%s: not a libselfcompress %s file", fn,
                       magic[2] == 'M' ? "model" : "checkpoint");
    sc_rbuf h = {data + 8, 12, 0, 0};
    uint32_t v = sc_get_u32(&h);
    uint64_t content = sc_get_u64(&h);
    if (v < oldest || v > newest)
        return oldest == newest
                   ? sc_fail(SC_ERR_FORMAT, "%s: format version %u (this "
                             "library reads %u)", fn, v, newest)
                   : sc_fail(SC_ERR_FORMAT, "%s: format version %u (this "
                             "library reads %u to %u)", fn, v, oldest, newest);
    if (content != n - SC_FILE_HEADER_BYTES - SC_FILE_TRAILER_BYTES)
        return sc_fail(SC_ERR_FORMAT, "%s: the file is truncated or has "
                       "trailing bytes (%zu bytes, header says %llu of content)",
                       fn, n, (unsigned long long)content);
    sc_rbuf t = {data + n - 4, 4, 0, 0};
    uint32_t want = sc_get_u32(&t);
    if (sc_crc32(0, data, n - 4) != want)
        return sc_fail(SC_ERR_FORMAT, "%s: checksum mismatch: the file is "
                       "corrupt", fn);
    *version = v;
    *r = (sc_rbuf){data + SC_FILE_HEADER_BYTES, (size_t)content, 0, 0};
    return SC_OK;
}

/* A layer record's attributes (docs/format.md): version 2 stores the
 * descriptor's fields and the output shape; version 1 (fixed 50-byte
 * records) stored one stride and one pad, and a 1 x 1 kernel and stride 1
 * on layers that read features (dense). */
typedef struct layer_rec {
    unsigned kind, quant;
    uint32_t n_in, in[SC_MAX_LAYER_INPUTS];
    uint32_t a[9]; /* channels, kernel h w, stride h w, pad h w, groups, flags */
    float alpha;
    uint32_t shape[3];
    uint64_t n0;
} layer_rec;

static void node_rec(const sc_node *nd, uint32_t version, layer_rec *r)
{
    sc_layer_desc d;
    sc_node_desc(nd, &d);
    memset(r, 0, sizeof *r);
    r->kind = (unsigned)nd->kind;
    r->quant = (unsigned)nd->quantized;
    r->n_in = (uint32_t)nd->n_in;
    for (int i = 0; i < nd->n_in; i++)
        r->in[i] = (uint32_t)nd->in[i];
    int v[9] = {d.channels, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w,
                d.pad_h, d.pad_w, d.groups, d.flags};
    for (int i = 0; i < 9; i++)
        r->a[i] = (uint32_t)v[i];
    r->alpha = d.alpha;
    if (version == SC_GRAPH_V1) {
        r->a[0] = (uint32_t)nd->c;
        r->a[1] = (uint32_t)nd->kh;
        r->a[2] = (uint32_t)nd->kw;
        if (sc_op_flags(nd) & SC_OPF_FLAT_IN)
            r->a[3] = r->a[4] = 1;
        r->a[7] = 0;
    }
    r->shape[0] = (uint32_t)nd->c;
    r->shape[1] = (uint32_t)nd->h;
    r->shape[2] = (uint32_t)nd->w;
    r->n0 = (uint64_t)nd->n0;
}

void sc_graph_write(sc_wbuf *w, const sc_net *net)
{
    sc_put_u32(w, (uint32_t)net->in_c);
    sc_put_u32(w, (uint32_t)net->in_h);
    sc_put_u32(w, (uint32_t)net->in_w);
    sc_put_u32(w, (uint32_t)net->n_nodes);
    for (int i = 1; i < net->n_nodes; i++) {
        layer_rec r;
        node_rec(&net->nodes[i], SC_GRAPH_V2, &r);
        sc_put_u8(w, r.kind); /* layer codes: sc_layer_kind */
        sc_put_u8(w, r.quant);
        sc_put_u8(w, r.n_in);
        for (uint32_t k = 0; k < r.n_in; k++)
            sc_put_u32(w, r.in[k]);
        for (int k = 0; k < 9; k++)
            sc_put_u32(w, r.a[k]);
        sc_put_f32(w, r.alpha);
        for (int k = 0; k < 3; k++)
            sc_put_u32(w, r.shape[k]);
        sc_put_u64(w, r.n0);
    }
}

/* The smallest record of a version: the count of layers must fit. */
static uint64_t min_record(uint32_t version)
{
    return version == SC_GRAPH_V1 ? 50 : 3 + 4 + 9 * 4 + 4 + 3 * 4 + 8;
}

static void read_rec(sc_rbuf *b, uint32_t version, layer_rec *r)
{
    memset(r, 0, sizeof *r);
    r->kind = sc_get_u8(b);
    if (version == SC_GRAPH_V1) {
        r->in[0] = sc_get_u32(b);
        r->in[1] = sc_get_u32(b);
        r->a[0] = r->shape[0] = sc_get_u32(b);
        r->shape[1] = sc_get_u32(b);
        r->shape[2] = sc_get_u32(b);
        r->a[1] = sc_get_u32(b);
        r->a[2] = sc_get_u32(b);
        r->a[3] = r->a[4] = sc_get_u32(b);
        r->a[5] = r->a[6] = sc_get_u32(b);
        r->a[8] = sc_get_u32(b);
        r->quant = sc_get_u8(b);
        r->n0 = sc_get_u64(b);
        /* the input count is the kind's (add: 2) */
        r->n_in = r->kind < SC_LAYER_KIND_COUNT
                      ? (uint32_t)sc_ops[r->kind].min_in : 1;
        return;
    }
    r->quant = sc_get_u8(b);
    r->n_in = sc_get_u8(b);
    for (uint32_t k = 0; k < r->n_in && k < SC_MAX_LAYER_INPUTS; k++)
        r->in[k] = sc_get_u32(b);
    if (r->n_in > SC_MAX_LAYER_INPUTS)
        return; /* refused by the caller before anything else is read */
    for (int k = 0; k < 9; k++)
        r->a[k] = sc_get_u32(b);
    r->alpha = sc_get_f32(b);
    for (int k = 0; k < 3; k++)
        r->shape[k] = sc_get_u32(b);
    r->n0 = sc_get_u64(b);
}

/* Appends the layer a record describes through the one builder, which
 * checks every attribute; values too large for an int are rejected first.
 * A version 1 record sets only the fields its kind takes. */
static sc_status add_layer(sc_net *net, const layer_rec *r, uint32_t version,
                           int *id)
{
    if (r->kind >= SC_LAYER_KIND_COUNT)
        return sc_fail(SC_ERR_FORMAT, "unknown layer code %u", r->kind);
    if (r->n_in < 1 || r->n_in > SC_MAX_LAYER_INPUTS)
        return sc_fail(SC_ERR_FORMAT, "%u inputs", r->n_in);
    int in[SC_MAX_LAYER_INPUTS], v[9];
    for (uint32_t k = 0; k < r->n_in; k++)
        in[k] = r->in[k] > (1u << 30) ? -1 : (int)r->in[k];
    for (int k = 0; k < 9; k++) {
        if (r->a[k] > (1u << 30))
            return sc_fail(SC_ERR_FORMAT, "layer attribute %u is too large",
                           r->a[k]);
        v[k] = (int)r->a[k];
    }
    sc_layer_desc d = SC_LAYER_DESC_INIT((sc_layer_kind)r->kind);
    unsigned at = version == SC_GRAPH_V1 ? sc_ops[r->kind].attrs : ~0u;
    d.channels = at & SC_ATTR_CHANNELS ? v[0] : 0;
    d.kernel_h = at & SC_ATTR_KERNEL ? v[1] : 0;
    d.kernel_w = at & SC_ATTR_KERNEL ? v[2] : 0;
    d.stride_h = at & SC_ATTR_STRIDE ? v[3] : 0;
    d.stride_w = at & SC_ATTR_STRIDE ? v[4] : 0;
    d.pad_h = at & SC_ATTR_PAD ? v[5] : 0;
    d.pad_w = at & SC_ATTR_PAD ? v[6] : 0;
    d.groups = at & SC_ATTR_GROUPS ? v[7] : 0;
    d.flags = v[8];
    d.alpha = r->alpha;
    return sc_layer_append(net, &d, in, (int)r->n_in, id, "layer");
}

/* SC_ERR_FORMAT with the builder's message behind ours. */
static sc_status reformat(const char *fn, const char *what, uint32_t i)
{
    if (what[0])
        return sc_fail(SC_ERR_FORMAT, "%s: %s%u: %s", fn, what, i,
                       sc_last_error());
    return sc_fail(SC_ERR_FORMAT, "%s: %s", fn, sc_last_error());
}

sc_status sc_load_limits_get(const sc_load_limits *limits, sc_load_limits *out,
                             const char *fn)
{
    *out = (sc_load_limits)SC_LOAD_LIMITS_INIT;
    if (limits == NULL)
        return SC_OK;
    if (limits->size < sizeof(size_t) || limits->size > 4096)
        return sc_fail(SC_ERR_ARG, "%s: limits->size must be set to "
                       "sizeof(sc_load_limits)", fn);
    memcpy(out, limits, limits->size < sizeof *out ? limits->size : sizeof *out);
    out->size = sizeof *out;
    if (isnan(out->max_macs))
        return sc_fail(SC_ERR_ARG, "%s: limits->max_macs is NaN", fn);
    return SC_OK;
}

/* The net's cost per sample against the caps. */
static sc_status check_cost(sc_net *net, int keep_quant,
                            const sc_load_limits *lim, const char *fn)
{
    int64_t bytes;
    double macs;
    if (sc_plan_cost(net, !keep_quant, &bytes, &macs) != SC_OK)
        return sc_fail(SC_ERR_FORMAT, "%s: %s", fn, sc_last_error());
    if (bytes > lim->max_activation_bytes)
        return sc_fail(SC_ERR_FORMAT, "%s: the net needs %lld bytes of "
                       "activations per sample, more than the cap of %lld",
                       fn, (long long)bytes, (long long)lim->max_activation_bytes);
    if (macs > lim->max_macs)
        return sc_fail(SC_ERR_FORMAT, "%s: the net needs %.4g operations per "
                       "sample, more than the cap of %.4g", fn, macs,
                       lim->max_macs);
    return SC_OK;
}

/* The stored n0 of layer nd (node i) against the graph: 0 on a layer
 * without weights; on a dense or conv layer c0 * cin0 * k, with k its
 * weights per input unit, cin0 the input's unit count at construction
 * (orig[] of the input node; a grouped layer's: its inputs per group, which
 * compress never changes) and c0 its own, which is c unless the layer is
 * quantised (only a quantised layer's channels are ever removed, so then
 * c0 >= c). orig[i] gets node i's unit count at construction. */
static sc_status check_n0(const sc_net *net, const sc_node *nd, int i,
                          unsigned quant, uint64_t n0, uint64_t *orig,
                          const char *fn)
{
    uint64_t in0 = orig[nd->in[0]], c0 = (uint64_t)nd->c;
    if (!sc_is_weighted(nd)) {
        if (n0 != 0)
            return sc_fail(SC_ERR_FORMAT, "%s: layer %d has no weights but "
                           "a stored n0 of %llu", fn, i, (unsigned long long)n0);
        switch (sc_ops[nd->kind].chan) {
        case SC_CHAN_FLATTEN: {
            const sc_node *x = &net->nodes[nd->in[0]];
            uint64_t hw = (uint64_t)x->h * (uint64_t)x->w;
            if (hw == 0 || in0 > ((uint64_t)1 << 40) / hw)
                return sc_fail(SC_ERR_FORMAT, "%s: layer %d: more than 2^40 "
                               "features at construction", fn, i);
            c0 = in0 * hw;
            break;
        }
        case SC_CHAN_JOIN:
            for (int k = 1; k < nd->n_in; k++)
                if (orig[nd->in[k]] != in0)
                    return sc_fail(SC_ERR_FORMAT, "%s: layer %d joins inputs "
                                   "of %llu and %llu channels at construction "
                                   "(their n0)", fn, i, (unsigned long long)in0,
                                   (unsigned long long)orig[nd->in[k]]);
            c0 = in0;
            break;
        case SC_CHAN_CONCAT:
            c0 = 0;
            for (int k = 0; k < nd->n_in; k++)
                c0 += orig[nd->in[k]];
            break;
        case SC_CHAN_SOURCE:
        case SC_CHAN_SAME:
        case SC_CHAN_NEW:
            c0 = in0;
            break;
        }
        orig[i] = c0;
        return SC_OK;
    }
    const sc_node *x = &net->nodes[nd->in[0]];
    uint64_t blk = sc_weights_per_in(nd, x), lim = (uint64_t)1 << 40;
    if (sc_groups(nd) > 1) /* a group's inputs: as many as ever */
        in0 = (uint64_t)(x->c / sc_groups(nd));
    int ok = blk > 0 && in0 > 0 && in0 <= lim / blk;
    uint64_t per = ok ? in0 * blk : 1;
    ok = ok && n0 % per == 0 && n0 >= (uint64_t)nd->pn[P_W];
    if (ok) {
        c0 = n0 / per;
        ok = quant ? c0 >= (uint64_t)nd->c : c0 == (uint64_t)nd->c;
    }
    if (!ok)
        return sc_fail(SC_ERR_FORMAT, "%s: layer %d: a stored n0 of %llu "
                       "does not match its %zu weights%s", fn, i,
                       (unsigned long long)n0, nd->pn[P_W],
                       quant ? "" : " (an unquantised layer keeps its "
                                    "channels)");
    orig[i] = c0;
    return SC_OK;
}

sc_status sc_graph_read(sc_rbuf *r, uint32_t version, int keep_quant,
                        const sc_load_limits *lim, sc_net **out,
                        const char *fn)
{
    uint32_t c = sc_get_u32(r), h = sc_get_u32(r), w = sc_get_u32(r);
    uint32_t n = sc_get_u32(r);
    if (r->failed)
        return sc_fail(SC_ERR_FORMAT, "%s: truncated layer table", fn);
    /* the count of layer records must fit in the file */
    if (n < 2 || (uint64_t)(n - 1) * min_record(version) > sc_remaining(r) ||
        c > (1u << 20) || h > (1u << 20) || w > (1u << 20))
        return sc_fail(SC_ERR_FORMAT, "%s: implausible layer table (%u layers, "
                       "input %ux%ux%u)", fn, n, c, h, w);
    sc_net *net;
    sc_status st = sc_net_create(&net, (int)c, (int)h, (int)w);
    if (st != SC_OK)
        return st == SC_ERR_NOMEM ? st : reformat(fn, "", 0);
    uint64_t *orig = malloc((size_t)n * sizeof *orig); /* check_n0 */
    if (!orig) {
        sc_net_free(net);
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    }
    orig[0] = c;
    /* budget: floats we allocate may not exceed a multiple of the bytes
     * present (a 1-bit weight is 1/8 byte), plus a fixed allowance
     * (docs/format.md) */
    uint64_t budget = ((uint64_t)1 << 22) + 64 * (uint64_t)r->len, used = 0;
    for (uint32_t i = 1; i < n && st == SC_OK; i++) {
        layer_rec rec, back;
        read_rec(r, version, &rec);
        int id = -1;
        if (r->failed) {
            st = sc_fail(SC_ERR_FORMAT, "%s: truncated layer %u", fn, i);
            break;
        }
        if ((st = add_layer(net, &rec, version, &id)) != SC_OK) {
            st = reformat(fn, "layer ", i);
            break;
        }
        sc_node *nd = &net->nodes[id];
        int weighted = sc_is_weighted(nd);
        /* every stored field must be what sc_graph_write would write for
         * the layer just built: one encoding per graph */
        node_rec(nd, version, &back);
        if (memcmp(back.a, rec.a, sizeof rec.a) != 0 ||
            memcmp(back.shape, rec.shape, sizeof rec.shape) != 0 ||
            memcmp(&back.alpha, &rec.alpha, sizeof rec.alpha) != 0 ||
            (version == SC_GRAPH_V1 && rec.in[1] != (nd->n_in > 1 ? back.in[1] : 0)) ||
            rec.quant > 1 || (rec.quant && !weighted) ||
            rec.n0 > ((uint64_t)1 << 40)) {
            st = sc_fail(SC_ERR_FORMAT, "%s: layer %u: stored shape or flags do "
                         "not match the graph", fn, i);
            break;
        }
        unsigned quant = rec.quant;
        uint64_t n0 = rec.n0;
        if ((st = check_n0(net, nd, id, quant, n0, orig, fn)) != SC_OK)
            break;
        nd->n0 = (int64_t)n0;
        nd->quantized = (int)quant; /* for a model: "stored quantised" */
        if (quant && keep_quant)
            nd->pn[P_QB] = nd->pn[P_QE] = (size_t)nd->c;
        if (quant)
            net->n0 += (int64_t)n0;
        for (int s = 0; s < P_SLOTS; s++)
            used += nd->pn[s];
        for (int s = 0; s < S_SLOTS; s++)
            used += nd->sn[s];
        /* the live mask: a float per channel. Not the layer's size: feature
         * maps are allocated by a forward pass, for the caller's batch, and a
         * cbias only when its c*h*w floats are in the file */
        used += (uint64_t)nd->c;
        if (used > budget)
            st = sc_fail(SC_ERR_FORMAT, "%s: layer %u: the layers need more "
                         "memory than a file of %zu bytes can describe", fn, i,
                         r->len);
    }
    free(orig);
    if (!keep_quant) { /* a model: forward-only, quantised weights as levels */
        net->forward_only = 1;
        for (int i = 1; i < net->n_nodes; i++)
            net->nodes[i].int_weights = net->nodes[i].quantized;
    }
    if (st == SC_OK)
        st = check_cost(net, keep_quant, lim, fn);
    if (st == SC_OK) {
        size_t np, ns;
        sc_params_offsets(net, &np, &ns);
        st = sc_params_relayout(net, NULL, NULL, np, ns);
    }
    if (st != SC_OK) {
        sc_net_free(net);
        return st;
    }
    net->initialized = 1;
    *out = net;
    return SC_OK;
}

sc_status sc_graph_check_variances(sc_net *net, sc_status status,
                                   const char *fn)
{
    for (int i = 1; i < net->n_nodes; i++) {
        const float *rv = sc_node_state(net, &net->nodes[i], S_VAR);
        for (size_t k = 0; rv && k < net->nodes[i].sn[S_VAR]; k++)
            if (!(rv[k] >= 0.0f))
                return sc_fail(status, "%s: layer %d has a negative running "
                               "variance (%g)", fn, i, (double)rv[k]);
    }
    return SC_OK;
}

sc_status sc_graph_check_values(sc_net *net, sc_status status, const char *fn)
{
    sc_status st = sc_quant_check_ranges(net, status, fn);
    return st != SC_OK ? st : sc_graph_check_variances(net, status, fn);
}
