/*
 * Spawning and watching one worker process (see child.h). The readiness byte
 * and the exit may be seen in either order within one loop iteration, so
 * the exit callback drains the pipe itself before deciding whether the
 * worker had become ready: a worker that announced readiness and died at
 * once still counts as ready, and is replaced at once.
 */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "worker_cmd.h"

/* stdio, then the descriptors worker_cmd.h gives the worker. */
#define CHILD_STDIO (WORKER_CMD_STATS_FD + 1)

static void close_cb(uv_handle_t *handle)
{
    struct child *c = handle->data;

    if (--c->open_handles == 0 && c->closed_cb != NULL)
        c->closed_cb(c);
}

static void close_pipe(struct child *c)
{
    uv_handle_t *h = (uv_handle_t *)&c->ready_pipe;

    if (!uv_is_closing(h))
        uv_close(h, close_cb);
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct child *c = handle->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct child *c = stream->data;

    (void)buf;
    if (nread == 0)
        return; /* EAGAIN: nothing to read yet */
    if (nread < 0 && nread != UV_EOF)
        log_warnx("worker %d: readiness pipe: %s", c->pid,
                  uv_strerror((int)nread));
    /* One byte or the end of the stream: the pipe has nothing more to say. */
    close_pipe(c);
    if (nread > 0 && !c->ready) {
        c->ready = true;
        if (c->ready_cb != NULL)
            c->ready_cb(c);
    }
}

/* Reads a readiness byte the loop has not delivered yet, if there is one. */
static void drain_pipe(struct child *c)
{
    uv_os_fd_t fd;
    char byte;

    if (c->ready || uv_is_closing((uv_handle_t *)&c->ready_pipe))
        return;
    if (uv_fileno((uv_handle_t *)&c->ready_pipe, &fd) < 0)
        return;
    if (recv(fd, &byte, 1, MSG_DONTWAIT) == 1)
        c->ready = true;
}

static void exit_cb(uv_process_t *process, int64_t status, int term_signal)
{
    struct child *c = process->data;

    c->exited = true;
    drain_pipe(c);
    close_pipe(c);
    if (c->exit_cb != NULL)
        c->exit_cb(c, status, term_signal);
    /* Reaped by libuv before this callback: closing now leaves no zombie. */
    uv_close((uv_handle_t *)process, close_cb);
}

/*
 * The worker's descriptors: stdin from /dev/null, stdout and stderr shared,
 * then the listener, the readiness pipe and the counter memfd (when there
 * is one) at the numbers of worker_cmd.h.
 */
static void set_stdio(uv_stdio_container_t stdio[CHILD_STDIO], int listen_fd,
                      uv_pipe_t *ready_pipe, int stats_fd)
{
    memset(stdio, 0, CHILD_STDIO * sizeof(stdio[0]));
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = STDOUT_FILENO;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = STDERR_FILENO;
    stdio[WORKER_CMD_LISTEN_FD].flags = UV_INHERIT_FD;
    stdio[WORKER_CMD_LISTEN_FD].data.fd = listen_fd;
    stdio[WORKER_CMD_READY_FD].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[WORKER_CMD_READY_FD].data.stream = (uv_stream_t *)ready_pipe;
    stdio[WORKER_CMD_STATS_FD].flags =
        stats_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
    stdio[WORKER_CMD_STATS_FD].data.fd = stats_fd;
}

int child_spawn(struct child *c, uv_loop_t *loop, const char *file, char **args,
                int listen_fd, int stats_fd)
{
    uv_stdio_container_t stdio[CHILD_STDIO];
    uv_process_options_t options;
    int r;

    c->pid = 0;
    c->ready = false;
    c->exited = false;
    c->open_handles = 0;

    r = uv_pipe_init(loop, &c->ready_pipe, 0);
    if (r < 0)
        return r;
    c->ready_pipe.data = c;
    c->open_handles = 1;

    set_stdio(stdio, listen_fd, &c->ready_pipe, stats_fd);

    /*
     * No UV_PROCESS_DETACHED: the worker stays in the supervisor's process
     * group, so a terminal's ctrl-c reaches it too. libuv resets the signal
     * dispositions and mask in the child before exec.
     */
    memset(&options, 0, sizeof(options));
    options.exit_cb = exit_cb;
    options.file = file;
    options.args = args;
    options.stdio = stdio;
    options.stdio_count = CHILD_STDIO;

    /* uv_spawn initialises the process handle even when it fails. */
    r = uv_spawn(loop, &c->process, &options);
    c->process.data = c;
    c->open_handles = 2;
    if (r < 0) {
        /* Not started (or exec failed and libuv reaped it): never signal. */
        c->exited = true;
        uv_close((uv_handle_t *)&c->process, close_cb);
        close_pipe(c);
        return r;
    }
    c->pid = uv_process_get_pid(&c->process);

    r = uv_read_start((uv_stream_t *)&c->ready_pipe, alloc_cb, read_cb);
    if (r < 0) {
        /* The exit callback still drains the pipe; only the event is lost. */
        log_warnx("worker %d: cannot watch readiness pipe: %s", c->pid,
                  uv_strerror(r));
    }
    return 0;
}

int child_kill(struct child *c, int signum)
{
    /* A pid of 0 would signal our whole process group: refuse it too. */
    if (c->exited || c->pid <= 0)
        return -ESRCH;
    return uv_process_kill(&c->process, signum);
}

bool child_is_closed(const struct child *c)
{
    return c->open_handles == 0;
}

void child_describe_exit(int64_t status, int term_signal, char *buf, size_t len)
{
    const char *name;

    if (term_signal == 0) {
        snprintf(buf, len, "exited with status %lld", (long long)status);
        return;
    }
    name = sigabbrev_np(term_signal);
    if (name != NULL)
        snprintf(buf, len, "killed by signal %d (SIG%s)", term_signal, name);
    else
        snprintf(buf, len, "killed by signal %d", term_signal);
}
