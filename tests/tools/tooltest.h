/*
 * Helpers for the process-level tests of the tools: a per-test fixture that
 * wraps the proc harness (which starts and ends every server) with a
 * scratch directory for input files, and a runner that starts tcp_client,
 * tcp_bench or tcp_echo through the harness, feeds stdin from a file,
 * waits for the exit within a bound (killing the process by pid when it is
 * exceeded) and returns the exit status with everything it printed.
 */
#ifndef TCP_SERVER_TESTS_TOOLTEST_H
#define TCP_SERVER_TESTS_TOOLTEST_H

#include <stddef.h>

#include "harness.h"

#define TOOLTEST_MAX_FILES 16

/* A test's state: *state of the cmocka test functions. */
struct tooltest {
    struct harness *h;
    char dir[256]; /* scratch directory for input files */
    char *files[TOOLTEST_MAX_FILES];
    size_t nfiles;
};

/* What a finished tool did. */
struct tool_result {
    int status; /* exit status, or 128 + signal number */
    char *out;  /* its stdout, NUL-terminated (out_len excludes the NUL) */
    size_t out_len;
    char *err; /* its stderr, likewise */
    size_t err_len;
};

/* cmocka setup and teardown: *state is a struct tooltest. 0 or -1. */
int tooltest_setup(void **state);
int tooltest_teardown(void **state);

/* Paths of the tools: $TCP_CLIENT_BIN etc. first, then CMake's. */
const char *tooltest_client_bin(void);
const char *tooltest_bench_bin(void);
const char *tooltest_echo_bin(void);

/*
 * Writes len bytes to a new file `name` in the scratch directory (removed by
 * the teardown) and returns its path (valid until the teardown), or NULL.
 */
const char *tooltest_write_file(struct tooltest *t, const char *name,
                                const void *data, size_t len);

/*
 * Runs argv (NULL-terminated; argv[0] a path) with stdin from stdin_path
 * (NULL: /dev/null) and waits up to timeout_ms for it to exit. Returns 0
 * with *res filled (free with tooltest_result_free), -ETIMEDOUT after
 * killing the process (SIGKILL, reaped), or -errno.
 */
int tooltest_run(struct tooltest *t, const char *stdin_path,
                 const char *const argv[], int timeout_ms,
                 struct tool_result *res);

void tooltest_result_free(struct tool_result *res);

/*
 * Starts tcp_echo on a port the kernel picks and returns the port (read
 * back from its "listening on ... port N" line), or -errno. The harness
 * ends it in the teardown.
 */
int tooltest_start_echo(struct tooltest *t);

/* Prints a tool's captured stdout (at most 2 KiB) and stderr to stderr. */
void tooltest_print(const char *what, const struct tool_result *res);

#endif
