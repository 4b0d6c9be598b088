/* rng.c -- splitmix64: x += golden; z = mix(x). Normals by Box-Muller. */
#include "core/rng.h"

#include <math.h>

void sc_rng_seed(sc_rng *r, uint64_t seed) { r->state = seed; }

uint64_t sc_rng_next(sc_rng *r)
{
    return sc_hash64(r->state += SC_RNG_GOLDEN);
}

float sc_rng_uniform(sc_rng *r)
{
    return (float)(sc_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

float sc_rng_normal(sc_rng *r)
{
    /* 1 - u is in (0, 1], so the log is finite */
    double u1 = 1.0 - (double)(sc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double u2 = (double)(sc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
