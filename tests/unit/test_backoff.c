/*
 * Unit tests of the supervisor's respawn back-off policy (supervisor/
 * backoff.c): no delay before the first start, 50 ms after one start-up
 * failure, doubling after each further one, never more than 5 s.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void test_backoff_delay_ms_zero_failures_starts_at_once(void **state)
{
    (void)state;
    assert_int_equal(backoff_delay_ms(0), 0);
}

static void test_backoff_delay_ms_first_failure_is_50ms(void **state)
{
    (void)state;
    assert_int_equal(backoff_delay_ms(1), 50);
}

static void test_backoff_delay_ms_doubles(void **state)
{
    static const unsigned expected[] = {50, 100, 200, 400, 800, 1600, 3200};

    (void)state;
    for (unsigned i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        assert_int_equal(backoff_delay_ms(i + 1), expected[i]);
}

static void test_backoff_delay_ms_capped_at_5s(void **state)
{
    (void)state;
    /* 3200 doubled would be 6400: the eighth failure hits the cap. */
    assert_int_equal(backoff_delay_ms(8), 5000);
    assert_int_equal(backoff_delay_ms(9), 5000);
    assert_int_equal(backoff_delay_ms(32), 5000);
    assert_int_equal(backoff_delay_ms(33), 5000);
    assert_int_equal(backoff_delay_ms(1000000), 5000);
    assert_int_equal(backoff_delay_ms(UINT_MAX), 5000);
}

static void test_backoff_delay_ms_monotonic_and_bounded(void **state)
{
    unsigned prev = 0;

    (void)state;
    for (unsigned n = 0; n < 10000; n++) {
        unsigned d = backoff_delay_ms(n);

        assert_true(d >= prev);
        assert_true(d <= 5000);
        if (n > 0)
            assert_true(d >= 50);
        prev = d;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_delay_ms_zero_failures_starts_at_once),
        cmocka_unit_test(test_backoff_delay_ms_first_failure_is_50ms),
        cmocka_unit_test(test_backoff_delay_ms_doubles),
        cmocka_unit_test(test_backoff_delay_ms_capped_at_5s),
        cmocka_unit_test(test_backoff_delay_ms_monotonic_and_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
