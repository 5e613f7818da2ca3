/*
 * The whole-buffer answer checks shared by the tools (tools/check.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "proto.h"

static void test_check_permutation_cases(void **state)
{
    (void)state;
    assert_true(check_permutation((const uint8_t *)"abcab", 5,
                                  (const uint8_t *)"bacba", 5));
    assert_false(check_permutation((const uint8_t *)"abcab", 5,
                                   (const uint8_t *)"bacbb", 5));
    assert_false(check_permutation((const uint8_t *)"abc", 3,
                                   (const uint8_t *)"abcc", 4));
    assert_true(
        check_permutation((const uint8_t *)"", 0, (const uint8_t *)"", 0));
}

static void test_check_drawn_cases(void **state)
{
    (void)state;
    assert_true(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"aabccc", 6));
    assert_true(
        check_drawn((const uint8_t *)"aba", 3, (const uint8_t *)"aba", 3));
    assert_true(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"a", 1));
    assert_false(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"cb", 2));
    assert_false(
        check_drawn((const uint8_t *)"abc", 3, (const uint8_t *)"", 0));
    assert_false(check_drawn((const uint8_t *)"", 0, (const uint8_t *)"a", 1));
    assert_true(check_drawn((const uint8_t *)"", 0, (const uint8_t *)"", 0));
}

static void test_check_could_spell_error_cases(void **state)
{
    (void)state;
    assert_false(
        check_could_spell_error(PROTO_UPPERCASE, (const uint8_t *)"error", 5));
    assert_true(
        check_could_spell_error(PROTO_LOWERCASE, (const uint8_t *)"ERROR", 5));
    assert_false(
        check_could_spell_error(PROTO_LOWERCASE, (const uint8_t *)"ERRORS", 6));
    assert_true(
        check_could_spell_error(PROTO_REVERSE, (const uint8_t *)"rorre", 5));
    assert_false(
        check_could_spell_error(PROTO_REVERSE, (const uint8_t *)"error", 5));
    assert_true(
        check_could_spell_error(PROTO_SHUFFLE, (const uint8_t *)"rrreo", 5));
    assert_false(
        check_could_spell_error(PROTO_SHUFFLE, (const uint8_t *)"rrrea", 5));
    assert_true(
        check_could_spell_error(PROTO_RANDOM, (const uint8_t *)"xerxoxr", 7));
    assert_false(
        check_could_spell_error(PROTO_RANDOM, (const uint8_t *)"roe", 3));
    assert_false(check_could_spell_error(6, (const uint8_t *)"error", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_permutation_cases),
        cmocka_unit_test(test_check_drawn_cases),
        cmocka_unit_test(test_check_could_spell_error_cases),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
