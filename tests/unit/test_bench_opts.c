/*
 * tcp_bench's option parser (tools/bench_opts.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench_opts.h"
#include "proto.h"

static enum opts_result parse(struct bench_opts *o, const char *line)
{
    char buf[256];
    char *argv[32];
    char err[128];
    int argc = 0;

    snprintf(buf, sizeof(buf), "tcp_bench %s", line);
    for (char *t = strtok(buf, " "); t != NULL && argc < 31;
         t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return bench_opts_parse(o, argc, argv, err, sizeof(err));
}

static void test_bench_opts_parse_mode_defaults(void **state)
{
    struct bench_opts o;

    (void)state;
    assert_int_equal(parse(&o, "pipeline"), OPTS_OK);
    assert_int_equal(o.mode, BENCH_PIPELINE);
    assert_int_equal(o.conns, 1);
    assert_int_equal(o.pipeline, 1);
    assert_int_equal(o.requests, 100000);
    assert_int_equal(o.size, 16);
    assert_int_equal(o.action, PROTO_UPPERCASE);
    assert_int_equal(o.port, 8083);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(parse(&o, "bulk"), OPTS_OK);
    assert_int_equal(o.size, 64u * 1024 * 1024);
    assert_int_equal(o.requests, 1);
    assert_int_equal(parse(&o, "conn -c 8"), OPTS_OK);
    assert_int_equal(o.requests, 1000);
    assert_int_equal(o.conns, 8);
    assert_int_equal(parse(&o, "-t 2 pipeline"), OPTS_OK);
    assert_int_equal(o.requests, 0); /* the duration alone bounds it */
    assert_true(o.duration == 2.0);
}

static void test_bench_opts_parse_values(void **state)
{
    struct bench_opts o;

    (void)state;
    assert_int_equal(parse(&o, "-h ::1 -p 9000 -c 4 -n 50 -s 134217727 "
                               "-a reverse -P 64 --raw --json --seed 5 "
                               "--timeout 0.5 bulk"),
                     OPTS_OK);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.port, 9000);
    assert_int_equal(o.conns, 4);
    assert_int_equal(o.requests, 50);
    assert_int_equal(o.size, PROTO_MAX_LEN);
    assert_int_equal(o.action, PROTO_REVERSE);
    assert_int_equal(o.pipeline, 64);
    assert_true(o.raw && o.json);
    assert_int_equal(o.seed, 5);
    assert_true(o.timeout == 0.5);
    assert_int_equal(parse(&o, "-a 6 pipeline"), OPTS_OK);
    assert_int_equal(o.action, 6);
    assert_int_equal(parse(&o, "-a 0 pipeline"), OPTS_OK);
    assert_int_equal(o.action, 0);
}

static void test_bench_opts_parse_errors(void **state)
{
    struct bench_opts o;

    (void)state;
    assert_int_equal(parse(&o, ""), OPTS_USAGE);
    assert_int_equal(parse(&o, "walk"), OPTS_USAGE);
    assert_int_equal(parse(&o, "pipeline conn"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-a 32 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-a UPPERCASE pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-s 134217728 bulk"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-c 0 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-p 70000 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-P 4 conn"), OPTS_USAGE);
    assert_int_equal(parse(&o, "-t 0 pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "--bogus pipeline"), OPTS_USAGE);
    assert_int_equal(parse(&o, "--help"), OPTS_HELP);
    assert_int_equal(parse(&o, "--version"), OPTS_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_opts_parse_mode_defaults),
        cmocka_unit_test(test_bench_opts_parse_values),
        cmocka_unit_test(test_bench_opts_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
