/*
 * The supervisor's state, shared by the files that make up its loop
 * (supervisor.c, sup_metrics.c). Not an interface: supervisor.h is.
 */
#ifndef TCP_SERVER_SUP_TYPES_H
#define TCP_SERVER_SUP_TYPES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "child.h"
#include "drain_phase.h"
#include "metrics.h"
#include "metrics_http.h"
#include "stats_shm.h"
#include "supervisor.h"

enum sup_state {
    SUP_RUNNING,  /* keep every slot served */
    SUP_DRAINING, /* stop signal seen; serving on while the balancer learns */
    SUP_STOPPING, /* stop signal forwarded; waiting for the workers */
    SUP_FORCED,   /* workers killed; waiting until they are reaped */
};

struct supervisor;

struct slot {
    struct supervisor *sup;
    unsigned index;
    unsigned failures; /* consecutive start-up failures */
    uv_timer_t timer;  /* the slot's next start */
};

/* A worker not yet reaped. Freed once its handles are closed. */
struct worker {
    struct child child;
    struct slot *slot;
    unsigned generation;
    bool retiring; /* sent SIGTERM by a reload: its exit is expected */
    int block;     /* its counter block, or -1 */
    struct worker *prev, *next;
};

struct supervisor {
    const struct supervisor_config *cfg;
    char path[PATH_MAX]; /* the worker path, known to fit PATH_MAX */
    uv_loop_t loop;
    enum sup_state state;
    int stop_signal;
    int exit_status;
    unsigned generation;
    unsigned live;          /* workers not yet reaped */
    struct worker *workers; /* the live workers */
    struct slot *slots;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t shutdown_timer;
    int listen_fd; /* ours to close; -1 once closed */
    struct drain_phase drain;
    struct stats_shm shm; /* fd -1 without --metrics */
    struct metrics_http http;
    uint64_t restarts[METRICS_RESTART_N];
};

#endif
