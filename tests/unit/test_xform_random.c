/*
 * Unit tests of the random transform: characters kept whole and in order,
 * the drop and repeat statistics, the repeat cap, and the edge cases. The
 * statistical tests use fixed seeds: they are deterministic, and their
 * thresholds (5 sigma) are far from what a correct implementation gives yet
 * close enough that a biased one fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xform.h"
#include "xform_ref.h"

/* ---- random ------------------------------------------------------------ */

/*
 * True when out is c[j1] repeated k1 times, c[j2] k2 times, ... with
 * j1 < j2 < ... and every k >= 1, for the characters c of in. Dynamic
 * programming over output positions: only the smallest usable input index
 * at each position matters, because a smaller one allows every step a
 * larger one does.
 */
static int is_ordered_repeats(const uint8_t *in, size_t len, const uint8_t *out,
                              size_t out_len)
{
    static struct chr chars[4096];
    size_t n = split_chars(in, len, chars, 4096);
    size_t *best = malloc((out_len + 1) * sizeof(*best));
    int ok;

    assert_non_null(best);
    for (size_t o = 0; o <= out_len; o++)
        best[o] = SIZE_MAX;
    best[0] = 0;
    for (size_t o = 0; o < out_len; o++) {
        if (best[o] == SIZE_MAX)
            continue;
        for (size_t j = best[o]; j < n; j++) {
            size_t cn = chars[j].n;

            if (cn <= out_len - o && memcmp(out + o, chars[j].b, cn) == 0 &&
                j < best[o + cn])
                best[o + cn] = j;
        }
    }
    ok = best[out_len] != SIZE_MAX;
    free(best);
    return ok;
}

static void test_xform_random_empty(void **state)
{
    static uint8_t sentinel[1];
    uint8_t *out = sentinel;
    size_t out_len = 99;
    struct rng r;

    (void)state;
    rng_seed(&r, 41);
    assert_int_equal(xform_random((const uint8_t *)"", 0, &r, &out, &out_len),
                     0);
    assert_null(out);
    assert_int_equal(out_len, 0);
}

static void test_xform_random_order_and_whole_chars(void **state)
{
    static uint8_t in[4096];
    struct rng r;

    (void)state;
    rng_seed(&r, 42);
    for (int iter = 0; iter < 600; iter++) {
        size_t len = gen_text(&r, in, sizeof(in), 40, iter % 3);
        uint8_t *out = NULL;
        size_t out_len = 0;

        assert_int_equal(xform_random(in, len, &r, &out, &out_len), 0);
        if (len == 0) {
            assert_null(out);
            continue;
        }
        assert_non_null(out);
        assert_true(out_len > 0);
        assert_true(is_ordered_repeats(in, len, out, out_len));
        if (valid_utf8(in, len))
            assert_true(valid_utf8(out, out_len));
        free(out);
    }
}

/*
 * 600000 characters cycling through 64 distinct ones (half multi-byte), so
 * each run of equal characters in the output is one kept input character:
 * two kept characters only meet if the 63 between them were all dropped.
 */
static void test_xform_random_statistics(void **state)
{
    enum { N = 600000, K = 64 };
    static struct chr alpha[K];
    uint8_t *in, *out = NULL;
    size_t len = 0, out_len = 0, o = 0, p = 0;
    size_t dropped = 0, runs = 0, runs2 = 0, runs4 = 0, max_run = 0;
    double sum2 = 0, mean2, sigma;
    struct rng r;

    (void)state;
    for (int k = 0; k < K; k++) {
        uint32_t cp = k < 32   ? 'A' + (uint32_t)k
                      : k < 48 ? 0xc0 + (uint32_t)k
                      : k < 56 ? 0x4e00 + (uint32_t)k
                               : 0x1f600 + (uint32_t)k;
        uint8_t *b = alpha[k].b;

        if (cp < 0x80) {
            b[0] = (uint8_t)cp;
            alpha[k].n = 1;
        } else if (cp < 0x800) {
            b[0] = (uint8_t)(0xc0 | cp >> 6);
            b[1] = (uint8_t)(0x80 | (cp & 0x3f));
            alpha[k].n = 2;
        } else if (cp < 0x10000) {
            b[0] = (uint8_t)(0xe0 | cp >> 12);
            b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            b[2] = (uint8_t)(0x80 | (cp & 0x3f));
            alpha[k].n = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | cp >> 18);
            b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
            b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            b[3] = (uint8_t)(0x80 | (cp & 0x3f));
            alpha[k].n = 4;
        }
    }
    in = malloc((size_t)N * 4);
    assert_non_null(in);
    for (int i = 0; i < N; i++) {
        memcpy(in + len, alpha[i % K].b, alpha[i % K].n);
        len += alpha[i % K].n;
    }
    rng_seed(&r, 43);
    assert_int_equal(xform_random(in, len, &r, &out, &out_len), 0);
    assert_non_null(out);

    while (o < out_len) {
        size_t n = ref_char_len(out + o, out_len - o), run = 0;
        const uint8_t *c = out + o;

        /* Find the input character this run repeats; skipped ones dropped. */
        while (p < N &&
               (alpha[p % K].n != n || memcmp(alpha[p % K].b, c, n) != 0)) {
            p++;
            dropped++;
        }
        assert_true(p < N);
        p++;
        while (o < out_len && out_len - o >= n && memcmp(out + o, c, n) == 0) {
            o += n;
            run++;
        }
        runs++;
        if (run > max_run)
            max_run = run;
        if (run >= 2) {
            runs2++;
            sum2 += (double)run;
        }
        runs4 += run >= 4;
    }
    dropped += N - p;
    assert_int_equal(runs + dropped, N);

    /* Dropped: 1/6 of N, sigma = sqrt(N * 1/6 * 5/6) = 288.7. */
    assert_true(dropped > N / 6 - 5 * 289 && dropped < N / 6 + 5 * 289);
    /*
     * A kept character is repeated with probability 1/6, and floor(X) >= 2
     * with probability P(X >= 2) = 1/2, so 1/12 of runs are longer than
     * one (sigma about 195 for 500000 runs).
     */
    sigma = 5 * 196.0;
    assert_true(runs2 > runs / 12.0 - sigma && runs2 < runs / 12.0 + sigma);
    /* P(X >= 4 | X >= 2) = 1/2: the Pareto tail (sigma about 102). */
    assert_true(runs4 > runs2 / 2.0 - 5 * 103.0 &&
                runs4 < runs2 / 2.0 + 5 * 103.0);
    /*
     * Mean of floor(X) capped at 2^16, given floor(X) >= 2: about 22.3,
     * standard error about 2.5 (the tail is heavy).
     */
    mean2 = sum2 / (double)runs2;
    assert_true(mean2 > 9.5 && mean2 < 35.5);
    assert_true(max_run <= XFORM_RANDOM_CAP);
    assert_true(max_run >= 1000); /* the tail is reached */
    free(out);
    free(in);
}

/*
 * The cap: a repeat count is floor(X) >= 65536 with probability 1/65536,
 * so 2^24 characters (about 2.3 million repeats) reach it about 36 times.
 * Runs of exactly the cap would be vanishingly rare without it, and runs
 * past it impossible with it. 64 distinct ASCII characters in turn keep
 * the runs apart.
 */
static void test_xform_random_repeat_cap(void **state)
{
    const size_t n = (size_t)1 << 24;
    uint8_t *in = malloc(n), *out = NULL;
    size_t out_len = 0, max_run = 0, at_cap = 0;
    struct rng r;

    (void)state;
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (uint8_t)('0' + i % 64);
    rng_seed(&r, 47);
    assert_int_equal(xform_random(in, n, &r, &out, &out_len), 0);
    for (size_t o = 0; o < out_len;) {
        size_t run = 1;

        while (o + run < out_len && out[o + run] == out[o])
            run++;
        if (run > max_run)
            max_run = run;
        at_cap += run == XFORM_RANDOM_CAP;
        o += run;
    }
    assert_true(max_run <= XFORM_RANDOM_CAP);
    assert_true(at_cap >= 10);
    free(out);
    free(in);
}

static void test_xform_random_single_char_never_empty(void **state)
{
    static const char *const singles[] = {"q", "\xc3\xa9", "\xff",
                                          "\xf0\x9f\x98\x80"};
    struct rng r;

    (void)state;
    rng_seed(&r, 44);
    for (size_t s = 0; s < 4; s++) {
        const uint8_t *c = (const uint8_t *)singles[s];
        size_t n = strlen(singles[s]);
        unsigned repeated = 0;

        for (int iter = 0; iter < 3000; iter++) {
            uint8_t *out = NULL;
            size_t out_len = 0;

            assert_int_equal(xform_random(c, n, &r, &out, &out_len), 0);
            assert_non_null(out);
            assert_true(out_len >= n && out_len % n == 0);
            for (size_t o = 0; o < out_len; o += n)
                assert_memory_equal(out + o, c, n);
            repeated += out_len > n;
            free(out);
        }
        /* 5/6 * 1/6 * 1/2 = 6.9% of outputs repeat: about 208 of 3000. */
        assert_true(repeated > 120 && repeated < 300);
    }
}

static void test_xform_random_all_dropped_gives_first(void **state)
{
    /*
     * For "xy": "x" alone is x kept once with y dropped (55/432) or both
     * dropped (1/36 = 12/432); "y" alone only the former's mirror (55/432).
     * Returning nothing or the last character would shift these by 12/432,
     * 14 sigma over 36000 trials.
     */
    enum { N = 36000 };
    unsigned only_x = 0, only_y = 0;
    struct rng r;

    (void)state;
    rng_seed(&r, 45);
    for (int iter = 0; iter < N; iter++) {
        uint8_t *out = NULL;
        size_t out_len = 0;

        assert_int_equal(
            xform_random((const uint8_t *)"xy", 2, &r, &out, &out_len), 0);
        assert_true(out_len >= 1);
        only_x += out_len == 1 && out[0] == 'x';
        only_y += out_len == 1 && out[0] == 'y';
        free(out);
    }
    /* sigma: sqrt(N p (1 - p)) = 68.7 and 63.2. */
    assert_true(only_x > N * 67.0 / 432 - 5 * 69 &&
                only_x < N * 67.0 / 432 + 5 * 69);
    assert_true(only_y > N * 55.0 / 432 - 5 * 64 &&
                only_y < N * 55.0 / 432 + 5 * 64);
}

static void test_xform_random_deterministic(void **state)
{
    static uint8_t in[4096];
    uint8_t *a = NULL, *b = NULL, *c = NULL;
    size_t alen = 0, blen = 0, clen = 0, len;
    struct rng r1, r2, r3;

    (void)state;
    rng_seed(&r1, 46);
    len = gen_text(&r1, in, sizeof(in), 1000, 2);
    len = len < 200 ? 200 : len;
    rng_seed(&r1, 7);
    rng_seed(&r2, 7);
    rng_seed(&r3, 8);
    assert_int_equal(xform_random(in, len, &r1, &a, &alen), 0);
    assert_int_equal(xform_random(in, len, &r2, &b, &blen), 0);
    assert_int_equal(xform_random(in, len, &r3, &c, &clen), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_true(alen != clen || memcmp(a, c, alen) != 0);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xform_random_empty),
        cmocka_unit_test(test_xform_random_order_and_whole_chars),
        cmocka_unit_test(test_xform_random_statistics),
        cmocka_unit_test(test_xform_random_repeat_cap),
        cmocka_unit_test(test_xform_random_single_char_never_empty),
        cmocka_unit_test(test_xform_random_all_dropped_gives_first),
        cmocka_unit_test(test_xform_random_deterministic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
