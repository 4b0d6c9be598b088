/* rng.h -- a small seeded generator (splitmix64) for reproducible init. */
#ifndef SC_CORE_RNG_H
#define SC_CORE_RNG_H

#include <stdint.h>

typedef struct sc_rng {
    uint64_t state;
} sc_rng;

void sc_rng_seed(sc_rng *r, uint64_t seed);
uint64_t sc_rng_next(sc_rng *r);
/* uniform in [0, 1) with 24 random bits */
float sc_rng_uniform(sc_rng *r);
/* standard normal, Box-Muller */
float sc_rng_normal(sc_rng *r);

#endif
