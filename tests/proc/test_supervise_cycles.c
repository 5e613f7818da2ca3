/*
 * Start/stop races, repeated (DESIGN.md section 4 and 4a): a hundred cycles
 * of start, one request and SIGINT, none of which may hang or fail; and a
 * hundred cycles where the worker is killed and the supervisor gets SIGINT
 * a few milliseconds apart, so that the worker's exit and the stop signal
 * reach the supervisor in every order. After the stop began nothing may be
 * started, the supervisor exits 0 and no worker survives it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "procfs.h"
#include "sup_fixture.h"
#include "proto.h"

#define CYCLES 100
/* Generous bound of every wait (ASan build on a loaded 2-core machine). */
#define WAIT_MS 10000
/* Workers a cycle may see: the first one and the odd early respawn. */
#define MAX_SEEN 16

/* Fails the test unless srv exited normally with status 0. */
static void expect_exit0(struct harness_proc *srv, int cycle)
{
    if (!WIFEXITED(srv->status) || WEXITSTATUS(srv->status) != 0) {
        fprintf(stderr, "cycle %d: wait status 0x%x, expected exit 0\n", cycle,
                srv->status);
        harness_print_stderr(srv);
        fail();
    }
}

/* A fresh harness per cycle (a harness holds a bounded number of
 * processes); teardown closes it if the cycle fails. */
static struct harness *cycle_open(void)
{
    struct harness *h = NULL;

    assert_int_equal(harness_open(&h), 0);
    sup_track_harness(h);
    return h;
}

static void cycle_close(struct harness *h)
{
    sup_track_harness(NULL);
    harness_close(h);
}

static void test_start_request_sigint(void **state)
{
    int max_ms = 0;
    long long total_ms = 0;

    (void)state;
    for (int i = 0; i < CYCLES; i++) {
        struct harness *h = cycle_open();
        struct harness_proc *srv = ensure_start_server(h, NULL);
        pid_t w[8];
        int n = procfs_children(srv->pid, w, 8), ms;

        assert_true(n >= 1);
        ensure_exchange_once(h, srv, PROTO_REVERSE, "cycle", 5, "elcyc", 5);
        assert_int_equal(harness_kill(srv, SIGINT, false), 0);
        ms = harness_wait_all_gone(srv, w, (size_t)n, WAIT_MS);
        if (ms < 0) {
            harness_print_stderr(srv);
            fail_msg("cycle %d: the server hung after SIGINT", i);
        }
        expect_exit0(srv, i);
        max_ms = ms > max_ms ? ms : max_ms;
        total_ms += ms;
        cycle_close(h);
    }
    print_message("%d cycles of start, request, SIGINT: stop took %lld ms on "
                  "average, %d ms at most\n",
                  CYCLES, total_ms / CYCLES, max_ms);
}

/* Adds pid to seen[] unless it is there. */
static void remember(pid_t *seen, size_t *n, pid_t pid)
{
    for (size_t i = 0; i < *n; i++)
        if (seen[i] == pid)
            return;
    if (*n < MAX_SEEN)
        seen[(*n)++] = pid;
}

/* Adds the pid of every "worker PID started" line of the log to seen[]. */
static void started_pids(const char *text, pid_t *seen, size_t *n)
{
    static const char mark[] = "] worker ";

    for (const char *s = strstr(text, mark); s != NULL;
         s = strstr(s + 1, mark)) {
        unsigned long long pid;
        const char *end;

        /* "] worker PID started (slot ...)". */
        if (harness_parse_num(s + sizeof(mark) - 1, 10, &pid, &end) < 0 ||
            pid > INT_MAX || (*end != ' ' && *end != '\t'))
            continue;
        end += strspn(end, " \t");
        if (strncmp(end, "started", 7) == 0 &&
            (end[7] == '\0' || isspace((unsigned char)end[7])))
            remember(seen, n, (pid_t)pid);
    }
}

/*
 * One race: SIGKILL to the worker and SIGINT to the supervisor gap_ms apart,
 * the kill first or the signal first. Returns the number of workers seen
 * during the cycle.
 */
static size_t kill_and_stop(struct harness *h, int cycle, int gap_ms,
                            bool kill_first)
{
    static const char *const verbose[] = {"-v", NULL};
    struct harness_proc *srv = ensure_start_server(h, verbose);
    /* seen is zeroed for cppcheck, which does not follow nseen. */
    pid_t seen[MAX_SEEN] = {0}, kids[MAX_SEEN];
    size_t nseen = 0;
    int64_t deadline;
    char *text = NULL, *stop;
    size_t len;
    bool bad;
    int n;

    n = procfs_children(srv->pid, kids, MAX_SEEN);
    assert_int_equal(n, 1);
    remember(seen, &nseen, kids[0]);
    if (kill_first)
        assert_int_equal(kill(kids[0], SIGKILL), 0);
    else
        assert_int_equal(harness_kill(srv, SIGINT, false), 0);
    if (gap_ms > 0)
        harness_pause_ms(gap_ms);
    if (kill_first)
        assert_int_equal(harness_kill(srv, SIGINT, false), 0);
    else
        (void)kill(kids[0], SIGKILL); /* it may be gone already */

    /* Watch the children until the supervisor is gone. */
    deadline = harness_now_ms() + WAIT_MS;
    while (harness_wait_exit(srv, 0) != 0) {
        n = procfs_children(srv->pid, kids, MAX_SEEN);
        for (int i = 0; i < n; i++)
            remember(seen, &nseen, kids[i]);
        if (harness_now_ms() >= deadline) {
            harness_print_stderr(srv);
            fail_msg("cycle %d: the supervisor hung after SIGINT", cycle);
        }
        harness_pause_ms(1);
    }
    expect_exit0(srv, cycle);

    assert_int_equal(harness_read_file(srv->err_path, &text, &len), 0);
    started_pids(text, seen, &nseen);
    /* Nothing may be started once the stop began. */
    stop = strstr(text, "SIGINT received");
    bad = stop == NULL || strstr(stop, " started (slot") != NULL;
    if (bad) {
        fprintf(stderr, "cycle %d: %s\n", cycle,
                stop ? "a worker was started after SIGINT"
                     : "no \"SIGINT received\" line");
        harness_print_stderr(srv);
    }
    /* Freed before the verdict: fail() does not return. */
    free(text);
    if (bad)
        fail();
    /* No worker outlives its supervisor (an orphan would hold the port). */
    for (size_t i = 0; i < nseen; i++) {
        if (harness_wait_gone(seen[i], 2000) < 0) {
            harness_print_stderr(srv);
            fail_msg("cycle %d: worker %ld outlived the supervisor", cycle,
                     (long)seen[i]);
        }
    }
    return nseen;
}

static void test_kill_worker_and_sigint_race(void **state)
{
    size_t respawned = 0;

    (void)state;
    for (int i = 0; i < CYCLES; i++) {
        struct harness *h = cycle_open();

        /* 0 to 4 ms apart, in both orders: the worker's exit and the stop
         * signal reach the supervisor in every order. */
        if (kill_and_stop(h, i, (i / 2) % 5, i % 2 == 0) > 1)
            respawned++;
        cycle_close(h);
    }
    print_message("%d SIGKILL/SIGINT races: exit 0 every time; a respawn "
                  "started before the signal was handled in %zu of them\n",
                  CYCLES, respawned);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sup_setup, sup_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_start_request_sigint),
        T(test_kill_worker_and_sigint_race),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
