/*
 * What a tcp_bench run measured, and how it is shown: a human table, one
 * JSON object (--json), and a progress line for long runs on a terminal.
 */
#ifndef TCP_SERVER_TOOLS_BENCH_REPORT_H
#define TCP_SERVER_TOOLS_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_hist.h"
#include "bench_opts.h"

enum bench_err {
    BENCH_ERR_REFUSED, /* connect() refused: nothing listens (any more) */
    BENCH_ERR_CONNECT, /* connect() failed otherwise (unreachable, ...) */
    BENCH_ERR_RESET,   /* the server reset the connection */
    BENCH_ERR_SHORT,   /* the server closed with answers outstanding */
    BENCH_ERR_WRONG,   /* an answer failed verification */
    BENCH_ERR_TIMEOUT, /* no progress for --timeout seconds */
    BENCH_ERR_IO,      /* any other socket error */
    BENCH_ERR_COUNT,
};

struct bench_stats {
    uint64_t answers;        /* answers received completely */
    uint64_t answer_bytes;   /* their message bytes (no length headers) */
    uint64_t bytes_sent;     /* on the wire, headers included */
    uint64_t bytes_received; /* on the wire, headers included */
    uint64_t connections;    /* connections established */
    uint64_t errors[BENCH_ERR_COUNT];
    double elapsed;         /* seconds, first connect to last answer */
    bool server_cpu_valid;  /* --server-pid given and readable throughout */
    uint64_t server_cpu_ns; /* its process tree's CPU time during the run */
    bool interrupted;
    struct bench_hist hist; /* latency of each answer, nanoseconds */
};

/* Short name of an error kind, as used in the JSON ("short_read", ...). */
const char *bench_err_name(enum bench_err e);

/* Where a socket error happened, for bench_err_classify. */
enum bench_op {
    BENCH_OP_CONNECT,
    BENCH_OP_SEND,
    BENCH_OP_RECEIVE,
};

/*
 * The kind a socket error err (an errno value) counts as: ECONNREFUSED is
 * "refused"; ECONNRESET and EPIPE are "reset" (at connect too: the server's
 * backlog was dropped); ETIMEDOUT is "timeout"; anything else is "connect"
 * or "io" depending on op.
 */
enum bench_err bench_err_classify(enum bench_op op, int err);

/* Total of all error kinds. */
uint64_t bench_stats_errors(const struct bench_stats *s);

/* Answers per second and answer megabytes (10^6) per second. */
double bench_stats_rate(const struct bench_stats *s);
double bench_stats_mbps(const struct bench_stats *s);

void bench_report_text(FILE *f, const struct bench_opts *o,
                       const struct bench_stats *s);
void bench_report_json(FILE *f, const struct bench_opts *o,
                       const struct bench_stats *s);

/*
 * Rewrites the progress line on f ("\r", no newline): answers so far, the
 * recent rate, errors and elapsed seconds. bench_report_progress_clear
 * erases it before the final report.
 */
void bench_report_progress(FILE *f, const struct bench_opts *o,
                           uint64_t answers, double rate, uint64_t errors,
                           double elapsed);
void bench_report_progress_clear(FILE *f);

#endif
