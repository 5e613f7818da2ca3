/*
 * The worker's clock tick: a periodic SIGALRM whose only job is to
 * interrupt a blocking call. A connection waits for its client inside a
 * plain blocking recv(), as an echo server does, with no timer of its own
 * (a receive timeout costs a kernel timer per wait, 6 % of the worker's
 * CPU on 16-byte pipelined requests); the tick bounds every such wait, so
 * the time rules of serve.c are looked at again at least every two ticks.
 * Two, not one: a tick landing just before the recv() is missed by it.
 */
#ifndef TCP_SERVER_TICK_H
#define TCP_SERVER_TICK_H

#include <stdint.h>

/* Starts a tick every period_ms (> 0). 0 or -errno. */
int tick_start(uint64_t period_ms);

#endif
