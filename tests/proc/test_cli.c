/*
 * Command-line behaviour of tcp_server (DESIGN.md section 3): --help, bad
 * usage, a port already in use, -p, and what goes to stdout and stderr in a
 * normal session with and without -v. Exit statuses are checked exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "logtext.h"
#include "wire.h"
#include "proto.h"

/* Bound for a process that should exit by itself promptly. */
#define EXIT_MS harness_ms(5000)

/* Runs bin with args (NULL-terminated) and waits for it to exit. */
static struct harness_proc *run_bin_to_exit(struct harness *h, const char *bin,
                                            const char *const args[])
{
    char *argv[16];
    struct harness_proc *p = NULL;
    size_t argc = 0;
    int r;

    argv[argc++] = (char *)(uintptr_t)bin;
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(argc + 1 < sizeof(argv) / sizeof(argv[0]));
        argv[argc++] = (char *)(uintptr_t)args[i];
    }
    argv[argc] = NULL;
    assert_int_equal(harness_spawn(h, argv, true, &p), 0);
    r = harness_wait_exit(p, EXIT_MS);
    if (r < 0) {
        fprintf(stderr, "%s", bin);
        for (size_t i = 0; args[i] != NULL; i++)
            fprintf(stderr, " %s", args[i]);
        fprintf(stderr, ": still running after %d ms\n", EXIT_MS);
        harness_print_stderr(p);
    }
    assert_int_equal(r, 0);
    return p;
}

/* Runs tcp_server with args (NULL-terminated) and waits for it to exit. */
static struct harness_proc *run_to_exit(struct harness *h,
                                        const char *const args[])
{
    return run_bin_to_exit(h, harness_server_bin(), args);
}

/* Reads a captured file or fails the test; free() the result. */
static char *slurp(const char *path)
{
    char *buf = NULL;
    size_t len;

    assert_int_equal(harness_read_file(path, &buf, &len), 0);
    return buf;
}

static void assert_exit_status(const struct harness_proc *p, int want)
{
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != want) {
        if (WIFSIGNALED(p->status))
            fprintf(stderr, "killed by signal %d, expected exit %d\n",
                    WTERMSIG(p->status), want);
        else
            fprintf(stderr, "exit status %d, expected %d\n",
                    WEXITSTATUS(p->status), want);
        harness_print_stderr(p);
    }
    assert_true(WIFEXITED(p->status));
    assert_int_equal(WEXITSTATUS(p->status), want);
}

static void assert_empty_file(const char *what, const char *path)
{
    char *s = slurp(path);

    if (*s != '\0')
        fprintf(stderr, "%s should be empty, has:\n%s\n", what, s);
    assert_string_equal(s, "");
    free(s);
}

/* Fails unless nothing accepts connections on 127.0.0.1:port. */
static void assert_not_listening(struct harness *h, unsigned port)
{
    int fd = wire_connect(h, port, harness_ms(1000));

    if (fd >= 0)
        harness_close_fd(h, fd);
    assert_int_equal(fd, -ECONNREFUSED);
}

static void test_help(void **state)
{
    static const char *const options[] = {
        "-h",
        "--help",
        "-p PORT",
        "--port PORT",
        "-v",
        "--verbose",
        "-b ADDR",
        "--bind ADDR",
        "-w N",
        "--workers N",
        "--idle-timeout SECONDS",
        "--shutdown-timeout SECONDS",
        "--seed N",
        "--worker PATH",
        "--version",
    };
    static const char *const forms[] = {"--help", "-h"};
    struct harness *h = *state;

    for (size_t f = 0; f < 2; f++) {
        const char *const args[] = {forms[f], NULL};
        struct harness_proc *p = run_to_exit(h, args);
        char *out;

        assert_exit_status(p, 0);
        out = slurp(p->out_path);
        assert_true(strncmp(out, "usage: tcp_server", 17) == 0);
        for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
            if (strstr(out, options[i]) == NULL)
                fprintf(stderr, "--help does not mention '%s'\n", options[i]);
            assert_non_null(strstr(out, options[i]));
        }
        free(out);
        assert_empty_file("stderr of --help", p->err_path);
    }
}

struct bad_case {
    const char *args[4];    /* after "-p PORT" unless port_given */
    bool port_given;        /* the case sets -p itself */
    const char *mention[2]; /* a line names one of these */
};

/* True when a line of err other than the usage line contains word. */
static bool names_problem(const char *err, const char *word)
{
    const char *line = err;

    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        size_t wl = strlen(word);

        if (strncmp(line, "usage:", 6) != 0)
            for (size_t i = 0; i + wl <= len; i++)
                if (memcmp(line + i, word, wl) == 0)
                    return true;
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return false;
}

static void test_bad_usage(void **state)
{
    static const struct bad_case cases[] = {
        {{"--bogus", NULL}, false, {"--bogus", NULL}},
        {{"-x", NULL}, false, {"-x", NULL}},
        {{"-p", "abc", NULL}, true, {"abc", NULL}},
        {{"-p", "70000", NULL}, true, {"70000", NULL}},
        {{"-p", "", NULL}, true, {"port", NULL}},
        {{"-w", "0", NULL}, false, {"worker", "-w"}},
        {{"-w", "many", NULL}, false, {"many", NULL}},
        {{"--idle-timeout", "soon", NULL}, false, {"soon", NULL}},
        {{"--seed", "-3", NULL}, false, {"-3", NULL}},
        {{"extra", NULL}, false, {"extra", NULL}},
        {{"--port", NULL}, true, {"port", NULL}},
    };
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        const char *args[8];
        char portstr[16], *err;
        struct harness_proc *p;
        size_t n = 0;
        int port = wire_free_port();
        bool named = false;

        assert_true(port > 0);
        snprintf(portstr, sizeof(portstr), "%d", port);
        if (!c->port_given) {
            args[n++] = "-p";
            args[n++] = portstr;
        }
        for (size_t k = 0; c->args[k] != NULL; k++)
            args[n++] = c->args[k];
        args[n] = NULL;

        p = run_to_exit(h, args);
        assert_exit_status(p, 2);
        assert_empty_file("stdout after bad usage", p->out_path);
        err = slurp(p->err_path);
        for (size_t k = 0; k < 2 && c->mention[k] != NULL; k++)
            named = named || names_problem(err, c->mention[k]);
        if (!named)
            fprintf(stderr,
                    "case %zu (%s ...): stderr does not name the "
                    "problem:\n%s\n",
                    i, c->args[0], err);
        assert_true(named);
        /* One line naming the problem, plus at most a usage hint. */
        assert_in_range(logtext_count_lines(err), 1, 3);
        free(err);
        if (!c->port_given)
            assert_not_listening(h, (unsigned)port);
    }
}

/* A listening socket on 0.0.0.0:port for a free port; returns the fd. */
static int occupy_port(unsigned *port)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        int fd, p = wire_free_port();

        assert_true(p > 0);
        fd = wire_listen_v4((unsigned)p);
        if (fd >= 0) {
            *port = (unsigned)p;
            return fd;
        }
    }
    fail_msg("could not occupy a port");
    return -1;
}

/* Fails unless p exited 1 saying that port is already in use. */
static void assert_port_refused(const struct harness_proc *p, unsigned port)
{
    char *err;

    assert_exit_status(p, 1);
    assert_empty_file("stdout after a start-up failure", p->out_path);
    err = slurp(p->err_path);
    if (!logtext_line_has(err, "already in use", (long)port))
        fprintf(stderr, "stderr does not say port %u is already in use:\n%s\n",
                port, err);
    assert_true(logtext_line_has(err, "already in use", (long)port));
    free(err);
}

static void test_port_in_use(void **state)
{
    struct harness *h = *state;
    struct harness_proc *p;
    unsigned port = 0;
    char portstr[16];
    int fd = occupy_port(&port);
    const char *args[] = {"-p", portstr, NULL};

    snprintf(portstr, sizeof(portstr), "%u", port);
    p = run_to_exit(h, args);
    close(fd);
    assert_port_refused(p, port);
}

static void test_second_instance_refused(void **state)
{
    struct harness *h = *state;
    struct harness_proc *first = ensure_start_server(h, NULL), *second;
    char portstr[16];
    const char *args[] = {"-p", portstr, NULL};
    int fd;

    snprintf(portstr, sizeof(portstr), "%u", first->port);
    second = run_to_exit(h, args);
    assert_port_refused(second, first->port);
    /* The first instance is unharmed. */
    fd = ensure_connect(h, first);
    ensure_exchange(fd, PROTO_UPPERCASE, "alive", 5, "ALIVE", 5);
}

static void test_quiet_session(void **state)
{
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, NULL);
    int fd;

    /* The harness passed -p PORT; the server answers there. */
    fd = ensure_connect(h, srv);
    ensure_exchange(fd, PROTO_UPPERCASE, "quiet", 5, "QUIET", 5);
    ensure_exchange(fd, PROTO_REVERSE, "abc", 3, "cba", 3);
    ensure_exchange(fd, 6, "abc", 3, PROTO_ERROR_TEXT, PROTO_ERROR_LEN);
    harness_close_fd(h, fd);
    ensure_exchange_once(h, srv, PROTO_LOWERCASE, "AGAIN", 5, "again", 5);

    assert_int_equal(harness_stop(srv), 0);
    assert_exit_status(srv, 0);
    assert_empty_file("stdout of a session", srv->out_path);
    assert_empty_file("stderr of a session without -v", srv->err_path);
    assert_not_listening(h, srv->port);
}

static void test_verbose_session(void **state)
{
    static const char *const extra[] = {"-v", NULL};
    struct harness *h = *state;
    struct harness_proc *srv = ensure_start_server(h, extra);
    pid_t worker;
    char *err;

    assert_int_equal(harness_wait_children(srv, 1, HARNESS_READY_MS), 1);
    worker = srv->children[0];
    ensure_exchange_once(h, srv, PROTO_UPPERCASE, "loud", 4, "LOUD", 4);
    assert_int_equal(harness_stop(srv), 0);
    assert_exit_status(srv, 0);
    assert_empty_file("stdout of a session with -v", srv->out_path);

    err = slurp(srv->err_path);
    if (!logtext_line_has(err, "supervisor", (long)srv->pid) ||
        !logtext_line_has(err, "worker", (long)worker))
        fprintf(stderr,
                "expected lines naming supervisor %ld and worker "
                "%ld:\n%s\n",
                (long)srv->pid, (long)worker, err);
    assert_true(logtext_line_has(err, "supervisor", (long)srv->pid));
    assert_true(logtext_line_has(err, "worker", (long)worker));
    free(err);
}

/* Every binary prints "NAME X.Y.Z" (CMake's project() version), exit 0. */
static void test_version(void **state)
{
    static const char *const names[] = {"tcp_server", "tcp_server_worker",
                                        "tcp_client", "tcp_bench", "tcp_echo"};
    static const char *const args[] = {"--version", NULL};
    struct harness *h = *state;
    const char *worker = harness_worker_bin();
    const char *slash = strrchr(worker, '/');
    int dirlen = slash != NULL ? (int)(slash - worker) : 1;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char bin[512], want[64];
        struct harness_proc *p;
        char *out;

        /* The binaries land side by side (CMAKE_RUNTIME_OUTPUT_DIRECTORY). */
        snprintf(bin, sizeof(bin), "%.*s/%s", dirlen,
                 slash != NULL ? worker : ".", names[i]);
        p = run_bin_to_exit(h, i == 0 ? harness_server_bin() : bin, args);
        assert_exit_status(p, 0);
        snprintf(want, sizeof(want), "%s %s\n", names[i], TCP_SERVER_VERSION);
        out = slurp(p->out_path);
        assert_string_equal(out, want);
        free(out);
        assert_empty_file("stderr of --version", p->err_path);
    }
}

/* Sets or (value NULL) unsets TCP_SERVER_WORKER. */
static void set_worker_env(const char *value)
{
    if (value != NULL)
        assert_int_equal(setenv("TCP_SERVER_WORKER", value, 1), 0);
    else
        assert_int_equal(unsetenv("TCP_SERVER_WORKER"), 0);
}

/* --worker wins over $TCP_SERVER_WORKER, which wins over the lookup. */
static void test_worker_option(void **state)
{
    struct harness *h = *state;
    const char *const good[] = {"--worker", harness_worker_bin(), NULL};
    const char *const bad[] = {"-p", "0", "--worker", "/nonexistent/w", NULL};
    const char *const env_only[] = {"-p", "0", NULL};
    const char *saved = getenv("TCP_SERVER_WORKER");
    char *keep = saved != NULL ? strdup(saved) : NULL;
    struct harness_proc *p;
    char *err;

    set_worker_env("/nonexistent/env-worker");
    p = ensure_start_server(h, good); /* the environment is overridden */
    ensure_exchange_once(h, p, PROTO_REVERSE, "abc", 3, "cba", 3);
    assert_int_equal(harness_stop(p), 0);
    assert_exit_status(p, 0);

    p = run_to_exit(h, env_only); /* the environment beats the lookup */
    assert_exit_status(p, 1);
    err = slurp(p->err_path);
    assert_non_null(strstr(err, "cannot find worker binary "
                                "/nonexistent/env-worker"));
    free(err);

    set_worker_env(harness_worker_bin());
    p = run_to_exit(h, bad); /* no fallback from a bad --worker */
    assert_exit_status(p, 1);
    err = slurp(p->err_path);
    assert_non_null(strstr(err, "cannot find worker binary /nonexistent/w: "
                                "No such file or directory"));
    free(err);
    set_worker_env(keep);
    free(keep);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_help),          T(test_bad_usage),
        T(test_port_in_use),   T(test_second_instance_refused),
        T(test_quiet_session), T(test_verbose_session),
        T(test_version),       T(test_worker_option),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
