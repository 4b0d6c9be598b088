/* quantizer.c -- q = 2^e round(clamp(2^-e w, lo, hi)) with a
 * straight-through estimator for the rounding. */
#include "quant/quantizer.h"

#include <math.h>

#include "core/vec.h"
#include "core/simd.h"

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

/* static: an extern clone would export its dispatcher from the .so */
SC_SIMD_CLONES
static void quant_channel(const float *restrict w, size_t n, float b,
                          float e, float *restrict q)
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

void sc_quant_channel(const float *w, size_t n, float b, float e, float *q)
{
    quant_channel(w, n, b, e, q);
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

typedef struct quant_job {
    sc_net *net;
    sc_node *nd;
    size_t k; /* weights per channel */
} quant_job;

/* output channels [b, e) */
SC_SIMD_CLONES
static void forward_task(void *ctx, size_t bo, size_t eo, int t)
{
    (void)t;
    const quant_job *j = ctx;
    const float *w = sc_node_param(j->net, j->nd, P_W);
    const float *b = sc_node_param(j->net, j->nd, P_QB);
    const float *e = sc_node_param(j->net, j->nd, P_QE);
    for (size_t o = bo; o < eo; o++)
        quant_channel(w + o * j->k, j->k, b[o], e[o], j->nd->qw + o * j->k);
}

SC_SIMD_CLONES
static void backward_task(void *ctx, size_t bo, size_t eo, int t)
{
    (void)t;
    const quant_job *j = ctx;
    sc_net *net = j->net;
    sc_node *nd = j->nd;
    const float *w = sc_node_param(net, nd, P_W);
    const float *b = sc_node_param(net, nd, P_QB), *e = sc_node_param(net, nd, P_QE);
    float *gw = sc_node_grad(net, nd, P_W);
    float *gb = sc_node_grad(net, nd, P_QB), *ge = sc_node_grad(net, nd, P_QE);
    size_t k = j->k;
    for (size_t o = bo; o < eo; o++) {
        float lo, hi, s = exp2f(e[o]), inv = exp2f(-e[o]);
        bounds(b[o], &lo, &hi);
        float dbit = b[o] > 0.0f ? s * LN2 * exp2f(b[o] - 1.0f) : 0.0f;
        const float *restrict wo = w + o * k;
        const float *restrict qo = nd->qw + o * k;
        float *restrict go = gw + o * k;
        /* inside (lo < u < hi): dq/dw = 1, dq/de = ln2 (q - w);
         * clamped: dq/dw = 0, dq/de = ln2 q, dq/db = +-2^e ln2 2^(B-1).
         * Selects and 16 lane-wise partial sums let this vectorise. */
        float pe[SC_LANES] = {0}, pb[SC_LANES] = {0};
        size_t i = 0;
        for (; i + SC_LANES <= k; i += SC_LANES)
            for (int l = 0; l < SC_LANES; l++) { /* masks as 0/1 floats */
                float g = go[i + l], wv = wo[i + l], u = wv * inv;
                float in = (float)((u > lo) & (u < hi));
                float sgn = 2.0f * (float)(u >= hi) - 1.0f;
                pe[l] += g * (qo[i + l] - in * wv);
                pb[l] += (1.0f - in) * sgn * g;
                go[i + l] = in * g;
            }
        double de = 0.0, db = 0.0;
        for (; i < k; i++) {
            float g = go[i], wv = wo[i], u = wv * inv;
            int in = (u > lo) & (u < hi);
            de += (double)g * (qo[i] - (in ? wv : 0.0f));
            db += in ? 0.0 : (u >= hi ? g : -g);
            go[i] = in ? g : 0.0f;
        }
        for (int l = 0; l < SC_LANES; l++) {
            de += pe[l];
            db += pb[l];
        }
        de *= LN2;
        db *= dbit;
        ge[o] += (float)de;
        gb[o] += (float)db;
    }
}

/* channels per thread below which a layer is not worth splitting */
static size_t grain(size_t k) { return k >= 16384 ? 1 : 16384 / (k ? k : 1); }

void sc_quant_forward(sc_net *net, sc_node *nd)
{
    quant_job j = {net, nd, per_channel(nd)};
    sc_pool_map(net->pool, (size_t)nd->c, grain(j.k), forward_task, &j);
}

void sc_quant_backward(sc_net *net, sc_node *nd)
{
    quant_job j = {net, nd, per_channel(nd)};
    sc_pool_map(net->pool, (size_t)nd->c, grain(j.k), backward_task, &j);
}
