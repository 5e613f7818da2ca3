/*
 * cmocka assertions built on the harness: start a server or fail the test
 * with its stderr printed, and compare responses byte for byte with a
 * readable account of the difference. Only test code calls these; each
 * failure ends the current test through cmocka (the teardown still runs).
 */
#ifndef TCP_SERVER_TESTS_CHECK_H
#define TCP_SERVER_TESTS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* Starts a server (harness_start_server) or fails the test. */
struct harness_proc *check_start_server(struct harness *h,
                                        const char *const extra[]);

/* Connects to p's port or fails the test. */
int check_connect(struct harness *h, const struct harness_proc *p);

/* Reads one response and fails the test unless it is exactly want. */
void check_response(int fd, const void *want, size_t want_len);

/* Sends one request, then check_response. */
void check_exchange(int fd, unsigned action, const void *in, size_t in_len,
                    const void *want, size_t want_len);

/*
 * Runs only the tests whose names match $TCP_SERVER_TEST_FILTER (a cmocka
 * pattern with * and ?), when set. Call at the start of main.
 */
void check_apply_filter(void);

/* Prints bytes with C escapes to stderr, at most max of them. */
void check_print_bytes(const char *label, const void *buf, size_t len,
                       size_t max);

/* Prints the captured stderr of p (for failure reports). */
void check_print_stderr(const struct harness_proc *p);

#endif
