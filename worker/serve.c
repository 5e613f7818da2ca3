/*
 * One connection's life: read what the client sends into a large buffer,
 * answer every complete request of it in one pass, write all answers with
 * one sendmsg(), repeat. Answers are built in place in the read buffer
 * wherever possible (uppercase and lowercase always, reverse and shuffle
 * when a whole request arrived in one read), so the common path copies
 * nothing and allocates nothing.
 */
#include "serve.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "proto.h"
#include "xform.h"

#define RBUF_SIZE ((size_t)256 * 1024)
/* Above this much queued output, no new request is started. */
#define HIGH_WATER ((size_t)1024 * 1024)
/* Larger bodies are handed to the output queue instead of copied. */
#define COPY_MAX ((size_t)16 * 1024)
/* Collect buffers larger than this are not kept between requests. */
#define BODY_KEEP_MAX ((size_t)1024 * 1024)
/* A connection with no byte yet when the stop came gets this much from
 * its accept to send its first request (DESIGN.md section 4). */
#define FIRST_BYTE_GRACE_MS 1000
/* Output that moved this recently means the client is reading. */
#define OUTPUT_STALL_MS 100
/* How much later than the supervisor the worker gives up a stuck exchange. */
#define SHUTDOWN_BACKSTOP_MS 1000

enum mode {
    MODE_STREAM,  /* uppercase, lowercase: answered chunk by chunk */
    MODE_COLLECT, /* reverse, shuffle, random: need the whole message */
    MODE_DISCARD, /* unknown action: data skipped, answered "error" */
};

struct conn {
    struct serve_ctx *ctx;
    int fd;
    const char *peer;
    struct proto_parser parser;
    size_t rpos, rend; /* unprocessed bytes are rbuf[rpos..rend) */
    enum mode mode;
    unsigned action;
    uint32_t len;
    uint8_t *hdr_at;  /* the request header in rbuf, or NULL */
    uint8_t *inplace; /* the whole body in rbuf, or NULL */
    uint8_t *body;    /* collect buffer when the body spans reads */
    size_t body_len, body_cap;
    uint64_t bytes_in, requests;
    uint64_t accepted_ms, last_io_ms;
    uint64_t last_out_ms; /* last time the socket took output */
    bool eof;
    bool stop_seen;
    bool maybe_readable;
};

static const uint8_t error_response[PROTO_HEADER_LEN + PROTO_ERROR_LEN] = {
    0, 0, 0, PROTO_ERROR_LEN, 'e', 'r', 'r', 'o', 'r'};

uint64_t serve_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t seconds_to_ms(double s)
{
    return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5);
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
    return 0;
}

void serve_ctx_close(struct serve_ctx *ctx)
{
    outq_reset(&ctx->out);
    free(ctx->rbuf);
    ctx->rbuf = NULL;
}

/* Queues a response header, rewriting the request's header in place when
 * it is still in the read buffer. */
static int emit_header(struct conn *c, uint32_t len)
{
    uint8_t h[PROTO_HEADER_LEN];

    if (c->hdr_at != NULL) {
        proto_put_u32(c->hdr_at, len);
        return outq_add_ref(&c->ctx->out, c->hdr_at, PROTO_HEADER_LEN);
    }
    proto_put_u32(h, len);
    return outq_add_copy(&c->ctx->out, h, sizeof(h));
}

static int on_begin(struct conn *c, const struct proto_event *ev, uint8_t *hdr)
{
    c->action = ev->action;
    c->len = ev->len;
    c->hdr_at = hdr;
    c->inplace = NULL;
    c->body_len = 0;
    c->requests++;
    switch (ev->action) {
    case PROTO_UPPERCASE:
    case PROTO_LOWERCASE:
        c->mode = MODE_STREAM;
        return emit_header(c, ev->len);
    case PROTO_REVERSE:
    case PROTO_SHUFFLE:
    case PROTO_RANDOM:
        c->mode = MODE_COLLECT;
        return 0;
    default:
        c->mode = MODE_DISCARD;
        return 0;
    }
}

/* Appends to the collect buffer, which grows with what actually arrived,
 * never with what the header announced. */
static int collect(struct conn *c, const uint8_t *p, size_t n)
{
    size_t need = c->body_len + n;

    if (need > c->body_cap) {
        size_t ncap = c->body_cap < 4096 ? 4096 : c->body_cap * 2;
        uint8_t *b;

        if (ncap < need)
            ncap = need;
        if (ncap > c->len)
            ncap = c->len;
        b = realloc(c->body, ncap);
        if (b == NULL)
            return -ENOMEM;
        c->body = b;
        c->body_cap = ncap;
    }
    memcpy(c->body + c->body_len, p, n);
    c->body_len = need;
    return 0;
}

static int on_data(struct conn *c, uint8_t *p, size_t n)
{
    switch (c->mode) {
    case MODE_STREAM:
        if (c->action == PROTO_UPPERCASE)
            xform_upper(p, n);
        else
            xform_lower(p, n);
        return outq_add_ref(&c->ctx->out, p, n);
    case MODE_COLLECT:
        if (c->body_len == 0 && n == c->len) {
            c->inplace = p;
            return 0;
        }
        return collect(c, p, n);
    case MODE_DISCARD:
        return 0;
    }
    return 0;
}

/* Queues a body the connection owns: copied when small, handed over when
 * large (the caller must not free it then). */
static int emit_owned(struct conn *c, uint8_t *mem, size_t n, bool *taken)
{
    *taken = false;
    if (n <= COPY_MAX)
        return outq_add_copy(&c->ctx->out, mem, n);
    *taken = true;
    return outq_add_owned(&c->ctx->out, mem, n);
}

static int answer_random(struct conn *c, uint8_t *data)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool taken;
    int r;

    r = xform_random(data, c->len, &c->ctx->rng, &out, &out_len);
    if (r < 0)
        return r;
    r = emit_header(c, (uint32_t)out_len);
    if (r == 0)
        r = emit_owned(c, out, out_len, &taken);
    else
        taken = false;
    if (!taken)
        free(out);
    return r;
}

static int answer_collected(struct conn *c)
{
    uint8_t *data = c->inplace != NULL ? c->inplace : c->body;
    bool taken;
    int r;

    if (c->action == PROTO_RANDOM)
        return answer_random(c, data);
    if (c->action == PROTO_REVERSE) {
        xform_reverse(data, c->len);
    } else {
        r = xform_shuffle(data, c->len, &c->ctx->rng);
        if (r < 0)
            return r;
    }
    r = emit_header(c, c->len);
    if (r < 0 || c->len == 0)
        return r;
    if (c->inplace != NULL)
        return outq_add_ref(&c->ctx->out, c->inplace, c->len);
    r = emit_owned(c, c->body, c->len, &taken);
    if (taken) {
        c->body = NULL;
        c->body_cap = 0;
    }
    return r;
}

static int on_end(struct conn *c)
{
    int r = 0;

    if (c->mode == MODE_DISCARD)
        r = outq_add_copy(&c->ctx->out, error_response, sizeof(error_response));
    else if (c->mode == MODE_COLLECT)
        r = answer_collected(c);
    if (c->body_cap > BODY_KEEP_MAX) {
        free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    c->body_len = 0;
    c->inplace = NULL;
    c->hdr_at = NULL;
    return r;
}

static bool backpressured(const struct conn *c)
{
    return proto_at_boundary(&c->parser) &&
           outq_bytes(&c->ctx->out) >= HIGH_WATER;
}

/* Answers the buffered requests, stopping early only at a request boundary
 * when too much output is queued. 0 or -errno. */
static int process(struct conn *c)
{
    uint8_t *buf = c->ctx->rbuf;

    for (;;) {
        struct proto_event ev;
        uint8_t *at;
        int r = 0;

        if (backpressured(c))
            return 0;
        c->rpos +=
            proto_next(&c->parser, buf + c->rpos, c->rend - c->rpos, &ev);
        at = buf + c->rpos;
        switch (ev.type) {
        case PROTO_EV_NONE:
            return 0;
        case PROTO_EV_BEGIN:
            r = on_begin(c, &ev,
                         ev.header_in_buf ? at - PROTO_HEADER_LEN : NULL);
            break;
        case PROTO_EV_DATA:
            /* The data lies in our own, writable, read buffer. */
            r = on_data(c, buf + (ev.data - (const uint8_t *)buf), ev.data_len);
            break;
        case PROTO_EV_END:
            r = on_end(c);
            break;
        }
        if (r < 0)
            return r;
    }
}

static bool conn_idle(const struct conn *c)
{
    return c->rend == 0 && proto_at_boundary(&c->parser) &&
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
 * no more than HIGH_WATER however long the message.
 */
static bool throttled(const struct conn *c, uint64_t now)
{
    return !proto_at_boundary(&c->parser) &&
           outq_bytes(&c->ctx->out) >= HIGH_WATER &&
           now < c->last_out_ms + OUTPUT_STALL_MS;
}

/* Milliseconds until the nearest deadline, or -1 for none. */
static int poll_timeout(const struct conn *c, uint64_t now)
{
    const struct serve_ctx *ctx = c->ctx;
    uint64_t deadline = UINT64_MAX;

    if (ctx->idle_timeout_ms > 0)
        deadline = c->last_io_ms + ctx->idle_timeout_ms;
    if (throttled(c, now) && c->last_out_ms + OUTPUT_STALL_MS < deadline)
        deadline = c->last_out_ms + OUTPUT_STALL_MS;
    if (c->stop_seen) {
        if (in_first_byte_grace(c, now) &&
            c->accepted_ms + FIRST_BYTE_GRACE_MS < deadline)
            deadline = c->accepted_ms + FIRST_BYTE_GRACE_MS;
        if (ctx->shutdown_timeout_ms > 0 &&
            ctx->stop_at_ms + ctx->shutdown_timeout_ms < deadline)
            deadline = ctx->stop_at_ms + ctx->shutdown_timeout_ms;
    }
    if (deadline == UINT64_MAX)
        return -1;
    if (deadline <= now)
        return 0;
    return deadline - now > 600000 ? 600000 : (int)(deadline - now);
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
    if (!c->stop_seen)
        return false;
    if (ctx->shutdown_timeout_ms > 0 &&
        now >= ctx->stop_at_ms + ctx->shutdown_timeout_ms) {
        log_warnx("client %s: shutdown timeout, dropping the connection",
                  c->peer);
        return true;
    }
    return false;
}

/* One read; 1 when data arrived, 0 when nothing is there, -1 to close. */
static int read_some(struct conn *c, uint64_t now)
{
    ssize_t n;

    /* The read overwrites the buffer: a request header kept there for an
     * in-place answer is gone. */
    c->hdr_at = NULL;
    do {
        n = recv(c->fd, c->ctx->rbuf, c->ctx->rcap, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->rpos = 0;
        c->rend = (size_t)n;
        c->bytes_in += (uint64_t)n;
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
    log_info("client %s: receive failed: %s", c->peer, strerror(errno));
    return -1;
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
    now = serve_now_ms();
    if (c->ctx->idle_timeout_ms > 0 &&
        now >= c->last_io_ms + c->ctx->idle_timeout_ms) {
        log_info("client %s: idle for %.1f s, disconnecting", c->peer,
                 (double)c->ctx->idle_timeout_ms / 1000.0);
        return -1;
    }
    return 0;
}

/* One turn of the connection loop. 0 to go on, -1 to close. */
static int step(struct conn *c)
{
    struct serve_ctx *ctx = c->ctx;
    uint64_t now = serve_now_ms();
    bool want_read, drain_only;
    int r;

    r = process(c);
    if (r < 0) {
        log_warnx("client %s: cannot answer: %s", c->peer, strerror(-r));
        return -1;
    }
    if (outq_bytes(&ctx->out) > 0) {
        long w = outq_flush(&ctx->out, c->fd);
        if (w < 0) {
            log_info("client %s: send failed: %s", c->peer, strerror((int)-w));
            return -1;
        }
        if (w > 0)
            c->last_io_ms = c->last_out_ms = now;
    }
    /* The read buffer is about to be reused: copy what still points in. */
    if (outq_settle(&ctx->out) < 0) {
        log_warnx("client %s: out of memory", c->peer);
        return -1;
    }
    if (c->rpos == c->rend)
        c->rpos = c->rend = 0;

    if (c->eof && c->rend == 0) {
        if (!proto_at_boundary(&c->parser)) {
            log_info("client %s: closed in the middle of a request", c->peer);
            return -1;
        }
        if (outq_bytes(&ctx->out) == 0)
            return -1;
    }
    if (check_stop(c, now))
        return -1;
    /* Requests held back by backpressure can go on once output drained. */
    if (c->rend != 0 && !backpressured(c))
        return 0;

    /* Stopping and nothing in flight: answer only what already arrived. */
    drain_only = c->stop_seen && conn_idle(c) && !in_first_byte_grace(c, now);
    want_read =
        !c->eof && c->rend == 0 && !backpressured(c) && !throttled(c, now);
    if (want_read && (c->maybe_readable || drain_only)) {
        r = read_some(c, now);
        if (r != 0)
            return r < 0 ? -1 : 0;
        if (drain_only)
            return -1;
    }
    return wait_io(c, want_read, now);
}

void serve_conn(struct serve_ctx *ctx, int fd, const char *peer)
{
    struct conn c;

    memset(&c, 0, sizeof(c));
    c.ctx = ctx;
    c.fd = fd;
    c.peer = peer;
    c.maybe_readable = true;
    c.accepted_ms = c.last_io_ms = serve_now_ms();
    proto_parser_init(&c.parser);

    while (step(&c) == 0)
        ;

    log_debug("client %s: closed after %llu requests", peer,
              (unsigned long long)c.requests);
    outq_reset(&ctx->out);
    free(c.body);
}
