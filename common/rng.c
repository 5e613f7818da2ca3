/*
 * xoshiro256** pseudo-random generator (Blackman and Vigna), seeded through
 * splitmix64 so that any 64-bit seed, including 0, gives a well-mixed state.
 * Bounded draws use Lemire's multiply-shift with rejection, which is
 * unbiased and needs a division only on the rare rejection path.
 */
#include "rng.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* -Wpedantic rejects __int128 unless it is marked as an extension. */
__extension__ typedef unsigned __int128 rng_u128;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;

    /* splitmix64 never yields four zero words, the one forbidden state. */
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t rng_entropy_seed(void)
{
    uint64_t seed = 0;
    ssize_t n;
    struct timespec ts = {0, 0};
    uint64_t mix;

    do {
        n = getrandom(&seed, sizeof(seed), 0);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(seed))
        return seed;

    /*
     * No kernel entropy (very old kernel or seccomp): mix what differs
     * between processes and over time, so two workers still diverge.
     */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    mix = (uint64_t)getpid() << 32;
    mix ^= (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
    mix ^= (uint64_t)(uintptr_t)&ts;
    mix ^= (uint64_t)time(NULL) << 20;
    return splitmix64(&mix);
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
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

uint64_t rng_below(struct rng *r, uint64_t bound)
{
    rng_u128 m = (rng_u128)rng_next(r) * bound;
    uint64_t low = (uint64_t)m;

    /*
     * The high word of x * bound is uniform except for the first
     * (2^64 mod bound) low words of each bucket; reject those.
     */
    if (low < bound) {
        uint64_t threshold = -bound % bound;

        while (low < threshold) {
            m = (rng_u128)rng_next(r) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rng_unit(struct rng *r)
{
    /* The top 53 bits fill a double's mantissa exactly. */
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}
