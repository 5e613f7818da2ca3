/*
 * Latency histogram with log-linear buckets in the spirit of HdrHistogram:
 * values below 128 ns have a bucket each; above, every power-of-two range is
 * split into 64 equal buckets, so a reported percentile is within 1/64
 * (1.6 %) of the true sample. Values up to 2^36 ns (about 69 s) are kept
 * apart; larger ones land in the last bucket (min, max and the mean stay
 * exact). Fixed size, no allocation, O(1) record.
 */
#ifndef TCP_SERVER_TOOLS_BENCH_HIST_H
#define TCP_SERVER_TOOLS_BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB      (1u << BENCH_HIST_SUB_BITS) /* 128 */
#define BENCH_HIST_HALF     (BENCH_HIST_SUB / 2)        /* 64 */
#define BENCH_HIST_MAX_BITS 36                          /* 2^36 ns */
#define BENCH_HIST_BUCKETS                                                     \
    (BENCH_HIST_SUB +                                                          \
     (BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS) * BENCH_HIST_HALF)

struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t total;
    uint64_t min; /* UINT64_MAX while empty */
    uint64_t max;
    uint64_t sum; /* for the mean; 2^64 ns is centuries */
};

void bench_hist_init(struct bench_hist *h);

/* Records one value (nanoseconds). */
void bench_hist_record(struct bench_hist *h, uint64_t v);

/* Adds every sample of src to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* The bucket index of v, and the lowest and highest value of a bucket. */
size_t bench_hist_index(uint64_t v);
uint64_t bench_hist_bucket_low(size_t idx);
uint64_t bench_hist_bucket_high(size_t idx);

/*
 * The value below or at which pct percent of the samples lie (pct in
 * 0..100): the upper edge of the bucket holding the sample of rank
 * ceil(pct/100 * total), clamped to [min, max], so 100 gives the exact
 * maximum and 0 the exact minimum. 0 for an empty histogram.
 */
uint64_t bench_hist_percentile(const struct bench_hist *h, double pct);

/* The mean, or 0 for an empty histogram. */
double bench_hist_mean(const struct bench_hist *h);

#endif
