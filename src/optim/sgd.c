/* sgd.c -- m = mu m + (g + wd p); p -= lr (nesterov ? g + wd p + mu m : m). */
#include "optim/optimizer.h"

void sc_sgd_update(struct sc_optimizer *o, float *p, const float *g, float *m,
                   size_t n, float lr, float wd)
{
    float mu = (float)o->momentum;
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        m[i] = mu * m[i] + d;
        p[i] -= lr * (o->nesterov ? d + mu * m[i] : m[i]);
    }
}
