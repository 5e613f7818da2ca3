/*
 * The listening socket of the server. The supervisor creates it once, before
 * any worker exists, keeps it for its whole life and hands it to every
 * worker. It is a plain blocking socket: libuv never sees it, because
 * O_NONBLOCK lives in the open file description shared with the workers,
 * whose blocking accept() would otherwise fail with EAGAIN and spin.
 */
#ifndef TCP_SERVER_LISTENER_H
#define TCP_SERVER_LISTENER_H

#include <stddef.h>

/*
 * Opens a blocking, close-on-exec TCP socket bound to addr and port, with
 * SO_REUSEADDR, listening with a backlog of SOMAXCONN. addr NULL means all
 * interfaces: IPv6 "::" dual-stack (IPV6_V6ONLY off), or 0.0.0.0 when the
 * host has no IPv6. Otherwise addr is a numeric IPv4 or IPv6 address (IPv6
 * may be in brackets) or a host name, resolved with getaddrinfo; the first
 * of its addresses that can be bound is used. Port 0 binds a free port.
 * Returns the descriptor, or a negative errno with a one-line message in err
 * (-EADDRINUSE: "port N is already in use").
 */
int listener_open(const char *addr, unsigned port, char *err, size_t errlen);

/*
 * Writes the address a socket is bound to as "ADDR:PORT" ("[ADDR]:PORT" for
 * IPv6) into buf and its port into *port. 0 or a negative errno.
 */
int listener_address(int fd, char *buf, size_t len, unsigned *port);

#endif
