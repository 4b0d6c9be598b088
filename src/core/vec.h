/* vec.h -- reductions over a plane, written so the compiler vectorises
 * them without reordering across lanes: 16 float partial sums, added up in
 * double at the end. */
#ifndef SC_CORE_VEC_H
#define SC_CORE_VEC_H

#include <stddef.h>

#define SC_LANES 16

/* s1 += sum_i (x[i] - k), s2 += sum_i (x[i] - k)^2: both moments in one
 * pass; with k near the mean (any element will do) the variance
 * s2/n - (s1/n)^2 does not cancel catastrophically. */
static inline void sc_moments_shift(const float *restrict x, size_t n, float k,
                                    double *s1, double *s2)
{
    float p1[SC_LANES] = {0}, p2[SC_LANES] = {0};
    size_t i = 0;
    for (; i + SC_LANES <= n; i += SC_LANES)
        for (int l = 0; l < SC_LANES; l++) {
            float d = x[i + l] - k;
            p1[l] += d;
            p2[l] += d * d;
        }
    double a = 0.0, b = 0.0;
    for (; i < n; i++) {
        double d = (double)x[i] - k;
        a += d;
        b += d * d;
    }
    for (int l = 0; l < SC_LANES; l++) {
        a += p1[l];
        b += p2[l];
    }
    *s1 += a;
    *s2 += b;
}

/* *sg += sum_i g[i], *sgx += sum_i g[i] (x[i] - m): one pass for both */
static inline void sc_sum_dot_dev(const float *restrict g,
                                  const float *restrict x, size_t n, float m,
                                  double *sg, double *sgx)
{
    float p1[SC_LANES] = {0}, p2[SC_LANES] = {0};
    size_t i = 0;
    for (; i + SC_LANES <= n; i += SC_LANES)
        for (int l = 0; l < SC_LANES; l++) {
            p1[l] += g[i + l];
            p2[l] += g[i + l] * (x[i + l] - m);
        }
    double a = 0.0, b = 0.0;
    for (; i < n; i++) {
        a += g[i];
        b += (double)g[i] * (x[i] - m);
    }
    for (int l = 0; l < SC_LANES; l++) {
        a += p1[l];
        b += p2[l];
    }
    *sg += a;
    *sgx += b;
}

#endif
