/* tensor.c -- float32 tensors of up to 4 dimensions, owned or wrapped. */
#include "core/tensor.h"

#include "core/simd.h"
#include "core/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* x * 0 is 0 for a finite x and NaN for an infinity or a NaN: one sum of
 * those per lane, no branch per element, so the loop vectorises. (Clones
 * stay static: an extern one would export its dispatcher from the .so.) */
SC_SIMD_CLONES
static int all_finite(const float *a, size_t n)
{
    float part[SC_LANES] = {0};
    size_t i = 0;
    for (; i + SC_LANES <= n; i += SC_LANES)
        for (int l = 0; l < SC_LANES; l++)
            part[l] += a[i + l] * 0.0f;
    float s = 0.0f;
    for (; i < n; i++)
        s += a[i] * 0.0f;
    for (int l = 0; l < SC_LANES; l++)
        s += part[l];
    return s == 0.0f;
}

int sc_all_finite(const float *a, size_t n) { return all_finite(a, n); }

/* Validates a shape and returns its element count in *numel. */
static sc_status check_shape(const char *fn, int ndim, const int64_t *shape,
                             size_t *numel)
{
    SC_CHECK_NULL(shape, fn);
    if (ndim < 1 || ndim > SC_MAX_DIMS)
        return sc_fail(SC_ERR_ARG, "%s: ndim %d is not in 1..%d", fn, ndim,
                       SC_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return sc_fail(SC_ERR_SHAPE, "%s: dimension %d is %lld (must be > 0)",
                           fn, i, (long long)shape[i]);
        if ((uint64_t)shape[i] > (SIZE_MAX / sizeof(float)) / n)
            return sc_fail(SC_ERR_SHAPE, "%s: shape is too large", fn);
        n *= (size_t)shape[i];
    }
    *numel = n;
    return SC_OK;
}

static sc_status make(sc_tensor **out, int ndim, const int64_t *shape,
                      float *data, const char *fn)
{
    SC_CHECK_NULL(out, fn);
    size_t numel = 0;
    sc_status st = check_shape(fn, ndim, shape, &numel);
    if (st != SC_OK)
        return st;
    sc_tensor *t = calloc(1, sizeof *t);
    if (t == NULL)
        return sc_fail(SC_ERR_NOMEM, "%s: out of memory", fn);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    if (data != NULL) {
        t->data = data;
    } else {
        t->data = calloc(numel, sizeof(float));
        t->owns = 1;
        if (t->data == NULL) {
            free(t);
            return sc_fail(SC_ERR_NOMEM, "%s: out of memory for %zu floats", fn,
                           numel);
        }
    }
    *out = t;
    return SC_OK;
}

SC_API sc_status sc_tensor_create(sc_tensor **out, int ndim,
                                  const int64_t *shape)
{
    return make(out, ndim, shape, NULL, "sc_tensor_create");
}

SC_API sc_status sc_tensor_from_data(sc_tensor **out, int ndim,
                                     const int64_t *shape, const float *data)
{
    SC_CHECK_NULL(data, "sc_tensor_from_data");
    sc_status st = make(out, ndim, shape, NULL, "sc_tensor_from_data");
    if (st == SC_OK)
        memcpy((*out)->data, data, (*out)->numel * sizeof(float));
    return st;
}

SC_API sc_status sc_tensor_wrap(sc_tensor **out, int ndim,
                                const int64_t *shape, float *data)
{
    SC_CHECK_NULL(data, "sc_tensor_wrap");
    return make(out, ndim, shape, data, "sc_tensor_wrap");
}

SC_API void sc_tensor_free(sc_tensor *t)
{
    if (t == NULL)
        return;
    if (t->owns)
        free(t->data);
    free(t);
}

SC_API int sc_tensor_ndim(const sc_tensor *t) { return t ? t->ndim : 0; }

SC_API int64_t sc_tensor_dim(const sc_tensor *t, int i)
{
    if (t == NULL || i < 0 || i >= t->ndim)
        return -1;
    return t->shape[i];
}

SC_API size_t sc_tensor_numel(const sc_tensor *t) { return t ? t->numel : 0; }

SC_API float *sc_tensor_data(sc_tensor *t) { return t ? t->data : NULL; }

SC_API sc_status sc_tensor_copy_to(const sc_tensor *t, float *dst,
                                   size_t count)
{
    SC_CHECK_NULL(t, "sc_tensor_copy_to");
    SC_CHECK_NULL(dst, "sc_tensor_copy_to");
    if (count != t->numel)
        return sc_fail(SC_ERR_SHAPE, "sc_tensor_copy_to: count %zu != numel %zu",
                       count, t->numel);
    memcpy(dst, t->data, count * sizeof(float));
    return SC_OK;
}

SC_API sc_status sc_tensor_copy_from(sc_tensor *t, const float *src,
                                     size_t count)
{
    SC_CHECK_NULL(t, "sc_tensor_copy_from");
    SC_CHECK_NULL(src, "sc_tensor_copy_from");
    if (count != t->numel)
        return sc_fail(SC_ERR_SHAPE,
                       "sc_tensor_copy_from: count %zu != numel %zu", count,
                       t->numel);
    memcpy(t->data, src, count * sizeof(float));
    return SC_OK;
}
