/*
 * The sd_notify(3) side of the supervisor: the datagrams as a pure
 * formatting function, NOTIFY_SOCKET values as addresses, and the sequence
 * a supervisor's state changes produce, received on a real abstract
 * datagram socket (READY=1 once per generation, STATUS= only on change,
 * nothing at all when NOTIFY_SOCKET is unset).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static void test_notify_format(void **state)
{
    struct notify_status st = {
        .listen = "127.0.0.1:8083", .ready = 2, .configured = 2, .restarts = 1};
    char buf[NOTIFY_MSG_MAX];

    (void)state;
    assert_true(notify_format(buf, sizeof(buf), NOTIFY_READY, &st, 0) > 0);
    assert_string_equal(buf, "READY=1\nSTATUS=listening on 127.0.0.1:8083, "
                             "workers ready 2/2, restarts 1");
    st.ready = 0;
    st.reloading = true;
    assert_true(
        notify_format(buf, sizeof(buf), NOTIFY_RELOADING, &st, 123456789) > 0);
    assert_string_equal(buf, "RELOADING=1\nMONOTONIC_USEC=123456789\n"
                             "STATUS=reloading: listening on 127.0.0.1:8083, "
                             "workers ready 0/2, restarts 1");
    st.reloading = false;
    st.stopping = true;
    assert_true(notify_format(buf, sizeof(buf), NOTIFY_STOPPING, &st, 0) > 0);
    assert_string_equal(buf, "STOPPING=1\nSTATUS=stopping: listening on "
                             "127.0.0.1:8083, workers ready 0/2, restarts 1");
    st.stopping = false;
    assert_true(notify_format(buf, sizeof(buf), NOTIFY_STATUS, &st, 0) > 0);
    assert_string_equal(buf, "STATUS=listening on 127.0.0.1:8083, workers "
                             "ready 0/2, restarts 1");
    assert_int_equal(notify_format(buf, 10, NOTIFY_READY, &st, 0), -ENOSPC);
}

static void test_notify_parse_addr(void **state)
{
    struct sockaddr_un a;
    socklen_t len = 0;
    char longpath[200];

    (void)state;
    assert_int_equal(notify_parse_addr("/run/systemd/notify", &a, &len), 0);
    assert_string_equal(a.sun_path, "/run/systemd/notify");
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 20);

    assert_int_equal(notify_parse_addr("@abc", &a, &len), 0);
    assert_int_equal(a.sun_path[0], '\0');
    assert_memory_equal(a.sun_path + 1, "abc", 3);
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 4);

    assert_int_equal(notify_parse_addr(NULL, &a, &len), -EINVAL);
    assert_int_equal(notify_parse_addr("", &a, &len), -EINVAL);
    assert_int_equal(notify_parse_addr("@", &a, &len), -EINVAL);
    assert_int_equal(notify_parse_addr("relative", &a, &len), -EINVAL);
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(notify_parse_addr(longpath, &a, &len), -EINVAL);
}

/* An abstract datagram socket named after our pid; its NOTIFY_SOCKET. */
static int listener(char *name, size_t len)
{
    struct sockaddr_un a;
    socklen_t alen;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);

    assert_true(fd >= 0);
    snprintf(name, len, "@tcp_server-test-notify-%ld", (long)getpid());
    assert_int_equal(notify_parse_addr(name, &a, &alen), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, alen), 0);
    return fd;
}

/* The next datagram, or "" when none is queued. */
static const char *next_msg(int fd)
{
    static char buf[NOTIFY_MSG_MAX + 1];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void expect_prefix(int fd, const char *prefix)
{
    const char *m = next_msg(fd);

    if (strncmp(m, prefix, strlen(prefix)) != 0)
        fail_msg("got '%s', expected it to start with '%s'", m, prefix);
}

static void test_notify_sequence(void **state)
{
    struct notify n;
    char name[108];
    int fd = listener(name, sizeof(name));

    (void)state;
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    notify_open(&n, "127.0.0.1:1", 2);
    assert_null(getenv("NOTIFY_SOCKET")); /* workers never see it */
    assert_true(n.fd >= 0);

    notify_workers(&n, 1);
    expect_prefix(fd, "STATUS=listening on 127.0.0.1:1, workers ready 1/2");
    notify_workers(&n, 1); /* unchanged: nothing sent */
    assert_string_equal(next_msg(fd), "");
    notify_workers(&n, 2);
    expect_prefix(fd, "READY=1\nSTATUS=");
    notify_restarts(&n, 1);
    notify_workers(&n, 1);
    expect_prefix(fd, "STATUS=listening on 127.0.0.1:1, workers ready 1/2, "
                      "restarts 1");
    notify_workers(&n, 2); /* ready again, but READY=1 was sent already */
    expect_prefix(fd, "STATUS=");

    notify_reloading(&n);
    expect_prefix(fd, "RELOADING=1\nMONOTONIC_USEC=");
    notify_workers(&n, 2);
    expect_prefix(fd, "READY=1\nSTATUS=listening");
    notify_stopping(&n);
    expect_prefix(fd, "STOPPING=1\nSTATUS=stopping:");
    notify_workers(&n, 0);
    expect_prefix(fd, "STATUS=stopping:");
    assert_string_equal(next_msg(fd), "");
    notify_close(&n);
    close(fd);

    /* The receiver is gone: sends fail quietly. */
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    notify_open(&n, "x", 1);
    notify_workers(&n, 1);
    notify_close(&n);
}

static void test_notify_off(void **state)
{
    struct notify n;

    (void)state;
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
    notify_open(&n, "127.0.0.1:1", 1);
    assert_int_equal(n.fd, -1);
    notify_workers(&n, 1);
    notify_reloading(&n);
    notify_stopping(&n);
    notify_close(&n);
    /* A NULL notifier is accepted everywhere. */
    notify_workers(NULL, 1);
    notify_restarts(NULL, 1);
    notify_reloading(NULL);
    notify_stopping(NULL);
    notify_close(NULL);

    assert_int_equal(setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
    notify_open(&n, "127.0.0.1:1", 1);
    assert_int_equal(n.fd, -1);
    assert_null(getenv("NOTIFY_SOCKET"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_format),
        cmocka_unit_test(test_notify_parse_addr),
        cmocka_unit_test(test_notify_sequence),
        cmocka_unit_test(test_notify_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
