/*
 * The largest request the protocol allows (2^27 - 1 bytes, uppercase),
 * written completely before a single byte of the answer is read. A worker
 * that stops reading while its output is blocked deadlocks with such a
 * client; DESIGN.md requires it to keep reading and answer in full. The
 * answer is checked as it streams in, so the test holds one copy of the data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ensure.h"
#include "harness.h"
#include "wire.h"
#include "proto.h"

/* Generous: the ASan build on a shared 2-core machine is slow. */
#define LARGE_IO_MS harness_ms(240000)
#define CHUNK       (1u << 20)

/* Mixed-case letters and other bytes; its length divides nothing in sight. */
static const char pattern[] = "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789_!zYxWvU"
                              "tSrQpOnMlKjIhGfEdCbA~";
#define PAT_LEN (sizeof(pattern) - 1)

static uint8_t upper(uint8_t c)
{
    return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Fills buf[0..len) with the pattern by doubling copies. */
static void fill_pattern(uint8_t *buf, size_t len)
{
    size_t have = len < PAT_LEN ? len : PAT_LEN;

    memcpy(buf, pattern, have);
    while (have < len) {
        size_t n = have < len - have ? have : len - have;

        memcpy(buf + have, buf, n);
        have += n;
    }
}

static void test_max_request_written_before_reading(void **state)
{
    const size_t n = PROTO_MAX_LEN;
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t *req = malloc(4 + n), *expect, *got, hdr[4];
    size_t off = 0;
    int r;

    assert_non_null(req);
    proto_encode_request_header(req, PROTO_UPPERCASE, (uint32_t)n);
    fill_pattern(req + 4, n);
    r = wire_send_all(fd, req, 4 + n, LARGE_IO_MS);
    if (r < 0)
        fprintf(stderr, "writing the request failed: %s (deadlock?)\n",
                strerror(-r));
    assert_int_equal(r, 0);
    free(req);

    /* Expected bytes at offset off start at expect[off % PAT_LEN]. */
    expect = malloc(CHUNK + PAT_LEN);
    got = malloc(CHUNK);
    assert_non_null(expect);
    assert_non_null(got);
    for (size_t i = 0; i < CHUNK + PAT_LEN; i++)
        expect[i] = upper((uint8_t)pattern[i % PAT_LEN]);

    assert_int_equal(wire_recv_exact(fd, hdr, 4, LARGE_IO_MS), 4);
    assert_int_equal(proto_get_u32(hdr), n);
    while (off < n) {
        size_t want = n - off < CHUNK ? n - off : CHUNK;
        ssize_t g = wire_recv_exact(fd, got, want, LARGE_IO_MS);

        if (g != (ssize_t)want)
            fprintf(stderr, "answer cut short at byte %zu of %zu: %s\n",
                    off + (g > 0 ? (size_t)g : 0), n,
                    g < 0 ? strerror((int)-g) : "connection closed");
        assert_int_equal(g, (ssize_t)want);
        if (memcmp(got, expect + off % PAT_LEN, want) != 0) {
            size_t i = 0;

            while (got[i] == expect[off % PAT_LEN + i])
                i++;
            fprintf(stderr,
                    "answer differs at byte %zu: got 0x%02x, "
                    "expected 0x%02x\n",
                    off + i, got[i], expect[off % PAT_LEN + i]);
            fail();
        }
        off += want;
    }
    free(expect);
    free(got);
    /* The connection goes on serving. */
    ensure_exchange(fd, PROTO_LOWERCASE, "DONE", 4, "done", 4);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_max_request_written_before_reading),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
