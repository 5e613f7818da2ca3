/*
 * What a test needs to hold before it goes on, as cmocka assertions: a
 * server started and answering (else the test fails with its stderr
 * printed), a connection, and responses equal byte for byte to the expected
 * ones (else a readable account of the difference). Only test code calls
 * these; each failure ends the current test through cmocka (the teardown
 * still runs).
 */
#ifndef TCP_SERVER_TESTS_ENSURE_H
#define TCP_SERVER_TESTS_ENSURE_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* Starts a server (harness_start_server) or fails the test. */
struct harness_proc *ensure_start_server(struct harness *h,
                                         const char *const extra[]);

/* Connects to p's port or fails the test. */
int ensure_connect(struct harness *h, const struct harness_proc *p);

/* Fails the test unless p (reaped) exited normally with status want. */
void ensure_exit_status(const struct harness_proc *p, int want);

/* Reads one response and fails the test unless it is exactly want. */
void ensure_response(int fd, const void *want, size_t want_len);

/* Sends one request, then ensure_response. */
void ensure_exchange(int fd, unsigned action, const void *in, size_t in_len,
                     const void *want, size_t want_len);

/* ensure_exchange on a connection of its own to p, closed afterwards. */
void ensure_exchange_once(struct harness *h, const struct harness_proc *p,
                          unsigned action, const void *in, size_t in_len,
                          const void *want, size_t want_len);

/* Prints bytes with C escapes to stderr, at most max of them. */
void ensure_print_bytes(const char *label, const void *buf, size_t len,
                        size_t max);

#endif
