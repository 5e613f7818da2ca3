/*
 * tcp_bench's streaming answer checks (tools/bench_verify.c), fed in every
 * kind of split, against real outputs of the transforms and against
 * corrupted ones. A check that accepts a wrong answer, or rejects a right
 * one, fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench_verify.h"
#include "check.h"
#include "proto.h"
#include "rng.h"
#include "xform.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_verify_exact_upper_lower),
        cmocka_unit_test(test_bench_verify_exact_reverse_any_phase),
        cmocka_unit_test(test_bench_verify_unknown_action_wants_error),
        cmocka_unit_test(test_bench_verify_raw_is_the_request),
        cmocka_unit_test(test_bench_verify_perm_shuffle_outputs),
        cmocka_unit_test(test_bench_verify_drawn_random_outputs),
        cmocka_unit_test(test_bench_verify_drawn_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
