/*
 * Fast pseudo-random generator (xoshiro256**) with unbiased bounded draws.
 * Each worker seeds its own generator at start from the kernel's entropy
 * unless a seed is given, so two workers never share a sequence.
 */
#ifndef TCP_SERVER_RNG_H
#define TCP_SERVER_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* Seeds deterministically from one 64-bit value (splitmix64 expansion). */
void rng_seed(struct rng *r, uint64_t seed);

/* A seed from getrandom(), mixed with pid and time if that fails. */
uint64_t rng_entropy_seed(void);

uint64_t rng_next(struct rng *r);

/* Uniform integer in [0, bound). bound must be > 0. Unbiased (Lemire). */
uint64_t rng_below(struct rng *r, uint64_t bound);

/* Uniform double in [0, 1) with 53 random bits. */
double rng_unit(struct rng *r);

#endif
