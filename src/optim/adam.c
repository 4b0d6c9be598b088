/* adam.c -- m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr mhat / (sqrt(vhat) + eps); AdamW decays p by lr wd first. */
#include <math.h>

#include "optim/optimizer.h"

void sc_adam_update(struct sc_optimizer *o, float *p, const float *g,
                    float *m, float *v, size_t n, float lr, float wd)
{
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    float c1 = (float)(1.0 - pow(o->beta1, (double)o->t));
    float c2 = (float)(1.0 - pow(o->beta2, (double)o->t));
    float step = lr / c1, rc2 = 1.0f / sqrtf(c2);
    int decoupled = o->kind == SC_OPT_ADAMW;
    for (size_t i = 0; i < n; i++) {
        float gi = decoupled ? g[i] : g[i] + wd * p[i];
        if (decoupled)
            p[i] -= lr * wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) * rc2 + eps);
    }
}
