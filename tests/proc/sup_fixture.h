/*
 * Fixtures of the supervision tests (tests/proc/test_supervise_*.c), on top
 * of the process-test harness: a setup/teardown pair that also ends the
 * helper processes a test forks (sup_clients.h), the processes it starts
 * through tmux and the tmux server of the terminal test, and gives the
 * worker binary's environment variable back its value; and a runner for
 * helper commands such as tmux. Functions return 0 or a count on success
 * and a negative errno on failure; the tests make the assertions.
 */
#ifndef TCP_SERVER_TESTS_SUP_FIXTURE_H
#define TCP_SERVER_TESTS_SUP_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

/* Environment variable naming the worker binary the supervisor spawns. */
#define SUP_WORKER_ENV "TCP_SERVER_WORKER"

/*
 * cmocka setup: harness_setup, plus no core files for the workers the tests
 * kill with SIGSEGV/SIGABRT. *state is the struct harness.
 */
int sup_setup(void **state);

/*
 * cmocka teardown: kills (SIGKILL, by pid) and reaps every helper process
 * registered with sup_track_helper, every foreign process registered with
 * sup_track_foreign together with its children, the tmux server registered
 * with sup_track_tmux, closes the extra harness registered with
 * sup_track_harness, restores SUP_WORKER_ENV, then harness_teardown.
 */
int sup_teardown(void **state);

/* Gives SUP_WORKER_ENV back the value it had when the first test began. */
void sup_restore_worker_env(void);

/* A process forked by the test (our child): teardown kills and reaps it. */
void sup_track_helper(pid_t pid);
/* Forgets a helper the test reaped itself. */
void sup_untrack_helper(pid_t pid);
/* A process that is not our child (started through tmux): teardown kills it
 * and its children. 0 forgets it. */
void sup_track_foreign(pid_t pid);
/* A tmux server socket name (-L) that teardown kills; NULL forgets it. */
void sup_track_tmux(const char *name);
/* A second harness (per-cycle tests) that teardown closes; NULL forgets. */
void sup_track_harness(struct harness *h);

/*
 * Runs argv (PATH search) with stdout and stderr captured in out (NUL
 * terminated, truncated to outlen - 1), for at most timeout_ms (then it is
 * killed). Returns its wait status, -ENOENT when it cannot be executed, or
 * -ETIMEDOUT.
 */
int sup_run(char *const argv[], char *out, size_t outlen, int timeout_ms);

#endif
