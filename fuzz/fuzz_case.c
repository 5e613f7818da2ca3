/*
 * Fuzz target for the case mappings: built twice, as fuzz_upper
 * (xform_upper) and, with FUZZ_LOWERCASE defined, as fuzz_lower
 * (xform_lower). The whole input is the message. Checks, against a naive
 * byte-by-byte reference: only the 26 letters of one case change, each to
 * the other case, and the length never changes; the result is the same when
 * the message is mapped in two pieces cut anywhere (what lets the worker
 * stream it) and when it starts at an unaligned address, with the bytes
 * around it untouched; mapping twice changes nothing; and
 * upper(lower(x)) == upper(x) (lower(upper(x)) == lower(x) for fuzz_lower).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "xform.h"

#define GUARD 0x5a

/* The mapping under test (MAP), its opposite (OTHER), and the letters it
 * changes (FROM..FROM+25 to TO..TO+25); fuzz_lower swaps them. */
#ifdef FUZZ_LOWERCASE
#define MAP   xform_lower
#define OTHER xform_upper
#define FROM  'A'
#define TO    'a'
#define NAME  "lowercase"
#else
#define MAP   xform_upper
#define OTHER xform_lower
#define FROM  'a'
#define TO    'A'
#define NAME  "uppercase"
#endif

static uint8_t ref_map(uint8_t b)
{
    return b >= FROM && b <= FROM + 25 ? (uint8_t)(b - FROM + TO) : b;
}

/* Maps data in two separately allocated pieces cut at cut; checks them. */
static void check_pieces(const uint8_t *data, size_t size, size_t cut,
                         const uint8_t *want)
{
    uint8_t *a = fuzz_dup(data, cut), *b = fuzz_dup(data + cut, size - cut);

    MAP(a, cut);
    MAP(b, size - cut);
    FUZZ_CHECK(memcmp(a, want, cut) == 0 &&
                   memcmp(b, want + cut, size - cut) == 0,
               "mapping in pieces cut at %zu differs from mapping whole", cut);
    free(a);
    free(b);
}

/* Maps data at offset off of a guarded buffer; the guard must survive. */
static void check_unaligned(const uint8_t *data, size_t size, size_t off,
                            const uint8_t *want)
{
    uint8_t *buf = fuzz_xmalloc(off + size);

    memset(buf, GUARD, off);
    memcpy(buf + off, data, size);
    MAP(buf + off, size);
    for (size_t i = 0; i < off; i++)
        FUZZ_CHECK(buf[i] == GUARD, "byte %zu before the message changed",
                   off - i);
    FUZZ_CHECK(memcmp(buf + off, want, size) == 0,
               "mapping at offset %zu differs", off);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = fuzz_dup(data, size), *twice, *both;

    MAP(out, size);
    for (size_t i = 0; i < size; i++) {
        FUZZ_CHECK(out[i] == ref_map(data[i]),
                   "byte %zu: %02x became %02x, expected %02x", i, data[i],
                   out[i], ref_map(data[i]));
    }

    if (size > 0) {
        check_pieces(data, size, data[0] % (size + 1), out);
        check_unaligned(data, size, 1 + data[size - 1] % 15, out);
    }

    twice = fuzz_dup(out, size);
    MAP(twice, size);
    FUZZ_CHECK(memcmp(twice, out, size) == 0, NAME " is not idempotent");

    both = fuzz_dup(data, size);
    OTHER(both, size);
    MAP(both, size);
    FUZZ_CHECK(memcmp(both, out, size) == 0,
               "map(opposite(x)) differs from map(x)");

    free(both);
    free(twice);
    free(out);
    return 0;
}
