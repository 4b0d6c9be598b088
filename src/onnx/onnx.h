/* onnx.h -- the ONNX importer's shared state (internal; docs/onnx.md).
 *
 * proto.c parses the bytes into protobuf-c's generated structs within an
 * allocation budget, graph.c resolves the graph's names and orders its
 * nodes, tensor.c reads constant tensors, ops.c maps each operator onto
 * layers, import.c is the public entry point that runs them in turn. */
#ifndef SC_ONNX_ONNX_H
#define SC_ONNX_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"
#include "selfcompress.h"

/* What a name of the graph stands for while the importer walks it. */
typedef enum ox_kind {
    OX_UNSET = 0, /* produced by a node not walked yet (or never needed) */
    OX_CONST,     /* a constant tensor: an initializer or a Constant's */
    OX_LAYER,     /* a layer's output (the graph input: SC_INPUT) */
    OX_MATMUL,    /* a MatMul whose one reader, an Add, gives it a bias */
    OX_HSIG,      /* a HardSigmoid, for the Mul that makes it a HardSwish */
    OX_PAD        /* a zero Pad of the height and width, for the Conv or
                     AveragePool that reads it */
} ox_kind;

typedef struct ox_val {
    const char *name;
    ox_kind kind;
    int producer;  /* the node writing it, or -1 (initializer, graph input) */
    int is_input;  /* a graph input that no initializer gives a value */
    int uses;      /* node inputs reading it, plus 1 for the graph output */
    int cons;      /* its readers: cons_list[cons .. cons + n_cons) */
    int n_cons;
    /* OX_CONST: the tensor, and the value its floats are decoded into
     * once (root: the value that owns them; an Identity's output shares
     * its input's) */
    const Onnx__TensorProto *t;
    int root;
    const float *f;
    size_t nf;
    int decoded;
    int dequantized; /* its floats a DequantizeLinear's of the INT8 t */
    /* OX_LAYER: the layer and the rank of the ONNX tensor (4: N x C x H x
     * W, 2: N x F) */
    int layer, rank;
    /* OX_MATMUL: its layer input and weights [out][in]; OX_HSIG: its input
     * layer and its alpha, beta; OX_PAD: its input layer and pads (top,
     * left, bottom, right) */
    int src;
    const float *w;
    size_t nw;
    int out_features;
    float alpha, beta;
    int64_t pads[4];
} ox_val;

/* A parameter slot (or with map set, the constant map an Add of a
 * constant gives a dense or conv layer) to set once the net is
 * initialised. */
typedef struct ox_assign {
    int layer, node;
    sc_layer_slot slot;
    int map;
    const float *data;
    size_t n;
} ox_assign;

typedef struct ox_ctx {
    const char *fn;
    const Onnx__GraphProto *g;
    int opset;
    sc_net *net;
    ox_val *vals;
    int n_vals;
    int *in_ids;      /* node inputs' value ids (-1: an empty name) */
    int *in_off;      /* node i's: in_ids[in_off[i] .. in_off[i + 1]) */
    int *out_ids;     /* node outputs' value ids, likewise out_off */
    int *out_off;
    int *cons_list;   /* readers of each value (see ox_val.cons) */
    int *order;       /* the nodes the output needs, in a topological order */
    int n_order;
    int input;        /* the graph input's value */
    int output;       /* the graph output's value */
    /* floats decoded or transposed here (freed at the end) */
    float **owned;
    size_t n_owned, cap_owned;
    ox_assign *assign;
    size_t n_assign, cap_assign;
    size_t budget_floats, used_floats; /* parameter floats the file allows */
    /* batch norm settings (one per net): set by the first batch norm */
    int have_bn;
    float bn_eps, bn_momentum;
} ox_ctx;

/* ---- proto.c ---- */
/* A parsed model with the allocator that owns its memory. */
typedef struct ox_model ox_model;
/* The model in size bytes, unpacked with at most a small multiple of size
 * allocated: SC_ERR_FORMAT for bytes that are no ModelProto or need more. */
sc_status ox_parse(const void *data, size_t size, ox_model **out,
                   const char *fn);
const Onnx__ModelProto *ox_model_proto(const ox_model *m);
/* Frees it all; NULL is a no-op. */
void ox_parse_free(ox_model *m);

/* ---- graph.c ---- */
/* Fills c's value table, node inputs and outputs and readers; checks that
 * every name read is produced once, orders the nodes the graph output
 * needs (SC_ERR_FORMAT for a cycle), finds the one input and output. */
sc_status ox_graph_resolve(ox_ctx *c);
void ox_graph_free(ox_ctx *c);
/* A node's name for messages: its name, or "#index" without one. */
const char *ox_node_name(const ox_ctx *c, int node, char buf[32]);
/* status with "fn: node 'name' (op_type): " before the formatted text. */
sc_status ox_node_fail(const ox_ctx *c, int node, sc_status status,
                       const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- tensor.c ---- */
/* A float constant's dims (at most 8, into dims[], *rank) and its floats
 * (*f, *n; decoded once per value; a DequantizeLinear's output has its
 * INT8 input's dims). SC_ERR_UNSUPPORTED for another data
 * type or external data, SC_ERR_FORMAT for a negative dim or data that do
 * not fit the shape. what names the tensor in messages. */
sc_status ox_const_floats(ox_ctx *c, int node, int vid, const char *what,
                          const float **f, size_t *n, int64_t dims[8],
                          int *rank);
/* An INT8 constant's dims (as ox_const_floats) and its values as new
 * floats (*f, *n) the context frees. */
sc_status ox_const_int8(ox_ctx *c, int node, int vid, const char *what,
                        float **f, size_t *n, int64_t dims[8], int *rank);
/* An int64 constant of at most cap elements into v (*n of them). */
sc_status ox_const_ints(ox_ctx *c, int node, int vid, const char *what,
                        int64_t *v, size_t cap, size_t *n);
/* A new array of n floats the context frees (NULL and SC_ERR_NOMEM). */
float *ox_alloc_floats(ox_ctx *c, size_t n);

/* ---- ops.c ---- */
/* Maps node onto layers, or onto a value its readers take up. */
sc_status ox_op_apply(ox_ctx *c, int node);
/* Sets the parameters the nodes gave once the net is initialised. */
sc_status ox_assign_params(ox_ctx *c);

#endif
