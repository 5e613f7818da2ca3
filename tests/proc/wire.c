/*
 * Client-side I/O of the process tests (see wire.h). Sockets are used with
 * MSG_DONTWAIT plus net_wait() so that a "blocking" client loop still
 * honours its deadline.
 */
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "procfs.h"
#include "proto.h"

/* Polling period of the waits. */
#define POLL_MS 10

/* Milliseconds left before deadline, at least 0 and at most INT_MAX-ish. */
static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - harness_now_ms();

    if (left < 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Waits for events on fd until deadline: 0 ready, -ETIMEDOUT or -errno. */
static int await_fd(int fd, short events, int64_t deadline)
{
    int r = net_wait(fd, events, remaining_ms(deadline));

    return r < 0 ? r : 0;
}

/* --- addresses and listeners -------------------------------------------- */

int wire_wait_readable(int fd, int timeout_ms)
{
    return await_fd(fd, POLLIN, harness_now_ms() + timeout_ms);
}

int wire_free_port(void)
{
    int fd = net_listen("127.0.0.1", 0), port;

    if (fd < 0)
        return fd;
    port = net_local_port(fd);
    close(fd);
    return port;
}

int wire_bind_port(unsigned port)
{
    /* The supervisor's own listen: wildcard, dual-stack, SO_REUSEADDR. */
    int fd = net_listen(NULL, port);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

int wire_listen_v4(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

    if (fd < 0)
        return -errno;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons((uint16_t)port);
    /* No SO_REUSEADDR: unlike net_listen, held the way another program
     * would hold the port. */
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* --- connections -------------------------------------------------------- */

int wire_connect(struct harness *h, unsigned port, int timeout_ms)
{
    int fd = net_connect("127.0.0.1", port, timeout_ms), r;

    if (fd < 0)
        return fd;
    r = harness_track_fd(h, fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int wire_reset_close(struct harness *h, int fd)
{
    struct linger lg = {1, 0};
    int r = 0;

    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
        r = -errno;
    harness_close_fd(h, fd);
    return r;
}

int wire_send_all(int fd, const void *buf, size_t len, int timeout_ms)
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
        r = await_fd(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
    }
    return 0;
}

ssize_t wire_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
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
        r = await_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
    }
    return (ssize_t)got;
}

int wire_wait_closed(int fd, int timeout_ms)
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
        r = await_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
    }
}

int wire_wait_consumed(int fd, unsigned server_port, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    int client_port = net_local_port(fd), outq;
    long rxq;

    if (client_port < 0)
        return client_port;
    for (;;) {
        if (ioctl(fd, SIOCOUTQ, &outq) < 0)
            return -errno;
        rxq = procfs_server_rxq(server_port, (unsigned)client_port);
        if (rxq == -ENOENT)
            return -ENOENT;
        if (outq == 0 && rxq == 0)
            return 0;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(POLL_MS);
    }
}

/* --- requests and answers ----------------------------------------------- */

void wire_encode(uint8_t *out, unsigned action, const void *data, uint32_t len)
{
    proto_encode_request_header(out, action, len);
    if (len > 0)
        memcpy(out + PROTO_HEADER_LEN, data, len);
}

int wire_read_response(int fd, uint8_t **data, uint32_t *len, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    uint8_t hdr[4], *buf;
    uint32_t n;
    ssize_t r;

    *data = NULL;
    *len = 0;
    r = wire_recv_exact(fd, hdr, sizeof(hdr), timeout_ms);
    if (r < 0)
        return (int)r;
    if (r != (ssize_t)sizeof(hdr))
        return -EPROTO;
    n = proto_get_u32(hdr);
    buf = malloc((size_t)n + 1);
    if (buf == NULL)
        return -ENOMEM;
    r = wire_recv_exact(fd, buf, n, remaining_ms(deadline));
    if (r < 0 || (size_t)r != n) {
        free(buf);
        return r < 0 ? (int)r : -EPROTO;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int wire_request(int fd, unsigned action, const void *data, uint32_t len,
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
    wire_encode(req, action, data, len);
    r = wire_send_all(fd, req, PROTO_HEADER_LEN + (size_t)len, HARNESS_IO_MS);
    free(req);
    if (r < 0)
        return r;
    return wire_read_response(fd, resp, resp_len, HARNESS_IO_MS);
}

int wire_upper_exchange(int fd, const char *text, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    size_t len = strlen(text);
    uint8_t req[256], *resp = NULL;
    uint32_t rlen;
    int r;

    if (len > sizeof(req) - PROTO_HEADER_LEN)
        return -EINVAL;
    wire_encode(req, PROTO_UPPERCASE, text, (uint32_t)len);
    r = wire_send_all(fd, req, PROTO_HEADER_LEN + len, timeout_ms);
    if (r < 0)
        return r;
    r = wire_read_response(fd, &resp, &rlen, remaining_ms(deadline));
    if (r < 0)
        return r;
    /* -EPROTO already means "closed mid-response": a wrong answer differs. */
    r = 0;
    if (rlen != len)
        r = -EBADMSG;
    for (size_t i = 0; i < len && r == 0; i++) {
        uint8_t c = (uint8_t)text[i];

        if (resp[i] != (c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c))
            r = -EBADMSG;
    }
    free(resp);
    return r;
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

int wire_pump(int fd, const void *req, size_t len, size_t piece, size_t nresp,
              uint8_t **out, size_t *out_len, int idle_ms)
{
    const uint8_t *p = req;
    size_t sent = 0, cap = 0, got = 0, done = 0, at = 0;
    int64_t deadline = harness_now_ms() + idle_ms;
    int r = 0;

    *out = NULL;
    *out_len = 0;
    while (sent < len || done < nresp) {
        short events = sent < len ? POLLIN | POLLOUT : POLLIN;
        int revents = net_wait(fd, events, remaining_ms(deadline));
        ssize_t n;

        if (revents < 0) {
            r = revents;
            break;
        }
        r = 0;
        if ((revents & POLLOUT) && sent < len) {
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
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
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

/* --- is the server answering? -------------------------------------------- */

int wire_ping(struct harness *h, unsigned port, int timeout_ms)
{
    int fd = wire_connect(h, port, timeout_ms), r;

    if (fd < 0)
        return fd;
    r = wire_upper_exchange(fd, "ping from the process tests", timeout_ms);
    harness_close_fd(h, fd);
    return r;
}

int wire_wait_answer(struct harness *h, struct harness_proc *p, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        int left = remaining_ms(deadline);

        if (harness_wait_exit(p, 0) == 0)
            return -ECHILD;
        if (left <= 0)
            return -ETIMEDOUT;
        /* Slices, so that a server exiting meanwhile is noticed. */
        if (wire_ping(h, p->port, left < 1000 ? left : 1000) == 0)
            return 0;
        harness_pause_ms(2);
    }
}
