/*
 * Unit tests of the transforms that reorder characters: character
 * boundaries (xform_char_len against the independent decoder of
 * xform_ref.c), reverse and shuffle. The statistical tests of shuffle use
 * fixed seeds: they are deterministic, and their chi-square threshold (p =
 * 0.001) is far from what a correct implementation gives yet close enough
 * that a biased one fails.
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

/* ---- char_len ---------------------------------------------------------- */

static void test_xform_char_len_table(void **state)
{
    static const struct {
        const char *bytes;
        size_t avail;
        size_t want;
    } cases[] = {
        {"a", 1, 1},
        {"\x7f", 1, 1},
        {"\xc2\x80", 2, 2},         /* U+0080 */
        {"\xc3\xa9", 2, 2},         /* é */
        {"\xdf\xbf", 2, 2},         /* U+07FF */
        {"\xe0\xa0\x80", 3, 3},     /* U+0800 */
        {"\xe2\x82\xac", 3, 3},     /* € */
        {"\xed\x9f\xbf", 3, 3},     /* U+D7FF */
        {"\xee\x80\x80", 3, 3},     /* U+E000 */
        {"\xef\xbf\xbf", 3, 3},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, 4}, /* U+10000 */
        {"\xf0\x9f\x98\x80", 4, 4}, /* 😀 */
        {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
        {"\xc3\xa9zz", 4, 2},       /* followed by more text */
        {"\xc0\x80", 2, 1},         /* overlong NUL */
        {"\xc1\xbf", 2, 1},         /* overlong */
        {"\xe0\x80\x80", 3, 1},     /* overlong */
        {"\xe0\x9f\xbf", 3, 1},     /* overlong */
        {"\xf0\x80\x80\x80", 4, 1}, /* overlong */
        {"\xf0\x8f\xbf\xbf", 4, 1}, /* overlong */
        {"\xed\xa0\x80", 3, 1},     /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, 1},     /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 4, 1}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 1},
        {"\xf8\x88\x80\x80", 4, 1},
        {"\xff", 1, 1},
        {"\xfe", 1, 1},
        {"\x80", 1, 1}, /* lone continuation */
        {"\xbf\xbf", 2, 1},
        {"\xc3", 1, 1}, /* truncated at end */
        {"\xe2\x82", 2, 1},
        {"\xf0\x9f\x98", 3, 1},
        {"\xc3\xa9", 1, 1}, /* avail cuts it short */
        {"\xe2\x82\xac", 2, 1},
        {"\xf0\x9f\x98\x80", 3, 1},
        {"\xc3(", 2, 1}, /* bad continuation */
        {"\xe2(\xac", 3, 1},
        {"\xe2\x82(", 3, 1},
        {"\xf0\x9f(\x80", 4, 1},
        {"\xf0\x9f\x98(", 4, 1},
        {"\xe2\xc2\x80", 3, 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got =
            xform_char_len((const uint8_t *)cases[i].bytes, cases[i].avail);

        if (got != cases[i].want)
            fail_msg("case %zu: got %zu, want %zu", i, got, cases[i].want);
    }
}

static void test_xform_char_len_matches_decoder(void **state)
{
    static const uint8_t tails[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
                                    0x9f, 0xa0, 0xbf, 0xc0, 0xc3, 0xff};
    const size_t nt = sizeof(tails);

    (void)state;
    /* Every lead and second byte, a spread of third and fourth bytes. */
    for (unsigned b0 = 0; b0 < 256; b0++) {
        for (unsigned b1 = 0; b1 < 256; b1++) {
            for (size_t i2 = 0; i2 < nt; i2++) {
                for (size_t i3 = 0; i3 < nt; i3++) {
                    uint8_t p[4] = {(uint8_t)b0, (uint8_t)b1, tails[i2],
                                    tails[i3]};

                    for (size_t avail = 1; avail <= 4; avail++) {
                        size_t want = ref_char_len(p, avail);

                        if (xform_char_len(p, avail) != want)
                            fail_msg("%02x %02x %02x %02x avail %zu", p[0],
                                     p[1], p[2], p[3], avail);
                    }
                }
            }
        }
    }
}

/* ---- reverse ----------------------------------------------------------- */

static void check_reverse(const char *in, size_t len, const char *want)
{
    uint8_t buf[64];

    assert_true(len <= sizeof(buf));
    memcpy(buf, in, len);
    xform_reverse(buf, len);
    assert_memory_equal(buf, want, len);
}

static void test_xform_reverse_ascii(void **state)
{
    (void)state;
    check_reverse("The LAN Before Time", 19, "emiT erofeB NAL ehT");
    check_reverse("", 0, "");
    check_reverse("x", 1, "x");
    check_reverse("ab", 2, "ba");
    check_reverse("abc", 3, "cba");
}

static void test_xform_reverse_utf8(void **state)
{
    (void)state;
    /* "aé€😀" -> "😀€éa" */
    check_reverse("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10,
                  "\xf0\x9f\x98\x80\xe2\x82\xac\xc3\xa9"
                  "a");
    check_reverse("\xc3\xa9", 2, "\xc3\xa9");
    check_reverse("\xf4\x8f\xbf\xbf\x00", 5, "\x00\xf4\x8f\xbf\xbf");
}

static void test_xform_reverse_invalid_bytes(void **state)
{
    (void)state;
    /* Each invalid byte is a character of its own. */
    check_reverse("\xff\xfe\x80", 3, "\x80\xfe\xff");
    /* A surrogate is three characters, not one. */
    check_reverse("\xed\xa0\x80", 3, "\x80\xa0\xed");
    /* A lead byte truncated at the end stands alone. */
    check_reverse("a\xe2\x82", 3,
                  "\x82\xe2"
                  "a");
    check_reverse("\xc0\x80", 2, "\x80\xc0");
    /* The example of docs/protocol.md. */
    check_reverse("\xff"
                  "a\xc3",
                  3,
                  "\xc3"
                  "a\xff");
}

static void test_xform_reverse_mixed(void **state)
{
    (void)state;
    /* x, €, y, ED, A0, 80, é, FF */
    check_reverse("x\xe2\x82\xacy\xed\xa0\x80\xc3\xa9\xff", 11,
                  "\xff\xc3\xa9\x80\xa0\xed"
                  "y\xe2\x82\xac"
                  "x");
    /*
     * Invalid neighbours can form a valid character once reversed, so
     * reverse is an involution only on valid text.
     */
    check_reverse("\x80\xc3", 2, "\xc3\x80");
}

static void test_xform_reverse_matches_reference(void **state)
{
    static uint8_t buf[2048], want[2048];
    static struct chr chars[2048];
    struct rng r;

    (void)state;
    rng_seed(&r, 21);
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = gen_text(&r, buf, sizeof(buf), 300, 2);
        size_t n = split_chars(buf, len, chars, 2048), pos = 0;

        for (size_t k = n; k-- > 0;) {
            memcpy(want + pos, chars[k].b, chars[k].n);
            pos += chars[k].n;
        }
        assert_int_equal(pos, len);
        xform_reverse(buf, len);
        assert_memory_equal(buf, want, len);
    }
    /* Plain random bytes, long enough for the ASCII check's blocks. */
    for (int iter = 0; iter < 200; iter++) {
        size_t len = (size_t)rng_below(&r, 1500), n, pos = 0;

        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next(&r);
        n = split_chars(buf, len, chars, 2048);
        for (size_t k = n; k-- > 0;) {
            memcpy(want + pos, chars[k].b, chars[k].n);
            pos += chars[k].n;
        }
        xform_reverse(buf, len);
        assert_memory_equal(buf, want, len);
    }
}

static void test_xform_reverse_twice_identity(void **state)
{
    static uint8_t buf[2048], orig[2048];
    struct rng r;

    (void)state;
    rng_seed(&r, 22);
    for (int iter = 0; iter < 3000; iter++) {
        /* Valid text, and text with bytes that can never merge. */
        size_t len = gen_text(&r, buf, sizeof(buf), 300, iter & 1);

        memcpy(orig, buf, len);
        xform_reverse(buf, len);
        xform_reverse(buf, len);
        assert_memory_equal(buf, orig, len);
    }
    /* Long pure ASCII: the fast path. */
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = orig[i] = (uint8_t)(rng_next(&r) & 0x7f);
    xform_reverse(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], orig[sizeof(buf) - 1 - i]);
    xform_reverse(buf, sizeof(buf));
    assert_memory_equal(buf, orig, sizeof(buf));
}

/* ---- shuffle ----------------------------------------------------------- */

/* Asserts that a and b hold the same multiset of characters. */
static void assert_same_chars(const uint8_t *a, const uint8_t *b, size_t len)
{
    static struct chr ca[4096], cb[4096];
    size_t na = split_chars(a, len, ca, 4096);
    size_t nb = split_chars(b, len, cb, 4096);

    assert_int_equal(na, nb);
    qsort(ca, na, sizeof(ca[0]), chr_cmp);
    qsort(cb, nb, sizeof(cb[0]), chr_cmp);
    for (size_t i = 0; i < na; i++)
        assert_true(chr_eq(&ca[i], &cb[i]));
}

static void test_xform_shuffle_permutation_ascii(void **state)
{
    uint8_t buf[1000], orig[1000];
    struct rng r;
    unsigned moved = 0;

    (void)state;
    rng_seed(&r, 31);
    for (size_t len = 0; len < sizeof(buf); len += 37) {
        for (size_t i = 0; i < len; i++)
            buf[i] = orig[i] = (uint8_t)(rng_next(&r) & 0x7f);
        assert_int_equal(xform_shuffle(buf, len, &r), 0);
        assert_same_chars(buf, orig, len);
        moved += memcmp(buf, orig, len) != 0;
    }
    assert_true(moved > 20); /* it does shuffle */
}

static void test_xform_shuffle_permutation_utf8(void **state)
{
    static uint8_t buf[4096], orig[4096];
    struct rng r;
    unsigned moved = 0;

    (void)state;
    rng_seed(&r, 32);
    for (int iter = 0; iter < 500; iter++) {
        size_t len = gen_text(&r, buf, sizeof(buf), 400, 0);

        memcpy(orig, buf, len);
        assert_int_equal(xform_shuffle(buf, len, &r), 0);
        assert_true(valid_utf8(buf, len));
        assert_same_chars(buf, orig, len);
        moved += memcmp(buf, orig, len) != 0;
    }
    assert_true(moved > 400);
}

static void test_xform_shuffle_permutation_invalid(void **state)
{
    static uint8_t buf[4096], orig[4096];
    unsigned bytes_a[256], bytes_b[256];
    struct rng r;

    (void)state;
    rng_seed(&r, 33);
    for (int iter = 0; iter < 500; iter++) {
        /* Bytes that never merge: the characters can be re-split. */
        size_t len = gen_text(&r, buf, sizeof(buf), 400, 1);

        memcpy(orig, buf, len);
        assert_int_equal(xform_shuffle(buf, len, &r), 0);
        assert_same_chars(buf, orig, len);
    }
    for (int iter = 0; iter < 500; iter++) {
        /* Arbitrary fragments: at least the bytes are kept. */
        size_t len = gen_text(&r, buf, sizeof(buf), 400, 2);

        memcpy(orig, buf, len);
        assert_int_equal(xform_shuffle(buf, len, &r), 0);
        memset(bytes_a, 0, sizeof(bytes_a));
        memset(bytes_b, 0, sizeof(bytes_b));
        for (size_t i = 0; i < len; i++) {
            bytes_a[buf[i]]++;
            bytes_b[orig[i]]++;
        }
        assert_memory_equal(bytes_a, bytes_b, sizeof(bytes_a));
    }
    /* A valid character is never split: é among invalid bytes. */
    for (int iter = 0; iter < 200; iter++) {
        uint8_t s[6] = {0xff, 0xc3, 0xa9, 0x80, 0xfe, 0xbf};
        size_t i;

        assert_int_equal(xform_shuffle(s, sizeof(s), &r), 0);
        for (i = 0; i < 5 && !(s[i] == 0xc3 && s[i + 1] == 0xa9); i++)
            ;
        assert_true(i < 5);
    }
}

static void test_xform_shuffle_short(void **state)
{
    uint8_t one[1] = {'q'}, mb[4] = {0xf0, 0x9f, 0x98, 0x80};
    struct rng r;

    (void)state;
    rng_seed(&r, 34);
    assert_int_equal(xform_shuffle(one, 0, &r), 0);
    assert_int_equal(xform_shuffle(one, 1, &r), 0);
    assert_int_equal(one[0], 'q');
    assert_int_equal(xform_shuffle(mb, 4, &r), 0);
    assert_memory_equal(mb, "\xf0\x9f\x98\x80", 4);
}

/*
 * Shuffles four characters 240000 times and applies a chi-square test to
 * the counts of the 24 orders (23 degrees of freedom, p = 0.001: 49.73).
 */
static void check_shuffle_uniform(const char *const chars[4], uint64_t seed)
{
    enum { N = 240000 };
    static unsigned counts[24];
    uint8_t buf[16], text[16];
    size_t len = 0, clen[4];
    double chi2 = 0, expect = N / 24.0;
    struct rng r;

    memset(counts, 0, sizeof(counts));
    for (int k = 0; k < 4; k++) {
        clen[k] = strlen(chars[k]);
        memcpy(text + len, chars[k], clen[k]);
        len += clen[k];
    }
    rng_seed(&r, seed);
    for (int iter = 0; iter < N; iter++) {
        int order[4], idx = 0;
        size_t pos = 0;

        memcpy(buf, text, len);
        assert_int_equal(xform_shuffle(buf, len, &r), 0);
        /* The characters have distinct first bytes: identify them. */
        for (int i = 0; i < 4; i++) {
            int k = 0;

            /* The last candidate is checked by the assertion, so k stays a
             * valid index even on the path where it fails. */
            while (k < 3 && buf[pos] != (uint8_t)chars[k][0])
                k++;
            assert_int_equal(buf[pos], (uint8_t)chars[k][0]);
            order[i] = k;
            pos += clen[k];
        }
        assert_int_equal(pos, len);
        /* Lehmer code: a distinct index 0..23 for each order. */
        for (int i = 0; i < 4; i++) {
            int smaller = 0;

            for (int j = i + 1; j < 4; j++)
                smaller += order[j] < order[i];
            idx = idx * (4 - i) + smaller;
        }
        counts[idx]++;
    }
    for (int k = 0; k < 24; k++) {
        double d = counts[k] - expect;

        assert_true(counts[k] > 0);
        chi2 += d * d / expect;
    }
    if (chi2 >= 49.73)
        fail_msg("chi-square %.2f >= 49.73: shuffle is not uniform", chi2);
}

static void test_xform_shuffle_uniform_ascii(void **state)
{
    static const char *const chars[4] = {"a", "b", "c", "d"};

    (void)state;
    check_shuffle_uniform(chars, 2024);
}

static void test_xform_shuffle_uniform_utf8(void **state)
{
    static const char *const chars[4] = {"a", "\xc3\xa9", "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80"};

    (void)state;
    check_shuffle_uniform(chars, 2025);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xform_char_len_table),
        cmocka_unit_test(test_xform_char_len_matches_decoder),
        cmocka_unit_test(test_xform_reverse_ascii),
        cmocka_unit_test(test_xform_reverse_utf8),
        cmocka_unit_test(test_xform_reverse_invalid_bytes),
        cmocka_unit_test(test_xform_reverse_mixed),
        cmocka_unit_test(test_xform_reverse_matches_reference),
        cmocka_unit_test(test_xform_reverse_twice_identity),
        cmocka_unit_test(test_xform_shuffle_permutation_ascii),
        cmocka_unit_test(test_xform_shuffle_permutation_utf8),
        cmocka_unit_test(test_xform_shuffle_permutation_invalid),
        cmocka_unit_test(test_xform_shuffle_short),
        cmocka_unit_test(test_xform_shuffle_uniform_ascii),
        cmocka_unit_test(test_xform_shuffle_uniform_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
