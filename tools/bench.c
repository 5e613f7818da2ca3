/*
 * tcp_bench: a load generator for tcp_server in the spirit of
 * redis-benchmark. Single-threaded and epoll-driven so that, on a small
 * machine, it takes one core and leaves the rest to the server. Every
 * answer is verified; any error makes the exit status 1.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_conn.h"
#include "bench_cpu.h"
#include "bench_opts.h"
#include "bench_payload.h"
#include "bench_report.h"
#include "bench_verify.h"
#include "log.h"
#include "net.h"

/* Requests in flight across all connections, bounded for memory. */
#define BENCH_MAX_INFLIGHT (4ull * 1024 * 1024)

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Conn mode with thousands of sockets needs more descriptors than 1024. */
static void raise_fd_limit(unsigned need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need + 16)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        log_warn("cannot raise the descriptor limit");
}

static void print_failure(const struct bench_stats *st)
{
    if (bench_stats_errors(st) > 0) {
        fprintf(stderr, "tcp_bench: FAILED:");
        for (int i = 0; i < BENCH_ERR_COUNT; i++) {
            if (st->errors[i] > 0)
                fprintf(stderr, " %llu %s", (unsigned long long)st->errors[i],
                        bench_err_name((enum bench_err)i));
        }
        fputc('\n', stderr);
    }
    if (st->interrupted)
        fprintf(stderr, "tcp_bench: interrupted before the run was "
                        "complete\n");
}

/*
 * Runs the benchmark, sampling the CPU time of server_pid's process tree
 * (when not 0) around it. A server that cannot be read is reported once
 * and the run goes on without the figure.
 */
static int run_measured(const struct bench_conn_cfg *cfg, long server_pid,
                        struct bench_stats *st)
{
    uint64_t cpu0 = 0, cpu1 = 0;
    int c0 = -1, c1 = -1, r;

    if (server_pid > 0) {
        c0 = bench_cpu_tree_ns((pid_t)server_pid, &cpu0);
        if (c0 < 0)
            fprintf(stderr,
                    "tcp_bench: cannot read the CPU time of pid %ld: "
                    "%s\n",
                    server_pid, strerror(-c0));
    }
    r = bench_conn_run(cfg, st);
    if (c0 == 0)
        c1 = bench_cpu_tree_ns((pid_t)server_pid, &cpu1);
    st->server_cpu_valid = c0 == 0 && c1 == 0 && cpu1 >= cpu0;
    st->server_cpu_ns = st->server_cpu_valid ? cpu1 - cpu0 : 0;
    return r;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct bench_payload pl;
    struct bench_verify_spec vs;
    struct bench_conn_cfg cfg;
    struct addrinfo *ai = NULL;
    struct bench_stats *st = NULL;
    char err[256];
    int status = 1;
    int r;

    log_init("bench", 0);
    switch (bench_opts_parse(&o, argc, argv, err, sizeof(err))) {
    case OPTS_HELP:
        fputs(bench_help, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    case OPTS_VERSION:
        fputs("tcp_bench " TCP_SERVER_VERSION "\n", stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    case OPTS_USAGE:
        fprintf(stderr, "tcp_bench: %s\n%s", err, bench_usage);
        return 2;
    case OPTS_OK:
        break;
    }
    if ((uint64_t)o.conns * o.pipeline > BENCH_MAX_INFLIGHT) {
        fprintf(stderr, "tcp_bench: -c times -P is at most %llu\n%s",
                BENCH_MAX_INFLIGHT, bench_usage);
        return 2;
    }
    log_init("bench", o.verbose);
    install_signals();
    raise_fd_limit(o.conns);

    r = net_resolve(o.host, o.port, false, &ai);
    if (r < 0) {
        net_error_message(r, NET_OP_CONNECT, o.host, o.port, err, sizeof(err));
        fprintf(stderr, "tcp_bench: %s\n", err);
        return 1;
    }
    st = malloc(sizeof(*st));
    if (st == NULL ||
        bench_payload_init(&pl, o.action, o.size, o.pipeline, o.seed) < 0) {
        fprintf(stderr, "tcp_bench: out of memory\n");
        free(st);
        freeaddrinfo(ai);
        return 1;
    }
    if (bench_verify_spec_init(&vs, o.action, o.raw, pl.hdr, pl.pat, pl.patlen,
                               pl.len) < 0) {
        fprintf(stderr, "tcp_bench: out of memory\n");
        goto out_payload;
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.o = &o;
    cfg.pl = &pl;
    cfg.vs = &vs;
    cfg.addr = ai->ai_addr;
    cfg.addrlen = ai->ai_addrlen;
    cfg.progress = isatty(STDERR_FILENO) != 0;
    cfg.interrupt = &interrupted;
    r = run_measured(&cfg, o.server_pid, st);
    if (r < 0) {
        fprintf(stderr, "tcp_bench: cannot run: %s\n", strerror(-r));
        goto out_spec;
    }
    if (o.json)
        bench_report_json(stdout, &o, st);
    else
        bench_report_text(stdout, &o, st);
    if (fflush(stdout) != 0)
        fprintf(stderr, "tcp_bench: cannot write the report: %s\n",
                strerror(errno));
    else if (bench_stats_errors(st) > 0 || st->interrupted)
        print_failure(st);
    else
        status = 0;
out_spec:
    bench_verify_spec_free(&vs);
out_payload:
    bench_payload_free(&pl);
    free(st);
    freeaddrinfo(ai);
    return status;
}
