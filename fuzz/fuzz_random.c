/*
 * Fuzz target for the random action (xform_random). The first 8 bytes of
 * the input (fewer if it is shorter) seed the generator; the rest, at most
 * MAX_MESSAGE bytes so that each run stays fast, is the message. Checks:
 * the output is empty (and NULL) exactly when the message is empty; it is
 * c[j1] repeated k1 times, c[j2] k2 times, ... for characters c of the
 * message with j1 < j2 < ... and 1 <= k <= XFORM_RANDOM_CAP (characters
 * are only dropped or repeated, never reordered, split or invented, and no
 * repeat exceeds the cap); valid UTF-8 gives valid UTF-8; the same seed
 * gives the same output.
 *
 * With invalid bytes the output can be read in more than one way (the
 * characters `c3` and `c3 a9` both match at a `c3`), so the check is a walk
 * over output positions that keeps, for each position, the best state any
 * reading reaches: (index of the current character, copies of it so far),
 * smaller being better, because from a smaller state every continuation of
 * a larger one is still open.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rng.h"
#include "xform.h"

#define MAX_MESSAGE 1024
#define UNREACHED   UINT32_MAX

struct walk_state {
    uint32_t next; /* index + 1 of the character being repeated; 0 at start */
    uint32_t run;  /* copies of it so far */
};

static void relax(struct walk_state *st, size_t pos, uint32_t next,
                  uint32_t run)
{
    if (next < st[pos].next || (next == st[pos].next && run < st[pos].run)) {
        st[pos].next = next;
        st[pos].run = run;
    }
}

static bool char_at(const struct fuzz_char *c, const uint8_t *out,
                    size_t out_len, size_t o)
{
    return c->len <= out_len - o &&
           fuzz_pack_char(out + o, c->len) == c->packed;
}

/* Bit L set when an input character of L bytes could match at out + o. */
static unsigned possible_lens(const uint8_t *out, size_t out_len, size_t o)
{
    size_t n = fuzz_utf8_seq_len(out + o, out_len - o);

    return 1u << 1 | (n > 1 ? 1u << n : 0);
}

/*
 * The indices of the characters grouped by first byte, ascending within a
 * group: the characters starting with byte b are by_byte[first[b] ..
 * first[b + 1]). Lets the walk look only at characters that can match.
 */
struct char_index {
    size_t first[257];
    uint32_t *by_byte;
};

static void index_chars(const struct fuzz_char *c, size_t n,
                        struct char_index *ix)
{
    size_t fill[256];

    memset(ix->first, 0, sizeof(ix->first));
    for (size_t j = 0; j < n; j++)
        ix->first[(c[j].packed >> 24) + 1]++;
    for (size_t b = 0; b < 256; b++)
        ix->first[b + 1] += ix->first[b];
    memcpy(fill, ix->first, sizeof(fill));
    ix->by_byte = fuzz_xmalloc(n * sizeof(*ix->by_byte));
    for (size_t j = 0; j < n; j++)
        ix->by_byte[fill[c[j].packed >> 24]++] = (uint32_t)j;
}

/* Position in by_byte of the first character >= from starting with b. */
static size_t index_find(const struct char_index *ix, uint8_t b, size_t from)
{
    size_t lo = ix->first[b], hi = ix->first[b + 1];

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ix->by_byte[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* True when out is an ordered, capped repetition of characters of c. */
static bool is_ordered_repeats(const struct fuzz_char *c, size_t n,
                               const uint8_t *out, size_t out_len)
{
    struct walk_state *st = fuzz_xmalloc((out_len + 1) * sizeof(*st));
    struct char_index ix;
    bool ok;

    index_chars(c, n, &ix);
    for (size_t o = 0; o <= out_len; o++)
        st[o] = (struct walk_state){UNREACHED, UNREACHED};
    st[0] = (struct walk_state){0, 0};
    for (size_t o = 0; o < out_len; o++) {
        struct walk_state cur = st[o];
        unsigned want, found = 0;
        size_t end = ix.first[out[o] + 1];

        if (cur.next == UNREACHED)
            continue;
        /* One more copy of the current character, if the cap allows. */
        if (cur.next > 0 && cur.run < XFORM_RANDOM_CAP &&
            char_at(&c[cur.next - 1], out, out_len, o))
            relax(st, o + c[cur.next - 1].len, cur.next, cur.run + 1);
        /* Or the first copy of a later one: the nearest of each length. */
        want = possible_lens(out, out_len, o);
        for (size_t k = index_find(&ix, out[o], cur.next);
             k < end && found != want; k++) {
            const struct fuzz_char *cj = &c[ix.by_byte[k]];
            unsigned bit = 1u << cj->len;

            if ((found & bit) == 0 && char_at(cj, out, out_len, o)) {
                relax(st, o + cj->len, ix.by_byte[k] + 1, 1);
                found |= bit;
            }
        }
    }
    ok = st[out_len].next != UNREACHED;
    free(ix.by_byte);
    free(st);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t skip = size < 8 ? size : 8, len = size - skip;
    const uint8_t *in;
    uint64_t seed = fuzz_seed(data, size);
    uint8_t *msg, *out = NULL, *again = NULL;
    size_t out_len = 0, again_len = 0, n;
    struct fuzz_char *c;
    struct rng r;
    int rc;

    if (len > MAX_MESSAGE)
        len = MAX_MESSAGE;
    /* An exact-size copy, so ASan catches a read past the message. */
    msg = fuzz_dup(data + skip, len);
    in = msg;
    rng_seed(&r, seed);
    rc = xform_random(in, len, &r, &out, &out_len);
    FUZZ_CHECK(rc == 0, "xform_random returned %d", rc);
    FUZZ_CHECK((out == NULL) == (len == 0) && (out_len == 0) == (len == 0),
               "message of %zu bytes gave %zu bytes (buffer %s)", len, out_len,
               out == NULL ? "NULL" : "set");

    c = fuzz_split_chars(in, len, &n);
    if (!is_ordered_repeats(c, n, out, out_len)) {
        fuzz_dump("message", in, len);
        fuzz_dump("output", out, out_len);
        FUZZ_CHECK(false,
                   "the output is not the message's characters in order, "
                   "each repeated at most %u times",
                   XFORM_RANDOM_CAP);
    }
    if (fuzz_utf8_valid(in, len)) {
        FUZZ_CHECK(fuzz_utf8_valid(out, out_len),
                   "valid UTF-8 gave invalid output");
    }

    rng_seed(&r, seed);
    FUZZ_CHECK(xform_random(in, len, &r, &again, &again_len) == 0,
               "second run failed");
    FUZZ_CHECK(again_len == out_len &&
                   (out_len == 0 || memcmp(again, out, out_len) == 0),
               "the same seed gave a different output");

    free(again);
    free(c);
    free(out);
    free(msg);
    return 0;
}
