/*
 * Socket activation in common/net: the sd_listen_fds(3) variables as a pure
 * decision (ours, someone else's, malformed), and the adoption of an
 * inherited descriptor over real descriptors: a listening TCP socket is
 * taken (made blocking and close-on-exec); a pipe, a datagram socket, a
 * bound but not listening socket and a Unix stream socket are refused with
 * the sentence users see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static void expect_bad(const char *pid, const char *fds, const char *needle)
{
    char err[256] = "";

    assert_int_equal(net_listen_fds_parse(pid, fds, 1234, err, sizeof(err)),
                     -EINVAL);
    if (strstr(err, needle) == NULL)
        fail_msg("'%s' does not mention '%s'", err, needle);
    assert_non_null(strstr(err, "socket activation"));
}

static void test_listen_fds_parse(void **state)
{
    char err[256] = "";

    (void)state;
    /* Not activated: nothing set, or set for another process. */
    assert_int_equal(net_listen_fds_parse(NULL, NULL, 1234, err, sizeof(err)),
                     0);
    assert_int_equal(net_listen_fds_parse(NULL, "1", 1234, err, sizeof(err)),
                     0);
    assert_int_equal(net_listen_fds_parse("999", "1", 1234, err, sizeof(err)),
                     0);
    assert_int_equal(net_listen_fds_parse("999", "x", 1234, err, sizeof(err)),
                     0);
    /* Ours. */
    assert_int_equal(net_listen_fds_parse("1234", "1", 1234, err, sizeof(err)),
                     1);
    /* Malformed, or not exactly one descriptor. */
    expect_bad("abc", "1", "LISTEN_PID 'abc'");
    expect_bad("", "1", "LISTEN_PID ''");
    expect_bad("-5", "1", "LISTEN_PID '-5'");
    expect_bad("0", "1", "LISTEN_PID '0'");
    expect_bad("1234x", "1", "LISTEN_PID '1234x'");
    expect_bad("99999999999999999999", "1", "LISTEN_PID");
    expect_bad("1234", NULL, "LISTEN_FDS '(unset)'");
    expect_bad("1234", "one", "LISTEN_FDS 'one'");
    expect_bad("1234", " 1", "LISTEN_FDS ' 1'");
    expect_bad("1234", "1 ", "LISTEN_FDS '1 '");
    expect_bad("1234", "2", "LISTEN_FDS=2, expected exactly one");
    expect_bad("1234", "0", "LISTEN_FDS=0, expected exactly one");
}

static void expect_refused(int fd, int code, const char *needle)
{
    char msg[160];

    assert_int_equal(net_adopt_listener(fd), code);
    assert_true(net_error_message(code, NET_OP_ADOPT, NULL, (unsigned)fd, msg,
                                  sizeof(msg)) > 0);
    if (strstr(msg, needle) == NULL)
        fail_msg("'%s' does not mention '%s'", msg, needle);
}

static void test_adopt_refuses(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int p[2], udp, tcp, unx;

    (void)state;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(pipe(p), 0);
    expect_refused(p[0], -ENOTSOCK, "is not a socket");

    udp = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(udp >= 0);
    expect_refused(udp, -ESOCKTNOSUPPORT, "is not a stream (TCP) socket");

    tcp = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(tcp >= 0);
    assert_int_equal(bind(tcp, (struct sockaddr *)&sin, sizeof(sin)), 0);
    expect_refused(tcp, -EDESTADDRREQ, "is not listening");

    unx = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(unx >= 0);
    expect_refused(unx, -EAFNOSUPPORT, "is not an IPv4 or IPv6 socket");

    close(p[0]);
    close(p[1]);
    close(udp);
    close(tcp);
    close(unx);
    expect_refused(p[0], -EBADF, "is not open");
}

static void test_adopt_listener(void **state)
{
    int fd = net_listen("127.0.0.1", 0);
    char msg[160];

    (void)state;
    assert_true(fd >= 0);
    /* As a unit with NonBlocking=yes would hand it over, inheritable. */
    assert_int_equal(net_set_nonblock(fd, true), 0);
    assert_int_equal(fcntl(fd, F_SETFD, 0), 0);

    assert_int_equal(net_adopt_listener(fd), fd);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_true(net_local_port(fd) > 0);

    net_error_message(-EACCES, NET_OP_ADOPT, NULL, 3, msg, sizeof(msg));
    assert_string_equal(msg, "socket activation: descriptor 3 is unusable: "
                             "Permission denied");
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_fds_parse),
        cmocka_unit_test(test_adopt_refuses),
        cmocka_unit_test(test_adopt_listener),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
