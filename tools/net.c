/*
 * Socket helpers for the tools. Connecting tries every address a name
 * resolves to, with a bounded wait per address, because "localhost" often
 * resolves to ::1 first while a server may listen on IPv4 only.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int net_resolve(const char *host, unsigned port, bool passive,
                struct addrinfo **res, char *err, size_t errlen)
{
    struct addrinfo hints;
    char service[16];
    int r;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    snprintf(service, sizeof(service), "%u", port);
    r = getaddrinfo(host, service, &hints, res);
    if (r != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s",
                 host != NULL ? host : "*",
                 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        return -EHOSTUNREACH;
    }
    return 0;
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

const char *net_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    unsigned port = 0;
    const void *src = NULL;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        src = &in->sin_addr;
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        src = &in6->sin6_addr;
        port = ntohs(in6->sin6_port);
    }
    if (src == NULL ||
        inet_ntop(sa->sa_family, src, host, sizeof(host)) == NULL) {
        snprintf(buf, len, "(unknown address)");
        return buf;
    }
    snprintf(buf, len, "%s port %u", host, port);
    return buf;
}

/*
 * Connects fd to sa, waiting at most timeout_ms: a blocking connect() to an
 * unreachable address could otherwise hang for minutes. 0 or -errno.
 */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t salen,
                         int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT, .revents = 0};
    socklen_t optlen = sizeof(int);
    int soerr = 0;
    int r;

    r = net_set_nonblock(fd, true);
    if (r < 0)
        return r;
    if (connect(fd, sa, salen) < 0) {
        if (errno != EINPROGRESS)
            return -errno;
        do {
            r = poll(&pfd, 1, timeout_ms);
        } while (r < 0 && errno == EINTR);
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &optlen) < 0)
            return -errno;
        if (soerr != 0)
            return -soerr;
    }
    return net_set_nonblock(fd, false);
}

int net_connect_any(const char *host, unsigned port, int timeout_ms, char *err,
                    size_t errlen)
{
    struct addrinfo *res = NULL;
    char addr[NET_ADDRSTRLEN];
    int last = -ECONNREFUSED;
    int fd = -1;
    int r;

    r = net_resolve(host, port, false, &res, err, errlen);
    if (r < 0)
        return r;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        net_addr_str(ai->ai_addr, addr, sizeof(addr));
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            last = -errno;
            log_debug("socket for %s: %s", addr, strerror(-last));
            continue;
        }
        log_debug("connecting to %s", addr);
        r = connect_timed(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (r == 0) {
            /* Requests are written whole; Nagle would only add delay. */
            (void)net_set_nodelay(fd);
            log_debug("connected to %s", addr);
            freeaddrinfo(res);
            return fd;
        }
        last = r;
        log_debug("connecting to %s: %s", addr, strerror(-r));
        close(fd);
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "cannot connect to %s port %u: %s", host, port,
             strerror(-last));
    return last;
}

int net_listen(const char *addr, unsigned port, char *err, size_t errlen)
{
    struct addrinfo *res = NULL;
    int last = -EADDRNOTAVAIL;
    int one = 1;
    int fd = -1;
    int r;

    r = net_resolve(addr, port, true, &res, err, errlen);
    if (r < 0)
        return r;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            last = -errno;
            continue;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, SOMAXCONN) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        last = -errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (last == -EADDRINUSE)
        snprintf(err, errlen, "port %u is already in use", port);
    else
        snprintf(err, errlen, "cannot listen on %s port %u: %s",
                 addr != NULL ? addr : "*", port, strerror(-last));
    return last;
}

unsigned net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}
