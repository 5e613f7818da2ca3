/*
 * Serving one client connection to completion (DESIGN.md section 2, serving
 * rules, and section 4, graceful stop). Blocking in spirit: the worker does
 * nothing else while a client is connected. The socket is blocking only
 * for the common wait, nothing to send and no deadline near, which the
 * worker spends inside recv() until data or a signal arrives. Every other
 * call on it is non-blocking (MSG_DONTWAIT), so the worker can read while
 * output is pending, which is what keeps a client that writes a whole large
 * request before reading from deadlocking against it.
 */
#ifndef TCP_SERVER_SERVE_H
#define TCP_SERVER_SERVE_H

#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "outq.h"
#include "rng.h"
#include "rules.h"
#include "wstats.h"

/*
 * How a connection learns that a graceful stop was requested. The caller
 * owns both (the worker: stop.c's flag and self-pipe); serve.c only reads
 * them, so a test can stand in with a flag and a pipe of its own.
 */
struct serve_stop {
    const volatile sig_atomic_t *requested; /* nonzero once requested */
    int fd; /* readable from then on, so poll() wakes up */
    /* Where the loop puts a socket while it blocks in recv(); the owner's
     * signal handler makes that socket non-blocking. NULL: never block,
     * always poll(). */
    volatile sig_atomic_t *conn_slot;
    /* The period of the owner's tick (tick.h), which interrupts a blocking
     * recv(); 0: no tick, never block. */
    uint64_t tick_ms;
};

/* State shared by every connection of a worker, reused between them. */
struct serve_ctx {
    uint8_t *rbuf;
    size_t rcap;
    struct outq out;
    struct rng rng;
    struct rules_limits limits;   /* idle, keepalive, min-rate */
    int listen_fd;                /* asked whether others wait; -1: never */
    uint64_t shutdown_timeout_ms; /* 0 = wait forever */
    struct serve_stop stop;
    uint64_t stop_at_ms; /* when the stop was first seen, or 0 */
    /* Byte and request counters: own_stats unless the worker has a
     * shared block (serve_ctx_init points here). */
    struct wstats *stats;
    struct wstats own_stats;
};

/* A worker's serving settings: timeouts in seconds, 0 meaning none. */
struct serve_opts {
    uint64_t seed;
    double idle_timeout;
    double shutdown_timeout;
    double keepalive_timeout;
    uint64_t min_rate; /* bytes per second, 0 = off */
    int listen_fd;     /* the listening socket, or -1 */
};

/*
 * The client's address, named only when a log line needs it: formatting
 * an address costs more user time than the rest of a short connection.
 */
struct serve_peer {
    const struct sockaddr *addr;
    socklen_t len;
    bool named;
    char name[NET_ADDRSTRLEN];
};

/* The client's "addr:port" (or "unknown"), formatted on first use. */
const char *serve_peer_name(struct serve_peer *p);

/* The tick period (tick.h) that o's time rules allow blocking waits
 * with, or 0 when they are too short for any. */
uint64_t serve_tick_ms(const struct serve_opts *o);

/* Allocates the read buffer and seeds the generator. 0 or -ENOMEM. */
int serve_ctx_init(struct serve_ctx *ctx, const struct serve_opts *o,
                   const struct serve_stop *stop);
void serve_ctx_close(struct serve_ctx *ctx);

/*
 * Serves the connected socket fd (blocking, see above) until the client closes,
 * an error or a rule (idle, keepalive, min-rate) ends it, or a graceful stop
 * completes it, and returns why it ended (never CLOSE_NONE). Closes
 * nothing: the caller closes fd. peer names the client in log lines.
 */
enum close_reason serve_conn(struct serve_ctx *ctx, int fd,
                             struct serve_peer *peer);

/* Monotonic clock in milliseconds. */
uint64_t serve_now_ms(void);

#endif
