/*
 * The five text transforms. Case mapping is a branch-free byte loop over
 * fixed-size blocks, a shape GCC vectorises even at -O2 (its "very cheap"
 * cost model only vectorises loops whose trip count needs no scalar
 * epilogue). reverse, shuffle and random work on characters: a valid UTF-8
 * sequence (RFC 3629) is one character and any other byte is a character of
 * its own, so valid UTF-8 in gives valid UTF-8 out. All-ASCII input, the
 * common case, takes byte-wise fast paths.
 */
#include "xform.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bytes per block of the vector loops: two 32-byte or four 16-byte vectors. */
#define XFORM_BLOCK 64
/* One 16-byte vector, every x86-64 CPU's (SSE2). */
#define XFORM_SMALL_BLOCK 16

/*
 * Flips the case of the 26 letters from first ('a' or 'A'). One unsigned
 * compare selects them; it becomes a vector mask.
 */
static inline uint8_t flip_case(uint8_t b, uint8_t first)
{
    return (uint8_t)(b ^ ((uint8_t)(b - first) < 26 ? 0x20 : 0));
}

/*
 * flip_case() on a vector of n bytes at once, written with the compiler's
 * vector types. Two reasons: the loop vectoriser spends more on setting up
 * a single 16-byte step than the step costs (16 bytes is the typical small
 * message), and it selects letters with three operations where one signed
 * compare does: b - first + 0x80, as a signed byte, is below 26 - 128
 * exactly for the 26 letters. Add, compare, and, xor: four per vector.
 */
#if defined(__GNUC__)
#define FLIP_CASE_VEC(name, n)                                                 \
    typedef uint8_t name##_u __attribute__((vector_size(n)));                  \
    typedef int8_t name##_s __attribute__((vector_size(n)));                   \
    static inline void name(uint8_t *p, uint8_t first)                         \
    {                                                                          \
        name##_u v, m;                                                         \
        memcpy(&v, p, sizeof(v));                                              \
        m = (name##_u)((name##_s)(v + (uint8_t)(0x80 - first)) <               \
                       (int8_t)(26 - 128));                                    \
        v ^= m & 0x20;                                                         \
        memcpy(p, &v, sizeof(v));                                              \
    }
#else
#define FLIP_CASE_VEC(name, n)                                                 \
    static inline void name(uint8_t *p, uint8_t first)                         \
    {                                                                          \
        for (size_t j = 0; j < (n); j++)                                       \
            p[j] = flip_case(p[j], first);                                     \
    }
#endif
FLIP_CASE_VEC(flip_case_16, XFORM_SMALL_BLOCK)
FLIP_CASE_VEC(flip_case_32, 2 * XFORM_SMALL_BLOCK)

/*
 * Flips the case of every letter from first in buf. Always inlined, so each
 * caller gets its own loop with first a constant, as if written out twice.
 */
static inline __attribute__((always_inline)) void
flip_case_all(uint8_t *buf, size_t len, uint8_t first)
{
    size_t i = 0;

    for (; len - i >= XFORM_BLOCK; i += XFORM_BLOCK) {
        flip_case_32(buf + i, first);
        flip_case_32(buf + i + XFORM_BLOCK / 2, first);
    }
    /* Small messages (and tails) in one-vector steps, not byte by byte. */
    for (; len - i >= XFORM_SMALL_BLOCK; i += XFORM_SMALL_BLOCK)
        flip_case_16(buf + i, first);
    /* The last partial vector overlaps the one before: mapping a byte
     * twice gives what mapping it once does. */
    if (i < len && len >= XFORM_SMALL_BLOCK) {
        flip_case_16(buf + len - XFORM_SMALL_BLOCK, first);
        return;
    }
    for (; i < len; i++)
        buf[i] = flip_case(buf[i], first);
}

/*
 * Built twice, for AVX2 and for the baseline, and chosen once at load time
 * (GCC's ifunc dispatch): 32-byte vectors halve the case mapping's work
 * where the CPU has them, and the binary still runs where it has not.
 * Clang 14 (the fuzz build) does not link such clones: it gets the
 * baseline, which the unit tests on a CPU without AVX2 would run too.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define XFORM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define XFORM_CLONES
#endif

XFORM_CLONES void xform_upper(uint8_t *buf, size_t len)
{
    flip_case_all(buf, len, 'a');
}

XFORM_CLONES void xform_lower(uint8_t *buf, size_t len)
{
    flip_case_all(buf, len, 'A');
}

static bool all_ascii(const uint8_t *buf, size_t len)
{
    size_t i = 0;

    for (; len - i >= XFORM_BLOCK; i += XFORM_BLOCK) {
        uint8_t acc = 0;

        for (size_t j = 0; j < XFORM_BLOCK; j++)
            acc |= buf[i + j];
        if (acc & 0x80)
            return false;
    }
    for (; i < len; i++) {
        if (buf[i] & 0x80)
            return false;
    }
    return true;
}

static inline bool is_cont(uint8_t b)
{
    return (b & 0xc0) == 0x80;
}

/*
 * n when p starts a well-formed n-byte character (n is 3 or 4) whose second
 * byte lies in lo..hi, else 1.
 */
static inline size_t long_char_len(const uint8_t *p, size_t avail, size_t n,
                                   uint8_t lo, uint8_t hi)
{
    if (avail < n || p[1] < lo || p[1] > hi || !is_cont(p[2]))
        return 1;
    return n == 3 || is_cont(p[3]) ? n : 1;
}

/*
 * RFC 3629 table: the lead byte fixes the length and the allowed range of
 * the second byte, which is where overlongs (E0, F0), surrogates (ED) and
 * code points above U+10FFFF (F4) are excluded. C0, C1 and F5..FF never
 * start a character.
 */
static inline size_t char_len(const uint8_t *p, size_t avail)
{
    uint8_t b0 = p[0];

    /* ASCII, a stray continuation byte, C0, C1, F5..FF: one byte each. */
    if (b0 < 0xc2 || b0 > 0xf4)
        return 1;
    if (b0 < 0xe0)
        return avail >= 2 && is_cont(p[1]) ? 2 : 1;
    if (b0 < 0xf0)
        return long_char_len(p, avail, 3, b0 == 0xe0 ? 0xa0 : 0x80,
                             b0 == 0xed ? 0x9f : 0xbf);
    return long_char_len(p, avail, 4, b0 == 0xf0 ? 0x90 : 0x80,
                         b0 == 0xf4 ? 0x8f : 0xbf);
}

size_t xform_char_len(const uint8_t *p, size_t avail)
{
    return char_len(p, avail);
}

static void reverse_bytes(uint8_t *buf, size_t len)
{
    if (len < 2)
        return;
    for (size_t i = 0, j = len - 1; i < j; i++, j--) {
        uint8_t t = buf[i];

        buf[i] = buf[j];
        buf[j] = t;
    }
}

void xform_reverse(uint8_t *buf, size_t len)
{
    size_t i = 0;

    /*
     * Reversing the whole buffer reverses the character order but also the
     * bytes inside each multi-byte character; reversing those first undoes
     * that. Boundaries are found before a character is touched, and bytes
     * after it are still original, so the scan sees the input as it was.
     */
    if (!all_ascii(buf, len)) {
        while (i < len) {
            size_t n = char_len(buf + i, len - i);

            if (n > 1)
                reverse_bytes(buf + i, n);
            i += n;
        }
    }
    reverse_bytes(buf, len);
}

/*
 * A character of at most four bytes packed left-aligned into a word: byte k
 * at bits 31-8k. Every byte after the first of a multi-byte character is a
 * continuation byte (non-zero), so the length is recovered from the number
 * of trailing zero bytes; a zero word is the one-byte character NUL.
 */
static uint32_t pack_char(const uint8_t *p, size_t n)
{
    uint32_t v = 0;

    for (size_t k = 0; k < n; k++)
        v |= (uint32_t)p[k] << (24 - 8 * k);
    return v;
}

static size_t unpack_char(uint32_t v, uint8_t *out)
{
    size_t n = v == 0 ? 1 : 4 - (size_t)__builtin_ctz(v) / 8;

    for (size_t k = 0; k < n; k++)
        out[k] = (uint8_t)(v >> (24 - 8 * k));
    return n;
}

static void shuffle_bytes(uint8_t *buf, size_t len, struct rng *r)
{
    for (size_t i = len; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        uint8_t t = buf[i - 1];

        buf[i - 1] = buf[j];
        buf[j] = t;
    }
}

int xform_shuffle(uint8_t *buf, size_t len, struct rng *r)
{
    size_t nchars = 0, i, k;
    uint32_t *chars;

    if (all_ascii(buf, len)) {
        shuffle_bytes(buf, len, r);
        return 0;
    }

    /*
     * The characters themselves (not offsets into buf) are shuffled, four
     * bytes each, so they can be written straight back into buf without a
     * second copy of the text.
     */
    for (i = 0; i < len; i += char_len(buf + i, len - i))
        nchars++;
    if (nchars < 2)
        return 0; /* nothing to permute */
    if (nchars > SIZE_MAX / sizeof(*chars))
        return -ENOMEM;
    chars = malloc(nchars * sizeof(*chars));
    if (chars == NULL)
        return -ENOMEM;
    for (i = 0, k = 0; i < len; k++) {
        size_t n = char_len(buf + i, len - i);

        chars[k] = pack_char(buf + i, n);
        i += n;
    }
    for (k = nchars; k > 1; k--) {
        size_t j = (size_t)rng_below(r, k);
        /* Both passes above walk the same characters, so every one of the
         * nchars words was written; the analyzer cannot relate the loops. */
        // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign)
        uint32_t t = chars[k - 1];

        chars[k - 1] = chars[j];
        chars[j] = t;
    }
    for (i = 0, k = 0; k < nchars; k++)
        i += unpack_char(chars[k], buf + i);
    free(chars);
    return 0;
}

/* Grows *buf to hold at least need bytes (need <= XFORM_RANDOM_MAX_OUT). */
static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    size_t ncap = *cap;
    uint8_t *nbuf;

    while (ncap < need) {
        ncap =
            ncap > XFORM_RANDOM_MAX_OUT / 2 ? XFORM_RANDOM_MAX_OUT : ncap * 2;
    }
    nbuf = realloc(*buf, ncap);
    if (nbuf == NULL)
        return -ENOMEM;
    *buf = nbuf;
    *cap = ncap;
    return 0;
}

/*
 * floor(X) for X ~ Pareto(alpha = 1), like Python's paretovariate(1):
 * X = 1 / (1 - U) with U uniform in [0, 1), capped at XFORM_RANDOM_CAP.
 */
static size_t pareto_count(struct rng *r)
{
    double x = 1.0 / (1.0 - rng_unit(r));

    if (x >= (double)XFORM_RANDOM_CAP)
        return XFORM_RANDOM_CAP;
    return (size_t)x;
}

/* Writes count copies of the n-byte character c at dst. */
static void put_repeated(uint8_t *dst, const uint8_t *c, size_t n, size_t count)
{
    size_t total = n * count, done = n;

    if (count == 0)
        return;
    if (n == 1) {
        memset(dst, c[0], count);
        return;
    }
    memcpy(dst, c, n);
    /* Doubling copies: log2(count) memcpy calls instead of count. */
    while (done < total) {
        size_t chunk = done < total - done ? done : total - done;

        memcpy(dst + done, dst, chunk);
        done += chunk;
    }
}

/*
 * The buffer of xform_random as it grows; the length written so far is a
 * local of the loop, passed by address to helpers that are always inlined.
 */
struct random_buf {
    uint8_t *buf;
    size_t cap;
};

/*
 * Appends the n-byte character c at *total, counted only when keep.
 * Dropped or kept once (31 times in 36), it is copied either way and only
 * the length decides, which spares the processor an unpredictable branch
 * per character. Returns 0, 1 when the output is full (nothing written), or
 * -ENOMEM. Always inlined, like the rest of the loop's body, so *total
 * stays in a register.
 */
static inline __attribute__((always_inline)) int put_once(struct random_buf *o,
                                                          size_t *total,
                                                          const uint8_t *c,
                                                          size_t n, bool keep)
{
    if (n > o->cap - *total) {
        if (n > XFORM_RANDOM_MAX_OUT - *total)
            return 1; /* the output is full (cap <= max) */
        if (grow(&o->buf, &o->cap, *total + n) < 0)
            return -ENOMEM;
    }
    for (size_t k = 0; k < n; k++)
        o->buf[*total + k] = c[k];
    *total += keep ? n : 0;
    return 0;
}

/*
 * Appends a Pareto-distributed number of copies of the n-byte character c
 * at *total, the last run clamped so that the length fits in 32 bits.
 * Returns 0, 1 when that clamp filled the output, or -ENOMEM.
 */
static inline __attribute__((always_inline)) int
put_run(struct random_buf *o, size_t *total, const uint8_t *c, size_t n,
        struct rng *r)
{
    const size_t max = XFORM_RANDOM_MAX_OUT;
    size_t count = pareto_count(r);
    int full = 0;

    if (count * n > max - *total) {
        count = (max - *total) / n;
        full = 1;
    }
    if (count * n > o->cap - *total &&
        grow(&o->buf, &o->cap, *total + count * n) < 0)
        return -ENOMEM;
    put_repeated(o->buf + *total, c, n, count);
    *total += count * n;
    return full;
}

int xform_random(const uint8_t *in, size_t len, struct rng *r, uint8_t **out,
                 size_t *out_len)
{
    const size_t max = XFORM_RANDOM_MAX_OUT;
    struct random_buf o;
    size_t total = 0, i, n;
    int st = 0;

    *out = NULL;
    *out_len = 0;
    if (len == 0)
        return 0;

    /* The expected output is about 2.3 times the input (docs/protocol.md). */
    o.cap = len <= (max - 64) / 5 * 2 ? len * 2 + len / 2 + 64 : max;
    o.buf = malloc(o.cap);
    if (o.buf == NULL)
        return -ENOMEM;

    for (i = 0; i < len; i += n) {
        /*
         * One draw decides both coin flips: 6 of 36 values drop the
         * character (1/6), 5 of 36 repeat it (5/6 kept * 1/6 repeated).
         */
        uint64_t v = rng_below(r, 36);

        n = char_len(in + i, len - i);
        if (v < 6 || v >= 11)
            st = put_once(&o, &total, in + i, n, v >= 11);
        else
            st = put_run(&o, &total, in + i, n, r);
        if (st != 0)
            break;
    }
    if (st < 0) {
        free(o.buf);
        return -ENOMEM;
    }
    if (total == 0) {
        /* Every character was dropped: the result is the first one. */
        n = char_len(in, len);
        memcpy(o.buf, in, n); /* cap >= 64 > n */
        total = n;
    }
    *out = o.buf;
    *out_len = total;
    return 0;
}
