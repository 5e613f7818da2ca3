/*
 * Unit tests of the supervisor's drain decision (supervisor/drain.c):
 * without --agent a stop proceeds at once; with it, the stop waits for the
 * agent's first "drain" answer plus 100 ms, or for the drain timeout,
 * whichever comes first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "drain.h"

/* A stop at t = 1000 ms with the default 2 s timeout, not answered yet. */
static struct drain_input stop_at_1000(uint64_t now)
{
    struct drain_input in = {
        .agent = true,
        .stop_ms = 1000,
        .answered = false,
        .answered_ms = 0,
        .now_ms = now,
        .timeout_ms = 2000,
    };
    return in;
}

static void test_drain_decide_without_agent_stops_now(void **state)
{
    struct drain_input in = stop_at_1000(1000);
    uint64_t until = 42;

    (void)state;
    in.agent = false;
    assert_int_equal(drain_decide(&in, &until), DRAIN_STOP_NOW);
    in.answered = true;
    in.answered_ms = 1000;
    assert_int_equal(drain_decide(&in, &until), DRAIN_STOP_NOW);
    assert_int_equal(until, 42); /* untouched */
}

static void test_drain_decide_unanswered_waits_for_timeout(void **state)
{
    struct drain_input in = stop_at_1000(1000);
    uint64_t until = 0;

    (void)state;
    assert_int_equal(drain_decide(&in, &until), DRAIN_WAIT);
    assert_int_equal(until, 3000);
    in.now_ms = 2999;
    assert_int_equal(drain_decide(&in, &until), DRAIN_WAIT);
    assert_int_equal(until, 3000);
    in.now_ms = 3000;
    assert_int_equal(drain_decide(&in, &until), DRAIN_STOP_NOW);
    in.now_ms = 10000;
    assert_int_equal(drain_decide(&in, &until), DRAIN_STOP_NOW);
}

static void test_drain_decide_answered_waits_100ms_more(void **state)
{
    struct drain_input in = stop_at_1000(1250);
    uint64_t until = 0;

    (void)state;
    in.answered = true;
    in.answered_ms = 1200;
    assert_int_equal(drain_decide(&in, &until), DRAIN_WAIT);
    assert_int_equal(until, 1300);
    in.now_ms = 1299;
    assert_int_equal(drain_decide(&in, &until), DRAIN_WAIT);
    in.now_ms = 1300;
    assert_int_equal(drain_decide(&in, &until), DRAIN_STOP_NOW);
}

static void test_drain_decide_timeout_caps_the_grace(void **state)
{
    /* Answered 50 ms before the timeout: the timeout still wins. */
    struct drain_input in = stop_at_1000(2960);
    uint64_t until = 0;

    (void)state;
    in.answered = true;
    in.answered_ms = 2950;
    assert_int_equal(drain_decide(&in, &until), DRAIN_WAIT);
    assert_int_equal(until, 3000);
    in.now_ms = 3000;
    assert_int_equal(drain_decide(&in, &until), DRAIN_STOP_NOW);
}

static void test_drain_decide_zero_timeout_stops_now(void **state)
{
    struct drain_input in = stop_at_1000(1000);
    uint64_t until = 0;

    (void)state;
    in.timeout_ms = 0;
    assert_int_equal(drain_decide(&in, &until), DRAIN_STOP_NOW);
}

static void test_drain_decide_until_always_after_now(void **state)
{
    uint64_t until;

    (void)state;
    for (uint64_t now = 1000; now < 3100; now += 7) {
        for (uint64_t ans = 1000; ans <= now; ans += 97) {
            struct drain_input in = stop_at_1000(now);

            in.answered = true;
            in.answered_ms = ans;
            if (drain_decide(&in, &until) == DRAIN_WAIT) {
                assert_true(until > now);
                assert_true(until <= 3000);
                assert_true(until <= ans + DRAIN_GRACE_MS);
            } else {
                assert_true(now >= 3000 || now >= ans + DRAIN_GRACE_MS);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_decide_without_agent_stops_now),
        cmocka_unit_test(test_drain_decide_unanswered_waits_for_timeout),
        cmocka_unit_test(test_drain_decide_answered_waits_100ms_more),
        cmocka_unit_test(test_drain_decide_timeout_caps_the_grace),
        cmocka_unit_test(test_drain_decide_zero_timeout_stops_now),
        cmocka_unit_test(test_drain_decide_until_always_after_now),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
