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

#include "log.h"
#include "net.h"
#include "opts_server.h"
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
 * Where the worker lives relative to the directory of tcp_server once
 * installed: CMake computes it from the install layout (bin/ to
 * libexec/tcp-server/ by default), so a whole installed tree can be moved.
 */
#ifndef TCP_SERVER_WORKER_RELDIR
#define TCP_SERVER_WORKER_RELDIR "../libexec/tcp-server"
#endif

/*
 * Puts dir/sub/WORKER_NAME in path, with dir/sub resolved to a canonical
 * directory when it exists (so logs and ps show /usr/libexec/..., not
 * /usr/bin/../libexec/...). sub may be empty. Returns 0 when the result is
 * an executable file, else a negative errno with path naming the candidate.
 */
static int worker_candidate(char *path, size_t len, const char *dir,
                            const char *sub)
{
    char joined[PATH_MAX], real[PATH_MAX];
    const char *base = joined;
    int r;

    r = snprintf(joined, sizeof(joined), "%s%s%s", dir, sub[0] ? "/" : "", sub);
    if (r < 0 || (size_t)r >= sizeof(joined))
        return -ENAMETOOLONG;
    if (realpath(joined, real) != NULL)
        base = real;
    r = snprintf(path, len, "%s/%s", base, WORKER_NAME);
    if (r < 0 || (size_t)r >= len)
        return -ENAMETOOLONG;
    return check_executable(path);
}

/*
 * Puts the worker binary's path in path. The order:
 *   0. --worker PATH (override, NULL when not given);
 *   1. $TCP_SERVER_WORKER when set (tests, packaging, a worker elsewhere);
 *   2. TCP_SERVER_WORKER_RELDIR/tcp_server_worker relative to the directory
 *      of this executable (uv_exepath): the installed layout;
 *   3. tcp_server_worker next to this executable: the build tree.
 * Both overrides are used as given (no fallback when they are unusable).
 * The installed layout comes first so that a stale worker left in bin/ by an
 * older install never shadows the one the install put in libexec/.
 * Returns 0, or a negative errno with path naming what was looked for when
 * it is known (the installed-layout candidate when neither exists).
 */
static int find_worker(char *path, size_t len, const char *override)
{
    const char *env = override != NULL ? override : getenv(WORKER_ENV);
    char self[PATH_MAX];
    size_t n = sizeof(self);
    char *slash;
    int r, r_first;

    path[0] = '\0';
    if (env != NULL && env[0] != '\0') {
        /* Without a slash execvp would search $PATH; name the file here. */
        r = snprintf(path, len, "%s%s", strchr(env, '/') ? "" : "./", env);
        if (r < 0 || (size_t)r >= len)
            return -ENAMETOOLONG;
        return check_executable(path);
    }
    r = uv_exepath(self, &n);
    slash = r == 0 ? strrchr(self, '/') : NULL;
    if (slash == NULL)
        return r < 0 ? r : -ENOENT;
    *slash = '\0';

    r_first = worker_candidate(path, len, self, TCP_SERVER_WORKER_RELDIR);
    if (r_first == 0)
        return 0;
    r = worker_candidate(path, len, self, "");
    if (r != -ENOENT) /* found, or present but unusable */
        return r;
    /* Neither exists: name the installed-layout path, with its error (the
     * useful one when it exists but cannot be executed). */
    (void)worker_candidate(path, len, self, TCP_SERVER_WORKER_RELDIR);
    return r_first;
}

/* --help and --version: text on stdout, exit 0 (1 when it cannot be written).
 */
static int print_stdout(const char *text)
{
    fputs(text, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tcp_server: cannot write to stdout: %s\n",
                strerror(errno));
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

/*
 * Socket activation (sd_listen_fds(3)): NET_LISTEN_FDS_START when systemd
 * passed us our listener, 0 when nothing was passed to us, -1 after
 * printing why what was passed is unusable (never a bind elsewhere then).
 * Whoever they were meant for, the variables are removed from our
 * environment, which the workers inherit.
 */
static int inherited_listener(void)
{
    char err[256];
    int r;

    r = net_listen_fds_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
                             (long)getpid(), err, sizeof(err));
    if (r > 0 && getenv("LISTEN_FDNAMES") != NULL)
        log_debug("socket activation: LISTEN_FDNAMES=%s",
                  getenv("LISTEN_FDNAMES"));
    (void)unsetenv("LISTEN_PID");
    (void)unsetenv("LISTEN_FDS");
    (void)unsetenv("LISTEN_FDNAMES");
    if (r <= 0) {
        if (r < 0)
            fprintf(stderr, "tcp_server: %s\n", err);
        return r;
    }
    r = net_adopt_listener(NET_LISTEN_FDS_START);
    if (r < 0) {
        net_error_message(r, NET_OP_ADOPT, NULL, NET_LISTEN_FDS_START, err,
                          sizeof(err));
        fprintf(stderr, "tcp_server: %s\n", err);
        return -1;
    }
    return r;
}

/* The listeners the supervisor opens: -1 for one not asked for. */
struct sockets {
    int listen;  /* the service's */
    int metrics; /* --metrics */
    int agent;   /* --agent */
};

/*
 * The listener: inherited from systemd, or opened on -b/-p. Logs its real
 * address, also written to where. The fd, or -1 after printing why not.
 */
static int open_listener(const struct server_opts *o, char *where, size_t len)
{
    char err[256];
    int fd, r;

    fd = inherited_listener();
    if (fd < 0)
        return -1;
    if (fd == 0) {
        fd = net_listen(o->bind_addr, o->port);
        if (fd < 0) {
            /* "port N is already in use" for EADDRINUSE. */
            net_error_message(fd, NET_OP_LISTEN, o->bind_addr, o->port, err,
                              sizeof(err));
            fprintf(stderr, "tcp_server: %s\n", err);
            return -1;
        }
    }
    r = net_local_addr(fd, where, len);
    if (r < 0) {
        snprintf(where, len, "an unknown address");
        log_warnx("listening, but its address is unknown: %s", net_strerror(r));
    } else if (fd == NET_LISTEN_FDS_START) {
        log_info("listening on %s (socket activation: -p and -b are ignored)",
                 where);
    } else {
        log_info("listening on %s", where);
    }
    return fd;
}

/*
 * One of the supervisor's own listeners (--metrics, --agent), opened
 * before any worker: -1 when not asked for, -2 after printing why it
 * failed, with what ("metrics:", "agent") before the cause.
 */
static int open_endpoint(bool set, const char *host, unsigned port,
                         const char *what)
{
    char err[256];
    int fd;

    if (!set)
        return -1;
    fd = net_listen(host, port);
    if (fd < 0) {
        net_error_message(fd, NET_OP_LISTEN, host, port, err, sizeof(err));
        fprintf(stderr, "tcp_server: %s %s\n", what, err);
        return -2;
    }
    return fd;
}

/* Logs where an endpoint listens: prefix, its ADDR:PORT, suffix. */
static void log_endpoint(int fd, const char *prefix, const char *suffix)
{
    char where[NET_ADDRSTRLEN];

    if (fd >= 0 && net_local_addr(fd, where, sizeof(where)) >= 0)
        log_info("%s%s%s", prefix, where, suffix);
}

/*
 * The service's listener (its address written to where), then the metrics
 * and agent ones (-1 when not asked for), before any worker exists. 0, or
 * -1 after printing why (nothing open).
 */
static int open_sockets(const struct server_opts *o, struct sockets *fds,
                        char *where, size_t len)
{
    fds->listen = open_listener(o, where, len);
    if (fds->listen < 0)
        return -1;
    fds->metrics = open_endpoint(o->metrics_set, o->metrics_host,
                                 o->metrics_port, "metrics:");
    fds->agent = fds->metrics == -2 ? -1
                                    : open_endpoint(o->agent_set, o->agent_host,
                                                    o->agent_port, "agent");
    if (fds->metrics == -2 || fds->agent == -2) {
        if (fds->metrics >= 0)
            close(fds->metrics);
        close(fds->listen);
        return -1;
    }
    log_endpoint(fds->metrics, "serving metrics on http://", "/metrics");
    log_endpoint(fds->agent, "agent-check endpoint on ", "");
    return 0;
}

/* What supervisor_run needs, the workers' options among it. */
static void make_config(struct supervisor_config *cfg,
                        const struct server_opts *o, const char *path,
                        const struct sockets *fds)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->worker_path = path;
    cfg->listen_fd = fds->listen;
    cfg->metrics_fd = fds->metrics;
    cfg->agent_fd = fds->agent;
    cfg->workers = o->workers;
    cfg->drain_timeout = o->drain_timeout;
    worker_cmd_init(&cfg->worker);
    cfg->worker.verbose = o->verbose;
    cfg->worker.idle_timeout = o->idle_timeout;
    cfg->worker.shutdown_timeout = o->shutdown_timeout;
    cfg->worker.keepalive_timeout = o->keepalive_timeout;
    cfg->worker.min_rate = o->min_rate;
    cfg->worker.seed.set = o->seed_set;
    cfg->worker.seed.value = o->seed;
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

/*
 * Standard descriptors, SIGPIPE and the worker binary, before anything is
 * opened: 0, or -1 after printing why not.
 */
static int prepare_process(const struct server_opts *o, char *path, size_t len)
{
    int r = open_std_fds();

    if (r < 0) {
        fprintf(stderr, "tcp_server: cannot open /dev/null: %s\n",
                strerror(-r));
        return -1;
    }
    /*
     * A closed stderr pipe must not kill the supervisor and orphan the
     * workers. libuv restores the default action in every worker it starts.
     */
    signal(SIGPIPE, SIG_IGN);

    r = find_worker(path, len, o->worker_path);
    if (r < 0) {
        fprintf(stderr, "tcp_server: cannot find worker binary %s: %s\n",
                path[0] != '\0' ? path : WORKER_NAME, strerror(-r));
        return -1;
    }
    log_debug("worker binary: %s", path);
    return 0;
}

int main(int argc, char **argv)
{
    struct supervisor_config cfg;
    struct server_opts o;
    struct notify notify;
    char err[512], path[PATH_MAX], where[NET_ADDRSTRLEN];
    struct sockets fds;
    int status;

    hold_signals();
    switch (server_opts_parse(&o, argc, argv, err, sizeof(err))) {
    case OPTS_OK:
        break;
    case OPTS_HELP:
        return print_stdout(server_help);
    case OPTS_VERSION:
        return print_stdout("tcp_server " TCP_SERVER_VERSION "\n");
    case OPTS_USAGE:
        fputs(server_usage, stderr);
        fprintf(stderr, "tcp_server: error: %s\n", err);
        return EXIT_USAGE;
    }
    log_init("supervisor", o.verbose);

    if (prepare_process(&o, path, sizeof(path)) < 0)
        return EXIT_FAILURE;

    if (open_sockets(&o, &fds, where, sizeof(where)) < 0)
        return EXIT_FAILURE;
    make_config(&cfg, &o, path, &fds);
    notify_open(&notify, where, o.workers);
    cfg.notify = &notify;

    status = supervisor_run(&cfg, err, sizeof(err));
    notify_close(&notify);
    if (status < 0) {
        fprintf(stderr, "tcp_server: %s\n", err);
        status = EXIT_FAILURE;
    }
    /* supervisor_run has closed the listener (at the stop, or on error). */
    if (status == SUPERVISOR_EXIT_FORCED)
        log_error("exiting with status %d", status);
    else
        log_info("exiting with status %d", status);
    return status;
}
