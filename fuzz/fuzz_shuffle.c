/*
 * Fuzz target for the shuffle action (xform_shuffle). The first 8 bytes of
 * the input (fewer if it is shorter) seed the generator; the rest is the
 * message. Checks: the result holds the same bytes and length, and the
 * bytes around the message are untouched; every multi-byte character of the
 * message appears whole in the result (characters move, never split); for
 * valid UTF-8 the result is valid UTF-8 with the same multiset of
 * characters; the same seed gives the same result. For other text the
 * result's own character split may differ from the message's, because
 * invalid bytes can join into a valid sequence when they become neighbours
 * (`80 c3` can become `c3 80`), so only the weaker checks apply there.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rng.h"
#include "xform.h"

#define GUARD 0x3c
#define PAD   ((size_t)8)

static bool same_chars(struct fuzz_char *a, size_t na, struct fuzz_char *b,
                       size_t nb)
{
    if (na != nb)
        return false;
    fuzz_sort_chars(a, na);
    fuzz_sort_chars(b, nb);
    for (size_t k = 0; k < na; k++) {
        if (a[k].packed != b[k].packed || a[k].len != b[k].len)
            return false;
    }
    return true;
}

/*
 * Checks that every multi-byte character of in occurs in out, counting
 * multiplicity. Valid sequences never overlap (each starts with a lead
 * byte, and the rest are continuation bytes, which cannot start one), so
 * the valid sequences starting at each position of out are exactly the
 * candidates, and multiset inclusion of the two sorted lists decides it.
 */
static void check_whole_chars(const uint8_t *in, const uint8_t *out, size_t len)
{
    size_t nin, na = 0, nb = 0, j = 0;
    struct fuzz_char *a = fuzz_split_chars(in, len, &nin);
    struct fuzz_char *b = fuzz_xmalloc(len * sizeof(*b));

    for (size_t k = 0; k < nin; k++) {
        if (a[k].len > 1)
            a[na++] = a[k];
    }
    for (size_t i = 0; i < len; i++) {
        size_t n = fuzz_utf8_seq_len(out + i, len - i);

        if (n > 1)
            b[nb++] =
                (struct fuzz_char){fuzz_pack_char(out + i, n), (uint32_t)n};
    }
    fuzz_sort_chars(a, na);
    fuzz_sort_chars(b, nb);
    for (size_t k = 0; k < na; k++) {
        while (j < nb && (b[j].packed < a[k].packed ||
                          (b[j].packed == a[k].packed && b[j].len < a[k].len)))
            j++;
        FUZZ_CHECK(j < nb && b[j].packed == a[k].packed && b[j].len == a[k].len,
                   "character %08x (%u bytes) of the message is missing or "
                   "split in the result",
                   a[k].packed, a[k].len);
        j++;
    }
    free(b);
    free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t skip = size < 8 ? size : 8, len = size - skip;
    const uint8_t *in = data + skip;
    uint64_t seed = fuzz_seed(data, size);
    uint8_t *buf = fuzz_xmalloc(len + 2 * PAD), *out = buf + PAD, *again;
    struct rng r;
    int rc;

    memset(buf, GUARD, len + 2 * PAD);
    memcpy(out, in, len);
    rng_seed(&r, seed);
    rc = xform_shuffle(out, len, &r);
    FUZZ_CHECK(rc == 0, "xform_shuffle returned %d", rc);
    for (size_t i = 0; i < PAD; i++) {
        FUZZ_CHECK(buf[i] == GUARD && out[len + i] == GUARD,
                   "a byte %zu outside the message changed", i);
    }
    if (!fuzz_same_bytes(in, len, out, len)) {
        fuzz_dump("message", in, len);
        fuzz_dump("shuffled", out, len);
        FUZZ_CHECK(false, "shuffle is not a permutation of the bytes");
    }
    check_whole_chars(in, out, len);

    if (fuzz_utf8_valid(in, len)) {
        size_t na, nb;
        struct fuzz_char *a = fuzz_split_chars(in, len, &na);
        struct fuzz_char *b = fuzz_split_chars(out, len, &nb);

        FUZZ_CHECK(fuzz_utf8_valid(out, len),
                   "valid UTF-8 shuffled is not valid");
        FUZZ_CHECK(same_chars(a, na, b, nb),
                   "shuffle is not a permutation of the characters");
        free(b);
        free(a);
    }

    again = fuzz_dup(in, len);
    rng_seed(&r, seed);
    FUZZ_CHECK(xform_shuffle(again, len, &r) == 0, "second shuffle failed");
    FUZZ_CHECK(memcmp(again, out, len) == 0,
               "the same seed gave a different shuffle");

    free(again);
    free(buf);
    return 0;
}
