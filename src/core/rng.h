/* rng.h -- a small seeded generator (splitmix64) for reproducible init,
 * and its mix as a counter-based hash (dropout's masks). */
#ifndef SC_CORE_RNG_H
#define SC_CORE_RNG_H

#include <stdint.h>

#define SC_RNG_GOLDEN 0x9E3779B97F4A7C15ull

/* splitmix64's mix: a counter-based generator's output for counter z */
static inline uint64_t sc_hash64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

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
