/*
 * Unit tests of tcp_bench's building blocks: the log-linear histogram
 * (bucket edges and percentile math), the streaming answer checks (fed in
 * every kind of split, against real outputs of the transforms and against
 * corrupted ones), the whole-buffer checks, the request image the sender
 * writes, the response reader and the option parser. A check that accepts a
 * wrong answer, or rejects a right one, fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench_hist.h"
#include "bench_opts.h"
#include "bench_payload.h"
#include "bench_verify.h"
#include "check.h"
#include "proto.h"
#include "resp.h"
#include "rng.h"
#include "xform.h"

/* ---- histogram ---------------------------------------------------------- */

static void test_bench_hist_index_buckets_tile_the_range(void **state)
{
    (void)state;
    assert_int_equal(bench_hist_bucket_low(0), 0);
    for (size_t i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo = bench_hist_bucket_low(i);
        uint64_t hi = bench_hist_bucket_high(i);

        assert_true(lo <= hi);
        /* Contiguous, no gap and no overlap. */
        assert_int_equal(hi + 1, bench_hist_bucket_low(i + 1));
        /* Width at most 1/64 of the low edge past the exact buckets. */
        if (i >= BENCH_HIST_SUB)
            assert_true((hi - lo + 1) * 64 <= lo);
        assert_int_equal(bench_hist_index(lo), i);
        assert_int_equal(bench_hist_index(hi), i);
    }
}

static void test_bench_hist_index_value_within_its_bucket(void **state)
{
    struct rng r;

    (void)state;
    rng_seed(&r, 7);
    for (int i = 0; i < 100000; i++) {
        /* Shifts of 28..63 leave 1..36 random bits: the whole range. */
        uint64_t v = rng_next(&r) >> (rng_below(&r, 36) + 28);
        size_t idx = bench_hist_index(v);

        assert_true(idx < BENCH_HIST_BUCKETS);
        assert_true(bench_hist_bucket_low(idx) <= v);
        assert_true(v <= bench_hist_bucket_high(idx));
    }
    /* Beyond the range: the last bucket. */
    assert_int_equal(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

static void test_bench_hist_percentile_uniform(void **state)
{
    struct bench_hist h;

    (void)state;
    bench_hist_init(&h);
    /* 1 us .. 1000 us: percentile p is p * 10 us. */
    for (uint64_t v = 1; v <= 1000; v++)
        bench_hist_record(&h, v * 1000);
    assert_int_equal(h.total, 1000);
    assert_int_equal(h.min, 1000);
    assert_int_equal(h.max, 1000000);
    {
        static const double pct[] = {1, 10, 50, 90, 99, 99.9};

        for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
            double want = pct[i] * 10000.0;
            double got = (double)bench_hist_percentile(&h, pct[i]);

            /* The reported value is the bucket's upper edge: never below
             * the sample, at most 1/64 above it. */
            assert_true(got >= want);
            assert_true(got <= want * (1.0 + 1.0 / 64));
        }
    }
    assert_int_equal(bench_hist_percentile(&h, 100), 1000000);
    assert_int_equal(bench_hist_percentile(&h, 0), 1000);
    assert_true(bench_hist_mean(&h) > 500499.0 &&
                bench_hist_mean(&h) < 500501.0);
}

static void test_bench_hist_percentile_skewed(void **state)
{
    struct bench_hist h;

    (void)state;
    bench_hist_init(&h);
    /* 990 fast samples and 10 slow ones: p99 is fast, p99.1 is slow. */
    for (int i = 0; i < 990; i++)
        bench_hist_record(&h, 20000);
    for (int i = 0; i < 10; i++)
        bench_hist_record(&h, 5000000000ull);
    assert_true(bench_hist_percentile(&h, 50) <= 20000 * 65 / 64);
    assert_true(bench_hist_percentile(&h, 99) <= 20000 * 65 / 64);
    assert_true(bench_hist_percentile(&h, 99.1) >= 5000000000ull);
    assert_int_equal(bench_hist_percentile(&h, 100), 5000000000ull);
}

static void test_bench_hist_percentile_empty_and_single(void **state)
{
    struct bench_hist h;

    (void)state;
    bench_hist_init(&h);
    assert_int_equal(bench_hist_percentile(&h, 50), 0);
    assert_true(bench_hist_mean(&h) == 0.0);
    bench_hist_record(&h, 123456789);
    /* One sample: every percentile is exactly it (clamped to min/max). */
    assert_int_equal(bench_hist_percentile(&h, 1), 123456789);
    assert_int_equal(bench_hist_percentile(&h, 50), 123456789);
    assert_int_equal(bench_hist_percentile(&h, 100), 123456789);
}

static void test_bench_hist_merge_adds_samples(void **state)
{
    struct bench_hist a, b;

    (void)state;
    bench_hist_init(&a);
    bench_hist_init(&b);
    for (uint64_t v = 1; v <= 500; v++)
        bench_hist_record(&a, v * 1000);
    for (uint64_t v = 501; v <= 1000; v++)
        bench_hist_record(&b, v * 1000);
    bench_hist_merge(&a, &b);
    assert_int_equal(a.total, 1000);
    assert_int_equal(a.min, 1000);
    assert_int_equal(a.max, 1000000);
    assert_true(bench_hist_percentile(&a, 50) >= 500000);
    assert_true(bench_hist_percentile(&a, 50) <= 500000 * 65 / 64);
}

/* ---- streaming verification ---------------------------------------------- */

/* A message as the bench builds it: pattern pat repeated to len bytes. */
struct msg {
    uint8_t *pat;
    size_t patlen;
    uint8_t *full; /* the whole message, for computing expected answers */
    size_t len;
};

static void msg_make(struct msg *m, size_t patlen, size_t len, uint64_t seed)
{
    static const char letters[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    struct rng r;

    rng_seed(&r, seed);
    m->patlen = patlen;
    m->len = len;
    m->pat = malloc(patlen + 1);
    m->full = malloc(len + 1);
    assert_non_null(m->pat);
    assert_non_null(m->full);
    for (size_t i = 0; i < patlen; i++)
        m->pat[i] = (uint8_t)letters[rng_below(&r, sizeof(letters) - 1)];
    for (size_t i = 0; i < len; i++)
        m->full[i] = m->pat[i % patlen];
}

static void msg_free(struct msg *m)
{
    free(m->pat);
    free(m->full);
}

/* Feeds one answer in chunks of pseudo-random sizes; the end result. */
static int feed(const struct bench_verify_spec *s,
                struct bench_verify_state *st, const uint8_t *ans, size_t len,
                uint64_t split_seed)
{
    struct rng r;
    size_t off = 0;

    rng_seed(&r, split_seed);
    (void)bench_verify_begin(s, st, len);
    while (off < len) {
        size_t n = 1 + (size_t)rng_below(&r, 40);

        if (split_seed == 0)
            n = len - off; /* whole */
        if (n > len - off)
            n = len - off;
        (void)bench_verify_data(s, st, ans + off, n);
        off += n;
    }
    return bench_verify_end(s, st);
}

static void check_exact(unsigned action, size_t patlen, size_t len)
{
    struct bench_verify_spec s;
    struct bench_verify_state st;
    struct msg m;
    uint8_t *ans;
    uint8_t hdr[4];

    msg_make(&m, patlen, len, len * 31 + patlen);
    ans = malloc(len + 1);
    assert_non_null(ans);
    memcpy(ans, m.full, len);
    if (action == PROTO_UPPERCASE)
        xform_upper(ans, len);
    else if (action == PROTO_LOWERCASE)
        xform_lower(ans, len);
    else
        xform_reverse(ans, len);
    proto_encode_request_header(hdr, action, (uint32_t)len);
    assert_int_equal(
        bench_verify_spec_init(&s, action, false, hdr, m.pat, m.patlen, len),
        0);
    bench_verify_state_init(&s, &st);
    for (uint64_t split = 0; split < 4; split++)
        assert_int_equal(feed(&s, &st, ans, len, split), 0);
    if (len > 0) {
        /* Flip the case of one letter: exactly that byte is reported. */
        size_t at = len / 2;

        ans[at] ^= 0x20;
        assert_int_equal(feed(&s, &st, ans, len, 3), -1);
        assert_int_equal(st.fail_off, at);
        ans[at] ^= 0x20;
        /* A shorter or longer answer is wrong too. */
        assert_int_equal(feed(&s, &st, ans, len - 1, 1), -1);
        assert_int_equal(feed(&s, &st, ans, len, 2), 0);
    }
    bench_verify_spec_free(&s);
    free(ans);
    msg_free(&m);
}

static void test_bench_verify_exact_upper_lower(void **state)
{
    (void)state;
    check_exact(PROTO_UPPERCASE, 16, 16);
    check_exact(PROTO_LOWERCASE, 16, 16);
    check_exact(PROTO_UPPERCASE, 7, 100); /* periodic message */
    check_exact(PROTO_LOWERCASE, 64, 1000);
    check_exact(PROTO_UPPERCASE, 1, 0);
}

static void test_bench_verify_exact_reverse_any_phase(void **state)
{
    (void)state;
    /* Lengths that are and are not multiples of the pattern. */
    for (size_t len = 1; len < 40; len++)
        check_exact(PROTO_REVERSE, 5, len);
    check_exact(PROTO_REVERSE, 16, 16);
    check_exact(PROTO_REVERSE, 1000, 12345);
}

static void test_bench_verify_unknown_action_wants_error(void **state)
{
    static const unsigned actions[] = {0, 3, 6, 31};
    struct bench_verify_spec s;
    struct bench_verify_state st;
    struct msg m;
    uint8_t hdr[4];

    (void)state;
    msg_make(&m, 16, 16, 1);
    for (size_t i = 0; i < 4; i++) {
        proto_encode_request_header(hdr, actions[i], 16);
        assert_int_equal(
            bench_verify_spec_init(&s, actions[i], false, hdr, m.pat, 16, 16),
            0);
        bench_verify_state_init(&s, &st);
        assert_int_equal(feed(&s, &st, (const uint8_t *)"error", 5, 0), 0);
        assert_int_equal(feed(&s, &st, (const uint8_t *)"errox", 5, 0), -1);
        assert_int_equal(feed(&s, &st, m.full, 16, 0), -1);
        bench_verify_spec_free(&s);
    }
    msg_free(&m);
}

static void test_bench_verify_raw_is_the_request(void **state)
{
    struct bench_verify_spec s;
    struct bench_verify_state st;
    struct msg m;
    uint8_t req[4 + 300];

    (void)state;
    msg_make(&m, 64, 300, 9);
    proto_encode_request_header(req, PROTO_UPPERCASE, 300);
    memcpy(req + 4, m.full, 300);
    assert_int_equal(bench_verify_spec_init(&s, PROTO_UPPERCASE, true, req,
                                            m.pat, m.patlen, 300),
                     0);
    bench_verify_state_init(&s, &st);
    assert_int_equal(feed(&s, &st, req, sizeof(req), 5), 0);
    req[1] ^= 1; /* a header byte */
    assert_int_equal(feed(&s, &st, req, sizeof(req), 5), -1);
    assert_int_equal(st.fail_off, 1);
    req[1] ^= 1;
    req[200] ^= 1; /* a message byte */
    assert_int_equal(feed(&s, &st, req, sizeof(req), 5), -1);
    assert_int_equal(st.fail_off, 200);
    bench_verify_spec_free(&s);
    msg_free(&m);
}

static void check_shuffle(size_t patlen, size_t len)
{
    struct bench_verify_spec s;
    struct bench_verify_state st;
    struct rng r;
    struct msg m;
    uint8_t *ans = malloc(len + 1);
    uint8_t hdr[4];

    assert_non_null(ans);
    msg_make(&m, patlen, len, len + 5);
    rng_seed(&r, 99);
    proto_encode_request_header(hdr, PROTO_SHUFFLE, (uint32_t)len);
    assert_int_equal(bench_verify_spec_init(&s, PROTO_SHUFFLE, false, hdr,
                                            m.pat, m.patlen, len),
                     0);
    bench_verify_state_init(&s, &st);
    /* Many answers on one state: the counts must be refilled each time. */
    for (uint64_t i = 0; i < 20; i++) {
        memcpy(ans, m.full, len);
        assert_int_equal(xform_shuffle(ans, len, &r), 0);
        assert_int_equal(feed(&s, &st, ans, len, i % 3), 0);
    }
    if (len >= 2) {
        /* Replace one byte by another letter of the message: same length,
         * wrong multiset. */
        memcpy(ans, m.full, len);
        ans[0] = (uint8_t)(ans[0] == 'q' ? 'Q' : 'q');
        if (check_permutation(m.full, len, ans, len))
            ans[0] = '#';
        assert_int_equal(feed(&s, &st, ans, len, 1), -1);
        /* A right answer after a wrong one still passes. */
        memcpy(ans, m.full, len);
        assert_int_equal(feed(&s, &st, ans, len, 2), 0);
        assert_int_equal(feed(&s, &st, ans, len - 1, 2), -1);
        assert_int_equal(feed(&s, &st, ans, len, 0), 0);
    }
    bench_verify_spec_free(&s);
    free(ans);
    msg_free(&m);
}

static void test_bench_verify_perm_shuffle_outputs(void **state)
{
    (void)state;
    check_shuffle(16, 16);
    check_shuffle(5, 200);    /* short: refilled by walking the message */
    check_shuffle(100, 5000); /* long: refilled by copying the counts */
    check_shuffle(1, 0);
}

static void check_random(size_t patlen, size_t len, uint64_t seed)
{
    struct bench_verify_spec s;
    struct bench_verify_state st;
    struct rng r;
    struct msg m;
    uint8_t hdr[4];

    msg_make(&m, patlen, len, seed);
    rng_seed(&r, seed);
    proto_encode_request_header(hdr, PROTO_RANDOM, (uint32_t)len);
    assert_int_equal(bench_verify_spec_init(&s, PROTO_RANDOM, false, hdr, m.pat,
                                            m.patlen, len),
                     0);
    bench_verify_state_init(&s, &st);
    for (uint64_t i = 0; i < 30; i++) {
        uint8_t *out = NULL;
        size_t outlen = 0;

        assert_int_equal(xform_random(m.full, len, &r, &out, &outlen), 0);
        assert_int_equal(feed(&s, &st, out, outlen, i % 3), 0);
        assert_true(check_drawn(m.full, len, out, outlen));
        free(out);
    }
    bench_verify_spec_free(&s);
    msg_free(&m);
}

static void test_bench_verify_drawn_random_outputs(void **state)
{
    (void)state;
    check_random(16, 16, 1);
    check_random(3, 50, 2);
    check_random(64, 2000, 3);
    check_random(1, 1, 4);
    check_random(1, 0, 5);
}

static void test_bench_verify_drawn_rejects(void **state)
{
    static const uint8_t in[] = "abcdef";
    struct bench_verify_spec s;
    struct bench_verify_state st;
    uint8_t hdr[4];

    (void)state;
    proto_encode_request_header(hdr, PROTO_RANDOM, 6);
    assert_int_equal(
        bench_verify_spec_init(&s, PROTO_RANDOM, false, hdr, in, 6, 6), 0);
    bench_verify_state_init(&s, &st);
    assert_int_equal(feed(&s, &st, (const uint8_t *)"abcdef", 6, 0), 0);
    assert_int_equal(feed(&s, &st, (const uint8_t *)"aaabbbfff", 9, 1), 0);
    assert_int_equal(feed(&s, &st, (const uint8_t *)"a", 1, 0), 0);
    assert_int_equal(feed(&s, &st, (const uint8_t *)"ce", 2, 0), 0);
    /* Order broken, a byte not in the message, nothing at all. */
    assert_int_equal(feed(&s, &st, (const uint8_t *)"ba", 2, 0), -1);
    assert_int_equal(feed(&s, &st, (const uint8_t *)"abcdeff a", 9, 0), -1);
    assert_int_equal(feed(&s, &st, (const uint8_t *)"acb", 3, 1), -1);
    assert_int_equal(feed(&s, &st, (const uint8_t *)"", 0, 0), -1);
    bench_verify_spec_free(&s);
}

/* ---- whole-buffer checks ------------------------------------------------- */

static void test_check_permutation_cases(void **state)
{
    (void)state;
    assert_true(check_permutation((const uint8_t *)"abcab", 5,
                                  (const uint8_t *)"bacba", 5));
    assert_false(check_permutation((const uint8_t *)"abcab", 5,
                                   (const uint8_t *)"bacbb", 5));
    assert_false(check_permutation((const uint8_t *)"abc", 3,
                                   (const uint8_t *)"abcc", 4));
    assert_true(
        check_permutation((const uint8_t *)"", 0, (const uint8_t *)"", 0));
}

static void test_check_drawn_cases(void **state)
{
    (void)state;
    assert_true(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"aabccc", 6));
    assert_true(
        check_drawn((const uint8_t *)"aba", 3, (const uint8_t *)"aba", 3));
    assert_true(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"a", 1));
    assert_false(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"cb", 2));
    assert_false(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"", 0));
    assert_false(check_drawn((const uint8_t *)"", 0, (const uint8_t *)"a", 1));
    assert_true(check_drawn((const uint8_t *)"", 0, (const uint8_t *)"", 0));
}

static void test_check_could_spell_error_cases(void **state)
{
    (void)state;
    assert_false(
        check_could_spell_error(PROTO_UPPERCASE, (const uint8_t *)"error", 5));
    assert_true(
        check_could_spell_error(PROTO_LOWERCASE, (const uint8_t *)"ERROR", 5));
    assert_false(
        check_could_spell_error(PROTO_LOWERCASE, (const uint8_t *)"ERRORS", 6));
    assert_true(
        check_could_spell_error(PROTO_REVERSE, (const uint8_t *)"rorre", 5));
    assert_false(
        check_could_spell_error(PROTO_REVERSE, (const uint8_t *)"error", 5));
    assert_true(
        check_could_spell_error(PROTO_SHUFFLE, (const uint8_t *)"rrreo", 5));
    assert_false(
        check_could_spell_error(PROTO_SHUFFLE, (const uint8_t *)"rrrea", 5));
    assert_true(
        check_could_spell_error(PROTO_RANDOM, (const uint8_t *)"xerxoxr", 7));
    assert_false(
        check_could_spell_error(PROTO_RANDOM, (const uint8_t *)"roe", 3));
    assert_false(check_could_spell_error(6, (const uint8_t *)"error", 5));
}

/* ---- request image ------------------------------------------------------- */

/* Concatenates what bench_payload_iov describes, a few iovecs at a time. */
static size_t gather(const struct bench_payload *p, uint64_t off,
                     uint64_t count, uint8_t *out, int max_iov)
{
    size_t total = 0;
    uint64_t left = count;

    while (left > 0) {
        struct iovec iov[8];
        int n = bench_payload_iov(p, off, left, iov, max_iov, 1 << 20);
        size_t got = 0;

        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            memcpy(out + total + got, iov[i].iov_base, iov[i].iov_len);
            got += iov[i].iov_len;
        }
        total += got;
        off += got;
        left -= off / p->reqlen;
        off %= p->reqlen;
    }
    return total;
}

static void check_payload(uint64_t len, unsigned window, uint64_t count,
                          uint64_t off)
{
    struct bench_payload p;
    uint8_t *want;
    uint8_t *got;
    size_t reqlen = (size_t)(4 + len);
    size_t n;

    assert_int_equal(bench_payload_init(&p, PROTO_REVERSE, len, window, 3), 0);
    want = malloc(reqlen * count);
    got = malloc(reqlen * count);
    assert_non_null(want);
    assert_non_null(got);
    for (uint64_t c = 0; c < count; c++) {
        uint8_t *q = want + c * reqlen;

        proto_encode_request_header(q, PROTO_REVERSE, (uint32_t)len);
        for (uint64_t i = 0; i < len; i++) {
            q[4 + i] = p.pat[i % p.patlen];
            /* Letters only, so every byte is a character of its own. */
            assert_true((q[4 + i] | 0x20) >= 'a' && (q[4 + i] | 0x20) <= 'z');
        }
    }
    n = gather(&p, off, count, got, 3);
    assert_int_equal(n, reqlen * count - off);
    assert_memory_equal(got, want + off, n);
    bench_payload_free(&p);
    free(want);
    free(got);
}

static void test_bench_payload_iov_window(void **state)
{
    (void)state;
    check_payload(16, 64, 64, 0);
    check_payload(16, 64, 10, 7);
    check_payload(16, 4, 50, 2); /* more owed than pre-encoded copies */
    check_payload(0, 8, 20, 1);
    check_payload(4096, 64, 70, 4000);
}

static void test_bench_payload_iov_periodic(void **state)
{
    (void)state;
    /* Past BENCH_WINDOW_MAX: header and pattern pieces. */
    check_payload(BENCH_WINDOW_MAX + 12345, 1, 2, 0);
    check_payload(BENCH_WINDOW_MAX + 12345, 1, 1, 3);
    check_payload(BENCH_WINDOW_MAX + 12345, 1, 1, 70000);
}

/* ---- response reader ----------------------------------------------------- */

static void test_resp_next_any_split(void **state)
{
    /* Three answers: "abc", "", "hello". */
    static const uint8_t wire[] = {0, 0, 0, 3, 'a', 'b', 'c', 0,   0,   0,
                                   0, 0, 0, 0, 5,   'h', 'e', 'l', 'l', 'o'};

    (void)state;
    for (size_t chunk = 1; chunk <= sizeof(wire); chunk++) {
        struct resp_parser p;
        char data[16];
        size_t dlen = 0, ends = 0, begins = 0, off = 0;
        uint32_t lens[3];

        resp_parser_init(&p);
        assert_true(resp_at_boundary(&p));
        while (off < sizeof(wire)) {
            size_t n = sizeof(wire) - off < chunk ? sizeof(wire) - off : chunk;
            const uint8_t *buf = wire + off;
            struct resp_event ev;

            off += n;
            do {
                size_t used = resp_next(&p, buf, n, &ev);

                buf += used;
                n -= used;
                if (ev.type == RESP_EV_BEGIN)
                    lens[begins++] = ev.len;
                if (ev.type == RESP_EV_DATA) {
                    memcpy(data + dlen, ev.data, ev.data_len);
                    dlen += ev.data_len;
                }
                if (ev.type == RESP_EV_END)
                    ends++;
            } while (ev.type != RESP_EV_NONE);
        }
        assert_int_equal(begins, 3);
        assert_int_equal(ends, 3);
        assert_int_equal(lens[0], 3);
        assert_int_equal(lens[1], 0);
        assert_int_equal(lens[2], 5);
        assert_int_equal(dlen, 8);
        assert_memory_equal(data, "abchello", 8);
        assert_true(resp_at_boundary(&p));
    }
}

static void test_resp_next_full_32bit_length(void **state)
{
    static const uint8_t hdr[] = {0xff, 0xff, 0xff, 0xfe};
    struct resp_parser p;
    struct resp_event ev;

    (void)state;
    resp_parser_init(&p);
    assert_int_equal(resp_next(&p, hdr, 4, &ev), 4);
    assert_int_equal(ev.type, RESP_EV_BEGIN);
    assert_int_equal(ev.len, 0xfffffffeu);
    assert_false(resp_at_boundary(&p));
}

/* ---- options ------------------------------------------------------------- */

static enum opts_result parse(struct bench_opts *o, const char *line)
{
    char buf[256];
    char *argv[32];
    char err[128];
    int argc = 0;

    snprintf(buf, sizeof(buf), "tcp_bench %s", line);
    for (char *t = strtok(buf, " "); t != NULL && argc < 31;
         t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return bench_opts_parse(o, argc, argv, err, sizeof(err));
}

static void test_bench_opts_parse_mode_defaults(void **state)
{
    struct bench_opts o;

    (void)state;
    assert_int_equal(parse(&o, "pipeline"), OPTS_OK);
    assert_int_equal(o.mode, BENCH_PIPELINE);
    assert_int_equal(o.conns, 1);
    assert_int_equal(o.pipeline, 1);
    assert_int_equal(o.requests, 100000);
    assert_int_equal(o.size, 16);
    assert_int_equal(o.action, PROTO_UPPERCASE);
    assert_int_equal(o.port, 8083);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(parse(&o, "bulk"), OPTS_OK);
    assert_int_equal(o.size, 64u * 1024 * 1024);
    assert_int_equal(o.requests, 1);
    assert_int_equal(parse(&o, "conn -c 8"), OPTS_OK);
    assert_int_equal(o.requests, 1000);
    assert_int_equal(o.conns, 8);
    assert_int_equal(parse(&o, "-t 2 pipeline"), OPTS_OK);
    assert_int_equal(o.requests, 0); /* the duration alone bounds it */
    assert_true(o.duration == 2.0);
}

static void test_bench_opts_parse_values(void **state)
{
    struct bench_opts o;

    (void)state;
    assert_int_equal(parse(&o, "-h ::1 -p 9000 -c 4 -n 50 -s 134217727 "
                               "-a reverse -P 64 --raw --json --seed 5 "
                               "--timeout 0.5 bulk"),
                     OPTS_OK);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.port, 9000);
    assert_int_equal(o.conns, 4);
    assert_int_equal(o.requests, 50);
    assert_int_equal(o.size, PROTO_MAX_LEN);
    assert_int_equal(o.action, PROTO_REVERSE);
    assert_int_equal(o.pipeline, 64);
    assert_true(o.raw && o.json);
    assert_int_equal(o.seed, 5);
    assert_true(o.timeout == 0.5);
    assert_int_equal(parse(&o, "-a 6 pipeline"), OPTS_OK);
    assert_int_equal(o.action, 6);
    assert_int_equal(parse(&o, "-a 0 pipeline"), OPTS_OK);
    assert_int_equal(o.action, 0);
}

static void test_bench_opts_parse_errors(void **state)
{
    struct bench_opts o;

    (void)state;
    assert_int_equal(parse(&o, ""), OPTS_USAGE);
    assert_int_equal(parse(&o, "walk"), OPTS_USAGE);
    assert_int_equal(parse(&o, "pipeline conn"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-a 32 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-a UPPERCASE pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-s 134217728 bulk"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-c 0 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-p 70000 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-P 4 conn"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-t 0 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "--bogus pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "--help"), OPTS_HELP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_hist_index_buckets_tile_the_range),
        cmocka_unit_test(test_bench_hist_index_value_within_its_bucket),
        cmocka_unit_test(test_bench_hist_percentile_uniform),
        cmocka_unit_test(test_bench_hist_percentile_skewed),
        cmocka_unit_test(test_bench_hist_percentile_empty_and_single),
        cmocka_unit_test(test_bench_hist_merge_adds_samples),
        cmocka_unit_test(test_bench_verify_exact_upper_lower),
        cmocka_unit_test(test_bench_verify_exact_reverse_any_phase),
        cmocka_unit_test(test_bench_verify_unknown_action_wants_error),
        cmocka_unit_test(test_bench_verify_raw_is_the_request),
        cmocka_unit_test(test_bench_verify_perm_shuffle_outputs),
        cmocka_unit_test(test_bench_verify_drawn_random_outputs),
        cmocka_unit_test(test_bench_verify_drawn_rejects),
        cmocka_unit_test(test_check_permutation_cases),
        cmocka_unit_test(test_check_drawn_cases),
        cmocka_unit_test(test_check_could_spell_error_cases),
        cmocka_unit_test(test_bench_payload_iov_window),
        cmocka_unit_test(test_bench_payload_iov_periodic),
        cmocka_unit_test(test_resp_next_any_split),
        cmocka_unit_test(test_resp_next_full_32bit_length),
        cmocka_unit_test(test_bench_opts_parse_mode_defaults),
        cmocka_unit_test(test_bench_opts_parse_values),
        cmocka_unit_test(test_bench_opts_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
