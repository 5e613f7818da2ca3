/*
 * The supervisor's state machine: one event loop that keeps -w N worker
 * slots filled, respawns crashed workers (with back-off for workers that
 * never became ready), reloads on SIGHUP and shuts down on SIGINT/SIGTERM.
 *
 *   RUNNING --SIGINT/SIGTERM--> [DRAINING] --> STOPPING --2nd signal or
 *                                                         timeout--> FORCED
 *
 * RUNNING keeps every slot served. DRAINING (only with an agent) serves as
 * RUNNING does while the agent tells the balancer "drain" (drain.h says how
 * long). STOPPING closes the listener, forwards the stop signal to every
 * worker, starts nothing, and ends with status 0 once all have exited. A
 * second stop signal in DRAINING or STOPPING forces.
 * FORCED kills every worker (SIGKILL), waits until all are reaped and ends
 * with status 3.
 */
#ifndef TCP_SERVER_SUPERVISOR_H
#define TCP_SERVER_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify.h"
#include "metrics.h"
#include "worker_cmd.h"

/* Exit status after a graceful shutdown, and after a forced one. */
#define SUPERVISOR_EXIT_OK     0
#define SUPERVISOR_EXIT_FORCED 3

struct supervisor_config {
    const char *worker_path; /* exec'd again at every start (see reload) */
    /*
     * The listener (WORKER_CMD_LISTEN_FD in workers). supervisor_run owns
     * it: it is closed as the graceful stop begins (so new connects are
     * refused at once) or, at the latest, before supervisor_run returns.
     */
    int listen_fd;
    unsigned workers; /* number of slots, >= 1 */
    /* The agent-check listener (--agent), owned by supervisor_run; -1 for
     * none. */
    int agent_fd;
    double drain_timeout; /* seconds; with an agent only */
    /* The metrics listener (net_listen's), owned and closed by
     * supervisor_run; -1 without --metrics. */
    int metrics_fd;
    /*
     * The options every worker is started with; the supervisor fills in
     * the descriptors, its own pid and the slot. worker.shutdown_timeout
     * is the supervisor's too: 0 waits for the workers forever.
     */
    struct worker_cmd worker;
    /* Readiness and state for systemd (notify.h), or NULL. */
    struct notify *notify;
};

/*
 * Starts the workers and runs the event loop until the shutdown completes,
 * closing every handle it opened. Returns SUPERVISOR_EXIT_OK or
 * SUPERVISOR_EXIT_FORCED; or, when the first worker cannot be started at all
 * (or the loop cannot be set up), a negative errno with a one-line message in
 * err, in which case no worker is left running.
 */
int supervisor_run(const struct supervisor_config *cfg, char *err,
                   size_t errlen);

struct supervisor;

/*
 * The numbers the metrics report, taken now: workers by state, restarts,
 * generation, the workers' counters summed over their shared blocks, and
 * the process figures. For any other report of the same numbers (a systemd
 * STATUS= line); call it from the loop thread.
 */
void supervisor_metrics(const struct supervisor *sup,
                        struct metrics_snapshot *m);

#endif
