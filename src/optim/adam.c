/* adam.c -- m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr mhat / (sqrt(vhat) + eps); AdamW decays p by lr wd first. */
#include <math.h>

#include "optim/optimizer.h"
#include "core/simd.h"

/* The step's constants, from the hyper-parameters and the step count. */
typedef struct adam_k {
    float b1, b2, eps, step, rc2, decay, l2;
} adam_k;

static adam_k constants(const struct sc_optimizer *o, float lr, float wd)
{
    adam_k k;
    k.b1 = (float)o->beta1;
    k.b2 = (float)o->beta2;
    k.eps = (float)o->eps;
    float c1 = (float)(1.0 - pow(o->beta1, (double)o->t));
    float c2 = (float)(1.0 - pow(o->beta2, (double)o->t));
    k.step = lr / c1;
    k.rc2 = 1.0f / sqrtf(c2);
    /* AdamW decays p; Adam adds wd p to the gradient */
    k.decay = o->kind == SC_OPT_ADAMW ? lr * wd : 0.0f;
    k.l2 = o->kind == SC_OPT_ADAMW ? 0.0f : wd;
    return k;
}

/* One element's new p, m and v: the one definition the check and the
 * update share. */
static inline void adam_one(adam_k k, float p, float g, float m, float v,
                            float *pn, float *mn, float *vn)
{
    float gi = g + k.l2 * p;
    float pi = p - k.decay * p;
    float mi = k.b1 * m + (1.0f - k.b1) * gi;
    float vi = k.b2 * v + (1.0f - k.b2) * gi * gi;
    *mn = mi;
    *vn = vi;
    *pn = pi - k.step * mi / (sqrtf(vi) * k.rc2 + k.eps);
}

/* static: an extern clone would export its dispatcher from the .so */
SC_SIMD_CLONES
static void adam(adam_k k, float *restrict p, const float *restrict g,
                 float *restrict m, float *restrict v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        adam_one(k, p[i], g[i], m[i], v[i], &p[i], &m[i], &v[i]);
}

SC_SIMD_CLONES
static int adam_finite(adam_k k, const float *restrict p,
                       const float *restrict g, const float *restrict m,
                       const float *restrict v, size_t n)
{
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        float pn, mn, vn;
        adam_one(k, p[i], g[i], m[i], v[i], &pn, &mn, &vn);
        ok &= sc_finite(pn) & sc_finite(mn) & sc_finite(vn);
    }
    return ok;
}

void sc_adam_update(struct sc_optimizer *o, float *restrict p,
                    const float *restrict g, float *restrict m,
                    float *restrict v, size_t n, float lr, float wd)
{
    adam(constants(o, lr, wd), p, g, m, v, n);
}

int sc_adam_finite(const struct sc_optimizer *o, const float *restrict p,
                   const float *restrict g, const float *restrict m,
                   const float *restrict v, size_t n, float lr, float wd)
{
    return adam_finite(constants(o, lr, wd), p, g, m, v, n);
}
