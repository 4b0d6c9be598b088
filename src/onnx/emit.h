/* emit.h -- writing an ONNX model (internal; docs/onnx.md, export): a
 * graph of nodes, initializers, one input and one output built into
 * protobuf-c's generated structs, then packed into bytes.
 *
 * Every call that allocates keeps its memory in the oe and frees it with
 * oe_free. A failed allocation makes the oe failed: later calls then do
 * nothing and return NULL, and oe_pack reports SC_ERR_NOMEM, so a caller
 * checks once, at the end. */
#ifndef SC_ONNX_EMIT_H
#define SC_ONNX_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"
#include "selfcompress.h"

typedef struct oe oe;

/* A new, empty model (NULL when out of memory). */
oe *oe_new(void);
/* Frees it and all it holds; NULL is a no-op. */
void oe_free(oe *e);
/* 1 once an allocation failed. */
int oe_failed(const oe *e);

/* A copy of the formatted name, kept by e. */
const char *oe_name(oe *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* An initializer called name: rank dims, n = their product elements of
 * floats (f) or int8 (v), stored as little-endian raw_data. Returns name. */
const char *oe_init_floats(oe *e, const char *name, const int64_t *dims,
                           int rank, const float *f, size_t n);
const char *oe_init_int8(oe *e, const char *name, const int64_t *dims,
                         int rank, const int8_t *v, size_t n);

/* A node of op_type in the default domain, reading in[0 .. n_in) and
 * writing out; name its name. NULL when e failed. */
Onnx__NodeProto *oe_node(oe *e, const char *op_type, const char *name,
                         const char *const *in, int n_in, const char *out);
/* Attributes of nd (nothing when nd is NULL). */
void oe_attr_int(oe *e, Onnx__NodeProto *nd, const char *name, int64_t v);
void oe_attr_float(oe *e, Onnx__NodeProto *nd, const char *name, float v);
void oe_attr_ints(oe *e, Onnx__NodeProto *nd, const char *name,
                  const int64_t *v, size_t n);

/* The graph's input (output 0) or output (output 1): a float tensor of
 * rank dims, dims[0] the batch, written as the symbolic dimension "N". */
void oe_graph_io(oe *e, int output, const char *name, const int64_t *dims,
                 int rank);

/* The model (ir_version 8, the default domain at opset, producer
 * libselfcompress and its version, graph name graph) packed into a new
 * buffer of *n bytes that the caller frees. SC_ERR_NOMEM when e failed or
 * the buffer cannot be had; SC_ERR_UNSUPPORTED when it is over protobuf's
 * 2 GiB. fn names the public call in messages. */
sc_status oe_pack(oe *e, int64_t opset, const char *graph,
                  unsigned char **out, size_t *n, const char *fn);

#endif
