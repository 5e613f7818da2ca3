/*
 * The log-linear histogram. Index of v >= 128: with m the position of its
 * top bit, shift = m - 6 keeps the 7 top bits (64..127) as the sub-bucket,
 * and each shift owns 64 buckets after the 128 exact ones.
 */
#include "bench_hist.h"

#include <string.h>

#define HIST_LIMIT ((UINT64_C(1) << BENCH_HIST_MAX_BITS) - 1)

void bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t bench_hist_index(uint64_t v)
{
    unsigned m;
    unsigned shift;

    if (v > HIST_LIMIT)
        v = HIST_LIMIT;
    if (v < BENCH_HIST_SUB)
        return (size_t)v;
    m = 63u - (unsigned)__builtin_clzll(v);
    shift = m - (BENCH_HIST_SUB_BITS - 1);
    return BENCH_HIST_SUB + (size_t)(shift - 1) * BENCH_HIST_HALF +
           (size_t)((v >> shift) - BENCH_HIST_HALF);
}

uint64_t bench_hist_bucket_low(size_t idx)
{
    size_t shift;
    uint64_t top;

    if (idx < BENCH_HIST_SUB)
        return idx;
    shift = (idx - BENCH_HIST_SUB) / BENCH_HIST_HALF + 1;
    top = (idx - BENCH_HIST_SUB) % BENCH_HIST_HALF + BENCH_HIST_HALF;
    return top << shift;
}

uint64_t bench_hist_bucket_high(size_t idx)
{
    size_t shift;

    if (idx < BENCH_HIST_SUB)
        return idx;
    shift = (idx - BENCH_HIST_SUB) / BENCH_HIST_HALF + 1;
    return bench_hist_bucket_low(idx) + (UINT64_C(1) << shift) - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
    h->counts[bench_hist_index(v)]++;
    h->total++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double pct)
{
    uint64_t rank;
    uint64_t seen = 0;
    double want;

    if (h->total == 0)
        return 0;
    if (pct <= 0)
        return h->min;
    if (pct > 100)
        pct = 100;
    want = pct / 100.0 * (double)h->total;
    rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bench_hist_bucket_high(i);

            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
    return h->total == 0 ? 0.0 : (double)h->sum / (double)h->total;
}
