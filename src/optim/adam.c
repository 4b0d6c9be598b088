/* adam.c -- m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr mhat / (sqrt(vhat) + eps); AdamW decays p by lr wd first. */
#include <math.h>

#include "optim/optimizer.h"
#include "core/simd.h"

/* static: an extern clone would export its dispatcher from the .so */
SC_SIMD_CLONES
static void adam(struct sc_optimizer *o, float *restrict p,
                 const float *restrict g, float *restrict m,
                 float *restrict v, size_t n, float lr, float wd)
{
    float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    float c1 = (float)(1.0 - pow(o->beta1, (double)o->t));
    float c2 = (float)(1.0 - pow(o->beta2, (double)o->t));
    float step = lr / c1, rc2 = 1.0f / sqrtf(c2);
    /* AdamW decays p; Adam adds wd p to the gradient */
    float decay = o->kind == SC_OPT_ADAMW ? lr * wd : 0.0f;
    float l2 = o->kind == SC_OPT_ADAMW ? 0.0f : wd;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * p[i];
        float pi = p[i] - decay * p[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step * mi / (sqrtf(vi) * rc2 + eps);
    }
}

void sc_adam_update(struct sc_optimizer *o, float *restrict p,
                    const float *restrict g, float *restrict m,
                    float *restrict v, size_t n, float lr, float wd)
{
    adam(o, p, g, m, v, n, lr, wd);
}
