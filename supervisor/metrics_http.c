/*
 * The metrics endpoint (see metrics_http.h). A connection owns a TCP
 * handle and a timer armed at accept for the whole exchange; whichever of
 * the answer, the deadline, an error or the peer ends it first closes both.
 * The request head is parsed by common/httpreq.c each time bytes arrive.
 */
#include "metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpreq.h"
#include "log.h"
#include "metrics.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"
#define HEAD_MAX             512

struct metrics_conn {
    struct metrics_http *h;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    unsigned open_handles;
    bool closing;
    size_t len;
    unsigned slot; /* its place in h->conns */
    uint8_t in[METRICS_HTTP_REQ_MAX];
    char out[HEAD_MAX + METRICS_TEXT_MAX];
};

static void conn_closed_cb(uv_handle_t *handle)
{
    struct metrics_conn *c = handle->data;
    struct metrics_http *h = c->h;

    if (--c->open_handles > 0)
        return;
    h->conns[c->slot] = NULL;
    h->active--;
    free(c);
}

static void conn_close(struct metrics_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
    uv_close((uv_handle_t *)&c->timer, conn_closed_cb);
}

static void timer_cb(uv_timer_t *timer)
{
    log_debug("metrics: client too slow, closing");
    conn_close(timer->data);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
}

static void write_cb(uv_write_t *req, int status)
{
    struct metrics_conn *c = req->data;

    c->shutdown_req.data = c;
    if (status < 0 ||
        uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb) < 0)
        conn_close(c);
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    default:
        return "Internal Server Error";
    }
}

/* Writes the body for status into c->out + HEAD_MAX; its length. */
static long body(struct metrics_conn *c, int *status)
{
    char *b = c->out + HEAD_MAX;
    long n;

    if (*status == 200) {
        n = c->h->render(c->h->ctx, b, METRICS_TEXT_MAX);
        if (n >= 0)
            return n;
        log_warnx("metrics: cannot render: %s", strerror((int)-n));
        *status = 500;
    }
    return snprintf(b, METRICS_TEXT_MAX, "%s\n", reason(*status));
}

/* Answers with status and closes once written. */
static void respond(struct metrics_conn *c, int status, bool head_only)
{
    long blen = body(c, &status);
    char head[HEAD_MAX];
    int hlen;
    uv_buf_t buf;

    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                    "Content-Length: %ld\r\n%sConnection: close\r\n\r\n",
                    status, reason(status),
                    status == 200 ? CONTENT_TYPE_METRICS : CONTENT_TYPE_TEXT,
                    blen, status == 405 ? "Allow: GET, HEAD\r\n" : "");
    /* The head goes right before the body, which is already in place. */
    memcpy(c->out + HEAD_MAX - hlen, head, (size_t)hlen);
    buf = uv_buf_init(c->out + HEAD_MAX - hlen,
                      (unsigned)(hlen + (head_only ? 0 : blen)));
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb) < 0)
        conn_close(c);
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct metrics_conn *c = handle->data;

    (void)suggested;
    /* A full buffer gives a zero-length one: the read fails (UV_ENOBUFS). */
    *buf =
        uv_buf_init((char *)c->in + c->len, (unsigned)(sizeof(c->in) - c->len));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct metrics_conn *c = stream->data;
    struct httpreq req;

    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_ENOBUFS)
            log_info("metrics: request over %d bytes, closing",
                     METRICS_HTTP_REQ_MAX);
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    switch (httpreq_parse(c->in, c->len, &req)) {
    case HTTPREQ_BAD:
        respond(c, 400, false);
        break;
    case HTTPREQ_COMPLETE:
        log_debug("metrics: %s request", req.method);
        respond(c, httpreq_route(&req), strcmp(req.method, "HEAD") == 0);
        break;
    case HTTPREQ_INCOMPLETE:
        break;
    }
}

/* Accepts one connection beyond the limit and closes it at once. */
static void refuse(uv_stream_t *server)
{
    uv_tcp_t *t = malloc(sizeof(*t));

    if (t == NULL || uv_tcp_init(server->loop, t) < 0) {
        free(t);
        return;
    }
    (void)uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static int conn_start(struct metrics_http *h, uv_stream_t *server,
                      struct metrics_conn *c)
{
    int r;

    c->h = h;
    r = uv_tcp_init(server->loop, &c->tcp);
    if (r < 0)
        return r;
    c->tcp.data = c;
    c->open_handles = 1;
    r = uv_timer_init(server->loop, &c->timer);
    if (r < 0)
        return r;
    c->timer.data = c;
    c->open_handles = 2;
    r = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (r == 0)
        r = uv_timer_start(&c->timer, timer_cb, METRICS_HTTP_TIMEOUT_MS, 0);
    if (r == 0)
        r = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    return r;
}

static void connection_cb(uv_stream_t *server, int status)
{
    struct metrics_http *h = server->data;
    struct metrics_conn *c;
    int r;

    if (status < 0) {
        log_warnx("metrics: accept: %s", uv_strerror(status));
        return;
    }
    if (h->active >= METRICS_HTTP_MAX_CONNS ||
        (c = calloc(1, sizeof(*c))) == NULL) {
        refuse(server);
        return;
    }
    while (h->conns[c->slot] != NULL)
        c->slot++; /* a free one exists: active < METRICS_HTTP_MAX_CONNS */
    h->conns[c->slot] = c;
    h->active++;
    r = conn_start(h, server, c);
    if (r < 0) {
        log_warnx("metrics: cannot serve a connection: %s", uv_strerror(r));
        if (c->open_handles == 0) {
            h->conns[c->slot] = NULL;
            h->active--;
            free(c);
        } else if (c->open_handles == 1) {
            c->closing = true;
            uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
        } else {
            conn_close(c);
        }
    }
}

int metrics_http_start(struct metrics_http *h, uv_loop_t *loop, int fd,
                       metrics_http_render_fn render, void *ctx)
{
    int r;

    memset(h, 0, sizeof(*h));
    h->render = render;
    h->ctx = ctx;
    r = uv_tcp_init(loop, &h->listener);
    if (r < 0) {
        close(fd);
        return r;
    }
    h->listener.data = h;
    h->started = true;
    r = uv_tcp_open(&h->listener, fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    return uv_listen((uv_stream_t *)&h->listener, SOMAXCONN, connection_cb);
}

void metrics_http_close(struct metrics_http *h)
{
    if (!h->started)
        return;
    if (!uv_is_closing((uv_handle_t *)&h->listener))
        uv_close((uv_handle_t *)&h->listener, NULL);
    for (unsigned i = 0; i < METRICS_HTTP_MAX_CONNS; i++) {
        if (h->conns[i] != NULL)
            conn_close(h->conns[i]);
    }
}
