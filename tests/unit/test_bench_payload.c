/*
 * The request image tcp_bench sends (tools/bench_payload.c), gathered
 * through bench_payload_iov a few iovecs at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench_payload.h"
#include "proto.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_payload_iov_window),
        cmocka_unit_test(test_bench_payload_iov_periodic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
