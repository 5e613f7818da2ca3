/*
 * When a stop may proceed past the drain phase (DESIGN.md section 9), as a
 * pure function so that it can be unit tested without clocks or sockets.
 * With --agent, a stop signal first tells the balancer (the agent answers
 * "drain") and keeps serving until the agent has said so at least once and
 * DRAIN_GRACE_MS more have passed (connects the balancer started before it
 * learnt), or until the drain timeout expires, whichever comes first.
 * Without --agent nothing waits.
 */
#ifndef TCP_SERVER_DRAIN_H
#define TCP_SERVER_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

/* Serving goes on this long after the agent's first "drain" answer. */
#define DRAIN_GRACE_MS 100u

/* The inputs, every time in milliseconds on one monotonic clock. */
struct drain_input {
    bool agent;           /* --agent is set */
    uint64_t stop_ms;     /* when the stop signal was handled */
    bool answered;        /* the agent has answered "drain" at least once */
    uint64_t answered_ms; /* when it first did (if answered) */
    uint64_t now_ms;
    uint64_t timeout_ms; /* --drain-timeout */
};

enum drain_action {
    DRAIN_STOP_NOW, /* run the graceful stop at once */
    DRAIN_WAIT,     /* keep serving until *until_ms, then decide again */
};

/*
 * Decides whether the stop proceeds now. On DRAIN_WAIT, *until_ms is the
 * earliest time the answer can change without a new "drain" answer (the
 * time to arm a timer for); it is always later than now_ms.
 */
enum drain_action drain_decide(const struct drain_input *in,
                               uint64_t *until_ms);

#endif
