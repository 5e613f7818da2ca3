/*
 * The log-linear histogram of tcp_bench (tools/bench_hist.c): bucket edges
 * and percentile math.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench_hist.h"
#include "rng.h"

static void test_bench_hist_index_buckets_tile_the_range(void **state)
{
    (void)state;
    assert_int_equal(bench_hist_bucket_low(0), 0);
    for (size_t i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo = bench_hist_bucket_low(i);
        uint64_t hi = bench_hist_bucket_high(i);

        assert_true(lo <= hi);
        /* Contiguous, no gap and no overlap. */
        assert_int_equal(hi + 1, bench_hist_bucket_low(i + 1));
        /* Width at most 1/64 of the low edge past the exact buckets. */
        if (i >= BENCH_HIST_SUB)
            assert_true((hi - lo + 1) * 64 <= lo);
        assert_int_equal(bench_hist_index(lo), i);
        assert_int_equal(bench_hist_index(hi), i);
    }
}

static void test_bench_hist_index_value_within_its_bucket(void **state)
{
    struct rng r;

    (void)state;
    rng_seed(&r, 7);
    for (int i = 0; i < 100000; i++) {
        /* Shifts of 28..63 leave 1..36 random bits: the whole range. */
        uint64_t v = rng_next(&r) >> (rng_below(&r, 36) + 28);
        size_t idx = bench_hist_index(v);

        assert_true(idx < BENCH_HIST_BUCKETS);
        assert_true(bench_hist_bucket_low(idx) <= v);
        assert_true(v <= bench_hist_bucket_high(idx));
    }
    /* Beyond the range: the last bucket. */
    assert_int_equal(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

static void test_bench_hist_percentile_uniform(void **state)
{
    struct bench_hist h;

    (void)state;
    bench_hist_init(&h);
    /* 1 us .. 1000 us: percentile p is p * 10 us. */
    for (uint64_t v = 1; v <= 1000; v++)
        bench_hist_record(&h, v * 1000);
    assert_int_equal(h.total, 1000);
    assert_int_equal(h.min, 1000);
    assert_int_equal(h.max, 1000000);
    {
        static const double pct[] = {1, 10, 50, 90, 99, 99.9};

        for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
            double want = pct[i] * 10000.0;
            double got = (double)bench_hist_percentile(&h, pct[i]);

            /* The reported value is the bucket's upper edge: never below
             * the sample, at most 1/64 above it. */
            assert_true(got >= want);
            assert_true(got <= want * (1.0 + 1.0 / 64));
        }
    }
    assert_int_equal(bench_hist_percentile(&h, 100), 1000000);
    assert_int_equal(bench_hist_percentile(&h, 0), 1000);
    assert_true(bench_hist_mean(&h) > 500499.0 &&
                bench_hist_mean(&h) < 500501.0);
}

static void test_bench_hist_percentile_skewed(void **state)
{
    struct bench_hist h;

    (void)state;
    bench_hist_init(&h);
    /* 990 fast samples and 10 slow ones: p99 is fast, p99.1 is slow. */
    for (int i = 0; i < 990; i++)
        bench_hist_record(&h, 20000);
    for (int i = 0; i < 10; i++)
        bench_hist_record(&h, 5000000000ull);
    assert_true(bench_hist_percentile(&h, 50) <= 20000 * 65 / 64);
    assert_true(bench_hist_percentile(&h, 99) <= 20000 * 65 / 64);
    assert_true(bench_hist_percentile(&h, 99.1) >= 5000000000ull);
    assert_int_equal(bench_hist_percentile(&h, 100), 5000000000ull);
}

static void test_bench_hist_percentile_empty_and_single(void **state)
{
    struct bench_hist h;

    (void)state;
    bench_hist_init(&h);
    assert_int_equal(bench_hist_percentile(&h, 50), 0);
    assert_true(bench_hist_mean(&h) == 0.0);
    bench_hist_record(&h, 123456789);
    /* One sample: every percentile is exactly it (clamped to min/max). */
    assert_int_equal(bench_hist_percentile(&h, 1), 123456789);
    assert_int_equal(bench_hist_percentile(&h, 50), 123456789);
    assert_int_equal(bench_hist_percentile(&h, 100), 123456789);
}

static void test_bench_hist_merge_adds_samples(void **state)
{
    struct bench_hist a, b;

    (void)state;
    bench_hist_init(&a);
    bench_hist_init(&b);
    for (uint64_t v = 1; v <= 500; v++)
        bench_hist_record(&a, v * 1000);
    for (uint64_t v = 501; v <= 1000; v++)
        bench_hist_record(&b, v * 1000);
    bench_hist_merge(&a, &b);
    assert_int_equal(a.total, 1000);
    assert_int_equal(a.min, 1000);
    assert_int_equal(a.max, 1000000);
    assert_true(bench_hist_percentile(&a, 50) >= 500000);
    assert_true(bench_hist_percentile(&a, 50) <= 500000 * 65 / 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_hist_index_buckets_tile_the_range),
        cmocka_unit_test(test_bench_hist_index_value_within_its_bucket),
        cmocka_unit_test(test_bench_hist_percentile_uniform),
        cmocka_unit_test(test_bench_hist_percentile_skewed),
        cmocka_unit_test(test_bench_hist_percentile_empty_and_single),
        cmocka_unit_test(test_bench_hist_merge_adds_samples),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
