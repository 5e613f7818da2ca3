/*
 * Client processes of the supervision tests: loops forked from the test
 * that keep talking to the server (short connections, or one connection
 * with pipelined batches) while the test kills, stops or reloads it, an
 * uploader that holds a worker in the middle of a large exchange, and the
 * late first request of the first-byte grace. The forked clients report
 * through pipes and are ended by the teardown of sup_fixture.h. Functions
 * return 0 or a count on success and a negative errno on failure; the tests
 * make the assertions.
 */
#ifndef TCP_SERVER_TESTS_SUP_CLIENTS_H
#define TCP_SERVER_TESTS_SUP_CLIENTS_H

#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/*
 * The first-byte grace (DESIGN.md section 4): connects to p, waits until
 * worker accepted the connection, sends sig to p, waits late_ms, then sends
 * an uppercase request and reads its answer. Returns 0 when it was answered
 * correctly, else -errno; *fd is the connection (tracked by h, -1 if none)
 * and *elapsed_ms the time from the connect to the request being sent.
 * The grace runs from the worker's accept, so a caller can only blame the
 * server when *elapsed_ms stayed well under a second.
 */
int sup_late_first_request(struct harness *h, struct harness_proc *p,
                           pid_t worker, int sig, int late_ms, int *fd,
                           int64_t *elapsed_ms);

/*
 * Ends an attempt of sup_late_first_request that the machine was too slow
 * for (the request left too late to blame the server): says so, closes fd
 * and stops p (a cmocka assertion), so that the caller can retry with a
 * fresh server.
 */
void sup_late_retry(struct harness *h, struct harness_proc *p, int fd,
                    int attempt, int64_t elapsed_ms);

/* --- client processes -------------------------------------------------- */

enum sup_loop_mode {
    SUP_LOOP_SHORT,     /* connect, one request, check, close; repeat */
    SUP_LOOP_PERSISTENT /* one connection, pipelined batches; until failure */
};

/* What a client loop saw. */
struct sup_loop_result {
    uint64_t ok;       /* requests answered correctly */
    uint64_t refused;  /* connects refused (ECONNREFUSED) */
    uint64_t connfail; /* connects failing otherwise */
    uint64_t inflight; /* exchanges cut by a reset or close */
    uint64_t wrong;    /* answers that were not the expected bytes */
    uint64_t timeouts; /* exchanges with no answer in time */
    int first_err;     /* errno of the first failure, or 0 */
    unsigned port;     /* local port of the (first) connection */
};

struct sup_loop {
    pid_t pid;
    int ctl_fd; /* closing it asks the loop to stop */
    int res_fd; /* the loop's messages */
};

/*
 * Forks a client loop against 127.0.0.1:port. The child is tracked for
 * teardown (sup_track_helper). 0 or -errno.
 */
int sup_loop_start(struct harness *h, unsigned port, enum sup_loop_mode mode,
                   struct sup_loop *l);

/*
 * Waits until the loop has had its first answer and returns the local port
 * of that connection, or -errno (-EPIPE when the loop ended first).
 */
int sup_loop_wait_started(struct sup_loop *l, int timeout_ms);

/*
 * Asks the loop to stop, collects its result and reaps it (killing it if it
 * does not end within timeout_ms). 0 or -errno.
 */
int sup_loop_stop(struct sup_loop *l, struct sup_loop_result *res,
                  int timeout_ms);

/* Prints a loop result with print_message-like formatting to stdout. */
void sup_loop_print(const char *label, const struct sup_loop_result *r);

/*
 * cmocka assertions: no connect of the loop was refused or failed, and no
 * answer was wrong or late. Cut exchanges are the caller's to judge.
 */
void sup_loop_assert_clean(const struct sup_loop_result *r);

/*
 * An uppercase request of len bytes uploaded by a forked client that pauses
 * after pause_at data bytes once the response has started (so a worker is
 * in the middle of the exchange), keeps reading meanwhile, and on resume
 * sends the rest and checks the whole answer as it streams in.
 */
struct sup_upload {
    pid_t pid;
    int note_fd; /* the uploader says "paused" here, then its result */
    int go_fd;   /* closing it resumes the upload */
};

int sup_upload_start(struct harness *h, unsigned port, uint32_t len,
                     uint32_t pause_at, struct sup_upload *u);
/* 0 once the uploader paused, or -errno (its error when it failed). */
int sup_upload_wait_paused(struct sup_upload *u, int timeout_ms);
/* Resumes the upload, waits for the end of the exchange and reaps the
 * uploader: 0 when the whole answer was correct, or -errno. */
int sup_upload_finish(struct sup_upload *u, int timeout_ms);

#endif
