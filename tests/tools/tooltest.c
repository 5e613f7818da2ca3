/*
 * The tool runner. Tools are started with harness_spawn, so the harness
 * knows every pid and its teardown ends whatever a failed assertion left
 * running. harness_spawn gives a child /dev/null as stdin; a test that needs
 * other input runs the tool through `sh -c 'exec "$@" <"$0"'`, which keeps
 * the pid (exec) and redirects stdin first.
 */
#include "tooltest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfs.h"

#define ARGV_MAX 64

int tooltest_setup(void **state)
{
    struct tooltest *t = calloc(1, sizeof(*t));
    const char *tmp = getenv("TMPDIR");

    if (t == NULL)
        return -1;
    if (harness_open(&t->h) < 0) {
        free(t);
        return -1;
    }
    snprintf(t->dir, sizeof(t->dir), "%s/tcp_tools_test.XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(t->dir) == NULL) {
        harness_close(t->h);
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

int tooltest_teardown(void **state)
{
    struct tooltest *t = *state;

    if (t == NULL)
        return 0;
    /* Processes first: a running tool may still read an input file. */
    harness_close(t->h);
    for (size_t i = 0; i < t->nfiles; i++) {
        unlink(t->files[i]);
        free(t->files[i]);
    }
    rmdir(t->dir);
    free(t);
    *state = NULL;
    return 0;
}

static const char *bin(const char *env, const char *compiled)
{
    const char *v = getenv(env);

    return v != NULL && *v != '\0' ? v : compiled;
}

const char *tooltest_client_bin(void)
{
    return bin("TCP_CLIENT_BIN", TCP_CLIENT_BIN);
}

const char *tooltest_bench_bin(void)
{
    return bin("TCP_BENCH_BIN", TCP_BENCH_BIN);
}

const char *tooltest_echo_bin(void)
{
    return bin("TCP_ECHO_BIN", TCP_ECHO_BIN);
}

/* Writes all of buf to fd. 0 or -errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

const char *tooltest_write_file(struct tooltest *t, const char *name,
                                const void *data, size_t len)
{
    char path[512];
    char *copy;
    int fd;

    if (t->nfiles == TOOLTEST_MAX_FILES)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s", t->dir, name);
    copy = strdup(path);
    if (copy == NULL)
        return NULL;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(copy);
        return NULL;
    }
    /* Recorded before writing, so the teardown removes a partial file. */
    t->files[t->nfiles++] = copy;
    if (write_all(fd, data, len) < 0) {
        close(fd);
        return NULL;
    }
    if (close(fd) < 0)
        return NULL;
    return copy;
}

/* Fills argv2 with argv, behind the shell's stdin redirection if any. */
static int build_argv(char *argv2[], const char *stdin_path,
                      const char *const argv[])
{
    size_t n = 0;

    if (stdin_path != NULL) {
        argv2[n++] = (char *)(uintptr_t) "/bin/sh";
        argv2[n++] = (char *)(uintptr_t) "-c";
        argv2[n++] = (char *)(uintptr_t) "exec \"$@\" <\"$0\"";
        argv2[n++] = (char *)(uintptr_t)stdin_path;
    }
    for (size_t i = 0; argv[i] != NULL; i++) {
        if (n + 1 >= ARGV_MAX)
            return -E2BIG;
        argv2[n++] = (char *)(uintptr_t)argv[i];
    }
    argv2[n] = NULL;
    return 0;
}

int tooltest_run(struct tooltest *t, const char *stdin_path,
                 const char *const argv[], int timeout_ms,
                 struct tool_result *res)
{
    char *argv2[ARGV_MAX];
    struct harness_proc *p;
    int r;

    memset(res, 0, sizeof(*res));
    r = build_argv(argv2, stdin_path, argv);
    if (r < 0)
        return r;
    r = harness_spawn(t->h, argv2, false, &p);
    if (r < 0)
        return r;
    r = harness_wait_exit(p, timeout_ms);
    if (r == -ETIMEDOUT) {
        fprintf(stderr, "%s: still running after %d ms, killing it\n", argv[0],
                timeout_ms);
        harness_kill(p, SIGKILL, false);
        harness_wait_exit(p, HARNESS_STOP_MS);
        return -ETIMEDOUT;
    }
    if (r < 0)
        return r;
    if (WIFEXITED(p->status))
        res->status = WEXITSTATUS(p->status);
    else
        res->status = 128 + WTERMSIG(p->status);
    r = harness_read_file(p->out_path, &res->out, &res->out_len);
    if (r == 0)
        r = harness_read_file(p->err_path, &res->err, &res->err_len);
    if (r < 0)
        tooltest_result_free(res);
    return r;
}

void tooltest_result_free(struct tool_result *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof(*res));
}

int tooltest_start_echo(struct tooltest *t)
{
    char *argv[] = {(char *)(uintptr_t)tooltest_echo_bin(),
                    (char *)(uintptr_t) "-p", (char *)(uintptr_t) "0", NULL};
    struct harness_proc *p;
    int64_t deadline = harness_now_ms() + HARNESS_READY_MS;
    int r;

    r = harness_spawn(t->h, argv, true, &p);
    if (r < 0)
        return r;
    for (;;) {
        char *err = NULL, *end = NULL;
        size_t len;
        const char *at;
        unsigned long port = 0;

        /* The whole line, newline included, or it may still be growing. */
        if (harness_read_file(p->err_path, &err, &len) == 0 &&
            (at = strstr(err, "listening on ")) != NULL &&
            (at = strstr(at, " port ")) != NULL) {
            errno = 0;
            port = strtoul(at + 6, &end, 10);
            if (errno == 0 && end != at + 6 && *end == '\n' && port > 0 &&
                port < 65536) {
                free(err);
                return (int)port;
            }
        }
        free(err);
        if (!procfs_pid_alive(p->pid))
            return -ECHILD;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(10);
    }
}

void tooltest_print(const char *what, const struct tool_result *res)
{
    fprintf(stderr, "---- %s: exit status %d ----\n", what, res->status);
    if (res->out_len > 0)
        fprintf(stderr, "stdout (%zu bytes): %.*s%s\n", res->out_len,
                res->out_len > 2048 ? 2048 : (int)res->out_len, res->out,
                res->out_len > 2048 ? "..." : "");
    if (res->err_len > 0)
        fprintf(stderr, "stderr: %s", res->err);
    fprintf(stderr, "---- end ----\n");
}
