/*
 * The supervisor-worker interface (common/worker_cmd.c): every option
 * survives a build and a parse unchanged, the supervisor's command line is
 * word for word what the worker has always been given, and bad command lines
 * are refused with a message. A new row in WORKER_CMD_OPTIONS fails
 * test_worker_cmd_round_trip until all_set() gives it a value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "test_args.h"
#include "worker_cmd.h"

static int count_words(char *const *argv)
{
    int n = 0;

    while (argv[n] != NULL)
        n++;
    return n;
}

/* Equality of two members, by the kind of their row. */
#define SAME_FD(a, b)      ((a) == (b))
#define SAME_PID(a, b)     ((a) == (b))
#define SAME_UINT(a, b)    ((a) == (b))
#define SAME_SECONDS(a, b) ((a) == (b))
#define SAME_U64(a, b)     ((a).set == (b).set && (a).value == (b).value)
#define SAME_COUNT(a, b)   ((a) == (b))

#define COUNT_SAME(field, kind, name, ...)                                     \
    if (SAME_##kind(x->field, y->field))                                       \
        same++;                                                                \
    else if (report)                                                           \
        print_message("--%s differs\n", name);

/* How many members of x and y are equal; report names the others. */
static int members_same(const struct worker_cmd *x, const struct worker_cmd *y,
                        bool report)
{
    int same = 0;

    WORKER_CMD_OPTIONS(COUNT_SAME)
    return same;
}

#define ROW_ID(field, ...) ROW_##field,
enum { WORKER_CMD_OPTIONS(ROW_ID) n_options };

/* Every member away from its default (and from the supervisor's values). */
static void all_set(struct worker_cmd *c)
{
    worker_cmd_init(c);
    c->listen_fd = 7;
    c->ready_fd = 1 << 20;
    c->parent_pid = 0x7fffffff;
    c->slot = 256;
    c->idle_timeout = 0.25;
    c->shutdown_timeout = 1e9;
    c->keepalive_timeout = 0.125;
    c->min_rate = 1073741824u;
    c->stats_fd = 5;
    c->stats_block = 1023;
    c->seed.set = true;
    c->seed.value = UINT64_MAX;
    c->verbose = 4;
}

/* Builds c, parses the result back into out, checks argv[0]. */
static void round_trip(const struct worker_cmd *c, struct worker_cmd *out)
{
    static struct worker_argv a;
    char err[256] = "";

    assert_int_equal(worker_cmd_build(c, "/bin/w", &a), 0);
    assert_string_equal(a.argv[0], "/bin/w");
    assert_int_equal(
        worker_cmd_parse(out, count_words(a.argv), a.argv, err, sizeof(err)),
        OPTS_OK);
}

static void test_worker_cmd_fds(void **state)
{
    (void)state;
    /* The documented interface (docs/design.md): listener 3, readiness 4. */
    assert_int_equal(WORKER_CMD_LISTEN_FD, 3);
    assert_int_equal(WORKER_CMD_READY_FD, 4);
    assert_int_equal(WORKER_CMD_STATS_FD, 5);
}

static void test_worker_cmd_defaults(void **state)
{
    struct worker_cmd c;

    (void)state;
    worker_cmd_init(&c);
    assert_int_equal(c.listen_fd, -1);
    assert_int_equal(c.ready_fd, -1);
    assert_int_equal(c.parent_pid, 0);
    assert_int_equal(c.slot, 0);
    assert_int_equal(c.stats_fd, -1);
    assert_int_equal(c.stats_block, 0);
    assert_int_equal(c.verbose, 0);
    assert_true(c.idle_timeout == 60.0);
    assert_true(c.shutdown_timeout == 30.0);
    assert_true(c.keepalive_timeout == 5.0);
    assert_int_equal(c.min_rate, 500);
    assert_false(c.seed.set);
}

static void test_worker_cmd_round_trip(void **state)
{
    struct worker_cmd def, c, back;

    (void)state;
    worker_cmd_init(&def);
    all_set(&c);
    /* all_set must move every option, new ones included. */
    assert_int_equal(members_same(&c, &def, false), 0);
    round_trip(&c, &back);
    assert_int_equal(members_same(&c, &back, true), n_options);

    /* Options at their defaults are left out and come back the same. */
    def.listen_fd = 0;
    round_trip(&def, &back);
    assert_int_equal(members_same(&def, &back, true), n_options);

    /* The lowest values that are still written. */
    worker_cmd_init(&c);
    c.listen_fd = 3;
    c.ready_fd = 0;
    c.parent_pid = 1;
    c.idle_timeout = 0;
    c.shutdown_timeout = 0.000001;
    c.keepalive_timeout = 0;
    c.min_rate = 0;
    c.seed.set = true;
    c.verbose = 1;
    round_trip(&c, &back);
    assert_int_equal(members_same(&c, &back, true), n_options);
}

static void test_worker_cmd_build_words(void **state)
{
    static const char *const want[] = {
        "/usr/bin/tcp_server_worker",
        "--listen-fd",
        "3",
        "--ready-fd",
        "4",
        "--parent",
        "1234",
        "--slot",
        "2",
        "--idle-timeout",
        "60.000000",
        "--shutdown-timeout",
        "0.500000",
        "--keepalive-timeout",
        "5.000000",
        "--min-rate",
        "500",
        "--stats-fd",
        "5",
        "--stats-block",
        "9",
        "--seed",
        "42",
        "-v",
        "-v",
        NULL,
    };
    static struct worker_argv a;
    struct worker_cmd c;
    int i;

    (void)state;
    /* What the supervisor passes: its fds, pid and slot, the -v's. */
    worker_cmd_init(&c);
    c.listen_fd = WORKER_CMD_LISTEN_FD;
    c.ready_fd = WORKER_CMD_READY_FD;
    c.parent_pid = 1234;
    c.slot = 2;
    c.shutdown_timeout = 0.5;
    c.stats_fd = WORKER_CMD_STATS_FD;
    c.stats_block = 9;
    c.seed.set = true;
    c.seed.value = 42;
    c.verbose = 2;
    assert_int_equal(worker_cmd_build(&c, want[0], &a), 0);
    for (i = 0; want[i] != NULL; i++)
        assert_string_equal(a.argv[i], want[i]);
    assert_null(a.argv[i]);

    /* More -v than the worker counts are not passed on. */
    c.verbose = 100;
    assert_int_equal(worker_cmd_build(&c, want[0], &a), 0);
    assert_int_equal(count_words(a.argv), 23 + 4);

    /* A positive timeout never rounds down to 0 ("never"). */
    c.idle_timeout = 1e-9;
    assert_int_equal(worker_cmd_build(&c, want[0], &a), 0);
    assert_string_equal(a.argv[10], "0.000001");
}

static void expect_build_error(const struct worker_cmd *c, const char *path,
                               int err)
{
    static struct worker_argv a;

    assert_int_equal(worker_cmd_build(c, path, &a), err);
    assert_null(a.argv[0]);
}

static void test_worker_cmd_build_rejects(void **state)
{
    static char long_path[WORKER_ARGV_TEXT + 1];
    struct worker_cmd c;

    (void)state;
    /* Nothing the parser would refuse is ever written. */
    all_set(&c);
    c.slot = 257;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.listen_fd = (1 << 20) + 1;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.ready_fd = -2;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.parent_pid = -1;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.stats_block = 1024;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.idle_timeout = -1;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.shutdown_timeout = NAN;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.shutdown_timeout = 1e9 + 1;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.keepalive_timeout = -0.5;
    expect_build_error(&c, "w", -ERANGE);
    all_set(&c);
    c.min_rate = 1073741825u;
    expect_build_error(&c, "w", -ERANGE);

    all_set(&c);
    memset(long_path, 'x', sizeof(long_path) - 1);
    expect_build_error(&c, long_path, -E2BIG);
}

static void test_worker_cmd_parse(void **state)
{
    struct worker_cmd o;
    char err[256] = "";
    static struct args a;
    const char *ok[] = {"w", "--listen-fd", "3",    "--ready-fd",
                        "4", "--parent",    "1234", "--slot",
                        "2", "--seed",      "7",    "--idle-timeout",
                        "0", "-v",          NULL};
    const char *forms[] = {"w",
                           "--listen-fd=5",
                           "--verbose",
                           "-vv",
                           "--shutdown-timeout=2.5",
                           "--slot",
                           "0",
                           NULL};

    (void)state;
    make_args(&a, ok);
    assert_int_equal(a.argc, 14);
    assert_int_equal(worker_cmd_parse(&o, a.argc, a.argv, err, sizeof(err)),
                     OPTS_OK);
    assert_int_equal(o.listen_fd, 3);
    assert_int_equal(o.ready_fd, 4);
    assert_int_equal(o.parent_pid, 1234);
    assert_int_equal(o.slot, 2);
    assert_true(o.seed.set);
    assert_int_equal(o.seed.value, 7);
    assert_true(o.idle_timeout == 0.0);
    assert_true(o.shutdown_timeout == 30.0);
    assert_int_equal(o.verbose, 1);

    make_args(&a, forms);
    assert_int_equal(worker_cmd_parse(&o, a.argc, a.argv, err, sizeof(err)),
                     OPTS_OK);
    assert_int_equal(o.listen_fd, 5);
    assert_int_equal(o.ready_fd, -1);
    assert_int_equal(o.parent_pid, 0);
    assert_int_equal(o.verbose, 3);
    assert_true(o.shutdown_timeout == 2.5);
    assert_false(o.seed.set);
}

static void test_worker_cmd_help(void **state)
{
    struct worker_cmd o;
    char err[256] = "";
    static struct args a;

    (void)state;
    make_args(&a, (const char *[]){"w", "-h", NULL});
    assert_int_equal(worker_cmd_parse(&o, a.argc, a.argv, err, sizeof(err)),
                     OPTS_HELP);
    /* Help wins even without the required --listen-fd. */
    make_args(&a, (const char *[]){"w", "--help", NULL});
    assert_int_equal(worker_cmd_parse(&o, a.argc, a.argv, err, sizeof(err)),
                     OPTS_HELP);
    /* So does --version. */
    make_args(&a, (const char *[]){"w", "--version", NULL});
    assert_int_equal(worker_cmd_parse(&o, a.argc, a.argv, err, sizeof(err)),
                     OPTS_VERSION);
}

#define WARGV(...) ((const char *[]){"w", __VA_ARGS__, NULL})

static void expect_usage(const char *const *argv, const char *needle)
{
    struct worker_cmd o;
    char err[256] = "";
    static struct args a;

    make_args(&a, argv);
    assert_int_equal(worker_cmd_parse(&o, a.argc, a.argv, err, sizeof(err)),
                     OPTS_USAGE);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_worker_cmd_parse_rejects(void **state)
{
    (void)state;
    expect_usage(WARGV("-v"), "missing --listen-fd");
    expect_usage(WARGV("--listen-fd", "x"), "invalid descriptor 'x'");
    expect_usage(WARGV("--listen-fd", "-1"), "-1");
    expect_usage(WARGV("--listen-fd", "1048577"), "1048577");
    expect_usage(WARGV("--listen-fd"), "--listen-fd");
    expect_usage(WARGV("--listen-fd", "3", "--ready-fd", ""), "descriptor");
    expect_usage(WARGV("--listen-fd", "3", "--parent", "0"), "invalid pid");
    expect_usage(WARGV("--listen-fd", "3", "--slot", "257"), "invalid slot");
    expect_usage(WARGV("--listen-fd", "3", "--idle-timeout", "1e3"),
                 "invalid idle timeout '1e3'");
    expect_usage(WARGV("--listen-fd", "3", "--shutdown-timeout", "-1"),
                 "invalid shutdown timeout");
    expect_usage(WARGV("--listen-fd", "3", "--keepalive-timeout", "x"),
                 "invalid keepalive timeout 'x'");
    expect_usage(WARGV("--listen-fd", "3", "--min-rate", "1073741825"),
                 "invalid minimum rate");
    expect_usage(WARGV("--listen-fd", "3", "--seed", "18446744073709551616"),
                 "invalid seed");
    expect_usage(WARGV("--listen-fd", "3", "extra"),
                 "unexpected argument 'extra'");
    expect_usage(WARGV("--listen-fd", "3", "--bogus"), "--bogus");
    expect_usage(WARGV("--listen-fd", "3", "-p", "1"), "-p");
    expect_usage(WARGV("--listen-fd", "3", "--verbose=1"), "--verbose");
}

static void test_worker_cmd_usage(void **state)
{
    char buf[512], small[16];

    (void)state;
    worker_cmd_usage(buf, sizeof(buf));
    assert_string_equal(
        buf,
        "usage: tcp_server_worker --listen-fd FD [--ready-fd FD] [--parent "
        "PID]\n"
        "                         [--slot N] [--idle-timeout S] "
        "[--shutdown-timeout S]\n"
        "                         [--keepalive-timeout S] [--min-rate BYTES]\n"
        "                         [--stats-fd FD] [--stats-block N] [--seed "
        "N] [-v]\n"
        "(started by tcp_server; not meant to be run by hand)\n");

    worker_cmd_usage(small, sizeof(small));
    assert_string_equal(small, "usage: tcp_serv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_cmd_fds),
        cmocka_unit_test(test_worker_cmd_defaults),
        cmocka_unit_test(test_worker_cmd_round_trip),
        cmocka_unit_test(test_worker_cmd_build_words),
        cmocka_unit_test(test_worker_cmd_build_rejects),
        cmocka_unit_test(test_worker_cmd_parse),
        cmocka_unit_test(test_worker_cmd_help),
        cmocka_unit_test(test_worker_cmd_parse_rejects),
        cmocka_unit_test(test_worker_cmd_usage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
