/*
 * The metrics endpoint with the real binaries (DESIGN.md section 10): the
 * counters equal exactly what a known mix of requests, closes and a kill
 * did; no counter goes backwards across a worker kill and a reload; and
 * hostile scrapes (an oversized head, garbage, a silent client, 100
 * connections at once) are each closed as specified while the supervisor
 * keeps respawning and answering signals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "procfs.h"
#include "proto.h"
#include "scrape.h"
#include "wire.h"

#define WAIT_MS harness_ms(10000)
/* The endpoint's limits (supervisor/metrics_http.h). */
#define MAX_SCRAPES 8
#define CROWD       100

#define READY  "tcp_server_workers{state=\"ready\"}"
#define CLIENT "tcp_server_connections_closed_total{reason=\"client\"}"
#define UPPER  "tcp_server_requests_total{action=\"uppercase\"}"

/*
 * Polls until every connection accepted so far was closed by its client
 * (the start-up checks' connections, and the tests' own): the counters are
 * then settled. Returns that scrape (free() it).
 */
static char *settled(unsigned mport)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    char *body = NULL;
    double conns = -1, closed = -2;

    while (harness_now_ms() < deadline) {
        free(body);
        body = NULL;
        if (scrape_metrics(mport, &body, WAIT_MS) == 0 &&
            scrape_value(body, "tcp_server_connections_total", &conns) == 0 &&
            scrape_value(body, CLIENT, &closed) == 0 && conns == closed)
            return body;
        harness_pause_ms(20);
    }
    fail_msg("connections %g, closed by clients %g", conns, closed);
    return NULL;
}

/* Starts tcp_server -w 1 --idle-timeout 1 --metrics 127.0.0.1:PORT. */
static struct harness_proc *start(struct harness *h, unsigned *mport)
{
    static char addr[64];
    const char *extra[] = {"-w", "1", "--idle-timeout", "1", NULL, NULL, NULL};
    int port = wire_free_port();
    struct harness_proc *p;
    double last;

    assert_true(port > 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    extra[4] = "--metrics";
    extra[5] = addr;
    p = ensure_start_server(h, extra);
    *mport = (unsigned)port;
    assert_int_equal(scrape_wait_value(*mport, READY, 1, &last, WAIT_MS), 0);
    return p;
}

/* The value of series in a fresh scrape; fails the test when absent. */
static double value(unsigned mport, const char *series)
{
    char *body = NULL;
    double v = NAN;

    assert_int_equal(scrape_metrics(mport, &body, WAIT_MS), 0);
    if (scrape_value(body, series, &v) < 0)
        fail_msg("no %s in:\n%s", series, body);
    free(body);
    return v;
}

/* Polls until series equals want, or fails the test saying what it saw. */
static void wait_value(unsigned mport, const char *series, double want)
{
    double last;

    if (scrape_wait_value(mport, series, want, &last, WAIT_MS) < 0)
        fail_msg("%s stayed %g, expected %g", series, last, want);
}

/* Kills the only worker with SIGKILL and waits for its replacement. */
static pid_t kill_worker(struct harness_proc *p)
{
    pid_t old = -1, fresh;

    assert_int_equal(harness_wait_children(p, 1, WAIT_MS), 1);
    assert_int_equal(procfs_children(p->pid, &old, 1), 1);
    assert_int_equal(kill(old, SIGKILL), 0);
    fresh = harness_wait_new_child(p->pid, &old, 1, WAIT_MS);
    assert_true(fresh > 0);
    return fresh;
}

static void expect_series(const char *body, const char *series, double want)
{
    double v = NAN;

    if (scrape_value(body, series, &v) < 0 || v != want)
        fail_msg("%s is %g, expected %g; scrape:\n%s", series, v, want, body);
}

/* series in body is its value in base plus delta. */
static void expect_delta(const char *body, const char *base, const char *series,
                         double delta)
{
    double b = NAN;

    if (scrape_value(base, series, &b) < 0)
        fail_msg("no %s in the first scrape:\n%s", series, base);
    expect_series(body, series, b + delta);
}

static void test_metrics_count_exactly(void **state)
{
    struct harness *h = *state;
    unsigned mp;
    struct harness_proc *p = start(h, &mp);
    static const char *const texts[] = {"abc", "def", "ghi"};
    /* The start-up check's exchanges are counted too: start from there. */
    char *base = settled(mp), *body = NULL;
    int fd;

    /* 3 uppercase, 2 reverse and 1 invalid action on one connection. */
    fd = ensure_connect(h, p);
    for (int i = 0; i < 3; i++) {
        char up[4] = {(char)(texts[i][0] - 32), (char)(texts[i][1] - 32),
                      (char)(texts[i][2] - 32), 0};

        ensure_exchange(fd, PROTO_UPPERCASE, texts[i], 3, up, 3);
    }
    ensure_exchange(fd, PROTO_REVERSE, "abcd", 4, "dcba", 4);
    ensure_exchange(fd, PROTO_REVERSE, "wxyz", 4, "zyxw", 4);
    ensure_exchange(fd, 3, "xyz", 3, "error", 5);
    harness_close_fd(h, fd);
    free(settled(mp));

    /* One client closed by the idle timeout (1 s). */
    fd = ensure_connect(h, p);
    assert_int_equal(wire_wait_closed(fd, WAIT_MS), 0);
    harness_close_fd(h, fd);
    wait_value(mp, "tcp_server_connections_closed_total{reason=\"idle\"}", 1);

    /* One worker killed, and replaced. */
    kill_worker(p);
    wait_value(mp, "tcp_server_worker_restarts_total{reason=\"crash\"}", 1);
    wait_value(mp, READY, 1);

    assert_int_equal(scrape_metrics(mp, &body, WAIT_MS), 0);
    expect_delta(body, base, "tcp_server_connections_total", 2);
    expect_delta(body, base, UPPER, 3);
    expect_series(body, "tcp_server_requests_total{action=\"lowercase\"}", 0);
    expect_series(body, "tcp_server_requests_total{action=\"reverse\"}", 2);
    expect_series(body, "tcp_server_requests_total{action=\"shuffle\"}", 0);
    expect_series(body, "tcp_server_requests_total{action=\"random\"}", 0);
    expect_series(body, "tcp_server_requests_total{action=\"invalid\"}", 1);
    expect_delta(body, base, CLIENT, 1);
    expect_series(body, "tcp_server_connections_closed_total{reason=\"idle\"}",
                  1);
    expect_series(
        body, "tcp_server_connections_closed_total{reason=\"keepalive\"}", 0);
    expect_series(body, "tcp_server_connections_closed_total{reason=\"slow\"}",
                  0);
    expect_series(body, "tcp_server_connections_closed_total{reason=\"error\"}",
                  0);
    expect_series(
        body, "tcp_server_connections_closed_total{reason=\"shutdown\"}", 0);
    /* 3 x (4 + 3) + 2 x (4 + 4) + (4 + 3) in; the same out but "error". */
    expect_delta(body, base, "tcp_server_received_bytes_total", 44);
    expect_delta(body, base, "tcp_server_sent_bytes_total", 46);
    expect_series(body, "tcp_server_worker_restarts_total{reason=\"crash\"}",
                  1);
    expect_series(body, "tcp_server_worker_restarts_total{reason=\"startup\"}",
                  0);
    expect_series(body, "tcp_server_worker_restarts_total{reason=\"reload\"}",
                  0);
    expect_series(body, "tcp_server_generation", 1);
    expect_series(body, READY, 1);
    expect_series(body, "tcp_server_workers{state=\"busy\"}", 0);
    expect_series(body, "tcp_server_workers{state=\"starting\"}", 0);
    expect_series(body, "tcp_server_listen_queue", 0);
    free(body);
    free(base);
    assert_int_equal(harness_stop(p), 0);
}

/* Every counter (a series of a _total family) of before is in after, and
 * not smaller. */
static void expect_no_decrease(const char *before, const char *after)
{
    size_t checked = 0;

    for (const char *line = before; *line != '\0';) {
        const char *end = strchr(line, '\n');
        const char *sp = memchr(line, ' ', (size_t)(end - line));
        char series[256];
        double a, b;

        if (line[0] != '#' && sp != NULL && (size_t)(sp - line) < 256 &&
            strstr(line, "_total") != NULL && strstr(line, "_total") < sp) {
            snprintf(series, sizeof(series), "%.*s", (int)(sp - line), line);
            assert_int_equal(scrape_value(before, series, &a), 0);
            if (scrape_value(after, series, &b) < 0 || b < a)
                fail_msg("%s went from %g to %g", series, a, b);
            checked++;
        }
        line = end + 1;
    }
    /* Every family's series: 1 + 3 + 6 + 6 + 1 + 1 + process CPU. */
    assert_true(checked >= 19);
}

static void test_metrics_never_decrease(void **state)
{
    struct harness *h = *state;
    unsigned mp;
    struct harness_proc *p = start(h, &mp);
    char *s1 = NULL, *s2 = NULL, *s3 = NULL;
    int fd;

    fd = ensure_connect(h, p);
    ensure_exchange(fd, PROTO_UPPERCASE, "a", 1, "A", 1);
    ensure_exchange(fd, PROTO_LOWERCASE, "B", 1, "b", 1);
    assert_int_equal(scrape_metrics(mp, &s1, WAIT_MS), 0);

    /* Killed with a client connected: that close is never counted. */
    kill_worker(p);
    assert_int_equal(wire_wait_closed(fd, WAIT_MS), 0);
    harness_close_fd(h, fd);
    wait_value(mp, READY, 1);
    ensure_exchange_once(h, p, PROTO_UPPERCASE, "c", 1, "C", 1);
    assert_int_equal(scrape_metrics(mp, &s2, WAIT_MS), 0);
    expect_no_decrease(s1, s2);

    assert_int_equal(harness_kill(p, SIGHUP, false), 0);
    wait_value(mp, "tcp_server_generation", 2);
    wait_value(mp, "tcp_server_worker_restarts_total{reason=\"reload\"}", 1);
    ensure_exchange_once(h, p, PROTO_UPPERCASE, "d", 1, "D", 1);
    /* The worker killed with a client on it never counted that close,
     * so wait for the request count rather than for settled counters. */
    {
        double up1 = NAN;

        assert_int_equal(scrape_value(s1, UPPER, &up1), 0);
        wait_value(mp, UPPER, up1 + 2);
    }
    assert_int_equal(scrape_metrics(mp, &s3, WAIT_MS), 0);
    expect_no_decrease(s2, s3);
    /* Since s1: "c" and "d", on two connections of their own. */
    expect_delta(s3, s1, UPPER, 2);
    expect_delta(s3, s1, "tcp_server_connections_total", 2);
    expect_series(s3, "tcp_server_requests_total{action=\"lowercase\"}", 1);
    free(s1);
    free(s2);
    free(s3);
    assert_int_equal(harness_stop(p), 0);
}

/* Sends what the socket takes of buf, ignoring a close by the server. */
static void send_some(int fd, const void *buf, size_t len)
{
    (void)send(fd, buf, len, MSG_NOSIGNAL);
}

/* True when fd is at end of file (or reset) with no byte before it. */
static bool closed_silently(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_metrics_bad_head(void **state)
{
    struct harness *h = *state;
    unsigned mp;
    struct harness_proc *p = start(h, &mp);
    static char big[10 * 1024 + 64];
    static const char start_line[] = "GET /metrics HTTP/1.1\r\nX-Big: ";
    static const char garbage[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03";
    char *resp = NULL;
    int fd;

    /* A 10 KiB header: closed without an answer. */
    fd = scrape_connect(mp);
    assert_true(fd >= 0);
    memset(big, 'a', sizeof(big));
    memcpy(big, start_line, sizeof(start_line) - 1);
    send_some(fd, big, sizeof(big));
    assert_int_equal(wire_wait_closed(fd, WAIT_MS), 0);
    close(fd);

    /* Binary garbage: 400, then closed. */
    assert_int_equal(
        scrape_http(mp, garbage, sizeof(garbage) - 1, &resp, WAIT_MS), 0);
    assert_int_equal(strncmp(resp, "HTTP/1.1 400 ", 13), 0);
    free(resp);

    /* Another path and another method. */
    assert_int_equal(
        scrape_http(mp, "GET / HTTP/1.0\r\n\r\n", 18, &resp, WAIT_MS), 0);
    assert_int_equal(strncmp(resp, "HTTP/1.1 404 ", 13), 0);
    free(resp);
    assert_int_equal(
        scrape_http(mp, "PUT /metrics HTTP/1.0\r\n\r\n", 25, &resp, WAIT_MS),
        0);
    assert_int_equal(strncmp(resp, "HTTP/1.1 405 ", 13), 0);
    assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
    free(resp);
    assert_int_equal(harness_stop(p), 0);
}

static int crowd[CROWD];

static void close_crowd(void)
{
    for (size_t i = 0; i < CROWD; i++) {
        if (crowd[i] >= 0)
            close(crowd[i]);
        crowd[i] = -1;
    }
}

/* Polls until all but the held connections are closed silently; returns
 * how many are held (still open). */
static size_t wait_refused(void)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    size_t open_n;

    do {
        open_n = 0;
        for (size_t i = 0; i < CROWD; i++) {
            if (wire_wait_readable(crowd[i], 0) != 0)
                open_n++;
        }
        if (open_n <= MAX_SCRAPES)
            break;
        harness_pause_ms(10);
    } while (harness_now_ms() < deadline);
    return open_n;
}

static void test_metrics_crowd(void **state)
{
    struct harness *h = *state;
    unsigned mp;
    struct harness_proc *p = start(h, &mp);
    static const char get[] = "GET /metrics HTTP/1.1\r\n\r\n";
    pid_t gen1, gen2;
    size_t held = 0, answered = 0, silent = CROWD;
    char reply[16];

    for (size_t i = 0; i < CROWD; i++)
        crowd[i] = -1;
    for (size_t i = 0; i < CROWD; i++) {
        crowd[i] = scrape_connect(mp);
        assert_true(crowd[i] >= 0);
    }
    assert_int_equal(wait_refused(), MAX_SCRAPES);
    for (size_t i = 0; i < CROWD; i++) {
        if (wire_wait_readable(crowd[i], 0) == 0)
            assert_true(closed_silently(crowd[i]));
    }

    /* Scrape slots full: respawn and signals go on. */
    gen1 = kill_worker(p);
    assert_int_equal(wire_ping(h, p->port, WAIT_MS), 0);
    assert_int_equal(harness_kill(p, SIGHUP, false), 0);
    gen2 = harness_wait_new_child(p->pid, &gen1, 1, WAIT_MS);
    assert_true(gen2 > 0);
    assert_int_equal(wire_ping(h, p->port, WAIT_MS), 0);

    /* The held connections are being served: all but one ask and get an
     * answer; that one stays silent and is closed by the deadline. */
    for (size_t i = 0; i < CROWD; i++) {
        if (wire_wait_readable(crowd[i], 0) == 0)
            continue;
        if (held++ == 0) {
            silent = i;
            continue;
        }
        assert_int_equal(wire_send_all(crowd[i], get, sizeof(get) - 1, WAIT_MS),
                         0);
        assert_int_equal(wire_recv_exact(crowd[i], reply, 13, WAIT_MS), 13);
        assert_int_equal(memcmp(reply, "HTTP/1.1 200 ", 13), 0);
        answered++;
    }
    assert_int_equal(held, MAX_SCRAPES);
    assert_int_equal(answered, MAX_SCRAPES - 1);
    assert_true(silent < CROWD);
    assert_int_equal(wire_wait_closed(crowd[silent], WAIT_MS), 0);
    close_crowd();

    wait_value(mp, "tcp_server_generation", 2);
    assert_true(
        value(mp, "tcp_server_worker_restarts_total{reason=\"crash\"}") == 1);
    assert_true(
        value(mp, "tcp_server_worker_restarts_total{reason=\"reload\"}") == 1);
    assert_int_equal(harness_stop(p), 0);
}

#ifdef PROMTOOL_BIN
/* Runs argv with stdin from path and its output to out_path; the wait
 * status, or -errno. */
static int run_with_stdin(char *const argv[], const char *path,
                          const char *out_path)
{
    pid_t pid = fork();
    int status;

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        if (freopen(path, "r", stdin) == NULL ||
            freopen(out_path, "w", stdout) == NULL ||
            dup2(fileno(stdout), 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return status;
}

static void test_metrics_promtool(void **state)
{
    struct harness *h = *state;
    unsigned mp;
    struct harness_proc *p = start(h, &mp);
    static char bin[] = PROMTOOL_BIN, check[] = "check", what[] = "metrics";
    char *argv[] = {bin, check, what, NULL};
    char path[512], out[512], *body = NULL, *text = NULL;
    size_t len;
    FILE *f;
    int status;

    ensure_exchange_once(h, p, PROTO_REVERSE, "ab", 2, "ba", 2);
    assert_int_equal(scrape_metrics(mp, &body, WAIT_MS), 0);
    snprintf(path, sizeof(path), "%s/scrape.txt", h->dir);
    snprintf(out, sizeof(out), "%s/promtool.out", h->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(body, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    status = run_with_stdin(argv, path, out);
    if (status != 0 && harness_read_file(out, &text, &len) == 0)
        fail_msg("promtool check metrics: status %d:\n%s\nscrape:\n%s", status,
                 text, body);
    assert_int_equal(status, 0);
    free(body);
    assert_int_equal(harness_stop(p), 0);
}
#endif

#ifdef PROMETHEUS_BIN
/* Polls Prometheus's query API until the answer holds every needle. */
static void wait_query(unsigned port, const char *query,
                       const char *const needles[], size_t n)
{
    int64_t deadline = harness_now_ms() + harness_ms(30000);
    char req[512], *resp = NULL;
    int len = snprintf(req, sizeof(req),
                       "GET /api/v1/query?query=%s HTTP/1.0\r\n\r\n", query);

    while (harness_now_ms() < deadline) {
        size_t found = 0;

        free(resp);
        resp = NULL;
        if (scrape_http(port, req, (size_t)len, &resp, WAIT_MS) == 0) {
            for (size_t i = 0; i < n; i++)
                found += strstr(resp, needles[i]) != NULL;
            if (found == n) {
                free(resp);
                return;
            }
        }
        harness_pause_ms(200);
    }
    fail_msg("query %s never gave the expected answer; last:\n%s", query,
             resp != NULL ? resp : "(no answer)");
}

static void test_metrics_prometheus(void **state)
{
    struct harness *h = *state;
    unsigned mp;
    struct harness_proc *p = start(h, &mp), *prom = NULL;
    int pport = wire_free_port();
    char cfg[512], data[512], listen[64], cfg_arg[600], data_arg[600];
    static const char *const up[] = {"\"job\":\"tcp_server\"", ",\"1\"]"};
    char want[32], *body;
    const char *upper[] = {"\"action\":\"uppercase\"", want};
    double n = 0;
    FILE *f;

    for (int i = 0; i < 3; i++)
        ensure_exchange_once(h, p, PROTO_UPPERCASE, "q", 1, "Q", 1);
    /* Prometheus must see what the endpoint says (the three, and the
     * start-up check's). */
    body = settled(mp);
    assert_int_equal(scrape_value(body, UPPER, &n), 0);
    free(body);
    assert_true(n >= 3);
    snprintf(want, sizeof(want), ",\"%.0f\"]", n);
    assert_true(pport > 0);
    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", h->dir);
    snprintf(data, sizeof(data), "%s/tsdb", h->dir);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: tcp_server\n"
            "    static_configs:\n      - targets: ['127.0.0.1:%u']\n",
            mp);
    assert_int_equal(fclose(f), 0);
    snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", cfg);
    snprintf(data_arg, sizeof(data_arg), "--storage.tsdb.path=%s", data);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d",
             pport);
    {
        static char bin[] = PROMETHEUS_BIN, level[] = "--log.level=warn";
        char *argv[] = {bin, cfg_arg, data_arg, listen, level, NULL};

        assert_int_equal(harness_spawn(h, argv, true, &prom), 0);
    }
    wait_query((unsigned)pport, "up", up, 2);
    wait_query((unsigned)pport,
               "tcp_server_requests_total%7Baction%3D%22uppercase%22%7D", upper,
               2);
    assert_int_equal(harness_stop(prom), 0);
    assert_int_equal(harness_stop(p), 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_count_exactly,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_never_decrease,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_bad_head, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_crowd, harness_setup,
                                        harness_teardown),
#ifdef PROMTOOL_BIN
        cmocka_unit_test_setup_teardown(test_metrics_promtool, harness_setup,
                                        harness_teardown),
#endif
#ifdef PROMETHEUS_BIN
        cmocka_unit_test_setup_teardown(test_metrics_prometheus, harness_setup,
                                        harness_teardown),
#endif
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
