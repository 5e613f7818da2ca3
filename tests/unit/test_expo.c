/*
 * The Prometheus text writer and tcp_server's families: escaping of label
 * values and help text, labels in the order given, one HELP/TYPE per
 * family, a final newline, and a too small buffer or misuse reported.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "expo.h"
#include "metrics.h"

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_expo_escaping(void **state)
{
    char buf[512];
    struct expo e;
    struct expo_label l[] = {{"path", "a\\b\"c\nd"}};

    (void)state;
    expo_init(&e, buf, sizeof(buf));
    expo_family(&e, "x_total", "counter", "Help with \\ and\nnewline \"q\".");
    expo_sample_u64(&e, "x_total", l, 1, 7);
    assert_int_equal(expo_finish(&e), (long)strlen(buf));
    assert_string_equal(buf,
                        "# HELP x_total Help with \\\\ and\\nnewline \"q\".\n"
                        "# TYPE x_total counter\n"
                        "x_total{path=\"a\\\\b\\\"c\\nd\"} 7\n");
}

static void test_expo_label_order_and_values(void **state)
{
    char buf[512];
    struct expo e;
    struct expo_label l[] = {{"z", "1"}, {"a", "2"}};

    (void)state;
    expo_init(&e, buf, sizeof(buf));
    expo_family(&e, "g", "gauge", "G.");
    expo_sample_u64(&e, "g", l, 2, UINT64_MAX);
    expo_sample_f64(&e, "g", NULL, 0, 0.25);
    expo_sample_f64(&e, "g", l, 1, NAN);
    expo_sample_f64(&e, "g", l + 1, 1, -INFINITY);
    assert_true(expo_finish(&e) > 0);
    assert_string_equal(buf, "# HELP g G.\n# TYPE g gauge\n"
                             "g{z=\"1\",a=\"2\"} 18446744073709551615\n"
                             "g 0.25\n"
                             "g{z=\"1\"} NaN\n"
                             "g{a=\"2\"} -Inf\n");
}

static void test_expo_misuse(void **state)
{
    char buf[512];
    struct expo e;

    (void)state;
    /* A sample before any family. */
    expo_init(&e, buf, sizeof(buf));
    expo_sample_u64(&e, "a", NULL, 0, 1);
    assert_int_equal(expo_finish(&e), -EINVAL);
    /* A sample of another family. */
    expo_init(&e, buf, sizeof(buf));
    expo_family(&e, "a", "gauge", "A.");
    expo_sample_u64(&e, "b", NULL, 0, 1);
    assert_int_equal(expo_finish(&e), -EINVAL);
    /* A family twice, even with another between. */
    expo_init(&e, buf, sizeof(buf));
    expo_family(&e, "a", "gauge", "A.");
    expo_family(&e, "ab", "gauge", "AB.");
    assert_true(expo_finish(&e) > 0);
    expo_family(&e, "a", "gauge", "A.");
    assert_int_equal(expo_finish(&e), -EINVAL);
}

static void test_expo_no_space(void **state)
{
    char buf[40];
    struct expo e;

    (void)state;
    expo_init(&e, buf, sizeof(buf));
    expo_family(&e, "family_name", "counter", "A help text that is long.");
    assert_int_equal(expo_finish(&e), -ENOSPC);
    /* What was written is still a C string within the buffer. */
    assert_true(strlen(buf) < sizeof(buf));
    expo_init(&e, buf, 0);
    assert_int_equal(expo_finish(&e), -ENOSPC);
}

static void test_metrics_render_families(void **state)
{
    static const char *const families[] = {
        "tcp_server_workers",
        "tcp_server_worker_restarts_total",
        "tcp_server_generation",
        "tcp_server_listen_queue",
        "tcp_server_connections_total",
        "tcp_server_connections_closed_total",
        "tcp_server_requests_total",
        "tcp_server_received_bytes_total",
        "tcp_server_sent_bytes_total",
        "process_start_time_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    };
    static char buf[METRICS_TEXT_MAX];
    struct metrics_snapshot m;
    long n;

    (void)state;
    metrics_snapshot_init(&m);
    m.requests[WSTATS_REVERSE] = 2;
    m.closed[WSTATS_CLOSE_IDLE] = 1;
    m.workers[METRICS_BUSY] = 3;
    m.listen_queue_known = true;
    m.listen_queue = 4;
    m.start_time_seconds = 1700000000.5;
    m.cpu_seconds = 0.03;
    m.resident_bytes = 4096;
    m.open_fds = 9;
    n = metrics_render(&m, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(buf[n - 1], '\n');
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char help[128], type[128];

        snprintf(help, sizeof(help), "# HELP %s ", families[i]);
        snprintf(type, sizeof(type), "# TYPE %s ", families[i]);
        assert_int_equal(count(buf, help), 1);
        assert_int_equal(count(buf, type), 1);
    }
    assert_non_null(strstr(buf, "tcp_server_requests_total{action=\"reverse\"}"
                                " 2\n"));
    assert_non_null(strstr(buf, "tcp_server_requests_total{action=\"invalid\"}"
                                " 0\n"));
    assert_non_null(strstr(buf, "tcp_server_connections_closed_total{reason="
                                "\"idle\"} 1\n"));
    assert_non_null(strstr(buf, "tcp_server_workers{state=\"busy\"} 3\n"));
    assert_non_null(strstr(buf, "tcp_server_listen_queue 4\n"));
    assert_non_null(strstr(buf, "process_start_time_seconds 1700000000.5\n"));
    assert_non_null(strstr(buf, "# TYPE process_cpu_seconds_total counter\n"));
}

static void test_metrics_render_unknown_left_out(void **state)
{
    static char buf[METRICS_TEXT_MAX];
    struct metrics_snapshot m;

    (void)state;
    metrics_snapshot_init(&m);
    assert_true(metrics_render(&m, buf, sizeof(buf)) > 0);
    assert_null(strstr(buf, "process_"));
    assert_null(strstr(buf, "tcp_server_listen_queue"));
    assert_non_null(strstr(buf, "tcp_server_sent_bytes_total 0\n"));
    assert_int_equal(metrics_render(&m, buf, 100), -ENOSPC);
}

static void test_metrics_add_block(void **state)
{
    struct wstats b;
    struct metrics_snapshot m;

    (void)state;
    memset(&b, 0, sizeof(b));
    metrics_snapshot_init(&m);
    wstats_add(&b.connections, 2);
    wstats_add(&b.requests[WSTATS_INVALID], 5);
    wstats_add(&b.closed[WSTATS_CLOSE_SHUTDOWN], 1);
    wstats_add(&b.sent_bytes, 9);
    metrics_add_block(&m, &b);
    metrics_add_block(&m, &b);
    assert_int_equal(m.connections, 4);
    assert_int_equal(m.requests[WSTATS_INVALID], 10);
    assert_int_equal(m.closed[WSTATS_CLOSE_SHUTDOWN], 2);
    assert_int_equal(m.sent_bytes, 18);
    assert_int_equal(sizeof(struct wstats) % 64, 0);
    assert_int_equal(_Alignof(struct wstats), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expo_escaping),
        cmocka_unit_test(test_expo_label_order_and_values),
        cmocka_unit_test(test_expo_misuse),
        cmocka_unit_test(test_expo_no_space),
        cmocka_unit_test(test_metrics_render_families),
        cmocka_unit_test(test_metrics_render_unknown_left_out),
        cmocka_unit_test(test_metrics_add_block),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
