/*
 * The HTTP request head parser of the metrics endpoint: complete heads,
 * heads still arriving (every prefix of a valid head is incomplete, never
 * bad), garbage refused early, and the routing to 200/404/405.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "httpreq.h"

static enum httpreq_status parse(const char *s, struct httpreq *r)
{
    return httpreq_parse((const uint8_t *)s, strlen(s), r);
}

static void test_httpreq_complete(void **state)
{
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x:1\r\n"
                              "Accept: text/plain;version=0.0.4\r\n\r\nBODY";
    struct httpreq r;

    (void)state;
    assert_int_equal(parse(get, &r), HTTPREQ_COMPLETE);
    assert_string_equal(r.method, "GET");
    assert_true(r.is_metrics);
    assert_int_equal(r.head_len, strlen(get) - 4);
    assert_int_equal(httpreq_route(&r), 200);

    /* Bare LF line ends, no header at all, a query string. */
    assert_int_equal(parse("HEAD /metrics?x=1 HTTP/1.0\n\n", &r),
                     HTTPREQ_COMPLETE);
    assert_string_equal(r.method, "HEAD");
    assert_true(r.is_metrics);
    assert_int_equal(httpreq_route(&r), 200);

    assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n", &r),
                     HTTPREQ_COMPLETE);
    assert_int_equal(httpreq_route(&r), 405);
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", &r), HTTPREQ_COMPLETE);
    assert_int_equal(httpreq_route(&r), 404);
    assert_int_equal(parse("GET /metricsx HTTP/1.1\r\n\r\n", &r),
                     HTTPREQ_COMPLETE);
    assert_int_equal(httpreq_route(&r), 404);
    assert_int_equal(parse("GET /metrics/ HTTP/1.1\r\n\r\n", &r),
                     HTTPREQ_COMPLETE);
    assert_int_equal(httpreq_route(&r), 404);
    assert_int_equal(parse("DELETE /x HTTP/1.1\r\n\r\n", &r), HTTPREQ_COMPLETE);
    assert_int_equal(httpreq_route(&r), 404);
}

static void test_httpreq_every_prefix_incomplete(void **state)
{
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: a\r\n"
                              "User-Agent: Prometheus/2.42.0\r\n"
                              "X-Empty:\r\n\r\n";
    struct httpreq r;

    (void)state;
    for (size_t n = 0; n < strlen(get); n++) {
        enum httpreq_status st = httpreq_parse((const uint8_t *)get, n, &r);

        if (st != HTTPREQ_INCOMPLETE)
            fail_msg("prefix of %zu bytes: %d", n, st);
    }
    assert_int_equal(parse(get, &r), HTTPREQ_COMPLETE);
}

static void test_httpreq_bad(void **state)
{
    static const char *const bad[] = {
        "\x16\x03\x01\x02\x00", /* a TLS hello */
        "\x00\x01\x02",
        "GET", /* still fine ... */
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2.0\r\n\r\n",
        "GET /metrics HTTP/1.1 \r\n\r\n",
        "GET /metrics\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nName : v\r\n\r\n",
        "GET /metrics HTTP/1.1\r\n folded\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n",
        "\r\nGET /metrics HTTP/1.1\r\n\r\n",
        "GETTINGLONGERTHANSIXTEEN / HTTP/1.1\r\n\r\n",
        "GET /a\x7f HTTP/1.1\r\n\r\n",
    };
    struct httpreq r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = i == 1 ? 3 : strlen(bad[i]);
        enum httpreq_status want = i == 2 ? HTTPREQ_INCOMPLETE : HTTPREQ_BAD;

        if (httpreq_parse((const uint8_t *)bad[i], len, &r) != want)
            fail_msg("case %zu not refused as it should be", i);
    }
    /* Garbage is refused before any line end arrives. */
    assert_int_equal(parse("GE\x01", &r), HTTPREQ_BAD);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nA\x02", &r), HTTPREQ_BAD);
    assert_int_equal(parse("GET /metrics HTX", &r), HTTPREQ_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpreq_complete),
        cmocka_unit_test(test_httpreq_every_prefix_incomplete),
        cmocka_unit_test(test_httpreq_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
