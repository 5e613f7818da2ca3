/*
 * Small socket helpers shared by the tools (client, bench, echo baseline):
 * name resolution, connecting to the first address of a host that answers,
 * listening, and the socket flags every tool sets. Functions return 0 or a
 * descriptor on success and a negative errno on failure; those that can fail
 * for a reason errno does not name (getaddrinfo) also fill an error buffer.
 */
#ifndef TCP_SERVER_TOOLS_NET_H
#define TCP_SERVER_TOOLS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct addrinfo;

/* Longest text net_addr_str writes, with the terminating NUL. */
#define NET_ADDRSTRLEN 64

/*
 * Resolves host and port for a TCP stream socket (passive: for bind, with
 * host NULL meaning all interfaces). Returns 0 with *res to be released by
 * freeaddrinfo, or -EHOSTUNREACH with a message such as "cannot resolve
 * 'foo': Name or service not known" in err.
 */
int net_resolve(const char *host, unsigned port, bool passive,
                struct addrinfo **res, char *err, size_t errlen);

/*
 * Connects to each address host resolves to in turn (localhost may give ::1
 * before 127.0.0.1) and returns the first connected socket: blocking,
 * close-on-exec, TCP_NODELAY set. Each attempt waits at most timeout_ms.
 * On failure returns a negative errno with a one-line message in err naming
 * the host, the port and the last cause.
 */
int net_connect_any(const char *host, unsigned port, int timeout_ms, char *err,
                    size_t errlen);

/* Turns O_NONBLOCK on or off. 0 or a negative errno. */
int net_set_nonblock(int fd, bool on);

/* Sets TCP_NODELAY. 0 or a negative errno. */
int net_set_nodelay(int fd);

/*
 * Creates a listening TCP socket bound to addr (NULL: all interfaces) and
 * port (0: the kernel picks one), with SO_REUSEADDR and a SOMAXCONN backlog.
 * Returns the descriptor or a negative errno with a message in err.
 */
int net_listen(const char *addr, unsigned port, char *err, size_t errlen);

/* The local port a socket is bound to, or 0 when it cannot be read. */
unsigned net_local_port(int fd);

/* Writes "127.0.0.1 port 8083" or "::1 port 8083" into buf. */
const char *net_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
