/*
 * The respawn delay policy of the supervisor, as a pure function so that it
 * can be unit tested without processes or timers. A worker that exits
 * before it became ready is a start-up failure; consecutive start-up
 * failures wait longer and longer before the next attempt, so a worker that
 * cannot start never makes the supervisor spin.
 */
#ifndef TCP_SERVER_BACKOFF_H
#define TCP_SERVER_BACKOFF_H

/* The first delay after one start-up failure, in milliseconds. */
#define BACKOFF_BASE_MS 50u
/* No delay ever exceeds this, in milliseconds. */
#define BACKOFF_CAP_MS 5000u

/*
 * Returns how long to wait before the next start after the given number of
 * consecutive start-up failures: 0 failures -> 0 ms (start at once), 1 ->
 * 50 ms, then doubling (100, 200, ...) up to BACKOFF_CAP_MS, which every
 * larger count also gets.
 */
unsigned backoff_delay_ms(unsigned consecutive_failures);

#endif
