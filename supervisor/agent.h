/*
 * The HAProxy agent-check endpoint (--agent ADDR:PORT, DESIGN.md section 9),
 * served from the supervisor's event loop. On each connection the agent
 * writes one line and closes: "up ready" while the server runs (which also
 * takes a restarted backend out of the drain state its predecessor set),
 * "drain" once a stop has begun. HAProxy then sends no new connections to
 * this server while the ones it has go on.
 */
#ifndef TCP_SERVER_AGENT_H
#define TCP_SERVER_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#define AGENT_LINE_UP    "up ready\n"
#define AGENT_LINE_DRAIN "drain\n"

struct agent;

/* A "drain" line was written in full to a balancer. */
typedef void (*agent_drain_fn)(struct agent *a);

struct agent {
    uv_tcp_t server;
    bool started;  /* server is initialised (and must be closed) */
    bool draining; /* answer "drain" from now on */
    agent_drain_fn drain_cb;
    void *data; /* the owner's */
};

/*
 * Starts answering on fd, a listening socket (common/net's net_listen),
 * which the agent owns from now on. Set a->drain_cb and a->data first. 0,
 * or a negative errno with a one-line message in err; then agent_close()
 * must still be called.
 */
int agent_start(struct agent *a, uv_loop_t *loop, int fd, char *err,
                size_t errlen);

/* Every later connection gets "drain". */
void agent_set_drain(struct agent *a);

/* Stops listening; connections being answered finish on their own. */
void agent_close(struct agent *a);

#endif
