/*
 * common/net over real sockets on the loopback interface, port 0: a listener
 * has the options the workers rely on, a client connects to it and both ends
 * name each other in the one address format, a second listener on a taken
 * port gets EADDRINUSE and the sentence users see, and hand-made IPv4, IPv6
 * and IPv4-mapped addresses format as documented.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static int sockopt(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof(v);

    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* Accepts one connection and writes its peer as net_format_addr does. */
static int accept_peer(int lfd, char *peer, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int fd;

    memset(&ss, 0, sizeof(ss));
    fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    assert_true(
        net_format_addr((const struct sockaddr *)&ss, sslen, peer, len) > 0);
    return fd;
}

/* A port that was free a moment ago: bound, read, released. */
static int released_port(void)
{
    int fd = net_listen("127.0.0.1", 0);
    int port;

    assert_true(fd >= 0);
    port = net_local_port(fd);
    assert_true(port > 0);
    close(fd);
    return port;
}

static void test_net_listen_options(void **state)
{
    char where[NET_ADDRSTRLEN], want[NET_ADDRSTRLEN];
    int fd, port;

    (void)state;
    fd = net_listen("127.0.0.1", 0);
    assert_true(fd >= 0);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    assert_int_not_equal(sockopt(fd, IPPROTO_TCP, TCP_NODELAY), 0);
    /* Blocking: the workers' accept() must not spin on EAGAIN. */
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    port = net_local_port(fd);
    assert_true(port > 0 && port <= 65535);
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    assert_int_equal(net_local_addr(fd, where, sizeof(where)),
                     (int)strlen(want));
    assert_string_equal(where, want);
    close(fd);
}

static void test_net_listen_in_use(void **state)
{
    char msg[128], want[64];
    int fd, port, r;

    (void)state;
    fd = net_listen("127.0.0.1", 0);
    assert_true(fd >= 0);
    port = net_local_port(fd);
    r = net_listen("127.0.0.1", (unsigned)port);
    assert_int_equal(r, -EADDRINUSE);
    assert_true(net_error_message(r, NET_OP_LISTEN, "127.0.0.1", (unsigned)port,
                                  msg, sizeof(msg)) > 0);
    snprintf(want, sizeof(want), "port %d is already in use", port);
    assert_string_equal(msg, want);
    /* All interfaces overlap 127.0.0.1: the same answer. */
    assert_int_equal(net_listen(NULL, (unsigned)port), -EADDRINUSE);
    close(fd);
}

static void test_net_listen_bad_input(void **state)
{
    char msg[128];
    int r;

    (void)state;
    assert_int_equal(net_listen(NULL, 65536), -EINVAL);
    net_error_message(-EINVAL, NET_OP_LISTEN, NULL, 65536, msg, sizeof(msg));
    assert_string_equal(msg, "invalid port 65536");

    /* Empty brackets never reach the resolver. */
    r = net_listen("[]", 0);
    assert_int_equal(r, NET_EAI(EAI_NONAME));
    assert_string_equal(net_strerror(r), gai_strerror(EAI_NONAME));
    net_error_message(r, NET_OP_LISTEN, "[]", 0, msg, sizeof(msg));
    assert_non_null(strstr(msg, "invalid bind address '[]': "));

    net_error_message(-EACCES, NET_OP_LISTEN, NULL, 80, msg, sizeof(msg));
    assert_string_equal(msg, "cannot listen on all interfaces port 80: "
                             "Permission denied");
}

static void test_net_listen_ipv6_brackets(void **state)
{
    char where[NET_ADDRSTRLEN], want[NET_ADDRSTRLEN];
    int fd;

    (void)state;
    fd = net_listen("[::1]", 0);
    if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT)
        skip(); /* no IPv6 on this host */
    assert_true(fd >= 0);
    snprintf(want, sizeof(want), "[::1]:%d", net_local_port(fd));
    assert_true(net_local_addr(fd, where, sizeof(where)) > 0);
    assert_string_equal(where, want);
    close(fd);
}

/* All interfaces, reached over IPv4: a dual-stack peer prints as IPv4. */
static void test_net_listen_any_serves_ipv4(void **state)
{
    char where[NET_ADDRSTRLEN], peer[NET_ADDRSTRLEN], local[NET_ADDRSTRLEN];
    int lfd, cfd, afd, port;

    (void)state;
    lfd = net_listen(NULL, 0);
    assert_true(lfd >= 0);
    port = net_local_port(lfd);
    assert_true(net_local_addr(lfd, where, sizeof(where)) > 0);
    snprintf(local, sizeof(local), "[::]:%d", port);
    if (strcmp(where, local) != 0) {
        snprintf(local, sizeof(local), "0.0.0.0:%d", port);
        assert_string_equal(where, local);
    }
    cfd = net_connect("127.0.0.1", (unsigned)port, 1000);
    assert_true(cfd >= 0);
    afd = accept_peer(lfd, peer, sizeof(peer));
    assert_true(net_local_addr(cfd, local, sizeof(local)) > 0);
    assert_string_equal(peer, local);
    assert_int_equal(strncmp(peer, "127.0.0.1:", 10), 0);
    close(afd);
    close(cfd);
    close(lfd);
}

static void test_net_connect_round_trip(void **state)
{
    char peer[NET_ADDRSTRLEN], local[NET_ADDRSTRLEN], c = 0;
    int lfd, cfd, afd, port;

    (void)state;
    lfd = net_listen("127.0.0.1", 0);
    assert_true(lfd >= 0);
    port = net_local_port(lfd);
    cfd = net_connect("127.0.0.1", (unsigned)port, 1000);
    assert_true(cfd >= 0);
    assert_int_not_equal(sockopt(cfd, IPPROTO_TCP, TCP_NODELAY), 0);
    assert_int_equal(fcntl(cfd, F_GETFL) & O_NONBLOCK, 0);
    assert_int_equal(fcntl(cfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

    afd = accept_peer(lfd, peer, sizeof(peer));
    assert_true(net_local_addr(cfd, local, sizeof(local)) > 0);
    assert_string_equal(peer, local);
    assert_int_equal(net_local_port(afd), port);
    assert_int_equal(write(cfd, "x", 1), 1);
    assert_int_equal(read(afd, &c, 1), 1);
    assert_int_equal(c, 'x');
    close(afd);
    close(cfd);
    close(lfd);
}

static void test_net_connect_refused(void **state)
{
    char msg[128], want[128];
    int port = released_port();
    int r;

    (void)state;
    r = net_connect("127.0.0.1", (unsigned)port, 1000);
    assert_int_equal(r, -ECONNREFUSED);
    net_error_message(r, NET_OP_CONNECT, "127.0.0.1", (unsigned)port, msg,
                      sizeof(msg));
    snprintf(want, sizeof(want),
             "cannot connect to 127.0.0.1 port %d: Connection refused", port);
    assert_string_equal(msg, want);
    net_error_message(NET_EAI(EAI_NONAME), NET_OP_CONNECT, "nowhere", 1, msg,
                      sizeof(msg));
    assert_non_null(strstr(msg, "cannot resolve 'nowhere': "));
}

static void test_net_local_port_not_socket(void **state)
{
    int p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(net_local_port(p[0]), -ENOTSOCK);
    close(p[0]);
    close(p[1]);
}

static void test_net_wait_timeout_then_ready(void **state)
{
    int sv[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(net_wait(sv[0], POLLIN, 10), -ETIMEDOUT);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(net_wait(sv[0], POLLIN, 1000) & POLLIN, POLLIN);
    close(sv[0]);
    close(sv[1]);
}

/* One address of a family, its port, and the text it must format to. */
struct format_case {
    const char *addr;
    const char *want;
    int family;
    uint16_t port;
};

static void test_net_format_addr_families(void **state)
{
    static const struct format_case cases[] = {
        {"192.0.2.7", "192.0.2.7:8083", AF_INET, 8083},
        {"0.0.0.0", "0.0.0.0:0", AF_INET, 0},
        {"2001:db8::1", "[2001:db8::1]:443", AF_INET6, 443},
        {"::", "[::]:8083", AF_INET6, 8083},
        /* A dual-stack listener sees IPv4 clients this way. */
        {"::ffff:198.51.100.9", "198.51.100.9:50000", AF_INET6, 50000},
    };
    char buf[NET_ADDRSTRLEN];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct format_case *c = &cases[i];
        struct sockaddr_storage ss;
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        void *dst = &sin->sin_addr;
        socklen_t len = sizeof(*sin);

        memset(&ss, 0, sizeof(ss));
        ss.ss_family = (sa_family_t)c->family;
        sin->sin_port = htons(c->port);
        if (c->family == AF_INET6) {
            dst = &sin6->sin6_addr;
            len = sizeof(*sin6);
            sin6->sin6_port = htons(c->port);
        }
        assert_int_equal(inet_pton(c->family, c->addr, dst), 1);
        assert_int_equal(net_format_addr((const struct sockaddr *)&ss, len, buf,
                                         sizeof(buf)),
                         (int)strlen(c->want));
        assert_string_equal(buf, c->want);
    }
}

static void test_net_format_refusals(void **state)
{
    struct sockaddr_in6 sin6;
    struct sockaddr sa;
    char buf[NET_ADDRSTRLEN];

    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNIX;
    assert_int_equal(net_format_addr(&sa, sizeof(sa), buf, sizeof(buf)),
                     -EAFNOSUPPORT);

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(1);
    /* Too short for the family it claims. */
    assert_int_equal(net_format_addr((const struct sockaddr *)&sin6,
                                     sizeof(struct sockaddr_in), buf,
                                     sizeof(buf)),
                     -EINVAL);
    /* "[::]:1" needs seven bytes with the NUL. */
    assert_int_equal(
        net_format_addr((const struct sockaddr *)&sin6, sizeof(sin6), buf, 6),
        -ENOSPC);
    assert_int_equal(
        net_format_addr((const struct sockaddr *)&sin6, sizeof(sin6), buf, 7),
        6);
    assert_string_equal(buf, "[::]:1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_listen_options),
        cmocka_unit_test(test_net_listen_in_use),
        cmocka_unit_test(test_net_listen_bad_input),
        cmocka_unit_test(test_net_listen_ipv6_brackets),
        cmocka_unit_test(test_net_listen_any_serves_ipv4),
        cmocka_unit_test(test_net_connect_round_trip),
        cmocka_unit_test(test_net_connect_refused),
        cmocka_unit_test(test_net_local_port_not_socket),
        cmocka_unit_test(test_net_wait_timeout_then_ready),
        cmocka_unit_test(test_net_format_addr_families),
        cmocka_unit_test(test_net_format_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
