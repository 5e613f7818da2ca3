/*
 * One connection's life: read what the client sends into a large buffer,
 * have answer.c answer every complete request of it in one pass, write all
 * answers with one sendmsg(), repeat. Around that loop: backpressure, the
 * output throttle, the timeouts and the graceful stop. Every time-based rule
 * gives a deadline; next_deadline() is where they meet.
 */
#include "serve.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "answer.h"
#include "log.h"

#define MS_PER_S  1000
#define NS_PER_MS 1000000

#define RBUF_SIZE ((size_t)256 * 1024)
/* A connection with no byte yet when the stop came gets this much from
 * its accept to send its first request (DESIGN.md section 4). */
#define FIRST_BYTE_GRACE_MS 1000
/* Output that moved this recently means the client is reading. */
#define OUTPUT_STALL_MS 100
/* How much later than the supervisor the worker gives up a stuck exchange. */
#define SHUTDOWN_BACKSTOP_MS 1000
/* The longest single poll(): a farther deadline is reached in several
 * waits, and the timeout always fits poll()'s int. */
#define POLL_WAIT_MAX_MS 600000
/* A deadline that never comes. */
#define NEVER UINT64_MAX

struct conn {
    struct serve_ctx *ctx;
    int fd;
    const char *peer;
    struct answer ans;
    size_t rpos, rend; /* unanswered bytes are rbuf[rpos..rend) */
    uint64_t bytes_in;
    uint64_t accepted_ms, last_io_ms;
    uint64_t last_out_ms; /* last time the socket took output */
    bool eof;
    bool stop_seen;
    bool maybe_readable;
    enum serve_close why; /* reported when the loop ends */
};

uint64_t serve_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * MS_PER_S + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

static uint64_t seconds_to_ms(double s)
{
    return s <= 0 ? 0 : (uint64_t)(s * MS_PER_S + 0.5);
}

int serve_ctx_init(struct serve_ctx *ctx, uint64_t seed, double idle_timeout,
                   double shutdown_timeout, const struct serve_stop *stop)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->rbuf = malloc(RBUF_SIZE);
    if (ctx->rbuf == NULL)
        return -ENOMEM;
    ctx->rcap = RBUF_SIZE;
    outq_init(&ctx->out);
    rng_seed(&ctx->rng, seed);
    ctx->idle_timeout_ms = seconds_to_ms(idle_timeout);
    /* The supervisor enforces the timeout itself (SIGKILL, exit 3); the
     * worker's own deadline, a little later, only matters when the
     * supervisor is gone, and must never pre-empt it. */
    ctx->shutdown_timeout_ms = seconds_to_ms(shutdown_timeout);
    if (ctx->shutdown_timeout_ms > 0)
        ctx->shutdown_timeout_ms += SHUTDOWN_BACKSTOP_MS;
    ctx->stop = *stop;
    ctx->stats = &ctx->own_stats;
    return 0;
}

void serve_ctx_close(struct serve_ctx *ctx)
{
    outq_reset(&ctx->out);
    free(ctx->rbuf);
    ctx->rbuf = NULL;
}

static bool conn_idle(const struct conn *c)
{
    return c->rend == 0 && answer_at_boundary(&c->ans) &&
           outq_bytes(&c->ctx->out) == 0;
}

/* During a stop, a connection that has sent nothing yet may still start
 * its first request until one second after it was accepted. */
static bool in_first_byte_grace(const struct conn *c, uint64_t now)
{
    return c->bytes_in == 0 && now < c->accepted_ms + FIRST_BYTE_GRACE_MS;
}

/*
 * Inside a request the worker keeps reading while answers queue up, so a
 * client that sends a whole request before reading anything cannot
 * deadlock against it. While the client does read (output moved in the
 * last OUTPUT_STALL_MS), reading more would only grow the queue: the worker
 * waits for the output instead, and a streamed answer then costs the queue
 * no more than ANSWER_HIGH_WATER however long the message.
 */
static bool throttled(const struct conn *c, uint64_t now)
{
    return !answer_at_boundary(&c->ans) &&
           outq_bytes(&c->ctx->out) >= ANSWER_HIGH_WATER &&
           now < c->last_out_ms + OUTPUT_STALL_MS;
}

/* --idle-timeout: no byte in either direction for that long closes. */
static uint64_t idle_deadline(const struct conn *c)
{
    if (c->ctx->idle_timeout_ms == 0)
        return NEVER;
    return c->last_io_ms + c->ctx->idle_timeout_ms;
}

/* --shutdown-timeout: once a stop was seen, the exchange ends by then. */
static uint64_t shutdown_deadline(const struct conn *c)
{
    const struct serve_ctx *ctx = c->ctx;

    if (!c->stop_seen || ctx->shutdown_timeout_ms == 0)
        return NEVER;
    return ctx->stop_at_ms + ctx->shutdown_timeout_ms;
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/*
 * The nearest time at which a rule may change what the loop does, or NEVER.
 * Rules that close the connection (idle, shutdown) are checked again once
 * they are due; the others only wake the loop to look again.
 */
static uint64_t next_deadline(const struct conn *c, uint64_t now)
{
    uint64_t at = earlier(idle_deadline(c), shutdown_deadline(c));

    if (throttled(c, now))
        at = earlier(at, c->last_out_ms + OUTPUT_STALL_MS);
    if (c->stop_seen && in_first_byte_grace(c, now))
        at = earlier(at, c->accepted_ms + FIRST_BYTE_GRACE_MS);
    return at;
}

/* Milliseconds until the nearest deadline, or -1 for none. */
static int poll_timeout(const struct conn *c, uint64_t now)
{
    uint64_t at = next_deadline(c, now);

    if (at == NEVER)
        return -1;
    if (at <= now)
        return 0;
    return at - now > POLL_WAIT_MAX_MS ? POLL_WAIT_MAX_MS : (int)(at - now);
}

/* Notes a stop request; true when the connection must end right now. */
static bool check_stop(struct conn *c, uint64_t now)
{
    struct serve_ctx *ctx = c->ctx;

    if (!c->stop_seen && *ctx->stop.requested != 0) {
        c->stop_seen = true;
        if (ctx->stop_at_ms == 0)
            ctx->stop_at_ms = now;
    }
    if (now >= shutdown_deadline(c)) {
        log_warnx("client %s: shutdown timeout, dropping the connection",
                  c->peer);
        c->why = SERVE_CLOSE_SHUTDOWN;
        return true;
    }
    return false;
}

/* Answers the buffered requests. 0, or -1 to close. */
static int answer_buffered(struct conn *c)
{
    long n = answer_feed(&c->ans, c->ctx->rbuf + c->rpos, c->rend - c->rpos);

    if (n < 0) {
        log_warnx("client %s: cannot answer: %s", c->peer, strerror((int)-n));
        return -1;
    }
    c->rpos += (size_t)n;
    return 0;
}

/* One read; 1 when data arrived, 0 when nothing is there, -1 to close. */
static int read_some(struct conn *c, uint64_t now)
{
    ssize_t n;

    do {
        n = recv(c->fd, c->ctx->rbuf, c->ctx->rcap, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->rpos = 0;
        c->rend = (size_t)n;
        c->bytes_in += (uint64_t)n;
        wstats_add(&c->ctx->stats->received_bytes, (uint64_t)n);
        c->last_io_ms = now;
        c->maybe_readable = (size_t)n == c->ctx->rcap;
        return 1;
    }
    if (n == 0) {
        c->eof = true;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->maybe_readable = false;
        return 0;
    }
    /* A reset between requests is how balancers end health checks (HAProxy
     * closes its check connections with a reset): not worth more than debug. */
    if (errno == ECONNRESET && conn_idle(c))
        log_debug("client %s: reset between requests", c->peer);
    else
        log_info("client %s: receive failed: %s", c->peer, strerror(errno));
    return -1;
}

/* Writes what the socket takes, then frees the read buffer for reuse by
 * copying what still points into it. 0, or -1 to close. */
static int write_some(struct conn *c, uint64_t now)
{
    struct outq *out = &c->ctx->out;

    if (outq_bytes(out) > 0) {
        long w = outq_flush(out, c->fd);
        if (w < 0) {
            log_info("client %s: send failed: %s", c->peer, strerror((int)-w));
            return -1;
        }
        if (w > 0)
            c->last_io_ms = c->last_out_ms = now;
        wstats_add(&c->ctx->stats->sent_bytes, (uint64_t)w);
    }
    if (outq_settle(out) < 0) {
        log_warnx("client %s: out of memory", c->peer);
        return -1;
    }
    if (c->rpos == c->rend)
        c->rpos = c->rend = 0;
    return 0;
}

/* Waits for the socket, the stop pipe or a deadline. -1 to close. */
static int wait_io(struct conn *c, bool want_read, uint64_t now)
{
    struct pollfd pfd[2];
    nfds_t nfds = 1;
    int r;

    pfd[0].fd = c->fd;
    pfd[0].events = (short)((want_read ? POLLIN : 0) |
                            (outq_bytes(&c->ctx->out) > 0 ? POLLOUT : 0));
    pfd[0].revents = 0;
    if (!c->stop_seen) {
        pfd[1].fd = c->ctx->stop.fd;
        pfd[1].events = POLLIN;
        pfd[1].revents = 0;
        nfds = 2;
    }
    r = poll(pfd, nfds, poll_timeout(c, now));
    if (r < 0) {
        if (errno == EINTR)
            return 0;
        log_warn("poll");
        return -1;
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
        c->maybe_readable = true;
    if (serve_now_ms() >= idle_deadline(c)) {
        log_info("client %s: idle for %.1f s, disconnecting", c->peer,
                 (double)c->ctx->idle_timeout_ms / MS_PER_S);
        c->why = SERVE_CLOSE_IDLE;
        return -1;
    }
    return 0;
}

/* One turn of the connection loop. 0 to go on, -1 to close. */
static int step(struct conn *c)
{
    uint64_t now = serve_now_ms();
    bool want_read, drain_only;
    int r;

    if (answer_buffered(c) < 0 || write_some(c, now) < 0)
        return -1;
    if (c->eof && c->rend == 0) {
        if (!answer_at_boundary(&c->ans))
            log_info("client %s: closed in the middle of a request", c->peer);
        if (!answer_at_boundary(&c->ans) || outq_bytes(&c->ctx->out) == 0) {
            c->why = SERVE_CLOSE_CLIENT;
            return -1;
        }
    }
    if (check_stop(c, now))
        return -1;
    /* Requests held back by backpressure can go on once output drained. */
    if (c->rend != 0 && !answer_backpressured(&c->ans))
        return 0;

    /* Stopping and nothing in flight: answer only what already arrived. */
    drain_only = c->stop_seen && conn_idle(c) && !in_first_byte_grace(c, now);
    want_read = !c->eof && c->rend == 0 && !answer_backpressured(&c->ans) &&
                !throttled(c, now);
    if (want_read && (c->maybe_readable || drain_only)) {
        r = read_some(c, now);
        if (r != 0)
            return r < 0 ? -1 : 0;
        if (drain_only) {
            c->why = SERVE_CLOSE_SHUTDOWN;
            return -1;
        }
    }
    return wait_io(c, want_read, now);
}

enum serve_close serve_conn(struct serve_ctx *ctx, int fd, const char *peer)
{
    struct conn c;

    memset(&c, 0, sizeof(c));
    c.ctx = ctx;
    c.fd = fd;
    c.peer = peer;
    c.maybe_readable = true;
    c.why = SERVE_CLOSE_ERROR;
    c.accepted_ms = c.last_io_ms = serve_now_ms();
    answer_init(&c.ans, &ctx->out, &ctx->rng);
    c.ans.stats = ctx->stats;

    while (step(&c) == 0)
        ;

    log_debug("client %s: closed after %llu requests", peer,
              (unsigned long long)c.ans.requests);
    outq_reset(&ctx->out);
    answer_close(&c.ans);
    return c.why;
}
