/*
 * Helpers for the supervision tests (tests/proc/test_supervise_*.c), on top
 * of the process-test harness: a setup/teardown pair that also ends the
 * helper processes a test forks (client loops, uploaders) and the tmux
 * server of the terminal test; /proc readers (which worker serves which
 * client, CPU time, TCP states of a port); an incremental reader of the
 * server's log; and client processes that keep talking to the server while
 * the test kills, stops or reloads it. Functions return 0 or a count on
 * success and a negative errno on failure; the tests make the assertions.
 */
#ifndef TCP_SERVER_TESTS_SUP_UTIL_H
#define TCP_SERVER_TESTS_SUP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* Environment variable naming the worker binary the supervisor spawns. */
#define SUP_WORKER_ENV "TCP_SERVER_WORKER"

/* TCP states as /proc/net/tcp numbers them. */
#define SUP_TCP_ESTABLISHED 0x01
#define SUP_TCP_TIME_WAIT   0x06
#define SUP_TCP_LISTEN      0x0a

/* --- setup and teardown ------------------------------------------------ */

/*
 * cmocka setup: harness_setup, plus no core files for the workers the tests
 * kill with SIGSEGV/SIGABRT. *state is the struct harness.
 */
int sup_setup(void **state);

/*
 * cmocka teardown: kills (SIGKILL, by pid) every helper process forked by
 * sup_loop_start or sup_upload_start, every foreign process registered with
 * sup_track_foreign together with its children, the tmux server registered
 * with sup_track_tmux, closes the extra harness registered with
 * sup_track_harness, restores SUP_WORKER_ENV, then harness_teardown.
 */
int sup_teardown(void **state);

/* Gives SUP_WORKER_ENV back the value it had when the first test began. */
void sup_restore_worker_env(void);

/* A process that is not our child (started through tmux): teardown kills it
 * and its children. 0 forgets it. */
void sup_track_foreign(pid_t pid);
/* A tmux server socket name (-L) that teardown kills; NULL forgets it. */
void sup_track_tmux(const char *name);
/* A second harness (per-cycle tests) that teardown closes; NULL forgets. */
void sup_track_harness(struct harness *h);

/* --- processes ----------------------------------------------------------- */

/* user + system CPU time of pid in milliseconds, or -errno. */
int64_t sup_proc_cpu_ms(pid_t pid);

/* Polls until pid is gone or a zombie. 0 or -ETIMEDOUT. */
int sup_wait_gone(pid_t pid, int timeout_ms);

/*
 * Polls until p has been reaped and none of pids[0..n) is alive; returns the
 * milliseconds that took, or -ETIMEDOUT. Polls every millisecond.
 */
int sup_wait_all_gone(struct harness_proc *p, const pid_t *pids, size_t n,
                      int timeout_ms);

/*
 * Polls until parent has a live child that is not in old[0..nold) and
 * returns its pid, or -ETIMEDOUT.
 */
pid_t sup_wait_new_child(pid_t parent, const pid_t *old, size_t nold,
                         int timeout_ms);

/*
 * The pid of a live process whose command line is exactly argv0 followed by
 * the arguments in args (NULL-terminated) and possibly more, or -ESRCH.
 */
pid_t sup_find_process(const char *argv0, const char *const args[]);

/*
 * Runs argv (PATH search) with stdout and stderr captured in out (NUL
 * terminated, truncated to outlen - 1), for at most timeout_ms (then it is
 * killed). Returns its wait status, -ENOENT when it cannot be executed, or
 * -ETIMEDOUT.
 */
int sup_run(char *const argv[], char *out, size_t outlen, int timeout_ms);

/* --- sockets and /proc/net ---------------------------------------------- */

/*
 * Binds port on the wildcard address the way a restarted server does
 * (SO_REUSEADDR, dual-stack IPv6 or IPv4) and listens, then closes the
 * socket. 0 or -errno (-EADDRINUSE when something still holds the port).
 */
int sup_bind_port(unsigned port);

/* Local port of a connected socket, or -errno. */
int sup_local_port(int fd);

/*
 * 1 when process pid holds a TCP socket connected to client_port (the local
 * port of the client), 0 when not, or -errno.
 */
int sup_serves_port(pid_t pid, unsigned client_port);

/* Number of TCP sockets with local port port in state st, or -errno. */
int sup_count_tcp_state(unsigned port, unsigned st);

/*
 * One uppercase request on a fresh connection to 127.0.0.1:port: 0 when the
 * answer is correct, -EBADMSG when it is wrong, or -errno from connect or
 * the exchange (-EPROTO: closed mid-response).
 */
int sup_ping(struct harness *h, unsigned port, int timeout_ms);

/*
 * Polls with sup_ping until p answers: 0, -ECHILD when p exited first, or
 * -ETIMEDOUT.
 */
int sup_wait_answer(struct harness *h, struct harness_proc *p, int timeout_ms);

/* An uppercase request of len bytes of the test pattern, streamed. */
struct sup_stream {
    int fd;
    uint32_t len;
    uint64_t sent; /* request bytes sent, header included */
    uint64_t rgot; /* response bytes received and checked, header included */
    uint8_t rhdr[4];
};

/*
 * Connects, sends the header and the first sent data bytes of an uppercase
 * request of len bytes, and waits until the answer has begun (its header and
 * a first byte), which proves a worker accepted the connection and is in the
 * middle of the exchange. 0 or -errno; s->fd is tracked by h.
 * sup_stream_finish sends the rest while checking the whole answer.
 */
int sup_stream_start(struct harness *h, unsigned port, uint32_t len,
                     uint32_t sent, struct sup_stream *s);
int sup_stream_finish(struct sup_stream *s);

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

/* --- the server's log ---------------------------------------------------- */

/* Position in a growing log file: only complete lines are consumed. */
struct sup_log {
    const char *path;
    size_t off;
};

/*
 * Polls the log from l->off on until a complete line contains word and the
 * pid (harness_line_has), consuming every line up to that one. 0 or
 * -ETIMEDOUT.
 */
int sup_log_wait(struct sup_log *l, const char *word, long pid, int timeout_ms);

/*
 * Milliseconds since midnight of the timestamp ("YYYY-MM-DD hh:mm:ss.mmm")
 * of every line of text that contains word, in order; at most max. Returns
 * the count.
 */
size_t sup_log_times(const char *text, const char *word, int64_t *ms,
                     size_t max);

/* Counts the lines of text that contain word. */
size_t sup_log_count(const char *text, const char *word);

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
 * teardown. 0 or -errno.
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
