/*
 * /proc readers for the process tests (see procfs.h). One parser per file
 * format: /proc/PID/stat, /proc/PID/status and the socket tables of
 * /proc/net/tcp and tcp6; everything else is built on those.
 */
#include "procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

/* Polling period of the waits. */
#define POLL_MS 10

int procfs_read_stat(pid_t pid, struct procfs_stat *st)
{
    char path[64], buf[1024];
    const char *s;
    ssize_t n;
    int fd;

    memset(st, 0, sizeof(*st));
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
    st->state = *s;
    /* Field 3 is the state; the numbers wanted are fields 4 to 22. */
    for (int field = 4; field <= 22; field++) {
        s = strchr(s, ' ');
        if (s == NULL)
            return -EIO;
        s++;
        if (field == 4)
            st->ppid = (pid_t)strtol(s, NULL, 10);
        else if (field == 14)
            st->utime = strtoull(s, NULL, 10);
        else if (field == 15)
            st->stime = strtoull(s, NULL, 10);
        else if (field == 22)
            st->start = strtoull(s, NULL, 10);
    }
    return 0;
}

bool procfs_pid_alive(pid_t pid)
{
    struct procfs_stat st;

    if (pid <= 0 || procfs_read_stat(pid, &st) < 0)
        return false;
    return st.state != 'Z' && st.state != 'X';
}

/* Calls fn(pid, arg) for every process of /proc until it returns non-zero;
 * returns that value, 0 at the end, or -errno. */
static int for_each_pid(int (*fn)(pid_t pid, const char *name, void *arg),
                        void *arg)
{
    struct dirent *d;
    DIR *dir = opendir("/proc");
    int r = 0;

    if (dir == NULL)
        return -errno;
    while (r == 0 && (d = readdir(dir)) != NULL) {
        unsigned long long v;
        const char *end;

        if (harness_parse_num(d->d_name, 10, &v, &end) < 0 || *end != '\0')
            continue;
        r = fn((pid_t)v, d->d_name, arg);
    }
    closedir(dir);
    return r;
}

struct children {
    pid_t parent;
    pid_t *pids;
    size_t max, n;
};

static int child_cb(pid_t pid, const char *name, void *arg)
{
    struct children *c = arg;
    struct procfs_stat st;

    (void)name;
    if (procfs_read_stat(pid, &st) < 0 || st.ppid != c->parent ||
        st.state == 'Z' || st.state == 'X')
        return 0;
    if (c->n < c->max)
        c->pids[c->n] = pid;
    c->n++;
    return 0;
}

int procfs_children(pid_t parent, pid_t *pids, size_t max)
{
    struct children c = {parent, pids, max, 0};
    int r = for_each_pid(child_cb, &c);

    if (r < 0)
        return r;
    return c.n > max ? (int)max : (int)c.n;
}

int64_t procfs_cpu_ms(pid_t pid)
{
    struct procfs_stat st;
    long tck = sysconf(_SC_CLK_TCK);

    if (procfs_read_stat(pid, &st) < 0)
        return -ESRCH;
    if (tck <= 0)
        return -EINVAL;
    return (int64_t)((st.utime + st.stime) * 1000ULL / (unsigned long long)tck);
}

struct cmdline_match {
    const char *argv0;
    const char *const *args;
};

/* Reads /proc/PID/cmdline into buf; its length or -errno. */
static ssize_t read_cmdline(const char *pid, char *buf, size_t len)
{
    char path[300];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -EIO;
    buf[n] = '\0';
    return n;
}

/* Returns pid when its command line matches, else 0. */
static int cmdline_cb(pid_t pid, const char *name, void *arg)
{
    const struct cmdline_match *m = arg;
    char buf[4096];
    const char *s;
    ssize_t n = read_cmdline(name, buf, sizeof(buf));

    if (n <= 0 || strcmp(buf, m->argv0) != 0)
        return 0;
    s = buf + strlen(buf) + 1;
    for (size_t i = 0; m->args[i] != NULL; i++) {
        if (s >= buf + n || strcmp(s, m->args[i]) != 0)
            return 0;
        s += strlen(s) + 1;
    }
    return procfs_pid_alive(pid) ? (int)pid : 0;
}

pid_t procfs_find_process(const char *argv0, const char *const args[])
{
    struct cmdline_match m = {argv0, args};
    int r = for_each_pid(cmdline_cb, &m);

    return r == 0 ? -ESRCH : (pid_t)r;
}

int procfs_status_num(pid_t pid, const char *field, int base,
                      unsigned long long *v)
{
    char path[64], *buf = NULL, *line;
    size_t len, flen = strlen(field);
    int r;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    r = harness_read_file(path, &buf, &len);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (line = buf; line != NULL && *line != '\0';) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            const char *s = line + flen + 1;

            s += strspn(s, " \t");
            r = harness_parse_num(s, base, v, NULL) == 0 ? 0 : -EPROTO;
            break;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    free(buf);
    return r;
}

long procfs_status_kb(pid_t pid, const char *field)
{
    unsigned long long kb;
    int r = procfs_status_num(pid, field, 10, &kb);

    return r < 0 ? r : (long)kb;
}

int procfs_count_fds(pid_t pid)
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

bool procfs_in_accept(pid_t pid)
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

int procfs_wait_in_accept(pid_t pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        if (procfs_in_accept(pid))
            return 0;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(POLL_MS);
    }
}

/* The number of the system call pid is blocked in, or -1 (running, or
 * /proc/PID/syscall unreadable). */
static long blocked_syscall(pid_t pid)
{
    char path[64], *buf = NULL, *end;
    size_t len;
    long nr = -1;

    snprintf(path, sizeof(path), "/proc/%ld/syscall", (long)pid);
    if (harness_read_file(path, &buf, &len) == 0 && len > 0) {
        nr = strtol(buf, &end, 10);
        if (end == buf)
            nr = -1;
    }
    free(buf);
    return nr;
}

int procfs_wait_in_recv(pid_t pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        long nr = blocked_syscall(pid);
#ifdef SYS_recvfrom
        if (nr == SYS_recvfrom)
            return 0;
#endif
#ifdef SYS_recv
        if (nr == SYS_recv)
            return 0;
#endif
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(POLL_MS);
    }
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

int procfs_parse_tcp_line(const char *line, struct procfs_tcp_line *t)
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

/*
 * Calls fn for every socket of /proc/net/tcp and /proc/net/tcp6; stops when
 * fn returns non-zero and returns that value; 0 at the end, or -errno.
 */
static int for_each_tcp(int (*fn)(const struct procfs_tcp_line *e, void *arg),
                        void *arg)
{
    /* tcp6 first: the dual-stack server's sockets are there, and tcp may
     * hold thousands of TIME_WAIT lines of other tests. */
    static const char *const files[] = {"/proc/net/tcp6", "/proc/net/tcp"};

    for (size_t f = 0; f < 2; f++) {
        char *text = NULL, *line, *save = NULL;
        size_t len;
        int r = harness_read_file(files[f], &text, &len);

        if (r == -ENOENT)
            continue;
        if (r < 0)
            return r;
        strtok_r(text, "\n", &save); /* skips the column titles */
        while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
            struct procfs_tcp_line e;

            if (procfs_parse_tcp_line(line, &e) < 0)
                continue;
            r = fn(&e, arg);
            if (r != 0) {
                free(text);
                return r;
            }
        }
        free(text);
    }
    return 0;
}

/* The server side of one connection, and what its queues hold. */
struct rxq_sum {
    unsigned server_port, client_port;
    long sum;
    bool found;
};

static int rxq_cb(const struct procfs_tcp_line *e, void *arg)
{
    struct rxq_sum *q = arg;

    if (e->lport == q->server_port && e->rport == q->client_port &&
        e->st != PROCFS_TCP_LISTEN) {
        q->sum += (long)e->rxq;
        q->found = true;
    }
    return 0;
}

long procfs_server_rxq(unsigned server_port, unsigned client_port)
{
    struct rxq_sum q = {server_port, client_port, 0, false};

    (void)for_each_tcp(rxq_cb, &q);
    return q.found ? q.sum : -ENOENT;
}

struct state_count {
    unsigned port, st;
    int n;
};

static int count_cb(const struct procfs_tcp_line *e, void *arg)
{
    struct state_count *c = arg;

    if (e->lport == c->port && e->st == c->st)
        c->n++;
    return 0;
}

int procfs_count_tcp_state(unsigned port, unsigned st)
{
    struct state_count c = {port, st, 0};
    int r = for_each_tcp(count_cb, &c);

    return r < 0 ? r : c.n;
}

/* Socket inodes held by a process. */
struct inode_set {
    unsigned long long ino[256];
    size_t n;
    unsigned port;
};

static int serves_cb(const struct procfs_tcp_line *e, void *arg)
{
    const struct inode_set *s = arg;

    if (e->rport != s->port || e->st != PROCFS_TCP_ESTABLISHED)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->ino[i] == e->inode)
            return 1;
    return 0;
}

int procfs_serves_port(pid_t pid, unsigned client_port)
{
    struct inode_set s;
    struct dirent *d;
    char path[64];
    DIR *dir;

    s.n = 0;
    s.port = client_port;
    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    dir = opendir(path);
    if (dir == NULL)
        return -errno;
    while ((d = readdir(dir)) != NULL && s.n < 256) {
        char link[384], target[128];
        const char *end;
        unsigned long long ino;
        ssize_t n;

        /* Skip the listener (fd 3): only accepted sockets can match. */
        if (d->d_name[0] == '.' || strcmp(d->d_name, "3") == 0)
            continue;
        snprintf(link, sizeof(link), "%s/%s", path, d->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, "socket:[", 8) == 0 &&
            harness_parse_num(target + 8, 10, &ino, &end) == 0 && *end == ']')
            s.ino[s.n++] = ino;
    }
    closedir(dir);
    /* Nothing accepted yet: no need to read /proc/net at all. */
    if (s.n == 0)
        return 0;
    return for_each_tcp(serves_cb, &s);
}
