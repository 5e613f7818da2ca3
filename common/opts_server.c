/*
 * The command line of tcp_server (DESIGN.md section 3), as a pure function
 * from argv to an options struct. The worker's own command line is an
 * internal interface and lives in worker_cmd.c.
 */
#include "opts_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char server_usage[] = "usage: tcp_server [-h] [-p PORT] [-v] [options]\n";

const char server_help[] =
    "usage: tcp_server [-h] [-p PORT] [-v] [options]\n"
    "\n"
    "-h, --help               show this help message and exit (usage on "
    "stdout, exit 0)\n"
    "-p PORT, --port PORT     port to bind to (default 8083)\n"
    "-v, --verbose            turn on debugging output (stderr)\n"
    "-b ADDR, --bind ADDR     address to bind (default: all interfaces)\n"
    "-w N, --workers N        number of worker processes (default 1)\n"
    "--idle-timeout SECONDS   disconnect silent clients (default 60, 0 = "
    "never)\n"
    "--shutdown-timeout SECONDS  grace for in-flight exchanges on shutdown "
    "(default 30)\n"
    "--keepalive-timeout SECONDS idle/stall limit while other clients wait "
    "(default 5)\n"
    "--min-rate BYTES         minimum transfer rate of a request or answer "
    "(default 500, 0 = off)\n"
    "--metrics ADDR:PORT      serve Prometheus metrics at "
    "http://ADDR:PORT/metrics\n"
    "--agent ADDR:PORT        HAProxy agent-check endpoint (up ready / drain "
    "on stop)\n"
    "--drain-timeout SECONDS  with --agent: longest wait for the balancer at "
    "stop (default 2)\n"
    "--worker PATH            worker binary (default: found next to / "
    "relative to tcp_server)\n"
    "--seed N                 reproducible shuffle/random (testing)\n"
    "--version                print the version and exit\n";

enum {
    O_HELP = 1,
    O_PORT,
    O_VERBOSE,
    O_BIND,
    O_WORKERS,
    O_IDLE,
    O_SHUTDOWN,
    O_KEEPALIVE,
    O_MIN_RATE,
    O_SEED,
    O_WORKER,
    O_VERSION,
    O_AGENT,
    O_DRAIN,
    O_METRICS,
};

/* Fields named, so each entry says what it sets (has_arg false unless
 * given). */
static const struct opt_def server_defs[] = {
    {.long_name = "help", .short_name = 'h', .id = O_HELP},
    {.long_name = "port", .short_name = 'p', .has_arg = true, .id = O_PORT},
    {.long_name = "verbose", .short_name = 'v', .id = O_VERBOSE},
    {.long_name = "bind", .short_name = 'b', .has_arg = true, .id = O_BIND},
    {.long_name = "workers",
     .short_name = 'w',
     .has_arg = true,
     .id = O_WORKERS},
    {.long_name = "idle-timeout", .has_arg = true, .id = O_IDLE},
    {.long_name = "shutdown-timeout", .has_arg = true, .id = O_SHUTDOWN},
    {.long_name = "keepalive-timeout", .has_arg = true, .id = O_KEEPALIVE},
    {.long_name = "min-rate", .has_arg = true, .id = O_MIN_RATE},
    {.long_name = "seed", .has_arg = true, .id = O_SEED},
    {.long_name = "worker", .has_arg = true, .id = O_WORKER},
    {.long_name = "version", .id = O_VERSION},
    {.long_name = "agent", .has_arg = true, .id = O_AGENT},
    {.long_name = "drain-timeout", .has_arg = true, .id = O_DRAIN},
    {.long_name = "metrics", .has_arg = true, .id = O_METRICS},
    {.long_name = NULL}, /* the end */
};

/* A non-empty text option (--worker, --bind), kept as given. */
static enum opts_result text_opt(const char *arg, const char **dst,
                                 const char *what, const char *expect,
                                 char *err, size_t errlen)
{
    if (*arg == '\0')
        return opts_bad_value(err, errlen, what, arg, expect);
    *dst = arg;
    return OPTS_OK;
}

/* An ADDR:PORT option (--agent, --metrics) into host (SERVER_HOST_MAX
 * bytes) and port, with a port of at least min_port. */
static enum opts_result endpoint_opt(const char *arg, char *host,
                                     unsigned *port, bool *set,
                                     const char *what, unsigned min_port,
                                     char *err, size_t errlen)
{
    if (opts_parse_hostport(arg, host, SERVER_HOST_MAX, port) < 0 ||
        *port < min_port)
        return opts_bad_value(err, errlen, what, arg,
                              min_port > 0 ? "ADDR:PORT or [IPV6]:PORT, port "
                                             "1..65535"
                                           : "ADDR:PORT or [IPV6]:PORT, port "
                                             "0..65535");
    *set = true;
    return OPTS_OK;
}

/* The options whose value is a number, checked against its range. */
static enum opts_result number_opt(struct server_opts *o, int id,
                                   const char *arg, char *err, size_t errlen)
{
    uint64_t v;

    switch (id) {
    case O_PORT:
        if (opts_parse_u64(arg, 0, 65535, &v) < 0)
            return opts_bad_value(err, errlen, "port", arg, "0..65535");
        o->port = (unsigned)v;
        return OPTS_OK;
    case O_WORKERS:
        if (opts_parse_u64(arg, 1, SERVER_MAX_WORKERS, &v) < 0)
            return opts_bad_value(err, errlen, "worker count", arg, "1..256");
        o->workers = (unsigned)v;
        return OPTS_OK;
    case O_IDLE:
        if (opts_parse_seconds(arg, OPTS_SECONDS_MAX, &o->idle_timeout) < 0)
            return opts_bad_value(err, errlen, "idle timeout", arg,
                                  "seconds, 0 = never");
        return OPTS_OK;
    case O_SHUTDOWN:
        if (opts_parse_seconds(arg, OPTS_SECONDS_MAX, &o->shutdown_timeout) < 0)
            return opts_bad_value(err, errlen, "shutdown timeout", arg,
                                  "seconds, 0 = wait forever");
        return OPTS_OK;
    case O_DRAIN:
        if (opts_parse_seconds(arg, OPTS_SECONDS_MAX, &o->drain_timeout) < 0)
            return opts_bad_value(err, errlen, "drain timeout", arg, "seconds");
        return OPTS_OK;
    case O_KEEPALIVE:
        if (opts_parse_seconds(arg, OPTS_SECONDS_MAX, &o->keepalive_timeout) <
            0)
            return opts_bad_value(err, errlen, "keepalive timeout", arg,
                                  "seconds, 0 = off");
        return OPTS_OK;
    case O_MIN_RATE:
        if (opts_parse_u64(arg, 0, SERVER_MAX_MIN_RATE, &v) < 0)
            return opts_bad_value(err, errlen, "minimum rate", arg,
                                  "bytes per second 0..1073741824, 0 = off");
        o->min_rate = (unsigned)v;
        return OPTS_OK;
    default: /* O_SEED, the last one left */
        if (opts_parse_u64(arg, 0, UINT64_MAX, &o->seed) < 0)
            return opts_bad_value(err, errlen, "seed", arg,
                                  "an integer 0..18446744073709551615");
        o->seed_set = true;
        return OPTS_OK;
    }
}

/* Applies one option (an opts_apply_fn; ctx is the struct server_opts). */
static enum opts_result server_opt(void *ctx, int id, const char *arg,
                                   char *err, size_t errlen)
{
    struct server_opts *o = ctx;

    switch (id) {
    case OPT_POSITIONAL:
        snprintf(err, errlen, "unexpected argument '%s'", arg);
        return OPTS_USAGE;
    case O_HELP:
        return OPTS_HELP;
    case O_VERSION:
        return OPTS_VERSION;
    case O_WORKER:
        return text_opt(arg, &o->worker_path, "worker path",
                        "a path to tcp_server_worker", err, errlen);
    case O_VERBOSE:
        o->verbose++;
        return OPTS_OK;
    case O_BIND:
        return text_opt(arg, &o->bind_addr, "bind address",
                        "an IP address or host name", err, errlen);
    case O_AGENT:
        /* Port 0 would serve the agent where no balancer could find it. */
        return endpoint_opt(arg, o->agent_host, &o->agent_port, &o->agent_set,
                            "agent address", 1, err, errlen);
    case O_METRICS:
        return endpoint_opt(arg, o->metrics_host, &o->metrics_port,
                            &o->metrics_set, "metrics address", 0, err, errlen);
    default:
        return number_opt(o, id, arg, err, errlen);
    }
}

enum opts_result server_opts_parse(struct server_opts *o, int argc, char **argv,
                                   char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->port = SERVER_DEFAULT_PORT;
    o->workers = 1;
    o->idle_timeout = SERVER_DEFAULT_IDLE_TIMEOUT;
    o->shutdown_timeout = SERVER_DEFAULT_SHUTDOWN_TIMEOUT;
    o->drain_timeout = SERVER_DEFAULT_DRAIN_TIMEOUT;
    o->keepalive_timeout = SERVER_DEFAULT_KEEPALIVE_TIMEOUT;
    o->min_rate = SERVER_DEFAULT_MIN_RATE;

    return opts_parse_argv(argc, argv, server_defs, server_opt, o, err, errlen);
}
