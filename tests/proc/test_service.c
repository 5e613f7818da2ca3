/*
 * Running under systemd (DESIGN.md section 8), with the real binaries and
 * no systemd as PID 1: socket activation through systemd-socket-activate
 * (the worked example, a worker killed and a reload with clients running,
 * ctrl-c), the sd_notify datagrams on a socket the test binds (a path and
 * an abstract name: READY=1 only once the server answers, RELOADING=1 and
 * READY=1 around SIGHUP, STOPPING=1 on SIGINT, in that order), the
 * activation variables ignored when meant for another process and refused
 * when they pass something that is not a listening TCP socket, and workers
 * that never see LISTEN_* or NOTIFY_SOCKET.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "procfs.h"
#include "proto.h"
#include "sup_clients.h"
#include "sup_fixture.h"
#include "wire.h"

#define WAIT_MS         harness_ms(10000)
#define SOCKET_ACTIVATE "/usr/bin/systemd-socket-activate"
#define EXAMPLE_IN      "The LAN Before Time"
#define EXAMPLE_OUT     "emiT erofeB NAL ehT"
#define TRANSCRIPT_MAX  4096

static const char *const verbose[] = {"-v", NULL};

/* Fails unless p exited with status want. */
static void expect_exit(struct harness_proc *p, int want)
{
    if (harness_wait_exit(p, WAIT_MS) < 0) {
        harness_print_stderr(p);
        fail_msg("server %ld did not exit", (long)p->pid);
    }
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != want) {
        harness_print_stderr(p);
        fail_msg("server wait status %#x, expected exit %d", p->status, want);
    }
}

/* Fails unless p's stderr contains needle; returns its line count. */
static size_t expect_stderr(const struct harness_proc *p, const char *needle)
{
    char *text = NULL;
    size_t len, lines = 0;
    bool hit;

    assert_int_equal(harness_read_file(p->err_path, &text, &len), 0);
    hit = strstr(text, needle) != NULL;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (!hit)
        fprintf(stderr, "stderr: %s\n", text);
    free(text);
    if (!hit)
        fail_msg("stderr does not mention \"%s\"", needle);
    return lines;
}

/* Fails if pid's environment has a LISTEN_* or NOTIFY_SOCKET variable. */
static void expect_clean_environ(pid_t pid)
{
    char path[64], *env = NULL;
    size_t len;

    snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
    assert_int_equal(harness_read_file(path, &env, &len), 0);
    for (size_t i = 0; i < len; i += strlen(env + i) + 1) {
        const char *v = env + i;

        if (strncmp(v, "LISTEN_", 7) == 0 ||
            strncmp(v, "NOTIFY_SOCKET=", 14) == 0) {
            fail_msg("worker %ld has %s in its environment", (long)pid, v);
        }
    }
    free(env);
}

static pid_t only_worker(struct harness_proc *srv)
{
    pid_t pid = -1;

    assert_int_equal(harness_wait_children(srv, 1, WAIT_MS), 1);
    assert_int_equal(procfs_children(srv->pid, &pid, 1), 1);
    return pid;
}

/* A new worker replacing old, once it answers (a ping may reach either). */
static pid_t replaced(struct harness *h, struct harness_proc *srv, pid_t old)
{
    pid_t fresh = harness_wait_new_child(srv->pid, &old, 1, WAIT_MS);

    if (fresh <= 0) {
        harness_print_stderr(srv);
        fail_msg("no worker replaced %ld", (long)old);
    }
    assert_int_equal(procfs_wait_in_accept(fresh, WAIT_MS), 0);
    assert_int_equal(wire_ping(h, srv->port, WAIT_MS), 0);
    return fresh;
}

/*
 * systemd-socket-activate binds 127.0.0.1:PORT and execs tcp_server (same
 * pid, LISTEN_PID set to it) on the first connection; without --accept the
 * server gets the listener itself. Clients keep getting answers across a
 * worker killed by SIGKILL and a reload; ctrl-c ends it with status 0.
 */
static void test_socket_activation(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv;
    struct sup_loop_result res;
    struct sup_loop loop;
    char spec[32];
    pid_t w1, w2;
    int port = wire_free_port();

    assert_true(port > 0);
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
    char *argv[] = {(char *)(uintptr_t)SOCKET_ACTIVATE,
                    (char *)(uintptr_t) "-l",
                    spec,
                    (char *)(uintptr_t)harness_server_bin(),
                    (char *)(uintptr_t) "-v",
                    (char *)(uintptr_t) "-p",
                    (char *)(uintptr_t) "1",
                    NULL};
    if (access(SOCKET_ACTIVATE, X_OK) < 0)
        fail_msg(SOCKET_ACTIVATE " is missing (scripts/install-deps)");
    /* Seen by the server, which must keep it from its workers. */
    assert_int_equal(setenv("NOTIFY_SOCKET", "@tcp_server-test-none", 1), 0);
    assert_int_equal(harness_spawn(h, argv, true, &srv), 0);
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
    srv->port = (unsigned)port;

    /* The first connection starts the server; it must be answered. */
    assert_int_equal(wire_wait_answer(h, srv, HARNESS_READY_MS), 0);
    ensure_exchange_once(h, srv, PROTO_REVERSE, EXAMPLE_IN, strlen(EXAMPLE_IN),
                         EXAMPLE_OUT, strlen(EXAMPLE_OUT));
    expect_stderr(srv, "(socket activation: -p and -b are ignored)");
    w1 = only_worker(srv);
    expect_clean_environ(w1);

    assert_int_equal(sup_loop_start(h, (unsigned)port, SUP_LOOP_SHORT, &loop),
                     0);
    assert_true(sup_loop_wait_started(&loop, WAIT_MS) > 0);
    assert_int_equal(kill(w1, SIGKILL), 0);
    w2 = replaced(h, srv, w1);
    assert_int_equal(harness_kill(srv, SIGHUP, false), 0);
    (void)replaced(h, srv, w2);
    assert_int_equal(harness_wait_gone(w2, WAIT_MS), 0);
    assert_int_equal(sup_loop_stop(&loop, &res, WAIT_MS), 0);
    sup_loop_print("client loop across SIGKILL and SIGHUP", &res);
    sup_loop_assert_clean(&res);
    /* Only the exchange the killed worker was in the middle of, if any. */
    assert_true(res.inflight <= 1);
    assert_true(res.ok > 0);
    ensure_exchange_once(h, srv, PROTO_REVERSE, EXAMPLE_IN, strlen(EXAMPLE_IN),
                         EXAMPLE_OUT, strlen(EXAMPLE_OUT));

    assert_int_equal(harness_kill(srv, SIGINT, true), 0);
    expect_exit(srv, 0);
    print_message("socket activation: %s answered reverse '%s' -> '%s', "
                  "%llu answers across SIGKILL+SIGHUP (%llu cut), SIGINT "
                  "exit 0\n",
                  spec, EXAMPLE_IN, EXAMPLE_OUT, (unsigned long long)res.ok,
                  (unsigned long long)res.inflight);
}

/* --- sd_notify ------------------------------------------------------------ */

struct notify_rx {
    int fd;
    char transcript[TRANSCRIPT_MAX]; /* every datagram, '|' between lines */
};

/* Binds the datagram socket NOTIFY_SOCKET will name: a path or "@name". */
static void rx_open(struct harness *h, struct notify_rx *rx, bool abstract,
                    char *name, size_t len)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    socklen_t alen;

    rx->transcript[0] = '\0';
    rx->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(rx->fd >= 0);
    assert_int_equal(harness_track_fd(h, rx->fd), 0);
    if (abstract)
        snprintf(name, len, "@tcp_server-test-%ld", (long)getpid());
    else
        snprintf(name, len, "%s/notify", h->dir);
    assert_true(strlen(name) < sizeof(a.sun_path));
    memcpy(a.sun_path, name, strlen(name));
    if (abstract)
        a.sun_path[0] = '\0';
    alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name) +
                       (abstract ? 0 : 1));
    assert_int_equal(bind(rx->fd, (struct sockaddr *)&a, alen), 0);
}

/*
 * Reads datagrams until one starts with want ("READY=1"...), and returns
 * it; STATUS-only datagrams may come between, any other one fails the test
 * (an event out of order).
 */
static const char *rx_expect(struct notify_rx *rx, const char *want)
{
    static char msg[1024];

    for (;;) {
        ssize_t n;
        size_t used = strlen(rx->transcript);

        if (wire_wait_readable(rx->fd, WAIT_MS) < 0)
            fail_msg("no %s; got: %s", want, rx->transcript);
        n = recv(rx->fd, msg, sizeof(msg) - 1, 0);
        assert_true(n > 0);
        msg[n] = '\0';
        snprintf(rx->transcript + used, sizeof(rx->transcript) - used, "%s%s",
                 used > 0 ? " || " : "", msg);
        for (char *c = rx->transcript + used; *c != '\0'; c++)
            if (*c == '\n')
                *c = '|';
        if (strncmp(msg, want, strlen(want)) == 0)
            return msg;
        if (strncmp(msg, "STATUS=", 7) != 0)
            fail_msg("expected %s, got '%s' (so far: %s)", want, msg,
                     rx->transcript);
    }
}

static unsigned long long mono_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull +
           (unsigned long long)ts.tv_nsec / 1000ull;
}

static void notify_sequence(struct harness *h, bool abstract)
{
    static const char *const args[] = {"-v", "-w", "2", NULL};
    struct harness_proc *srv;
    struct notify_rx rx;
    char name[sizeof(h->dir) + 16];
    const char *m;
    unsigned long long before, at;
    int port = wire_free_port();

    assert_true(port > 0);
    rx_open(h, &rx, abstract, name, sizeof(name));
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    assert_int_equal(harness_spawn_server(h, (unsigned)port, args, &srv), 0);
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);

    m = rx_expect(&rx, "READY=1\n");
    /* At the moment READY=1 arrives, the server answers. */
    assert_int_equal(wire_ping(h, srv->port, WAIT_MS), 0);
    assert_non_null(strstr(m, "workers ready 2/2"));
    assert_true(harness_wait_children(srv, 2, WAIT_MS) == 2);
    for (size_t i = 0; i < srv->nchildren; i++)
        expect_clean_environ(srv->children[i]);

    before = mono_usec();
    assert_int_equal(harness_kill(srv, SIGHUP, false), 0);
    m = rx_expect(&rx, "RELOADING=1\nMONOTONIC_USEC=");
    at = strtoull(m + strlen("RELOADING=1\nMONOTONIC_USEC="), NULL, 10);
    assert_true(at >= before && at <= mono_usec());
    rx_expect(&rx, "READY=1\n");
    assert_int_equal(wire_ping(h, srv->port, WAIT_MS), 0);

    assert_int_equal(harness_kill(srv, SIGINT, false), 0);
    rx_expect(&rx, "STOPPING=1\n");
    expect_exit(srv, 0);
    print_message("notify (%s): %s\n", abstract ? "abstract" : "path",
                  rx.transcript);
}

static void test_notify_path(void **state)
{
    notify_sequence(*state, false);
}

static void test_notify_abstract(void **state)
{
    notify_sequence(*state, true);
}

/* --- activation variables that are not for us, or wrong ------------------ */

static void test_listen_pid_of_another_process(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv;

    assert_int_equal(setenv("LISTEN_PID", "1", 1), 0);
    assert_int_equal(setenv("LISTEN_FDS", "1", 1), 0);
    srv = ensure_start_server(h, verbose);
    assert_int_equal(unsetenv("LISTEN_PID"), 0);
    assert_int_equal(unsetenv("LISTEN_FDS"), 0);
    /* It bound its -p port itself. */
    expect_stderr(srv, "listening on");
    expect_clean_environ(only_worker(srv));
    assert_int_equal(harness_stop(srv), 0);
}

/*
 * Starts tcp_server through sh, which sets LISTEN_PID to its own pid (the
 * server's after exec), LISTEN_FDS to fds and puts fd on descriptor 3, as
 * systemd does. Expects exit 1 with one line naming the problem.
 */
static void expect_refused(struct harness *h, int fd, const char *fds,
                           const char *needle)
{
    struct harness_proc *srv;
    char script[160];
    size_t lines;

    snprintf(script, sizeof(script),
             "export LISTEN_PID=$$ LISTEN_FDS=%s; exec \"$0\" -p 0 3<&%d", fds,
             fd);
    char *argv[] = {(char *)(uintptr_t) "/bin/sh", (char *)(uintptr_t) "-c",
                    script, (char *)(uintptr_t)harness_server_bin(), NULL};
    /* Inheritable, so that sh can move it to descriptor 3. */
    assert_int_equal(fcntl(fd, F_SETFD, 0), 0);
    assert_int_equal(harness_spawn(h, argv, true, &srv), 0);
    expect_exit(srv, 1);
    lines = expect_stderr(srv, needle);
    assert_int_equal(lines, 1);
    close(fd);
}

static void test_listen_fds_refused(void **state)
{
    struct harness *h = *state;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int p[2], fd;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    expect_refused(h, p[0], "1",
                   "socket activation: descriptor 3 is not "
                   "a socket");

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    expect_refused(h, fd, "1", "descriptor 3 is not listening");

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    expect_refused(h, fd, "1", "descriptor 3 is not a stream (TCP) socket");

    fd = wire_listen_v4(0);
    assert_true(fd >= 0);
    expect_refused(h, fd, "2", "LISTEN_FDS=2, expected exactly one");
    fd = wire_listen_v4(0);
    assert_true(fd >= 0);
    expect_refused(h, fd, "x", "invalid LISTEN_FDS 'x'");
}

#define T(f) cmocka_unit_test_setup_teardown(f, sup_setup, sup_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_socket_activation),  T(test_notify_path),
        T(test_notify_abstract),    T(test_listen_pid_of_another_process),
        T(test_listen_fds_refused),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
