/*
 * tcp_server_worker: plain blocking code with no libuv state. It inherits
 * the listening socket from the supervisor, reports readiness, then blocks
 * in accept() and serves one client at a time until a stop signal, after
 * which it finishes the exchange in flight and exits 0.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "rng.h"
#include "serve.h"
#include "stop.h"
#include "tick.h"
#include "worker_cmd.h"
#include "wstats.h"

/* Pause after EMFILE and friends before accepting again. */
#define ACCEPT_BACKOFF_MS 100

/* True when accepted sockets inherit TCP_NODELAY from the listener. */
static bool nodelay_inherited;

/* Exits at once when the supervisor is gone, and asks the kernel for
 * SIGTERM (a graceful stop) if it goes later. */
static void watch_parent(long parent)
{
    if (parent <= 0)
        return;
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        fatal("prctl(PR_SET_PDEATHSIG)");
    /* The supervisor may have died before the request above took effect. */
    if ((long)getppid() != parent) {
        log_warnx("supervisor %ld is gone, exiting", parent);
        exit(0);
    }
}

/* Closes every descriptor but stdio and those we were given, so nothing
 * the supervisor's own parent left open reaches the worker. */
static void close_strays(int listen_fd, int ready_fd, int stats_fd)
{
    enum { N_KEEP = 4 };
    int keep[N_KEEP] = {2, listen_fd, ready_fd, stats_fd};
    int lo = 3;

    /* Sort the candidates so the gaps between them can be closed. */
    for (int i = 0; i < N_KEEP; i++) {
        for (int j = i + 1; j < N_KEEP; j++) {
            if (keep[j] < keep[i]) {
                int t = keep[i];
                keep[i] = keep[j];
                keep[j] = t;
            }
        }
    }
    for (int i = 0; i < N_KEEP; i++) {
        if (keep[i] < lo)
            continue;
        if (keep[i] > lo)
            (void)close_range((unsigned)lo, (unsigned)keep[i] - 1, 0);
        lo = keep[i] + 1;
    }
    (void)close_range((unsigned)lo, ~0u, 0);
}

static void check_listener(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0)
        fatal("descriptor %d is not a socket", fd);
    if (!on)
        fatalx("descriptor %d is not a listening socket", fd);
    len = sizeof(on);
    nodelay_inherited =
        getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on;
}

static void notify_ready(int fd)
{
    ssize_t w;

    if (fd < 0)
        return;
    do {
        w = write(fd, "R", 1);
    } while (w < 0 && errno == EINTR);
    if (w != 1)
        fatal("cannot report readiness on descriptor %d", fd);
    close(fd);
}

/*
 * Maps block `block` of the counter memfd the supervisor passed as fd and
 * closes fd (the mapping stays). Without a memfd the counters stay in
 * ctx's own block, which nobody reads.
 */
static void map_stats(struct serve_ctx *ctx, int fd, unsigned block)
{
    struct stat st;
    struct wstats *blocks;

    if (fd < 0)
        return;
    if (fstat(fd, &st) < 0)
        fatal("descriptor %d (counters)", fd);
    if ((uint64_t)st.st_size < ((uint64_t)block + 1) * sizeof(*blocks))
        fatalx("counter block %u is beyond the memfd on descriptor %d", block,
               fd);
    blocks = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                  fd, 0);
    if (blocks == MAP_FAILED)
        fatal("cannot map the counters on descriptor %d", fd);
    close(fd);
    ctx->stats = &blocks[block];
    /* A predecessor killed while serving left its gauge set. */
    wstats_set(&ctx->stats->busy, 0);
}

/* The counter of a close reason (serve_conn never returns CLOSE_NONE). */
static uint64_t *closed_counter(struct wstats *st, enum close_reason why)
{
    return &st->closed[why < CLOSE_NONE ? why : CLOSE_ERROR];
}

/* Sleeps up to ms, waking early on a stop signal. */
static void pause_ms(int ms)
{
    struct pollfd p = {.fd = stop_fd(), .events = POLLIN, .revents = 0};

    (void)poll(&p, 1, ms);
}

static void serve_client(struct serve_ctx *ctx, int fd,
                         const struct sockaddr_storage *ss, socklen_t sslen)
{
    struct serve_peer peer = {(const struct sockaddr *)ss, sslen, false, ""};
    enum close_reason why;

    /* Answers are batched per read already; Nagle would only add delay. */
    if (!nodelay_inherited)
        (void)net_set_nodelay(fd);
    log_debug("client %s: connected", serve_peer_name(&peer));
    wstats_add(&ctx->stats->connections, 1);
    wstats_set(&ctx->stats->busy, 1);
    why = serve_conn(ctx, fd, &peer);
    close(fd);
    wstats_add(closed_counter(ctx->stats, why), 1);
    wstats_set(&ctx->stats->busy, 0);
}

/* The accept loop. Returns the process exit status. */
static int accept_loop(struct serve_ctx *ctx, int listen_fd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int fd;

        ss.ss_family = AF_UNSPEC;
        if (stop_requested() != 0)
            return 0;
        fd = accept4(listen_fd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
        if (fd >= 0) {
            serve_client(ctx, fd, &ss, sslen);
            continue;
        }
        if (stop_requested() != 0)
            return 0;
        switch (errno) {
        case EINTR:
        case EAGAIN:
        case ECONNABORTED:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
            /* The connection died in the queue; the listener is fine. */
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            log_warn("accept");
            pause_ms(ACCEPT_BACKOFF_MS);
            continue;
        default:
            log_warn("accept on the listening socket failed");
            return 1;
        }
    }
}

/*
 * Parses the worker's command line into o. Returns -1 to go on, or the exit
 * status once --help is printed (0) or a usage error reported (2).
 */
static int parse_command_line(struct worker_cmd *o, int argc, char **argv)
{
    char err[256], usage[512];

    switch (worker_cmd_parse(o, argc, argv, err, sizeof(err))) {
    case OPTS_HELP:
        worker_cmd_usage(usage, sizeof(usage));
        fputs(usage, stdout);
        return 0;
    case OPTS_VERSION:
        fputs("tcp_server_worker " TCP_SERVER_VERSION "\n", stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    case OPTS_USAGE:
        worker_cmd_usage(usage, sizeof(usage));
        fprintf(stderr, "%stcp_server_worker: error: %s\n", usage, err);
        return 2;
    case OPTS_OK:
        break;
    }
    return -1;
}

/* The connection state and its settings from the command line, or exit. */
static void start_serving(struct serve_ctx *ctx, const struct worker_cmd *o,
                          struct serve_stop *stop)
{
    struct serve_opts so = {
        .seed = o->seed.set ? o->seed.value : rng_entropy_seed(),
        .idle_timeout = o->idle_timeout,
        .shutdown_timeout = o->shutdown_timeout,
        .keepalive_timeout = o->keepalive_timeout,
        .min_rate = o->min_rate,
        .listen_fd = o->listen_fd,
    };
    int r;

    stop->requested = stop_flag();
    stop->fd = stop_fd();
    stop->conn_slot = stop_conn_slot();
    stop->tick_ms = serve_tick_ms(&so);
    if (stop->tick_ms > 0) {
        r = tick_start(stop->tick_ms);
        if (r < 0) {
            errno = -r;
            log_warn("no clock tick; connections wait in poll()");
            stop->tick_ms = 0;
        }
    }
    r = serve_ctx_init(ctx, &so, stop);
    if (r < 0) {
        errno = -r;
        fatal("cannot allocate buffers");
    }
}

int main(int argc, char **argv)
{
    struct worker_cmd o;
    struct serve_ctx ctx;
    struct serve_stop stop;
    sigset_t held;
    int r, status;

    /* Until the handlers and self-pipe exist a stop signal stays pending;
     * stop_init() clears the mask once they do. */
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    sigaddset(&held, SIGHUP);
    (void)sigprocmask(SIG_BLOCK, &held, NULL);

    status = parse_command_line(&o, argc, argv);
    if (status >= 0)
        return status;
    log_init("worker", o.verbose);

    /* Handlers first: until they exist a stop signal is held. */
    close_strays(o.listen_fd, o.ready_fd, o.stats_fd);
    r = stop_init();
    if (r < 0) {
        errno = -r;
        fatal("cannot install signal handlers");
    }
    watch_parent(o.parent_pid);
    check_listener(o.listen_fd);

    start_serving(&ctx, &o, &stop);
    map_stats(&ctx, o.stats_fd, o.stats_block);
    stop_arm_listener(o.listen_fd);
    notify_ready(o.ready_fd);
    log_info("worker %u ready", o.slot);

    status = accept_loop(&ctx, o.listen_fd);

    serve_ctx_close(&ctx);
    if (status == 0)
        log_info("worker %u stopped", o.slot);
    return status;
}
