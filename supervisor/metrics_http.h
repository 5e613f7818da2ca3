/*
 * The supervisor's Prometheus endpoint (DESIGN.md section 10): GET /metrics
 * on its own libuv loop, one request per connection, answered and closed.
 * Every step is asynchronous, so a scrape never delays a respawn or a
 * signal, and a bad client costs little: a request head over
 * METRICS_HTTP_REQ_MAX bytes, or a connection still open
 * METRICS_HTTP_TIMEOUT_MS after it was accepted (a client that sends
 * nothing, or too slowly, or does not read the answer), is closed; beyond
 * METRICS_HTTP_MAX_CONNS at once, new connections are closed as soon as
 * they are accepted.
 */
#ifndef TCP_SERVER_METRICS_HTTP_H
#define TCP_SERVER_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#define METRICS_HTTP_MAX_CONNS  8
#define METRICS_HTTP_REQ_MAX    8192
#define METRICS_HTTP_TIMEOUT_MS 5000

/* Writes the scrape into buf; its length, or a negative errno. */
typedef long (*metrics_http_render_fn)(void *ctx, char *buf, size_t cap);

struct metrics_conn;

struct metrics_http {
    uv_tcp_t listener;
    metrics_http_render_fn render;
    void *ctx;
    unsigned active; /* connections being served */
    /* Those connections, in the slots they took; NULL when free. */
    struct metrics_conn *conns[METRICS_HTTP_MAX_CONNS];
    bool started;
};

/*
 * Serves on fd, a bound, listening TCP socket (net_listen's), which h now
 * owns (closed by metrics_http_close even when this fails). 0 or a
 * negative errno.
 */
int metrics_http_start(struct metrics_http *h, uv_loop_t *loop, int fd,
                       metrics_http_render_fn render, void *ctx);

/* Closes the listener and every connection (their handles close later,
 * in the loop). Safe on a zeroed struct and more than once. */
void metrics_http_close(struct metrics_http *h);

#endif
