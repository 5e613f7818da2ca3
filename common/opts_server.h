/*
 * The command line of tcp_server (DESIGN.md section 3), as a pure function
 * from argv to an options struct, and its --help text.
 */
#ifndef TCP_SERVER_OPTS_SERVER_H
#define TCP_SERVER_OPTS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

/* Longest host name or address in an ADDR:PORT option, with its NUL. */
#define SERVER_HOST_MAX 256

/* Options of tcp_server (DESIGN.md section 3). */
struct server_opts {
    unsigned port;         /* 0 asks the kernel for a free port */
    const char *bind_addr; /* NULL: all interfaces */
    /* --worker: overrides $TCP_SERVER_WORKER and the lookup; or NULL */
    const char *worker_path;
    int verbose;
    unsigned workers;
    double idle_timeout;      /* seconds, 0 = never */
    double shutdown_timeout;  /* seconds, 0 = wait forever */
    double keepalive_timeout; /* seconds, 0 = off */
    unsigned min_rate;        /* bytes per second, 0 = off */
    bool seed_set;
    uint64_t seed;
    bool agent_set; /* --agent given: serve it at agent_host:agent_port */
    char agent_host[SERVER_HOST_MAX];
    unsigned agent_port;
    double drain_timeout; /* seconds, with --agent */
    /* --metrics ADDR:PORT: the Prometheus endpoint, off unless set. */
    bool metrics_set;
    char metrics_host[SERVER_HOST_MAX];
    unsigned metrics_port;
};

#define SERVER_DEFAULT_PORT              8083
#define SERVER_DEFAULT_IDLE_TIMEOUT      60.0
#define SERVER_DEFAULT_SHUTDOWN_TIMEOUT  30.0
#define SERVER_DEFAULT_KEEPALIVE_TIMEOUT 5.0
#define SERVER_DEFAULT_MIN_RATE          500
#define SERVER_MAX_MIN_RATE              1073741824u
#define SERVER_MAX_WORKERS               256
#define SERVER_DEFAULT_DRAIN_TIMEOUT     2.0

extern const char server_usage[]; /* the usage line, ending in '\n' */
extern const char server_help[];  /* the full --help text */

enum opts_result server_opts_parse(struct server_opts *o, int argc, char **argv,
                                   char *err, size_t errlen);

#endif
