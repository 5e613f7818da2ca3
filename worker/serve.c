/*
 * One connection's life: read what the client sends into a large buffer,
 * have answer.c answer every complete request of it in one pass, write all
 * answers with one sendmsg(), repeat. Around that loop: backpressure, the
 * output throttle, the timeouts, the fairness rules (rules.c decides,
 * this file measures) and the graceful stop. Every time-based rule gives a
 * deadline; next_deadline() is where they meet.
 *
 * Whether other clients wait is only asked once the connection has been
 * stalled for --keepalive-timeout: then, and only then, the listening
 * socket joins the poll set, and a connection in its queue (a client no
 * worker has accepted) closes this one. A connection that moves bytes
 * never pays for the question.
 */
#include "serve.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "answer.h"
#include "log.h"
#include "rules.h"

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
#define NEVER RULES_NEVER
/* How long a readable listener must stay readable to count as a waiting
 * client: another worker blocked in accept() takes a new connection well
 * within this. */
#define WAITER_CONFIRM_MS 10

struct conn {
    struct serve_ctx *ctx;
    int fd;
    struct serve_peer *peer;
    struct answer ans;
    size_t rpos, rend; /* unanswered bytes are rbuf[rpos..rend) */
    uint64_t bytes_in;
    uint64_t accepted_ms;
    struct rules_conn r;  /* last byte moved, the exchange under way */
    uint64_t last_out_ms; /* last time the socket took output */
    bool eof;
    bool stop_seen;
    bool maybe_readable;
    uint64_t woke_ms; /* when a blocking recv() returned, or 0 */
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

/* The rules' limits from the command line's seconds. */
static struct rules_limits limits_of(const struct serve_opts *o)
{
    return (struct rules_limits){
        .idle_ms = seconds_to_ms(o->idle_timeout),
        .keepalive_ms = seconds_to_ms(o->keepalive_timeout),
        .min_rate = o->min_rate,
    };
}

uint64_t serve_tick_ms(const struct serve_opts *o)
{
    struct rules_limits l = limits_of(o);

    return rules_tick_ms(&l);
}

int serve_ctx_init(struct serve_ctx *ctx, const struct serve_opts *o,
                   const struct serve_stop *stop)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->rbuf = malloc(RBUF_SIZE);
    if (ctx->rbuf == NULL)
        return -ENOMEM;
    ctx->rcap = RBUF_SIZE;
    outq_init(&ctx->out);
    rng_seed(&ctx->rng, o->seed);
    ctx->limits = limits_of(o);
    ctx->listen_fd = o->listen_fd;
    /* The supervisor enforces the timeout itself (SIGKILL, exit 3); the
     * worker's own deadline, a little later, only matters when the
     * supervisor is gone, and must never pre-empt it. */
    ctx->shutdown_timeout_ms = seconds_to_ms(o->shutdown_timeout);
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

/*
 * Whether a stall counts as "others wait" for the keepalive rule even
 * without looking at the listener: during a stop it does (a stop never
 * waits on a stalled client longer than --keepalive-timeout), except for a
 * connection still in its first-byte grace.
 */
static bool stop_presses(const struct conn *c, uint64_t now)
{
    return c->stop_seen && !in_first_byte_grace(c, now);
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
    uint64_t at = rules_next(&c->ctx->limits, &c->r, stop_presses(c, now), now);

    at = earlier(at, shutdown_deadline(c));

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
        /* Not a fairness rule: the supervisor is about to force the stop. */
        log_warnx("client %s: shutdown timeout, dropping the connection",
                  serve_peer_name(c->peer));
        return true;
    }
    return false;
}

/* A connection that broke: the client's doing, or the worker's. */
static enum close_reason broken(int err)
{
    return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT ? CLOSE_CLIENT
                                                                 : CLOSE_ERROR;
}

/* Answers the buffered requests. */
static enum close_reason answer_buffered(struct conn *c)
{
    long n = answer_feed(&c->ans, c->ctx->rbuf + c->rpos, c->rend - c->rpos);

    if (n < 0) {
        log_warnx("client %s: cannot answer: %s", serve_peer_name(c->peer),
                  strerror((int)-n));
        return CLOSE_ERROR;
    }
    c->rpos += (size_t)n;
    return CLOSE_NONE;
}

/* Counts bytes moved: the first byte after a quiet spell starts an
 * exchange, whose bytes the minimum-rate rule weighs. */
static void moved(struct conn *c, uint64_t n, uint64_t now)
{
    if (!c->r.in_exchange) {
        c->r.in_exchange = true;
        c->r.exch_start_ms = now;
        c->r.exch_bytes = 0;
    }
    c->r.exch_bytes += n;
    c->r.last_io_ms = now;
}

/*
 * What one recv() returned: 1 when data or the end of the stream arrived,
 * 0 when nothing did (would block, interrupted), -errno to close.
 */
static int took(struct conn *c, ssize_t n, uint64_t now)
{
    if (n > 0) {
        c->rpos = 0;
        c->rend = (size_t)n;
        c->bytes_in += (uint64_t)n;
        wstats_add(&c->ctx->stats->received_bytes, (uint64_t)n);
        moved(c, (uint64_t)n, now);
        c->maybe_readable = (size_t)n == c->ctx->rcap;
        return 1;
    }
    if (n == 0) {
        c->eof = true;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        c->maybe_readable = false;
        return 0;
    }
    /* A reset between requests is how balancers end health checks (HAProxy
     * closes its check connections with a reset): not worth more than debug. */
    if (errno == ECONNRESET && conn_idle(c))
        log_debug("client %s: reset between requests",
                  serve_peer_name(c->peer));
    else
        log_info("client %s: receive failed: %s", serve_peer_name(c->peer),
                 strerror(errno));
    return -errno;
}

/* One read of what is there already. */
static int read_some(struct conn *c, uint64_t now)
{
    ssize_t n;

    do {
        n = recv(c->fd, c->ctx->rbuf, c->ctx->rcap, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return took(c, n, now);
}

/* Whether the owner gave the means to wait inside recv(): a stop handler
 * that can wake it and a tick that bounds it (tick.h). */
static bool blocking_waits(const struct serve_ctx *ctx)
{
    return ctx->stop.conn_slot != NULL && ctx->stop.tick_ms > 0;
}

/*
 * Whether the next bytes can be awaited inside recv(), the way an echo
 * server waits: the means for it, nothing to send (poll() would also watch
 * for output), no stop under way, no rule due within the longest such
 * wait, and no question of waiting clients (the listener needs poll()).
 */
static bool can_block(const struct conn *c, uint64_t now)
{
    const struct serve_ctx *ctx = c->ctx;
    uint64_t longest = RULES_TICKS_PER_WAIT * ctx->stop.tick_ms;

    return blocking_waits(ctx) && !c->stop_seen && outq_bytes(&ctx->out) == 0 &&
           (ctx->listen_fd < 0 ||
            !rules_watch_waiters(&ctx->limits, &c->r, now)) &&
           next_deadline(c, now) >= now + longest;
}

/*
 * One read that waits for data until a signal: the tick's or a stop's.
 * The socket goes into the stop slot before the flag is checked, so a stop
 * signal from then on either interrupts the recv() or makes it return at
 * once (stop.h).
 */
static int read_blocking(struct conn *c)
{
    struct serve_ctx *ctx = c->ctx;
    ssize_t n;

    *ctx->stop.conn_slot = c->fd;
    if (*ctx->stop.requested != 0) {
        *ctx->stop.conn_slot = -1;
        return 0;
    }
    n = recv(c->fd, ctx->rbuf, ctx->rcap, 0);
    *ctx->stop.conn_slot = -1;
    /* The next step starts microseconds from now: it uses this reading. */
    c->woke_ms = serve_now_ms();
    return took(c, n, c->woke_ms);
}

/* Writes what the socket takes, then frees the read buffer for reuse by
 * copying what still points into it. */
static enum close_reason write_some(struct conn *c, uint64_t now)
{
    struct outq *out = &c->ctx->out;

    if (outq_bytes(out) > 0) {
        long w = outq_flush(out, c->fd);
        if (w < 0) {
            log_info("client %s: send failed: %s", serve_peer_name(c->peer),
                     strerror((int)-w));
            return broken((int)-w);
        }
        if (w > 0) {
            wstats_add(&c->ctx->stats->sent_bytes, (uint64_t)w);
            moved(c, (uint64_t)w, now);
            c->last_out_ms = now;
        }
    }
    if (outq_settle(out) < 0) {
        log_warnx("client %s: out of memory", serve_peer_name(c->peer));
        return CLOSE_ERROR;
    }
    if (c->rpos == c->rend)
        c->rpos = c->rend = 0;
    /* Nothing partly received, nothing left to send: the exchange is over. */
    if (c->r.in_exchange && conn_idle(c))
        c->r.in_exchange = false;
    return CLOSE_NONE;
}

/*
 * The listener was readable: a connection waits that no worker has taken.
 * Another worker blocked in accept() may be taking it at this very moment,
 * so look again a little later (waking early on a stop).
 */
static bool others_wait(const struct conn *c)
{
    struct pollfd p = {.fd = c->ctx->stop.fd, .events = POLLIN, .revents = 0};
    uint64_t until = serve_now_ms() + WAITER_CONFIRM_MS, now;

    /* The tick (tick.h) may cut the wait short: wait out the rest. */
    while ((now = serve_now_ms()) < until &&
           poll(&p, 1, (int)(until - now)) < 0 && errno == EINTR)
        continue;
    p = (struct pollfd){.fd = c->ctx->listen_fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

/* Logs, at info level, a close by one of the rules of rules.h. */
static void log_rule_close(const struct conn *c, enum close_reason why,
                           uint64_t now)
{
    const struct rules_limits *l = &c->ctx->limits;
    double quiet = (double)(now - c->r.last_io_ms) / MS_PER_S;

    if (why == CLOSE_KEEPALIVE)
        log_info("client %s: keepalive rule: no byte for %.1f s %s while %s "
                 "(--keepalive-timeout %.1f), closing",
                 serve_peer_name(c->peer), quiet,
                 c->r.in_exchange ? "in the middle of an exchange"
                                  : "at a request boundary",
                 c->stop_seen ? "the server stops" : "other clients wait",
                 (double)l->keepalive_ms / MS_PER_S);
    else if (why == CLOSE_SLOW)
        log_info("client %s: min-rate rule: %llu bytes moved in %.1f s, "
                 "under --min-rate %llu bytes/s after a %d s grace, closing",
                 serve_peer_name(c->peer), (unsigned long long)c->r.exch_bytes,
                 (double)(now - c->r.exch_start_ms) / MS_PER_S,
                 (unsigned long long)l->min_rate,
                 RULES_MIN_RATE_GRACE_MS / MS_PER_S);
    else
        log_info("client %s: idle for %.1f s, disconnecting "
                 "(--idle-timeout)",
                 serve_peer_name(c->peer), quiet);
}

/* Waits for the socket, the stop pipe, a waiting client or a deadline. */
static enum close_reason wait_io(struct conn *c, bool want_read, uint64_t now)
{
    struct serve_ctx *ctx = c->ctx;
    struct pollfd pfd[3];
    nfds_t nfds = 1, lfd = 0;
    enum close_reason why;
    bool waiting;

    pfd[0] = (struct pollfd){.fd = c->fd};
    pfd[0].events = (short)((want_read ? POLLIN : 0) |
                            (outq_bytes(&ctx->out) > 0 ? POLLOUT : 0));
    /* Once a stop was seen, the listener may be the stop pipe (stop.c). */
    if (!c->stop_seen) {
        pfd[nfds++] = (struct pollfd){.fd = ctx->stop.fd, .events = POLLIN};
        if (ctx->listen_fd >= 0 &&
            rules_watch_waiters(&ctx->limits, &c->r, now)) {
            lfd = nfds;
            pfd[nfds++] =
                (struct pollfd){.fd = ctx->listen_fd, .events = POLLIN};
        }
    }
    if (poll(pfd, nfds, poll_timeout(c, now)) < 0) {
        if (errno == EINTR)
            return CLOSE_NONE;
        log_warn("poll");
        return CLOSE_ERROR;
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
        c->maybe_readable = true;
    now = serve_now_ms();
    waiting = stop_presses(c, now) ||
              (lfd != 0 && (pfd[lfd].revents & POLLIN) && others_wait(c));
    why = rules_due(&ctx->limits, &c->r, waiting, now);
    if (why != CLOSE_NONE)
        log_rule_close(c, why, now);
    return why;
}

/* One turn of the connection loop: CLOSE_NONE to go on, else why it ends. */
static enum close_reason step(struct conn *c)
{
    uint64_t now = c->woke_ms != 0 ? c->woke_ms : serve_now_ms();
    enum close_reason why;
    bool want_read, drain_only;
    int r;

    c->woke_ms = 0;
    why = answer_buffered(c);
    if (why == CLOSE_NONE)
        why = write_some(c, now);
    if (why != CLOSE_NONE)
        return why;
    if (c->eof && c->rend == 0) {
        if (!answer_at_boundary(&c->ans)) {
            log_info("client %s: closed in the middle of a request",
                     serve_peer_name(c->peer));
            return CLOSE_CLIENT;
        }
        if (outq_bytes(&c->ctx->out) == 0)
            return CLOSE_CLIENT;
    }
    if (check_stop(c, now))
        return CLOSE_SHUTDOWN;
    /* Requests held back by backpressure can go on once output drained. */
    if (c->rend != 0 && !answer_backpressured(&c->ans))
        return CLOSE_NONE;

    /* Stopping and nothing in flight: answer only what already arrived. */
    drain_only = c->stop_seen && conn_idle(c) && !in_first_byte_grace(c, now);
    want_read = !c->eof && c->rend == 0 && !answer_backpressured(&c->ans) &&
                !throttled(c, now);
    if (want_read && (c->maybe_readable || drain_only)) {
        r = read_some(c, now);
        if (r < 0)
            return broken(-r);
        if (r > 0)
            return CLOSE_NONE;
        if (drain_only)
            return CLOSE_SHUTDOWN;
    }
    if (want_read && can_block(c, now)) {
        r = read_blocking(c);
        return r < 0 ? broken(-r) : CLOSE_NONE;
    }
    return wait_io(c, want_read, now);
}

const char *serve_peer_name(struct serve_peer *p)
{
    if (!p->named) {
        if (p->addr == NULL ||
            net_format_addr(p->addr, p->len, p->name, sizeof(p->name)) < 0)
            snprintf(p->name, sizeof(p->name), "unknown");
        p->named = true;
    }
    return p->name;
}

enum close_reason serve_conn(struct serve_ctx *ctx, int fd,
                             struct serve_peer *peer)
{
    struct conn c;
    enum close_reason why;

    memset(&c, 0, sizeof(c));
    c.ctx = ctx;
    c.fd = fd;
    c.peer = peer;
    /* With a blocking wait, the first recv() may as well be that one. */
    c.maybe_readable = !blocking_waits(ctx);
    c.accepted_ms = c.r.last_io_ms = serve_now_ms();
    answer_init(&c.ans, &ctx->out, &ctx->rng);
    c.ans.stats = ctx->stats;

    do {
        why = step(&c);
    } while (why == CLOSE_NONE);

    log_debug("client %s: closed after %llu requests (%s)",
              serve_peer_name(peer), (unsigned long long)c.ans.requests,
              rules_reason_name(why));
    outq_clear(&ctx->out);
    answer_close(&c.ans);
    return why;
}
