/*
 * A worker's counters as they lie in memory shared with the supervisor
 * (DESIGN.md section 10): one cache-line-aligned block per worker, in a
 * memfd the supervisor creates and both map. The block has exactly one
 * writer, the worker it was lent to; the supervisor only reads. No lock is
 * shared: the writer adds with a relaxed atomic load and store (one plain
 * aligned 64-bit store on x86-64, no bus lock), so a worker killed at any
 * instant leaves every counter either before or after its last update,
 * never torn, and never wedges anyone.
 *
 * Counters only grow. A block outlives its worker: the next worker lent the
 * same block adds to what its predecessors left, so totals summed over all
 * blocks never go backwards across a respawn.
 */
#ifndef TCP_SERVER_WSTATS_H
#define TCP_SERVER_WSTATS_H

#include <stdint.h>

#define WSTATS_ALIGN 64

/*
 * Blocks per worker slot: a slot has one worker, and briefly more while a
 * reload lets the old ones finish their clients.
 */
#define WSTATS_PER_SLOT 4

/* Why a connection ended, in the order of the metric's labels. */
enum wstats_close {
    WSTATS_CLOSE_CLIENT,    /* the client closed or reset it */
    WSTATS_CLOSE_IDLE,      /* --idle-timeout */
    WSTATS_CLOSE_KEEPALIVE, /* --keepalive-timeout while others waited */
    WSTATS_CLOSE_SLOW,      /* below --min-rate */
    WSTATS_CLOSE_ERROR,     /* an I/O or memory error */
    WSTATS_CLOSE_SHUTDOWN,  /* a graceful stop ended it */
    WSTATS_CLOSE_N
};

/* The action of a request, in the order of the metric's labels. */
enum wstats_action {
    WSTATS_UPPERCASE,
    WSTATS_LOWERCASE,
    WSTATS_REVERSE,
    WSTATS_SHUFFLE,
    WSTATS_RANDOM,
    WSTATS_INVALID,
    WSTATS_ACTION_N
};

/* One worker's block: a whole number of cache lines, so no two workers
 * ever write to the same line. */
struct wstats {
    _Alignas(WSTATS_ALIGN) uint64_t connections; /* accepted */
    uint64_t closed[WSTATS_CLOSE_N];
    uint64_t requests[WSTATS_ACTION_N];
    uint64_t received_bytes, sent_bytes;
    /* A gauge, not a counter: 1 while the worker serves a client. */
    uint64_t busy;
};

_Static_assert(sizeof(struct wstats) % WSTATS_ALIGN == 0,
               "a block is a whole number of cache lines");

/* Adds n to a counter of the caller's own block (single writer). */
static inline void wstats_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}

/* Sets a gauge of the caller's own block. */
static inline void wstats_set(uint64_t *gauge, uint64_t v)
{
    __atomic_store_n(gauge, v, __ATOMIC_RELAXED);
}

/* Reads a counter of any block (the supervisor's side). */
static inline uint64_t wstats_read(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

#endif
