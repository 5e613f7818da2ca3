/*
 * One worker process as the supervisor sees it: a uv_process_t and the read
 * end of its readiness pipe. The worker gets the listener as fd 3 and the
 * write end of the pipe as fd 4 (the numbers live in worker_cmd.h); one byte on
 * the pipe means "about to accept" (sd_notify READY=1 in spirit), end of file
 * without a byte means it never got that far. The process handle is closed only
 * in its exit callback, so the worker is always reaped (no zombies), and it is
 * never signalled after that.
 */
#ifndef TCP_SERVER_CHILD_H
#define TCP_SERVER_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct child;

/* The worker wrote its readiness byte. Called at most once. */
typedef void (*child_ready_cb)(struct child *c);
/*
 * The worker was reaped: status is its exit status, or term_signal the
 * signal that killed it. c->ready says whether it had become ready, even if
 * the byte arrived together with the exit. Called once, after a successful
 * child_spawn only.
 */
typedef void (*child_exit_cb)(struct child *c, int64_t status, int term_signal);
/* Both handles are closed: the owner may now free c. */
typedef void (*child_closed_cb)(struct child *c);

struct child {
    uv_process_t process;
    uv_pipe_t ready_pipe;
    int pid;
    bool ready;  /* the readiness byte arrived */
    bool exited; /* reaped: never signal it again */
    unsigned open_handles;
    char buf[16];
    child_ready_cb ready_cb;
    child_exit_cb exit_cb;
    child_closed_cb closed_cb;
    void *data; /* the owner's */
};

/*
 * Starts file with args (argv, NULL-terminated) as a worker: stdin from
 * /dev/null, stdout and stderr shared, listen_fd as fd 3, the readiness pipe
 * as fd 4, stats_fd (when >= 0: the counter memfd) as fd 5, in the
 * supervisor's process group. Set c->data and the three
 * callbacks before the call; the rest of *c is initialised here.
 * Returns 0, or a negative errno (uv_spawn's, e.g. -ENOENT or -EACCES).
 * Once this returns, closed_cb is called exactly once, later from the loop,
 * whether the spawn succeeded or not; the one exception is a failure with
 * child_is_closed(c) true, when nothing was opened and c may be freed at
 * once.
 */
int child_spawn(struct child *c, uv_loop_t *loop, const char *file, char **args,
                int listen_fd, int stats_fd);

/* Sends signum to the worker; -ESRCH once it was reaped, else 0 or -errno. */
int child_kill(struct child *c, int signum);

/* True when no handle of c is open or closing. */
bool child_is_closed(const struct child *c);

/*
 * Describes how a process ended: "exited with status 3" or "killed by
 * signal 9 (SIGKILL)".
 */
void child_describe_exit(int64_t status, int term_signal, char *buf,
                         size_t len);

#endif
