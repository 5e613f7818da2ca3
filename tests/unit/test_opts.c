/*
 * Option parsing of tcp_server: what DESIGN.md section 3 accepts and what
 * it rejects. The worker's command line is tested in test_worker_cmd.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"
#include "test_args.h"
#include "opts_server.h"

#define ARGV(...) ((const char *[]){"tcp_server", __VA_ARGS__, NULL})

static enum opts_result parse(struct server_opts *o, const char *const *in,
                              char *err)
{
    /* Static: results point into it and are checked after the call. */
    static struct args a;

    make_args(&a, in);
    return server_opts_parse(o, a.argc, a.argv, err, 256);
}

static void test_server_opts_defaults(void **state)
{
    struct server_opts o;
    char err[256] = "";
    const char *argv[] = {"tcp_server", NULL};

    (void)state;
    assert_int_equal(parse(&o, argv, err), OPTS_OK);
    assert_int_equal(o.port, 8083);
    assert_null(o.bind_addr);
    assert_int_equal(o.verbose, 0);
    assert_int_equal(o.workers, 1);
    assert_true(o.idle_timeout == 60.0);
    assert_true(o.shutdown_timeout == 30.0);
    assert_false(o.seed_set);
    assert_null(o.worker_path);
}

static void test_server_opts_all_forms(void **state)
{
    struct server_opts o;
    char err[256] = "";

    (void)state;
    assert_int_equal(parse(&o,
                           ARGV("-p", "9000", "-v", "-b", "127.0.0.1", "-w",
                                "4", "--idle-timeout", "2.5",
                                "--shutdown-timeout=0", "--seed", "42"),
                           err),
                     OPTS_OK);
    assert_int_equal(o.port, 9000);
    assert_string_equal(o.bind_addr, "127.0.0.1");
    assert_int_equal(o.verbose, 1);
    assert_int_equal(o.workers, 4);
    assert_true(o.idle_timeout == 2.5);
    assert_true(o.shutdown_timeout == 0.0);
    assert_true(o.seed_set);
    assert_int_equal(o.seed, 42);

    assert_int_equal(parse(&o,
                           ARGV("--port=1234", "--verbose", "--workers", "2",
                                "--bind", "::1"),
                           err),
                     OPTS_OK);
    assert_int_equal(o.port, 1234);
    assert_int_equal(o.workers, 2);
    assert_string_equal(o.bind_addr, "::1");

    /* Attached short value and clustered flags. */
    assert_int_equal(parse(&o, ARGV("-p8084", "-vv"), err), OPTS_OK);
    assert_int_equal(o.port, 8084);
    assert_int_equal(o.verbose, 2);

    assert_int_equal(parse(&o, ARGV("-vp", "8085"), err), OPTS_OK);
    assert_int_equal(o.port, 8085);
    assert_int_equal(o.verbose, 1);

    assert_int_equal(parse(&o, ARGV("-p", "0"), err), OPTS_OK);
    assert_int_equal(o.port, 0);
    assert_int_equal(parse(&o, ARGV("-p", "65535"), err), OPTS_OK);
    assert_int_equal(o.port, 65535);
    assert_int_equal(parse(&o, ARGV("--seed", "18446744073709551615"), err),
                     OPTS_OK);
    assert_true(o.seed == UINT64_MAX);
}

static void test_server_opts_help(void **state)
{
    struct server_opts o;
    char err[256] = "";

    (void)state;
    assert_int_equal(parse(&o, ARGV("-h"), err), OPTS_HELP);
    assert_int_equal(parse(&o, ARGV("--help"), err), OPTS_HELP);
    assert_int_equal(parse(&o, ARGV("-p", "1", "--help"), err), OPTS_HELP);
}

static void expect_usage(const char *const *argv, const char *needle)
{
    struct server_opts o;
    char err[256] = "";

    assert_int_equal(parse(&o, argv, err), OPTS_USAGE);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_server_opts_rejects(void **state)
{
    (void)state;
    expect_usage(ARGV("--bogus"), "--bogus");
    expect_usage(ARGV("-x"), "-x");
    expect_usage(ARGV("-p"), "-p");
    expect_usage(ARGV("--port"), "--port");
    expect_usage(ARGV("-p", "abc"), "abc");
    expect_usage(ARGV("-p", "65536"), "65536");
    expect_usage(ARGV("-p", "-1"), "-1");
    expect_usage(ARGV("-p", "+80"), "+80");
    expect_usage(ARGV("-p", " 80"), " 80");
    expect_usage(ARGV("-p", "80x"), "80x");
    expect_usage(ARGV("-p", ""), "port");
    expect_usage(ARGV("-w", "0"), "0");
    expect_usage(ARGV("-w", "257"), "257");
    expect_usage(ARGV("--idle-timeout", "-1"), "-1");
    expect_usage(ARGV("--idle-timeout", "1e3"), "1e3");
    expect_usage(ARGV("--idle-timeout", "inf"), "inf");
    expect_usage(ARGV("--idle-timeout", "."), "idle");
    expect_usage(ARGV("--shutdown-timeout", "x"), "x");
    expect_usage(ARGV("--seed", "18446744073709551616"), "seed");
    expect_usage(ARGV("--seed", "-3"), "-3");
    expect_usage(ARGV("extra"), "extra");
    expect_usage(ARGV("-p", "80", "--", "-v"), "-v");
    expect_usage(ARGV("--verbose=1"), "--verbose");
    expect_usage(ARGV("-b", ""), "bind");
    expect_usage(ARGV("--agent", "127.0.0.1"), "agent");
    expect_usage(ARGV("--agent", "::1:9000"), "::1:9000");
    expect_usage(ARGV("--agent", "127.0.0.1:0"), "agent");
    expect_usage(ARGV("--agent"), "--agent");
    expect_usage(ARGV("--drain-timeout", "-1"), "drain");
    expect_usage(ARGV("--drain-timeout", "soon"), "soon");
    expect_usage(ARGV("--metrics", "9183"), "9183");
    expect_usage(ARGV("--metrics", "::1:9183"), "metrics");
    expect_usage(ARGV("--metrics", "127.0.0.1:99999"), "99999");
    expect_usage(ARGV("--metrics"), "--metrics");
}

static void test_server_opts_agent(void **state)
{
    struct server_opts o;
    char err[256] = "";

    (void)state;
    assert_int_equal(parse(&o, ARGV("-p", "1"), err), OPTS_OK);
    assert_false(o.agent_set);
    assert_true(o.drain_timeout == 2.0);
    assert_int_equal(
        parse(&o, ARGV("--agent", "[::1]:9184", "--drain-timeout", "0.5"), err),
        OPTS_OK);
    assert_true(o.agent_set);
    assert_string_equal(o.agent_host, "::1");
    assert_int_equal(o.agent_port, 9184);
    assert_true(o.drain_timeout == 0.5);
    assert_int_equal(parse(&o, ARGV("--agent=10.0.0.7:1"), err), OPTS_OK);
    assert_string_equal(o.agent_host, "10.0.0.7");
    assert_int_equal(o.agent_port, 1);
}

static void test_server_opts_metrics(void **state)
{
    struct server_opts o;
    char err[256] = "";

    (void)state;
    assert_int_equal(parse(&o, ARGV("-p", "1"), err), OPTS_OK);
    assert_false(o.metrics_set);
    assert_int_equal(parse(&o, ARGV("--metrics", "127.0.0.1:9183"), err),
                     OPTS_OK);
    assert_true(o.metrics_set);
    assert_string_equal(o.metrics_host, "127.0.0.1");
    assert_int_equal(o.metrics_port, 9183);
    assert_int_equal(parse(&o, ARGV("--metrics=[::1]:0"), err), OPTS_OK);
    assert_string_equal(o.metrics_host, "::1");
    assert_int_equal(o.metrics_port, 0);
}

static void expect_hostport(const char *in, int want, const char *host,
                            unsigned port)
{
    char h[16] = "untouched";
    unsigned p = 12345;
    int r = opts_parse_hostport(in, h, sizeof(h), &p);

    if (r != want)
        fail_msg("'%s': got %d, want %d", in ? in : "(null)", r, want);
    if (want == 0) {
        assert_string_equal(h, host);
        assert_int_equal(p, port);
    } else {
        /* Nothing is written on failure. */
        assert_string_equal(h, "untouched");
        assert_int_equal(p, 12345);
    }
}

static void test_opts_parse_hostport(void **state)
{
    (void)state;
    expect_hostport("127.0.0.1:9183", 0, "127.0.0.1", 9183);
    expect_hostport("localhost:0", 0, "localhost", 0);
    expect_hostport("[::1]:65535", 0, "::1", 65535);
    expect_hostport("[fe80::1%lo]:80", 0, "fe80::1%lo", 80);
    expect_hostport("[::]:1", 0, "::", 1);
    expect_hostport(NULL, -EINVAL, NULL, 0);
    expect_hostport("", -EINVAL, NULL, 0);
    expect_hostport("9183", -EINVAL, NULL, 0);
    expect_hostport(":9183", -EINVAL, NULL, 0);
    expect_hostport("host:", -EINVAL, NULL, 0);
    expect_hostport("::1:80", -EINVAL, NULL, 0);
    expect_hostport("[::1]80", -EINVAL, NULL, 0);
    expect_hostport("[::1:80", -EINVAL, NULL, 0);
    expect_hostport("[]:80", -EINVAL, NULL, 0);
    expect_hostport("[a[b]:80", -EINVAL, NULL, 0);
    expect_hostport("a]:80", -EINVAL, NULL, 0);
    expect_hostport("host:+80", -EINVAL, NULL, 0);
    expect_hostport("host: 80", -EINVAL, NULL, 0);
    expect_hostport("host:80x", -EINVAL, NULL, 0);
    expect_hostport("host:65536", -ERANGE, NULL, 0);
    /* The host must fit the buffer with its NUL (16 bytes here). */
    expect_hostport("123456789012345:1", 0, "123456789012345", 1);
    expect_hostport("1234567890123456:1", -ERANGE, NULL, 0);
}

static void test_server_opts_version_and_worker(void **state)
{
    struct server_opts o;
    char err[256] = "";

    (void)state;
    assert_int_equal(parse(&o, ARGV("--version"), err), OPTS_VERSION);
    /* Like --help, it wins over the options before it. */
    assert_int_equal(parse(&o, ARGV("-p", "1", "--version"), err),
                     OPTS_VERSION);
    expect_usage(ARGV("--version=1"), "takes no value");

    assert_int_equal(
        parse(&o, ARGV("--worker", "/opt/w/tcp_server_worker"), err), OPTS_OK);
    assert_string_equal(o.worker_path, "/opt/w/tcp_server_worker");
    assert_int_equal(parse(&o, ARGV("--worker=./w", "-p", "9"), err), OPTS_OK);
    assert_string_equal(o.worker_path, "./w");
    assert_int_equal(o.port, 9);
    expect_usage(ARGV("--worker", ""), "worker path");
    expect_usage(ARGV("--worker"), "needs a value");
}

static void test_opts_parse_u64_bounds(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(opts_parse_u64("5", 1, 10, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(opts_parse_u64("0", 1, 10, &v), -ERANGE);
    assert_int_equal(opts_parse_u64("11", 1, 10, &v), -ERANGE);
    assert_int_equal(opts_parse_u64("99999999999999999999", 0, UINT64_MAX, &v),
                     -ERANGE);
    assert_int_equal(opts_parse_u64("", 0, 10, &v), -EINVAL);
    assert_int_equal(opts_parse_u64(NULL, 0, 10, &v), -EINVAL);
}

/* DESIGN.md section 3's lines, exactly. */
#define WORKER_HELP                                                            \
    "--worker PATH            worker binary (default: found next to / "        \
    "relative to tcp_server)\n"
#define VERSION_HELP "--version                print the version and exit\n"

static void test_server_help_text(void **state)
{
    /* DESIGN.md section 3's line, exactly. */
    static const char metrics_line[] =
        "--metrics ADDR:PORT      serve Prometheus metrics at "
        "http://ADDR:PORT/metrics\n";
    static const char *const options[] = {"-h, --help",
                                          "-p PORT, --port PORT",
                                          "-v, --verbose",
                                          "-b ADDR, --bind ADDR",
                                          "-w N, --workers N",
                                          "--idle-timeout SECONDS",
                                          "--shutdown-timeout SECONDS",
                                          "--seed N",
                                          metrics_line};
    static const char agent_line[] = "\n--agent ADDR:PORT        HAProxy "
                                     "agent-check endpoint (up ready / "
                                     "drain on stop)\n";
    static const char drain_line[] =
        "\n--drain-timeout SECONDS  with --agent: longest wait for the "
        "balancer at stop (default 2)\n";

    (void)state;
    assert_int_equal(strncmp(server_help, server_usage, strlen(server_usage)),
                     0);
    assert_string_equal(server_usage,
                        "usage: tcp_server [-h] [-p PORT] [-v] [options]\n");
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        assert_non_null(strstr(server_help, options[i]));
    assert_non_null(strstr(server_help, WORKER_HELP));
    assert_non_null(strstr(server_help, VERSION_HELP));
    /* DESIGN.md section 3's exact lines for the balancer options. */
    assert_non_null(strstr(server_help, agent_line));
    assert_non_null(strstr(server_help, drain_line));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_opts_defaults),
        cmocka_unit_test(test_server_opts_all_forms),
        cmocka_unit_test(test_server_opts_help),
        cmocka_unit_test(test_server_opts_version_and_worker),
        cmocka_unit_test(test_server_opts_rejects),
        cmocka_unit_test(test_opts_parse_u64_bounds),
        cmocka_unit_test(test_server_help_text),
        cmocka_unit_test(test_server_opts_agent),
        cmocka_unit_test(test_server_opts_metrics),
        cmocka_unit_test(test_opts_parse_hostport),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
