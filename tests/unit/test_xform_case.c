/*
 * Unit tests of the case transforms (upper, lower): every byte value,
 * UTF-8 left untouched, and every length around the vector block against a
 * byte-at-a-time reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xform.h"
#include "xform_ref.h"

/* ---- upper / lower ---------------------------------------------------- */

static uint8_t naive_upper(uint8_t b)
{
    return b >= 'a' && b <= 'z' ? (uint8_t)(b - 'a' + 'A') : b;
}

static uint8_t naive_lower(uint8_t b)
{
    return b >= 'A' && b <= 'Z' ? (uint8_t)(b - 'A' + 'a') : b;
}

static void test_xform_upper_ascii(void **state)
{
    uint8_t s[] = "The LAN Before Time, 1988! [abc_xyz@ABC`{}]";

    (void)state;
    xform_upper(s, sizeof(s) - 1);
    assert_string_equal((char *)s,
                        "THE LAN BEFORE TIME, 1988! [ABC_XYZ@ABC`{}]");
}

static void test_xform_lower_ascii(void **state)
{
    uint8_t s[] = "The LAN Before Time, 1988! [abc_xyz@ABC`{}]";

    (void)state;
    xform_lower(s, sizeof(s) - 1);
    assert_string_equal((char *)s,
                        "the lan before time, 1988! [abc_xyz@abc`{}]");
}

static void test_xform_upper_all_byte_values(void **state)
{
    uint8_t up[512], low[512];

    (void)state;
    /* Twice over, so both the block loop and the tail see every value. */
    for (size_t i = 0; i < sizeof(up); i++)
        up[i] = low[i] = (uint8_t)i;
    xform_upper(up, sizeof(up));
    xform_lower(low, sizeof(low));
    for (size_t i = 0; i < sizeof(up); i++) {
        uint8_t b = (uint8_t)i;
        int is_lower = b >= 'a' && b <= 'z';
        int is_upper = b >= 'A' && b <= 'Z';

        assert_int_equal(up[i], is_lower ? b - 32 : b);
        assert_int_equal(low[i], is_upper ? b + 32 : b);
    }
}

static void test_xform_upper_utf8_untouched(void **state)
{
    /* "straße é Ω 😀 ÿ" with ASCII around it. */
    uint8_t s[] = "stra\xc3\x9f"
                  "e \xc3\xa9 \xce\xa9 \xf0\x9f\x98\x80 \xc3\xbf";
    uint8_t t[sizeof(s)];

    (void)state;
    memcpy(t, s, sizeof(s));
    xform_upper(s, sizeof(s) - 1);
    assert_string_equal((char *)s, "STRA\xc3\x9f"
                                   "E \xc3\xa9 \xce\xa9 \xf0\x9f\x98\x80 "
                                   "\xc3\xbf");
    xform_lower(s, sizeof(s) - 1);
    assert_memory_equal(s, t, sizeof(s));
}

static void test_xform_upper_lengths_vs_reference(void **state)
{
    uint8_t buf[400], want_up[400], want_low[400], work[400];
    struct rng r;

    (void)state;
    rng_seed(&r, 11);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rng_next(&r);
    /* Every length up to 300 at several misalignments, with guards. */
    for (size_t off = 0; off < 17; off++) {
        for (size_t len = 0; len <= 300; len++) {
            for (size_t i = 0; i < sizeof(buf); i++) {
                int inside = i >= off && i < off + len;

                want_up[i] = inside ? naive_upper(buf[i]) : buf[i];
                want_low[i] = inside ? naive_lower(buf[i]) : buf[i];
            }
            memcpy(work, buf, sizeof(buf));
            xform_upper(work + off, len);
            assert_memory_equal(work, want_up, sizeof(buf));
            memcpy(work, buf, sizeof(buf));
            xform_lower(work + off, len);
            assert_memory_equal(work, want_low, sizeof(buf));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xform_upper_ascii),
        cmocka_unit_test(test_xform_lower_ascii),
        cmocka_unit_test(test_xform_upper_all_byte_values),
        cmocka_unit_test(test_xform_upper_utf8_untouched),
        cmocka_unit_test(test_xform_upper_lengths_vs_reference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
