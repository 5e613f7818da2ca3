/*
 * Reference helpers of the text transform tests (see xform_ref.h): an
 * independent UTF-8 decoder, character splitting and comparison, and random
 * test text.
 */
#include "xform_ref.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/*
 * Decodes the code point and checks it, rather than following the RFC 3629
 * byte table that xform.c uses, so that the two can disagree if one is
 * wrong.
 */
size_t ref_char_len(const uint8_t *p, size_t avail)
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

/* Splits buf into characters; returns their number (at most cap). */
size_t split_chars(const uint8_t *buf, size_t len, struct chr *out, size_t cap)
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

int chr_cmp(const void *a, const void *b)
{
    const struct chr *x = a, *y = b;
    int c = memcmp(x->b, y->b, 4);

    if (c != 0)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

int chr_eq(const struct chr *a, const struct chr *b)
{
    return chr_cmp(a, b) == 0;
}

int valid_utf8(const uint8_t *buf, size_t len)
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
size_t gen_text(struct rng *r, uint8_t *out, size_t cap, size_t max_chars,
                int invalid_kind)
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
