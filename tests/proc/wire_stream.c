/*
 * Streamed uppercase exchanges (see wire_stream.h). The request is generated
 * and the answer checked chunk by chunk from the pattern offset, so memory
 * stays at two chunks whatever the length.
 */
#include "wire_stream.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "proto.h"
#include "wire.h"

/* Bound of connecting. */
#define CONNECT_MS 10000
/* A streaming exchange fails after this long without any progress. */
#define STREAM_IDLE_MS 60000
/* Chunk of a streaming exchange. */
#define CHUNK (64u * 1024u)

/* Mixed-case letters and other bytes; its length divides no power of two. */
static const char pattern[] = "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789_!zYxWvU"
                              "tSrQpOnMlKjIhGfEdCbA~";
#define PAT_LEN (sizeof(pattern) - 1)

static uint8_t upper(uint8_t c)
{
    return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

void wire_stream_pattern(uint8_t *buf, uint8_t *up, size_t len, uint64_t off)
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

/* Sends what it may of the request, up to limit bytes in all: the count
 * sent (0 when the socket is full) or -errno. */
static int stream_send(struct wire_stream *s, uint64_t limit)
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
    wire_stream_pattern(buf + n, NULL, want - n,
                        s->sent + n - PROTO_HEADER_LEN);
    w = send(s->fd, buf, want, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    s->sent += (uint64_t)w;
    return (int)w;
}

/* Reads and checks what arrived of the answer: the count or -errno. */
static int stream_recv(struct wire_stream *s)
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
        wire_stream_pattern(NULL, want, (size_t)n - off,
                            s->rgot - PROTO_HEADER_LEN);
        if (memcmp(buf + off, want, (size_t)n - off) != 0)
            return -EBADMSG;
        s->rgot += (size_t)n - off;
    }
    return (int)n;
}

int wire_stream_run(struct wire_stream *s, uint64_t send_until,
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

int wire_stream_start(struct harness *h, unsigned port, uint32_t len,
                      uint32_t sent, struct wire_stream *s)
{
    int fd, r;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    fd = wire_connect(h, port, CONNECT_MS);
    if (fd < 0)
        return fd;
    s->fd = fd;
    s->len = len;
    /* The header and one answered byte: the worker is mid-exchange. */
    r = wire_stream_run(s, PROTO_HEADER_LEN + (uint64_t)sent,
                        PROTO_HEADER_LEN + (sent > 0 ? 1 : 0), -1);
    if (r < 0) {
        harness_close_fd(h, fd);
        s->fd = -1;
    }
    return r;
}

int wire_stream_finish(struct wire_stream *s)
{
    return wire_stream_run(s, PROTO_HEADER_LEN + (uint64_t)s->len,
                           PROTO_HEADER_LEN + (uint64_t)s->len, -1);
}
