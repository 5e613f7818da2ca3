/*
 * Fuzz target for the reverse action (xform_reverse). The whole input is the
 * message. Checks: the result equals a reference that splits the message
 * into characters (xform_char_len, itself checked against an independent
 * decoder) and writes them in reverse order; the result holds the same
 * bytes and length; the bytes around the message are untouched. Reversing
 * twice gives the message back whenever the result splits into the same
 * characters, in reverse order (always so for valid UTF-8, which must stay
 * valid). It need not otherwise: `80 c3` reversed is `c3 80`, one valid
 * character, and reverses to itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "xform.h"

#define GUARD 0xa5
#define PAD   ((size_t)8)

/* Writes the characters c[0..n) to out in reverse order. */
static void write_reversed(const struct fuzz_char *c, size_t n, uint8_t *out)
{
    size_t pos = 0;

    for (size_t k = n; k-- > 0;) {
        for (uint32_t b = 0; b < c[k].len; b++)
            out[pos++] = (uint8_t)(c[k].packed >> (24 - 8 * b));
    }
}

/* True when b[0..n) is a[0..n) in reverse order. */
static bool reversed_chars(const struct fuzz_char *a, size_t na,
                           const struct fuzz_char *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t k = 0; k < na; k++) {
        const struct fuzz_char *x = &a[k], *y = &b[na - 1 - k];

        if (x->packed != y->packed || x->len != y->len)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t nin, nout;
    struct fuzz_char *cin = fuzz_split_chars(data, size, &nin), *cout;
    uint8_t *want = fuzz_xmalloc(size);
    uint8_t *buf = fuzz_xmalloc(size + 2 * PAD), *out = buf + PAD;

    write_reversed(cin, nin, want);
    memset(buf, GUARD, size + 2 * PAD);
    memcpy(out, data, size);
    xform_reverse(out, size);
    for (size_t i = 0; i < PAD; i++) {
        FUZZ_CHECK(buf[i] == GUARD && out[size + i] == GUARD,
                   "a byte %zu outside the message changed", i);
    }
    if (memcmp(out, want, size) != 0) {
        fuzz_dump("input", data, size);
        fuzz_dump("reverse", out, size);
        fuzz_dump("expected", want, size);
        FUZZ_CHECK(false, "reverse differs from the reference");
    }
    FUZZ_CHECK(fuzz_same_bytes(data, size, out, size),
               "reverse changed the bytes");

    cout = fuzz_split_chars(out, size, &nout);
    if (fuzz_utf8_valid(data, size)) {
        FUZZ_CHECK(fuzz_utf8_valid(out, size),
                   "valid UTF-8 reversed is not valid");
        FUZZ_CHECK(reversed_chars(cin, nin, cout, nout),
                   "valid UTF-8 reversed does not split into the same "
                   "characters");
    }
    if (reversed_chars(cin, nin, cout, nout)) {
        xform_reverse(out, size);
        FUZZ_CHECK(memcmp(out, data, size) == 0,
                   "reverse twice is not the identity");
    }

    free(cout);
    free(buf);
    free(want);
    free(cin);
    return 0;
}
