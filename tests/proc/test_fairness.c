/*
 * Fair service (DESIGN.md section 7): a slow or idle client can no longer
 * hold the only worker while others wait, and a fast client is never cut.
 *
 * - With -w 1, a trickler (one byte every 2 s mid-request), a silent client
 *   and a client that never reads a large answer each hold the worker when
 *   a good client arrives: the good client is answered within 15 s and the
 *   slow one is closed, logged at info with its rule and address.
 * - With -w 2, two tricklers and a good client: the same.
 * - Without waiters, a client idle at a request boundary stays connected
 *   past the keepalive timeout, and a trickler at 1 KiB/s completes.
 * - With a client waiting, the maximal request sent whole before reading,
 *   1000 pipelined requests and a stream at loopback speed all complete.
 *
 * Every wait is a bound that polls; the rule values are the defaults
 * (keepalive 5 s, min-rate 500 bytes/s) except where a shorter keepalive
 * keeps the test short without changing what it shows.
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

#include "ensure.h"
#include "harness.h"
#include "net.h"
#include "logtext.h"
#include "proto.h"
#include "wire.h"
#include "wire_stream.h"

/* The bound on the good client's wait behind a slow one. */
#define GOOD_WAIT_MS harness_ms(15000)
/* A trickler sends one byte this often. */
#define TRICKLE_EVERY_MS 2000
/* The maximal request is slow under ASan on a shared machine. */
#define LARGE_IO_MS harness_ms(240000)
#define CHUNK       ((size_t)1 << 20)

static const char good_text[] = "a good client, not to be kept waiting";
static const char good_upper[] = "A GOOD CLIENT, NOT TO BE KEPT WAITING";

/* Server options: -v for the info lines, plus the test's own. */
static struct harness_proc *start(struct harness *h, const char *workers,
                                  const char *keepalive)
{
    const char *extra[] = {"-v",      "-w", workers, "--keepalive-timeout",
                           keepalive, NULL};

    return ensure_start_server(h, extra);
}

/* The local port of a client socket: the server logs it as its address. */
static unsigned port_of(int fd)
{
    int p = net_local_port(fd);

    assert_true(p > 0);
    return (unsigned)p;
}

/*
 * The server's log has a line for the client on port cport that names
 * rule, at info level, and no error or warning at all.
 */
static void expect_rule_logged(const struct harness_proc *srv, const char *rule,
                               unsigned cport)
{
    char addr[64], *log = NULL, *line;
    size_t len;
    bool found = false;

    snprintf(addr, sizeof(addr), "127.0.0.1:%u:", cport);
    assert_int_equal(harness_read_file(srv->err_path, &log, &len), 0);
    for (line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strstr(line, rule) != NULL && strstr(line, addr) != NULL) {
            if (strstr(line, "[INFO worker") == NULL)
                fprintf(stderr, "not at info level: %s\n", line);
            assert_non_null(strstr(line, "[INFO worker"));
            found = true;
        }
        if (strstr(line, "[ERROR") != NULL || strstr(line, "[WARN") != NULL)
            fprintf(stderr, "unexpected: %s\n", line);
        assert_null(strstr(line, "[ERROR"));
        assert_null(strstr(line, "[WARN"));
    }
    free(log);
    if (!found) {
        fprintf(stderr, "no '%s' line for %s\n", rule, addr);
        harness_print_stderr(srv);
    }
    assert_true(found);
}

/* No rule closed the client on port cport. */
static void expect_not_cut(const struct harness_proc *srv, unsigned cport)
{
    char addr[64], *log = NULL;
    size_t len;

    snprintf(addr, sizeof(addr), "127.0.0.1:%u:", cport);
    assert_int_equal(harness_read_file(srv->err_path, &log, &len), 0);
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, addr) != NULL &&
            (strstr(line, "rule") != NULL || strstr(line, "idle for")))
            fprintf(stderr, "cut: %s\n", line);
        assert_false(
            strstr(line, addr) != NULL &&
            (strstr(line, "rule") != NULL || strstr(line, "idle for") != NULL));
    }
    free(log);
}

/* Reads and drops whatever the server still sends on fd until it closes
 * the connection (EOF or reset): 0, or -ETIMEDOUT. */
static int wait_closed_draining(int fd, int timeout_ms)
{
    int64_t end = harness_now_ms() + timeout_ms;
    char buf[4096];

    while (harness_now_ms() < end) {
        ssize_t n;

        if (wire_wait_readable(fd, (int)(end - harness_now_ms())) != 0)
            break;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 0;
    }
    return -ETIMEDOUT;
}

/* Connects and sends the header of a 4096-byte uppercase request and its
 * first byte, read by the server: a worker holds this client now. */
static int start_trickler(struct harness *h, const struct harness_proc *srv)
{
    uint8_t req[5];
    int fd = ensure_connect(h, srv);

    proto_encode_request_header(req, PROTO_UPPERCASE, 4096);
    req[4] = 'x';
    assert_int_equal(wire_send_all(fd, req, sizeof(req), HARNESS_IO_MS), 0);
    assert_int_equal(wire_wait_consumed(fd, srv->port, HARNESS_IO_MS), 0);
    return fd;
}

/* Connects a client that sends a request and waits for its answer. */
static int start_good(struct harness *h, const struct harness_proc *srv)
{
    uint8_t req[4 + sizeof(good_text)];
    int fd = ensure_connect(h, srv);

    wire_encode(req, PROTO_UPPERCASE, good_text, sizeof(good_text) - 1);
    assert_int_equal(
        wire_send_all(fd, req, 4 + sizeof(good_text) - 1, HARNESS_IO_MS), 0);
    return fd;
}

/* Checks the good client's answer (already arrived or on its way). */
static void expect_good_answer(int fd)
{
    ensure_response(fd, good_upper, sizeof(good_upper) - 1);
}

/*
 * Trickles one byte every 2 s on each of the n tricklers until the good
 * client's answer arrives, for at most GOOD_WAIT_MS; then checks the
 * answer and that every trickler was closed.
 */
static void trickle_until_answered(const int *trickler, size_t n, int good)
{
    int64_t end = harness_now_ms() + GOOD_WAIT_MS;
    int64_t next = harness_now_ms() + TRICKLE_EVERY_MS;
    int r = -ETIMEDOUT;

    while (harness_now_ms() < end) {
        int64_t until = next < end ? next : end;

        r = wire_wait_readable(good, (int)(until - harness_now_ms()));
        if (r == 0)
            break;
        if (harness_now_ms() >= next) {
            for (size_t i = 0; i < n; i++)
                (void)send(trickler[i], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            next += TRICKLE_EVERY_MS;
        }
    }
    if (r != 0)
        fprintf(stderr, "the good client waited over %d ms\n", GOOD_WAIT_MS);
    assert_int_equal(r, 0);
    expect_good_answer(good);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(wait_closed_draining(trickler[i], HARNESS_IO_MS), 0);
}

static void test_trickler_yields(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "1", "5");
    int t = start_trickler(h, srv);
    int good = start_good(h, srv);

    trickle_until_answered(&t, 1, good);
    expect_rule_logged(srv, "min-rate rule", port_of(t));
}

static void test_two_tricklers_two_workers(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "2", "5");
    int t[2], good;

    t[0] = start_trickler(h, srv);
    t[1] = start_trickler(h, srv);
    good = start_good(h, srv);
    trickle_until_answered(t, 2, good);
    expect_rule_logged(srv, "min-rate rule", port_of(t[0]));
    expect_rule_logged(srv, "min-rate rule", port_of(t[1]));
}

static void test_silent_client_yields(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "1", "2");
    int silent = ensure_connect(h, srv);
    /* Accepted first: the backlog is served in order. */
    int good = start_good(h, srv);

    assert_int_equal(wire_wait_readable(good, GOOD_WAIT_MS), 0);
    expect_good_answer(good);
    assert_int_equal(wire_wait_closed(silent, HARNESS_IO_MS), 0);
    expect_rule_logged(srv, "keepalive rule", port_of(silent));
}

static void test_non_reader_yields(void **state)
{
    const size_t n = (size_t)16 << 20;
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "1", "2");
    int nr = ensure_connect(h, srv);
    uint8_t *req = malloc(4 + n);
    int good;

    /* A whole large request, read by the worker, whose answer is never
     * read: the worker is stuck writing. */
    assert_non_null(req);
    proto_encode_request_header(req, PROTO_UPPERCASE, (uint32_t)n);
    memset(req + 4, 'a', n);
    assert_int_equal(wire_send_all(nr, req, 4 + n, HARNESS_IO_MS), 0);
    free(req);
    assert_int_equal(wire_wait_consumed(nr, srv->port, HARNESS_IO_MS), 0);

    good = start_good(h, srv);
    assert_int_equal(wire_wait_readable(good, GOOD_WAIT_MS), 0);
    expect_good_answer(good);
    assert_int_equal(wait_closed_draining(nr, HARNESS_IO_MS), 0);
    expect_rule_logged(srv, "keepalive rule", port_of(nr));
}

/*
 * No one waits (-w 2, two clients): one client idles at a request boundary
 * three times the keepalive timeout and is kept; the other trickles a
 * 15 KiB request at 1 KiB/s and gets its whole answer.
 */
static void test_no_waiters_no_cut(void **state)
{
    const uint32_t n = 15 * 1024, piece = 128, every_ms = 125;
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "2", "5");
    int idle = ensure_connect(h, srv), slow;
    uint8_t *req = malloc(4 + n), *up = malloc(n), *got = malloc(4 + n);
    int64_t started, next;

    assert_non_null(req);
    assert_non_null(up);
    assert_non_null(got);
    /* Each client answered once: each holds a worker of its own. */
    assert_int_equal(wire_upper_exchange(idle, "idle", HARNESS_IO_MS), 0);
    slow = ensure_connect(h, srv);
    assert_int_equal(wire_upper_exchange(slow, "slow", HARNESS_IO_MS), 0);

    proto_encode_request_header(req, PROTO_UPPERCASE, n);
    wire_stream_pattern(req + 4, up, n, 0);
    started = next = harness_now_ms();
    for (uint32_t off = 0; off < 4 + n; off += piece) {
        uint32_t k = 4 + n - off < piece ? 4 + n - off : piece;

        while (harness_now_ms() < next)
            harness_pause_ms((int)(next - harness_now_ms()));
        assert_int_equal(wire_send_all(slow, req + off, k, HARNESS_IO_MS), 0);
        next += every_ms;
    }
    assert_int_equal(wire_recv_exact(slow, got, 4 + n, HARNESS_IO_MS),
                     (ssize_t)(4 + n));
    assert_int_equal(proto_get_u32(got), n);
    assert_memory_equal(got + 4, up, n);
    /* Idle since the start, well past the keepalive timeout: still served. */
    assert_true(harness_now_ms() - started >= 10000);
    assert_int_equal(wire_upper_exchange(idle, "still here", HARNESS_IO_MS), 0);
    expect_not_cut(srv, port_of(idle));
    expect_not_cut(srv, port_of(slow));
    free(req);
    free(up);
    free(got);
}

/* A client waits behind the fast one; once the fast one is done (and was
 * never cut), the waiter is answered. */
static void finish_with_waiter(struct harness *h, struct harness_proc *srv,
                               int fast, int waiter)
{
    unsigned fport = port_of(fast);

    assert_int_equal(wire_upper_exchange(fast, "still served", HARNESS_IO_MS),
                     0);
    harness_close_fd(h, fast);
    assert_int_equal(wire_wait_readable(waiter, HARNESS_IO_MS), 0);
    expect_good_answer(waiter);
    expect_not_cut(srv, fport);
}

static void test_fast_maximal_request_with_waiter(void **state)
{
    const size_t n = PROTO_MAX_LEN;
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "1", "5");
    uint8_t *req = malloc(4 + n), *up = malloc(CHUNK), *got = malloc(CHUNK);
    uint8_t hdr[4];
    int fast, waiter;

    assert_non_null(req);
    assert_non_null(up);
    assert_non_null(got);
    proto_encode_request_header(req, PROTO_UPPERCASE, (uint32_t)n);
    wire_stream_pattern(req + 4, NULL, n, 0);
    fast = ensure_connect(h, srv);
    assert_int_equal(wire_upper_exchange(fast, "first", HARNESS_IO_MS), 0);
    waiter = start_good(h, srv);

    /* The whole request before a byte of the answer is read. */
    assert_int_equal(wire_send_all(fast, req, 4 + n, LARGE_IO_MS), 0);
    free(req);
    assert_int_equal(wire_recv_exact(fast, hdr, 4, LARGE_IO_MS), 4);
    assert_int_equal(proto_get_u32(hdr), n);
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t want = n - off < CHUNK ? n - off : CHUNK;

        assert_int_equal(wire_recv_exact(fast, got, want, LARGE_IO_MS),
                         (ssize_t)want);
        wire_stream_pattern(NULL, up, want, off);
        assert_memory_equal(got, up, want);
    }
    free(up);
    free(got);
    finish_with_waiter(h, srv, fast, waiter);
}

static void test_fast_pipeline_with_waiter(void **state)
{
    enum { N = 1000, LEN = 100 };
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "1", "5");
    uint8_t *req = malloc((size_t)N * (4 + LEN)), *up = malloc(LEN), *out;
    size_t out_len = 0;
    int fast, waiter;

    assert_non_null(req);
    assert_non_null(up);
    for (size_t i = 0; i < N; i++) {
        uint8_t *at = req + i * (4 + LEN);

        proto_encode_request_header(at, PROTO_UPPERCASE, LEN);
        wire_stream_pattern(at + 4, NULL, LEN, i);
    }
    fast = ensure_connect(h, srv);
    assert_int_equal(wire_upper_exchange(fast, "first", HARNESS_IO_MS), 0);
    waiter = start_good(h, srv);

    assert_int_equal(wire_pump(fast, req, (size_t)N * (4 + LEN), 0, N, &out,
                               &out_len, HARNESS_IO_MS),
                     0);
    assert_int_equal(out_len, (size_t)N * (4 + LEN));
    for (size_t i = 0; i < N; i++) {
        const uint8_t *at = out + i * (4 + LEN);

        wire_stream_pattern(NULL, up, LEN, i);
        assert_int_equal(proto_get_u32(at), LEN);
        assert_memory_equal(at + 4, up, LEN);
    }
    free(out);
    free(req);
    free(up);
    finish_with_waiter(h, srv, fast, waiter);
}

static void test_fast_stream_with_waiter(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = start(h, "1", "5");
    struct wire_stream s;
    int waiter;

    /* Under way (its answer has begun) before the waiter arrives. */
    assert_int_equal(wire_stream_start(h, srv->port, 64u << 20, 4096, &s), 0);
    waiter = start_good(h, srv);
    assert_int_equal(wire_stream_finish(&s), 0);
    finish_with_waiter(h, srv, s.fd, waiter);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_trickler_yields),
        T(test_two_tricklers_two_workers),
        T(test_silent_client_yields),
        T(test_non_reader_yields),
        T(test_no_waiters_no_cut),
        T(test_fast_maximal_request_with_waiter),
        T(test_fast_pipeline_with_waiter),
        T(test_fast_stream_with_waiter),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
