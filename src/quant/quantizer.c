/* quantizer.c -- q = 2^e round(clamp(2^-e w, lo, hi)) with a
 * straight-through estimator for the rounding. */
#include "quant/quantizer.h"

#include <math.h>

#define LN2 0.69314718055994530942f

static void bounds(float b, float *lo, float *hi)
{
    float big = b > 0.0f ? b : 0.0f; /* B = max(b, 0) */
    float half = exp2f(big - 1.0f);
    *lo = -half;
    *hi = half - 1.0f;
    /* from B = 25 on, 2^(B-1) - 1 rounds up to 2^(B-1) in float, which does
     * not fit in ceil(B) bits: take the float below */
    if (*hi >= half)
        *hi = nextafterf(half, 0.0f);
}

/* round half to even, as nearbyintf in the default rounding mode, but
 * inline and vectorisable: for |c| < 2^22, adding and taking away
 * 1.5 * 2^23 leaves the nearest integer, ties to even (the float sum has no
 * bits below 1); larger values go to nearbyintf. */
static inline float round_even(float c)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float r = (c + magic) - magic;
    return fabsf(c) < 4194304.0f ? r : nearbyintf(c);
}

void sc_quant_channel(const float *restrict w, size_t n, float b, float e,
                      float *restrict q)
{
    float lo, hi, s = exp2f(e), inv = exp2f(-e);
    bounds(b, &lo, &hi);
    if (hi < 4194304.0f) { /* every clamped value is below 2^22 */
        const float magic = 12582912.0f;
        for (size_t i = 0; i < n; i++) {
            float u = w[i] * inv;
            float c = u < lo ? lo : (u > hi ? hi : u);
            q[i] = s * ((c + magic) - magic) + 0.0f; /* + 0: no -0 */
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float u = w[i] * inv;
        float c = u < lo ? lo : (u > hi ? hi : u);
        q[i] = s * round_even(c) + 0.0f;
    }
}

float sc_quant_initial_exponent(float maxabs, float b, float e0)
{
    if (!(maxabs > 0.0f))
        return e0;
    float hi = exp2f((b > 1.0f ? b : 1.0f) - 1.0f) - 1.0f;
    if (hi < 0.5f)
        hi = 0.5f;
    /* a thousandth of an octave of headroom keeps max|w| strictly inside */
    return log2f(maxabs / hi) + 1e-3f;
}

static size_t per_channel(const sc_node *nd) { return nd->pn[P_W] / (size_t)nd->c; }

void sc_quant_forward(sc_net *net, sc_node *nd)
{
    const float *w = sc_node_param(net, nd, P_W);
    const float *b = sc_node_param(net, nd, P_QB), *e = sc_node_param(net, nd, P_QE);
    size_t k = per_channel(nd);
    for (int o = 0; o < nd->c; o++)
        sc_quant_channel(w + (size_t)o * k, k, b[o], e[o], nd->qw + (size_t)o * k);
}

void sc_quant_backward(sc_net *net, sc_node *nd)
{
    const float *w = sc_node_param(net, nd, P_W);
    const float *b = sc_node_param(net, nd, P_QB), *e = sc_node_param(net, nd, P_QE);
    float *gw = sc_node_grad(net, nd, P_W);
    float *gb = sc_node_grad(net, nd, P_QB), *ge = sc_node_grad(net, nd, P_QE);
    size_t k = per_channel(nd);
    for (int o = 0; o < nd->c; o++) {
        float lo, hi, s = exp2f(e[o]), inv = exp2f(-e[o]);
        bounds(b[o], &lo, &hi);
        float dbit = b[o] > 0.0f ? s * LN2 * exp2f(b[o] - 1.0f) : 0.0f;
        double de = 0.0, db = 0.0;
        const float *wo = w + (size_t)o * k, *qo = nd->qw + (size_t)o * k;
        float *go = gw + (size_t)o * k;
        for (size_t i = 0; i < k; i++) {
            float g = go[i], u = wo[i] * inv;
            if (u > lo && u < hi) { /* inside: dq/dw = 1, dq/de = ln2 (q - w) */
                de += (double)g * LN2 * (qo[i] - wo[i]);
            } else { /* clamped: dq/de = ln2 q, dq/db = +-2^e ln2 2^(B-1) */
                de += (double)g * LN2 * qo[i];
                db += (double)g * dbit * (u >= hi ? 1.0f : -1.0f);
                go[i] = 0.0f;
            }
        }
        ge[o] += (float)de;
        gb[o] += (float)db;
    }
}
