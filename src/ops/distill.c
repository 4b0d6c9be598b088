/* distill.c -- knowledge distillation's loss term (Hinton et al. 2015).
 * With the teacher's logits t and the net's z of sample i, temperature T
 * and weight w: p = softmax(t_i / T), q = softmax(z_i / T),
 *   KL_i = sum_c p_c (log p_c - log q_c),
 *   L = w T^2 mean_i KL_i,  dL/dz_i = w T (q - p) / n.
 * The T^2 keeps the gradient's scale independent of T. */
#include <math.h>

#include "ops/ops.h"

/* log-sum-exp of v[c] / T over k classes */
static double lse(const float *v, int k, double T)
{
    double m = v[0] / T, s = 0.0;
    for (int c = 1; c < k; c++)
        m = fmax(m, v[c] / T);
    for (int c = 0; c < k; c++)
        s += exp(v[c] / T - m);
    return m + log(s);
}

double sc_distill(const float *z, const float *t, int n, int k, double T,
                  double w, float *dz)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * k, *ti = t + (size_t)i * k;
        const double lz = lse(zi, k, T), lt = lse(ti, k, T);
        for (int c = 0; c < k; c++) {
            const double logp = ti[c] / T - lt, logq = zi[c] / T - lz;
            const double p = exp(logp);
            sum += p * (logp - logq);
            if (dz)
                dz[(size_t)i * k + c] += (float)(w * T * (exp(logq) - p) / n);
        }
    }
    return w * T * T * sum / n;
}
