/*
 * The fairness rules of one connection (DESIGN.md section 7) as pure
 * functions of time, counters and limits: which rule closes a connection
 * now, and the deadlines at which one might. serve.c measures, this module
 * decides, so tests/unit/test_rules.c checks every decision without a
 * socket or a clock.
 */
#ifndef TCP_SERVER_RULES_H
#define TCP_SERVER_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "wstats.h"

/* A deadline that never comes. */
#define RULES_NEVER UINT64_MAX

/* A blocking wait lasts at most this many ticks (worker/tick.h): a tick
 * landing just before the wait is missed by it. */
#define RULES_TICKS_PER_WAIT 2
/* The longest tick period. */
#define RULES_TICK_MAX_MS 15000

/* The minimum-rate rule only starts this long into an exchange. */
#define RULES_MIN_RATE_GRACE_MS 10000

/*
 * Why a connection ended: the reasons the metrics count (wstats.h, so a
 * reason is its counter's index), plus CLOSE_NONE, "keep going", never
 * the result of a finished connection.
 */
enum close_reason {
    CLOSE_CLIENT = WSTATS_CLOSE_CLIENT, /* the client closed or reset it */
    CLOSE_IDLE = WSTATS_CLOSE_IDLE,     /* --idle-timeout */
    /* --keepalive-timeout while others wait (or a stop) */
    CLOSE_KEEPALIVE = WSTATS_CLOSE_KEEPALIVE,
    CLOSE_SLOW = WSTATS_CLOSE_SLOW, /* --min-rate */
    /* the worker could not go on (memory, poll) */
    CLOSE_ERROR = WSTATS_CLOSE_ERROR,
    CLOSE_SHUTDOWN = WSTATS_CLOSE_SHUTDOWN, /* a graceful stop ended it */
    CLOSE_NONE = WSTATS_CLOSE_N,
};

/* The label of a reason ("client", "idle", ...; "none" for CLOSE_NONE). */
const char *rules_reason_name(enum close_reason r);

/* The limits, in milliseconds and bytes per second; 0 turns a rule off. */
struct rules_limits {
    uint64_t idle_ms;
    uint64_t keepalive_ms;
    uint64_t min_rate;
};

/* What the rules look at in a connection. */
struct rules_conn {
    uint64_t last_io_ms;    /* last byte moved in either direction */
    bool in_exchange;       /* a request partly received or answer unsent */
    uint64_t exch_start_ms; /* first byte of the exchange (in_exchange) */
    uint64_t exch_bytes;    /* bytes moved both ways since exch_start_ms */
};

/* --idle-timeout: no byte for idle_ms. RULES_NEVER when off. */
uint64_t rules_idle_deadline(const struct rules_limits *l,
                             const struct rules_conn *c);

/* --keepalive-timeout: no byte for keepalive_ms; it closes only while
 * others wait. RULES_NEVER when off. */
uint64_t rules_stall_deadline(const struct rules_limits *l,
                              const struct rules_conn *c);

/*
 * --min-rate, as mod_reqtimeout computes it: exchange start + 10 s + bytes
 * moved during the exchange / min-rate. RULES_NEVER when off or when no
 * exchange is under way.
 */
uint64_t rules_slow_deadline(const struct rules_limits *l,
                             const struct rules_conn *c);

/*
 * The rule that closes the connection at now, or CLOSE_NONE. waiting: other
 * clients wait for a worker (or the server is stopping). When several are
 * due, keepalive (others need the worker) comes before min-rate, then idle.
 */
enum close_reason rules_due(const struct rules_limits *l,
                            const struct rules_conn *c, bool waiting,
                            uint64_t now);

/*
 * True when the stall has lasted long enough that the keepalive rule would
 * close the connection if others waited: only then is it worth asking
 * whether they do.
 */
bool rules_watch_waiters(const struct rules_limits *l,
                         const struct rules_conn *c, uint64_t now);

/*
 * The earliest time at which rules_due() or rules_watch_waiters() may change
 * their answer, or RULES_NEVER. waiting as for rules_due(). A deadline that
 * has already passed without effect (the stall deadline with nobody
 * waiting) is left out, so a poll() on it never spins.
 */
uint64_t rules_next(const struct rules_limits *l, const struct rules_conn *c,
                    bool waiting, uint64_t now);

/*
 * The tick period that lets a connection wait inside a blocking recv()
 * between requests: a wait (RULES_TICKS_PER_WAIT ticks) lasts half the
 * shortest of the idle and keepalive limits at most, so a rule always
 * comes due in poll(), with its exact timeout. 0 when the limits are too
 * short for any blocking wait.
 */
uint64_t rules_tick_ms(const struct rules_limits *l);

#endif
