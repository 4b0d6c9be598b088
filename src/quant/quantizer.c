/* quantizer.c -- q = 2^e round(clamp(2^-e w, lo, hi)) with a
 * straight-through estimator for the rounding. */
#include "quant/quantizer.h"

#include <math.h>

#include "core/vec.h"
#include "core/simd.h"

#define LN2 0.69314718055994530942f

typedef sc_qchan chan;

static chan channel_of(float b, float e)
{
    chan c = {exp2f(e), exp2f(-e), 0.0f, 0.0f, 0};
    float big = b > 0.0f ? b : 0.0f; /* B = max(b, 0) */
    float half = exp2f(big - 1.0f);
    c.lo = -half;
    c.hi = half - 1.0f;
    /* from B = 25 on, 2^(B-1) - 1 rounds up to 2^(B-1) in float, which does
     * not fit in ceil(B) bits: take the float below */
    if (c.hi >= half)
        c.hi = nextafterf(half, 0.0f);
    c.small = c.hi < 4194304.0f;
    return c;
}

/* round half to even, as nearbyintf in the default rounding mode, but
 * inline and vectorisable: for |c| < 2^22, adding and taking away
 * 1.5 * 2^23 leaves the nearest integer, ties to even (the float sum has no
 * bits below 1); larger values go to nearbyintf. small (chan.small) is a
 * constant in each loop below. */
static inline float round_even(float c, int small)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float r = (c + magic) - magic;
    return small || fabsf(c) < 4194304.0f ? r : nearbyintf(c);
}

/* The integer level of u = 2^-e w: round(clamp(u, lo, hi)) */
static inline float level_of(float u, float lo, float hi, int small)
{
    float c = u < lo ? lo : (u > hi ? hi : u);
    return round_even(c, small);
}

/* q of u = 2^-e w: 2^e round(clamp(u, lo, hi)), + 0 so that it is never -0 */
static inline float quant_one(float u, float lo, float hi, float s, int small)
{
    return sc_quant_value(s, level_of(u, lo, hi, small));
}

sc_qchan sc_quant_chan(float b, float e) { return channel_of(b, e); }

float sc_quant_level(sc_qchan c, float w)
{
    return level_of(w * c.inv, c.lo, c.hi, c.small);
}

int sc_quant_bits(float b)
{
    if (!(b > 0.0f))
        return 0;
    return b > 64.0f ? 65 : (int)ceilf(b); /* no float-to-int overflow */
}

int sc_quant_in_range(float b, float e, float bmax)
{
    return isfinite(b) && b <= fminf(bmax, SC_QUANT_MAX_BITS) && isfinite(e) &&
           fabsf(e) <= SC_QUANT_MAX_EXP;
}

/* small is passed apart from c so that each call site compiles one loop */
static inline void quant_loop(const float *restrict w, size_t n, chan c,
                              int small, float *restrict q)
{
    for (size_t i = 0; i < n; i++)
        q[i] = quant_one(w[i] * c.inv, c.lo, c.hi, c.s, small);
}

/* static: an extern clone would export its dispatcher from the .so */
SC_SIMD_CLONES
static void quant_channel(const float *restrict w, size_t n, float b,
                          float e, float *restrict q)
{
    chan c = channel_of(b, e);
    if (c.small)
        quant_loop(w, n, c, 1, q);
    else
        quant_loop(w, n, c, 0, q);
}

void sc_quant_channel(const float *w, size_t n, float b, float e, float *q)
{
    quant_channel(w, n, b, e, q);
}

/* One channel's straight-through backward, q recomputed from w (the
 * forward's own arithmetic, so the same q bit for bit, without reading qw).
 * inside (lo < u < hi): dq/dw = 1, dq/de = ln2 (q - w);
 * clamped: dq/dw = 0, dq/de = ln2 q, dq/db = +-2^e ln2 2^(B-1).
 * g (dL/dq) becomes dL/dw; *de gets sum g dq/de / ln2 and *db the clamped
 * sum of +-g. Selects and 16 lane-wise partial sums, summed in one vector
 * per block before they are added, let this vectorise with the sums in
 * registers. */
static SC_CLONE_INLINE void grad_loop(const float *restrict w,
                                      float *restrict g, size_t k, chan c,
                                      int small, double *de, double *db)
{
    float lo = c.lo, hi = c.hi, s = c.s, inv = c.inv;
    float pe[SC_LANES] = {0}, pb[SC_LANES] = {0};
    size_t i = 0;
    for (; i + SC_LANES <= k; i += SC_LANES) {
        float te[SC_LANES], tb[SC_LANES];
        for (int l = 0; l < SC_LANES; l++) { /* masks as 0/1 floats */
            float gv = g[i + l], wv = w[i + l], u = wv * inv;
            float in = (float)((u > lo) & (u < hi));
            float sgn = 2.0f * (float)(u >= hi) - 1.0f;
            te[l] = gv * (quant_one(u, lo, hi, s, small) - in * wv);
            tb[l] = (1.0f - in) * sgn * gv;
            g[i + l] = in * gv;
        }
        for (int l = 0; l < SC_LANES; l++) {
            pe[l] += te[l];
            pb[l] += tb[l];
        }
    }
    double se = 0.0, sb = 0.0;
    for (; i < k; i++) {
        float gv = g[i], wv = w[i], u = wv * inv;
        int in = (u > lo) & (u < hi);
        se += (double)gv * (quant_one(u, lo, hi, s, small) - (in ? wv : 0.0f));
        sb += in ? 0.0 : (u >= hi ? gv : -gv);
        g[i] = in ? gv : 0.0f;
    }
    for (int l = 0; l < SC_LANES; l++) {
        se += pe[l];
        sb += pb[l];
    }
    *de = se;
    *db = sb;
}

float sc_quant_initial_exponent(float maxabs, float b, float e0)
{
    if (!(maxabs > 0.0f))
        return e0;
    float hi = exp2f((b > 1.0f ? b : 1.0f) - 1.0f) - 1.0f;
    if (hi < 0.5f)
        hi = 0.5f;
    /* a thousandth of an octave of headroom keeps max|w| strictly inside;
     * the result stays in the exponent's range */
    float e = log2f(maxabs / hi) + 1e-3f;
    return fminf(fmaxf(e, -SC_QUANT_MAX_EXP), SC_QUANT_MAX_EXP);
}

typedef struct quant_job {
    const float *w, *b, *e;
    float *q, *gw, *gb, *ge;
    size_t k; /* weights per channel */
} quant_job;

/* output channels [b, e) */
SC_SIMD_CLONES
static void forward_task(void *ctx, size_t bo, size_t eo, int t)
{
    (void)t;
    const quant_job *j = ctx;
    const float *w = j->w, *b = j->b, *e = j->e;
    for (size_t o = bo; o < eo; o++)
        quant_channel(w + o * j->k, j->k, b[o], e[o], j->q + o * j->k);
}

SC_SIMD_CLONES
static void backward_task(void *ctx, size_t bo, size_t eo, int t)
{
    (void)t;
    const quant_job *j = ctx;
    const float *w = j->w, *b = j->b, *e = j->e;
    float *gw = j->gw, *gb = j->gb, *ge = j->ge;
    size_t k = j->k;
    for (size_t o = bo; o < eo; o++) {
        chan c = channel_of(b[o], e[o]);
        float dbit = b[o] > 0.0f ? c.s * LN2 * exp2f(b[o] - 1.0f) : 0.0f;
        double de, db;
        if (c.small)
            grad_loop(w + o * k, gw + o * k, k, c, 1, &de, &db);
        else
            grad_loop(w + o * k, gw + o * k, k, c, 0, &de, &db);
        ge[o] += (float)(de * LN2);
        gb[o] += (float)(db * dbit);
    }
}

/* channels per thread below which a layer is not worth splitting */
static size_t grain(size_t k) { return k >= 16384 ? 1 : 16384 / (k ? k : 1); }

void sc_quant_forward(sc_pool *pool, const float *w, const float *b,
                      const float *e, size_t c, size_t k, float *q)
{
    quant_job j = {w, b, e, q, NULL, NULL, NULL, k};
    sc_pool_map(pool, c, grain(k), forward_task, &j);
}

void sc_quant_backward(sc_pool *pool, const float *w, const float *b,
                       const float *e, size_t c, size_t k, float *gw,
                       float *gb, float *ge)
{
    quant_job j = {w, b, e, NULL, gw, gb, ge, k};
    sc_pool_map(pool, c, grain(k), backward_task, &j);
}
