/*
 * Protocol tests against the real server (DESIGN.md section 2): the worked
 * examples byte for byte, each of the five actions on known input, the
 * character rules for UTF-8 and invalid bytes, zero-length and unknown-action
 * requests, and --seed reproducibility. Each test starts its own server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ensure.h"
#include "harness.h"
#include "wire.h"
#include "proto.h"

/* Unknown action values, every one of them (DESIGN.md section 2). */
static const unsigned invalid_actions[] = {0,  3,  5,  6,  7,  9,  10, 11, 12,
                                           13, 14, 15, 17, 18, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 29, 30, 31};
#define N_INVALID (sizeof(invalid_actions) / sizeof(invalid_actions[0]))

static const unsigned valid_actions[] = {PROTO_UPPERCASE, PROTO_LOWERCASE,
                                         PROTO_REVERSE, PROTO_SHUFFLE,
                                         PROTO_RANDOM};
#define N_VALID (sizeof(valid_actions) / sizeof(valid_actions[0]))

/*
 * Characters of a test input: ASCII, 2-, 3- and 4-byte UTF-8. Being distinct
 * and prefix-free, a response can be split back into them unambiguously.
 */
static const char *const tokens[] = {
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "\xc3\xa9",         /* é */
    "\xe2\x82\xac",     /* € */
    "\xf0\x9f\x98\x80", /* 😀 */
    "\xc3\x9f",         /* ß */
};
#define N_TOKENS (sizeof(tokens) / sizeof(tokens[0]))

/* Concatenates tokens[0..n) into out (big enough); returns the length. */
static size_t join_tokens(char *out, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        memcpy(out + len, tokens[i], strlen(tokens[i]));
        len += strlen(tokens[i]);
    }
    return len;
}

/* Index of the token that starts buf[0..len), or -1. */
static int token_at(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < N_TOKENS; i++) {
        size_t tl = strlen(tokens[i]);

        if (tl <= len && memcmp(buf, tokens[i], tl) == 0)
            return (int)i;
    }
    return -1;
}

/*
 * Splits buf into token indices (at most max); returns the count, or -1 when
 * buf is not a concatenation of tokens.
 */
static int split_tokens(const uint8_t *buf, size_t len, int *idx, size_t max)
{
    size_t n = 0, off = 0;

    while (off < len) {
        int t = token_at(buf + off, len - off);

        if (t < 0 || n >= max)
            return -1;
        idx[n++] = t;
        off += strlen(tokens[t]);
    }
    return (int)n;
}

static void test_worked_example_reverse(void **state)
{
    static const uint8_t req[] = "\x20\x00\x00\x13"
                                 "The LAN Before Time";
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t resp[4 + 19];

    /* The exact bytes of DESIGN.md, not the encoder's idea of them. */
    assert_int_equal(wire_send_all(fd, req, sizeof(req) - 1, HARNESS_IO_MS), 0);
    assert_int_equal(wire_recv_exact(fd, resp, sizeof(resp), HARNESS_IO_MS),
                     sizeof(resp));
    assert_memory_equal(resp,
                        "\x00\x00\x00\x13"
                        "emiT erofeB NAL ehT",
                        sizeof(resp));
}

static void test_worked_example_error(void **state)
{
    static const uint8_t req[] = "\x30\x00\x00\x13"
                                 "The LAN Before Time";
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t resp[4 + 5];

    assert_int_equal(wire_send_all(fd, req, sizeof(req) - 1, HARNESS_IO_MS), 0);
    assert_int_equal(wire_recv_exact(fd, resp, sizeof(resp), HARNESS_IO_MS),
                     sizeof(resp));
    assert_memory_equal(resp,
                        "\x00\x00\x00\x05"
                        "error",
                        sizeof(resp));
    /* The stream stayed in sync: the connection still serves. */
    ensure_exchange(fd, PROTO_REVERSE, "abc", 3, "cba", 3);
}

static void test_uppercase(void **state)
{
    static const char in[] = "Hello, World! 123 az AZ @[`{ \xc3\xa9\xc3\xa0 "
                             "\xff\x00 the end";
    static const char want[] = "HELLO, WORLD! 123 AZ AZ @[`{ \xc3\xa9\xc3\xa0 "
                               "\xff\x00 THE END";
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);

    ensure_exchange(fd, PROTO_UPPERCASE, in, sizeof(in) - 1, want,
                    sizeof(want) - 1);
}

static void test_lowercase(void **state)
{
    static const char in[] = "Hello, World! 123 az AZ @[`{ \xc3\x89\xc3\x80 "
                             "\xff\x00 THE END";
    static const char want[] = "hello, world! 123 az az @[`{ \xc3\x89\xc3\x80 "
                               "\xff\x00 the end";
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);

    ensure_exchange(fd, PROTO_LOWERCASE, in, sizeof(in) - 1, want,
                    sizeof(want) - 1);
}

static void test_reverse(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);

    ensure_exchange(fd, PROTO_REVERSE, "x", 1, "x", 1);
    ensure_exchange(fd, PROTO_REVERSE, "ab", 2, "ba", 2);
    ensure_exchange(fd, PROTO_REVERSE, "Hello, World!", 13, "!dlroW ,olleH",
                    13);
}

static void test_utf8_reverse(void **state)
{
    /* "aé€😀" reversed is "😀€éa": sequences stay whole. */
    static const char in[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    static const char want[] = "\xf0\x9f\x98\x80\xe2\x82\xac\xc3\xa9"
                               "a";
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);

    ensure_exchange(fd, PROTO_REVERSE, in, sizeof(in) - 1, want,
                    sizeof(want) - 1);
}

static void test_utf8_invalid_bytes(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);

    /* A stray continuation byte and a lone 0xff are characters. */
    ensure_exchange(fd, PROTO_REVERSE,
                    "a\x80"
                    "b\xff"
                    "c",
                    5,
                    "c\xff"
                    "b\x80"
                    "a",
                    5);
    /* A sequence cut short by an ASCII byte: each byte stands alone. */
    ensure_exchange(fd, PROTO_REVERSE,
                    "a\xe2\x82"
                    "b",
                    4,
                    "b\x82\xe2"
                    "a",
                    4);
    /* A sequence truncated at the end of the message. */
    ensure_exchange(fd, PROTO_REVERSE, "x\xf0\x9f\x98", 4, "\x98\x9f\xf0x", 4);
    /* An overlong encoding of '/' and a UTF-16 surrogate are invalid. */
    ensure_exchange(fd, PROTO_REVERSE, "\xc0\xaf", 2, "\xaf\xc0", 2);
    ensure_exchange(fd, PROTO_REVERSE, "\xed\xa0\x80", 3, "\x80\xa0\xed", 3);
    /* Beyond U+10FFFF. */
    ensure_exchange(fd, PROTO_REVERSE, "\xf4\x90\x80\x80", 4,
                    "\x80\x80\x90\xf4", 4);
    /* Valid neighbours of invalid bytes stay whole. */
    ensure_exchange(fd, PROTO_REVERSE, "\xc3\xa9\xff\xe2\x82\xac", 6,
                    "\xe2\x82\xac\xff\xc3\xa9", 6);
}

/* Sends a shuffle of all tokens and returns the response (free() it). */
static uint8_t *shuffle_all(int fd, const char *in, size_t in_len,
                            uint32_t *out_len)
{
    uint8_t *resp = NULL;

    assert_int_equal(
        wire_request(fd, PROTO_SHUFFLE, in, (uint32_t)in_len, &resp, out_len),
        0);
    return resp;
}

/* Fails unless resp is a permutation of tokens[0..n). */
static void assert_permutation(const uint8_t *resp, uint32_t len, size_t n)
{
    int idx[N_TOKENS + 1];
    bool seen[N_TOKENS] = {false};
    int got = split_tokens(resp, len, idx, N_TOKENS + 1);

    if (got != (int)n)
        ensure_print_bytes("not a permutation of the input characters", resp,
                           len, 256);
    assert_int_equal(got, (int)n);
    for (int i = 0; i < got; i++) {
        assert_false(seen[idx[i]]);
        seen[idx[i]] = true;
    }
}

static void test_shuffle_permutation(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    char in[256];
    size_t in_len = join_tokens(in, N_TOKENS);
    uint8_t *first = NULL;
    uint32_t first_len = 0;
    bool varied = false;

    /*
     * Every answer is a permutation, and twenty answers are not all the
     * same (the chance of that with 46 characters is nil).
     */
    for (int round = 0; round < 20; round++) {
        uint32_t len;
        uint8_t *resp = shuffle_all(fd, in, in_len, &len);

        assert_int_equal(len, in_len);
        assert_permutation(resp, len, N_TOKENS);
        if (first == NULL) {
            first = resp;
            first_len = len;
            continue;
        }
        if (len != first_len || memcmp(resp, first, len) != 0)
            varied = true;
        free(resp);
    }
    free(first);
    assert_true(varied);
    /* One character, and one multi-byte character, come back unchanged. */
    ensure_exchange(fd, PROTO_SHUFFLE, "q", 1, "q", 1);
    ensure_exchange(fd, PROTO_SHUFFLE, "\xf0\x9f\x98\x80", 4,
                    "\xf0\x9f\x98\x80", 4);
}

/*
 * Fails unless resp could come from the random action on tokens[0..n): each
 * input character kept zero or more times, in input order, and at least one
 * character out. Staying on a repeated character is never worse than moving
 * on, so a greedy match decides it.
 */
static void assert_random_shape(const uint8_t *resp, uint32_t len, size_t n)
{
    size_t off = 0;
    int last = -1;

    /* Repeats reach 2^16 per character: walk the answer, store nothing. */
    while (off < len) {
        int t = token_at(resp + off, len - off);

        if (t < 0 || (size_t)t >= n || t < last) {
            ensure_print_bytes("random: not the input characters in order",
                               resp, len, 256);
            fail();
        }
        last = t;
        off += strlen(tokens[t]);
    }
    if (len == 0)
        ensure_print_bytes("random: empty answer to a non-empty input", resp,
                           len, 256);
    assert_true(len > 0);
}

static void test_random_draws_in_order(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    char in[256];
    size_t in_len = join_tokens(in, N_TOKENS);
    bool changed = false;

    for (int round = 0; round < 50; round++) {
        uint8_t *resp = NULL;
        uint32_t len;

        assert_int_equal(
            wire_request(fd, PROTO_RANDOM, in, (uint32_t)in_len, &resp, &len),
            0);
        assert_random_shape(resp, len, N_TOKENS);
        if (len != in_len || memcmp(resp, in, len) != 0)
            changed = true;
        free(resp);
    }
    /* With 2300 characters drawn, some must have been dropped or repeated. */
    assert_true(changed);

    /* A single character is kept (alone or repeated) or comes back alone. */
    for (int round = 0; round < 20; round++) {
        uint8_t *resp = NULL;
        uint32_t len;

        assert_int_equal(
            wire_request(fd, PROTO_RANDOM, "\xe2\x82\xac", 3, &resp, &len), 0);
        assert_true(len >= 3 && len % 3 == 0);
        for (uint32_t i = 0; i < len; i += 3)
            assert_memory_equal(resp + i, "\xe2\x82\xac", 3);
        free(resp);
    }
}

static void test_zero_length(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);

    for (size_t i = 0; i < N_VALID; i++)
        ensure_exchange(fd, valid_actions[i], NULL, 0, NULL, 0);
    for (size_t i = 0; i < N_INVALID; i++)
        ensure_exchange(fd, invalid_actions[i], NULL, 0, PROTO_ERROR_TEXT,
                        PROTO_ERROR_LEN);
    /* Still in sync afterwards. */
    ensure_exchange(fd, PROTO_UPPERCASE, "ok", 2, "OK", 2);
}

static void test_invalid_then_valid(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t buf[N_INVALID * 2 * 16];
    size_t off = 0;

    /*
     * One write holding, for every unknown action, a request with a few
     * data bytes (which look like a header, to catch a server that does not
     * skip them) followed by a valid request.
     */
    for (size_t i = 0; i < N_INVALID; i++) {
        static const uint8_t junk[] = {0x20, 0x00, 0x00, 0x01, 'z', 'y'};
        char word[4];

        wire_encode(buf + off, invalid_actions[i], junk, sizeof(junk));
        off += 4 + sizeof(junk);
        snprintf(word, sizeof(word), "%c%c%c", 'a' + (int)(i % 26), 'x', 'Y');
        wire_encode(buf + off, PROTO_UPPERCASE, word, 3);
        off += 4 + 3;
    }
    assert_true(off <= sizeof(buf));
    assert_int_equal(wire_send_all(fd, buf, off, HARNESS_IO_MS), 0);
    for (size_t i = 0; i < N_INVALID; i++) {
        char want[4];

        snprintf(want, sizeof(want), "%cXY", 'A' + (int)(i % 26));
        ensure_response(fd, PROTO_ERROR_TEXT, PROTO_ERROR_LEN);
        ensure_response(fd, want, 3);
    }
    /* And one by one, waiting for each answer. */
    for (size_t i = 0; i < N_INVALID; i++) {
        ensure_exchange(fd, invalid_actions[i], "abc", 3, PROTO_ERROR_TEXT,
                        PROTO_ERROR_LEN);
        ensure_exchange(fd, PROTO_LOWERCASE, "ABC", 3, "abc", 3);
    }
}

/* First shuffle and first random answers of a fresh server started with
 * extra arguments. */
static void first_answers(struct harness *h, const char *const extra[],
                          const char *in, size_t in_len, uint8_t **shuf,
                          uint32_t *shuf_len, uint8_t **rnd, uint32_t *rnd_len)
{
    struct harness_proc *srv = ensure_start_server(h, extra);
    int fd = ensure_connect(h, srv);

    assert_int_equal(
        wire_request(fd, PROTO_SHUFFLE, in, (uint32_t)in_len, shuf, shuf_len),
        0);
    assert_int_equal(
        wire_request(fd, PROTO_RANDOM, in, (uint32_t)in_len, rnd, rnd_len), 0);
    harness_close_fd(h, fd);
    assert_int_equal(harness_stop(srv), 0);
}

static void test_seed_reproducible(void **state)
{
    static const char *const seeded[] = {"--seed", "12345", NULL};
    struct harness *h = *state;
    char in[256];
    size_t in_len = join_tokens(in, N_TOKENS);
    uint8_t *s1 = NULL, *s2 = NULL, *r1 = NULL, *r2 = NULL;
    uint32_t s1_len, s2_len, r1_len, r2_len;

    first_answers(h, seeded, in, in_len, &s1, &s1_len, &r1, &r1_len);
    first_answers(h, seeded, in, in_len, &s2, &s2_len, &r2, &r2_len);
    assert_permutation(s1, s1_len, N_TOKENS);
    assert_random_shape(r1, r1_len, N_TOKENS);
    if (s1_len != s2_len || memcmp(s1, s2, s1_len) != 0) {
        ensure_print_bytes("shuffle, first server", s1, s1_len, 256);
        ensure_print_bytes("shuffle, second server", s2, s2_len, 256);
    }
    assert_int_equal(s1_len, s2_len);
    assert_memory_equal(s1, s2, s1_len);
    assert_int_equal(r1_len, r2_len);
    assert_memory_equal(r1, r2, r1_len);
    free(s1);
    free(s2);
    free(r1);
    free(r2);
}

static void test_unseeded_servers_differ(void **state)
{
    struct harness *h = *state;
    char in[256];
    size_t in_len = join_tokens(in, N_TOKENS);
    uint8_t *s1 = NULL, *s2 = NULL, *r1 = NULL, *r2 = NULL;
    uint32_t s1_len, s2_len, r1_len, r2_len;

    /* Two workers never share a sequence; 46! orderings make a tie nil. */
    first_answers(h, NULL, in, in_len, &s1, &s1_len, &r1, &r1_len);
    first_answers(h, NULL, in, in_len, &s2, &s2_len, &r2, &r2_len);
    assert_permutation(s1, s1_len, N_TOKENS);
    assert_permutation(s2, s2_len, N_TOKENS);
    assert_true(s1_len == s2_len);
    assert_true(memcmp(s1, s2, s1_len) != 0);
    free(s1);
    free(s2);
    free(r1);
    free(r2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_worked_example_reverse),
        T(test_worked_example_error),
        T(test_uppercase),
        T(test_lowercase),
        T(test_reverse),
        T(test_utf8_reverse),
        T(test_utf8_invalid_bytes),
        T(test_shuffle_permutation),
        T(test_random_draws_in_order),
        T(test_zero_length),
        T(test_invalid_then_valid),
        T(test_seed_reproducible),
        T(test_unseeded_servers_differ),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
