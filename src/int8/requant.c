/* requant.c -- the fixed-point arithmetic of int8 inference: tensor scales,
 * multipliers and offsets (q8.h). */
#include <math.h>

#include "int8/q8.h"

sc_q8t sc_q8_tensor(float lo, float hi)
{
    sc_q8t t;
    if (lo >= 0.0f) {
        t.z = 0;
        t.s = hi / 255.0f;
    } else {
        float a = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        t.z = 128;
        t.s = a / 127.0f;
    }
    /* a range of (nearly) one value: any scale represents it */
    if (!(t.s >= 1e-30f) || !isfinite(t.s))
        t.s = 1.0f;
    return t;
}

#define SHIFT_MAX 48

int sc_q8_multiplier(double r, sc_q8mul *out)
{
    out->m = 0;
    out->shift = SHIFT_MAX;
    if (!isfinite(r) || fabs(r) >= 1073741824.0)
        return 0;
    if (r == 0.0)
        return 1;
    int ex;
    (void)frexp(fabs(r), &ex); /* |r| = f 2^ex, f in [0.5, 1) */
    int shift = 31 - ex;            /* m = f 2^31 in [2^30, 2^31) */
    if (shift > SHIFT_MAX)
        shift = SHIFT_MAX;          /* a tiny r: fewer bits of m */
    if (shift < 1)
        return 0;
    double m = nearbyint(ldexp(fabs(r), shift));
    if (m >= 2147483648.0) { /* f rounded up to 1 */
        m = nearbyint(m / 2.0);
        shift--;
        if (shift < 1)
            return 0;
    }
    out->m = (int32_t)(r < 0.0 ? -m : m);
    out->shift = shift;
    return 1;
}

int64_t sc_q8_offset(double off, int z, sc_q8mul mul, int64_t vmax)
{
    /* beyond vmax |r| + 512 steps the byte saturates whatever v is */
    double r = fabs(ldexp((double)mul.m, -mul.shift));
    double lim = (double)vmax * r + 512.0;
    if (!(off <= lim))
        off = off != off ? 0.0 : lim;
    if (off < -lim)
        off = -lim;
    double b = nearbyint(ldexp(off + (double)z, mul.shift));
    return (int64_t)b + ((int64_t)1 << (mul.shift - 1));
}

int sc_q8_sum_init(const sc_q8t *in, int n, sc_q8t out, sc_q8sum *s)
{
    double rmax = 0.0;
    for (int i = 0; i < n; i++)
        rmax = fmax(rmax, (double)in[i].s / out.s);
    sc_q8mul big;
    if (!sc_q8_multiplier(rmax, &big))
        return 0;
    s->n = n;
    s->shift = big.shift;
    for (int i = 0; i < n; i++) {
        s->m[i] = (int32_t)nearbyint(ldexp((double)in[i].s / out.s, big.shift));
        s->z[i] = in[i].z;
    }
    s->b = ((int64_t)out.z << s->shift) + ((int64_t)1 << (s->shift - 1));
    return 1;
}
