/*
 * tcp_client's command line and -f line format. Action names are exactly the
 * protocol's (lowercase words); a MESSAGE that starts with '-' follows "--".
 */
#include "client_opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

const char client_usage[] =
    "usage: tcp_client [--help] [-v] [-h HOST] [-p PORT] [-t SECONDS] "
    "ACTION MESSAGE\n"
    "       tcp_client [-v] [-h HOST] [-p PORT] [-t SECONDS] -f FILE\n";

const char client_help[] =
    "usage: tcp_client [--help] [-v] [-h HOST] [-p PORT] [-t SECONDS] "
    "ACTION MESSAGE\n"
    "       tcp_client [-v] [-h HOST] [-p PORT] [-t SECONDS] -f FILE\n"
    "\n"
    "Sends requests to a tcp_server and prints the answers on stdout.\n"
    "\n"
    "ACTION is uppercase, lowercase, reverse, shuffle or random. MESSAGE "
    "'-'\n"
    "reads the message from stdin (binary-safe, up to 134217727 bytes) and\n"
    "prints the answer's bytes exactly, with no newline added; any other\n"
    "MESSAGE is sent as given and its answer is printed followed by a "
    "newline.\n"
    "Put '--' before a MESSAGE that starts with '-'.\n"
    "\n"
    "  --help                 show this help message and exit\n"
    "  --version              print the version and exit\n"
    "  -v, --verbose          log connection details to stderr\n"
    "  -h HOST, --host HOST   server host name or address (default "
    "localhost)\n"
    "  -p PORT, --port PORT   server port (default 8083)\n"
    "  -t SECONDS, --timeout SECONDS\n"
    "                         give up when no byte moves either way for "
    "this\n"
    "                         long while answers are due (default 30, 0 = "
    "never)\n"
    "  -f FILE, --file FILE   send one request per line of FILE ('-': "
    "stdin),\n"
    "                         each line 'ACTION MESSAGE', all pipelined on "
    "one\n"
    "                         connection; answers are printed one per line,\n"
    "                         in order\n"
    "\n"
    "Exit status: 0 on success, 1 when the connection fails, the server\n"
    "answers 'error', the exchange breaks off or times out, 2 on bad usage.\n";

enum {
    OPT_HELP = 1,
    OPT_VERBOSE,
    OPT_HOST,
    OPT_PORT,
    OPT_FILE,
    OPT_TIMEOUT,
    OPT_VERSION,
};

static const struct opt_def client_defs[] = {
    {"help", 0, false, OPT_HELP},       {"verbose", 'v', false, OPT_VERBOSE},
    {"host", 'h', true, OPT_HOST},      {"port", 'p', true, OPT_PORT},
    {"file", 'f', true, OPT_FILE},      {"timeout", 't', true, OPT_TIMEOUT},
    {"version", 0, false, OPT_VERSION}, {NULL, 0, false, 0},
};

/* Looks an action name up; names are the protocol's, case-sensitive. */
static int action_from_text(const char *name, size_t len)
{
    char buf[16];

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    return proto_action_from_name(buf);
}

/*
 * Formats the one-line message into err and evaluates to OPTS_USAGE. A macro
 * rather than a variadic function, so the format stays a checked literal.
 */
#define USAGE_ERROR(...) (snprintf(err, errlen, __VA_ARGS__), OPTS_USAGE)

/* Applies the positional arguments once all options are known. */
static enum opts_result take_positionals(struct client_opts *o,
                                         const char *pos[], int npos, char *err,
                                         size_t errlen)
{
    int a;

    if (o->file != NULL) {
        if (npos > 0)
            return USAGE_ERROR("unexpected argument '%s' with -f", pos[0]);
        return OPTS_OK;
    }
    if (npos == 0)
        return USAGE_ERROR("%s", "missing ACTION and MESSAGE");
    a = action_from_text(pos[0], strlen(pos[0]));
    if (a < 0)
        return USAGE_ERROR("unknown action '%s' (uppercase, lowercase, "
                           "reverse, shuffle or random)",
                           pos[0]);
    if (npos == 1)
        return USAGE_ERROR("%s", "missing MESSAGE");
    if (npos > 2)
        return USAGE_ERROR("unexpected argument '%s'", pos[2]);
    o->action = (unsigned)a;
    o->message = pos[1];
    o->message_stdin = strcmp(pos[1], "-") == 0;
    if (!o->message_stdin && strlen(pos[1]) > PROTO_MAX_LEN)
        return USAGE_ERROR("%s", "message too long");
    return OPTS_OK;
}

enum opts_result client_opts_parse(struct client_opts *o, int argc, char **argv,
                                   char *err, size_t errlen)
{
    const char *pos[3];
    struct opt_iter it;
    const char *arg;
    uint64_t v;
    int npos = 0;
    int id;

    memset(o, 0, sizeof(*o));
    o->host = CLIENT_DEFAULT_HOST;
    o->port = CLIENT_DEFAULT_PORT;
    o->timeout = CLIENT_DEFAULT_TIMEOUT;
    opt_iter_init(&it, argc, argv);
    while ((id = opt_next(&it, client_defs, &arg, err, errlen)) != OPT_END) {
        switch (id) {
        case OPT_ERROR:
            return OPTS_USAGE;
        case OPT_HELP:
            return OPTS_HELP;
        case OPT_VERSION:
            return OPTS_VERSION;
        case OPT_VERBOSE:
            o->verbose++;
            break;
        case OPT_HOST:
            if (arg[0] == '\0')
                return USAGE_ERROR("%s", "empty host name");
            o->host = arg;
            break;
        case OPT_PORT:
            if (opts_parse_u64(arg, 1, 65535, &v) < 0)
                return USAGE_ERROR("bad port '%s' (expected 1..65535)", arg);
            o->port = (unsigned)v;
            break;
        case OPT_FILE:
            o->file = arg;
            break;
        case OPT_TIMEOUT:
            if (opts_parse_seconds(arg, OPTS_SECONDS_MAX, &o->timeout) < 0)
                return USAGE_ERROR("bad timeout '%s' (expected seconds, 0 = "
                                   "never)",
                                   arg);
            break;
        case OPT_POSITIONAL:
            /* Keep one past the two expected, to name it in the error. */
            if (npos < 3)
                pos[npos++] = arg;
            break;
        default:
            return USAGE_ERROR("%s", "internal option error");
        }
    }
    return take_positionals(o, pos, npos, err, errlen);
}

int client_parse_line(const char *line, size_t len, unsigned *action,
                      const char **msg, size_t *msglen, char *err,
                      size_t errlen)
{
    const char *sp = memchr(line, ' ', len);
    size_t alen = sp != NULL ? (size_t)(sp - line) : len;
    int a;

    if (len == 0) {
        snprintf(err, errlen, "empty line (expected 'ACTION MESSAGE')");
        return -EINVAL;
    }
    a = action_from_text(line, alen);
    if (a < 0) {
        snprintf(err, errlen, "unknown action '%.*s'",
                 (int)(alen > 32 ? 32 : alen), line);
        return -EINVAL;
    }
    *action = (unsigned)a;
    *msg = sp != NULL ? sp + 1 : line + len;
    *msglen = sp != NULL ? len - alen - 1 : 0;
    if (*msglen > PROTO_MAX_LEN) {
        snprintf(err, errlen, "message too long (%zu bytes, at most %u)",
                 *msglen, PROTO_MAX_LEN);
        return -EMSGSIZE;
    }
    return 0;
}
