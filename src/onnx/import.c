/* import.c -- sc_net_import_onnx: an ONNX model into a new, initialised
 * net (docs/onnx.md). Parses the file, checks its opset and graph input,
 * maps the nodes the output needs onto layers in a topological order, then
 * initialises the net and sets the parameters the file holds. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/graph_io.h"
#include "onnx/onnx.h"

#define OX_OPSET_MIN 11
#define OX_OPSET_MAX 17
/* the largest file read from a path: protobuf's own 2 GiB limit */
#define OX_MAX_FILE_BYTES ((size_t)1 << 31)

/* The default domain's opset into c->opset. */
static sc_status check_opset(ox_ctx *c, const Onnx__ModelProto *m)
{
    c->opset = 0;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain;
        if (d == NULL || d[0] == '\0' || strcmp(d, "ai.onnx") == 0)
            c->opset = m->opset_import[i]->has_version
                           ? (int)(m->opset_import[i]->version > INT_MAX
                                       ? INT_MAX : m->opset_import[i]->version)
                           : 0;
    }
    if (c->opset == 0)
        return sc_fail(SC_ERR_FORMAT, "%s: the model imports no version of "
                       "the default operator set", c->fn);
    if (c->opset < OX_OPSET_MIN || c->opset > OX_OPSET_MAX)
        return sc_fail(SC_ERR_UNSUPPORTED, "%s: the model uses opset %d "
                       "(%d to %d are supported)", c->fn, c->opset,
                       OX_OPSET_MIN, OX_OPSET_MAX);
    return SC_OK;
}

/* The net for the graph input: float, N x C x H x W or N x F with every
 * dimension but N given. */
static sc_status make_net(ox_ctx *c)
{
    const ox_val *in = &c->vals[c->input];
    const Onnx__ValueInfoProto *vi = NULL;
    for (size_t i = 0; i < c->g->n_input; i++)
        if (c->g->input[i]->name != NULL && strcmp(c->g->input[i]->name, in->name) == 0)
            vi = c->g->input[i];
    const Onnx__TypeProto *t = vi ? vi->type : NULL;
    if (t == NULL || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        t->tensor_type == NULL || t->tensor_type->shape == NULL)
        return sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph input '%.100s' is "
                       "not a tensor of known rank", c->fn, in->name);
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    if (!tt->has_elem_type || tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph input '%.100s' is of "
                       "data type %d (only float is supported)", c->fn,
                       in->name, tt->has_elem_type ? (int)tt->elem_type : 0);
    size_t rank = tt->shape->n_dim;
    if (rank != 2 && rank != 4)
        return sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph input '%.100s' has "
                       "%zu dimensions (N x C x H x W or N x F are supported)",
                       c->fn, in->name, rank);
    int d[3] = {1, 1, 1};
    for (size_t i = 1; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
        if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            return sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph input '%.100s' "
                           "has a symbolic dimension %zu (only the batch may "
                           "be)", c->fn, in->name, i);
        if (dim->dim_value < 1)
            return sc_fail(SC_ERR_FORMAT, "%s: the graph input '%.100s' has "
                           "dimension %zu of %lld", c->fn, in->name, i,
                           (long long)dim->dim_value);
        if (dim->dim_value > (1 << 28))
            return sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph input '%.100s' "
                           "has dimension %zu of %lld (at most 2^28)", c->fn,
                           in->name, i, (long long)dim->dim_value);
        d[i - 1] = (int)dim->dim_value;
    }
    sc_status st = sc_net_create(&c->net, d[0], d[1], d[2]);
    if (st == SC_ERR_SHAPE)
        return sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph input '%.100s': %s",
                       c->fn, in->name, sc_last_error());
    if (st != SC_OK)
        return st;
    ox_val *v = &c->vals[c->input];
    v->kind = OX_LAYER;
    v->layer = SC_INPUT;
    v->rank = (int)rank;
    return SC_OK;
}

/* The layers, then the net initialised with the file's parameters. */
static sc_status build(ox_ctx *c, const sc_load_limits *lim)
{
    sc_status st;
    for (int i = 0; i < c->n_order; i++)
        if ((st = ox_op_apply(c, c->order[i])) != SC_OK)
            return st;
    const ox_val *out = &c->vals[c->output];
    if (out->kind != OX_LAYER || out->layer == SC_INPUT ||
        out->layer != sc_net_layer_count(c->net) - 1)
        return sc_fail(SC_ERR_UNSUPPORTED, "%s: the graph output '%.100s' is "
                       "%s", c->fn, out->name,
                       out->kind == OX_CONST ? "a constant" :
                       out->kind == OX_LAYER ? "no layer of its own (the "
                                               "graph computes nothing)" :
                                               "a partial value");
    int64_t bytes;
    double macs;
    if ((st = sc_plan_cost(c->net, 1, &bytes, &macs)) != SC_OK)
        return sc_fail(SC_ERR_FORMAT, "%s: %s", c->fn, sc_last_error());
    if (bytes > lim->max_activation_bytes || macs > lim->max_macs)
        return sc_fail(SC_ERR_FORMAT, "%s: the net needs %lld bytes of "
                       "activations and %.4g operations per sample, more "
                       "than the caps of %lld and %.4g", c->fn,
                       (long long)bytes, macs,
                       (long long)lim->max_activation_bytes, lim->max_macs);
    if ((st = sc_net_init(c->net, 0)) != SC_OK)
        return st;
    if (c->have_bn &&
        ((st = sc_net_set_param(c->net, SC_PARAM_BN_EPS, c->bn_eps)) != SC_OK ||
         (st = sc_net_set_param(c->net, SC_PARAM_BN_MOMENTUM,
                                1.0 - (double)c->bn_momentum)) != SC_OK))
        return st;
    return ox_assign_params(c);
}

SC_API sc_status sc_net_import_onnx_memory(sc_net **out, const void *data,
                                           size_t size,
                                           const sc_load_limits *limits)
{
    const char *fn = "sc_net_import_onnx";
    SC_CHECK_NULL(out, fn);
    if (data == NULL && size > 0)
        return sc_fail(SC_ERR_NULL, "%s: argument 'data' is NULL", fn);
    sc_load_limits lim;
    sc_status st = sc_load_limits_get(limits, &lim, fn);
    if (st != SC_OK)
        return st;
    ox_model *m;
    if ((st = ox_parse(data ? data : "", size, &m, fn)) != SC_OK)
        return st;
    const Onnx__ModelProto *mp = ox_model_proto(m);
    ox_ctx c;
    memset(&c, 0, sizeof c);
    c.fn = fn;
    c.g = mp->graph;
    /* parameters: about as many floats as the file has bytes (4 bytes per
     * float, a weight shared by layers counts for each) */
    c.budget_floats = size / 2 + ((size_t)1 << 20);
    if (c.g == NULL)
        st = sc_fail(SC_ERR_FORMAT, "%s: the model has no graph", fn);
    if (st == SC_OK)
        st = check_opset(&c, mp);
    if (st == SC_OK)
        st = ox_graph_resolve(&c);
    if (st == SC_OK)
        st = make_net(&c);
    if (st == SC_OK)
        st = build(&c, &lim);
    for (size_t i = 0; i < c.n_owned; i++)
        free(c.owned[i]);
    free(c.owned);
    free(c.assign);
    ox_graph_free(&c);
    ox_parse_free(m);
    if (st != SC_OK) {
        sc_net_free(c.net);
        return st;
    }
    *out = c.net;
    return SC_OK;
}

SC_API sc_status sc_net_import_onnx(sc_net **out, const char *path,
                                    const sc_load_limits *limits)
{
    const char *fn = "sc_net_import_onnx";
    SC_CHECK_NULL(out, fn);
    SC_CHECK_NULL(path, fn);
    unsigned char *data;
    size_t n;
    sc_status st = sc_file_read(path, OX_MAX_FILE_BYTES, &data, &n, fn);
    if (st != SC_OK)
        return st;
    st = sc_net_import_onnx_memory(out, data, n, limits);
    free(data);
    return st;
}
