/*
 * The driver. Sockets are registered edge-triggered for input and output
 * once, so no epoll_ctl call is needed as a connection alternates between
 * sending and waiting: each edge is drained (reads until a short read or
 * EAGAIN, writes until EAGAIN or nothing is owed). Requests are queued in
 * batches: every read that completes answers refills the window at once,
 * and the new requests leave in one sendmsg from the pre-encoded window.
 * A request's latency runs from the moment it is queued to the moment its
 * whole answer has been read; the clock is read once per read call.
 */
#include "bench_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "resp.h"

#define READ_MAX       ((size_t)256 * 1024)
#define SEND_IOV_MAX   64
#define SEND_BYTES_MAX ((size_t)4 * 1024 * 1024)
#define TICK_MS        100
#define PROGRESS_NS    250000000ull
#define DETAILS_MAX    10 /* error details printed before going quiet */

enum conn_state {
    CONN_IDLE, /* no socket */
    CONN_CONNECTING,
    CONN_OPEN,
};

struct conn {
    unsigned id;
    uint32_t gen; /* bumped per socket: tells stale epoll events apart */
    int fd;
    enum conn_state state;
    uint64_t owed;     /* requests queued and not completely written */
    uint64_t sent_off; /* bytes of the first owed request already written */
    uint32_t inflight; /* requests queued and not yet answered */
    uint64_t *ts;      /* queue times of the in-flight requests (a ring) */
    uint32_t ts_head;
    uint32_t ts_cap;
    struct resp_parser rp;
    uint64_t raw_off; /* raw mode: bytes of the current echo read */
    struct bench_verify_state vst;
    uint64_t last_progress;
    uint64_t answered; /* answers on this connection */
};

struct run {
    const struct bench_conn_cfg *cfg;
    const struct bench_opts *o;
    struct bench_stats *st;
    int epfd;
    uint8_t *rbuf;
    struct conn *conns;
    unsigned nconns;
    unsigned live;   /* connections (or conn-mode slots) still working */
    uint64_t issued; /* requests queued (connections started in conn mode) */
    bool stopping;   /* issue nothing more; finish what is in flight */
    uint64_t t0;
    uint64_t t_last; /* time of the last answer */
    uint64_t deadline;
    unsigned details;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void conn_close(struct run *r, struct conn *c);
static void slot_next(struct run *r, struct conn *c);
static void conn_flush(struct run *r, struct conn *c);

/* Counts an error, and says what happened for the first few. */
static void count_error(struct run *r, const struct conn *c,
                        enum bench_err kind, const char *msg)
{
    r->st->errors[kind]++;
    if (r->details > DETAILS_MAX)
        return;
    if (r->details++ == DETAILS_MAX) {
        fprintf(stderr, "tcp_bench: further errors are counted, not shown\n");
        return;
    }
    fprintf(stderr, "tcp_bench: connection %u: %s\n", c->id, msg);
}

/* Counts an error described as "what: strerror(err)" (err may be 0). */
static void count_errno(struct run *r, const struct conn *c,
                        enum bench_err kind, const char *what, int err)
{
    char msg[256];
    char lost[48] = "";

    if (r->o->mode != BENCH_CONN && c->inflight > 0)
        snprintf(lost, sizeof(lost), " (%u requests in flight)", c->inflight);
    snprintf(msg, sizeof(msg), "%s%s%s%s", what, err != 0 ? ": " : "",
             err != 0 ? strerror(err) : "", lost);
    count_error(r, c, kind, msg);
}

/* Whether the budget (-n) or the clock (-t) allows one more request. */
static uint64_t may_issue(const struct run *r, uint64_t want)
{
    if (r->stopping)
        return 0;
    if (r->o->requests > 0 && r->o->requests - r->issued < want)
        return r->o->requests - r->issued;
    return want;
}

/* A connection failed: count it, drop it, and move the slot on. */
static void conn_fail(struct run *r, struct conn *c, enum bench_err kind,
                      const char *what, int err)
{
    count_errno(r, c, kind, what, err);
    conn_close(r, c);
    if (r->o->mode == BENCH_CONN)
        slot_next(r, c);
    else
        r->live--;
}

static void conn_close(struct run *r, struct conn *c)
{
    (void)r;
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->state = CONN_IDLE;
    c->owed = 0;
    c->sent_off = 0;
    c->inflight = 0;
    c->ts_head = 0;
}

/* Queues k requests at time now. */
static void conn_queue(struct run *r, struct conn *c, uint64_t k, uint64_t now)
{
    for (uint64_t i = 0; i < k; i++) {
        uint32_t slot = (c->ts_head + c->inflight) % c->ts_cap;

        c->ts[slot] = now;
        c->inflight++;
    }
    c->owed += k;
    r->issued += k;
}

/* Pipeline modes: tops the window up, or ends a connection with no work. */
static void conn_refill(struct run *r, struct conn *c, uint64_t now)
{
    uint64_t k = may_issue(r, r->o->pipeline - c->inflight);

    if (k > 0) {
        conn_queue(r, c, k, now);
        conn_flush(r, c);
        return;
    }
    if (c->inflight == 0) {
        log_debug("connection %u: done after %llu answers", c->id,
                  (unsigned long long)c->answered);
        conn_close(r, c);
        r->live--;
    }
}

static void conn_connected(struct run *r, struct conn *c, uint64_t now)
{
    c->state = CONN_OPEN;
    c->last_progress = now;
    r->st->connections++;
    if (r->o->mode == BENCH_CONN)
        conn_flush(r, c);
    else
        conn_refill(r, c, now);
}

/*
 * Opens the connection's socket and starts connecting. Returns 0, or -1
 * when it failed at once (counted; the caller moves on).
 */
static int conn_open(struct run *r, struct conn *c, uint64_t now)
{
    const struct bench_conn_cfg *cfg = r->cfg;
    struct epoll_event ev;
    int fd;

    fd = socket(cfg->addr->sa_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        count_errno(r, c, BENCH_ERR_CONNECT, "socket", errno);
        return -1;
    }
    (void)net_set_nodelay(fd);
    c->fd = fd;
    c->state = CONN_CONNECTING;
    c->last_progress = now;
    resp_parser_init(&c->rp);
    c->raw_off = 0;
    bench_verify_state_init(cfg->vs, &c->vst);
    /*
     * In conn mode a slot may close its socket and open the next one while
     * events of the old socket are still in the batch being handled: the
     * generation in the event tells them apart.
     */
    c->gen++;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = ((uint64_t)c->gen << 32) | c->id;
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        count_errno(r, c, BENCH_ERR_IO, "epoll_ctl", errno);
        conn_close(r, c);
        return -1;
    }
    if (connect(fd, cfg->addr, cfg->addrlen) == 0) {
        conn_connected(r, c, now);
        return 0;
    }
    if (errno == EINPROGRESS)
        return 0;
    count_errno(r, c, bench_err_classify(BENCH_OP_CONNECT, errno), "connect",
                errno);
    conn_close(r, c);
    return -1;
}

/* Conn mode: starts the slot's next connection, or retires the slot. */
static void slot_next(struct run *r, struct conn *c)
{
    for (;;) {
        uint64_t now = now_ns();

        if (may_issue(r, 1) == 0) {
            r->live--;
            return;
        }
        conn_queue(r, c, 1, now);
        if (conn_open(r, c, now) == 0)
            return;
    }
}

static void conn_flush(struct run *r, struct conn *c)
{
    const struct bench_payload *pl = r->cfg->pl;

    while (c->owed > 0 && c->state == CONN_OPEN) {
        struct iovec iov[SEND_IOV_MAX];
        struct msghdr mh;
        size_t want = 0;
        uint64_t total;
        ssize_t n;
        int niov;

        niov = bench_payload_iov(pl, c->sent_off, c->owed, iov, SEND_IOV_MAX,
                                 SEND_BYTES_MAX);
        for (int i = 0; i < niov; i++)
            want += iov[i].iov_len;
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)niov;
        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* the next EPOLLOUT edge resumes */
            conn_fail(r, c, bench_err_classify(BENCH_OP_SEND, errno), "send",
                      errno);
            return;
        }
        r->st->bytes_sent += (uint64_t)n;
        c->last_progress = now_ns();
        total = c->sent_off + (uint64_t)n;
        c->owed -= total / pl->reqlen;
        c->sent_off = total % pl->reqlen;
        if ((size_t)n < want)
            return;
    }
}

/* One answer is complete at time now. */
static void answer_done(struct run *r, struct conn *c, uint64_t len,
                        uint64_t now)
{
    struct bench_stats *st = r->st;

    if (bench_verify_end(r->cfg->vs, &c->vst) < 0) {
        char msg[256];

        snprintf(msg, sizeof(msg),
                 "wrong answer %llu: %s at byte %llu (length %llu)",
                 (unsigned long long)c->answered, c->vst.why,
                 (unsigned long long)c->vst.fail_off, (unsigned long long)len);
        count_error(r, c, BENCH_ERR_WRONG, msg);
    }
    bench_hist_record(&st->hist, now - c->ts[c->ts_head]);
    c->ts_head = (c->ts_head + 1) % c->ts_cap;
    c->inflight--;
    c->answered++;
    st->answers++;
    st->answer_bytes += len;
    r->t_last = now;
}

/* What take_raw and take_answers report besides 0 (see take_answers). */
enum { TAKE_UNASKED = -1, TAKE_BAD_LENGTH = -2 };

/* Raw mode: every answer is the request echoed, reqlen bytes. */
static int take_raw(struct run *r, struct conn *c, const uint8_t *p, size_t n,
                    uint64_t now)
{
    const struct bench_payload *pl = r->cfg->pl;

    while (n > 0) {
        uint64_t m = pl->reqlen - c->raw_off;

        if (c->inflight == 0)
            return TAKE_UNASKED;
        if (c->raw_off == 0)
            (void)bench_verify_begin(r->cfg->vs, &c->vst, pl->reqlen);
        if (m > n)
            m = n;
        (void)bench_verify_data(r->cfg->vs, &c->vst, p, (size_t)m);
        p += m;
        n -= (size_t)m;
        c->raw_off += m;
        if (c->raw_off == pl->reqlen) {
            c->raw_off = 0;
            answer_done(r, c, pl->len, now);
        }
    }
    return 0;
}

/*
 * Server mode: length-prefixed answers. Returns 0, TAKE_UNASKED on an answer
 * nobody asked for, or TAKE_BAD_LENGTH when an answer announces a length
 * it cannot have: the rest of the stream cannot be trusted then (a server
 * that echoes requests announces 134 MB for a 16-byte uppercase), so the
 * connection ends at once instead of waiting for bytes that never come.
 */
static int take_answers(struct run *r, struct conn *c, const uint8_t *p,
                        size_t n, uint64_t now)
{
    struct resp_event ev;

    do {
        size_t used = resp_next(&c->rp, p, n, &ev);

        p += used;
        n -= used;
        switch (ev.type) {
        case RESP_EV_BEGIN:
            if (c->inflight == 0)
                return TAKE_UNASKED;
            if (bench_verify_begin(r->cfg->vs, &c->vst, ev.len) < 0)
                return TAKE_BAD_LENGTH;
            break;
        case RESP_EV_DATA:
            (void)bench_verify_data(r->cfg->vs, &c->vst, ev.data, ev.data_len);
            break;
        case RESP_EV_END:
            answer_done(r, c, ev.len, now);
            break;
        case RESP_EV_NONE:
            break;
        }
    } while (ev.type != RESP_EV_NONE);
    return 0;
}

/* After answers arrived: refill (pipeline) or recycle the slot (conn). */
static void after_answers(struct run *r, struct conn *c, uint64_t now)
{
    if (r->o->mode != BENCH_CONN) {
        conn_refill(r, c, now);
        return;
    }
    if (c->inflight == 0) {
        conn_close(r, c);
        slot_next(r, c);
    }
}

static bool mid_answer(const struct run *r, const struct conn *c)
{
    return r->o->raw ? c->raw_off != 0 : !resp_at_boundary(&c->rp);
}

static void conn_readable(struct run *r, struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, r->rbuf, READ_MAX, 0);
        uint64_t now = now_ns();
        int bad;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_fail(r, c, bench_err_classify(BENCH_OP_RECEIVE, errno),
                      "receive", errno);
            return;
        }
        if (n == 0) {
            if (c->inflight > 0 || mid_answer(r, c))
                conn_fail(r, c, BENCH_ERR_SHORT,
                          "the server closed the connection", 0);
            else
                conn_fail(r, c, BENCH_ERR_SHORT,
                          "the server closed an idle connection", 0);
            return;
        }
        c->last_progress = now;
        r->st->bytes_received += (uint64_t)n;
        bad = r->o->raw ? take_raw(r, c, r->rbuf, (size_t)n, now)
                        : take_answers(r, c, r->rbuf, (size_t)n, now);
        if (bad == TAKE_BAD_LENGTH) {
            char msg[160];

            snprintf(msg, sizeof(msg),
                     "wrong answer %llu: %s (%lu bytes announced), "
                     "connection dropped",
                     (unsigned long long)c->answered, c->vst.why,
                     (unsigned long)c->vst.len);
            conn_fail(r, c, BENCH_ERR_WRONG, msg, 0);
            return;
        }
        if (bad < 0) {
            conn_fail(r, c, BENCH_ERR_WRONG,
                      "wrong answer: more answers than requests", 0);
            return;
        }
        after_answers(r, c, now);
        if (c->state != CONN_OPEN || (size_t)n < READ_MAX)
            return;
    }
}

static void conn_event(struct run *r, struct conn *c, uint32_t events)
{
    if (c->state == CONN_CONNECTING) {
        socklen_t len = sizeof(int);
        int soerr = 0;

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr != 0) {
            conn_fail(r, c, bench_err_classify(BENCH_OP_CONNECT, soerr),
                      "connect", soerr);
            return;
        }
        conn_connected(r, c, now_ns());
    }
    if (c->state == CONN_OPEN &&
        (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        conn_readable(r, c);
    if (c->state == CONN_OPEN && (events & EPOLLOUT))
        conn_flush(r, c);
}

/* Once a tick: timeouts, the -t deadline, interrupts and progress. */
static void tick(struct run *r, uint64_t now, uint64_t *last_progress,
                 uint64_t *last_answers)
{
    const struct bench_opts *o = r->o;
    uint64_t limit = (uint64_t)(o->timeout * 1e9);

    if (r->cfg->interrupt != NULL && *r->cfg->interrupt != 0) {
        *r->cfg->interrupt = 0;
        if (r->stopping) {
            /* A second interrupt: abandon what is in flight. */
            for (unsigned i = 0; i < r->nconns; i++)
                conn_close(r, &r->conns[i]);
            r->live = 0;
        }
        r->stopping = true;
        r->st->interrupted = true;
    }
    if (r->deadline != 0 && now >= r->deadline)
        r->stopping = true;
    for (unsigned i = 0; i < r->nconns; i++) {
        struct conn *c = &r->conns[i];

        if (c->state == CONN_IDLE)
            continue;
        if (c->state == CONN_OPEN && c->inflight == 0 && r->stopping) {
            conn_refill(r, c, now); /* closes it */
            continue;
        }
        if ((c->state == CONN_CONNECTING || c->inflight > 0) &&
            now - c->last_progress > limit)
            conn_fail(r, c, BENCH_ERR_TIMEOUT,
                      "timed out: no progress within --timeout", 0);
    }
    if (r->cfg->progress && now - r->t0 > 1000000000ull &&
        now - *last_progress >= PROGRESS_NS) {
        double dt = (double)(now - *last_progress) / 1e9;

        bench_report_progress(stderr, o, r->st->answers,
                              (double)(r->st->answers - *last_answers) / dt,
                              bench_stats_errors(r->st),
                              (double)(now - r->t0) / 1e9);
        *last_progress = now;
        *last_answers = r->st->answers;
    }
}

/*
 * Allocates everything first and creates the epoll set last, so that every
 * failure leaves a state run_free can release.
 */
static int run_init(struct run *r, const struct bench_conn_cfg *cfg,
                    struct bench_stats *st)
{
    const struct bench_opts *o = cfg->o;

    memset(r, 0, sizeof(*r));
    r->epfd = -1;
    r->cfg = cfg;
    r->o = o;
    r->st = st;
    r->nconns = o->conns;
    if (r->nconns == 0 || o->pipeline == 0)
        return -EINVAL;
    r->rbuf = malloc(READ_MAX);
    r->conns = calloc(r->nconns, sizeof(*r->conns));
    if (r->rbuf == NULL || r->conns == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < r->nconns; i++) {
        struct conn *c = &r->conns[i];

        c->id = i;
        c->fd = -1;
        c->ts_cap = o->pipeline;
        c->ts = malloc(sizeof(*c->ts) * c->ts_cap);
        if (c->ts == NULL)
            return -ENOMEM;
    }
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0)
        return -errno;
    return 0;
}

static void run_free(struct run *r)
{
    for (unsigned i = 0; r->conns != NULL && i < r->nconns; i++) {
        conn_close(r, &r->conns[i]);
        free(r->conns[i].ts);
    }
    free(r->conns);
    free(r->rbuf);
    if (r->epfd >= 0)
        close(r->epfd);
}

int bench_conn_run(const struct bench_conn_cfg *cfg, struct bench_stats *st)
{
    struct epoll_event evs[256];
    uint64_t last_tick, last_progress, last_answers = 0;
    struct run r;
    int rc;

    memset(st, 0, sizeof(*st));
    bench_hist_init(&st->hist);
    rc = run_init(&r, cfg, st);
    if (rc < 0) {
        run_free(&r);
        return rc;
    }
    r.t0 = now_ns();
    r.t_last = r.t0;
    last_tick = last_progress = r.t0;
    if (cfg->o->duration > 0)
        r.deadline = r.t0 + (uint64_t)(cfg->o->duration * 1e9);
    r.live = r.nconns;
    for (unsigned i = 0; i < r.nconns; i++) {
        struct conn *c = &r.conns[i];

        if (cfg->o->mode == BENCH_CONN)
            slot_next(&r, c);
        else if (conn_open(&r, c, r.t0) < 0)
            r.live--;
    }
    while (r.live > 0) {
        int n = epoll_wait(r.epfd, evs, 256, TICK_MS);
        uint64_t now;

        if (n < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = &r.conns[evs[i].data.u64 & 0xffffffffu];

            if (c->state != CONN_IDLE &&
                c->gen == (uint32_t)(evs[i].data.u64 >> 32))
                conn_event(&r, c, evs[i].events);
        }
        now = now_ns();
        if (n <= 0 || now - last_tick >= TICK_MS * 1000000ull ||
            (r.deadline != 0 && now >= r.deadline && !r.stopping)) {
            tick(&r, now, &last_progress, &last_answers);
            last_tick = now;
        }
    }
    if (cfg->progress && last_progress != r.t0)
        bench_report_progress_clear(stderr);
    st->elapsed = (double)(r.t_last - r.t0) / 1e9;
    run_free(&r);
    return rc;
}
