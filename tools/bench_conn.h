/*
 * tcp_bench's connection driver: one thread, one epoll set, non-blocking
 * sockets with TCP_NODELAY. Pipeline and bulk modes keep -P requests in
 * flight on each of -c connections; conn mode opens a connection per
 * request, -c at a time. Every answer is verified as it streams in.
 */
#ifndef TCP_SERVER_TOOLS_BENCH_CONN_H
#define TCP_SERVER_TOOLS_BENCH_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "bench_opts.h"
#include "bench_payload.h"
#include "bench_report.h"
#include "bench_verify.h"

struct bench_conn_cfg {
    const struct bench_opts *o;
    const struct bench_payload *pl;
    const struct bench_verify_spec *vs;
    const struct sockaddr *addr; /* where to connect */
    socklen_t addrlen;
    bool progress; /* draw a progress line on stderr after 1 s */
    /* Set (by a signal handler) to ask for a stop: the first stop lets
     * in-flight requests finish, a second abandons them. */
    volatile sig_atomic_t *interrupt;
};

/*
 * Runs the workload and fills *st (initialised here). Returns 0 when the
 * run took place, whatever the errors it counted, or a negative errno when
 * it could not start (no memory, no epoll).
 */
int bench_conn_run(const struct bench_conn_cfg *cfg, struct bench_stats *st);

#endif
