/*
 * The socket helpers of net.h over plain system calls. Listening sockets
 * stay blocking: the workers accept() on a descriptor they share with the
 * supervisor, and O_NONBLOCK lives in the shared open file description, so
 * a non-blocking listener would make their accept() spin on EAGAIN. Every
 * failure path closes what it opened.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Longest address net_listen() accepts, brackets included. */
#define HOST_MAX 256

/* NET_EAI() relies on glibc's negative EAI_ codes to stay below errno. */
_Static_assert(EAI_NONAME < 0 && EAI_SYSTEM < 0, "EAI_ codes are negative");

static bool is_eai(int err)
{
    return err < NET_EAI_BASE && err > NET_EAI_BASE - 1000;
}

const char *net_strerror(int err)
{
    if (is_eai(err))
        return gai_strerror(err - NET_EAI_BASE);
    return strerror(-err);
}

int net_resolve(const char *host, unsigned port, bool passive,
                struct addrinfo **res)
{
    struct addrinfo hints;
    char service[8];
    int r;

    *res = NULL;
    if (port > 65535)
        return -EINVAL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    snprintf(service, sizeof(service), "%u", port);
    errno = 0;
    r = getaddrinfo(host, service, &hints, res);
    if (r == 0)
        return 0;
    *res = NULL;
    if (r == EAI_SYSTEM)
        return errno != 0 ? -errno : -EIO;
    return NET_EAI(r);
}

int net_set_nonblock(int fd, bool on)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0)
        return -errno;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (fcntl(fd, F_SETFL, flags) < 0)
        return -errno;
    return 0;
}

int net_set_nodelay(int fd)
{
    int one = 1;

    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        return -errno;
    return 0;
}

int net_wait(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
    int n;

    for (;;) {
        n = poll(&pfd, 1, timeout_ms);
        if (n > 0)
            return pfd.revents;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* --- listening ------------------------------------------------------- */

/* The options of a listener, set between socket() and bind(). */
static int listener_options(int fd, int family)
{
    int one = 1, zero = 0;

    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        return -errno;
    /*
     * Linux defaults to dual-stack, but net.ipv6.bindv6only may change the
     * default; "::" must serve IPv4 clients too.
     */
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
        return -errno;
    /*
     * Accepted sockets inherit TCP_NODELAY from the listener on Linux, which
     * saves the worker a system call per connection. Workers answer in one
     * write per batch, so Nagle would only add delay.
     */
    return net_set_nodelay(fd);
}

/* Creates, binds and listens one socket; the descriptor or an error code. */
static int listen_one(const struct sockaddr *sa, socklen_t salen)
{
    int fd, r;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    r = listener_options(fd, sa->sa_family);
    if (r == 0 && bind(fd, sa, salen) < 0)
        r = -errno;
    if (r == 0 && listen(fd, SOMAXCONN) < 0)
        r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

/* All interfaces: IPv6 dual-stack, else IPv4 where IPv6 is unavailable. */
static int listen_any(unsigned port)
{
    struct sockaddr_in6 sin6;
    struct sockaddr_in sin;
    int fd;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    sin6.sin6_port = htons((uint16_t)port);
    fd = listen_one((const struct sockaddr *)&sin6, sizeof(sin6));
    /*
     * No IPv6 in the kernel gives EAFNOSUPPORT; IPv6 disabled by sysctl
     * lets socket() succeed but bind() fail with EADDRNOTAVAIL.
     */
    if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)
        return fd;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    sin.sin_port = htons((uint16_t)port);
    return listen_one((const struct sockaddr *)&sin, sizeof(sin));
}

/* Copies addr without the brackets of "[::1]"; 0 or -EINVAL. */
static int strip_brackets(const char *addr, char *out, size_t outlen)
{
    size_t len = strlen(addr);

    if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
        addr++;
        len -= 2;
    }
    if (len == 0 || len >= outlen)
        return -EINVAL;
    memcpy(out, addr, len);
    out[len] = '\0';
    return 0;
}

/*
 * A named address: its resolved addresses in order, stopping at the first
 * that listens, or at "address in use" (a second instance on the port).
 */
static int listen_named(const char *addr, unsigned port)
{
    struct addrinfo *res, *ai;
    char host[HOST_MAX];
    int fd;

    if (strip_brackets(addr, host, sizeof(host)) < 0)
        return NET_EAI(EAI_NONAME);
    fd = net_resolve(host, port, true, &res);
    if (fd < 0)
        return fd;
    fd = -EADDRNOTAVAIL;
    for (ai = res; ai != NULL && fd != -EADDRINUSE; ai = ai->ai_next) {
        fd = listen_one(ai->ai_addr, ai->ai_addrlen);
        if (fd >= 0)
            break;
    }
    freeaddrinfo(res);
    return fd;
}

int net_listen(const char *addr, unsigned port)
{
    if (port > 65535)
        return -EINVAL;
    if (addr == NULL)
        return listen_any(port);
    return listen_named(addr, port);
}

/* --- connecting ------------------------------------------------------ */

/*
 * Connects fd to sa, waiting at most timeout_ms: a blocking connect() to an
 * unreachable address could otherwise hang for minutes. 0 or an error code;
 * fd is blocking again on success.
 */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t salen,
                         int timeout_ms)
{
    socklen_t optlen = sizeof(int);
    int soerr = 0;
    int r;

    r = net_set_nonblock(fd, true);
    if (r < 0)
        return r;
    if (connect(fd, sa, salen) < 0) {
        if (errno != EINPROGRESS)
            return -errno;
        r = net_wait(fd, POLLOUT, timeout_ms);
        if (r < 0)
            return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &optlen) < 0)
            return -errno;
        if (soerr != 0)
            return -soerr;
    }
    return net_set_nonblock(fd, false);
}

/* One resolved address: the connected descriptor or an error code. */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
    int fd, r;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    r = connect_timed(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
    if (r < 0) {
        close(fd);
        return r;
    }
    (void)net_set_nodelay(fd);
    return fd;
}

int net_connect(const char *host, unsigned port, int timeout_ms)
{
    struct addrinfo *res, *ai;
    char where[NET_ADDRSTRLEN];
    int r;

    r = net_resolve(host, port, false, &res);
    if (r < 0)
        return r;
    r = -ECONNREFUSED;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (net_format_addr(ai->ai_addr, ai->ai_addrlen, where, sizeof(where)) <
            0)
            snprintf(where, sizeof(where), "(family %d)", ai->ai_family);
        log_debug("connecting to %s", where);
        r = connect_one(ai, timeout_ms);
        if (r >= 0) {
            log_debug("connected to %s", where);
            break;
        }
        log_debug("connecting to %s: %s", where, net_strerror(r));
    }
    freeaddrinfo(res);
    return r;
}

/* --- addresses ------------------------------------------------------- */

/* The port of an IPv4 or IPv6 address, or -EAFNOSUPPORT. */
static int sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -EAFNOSUPPORT;
}

/* getsockname() into ss; the length of the address or an error code. */
static int sock_name(int fd, struct sockaddr_storage *ss)
{
    socklen_t sslen = sizeof(*ss);

    /* Zeroed because the analyzer cannot see getsockname() write through
     * glibc's transparent-union argument. */
    memset(ss, 0, sizeof(*ss));
    if (getsockname(fd, (struct sockaddr *)ss, &sslen) < 0)
        return -errno;
    return (int)sslen;
}

int net_local_port(int fd)
{
    struct sockaddr_storage ss;
    int r = sock_name(fd, &ss);

    return r < 0 ? r : sockaddr_port((const struct sockaddr *)&ss);
}

/* Writes "%eth0" (or "%3" for an unnamed index) for a scoped address. */
static void scope_suffix(uint32_t scope_id, char *buf, size_t len)
{
    char name[IF_NAMESIZE];

    buf[0] = '\0';
    if (scope_id == 0)
        return;
    if (if_indextoname(scope_id, name) != NULL)
        snprintf(buf, len, "%%%s", name);
    else
        snprintf(buf, len, "%%%u", (unsigned)scope_id);
}

int net_format_addr(const struct sockaddr *sa, socklen_t salen, char *buf,
                    size_t len)
{
    char host[INET6_ADDRSTRLEN], scope[IF_NAMESIZE + 1];
    const struct sockaddr_in6 *in6;
    int port = sockaddr_port(sa);
    int n;

    if (port < 0)
        return port;
    if (sa->sa_family == AF_INET) {
        if (salen < sizeof(struct sockaddr_in))
            return -EINVAL;
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host,
                  sizeof(host));
        n = snprintf(buf, len, "%s:%d", host, port);
    } else {
        if (salen < sizeof(struct sockaddr_in6))
            return -EINVAL;
        in6 = (const struct sockaddr_in6 *)sa;
        /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof(host));
            n = snprintf(buf, len, "%s:%d", host, port);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            scope_suffix(in6->sin6_scope_id, scope, sizeof(scope));
            n = snprintf(buf, len, "[%s%s]:%d", host, scope, port);
        }
    }
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    return n;
}

int net_local_addr(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    int r = sock_name(fd, &ss);

    if (r < 0)
        return r;
    return net_format_addr((const struct sockaddr *)&ss, (socklen_t)r, buf,
                           len);
}

/* --- socket activation ---------------------------------------------- */

/* A decimal number with nothing around it, up to max; or -1. */
static long long env_number(const char *s, long long max)
{
    char *end;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    return v;
}

int net_listen_fds_parse(const char *listen_pid, const char *listen_fds,
                         long self, char *err, size_t errlen)
{
    long long pid, n;

    if (listen_pid == NULL)
        return 0;
    pid = env_number(listen_pid, 0x7fffffff);
    if (pid <= 0) {
        snprintf(err, errlen, "socket activation: invalid LISTEN_PID '%s'",
                 listen_pid);
        return -EINVAL;
    }
    if (pid != self)
        return 0; /* meant for another process */
    n = env_number(listen_fds, 0x7fffffff);
    if (n < 0) {
        snprintf(err, errlen, "socket activation: invalid LISTEN_FDS '%s'",
                 listen_fds != NULL ? listen_fds : "(unset)");
        return -EINVAL;
    }
    if (n != 1) {
        snprintf(err, errlen,
                 "socket activation: LISTEN_FDS=%lld, expected exactly one "
                 "listening socket",
                 n);
        return -EINVAL;
    }
    return 1;
}

static int sock_int_opt(int fd, int level, int name, int *v)
{
    socklen_t len = sizeof(*v);

    if (getsockopt(fd, level, name, v, &len) < 0)
        return -errno;
    return 0;
}

int net_adopt_listener(int fd)
{
    int domain, type, listening, r;

    r = sock_int_opt(fd, SOL_SOCKET, SO_DOMAIN, &domain);
    if (r == 0 && domain != AF_INET && domain != AF_INET6)
        r = -EAFNOSUPPORT;
    if (r == 0)
        r = sock_int_opt(fd, SOL_SOCKET, SO_TYPE, &type);
    if (r == 0 && type != SOCK_STREAM)
        r = -ESOCKTNOSUPPORT;
    if (r == 0)
        r = sock_int_opt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening);
    if (r == 0 && !listening)
        r = -EDESTADDRREQ;
    if (r < 0)
        return r;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    /*
     * systemd passes a blocking socket unless the unit says NonBlocking=,
     * but the workers block in accept() on it (see the top of this file):
     * O_NONBLOCK is a property of the shared open file description, so a
     * non-blocking listener would make every worker spin on EAGAIN.
     */
    r = net_set_nonblock(fd, false);
    return r < 0 ? r : fd;
}

/* --- messages -------------------------------------------------------- */

/* Why an inherited descriptor cannot be our listener. */
static int adopt_message(int err, unsigned fd, char *buf, size_t len)
{
    const char *what;

    switch (err) {
    case -ENOTSOCK:
    case -EBADF:
        what = err == -EBADF ? "is not open" : "is not a socket";
        break;
    case -EAFNOSUPPORT:
        what = "is not an IPv4 or IPv6 socket";
        break;
    case -ESOCKTNOSUPPORT:
        what = "is not a stream (TCP) socket";
        break;
    case -EDESTADDRREQ:
        what = "is not listening";
        break;
    default:
        return snprintf(buf, len,
                        "socket activation: descriptor %u is "
                        "unusable: %s",
                        fd, net_strerror(err));
    }
    return snprintf(buf, len, "socket activation: descriptor %u %s", fd, what);
}

int net_error_message(int err, enum net_op op, const char *host, unsigned port,
                      char *buf, size_t len)
{
    const char *reason = net_strerror(err);
    int n;

    if (op == NET_OP_ADOPT) {
        n = adopt_message(err, port, buf, len);
    } else if (op == NET_OP_LISTEN) {
        if (err == -EADDRINUSE)
            n = snprintf(buf, len, "port %u is already in use", port);
        else if (port > 65535)
            n = snprintf(buf, len, "invalid port %u", port);
        else if (is_eai(err))
            n = snprintf(buf, len, "invalid bind address '%s': %s",
                         host != NULL ? host : "", reason);
        else
            n = snprintf(buf, len, "cannot listen on %s port %u: %s",
                         host != NULL ? host : "all interfaces", port, reason);
    } else {
        if (host == NULL)
            host = "localhost";
        if (is_eai(err))
            n = snprintf(buf, len, "cannot resolve '%s': %s", host, reason);
        else
            n = snprintf(buf, len, "cannot connect to %s port %u: %s", host,
                         port, reason);
    }
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    return n;
}
