/*
 * The command lines of tcp_server (DESIGN.md section 3) and of the internal
 * tcp_server_worker, as pure functions from argv to an options struct.
 */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Longest timeout accepted, in seconds: about 30 years, far from overflow. */
#define SECONDS_MAX 1e9

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
    "--seed N                 reproducible shuffle/random (testing)\n";

enum {
    O_HELP = 1,
    O_PORT,
    O_VERBOSE,
    O_BIND,
    O_WORKERS,
    O_IDLE,
    O_SHUTDOWN,
    O_SEED,
    O_LISTEN_FD,
    O_READY_FD,
    O_PARENT,
    O_SLOT,
};

static const struct opt_def server_defs[] = {
    {"help", 'h', false, O_HELP},
    {"port", 'p', true, O_PORT},
    {"verbose", 'v', false, O_VERBOSE},
    {"bind", 'b', true, O_BIND},
    {"workers", 'w', true, O_WORKERS},
    {"idle-timeout", 0, true, O_IDLE},
    {"shutdown-timeout", 0, true, O_SHUTDOWN},
    {"seed", 0, true, O_SEED},
    {NULL, 0, false, 0},
};

static enum opts_result bad_value(char *err, size_t errlen, const char *what,
                                  const char *value, const char *expect)
{
    snprintf(err, errlen, "invalid %s '%s' (expected %s)", what, value, expect);
    return OPTS_USAGE;
}

static enum opts_result unexpected(char *err, size_t errlen, const char *arg)
{
    snprintf(err, errlen, "unexpected argument '%s'", arg);
    return OPTS_USAGE;
}

/* Options common to the supervisor and the worker; OPTS_OK if handled. */
static int parse_shared(int id, const char *arg, int *verbose, double *idle,
                        double *shutdown, bool *seed_set, uint64_t *seed,
                        char *err, size_t errlen)
{
    switch (id) {
    case O_VERBOSE:
        (*verbose)++;
        return OPTS_OK;
    case O_IDLE:
        if (opts_parse_seconds(arg, SECONDS_MAX, idle) < 0)
            return bad_value(err, errlen, "idle timeout", arg,
                             "seconds, 0 = never");
        return OPTS_OK;
    case O_SHUTDOWN:
        if (opts_parse_seconds(arg, SECONDS_MAX, shutdown) < 0)
            return bad_value(err, errlen, "shutdown timeout", arg,
                             "seconds, 0 = wait forever");
        return OPTS_OK;
    case O_SEED:
        if (opts_parse_u64(arg, 0, UINT64_MAX, seed) < 0)
            return bad_value(err, errlen, "seed", arg,
                             "an integer 0..18446744073709551615");
        *seed_set = true;
        return OPTS_OK;
    default:
        return -1;
    }
}

enum opts_result server_opts_parse(struct server_opts *o, int argc, char **argv,
                                   char *err, size_t errlen)
{
    struct opt_iter it;
    const char *arg;
    uint64_t v;
    int id, r;

    memset(o, 0, sizeof(*o));
    o->port = SERVER_DEFAULT_PORT;
    o->workers = 1;
    o->idle_timeout = SERVER_DEFAULT_IDLE_TIMEOUT;
    o->shutdown_timeout = SERVER_DEFAULT_SHUTDOWN_TIMEOUT;

    opt_iter_init(&it, argc, argv);
    while ((id = opt_next(&it, server_defs, &arg, err, errlen)) != OPT_END) {
        switch (id) {
        case OPT_ERROR:
            return OPTS_USAGE;
        case OPT_POSITIONAL:
            return unexpected(err, errlen, arg);
        case O_HELP:
            return OPTS_HELP;
        case O_PORT:
            if (opts_parse_u64(arg, 0, 65535, &v) < 0)
                return bad_value(err, errlen, "port", arg, "0..65535");
            o->port = (unsigned)v;
            break;
        case O_BIND:
            if (*arg == '\0')
                return bad_value(err, errlen, "bind address", arg,
                                 "an IP address or host name");
            o->bind_addr = arg;
            break;
        case O_WORKERS:
            if (opts_parse_u64(arg, 1, SERVER_MAX_WORKERS, &v) < 0)
                return bad_value(err, errlen, "worker count", arg, "1..256");
            o->workers = (unsigned)v;
            break;
        default:
            r = parse_shared(id, arg, &o->verbose, &o->idle_timeout,
                             &o->shutdown_timeout, &o->seed_set, &o->seed, err,
                             errlen);
            if (r != OPTS_OK)
                return OPTS_USAGE;
            break;
        }
    }
    return OPTS_OK;
}

const char worker_usage[] =
    "usage: tcp_server_worker --listen-fd FD [--ready-fd FD] [--parent PID]\n"
    "                         [--slot N] [--idle-timeout S] "
    "[--shutdown-timeout S]\n"
    "                         [--seed N] [-v]\n"
    "(started by tcp_server; not meant to be run by hand)\n";

static const struct opt_def worker_defs[] = {
    {"listen-fd", 0, true, O_LISTEN_FD},
    {"ready-fd", 0, true, O_READY_FD},
    {"parent", 0, true, O_PARENT},
    {"slot", 0, true, O_SLOT},
    {"verbose", 'v', false, O_VERBOSE},
    {"idle-timeout", 0, true, O_IDLE},
    {"shutdown-timeout", 0, true, O_SHUTDOWN},
    {"seed", 0, true, O_SEED},
    {"help", 'h', false, O_HELP},
    {NULL, 0, false, 0},
};

static int parse_fd(const char *arg, int *fd)
{
    uint64_t v;

    if (opts_parse_u64(arg, 0, 1 << 20, &v) < 0)
        return -EINVAL;
    *fd = (int)v;
    return 0;
}

enum opts_result worker_opts_parse(struct worker_opts *o, int argc, char **argv,
                                   char *err, size_t errlen)
{
    struct opt_iter it;
    const char *arg;
    uint64_t v;
    int id, r;

    memset(o, 0, sizeof(*o));
    o->listen_fd = -1;
    o->ready_fd = -1;
    o->idle_timeout = SERVER_DEFAULT_IDLE_TIMEOUT;
    o->shutdown_timeout = SERVER_DEFAULT_SHUTDOWN_TIMEOUT;

    opt_iter_init(&it, argc, argv);
    while ((id = opt_next(&it, worker_defs, &arg, err, errlen)) != OPT_END) {
        switch (id) {
        case OPT_ERROR:
            return OPTS_USAGE;
        case OPT_POSITIONAL:
            return unexpected(err, errlen, arg);
        case O_HELP:
            return OPTS_HELP;
        case O_LISTEN_FD:
            if (parse_fd(arg, &o->listen_fd) < 0)
                return bad_value(err, errlen, "descriptor", arg, "a number");
            break;
        case O_READY_FD:
            if (parse_fd(arg, &o->ready_fd) < 0)
                return bad_value(err, errlen, "descriptor", arg, "a number");
            break;
        case O_PARENT:
            if (opts_parse_u64(arg, 1, 0x7fffffff, &v) < 0)
                return bad_value(err, errlen, "pid", arg, "a process id");
            o->parent_pid = (long)v;
            break;
        case O_SLOT:
            if (opts_parse_u64(arg, 0, SERVER_MAX_WORKERS, &v) < 0)
                return bad_value(err, errlen, "slot", arg, "0..256");
            o->slot = (unsigned)v;
            break;
        default:
            r = parse_shared(id, arg, &o->verbose, &o->idle_timeout,
                             &o->shutdown_timeout, &o->seed_set, &o->seed, err,
                             errlen);
            if (r != OPTS_OK)
                return OPTS_USAGE;
            break;
        }
    }
    if (o->listen_fd < 0) {
        snprintf(err, errlen, "missing --listen-fd");
        return OPTS_USAGE;
    }
    return OPTS_OK;
}
