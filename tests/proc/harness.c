/*
 * Process control for the process tests (see harness.h): spawning the
 * binaries under test, waiting for them, signalling them and ending them by
 * pid, with the workers they had (found through procfs.h) ended too if they
 * outlive their supervisor.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "wire.h"

#ifndef TCP_SERVER_BIN
#define TCP_SERVER_BIN "tcp_server"
#endif
#ifndef TCP_SERVER_WORKER_BIN
#define TCP_SERVER_WORKER_BIN "tcp_server_worker"
#endif

/* Attempts at starting a server when its port was taken in between. */
#define START_ATTEMPTS 5
/* Polling period of every wait loop. */
#define POLL_MS 10
/* How long a worker may outlive its supervisor before being killed. */
#define ORPHAN_MS harness_ms(3000)

int harness_ms(int ms)
{
    static double factor = 0;
    double v;

    if (factor == 0) {
        const char *e = getenv("TCP_SERVER_TEST_SLOW");
        char *end = NULL;

        factor = 1;
        if (e != NULL && *e != '\0') {
            v = strtod(e, &end);
            if (end != e && *end == '\0' && v > 0 && v <= 1000)
                factor = v;
        }
    }
    v = (double)ms * factor;
    return v > 0x7fffffff ? 0x7fffffff : (int)v;
}

const char *harness_server_bin(void)
{
    const char *e = getenv("TCP_SERVER_BIN");

    return e != NULL && *e != '\0' ? e : TCP_SERVER_BIN;
}

const char *harness_worker_bin(void)
{
    const char *e = getenv("TCP_SERVER_WORKER_BIN");

    return e != NULL && *e != '\0' ? e : TCP_SERVER_WORKER_BIN;
}

int64_t harness_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int harness_open(struct harness **out)
{
    struct sigaction sa;
    struct harness *h;
    const char *tmp = getenv("TMPDIR");
    int n;

    *out = NULL;
    /* A server that closes on us must surface as EPIPE, not kill the test. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -errno;

    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < HARNESS_MAX_PROCS; i++)
        h->procs[i].pid = -1;
    for (size_t i = 0; i < HARNESS_MAX_FDS; i++)
        h->fds[i] = -1;
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    n = snprintf(h->dir, sizeof(h->dir), "%s/tcp_server_proc.XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof(h->dir)) {
        free(h);
        return -ENAMETOOLONG;
    }
    if (mkdtemp(h->dir) == NULL) {
        int e = errno;
        free(h);
        return -e;
    }
    *out = h;
    return 0;
}

int harness_setup(void **state)
{
    struct harness *h;

    if (harness_open(&h) < 0)
        return -1;
    *state = h;
    return 0;
}

int harness_teardown(void **state)
{
    harness_close(*state);
    *state = NULL;
    return 0;
}

void harness_apply_filter(void)
{
    const char *f = getenv("TCP_SERVER_TEST_FILTER");

    if (f != NULL && *f != '\0')
        cmocka_set_test_filter(f);
}

void harness_print_stderr(const struct harness_proc *p)
{
    char *buf = NULL;
    size_t len;

    if (harness_read_file(p->err_path, &buf, &len) == 0)
        fprintf(stderr, "---- stderr of pid %ld ----\n%s---- end ----\n",
                (long)p->pid, buf);
    free(buf);
}

void harness_close(struct harness *h)
{
    const char *keep = getenv("TCP_SERVER_TEST_KEEP");
    const char *verbose = getenv("TCP_SERVER_TEST_VERBOSE");

    if (h == NULL)
        return;
    for (size_t i = 0; i < HARNESS_MAX_FDS; i++) {
        if (h->fds[i] >= 0)
            close(h->fds[i]);
        h->fds[i] = -1;
    }
    for (size_t i = 0; i < h->nprocs; i++) {
        struct harness_proc *p = &h->procs[i];

        if (p->pid > 0)
            harness_stop(p);
        if (verbose != NULL && *verbose != '\0')
            harness_print_stderr(p);
        if (keep == NULL || *keep == '\0') {
            unlink(p->out_path);
            unlink(p->err_path);
        }
    }
    if (keep == NULL || *keep == '\0')
        rmdir(h->dir);
    else
        fprintf(stderr, "kept %s\n", h->dir);
    free(h);
}

/* Child side of harness_spawn: never returns. */
static void exec_child(char *const argv[], bool new_pgrp, int outfd, int errfd,
                       pid_t parent)
{
    struct sigaction sa;
    sigset_t none;
    int nullfd;

    if (new_pgrp)
        setpgid(0, 0);
    /*
     * If the test process dies (a CTest timeout kills it), the server must
     * not live on holding its port; its workers follow it by themselves.
     */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    /* An ignored SIGPIPE and a blocked mask would survive exec. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    nullfd = open("/dev/null", O_RDONLY);
    if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 ||
        dup2(errfd, 2) < 0)
        _exit(127);
    execv(argv[0], argv);
    dprintf(2, "harness: cannot exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int harness_spawn(struct harness *h, char *const argv[], bool new_pgrp,
                  struct harness_proc **out)
{
    struct harness_proc *p;
    int outfd = -1, errfd = -1, r;
    pid_t parent = getpid(), pid;

    *out = NULL;
    if (h->nprocs >= HARNESS_MAX_PROCS)
        return -EMFILE;
    p = &h->procs[h->nprocs];
    memset(p, 0, sizeof(*p));
    p->pid = -1;
    /* Through a copy: GCC's -Wrestrict cannot tell h->dir from *p. */
    char dir[sizeof(h->dir)];
    memcpy(dir, h->dir, sizeof(dir));
    snprintf(p->out_path, sizeof(p->out_path), "%s/%zu.out", dir, h->nprocs);
    snprintf(p->err_path, sizeof(p->err_path), "%s/%zu.err", dir, h->nprocs);
    outfd = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (outfd < 0)
        goto fail;
    errfd = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (errfd < 0)
        goto fail;
    /* Output files exist from here on, so harness_close removes them. */
    h->nprocs++;
    pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0)
        exec_child(argv, new_pgrp, outfd, errfd, parent);
    /* Both sides set the group, so a signal sent right away reaches it. */
    if (new_pgrp)
        setpgid(pid, pid);
    p->pid = pid;
    p->own_pgrp = new_pgrp;
    close(outfd);
    close(errfd);
    *out = p;
    return 0;

fail:
    r = -errno;
    if (errfd >= 0)
        close(errfd);
    if (outfd >= 0)
        close(outfd);
    return r;
}

/* Adds the current children of p to the ones it is known to have had. */
static void record_children(struct harness_proc *p)
{
    /* Zeroed: no path may read a slot harness_children did not fill. */
    pid_t pids[HARNESS_MAX_CHILDREN] = {0};
    int n;

    if (p->pid <= 0 || p->reaped)
        return;
    n = procfs_children(p->pid, pids, HARNESS_MAX_CHILDREN);
    for (int i = 0; i < n; i++) {
        struct procfs_stat st;
        bool known = false;

        if (procfs_read_stat(pids[i], &st) < 0)
            continue;
        for (size_t j = 0; j < p->nchildren; j++)
            if (p->children[j] == pids[i] && p->child_start[j] == st.start)
                known = true;
        if (known || p->nchildren >= HARNESS_MAX_CHILDREN)
            continue;
        p->children[p->nchildren] = pids[i];
        p->child_start[p->nchildren] = st.start;
        p->nchildren++;
    }
}

int harness_wait_children(struct harness_proc *p, size_t n, int timeout_ms)
{
    pid_t pids[HARNESS_MAX_CHILDREN];
    int64_t deadline = harness_now_ms() + timeout_ms;
    int got;

    do {
        got = procfs_children(p->pid, pids, HARNESS_MAX_CHILDREN);
        if (got >= 0 && (size_t)got == n) {
            record_children(p);
            return got;
        }
        harness_pause_ms(POLL_MS);
    } while (harness_now_ms() < deadline);
    return -ETIMEDOUT;
}

int harness_wait_exit(struct harness_proc *p, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    int st;
    pid_t r;

    if (p->pid <= 0)
        return -ESRCH;
    if (p->reaped)
        return 0;
    for (;;) {
        r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->reaped = true;
            p->status = st;
            return 0;
        }
        if (r < 0 && errno != EINTR)
            return -errno;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(POLL_MS);
    }
}

int harness_kill(struct harness_proc *p, int sig, bool group)
{
    if (p->pid <= 0 || p->reaped)
        return -ESRCH;
    if (kill(group ? -p->pid : p->pid, sig) < 0)
        return -errno;
    return 0;
}

/*
 * Workers must follow their supervisor out; one that does not is a bug the
 * tests report elsewhere, but it must not outlive the test holding a port.
 */
static void end_orphans(struct harness_proc *p)
{
    int64_t deadline = harness_now_ms() + ORPHAN_MS;

    for (size_t i = 0; i < p->nchildren; i++) {
        struct procfs_stat st;

        for (;;) {
            if (procfs_read_stat(p->children[i], &st) < 0 ||
                st.start != p->child_start[i] || st.state == 'Z' ||
                st.state == 'X')
                break;
            if (harness_now_ms() >= deadline) {
                fprintf(stderr,
                        "harness: worker %ld outlived its server, "
                        "killing it\n",
                        (long)p->children[i]);
                kill(p->children[i], SIGKILL);
                break;
            }
            harness_pause_ms(POLL_MS);
        }
    }
}

int harness_stop(struct harness_proc *p)
{
    int r;

    if (p->pid <= 0)
        return -ESRCH;
    if (!p->reaped) {
        record_children(p);
        kill(p->pid, SIGINT);
        r = harness_wait_exit(p, HARNESS_STOP_MS);
        if (r == -ETIMEDOUT) {
            fprintf(stderr, "harness: pid %ld ignored SIGINT, killing it\n",
                    (long)p->pid);
            if (p->own_pgrp)
                kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
                ;
            p->reaped = true;
        } else if (r < 0) {
            return r;
        }
    }
    end_orphans(p);
    return 0;
}

int harness_wait_gone(pid_t pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    while (procfs_pid_alive(pid)) {
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
    return 0;
}

int harness_wait_all_gone(struct harness_proc *p, const pid_t *pids, size_t n,
                          int timeout_ms)
{
    int64_t start = harness_now_ms(), deadline = start + timeout_ms;

    for (;;) {
        bool alive = harness_wait_exit(p, 0) != 0;

        for (size_t i = 0; i < n && !alive; i++)
            alive = procfs_pid_alive(pids[i]);
        if (!alive)
            return (int)(harness_now_ms() - start);
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
}

pid_t harness_wait_new_child(pid_t parent, const pid_t *old, size_t nold,
                             int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    pid_t kids[HARNESS_MAX_CHILDREN];

    for (;;) {
        int n = procfs_children(parent, kids, HARNESS_MAX_CHILDREN);

        for (int i = 0; i < n; i++) {
            bool known = false;

            for (size_t j = 0; j < nold && !known; j++)
                known = kids[i] == old[j];
            if (!known)
                return kids[i];
        }
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
}

int harness_read_file(const char *path, char **buf, size_t *len)
{
    char *b = NULL, *nb;
    size_t cap = 0, n = 0;
    ssize_t r;
    int fd, e;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            nb = realloc(b, cap);
            if (nb == NULL) {
                e = ENOMEM;
                goto fail;
            }
            b = nb;
        }
        r = read(fd, b + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;

fail:
    free(b);
    close(fd);
    return -e;
}

int harness_parse_num(const char *s, int base, unsigned long long *v,
                      const char **end)
{
    unsigned long long n;
    char *e;

    /* strtoull would skip blanks and accept a sign: neither is a number. */
    if (!isxdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    n = strtoull(s, &e, base);
    if (e == s)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *v = n;
    if (end != NULL)
        *end = e;
    return 0;
}

int harness_track_fd(struct harness *h, int fd)
{
    for (size_t i = 0; i < HARNESS_MAX_FDS; i++) {
        if (h->fds[i] < 0) {
            h->fds[i] = fd;
            return 0;
        }
    }
    return -EMFILE;
}

void harness_close_fd(struct harness *h, int fd)
{
    if (fd < 0)
        return;
    for (size_t i = 0; i < HARNESS_MAX_FDS; i++)
        if (h->fds[i] == fd)
            h->fds[i] = -1;
    close(fd);
}

int harness_spawn_server(struct harness *h, unsigned port,
                         const char *const extra[], struct harness_proc **out)
{
    char *argv[32], portstr[16];
    size_t argc = 0;
    int r;

    snprintf(portstr, sizeof(portstr), "%u", port);
    argv[argc++] = (char *)(uintptr_t)harness_server_bin();
    argv[argc++] = (char *)(uintptr_t) "-p";
    argv[argc++] = portstr;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (argc + 1 >= sizeof(argv) / sizeof(argv[0]))
            return -E2BIG;
        argv[argc++] = (char *)(uintptr_t)extra[i];
    }
    argv[argc] = NULL;
    r = harness_spawn(h, argv, true, out);
    if (r < 0)
        return r;
    assert(*out != NULL); /* harness_spawn sets it on success */
    (*out)->port = port;
    return 0;
}

int harness_start_server(struct harness *h, const char *const extra[],
                         struct harness_proc **out)
{
    struct harness_proc *p = NULL;
    int port, r = -EIO;

    *out = NULL;
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        char *err = NULL;
        size_t elen;
        bool in_use;

        port = wire_free_port();
        if (port < 0)
            return port;
        r = harness_spawn_server(h, (unsigned)port, extra, &p);
        if (r < 0)
            return r;
        assert(p != NULL); /* harness_spawn sets it on success */
        r = wire_wait_answer(h, p, HARNESS_READY_MS);
        if (r == 0) {
            record_children(p);
            *out = p;
            return 0;
        }
        if (r != -ECHILD) {
            /* Leave it for harness_close, but say why it never answered. */
            *out = p;
            return r;
        }
        /* Someone took the port between our probe and the server's bind. */
        in_use = harness_read_file(p->err_path, &err, &elen) == 0 &&
                 err != NULL && strstr(err, "already in use") != NULL;
        free(err);
        *out = p;
        if (!in_use)
            return r;
    }
    return r;
}
