/*
 * Unit tests of the random generator: reproducibility from a seed, the
 * reference output of splitmix64 and xoshiro256**, the range and the
 * absence of bias of bounded draws, and the range of unit doubles. The
 * statistical checks use fixed seeds, so they are deterministic, with
 * thresholds a biased implementation fails by a wide margin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rng.h"

/* Kept local so the test needs no libm. */
static double absd(double x)
{
    return x < 0 ? -x : x;
}

static void test_rng_seed_reference_output(void **state)
{
    /*
     * splitmix64 from 0 yields e220a8397b1dcdaf, 6e789e6aa1b965f4, ... (its
     * reference outputs); xoshiro256** from that state yields these.
     */
    static const uint64_t expect[] = {0x99ec5f36cb75f2b4u, 0xbf6e1f784956452au,
                                      0x1a5f849d4933e6e0u, 0x6aa594f1262d2d2cu};
    struct rng r;

    (void)state;
    rng_seed(&r, 0);
    assert_int_equal(r.s[0], 0xe220a8397b1dcdafu);
    assert_int_equal(r.s[1], 0x6e789e6aa1b965f4u);
    assert_int_equal(r.s[2], 0x06c45d188009454fu);
    assert_int_equal(r.s[3], 0xf88bb8a8724c81ecu);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(rng_next(&r), expect[i]);
}

static void test_rng_seed_same_seed_same_sequence(void **state)
{
    struct rng a, b;

    (void)state;
    rng_seed(&a, 12345);
    rng_seed(&b, 12345);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rng_next(&a), rng_next(&b));
}

static void test_rng_seed_different_seeds_differ(void **state)
{
    static const uint64_t seeds[] = {0, 1, 2, 12345, UINT64_MAX};
    uint64_t first[5][8];

    (void)state;
    for (size_t i = 0; i < 5; i++) {
        struct rng r;

        rng_seed(&r, seeds[i]);
        for (size_t k = 0; k < 8; k++)
            first[i][k] = rng_next(&r);
    }
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = i + 1; j < 5; j++) {
            unsigned same = 0;

            for (size_t k = 0; k < 8; k++)
                same += first[i][k] == first[j][k];
            assert_int_equal(same, 0);
        }
    }
}

static void test_rng_entropy_seed_differs(void **state)
{
    (void)state;
    /* Two 64-bit draws from the kernel collide with probability 2^-64. */
    assert_true(rng_entropy_seed() != rng_entropy_seed());
}

static void test_rng_below_in_range(void **state)
{
    static const uint64_t bounds[] = {
        1,         2, 3, 6, (UINT64_C(1) << 32) + 1, (UINT64_C(1) << 63) + 1,
        UINT64_MAX};
    struct rng r;

    (void)state;
    rng_seed(&r, 7);
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        uint64_t max_seen = 0;

        for (int k = 0; k < 100000; k++) {
            uint64_t v = rng_below(&r, bounds[i]);

            assert_true(v < bounds[i]);
            if (v > max_seen)
                max_seen = v;
        }
        /* The top of the range is reached (or nearly, for huge bounds). */
        assert_true(max_seen >= bounds[i] - 1 - bounds[i] / 1000);
    }
}

static void test_rng_below_uniform_six(void **state)
{
    enum { N = 600000, K = 6 };
    unsigned counts[K] = {0};
    double chi2 = 0;
    struct rng r;

    (void)state;
    rng_seed(&r, 42);
    for (int i = 0; i < N; i++)
        counts[rng_below(&r, K)]++;
    for (int k = 0; k < K; k++) {
        double d = counts[k] - (double)N / K;

        chi2 += d * d / ((double)N / K);
    }
    /* Chi-square, 5 degrees of freedom, p = 0.001. */
    assert_true(chi2 < 20.52);
}

static void test_rng_below_unbiased_large_bound(void **state)
{
    /*
     * For bound = 3 * 2^62, a multiply-shift without rejection returns
     * multiples of 3 half the time, and x % bound returns values below 2^62
     * half the time; the unbiased answer is a third for both.
     */
    enum { N = 90000 };
    const uint64_t bound = UINT64_C(3) << 62;
    unsigned mult3 = 0, low = 0;
    const double sigma = 141.42; /* sqrt(N * 1/3 * 2/3) */
    struct rng r;

    (void)state;
    rng_seed(&r, 99);
    for (int i = 0; i < N; i++) {
        uint64_t v = rng_below(&r, bound);

        mult3 += v % 3 == 0;
        low += v < (UINT64_C(1) << 62);
    }
    assert_true(absd(mult3 - N / 3.0) < 5 * sigma);
    assert_true(absd(low - N / 3.0) < 5 * sigma);
}

static void test_rng_unit_range(void **state)
{
    enum { N = 1000000 };
    double sum = 0, min = 1, max = 0;
    unsigned odd = 0;
    struct rng r;

    (void)state;
    rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        double u = rng_unit(&r);
        double scaled = u * 0x1.0p53;

        assert_true(u >= 0.0 && u < 1.0);
        /* A multiple of 2^-53: exactly 53 random bits. */
        assert_true(scaled == (double)(uint64_t)scaled);
        odd += (uint64_t)scaled & 1;
        sum += u;
        if (u < min)
            min = u;
        if (u > max)
            max = u;
    }
    /* The lowest of the 53 bits is used: about half the draws are odd. */
    assert_true(odd > N / 2 - 5000 && odd < N / 2 + 5000);
    assert_true(absd(sum / N - 0.5) < 0.002);
    assert_true(min < 0.0001);
    assert_true(max > 0.9999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_seed_reference_output),
        cmocka_unit_test(test_rng_seed_same_seed_same_sequence),
        cmocka_unit_test(test_rng_seed_different_seeds_differ),
        cmocka_unit_test(test_rng_entropy_seed_differs),
        cmocka_unit_test(test_rng_below_in_range),
        cmocka_unit_test(test_rng_below_uniform_six),
        cmocka_unit_test(test_rng_below_unbiased_large_bound),
        cmocka_unit_test(test_rng_unit_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
