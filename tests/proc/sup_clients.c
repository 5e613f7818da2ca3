/*
 * Helpers for the supervision tests (see sup_clients.h). The client
 * processes are forked from the test so that a test can kill, stop or reload
 * the server while they talk to it, and still make its assertions afterwards
 * from what they report through a pipe. A forked helper never touches
 * cmocka: it only counts, reports and _exits; the test process tracks its
 * pid so that the teardown ends it even when an assertion failed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sup_clients.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfs.h"
#include "sup_fixture.h"
#include "net.h"
#include "proto.h"
#include "wire.h"
#include "wire_stream.h"

/* Bound of one exchange of a client loop. */
#define LOOP_IO_MS 10000
/* Requests pipelined in one batch by a persistent loop. */
#define BATCH 4

/* --- the first-byte grace ---------------------------------------------- */

int sup_late_first_request(struct harness *h, struct harness_proc *p,
                           pid_t worker, int sig, int late_ms, int *fd,
                           int64_t *elapsed_ms)
{
    int64_t t0 = harness_now_ms(), deadline = t0 + LOOP_IO_MS;
    int port, r;

    *elapsed_ms = 0;
    *fd = wire_connect(h, p->port, LOOP_IO_MS);
    if (*fd < 0) {
        r = *fd;
        *fd = -1;
        return r;
    }
    port = net_local_port(*fd);
    if (port < 0)
        return port;
    while ((r = procfs_serves_port(worker, (unsigned)port)) != 1) {
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
    return wire_upper_exchange(*fd, "just in time", LOOP_IO_MS);
}

void sup_late_retry(struct harness *h, struct harness_proc *p, int fd,
                    int attempt, int64_t elapsed_ms)
{
    print_message("attempt %d: the request left only %lld ms after "
                  "connecting (machine too busy to test the grace); "
                  "retrying\n",
                  attempt, (long long)elapsed_ms);
    harness_close_fd(h, fd);
    assert_int_equal(harness_stop(p), 0);
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

        fd = wire_connect(h, port, LOOP_IO_MS);
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
        e = wire_upper_exchange(fd, text, LOOP_IO_MS);
        if (e == 0) {
            r.ok++;
            if (!started) {
                r.port = (unsigned)net_local_port(fd);
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
        wire_stream_pattern(req + off + PROTO_HEADER_LEN, NULL, sizes[i],
                            seq * BATCH + i);
        off += PROTO_HEADER_LEN + sizes[i];
    }
    r = wire_send_all(fd, req, off, LOOP_IO_MS);
    if (r < 0)
        return r;
    for (size_t i = 0; i < BATCH; i++) {
        r = wire_read_response(fd, &resp, &rlen, LOOP_IO_MS);
        if (r < 0)
            return r;
        wire_stream_pattern(NULL, want, sizes[i], seq * BATCH + i);
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
    fd = wire_connect(h, port, LOOP_IO_MS);
    if (fd < 0) {
        r.first_err = -fd;
        if (fd == -ECONNREFUSED)
            r.refused++;
        else
            r.connfail++;
        send_msg(res, 'R', &r);
        return;
    }
    r.port = (unsigned)net_local_port(fd);
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

/*
 * Forks a helper with two pipes: one down to it, one up from it. The child
 * gets 0 and child[0] (reading down) and child[1] (writing up), every other
 * descriptor closed. The parent tracks the child, gets its pid, *down (to
 * write) and *up (to read); -errno on failure, with nothing left open.
 */
static pid_t fork_helper(struct harness *h, int *down, int *up, int child[2])
{
    int d[2] = {-1, -1}, u[2] = {-1, -1}, r;
    pid_t parent = getpid(), pid;

    *down = *up = -1;
    if (pipe2(d, O_CLOEXEC) < 0 || pipe2(u, O_CLOEXEC) < 0)
        goto fail;
    pid = fork();
    if (pid < 0)
        goto fail;
    child[0] = d[0];
    child[1] = u[1];
    if (pid == 0) {
        helper_init(h, parent, child, 2);
        return 0;
    }
    sup_track_helper(pid);
    close(d[0]);
    close(u[1]);
    *down = d[1];
    *up = u[0];
    return pid;

fail:
    r = -errno;
    for (int i = 0; i < 2; i++) {
        if (d[i] >= 0)
            close(d[i]);
        if (u[i] >= 0)
            close(u[i]);
    }
    return r;
}

int sup_loop_start(struct harness *h, unsigned port, enum sup_loop_mode mode,
                   struct sup_loop *l)
{
    int child[2] = {-1, -1};
    pid_t pid = fork_helper(h, &l->ctl_fd, &l->res_fd, child);

    if (pid == 0) {
        if (mode == SUP_LOOP_SHORT)
            loop_short(h, port, child[0], child[1]);
        else
            loop_persistent(h, port, child[0], child[1]);
        _exit(0);
    }
    l->pid = pid > 0 ? pid : -1;
    return pid < 0 ? (int)pid : 0;
}

/* Reads one helper message within timeout_ms: 0, -EPIPE at EOF, -errno. */
static int read_msg(int fd, struct loop_msg *m, int timeout_ms)
{
    ssize_t n;
    int r;

    /* Defined even on failure, so no caller can act on stale bytes. */
    memset(m, 0, sizeof(*m));
    r = wire_wait_readable(fd, timeout_ms);
    if (r < 0)
        return r;
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
    sup_untrack_helper(pid);
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

void sup_loop_assert_clean(const struct sup_loop_result *r)
{
    assert_int_equal(r->refused, 0);
    assert_int_equal(r->connfail, 0);
    assert_int_equal(r->wrong, 0);
    assert_int_equal(r->timeouts, 0);
}

/* The uploader: see struct sup_upload. Returns 0 or -errno. */
static int upload(struct harness *h, unsigned port, uint32_t len,
                  uint32_t pause_at, int note, int go)
{
    struct wire_stream s = {0};
    char tag = 'P';
    int r;

    s.fd = wire_connect(h, port, LOOP_IO_MS);
    if (s.fd < 0)
        return s.fd;
    s.len = len;
    r = wire_stream_run(&s, PROTO_HEADER_LEN + (uint64_t)pause_at,
                        PROTO_HEADER_LEN, -1);
    if (r < 0)
        return r;
    if (write(note, &tag, 1) != 1)
        return -EPIPE;
    /* Paused: nothing more is sent, but the answer keeps being read. */
    r = wire_stream_run(&s, s.sent, UINT64_MAX, go);
    if (r < 0)
        return r;
    r = wire_stream_run(&s, PROTO_HEADER_LEN + (uint64_t)len,
                        PROTO_HEADER_LEN + (uint64_t)len, -1);
    harness_close_fd(h, s.fd);
    return r;
}

int sup_upload_start(struct harness *h, unsigned port, uint32_t len,
                     uint32_t pause_at, struct sup_upload *u)
{
    int child[2] = {-1, -1};
    pid_t pid = fork_helper(h, &u->go_fd, &u->note_fd, child);

    if (pid == 0) {
        char tag = 'R';
        int r = upload(h, port, len, pause_at, child[1], child[0]);

        (void)!write(child[1], &tag, 1);
        (void)!write(child[1], &r, sizeof(r));
        _exit(0);
    }
    u->pid = pid > 0 ? pid : -1;
    return pid < 0 ? (int)pid : 0;
}

/* Reads the uploader's next tag, and its result after an 'R'. */
static int upload_read(struct sup_upload *u, char *tag, int *result,
                       int timeout_ms)
{
    int r = wire_wait_readable(u->note_fd, timeout_ms);

    if (r < 0)
        return r;
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
