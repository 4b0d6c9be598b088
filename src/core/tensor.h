/* tensor.h -- the tensor handle's layout (internal). */
#ifndef SC_CORE_TENSOR_H
#define SC_CORE_TENSOR_H

#include "selfcompress.h"

struct sc_tensor {
    int ndim;
    int64_t shape[SC_MAX_DIMS];
    size_t numel;
    float *data;
    int owns; /* 1: data is ours to free */
};

/* 1 when every element of a[0..n) is finite */
int sc_all_finite(const float *a, size_t n);

#endif
