/*
 * Command line of tcp_client and the line format of its -f FILE: pure
 * functions (no printing, no exit) so they can be unit tested.
 */
#ifndef TCP_SERVER_TOOLS_CLIENT_OPTS_H
#define TCP_SERVER_TOOLS_CLIENT_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

#define CLIENT_DEFAULT_HOST "localhost"
#define CLIENT_DEFAULT_PORT 8083
/* Seconds without a byte from the server while answers are due. */
#define CLIENT_DEFAULT_TIMEOUT 30.0

struct client_opts {
    const char *host;
    unsigned port;
    int verbose;
    const char *file;    /* -f FILE ("-" is stdin), or NULL */
    unsigned action;     /* single request: a proto_action value */
    const char *message; /* single request: the MESSAGE argument */
    bool message_stdin;  /* MESSAGE was "-": read it from stdin */
    double timeout;      /* -t: response timeout in seconds, 0 = none */
};

extern const char client_usage[]; /* the usage lines, ending in '\n' */
extern const char client_help[];  /* the full --help text */

/*
 * Parses argv into *o. Returns OPTS_OK, OPTS_HELP (for --help), or
 * OPTS_USAGE with a one-line message in err.
 */
enum opts_result client_opts_parse(struct client_opts *o, int argc, char **argv,
                                   char *err, size_t errlen);

/*
 * Parses one line of a -f file (without its '\n'): "ACTION MESSAGE", where
 * MESSAGE is everything after the first space and may be empty ("ACTION" on
 * its own is an empty message too). Sets *action, *msg (pointing into line)
 * and *msglen. Returns 0, or -EINVAL with a message in err for an empty line
 * or an unknown action, -EMSGSIZE when the message is longer than
 * PROTO_MAX_LEN.
 */
int client_parse_line(const char *line, size_t len, unsigned *action,
                      const char **msg, size_t *msglen, char *err,
                      size_t errlen);

#endif
