/*
 * tcp_server, the supervisor: parses the command line, finds the worker
 * binary, creates the listening socket before any worker exists, then hands
 * over to the supervisor's event loop (supervisor.c) until the shutdown.
 * Start-up failures print one line naming the cause and exit 1; bad usage
 * exits 2; stdout is written only by --help.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "listener.h"
#include "log.h"
#include "opts.h"
#include "supervisor.h"

#define WORKER_NAME "tcp_server_worker"
/* Overrides the worker binary (tests, packaging). */
#define WORKER_ENV "TCP_SERVER_WORKER"

#define EXIT_USAGE 2

/*
 * Opens /dev/null on any of descriptors 0-2 that is closed, so that the
 * listener never lands there and the workers inherit valid stdout/stderr.
 */
static int open_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        int nfd;

        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        nfd = open("/dev/null", O_RDWR);
        if (nfd < 0)
            return -errno;
        if (nfd != fd) {
            /* A lower descriptor was free after all; should not happen. */
            close(nfd);
            return -EBADF;
        }
    }
    return 0;
}

/* A worker binary must be a regular file we may execute: 0 or -errno. */
static int check_executable(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (access(path, X_OK) < 0)
        return -errno;
    return 0;
}

/*
 * Puts the worker binary's path in path: $TCP_SERVER_WORKER if set, else
 * tcp_server_worker next to this executable. Returns 0, or a negative errno
 * with path still naming what was looked for when it is known.
 */
static int find_worker(char *path, size_t len)
{
    const char *env = getenv(WORKER_ENV);
    size_t n = len;
    char *slash;
    int r;

    path[0] = '\0';
    if (env != NULL && env[0] != '\0') {
        /* Without a slash execvp would search $PATH; name the file here. */
        r = snprintf(path, len, "%s%s", strchr(env, '/') ? "" : "./", env);
    } else {
        r = uv_exepath(path, &n);
        slash = r == 0 ? strrchr(path, '/') : NULL;
        if (slash == NULL) {
            path[0] = '\0';
            return r < 0 ? r : -ENOENT;
        }
        slash[1] = '\0';
        r = snprintf(slash + 1, len - (size_t)(slash + 1 - path), "%s",
                     WORKER_NAME);
        r = r < 0 ? r : (int)(slash + 1 - path) + r;
    }
    if (r < 0 || (size_t)r >= len)
        return -ENAMETOOLONG;
    return check_executable(path);
}

static int print_help(void)
{
    fputs(server_help, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tcp_server: cannot write help: %s\n", strerror(errno));
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

/* Opens the listener and logs its real address; the fd or -1. */
static int open_listener(const struct server_opts *o)
{
    char err[256], where[128];
    unsigned port;
    int fd;

    fd = listener_open(o->bind_addr, o->port, err, sizeof(err));
    if (fd < 0) {
        /* err says "port N is already in use" for EADDRINUSE. */
        fprintf(stderr, "tcp_server: %s\n", err);
        return -1;
    }
    if (listener_address(fd, where, sizeof(where), &port) == 0)
        log_info("listening on %s", where);
    else
        log_warn("listening, but getsockname failed");
    return fd;
}

/*
 * Blocks the stop and reload signals. A blocked signal stays pending even
 * while its action is "ignore" (as in a shell's background job), so one sent
 * in our first milliseconds is acted on once supervisor_run() has installed
 * its handlers and cleared the mask, instead of being lost.
 */
static void hold_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    (void)sigprocmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
    struct supervisor_config cfg;
    struct server_opts o;
    char err[512], path[PATH_MAX];
    int listen_fd, status, r;

    hold_signals();
    switch (server_opts_parse(&o, argc, argv, err, sizeof(err))) {
    case OPTS_OK:
        break;
    case OPTS_HELP:
        return print_help();
    case OPTS_USAGE:
        fputs(server_usage, stderr);
        fprintf(stderr, "tcp_server: error: %s\n", err);
        return EXIT_USAGE;
    }
    log_init("supervisor", o.verbose);

    r = open_std_fds();
    if (r < 0) {
        fprintf(stderr, "tcp_server: cannot open /dev/null: %s\n",
                strerror(-r));
        return EXIT_FAILURE;
    }
    /*
     * A closed stderr pipe must not kill the supervisor and orphan the
     * workers. libuv restores the default action in every worker it starts.
     */
    signal(SIGPIPE, SIG_IGN);

    r = find_worker(path, sizeof(path));
    if (r < 0) {
        fprintf(stderr, "tcp_server: cannot find worker binary %s: %s\n",
                path[0] != '\0' ? path : WORKER_NAME, strerror(-r));
        return EXIT_FAILURE;
    }
    log_debug("worker binary: %s", path);

    listen_fd = open_listener(&o);
    if (listen_fd < 0)
        return EXIT_FAILURE;

    memset(&cfg, 0, sizeof(cfg));
    cfg.worker_path = path;
    cfg.listen_fd = listen_fd;
    cfg.workers = o.workers;
    cfg.verbose = o.verbose;
    cfg.idle_timeout = o.idle_timeout;
    cfg.shutdown_timeout = o.shutdown_timeout;
    cfg.seed_set = o.seed_set;
    cfg.seed = o.seed;

    status = supervisor_run(&cfg, err, sizeof(err));
    if (status < 0) {
        fprintf(stderr, "tcp_server: %s\n", err);
        status = EXIT_FAILURE;
    }
    close(listen_fd);
    if (status == SUPERVISOR_EXIT_FORCED)
        log_error("exiting with status %d", status);
    else
        log_info("exiting with status %d", status);
    return status;
}
