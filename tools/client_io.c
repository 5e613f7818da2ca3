/*
 * The client's pipelined exchange. The sender walks the source with one
 * cursor and writes batches of requests with sendmsg (header and message as
 * separate iovecs, so a message is never copied); the receiver walks the
 * same source with a second cursor, so each answer is matched with its
 * request without storing anything per request.
 */
#include "client_io.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "client_opts.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "resp.h"

#define CLIENT_BATCH    64                   /* requests per sendmsg */
#define CLIENT_READ_MAX ((size_t)256 * 1024) /* bytes per recv */

int client_src_next(const struct client_src *src, struct client_cursor *cur,
                    struct client_req *req, char *err, size_t errlen)
{
    const char *line;
    const char *msg;
    const uint8_t *nl;
    size_t len;
    int r;

    if (!src->lines) {
        if (cur->index > 0)
            return 0;
        req->action = src->action;
        req->msg = src->msg;
        req->len = src->msglen;
        req->lineno = ++cur->index;
        return 1;
    }
    if (cur->pos >= src->len)
        return 0;
    line = (const char *)src->buf + cur->pos;
    nl = memchr(line, '\n', src->len - cur->pos);
    len = nl != NULL ? (size_t)((const char *)nl - line) : src->len - cur->pos;
    r = client_parse_line(line, len, &req->action, &msg, &req->len, err,
                          errlen);
    if (r < 0)
        return r;
    req->msg = (const uint8_t *)msg;
    req->lineno = ++cur->index;
    cur->pos += len + (nl != NULL ? 1 : 0);
    return 1;
}

/* sendmsg takes non-const iovecs; it only reads through them. */
static void *unconst(const uint8_t *q)
{
    union {
        const uint8_t *c;
        void *m;
    } u = {.c = q};

    return u.m;
}

/* The sending half: the request being written and how much of it went. */
struct sender {
    const struct client_src *src;
    struct client_cursor cur; /* positioned after req */
    struct client_req req;
    bool have;  /* req is valid: something is left to send */
    size_t off; /* bytes of req (header and message) already sent */
};

/* The receiving half. */
struct receiver {
    const struct client_src *src;
    struct client_cursor cur;
    struct client_req req; /* the request the current answer belongs to */
    struct resp_parser parser;
    uint8_t head[PROTO_ERROR_LEN]; /* an answer's first bytes */
    size_t head_len;
    bool newline;
    FILE *out;
};

static void sender_advance(struct sender *s, const struct client_req *batch,
                           const struct client_cursor *after, size_t nb,
                           size_t sent)
{
    char err[128];
    size_t k = 0;

    while (k < nb) {
        size_t rem = PROTO_HEADER_LEN + batch[k].len - (k == 0 ? s->off : 0);

        if (sent < rem)
            break;
        sent -= rem;
        k++;
    }
    if (k == 0) {
        s->off += sent;
        return;
    }
    s->off = sent;
    if (k < nb) {
        s->req = batch[k];
        s->cur = after[k];
        return;
    }
    /* The whole batch went: fetch the request that follows it. */
    s->cur = after[nb - 1];
    s->have = client_src_next(s->src, &s->cur, &s->req, err, sizeof(err)) == 1;
}

/* Writes as much as the socket takes. 0, or a negative errno. */
static int sender_write(int fd, struct sender *s)
{
    struct client_req batch[CLIENT_BATCH];
    struct client_cursor after[CLIENT_BATCH];
    uint8_t hdrs[CLIENT_BATCH][PROTO_HEADER_LEN];
    struct iovec iov[2 * CLIENT_BATCH];
    struct msghdr mh;
    char err[128];
    size_t nb = 0;
    int niov = 0;
    ssize_t n;

    while (s->have) {
        struct client_cursor c;

        batch[0] = s->req;
        after[0] = s->cur;
        for (nb = 1; nb < CLIENT_BATCH; nb++) {
            c = after[nb - 1];
            if (client_src_next(s->src, &c, &batch[nb], err, sizeof(err)) != 1)
                break;
            after[nb] = c;
        }
        niov = 0;
        for (size_t k = 0; k < nb; k++) {
            size_t skip = k == 0 ? s->off : 0;

            proto_encode_request_header(hdrs[k], batch[k].action,
                                        (uint32_t)batch[k].len);
            if (skip < PROTO_HEADER_LEN) {
                iov[niov].iov_base = hdrs[k] + skip;
                iov[niov++].iov_len = PROTO_HEADER_LEN - skip;
                skip = 0;
            } else {
                skip -= PROTO_HEADER_LEN;
            }
            if (batch[k].len > skip) {
                iov[niov].iov_base = unconst(batch[k].msg + skip);
                iov[niov++].iov_len = batch[k].len - skip;
            }
        }
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)niov;
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        sender_advance(s, batch, after, nb, (size_t)n);
    }
    return 0;
}

/* Handles one parsed answer event. 0, or a negative errno. */
static int receiver_event(struct receiver *rc, const struct resp_event *ev,
                          struct client_result *res, char *err, size_t errlen)
{
    switch (ev->type) {
    case RESP_EV_BEGIN:
        if (client_src_next(rc->src, &rc->cur, &rc->req, err, errlen) != 1) {
            snprintf(err, errlen,
                     "the server sent more answers than the "
                     "requests it was sent");
            return -EPROTO;
        }
        rc->head_len = 0;
        log_debug("answer %zu: %u bytes", rc->req.lineno, ev->len);
        return 0;
    case RESP_EV_DATA:
        if (ev->len == PROTO_ERROR_LEN) {
            size_t k = ev->data_len;

            if (k > PROTO_ERROR_LEN - rc->head_len)
                k = PROTO_ERROR_LEN - rc->head_len;
            memcpy(rc->head + rc->head_len, ev->data, k);
            rc->head_len += k;
        }
        if (fwrite(ev->data, 1, ev->data_len, rc->out) != ev->data_len)
            goto out_error;
        return 0;
    case RESP_EV_END:
        if (rc->newline && fputc('\n', rc->out) == EOF)
            goto out_error;
        if (ev->len == PROTO_ERROR_LEN &&
            memcmp(rc->head, PROTO_ERROR_TEXT, PROTO_ERROR_LEN) == 0 &&
            !check_could_spell_error(rc->req.action, rc->req.msg,
                                     rc->req.len)) {
            res->server_errors++;
            if (rc->src->lines)
                fprintf(stderr,
                        "tcp_client: line %zu: server answered "
                        "error\n",
                        rc->req.lineno);
            else
                fprintf(stderr, "tcp_client: server answered error\n");
        }
        res->answered++;
        return 0;
    case RESP_EV_NONE:
        break;
    }
    return 0;
out_error:
    snprintf(err, errlen, "cannot write the answer: %s", strerror(errno));
    return -EIO;
}

/*
 * Reads what is available and hands every event to receiver_event. Returns
 * 1 at end of stream, 0 otherwise, or a negative errno.
 */
static int receiver_read(int fd, struct receiver *rc, uint8_t *buf,
                         struct client_result *res, char *err, size_t errlen)
{
    struct resp_event ev;
    const uint8_t *p = buf;
    ssize_t n;
    size_t left;
    int r;

    n = recv(fd, buf, CLIENT_READ_MAX, 0);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -errno;
    }
    if (n == 0)
        return 1;
    left = (size_t)n;
    do {
        size_t used = resp_next(&rc->parser, p, left, &ev);

        p += used;
        left -= used;
        r = receiver_event(rc, &ev, res, err, errlen);
        if (r < 0)
            return r;
    } while (ev.type != RESP_EV_NONE);
    return 0;
}

static int broken_off(const struct client_result *res, size_t nreq, int cause,
                      char *err, size_t errlen)
{
    const char *why =
        cause == 0 ? "closed the connection" : "reset the connection";

    if (nreq == 1)
        snprintf(err, errlen, "the server %s before answering", why);
    else
        snprintf(err, errlen, "the server %s after %zu of %zu answers", why,
                 res->answered, nreq);
    return cause == 0 ? -ECONNABORTED : cause;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The poll timeout until last + limit (-1 for no limit), at least 0. */
static int wait_ms(int64_t last, int limit)
{
    int64_t left;

    if (limit <= 0)
        return -1;
    left = last + limit - now_ms();
    return left < 0 ? 0 : (int)left;
}

static int timed_out(const struct client_result *res, size_t nreq, int limit,
                     char *err, size_t errlen)
{
    snprintf(err, errlen,
             "no answer from the server for %.3g s (%zu of %zu answers "
             "received)",
             (double)limit / 1000.0, res->answered, nreq);
    return -ETIMEDOUT;
}

int client_exchange(int fd, const struct client_src *src, size_t nreq,
                    bool newline, int timeout_ms, FILE *out,
                    struct client_result *res, char *err, size_t errlen)
{
    int64_t last_io = now_ms();
    static uint8_t buf[CLIENT_READ_MAX];
    struct sender s;
    struct receiver rc;
    int send_err = 0;
    int r;

    memset(res, 0, sizeof(*res));
    memset(&s, 0, sizeof(s));
    memset(&rc, 0, sizeof(rc));
    s.src = src;
    rc.src = src;
    rc.newline = newline;
    rc.out = out;
    resp_parser_init(&rc.parser);
    s.have = client_src_next(src, &s.cur, &s.req, err, errlen) == 1;
    r = net_set_nonblock(fd, true);
    if (r < 0) {
        snprintf(err, errlen, "cannot set up the socket: %s", strerror(-r));
        return r;
    }
    while (res->answered < nreq) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};

        if (s.have)
            pfd.events |= POLLOUT;
        r = poll(&pfd, 1, wait_ms(last_io, timeout_ms));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -errno;
        }
        if (r == 0)
            return timed_out(res, nreq, timeout_ms, err, errlen);
        /* Bytes moving either way: an upload still going is progress. */
        last_io = now_ms();
        if (pfd.revents & POLLOUT) {
            r = sender_write(fd, &s);
            if (r < 0) {
                /* Keep reading: answers sent before the break still count. */
                log_debug("send: %s", strerror(-r));
                send_err = r;
                s.have = false;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            r = receiver_read(fd, &rc, buf, res, err, errlen);
            if (r == 1 || r == -ECONNRESET || r == -EPIPE)
                return broken_off(res, nreq,
                                  r == 1 && send_err == 0 ? 0 : -ECONNRESET,
                                  err, errlen);
            if (r < 0) {
                if (r != -EIO && r != -EPROTO)
                    snprintf(err, errlen, "receive: %s", strerror(-r));
                return r;
            }
        }
    }
    return 0;
}
