/*
 * Unit tests of tcp_bench's failure classification and its report
 * (tools/bench_report.c): every socket error lands in the kind a test
 * asserts on (refused, reset, timeout), the rest in connect/io, and the
 * text and JSON reports show each kind by name.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench_report.h"

static void test_bench_err_classify_connect(void **state)
{
    (void)state;
    assert_int_equal(bench_err_classify(BENCH_OP_CONNECT, ECONNREFUSED),
                     BENCH_ERR_REFUSED);
    assert_int_equal(bench_err_classify(BENCH_OP_CONNECT, ECONNRESET),
                     BENCH_ERR_RESET);
    assert_int_equal(bench_err_classify(BENCH_OP_CONNECT, ETIMEDOUT),
                     BENCH_ERR_TIMEOUT);
    assert_int_equal(bench_err_classify(BENCH_OP_CONNECT, ENETUNREACH),
                     BENCH_ERR_CONNECT);
    assert_int_equal(bench_err_classify(BENCH_OP_CONNECT, EADDRNOTAVAIL),
                     BENCH_ERR_CONNECT);
}

static void test_bench_err_classify_transfer(void **state)
{
    static const enum bench_op ops[] = {BENCH_OP_SEND, BENCH_OP_RECEIVE};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(bench_err_classify(ops[i], ECONNRESET),
                         BENCH_ERR_RESET);
        assert_int_equal(bench_err_classify(ops[i], EPIPE), BENCH_ERR_RESET);
        assert_int_equal(bench_err_classify(ops[i], ETIMEDOUT),
                         BENCH_ERR_TIMEOUT);
        assert_int_equal(bench_err_classify(ops[i], ECONNREFUSED),
                         BENCH_ERR_REFUSED);
        assert_int_equal(bench_err_classify(ops[i], EIO), BENCH_ERR_IO);
    }
}

static void test_bench_err_names_unique(void **state)
{
    (void)state;
    assert_string_equal(bench_err_name(BENCH_ERR_REFUSED), "refused");
    assert_string_equal(bench_err_name(BENCH_ERR_RESET), "reset");
    assert_string_equal(bench_err_name(BENCH_ERR_TIMEOUT), "timeout");
    assert_string_equal(bench_err_name(BENCH_ERR_WRONG), "wrong_answer");
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        for (int j = i + 1; j < BENCH_ERR_COUNT; j++)
            assert_string_not_equal(bench_err_name((enum bench_err)i),
                                    bench_err_name((enum bench_err)j));
}

/* The reports name each kind with its count. */
static void test_bench_report_shows_kinds(void **state)
{
    struct bench_opts o;
    struct bench_stats *s = calloc(1, sizeof(*s));
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    assert_non_null(s);
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.port = 1;
    o.mode = BENCH_CONN;
    o.conns = 1;
    s->errors[BENCH_ERR_REFUSED] = 3;
    s->errors[BENCH_ERR_RESET] = 2;
    s->errors[BENCH_ERR_WRONG] = 1;
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    bench_report_json(f, &o, s);
    bench_report_text(f, &o, s);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(buf, "\"refused\":3,"));
    assert_non_null(strstr(buf, "\"reset\":2,"));
    assert_non_null(strstr(buf, "\"wrong_answer\":1,"));
    assert_non_null(strstr(buf, "\"timeout\":0"));
    assert_non_null(strstr(buf, "\"errors_total\":6"));
    assert_non_null(strstr(buf, "errors        6  refused 3  reset 2  "
                                "wrong_answer 1\n"));
    free(buf);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_err_classify_connect),
        cmocka_unit_test(test_bench_err_classify_transfer),
        cmocka_unit_test(test_bench_err_names_unique),
        cmocka_unit_test(test_bench_report_shows_kinds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
