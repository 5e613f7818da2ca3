/*
 * Fixtures of the supervision tests (see sup_fixture.h): what a test
 * registers for its teardown to end (forked helpers, processes started
 * through tmux, the tmux server, a second harness), the worker binary's
 * environment variable, and helper commands run to completion.
 */
#include "sup_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfs.h"

/* Helpers and foreign processes a single test may register. */
#define MAX_TRACKED 16

static pid_t tracked[MAX_TRACKED];
static pid_t foreign_pid;
static char tmux_name[64];
static struct harness *extra_harness;
/* SUP_WORKER_ENV as the test run found it, restored after each test. */
static char *saved_worker_env;
static bool worker_env_saved;

/* --- setup and teardown ------------------------------------------------ */

int sup_setup(void **state)
{
    struct rlimit no_core = {0, 0};

    /* The tests kill workers with SIGSEGV and SIGABRT on purpose. */
    if (setrlimit(RLIMIT_CORE, &no_core) < 0)
        return -1;
    memset(tracked, 0, sizeof(tracked));
    foreign_pid = 0;
    tmux_name[0] = '\0';
    extra_harness = NULL;
    if (!worker_env_saved) {
        const char *e = getenv(SUP_WORKER_ENV);

        saved_worker_env = e != NULL ? strdup(e) : NULL;
        worker_env_saved = true;
    }
    return harness_setup(state);
}

/* A helper forked by the test: teardown kills and reaps it. */
void sup_track_helper(pid_t pid)
{
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == 0) {
            tracked[i] = pid;
            return;
        }
    }
    /* Out of slots: a test bug; the helper dies with us (PDEATHSIG). */
    fprintf(stderr, "sup_fixture: too many helper processes\n");
}

void sup_untrack_helper(pid_t pid)
{
    for (size_t i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == pid)
            tracked[i] = 0;
}

void sup_track_foreign(pid_t pid)
{
    foreign_pid = pid;
}

void sup_track_tmux(const char *name)
{
    snprintf(tmux_name, sizeof(tmux_name), "%s", name ? name : "");
}

void sup_track_harness(struct harness *h)
{
    extra_harness = h;
}

void sup_restore_worker_env(void)
{
    if (saved_worker_env != NULL)
        setenv(SUP_WORKER_ENV, saved_worker_env, 1);
    else
        unsetenv(SUP_WORKER_ENV);
}

/* Kills a process we did not start directly, and its children. */
static void kill_foreign(pid_t pid)
{
    pid_t kids[HARNESS_MAX_CHILDREN];
    int n;

    if (pid <= 0 || !procfs_pid_alive(pid))
        return;
    n = procfs_children(pid, kids, HARNESS_MAX_CHILDREN);
    kill(pid, SIGKILL);
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    (void)harness_wait_gone(pid, 2000);
}

int sup_teardown(void **state)
{
    char out[256];

    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] > 0) {
            kill(tracked[i], SIGKILL);
            while (waitpid(tracked[i], NULL, 0) < 0 && errno == EINTR)
                ;
        }
        tracked[i] = 0;
    }
    kill_foreign(foreign_pid);
    foreign_pid = 0;
    if (tmux_name[0] != '\0') {
        char *argv[] = {(char *)(uintptr_t) "tmux", (char *)(uintptr_t) "-L",
                        tmux_name, (char *)(uintptr_t) "kill-server", NULL};
        const char *tmp = getenv("TMUX_TMPDIR");
        char sock[512];

        (void)sup_run(argv, out, sizeof(out), 5000);
        /* tmux leaves its socket file behind. */
        snprintf(sock, sizeof(sock), "%s/tmux-%lu/%s",
                 tmp != NULL && *tmp != '\0' ? tmp : "/tmp",
                 (unsigned long)getuid(), tmux_name);
        unlink(sock);
        tmux_name[0] = '\0';
    }
    harness_close(extra_harness);
    extra_harness = NULL;
    sup_restore_worker_env();
    return harness_teardown(state);
}

int sup_run(char *const argv[], char *out, size_t outlen, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    int pout[2] = {-1, -1}, perr[2] = {-1, -1}, st, e, r = 0;
    char sink[256];
    size_t got = 0;
    pid_t pid;

    out[0] = '\0';
    if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
        r = -errno;
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        r = -errno;
        goto out;
    }
    if (pid == 0) {
        int nullfd = open("/dev/null", O_RDONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(pout[1], 1) < 0 ||
            dup2(pout[1], 2) < 0)
            _exit(126);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        e = errno;
        (void)!write(perr[1], &e, sizeof(e));
        _exit(127);
    }
    close(pout[1]);
    pout[1] = -1;
    close(perr[1]);
    perr[1] = -1;
    for (;;) {
        struct pollfd pfd = {pout[0], POLLIN, 0};
        int left = (int)(deadline - harness_now_ms());
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, left) == 0) {
            kill(pid, SIGKILL);
            r = -ETIMEDOUT;
            break;
        }
        /* Once out is full, drain into sink: the child must not block. */
        if (got < outlen - 1)
            n = read(pout[0], out + got, outlen - 1 - got);
        else
            n = read(pout[0], sink, sizeof(sink));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (got < outlen - 1) {
            got += (size_t)n;
            out[got] = '\0';
        }
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (r == 0) {
        if (read(perr[0], &e, sizeof(e)) == (ssize_t)sizeof(e))
            r = -e;
        else
            r = st;
    }
out:
    for (int i = 0; i < 2; i++) {
        if (pout[i] >= 0)
            close(pout[i]);
        if (perr[i] >= 0)
            close(perr[i]);
    }
    return r;
}
