/*
 * Creation of the listening socket (see listener.h) with plain socket(),
 * bind() and listen(): the descriptor stays blocking for the workers'
 * accept(). A host name may resolve to several addresses; they are tried in
 * order, except that "address in use" stops the search at once, so a second
 * instance on the same port is reported instead of silently binding a
 * different address.
 */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Longest address accepted by -b, brackets included. */
#define ADDR_MAX 256

/* Creates, binds and listens one socket; the descriptor or -errno. */
static int open_one(int family, const struct sockaddr *sa, socklen_t salen)
{
    int one = 1, zero = 0;
    int fd, err;

    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    /*
     * Linux defaults to dual-stack, but net.ipv6.bindv6only may change the
     * default; "::" must serve IPv4 clients too.
     */
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
        goto fail;
    /*
     * Accepted sockets inherit TCP_NODELAY from the listener on Linux, which
     * saves the worker a system call per connection. Workers answer in one
     * write per batch, so Nagle would only add delay.
     */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, sa, salen) < 0)
        goto fail;
    if (listen(fd, SOMAXCONN) < 0)
        goto fail;
    return fd;

fail:
    err = -errno;
    close(fd);
    return err;
}

static void describe_error(int r, const char *addr, unsigned port, char *err,
                           size_t errlen)
{
    if (r == -EADDRINUSE)
        snprintf(err, errlen, "port %u is already in use", port);
    else
        snprintf(err, errlen, "cannot listen on %s port %u: %s",
                 addr != NULL ? addr : "all interfaces", port, strerror(-r));
}

/* All interfaces: IPv6 dual-stack, else IPv4 where IPv6 is unavailable. */
static int open_any(unsigned port)
{
    struct sockaddr_in6 sin6;
    struct sockaddr_in sin;
    int fd;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    sin6.sin6_port = htons((uint16_t)port);
    fd = open_one(AF_INET6, (const struct sockaddr *)&sin6, sizeof(sin6));
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
    return open_one(AF_INET, (const struct sockaddr *)&sin, sizeof(sin));
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

static int open_named(const char *addr, unsigned port, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char host[ADDR_MAX], service[8];
    int r, fd = -EADDRNOTAVAIL;

    if (strip_brackets(addr, host, sizeof(host)) < 0) {
        snprintf(err, errlen, "invalid bind address '%s'", addr);
        return -EINVAL;
    }
    snprintf(service, sizeof(service), "%u", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    r = getaddrinfo(host, service, &hints, &res);
    if (r != 0) {
        int saved = r == EAI_SYSTEM && errno != 0 ? errno : EINVAL;

        snprintf(err, errlen, "invalid bind address '%s': %s", addr,
                 r == EAI_SYSTEM ? strerror(saved) : gai_strerror(r));
        return -saved;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = open_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen);
        if (fd >= 0 || fd == -EADDRINUSE)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0)
        describe_error(fd, addr, port, err, errlen);
    return fd;
}

int listener_open(const char *addr, unsigned port, char *err, size_t errlen)
{
    int fd;

    if (port > 65535) {
        snprintf(err, errlen, "invalid port %u", port);
        return -EINVAL;
    }
    if (addr != NULL)
        return open_named(addr, port, err, errlen);
    fd = open_any(port);
    if (fd < 0)
        describe_error(fd, NULL, port, err, errlen);
    return fd;
}

int listener_address(int fd, char *buf, size_t len, unsigned *port)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    int r;

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
        return -errno;
    r = getnameinfo((const struct sockaddr *)&ss, sslen, host, sizeof(host),
                    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
    if (r != 0)
        return r == EAI_SYSTEM ? -errno : -EINVAL;
    if (ss.ss_family == AF_INET6)
        r = snprintf(buf, len, "[%s]:%s", host, serv);
    else
        r = snprintf(buf, len, "%s:%s", host, serv);
    if (r < 0 || (size_t)r >= len)
        return -ENOSPC;
    if (ss.ss_family == AF_INET6)
        *port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    else
        *port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    return 0;
}
