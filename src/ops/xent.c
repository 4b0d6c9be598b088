/* xent.c -- L = mean_n (logsumexp(z_n) - z_n[label_n]); dz = (p - onehot)/n. */
#include <math.h>

#include "ops/ops.h"

double sc_xent(const float *logits, const int32_t *labels, int n, int k,
               float *probs, float *dlogits, int *correct)
{
    double loss = 0.0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float *p = probs + (size_t)i * k;
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
        loss += log(sum) + (double)z[arg] - (double)z[labels[i]];
        right += arg == labels[i];
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            for (int c = 0; c < k; c++)
                d[c] = (p[c] - (c == labels[i] ? 1.0f : 0.0f)) / (float)n;
        }
    }
    if (correct)
        *correct = right;
    return loss / n;
}
