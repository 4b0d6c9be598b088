/* emit.c -- an ONNX model built into protobuf-c's structs and packed
 * (emit.h). All memory is one list of blocks owned by the oe; growing
 * arrays (nodes, initializers, a node's attributes) are reallocated
 * blocks of that list. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "onnx/emit.h"

/* protobuf's own limit on a message */
#define OE_MAX_BYTES ((size_t)1 << 31)

typedef struct block {
    struct block *next;
    max_align_t align[]; /* the caller's memory */
} block;

struct oe {
    block *blocks;
    int failed;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    Onnx__ValueInfoProto *io[2];
};

oe *oe_new(void) { return calloc(1, sizeof(oe)); }

void oe_free(oe *e)
{
    if (e == NULL)
        return;
    for (block *b = e->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(e->nodes);
    free(e->inits);
    free(e);
}

int oe_failed(const oe *e) { return e->failed; }

/* n zeroed bytes kept by e (NULL, and e failed, when out of memory) */
static void *alloc(oe *e, size_t n)
{
    size_t total;
    block *b = NULL;
    if (!e->failed && sc_add_ok(sizeof(block), n, &total))
        b = calloc(1, total);
    if (b == NULL) {
        e->failed = 1;
        return NULL;
    }
    b->next = e->blocks;
    e->blocks = b;
    return b->align;
}

/* count elements of size each, kept by e */
static void *alloc_n(oe *e, size_t count, size_t size)
{
    size_t n;
    if (!sc_mul_ok(count, size, &n)) {
        e->failed = 1;
        return NULL;
    }
    return alloc(e, n);
}

/* Appends p to the array *arr of *n (capacity *cap, malloc'd by e's
 * owner); 0 when out of memory. */
static int push(oe *e, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (e->failed || p == NULL) {
        e->failed = 1;
        return 0;
    }
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16, bytes;
        void **a = sc_mul_ok(c, sizeof *a, &bytes) ? realloc(*arr, bytes) : NULL;
        if (a == NULL) {
            e->failed = 1;
            return 0;
        }
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return 1;
}

static char *copy_str(oe *e, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = alloc(e, n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

const char *oe_name(oe *e, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return copy_str(e, buf);
}

/* A tensor of dims and data type, with n * elem bytes of raw_data (to be
 * filled), as an initializer called name */
static unsigned char *init(oe *e, const char *name, const int64_t *dims,
                           int rank, int32_t type, size_t n, size_t elem)
{
    Onnx__TensorProto *t = alloc(e, sizeof *t);
    int64_t *d = alloc_n(e, rank > 0 ? (size_t)rank : 1, sizeof *d);
    unsigned char *raw = alloc_n(e, n ? n : 1, elem);
    char *nm = copy_str(e, name);
    if (e->failed)
        return NULL;
    onnx__tensor_proto__init(t);
    if (rank > 0)
        memcpy(d, dims, (size_t)rank * sizeof *d);
    t->n_dims = (size_t)rank;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = type;
    t->has_raw_data = 1;
    t->raw_data.len = n * elem;
    t->raw_data.data = raw;
    t->name = nm;
    return push(e, (void ***)&e->inits, &e->n_inits, &e->cap_inits, t) ? raw : NULL;
}

const char *oe_init_floats(oe *e, const char *name, const int64_t *dims,
                           int rank, const float *f, size_t n)
{
    unsigned char *raw = init(e, name, dims, rank,
                              ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, n, 4);
    if (raw == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) { /* little-endian, as ONNX stores it */
        uint32_t u;
        memcpy(&u, &f[i], sizeof u);
        for (int b = 0; b < 4; b++)
            raw[4 * i + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
    return name;
}

const char *oe_init_int8(oe *e, const char *name, const int64_t *dims,
                         int rank, const int8_t *v, size_t n)
{
    unsigned char *raw = init(e, name, dims, rank,
                              ONNX__TENSOR_PROTO__DATA_TYPE__INT8, n, 1);
    if (raw == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        raw[i] = (unsigned char)v[i]; /* two's complement */
    return name;
}

Onnx__NodeProto *oe_node(oe *e, const char *op_type, const char *name,
                         const char *const *in, int n_in, const char *out)
{
    Onnx__NodeProto *nd = alloc(e, sizeof *nd);
    char **ins = alloc_n(e, n_in > 0 ? (size_t)n_in : 1, sizeof *ins);
    char **outs = alloc_n(e, 1, sizeof *outs);
    if (e->failed)
        return NULL;
    onnx__node_proto__init(nd);
    for (int i = 0; i < n_in; i++)
        if (in[i] == NULL || (ins[i] = copy_str(e, in[i])) == NULL)
            e->failed = 1;
    outs[0] = out ? copy_str(e, out) : NULL;
    nd->n_input = (size_t)n_in;
    nd->input = ins;
    nd->n_output = 1;
    nd->output = outs;
    nd->name = copy_str(e, name);
    nd->op_type = copy_str(e, op_type);
    nd->domain = copy_str(e, "");
    if (outs[0] == NULL || nd->name == NULL || nd->op_type == NULL)
        e->failed = 1;
    return push(e, (void ***)&e->nodes, &e->n_nodes, &e->cap_nodes, nd) ? nd : NULL;
}

/* A new attribute of nd called name, of type t (NULL when e failed) */
static Onnx__AttributeProto *attr(oe *e, Onnx__NodeProto *nd, const char *name,
                                  Onnx__AttributeProto__AttributeType t)
{
    if (nd == NULL || e->failed)
        return NULL;
    Onnx__AttributeProto *a = alloc(e, sizeof *a);
    Onnx__AttributeProto **arr = alloc_n(e, nd->n_attribute + 1, sizeof *arr);
    char *nm = copy_str(e, name);
    if (e->failed)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = nm;
    a->has_type = 1;
    a->type = t;
    if (nd->n_attribute > 0) /* the old array stays in e's blocks */
        memcpy(arr, nd->attribute, nd->n_attribute * sizeof *arr);
    arr[nd->n_attribute++] = a;
    nd->attribute = arr;
    return a;
}

void oe_attr_int(oe *e, Onnx__NodeProto *nd, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(e, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a != NULL) {
        a->has_i = 1;
        a->i = v;
    }
}

void oe_attr_float(oe *e, Onnx__NodeProto *nd, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(e, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a != NULL) {
        a->has_f = 1;
        a->f = v;
    }
}

void oe_attr_ints(oe *e, Onnx__NodeProto *nd, const char *name,
                  const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = attr(e, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *d = a ? alloc_n(e, n ? n : 1, sizeof *d) : NULL;
    if (d != NULL) {
        memcpy(d, v, n * sizeof *d);
        a->n_ints = n;
        a->ints = d;
    }
}

void oe_graph_io(oe *e, int output, const char *name, const int64_t *dims,
                 int rank)
{
    Onnx__ValueInfoProto *vi = alloc(e, sizeof *vi);
    Onnx__TypeProto *tp = alloc(e, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = alloc(e, sizeof *tt);
    Onnx__TensorShapeProto *sh = alloc(e, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dim = alloc_n(e, (size_t)rank, sizeof *dim);
    char *nm = copy_str(e, name);
    for (int i = 0; i < rank && !e->failed; i++) {
        Onnx__TensorShapeProto__Dimension *d = alloc(e, sizeof *d);
        char *batch = i == 0 ? copy_str(e, "N") : NULL;
        if (e->failed)
            return;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = batch;
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        dim[i] = d;
    }
    if (e->failed)
        return;
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)rank;
    sh->dim = dim;
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    onnx__type_proto__init(tp);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    onnx__value_info_proto__init(vi);
    vi->name = nm;
    vi->type = tp;
    e->io[output != 0] = vi;
}

sc_status oe_pack(oe *e, int64_t opset, const char *graph,
                  unsigned char **out, size_t *n, const char *fn)
{
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op, *ops[1] = {&op};
    char *gname = copy_str(e, graph), *producer = copy_str(e, "libselfcompress");
    char *version = copy_str(e, sc_version_string()), *domain = copy_str(e, "");
    if (e->failed || e->io[0] == NULL || e->io[1] == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    onnx__operator_set_id_proto__init(&op);
    op.domain = domain;
    op.has_version = 1;
    op.version = opset;
    onnx__graph_proto__init(&g);
    g.name = gname;
    g.n_node = e->n_nodes;
    g.node = e->nodes;
    g.n_initializer = e->n_inits;
    g.initializer = e->inits;
    g.n_input = 1;
    g.input = &e->io[0];
    g.n_output = 1;
    g.output = &e->io[1];
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.n_opset_import = 1;
    m.opset_import = ops;
    m.producer_name = producer;
    m.producer_version = version;
    m.graph = &g;
    size_t size = onnx__model_proto__get_packed_size(&m);
    if (size > OE_MAX_BYTES)
        return sc_fail(SC_ERR_UNSUPPORTED, "%s: the model takes %zu bytes, "
                       "more than the 2 GiB a protobuf message can hold", fn,
                       size);
    unsigned char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    *n = onnx__model_proto__pack(&m, buf);
    *out = buf;
    return SC_OK;
}
