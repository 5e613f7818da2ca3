/*
 * Stop signals are never lost (DESIGN.md section 7, last paragraph): a
 * SIGINT or SIGTERM sent in the first milliseconds of a server started by a
 * parent that has the signal ignored and blocked (a script's background
 * job) stops it gracefully, and one blocked in the inherited mask does not
 * stay blocked. The server is started here with fork/exec rather than the
 * harness, whose children start with clean signal state on purpose.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "procfs.h"
#include "wire.h"

/* Starts per signal, as the issue that asked for this test says. */
#define STARTS 200
/* Delay between exec and the signal: 0 to this many microseconds. */
#define MAX_DELAY_US 3000
/* What the specification promises, and the generous bound asserted. */
#define PROMISE_MS 1000
#define BOUND_MS   harness_ms(5000)

static void pause_us(unsigned us)
{
    struct timespec ts = {0, (long)us * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

struct early {
    pid_t pid;
    char err_path[512];
};

/*
 * Starts tcp_server with the given signal ignored (when ignore) and blocked
 * in the mask it inherits, stderr to err_path. Returns once exec happened:
 * the close-on-exec pipe reads end-of-file then.
 */
static void start_with_held(struct early *e, int sig, bool ignore,
                            const char *const extra[])
{
    char *argv[16];
    size_t n = 0;
    int p[2];
    char c;

    argv[n++] = strdup(harness_server_bin());
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        argv[n++] = strdup(extra[i]);
    argv[n] = NULL;
    for (size_t i = 0; i < n; i++)
        assert_non_null(argv[i]);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    e->pid = fork();
    assert_true(e->pid >= 0);
    if (e->pid == 0) {
        sigset_t set;
        int fd =
            open(e->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(126);
        close(p[0]);
        if (ignore)
            signal(sig, SIG_IGN);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_BLOCK, &set, NULL);
        execv(argv[0], argv);
        _exit(127);
    }
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    close(p[1]);
    while (read(p[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(p[0]);
}

/* Ends e and any worker it left by SIGKILL: the cleanup of a failure. */
static void kill_all(const struct early *e)
{
    pid_t kids[HARNESS_MAX_CHILDREN];
    int n = procfs_children(e->pid, kids, HARNESS_MAX_CHILDREN);

    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
}

/* Waits up to ms for e to exit: its wait status, or -1 after killing it. */
static int wait_or_kill(const struct early *e, int ms)
{
    int64_t deadline = harness_now_ms() + ms;
    int st;

    for (;;) {
        pid_t r = waitpid(e->pid, &st, WNOHANG);

        if (r == e->pid)
            return st;
        assert_true(r == 0 || (r < 0 && errno == EINTR));
        if (harness_now_ms() >= deadline) {
            kill_all(e);
            return -1;
        }
        harness_pause_ms(1);
    }
}

/* Polls until the server at port answers correctly: 0, or the last error
 * after ms. */
static int wait_answering(struct harness *h, unsigned port, int ms)
{
    int64_t deadline = harness_now_ms() + ms;

    for (;;) {
        int r = wire_ping(h, port, HARNESS_IO_MS);

        if (r == 0 || harness_now_ms() >= deadline)
            return r;
        harness_pause_ms(5);
    }
}

static void report_failure(const struct early *e, int i, int st)
{
    char *err = NULL;
    size_t len;

    fprintf(stderr, "start %d: wait status %d (%s)\n", i, st,
            st < 0 ? "still running, killed" : "exited");
    if (harness_read_file(e->err_path, &err, &len) == 0)
        fprintf(stderr, "its stderr:\n%s\n", err);
    free(err);
}

static void early_signal_stops(struct harness *h, int sig)
{
    static const char *const extra[] = {"-p", "0", "-v", NULL};
    int64_t worst = 0;
    int late = 0;
    unsigned seed = (unsigned)getpid();

    for (int i = 0; i < STARTS; i++) {
        struct early e;
        int64_t t0;
        int st;

        snprintf(e.err_path, sizeof(e.err_path), "%s/early.err", h->dir);
        start_with_held(&e, sig, true, extra);
        pause_us((unsigned)(rand_r(&seed) % (MAX_DELAY_US + 1)));
        t0 = harness_now_ms();
        assert_int_equal(kill(e.pid, sig), 0);
        st = wait_or_kill(&e, BOUND_MS);
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            report_failure(&e, i, st);
            fail();
        }
        if (harness_now_ms() - t0 > worst)
            worst = harness_now_ms() - t0;
        if (harness_now_ms() - t0 > PROMISE_MS)
            late++;
    }
    fprintf(stderr,
            "%d starts, %s sent 0-%d us after exec: all exited 0; slowest "
            "%lld ms, %d over %d ms\n",
            STARTS, strsignal(sig), MAX_DELAY_US, (long long)worst, late,
            PROMISE_MS);
}

static void test_early_sigint_is_not_lost(void **state)
{
    early_signal_stops(*state, SIGINT);
}

static void test_early_sigterm_is_not_lost(void **state)
{
    early_signal_stops(*state, SIGTERM);
}

/* Blocked (not ignored) by the parent: the server unblocks it and a later
 * SIGINT, once it serves, stops it gracefully. */
static void test_inherited_blocked_mask_is_cleared(void **state)
{
    struct harness *h = *state;
    char port[16];
    const char *extra[] = {"-p", port, NULL};
    struct early e;
    int pnum = wire_free_port(), r, st;

    assert_true(pnum > 0);
    snprintf(port, sizeof(port), "%d", pnum);
    snprintf(e.err_path, sizeof(e.err_path), "%s/blocked.err", h->dir);
    start_with_held(&e, SIGINT, false, extra);
    r = wait_answering(h, (unsigned)pnum, HARNESS_READY_MS);
    if (r != 0)
        kill_all(&e);
    assert_int_equal(r, 0);

    assert_int_equal(kill(e.pid, SIGINT), 0);
    st = wait_or_kill(&e, HARNESS_STOP_MS);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        report_failure(&e, 0, st);
    assert_true(st >= 0 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_early_sigint_is_not_lost),
        T(test_early_sigterm_is_not_lost),
        T(test_inherited_blocked_mask_is_cleared),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
