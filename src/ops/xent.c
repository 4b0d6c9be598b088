/* xent.c -- softmax cross-entropy with class weights w (1 without) and
 * label smoothing eps, as PyTorch's CrossEntropyLoss(weight, label_smoothing):
 *   l_i = (1 - eps) w[y_i] (lse_i - z_i[y_i])
 *         + (eps / k) sum_c w[c] (lse_i - z_i[c]),
 *   L = sum_i l_i / W, W = sum_i w[y_i] (0 when W is 0),
 *   dL/dz_i[c] = (a_i p_i[c] - b_i[c]) / W with a_i = (1 - eps) w[y_i]
 *   + (eps / k) sum_c w[c] and b_i[c] = (1 - eps) w[y_i] [c = y_i]
 *   + (eps / k) w[c].
 * Without weights and smoothing: mean_i (lse_i - z_i[y_i]), (p - onehot)/n. */
#include <math.h>

#include "ops/ops.h"

double sc_xent(const sc_loss_batch *b, float *dz, double *accuracy)
{
    const int n = b->n, k = b->k;
    const float *w = b->weights;
    const double eps = b->smoothing, share = eps / k;
    double wall = k, wtotal = 0.0;
    if (w) {
        wall = 0.0;
        for (int c = 0; c < k; c++)
            wall += w[c];
    }
    for (int i = 0; i < n; i++)
        wtotal += w ? w[b->labels[i]] : 1.0;
    const float wf = (float)wtotal;
    double loss = 0.0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *z = b->z + (size_t)i * k;
        float *p = b->scratch + (size_t)i * k;
        const int y = b->labels[i];
        int arg = 0;
        for (int c = 1; c < k; c++)
            if (z[c] > z[arg])
                arg = c;
        double sum = 0.0;
        for (int c = 0; c < k; c++) {
            p[c] = expf(z[c] - z[arg]);
            sum += p[c];
        }
        for (int c = 0; c < k; c++)
            p[c] = (float)(p[c] / sum);
        const double lse = log(sum) + (double)z[arg];
        const double wy = (1.0 - eps) * (w ? w[y] : 1.0);
        double l = wy * (lse - (double)z[y]);
        if (eps > 0.0)
            for (int c = 0; c < k; c++)
                l += share * (w ? w[c] : 1.0) * (lse - (double)z[c]);
        loss += l;
        right += arg == y;
        if (dz) {
            float *d = dz + (size_t)i * k;
            const float a = (float)(wy + share * wall);
            for (int c = 0; c < k; c++) {
                const float bc = (float)((c == y ? wy : 0.0) +
                                         share * (w ? w[c] : 1.0));
                d[c] = wtotal > 0.0 ? (a * p[c] - bc) / wf : 0.0f;
            }
        }
    }
    if (accuracy)
        *accuracy = (double)right / n;
    return wtotal > 0.0 ? loss / wtotal : 0.0;
}
