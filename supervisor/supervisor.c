/*
 * The supervisor's state machine (see supervisor.h). Every decision is taken
 * on the loop thread, in a libuv callback: signals arrive through
 * uv_signal_t (the handlers stay installed, so a second ctrl-c escalates
 * instead of killing the supervisor), workers are reaped by libuv and
 * reported through their exit callbacks, and every start goes through the
 * slot's timer, with a delay of 0 for an immediate start and the back-off
 * delay after start-up failures.
 *
 * A slot serves when it has a ready worker of the current generation. A
 * reload (SIGHUP) bumps the generation; each slot then starts a worker of
 * the new generation and, once that one is ready, sends SIGTERM to the
 * slot's older workers ("retiring" them). Exits of retiring workers, and of
 * any worker after a stop began, never cause a start.
 */
#include "supervisor.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "backoff.h"
#include "child.h"
#include "drain_phase.h"
#include "log.h"
#include "metrics.h"
#include "stats_shm.h"
#include "sup_metrics.h"
#include "sup_types.h"
#include "worker_cmd.h"

/* Saturation of the failure counter; the delay is capped long before. */
#define FAILURES_MAX 1000u

static void slot_timer_cb(uv_timer_t *timer);
static void finish(struct supervisor *sup);

/* Workers are kept serving (and respawned) in these states. */
static bool serving(const struct supervisor *sup)
{
    return sup->state == SUP_RUNNING || sup->state == SUP_DRAINING;
}

/*
 * Closes the listener: new connects are refused from now on (the workers
 * drop their copies as their stop signal arrives, see worker/stop.h). The
 * one place where the supervisor lets go of it; under socket activation
 * this closes our descriptor only, the service manager keeps its own.
 */
static void release_listener(struct supervisor *sup)
{
    if (sup->listen_fd < 0)
        return;
    if (close(sup->listen_fd) < 0)
        log_warn("closing the listening socket");
    else
        log_debug("listening socket closed");
    sup->listen_fd = -1;
}

static const char *signal_name(int signum)
{
    switch (signum) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    case SIGKILL:
        return "SIGKILL";
    default:
        return "signal";
    }
}

static void list_insert(struct supervisor *sup, struct worker *w)
{
    w->prev = NULL;
    w->next = sup->workers;
    if (sup->workers != NULL)
        sup->workers->prev = w;
    sup->workers = w;
    sup->live++;
}

static void list_remove(struct supervisor *sup, struct worker *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        sup->workers = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    sup->live--;
}

static void worker_signal(struct worker *w, int signum)
{
    int r = child_kill(&w->child, signum);

    /* -ESRCH: it is exiting and its exit callback is on its way. */
    if (r < 0 && r != -ESRCH)
        log_warnx("cannot send %s to worker %d: %s", signal_name(signum),
                  w->child.pid, uv_strerror(r));
    else if (r == 0)
        log_debug("sent %s to worker %d (slot %u)", signal_name(signum),
                  w->child.pid, w->slot->index);
}

/* True when the slot has no worker of the current generation on its way. */
static bool slot_needs_worker(const struct slot *s)
{
    const struct supervisor *sup = s->sup;

    for (const struct worker *w = sup->workers; w != NULL; w = w->next) {
        if (w->slot == s && !w->retiring && w->generation == sup->generation)
            return false;
    }
    return true;
}

/* Arms the slot's timer for its next start, after the back-off delay. */
static void slot_schedule(struct slot *s)
{
    unsigned delay = backoff_delay_ms(s->failures);
    int r;

    if (!serving(s->sup))
        return;
    if (delay > 0)
        log_warnx("slot %u: %u consecutive start-up failure%s, next start "
                  "in %u ms",
                  s->index, s->failures, s->failures == 1 ? "" : "s", delay);
    r = uv_timer_start(&s->timer, slot_timer_cb, delay, 0);
    if (r < 0)
        log_error("slot %u: cannot arm respawn timer: %s", s->index,
                  uv_strerror(r));
}

static void count_failure(struct slot *s)
{
    if (s->failures < FAILURES_MAX)
        s->failures++;
}

/* Sends SIGTERM to the slot's workers that w, now ready, replaces. */
static void retire_older(struct slot *s, const struct worker *w)
{
    struct supervisor *sup = s->sup;

    for (struct worker *o = sup->workers; o != NULL; o = o->next) {
        if (o->slot != s || o == w || o->retiring ||
            o->generation >= w->generation)
            continue;
        o->retiring = true;
        sup->restarts[METRICS_RESTART_RELOAD]++;
        log_info("worker %d (slot %u) replaced by worker %d: stopping it",
                 o->child.pid, s->index, w->child.pid);
        worker_signal(o, SIGTERM);
    }
}

/* Slots with a ready worker of the current generation. */
static unsigned ready_slots(const struct supervisor *sup)
{
    unsigned n = 0;

    for (unsigned i = 0; i < sup->cfg->workers; i++) {
        for (const struct worker *w = sup->workers; w != NULL; w = w->next) {
            if (w->slot == &sup->slots[i] && w->child.ready && !w->retiring &&
                w->generation == sup->generation) {
                n++;
                break;
            }
        }
    }
    return n;
}

/* Tells systemd (notify.h) after anything that may change ready_slots. */
static void notify_state(const struct supervisor *sup)
{
    notify_restarts(sup->cfg->notify,
                    (unsigned long)(sup->restarts[METRICS_RESTART_CRASH] +
                                    sup->restarts[METRICS_RESTART_STARTUP]));
    notify_workers(sup->cfg->notify, ready_slots(sup));
}

static void worker_ready_cb(struct child *c)
{
    struct worker *w = c->data;
    struct slot *s = w->slot;

    s->failures = 0;
    log_info("worker %d ready (slot %u)", c->pid, s->index);
    if (serving(s->sup) && !w->retiring)
        retire_older(s, w);
    notify_state(s->sup);
}

static void exit_while_running(struct worker *w, const char *how, bool clean)
{
    struct slot *s = w->slot;
    struct supervisor *sup = s->sup;
    const struct child *c = &w->child;

    if (w->retiring) {
        if (clean)
            log_info("worker %d (slot %u) %s after its replacement", c->pid,
                     s->index, how);
        else
            log_warnx("worker %d (slot %u) %s after its replacement", c->pid,
                      s->index, how);
    } else {
        log_error("worker %d %s in slot %u%s", c->pid, how, s->index,
                  c->ready ? "" : " before it became ready");
        sup->restarts[c->ready ? METRICS_RESTART_CRASH
                               : METRICS_RESTART_STARTUP]++;
        /* Only the newest generation's failures slow the slot's starts. */
        if (c->ready)
            s->failures = 0;
        else if (w->generation == sup->generation)
            count_failure(s);
    }
    /* An armed timer already holds the next start (and its delay). */
    if (slot_needs_worker(s) && !uv_is_active((uv_handle_t *)&s->timer))
        slot_schedule(s);
}

static void worker_exit_cb(struct child *c, int64_t status, int term_signal)
{
    struct worker *w = c->data;
    struct supervisor *sup = w->slot->sup;
    bool clean = status == 0 && term_signal == 0;
    char how[64];

    child_describe_exit(status, term_signal, how, sizeof(how));
    list_remove(sup, w);
    /* Reaped: the block is final until the next worker adds to it. */
    stats_shm_give_back(&sup->shm, w->block);
    if (serving(sup)) {
        exit_while_running(w, how, clean);
        notify_state(sup);
        return;
    }
    notify_state(sup);
    /*
     * Dying of the forwarded signal itself is expected (a worker that had
     * not installed its handlers yet); anything else but 0 is worth a warning.
     */
    if (sup->state == SUP_STOPPING && !clean && term_signal != sup->stop_signal)
        log_warnx("worker %d (slot %u) %s while stopping", c->pid,
                  w->slot->index, how);
    else
        log_info("worker %d (slot %u) %s", c->pid, w->slot->index, how);
    if (sup->live == 0)
        finish(sup);
}

static void worker_closed_cb(struct child *c)
{
    free(c->data);
}

/*
 * Starts one worker of the current generation in slot s. 0 or a negative
 * errno (nothing started).
 */
static int worker_start(struct slot *s)
{
    struct supervisor *sup = s->sup;
    struct worker_cmd cmd = sup->cfg->worker;
    struct worker_argv args;
    struct worker *w;
    int r;

    memset(&args, 0, sizeof(args));
    cmd.listen_fd = WORKER_CMD_LISTEN_FD;
    cmd.ready_fd = WORKER_CMD_READY_FD;
    cmd.parent_pid = (long)getpid();
    cmd.slot = s->index;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->block = sup_lend_block(sup, &cmd);
    r = worker_cmd_build(&cmd, sup->path, &args);
    if (r < 0) {
        stats_shm_give_back(&sup->shm, w->block);
        free(w);
        return r;
    }
    w->slot = s;
    w->generation = sup->generation;
    w->child.data = w;
    w->child.ready_cb = worker_ready_cb;
    w->child.exit_cb = worker_exit_cb;
    w->child.closed_cb = worker_closed_cb;

    r = child_spawn(&w->child, &sup->loop, sup->path, args.argv, sup->listen_fd,
                    sup->shm.fd);
    if (r < 0) {
        stats_shm_give_back(&sup->shm, w->block);
        /* Otherwise worker_closed_cb frees it once its handles are closed. */
        if (child_is_closed(&w->child))
            free(w);
        return r;
    }
    list_insert(sup, w);
    log_info("worker %d started (slot %u, generation %u)", w->child.pid,
             s->index, w->generation);

    /*
     * Signals are dispatched between callbacks, never during uv_spawn, but
     * a worker must never outlive a stop that began before it existed.
     */
    if (sup->state == SUP_STOPPING)
        worker_signal(w, sup->stop_signal);
    else if (sup->state == SUP_FORCED)
        worker_signal(w, SIGKILL);
    return 0;
}

/* A start that failed in uv_spawn counts as a start-up failure. */
static void start_failed(struct slot *s, int err)
{
    log_error("cannot start worker %s (slot %u): %s", s->sup->path, s->index,
              uv_strerror(err));
    s->sup->restarts[METRICS_RESTART_STARTUP]++;
    count_failure(s);
    slot_schedule(s);
}

static void slot_timer_cb(uv_timer_t *timer)
{
    struct slot *s = timer->data;
    int r;

    if (!serving(s->sup) || !slot_needs_worker(s))
        return;
    r = worker_start(s);
    if (r < 0)
        start_failed(s, r);
}

static void force_stop(struct supervisor *sup, const char *why)
{
    sup->state = SUP_FORCED;
    sup->exit_status = SUPERVISOR_EXIT_FORCED;
    uv_timer_stop(&sup->shutdown_timer);
    drain_phase_cancel(&sup->drain);
    release_listener(sup);
    log_error("%s: forced shutdown, killing %u worker%s", why, sup->live,
              sup->live == 1 ? "" : "s");
    for (struct worker *w = sup->workers; w != NULL; w = w->next)
        worker_signal(w, SIGKILL);
    if (sup->live == 0)
        finish(sup);
}

static void shutdown_timer_cb(uv_timer_t *timer)
{
    struct supervisor *sup = timer->data;
    char why[80];

    snprintf(why, sizeof(why), "shutdown timeout (%g s) expired",
             sup->cfg->worker.shutdown_timeout);
    force_stop(sup, why);
}

static void begin_stop(struct supervisor *sup, int signum)
{
    double ms = sup->cfg->worker.shutdown_timeout * 1000.0;
    int r;

    sup->state = SUP_STOPPING;
    sup->stop_signal = signum;
    sup->exit_status = SUPERVISOR_EXIT_OK;
    release_listener(sup);
    for (unsigned i = 0; i < sup->cfg->workers; i++)
        uv_timer_stop(&sup->slots[i].timer);
    log_info("%s received: stopping %u worker%s", signal_name(signum),
             sup->live, sup->live == 1 ? "" : "s");
    for (struct worker *w = sup->workers; w != NULL; w = w->next)
        worker_signal(w, signum);
    if (sup->live == 0) {
        finish(sup);
        return;
    }
    if (ms > 0) {
        /* Round up so a tiny timeout still waits at least a millisecond. */
        r = uv_timer_start(&sup->shutdown_timer, shutdown_timer_cb,
                           (uint64_t)ms + 1, 0);
        if (r < 0)
            log_error("cannot arm shutdown timer: %s", uv_strerror(r));
    }
}

static void drain_done_cb(struct drain_phase *d)
{
    struct supervisor *sup = d->data;

    begin_stop(sup, sup->stop_signal);
}

/* A stop signal while running: drain first (nothing waits without agent). */
static void begin_drain(struct supervisor *sup, int signum)
{
    sup->state = SUP_DRAINING;
    sup->stop_signal = signum;
    notify_stopping(sup->cfg->notify);
    drain_phase_begin(&sup->drain);
}

static void stop_signal_cb(uv_signal_t *handle, int signum)
{
    struct supervisor *sup = handle->data;
    char why[64];

    switch (sup->state) {
    case SUP_RUNNING:
        begin_drain(sup, signum);
        break;
    case SUP_DRAINING:
    case SUP_STOPPING:
        snprintf(why, sizeof(why), "second stop signal (%s)",
                 signal_name(signum));
        force_stop(sup, why);
        break;
    case SUP_FORCED:
        log_info("%s ignored: already killing the workers",
                 signal_name(signum));
        break;
    }
}

static void reload_signal_cb(uv_signal_t *handle, int signum)
{
    struct supervisor *sup = handle->data;

    (void)signum;
    if (sup->state != SUP_RUNNING) {
        log_info("SIGHUP ignored: shutting down");
        return;
    }
    sup->generation++;
    log_info("SIGHUP received: reloading (generation %u)", sup->generation);
    notify_reloading(sup->cfg->notify);
    /*
     * Start at once, even in a slot that is backing off: a reload is the
     * operator's request. A failure keeps the count and backs off again.
     */
    for (unsigned i = 0; i < sup->cfg->workers; i++)
        uv_timer_start(&sup->slots[i].timer, slot_timer_cb, 0, 0);
}

static void close_handle(uv_handle_t *h)
{
    /* h->loop is set by every uv_*_init; the struct starts zeroed. */
    if (h->loop != NULL && !uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_handles(struct supervisor *sup)
{
    close_handle((uv_handle_t *)&sup->sigint);
    close_handle((uv_handle_t *)&sup->sigterm);
    close_handle((uv_handle_t *)&sup->sighup);
    close_handle((uv_handle_t *)&sup->shutdown_timer);
    drain_phase_close(&sup->drain);
    for (unsigned i = 0; sup->slots != NULL && i < sup->cfg->workers; i++)
        close_handle((uv_handle_t *)&sup->slots[i].timer);
    metrics_http_close(&sup->http);
}

/* Every worker is reaped: close the handles so that uv_run returns. */
static void finish(struct supervisor *sup)
{
    sigset_t set;

    /*
     * Closing the last uv_signal_t restores the default actions; a late
     * ctrl-c must not kill us with a signal instead of our exit status.
     * The blocked signals are discarded when the process exits.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    log_info("all workers have exited");
    close_handles(sup);
}

static int start_signal(struct supervisor *sup, uv_signal_t *h, uv_signal_cb cb,
                        int signum)
{
    int r = uv_signal_init(&sup->loop, h);

    if (r < 0)
        return r;
    h->data = sup;
    return uv_signal_start(h, cb, signum);
}

/*
 * With the handlers in place, signals held since main() (or blocked by
 * whoever started us) are delivered: the mask becomes empty, whatever was
 * inherited. 0 or a negative errno.
 */
static int release_signals(void)
{
    sigset_t none;

    sigemptyset(&none);
    return -pthread_sigmask(SIG_SETMASK, &none, NULL);
}

static int init_handles(struct supervisor *sup)
{
    int r;

    for (unsigned i = 0; i < sup->cfg->workers; i++) {
        struct slot *s = &sup->slots[i];

        s->sup = sup;
        s->index = i;
        r = uv_timer_init(&sup->loop, &s->timer);
        if (r < 0)
            return r;
        s->timer.data = s;
    }
    r = uv_timer_init(&sup->loop, &sup->shutdown_timer);
    if (r < 0)
        return r;
    sup->shutdown_timer.data = sup;
    r = start_signal(sup, &sup->sigint, stop_signal_cb, SIGINT);
    if (r == 0)
        r = start_signal(sup, &sup->sigterm, stop_signal_cb, SIGTERM);
    if (r == 0)
        r = start_signal(sup, &sup->sighup, reload_signal_cb, SIGHUP);
    if (r == 0)
        r = release_signals();
    return r;
}

/*
 * Starts every slot. The first start failing is fatal (the binary cannot be
 * run at all); a later slot failing backs off and retries like a respawn.
 */
static int start_slots(struct supervisor *sup, char *err, size_t errlen)
{
    int r = worker_start(&sup->slots[0]);

    if (r < 0) {
        snprintf(err, errlen, "cannot start worker %s: %s", sup->path,
                 uv_strerror(r));
        return r;
    }
    for (unsigned i = 1; i < sup->cfg->workers; i++) {
        r = worker_start(&sup->slots[i]);
        if (r < 0)
            start_failed(&sup->slots[i], r);
    }
    return 0;
}

static int setup(struct supervisor *sup, char *err, size_t errlen)
{
    int r;

    if (snprintf(sup->path, sizeof(sup->path), "%s", sup->cfg->worker_path) >=
        (int)sizeof(sup->path)) {
        snprintf(err, errlen, "worker path too long: %s",
                 sup->cfg->worker_path);
        return -ENAMETOOLONG;
    }
    sup->slots = calloc(sup->cfg->workers, sizeof(*sup->slots));
    if (sup->slots == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r = init_handles(sup);
    if (r < 0) {
        snprintf(err, errlen, "cannot set up the event loop: %s",
                 uv_strerror(r));
        return r;
    }
    sup->drain.done_cb = drain_done_cb;
    sup->drain.data = sup;
    r = drain_phase_init(&sup->drain, &sup->loop, sup->cfg->agent_fd,
                         sup->cfg->drain_timeout, err, errlen);
    if (r < 0)
        return r;
    r = sup_start_metrics(sup, err, errlen);
    if (r < 0)
        return r;
    return start_slots(sup, err, errlen);
}

int supervisor_run(const struct supervisor_config *cfg, char *err,
                   size_t errlen)
{
    struct supervisor *sup;
    int r, status;

    /* On the heap: path[PATH_MAX] makes the struct large for a stack. */
    sup = cfg->workers > 0 ? calloc(1, sizeof(*sup)) : NULL;
    if (sup == NULL) {
        snprintf(err, errlen, "%s",
                 cfg->workers > 0 ? "out of memory" : "no worker slots");
        (void)close(cfg->listen_fd); /* ours whatever happens */
        return cfg->workers > 0 ? -ENOMEM : -EINVAL;
    }
    sup->cfg = cfg;
    sup->listen_fd = cfg->listen_fd;
    sup->shm.fd = -1;
    sup->state = SUP_RUNNING;
    sup->generation = 1;

    r = uv_loop_init(&sup->loop);
    if (r < 0) {
        snprintf(err, errlen, "cannot create the event loop: %s",
                 uv_strerror(r));
        release_listener(sup);
        free(sup);
        return r;
    }
    r = setup(sup, err, errlen);
    if (r < 0)
        close_handles(sup); /* nothing started: only closes remain */
    /* Returns once every handle is closed, after finish() or the above. */
    uv_run(&sup->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&sup->loop) < 0)
        log_warnx("event loop still had open handles at exit");

    status = r < 0 ? r : sup->exit_status;
    release_listener(sup);
    stats_shm_close(&sup->shm);
    free(sup->slots);
    free(sup);
    return status;
}
