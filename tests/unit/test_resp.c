/*
 * The response reader of the tools (tools/resp.c): any split of the
 * stream, and the full 32-bit length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"
#include "proto.h"

static void test_resp_next_any_split(void **state)
{
    /* Three answers: "abc", "", "hello". */
    static const uint8_t wire[] = {0, 0, 0, 3, 'a', 'b', 'c', 0,   0,   0,
                                   0, 0, 0, 0, 5,   'h', 'e', 'l', 'l', 'o'};

    (void)state;
    for (size_t chunk = 1; chunk <= sizeof(wire); chunk++) {
        struct resp_parser p;
        char data[16];
        size_t dlen = 0, ends = 0, begins = 0, off = 0;
        uint32_t lens[3];

        resp_parser_init(&p);
        assert_true(resp_at_boundary(&p));
        while (off < sizeof(wire)) {
            size_t n = sizeof(wire) - off < chunk ? sizeof(wire) - off : chunk;
            const uint8_t *buf = wire + off;
            struct resp_event ev;

            off += n;
            do {
                size_t used = resp_next(&p, buf, n, &ev);

                buf += used;
                n -= used;
                if (ev.type == RESP_EV_BEGIN)
                    lens[begins++] = ev.len;
                if (ev.type == RESP_EV_DATA) {
                    memcpy(data + dlen, ev.data, ev.data_len);
                    dlen += ev.data_len;
                }
                if (ev.type == RESP_EV_END)
                    ends++;
            } while (ev.type != RESP_EV_NONE);
        }
        assert_int_equal(begins, 3);
        assert_int_equal(ends, 3);
        assert_int_equal(lens[0], 3);
        assert_int_equal(lens[1], 0);
        assert_int_equal(lens[2], 5);
        assert_int_equal(dlen, 8);
        assert_memory_equal(data, "abchello", 8);
        assert_true(resp_at_boundary(&p));
    }
}

static void test_resp_next_full_32bit_length(void **state)
{
    static const uint8_t hdr[] = {0xff, 0xff, 0xff, 0xfe};
    struct resp_parser p;
    struct resp_event ev;

    (void)state;
    resp_parser_init(&p);
    assert_int_equal(resp_next(&p, hdr, 4, &ev), 4);
    assert_int_equal(ev.type, RESP_EV_BEGIN);
    assert_int_equal(ev.len, 0xfffffffeu);
    assert_false(resp_at_boundary(&p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_next_any_split),
        cmocka_unit_test(test_resp_next_full_32bit_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
