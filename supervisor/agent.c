/*
 * The HAProxy agent-check endpoint (see agent.h). Each accepted connection
 * gets its line through one uv_write and is closed in the write callback;
 * nothing is read, so a balancer can never hold the loop. A connection that
 * fails at any step is closed and logged at debug level only: a balancer
 * that gives up early is not the server's problem.
 */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Not const only because uv_buf_t points to char. */
static char line_up[] = AGENT_LINE_UP;
static char line_drain[] = AGENT_LINE_DRAIN;

struct agent_conn {
    uv_tcp_t tcp;
    uv_write_t req;
    struct agent *agent;
    bool drain; /* the line sent is "drain" */
};

static void conn_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

static void conn_written_cb(uv_write_t *req, int status)
{
    struct agent_conn *c = req->data;

    if (status < 0)
        log_debug("agent: answer not sent: %s", uv_strerror(status));
    else if (c->drain && c->agent->drain_cb != NULL)
        c->agent->drain_cb(c->agent);
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

static void connection_cb(uv_stream_t *server, int status)
{
    struct agent *a = server->data;
    struct agent_conn *c;
    uv_buf_t buf;
    int r;

    if (status < 0) {
        log_warnx("agent: accept failed: %s", uv_strerror(status));
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_warnx("agent: out of memory for a connection");
        return;
    }
    c->agent = a;
    c->drain = a->draining;
    c->req.data = c;
    c->tcp.data = c;
    r = uv_tcp_init(server->loop, &c->tcp);
    if (r < 0) {
        log_warnx("agent: %s", uv_strerror(r));
        free(c);
        return;
    }
    r = uv_accept(server, (uv_stream_t *)&c->tcp);
    if (r == 0) {
        /* uv_write copies nothing: the lines are static and never change. */
        buf = c->drain ? uv_buf_init(line_drain, sizeof(line_drain) - 1)
                       : uv_buf_init(line_up, sizeof(line_up) - 1);
        r = uv_write(&c->req, (uv_stream_t *)&c->tcp, &buf, 1, conn_written_cb);
    }
    if (r < 0) {
        log_debug("agent: connection dropped: %s", uv_strerror(r));
        uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
    }
}

int agent_start(struct agent *a, uv_loop_t *loop, int fd, char *err,
                size_t errlen)
{
    int r = uv_tcp_init(loop, &a->server);

    if (r < 0) {
        (void)close(fd);
        snprintf(err, errlen, "cannot create the agent socket: %s",
                 uv_strerror(r));
        return r;
    }
    a->started = true;
    a->server.data = a;
    r = uv_tcp_open(&a->server, fd);
    if (r < 0) {
        (void)close(fd);
    } else {
        r = uv_listen((uv_stream_t *)&a->server, SOMAXCONN, connection_cb);
    }
    if (r < 0)
        snprintf(err, errlen, "cannot serve the agent: %s", uv_strerror(r));
    return r;
}

void agent_set_drain(struct agent *a)
{
    a->draining = true;
}

void agent_close(struct agent *a)
{
    if (a->started && !uv_is_closing((uv_handle_t *)&a->server))
        uv_close((uv_handle_t *)&a->server, NULL);
}
