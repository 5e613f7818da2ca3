/*
 * Helpers shared by the fuzz targets (see fuzz_util.h). The UTF-8 decoder
 * computes the code point and checks it against the ranges of RFC 3629
 * (minimum per length, no surrogates, at most U+10FFFF), a different route
 * from the lead-byte table in common/xform.c, so the two can disagree.
 */
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xform.h"

void fuzz_fail(const char *file, int line, const char *expr, const char *fmt,
               ...)
{
    va_list ap;

    fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", file, line, expr);
    va_start(ap, fmt);
    /* ap is initialised on the line above. clang-tidy 14 reports it as
     * uninitialised only when one run analyses several files: its va_list
     * checker then no longer recognises va_start (LLVM bug 41311). Each
     * file alone, as scripts/lint runs them, is clean. */
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *fuzz_xmalloc(size_t size)
{
    void *p = malloc(size > 0 ? size : 1);

    FUZZ_CHECK(p != NULL, "out of memory (%zu bytes)", size);
    return p;
}

uint8_t *fuzz_dup(const uint8_t *buf, size_t len)
{
    uint8_t *p = fuzz_xmalloc(len);

    if (len > 0)
        memcpy(p, buf, len);
    return p;
}

size_t fuzz_utf8_seq_len(const uint8_t *p, size_t avail)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint8_t b0 = p[0];
    uint32_t cp;
    size_t n;

    if (b0 < 0x80)
        return 1;
    if ((b0 & 0xe0) == 0xc0) {
        n = 2;
        cp = b0 & 0x1fu;
    } else if ((b0 & 0xf0) == 0xe0) {
        n = 3;
        cp = b0 & 0x0fu;
    } else if ((b0 & 0xf8) == 0xf0) {
        n = 4;
        cp = b0 & 0x07u;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3fu);
    }
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

size_t fuzz_char_len(const uint8_t *p, size_t avail)
{
    size_t n = fuzz_utf8_seq_len(p, avail);

    return n > 0 ? n : 1;
}

bool fuzz_utf8_valid(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = fuzz_utf8_seq_len(buf + i, len - i);

        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

bool fuzz_same_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    size_t count[256] = {0};

    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        count[a[i]]++;
    for (size_t i = 0; i < blen; i++) {
        if (count[b[i]] == 0)
            return false;
        count[b[i]]--;
    }
    return true;
}

uint32_t fuzz_pack_char(const uint8_t *p, size_t n)
{
    uint32_t v = 0;

    for (size_t k = 0; k < n; k++)
        v |= (uint32_t)p[k] << (24 - 8 * k);
    return v;
}

struct fuzz_char *fuzz_split_chars(const uint8_t *buf, size_t len, size_t *n)
{
    /* Never more characters than bytes. */
    struct fuzz_char *c = fuzz_xmalloc(len * sizeof(*c));
    size_t k = 0;

    for (size_t i = 0; i < len; k++) {
        size_t cl = xform_char_len(buf + i, len - i);
        size_t want = fuzz_char_len(buf + i, len - i);

        FUZZ_CHECK(cl == want,
                   "xform_char_len says %zu, the decoder %zu, at offset %zu "
                   "(byte %02x)",
                   cl, want, i, buf[i]);
        c[k].packed = fuzz_pack_char(buf + i, cl);
        c[k].len = (uint32_t)cl;
        i += cl;
    }
    *n = k;
    return c;
}

static int char_cmp(const void *a, const void *b)
{
    const struct fuzz_char *x = a, *y = b;

    if (x->packed != y->packed)
        return x->packed < y->packed ? -1 : 1;
    return (x->len > y->len) - (x->len < y->len);
}

void fuzz_sort_chars(struct fuzz_char *c, size_t n)
{
    if (n > 1)
        qsort(c, n, sizeof(*c), char_cmp);
}

void fuzz_dump(const char *label, const uint8_t *buf, size_t len)
{
    size_t shown = len < 64 ? len : 64;

    fprintf(stderr, "%s (%zu bytes):", label, len);
    for (size_t i = 0; i < shown; i++)
        fprintf(stderr, " %02x", buf[i]);
    fprintf(stderr, "%s\n", shown < len ? " ..." : "");
}

uint64_t fuzz_seed(const uint8_t *data, size_t size)
{
    uint64_t seed = 0;

    for (size_t i = 0; i < size && i < 8; i++)
        seed |= (uint64_t)data[i] << (8 * i);
    return seed;
}
