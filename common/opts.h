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

/* Longest timeout any binary accepts, in seconds: about 30 years. */
#define OPTS_SECONDS_MAX 1000000000u

/* Parses non-negative decimal seconds (e.g. "2", "0.25") up to max. */
int opts_parse_seconds(const char *s, double max, double *out);

/*
 * Parses "HOST:PORT" or "[IPV6]:PORT" (the brackets are required around an
 * IPv6 address, which has colons of its own) into host (NUL-terminated,
 * without the brackets) and *port (0..65535). HOST must be non-empty; it is
 * not resolved here. Returns 0, -EINVAL for a malformed value, or -ERANGE
 * for a port out of range or a host that does not fit hostlen.
 */
int opts_parse_hostport(const char *s, char *host, size_t hostlen,
                        unsigned *port);

/* Outcome of a binary's parse function. */
enum opts_result {
    OPTS_OK = 0,
    OPTS_HELP = 1,    /* --help was given: print help, exit 0 */
    OPTS_USAGE = 2,   /* bad usage: err holds the message, exit 2 */
    OPTS_VERSION = 3, /* --version was given: print the version, exit 0 */
};

/*
 * TCP_SERVER_VERSION, the product's version, is a compile definition made
 * from CMake's project() (one place, no fallback: a build without it does
 * not compile); every binary's --version prints "NAME TCP_SERVER_VERSION".
 */

/* Writes "invalid <what> '<value>' (expected <expect>)"; OPTS_USAGE. */
enum opts_result opts_bad_value(char *err, size_t errlen, const char *what,
                                const char *value, const char *expect);

/*
 * Applies one result of opt_next (an option id with its value, or
 * OPT_POSITIONAL with the argument) to the caller's ctx: OPTS_OK to go on,
 * OPTS_HELP or OPTS_USAGE (with a message in err) to stop there.
 */
typedef enum opts_result (*opts_apply_fn)(void *ctx, int id, const char *arg,
                                          char *err, size_t errlen);

/*
 * Runs opt_next over argv[1..argc) and hands every option to apply, up to
 * the end of argv or the first result other than OPTS_OK, which it returns.
 * An error of opt_next itself is OPTS_USAGE with its message in err.
 */
enum opts_result opts_parse_argv(int argc, char **argv,
                                 const struct opt_def *defs,
                                 opts_apply_fn apply, void *ctx, char *err,
                                 size_t errlen);

#endif
