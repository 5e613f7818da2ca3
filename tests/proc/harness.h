/*
 * Process control for the process-level tests: a per-test temporary
 * directory, the real binaries started with their output captured there,
 * waits for them to exit, signals, and the end of every process a test
 * started, by pid, even when an assertion fails (the cmocka teardown calls
 * harness_close). It also holds what every other test support file builds
 * on: the scaled time bounds, a monotonic clock, whole-file reads and the
 * sockets a test opened (wire.h opens them). Functions return 0 or a count
 * on success and a negative errno on failure; the tests make the
 * assertions. Every wait is a poll against a deadline: nothing here sleeps
 * to synchronise.
 */
#ifndef TCP_SERVER_TESTS_HARNESS_H
#define TCP_SERVER_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Generous bounds: the ASan build on a loaded 2-core machine is slow, and
 * under valgrind everything is ten times slower again, so every wait is
 * scaled by harness_ms() (TCP_SERVER_TEST_SLOW, see below).
 */
#define HARNESS_READY_MS     harness_ms(10000) /* start to first answer */
#define HARNESS_STOP_MS      harness_ms(10000) /* SIGINT to exit, then KILL */
#define HARNESS_IO_MS        harness_ms(10000) /* one client exchange */
#define HARNESS_MAX_PROCS    32
#define HARNESS_MAX_FDS      64
#define HARNESS_MAX_CHILDREN 64

/* One process started by the harness. */
struct harness_proc {
    pid_t pid;          /* -1 when never started */
    bool reaped;        /* the harness collected its exit status */
    int status;         /* wait status, valid once reaped */
    unsigned port;      /* the -p port given to a server, or 0 */
    bool own_pgrp;      /* leads its own process group */
    char out_path[512]; /* its stdout */
    char err_path[512]; /* its stderr */
    /* Workers seen while the server ran, so orphans can be ended too. */
    pid_t children[HARNESS_MAX_CHILDREN];
    unsigned long long child_start[HARNESS_MAX_CHILDREN];
    size_t nchildren;
};

/* Per-test state: a temporary directory, processes and client sockets. */
struct harness {
    char dir[256];
    struct harness_proc procs[HARNESS_MAX_PROCS];
    size_t nprocs;
    int fds[HARNESS_MAX_FDS];
};

/*
 * ms multiplied by the factor in $TCP_SERVER_TEST_SLOW (a positive number,
 * default 1), for bounds that must stretch when the server runs under
 * valgrind. Only waits are scaled: a lower bound a test asserts is not.
 */
int harness_ms(int ms);

/* cmocka setup and teardown: *state is a struct harness. 0 or -1. */
int harness_setup(void **state);
int harness_teardown(void **state);

/* Paths of the binaries under test: environment first, then CMake's. */
const char *harness_server_bin(void);
const char *harness_worker_bin(void);

/*
 * Creates the temporary directory and ignores SIGPIPE in the test process.
 * Returns 0 or -errno. *out is freed by harness_close.
 */
int harness_open(struct harness **out);

/*
 * Ends every process still running (SIGINT, then SIGKILL after
 * HARNESS_STOP_MS; then any worker that outlived its supervisor), closes every
 * tracked socket, removes the temporary directory and frees h. NULL is a
 * no-op. Suitable as the body of a cmocka teardown.
 */
void harness_close(struct harness *h);

/*
 * Starts argv[0] with argv (NULL-terminated), stdout and stderr redirected to
 * files in the temporary directory, in its own process group when new_pgrp.
 * Does not wait for anything. *out points into h. Returns 0 or -errno.
 */
int harness_spawn(struct harness *h, char *const argv[], bool new_pgrp,
                  struct harness_proc **out);

/*
 * Starts tcp_server -p port followed by extra (NULL-terminated, may be NULL)
 * in its own process group, without waiting for anything. 0 or -errno.
 */
int harness_spawn_server(struct harness *h, unsigned port,
                         const char *const extra[], struct harness_proc **out);

/*
 * Starts tcp_server -p PORT followed by extra (NULL-terminated, may be NULL)
 * on a free port, and waits until a request on 127.0.0.1:PORT is answered
 * correctly (the listener exists before the worker, so a bare connect proves
 * nothing). When the server exits complaining that the port is in use, it
 * retries on another port. Returns 0 or -errno (-ETIMEDOUT when it never
 * answered, -ECHILD when it exited; the process is then already reaped).
 */
int harness_start_server(struct harness *h, const char *const extra[],
                         struct harness_proc **out);

/* Prints the captured stderr of p to our stderr (for failure reports). */
void harness_print_stderr(const struct harness_proc *p);

/*
 * Polls until p exits, for at most timeout_ms. Returns 0 with the wait status
 * in p->status, or -ETIMEDOUT (the process keeps running).
 */
int harness_wait_exit(struct harness_proc *p, int timeout_ms);

/*
 * SIGINT, a bounded wait, then SIGKILL and reap if needed. Returns 0 with the
 * wait status in p->status. Also ends any worker that outlived the server.
 */
int harness_stop(struct harness_proc *p);

/* Sends sig to p (to its process group when group). 0 or -errno. */
int harness_kill(struct harness_proc *p, int sig, bool group);

/* Polls until pid is gone or a zombie. 0 or -ETIMEDOUT. */
int harness_wait_gone(pid_t pid, int timeout_ms);

/*
 * Polls until p has been reaped and none of pids[0..n) is alive; returns the
 * milliseconds that took, or -ETIMEDOUT. Polls every millisecond.
 */
int harness_wait_all_gone(struct harness_proc *p, const pid_t *pids, size_t n,
                          int timeout_ms);

/*
 * Polls until parent has exactly n live children, for at most timeout_ms, and
 * records them as its workers. Returns n or -ETIMEDOUT.
 */
int harness_wait_children(struct harness_proc *p, size_t n, int timeout_ms);

/*
 * Polls until parent has a live child that is not in old[0..nold) and
 * returns its pid, or -ETIMEDOUT.
 */
pid_t harness_wait_new_child(pid_t parent, const pid_t *old, size_t nold,
                             int timeout_ms);

/*
 * Reads a whole file into a NUL-terminated heap buffer (*len excludes the
 * NUL). Returns 0 or -errno; free() *buf.
 */
int harness_read_file(const char *path, char **buf, size_t *len);

/*
 * Reads the number in base (8, 10 or 16) at the start of s, which must begin
 * with a digit (no blanks, no sign), up to the first character that is not a
 * digit of base; *end (may be NULL) gets that position. Returns 0, -EINVAL
 * when s does not start with a number, or -ERANGE when it overflows; *v and
 * *end are only written on success.
 */
int harness_parse_num(const char *s, int base, unsigned long long *v,
                      const char **end);

/* Starts tracking a socket: harness_close closes it. 0 or -EMFILE. */
int harness_track_fd(struct harness *h, int fd);

/* Closes a tracked socket (wire_connect) and stops tracking it. */
void harness_close_fd(struct harness *h, int fd);

/*
 * Runs only the tests whose names match $TCP_SERVER_TEST_FILTER (a cmocka
 * pattern with * and ?), when set. Call at the start of main.
 */
void harness_apply_filter(void);

/* Monotonic milliseconds. */
int64_t harness_now_ms(void);

/* Sleeps for ms milliseconds (pacing only, never synchronisation). */
void harness_pause_ms(int ms);

#endif
