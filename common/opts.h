/*
 * Command-line parsing shared by every binary: a small getopt_long-like
 * iterator without global state (so it can be unit tested and re-run), and
 * strict number parsers. Short options may be clustered (-vv) and take their
 * value attached or separate (-p8083, -p 8083); long options take it after
 * '=' or separately (--port=8083, --port 8083); "--" ends the options.
 * Nothing here prints or exits: errors come back as a message.
 */
#ifndef TCP_SERVER_OPTS_H
#define TCP_SERVER_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opt_def {
    const char *long_name; /* without the dashes, or NULL */
    int short_name;        /* a character, or 0 */
    bool has_arg;
    int id; /* returned by opt_next; must be > 0 */
};

struct opt_iter {
    int argc;
    char **argv;
    int index;           /* next argv element to examine */
    const char *cluster; /* rest of a short-option cluster, or NULL */
    bool only_positional;
};

enum {
    OPT_END = 0,         /* no more arguments */
    OPT_POSITIONAL = -1, /* *arg is a positional argument */
    OPT_ERROR = -2,      /* err holds a one-line message */
};

/* Starts iterating over argv[1..argc). defs ends with an all-zero entry. */
void opt_iter_init(struct opt_iter *it, int argc, char **argv);

/*
 * Returns the id of the next option (its value in *arg when it takes one),
 * OPT_POSITIONAL with the argument in *arg, OPT_END, or OPT_ERROR with a
 * message such as "unknown option '--foo'" in err.
 */
int opt_next(struct opt_iter *it, const struct opt_def *defs, const char **arg,
             char *err, size_t errlen);

/* Parses a decimal integer in [min, max]; 0 or -EINVAL/-ERANGE. */
int opts_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses non-negative decimal seconds (e.g. "2", "0.25") up to max. */
int opts_parse_seconds(const char *s, double max, double *out);

/* Outcome of a binary's parse function. */
enum opts_result {
    OPTS_OK = 0,
    OPTS_HELP = 1,  /* --help was given: print help, exit 0 */
    OPTS_USAGE = 2, /* bad usage: err holds the message, exit 2 */
};

/* Options of tcp_server (DESIGN.md section 3). */
struct server_opts {
    unsigned port;         /* 0 asks the kernel for a free port */
    const char *bind_addr; /* NULL: all interfaces */
    int verbose;
    unsigned workers;
    double idle_timeout;     /* seconds, 0 = never */
    double shutdown_timeout; /* seconds, 0 = wait forever */
    bool seed_set;
    uint64_t seed;
};

#define SERVER_DEFAULT_PORT             8083
#define SERVER_DEFAULT_IDLE_TIMEOUT     60.0
#define SERVER_DEFAULT_SHUTDOWN_TIMEOUT 30.0
#define SERVER_MAX_WORKERS              256

extern const char server_usage[]; /* the usage line, ending in '\n' */
extern const char server_help[];  /* the full --help text */

enum opts_result server_opts_parse(struct server_opts *o, int argc, char **argv,
                                   char *err, size_t errlen);

/*
 * Options the supervisor passes to tcp_server_worker. The worker is not meant
 * to be started by hand; its command line is an internal interface.
 */
struct worker_opts {
    int listen_fd;   /* inherited listening socket */
    int ready_fd;    /* write one byte here once about to accept; -1: none */
    long parent_pid; /* supervisor pid, for the orphan check; 0: none */
    unsigned slot;   /* worker slot number, for logs */
    int verbose;
    double idle_timeout;
    double shutdown_timeout;
    bool seed_set;
    uint64_t seed;
};

extern const char worker_usage[];

enum opts_result worker_opts_parse(struct worker_opts *o, int argc, char **argv,
                                   char *err, size_t errlen);

#endif
