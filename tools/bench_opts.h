/*
 * Command line of tcp_bench: a pure parse function (no printing, no exit)
 * so it can be unit tested. Defaults depend on the mode and are filled in
 * after parsing.
 */
#ifndef TCP_SERVER_TOOLS_BENCH_OPTS_H
#define TCP_SERVER_TOOLS_BENCH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

enum bench_mode {
    BENCH_PIPELINE, /* long connections, -P requests in flight each */
    BENCH_CONN,     /* a fresh connection per request */
    BENCH_BULK,     /* one large request at a time on one connection */
};

#define BENCH_DEFAULT_HOST    "127.0.0.1"
#define BENCH_DEFAULT_PORT    8083
#define BENCH_MAX_CONNS       10000
#define BENCH_MAX_PIPELINE    65536
#define BENCH_DEFAULT_TIMEOUT 10.0

struct bench_opts {
    enum bench_mode mode;
    const char *host;
    unsigned port;
    unsigned conns;    /* -c: connections (pipeline) or concurrency (conn) */
    uint64_t requests; /* -n: total requests (connections in conn mode);
                          0 = no limit (with -t) */
    uint64_t size;     /* -s: message bytes */
    unsigned action;   /* -a: 0..31 */
    unsigned pipeline; /* -P: requests in flight per connection */
    double duration;   /* -t: seconds, 0 = run until -n is done */
    double timeout;    /* --timeout: seconds without progress */
    uint64_t seed;     /* --seed: message letters */
    long server_pid;   /* --server-pid: CPU of its process tree, 0 = none */
    bool json;
    bool raw;
    int verbose;
};

extern const char bench_usage[];
extern const char bench_help[];

/*
 * Parses argv into *o. Returns OPTS_OK, OPTS_HELP, or OPTS_USAGE with a
 * one-line message in err.
 */
enum opts_result bench_opts_parse(struct bench_opts *o, int argc, char **argv,
                                  char *err, size_t errlen);

/* "pipeline", "conn" or "bulk". */
const char *bench_mode_name(enum bench_mode m);

#endif
