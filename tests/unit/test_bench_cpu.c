/*
 * Unit tests for tools/bench_cpu.c: the /proc parsers, and the process-tree
 * walk on this test's own process and a child it starts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_cpu.h"

static void test_parse_schedstat(void **state)
{
    uint64_t ns = 0;

    (void)state;
    assert_int_equal(bench_cpu_parse_schedstat("123456 789 10\n", &ns), 0);
    assert_int_equal(ns, 123456);
    assert_int_equal(bench_cpu_parse_schedstat("0 0 0", &ns), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(bench_cpu_parse_schedstat("18446744073709551615 1", &ns),
                     0);
    assert_true(ns == UINT64_MAX);
    assert_int_equal(bench_cpu_parse_schedstat("", &ns), -EINVAL);
    assert_int_equal(bench_cpu_parse_schedstat("x 1 2", &ns), -EINVAL);
    assert_int_equal(bench_cpu_parse_schedstat("12x 1 2", &ns), -EINVAL);
    assert_int_equal(bench_cpu_parse_schedstat("18446744073709551616 1", &ns),
                     -EINVAL);
}

static void test_parse_children(void **state)
{
    pid_t p[4];

    (void)state;
    assert_int_equal(bench_cpu_parse_children("", p, 4), 0);
    assert_int_equal(bench_cpu_parse_children("12 34 \n", p, 4), 2);
    assert_int_equal(p[0], 12);
    assert_int_equal(p[1], 34);
    /* More than max: the rest is dropped, not an error. */
    assert_int_equal(bench_cpu_parse_children("1 2 3 4 5 6", p, 4), 4);
    assert_int_equal(p[3], 4);
    assert_int_equal(bench_cpu_parse_children("1 -2", p, 4), -EINVAL);
    assert_int_equal(bench_cpu_parse_children("0", p, 4), -EINVAL);
    assert_int_equal(bench_cpu_parse_children("99999999999", p, 4), -EINVAL);
}

/* Spins for about ms of CPU time. */
static void burn_ms(long ms)
{
    struct timespec t0, t;
    volatile uint64_t x = 0;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do {
        for (int i = 0; i < 100000; i++)
            x += (uint64_t)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 +
                 (t.tv_nsec - t0.tv_nsec) / 1000000 <
             ms);
}

/* A child's CPU counts in its parent's tree while the child lives. */
static void test_tree_includes_children(void **state)
{
    int go[2], done[2];
    uint64_t before, after;
    char c = 0;
    pid_t child;

    (void)state;
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        (void)!read(go[0], &c, 1);
        burn_ms(50);
        (void)!write(done[1], &c, 1);
        pause();
        _exit(0);
    }
    assert_int_equal(bench_cpu_tree_ns(getpid(), &before), 0);
    assert_int_equal(write(go[1], &c, 1), 1);
    assert_int_equal(read(done[0], &c, 1), 1);
    assert_int_equal(bench_cpu_tree_ns(getpid(), &after), 0);
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, NULL, 0), child);
    /* The child's 50 ms, at scheduler resolution. */
    assert_true(after - before >= 40 * 1000000ull);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
}

static void test_tree_missing_pid(void **state)
{
    uint64_t ns;

    (void)state;
    /* pid_max is at most 2^22 on Linux: this pid cannot exist. */
    assert_int_equal(bench_cpu_tree_ns(1 << 23, &ns), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_schedstat),
        cmocka_unit_test(test_parse_children),
        cmocka_unit_test(test_tree_includes_children),
        cmocka_unit_test(test_tree_missing_pid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
