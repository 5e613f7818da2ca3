/*
 * Respawn (DESIGN.md section 4): a worker killed by SIGKILL, SIGSEGV or
 * SIGABRT is replaced at once and no connection is refused meanwhile, not
 * even while a client loop runs through thirty kills in a row; a worker that
 * dies before it becomes ready is restarted with growing delays, costs the
 * supervisor almost no CPU, and is served again once the fault is gone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "logtext.h"
#include "procfs.h"
#include "sup_clients.h"
#include "sup_fixture.h"
#include "wire.h"
#include "proto.h"

/* Generous bound of every wait (ASan build on a loaded 2-core machine). */
#define WAIT_MS 10000
/* Kills of the client-loop test. */
#define KILLS 30
/* Start-up failures the crash-loop test waits for before measuring. */
#define MIN_FAILURES 4
/* Span over which the crash loop's CPU cost is measured, and its bound:
 * a behavioural limit (no busy loop), far above what a sane loop costs. */
#define CPU_SPAN_MS  2000
#define CPU_BOUND_MS 500
/* Back-off cap (5 s) plus a margin: the fault is gone, an answer is due. */
#define RECOVER_MS 10000

/* The only worker of srv (-w 1), once there is exactly one. */
static pid_t only_worker(struct harness_proc *srv)
{
    pid_t pid = -1;

    assert_int_equal(harness_wait_children(srv, 1, WAIT_MS), 1);
    assert_int_equal(procfs_children(srv->pid, &pid, 1), 1);
    return pid;
}

/* Polls srv's stderr until a line holds word and pid; fails the test after
 * WAIT_MS. */
static void expect_log(struct harness_proc *srv, const char *word, long pid)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;

    for (;;) {
        char *text = NULL;
        size_t len;
        bool hit = harness_read_file(srv->err_path, &text, &len) == 0 &&
                   logtext_line_has(text, word, pid);

        free(text);
        if (hit)
            return;
        if (harness_now_ms() >= deadline) {
            fprintf(stderr, "no log line with \"%s\" and %ld\n", word, pid);
            harness_print_stderr(srv);
            fail();
        }
        harness_pause_ms(5);
    }
}

/*
 * Kills the worker with sig, then one connection made right after must be
 * accepted (the listener outlives the worker) and answered by the next
 * worker. Prints the kill-to-answer latency.
 */
static void respawn_after(void **state, int sig, const char *name,
                          const char *how)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    pid_t old = only_worker(srv), now;
    int64_t t0;
    int fd;

    t0 = harness_now_ms();
    assert_int_equal(kill(old, sig), 0);
    assert_int_equal(harness_wait_gone(old, WAIT_MS), 0);
    fd = wire_connect(h, srv->port, WAIT_MS);
    if (fd < 0) {
        fprintf(stderr, "connect after the kill: %s\n", strerror(-fd));
        fail();
    }
    ensure_exchange(fd, PROTO_UPPERCASE, "served after a crash", 20,
                    "SERVED AFTER A CRASH", 20);
    print_message("respawn latency after %s: %lld ms (kill to first "
                  "correct answer)\n",
                  name, (long long)(harness_now_ms() - t0));
    harness_close_fd(h, fd);

    now = only_worker(srv);
    assert_int_not_equal(now, old);
    /* The supervisor says which worker died and how, even without -v. */
#ifdef SUP_SANITIZE
    /* The sanitizer runtime turns a SIGSEGV into a report and exit(1). */
    if (sig == SIGSEGV) {
        expect_log(srv, "worker", old);
        assert_int_not_equal(harness_wait_exit(srv, 0), 0);
        return;
    }
#endif
    expect_log(srv, how, old);
    assert_int_not_equal(harness_wait_exit(srv, 0), 0);
}

static void test_respawn_after_sigkill(void **state)
{
    respawn_after(state, SIGKILL, "SIGKILL", "killed by signal 9 (SIGKILL)");
}

static void test_respawn_after_sigsegv(void **state)
{
    respawn_after(state, SIGSEGV, "SIGSEGV", "killed by signal 11 (SIGSEGV)");
}

static void test_respawn_after_sigabrt(void **state)
{
    respawn_after(state, SIGABRT, "SIGABRT", "killed by signal 6 (SIGABRT)");
}

/*
 * Short connections run in a helper process while the worker is killed
 * KILLS times, each time once its replacement has become ready (a worker
 * killed before that is a start-up failure and would be delayed on
 * purpose). Not one connection may be refused; only a connection that a
 * dying worker was serving may be cut.
 */
static void test_kill_loop_never_refuses(void **state)
{
    static const char *const verbose[] = {"-v", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, verbose);
    struct logtext_tail log = {srv->err_path, 0};
    struct sup_loop_result res;
    struct sup_loop loop;
    pid_t cur = only_worker(srv), next;
    char *text = NULL;
    size_t len;

    assert_int_equal(sup_loop_start(h, srv->port, SUP_LOOP_SHORT, &loop), 0);
    assert_true(sup_loop_wait_started(&loop, WAIT_MS) > 0);
    for (int i = 0; i < KILLS; i++) {
        if (logtext_wait(&log, "ready (slot", cur, WAIT_MS) < 0) {
            fprintf(stderr, "worker %ld never became ready\n", (long)cur);
            harness_print_stderr(srv);
            fail();
        }
        /* Pacing only: let the loop talk to this worker for a moment. */
        harness_pause_ms(20);
        assert_int_equal(kill(cur, SIGKILL), 0);
        next = harness_wait_new_child(srv->pid, &cur, 1, WAIT_MS);
        assert_true(next > 0);
        cur = next;
    }
    assert_int_equal(logtext_wait(&log, "ready (slot", cur, WAIT_MS), 0);
    harness_pause_ms(50);
    assert_int_equal(sup_loop_stop(&loop, &res, WAIT_MS), 0);
    sup_loop_print("client loop across 30 worker kills", &res);

    sup_loop_assert_clean(&res);
    assert_true(res.inflight <= KILLS);
    assert_true(res.ok > KILLS);
    assert_int_not_equal(harness_wait_exit(srv, 0), 0);
    assert_int_equal(harness_read_file(srv->err_path, &text, &len), 0);
    assert_int_equal(logtext_count(text, "killed by signal 9 (SIGKILL)"),
                     KILLS);
    free(text);
}

/* Writes the crash-loop wrapper: exit 3 while fault exists, else exec the
 * real worker with the same arguments. */
static void write_wrapper(const char *path, const char *fault)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n[ -e '%s' ] && exit 3\nexec '%s' \"$@\"\n", fault,
            harness_worker_bin());
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0700), 0);
}

/* Reads srv's stderr; free() it. */
static char *read_log(struct harness_proc *srv)
{
    char *text = NULL;
    size_t len;

    assert_int_equal(harness_read_file(srv->err_path, &text, &len), 0);
    return text;
}

static void test_crash_loop_backs_off(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = NULL;
    char fault[512], wrapper[512], *text;
    int64_t times[64], t0, deadline, cpu0, cpu1, first_gap, last_gap;
    size_t n;
    int port, fd;

    snprintf(fault, sizeof(fault), "%s/fault", h->dir);
    snprintf(wrapper, sizeof(wrapper), "%s/worker.sh", h->dir);
    fd = creat(fault, 0600);
    assert_true(fd >= 0);
    close(fd);
    write_wrapper(wrapper, fault);

    port = wire_free_port();
    assert_true(port > 0);
    assert_int_equal(setenv(SUP_WORKER_ENV, wrapper, 1), 0);
    assert_int_equal(harness_spawn_server(h, (unsigned)port, NULL, &srv), 0);
    sup_restore_worker_env();

    /* No -v: start-up failures are errors and are always logged. */
    deadline = harness_now_ms() + WAIT_MS;
    for (;;) {
        text = read_log(srv);
        n = logtext_count(text, "exited with status 3");
        free(text);
        if (n >= MIN_FAILURES)
            break;
        if (harness_wait_exit(srv, 0) == 0 || harness_now_ms() >= deadline) {
            fprintf(stderr, "%zu start-up failures seen\n", n);
            harness_print_stderr(srv);
            fail();
        }
        harness_pause_ms(10);
    }

    /* A crash loop must not spin: measure the supervisor's CPU time. */
    cpu0 = procfs_cpu_ms(srv->pid);
    t0 = harness_now_ms();
    harness_pause_ms(CPU_SPAN_MS);
    cpu1 = procfs_cpu_ms(srv->pid);
    assert_true(cpu0 >= 0 && cpu1 >= 0);
    print_message("supervisor CPU time during %lld ms of crash loop: %lld ms\n",
                  (long long)(harness_now_ms() - t0), (long long)(cpu1 - cpu0));
    assert_true(cpu1 - cpu0 < CPU_BOUND_MS);
    assert_int_not_equal(harness_wait_exit(srv, 0), 0);

    /* The delays between failures grow (exact values are not asserted). */
    text = read_log(srv);
    n = logtext_times(text, "exited with status 3", times, 64);
    free(text);
    assert_true(n >= MIN_FAILURES);
    print_message("%zu start-up failures; gaps between them (ms):", n);
    for (size_t i = 1; i < n; i++) {
        int64_t gap = times[i] - times[i - 1];

        if (gap < 0)
            gap += (int64_t)24 * 3600 * 1000; /* across midnight */
        times[i - 1] = gap;
        print_message(" %lld", (long long)gap);
    }
    print_message("\n");
    first_gap = times[0];
    last_gap = times[n - 2];
    assert_true(last_gap > first_gap);

    /* The fault is gone: a worker starts after at most the capped delay. */
    assert_int_equal(unlink(fault), 0);
    t0 = harness_now_ms();
    if (wire_wait_answer(h, srv, RECOVER_MS) < 0) {
        harness_print_stderr(srv);
        fail_msg("no answer within %d ms of the fault being removed",
                 RECOVER_MS);
    }
    print_message("answered %lld ms after the fault was removed\n",
                  (long long)(harness_now_ms() - t0));
}

#define T(f) cmocka_unit_test_setup_teardown(f, sup_setup, sup_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_respawn_after_sigkill), T(test_respawn_after_sigsegv),
        T(test_respawn_after_sigabrt), T(test_kill_loop_never_refuses),
        T(test_crash_loop_backs_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
