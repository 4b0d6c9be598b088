/* sgd.c -- m = mu m + (g + wd p); p -= lr (nesterov ? g + wd p + mu m : m). */
#include "optim/optimizer.h"
#include "core/simd.h"

/* static: an extern clone would export its dispatcher from the .so */
SC_SIMD_CLONES
static void sgd(struct sc_optimizer *o, float *restrict p,
                const float *restrict g, float *restrict m, size_t n,
                float lr, float wd)
{
    float mu = (float)o->momentum;
    if (o->nesterov) {
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i];
            m[i] = mu * m[i] + d;
            p[i] -= lr * (d + mu * m[i]);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        m[i] = mu * m[i] + g[i] + wd * p[i];
        p[i] -= lr * m[i];
    }
}

void sc_sgd_update(struct sc_optimizer *o, float *restrict p,
                   const float *restrict g, float *restrict m, size_t n,
                   float lr, float wd)
{
    sgd(o, p, g, m, n, lr, wd);
}
