/*
 * The streaming checks. Shuffle keeps a per-connection copy of the input's
 * byte counts and decrements it as bytes arrive; a right answer leaves it
 * all zero, and refilling it costs one pass over a short message or one
 * 1 KiB copy, instead of a copy per answer. Random walks the input with a
 * cursor that may stay put (a repeat) or move forward (memchr) to the next
 * occurrence of each output byte.
 */
#include "bench_verify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xform.h"

int bench_verify_spec_init(struct bench_verify_spec *s, unsigned action,
                           bool raw, const uint8_t hdr[PROTO_HEADER_LEN],
                           const uint8_t *in, size_t in_period, uint64_t in_len)
{
    memset(s, 0, sizeof(*s));
    if (in_period == 0 && in_len > 0)
        return -EINVAL;
    s->in = in;
    s->in_period = in_period;
    s->in_len = in_len;
    s->kind = BENCH_VERIFY_EXACT;
    if (raw) {
        memcpy(s->pre, hdr, PROTO_HEADER_LEN);
        s->pre_len = PROTO_HEADER_LEN;
        s->exp_len = PROTO_HEADER_LEN + in_len;
    } else if (!proto_action_known(action)) {
        s->exp_len = PROTO_ERROR_LEN;
        in = (const uint8_t *)PROTO_ERROR_TEXT;
        in_period = PROTO_ERROR_LEN;
    } else if (action == PROTO_SHUFFLE || action == PROTO_RANDOM) {
        s->kind =
            action == PROTO_SHUFFLE ? BENCH_VERIFY_PERM : BENCH_VERIFY_DRAWN;
        for (uint64_t i = 0; i < in_len; i++)
            s->in_counts[in[i % in_period]]++;
        return 0;
    } else {
        s->exp_len = in_len;
    }
    s->exp_period = in_period;
    s->exp = malloc(in_period > 0 ? in_period : 1);
    if (s->exp == NULL)
        return -ENOMEM;
    if (in_period > 0)
        memcpy(s->exp, in, in_period);
    if (!raw && action == PROTO_UPPERCASE)
        xform_upper(s->exp, in_period);
    else if (!raw && action == PROTO_LOWERCASE)
        xform_lower(s->exp, in_period);
    else if (!raw && action == PROTO_REVERSE && in_len > 0) {
        /*
         * Byte j of the answer is input byte in_len-1-j; with the input
         * periodic that is the reversed pattern read from a phase (the
         * message is ASCII, so characters are bytes).
         */
        for (size_t i = 0; i < in_period / 2; i++) {
            uint8_t t = s->exp[i];

            s->exp[i] = s->exp[in_period - 1 - i];
            s->exp[in_period - 1 - i] = t;
        }
        s->exp_phase =
            in_period - 1 - (size_t)((in_len - 1) % (uint64_t)in_period);
    }
    return 0;
}

void bench_verify_spec_free(struct bench_verify_spec *s)
{
    free(s->exp);
    s->exp = NULL;
}

void bench_verify_state_init(const struct bench_verify_spec *s,
                             struct bench_verify_state *st)
{
    memset(st, 0, sizeof(*st));
    memcpy(st->counts, s->in_counts, sizeof(st->counts));
}

static int fail(struct bench_verify_state *st, const char *why)
{
    if (!st->failed) {
        st->failed = true;
        st->why = why;
        st->fail_off = st->off;
    }
    return -1;
}

int bench_verify_begin(const struct bench_verify_spec *s,
                       struct bench_verify_state *st, uint64_t len)
{
    st->len = len;
    st->off = 0;
    st->failed = false;
    st->why = NULL;
    st->fail_off = 0;
    st->matched = false;
    st->pos = 0;
    switch (s->kind) {
    case BENCH_VERIFY_EXACT:
    case BENCH_VERIFY_PERM:
        if (len != (s->kind == BENCH_VERIFY_EXACT ? s->exp_len : s->in_len))
            return fail(st, "wrong answer length");
        return 0;
    case BENCH_VERIFY_DRAWN:
        if ((len == 0) != (s->in_len == 0))
            return fail(st, len == 0 ? "empty answer to a non-empty message"
                                     : "answer to an empty message is not "
                                       "empty");
        /* No character is repeated more than the cap allows. */
        if (len / XFORM_RANDOM_CAP > s->in_len ||
            (len / XFORM_RANDOM_CAP == s->in_len &&
             len % XFORM_RANDOM_CAP != 0))
            return fail(st, "answer longer than the repeat cap allows");
        return 0;
    }
    return 0;
}

static int data_exact(const struct bench_verify_spec *s,
                      struct bench_verify_state *st, const uint8_t *d, size_t n)
{
    while (n > 0 && st->off < s->pre_len) {
        if (*d != s->pre[st->off])
            return fail(st, "header bytes differ from the request");
        d++;
        n--;
        st->off++;
    }
    while (n > 0) {
        uint64_t j = st->off - s->pre_len;
        size_t at = (size_t)((j + s->exp_phase) % s->exp_period);
        size_t m = s->exp_period - at < n ? s->exp_period - at : n;

        if (memcmp(d, s->exp + at, m) != 0) {
            while (*d == s->exp[at]) {
                d++;
                at++;
                st->off++;
            }
            return fail(st, "answer bytes differ from the expected");
        }
        d += m;
        n -= m;
        st->off += m;
    }
    return 0;
}

static int data_perm(struct bench_verify_state *st, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st->counts[d[i]] == 0) {
            st->off += i;
            return fail(st, "not a permutation of the message");
        }
        st->counts[d[i]]--;
    }
    st->off += n;
    return 0;
}

/* Index of the first input byte equal to c at or after from, or in_len. */
static uint64_t find_from(const struct bench_verify_spec *s, uint64_t from,
                          uint8_t c)
{
    while (from < s->in_len) {
        size_t at = (size_t)(from % s->in_period);
        uint64_t seg = s->in_period - at;
        const uint8_t *hit;

        if (seg > s->in_len - from)
            seg = s->in_len - from;
        hit = memchr(s->in + at, c, (size_t)seg);
        if (hit != NULL)
            return from + (uint64_t)(hit - (s->in + at));
        from += seg;
    }
    return s->in_len;
}

static int data_drawn(const struct bench_verify_spec *s,
                      struct bench_verify_state *st, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t k;

        if (st->matched && s->in[st->pos % s->in_period] == d[i])
            continue;
        k = find_from(s, st->matched ? st->pos + 1 : 0, d[i]);
        if (k >= s->in_len) {
            st->off += i;
            return fail(st, "byte not drawn from the message in order");
        }
        st->pos = k;
        st->matched = true;
    }
    st->off += n;
    return 0;
}

int bench_verify_data(const struct bench_verify_spec *s,
                      struct bench_verify_state *st, const uint8_t *d, size_t n)
{
    if (st->failed)
        return -1;
    if (n > st->len - st->off)
        return fail(st, "answer longer than announced");
    switch (s->kind) {
    case BENCH_VERIFY_EXACT:
        return data_exact(s, st, d, n);
    case BENCH_VERIFY_PERM:
        return data_perm(st, d, n);
    case BENCH_VERIFY_DRAWN:
        return data_drawn(s, st, d, n);
    }
    return 0;
}

int bench_verify_end(const struct bench_verify_spec *s,
                     struct bench_verify_state *st)
{
    int r = 0;

    if (!st->failed && st->off != st->len)
        fail(st, "answer shorter than announced");
    if (st->failed)
        r = -1;
    if (s->kind == BENCH_VERIFY_PERM) {
        /*
         * A complete right answer consumed every count: refill by walking a
         * short message, or copy the 1 KiB table for a long or wrong one.
         */
        if (r == 0 && s->in_len <= 256 && s->in_period >= s->in_len) {
            for (uint64_t i = 0; i < s->in_len; i++)
                st->counts[s->in[i]]++;
        } else {
            memcpy(st->counts, s->in_counts, sizeof(st->counts));
        }
    }
    return r;
}
