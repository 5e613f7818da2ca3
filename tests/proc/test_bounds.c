/*
 * Resource bounds of the server (the hardening issue): a silent client is
 * dropped after --idle-timeout and does not hold up a shutdown; a header
 * announcing a huge body costs only what actually arrived; a client that
 * pipelines without ever reading is held back so the worker's memory stays
 * bounded; the random action obeys its repeat cap; descriptors do not leak
 * across many connections. Memory is read from /proc/PID/status of the
 * worker; the figures are printed because docs/ quote them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "logtext.h"
#include "procfs.h"
#include "wire.h"
#include "proto.h"

#define KIB 1024L
#define MIB (1024L * 1024L)
/* Large transfers on a loaded machine (and under ASan) take a while. */
#define BIG_IO_MS harness_ms(60000)
/* The random action's documented repeat cap (docs/protocol.md). */
#define RANDOM_CAP 65536
/* Requests of the non-reading pipelining client. */
#define PIPE_REQ_LEN 65536
/* Upper bound on what that client writes, should backpressure be missing. */
#define PIPE_MAX_REQS 4096

/* The single worker of srv, or a failed test. */
static pid_t only_worker(struct harness_proc *srv)
{
    pid_t pids[4];
    int n;

    assert_int_equal(harness_wait_children(srv, 1, HARNESS_READY_MS), 1);
    n = procfs_children(srv->pid, pids, 4);
    assert_int_equal(n, 1);
    return pids[0];
}

/* A /proc/PID/status figure in KiB, or a failed test. */
static long status_kb(pid_t pid, const char *field)
{
    long kb = procfs_status_kb(pid, field);

    if (kb < 0)
        fprintf(stderr, "cannot read %s of pid %ld: %s\n", field, (long)pid,
                strerror((int)-kb));
    assert_true(kb >= 0);
    return kb;
}

/*
 * Starts a server whose memory figures measure the worker, not the
 * allocator under test. ASan's quarantine keeps every freed block resident
 * (256 MiB by default), so a buffer grown by doubling leaves each old copy
 * behind and VmRSS approaches three times what arrived, by an amount that
 * depends on how the reads split. These tests measure the server's buffers;
 * the rest of the suite keeps the quarantine for use-after-free detection.
 */
static struct harness_proc *start_measured_server(struct harness *h)
{
#ifdef TCP_SERVER_TEST_SANITIZED
    const char *old = getenv("ASAN_OPTIONS");
    char *saved = old != NULL ? strdup(old) : NULL;
    char opts[512];
    struct harness_proc *srv;
    int n;

    assert_true(old == NULL || saved != NULL);
    n = snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0",
                 old != NULL ? old : "", old != NULL && *old ? ":" : "");
    assert_true(n > 0 && (size_t)n < sizeof(opts));
    assert_int_equal(setenv("ASAN_OPTIONS", opts, 1), 0);
    srv = ensure_start_server(h, NULL);
    if (saved != NULL)
        assert_int_equal(setenv("ASAN_OPTIONS", saved, 1), 0);
    else
        assert_int_equal(unsetenv("ASAN_OPTIONS"), 0);
    free(saved);
    return srv;
#else
    return ensure_start_server(h, NULL);
#endif
}

/* Waits until the server has read everything sent on fd, or fails. */
static void wait_consumed(int fd, const struct harness_proc *srv, int ms)
{
    int r = wire_wait_consumed(fd, srv->port, ms);

    if (r < 0)
        fprintf(stderr, "the worker did not read what was sent: %s\n",
                strerror(-r));
    assert_int_equal(r, 0);
}

/* Fails unless the captured stderr of p has no ERROR or WARN line. */
static void assert_no_complaint(const struct harness_proc *p)
{
    char *err = NULL;
    size_t len;

    assert_int_equal(harness_read_file(p->err_path, &err, &len), 0);
    if (strstr(err, "ERROR") != NULL || strstr(err, "WARN") != NULL)
        fprintf(stderr, "unexpected log lines:\n%s\n", err);
    assert_null(strstr(err, "ERROR"));
    assert_null(strstr(err, "WARN"));
    free(err);
}

static void reset_close(struct harness *h, int fd)
{
    assert_int_equal(wire_reset_close(h, fd), 0);
}

static void test_silent_client_dropped(void **state)
{
    static const char *const extra[] = {"--idle-timeout", "1", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, extra);
    pid_t worker = only_worker(srv);
    int64_t t0, elapsed;
    int fd, r;

    t0 = harness_now_ms();
    fd = ensure_connect(h, srv);
    r = wire_wait_closed(fd, harness_ms(10000));
    elapsed = harness_now_ms() - t0;
    if (r != 0)
        fprintf(stderr, "silent client not dropped: %s\n", strerror(-r));
    assert_int_equal(r, 0);
    fprintf(stderr, "silent client dropped after %lld ms (--idle-timeout 1)\n",
            (long long)elapsed);
    /* Not before the timeout (a lower bound, not a speed check). */
    assert_true(elapsed >= 900);
    harness_close_fd(h, fd);

    /* The worker is free again, and it is the same one. */
    ensure_exchange_once(h, srv, PROTO_UPPERCASE, "next", 4, "NEXT", 4);
    assert_int_equal(only_worker(srv), worker);
}

static void test_silent_client_does_not_delay_shutdown(void **state)
{
    /* Timeouts far beyond the bound below: only a prompt stop passes. */
    static const char *const extra[] = {
        "-v", "--idle-timeout", "600", "--shutdown-timeout", "600", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, extra);
    pid_t worker = only_worker(srv);
    int64_t t0, elapsed, deadline;
    char *err = NULL;
    size_t len;
    int fd, base, r;

    assert_int_equal(procfs_wait_in_accept(worker, HARNESS_IO_MS), 0);
    base = procfs_count_fds(worker);
    assert_true(base > 0);
    fd = ensure_connect(h, srv);
    /* The worker holds the connection once it has one descriptor more. */
    deadline = harness_now_ms() + HARNESS_IO_MS;
    while (procfs_count_fds(worker) != base + 1) {
        assert_true(harness_now_ms() < deadline);
        harness_pause_ms(10);
    }
    /* Past the first-byte grace, which would otherwise keep it a second. */
    harness_pause_ms(1200);

    t0 = harness_now_ms();
    assert_int_equal(harness_kill(srv, SIGINT, false), 0);
    r = harness_wait_exit(srv, harness_ms(10000));
    elapsed = harness_now_ms() - t0;
    if (r != 0)
        harness_print_stderr(srv);
    assert_int_equal(r, 0);
    fprintf(stderr,
            "SIGINT to both processes gone with a silent client "
            "connected: %lld ms\n",
            (long long)elapsed);
    assert_true(WIFEXITED(srv->status));
    assert_int_equal(WEXITSTATUS(srv->status), 0);
    /* The supervisor waits for its workers: this one is gone, with 0. */
    assert_false(procfs_pid_alive(worker));
    assert_int_equal(harness_read_file(srv->err_path, &err, &len), 0);
    if (!logtext_line_has(err, "exited with status 0", (long)worker))
        fprintf(stderr, "no clean exit of worker %ld logged:\n%s\n",
                (long)worker, err);
    assert_true(logtext_line_has(err, "exited with status 0", (long)worker));
    free(err);
    /* And the silent client was closed, not left hanging. */
    assert_int_equal(wire_wait_closed(fd, HARNESS_IO_MS), 0);
}

/* Fills buf with n letters of a pattern that does not repeat at 4 KiB. */
static void fill_pattern(uint8_t *buf, size_t n, size_t seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)('a' + (i * 7 + i / 4099 + seed) % 26);
}

/* Warms the worker's read buffer with a 300 KiB exchange on fd. */
static void warm_up(int fd)
{
    const size_t n = 300 * KIB;
    uint8_t *in = malloc(n), *want = malloc(n);

    assert_non_null(in);
    assert_non_null(want);
    fill_pattern(in, n, 0);
    for (size_t i = 0; i < n; i++)
        want[i] = (uint8_t)(in[i] - 'a' + 'A');
    ensure_exchange(fd, PROTO_UPPERCASE, in, n, want, n);
    free(in);
    free(want);
}

static void test_announced_length_not_allocated(void **state)
{
    const size_t first = 4 * KIB, more = 32 * MIB;
    struct harness *h = *state;
    struct harness_proc *srv = start_measured_server(h);
    pid_t worker = only_worker(srv);
    long rss0, size0, rss1, size1, rss2, size2;
    uint8_t *data = malloc(more), hdr[4];
    int fd = ensure_connect(h, srv);

    assert_non_null(data);
    warm_up(fd);
    rss0 = status_kb(worker, "VmRSS");
    size0 = status_kb(worker, "VmSize");

    /* reverse must collect the whole body: announce the maximum. */
    proto_encode_request_header(hdr, PROTO_REVERSE, PROTO_MAX_LEN);
    fill_pattern(data, more, 1);
    assert_int_equal(wire_send_all(fd, hdr, 4, HARNESS_IO_MS), 0);
    assert_int_equal(wire_send_all(fd, data, first, HARNESS_IO_MS), 0);
    wait_consumed(fd, srv, HARNESS_IO_MS);
    rss1 = status_kb(worker, "VmRSS");
    size1 = status_kb(worker, "VmSize");
    fprintf(stderr,
            "header for %u bytes + %zu KiB arrived: worker VmRSS %ld -> %ld "
            "KiB, VmSize %ld -> %ld KiB\n",
            PROTO_MAX_LEN, first / KIB, rss0, rss1, size0, size1);
    /* VmSize too: an untouched allocation of L bytes is not resident. */
    assert_true(rss1 - rss0 < 16 * MIB / KIB);
    assert_true(size1 - size0 < 16 * MIB / KIB);

    assert_int_equal(wire_send_all(fd, data, more, BIG_IO_MS), 0);
    wait_consumed(fd, srv, BIG_IO_MS);
    rss2 = status_kb(worker, "VmRSS");
    size2 = status_kb(worker, "VmSize");
    fprintf(stderr,
            "%zu MiB more arrived: worker VmRSS %ld KiB (+%ld), VmSize %ld "
            "KiB (+%ld)\n",
            more / MIB, rss2, rss2 - rss0, size2, size2 - size0);
    /* It holds what arrived (the measurement sees the body) ... */
    assert_true(rss2 - rss0 >= (long)(more / KIB) * 3 / 4);
    free(data);
    /* ... and grows with that, not with the 128 MiB announced: the body
     * buffer doubles, so its capacity is below twice what arrived. */
#ifdef TCP_SERVER_TEST_SANITIZED
    /* Plus ASan's shadow (1/8) and allocator metadata. */
    assert_true(rss2 - rss0 < (long)(2 * more / KIB) + 16 * MIB / KIB);
#else
    assert_true(rss2 - rss0 < (long)(2 * more / KIB));
#endif
    assert_true(size2 - size0 < (long)(2 * more / KIB) + 16 * MIB / KIB);

    /* The client gives up; the next one is served by the same worker. */
    reset_close(h, fd);
    fd = ensure_connect(h, srv);
    ensure_exchange(fd, PROTO_REVERSE, "abc", 3, "cba", 3);
    harness_close_fd(h, fd);
    fprintf(stderr, "after that client left: worker VmRSS %ld KiB\n",
            status_kb(worker, "VmRSS"));
    assert_int_equal(only_worker(srv), worker);
}

/* Request i of the pipelining client: uppercase of a pattern tied to i. */
static void pipe_request(uint8_t *req, size_t i)
{
    proto_encode_request_header(req, PROTO_UPPERCASE, PIPE_REQ_LEN);
    fill_pattern(req + 4, PIPE_REQ_LEN, i);
}

/*
 * Writes pipelined requests without reading until the socket has refused
 * more for a second. Returns the bytes written; *nreq counts the requests
 * begun (the last one may be partial).
 */
static size_t write_until_full(int fd, size_t *nreq)
{
    const size_t rlen = 4 + PIPE_REQ_LEN;
    uint8_t *req = malloc(rlen);
    size_t total = 0, off = rlen;

    assert_non_null(req);
    *nreq = 0;
    for (;;) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        ssize_t n;

        if (off == rlen) {
            if (*nreq == PIPE_MAX_REQS)
                break;
            pipe_request(req, (*nreq)++);
            off = 0;
        }
        n = send(fd, req + off, rlen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            total += (size_t)n;
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
        if (poll(&pfd, 1, 1000) == 0)
            break;
    }
    free(req);
    if (off == 0)
        (*nreq)--; /* begun in name only */
    return total;
}

/* Checks the answers to requests 0..n-1 of the pipelining client. */
static void check_pipe_answers(const uint8_t *buf, size_t len, size_t n)
{
    uint8_t *want = malloc(PIPE_REQ_LEN);
    size_t at = 0;

    assert_non_null(want);
    for (size_t i = 0; i < n; i++) {
        assert_true(len - at >= 4 + PIPE_REQ_LEN);
        assert_int_equal(proto_get_u32(buf + at), PIPE_REQ_LEN);
        fill_pattern(want, PIPE_REQ_LEN, i);
        for (size_t k = 0; k < PIPE_REQ_LEN; k++)
            want[k] = (uint8_t)(want[k] - 'a' + 'A');
        if (memcmp(buf + at + 4, want, PIPE_REQ_LEN) != 0) {
            fprintf(stderr, "answer %zu of %zu is wrong\n", i, n);
            ensure_print_bytes("got", buf + at + 4, PIPE_REQ_LEN, 64);
            ensure_print_bytes("expected", want, PIPE_REQ_LEN, 64);
            fail();
        }
        at += 4 + PIPE_REQ_LEN;
    }
    assert_int_equal(at, len);
    free(want);
}

static void test_pipelining_without_reading_is_bounded(void **state)
{
    const size_t rlen = 4 + PIPE_REQ_LEN;
    struct harness *h = *state;
    struct harness_proc *srv = start_measured_server(h);
    pid_t worker = only_worker(srv);
    int fd = ensure_connect(h, srv);
    long rss0, hwm, rss;
    size_t written, nreq, rest;
    uint8_t *req, *out = NULL;
    size_t out_len;
    int r;

    warm_up(fd);
    rss0 = status_kb(worker, "VmRSS");
    written = write_until_full(fd, &nreq);
    hwm = status_kb(worker, "VmHWM");
    rss = status_kb(worker, "VmRSS");
    fprintf(stderr,
            "non-reading client: %zu requests of 64 KiB (%zu KiB) written "
            "before the socket stayed full; worker VmHWM %ld KiB, VmRSS %ld "
            "KiB (VmRSS before: %ld KiB, peak growth %ld KiB)\n",
            nreq, written / KIB, hwm, rss, rss0, hwm - rss0);
    /* Backpressure held the writer back long before the safety cap. */
    assert_true(nreq < PIPE_MAX_REQS);
    assert_true(hwm - rss0 < 16 * MIB / KIB);
#ifndef TCP_SERVER_TEST_SANITIZED
    /* Absolute, where no sanitizer shadow memory inflates the figure. */
    assert_true(hwm < 16 * MIB / KIB);
#endif

    /* Send the rest of the last request while reading every answer. */
    rest = nreq * rlen - written;
    req = malloc(rlen);
    assert_non_null(req);
    pipe_request(req, nreq - 1);
    /* Data flows all along: ten seconds without any is a stall. */
    r = wire_pump(fd, req + rlen - rest, rest, 0, nreq, &out, &out_len,
                  HARNESS_IO_MS);
    free(req);
    if (r < 0) {
        free(out);
        out = NULL;
        fprintf(stderr,
                "reading the answers back: %s after %zu of %zu answers "
                "(%zu bytes) arrived\n",
                strerror(-r), out_len / rlen, nreq, out_len);
    }
    assert_int_equal(r, 0);
    check_pipe_answers(out, out_len, nreq);
    free(out);
    ensure_exchange(fd, PROTO_LOWERCASE, "DONE", 4, "done", 4);
    assert_int_equal(only_worker(srv), worker);
}

/*
 * Checks a random answer to the alphabet repeated: every maximal run of one
 * letter is at most the cap, and the runs' letters follow the input in
 * order. Returns the longest run.
 */
static size_t check_random_runs(const uint8_t *in, size_t in_len,
                                const uint8_t *out, size_t out_len)
{
    size_t pos = 0, longest = 0;

    for (size_t i = 0; i < out_len;) {
        size_t run = 1;

        while (i + run < out_len && out[i + run] == out[i])
            run++;
        if (run > RANDOM_CAP)
            fprintf(stderr, "run of %zu '%c' at offset %zu\n", run, out[i], i);
        assert_true(run <= RANDOM_CAP);
        if (run > longest)
            longest = run;
        while (pos < in_len && in[pos] != out[i])
            pos++;
        if (pos == in_len)
            fprintf(stderr, "'%c' at offset %zu is not from the input\n",
                    out[i], i);
        assert_true(pos < in_len);
        pos++;
        i += run;
    }
    return longest;
}

static void test_random_repeat_cap(void **state)
{
    static const char *const extra[] = {"--seed", "20261125", NULL};
    const size_t n = 4 * MIB;
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, extra);
    int fd = ensure_connect(h, srv);
    uint8_t *in = malloc(n), *req = malloc(4 + n);
    size_t longest = 0;

    assert_non_null(in);
    assert_non_null(req);
    /* Distinct neighbours: two equal letters merge only if 25 drop. */
    for (size_t i = 0; i < n; i++)
        in[i] = (uint8_t)('a' + i % 26);
    wire_encode(req, PROTO_RANDOM, in, (uint32_t)n);
    /*
     * About 9 capped repeats are expected per 4 MiB; a few requests make
     * missing the cap altogether vanishingly unlikely for any generator.
     */
    for (int round = 0; round < 4 && longest < RANDOM_CAP; round++) {
        uint8_t *out = NULL;
        size_t out_len, l;
        int r;

        r = wire_pump(fd, req, 4 + n, 0, 1, &out, &out_len, BIG_IO_MS);
        assert_int_equal(r, 0);
        assert_int_equal(proto_get_u32(out), out_len - 4);
        l = check_random_runs(in, n, out + 4, out_len - 4);
        fprintf(stderr,
                "random of %zu MiB: %zu bytes out (%.2fx), longest run %zu\n",
                n / MIB, out_len - 4, (double)(out_len - 4) / (double)n, l);
        if (l > longest)
            longest = l;
        free(out);
    }
    /* The cap is the documented one, not something smaller. */
    assert_int_equal(longest, RANDOM_CAP);
    free(in);
    free(req);
}

/* One short connection of the descriptor test; kind picks its ending. */
static void short_connection(struct harness *h, struct harness_proc *srv,
                             unsigned kind)
{
    uint8_t req[4 + 64];
    int fd = ensure_connect(h, srv);

    wire_encode(req, PROTO_REVERSE,
                "0123456789abcdef0123456789abcdef"
                "0123456789abcdef0123456789abcdef",
                64);
    switch (kind) {
    case 0: /* half a request, then a plain close */
        assert_int_equal(wire_send_all(fd, req, 20, HARNESS_IO_MS), 0);
        harness_close_fd(h, fd);
        break;
    case 1: /* half a request, then a reset */
        assert_int_equal(wire_send_all(fd, req, 20, HARNESS_IO_MS), 0);
        reset_close(h, fd);
        break;
    case 2: /* a whole request, never read, then a reset */
        assert_int_equal(wire_send_all(fd, req, sizeof(req), HARNESS_IO_MS), 0);
        reset_close(h, fd);
        break;
    case 3: /* nothing at all */
        harness_close_fd(h, fd);
        break;
    case 4: /* a reset before any byte */
        reset_close(h, fd);
        break;
    default: /* one exchange, then close */
        ensure_exchange(fd, PROTO_UPPERCASE, "fd", 2, "FD", 2);
        harness_close_fd(h, fd);
        break;
    }
}

/*
 * The descriptor count of pid once it has stayed the same for five reads
 * 20 ms apart (or after HARNESS_IO_MS): the supervisor briefly holds a few
 * more while it takes in a new worker's readiness, and an ASan build on a
 * loaded machine has been seen counting them after the worker was ready.
 */
static int settled_fds(pid_t pid)
{
    int64_t deadline = harness_now_ms() + HARNESS_IO_MS;
    int n = procfs_count_fds(pid), same = 0;

    while (same < 5 && harness_now_ms() < deadline) {
        int m;

        harness_pause_ms(20);
        m = procfs_count_fds(pid);
        same = m == n ? same + 1 : 0;
        n = m;
    }
    return n;
}

static void test_no_fd_leak(void **state)
{
    enum { CONNECTIONS = 10000 };
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    pid_t worker = only_worker(srv);
    int w0, s0, w1, s1;

    assert_int_equal(procfs_wait_in_accept(worker, HARNESS_IO_MS), 0);
    w0 = procfs_count_fds(worker);
    s0 = settled_fds(srv->pid);
    assert_true(w0 > 0 && s0 > 0);
    for (unsigned i = 0; i < CONNECTIONS; i++)
        short_connection(h, srv, i % 10);
    /* Blocked in accept: every connection before has been closed. */
    assert_int_equal(procfs_wait_in_accept(worker, HARNESS_IO_MS), 0);
    w1 = procfs_count_fds(worker);
    s1 = settled_fds(srv->pid);
    fprintf(stderr,
            "descriptors before/after %d connections: worker %d/%d, "
            "supervisor %d/%d\n",
            CONNECTIONS, w0, w1, s0, s1);
    assert_int_equal(w1, w0);
    assert_int_equal(s1, s0);
    assert_int_equal(only_worker(srv), worker);
    assert_no_complaint(srv);
}

/*
 * A streamed (uppercase) answer to a client that reads, but slower than it
 * sends: the worker must wait for its output instead of queueing the whole
 * answer, so its memory does not grow with the message length.
 */
/* The sending side's pattern repeats every PIECE bytes. */
#define PIECE ((size_t)1024 * 1024)

static void test_streamed_answer_is_bounded(void **state)
{
    enum { STREAM_LEN = 64 * 1024 * 1024, READ_STEP = 64 * 1024 };
    struct harness *h = *state;
    struct harness_proc *srv = start_measured_server(h);
    pid_t worker = only_worker(srv);
    int fd = ensure_connect(h, srv);
    size_t sent = 0, got = 0, total = 4 + (size_t)STREAM_LEN;
    uint8_t hdr[4], chunk[READ_STEP], *data = malloc(PIECE);
    int64_t deadline = harness_now_ms() + harness_ms(60000);
    long rss0, hwm;

    assert_non_null(data);
    for (size_t i = 0; i < PIECE; i++)
        data[i] = (uint8_t)('a' + i % 26);
    warm_up(fd);
    rss0 = status_kb(worker, "VmRSS");
    proto_encode_request_header(hdr, PROTO_UPPERCASE, STREAM_LEN);
    assert_int_equal(wire_send_all(fd, hdr, 4, HARNESS_IO_MS), 0);
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    while (got < total) {
        struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
        ssize_t n;

        assert_true(harness_now_ms() < deadline);
        if (sent < STREAM_LEN)
            p.events |= POLLOUT;
        assert_true(poll(&p, 1, 1000) >= 0);
        if ((p.revents & POLLOUT) != 0) {
            size_t off = sent % PIECE, want = PIECE - off;
            if (want > STREAM_LEN - sent)
                want = STREAM_LEN - sent;
            n = send(fd, data + off, want, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        }
        if ((p.revents & POLLIN) != 0) {
            /* One small read per turn, paced: slower than the sending. */
            n = recv(fd, chunk, sizeof(chunk), 0);
            assert_true(n > 0);
            for (ssize_t i = 0; i < n; i++, got++) {
                uint8_t want = got < 4
                                   ? hdr[got] & (got == 0 ? 0x07 : 0xff)
                                   : (uint8_t)('A' + (got - 4) % (PIECE) % 26);
                if (chunk[i] != want)
                    fail_msg("answer byte %zu is %02x, expected %02x", got,
                             chunk[i], want);
            }
            harness_pause_ms(1);
        }
    }
    hwm = status_kb(worker, "VmHWM");
    free(data);
    fprintf(stderr,
            "64 MiB uppercase to a slow reader: worker VmHWM %ld KiB "
            "(VmRSS before: %ld KiB, peak growth %ld KiB)\n",
            hwm, rss0, hwm - rss0);
    assert_true(hwm - rss0 < 16 * MIB / KIB);
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
    ensure_exchange(fd, PROTO_LOWERCASE, "DONE", 4, "done", 4);
    assert_int_equal(only_worker(srv), worker);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_silent_client_dropped),
        T(test_silent_client_does_not_delay_shutdown),
        T(test_announced_length_not_allocated),
        T(test_pipelining_without_reading_is_bounded),
        T(test_streamed_answer_is_bounded),
        T(test_random_repeat_cap),
        T(test_no_fd_leak),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
