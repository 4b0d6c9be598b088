/* tensor.c -- ONNX constant tensors (initializers, Constant nodes) read
 * into floats or int64s: data type, shape and data checked against each
 * other before anything is allocated for them. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "onnx/onnx.h"

enum { OX_FLOAT = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
       OX_INT8 = ONNX__TENSOR_PROTO__DATA_TYPE__INT8,
       OX_INT64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64 };

float *ox_alloc_floats(ox_ctx *c, size_t n)
{
    size_t bytes;
    if (c->n_owned == c->cap_owned) {
        size_t cap = c->cap_owned ? 2 * c->cap_owned : 16;
        float **p = sc_mul_ok(cap, sizeof *p, &bytes) ? realloc(c->owned, bytes) : NULL;
        if (p == NULL)
            return NULL;
        c->owned = p;
        c->cap_owned = cap;
    }
    float *f = sc_mul_ok(n ? n : 1, sizeof *f, &bytes) ? malloc(bytes) : NULL;
    if (f != NULL)
        c->owned[c->n_owned++] = f;
    return f;
}

/* t's dims and element count; data type dt (its name: tname) required. */
static sc_status shape_of(ox_ctx *c, int node, const Onnx__TensorProto *t,
                          const char *what, int dt, const char *tname,
                          int64_t dims[8], int *rank, size_t *numel)
{
    if (!t->has_data_type || t->data_type != dt)
        return ox_node_fail(c, node, SC_ERR_UNSUPPORTED, "%s is of data type "
                            "%d (only %s is supported here)", what,
                            t->has_data_type ? (int)t->data_type : 0, tname);
    if (t->has_data_location &&
        t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return ox_node_fail(c, node, SC_ERR_UNSUPPORTED, "%s is stored in an "
                            "external file (only data inside the model is "
                            "supported)", what);
    if (t->segment != NULL)
        return ox_node_fail(c, node, SC_ERR_UNSUPPORTED, "%s is a segment of "
                            "a tensor", what);
    if (t->n_dims > 8)
        return ox_node_fail(c, node, SC_ERR_UNSUPPORTED, "%s has %zu "
                            "dimensions (at most 8)", what, t->n_dims);
    size_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0)
            return ox_node_fail(c, node, SC_ERR_FORMAT, "%s has a negative "
                                "dimension (%lld)", what, (long long)t->dims[i]);
        if ((uint64_t)t->dims[i] > ((uint64_t)1 << 40) ||
            !sc_mul_ok(n, (size_t)t->dims[i], &n) || n > ((size_t)1 << 40))
            return ox_node_fail(c, node, SC_ERR_FORMAT, "%s has more elements "
                                "than any file holds", what);
        dims[i] = t->dims[i];
    }
    *rank = (int)t->n_dims;
    *numel = n;
    return SC_OK;
}

/* 4 little-endian bytes as a float */
static float le_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

sc_status ox_const_floats(ox_ctx *c, int node, int vid, const char *what,
                          const float **f, size_t *n, int64_t dims[8],
                          int *rank)
{
    ox_val *v = &c->vals[c->vals[vid].root];
    size_t numel;
    sc_status st = v->dequantized
                       ? shape_of(c, node, v->t, what, OX_INT8, "int8", dims,
                                  rank, &numel)
                       : shape_of(c, node, v->t, what, OX_FLOAT, "float", dims,
                                  rank, &numel);
    if (st != SC_OK)
        return st;
    if (!v->decoded) {
        const Onnx__TensorProto *t = v->t;
        if (t->has_raw_data) {
            size_t need;
            if (!sc_mul_ok(numel, 4, &need) || t->raw_data.len != need)
                return ox_node_fail(c, node, SC_ERR_FORMAT, "%s holds %zu "
                                    "bytes of data, its shape %zu floats", what,
                                    t->raw_data.len, numel);
            float *d = ox_alloc_floats(c, numel);
            if (d == NULL)
                return sc_fail(SC_ERR_NOMEM, "%s: out of memory", c->fn);
            for (size_t i = 0; i < numel; i++)
                d[i] = le_f32(t->raw_data.data + 4 * i);
            v->f = d;
        } else {
            if (t->n_float_data != numel)
                return ox_node_fail(c, node, SC_ERR_FORMAT, "%s holds %zu "
                                    "floats, its shape %zu", what,
                                    t->n_float_data, numel);
            v->f = t->float_data;
        }
        v->nf = numel;
        v->decoded = 1;
    }
    *f = v->f;
    *n = v->nf;
    return SC_OK;
}

sc_status ox_const_int8(ox_ctx *c, int node, int vid, const char *what,
                        float **f, size_t *n, int64_t dims[8], int *rank)
{
    const Onnx__TensorProto *t = c->vals[c->vals[vid].root].t;
    size_t numel;
    sc_status st = shape_of(c, node, t, what, OX_INT8, "int8", dims, rank,
                            &numel);
    if (st != SC_OK)
        return st;
    /* raw_data: one byte each; else int32_data, one int each */
    if (t->has_raw_data ? t->raw_data.len != numel : t->n_int32_data != numel)
        return ox_node_fail(c, node, SC_ERR_FORMAT, "%s holds %zu int8 "
                            "values, its shape %zu", what,
                            t->has_raw_data ? t->raw_data.len : t->n_int32_data,
                            numel);
    float *d = ox_alloc_floats(c, numel);
    if (d == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", c->fn);
    for (size_t i = 0; i < numel; i++) {
        int v = t->has_raw_data ? (int)(int8_t)t->raw_data.data[i]
                                : (int)t->int32_data[i];
        if (v < -128 || v > 127)
            return ox_node_fail(c, node, SC_ERR_FORMAT, "%s holds %d, no "
                                "int8", what, v);
        d[i] = (float)v;
    }
    *f = d;
    *n = numel;
    return SC_OK;
}

sc_status ox_const_ints(ox_ctx *c, int node, int vid, const char *what,
                        int64_t *out, size_t cap, size_t *n)
{
    const Onnx__TensorProto *t = c->vals[c->vals[vid].root].t;
    int64_t dims[8];
    int rank;
    size_t numel;
    sc_status st = shape_of(c, node, t, what, OX_INT64, "int64", dims, &rank,
                            &numel);
    if (st != SC_OK)
        return st;
    if (numel > cap)
        return ox_node_fail(c, node, SC_ERR_UNSUPPORTED, "%s has %zu elements "
                            "(at most %zu are supported)", what, numel, cap);
    if (t->has_raw_data) {
        if (t->raw_data.len != 8 * numel)
            return ox_node_fail(c, node, SC_ERR_FORMAT, "%s holds %zu bytes "
                                "of data, its shape %zu int64s", what,
                                t->raw_data.len, numel);
        for (size_t i = 0; i < numel; i++) {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--)
                u = u << 8 | t->raw_data.data[8 * i + (size_t)b];
            out[i] = (int64_t)u;
        }
    } else {
        if (t->n_int64_data != numel)
            return ox_node_fail(c, node, SC_ERR_FORMAT, "%s holds %zu int64s, "
                                "its shape %zu", what, t->n_int64_data, numel);
        if (numel > 0)
            memcpy(out, t->int64_data, numel * sizeof *out);
    }
    *n = numel;
    return SC_OK;
}
