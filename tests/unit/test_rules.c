/*
 * The fairness rules (worker/rules.c): the minimum-rate deadline as
 * mod_reqtimeout computes it, the keepalive rule only while others wait,
 * which rule wins when several are due, and the next deadline never being
 * one that has passed without effect (which would make poll() spin).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rules.h"

/* The defaults: idle 60 s, keepalive 5 s, 500 bytes/s. */
static const struct rules_limits dflt = {60000, 5000, 500};

static struct rules_conn conn_at(uint64_t last_io, bool exch, uint64_t start,
                                 uint64_t bytes)
{
    return (struct rules_conn){last_io, exch, start, bytes};
}

static void test_rules_slow_deadline(void **state)
{
    struct rules_conn c = conn_at(0, true, 1000, 0);
    struct rules_limits off = dflt;

    (void)state;
    /* start + 10 s grace + bytes / rate. */
    assert_int_equal(rules_slow_deadline(&dflt, &c), 11000);
    c.exch_bytes = 500;
    assert_int_equal(rules_slow_deadline(&dflt, &c), 12000);
    c.exch_bytes = 250;
    assert_int_equal(rules_slow_deadline(&dflt, &c), 11500);
    /* No exchange, or the rule off: never. */
    c.in_exchange = false;
    assert_true(rules_slow_deadline(&dflt, &c) == RULES_NEVER);
    c.in_exchange = true;
    off.min_rate = 0;
    assert_true(rules_slow_deadline(&off, &c) == RULES_NEVER);
    /* Huge counts saturate instead of wrapping to an early deadline. */
    c.exch_bytes = UINT64_MAX;
    assert_true(rules_slow_deadline(&dflt, &c) == RULES_NEVER);
    c.exch_bytes = (uint64_t)1 << 50;
    assert_true(rules_slow_deadline(&dflt, &c) > 11000);
}

static void test_rules_rate_keeps_a_steady_client(void **state)
{
    struct rules_conn c = conn_at(0, true, 0, 0);

    (void)state;
    /* 1 KiB/s for an hour, checked every second: never slow. */
    for (uint64_t t = 1000; t <= 3600000; t += 1000) {
        c.exch_bytes = t * 1024 / 1000;
        c.last_io_ms = t;
        assert_int_equal(rules_due(&dflt, &c, false, t), CLOSE_NONE);
    }
    /* One byte every 2 s (0.5 byte/s) is slow once the grace is over. */
    c = conn_at(0, true, 0, 0);
    for (uint64_t t = 0; t < 10000; t += 2000) {
        c.exch_bytes++;
        c.last_io_ms = t;
        assert_int_equal(rules_due(&dflt, &c, false, t), CLOSE_NONE);
    }
    c.exch_bytes = 6;
    c.last_io_ms = 10000;
    assert_int_equal(rules_due(&dflt, &c, false, 10011), CLOSE_NONE);
    assert_int_equal(rules_due(&dflt, &c, false, 10012), CLOSE_SLOW);
}

static void test_rules_keepalive_only_while_waiting(void **state)
{
    struct rules_conn c = conn_at(1000, false, 0, 0);
    struct rules_limits off = dflt;

    (void)state;
    assert_int_equal(rules_stall_deadline(&dflt, &c), 6000);
    /* Idle at a boundary for 10 s with nobody waiting: kept. */
    assert_int_equal(rules_due(&dflt, &c, false, 11000), CLOSE_NONE);
    /* The same with others waiting: keepalive, from 5 s on. */
    assert_int_equal(rules_due(&dflt, &c, true, 5999), CLOSE_NONE);
    assert_int_equal(rules_due(&dflt, &c, true, 6000), CLOSE_KEEPALIVE);
    /* A stall mid-exchange counts too, whatever the rate so far. */
    c = conn_at(1000, true, 0, 1 << 30);
    assert_int_equal(rules_due(&dflt, &c, true, 6000), CLOSE_KEEPALIVE);
    assert_int_equal(rules_due(&dflt, &c, false, 6000), CLOSE_NONE);
    /* Off: never, waiting or not. */
    off.keepalive_ms = 0;
    assert_true(rules_stall_deadline(&off, &c) == RULES_NEVER);
    assert_int_equal(rules_due(&off, &c, true, 59000), CLOSE_NONE);
    assert_false(rules_watch_waiters(&off, &c, 59000));
}

static void test_rules_idle(void **state)
{
    struct rules_conn c = conn_at(0, false, 0, 0);
    struct rules_limits off = dflt;

    (void)state;
    assert_int_equal(rules_due(&dflt, &c, false, 59999), CLOSE_NONE);
    assert_int_equal(rules_due(&dflt, &c, false, 60000), CLOSE_IDLE);
    off.idle_ms = 0;
    assert_int_equal(rules_due(&off, &c, false, 1000000), CLOSE_NONE);
}

static void test_rules_order(void **state)
{
    /* Everything due: keepalive (others need the worker), then slow. */
    struct rules_conn c = conn_at(0, true, 0, 0);

    (void)state;
    assert_int_equal(rules_due(&dflt, &c, true, 100000), CLOSE_KEEPALIVE);
    assert_int_equal(rules_due(&dflt, &c, false, 100000), CLOSE_SLOW);
    c.in_exchange = false;
    assert_int_equal(rules_due(&dflt, &c, false, 100000), CLOSE_IDLE);
}

static void test_rules_watch_waiters(void **state)
{
    struct rules_conn c = conn_at(1000, false, 0, 0);

    (void)state;
    /* The listener is looked at only once the stall reached keepalive. */
    assert_false(rules_watch_waiters(&dflt, &c, 5999));
    assert_true(rules_watch_waiters(&dflt, &c, 6000));
}

static void test_rules_next(void **state)
{
    struct rules_conn c = conn_at(1000, false, 0, 0);
    struct rules_limits none = {0, 0, 0};

    (void)state;
    /* Before the stall deadline: wake then to look at the listener. */
    assert_int_equal(rules_next(&dflt, &c, false, 2000), 6000);
    /* Past it and nobody waiting: the idle deadline, never the past one. */
    assert_int_equal(rules_next(&dflt, &c, false, 6000), 61000);
    /* Waiting (a stop): the stall deadline closes. */
    assert_int_equal(rules_next(&dflt, &c, true, 7000), 6000);
    /* In an exchange the rate deadline may come first. */
    c = conn_at(9000, true, 0, 0);
    assert_int_equal(rules_next(&dflt, &c, false, 14000), 10000);
    assert_true(rules_next(&none, &c, true, 14000) == RULES_NEVER);
}

static void test_rules_tick(void **state)
{
    struct rules_limits l = {.idle_ms = 60000, .keepalive_ms = 5000};

    (void)state;
    /* The defaults: a quarter of the keepalive limit. */
    assert_int_equal(rules_tick_ms(&l), 1250);
    l.keepalive_ms = 0;
    assert_int_equal(rules_tick_ms(&l), RULES_TICK_MAX_MS);
    l.idle_ms = 1000;
    assert_int_equal(rules_tick_ms(&l), 250);
    /* Two ticks always fit in half of either limit. */
    for (uint64_t ms = 1; ms < 100000; ms = ms * 3 + 1) {
        l = (struct rules_limits){.idle_ms = ms, .keepalive_ms = 2 * ms};
        assert_true(RULES_TICKS_PER_WAIT * rules_tick_ms(&l) <= ms / 2);
    }
    /* Limits of a few milliseconds leave no room for a blocking wait. */
    l = (struct rules_limits){.idle_ms = 3, .keepalive_ms = 0};
    assert_int_equal(rules_tick_ms(&l), 0);
    l = (struct rules_limits){0};
    assert_int_equal(rules_tick_ms(&l), RULES_TICK_MAX_MS);
}

static void test_rules_reason_names(void **state)
{
    (void)state;
    assert_string_equal(rules_reason_name(CLOSE_CLIENT), "client");
    assert_string_equal(rules_reason_name(CLOSE_IDLE), "idle");
    assert_string_equal(rules_reason_name(CLOSE_KEEPALIVE), "keepalive");
    assert_string_equal(rules_reason_name(CLOSE_SLOW), "slow");
    assert_string_equal(rules_reason_name(CLOSE_ERROR), "error");
    assert_string_equal(rules_reason_name(CLOSE_SHUTDOWN), "shutdown");
    assert_string_equal(rules_reason_name(CLOSE_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_slow_deadline),
        cmocka_unit_test(test_rules_rate_keeps_a_steady_client),
        cmocka_unit_test(test_rules_keepalive_only_while_waiting),
        cmocka_unit_test(test_rules_idle),
        cmocka_unit_test(test_rules_order),
        cmocka_unit_test(test_rules_watch_waiters),
        cmocka_unit_test(test_rules_next),
        cmocka_unit_test(test_rules_tick),
        cmocka_unit_test(test_rules_reason_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
