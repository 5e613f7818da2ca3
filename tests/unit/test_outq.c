/*
 * The worker's output queue against a real socketpair: order is kept across
 * borrowed, copied and owned segments, settle makes borrowed bytes safe to
 * overwrite, and a full socket leaves the rest queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outq.h"

static int fds[2];

static int setup(void **state)
{
    (void)state;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(fds[0]);
    close(fds[1]);
    return 0;
}

/* Reads exactly n bytes from the peer end, non-blocking. */
static size_t drain(uint8_t *out, size_t max)
{
    size_t got = 0;

    for (;;) {
        ssize_t r = recv(fds[1], out + got, max - got, MSG_DONTWAIT);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static void test_outq_order_across_kinds(void **state)
{
    struct outq q;
    static const uint8_t owned_bytes[6] = {'o', 'w', 'n', 'e', 'd', '|'};
    uint8_t ref[] = "borrowed|";
    uint8_t *owned = malloc(sizeof(owned_bytes));
    uint8_t out[64];
    size_t n;

    (void)state;
    assert_non_null(owned);
    memcpy(owned, owned_bytes, sizeof(owned_bytes));
    outq_init(&q);
    assert_int_equal(outq_add_copy(&q, (const uint8_t *)"copy1|", 6), 0);
    assert_int_equal(outq_add_ref(&q, ref, 9), 0);
    assert_int_equal(outq_add_owned(&q, owned, 6), 0);
    assert_int_equal(outq_add_copy(&q, (const uint8_t *)"copy2", 5), 0);
    assert_int_equal(outq_bytes(&q), 26);
    assert_int_equal(outq_settle(&q), 0);
    memset(ref, 'X', sizeof(ref) - 1); /* settled: must not show */
    assert_int_equal(outq_flush(&q, fds[0]), 26);
    assert_int_equal(outq_bytes(&q), 0);
    n = drain(out, sizeof(out));
    assert_int_equal(n, 26);
    assert_memory_equal(out, "copy1|borrowed|owned|copy2", 26);
    outq_reset(&q);
}

/*
 * outq_clear empties the queue (owned memory freed: ASan and valgrind see a
 * leak otherwise) and keeps a small segment array for the next connection,
 * but not a large one; the queue works as new afterwards.
 */
static void test_outq_clear_keeps_small_array(void **state)
{
    static const uint8_t abcd[4] = {'a', 'b', 'c', 'd'};
    struct outq q;
    uint8_t *owned = malloc(4);
    uint8_t out[8];
    struct outq_seg *segs;

    (void)state;
    assert_non_null(owned);
    memcpy(owned, abcd, sizeof(abcd));
    outq_init(&q);
    assert_int_equal(outq_add_owned(&q, owned, 4), 0);
    assert_int_equal(outq_add_copy(&q, (const uint8_t *)"ef", 2), 0);
    segs = q.segs;
    outq_clear(&q);
    assert_int_equal(outq_bytes(&q), 0);
    assert_int_equal(q.count, 0);
    assert_ptr_equal(q.segs, segs);
    assert_int_equal(outq_add_copy(&q, (const uint8_t *)"gh", 2), 0);
    assert_int_equal(outq_flush(&q, fds[0]), 2);
    assert_int_equal(drain(out, sizeof(out)), 2);
    assert_memory_equal(out, "gh", 2);

    /* Thousands of owned segments grow the array past what is kept. */
    for (int i = 0; i < 1000; i++) {
        uint8_t *m = malloc(1);
        assert_non_null(m);
        m[0] = 'x';
        assert_int_equal(outq_add_owned(&q, m, 1), 0);
    }
    assert_true(q.cap > 64);
    outq_clear(&q);
    assert_null(q.segs);
    assert_int_equal(q.cap, 0);
    assert_int_equal(outq_bytes(&q), 0);
    outq_reset(&q);
}

static void test_outq_adjacent_refs_merge(void **state)
{
    struct outq q;
    uint8_t buf[] = "abcdef";
    uint8_t out[16];

    (void)state;
    outq_init(&q);
    assert_int_equal(outq_add_ref(&q, buf, 2), 0);
    assert_int_equal(outq_add_ref(&q, buf + 2, 4), 0);
    assert_int_equal(q.count, 1);
    assert_int_equal(outq_flush(&q, fds[0]), 6);
    assert_int_equal(drain(out, sizeof(out)), 6);
    assert_memory_equal(out, "abcdef", 6);
    outq_reset(&q);
}

static void test_outq_partial_flush_keeps_rest(void **state)
{
    enum { BIG = 8 * 1024 * 1024 };
    struct outq q;
    uint8_t *src = malloc(BIG);
    uint8_t *dst = malloc(BIG);
    size_t got = 0;
    long w;

    (void)state;
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < BIG; i++)
        src[i] = (uint8_t)(i * 7 + i / 251);
    outq_init(&q);
    assert_int_equal(outq_add_ref(&q, src, BIG), 0);
    w = outq_flush(&q, fds[0]);
    assert_true(w > 0);
    assert_true(w < BIG); /* the socket buffer is far smaller */
    assert_int_equal(outq_bytes(&q), BIG - (size_t)w);
    assert_int_equal(outq_settle(&q), 0);
    memset(src, 0, BIG); /* the queue holds its own copy now */
    while (got < BIG) {
        got += drain(dst + got, BIG - got);
        w = outq_flush(&q, fds[0]);
        assert_true(w >= 0);
    }
    assert_int_equal(outq_bytes(&q), 0);
    for (size_t i = 0; i < BIG; i++) {
        if (dst[i] != (uint8_t)(i * 7 + i / 251))
            fail_msg("byte %zu differs", i);
    }
    outq_reset(&q);
    free(src);
    free(dst);
}

static void test_outq_flush_error(void **state)
{
    struct outq q;

    (void)state;
    outq_init(&q);
    assert_int_equal(outq_add_copy(&q, (const uint8_t *)"x", 1), 0);
    close(fds[1]);
    fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal(outq_flush(&q, fds[0]), -EPIPE);
    outq_reset(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outq_order_across_kinds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outq_clear_keeps_small_array,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outq_adjacent_refs_merge, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outq_partial_flush_keeps_rest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outq_flush_error, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
