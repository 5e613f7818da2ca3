/*
 * Process-test harness (see harness.h): spawning and ending the binaries
 * under test, reading /proc for their workers, and client-side protocol I/O
 * with deadlines. Sockets are used with MSG_DONTWAIT plus poll() so that a
 * "blocking" client loop still honours its deadline.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

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

/* Milliseconds left before deadline, at least 0 and at most INT_MAX-ish. */
static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - harness_now_ms();

    if (left < 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
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

/* Prints a captured file to our stderr, for a human reading a failure. */
static void dump_file(const char *label, const char *path)
{
    char *buf = NULL;
    size_t len = 0;

    if (harness_read_file(path, &buf, &len) == 0 && len > 0)
        fprintf(stderr, "---- %s (%s) ----\n%s---- end ----\n", label, path,
                buf);
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
            dump_file("stderr", p->err_path);
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

int harness_free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd, r;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    close(fd);
    return ntohs(a.sin_port);
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

/* Fields of /proc/PID/stat used here (zero on failure). 0 or -errno. */
static int read_stat(pid_t pid, pid_t *ppid, char *state,
                     unsigned long long *start)
{
    char path[64], buf[1024];
    const char *s;
    unsigned long long v;
    ssize_t n;
    int fd, field;

    *ppid = 0;
    *state = '\0';
    *start = 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: skip to the last. */
    s = strrchr(buf, ')');
    if (s == NULL || s[1] != ' ')
        return -EIO;
    s += 2;
    *state = *s;
    /* Field 3 is the state; ppid is field 4 and starttime field 22. */
    for (field = 3; field < 22; field++) {
        s = strchr(s, ' ');
        if (s == NULL)
            return -EIO;
        s++;
        if (field + 1 == 4 || field + 1 == 22) {
            v = strtoull(s, NULL, 10);
            if (field + 1 == 4)
                *ppid = (pid_t)v;
            else
                *start = v;
        }
    }
    return 0;
}

bool harness_pid_alive(pid_t pid)
{
    pid_t ppid;
    char state;
    unsigned long long start;

    if (pid <= 0 || read_stat(pid, &ppid, &state, &start) < 0)
        return false;
    return state != 'Z' && state != 'X';
}

int harness_children(pid_t parent, pid_t *pids, size_t max)
{
    struct dirent *d;
    DIR *dir;
    size_t n = 0;

    dir = opendir("/proc");
    if (dir == NULL)
        return -errno;
    while ((d = readdir(dir)) != NULL) {
        pid_t pid, ppid = 0;
        char state = '?', *end;
        unsigned long long start;
        long v;

        if (!isdigit((unsigned char)d->d_name[0]))
            continue;
        v = strtol(d->d_name, &end, 10);
        if (*end != '\0')
            continue;
        pid = (pid_t)v;
        if (read_stat(pid, &ppid, &state, &start) < 0)
            continue;
        if (ppid != parent || state == 'Z' || state == 'X')
            continue;
        if (n < max)
            pids[n] = pid;
        n++;
    }
    closedir(dir);
    return n > max ? (int)max : (int)n;
}

/* Adds the current children of p to the ones it is known to have had. */
static void record_children(struct harness_proc *p)
{
    /* Zeroed: no path may read a slot harness_children did not fill. */
    pid_t pids[HARNESS_MAX_CHILDREN] = {0};
    int n;

    if (p->pid <= 0 || p->reaped)
        return;
    n = harness_children(p->pid, pids, HARNESS_MAX_CHILDREN);
    for (int i = 0; i < n; i++) {
        pid_t ppid;
        char state;
        unsigned long long start;
        bool known = false;

        if (read_stat(pids[i], &ppid, &state, &start) < 0)
            continue;
        for (size_t j = 0; j < p->nchildren; j++)
            if (p->children[j] == pids[i] && p->child_start[j] == start)
                known = true;
        if (known || p->nchildren >= HARNESS_MAX_CHILDREN)
            continue;
        p->children[p->nchildren] = pids[i];
        p->child_start[p->nchildren] = start;
        p->nchildren++;
    }
}

int harness_wait_children(struct harness_proc *p, size_t n, int timeout_ms)
{
    pid_t pids[HARNESS_MAX_CHILDREN];
    int64_t deadline = harness_now_ms() + timeout_ms;
    int got;

    do {
        got = harness_children(p->pid, pids, HARNESS_MAX_CHILDREN);
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
        pid_t ppid;
        char state;
        unsigned long long start;

        for (;;) {
            if (read_stat(p->children[i], &ppid, &state, &start) < 0 ||
                start != p->child_start[i] || state == 'Z' || state == 'X')
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

/* True when line[0..len) holds the decimal pid not inside a longer number. */
static bool span_has_pid(const char *line, size_t len, long pid)
{
    char num[32];
    size_t nl;

    nl = (size_t)snprintf(num, sizeof(num), "%ld", pid);
    for (size_t i = 0; i + nl <= len; i++) {
        if (memcmp(line + i, num, nl) != 0)
            continue;
        if (i > 0 && isdigit((unsigned char)line[i - 1]))
            continue;
        if (i + nl < len && isdigit((unsigned char)line[i + nl]))
            continue;
        return true;
    }
    return false;
}

bool harness_line_has(const char *text, const char *word, long pid)
{
    const char *line = text;
    size_t wl = strlen(word);

    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        bool has_word = false;

        for (size_t i = 0; i + wl <= len && !has_word; i++)
            has_word = memcmp(line + i, word, wl) == 0;
        if (has_word && span_has_pid(line, len, pid))
            return true;
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return false;
}

size_t harness_count_lines(const char *text)
{
    size_t n = 0;

    for (const char *s = text; *s != '\0'; s++)
        if (*s == '\n')
            n++;
    if (*text != '\0' && text[strlen(text) - 1] != '\n')
        n++;
    return n;
}

long harness_status_kb(pid_t pid, const char *field)
{
    char path[64], *buf = NULL, *line;
    size_t len, flen = strlen(field);
    long kb = -ENOENT;
    int r;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    r = harness_read_file(path, &buf, &len);
    if (r < 0)
        return r;
    for (line = buf; line != NULL && *line != '\0';) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kb = strtol(line + flen + 1, NULL, 10);
            break;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    free(buf);
    return kb;
}

int harness_count_fds(pid_t pid)
{
    char path[64];
    struct dirent *d;
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    dir = opendir(path);
    if (dir == NULL)
        return -errno;
    while ((d = readdir(dir)) != NULL)
        if (d->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

/* True when the number opening /proc/PID/syscall is accept or accept4. */
static bool syscall_is_accept(long nr)
{
#ifdef SYS_accept4
    if (nr == SYS_accept4)
        return true;
#endif
#ifdef SYS_accept
    if (nr == SYS_accept)
        return true;
#endif
    return false;
}

bool harness_in_accept(pid_t pid)
{
    char path[64], *buf = NULL, *end;
    size_t len;
    bool in = false;
    long nr;

    snprintf(path, sizeof(path), "/proc/%ld/syscall", (long)pid);
    if (harness_read_file(path, &buf, &len) == 0 && len > 0) {
        /* "running", or the number of the blocking call and its args. */
        nr = strtol(buf, &end, 10);
        in = end != buf && syscall_is_accept(nr);
        free(buf);
        return in;
    }
    free(buf);
    buf = NULL;
    snprintf(path, sizeof(path), "/proc/%ld/wchan", (long)pid);
    if (harness_read_file(path, &buf, &len) == 0)
        in = strstr(buf, "accept") != NULL;
    free(buf);
    return in;
}

int harness_wait_in_accept(pid_t pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        if (harness_in_accept(pid))
            return 0;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(POLL_MS);
    }
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

/* A cursor over one /proc/net/tcp line; ok turns false at the first miss. */
struct tcp_cursor {
    const char *s;
    bool ok;
};

/* Skips blanks, then reads a number in base (0 after a miss). */
static unsigned long long tcp_num(struct tcp_cursor *c, int base)
{
    unsigned long long v = 0;

    if (!c->ok)
        return 0;
    c->s += strspn(c->s, " \t");
    if (harness_parse_num(c->s, base, &v, &c->s) < 0)
        c->ok = false;
    return v;
}

/* Skips the separator ch, which must come next. */
static void tcp_sep(struct tcp_cursor *c, char ch)
{
    if (c->ok && *c->s == ch)
        c->s++;
    else
        c->ok = false;
}

/* Skips blanks and a hex address with its colon ("0100007F:"). */
static void tcp_addr(struct tcp_cursor *c)
{
    size_t n;

    if (!c->ok)
        return;
    c->s += strspn(c->s, " \t");
    n = strspn(c->s, "0123456789abcdefABCDEF");
    c->s += n;
    if (n == 0)
        c->ok = false;
    tcp_sep(c, ':');
}

int harness_parse_tcp_line(const char *line, struct harness_tcp_line *t)
{
    /* "sl: local:port remote:port st tx_queue:rx_queue tr:tm->when
     * retrnsmt uid timeout inode ...", numbers in hex but for sl, uid,
     * timeout and inode. */
    struct tcp_cursor c = {line, true};
    unsigned long long lport, rport, st, txq, rxq, inode;

    tcp_num(&c, 10); /* sl */
    tcp_sep(&c, ':');
    tcp_addr(&c);
    lport = tcp_num(&c, 16);
    tcp_addr(&c);
    rport = tcp_num(&c, 16);
    st = tcp_num(&c, 16);
    txq = tcp_num(&c, 16);
    tcp_sep(&c, ':');
    rxq = tcp_num(&c, 16);
    tcp_num(&c, 16); /* tr */
    tcp_sep(&c, ':');
    tcp_num(&c, 16); /* tm->when */
    tcp_num(&c, 16); /* retrnsmt */
    tcp_num(&c, 10); /* uid */
    tcp_num(&c, 10); /* timeout */
    inode = tcp_num(&c, 10);
    if (!c.ok || lport > 0xffff || rport > 0xffff || st > 0xff)
        return -EINVAL;
    t->lport = (unsigned)lport;
    t->rport = (unsigned)rport;
    t->st = (unsigned)st;
    t->txq = txq;
    t->rxq = rxq;
    t->inode = inode;
    return 0;
}

/* Adds the rx_queue of the server side of the connection in one table. */
static int add_rxq(const char *table, unsigned server_port,
                   unsigned client_port, long *sum)
{
    char *buf = NULL, *line;
    size_t len;
    int found = 0;

    if (harness_read_file(table, &buf, &len) < 0)
        return 0;
    /* Every line after the column titles is a socket. */
    line = strchr(buf, '\n');
    while (line != NULL && *++line != '\0') {
        struct harness_tcp_line t;

        if (harness_parse_tcp_line(line, &t) == 0 && t.lport == server_port &&
            t.rport == client_port && t.st != 0x0A) {
            *sum += (long)t.rxq;
            found = 1;
        }
        line = strchr(line, '\n');
    }
    free(buf);
    return found;
}

long harness_server_rxq(unsigned server_port, unsigned client_port)
{
    long sum = 0;
    int found = add_rxq("/proc/net/tcp", server_port, client_port, &sum);

    found += add_rxq("/proc/net/tcp6", server_port, client_port, &sum);
    return found > 0 ? sum : -ENOENT;
}

int harness_wait_consumed(int fd, unsigned server_port, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    unsigned client_port;
    int outq;
    long rxq;

    /* Zeroed because the analyzer cannot see getsockname() write through
     * glibc's transparent-union argument. */
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        client_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else
        client_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    for (;;) {
        if (ioctl(fd, SIOCOUTQ, &outq) < 0)
            return -errno;
        rxq = harness_server_rxq(server_port, client_port);
        if (rxq == -ENOENT)
            return -ENOENT;
        if (outq == 0 && rxq == 0)
            return 0;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(POLL_MS);
    }
}

static int track_fd(struct harness *h, int fd)
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

int harness_connect(struct harness *h, unsigned port, int timeout_ms)
{
    struct sockaddr_in a;
    struct pollfd pfd;
    socklen_t elen = sizeof(int);
    int fd, r, err = 0, on = 1, flags;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        pfd.fd = fd;
        pfd.events = POLLOUT;
        do {
            r = poll(&pfd, 1, timeout_ms);
        } while (r < 0 && errno == EINTR);
        if (r < 0)
            goto fail;
        if (r == 0) {
            errno = ETIMEDOUT;
            goto fail;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            goto fail;
        if (err != 0) {
            errno = err;
            goto fail;
        }
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        goto fail;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
        goto fail;
    r = track_fd(h, fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;

fail:
    r = -errno;
    close(fd);
    return r;
}

/* Waits for events on fd until deadline: 1 ready, 0 timed out, or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd = {fd, events, 0};
    int r;

    do {
        r = poll(&pfd, 1, remaining_ms(deadline));
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    return r;
}

int harness_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
    const uint8_t *p = buf;
    int64_t deadline = harness_now_ms() + timeout_ms;
    ssize_t w;
    int r;

    while (len > 0) {
        w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
        if (r == 0)
            return -ETIMEDOUT;
    }
    return 0;
}

ssize_t harness_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
    uint8_t *p = buf;
    int64_t deadline = harness_now_ms() + timeout_ms;
    size_t got = 0;
    ssize_t n;
    int r;

    while (got < len) {
        n = recv(fd, p + got, len - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            return (ssize_t)got;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        r = wait_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
        if (r == 0)
            return -ETIMEDOUT;
    }
    return (ssize_t)got;
}

int harness_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    uint8_t b;
    ssize_t n;
    int r;

    for (;;) {
        n = recv(fd, &b, 1, MSG_DONTWAIT);
        if (n == 0)
            return 0;
        if (n > 0)
            return -EPROTO;
        if (errno == ECONNRESET)
            return 0;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        r = wait_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
        if (r == 0)
            return -ETIMEDOUT;
    }
}

/* Number of complete responses at the start of buf[0..len), from *at on;
 * *at advances past each complete one. */
static size_t count_responses(const uint8_t *buf, size_t len, size_t *at)
{
    size_t n = 0;

    while (len - *at >= PROTO_HEADER_LEN) {
        size_t body = proto_get_u32(buf + *at);

        if (len - *at - PROTO_HEADER_LEN < body)
            break;
        *at += PROTO_HEADER_LEN + body;
        n++;
    }
    return n;
}

/* Makes room for at least 64 KiB more in *buf. 0 or -ENOMEM. */
static int grow(uint8_t **buf, size_t *cap, size_t len)
{
    uint8_t *nb;
    size_t ncap;

    if (*cap - len >= 65536)
        return 0;
    ncap = *cap < 262144 ? 262144 : *cap * 2;
    nb = realloc(*buf, ncap);
    if (nb == NULL)
        return -ENOMEM;
    *buf = nb;
    *cap = ncap;
    return 0;
}

int harness_pump(int fd, const void *req, size_t len, size_t piece,
                 size_t nresp, uint8_t **out, size_t *out_len, int idle_ms)
{
    const uint8_t *p = req;
    size_t sent = 0, cap = 0, got = 0, done = 0, at = 0;
    int64_t deadline = harness_now_ms() + idle_ms;
    int r = 0;

    *out = NULL;
    *out_len = 0;
    while (sent < len || done < nresp) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        if (sent < len)
            pfd.events |= POLLOUT;
        do {
            r = poll(&pfd, 1, remaining_ms(deadline));
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            r = -errno;
            break;
        }
        if (r == 0) {
            r = -ETIMEDOUT;
            break;
        }
        r = 0;
        if ((pfd.revents & POLLOUT) && sent < len) {
            size_t k = len - sent;

            if (piece > 0 && k > piece)
                k = piece;
            n = send(fd, p + sent, k, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                r = -errno;
                break;
            }
            if (n > 0) {
                sent += (size_t)n;
                deadline = harness_now_ms() + idle_ms;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            r = grow(out, &cap, got);
            if (r < 0)
                break;
            n = recv(fd, *out + got, cap - got, MSG_DONTWAIT);
            if (n == 0) {
                r = -EPROTO;
                break;
            }
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                r = -errno;
                break;
            }
            if (n > 0) {
                got += (size_t)n;
                done += count_responses(*out, got, &at);
                deadline = harness_now_ms() + idle_ms;
            }
        }
    }
    *out_len = got;
    return r;
}

void harness_encode(uint8_t *out, unsigned action, const void *data,
                    uint32_t len)
{
    proto_encode_request_header(out, action, len);
    if (len > 0)
        memcpy(out + PROTO_HEADER_LEN, data, len);
}

int harness_read_response(int fd, uint8_t **data, uint32_t *len, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    uint8_t hdr[4], *buf;
    uint32_t n;
    ssize_t r;

    *data = NULL;
    *len = 0;
    r = harness_recv_exact(fd, hdr, sizeof(hdr), timeout_ms);
    if (r < 0)
        return (int)r;
    if (r != (ssize_t)sizeof(hdr))
        return -EPROTO;
    n = proto_get_u32(hdr);
    buf = malloc((size_t)n + 1);
    if (buf == NULL)
        return -ENOMEM;
    r = harness_recv_exact(fd, buf, n, remaining_ms(deadline));
    if (r < 0 || (size_t)r != n) {
        free(buf);
        return r < 0 ? (int)r : -EPROTO;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int harness_request(int fd, unsigned action, const void *data, uint32_t len,
                    uint8_t **resp, uint32_t *resp_len)
{
    uint8_t *req;
    int r;

    *resp = NULL;
    *resp_len = 0;
    /* One write, as most clients do; splits are the business of tests. */
    req = malloc(PROTO_HEADER_LEN + (size_t)len);
    if (req == NULL)
        return -ENOMEM;
    harness_encode(req, action, data, len);
    r = harness_send_all(fd, req, PROTO_HEADER_LEN + (size_t)len,
                         HARNESS_IO_MS);
    free(req);
    if (r < 0)
        return r;
    return harness_read_response(fd, resp, resp_len, HARNESS_IO_MS);
}

/*
 * One readiness probe on an open connection: an uppercase request whose
 * answer is awaited in short slices, so that a server dying meanwhile is
 * noticed. 1 answered, 0 not yet (retry), -ECHILD exited, -errno otherwise.
 */
static int probe(struct harness_proc *p, int fd, int64_t deadline)
{
    static const char ping[] = "ping";
    uint8_t req[4 + 4], *resp = NULL;
    uint32_t rlen;
    int r;

    harness_encode(req, PROTO_UPPERCASE, ping, 4);
    r = harness_send_all(fd, req, sizeof(req), remaining_ms(deadline));
    if (r < 0)
        return 0;
    for (;;) {
        r = wait_fd(fd, POLLIN, harness_now_ms() + 20);
        if (r < 0)
            return r;
        if (r > 0)
            break;
        if (harness_wait_exit(p, 0) == 0)
            return -ECHILD;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
    }
    r = harness_read_response(fd, &resp, &rlen, remaining_ms(deadline));
    if (r < 0)
        return 0; /* closed before answering: the listener went away */
    r = rlen == 4 && memcmp(resp, "PING", 4) == 0 ? 1 : -EPROTO;
    free(resp);
    return r;
}

/* Polls until p answers on its port. 0, -ECHILD (exited) or -errno. */
static int wait_ready(struct harness *h, struct harness_proc *p)
{
    int64_t deadline = harness_now_ms() + HARNESS_READY_MS;
    int fd, r;

    for (;;) {
        if (harness_wait_exit(p, 0) == 0)
            return -ECHILD;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        fd = harness_connect(h, p->port, harness_ms(200));
        if (fd < 0) {
            harness_pause_ms(POLL_MS);
            continue;
        }
        r = probe(p, fd, deadline);
        harness_close_fd(h, fd);
        if (r == 1)
            return 0;
        if (r < 0)
            return r;
        harness_pause_ms(POLL_MS);
    }
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

        port = harness_free_port();
        if (port < 0)
            return port;
        r = harness_spawn_server(h, (unsigned)port, extra, &p);
        if (r < 0)
            return r;
        assert(p != NULL); /* harness_spawn sets it on success */
        r = wait_ready(h, p);
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
