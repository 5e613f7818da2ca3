/*
 * tcp_bench's command line. Each mode has its own defaults (pipeline: 100000
 * requests of 16 bytes; conn: 1000 connections; bulk: one 64 MiB request),
 * applied only to the options the user did not give.
 */
#include "bench_opts.h"

#include <stdio.h>
#include <string.h>

#include "proto.h"

const char bench_usage[] =
    "usage: tcp_bench [--help] [-h HOST] [-p PORT] [-c N] [-n N] [-t SECONDS]\n"
    "                 [-s BYTES] [-a ACTION] [-P N] [--raw] [--json]\n"
    "                 [--seed N] [--timeout SECONDS] [--server-pid PID]\n"
    "                 {pipeline|conn|bulk}\n";

const char bench_help[] =
    "usage: tcp_bench [--help] [-h HOST] [-p PORT] [-c N] [-n N] [-t SECONDS]\n"
    "                 [-s BYTES] [-a ACTION] [-P N] [--raw] [--json]\n"
    "                 [--seed N] [--timeout SECONDS] [--server-pid PID]\n"
    "                 {pipeline|conn|bulk}\n"
    "\n"
    "Load generator for tcp_server: every answer is verified.\n"
    "\n"
    "modes:\n"
    "  pipeline   -c connections, each keeping -P requests in flight\n"
    "             (defaults: -c 1 -P 1 -n 100000 -s 16)\n"
    "  conn       short connections: connect, one request, answer, close;\n"
    "             -n connections, -c at a time (defaults: -c 1 -n 1000 -s 16)\n"
    "  bulk       one large request at a time on one connection, sent and\n"
    "             received concurrently (defaults: -n 1 -s 67108864)\n"
    "\n"
    "options:\n"
    "  --help                   show this help message and exit\n"
    "  --version                print the version and exit\n"
    "  -h HOST, --host HOST     server address (default 127.0.0.1)\n"
    "  -p PORT, --port PORT     server port (default 8083)\n"
    "  -c N, --connections N    connections (concurrency in conn mode)\n"
    "  -n N, --requests N       total requests (connections in conn mode)\n"
    "  -t S, --duration S       run for S seconds instead (with -n: "
    "whichever\n"
    "                           ends first)\n"
    "  -s N, --size N           message bytes, 0..134217727\n"
    "  -a A, --action A         uppercase (default), lowercase, reverse,\n"
    "                           shuffle, random, or a number 0..31 (unknown\n"
    "                           actions must be answered 'error')\n"
    "  -P N, --pipeline N       requests in flight per connection (default 1)\n"
    "  --raw                    drive the raw echo baseline (tcp_echo): the\n"
    "                           answer to a request is the request itself\n"
    "  --json                   print one JSON object instead of the table\n"
    "  --seed N                 seed of the message letters (default 1)\n"
    "  --timeout S              give up on a connection after S seconds\n"
    "                           without progress (default 10)\n"
    "  --server-pid PID         also report the CPU time that PID and its\n"
    "                           descendants (a server and its workers) used\n"
    "                           during the run, per answer and per MiB\n"
    "  -v, --verbose            log connection events to stderr\n"
    "\n"
    "A worker serves one connection at a time: in pipeline mode keep -c at\n"
    "or below the server's worker count. MB/s counts message bytes of the\n"
    "answers (length headers excluded), 1 MB = 10^6 bytes; with --raw, the\n"
    "echoed message bytes. Exit status: 0 when every answer was right, 1 on\n"
    "any error (wrong answer, refused, reset, short read, timeout), 2 on bad\n"
    "usage.\n";

enum {
    OPT_HELP = 1,
    OPT_HOST,
    OPT_PORT,
    OPT_CONNS,
    OPT_REQUESTS,
    OPT_DURATION,
    OPT_SIZE,
    OPT_ACTION,
    OPT_PIPELINE,
    OPT_RAW,
    OPT_JSON,
    OPT_SEED,
    OPT_TIMEOUT,
    OPT_VERBOSE,
    OPT_SERVER_PID,
    OPT_VERSION,
};

static const struct opt_def bench_defs[] = {
    {"help", 0, false, OPT_HELP},
    {"version", 0, false, OPT_VERSION},
    {"host", 'h', true, OPT_HOST},
    {"port", 'p', true, OPT_PORT},
    {"connections", 'c', true, OPT_CONNS},
    {"requests", 'n', true, OPT_REQUESTS},
    {"duration", 't', true, OPT_DURATION},
    {"size", 's', true, OPT_SIZE},
    {"action", 'a', true, OPT_ACTION},
    {"pipeline", 'P', true, OPT_PIPELINE},
    {"raw", 0, false, OPT_RAW},
    {"json", 0, false, OPT_JSON},
    {"seed", 0, true, OPT_SEED},
    {"timeout", 0, true, OPT_TIMEOUT},
    {"verbose", 'v', false, OPT_VERBOSE},
    {"server-pid", 0, true, OPT_SERVER_PID},
    {NULL, 0, false, 0},
};

const char *bench_mode_name(enum bench_mode m)
{
    switch (m) {
    case BENCH_PIPELINE:
        return "pipeline";
    case BENCH_CONN:
        return "conn";
    case BENCH_BULK:
        return "bulk";
    }
    return "?";
}

/* Which options were given, so mode defaults fill only the others. */
struct given {
    bool conns, requests, size, pipeline, mode;
};

static int parse_action(const char *arg, unsigned *out)
{
    uint64_t v;
    int a = proto_action_from_name(arg);

    if (a >= 0) {
        *out = (unsigned)a;
        return 0;
    }
    if (opts_parse_u64(arg, 0, 31, &v) < 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static enum opts_result bad(char *err, size_t errlen, const char *what,
                            const char *arg)
{
    snprintf(err, errlen, "bad %s '%s'", what, arg);
    return OPTS_USAGE;
}

static enum opts_result take_mode(struct bench_opts *o, struct given *g,
                                  const char *arg, char *err, size_t errlen)
{
    if (g->mode) {
        snprintf(err, errlen, "unexpected argument '%s'", arg);
        return OPTS_USAGE;
    }
    if (strcmp(arg, "pipeline") == 0)
        o->mode = BENCH_PIPELINE;
    else if (strcmp(arg, "conn") == 0)
        o->mode = BENCH_CONN;
    else if (strcmp(arg, "bulk") == 0)
        o->mode = BENCH_BULK;
    else {
        snprintf(err, errlen, "unknown mode '%s' (pipeline, conn or bulk)",
                 arg);
        return OPTS_USAGE;
    }
    g->mode = true;
    return OPTS_OK;
}

/* Handles one option with a value. */
static enum opts_result take_value(struct bench_opts *o, struct given *g,
                                   int id, const char *arg, char *err,
                                   size_t errlen)
{
    uint64_t v;

    switch (id) {
    case OPT_HOST:
        o->host = arg;
        return arg[0] != '\0' ? OPTS_OK : bad(err, errlen, "host", arg);
    case OPT_PORT:
        if (opts_parse_u64(arg, 1, 65535, &v) < 0)
            return bad(err, errlen, "port", arg);
        o->port = (unsigned)v;
        return OPTS_OK;
    case OPT_CONNS:
        if (opts_parse_u64(arg, 1, BENCH_MAX_CONNS, &v) < 0)
            return bad(err, errlen, "connection count", arg);
        o->conns = (unsigned)v;
        g->conns = true;
        return OPTS_OK;
    case OPT_REQUESTS:
        if (opts_parse_u64(arg, 1, UINT64_MAX / 2, &o->requests) < 0)
            return bad(err, errlen, "request count", arg);
        g->requests = true;
        return OPTS_OK;
    case OPT_DURATION:
        if (opts_parse_seconds(arg, 86400, &o->duration) < 0 ||
            o->duration <= 0)
            return bad(err, errlen, "duration", arg);
        return OPTS_OK;
    case OPT_SIZE:
        if (opts_parse_u64(arg, 0, PROTO_MAX_LEN, &o->size) < 0)
            return bad(err, errlen, "size (0..134217727)", arg);
        g->size = true;
        return OPTS_OK;
    case OPT_ACTION:
        return parse_action(arg, &o->action) == 0
                   ? OPTS_OK
                   : bad(err, errlen, "action", arg);
    case OPT_PIPELINE:
        if (opts_parse_u64(arg, 1, BENCH_MAX_PIPELINE, &v) < 0)
            return bad(err, errlen, "pipeline depth", arg);
        o->pipeline = (unsigned)v;
        g->pipeline = true;
        return OPTS_OK;
    case OPT_SEED:
        return opts_parse_u64(arg, 0, UINT64_MAX, &o->seed) == 0
                   ? OPTS_OK
                   : bad(err, errlen, "seed", arg);
    case OPT_TIMEOUT:
        if (opts_parse_seconds(arg, 86400, &o->timeout) < 0 || o->timeout <= 0)
            return bad(err, errlen, "timeout", arg);
        return OPTS_OK;
    case OPT_SERVER_PID:
        if (opts_parse_u64(arg, 1, INT32_MAX, &v) < 0)
            return bad(err, errlen, "server pid", arg);
        o->server_pid = (long)v;
        return OPTS_OK;
    default:
        snprintf(err, errlen, "internal option error");
        return OPTS_USAGE;
    }
}

static void apply_defaults(struct bench_opts *o, const struct given *g)
{
    if (!g->conns)
        o->conns = 1;
    if (!g->pipeline)
        o->pipeline = 1;
    if (!g->size)
        o->size = o->mode == BENCH_BULK ? (uint64_t)64 * 1024 * 1024 : 16;
    if (!g->requests) {
        /* A duration alone runs until it ends. */
        if (o->duration > 0)
            o->requests = 0;
        else if (o->mode == BENCH_PIPELINE)
            o->requests = 100000;
        else if (o->mode == BENCH_CONN)
            o->requests = 1000;
        else
            o->requests = 1;
    }
    if (o->mode == BENCH_CONN)
        o->pipeline = 1;
}

enum opts_result bench_opts_parse(struct bench_opts *o, int argc, char **argv,
                                  char *err, size_t errlen)
{
    struct given g = {false, false, false, false, false};
    struct opt_iter it;
    const char *arg;
    enum opts_result r;
    int id;

    memset(o, 0, sizeof(*o));
    o->host = BENCH_DEFAULT_HOST;
    o->port = BENCH_DEFAULT_PORT;
    o->action = PROTO_UPPERCASE;
    o->timeout = BENCH_DEFAULT_TIMEOUT;
    o->seed = 1;
    opt_iter_init(&it, argc, argv);
    while ((id = opt_next(&it, bench_defs, &arg, err, errlen)) != OPT_END) {
        switch (id) {
        case OPT_ERROR:
            return OPTS_USAGE;
        case OPT_HELP:
            return OPTS_HELP;
        case OPT_VERSION:
            return OPTS_VERSION;
        case OPT_RAW:
            o->raw = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_VERBOSE:
            o->verbose++;
            break;
        case OPT_POSITIONAL:
            r = take_mode(o, &g, arg, err, errlen);
            if (r != OPTS_OK)
                return r;
            break;
        default:
            r = take_value(o, &g, id, arg, err, errlen);
            if (r != OPTS_OK)
                return r;
            break;
        }
    }
    if (!g.mode) {
        snprintf(err, errlen, "missing mode (pipeline, conn or bulk)");
        return OPTS_USAGE;
    }
    if (o->mode == BENCH_CONN && g.pipeline && o->pipeline > 1) {
        snprintf(err, errlen, "-P does not apply to conn mode");
        return OPTS_USAGE;
    }
    apply_defaults(o, &g);
    return OPTS_OK;
}
