/*
 * The interface between the supervisor and tcp_server_worker, in one place:
 * the descriptor numbers the worker inherits, and its command line, built
 * from a struct worker_cmd by the supervisor and parsed back into one by the
 * worker. The worker is not meant to be started by hand.
 *
 * Every option is one row of WORKER_CMD_OPTIONS below: the row declares the
 * struct member, the option's name, its default and its bounds, and both the
 * builder and the parser follow the table. Adding an option is one new row
 * (plus a case in tests/unit/test_worker_cmd.c).
 *
 * Nothing here prints, allocates or exits; the caller owns every buffer.
 */
#ifndef TCP_SERVER_WORKER_CMD_H
#define TCP_SERVER_WORKER_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"
#include "opts_server.h"
#include "wstats.h"

/*
 * Descriptors the worker starts with besides stdio: the listening socket,
 * the write end of the readiness pipe (one byte: "about to accept"), and,
 * with --metrics, the memfd of the counter blocks (wstats.h), of which the
 * worker writes block --stats-block.
 */
#define WORKER_CMD_LISTEN_FD 3
#define WORKER_CMD_READY_FD  4
#define WORKER_CMD_STATS_FD  5

/*
 * X(field, kind, name, short, metavar, required, default, max, what, expect)
 *
 *   field     the member of struct worker_cmd; its type follows from kind:
 *             FD      int, a descriptor 0..max; -1 (absent) is not written
 *             PID     long, a process id 1..max; 0 (absent) is not written
 *             UINT    unsigned, 0..max
 *             SECONDS double, plain decimal seconds 0..max
 *             U64     struct worker_cmd_u64, 0..max, written when set
 *             COUNT   int, a flag given that many times (written at most
 *                     max times)
 *   name      the long option, without the dashes
 *   short     a one-letter form (written instead of the long one), or 0
 *   metavar   the value's name in the usage text (NULL for COUNT)
 *   required  the worker refuses to start without it
 *   default   the value when the option is absent
 *   what, expect  the error "invalid <what> '<value>' (expected <expect>)"
 *
 * The builder writes the options in this order.
 */
#define WORKER_CMD_OPTIONS(X)                                                  \
    X(listen_fd, FD, "listen-fd", 0, "FD", true, -1, 1u << 20, "descriptor",   \
      "a number")                                                              \
    X(ready_fd, FD, "ready-fd", 0, "FD", false, -1, 1u << 20, "descriptor",    \
      "a number")                                                              \
    X(parent_pid, PID, "parent", 0, "PID", false, 0, 0x7fffffffu, "pid",       \
      "a process id")                                                          \
    X(slot, UINT, "slot", 0, "N", false, 0, SERVER_MAX_WORKERS, "slot",        \
      "0..256")                                                                \
    X(idle_timeout, SECONDS, "idle-timeout", 0, "S", false,                    \
      SERVER_DEFAULT_IDLE_TIMEOUT, OPTS_SECONDS_MAX, "idle timeout",           \
      "seconds, 0 = never")                                                    \
    X(shutdown_timeout, SECONDS, "shutdown-timeout", 0, "S", false,            \
      SERVER_DEFAULT_SHUTDOWN_TIMEOUT, OPTS_SECONDS_MAX, "shutdown timeout",   \
      "seconds, 0 = wait forever")                                             \
    X(keepalive_timeout, SECONDS, "keepalive-timeout", 0, "S", false,          \
      SERVER_DEFAULT_KEEPALIVE_TIMEOUT, OPTS_SECONDS_MAX, "keepalive timeout", \
      "seconds, 0 = off")                                                      \
    X(min_rate, UINT, "min-rate", 0, "BYTES", false, SERVER_DEFAULT_MIN_RATE,  \
      SERVER_MAX_MIN_RATE, "minimum rate", "bytes per second, 0 = off")        \
    X(stats_fd, FD, "stats-fd", 0, "FD", false, -1, 1u << 20, "descriptor",    \
      "a number")                                                              \
    X(stats_block, UINT, "stats-block", 0, "N", false, 0,                      \
      SERVER_MAX_WORKERS *WSTATS_PER_SLOT - 1, "stats block", "0..1023")       \
    X(seed, U64, "seed", 0, "N", false, 0, UINT64_MAX, "seed",                 \
      "an integer 0..18446744073709551615")                                    \
    X(verbose, COUNT, "verbose", 'v', NULL, false, 0, 4, "", "")

/* An optional 64-bit number: value is meaningful only when set. */
struct worker_cmd_u64 {
    bool set;
    uint64_t value;
};

#define WORKER_CMD_TYPE_FD      int
#define WORKER_CMD_TYPE_PID     long
#define WORKER_CMD_TYPE_UINT    unsigned
#define WORKER_CMD_TYPE_SECONDS double
#define WORKER_CMD_TYPE_U64     struct worker_cmd_u64
#define WORKER_CMD_TYPE_COUNT   int

#define WORKER_CMD_MEMBER(field, kind, ...) WORKER_CMD_TYPE_##kind field;

/* The worker's settings, one member per row of WORKER_CMD_OPTIONS. */
struct worker_cmd {
    WORKER_CMD_OPTIONS(WORKER_CMD_MEMBER)
};

/* Room for the longest command line the table can produce, and more. */
#define WORKER_ARGV_MAX  48
#define WORKER_ARGV_TEXT 8192

/*
 * A built command line: argv (NULL-terminated, as exec wants it, hence not
 * const) points into text.
 */
struct worker_argv {
    char *argv[WORKER_ARGV_MAX];
    char text[WORKER_ARGV_TEXT];
};

/* Sets every member to its default (what an empty command line gives). */
void worker_cmd_init(struct worker_cmd *c);

/*
 * Builds the command line "path options..." for c into a. Returns 0, or
 * -E2BIG when it does not fit (a path longer than the text buffer).
 */
int worker_cmd_build(const struct worker_cmd *c, const char *path,
                     struct worker_argv *a);

/*
 * Parses argv[1..argc) into c (defaults first). OPTS_HELP for -h/--help;
 * OPTS_USAGE with a one-line message in err for an unknown option, a bad
 * value, a positional argument or a missing required option.
 */
enum opts_result worker_cmd_parse(struct worker_cmd *c, int argc, char **argv,
                                  char *err, size_t errlen);

/*
 * Writes the worker's usage text (several lines, each ending in '\n') into
 * buf, truncated to len - 1 bytes.
 */
void worker_cmd_usage(char *buf, size_t len);

#endif
