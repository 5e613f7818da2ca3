/*
 * The worker's stop signals (SIGINT, SIGTERM, SIGHUP) without lost wake-ups.
 * The handler only sets a flag, writes a byte to a self-pipe and, once the
 * listener is armed, dup2()s the pipe over the listening descriptor. So:
 * a signal during a blocking accept() interrupts it (no SA_RESTART); one
 * landing between the flag check and accept() makes accept() fail at once
 * (ENOTSOCK) instead of blocking; and one landing before poll() in a
 * connection leaves the pipe readable, so poll() returns at once.
 * A connection waits for its client inside a blocking recv(), like an
 * echo server, instead of poll() then recv(): one system call less per
 * batch of requests. Before that recv() the connection loop writes the
 * socket into the slot of stop_conn_slot() and then checks the flag; the
 * handler makes a socket it finds there non-blocking. So a signal during
 * the recv() interrupts it (EINTR), and one landing between the check and
 * the recv() makes the recv() return EAGAIN at once.
 * The dup2() also drops the worker's reference to the listening socket the
 * moment the signal lands, even mid-exchange: once the supervisor has
 * closed its own, new connects are refused (DESIGN.md section 4).
 */
#ifndef TCP_SERVER_STOP_H
#define TCP_SERVER_STOP_H

#include <signal.h>
#include <stdbool.h>

/* Creates the self-pipe and installs the handlers. 0 or -errno. */
int stop_init(void);

/* After this, a stop signal also disarms listen_fd (see above). */
void stop_arm_listener(int listen_fd);

/* The slot for a connection about to block in recv() (see above); -1 when
 * none. */
volatile sig_atomic_t *stop_conn_slot(void);

/* The first stop signal received, or 0. Idempotent: repeats are ignored. */
int stop_requested(void);

/* The flag behind stop_requested(), for code that is handed the stop state
 * instead of calling this module (struct serve_stop). */
const volatile sig_atomic_t *stop_flag(void);

/* The read end of the self-pipe: readable once a stop signal arrived. */
int stop_fd(void);

#endif
