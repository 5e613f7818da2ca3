/*
 * The drain phase of a stop (DESIGN.md section 9), between the stop signal
 * and the graceful stop: owns the agent-check endpoint and the timer that
 * ends the phase when drain_decide() (drain.h) says so. Without an agent
 * the phase ends as it begins, so a stop is as fast as ever.
 */
#ifndef TCP_SERVER_DRAIN_PHASE_H
#define TCP_SERVER_DRAIN_PHASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "agent.h"

struct drain_phase;

/* The phase is over: run the graceful stop. Called once per begin. */
typedef void (*drain_done_fn)(struct drain_phase *d);

struct drain_phase {
    uv_loop_t *loop;
    struct agent agent;
    bool has_agent;
    uint64_t timeout_ms;
    uv_timer_t timer;
    bool active; /* begun and not over */
    uint64_t stop_ms;
    bool answered; /* the agent said "drain" during this phase */
    uint64_t answered_ms;
    drain_done_fn done_cb;
    void *data; /* the owner's */
};

/*
 * Sets up the timer and, when agent_fd is a listening socket (-1: no
 * agent), starts the agent on it answering "up ready". Set d->done_cb and
 * d->data first. 0, or a negative errno with a one-line message in err; either
 * way drain_phase_close() must be called once the loop winds down.
 */
int drain_phase_init(struct drain_phase *d, uv_loop_t *loop, int agent_fd,
                     double timeout_s, char *err, size_t errlen);

/* Starts the phase: the agent answers "drain" from now on. */
void drain_phase_begin(struct drain_phase *d);

/* Ends the phase without calling done_cb (a forced stop). */
void drain_phase_cancel(struct drain_phase *d);

/* Closes the timer and the agent's listener. */
void drain_phase_close(struct drain_phase *d);

#endif
