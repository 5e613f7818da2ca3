/*
 * Serving rules of the worker (DESIGN.md section 2, "Serving rules"):
 * pipelining, a client that writes a large request before reading, requests
 * trickled one byte at a time, clients that vanish mid-request or reset the
 * connection, and the idle timeout. Each test starts its own server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "procfs.h"
#include "wire.h"
#include "proto.h"

/* Writing a large request may wait for the server; be generous. */
#define BIG_IO_MS harness_ms(60000)

static void test_pipelined_actions(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t buf[256], *resp = NULL;
    size_t off = 0;
    uint32_t len;

    /* Four different actions in a single write. */
    wire_encode(buf + off, PROTO_UPPERCASE, "First one", 9);
    off += 4 + 9;
    wire_encode(buf + off, PROTO_LOWERCASE, "SECOND One", 10);
    off += 4 + 10;
    wire_encode(buf + off, PROTO_REVERSE, "third", 5);
    off += 4 + 5;
    wire_encode(buf + off, PROTO_SHUFFLE, "abcd", 4);
    off += 4 + 4;
    assert_int_equal(wire_send_all(fd, buf, off, HARNESS_IO_MS), 0);

    ensure_response(fd, "FIRST ONE", 9);
    ensure_response(fd, "second one", 10);
    ensure_response(fd, "driht", 5);
    assert_int_equal(wire_read_response(fd, &resp, &len, HARNESS_IO_MS), 0);
    assert_int_equal(len, 4);
    for (const char *c = "abcd"; *c != '\0'; c++)
        assert_non_null(memchr(resp, *c, 4));
    free(resp);
}

/* Fills buf with mixed-case letters and returns what uppercase gives. */
static void fill_letters(uint8_t *buf, uint8_t *upper, size_t len)
{
    static const char pat[] = "aBcDeFgHiJkLmNoPqRsTuVwXyZ-0123456789 zYxW";

    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)pat[i % (sizeof(pat) - 1)];
        upper[i] = buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 'a' + 'A' : buf[i];
    }
}

static void test_write_480k_before_reading(void **state)
{
    const size_t n = (size_t)480 * 1024;
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t *req = malloc(4 + n), *want = malloc(n), *got = malloc(n), hdr[4];

    assert_non_null(req);
    assert_non_null(want);
    assert_non_null(got);
    fill_letters(req + 4, want, n);
    proto_encode_request_header(req, PROTO_UPPERCASE, (uint32_t)n);
    /* The whole request goes out before a single byte is read. */
    assert_int_equal(wire_send_all(fd, req, 4 + n, BIG_IO_MS), 0);
    assert_int_equal(wire_recv_exact(fd, hdr, 4, BIG_IO_MS), 4);
    assert_int_equal(proto_get_u32(hdr), n);
    assert_int_equal(wire_recv_exact(fd, got, n, BIG_IO_MS), (ssize_t)n);
    assert_memory_equal(got, want, n);
    /* The connection goes on serving. */
    ensure_exchange(fd, PROTO_REVERSE, "ok", 2, "ko", 2);
    free(req);
    free(want);
    free(got);
}

static void test_trickled_bytes(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t buf[128];
    size_t off = 0;

    wire_encode(buf + off, PROTO_REVERSE, "hello world", 11);
    off += 4 + 11;
    wire_encode(buf + off, PROTO_LOWERCASE, NULL, 0);
    off += 4;
    wire_encode(buf + off, PROTO_UPPERCASE, "abc\xc3\xa9", 5);
    off += 4 + 5;
    /* One byte per segment (TCP_NODELAY), paced so each one travels alone. */
    for (size_t i = 0; i < off; i++) {
        assert_int_equal(wire_send_all(fd, buf + i, 1, HARNESS_IO_MS), 0);
        harness_pause_ms(2);
    }
    ensure_response(fd, "dlrow olleh", 11);
    ensure_response(fd, NULL, 0);
    ensure_response(fd, "ABC\xc3\xa9", 5);
}

static void test_header_and_body_apart(void **state)
{
    static const char body[] = "Header, then body";
    static const char rev[] = "ydob neht ,redaeH";
    static const unsigned actions[] = {PROTO_UPPERCASE, PROTO_LOWERCASE,
                                       PROTO_REVERSE, 6};
    static const char *const want[] = {"HEADER, THEN BODY", "header, then body",
                                       rev, PROTO_ERROR_TEXT};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);

    /*
     * The header in one segment and the whole body in the next: the worker
     * sees them in two reads (the pause only makes that likely; the answer
     * must be right whatever the split).
     */
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        uint8_t hdr[4];

        proto_encode_request_header(hdr, actions[i], sizeof(body) - 1);
        assert_int_equal(wire_send_all(fd, hdr, 4, HARNESS_IO_MS), 0);
        harness_pause_ms(20);
        assert_int_equal(
            wire_send_all(fd, body, sizeof(body) - 1, HARNESS_IO_MS), 0);
        ensure_response(fd, want[i], strlen(want[i]));
    }
    /* And for shuffle, a permutation of the same bytes. */
    for (int round = 0; round < 3; round++) {
        uint8_t hdr[4], *resp = NULL;
        uint32_t len;
        unsigned count[256] = {0};

        proto_encode_request_header(hdr, PROTO_SHUFFLE, sizeof(body) - 1);
        assert_int_equal(wire_send_all(fd, hdr, 4, HARNESS_IO_MS), 0);
        harness_pause_ms(20);
        assert_int_equal(
            wire_send_all(fd, body, sizeof(body) - 1, HARNESS_IO_MS), 0);
        assert_int_equal(wire_read_response(fd, &resp, &len, HARNESS_IO_MS), 0);
        if (len != sizeof(body) - 1)
            ensure_print_bytes("shuffle answer", resp, len, 256);
        assert_int_equal(len, sizeof(body) - 1);
        for (uint32_t k = 0; k < len; k++)
            count[resp[k]]++;
        for (size_t k = 0; k < sizeof(body) - 1; k++)
            count[(uint8_t)body[k]]--;
        for (size_t k = 0; k < 256; k++)
            if (count[k] != 0) {
                ensure_print_bytes("shuffle answer is not a permutation", resp,
                                   len, 256);
                fail();
            }
        free(resp);
    }
}

static void test_thousand_requests_one_write(void **state)
{
    enum { N = 1000 };
    static const unsigned actions[] = {PROTO_UPPERCASE, PROTO_LOWERCASE,
                                       PROTO_REVERSE, 6};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd = ensure_connect(h, srv);
    uint8_t *buf = malloc((size_t)N * 64);
    size_t off = 0;

    assert_non_null(buf);
    for (int i = 0; i < N; i++) {
        char data[48];
        int len = snprintf(data, sizeof(data), "Request %d of %d%.*s", i, N,
                           i % 17, "-xY-xY-xY-xY-xY-xY");

        wire_encode(buf + off, actions[i % 4], data, (uint32_t)len);
        off += 4 + (size_t)len;
    }
    assert_int_equal(wire_send_all(fd, buf, off, BIG_IO_MS), 0);
    for (int i = 0; i < N; i++) {
        char data[48], want[48];
        int len = snprintf(data, sizeof(data), "Request %d of %d%.*s", i, N,
                           i % 17, "-xY-xY-xY-xY-xY-xY");

        for (int k = 0; k < len; k++) {
            char c = data[k];

            if (actions[i % 4] == PROTO_UPPERCASE)
                want[k] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
            else if (actions[i % 4] == PROTO_LOWERCASE)
                want[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            else
                want[k] = data[len - 1 - k];
        }
        if (actions[i % 4] == 6)
            ensure_response(fd, PROTO_ERROR_TEXT, PROTO_ERROR_LEN);
        else
            ensure_response(fd, want, (size_t)len);
    }
    free(buf);
}

/* The single worker of srv, or a failed test. */
static pid_t only_worker(const struct harness_proc *srv)
{
    pid_t pids[4];
    int n = procfs_children(srv->pid, pids, 4);

    assert_int_equal(n, 1);
    return pids[0];
}

static void test_client_vanishes_mid_request(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    pid_t worker = only_worker(srv);
    uint8_t req[4 + 1000], *big;
    const size_t big_n = 4u << 20;
    int fd;

    /* Header and half the data, then a plain close. */
    memset(req + 4, 'q', 1000);
    proto_encode_request_header(req, PROTO_UPPERCASE, 1000);
    fd = ensure_connect(h, srv);
    assert_int_equal(wire_send_all(fd, req, 4 + 500, HARNESS_IO_MS), 0);
    harness_close_fd(h, fd);

    /* Two header bytes, then a reset. */
    fd = ensure_connect(h, srv);
    assert_int_equal(wire_send_all(fd, req, 2, HARNESS_IO_MS), 0);
    assert_int_equal(wire_reset_close(h, fd), 0);

    /* Half a reverse request (buffered by the worker), then a reset. */
    proto_encode_request_header(req, PROTO_REVERSE, 1000);
    fd = ensure_connect(h, srv);
    assert_int_equal(wire_send_all(fd, req, 4 + 500, HARNESS_IO_MS), 0);
    assert_int_equal(wire_reset_close(h, fd), 0);

    /*
     * A whole 4 MiB request, never read, then a reset: the worker's sends
     * then fail with EPIPE or ECONNRESET, which must not kill it (SIGPIPE).
     */
    big = malloc(4 + big_n);
    assert_non_null(big);
    memset(big + 4, 'w', big_n);
    proto_encode_request_header(big, PROTO_UPPERCASE, (uint32_t)big_n);
    fd = ensure_connect(h, srv);
    assert_int_equal(wire_send_all(fd, big, 4 + big_n, BIG_IO_MS), 0);
    free(big);
    assert_int_equal(wire_reset_close(h, fd), 0);

    /* The next client is served, by the same worker. */
    ensure_exchange_once(h, srv, PROTO_UPPERCASE, "still here", 10,
                         "STILL HERE", 10);
    assert_int_equal(only_worker(srv), worker);
}

/*
 * What a balancer's health check does (send one request, read the answer,
 * then reset or close): never a warning or an error in the server's log,
 * and with -v the reset shows at debug level.
 */
static void test_health_check_resets_not_warned(void **state)
{
    static const char *const extra[] = {"-v", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, extra);
    char *text = NULL;
    size_t len;
    int fd;

    for (int i = 0; i < 20; i++) {
        fd = ensure_connect(h, srv);
        ensure_exchange(fd, PROTO_UPPERCASE, "ping", 4, "PING", 4);
        if (i % 2 == 0)
            assert_int_equal(wire_reset_close(h, fd), 0);
        else
            harness_close_fd(h, fd);
    }
    /* One worker: once this is answered, every check above was handled. */
    ensure_exchange_once(h, srv, PROTO_UPPERCASE, "last", 4, "LAST", 4);
    assert_int_equal(harness_read_file(srv->err_path, &text, &len), 0);
    assert_non_null(text);
    if (strstr(text, "[WARN") != NULL || strstr(text, "[ERROR") != NULL) {
        harness_print_stderr(srv);
        free(text);
        fail_msg("a health check caused a warning or an error");
    }
    assert_non_null(strstr(text, "reset between requests"));
    free(text);
}

static void test_idle_timeout(void **state)
{
    static const char *const extra[] = {"--idle-timeout", "1", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, extra);
    int idle, waiting, active, r;
    int64_t t0, elapsed;

    /* A silent client holds the only worker; the next one waits behind. */
    t0 = harness_now_ms();
    idle = ensure_connect(h, srv);
    waiting = ensure_connect(h, srv);
    {
        uint8_t req[4 + 4];

        wire_encode(req, PROTO_UPPERCASE, "next", 4);
        assert_int_equal(wire_send_all(waiting, req, 8, HARNESS_IO_MS), 0);
    }
    r = wire_wait_closed(idle, harness_ms(10000));
    elapsed = harness_now_ms() - t0;
    if (r != 0)
        fprintf(stderr, "silent client not disconnected: %s\n", strerror(-r));
    assert_int_equal(r, 0);
    /* Not before the timeout itself (a lower bound, not a speed check). */
    assert_true(elapsed >= 900);
    harness_close_fd(h, idle);

    ensure_response(waiting, "NEXT", 4);
    harness_close_fd(h, waiting);

    /* A client that keeps talking is not idle. */
    active = ensure_connect(h, srv);
    for (int i = 0; i < 8; i++) {
        ensure_exchange(active, PROTO_REVERSE, "ab", 2, "ba", 2);
        harness_pause_ms(300);
    }
    /* Then silence ends it too. */
    assert_int_equal(wire_wait_closed(active, harness_ms(10000)), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pipelined_actions),
        T(test_write_480k_before_reading),
        T(test_trickled_bytes),
        T(test_header_and_body_apart),
        T(test_thousand_requests_one_write),
        T(test_client_vanishes_mid_request),
        T(test_idle_timeout),
        T(test_health_check_resets_not_warned),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
