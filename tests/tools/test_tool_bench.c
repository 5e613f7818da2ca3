/*
 * tcp_bench against the real server: short pipeline, conn and bulk runs
 * (and every action) exit 0 with a --json report that parses and counts
 * what was asked with no error; against servers that answer wrongly (the
 * raw echo taken for a tcp_server, a tcp_server taken for the raw echo)
 * it exits 1 and reports wrong answers, which proves that its verification
 * can fail. Only counts are checked, never speed.
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

#include "ensure.h"
#include "harness.h"
#include "wire.h"
#include "tjson.h"
#include "tooltest.h"

/* Bound for one tcp_bench run; its own --timeout is far shorter. */
#define RUN_MS 60000

/*
 * Runs tcp_bench -p port --json args... and fails the test if it does not
 * exit within RUN_MS or its stdout is not one valid JSON object.
 */
static void run_bench(struct tooltest *t, unsigned port,
                      const char *const args[], struct tool_result *r,
                      struct tjson *j)
{
    const char *argv[32];
    char portstr[16];
    size_t n = 0;
    int rc;

    snprintf(portstr, sizeof(portstr), "%u", port);
    argv[n++] = tooltest_bench_bin();
    argv[n++] = "-p";
    argv[n++] = portstr;
    argv[n++] = "--json";
    argv[n++] = "--timeout";
    argv[n++] = "20";
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(n + 1 < sizeof(argv) / sizeof(argv[0]));
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    rc = tooltest_run(t, NULL, argv, RUN_MS, r);
    if (rc < 0)
        fprintf(stderr, "tcp_bench %s: %s\n", args[0], strerror(-rc));
    assert_int_equal(rc, 0);
    rc = tjson_parse(j, r->out);
    if (rc < 0 || j->n == 0 || r->out[0] != '{') {
        tooltest_print("tcp_bench", r);
        fail_msg("--json output is not a JSON object (fault at byte %zu)",
                 j->err_at);
    }
}

static double num(const struct tjson *j, const char *path)
{
    double v = -1;

    if (tjson_number(j, path, &v) < 0)
        fail_msg("no number \"%s\" in the report", path);
    return v;
}

/* A run that must succeed: exit 0, ok, every error counter zero. */
static void expect_clean(const struct tool_result *r, const struct tjson *j,
                         const char *mode, double answers)
{
    static const char *const counters[] = {
        "errors.refused",    "errors.connect",      "errors.reset",
        "errors.short_read", "errors.wrong_answer", "errors.timeout",
        "errors.io",
    };
    bool ok = false;

    if (r->status != 0 || tjson_bool(j, "ok", &ok) < 0 || !ok ||
        !tjson_string_is(j, "mode", mode) || num(j, "answers") != answers ||
        num(j, "errors_total") != 0) {
        tooltest_print("tcp_bench", r);
        fail_msg("expected a clean %s run of %.0f answers", mode, answers);
    }
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        assert_true(num(j, counters[i]) == 0);
    assert_true(num(j, "requests_per_s") > 0);
    assert_true(num(j, "elapsed_s") > 0);
    assert_true(num(j, "latency_us.p50") > 0);
    assert_true(num(j, "latency_us.p99") >= num(j, "latency_us.p50"));
    assert_true(num(j, "latency_us.max") >= num(j, "latency_us.p99"));
}

static void test_pipeline(void **state)
{
    struct tooltest *t = *state;
    struct harness_proc *srv = ensure_start_server(t->h, NULL);
    struct tool_result r;
    struct tjson j;

    run_bench(t, srv->port,
              (const char *[]){"-n", "20000", "-P", "64", "-s", "16",
                               "pipeline", NULL},
              &r, &j);
    expect_clean(&r, &j, "pipeline", 20000);
    assert_true(num(&j, "size") == 16);
    assert_true(num(&j, "pipeline") == 64);
    /* Message bytes of the answers, and what went over the wire. */
    assert_true(num(&j, "answer_bytes") == 20000.0 * 16);
    assert_true(num(&j, "bytes_sent") == 20000.0 * 20);
    assert_true(num(&j, "bytes_received") == 20000.0 * 20);
    assert_true(num(&j, "connects") == 1);
    tooltest_result_free(&r);

    /* 4 KiB requests, a run bounded by time instead of a count. */
    run_bench(t, srv->port,
              (const char *[]){"-t", "0.5", "-P", "16", "-s", "4096",
                               "pipeline", NULL},
              &r, &j);
    assert_true(num(&j, "answers") > 0);
    expect_clean(&r, &j, "pipeline", num(&j, "answers"));
    assert_true(num(&j, "answer_bytes") == num(&j, "answers") * 4096);
    tooltest_result_free(&r);
}

/* Every action's answers pass verification, unknown actions included. */
static void test_pipeline_every_action(void **state)
{
    static const char *const actions[] = {"uppercase", "lowercase", "reverse",
                                          "shuffle",   "random",    "6"};
    struct tooltest *t = *state;
    struct harness_proc *srv = ensure_start_server(t->h, NULL);
    struct tool_result r;
    struct tjson j;

    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        run_bench(t, srv->port,
                  (const char *[]){"-n", "2000", "-P", "16", "-s", "300", "-a",
                                   actions[i], "pipeline", NULL},
                  &r, &j);
        expect_clean(&r, &j, "pipeline", 2000);
        /* The report names the action (an unknown one by its number). */
        assert_true(
            tjson_string_is(&j, "action", i < 5 ? actions[i] : "action 6"));
        tooltest_result_free(&r);
    }
}

/*
 * --server-pid: the CPU time of the server's tree during the run, per
 * answer and per MiB, consistent with each other; absent without it.
 */
static void test_server_cpu(void **state)
{
    struct tooltest *t = *state;
    struct harness_proc *srv = ensure_start_server(t->h, NULL);
    struct tool_result r;
    struct tjson j;
    char pid[16];
    double ns, per, v;

    snprintf(pid, sizeof(pid), "%ld", (long)srv->pid);
    run_bench(t, srv->port,
              (const char *[]){"-n", "3000", "-c", "1", "--server-pid", pid,
                               "conn", NULL},
              &r, &j);
    expect_clean(&r, &j, "conn", 3000);
    /* 3,000 connections cost the worker well over a millisecond. */
    ns = num(&j, "server_cpu_ns");
    assert_true(ns > 1e6);
    per = num(&j, "server_cpu_us_per_answer");
    assert_true(per > 0 && per * 3000 * 1e3 > ns * 0.99 &&
                per * 3000 * 1e3 < ns * 1.01);
    assert_true(num(&j, "server_cpu_ms_per_mib") > 0);
    tooltest_result_free(&r);

    run_bench(t, srv->port, (const char *[]){"-n", "10", "pipeline", NULL}, &r,
              &j);
    expect_clean(&r, &j, "pipeline", 10);
    assert_true(tjson_number(&j, "server_cpu_ns", &v) < 0);
    tooltest_result_free(&r);
}

static void test_conn(void **state)
{
    struct tooltest *t = *state;
    struct harness_proc *srv = ensure_start_server(t->h, NULL);
    struct tool_result r;
    struct tjson j;

    run_bench(t, srv->port,
              (const char *[]){"-n", "300", "-c", "4", "conn", NULL}, &r, &j);
    expect_clean(&r, &j, "conn", 300);
    assert_true(num(&j, "connects") == 300);
    assert_true(num(&j, "connections") == 4);
    tooltest_result_free(&r);
}

static void test_bulk(void **state)
{
    struct tooltest *t = *state;
    struct harness_proc *srv = ensure_start_server(t->h, NULL);
    struct tool_result r;
    struct tjson j;

    run_bench(t, srv->port,
              (const char *[]){"-n", "2", "-s", "4194304", "bulk", NULL}, &r,
              &j);
    expect_clean(&r, &j, "bulk", 2);
    assert_true(num(&j, "answer_bytes") == 2.0 * 4194304);
    assert_true(num(&j, "mb_per_s") > 0);
    tooltest_result_free(&r);
    /* A collecting action over a large message, too. */
    run_bench(t, srv->port,
              (const char *[]){"-n", "1", "-s", "3000000", "-a", "reverse",
                               "bulk", NULL},
              &r, &j);
    expect_clean(&r, &j, "bulk", 1);
    tooltest_result_free(&r);
}

/* Fails unless the run exited 1 and counted wrong answers, and only those. */
static void expect_wrong(const struct tool_result *r, const struct tjson *j)
{
    bool ok = true;

    if (r->status != 1 || tjson_bool(j, "ok", &ok) < 0 || ok ||
        num(j, "errors.wrong_answer") < 1 ||
        num(j, "errors_total") != num(j, "errors.wrong_answer") ||
        strstr(r->err, "wrong answer") == NULL ||
        strstr(r->err, "FAILED") == NULL) {
        tooltest_print("tcp_bench", r);
        fail_msg("expected exit 1 with wrong answers reported");
    }
}

/*
 * tcp_echo answers each request with the request itself: a tcp_bench that
 * takes it for a tcp_server must see wrong answers, in every mode, and
 * report them at once rather than wait for bytes that never come.
 */
static void test_wrong_server_detected(void **state)
{
    struct tooltest *t = *state;
    int port = tooltest_start_echo(t);
    struct tool_result r;
    struct tjson j;

    assert_true(port > 0);
    run_bench(t, (unsigned)port,
              (const char *[]){"-n", "100", "-P", "8", "pipeline", NULL}, &r,
              &j);
    expect_wrong(&r, &j);
    assert_true(num(&j, "answers") == 0);
    tooltest_result_free(&r);

    run_bench(t, (unsigned)port,
              (const char *[]){"-n", "10", "-c", "2", "conn", NULL}, &r, &j);
    expect_wrong(&r, &j);
    assert_true(num(&j, "errors.wrong_answer") == 10);
    tooltest_result_free(&r);

    run_bench(t, (unsigned)port, (const char *[]){"-s", "100000", "bulk", NULL},
              &r, &j);
    expect_wrong(&r, &j);
    tooltest_result_free(&r);

    /* A collecting action: its length is checked before its bytes. */
    run_bench(t, (unsigned)port,
              (const char *[]){"-n", "50", "-s", "16", "-a", "shuffle",
                               "pipeline", NULL},
              &r, &j);
    expect_wrong(&r, &j);
    tooltest_result_free(&r);

    /* The baseline itself, driven as such, is right. */
    run_bench(
        t, (unsigned)port,
        (const char *[]){"--raw", "-n", "1000", "-P", "8", "pipeline", NULL},
        &r, &j);
    expect_clean(&r, &j, "pipeline", 1000);
    tooltest_result_free(&r);
}

/* The other way round: a real server's answers are not echoes. */
static void test_server_is_not_an_echo(void **state)
{
    struct tooltest *t = *state;
    struct harness_proc *srv = ensure_start_server(t->h, NULL);
    struct tool_result r;
    struct tjson j;

    run_bench(
        t, srv->port,
        (const char *[]){"--raw", "-n", "100", "-P", "8", "pipeline", NULL}, &r,
        &j);
    expect_wrong(&r, &j);
    assert_true(num(&j, "errors.wrong_answer") == 100);
    tooltest_result_free(&r);
}

/* Nothing listening: exit 1, refused connects, still a JSON report. */
static void test_no_server(void **state)
{
    struct tooltest *t = *state;
    int port = wire_free_port();
    struct tool_result r;
    struct tjson j;
    bool ok = true;

    assert_true(port > 0);
    run_bench(t, (unsigned)port, (const char *[]){"-n", "10", "pipeline", NULL},
              &r, &j);
    if (r.status != 1 || tjson_bool(&j, "ok", &ok) < 0 || ok ||
        num(&j, "errors.refused") < 1 || num(&j, "errors.connect") != 0 ||
        strstr(r.err, "Connection refused") == NULL) {
        tooltest_print("tcp_bench", &r);
        fail();
    }
    tooltest_result_free(&r);
}

#define T(f)                                                                   \
    cmocka_unit_test_setup_teardown(f, tooltest_setup, tooltest_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pipeline),
        T(test_pipeline_every_action),
        T(test_conn),
        T(test_server_cpu),
        T(test_bulk),
        T(test_wrong_server_detected),
        T(test_server_is_not_an_echo),
        T(test_no_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
