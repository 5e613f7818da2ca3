/*
 * The drain phase of a stop (see drain_phase.h). Every decision goes
 * through drain_decide(); this file only feeds it the loop's clock and the
 * agent's first "drain" answer, and arms the timer for its next look.
 */
#include "drain_phase.h"

#include <stdio.h>
#include <unistd.h>

#include "drain.h"
#include "log.h"

static void timer_cb(uv_timer_t *timer);

static void end_phase(struct drain_phase *d)
{
    d->active = false;
    uv_timer_stop(&d->timer);
    if (d->has_agent)
        log_info("drain %s: stopping",
                 d->answered ? "announced" : "timeout expired");
    d->done_cb(d);
}

/* Ends the phase now, or arms the timer for the next decision. */
static void check(struct drain_phase *d)
{
    struct drain_input in = {
        .agent = d->has_agent,
        .stop_ms = d->stop_ms,
        .answered = d->answered,
        .answered_ms = d->answered_ms,
        .now_ms = uv_now(d->loop),
        .timeout_ms = d->timeout_ms,
    };
    uint64_t until = 0;
    int r;

    if (drain_decide(&in, &until) == DRAIN_STOP_NOW) {
        end_phase(d);
        return;
    }
    r = uv_timer_start(&d->timer, timer_cb, until - in.now_ms, 0);
    if (r < 0) {
        log_error("cannot arm the drain timer: %s", uv_strerror(r));
        end_phase(d);
    }
}

static void timer_cb(uv_timer_t *timer)
{
    check(timer->data);
}

static void agent_drain_cb(struct agent *a)
{
    struct drain_phase *d = a->data;

    if (!d->active || d->answered)
        return;
    d->answered = true;
    d->answered_ms = uv_now(d->loop);
    log_info("agent answered drain");
    check(d);
}

int drain_phase_init(struct drain_phase *d, uv_loop_t *loop, int agent_fd,
                     double timeout_s, char *err, size_t errlen)
{
    int r;

    d->has_agent = agent_fd >= 0;
    d->timeout_ms = (uint64_t)(timeout_s * 1000.0);
    r = uv_timer_init(loop, &d->timer);
    if (r < 0) {
        if (d->has_agent)
            (void)close(agent_fd);
        snprintf(err, errlen, "cannot create the drain timer: %s",
                 uv_strerror(r));
        return r;
    }
    d->loop = loop; /* from here on drain_phase_close has work to do */
    d->timer.data = d;
    if (!d->has_agent)
        return 0;
    d->agent.drain_cb = agent_drain_cb;
    d->agent.data = d;
    return agent_start(&d->agent, loop, agent_fd, err, errlen);
}

void drain_phase_begin(struct drain_phase *d)
{
    d->active = true;
    d->answered = false;
    d->stop_ms = uv_now(d->loop);
    if (d->has_agent) {
        agent_set_drain(&d->agent);
        log_info("telling the balancer to drain (for up to %g s)",
                 (double)d->timeout_ms / 1000.0);
    }
    check(d);
}

void drain_phase_cancel(struct drain_phase *d)
{
    d->active = false;
    if (d->loop != NULL)
        uv_timer_stop(&d->timer);
}

void drain_phase_close(struct drain_phase *d)
{
    if (d->loop == NULL)
        return;
    if (!uv_is_closing((uv_handle_t *)&d->timer))
        uv_close((uv_handle_t *)&d->timer, NULL);
    agent_close(&d->agent);
}
