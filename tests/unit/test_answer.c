/*
 * The worker's request-to-answer step over a real output queue: request
 * bytes are fed as the serving loop feeds a read (in a writable buffer that
 * is overwritten once the queue is settled), and the queued answers are
 * written to a socketpair and read back. Covers every action, the error
 * answer, requests split anywhere across feeds, and backpressure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answer.h"

/* Large enough for every answer below, including backpressure's. */
#define OUT_MAX ((size_t)2 * 1024 * 1024)

struct fixture {
    int fds[2];
    struct outq out;
    struct rng rng;
    struct answer ans;
    uint8_t *got; /* answers read back, OUT_MAX bytes */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->got = malloc(OUT_MAX);
    if (f->got == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->fds) < 0) {
        free(f->got);
        free(f);
        return -1;
    }
    outq_init(&f->out);
    rng_seed(&f->rng, 42);
    answer_init(&f->ans, &f->out, &f->rng);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    answer_close(&f->ans);
    outq_reset(&f->out);
    close(f->fds[0]);
    close(f->fds[1]);
    free(f->got);
    free(f);
    return 0;
}

/* Writes a request for action with data[0..len) at out; returns its size. */
static size_t put_request(uint8_t *out, unsigned action, const void *data,
                          size_t len)
{
    proto_encode_request_header(out, action, (uint32_t)len);
    if (len > 0)
        memcpy(out + PROTO_HEADER_LEN, data, len);
    return PROTO_HEADER_LEN + len;
}

/*
 * Feeds bytes[0..n) the way serve.c does: from a writable buffer that is
 * overwritten once the queue was settled. Returns what answer_feed() did.
 */
static long feed(struct fixture *f, const uint8_t *bytes, size_t n)
{
    uint8_t *buf = malloc(n > 0 ? n : 1);
    long r;

    assert_non_null(buf);
    if (n > 0)
        memcpy(buf, bytes, n);
    r = answer_feed(&f->ans, buf, n);
    assert_int_equal(outq_settle(&f->out), 0);
    memset(buf, 'X', n); /* settled: no answer may show this */
    free(buf);
    return r;
}

/* Feeds bytes[0..n) and checks that all of them were consumed. */
static void feed_all(struct fixture *f, const uint8_t *bytes, size_t n)
{
    assert_int_equal(feed(f, bytes, n), (long)n);
}

/* Writes the whole queue to the socketpair and reads it back into f->got.
 * Returns the number of bytes. */
static size_t take(struct fixture *f)
{
    size_t got = 0;

    do {
        assert_true(outq_flush(&f->out, f->fds[0]) >= 0);
        for (;;) {
            ssize_t r;

            assert_true(got < OUT_MAX);
            r = recv(f->fds[1], f->got + got, OUT_MAX - got, MSG_DONTWAIT);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    } while (outq_bytes(&f->out) > 0);
    return got;
}

/* Checks that f->got[at..) holds one answer with body want[0..len). */
static void assert_answer(const struct fixture *f, size_t at, const void *want,
                          size_t len)
{
    assert_int_equal(proto_get_u32(f->got + at), len);
    assert_memory_equal(f->got + at + PROTO_HEADER_LEN, want, len);
}

static void test_answer_each_action_pipelined(void **state)
{
    struct fixture *f = *state;
    uint8_t in[256];
    size_t n = 0, at = 0;

    n += put_request(in + n, PROTO_UPPERCASE, "Hello, World", 12);
    n += put_request(in + n, PROTO_LOWERCASE, "Hello, World", 12);
    n += put_request(in + n, PROTO_REVERSE, "The LAN Before Time", 19);
    n += put_request(in + n, PROTO_UPPERCASE, "", 0);
    feed_all(f, in, n);
    assert_int_equal(f->ans.requests, 4);
    assert_true(answer_at_boundary(&f->ans));
    assert_int_equal(take(f), 4 * PROTO_HEADER_LEN + 12 + 12 + 19);
    assert_answer(f, at, "HELLO, WORLD", 12);
    at += PROTO_HEADER_LEN + 12;
    assert_answer(f, at, "hello, world", 12);
    at += PROTO_HEADER_LEN + 12;
    assert_answer(f, at, "emiT erofeB NAL ehT", 19);
    at += PROTO_HEADER_LEN + 19;
    assert_answer(f, at, "", 0);
}

static void test_answer_unknown_action_is_error(void **state)
{
    struct fixture *f = *state;
    uint8_t in[64];
    size_t n = 0;

    /* The data of the unknown request is skipped: the next one is read. */
    n += put_request(in + n, 6, "The LAN Before Time", 19);
    n += put_request(in + n, 0, "", 0);
    n += put_request(in + n, PROTO_UPPERCASE, "ok", 2);
    feed_all(f, in, n);
    assert_int_equal(take(f), 2 * (PROTO_HEADER_LEN + 5) + 6);
    assert_answer(f, 0, PROTO_ERROR_TEXT, PROTO_ERROR_LEN);
    assert_answer(f, 9, PROTO_ERROR_TEXT, PROTO_ERROR_LEN);
    assert_answer(f, 18, "OK", 2);
}

static void test_answer_uppercase_streams_across_feeds(void **state)
{
    struct fixture *f = *state;
    uint8_t in[64];
    size_t n = put_request(in, PROTO_UPPERCASE, "streamed data", 13);

    /* Header split, then part of the body: answered as far as it came. */
    feed_all(f, in, 2);
    assert_int_equal(take(f), 0);
    feed_all(f, in + 2, 5);
    assert_false(answer_at_boundary(&f->ans));
    assert_int_equal(take(f), PROTO_HEADER_LEN + 3);
    assert_int_equal(proto_get_u32(f->got), 13);
    assert_memory_equal(f->got + PROTO_HEADER_LEN, "STR", 3);
    /* One byte at a time, then the rest. */
    feed_all(f, in + 7, 1);
    assert_int_equal(take(f), 1);
    assert_memory_equal(f->got, "E", 1);
    feed_all(f, in + 8, n - 8);
    assert_true(answer_at_boundary(&f->ans));
    assert_int_equal(take(f), 9);
    assert_memory_equal(f->got, "AMED DATA", 9);
}

static void test_answer_lowercase_header_in_place(void **state)
{
    struct fixture *f = *state;
    uint8_t in[64];
    size_t n = put_request(in, PROTO_LOWERCASE, "MiXeD", 5);

    /* Header and body in one feed; the next request split off. */
    n += put_request(in + n, PROTO_LOWERCASE, "ABC", 3);
    feed_all(f, in, n - 2);
    feed_all(f, in + n - 2, 2);
    assert_int_equal(take(f), 2 * PROTO_HEADER_LEN + 8);
    assert_answer(f, 0, "mixed", 5);
    assert_answer(f, PROTO_HEADER_LEN + 5, "abc", 3);
}

static void test_answer_reverse_collected_across_feeds(void **state)
{
    struct fixture *f = *state;
    size_t len = 40000; /* above the copy limit: the body is handed over */
    uint8_t *in = malloc(PROTO_HEADER_LEN + len);
    uint8_t *want = malloc(len);
    size_t n;

    assert_non_null(in);
    assert_non_null(want);
    for (size_t i = 0; i < len; i++)
        want[len - 1 - i] = (uint8_t)('a' + i % 26);
    proto_encode_request_header(in, PROTO_REVERSE, (uint32_t)len);
    for (size_t i = 0; i < len; i++)
        in[PROTO_HEADER_LEN + i] = (uint8_t)('a' + i % 26);
    n = PROTO_HEADER_LEN + len;
    feed_all(f, in, 3);
    feed_all(f, in + 3, 1000);
    assert_int_equal(take(f), 0); /* nothing before the whole message */
    feed_all(f, in + 1003, n - 1003);
    assert_int_equal(take(f), n);
    assert_answer(f, 0, want, len);
    free(want);
    free(in);
}

/* Sorts bytes so that two permutations compare equal. */
static int cmp_byte(const void *a, const void *b)
{
    return *(const uint8_t *)a - *(const uint8_t *)b;
}

static void test_answer_shuffle_is_permutation(void **state)
{
    struct fixture *f = *state;
    static const char msg[] = "The LAN Before Time";
    size_t one = PROTO_HEADER_LEN + 19;
    uint8_t in[64], sorted_in[19], sorted_out[19];

    put_request(in, PROTO_SHUFFLE, msg, 19);
    feed_all(f, in, 10); /* split: collected, not in place */
    feed_all(f, in + 10, one - 10);
    feed_all(f, in, one); /* whole: answered in place */
    assert_int_equal(take(f), 2 * one);
    memcpy(sorted_in, in + PROTO_HEADER_LEN, 19);
    qsort(sorted_in, 19, 1, cmp_byte);
    for (size_t at = 0; at < 2 * one; at += one) {
        assert_int_equal(proto_get_u32(f->got + at), 19);
        memcpy(sorted_out, f->got + at + PROTO_HEADER_LEN, 19);
        qsort(sorted_out, 19, 1, cmp_byte);
        assert_memory_equal(sorted_out, sorted_in, 19);
    }
}

static void test_answer_random_draws_from_input(void **state)
{
    struct fixture *f = *state;
    uint8_t in[64];
    size_t n = put_request(in, PROTO_RANDOM, "abcdefgh", 8);
    size_t got, len;

    n += put_request(in + n, PROTO_RANDOM, "", 0);
    feed_all(f, in, n);
    got = take(f);
    len = proto_get_u32(f->got);
    assert_true(len >= 1);
    assert_int_equal(got, (size_t)2 * PROTO_HEADER_LEN + len);
    for (size_t i = 0; i < len; i++)
        assert_non_null(memchr("abcdefgh", f->got[PROTO_HEADER_LEN + i], 8));
    assert_answer(f, PROTO_HEADER_LEN + len, "", 0);
}

static void test_answer_backpressure_at_boundary(void **state)
{
    struct fixture *f = *state;
    size_t len = ANSWER_HIGH_WATER;
    size_t first = PROTO_HEADER_LEN + len;
    uint8_t *in = malloc(first + PROTO_HEADER_LEN + 2);
    uint8_t *buf;
    size_t n;

    assert_non_null(in);
    proto_encode_request_header(in, PROTO_UPPERCASE, (uint32_t)len);
    memset(in + PROTO_HEADER_LEN, 'q', len);
    n = first + put_request(in + first, PROTO_UPPERCASE, "ok", 2);
    /* Kept unsettled: the unconsumed rest must stay where it was. */
    buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, in, n);
    assert_int_equal(answer_feed(&f->ans, buf, n), first);
    assert_true(answer_backpressured(&f->ans));
    assert_int_equal(take(f), first);
    assert_int_equal(proto_get_u32(f->got), len);
    assert_int_equal(f->got[first - 1], 'Q');
    assert_false(answer_backpressured(&f->ans));
    assert_int_equal(answer_feed(&f->ans, buf + first, n - first), n - first);
    assert_int_equal(take(f), PROTO_HEADER_LEN + 2);
    assert_answer(f, 0, "OK", 2);
    free(buf);
    free(in);
}

/*
 * Many small streamed requests in one feed (the fast path): every answer in
 * order, interleaved with requests that take the general path, a partial
 * request at the end kept for the next feed, and every request counted.
 */
static void test_answer_small_pipelined_run(void **state)
{
    struct fixture *f = *state;
    uint8_t in[4096];
    size_t n = 0, at = 0, split, got;
    char want[32];

    for (int i = 0; i < 40; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "Msg %d", i);

        n += put_request(in + n, i % 2 ? PROTO_LOWERCASE : PROTO_UPPERCASE, msg,
                         (size_t)len);
        if (i == 20)
            n += put_request(in + n, PROTO_REVERSE, "abc", 3);
        if (i == 30)
            n += put_request(in + n, 6, "zz", 2);
    }
    /* The last request arrives in two pieces. */
    split = n - 3;
    feed_all(f, in, split);
    feed_all(f, in + split, n - split);
    got = take(f);
    for (int i = 0; i < 40; i++) {
        int len =
            snprintf(want, sizeof(want), "%s %d", i % 2 ? "msg" : "MSG", i);

        assert_answer(f, at, want, (size_t)len);
        at += PROTO_HEADER_LEN + (size_t)len;
        if (i == 20) {
            assert_answer(f, at, "cba", 3);
            at += PROTO_HEADER_LEN + 3;
        }
        if (i == 30) {
            assert_answer(f, at, "error", 5);
            at += PROTO_HEADER_LEN + 5;
        }
    }
    assert_int_equal(got, at);
    assert_int_equal(f->ans.requests, 42);
    assert_true(answer_at_boundary(&f->ans));
}

/*
 * The fast path maps whole groups of requests in one pass, request headers
 * included, so an answer header whose length bytes are letters ('A' = 65,
 * 'a' = 97, 0x4161, ...) must still come out right, also past 64 such
 * headers (where a group ends) and where the action changes mid-run.
 */
static void test_answer_run_headers_with_letter_bytes(void **state)
{
    static const uint32_t lens[] = {0,  1,   16,  64,     65,     90,
                                    97, 122, 300, 0x4141, 0x6161, 0x417a};
    struct fixture *f = *state;
    size_t nlens = sizeof(lens) / sizeof(lens[0]), count = 150, n = 0, at = 0;
    uint8_t *in = malloc((size_t)count * (PROTO_HEADER_LEN + 0x6161));
    uint8_t *msg = malloc(0x6161), *want = malloc(0x6161);

    assert_non_null(in);
    assert_non_null(msg);
    assert_non_null(want);
    for (size_t i = 0; i < 0x6161; i++)
        msg[i] = (uint8_t) "aZ09 mQx"[i % 8];
    for (size_t i = 0; i < count; i++) {
        /* 100 uppercase (more than 64 headers to write again), then
         * lowercase: groups end at both limits. */
        unsigned action = i / 100 % 2 ? PROTO_LOWERCASE : PROTO_UPPERCASE;
        n += put_request(in + n, action, msg, lens[i % nlens]);
    }
    feed_all(f, in, n);
    assert_int_equal(take(f), n);
    for (size_t i = 0; i < count; i++) {
        uint32_t len = lens[i % nlens];
        bool upper = i / 100 % 2 == 0;

        for (uint32_t j = 0; j < len; j++) {
            uint8_t c = msg[j];
            if (upper && c >= 'a' && c <= 'z')
                c = (uint8_t)(c - 'a' + 'A');
            else if (!upper && c >= 'A' && c <= 'Z')
                c = (uint8_t)(c - 'A' + 'a');
            want[j] = c;
        }
        assert_answer(f, at, (const char *)want, len);
        at += PROTO_HEADER_LEN + len;
    }
    assert_int_equal(f->ans.requests, count);
    free(want);
    free(msg);
    free(in);
}

/* Backpressure holds for a run of small requests too: the feed stops at
 * the first request boundary at or past ANSWER_HIGH_WATER queued. */
static void test_answer_small_run_backpressure(void **state)
{
    struct fixture *f = *state;
    size_t each = PROTO_HEADER_LEN + 16, count = 80000, n = 0, stop;
    uint8_t *buf = malloc(each * count);
    long r;

    assert_non_null(buf);
    for (size_t i = 0; i < count; i++)
        n += put_request(buf + n, PROTO_UPPERCASE, "abcdefghijklmnop", 16);
    stop = (ANSWER_HIGH_WATER + each - 1) / each * each;
    r = answer_feed(&f->ans, buf, n);
    assert_int_equal(r, (long)stop);
    assert_int_equal(outq_bytes(&f->out), stop);
    assert_true(answer_backpressured(&f->ans));
    assert_int_equal(f->ans.requests, stop / each);
    assert_int_equal(take(f), stop);
    assert_answer(f, stop - each, "ABCDEFGHIJKLMNOP", 16);
    /* Drained: the rest, at the same address, goes through. */
    assert_int_equal(answer_feed(&f->ans, buf + stop, n - stop),
                     (long)(n - stop));
    assert_int_equal(take(f), n - stop);
    assert_int_equal(f->ans.requests, count);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answer_each_action_pipelined,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_unknown_action_is_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_answer_uppercase_streams_across_feeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_lowercase_header_in_place,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_answer_reverse_collected_across_feeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_shuffle_is_permutation,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_random_draws_from_input,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_backpressure_at_boundary,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_small_pipelined_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_answer_run_headers_with_letter_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_small_run_backpressure,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
