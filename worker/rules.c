/*
 * The fairness rules (see rules.h). No I/O, no clock: every function is a
 * plain computation on what serve.c measured.
 */
#include "rules.h"

#include "metrics.h"

#define MS_PER_S 1000

const char *rules_reason_name(enum close_reason r)
{
    const char *name = metrics_close_name((size_t)r);

    if (name != NULL)
        return name;
    return r == CLOSE_NONE ? "none" : "unknown";
}

/* a + b, saturating at RULES_NEVER. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return b > RULES_NEVER - a ? RULES_NEVER : a + b;
}

uint64_t rules_idle_deadline(const struct rules_limits *l,
                             const struct rules_conn *c)
{
    return l->idle_ms == 0 ? RULES_NEVER : add_sat(c->last_io_ms, l->idle_ms);
}

uint64_t rules_stall_deadline(const struct rules_limits *l,
                              const struct rules_conn *c)
{
    return l->keepalive_ms == 0 ? RULES_NEVER
                                : add_sat(c->last_io_ms, l->keepalive_ms);
}

uint64_t rules_slow_deadline(const struct rules_limits *l,
                             const struct rules_conn *c)
{
    uint64_t earned;

    if (l->min_rate == 0 || !c->in_exchange)
        return RULES_NEVER;
    /* Every min_rate bytes buy one more second; no overflow below 2^54. */
    earned = c->exch_bytes > (RULES_NEVER / MS_PER_S)
                 ? RULES_NEVER
                 : c->exch_bytes * MS_PER_S / l->min_rate;
    return add_sat(add_sat(c->exch_start_ms, RULES_MIN_RATE_GRACE_MS), earned);
}

enum close_reason rules_due(const struct rules_limits *l,
                            const struct rules_conn *c, bool waiting,
                            uint64_t now)
{
    if (waiting && now >= rules_stall_deadline(l, c))
        return CLOSE_KEEPALIVE;
    if (now >= rules_slow_deadline(l, c))
        return CLOSE_SLOW;
    if (now >= rules_idle_deadline(l, c))
        return CLOSE_IDLE;
    return CLOSE_NONE;
}

bool rules_watch_waiters(const struct rules_limits *l,
                         const struct rules_conn *c, uint64_t now)
{
    return now >= rules_stall_deadline(l, c);
}

uint64_t rules_next(const struct rules_limits *l, const struct rules_conn *c,
                    bool waiting, uint64_t now)
{
    uint64_t at = rules_idle_deadline(l, c);
    uint64_t slow = rules_slow_deadline(l, c);
    uint64_t stall = rules_stall_deadline(l, c);

    if (slow < at)
        at = slow;
    /* Past it and nobody waiting: the listener, not a timer, wakes us. */
    if (stall < at && (waiting || now < stall))
        at = stall;
    return at;
}

uint64_t rules_tick_ms(const struct rules_limits *l)
{
    const uint64_t per_limit = 2 * (uint64_t)RULES_TICKS_PER_WAIT;
    uint64_t ms = RULES_TICK_MAX_MS;

    if (l->idle_ms > 0 && l->idle_ms / per_limit < ms)
        ms = l->idle_ms / per_limit;
    if (l->keepalive_ms > 0 && l->keepalive_ms / per_limit < ms)
        ms = l->keepalive_ms / per_limit;
    return ms;
}
