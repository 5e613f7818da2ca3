/*
 * tcp_client against the real server: every action from the command line,
 * a binary message through stdin, -f files pipelined (including 200,000
 * requests, the workload that once stalled the worker), and the exit
 * statuses and messages of bad usage, a refused connection and --help.
 * Answers are compared with references computed here, not by the code
 * under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "net.h"
#include "wire.h"
#include "tooltest.h"

/* Bound for one short tcp_client run. */
#define RUN_MS 20000
/* Bound for the 200,000-request file (about 0.1 s in Release, generous for
 * ASan). The server runs with --idle-timeout 30: the old stall lasted until
 * the idle timeout reset the connection, so it fails within this bound. */
#define BIG_FILE_MS    60000
#define BIG_FILE_LINES 200000

struct fixture {
    struct tooltest *t;
    struct harness_proc *srv;
    char port[16];
};

static void start(void **state, struct fixture *f, const char *const extra[])
{
    f->t = *state;
    f->srv = ensure_start_server(f->t->h, extra);
    snprintf(f->port, sizeof(f->port), "%u", f->srv->port);
}

/*
 * Runs tcp_client -h 127.0.0.1 [-p port] args... with stdin from in (NULL:
 * none) and fails the test if it does not exit within ms.
 */
static void run_client(struct tooltest *t, const char *port, const char *in,
                       const char *const args[], int ms, struct tool_result *r)
{
    const char *argv[32];
    size_t n = 0;
    int rc;

    argv[n++] = tooltest_client_bin();
    argv[n++] = "-h";
    argv[n++] = "127.0.0.1";
    if (port != NULL) {
        argv[n++] = "-p";
        argv[n++] = port;
    }
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(n + 1 < sizeof(argv) / sizeof(argv[0]));
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    rc = tooltest_run(t, in, argv, ms, r);
    if (rc < 0)
        fprintf(stderr, "tcp_client %s ...: %s\n", args[0], strerror(-rc));
    assert_int_equal(rc, 0);
}

/* Fails unless the run exited 0, printed exactly want, and nothing else. */
static void expect_output(const struct tool_result *r, const void *want,
                          size_t want_len)
{
    if (r->status != 0 || r->out_len != want_len ||
        memcmp(r->out, want, want_len) != 0 || r->err_len != 0) {
        tooltest_print("tcp_client", r);
        ensure_print_bytes("expected stdout", want, want_len, 256);
        ensure_print_bytes("got stdout", r->out, r->out_len, 256);
        fail();
    }
}

/* One action with a message given on the command line. */
static void expect_action(struct fixture *f, const char *action,
                          const char *msg, const char *want_line)
{
    struct tool_result r;
    char want[256];
    int n = snprintf(want, sizeof(want), "%s\n", want_line);

    run_client(f->t, f->port, NULL, (const char *[]){action, msg, NULL}, RUN_MS,
               &r);
    expect_output(&r, want, (size_t)n);
    tooltest_result_free(&r);
}

static void test_case_actions(void **state)
{
    struct tool_result r;
    struct fixture f;

    start(state, &f, NULL);
    /* Only ASCII letters change; UTF-8 bytes pass through. */
    expect_action(&f, "uppercase", "Hello, World! 123 \xc3\xa0\xc3\xa9",
                  "HELLO, WORLD! 123 \xc3\xa0\xc3\xa9");
    expect_action(&f, "lowercase", "MiXeD CaSe 42 \xc3\x80\xc3\x89",
                  "mixed case 42 \xc3\x80\xc3\x89");
    /* The protocol's worked example, and UTF-8 characters kept whole. */
    expect_action(&f, "reverse", "The LAN Before Time", "emiT erofeB NAL ehT");
    expect_action(&f, "reverse",
                  "a\xc3\xb1"
                  "b\xe2\x82\xac",
                  "\xe2\x82\xac"
                  "b\xc3\xb1"
                  "a");
    /* A message that starts with '-' follows "--". */
    run_client(f.t, f.port, NULL,
               (const char *[]){"uppercase", "--", "-dash", NULL}, RUN_MS, &r);
    expect_output(&r, "-DASH\n", 6);
    tooltest_result_free(&r);
}

static void test_shuffle_is_permutation(void **state)
{
    const char *msg = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t len = strlen(msg);
    struct tool_result r;
    struct fixture f;
    unsigned got[256] = {0}, want[256] = {0};

    start(state, &f, NULL);
    run_client(f.t, f.port, NULL, (const char *[]){"shuffle", msg, NULL},
               RUN_MS, &r);
    if (r.status != 0 || r.out_len != len + 1 || r.out[len] != '\n') {
        tooltest_print("tcp_client shuffle", &r);
        fail();
    }
    /* A permutation: every byte value occurs as often as in the message. */
    for (size_t i = 0; i < len; i++) {
        got[(unsigned char)r.out[i]]++;
        want[(unsigned char)msg[i]]++;
    }
    assert_memory_equal(got, want, sizeof(got));
    assert_int_equal(r.err_len, 0);
    tooltest_result_free(&r);
}

static void test_random_drawn_from_input(void **state)
{
    /* Distinct characters: an answer drawn in order has rising positions. */
    const char *msg = "abcdefghijklmnopqrstuvwxyz";
    struct tool_result r;
    struct fixture f;

    start(state, &f, NULL);
    /* Several runs, so that drops and repeats both show up. */
    for (int k = 0; k < 10; k++) {
        size_t last = 0;

        run_client(f.t, f.port, NULL, (const char *[]){"random", msg, NULL},
                   RUN_MS, &r);
        if (r.status != 0 || r.out_len < 2 || r.out[r.out_len - 1] != '\n') {
            tooltest_print("tcp_client random", &r);
            fail();
        }
        for (size_t i = 0; i + 1 < r.out_len; i++) {
            const char *at = strchr(msg, r.out[i]);

            if (at == NULL || r.out[i] == '\0' || (size_t)(at - msg) < last) {
                tooltest_print("tcp_client random", &r);
                fail_msg("byte %zu is not drawn from the message in order", i);
            }
            last = (size_t)(at - msg);
        }
        assert_int_equal(r.err_len, 0);
        tooltest_result_free(&r);
    }
}

/* The reference mappings, written independently of common/xform.c. */
static uint8_t ref_upper(uint8_t b)
{
    return b >= 'a' && b <= 'z' ? (uint8_t)(b - 'a' + 'A') : b;
}

static uint8_t ref_lower(uint8_t b)
{
    return b >= 'A' && b <= 'Z' ? (uint8_t)(b - 'A' + 'a') : b;
}

/* MESSAGE "-": every byte value, 1 MiB, back exactly, no newline added. */
static void test_binary_stdin(void **state)
{
    const size_t len = (size_t)1024 * 1024;
    uint8_t *in = malloc(len), *up = malloc(len), *low = malloc(len);
    struct tool_result r;
    struct fixture f;
    const char *path;

    assert_non_null(in);
    assert_non_null(up);
    assert_non_null(low);
    for (size_t i = 0; i < len; i++) {
        in[i] = (uint8_t)(i * 131 + (i >> 11));
        up[i] = ref_upper(in[i]);
        low[i] = ref_lower(in[i]);
    }
    start(state, &f, NULL);
    path = tooltest_write_file(f.t, "binary.in", in, len);
    assert_non_null(path);

    run_client(f.t, f.port, path, (const char *[]){"uppercase", "-", NULL},
               RUN_MS, &r);
    expect_output(&r, up, len);
    tooltest_result_free(&r);
    run_client(f.t, f.port, path, (const char *[]){"lowercase", "-", NULL},
               RUN_MS, &r);
    expect_output(&r, low, len);
    tooltest_result_free(&r);

    /* An empty stdin is an empty message: an empty answer. */
    path = tooltest_write_file(f.t, "empty.in", "", 0);
    assert_non_null(path);
    run_client(f.t, f.port, path, (const char *[]){"uppercase", "-", NULL},
               RUN_MS, &r);
    expect_output(&r, "", 0);
    tooltest_result_free(&r);
    free(in);
    free(up);
    free(low);
}

/* A growable text buffer for building files and expected output. */
struct text {
    char *buf;
    size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t ncap = t->cap ? t->cap : 4096;

        while (ncap < t->len + n + 1)
            ncap *= 2;
        t->buf = realloc(t->buf, ncap);
        assert_non_null(t->buf);
        t->cap = ncap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* -f FILE: many requests of several actions, answered in order. */
static void test_file_pipelined(void **state)
{
    static const char *const actions[] = {"uppercase", "lowercase", "reverse"};
    struct text in = {NULL, 0, 0}, want = {NULL, 0, 0};
    struct tool_result r;
    struct fixture f;
    const char *path;

    for (int i = 0; i < 3000; i++) {
        const char *a = actions[i % 3];
        char msg[64], ans[64];
        int n = snprintf(msg, sizeof(msg), "Line %d of MiXeD text", i);

        for (int k = 0; k < n; k++) {
            if (i % 3 == 0)
                ans[k] = (char)ref_upper((uint8_t)msg[k]);
            else if (i % 3 == 1)
                ans[k] = (char)ref_lower((uint8_t)msg[k]);
            else
                ans[k] = msg[n - 1 - k];
        }
        ans[n] = '\0';
        text_str(&in, a);
        text_str(&in, " ");
        text_str(&in, msg);
        text_str(&in, "\n");
        text_str(&want, ans);
        text_str(&want, "\n");
    }
    /* An empty message is a request too; so is a last line without '\n'. */
    text_str(&in, "uppercase \nlowercase LAST");
    text_str(&want, "\nlast\n");

    start(state, &f, NULL);
    path = tooltest_write_file(f.t, "lines.txt", in.buf, in.len);
    assert_non_null(path);
    run_client(f.t, f.port, NULL, (const char *[]){"-f", path, NULL}, RUN_MS,
               &r);
    expect_output(&r, want.buf, want.len);
    tooltest_result_free(&r);
    /* The same through stdin ("-f -"). */
    run_client(f.t, f.port, path, (const char *[]){"-f", "-", NULL}, RUN_MS,
               &r);
    expect_output(&r, want.buf, want.len);
    tooltest_result_free(&r);
    free(in.buf);
    free(want.buf);
}

/*
 * Regression: 200,000 pipelined uppercase requests of random length once
 * stalled the worker (requests held back by backpressure were not resumed
 * when the output queue drained in the same turn) until the idle timeout
 * reset the connection. Every answer must come back, right and in order,
 * well within the bound.
 */
static void test_file_200k_no_stall(void **state)
{
    const char *extra[] = {"--idle-timeout", "30", NULL};
    struct text in = {NULL, 0, 0}, want = {NULL, 0, 0};
    static char xs[128], bigx[128];
    struct tool_result r;
    struct fixture f;
    const char *path;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int64_t t0;

    memset(xs, 'x', sizeof(xs));
    memset(bigx, 'X', sizeof(bigx));
    for (int i = 0; i < BIG_FILE_LINES; i++) {
        size_t n;

        s = s * 6364136223846793005ull + 1442695040888963407ull;
        n = (size_t)(s >> 33) % 101; /* 0..100 bytes */
        text_str(&in, "uppercase ");
        text_add(&in, xs, n);
        text_str(&in, "\n");
        text_add(&want, bigx, n);
        text_str(&want, "\n");
    }
    start(state, &f, extra);
    path = tooltest_write_file(f.t, "200k.txt", in.buf, in.len);
    assert_non_null(path);
    t0 = harness_now_ms();
    run_client(f.t, f.port, NULL, (const char *[]){"-f", path, NULL},
               BIG_FILE_MS, &r);
    fprintf(stderr, "200,000 requests (%zu bytes) answered in %lld ms\n",
            in.len, (long long)(harness_now_ms() - t0));
    if (r.status != 0 || r.out_len != want.len ||
        memcmp(r.out, want.buf, want.len) != 0) {
        size_t at = 0, line = 1;

        while (at < r.out_len && at < want.len && r.out[at] == want.buf[at]) {
            if (r.out[at] == '\n')
                line++;
            at++;
        }
        tooltest_print("tcp_client -f 200k", &r);
        fail_msg("output differs from answer line %zu on (byte %zu of %zu)",
                 line, at, want.len);
    }
    assert_int_equal(r.err_len, 0);
    tooltest_result_free(&r);
    free(in.buf);
    free(want.buf);
}

/*
 * Fails unless the run exited with status, printed nothing on stdout, and
 * printed one "tcp_client: ..." line containing what, followed only by the
 * usage lines when usage is set.
 */
static void expect_error(const struct tool_result *r, int status,
                         const char *what, bool usage)
{
    const char *nl = strchr(r->err, '\n');
    bool ok = r->status == status && r->out_len == 0 && nl != NULL &&
              strncmp(r->err, "tcp_client: ", 12) == 0;

    if (ok) {
        ok = memmem(r->err, (size_t)(nl - r->err), what, strlen(what)) != NULL;
        if (usage)
            ok = ok && strncmp(nl + 1, "usage: tcp_client", 17) == 0 &&
                 strstr(nl + 1, "tcp_client: ") == NULL;
        else
            ok = ok && nl[1] == '\0';
    }
    if (!ok) {
        tooltest_print("tcp_client", r);
        fail_msg("expected exit %d and one line with \"%s\"%s", status, what,
                 usage ? " plus usage" : "");
    }
}

static void expect_usage_error(struct tooltest *t, const char *const args[],
                               const char *what)
{
    struct tool_result r;

    run_client(t, "1", NULL, args, RUN_MS, &r);
    expect_error(&r, 2, what, true);
    tooltest_result_free(&r);
}

/* Bad usage: exit 2 before any connection (port 1 has no server). */
static void test_bad_usage(void **state)
{
    struct tooltest *t = *state;

    expect_usage_error(t, (const char *[]){"frobnicate", "hello", NULL},
                       "unknown action 'frobnicate'");
    expect_usage_error(t, (const char *[]){"Uppercase", "hello", NULL},
                       "unknown action 'Uppercase'");
    expect_usage_error(t, (const char *[]){"uppercase", NULL},
                       "missing MESSAGE");
    expect_usage_error(t, (const char *[]){NULL}, "missing ACTION and MESSAGE");
    expect_usage_error(t, (const char *[]){"uppercase", "a", "b", NULL},
                       "unexpected argument 'b'");
    expect_usage_error(t,
                       (const char *[]){"-p", "70000", "uppercase", "a", NULL},
                       "bad port '70000'");
    expect_usage_error(t,
                       (const char *[]){"-p", "http", "uppercase", "a", NULL},
                       "bad port 'http'");
    expect_usage_error(t, (const char *[]){"-p", "0", "uppercase", "a", NULL},
                       "bad port '0'");
    expect_usage_error(t, (const char *[]){"--frob", "uppercase", "a", NULL},
                       "--frob");
}

/* A bad -f line is reported as FILE:LINE before anything is sent. */
static void test_bad_file_line(void **state)
{
    struct tooltest *t = *state;
    const char *path =
        tooltest_write_file(t, "bad.txt", "uppercase ok\nshout LOUD\n", 23);
    struct tool_result r;
    char what[600];

    assert_non_null(path);
    snprintf(what, sizeof(what), "%s:2: unknown action 'shout'", path);
    run_client(t, "1", NULL, (const char *[]){"-f", path, NULL}, RUN_MS, &r);
    expect_error(&r, 2, what, false);
    tooltest_result_free(&r);
}

/* No server on the port: exit 1 and one line naming the cause. */
static void test_connection_refused(void **state)
{
    struct tooltest *t = *state;
    struct tool_result r;
    char port[16], what[64];
    int p = wire_free_port();

    assert_true(p > 0);
    snprintf(port, sizeof(port), "%d", p);
    snprintf(what, sizeof(what), "port %d: Connection refused", p);
    run_client(t, port, NULL, (const char *[]){"uppercase", "hello", NULL},
               RUN_MS, &r);
    expect_error(&r, 1, what, false);
    assert_non_null(strstr(r.err, "cannot connect to 127.0.0.1"));
    tooltest_result_free(&r);
}

/*
 * A server that accepts (the kernel completes the handshake into its
 * backlog) and never answers: -t 1 gives up with one line, exit 1.
 */
static void test_response_timeout(void **state)
{
    struct tooltest *t = *state;
    struct tool_result r;
    char port[16];
    int lfd = net_listen("127.0.0.1", 0), p;

    assert_true(lfd >= 0);
    p = net_local_port(lfd);
    assert_true(p > 0);
    snprintf(port, sizeof(port), "%d", p);
    run_client(t, port, NULL,
               (const char *[]){"-t", "1", "uppercase", "hello", NULL}, RUN_MS,
               &r);
    close(lfd);
    expect_error(&r, 1, "no answer from the server for 1 s", false);
    tooltest_result_free(&r);
}

/* A bad -t value is bad usage. */
static void test_bad_timeout(void **state)
{
    struct tooltest *t = *state;
    struct tool_result r;

    run_client(t, "1", NULL,
               (const char *[]){"-t", "soon", "uppercase", "x", NULL}, RUN_MS,
               &r);
    expect_error(&r, 2, "bad timeout 'soon'", true);
    tooltest_result_free(&r);
}

static void test_help(void **state)
{
    struct tooltest *t = *state;
    struct tool_result r;

    run_client(t, NULL, NULL, (const char *[]){"--help", NULL}, RUN_MS, &r);
    if (r.status != 0 || r.err_len != 0 ||
        strncmp(r.out, "usage: tcp_client", 17) != 0 ||
        strstr(r.out, "-f FILE") == NULL ||
        strstr(r.out, "Exit status") == NULL) {
        tooltest_print("tcp_client --help", &r);
        fail();
    }
    tooltest_result_free(&r);
}

#define T(f)                                                                   \
    cmocka_unit_test_setup_teardown(f, tooltest_setup, tooltest_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_case_actions),
        T(test_shuffle_is_permutation),
        T(test_random_drawn_from_input),
        T(test_binary_stdin),
        T(test_file_pipelined),
        T(test_file_200k_no_stall),
        T(test_bad_usage),
        T(test_bad_file_line),
        T(test_connection_refused),
        T(test_response_timeout),
        T(test_bad_timeout),
        T(test_help),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
