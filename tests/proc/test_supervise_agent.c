/*
 * The HAProxy agent and the drain phase of a stop (DESIGN.md section 9):
 * the agent answers "up ready" while the server runs and "drain" once a
 * stop began; during the drain the server keeps serving; the stop goes on
 * once the agent has said "drain" (plus 100 ms) or when --drain-timeout
 * expires with nobody asking; a second signal during the drain forces
 * (exit 3); an agent port in use is a start-up failure (exit 1). Durations
 * are printed, never asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "net.h"
#include "procfs.h"
#include "sup_fixture.h"
#include "wire.h"

/* Generous bound of every wait (ASan build on a loaded 2-core machine). */
#define WAIT_MS 10000
/* Logged once the stop signal reached the drain phase. */
#define DRAIN_BEGUN "telling the balancer to drain"

/* A server with -w 2 and its agent on a free port (in *agent_port). */
static struct harness_proc *start_with_agent(struct harness *h,
                                             const char *drain_timeout,
                                             unsigned *agent_port)
{
    static char spec[32];
    const char *extra[] = {"-w",          "2",  "-v",
                           "--agent",     spec, "--drain-timeout",
                           drain_timeout, NULL};
    int port = wire_free_port();

    assert_true(port > 0);
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
    *agent_port = (unsigned)port;
    return ensure_start_server(h, extra);
}

/* Reads the agent's whole answer (it closes after one line) into buf. */
static int agent_ask(struct harness *h, unsigned port, char *buf, size_t len)
{
    size_t got = 0;
    int fd = wire_connect(h, port, WAIT_MS), r = 0;

    if (fd < 0)
        return fd;
    while (got + 1 < len) {
        ssize_t n;

        r = wire_wait_readable(fd, WAIT_MS);
        if (r < 0)
            break;
        n = read(fd, buf + got, len - 1 - got);
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    harness_close_fd(h, fd);
    return r;
}

/* Polls srv's stderr until it contains what. */
static void expect_log(struct harness_proc *srv, const char *what)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;

    for (;;) {
        char *text = NULL;
        size_t len;
        bool found = harness_read_file(srv->err_path, &text, &len) == 0 &&
                     text != NULL && strstr(text, what) != NULL;

        free(text);
        if (found)
            return;
        if (harness_now_ms() >= deadline) {
            harness_print_stderr(srv);
            fail_msg("never logged: %s", what);
        }
        harness_pause_ms(5);
    }
}

/* Sends SIGTERM to srv and waits until the drain phase has begun. */
static void term_and_drain(struct harness_proc *srv)
{
    assert_int_equal(harness_kill(srv, SIGTERM, false), 0);
    expect_log(srv, DRAIN_BEGUN);
}

/* Waits for srv to exit; returns the milliseconds it took. */
static int64_t wait_exit(struct harness_proc *srv)
{
    int64_t start = harness_now_ms();

    if (harness_wait_exit(srv, WAIT_MS) < 0) {
        harness_print_stderr(srv);
        fail_msg("the server did not exit");
    }
    return harness_now_ms() - start;
}

/*
 * "up ready" while running; after SIGTERM the server still answers requests
 * and the agent says "drain"; then the stop runs (exit 0) and new connects
 * are refused.
 */
static void test_agent_up_then_drain(void **state)
{
    struct harness *h = *state;
    unsigned agent;
    struct harness_proc *srv = start_with_agent(h, "60", &agent);
    char line[64];
    int64_t ms;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(agent_ask(h, agent, line, sizeof(line)), 0);
        assert_string_equal(line, "up ready\n");
    }
    term_and_drain(srv);
    /* Draining: nobody asked the agent yet, so the server serves on. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(wire_ping(h, srv->port, WAIT_MS), 0);
    assert_int_equal(agent_ask(h, agent, line, sizeof(line)), 0);
    assert_string_equal(line, "drain\n");
    ms = wait_exit(srv);
    print_message("drain answered to exit: %lld ms\n", (long long)ms);
    ensure_exit_status(srv, 0);
    expect_log(srv, "drain announced: stopping");
    assert_int_equal(wire_connect(h, srv->port, WAIT_MS), -ECONNREFUSED);
}

/* Nobody asks the agent: the stop runs once --drain-timeout expires. */
static void test_drain_timeout_when_nobody_polls(void **state)
{
    struct harness *h = *state;
    unsigned agent;
    struct harness_proc *srv = start_with_agent(h, "1", &agent);
    int64_t ms;

    term_and_drain(srv);
    assert_int_equal(wire_ping(h, srv->port, WAIT_MS), 0);
    ms = wait_exit(srv);
    print_message("drain timeout (1 s): exited %lld ms after the drain "
                  "began\n",
                  (long long)ms);
    ensure_exit_status(srv, 0);
    expect_log(srv, "drain timeout expired: stopping");
}

/* A second SIGTERM during the drain forces: workers killed, exit 3. */
static void test_second_signal_during_drain_forces(void **state)
{
    struct harness *h = *state;
    unsigned agent;
    struct harness_proc *srv = start_with_agent(h, "60", &agent);
    pid_t w[8];
    int n = procfs_children(srv->pid, w, 8);
    int ms;

    assert_true(n >= 1);
    term_and_drain(srv);
    assert_int_equal(harness_kill(srv, SIGTERM, false), 0);
    ms = harness_wait_all_gone(srv, w, (size_t)n, WAIT_MS);
    if (ms < 0) {
        harness_print_stderr(srv);
        fail_msg("the second signal did not end the drain");
    }
    print_message("second SIGTERM during the drain: gone in %d ms\n", ms);
    ensure_exit_status(srv, 3);
    expect_log(srv, "second stop signal");
}

/* The agent's port taken: exit 1 naming the cause, nothing left running. */
static void test_agent_port_in_use(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = NULL;
    char spec[32], want[64];
    const char *extra[] = {"--agent", spec, NULL};
    int holder = wire_listen_v4(0), port;

    assert_true(holder >= 0);
    assert_int_equal(harness_track_fd(h, holder), 0);
    port = net_local_port(holder);
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
    assert_int_equal(
        harness_spawn_server(h, (unsigned)wire_free_port(), extra, &srv), 0);
    wait_exit(srv);
    ensure_exit_status(srv, 1);
    snprintf(want, sizeof(want), "agent port %d is already in use", port);
    expect_log(srv, want);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sup_setup, sup_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_agent_up_then_drain),
        T(test_drain_timeout_when_nobody_polls),
        T(test_second_signal_during_drain_forces),
        T(test_agent_port_in_use),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
