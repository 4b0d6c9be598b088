/* sgd.c -- m = mu m + (g + wd p); p -= lr (nesterov ? g + wd p + mu m : m). */
#include "optim/optimizer.h"
#include "core/simd.h"

/* One element's new p and m: the one definition the check and the update
 * share, so what the check accepts is what the update writes. */
static inline void sgd_one(float p, float g, float m, float mu, float lr,
                           float wd, int nesterov, float *pn, float *mn)
{
    if (nesterov) {
        float d = g + wd * p;
        float mi = mu * m + d;
        *mn = mi;
        *pn = p - lr * (d + mu * mi);
        return;
    }
    float mi = mu * m + g + wd * p;
    *mn = mi;
    *pn = p - lr * mi;
}

/* nesterov is passed apart so that each call site compiles one loop */
static inline void sgd_loop(float *restrict p, const float *restrict g,
                            float *restrict m, size_t n, float mu, float lr,
                            float wd, int nesterov)
{
    for (size_t i = 0; i < n; i++)
        sgd_one(p[i], g[i], m[i], mu, lr, wd, nesterov, &p[i], &m[i]);
}

static inline int sgd_check(const float *restrict p, const float *restrict g,
                            const float *restrict m, size_t n, float mu,
                            float lr, float wd, int nesterov)
{
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        float pn, mn;
        sgd_one(p[i], g[i], m[i], mu, lr, wd, nesterov, &pn, &mn);
        ok &= sc_finite(pn) & sc_finite(mn);
    }
    return ok;
}

/* static: an extern clone would export its dispatcher from the .so */
SC_SIMD_CLONES
static void sgd(const struct sc_optimizer *o, float *restrict p,
                const float *restrict g, float *restrict m, size_t n,
                float lr, float wd)
{
    float mu = (float)o->momentum;
    if (o->nesterov)
        sgd_loop(p, g, m, n, mu, lr, wd, 1);
    else
        sgd_loop(p, g, m, n, mu, lr, wd, 0);
}

SC_SIMD_CLONES
static int sgd_finite(const struct sc_optimizer *o, const float *restrict p,
                      const float *restrict g, const float *restrict m,
                      size_t n, float lr, float wd)
{
    float mu = (float)o->momentum;
    return o->nesterov ? sgd_check(p, g, m, n, mu, lr, wd, 1)
                       : sgd_check(p, g, m, n, mu, lr, wd, 0);
}

void sc_sgd_update(struct sc_optimizer *o, float *restrict p,
                   const float *restrict g, float *restrict m, size_t n,
                   float lr, float wd)
{
    sgd(o, p, g, m, n, lr, wd);
}

int sc_sgd_finite(const struct sc_optimizer *o, const float *restrict p,
                  const float *restrict g, const float *restrict m, size_t n,
                  float lr, float wd)
{
    return sgd_finite(o, p, g, m, n, lr, wd);
}
