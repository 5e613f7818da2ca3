/*
 * The numbers behind tcp_server's metrics (DESIGN.md section 10) and their
 * rendering as a Prometheus scrape. The supervisor fills a snapshot from
 * its own state, the workers' shared blocks (wstats.h) and /proc; the same
 * snapshot can feed any other report (a systemd STATUS= line). Pure: no
 * I/O here.
 */
#ifndef TCP_SERVER_METRICS_H
#define TCP_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wstats.h"

/* tcp_server_workers{state=...}, in label order. */
enum metrics_state {
    METRICS_READY,    /* ready and waiting in accept() */
    METRICS_STARTING, /* started, not ready yet */
    METRICS_BUSY,     /* ready and serving a client */
    METRICS_STATE_N
};

/* tcp_server_worker_restarts_total{reason=...}, in label order. */
enum metrics_restart {
    METRICS_RESTART_CRASH,   /* a ready worker died (killed, crashed) */
    METRICS_RESTART_STARTUP, /* a worker failed before becoming ready */
    METRICS_RESTART_RELOAD,  /* a worker replaced by a reload (SIGHUP) */
    METRICS_RESTART_N
};

struct metrics_snapshot {
    uint64_t workers[METRICS_STATE_N];
    uint64_t restarts[METRICS_RESTART_N];
    /* The workers' counters summed over every block. */
    uint64_t connections;
    uint64_t closed[WSTATS_CLOSE_N];
    uint64_t requests[WSTATS_ACTION_N];
    uint64_t received_bytes, sent_bytes;
    bool listen_queue_known; /* TCP_INFO answered */
    uint64_t listen_queue;
    uint64_t generation;
    /* The supervisor process; a field is left out when unknown (NaN or
     * a negative value). */
    double start_time_seconds; /* since the epoch */
    double cpu_seconds;        /* user + system */
    double resident_bytes;
    double open_fds;
};

/* Zeroes the snapshot, marking the process figures unknown. */
void metrics_snapshot_init(struct metrics_snapshot *m);

/* The reason label of a close counter ("client", "idle", ...), or NULL
 * past WSTATS_CLOSE_N. */
const char *metrics_close_name(size_t reason);

/* Adds the counters of one worker block (read with relaxed loads). */
void metrics_add_block(struct metrics_snapshot *m, const struct wstats *b);

/*
 * Writes the scrape for m into buf (NUL-terminated). Returns its length,
 * or -ENOSPC when cap is too small (METRICS_TEXT_MAX always suffices).
 */
long metrics_render(const struct metrics_snapshot *m, char *buf, size_t cap);

#define METRICS_TEXT_MAX 8192

#endif
