/*
 * Unit tests of the text transforms. Characters are split here by an
 * independent UTF-8 decoder (ref_char_len) so that xform_char_len is checked
 * against it rather than against itself. Statistical tests of shuffle and
 * random use fixed seeds: they are deterministic, and their thresholds
 * (chi-square at p = 0.001, or 5 sigma) are far from what a correct
 * implementation gives yet close enough that a biased one fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xform.h"

/* ---- reference helpers ------------------------------------------------ */

/*
 * Decodes the code point and checks it, rather than following the RFC 3629
 * byte table that xform.c uses, so that the two can disagree if one is
 * wrong.
 */
static size_t ref_char_len(const uint8_t *p, size_t avail)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint8_t b0 = p[0];
    size_t n;
    uint32_t cp;

    if (b0 < 0x80)
        return 1;
    if ((b0 & 0xe0) == 0xc0) {
        n = 2;
        cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
        n = 3;
        cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
        n = 4;
        cp = b0 & 0x07;
    } else {
        return 1;
    }
    if (avail < n)
        return 1;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 1;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 1;
    return n;
}

struct chr {
    uint8_t b[4];
    size_t n;
};

/* Splits buf into characters; returns their number (at most cap). */
static size_t split_chars(const uint8_t *buf, size_t len, struct chr *out,
                          size_t cap)
{
    size_t i = 0, k = 0;

    while (i < len) {
        size_t n = ref_char_len(buf + i, len - i);

        assert_true(k < cap);
        memset(out[k].b, 0, sizeof(out[k].b));
        memcpy(out[k].b, buf + i, n);
        out[k].n = n;
        k++;
        i += n;
    }
    return k;
}

static int chr_cmp(const void *a, const void *b)
{
    const struct chr *x = a, *y = b;
    int c = memcmp(x->b, y->b, 4);

    if (c != 0)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

static int chr_eq(const struct chr *a, const struct chr *b)
{
    return chr_cmp(a, b) == 0;
}

static int valid_utf8(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = ref_char_len(buf + i, len - i);

        if (n == 1 && buf[i] >= 0x80)
            return 0;
        i += n;
    }
    return 1;
}

/* Characters used to build test strings. */
static const char *const valid_pool[] = {
    "a",
    "Z",
    "0",
    " ",
    "\x00",
    "\x7f",
    "\xc2\x80",
    "\xc3\xa9", /* é */
    "\xdf\xbf",
    "\xe0\xa0\x80",
    "\xe2\x82\xac", /* € */
    "\xed\x9f\xbf",
    "\xee\x80\x80",
    "\xef\xbf\xbf",
    "\xf0\x90\x80\x80",
    "\xf0\x9f\x98\x80", /* 😀 */
    "\xf4\x8f\xbf\xbf",
};
#define VALID_POOL_LEN (sizeof(valid_pool) / sizeof(valid_pool[0]))

/* Lengths of the pool entries ("\x00" has strlen 0). */
static size_t pool_len(const char *s)
{
    return s[0] == '\0' ? 1 : strlen(s);
}

/* Bytes that never begin or continue a valid character. */
static const uint8_t never_valid[] = {0xc0, 0xc1, 0xf5, 0xf8, 0xfe, 0xff};

/* Bytes that are invalid on their own but may merge with neighbours. */
static const uint8_t fragments[] = {0x80, 0x9f, 0xa0, 0xbf, 0xc3,
                                    0xe0, 0xe2, 0xed, 0xf0, 0xf4};

/*
 * Random valid UTF-8 text of up to max_chars characters; with
 * invalid_kind 1, bytes that never merge are mixed in; with 2, arbitrary
 * fragments too.
 */
static size_t gen_text(struct rng *r, uint8_t *out, size_t cap,
                       size_t max_chars, int invalid_kind)
{
    size_t nchars = (size_t)rng_below(r, max_chars + 1), len = 0;

    for (size_t i = 0; i < nchars; i++) {
        uint64_t pick = rng_below(r, 10);

        if (invalid_kind >= 1 && pick == 0) {
            assert_true(len + 1 <= cap);
            out[len++] = never_valid[rng_below(r, sizeof(never_valid))];
        } else if (invalid_kind >= 2 && pick == 1) {
            assert_true(len + 1 <= cap);
            out[len++] = fragments[rng_below(r, sizeof(fragments))];
        } else {
            const char *c = valid_pool[rng_below(r, VALID_POOL_LEN)];
            size_t n = pool_len(c);

            assert_true(len + n <= cap);
            memcpy(out + len, c, n);
            len += n;
        }
    }
    return len;
}

/* ---- upper / lower ---------------------------------------------------- */

static uint8_t naive_upper(uint8_t b)
{
    return b >= 'a' && b <= 'z' ? (uint8_t)(b - 'a' + 'A') : b;
}

static uint8_t naive_lower(uint8_t b)
{
    return b >= 'A' && b <= 'Z' ? (uint8_t)(b - 'A' + 'a') : b;
}

static void test_xform_upper_ascii(void **state)
{
    uint8_t s[] = "The LAN Before Time, 1988! [abc_xyz@ABC`{}]";

    (void)state;
    xform_upper(s, sizeof(s) - 1);
    assert_string_equal((char *)s,
                        "THE LAN BEFORE TIME, 1988! [ABC_XYZ@ABC`{}]");
}

static void test_xform_lower_ascii(void **state)
{
    uint8_t s[] = "The LAN Before Time, 1988! [abc_xyz@ABC`{}]";

    (void)state;
    xform_lower(s, sizeof(s) - 1);
    assert_string_equal((char *)s,
                        "the lan before time, 1988! [abc_xyz@abc`{}]");
}

static void test_xform_upper_all_byte_values(void **state)
{
    uint8_t up[512], low[512];

    (void)state;
    /* Twice over, so both the block loop and the tail see every value. */
    for (size_t i = 0; i < sizeof(up); i++)
        up[i] = low[i] = (uint8_t)i;
    xform_upper(up, sizeof(up));
    xform_lower(low, sizeof(low));
    for (size_t i = 0; i < sizeof(up); i++) {
        uint8_t b = (uint8_t)i;
        int is_lower = b >= 'a' && b <= 'z';
        int is_upper = b >= 'A' && b <= 'Z';

        assert_int_equal(up[i], is_lower ? b - 32 : b);
        assert_int_equal(low[i], is_upper ? b + 32 : b);
    }
}

static void test_xform_upper_utf8_untouched(void **state)
{
    /* "straße é Ω 😀 ÿ" with ASCII around it. */
    uint8_t s[] = "stra\xc3\x9f"
                  "e \xc3\xa9 \xce\xa9 \xf0\x9f\x98\x80 \xc3\xbf";
    uint8_t t[sizeof(s)];

    (void)state;
    memcpy(t, s, sizeof(s));
    xform_upper(s, sizeof(s) - 1);
    assert_string_equal((char *)s, "STRA\xc3\x9f"
                                   "E \xc3\xa9 \xce\xa9 \xf0\x9f\x98\x80 "
                                   "\xc3\xbf");
    xform_lower(s, sizeof(s) - 1);
    assert_memory_equal(s, t, sizeof(s));
}

static void test_xform_upper_lengths_vs_reference(void **state)
{
    uint8_t buf[400], want_up[400], want_low[400], work[400];
    struct rng r;

    (void)state;
    rng_seed(&r, 11);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rng_next(&r);
    /* Every length up to 300 at several misalignments, with guards. */
    for (size_t off = 0; off < 17; off++) {
        for (size_t len = 0; len <= 300; len++) {
            for (size_t i = 0; i < sizeof(buf); i++) {
                int inside = i >= off && i < off + len;

                want_up[i] = inside ? naive_upper(buf[i]) : buf[i];
                want_low[i] = inside ? naive_lower(buf[i]) : buf[i];
            }
            memcpy(work, buf, sizeof(buf));
            xform_upper(work + off, len);
            assert_memory_equal(work, want_up, sizeof(buf));
            memcpy(work, buf, sizeof(buf));
            xform_lower(work + off, len);
            assert_memory_equal(work, want_low, sizeof(buf));
        }
    }
}

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
        cmocka_unit_test(test_xform_upper_ascii),
        cmocka_unit_test(test_xform_lower_ascii),
        cmocka_unit_test(test_xform_upper_all_byte_values),
        cmocka_unit_test(test_xform_upper_utf8_untouched),
        cmocka_unit_test(test_xform_upper_lengths_vs_reference),
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
