/* rng.c -- splitmix64: x += golden; z = mix(x). Normals by Box-Muller. */
#include "core/rng.h"

#include <math.h>

void sc_rng_seed(sc_rng *r, uint64_t seed) { r->state = seed; }

uint64_t sc_rng_next(sc_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
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
