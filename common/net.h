/*
 * TCP socket helpers shared by the supervisor, the worker, the tools and the
 * tests, in the spirit of redis anet.c: each does one small thing and states
 * its contract. Every function returns 0, a descriptor or a count on
 * success and a negative error code on failure, so a caller never reads
 * errno after a call. An error code is a negative errno, or NET_EAI(code)
 * when name resolution failed for a reason errno does not name (getaddrinfo
 * "Name or service not known"); net_strerror() and net_error_message() turn
 * either into text.
 *
 * Listening sockets come from net_listen(), or are inherited from systemd
 * (socket activation, sd_listen_fds(3)) and adopted by net_adopt_listener()
 * under the same contract.
 */
#ifndef TCP_SERVER_NET_H
#define TCP_SERVER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct addrinfo;

/*
 * Longest text net_format_addr() writes, NUL included: a bracketed IPv6
 * address with a scope ("[fe80::1%eth0]") and ":65535".
 */
#define NET_ADDRSTRLEN 80

/*
 * Error code for a getaddrinfo() failure other than EAI_SYSTEM (glibc's EAI_
 * codes are negative), far below every errno so the two never meet.
 */
#define NET_EAI_BASE  (-5000)
#define NET_EAI(code) (NET_EAI_BASE + (code))

/* What failed, for net_error_message(). */
enum net_op {
    NET_OP_LISTEN,
    NET_OP_CONNECT,
    NET_OP_ADOPT, /* net_adopt_listener(); "port" is the descriptor */
};

/* Socket activation: the first descriptor passed (SD_LISTEN_FDS_START). */
#define NET_LISTEN_FDS_START 3

/*
 * Resolves host and port for a TCP stream socket (passive: for bind, with
 * host NULL meaning all interfaces; the port is numeric). Returns 0 with
 * *res to be released by freeaddrinfo(), or an error code.
 */
int net_resolve(const char *host, unsigned port, bool passive,
                struct addrinfo **res);

/*
 * Opens a blocking, close-on-exec TCP socket bound to addr and port, with
 * SO_REUSEADDR and TCP_NODELAY (accepted sockets inherit it on Linux),
 * listening with a backlog of SOMAXCONN. addr NULL means all interfaces:
 * IPv6 "::" dual-stack (IPV6_V6ONLY off), or 0.0.0.0 when the host has no
 * IPv6. Otherwise addr is a numeric IPv4 or IPv6 address (IPv6 may be in
 * brackets) or a host name; the first of its addresses that can be bound is
 * used, but -EADDRINUSE stops the search at once, so a second instance on
 * the same port is reported rather than bound to another address. Port 0
 * binds a free port. Returns the descriptor or an error code (-EINVAL for a
 * port above 65535).
 */
int net_listen(const char *addr, unsigned port);

/*
 * The sd_listen_fds(3) protocol, as a pure function of the values of
 * LISTEN_PID and LISTEN_FDS (NULL when unset) and our pid. Returns 0 when
 * nothing was passed to us (LISTEN_PID unset or naming another process: a
 * variable leaked from a parent, to be ignored), 1 when NET_LISTEN_FDS_START
 * is our listener, or -EINVAL with a one-line reason in err when the
 * variables are addressed to us but malformed, or pass other than exactly
 * one descriptor. LISTEN_FDNAMES is optional and not needed.
 */
int net_listen_fds_parse(const char *listen_pid, const char *listen_fds,
                         long self, char *err, size_t errlen);

/*
 * Adopts an inherited descriptor as the listener: it must be a listening
 * SOCK_STREAM socket of family IPv4 or IPv6. It is made close-on-exec and
 * blocking (see net.c). Binds nothing. Returns fd, or -ENOTSOCK (not a
 * socket), -EAFNOSUPPORT (not IPv4/IPv6), -ESOCKTNOSUPPORT (not a stream
 * socket), -EDESTADDRREQ (not listening) or another error code.
 */
int net_adopt_listener(int fd);

/*
 * Connects to each address host resolves to in turn ("localhost" may give
 * ::1 before 127.0.0.1) and returns the first connected socket: blocking,
 * close-on-exec, TCP_NODELAY set (requests go out whole, so Nagle would only
 * add delay). Each attempt waits at most timeout_ms (negative: as long as
 * the kernel does). Returns the descriptor or the error code of the last
 * attempt.
 */
int net_connect(const char *host, unsigned port, int timeout_ms);

/* The local port of a bound socket (0..65535), or an error code. */
int net_local_port(int fd);

/*
 * Writes sa as "ADDR:PORT" into buf: "127.0.0.1:8083", "[::1]:8083", and an
 * IPv4-mapped IPv6 address (a dual-stack listener's IPv4 peer) as plain
 * IPv4, "127.0.0.1:8083". Returns the length written, -EAFNOSUPPORT for a
 * family other than IPv4 and IPv6, -EINVAL when salen is too short for it,
 * or -ENOSPC when buf is too small (NET_ADDRSTRLEN always suffices).
 */
int net_format_addr(const struct sockaddr *sa, socklen_t salen, char *buf,
                    size_t len);

/* The address fd is bound to, as net_format_addr() writes it. */
int net_local_addr(int fd, char *buf, size_t len);

/*
 * Waits until fd is ready for events (POLLIN, POLLOUT) or timeout_ms pass
 * (negative: no limit), retrying EINTR with the full timeout. Returns the
 * revents seen (> 0), -ETIMEDOUT, or an error code.
 */
int net_wait(int fd, short events, int timeout_ms);

/* Turns O_NONBLOCK on or off. 0 or an error code. */
int net_set_nonblock(int fd, bool on);

/* Sets TCP_NODELAY. 0 or an error code. */
int net_set_nodelay(int fd);

/* The text of an error code: strerror() or gai_strerror(). Never NULL. */
const char *net_strerror(int err);

/*
 * Writes the one-line reason why op on host (NULL: all interfaces) and port
 * failed with err into buf, the only place these sentences are made:
 *   listen:  "port 8083 is already in use" (-EADDRINUSE),
 *            "invalid port 70000" (a port above 65535),
 *            "invalid bind address 'foo': <reason>" (resolution),
 *            "cannot listen on ADDR port 8083: <reason>";
 *   connect: "cannot resolve 'foo': <reason>" (resolution),
 *            "cannot connect to HOST port 8083: <reason>";
 *   adopt:   "socket activation: descriptor 3 is not a socket" (and "is not
 *            an IPv4 or IPv6 socket", "is not a stream (TCP) socket", "is
 *            not listening", or "is unusable: <reason>"); port is the fd.
 * Returns the length written, or -ENOSPC when it was cut short.
 */
int net_error_message(int err, enum net_op op, const char *host, unsigned port,
                      char *buf, size_t len);

#endif
