/* rng.c -- deterministic random numbers for the simulator (see sim.h).
 * xoshiro256** (Blackman & Vigna), seeded through splitmix64 so that nearby
 * (seed, stream) pairs give unrelated states. */
#include <math.h>

#include "sim.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng_t *rng, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rng_u64(sim_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_rng_uniform(sim_rng_t *rng) { return (double)(sim_rng_u64(rng) >> 11) * 0x1.0p-53; }

double sim_rng_normal(sim_rng_t *rng)
{
    /* Box-Muller; one value per call keeps the stream simple to reason about. */
    double u1 = sim_rng_uniform(rng), u2 = sim_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int sim_rng_range(sim_rng_t *rng, int lo, int hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int)(sim_rng_u64(rng) % span);
}

int sim_rng_chance(sim_rng_t *rng, double p) { return sim_rng_uniform(rng) < p; }
