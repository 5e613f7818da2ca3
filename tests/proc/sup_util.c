/*
 * Helpers for the supervision tests (see sup_util.h). The client processes
 * are forked from the test so that a test can kill, stop or reload the
 * server while they talk to it, and still make its assertions afterwards
 * from what they report through a pipe. A forked helper never touches
 * cmocka: it only counts, reports and _exits; the test process tracks its
 * pid so that the teardown ends it even when an assertion failed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sup_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"

/* Helpers and foreign processes a single test may register. */
#define MAX_TRACKED 16
/* Bound of one exchange of a client loop. */
#define LOOP_IO_MS 10000
/* A streaming exchange fails after this long without any progress. */
#define STREAM_IDLE_MS 60000
/* Requests pipelined in one batch by a persistent loop. */
#define BATCH 4
/* Chunk of a streaming exchange. */
#define CHUNK (64u * 1024u)

static pid_t tracked[MAX_TRACKED];
static pid_t foreign_pid;
static char tmux_name[64];
static struct harness *extra_harness;
/* SUP_WORKER_ENV as the test run found it, restored after each test. */
static char *saved_worker_env;
static bool worker_env_saved;

/* Mixed-case letters and other bytes; its length divides no power of two. */
static const char pattern[] = "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789_!zYxWvU"
                              "tSrQpOnMlKjIhGfEdCbA~";
#define PAT_LEN (sizeof(pattern) - 1)

static uint8_t upper(uint8_t c)
{
    return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Fills buf (when not NULL) with the pattern from offset off on, and up
 * (when not NULL) with its uppercase. */
static void fill_pattern(uint8_t *buf, uint8_t *up, size_t len, uint64_t off)
{
    size_t j = (size_t)(off % PAT_LEN);

    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)pattern[j];

        if (buf != NULL)
            buf[i] = c;
        if (up != NULL)
            up[i] = upper(c);
        if (++j == PAT_LEN)
            j = 0;
    }
}

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
static void track_helper(pid_t pid)
{
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == 0) {
            tracked[i] = pid;
            return;
        }
    }
    /* Out of slots: a test bug; the helper dies with us (PDEATHSIG). */
    fprintf(stderr, "sup_util: too many helper processes\n");
}

static void untrack_helper(pid_t pid)
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

    if (pid <= 0 || !harness_pid_alive(pid))
        return;
    n = harness_children(pid, kids, HARNESS_MAX_CHILDREN);
    kill(pid, SIGKILL);
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    (void)sup_wait_gone(pid, 2000);
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

/* --- processes ----------------------------------------------------------- */

/*
 * Reads /proc/PID/stat and returns a pointer just past "(comm) ", i.e. at
 * field 3 (state), in buf. NULL when the process is gone.
 */
static const char *stat_fields(pid_t pid, char *buf, size_t len)
{
    char path[64];
    const char *s;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    s = strrchr(buf, ')');
    if (s == NULL || s[1] != ' ')
        return NULL;
    return s + 2;
}

/* Field number field (1-based, >= 3) of a stat line from stat_fields. */
static unsigned long long stat_field(const char *s, int field)
{
    for (int f = 3; f < field && s != NULL; f++) {
        s = strchr(s, ' ');
        if (s != NULL)
            s++;
    }
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

int64_t sup_proc_cpu_ms(pid_t pid)
{
    char buf[1024];
    const char *s = stat_fields(pid, buf, sizeof(buf));
    long tck = sysconf(_SC_CLK_TCK);
    unsigned long long ticks;

    if (s == NULL)
        return -ESRCH;
    if (tck <= 0)
        return -EINVAL;
    ticks = stat_field(s, 14) + stat_field(s, 15);
    return (int64_t)(ticks * 1000ULL / (unsigned long long)tck);
}

int sup_wait_gone(pid_t pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    while (harness_pid_alive(pid)) {
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
    return 0;
}

int sup_wait_all_gone(struct harness_proc *p, const pid_t *pids, size_t n,
                      int timeout_ms)
{
    int64_t start = harness_now_ms(), deadline = start + timeout_ms;

    for (;;) {
        bool alive = harness_wait_exit(p, 0) != 0;

        for (size_t i = 0; i < n && !alive; i++)
            alive = harness_pid_alive(pids[i]);
        if (!alive)
            return (int)(harness_now_ms() - start);
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
}

pid_t sup_wait_new_child(pid_t parent, const pid_t *old, size_t nold,
                         int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    pid_t kids[HARNESS_MAX_CHILDREN];

    for (;;) {
        int n = harness_children(parent, kids, HARNESS_MAX_CHILDREN);

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

pid_t sup_find_process(const char *argv0, const char *const args[])
{
    struct dirent *d;
    DIR *dir = opendir("/proc");
    pid_t found = -ESRCH;

    if (dir == NULL)
        return -errno;
    while (found < 0 && (d = readdir(dir)) != NULL) {
        char buf[4096];
        const char *s, *end;
        unsigned long long pid;
        ssize_t n;
        bool match;

        if (harness_parse_num(d->d_name, 10, &pid, &end) < 0 || *end != '\0')
            continue;
        n = read_cmdline(d->d_name, buf, sizeof(buf));
        if (n <= 0 || strcmp(buf, argv0) != 0)
            continue;
        s = buf + strlen(buf) + 1;
        match = true;
        for (size_t i = 0; args[i] != NULL && match; i++) {
            if (s >= buf + n || strcmp(s, args[i]) != 0)
                match = false;
            else
                s += strlen(s) + 1;
        }
        if (match && harness_pid_alive((pid_t)pid))
            found = (pid_t)pid;
    }
    closedir(dir);
    return found;
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

/* --- sockets and /proc/net ---------------------------------------------- */

int sup_bind_port(unsigned port)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    int fd, on = 1, off = 0, r = 0;

    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        memset(&a6, 0, sizeof(a6));
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_any;
        a6.sin6_port = htons((uint16_t)port);
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
            bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0 ||
            listen(fd, 16) < 0)
            r = -errno;
        close(fd);
        return r;
    }
    if (errno != EAFNOSUPPORT)
        return -errno;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(&a4, 0, sizeof(a4));
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    a4.sin_port = htons((uint16_t)port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
        bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0 || listen(fd, 16) < 0)
        r = -errno;
    close(fd);
    return r;
}

int sup_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    /* Zeroed because the analyzer cannot see getsockname() write through
     * glibc's transparent-union argument. */
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

/*
 * Calls fn for every socket of /proc/net/tcp and /proc/net/tcp6; stops when
 * fn returns non-zero and returns that value; 0 at the end, or -errno.
 */
static int for_each_tcp(int (*fn)(const struct harness_tcp_line *e, void *arg),
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
            struct harness_tcp_line e;

            if (harness_parse_tcp_line(line, &e) < 0)
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

/* Socket inodes held by a process. */
struct inode_set {
    unsigned long long ino[256];
    size_t n;
    unsigned port;
};

static int serves_cb(const struct harness_tcp_line *e, void *arg)
{
    const struct inode_set *s = arg;

    if (e->rport != s->port || e->st != SUP_TCP_ESTABLISHED)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->ino[i] == e->inode)
            return 1;
    return 0;
}

int sup_serves_port(pid_t pid, unsigned client_port)
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

struct state_count {
    unsigned port, st;
    int n;
};

static int count_cb(const struct harness_tcp_line *e, void *arg)
{
    struct state_count *c = arg;

    if (e->lport == c->port && e->st == c->st)
        c->n++;
    return 0;
}

int sup_count_tcp_state(unsigned port, unsigned st)
{
    struct state_count c = {port, st, 0};
    int r = for_each_tcp(count_cb, &c);

    return r < 0 ? r : c.n;
}

/* One uppercase exchange on fd with a deadline: 0, -EBADMSG for a wrong
 * answer, -EPROTO when the peer closed mid-response, or -errno. */
static int upper_exchange(int fd, const char *text, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    size_t len = strlen(text);
    uint8_t req[256], *resp = NULL;
    uint32_t rlen;
    int r;

    if (len > sizeof(req) - PROTO_HEADER_LEN)
        return -EINVAL;
    harness_encode(req, PROTO_UPPERCASE, text, (uint32_t)len);
    r = harness_send_all(fd, req, PROTO_HEADER_LEN + len, timeout_ms);
    if (r < 0)
        return r;
    r = harness_read_response(
        fd, &resp, &rlen,
        (int)(deadline > harness_now_ms() ? deadline - harness_now_ms() : 0));
    if (r < 0)
        return r;
    /* -EPROTO already means "closed mid-response": a wrong answer differs. */
    r = 0;
    if (rlen != len)
        r = -EBADMSG;
    for (size_t i = 0; i < len && r == 0; i++)
        if (resp[i] != upper((uint8_t)text[i]))
            r = -EBADMSG;
    free(resp);
    return r;
}

int sup_ping(struct harness *h, unsigned port, int timeout_ms)
{
    int fd = harness_connect(h, port, timeout_ms), r;

    if (fd < 0)
        return fd;
    r = upper_exchange(fd, "ping from the supervision tests", timeout_ms);
    harness_close_fd(h, fd);
    return r;
}

int sup_wait_answer(struct harness *h, struct harness_proc *p, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        int64_t left = deadline - harness_now_ms();

        if (harness_wait_exit(p, 0) == 0)
            return -ECHILD;
        if (left <= 0)
            return -ETIMEDOUT;
        /* Slices, so that a server exiting meanwhile is noticed. */
        if (sup_ping(h, p->port, left < 1000 ? (int)left : 1000) == 0)
            return 0;
        harness_pause_ms(2);
    }
}

/* --- streaming uppercase exchanges -------------------------------------- */

/* Sends what it may of the request, up to limit bytes in all: the count
 * sent (0 when the socket is full) or -errno. */
static int stream_send(struct sup_stream *s, uint64_t limit)
{
    uint8_t buf[CHUNK];
    uint64_t total = PROTO_HEADER_LEN + (uint64_t)s->len;
    size_t n = 0, want;
    ssize_t w;

    if (limit > total)
        limit = total;
    if (s->sent >= limit)
        return 0;
    want =
        limit - s->sent < sizeof(buf) ? (size_t)(limit - s->sent) : sizeof(buf);
    if (s->sent < PROTO_HEADER_LEN) {
        uint8_t hdr[PROTO_HEADER_LEN];

        proto_encode_request_header(hdr, PROTO_UPPERCASE, s->len);
        n = PROTO_HEADER_LEN - (size_t)s->sent;
        if (n > want)
            n = want;
        memcpy(buf, hdr + s->sent, n);
    }
    /* Data byte i of the request is pattern byte i. */
    fill_pattern(buf + n, NULL, want - n, s->sent + n - PROTO_HEADER_LEN);
    w = send(s->fd, buf, want, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    s->sent += (uint64_t)w;
    return (int)w;
}

/* Reads and checks what arrived of the answer: the count or -errno. */
static int stream_recv(struct sup_stream *s)
{
    uint8_t buf[CHUNK], want[CHUNK];
    uint64_t total = PROTO_HEADER_LEN + (uint64_t)s->len;
    size_t off = 0;
    ssize_t n;

    n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    if (n == 0)
        return -ECONNABORTED; /* closed before the whole answer */
    if (s->rgot + (uint64_t)n > total)
        return -EBADMSG; /* more than one answer's worth */
    while (s->rgot < PROTO_HEADER_LEN && off < (size_t)n)
        s->rhdr[s->rgot++] = buf[off++];
    if (s->rgot == PROTO_HEADER_LEN && off > 0 &&
        proto_get_u32(s->rhdr) != s->len)
        return -EBADMSG;
    if (off < (size_t)n) {
        fill_pattern(NULL, want, (size_t)n - off, s->rgot - PROTO_HEADER_LEN);
        if (memcmp(buf + off, want, (size_t)n - off) != 0)
            return -EBADMSG;
        s->rgot += (size_t)n - off;
    }
    return (int)n;
}

/*
 * Runs the exchange until send_until request bytes are sent and want_rgot
 * response bytes arrived (0), or until ctl_fd (when >= 0) becomes readable
 * (1). -errno on failure, -ETIMEDOUT after STREAM_IDLE_MS without progress.
 */
static int stream_run(struct sup_stream *s, uint64_t send_until,
                      uint64_t want_rgot, int ctl_fd)
{
    uint64_t total = PROTO_HEADER_LEN + (uint64_t)s->len;
    int64_t last_progress = harness_now_ms();

    if (send_until > total)
        send_until = total;
    for (;;) {
        struct pollfd pfd[2];
        nfds_t nfds = 1;
        int r;

        if (s->sent >= send_until && s->rgot >= want_rgot && ctl_fd < 0)
            return 0;
        pfd[0].fd = s->fd;
        pfd[0].events = (short)((s->rgot < total ? POLLIN : 0) |
                                (s->sent < send_until ? POLLOUT : 0));
        pfd[0].revents = 0;
        if (ctl_fd >= 0) {
            pfd[1].fd = ctl_fd;
            pfd[1].events = POLLIN;
            pfd[1].revents = 0;
            nfds = 2;
        }
        r = poll(pfd, nfds, 100);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (ctl_fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP)))
            return 1;
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            r = stream_recv(s);
            if (r < 0)
                return r;
            if (r > 0)
                last_progress = harness_now_ms();
        }
        if (pfd[0].revents & POLLOUT) {
            r = stream_send(s, send_until);
            if (r < 0)
                return r;
            if (r > 0)
                last_progress = harness_now_ms();
        }
        if (harness_now_ms() - last_progress > STREAM_IDLE_MS)
            return -ETIMEDOUT;
    }
}

int sup_stream_start(struct harness *h, unsigned port, uint32_t len,
                     uint32_t sent, struct sup_stream *s)
{
    int fd, r;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    fd = harness_connect(h, port, LOOP_IO_MS);
    if (fd < 0)
        return fd;
    s->fd = fd;
    s->len = len;
    /* The header and one answered byte: the worker is mid-exchange. */
    r = stream_run(s, PROTO_HEADER_LEN + (uint64_t)sent,
                   PROTO_HEADER_LEN + (sent > 0 ? 1 : 0), -1);
    if (r < 0) {
        harness_close_fd(h, fd);
        s->fd = -1;
    }
    return r;
}

int sup_stream_finish(struct sup_stream *s)
{
    return stream_run(s, PROTO_HEADER_LEN + (uint64_t)s->len,
                      PROTO_HEADER_LEN + (uint64_t)s->len, -1);
}

int sup_late_first_request(struct harness *h, struct harness_proc *p,
                           pid_t worker, int sig, int late_ms, int *fd,
                           int64_t *elapsed_ms)
{
    int64_t t0 = harness_now_ms(), deadline = t0 + LOOP_IO_MS;
    int port, r;

    *elapsed_ms = 0;
    *fd = harness_connect(h, p->port, LOOP_IO_MS);
    if (*fd < 0) {
        r = *fd;
        *fd = -1;
        return r;
    }
    port = sup_local_port(*fd);
    if (port < 0)
        return port;
    while ((r = sup_serves_port(worker, (unsigned)port)) != 1) {
        if (r < 0)
            return r;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
    r = harness_kill(p, sig, false);
    if (r < 0)
        return r;
    harness_pause_ms(late_ms);
    *elapsed_ms = harness_now_ms() - t0;
    return upper_exchange(*fd, "just in time", LOOP_IO_MS);
}

/* --- the server's log ---------------------------------------------------- */

int sup_log_wait(struct sup_log *l, const char *word, long pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        char buf[65536];
        ssize_t n;
        int fd = open(l->path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
            return -errno;
        while ((n = pread(fd, buf, sizeof(buf) - 1, (off_t)l->off)) > 0) {
            char *line = buf, *nl;

            buf[n] = '\0';
            /* Only complete lines: the writer may be mid-line. */
            while ((nl = strchr(line, '\n')) != NULL) {
                bool hit;

                *nl = '\0';
                hit = harness_line_has(line, word, pid);
                l->off += (size_t)(nl - line) + 1;
                line = nl + 1;
                if (hit) {
                    close(fd);
                    return 0;
                }
            }
            if (line == buf)
                break; /* a partial line longer than nothing: wait */
        }
        close(fd);
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
}

/*
 * Reads the width-digit number at *s followed by sep ('\0': nothing), and
 * moves *s past both. False, leaving *s alone, when they are not there.
 */
static bool time_field(const char **s, int width, char sep, int64_t *v)
{
    unsigned long long n;
    const char *end;

    if (harness_parse_num(*s, 10, &n, &end) < 0 || end - *s != width ||
        (sep != '\0' && *end != sep))
        return false;
    *v = (int64_t)n;
    *s = sep != '\0' ? end + 1 : end;
    return true;
}

size_t sup_log_times(const char *text, const char *word, int64_t *ms,
                     size_t max)
{
    const char *line = text;
    size_t n = 0;

    while (*line != '\0' && n < max) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int64_t hh, mm, ss, mmm;
        char *copy = strndup(line, len);
        const char *t = copy != NULL && len > 23 ? copy + 11 : NULL;

        /* "YYYY-MM-DD HH:MM:SS.mmm [...": the time starts at offset 11. */
        if (t != NULL && strstr(copy, word) != NULL &&
            time_field(&t, 2, ':', &hh) && time_field(&t, 2, ':', &mm) &&
            time_field(&t, 2, '.', &ss) && time_field(&t, 3, '\0', &mmm))
            ms[n++] = ((hh * 60 + mm) * 60 + ss) * 1000 + mmm;
        free(copy);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return n;
}

size_t sup_log_count(const char *text, const char *word)
{
    size_t n = 0, wl = strlen(word);

    for (const char *s = strstr(text, word); s != NULL;
         s = strstr(s + wl, word))
        n++;
    return n;
}

/* --- client processes -------------------------------------------------- */

/*
 * In a forked helper: dies with the test, and closes every descriptor it
 * inherited except keep[0..n), so that no socket of the test stays open in
 * it (a copy would hold a connection the test means to close).
 */
static void helper_init(struct harness *h, pid_t parent, const int *keep,
                        size_t n)
{
    int fds[1024];
    size_t nfds = 0;
    struct dirent *d;
    DIR *dir;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    for (size_t i = 0; i < HARNESS_MAX_FDS; i++)
        h->fds[i] = -1;
    dir = opendir("/proc/self/fd");
    if (dir == NULL)
        _exit(1);
    while ((d = readdir(dir)) != NULL && nfds < 1024) {
        unsigned long long v;
        const char *end;
        int fd;
        bool kept;

        /* "." and ".." are the only names that are not descriptors. */
        if (harness_parse_num(d->d_name, 10, &v, &end) < 0 || *end != '\0' ||
            v > INT_MAX)
            continue;
        fd = (int)v;
        kept = fd <= 2 || fd == dirfd(dir);

        for (size_t i = 0; i < n && !kept; i++)
            kept = fd == keep[i];
        if (!kept)
            fds[nfds++] = fd;
    }
    closedir(dir);
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
}

/* True once the test closed (or wrote to) the control pipe. */
static bool ctl_ready(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};

    return poll(&pfd, 1, 0) > 0;
}

static void note_failure(struct sup_loop_result *r, int err)
{
    if (r->first_err == 0)
        r->first_err = -err;
    if (err == -ETIMEDOUT)
        r->timeouts++;
    else if (err == -EBADMSG)
        r->wrong++;
    else
        r->inflight++;
}

/* A message from a helper: a tag, then a payload. */
struct loop_msg {
    char tag; /* 'H' started (port valid), 'R' result */
    struct sup_loop_result res;
};

static void send_msg(int fd, char tag, const struct sup_loop_result *r)
{
    struct loop_msg m;

    memset(&m, 0, sizeof(m));
    m.tag = tag;
    m.res = *r;
    (void)!write(fd, &m, sizeof(m));
}

/* Short connections until asked to stop. */
static void loop_short(struct harness *h, unsigned port, int ctl, int res)
{
    struct sup_loop_result r;
    bool started = false;
    uint64_t seq = 0;

    memset(&r, 0, sizeof(r));
    while (!ctl_ready(ctl)) {
        char text[64];
        int fd, e;

        fd = harness_connect(h, port, LOOP_IO_MS);
        if (fd < 0) {
            if (r.first_err == 0)
                r.first_err = -fd;
            if (fd == -ECONNREFUSED)
                r.refused++;
            else
                r.connfail++;
            harness_pause_ms(1);
            continue;
        }
        snprintf(text, sizeof(text), "short connection %llu, hello",
                 (unsigned long long)seq++);
        e = upper_exchange(fd, text, LOOP_IO_MS);
        if (e == 0) {
            r.ok++;
            if (!started) {
                r.port = (unsigned)sup_local_port(fd);
                send_msg(res, 'H', &r);
                started = true;
            }
        } else if (e == -ECONNREFUSED) {
            r.refused++;
        } else {
            note_failure(&r, e);
        }
        harness_close_fd(h, fd);
    }
    send_msg(res, 'R', &r);
}

/* One batch of pipelined requests of assorted sizes: 0 or -errno. */
static int persistent_batch(int fd, uint64_t seq)
{
    static const uint32_t sizes[BATCH] = {13, 1000, 1, 7000};
    uint8_t req[BATCH * PROTO_HEADER_LEN + 8014], want[7000], *resp;
    size_t off = 0;
    uint32_t rlen;
    int r;

    for (size_t i = 0; i < BATCH; i++) {
        proto_encode_request_header(req + off, PROTO_UPPERCASE, sizes[i]);
        fill_pattern(req + off + PROTO_HEADER_LEN, NULL, sizes[i],
                     seq * BATCH + i);
        off += PROTO_HEADER_LEN + sizes[i];
    }
    r = harness_send_all(fd, req, off, LOOP_IO_MS);
    if (r < 0)
        return r;
    for (size_t i = 0; i < BATCH; i++) {
        r = harness_read_response(fd, &resp, &rlen, LOOP_IO_MS);
        if (r < 0)
            return r;
        fill_pattern(NULL, want, sizes[i], seq * BATCH + i);
        r = rlen == sizes[i] && memcmp(resp, want, rlen) == 0 ? 0 : -EBADMSG;
        free(resp);
        if (r < 0)
            return r;
    }
    return 0;
}

/* One connection, batches until the first failure or a stop request. */
static void loop_persistent(struct harness *h, unsigned port, int ctl, int res)
{
    struct sup_loop_result r;
    uint64_t seq = 0;
    int fd, e;

    memset(&r, 0, sizeof(r));
    fd = harness_connect(h, port, LOOP_IO_MS);
    if (fd < 0) {
        r.first_err = -fd;
        if (fd == -ECONNREFUSED)
            r.refused++;
        else
            r.connfail++;
        send_msg(res, 'R', &r);
        return;
    }
    r.port = (unsigned)sup_local_port(fd);
    while (!ctl_ready(ctl)) {
        e = persistent_batch(fd, seq++);
        if (e < 0) {
            note_failure(&r, e);
            break;
        }
        r.ok += BATCH;
        if (r.ok == BATCH)
            send_msg(res, 'H', &r);
    }
    /* After a failure, wait for the stop so the test reads one result. */
    while (!ctl_ready(ctl))
        harness_pause_ms(5);
    harness_close_fd(h, fd);
    send_msg(res, 'R', &r);
}

int sup_loop_start(struct harness *h, unsigned port, enum sup_loop_mode mode,
                   struct sup_loop *l)
{
    int ctl[2] = {-1, -1}, res[2] = {-1, -1}, r;
    pid_t parent = getpid(), pid;

    l->pid = -1;
    l->ctl_fd = l->res_fd = -1;
    if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
        goto fail;
    pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        int keep[2] = {ctl[0], res[1]};

        helper_init(h, parent, keep, 2);
        if (mode == SUP_LOOP_SHORT)
            loop_short(h, port, ctl[0], res[1]);
        else
            loop_persistent(h, port, ctl[0], res[1]);
        _exit(0);
    }
    track_helper(pid);
    close(ctl[0]);
    close(res[1]);
    l->pid = pid;
    l->ctl_fd = ctl[1];
    l->res_fd = res[0];
    return 0;

fail:
    r = -errno;
    for (int i = 0; i < 2; i++) {
        if (ctl[i] >= 0)
            close(ctl[i]);
        if (res[i] >= 0)
            close(res[i]);
    }
    return r;
}

/* Reads one helper message within timeout_ms: 0, -EPIPE at EOF, -errno. */
static int read_msg(int fd, struct loop_msg *m, int timeout_ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t n;
    int r;

    /* Defined even on failure, so no caller can act on stale bytes. */
    memset(m, 0, sizeof(*m));
    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    n = read(fd, m, sizeof(*m));
    if (n < 0)
        return -errno;
    if (n != (ssize_t)sizeof(*m))
        return -EPIPE;
    return 0;
}

int sup_loop_wait_started(struct sup_loop *l, int timeout_ms)
{
    struct loop_msg m;
    int r = read_msg(l->res_fd, &m, timeout_ms);

    if (r < 0)
        return r;
    if (m.tag != 'H')
        return m.res.first_err != 0 ? -m.res.first_err : -EPIPE;
    return (int)m.res.port;
}

/* Reaps a helper within timeout_ms, killing it after that. Its status. */
static int reap_helper(pid_t pid, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    int st = 0;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            break;
        if (harness_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        harness_pause_ms(2);
    }
    untrack_helper(pid);
    return st;
}

int sup_loop_stop(struct sup_loop *l, struct sup_loop_result *res,
                  int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    struct loop_msg m;
    int r;

    memset(res, 0, sizeof(*res));
    if (l->ctl_fd >= 0)
        close(l->ctl_fd);
    l->ctl_fd = -1;
    do {
        int64_t left = deadline - harness_now_ms();

        r = read_msg(l->res_fd, &m, left > 0 ? (int)left : 0);
    } while (r == 0 && m.tag != 'R');
    if (r == 0)
        *res = m.res;
    close(l->res_fd);
    l->res_fd = -1;
    reap_helper(l->pid, r == 0 ? 5000 : 0);
    l->pid = -1;
    return r;
}

void sup_loop_print(const char *label, const struct sup_loop_result *r)
{
    print_message(
        "%s: ok %llu, refused %llu, connect failed %llu, cut in "
        "flight %llu, wrong %llu, timed out %llu (first error: "
        "%s)\n",
        label, (unsigned long long)r->ok, (unsigned long long)r->refused,
        (unsigned long long)r->connfail, (unsigned long long)r->inflight,
        (unsigned long long)r->wrong, (unsigned long long)r->timeouts,
        r->first_err ? strerror(r->first_err) : "none");
}

/* The uploader: see struct sup_upload. Returns 0 or -errno. */
static int upload(struct harness *h, unsigned port, uint32_t len,
                  uint32_t pause_at, int note, int go)
{
    struct sup_stream s = {0};
    char tag = 'P';
    int r;

    s.fd = harness_connect(h, port, LOOP_IO_MS);
    if (s.fd < 0)
        return s.fd;
    s.len = len;
    r = stream_run(&s, PROTO_HEADER_LEN + (uint64_t)pause_at, PROTO_HEADER_LEN,
                   -1);
    if (r < 0)
        return r;
    if (write(note, &tag, 1) != 1)
        return -EPIPE;
    /* Paused: nothing more is sent, but the answer keeps being read. */
    r = stream_run(&s, s.sent, UINT64_MAX, go);
    if (r < 0)
        return r;
    r = stream_run(&s, PROTO_HEADER_LEN + (uint64_t)len,
                   PROTO_HEADER_LEN + (uint64_t)len, -1);
    harness_close_fd(h, s.fd);
    return r;
}

int sup_upload_start(struct harness *h, unsigned port, uint32_t len,
                     uint32_t pause_at, struct sup_upload *u)
{
    int note[2] = {-1, -1}, go[2] = {-1, -1}, r;
    pid_t parent = getpid(), pid;

    u->pid = -1;
    u->note_fd = u->go_fd = -1;
    if (pipe2(note, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
        goto fail;
    pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        int keep[2] = {note[1], go[0]};
        char tag = 'R';

        helper_init(h, parent, keep, 2);
        r = upload(h, port, len, pause_at, note[1], go[0]);
        (void)!write(note[1], &tag, 1);
        (void)!write(note[1], &r, sizeof(r));
        _exit(0);
    }
    track_helper(pid);
    close(note[1]);
    close(go[0]);
    u->pid = pid;
    u->note_fd = note[0];
    u->go_fd = go[1];
    return 0;

fail:
    r = -errno;
    for (int i = 0; i < 2; i++) {
        if (note[i] >= 0)
            close(note[i]);
        if (go[i] >= 0)
            close(go[i]);
    }
    return r;
}

/* Reads the uploader's next tag, and its result after an 'R'. */
static int upload_read(struct sup_upload *u, char *tag, int *result,
                       int timeout_ms)
{
    struct pollfd pfd = {u->note_fd, POLLIN, 0};
    int r;

    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    if (read(u->note_fd, tag, 1) != 1)
        return -EPIPE;
    if (*tag == 'R' &&
        read(u->note_fd, result, sizeof(*result)) != (ssize_t)sizeof(*result))
        return -EPIPE;
    return 0;
}

int sup_upload_wait_paused(struct sup_upload *u, int timeout_ms)
{
    char tag;
    int result = 0, r = upload_read(u, &tag, &result, timeout_ms);

    if (r < 0)
        return r;
    if (tag == 'R')
        return result < 0 ? result : -EPIPE;
    return 0;
}

int sup_upload_finish(struct sup_upload *u, int timeout_ms)
{
    char tag = 0;
    int result = -EPIPE, r;

    if (u->go_fd >= 0)
        close(u->go_fd);
    u->go_fd = -1;
    r = upload_read(u, &tag, &result, timeout_ms);
    close(u->note_fd);
    u->note_fd = -1;
    reap_helper(u->pid, r == 0 ? 5000 : 0);
    u->pid = -1;
    if (r < 0)
        return r;
    return tag == 'R' ? result : -EPROTO;
}
