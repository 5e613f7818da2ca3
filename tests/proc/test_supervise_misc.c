/*
 * Supervision details (DESIGN.md sections 4 and 4a): with four workers, a
 * killed one takes only its own client down and is replaced; a worker runs
 * with no blocked signal, only SIGPIPE ignored, exactly the descriptors it
 * should have (no leak from the supervisor or from a sibling) and a blocking
 * listener; and ctrl-c in a real terminal (tmux) stops the server with
 * status 0 and leaves no process behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
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
#include "sup_clients.h"
#include "sup_fixture.h"
#include "wire.h"
#include "proto.h"

/* Generous bound of every wait (ASan build on a loaded 2-core machine). */
#define WAIT_MS 10000
#define LOOPS   3

/* --- one worker of four killed ------------------------------------------ */

/* The worker (of n) that serves the client connection from port, or -1. */
static pid_t serving_worker(const pid_t *w, size_t n, unsigned port)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;

    for (;;) {
        for (size_t i = 0; i < n; i++)
            if (procfs_serves_port(w[i], port) == 1)
                return w[i];
        if (harness_now_ms() >= deadline)
            return -1;
        harness_pause_ms(1);
    }
}

static void test_kill_one_of_four(void **state)
{
    static const char *const four[] = {"-w", "4", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, four);
    struct sup_loop loops[LOOPS];
    struct sup_loop_result res[LOOPS];
    pid_t w[4], served[LOOPS], fresh;
    int port;

    assert_int_equal(harness_wait_children(srv, 4, WAIT_MS), 4);
    assert_int_equal(procfs_children(srv->pid, w, 4), 4);
    /* Three connections with request loops, each on its own worker. */
    for (size_t i = 0; i < LOOPS; i++) {
        assert_int_equal(
            sup_loop_start(h, srv->port, SUP_LOOP_PERSISTENT, &loops[i]), 0);
        port = sup_loop_wait_started(&loops[i], WAIT_MS);
        assert_true(port > 0);
        served[i] = serving_worker(w, 4, (unsigned)port);
        assert_true(served[i] > 0);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(served[i], served[j]);
    }

    /* Kill the worker of the first connection while all three talk. */
    assert_int_equal(kill(served[0], SIGKILL), 0);
    fresh = harness_wait_new_child(srv->pid, w, 4, WAIT_MS);
    assert_true(fresh > 0);
    assert_int_equal(harness_wait_children(srv, 4, WAIT_MS), 4);
    /* Pacing only: the other loops go on for a while after the kill. */
    harness_pause_ms(300);

    for (size_t i = 0; i < LOOPS; i++) {
        char label[64];

        assert_int_equal(sup_loop_stop(&loops[i], &res[i], WAIT_MS), 0);
        snprintf(label, sizeof(label), "connection %zu (worker %ld%s)", i,
                 (long)served[i], i == 0 ? ", killed" : "");
        sup_loop_print(label, &res[i]);
    }
    /* The killed worker's client lost its connection, and only it. */
    assert_int_equal(res[0].inflight, 1);
    assert_int_equal(res[0].wrong, 0);
    for (size_t i = 1; i < LOOPS; i++) {
        assert_int_equal(res[i].inflight, 0);
        assert_int_equal(res[i].wrong, 0);
        assert_int_equal(res[i].timeouts, 0);
        assert_true(res[i].ok > 0);
    }
    assert_int_not_equal(harness_wait_exit(srv, 0), 0);
}

/* --- descriptors and signal state of a worker --------------------------- */

/* The open flags of descriptor fd of pid (/proc/PID/fdinfo). */
static int fd_flags(pid_t pid, int fd, unsigned *flags)
{
    char path[64], *text = NULL, *s;
    unsigned long long v;
    size_t len;
    int r;

    *flags = 0;
    snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%d", (long)pid, fd);
    r = harness_read_file(path, &text, &len);
    if (r < 0)
        return r;
    r = -EPROTO;
    s = strstr(text, "flags:");
    if (s != NULL &&
        harness_parse_num(s + 6 + strspn(s + 6, " \t"), 8, &v, NULL) == 0 &&
        v <= UINT_MAX) {
        *flags = (unsigned)v;
        r = 0;
    }
    free(text);
    return r;
}

/* Formats a finding into why and returns why. */
static const char *say(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *say(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return why;
}

/*
 * Checks the worker's steady state; returns NULL when it is right, else a
 * description of what is wrong (in why).
 */
static const char *hygiene(pid_t pid, char *why, size_t len)
{
    char path[64], fds[512] = "", pipe0[128] = "", pipe1[128] = "";
    unsigned long long blk, ign;
    unsigned flags;
    bool std[3] = {false, false, false}, sock3 = false;
    size_t nfds = 0, npipes = 0, off = 0;
    struct dirent *d;
    DIR *dir;

    if (procfs_status_num(pid, "SigBlk", 16, &blk) < 0 ||
        procfs_status_num(pid, "SigIgn", 16, &ign) < 0)
        return say(why, len, "cannot read /proc/%ld/status", (long)pid);
    if (blk != 0)
        return say(why, len, "SigBlk %016llx, expected none", blk);
    if (ign != 1ULL << (SIGPIPE - 1))
        return say(why, len, "SigIgn %016llx, expected SIGPIPE only", ign);

    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    dir = opendir(path);
    if (dir == NULL)
        return say(why, len, "cannot list %s", path);
    while ((d = readdir(dir)) != NULL) {
        char link[384], target[128];
        unsigned long long v;
        const char *end;
        ssize_t n;
        int fd = -1; /* a name that is no number: an odd entry, shown */

        if (d->d_name[0] == '.')
            continue;
        if (harness_parse_num(d->d_name, 10, &v, &end) == 0 && *end == '\0' &&
            v <= INT_MAX)
            fd = (int)v;
        snprintf(link, sizeof(link), "%s/%s", path, d->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        if (off < sizeof(fds))
            off += (size_t)snprintf(fds + off, sizeof(fds) - off, " %d=%s", fd,
                                    target);
        nfds++;
        if (fd >= 0 && fd <= 2) {
            std[fd] = true;
        } else if (fd == 3 && strncmp(target, "socket:", 7) == 0) {
            sock3 = true;
        } else if (strncmp(target, "pipe:", 5) == 0 && npipes < 2) {
            snprintf(npipes == 0 ? pipe0 : pipe1, sizeof(pipe0), "%s", target);
            npipes++;
        }
    }
    closedir(dir);

    /* 0-2, the listener, and the two ends of one pipe (the stop pipe): the
     * readiness pipe (fd 4) is closed and nothing else leaked in. */
    if (!std[0] || !std[1] || !std[2] || !sock3 || nfds != 6 || npipes != 2 ||
        strcmp(pipe0, pipe1) != 0)
        return say(why, len, "descriptors:%s", fds);
    if (fd_flags(pid, 3, &flags) < 0)
        return say(why, len, "cannot read /proc/%ld/fdinfo/3", (long)pid);
    if (flags & 04000)
        return say(why, len, "listener fd 3 is O_NONBLOCK (flags %o)", flags);
    return NULL;
}

/* Polls until worker pid is in its steady state; fails with the last
 * account of what differs. */
static void expect_hygiene(struct harness_proc *srv, pid_t pid)
{
    int64_t deadline = harness_now_ms() + WAIT_MS;
    char why[768];
    const char *bad;

    while ((bad = hygiene(pid, why, sizeof(why))) != NULL) {
        if (harness_now_ms() >= deadline) {
            harness_print_stderr(srv);
            fail_msg("worker %ld: %s", (long)pid, bad);
        }
        harness_pause_ms(5);
    }
}

static void test_worker_hygiene(void **state)
{
    static const char *const two[] = {"-w", "2", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, two);
    pid_t w[2], fresh;

    assert_int_equal(harness_wait_children(srv, 2, WAIT_MS), 2);
    assert_int_equal(procfs_children(srv->pid, w, 2), 2);
    expect_hygiene(srv, w[0]);
    expect_hygiene(srv, w[1]);
    /* A respawned worker must not inherit its sibling's pipes either. */
    assert_int_equal(kill(w[0], SIGKILL), 0);
    fresh = harness_wait_new_child(srv->pid, w, 2, WAIT_MS);
    assert_true(fresh > 0);
    assert_int_equal(wire_ping(h, srv->port, WAIT_MS), 0);
    expect_hygiene(srv, fresh);
    expect_hygiene(srv, w[1]);
}

/* --- ctrl-c in a real terminal ------------------------------------------ */

/* Runs tmux -L name args... (ended by (const char *)NULL, the sentinel a
 * variadic function can read portably); fails the test if tmux cannot run. */
static int tmux(const char *name, char *out, size_t outlen, ...)
{
    char *argv[16];
    size_t argc = 0;
    const char *a;
    va_list ap;
    int st;

    argv[argc++] = (char *)(uintptr_t) "tmux";
    argv[argc++] = (char *)(uintptr_t) "-L";
    argv[argc++] = (char *)(uintptr_t)name;
    va_start(ap, outlen);
    while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
        argv[argc++] = (char *)(uintptr_t)a;
    va_end(ap);
    argv[argc] = NULL;
    st = sup_run(argv, out, outlen, WAIT_MS);
    if (st == -ENOENT)
        fail_msg("tmux is not installed (scripts/install-deps installs it); "
                 "the terminal test cannot run without it");
    return st;
}

/* The status N of the "EXIT=N" the shell printed, or -1 if none yet (the
 * typed command line itself shows "EXIT=$?", and the terminal echoes ^C
 * just before the shell's output). */
static int pane_exit(const char *pane)
{
    for (const char *s = strstr(pane, "EXIT="); s != NULL;
         s = strstr(s + 5, "EXIT=")) {
        unsigned long long v;

        if (harness_parse_num(s + 5, 10, &v, NULL) == 0 && v <= INT_MAX)
            return (int)v;
    }
    return -1;
}

static void test_terminal_ctrl_c(void **state)
{
    struct harness *h = *state;
    char name[64], portstr[16], cmd[1024], out[16384];
    const char *args[3];
    int64_t deadline, t0;
    pid_t sup = -1, w[8];
    int port, st, n, status;
    snprintf(name, sizeof(name), "tcp_server_test_%ld", (long)getpid());
    port = wire_free_port();
    assert_true(port > 0);
    snprintf(portstr, sizeof(portstr), "%d", port);
    /* Not inside the caller's tmux, whatever the environment says. */
    unsetenv("TMUX");

    sup_track_tmux(name);
    st = tmux(name, out, sizeof(out), "new-session", "-d", "-s", "t", "-x",
              "200", "-y", "50", "sh", (const char *)NULL);
    if (st != 0)
        fail_msg("tmux new-session failed (status 0x%x): %s", st, out);
    snprintf(cmd, sizeof(cmd), "'%s' -p %d; echo EXIT=$?", harness_server_bin(),
             port);
    assert_int_equal(tmux(name, out, sizeof(out), "send-keys", "-t", "t", "-l",
                          cmd, (const char *)NULL),
                     0);
    assert_int_equal(tmux(name, out, sizeof(out), "send-keys", "-t", "t",
                          "Enter", (const char *)NULL),
                     0);

    /* The supervisor is not our child: find it by its command line. */
    args[0] = "-p";
    args[1] = portstr;
    args[2] = NULL;
    deadline = harness_now_ms() + WAIT_MS;
    while ((sup = procfs_find_process(harness_server_bin(), args)) < 0) {
        if (harness_now_ms() >= deadline) {
            tmux(name, out, sizeof(out), "capture-pane", "-p", "-t", "t",
                 (const char *)NULL);
            fail_msg("the server never started in tmux; pane:\n%s", out);
        }
        harness_pause_ms(5);
    }
    sup_track_foreign(sup);
    deadline = harness_now_ms() + WAIT_MS;
    while (wire_ping(h, (unsigned)port, 1000) != 0) {
        if (harness_now_ms() >= deadline) {
            tmux(name, out, sizeof(out), "capture-pane", "-p", "-t", "t",
                 (const char *)NULL);
            fail_msg("the server in tmux never answered; pane:\n%s", out);
        }
        harness_pause_ms(5);
    }
    n = procfs_children(sup, w, 8);
    assert_true(n >= 1);

    /* ctrl-c: the terminal signals the whole foreground process group. */
    t0 = harness_now_ms();
    assert_int_equal(tmux(name, out, sizeof(out), "send-keys", "-t", "t", "C-c",
                          (const char *)NULL),
                     0);
    deadline = harness_now_ms() + WAIT_MS;
    for (;;) {
        assert_int_equal(tmux(name, out, sizeof(out), "capture-pane", "-p",
                              "-t", "t", (const char *)NULL),
                         0);
        status = pane_exit(out);
        if (status >= 0)
            break;
        if (harness_now_ms() >= deadline)
            fail_msg("no exit status in the pane after ctrl-c:\n%s", out);
        harness_pause_ms(10);
    }
    print_message("ctrl-c in tmux: the shell saw the exit after %lld ms\n",
                  (long long)(harness_now_ms() - t0));
    if (status != 0)
        fail_msg("ctrl-c gave exit status %d, not 0; pane:\n%s", status, out);
    assert_int_equal(harness_wait_gone(sup, WAIT_MS), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(harness_wait_gone(w[i], WAIT_MS), 0);
    sup_track_foreign(0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, sup_setup, sup_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_kill_one_of_four),
        T(test_worker_hygiene),
        T(test_terminal_ctrl_c),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
