/*
 * The client side of the process tests: free ports and bound listeners,
 * connections to the server under test, exact-length sends and receives
 * with deadlines, protocol requests and answers, and the probes that tell
 * whether a server answers. Every socket a test opens through wire_connect
 * is tracked by its struct harness, so the teardown closes it. Functions
 * return 0 or a count on success and a negative errno on failure; the tests
 * make the assertions. Binding, listening and connecting go through
 * common/net.c (net_local_port() gives a socket's port); only
 * wire_listen_v4, a port held the way another program would, binds here.
 */
#ifndef TCP_SERVER_TESTS_WIRE_H
#define TCP_SERVER_TESTS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* Waits up to timeout_ms for fd to become readable (or hang up): 0,
 * -ETIMEDOUT or -errno. For pipes as well as sockets. */
int wire_wait_readable(int fd, int timeout_ms);

/* --- addresses and listeners -------------------------------------------- */

/* A TCP port of 127.0.0.1 that was free a moment ago, or -errno. */
int wire_free_port(void);

/*
 * Binds port on the wildcard address the way a restarted server does
 * (SO_REUSEADDR, dual-stack IPv6 or IPv4) and listens, then closes the
 * socket. 0 or -errno (-EADDRINUSE when something still holds the port).
 */
int wire_bind_port(unsigned port);

/*
 * A socket listening on 0.0.0.0:port without SO_REUSEADDR, the way another
 * program would hold the port: its descriptor (the caller closes it), or
 * -errno.
 */
int wire_listen_v4(unsigned port);

/* --- connections -------------------------------------------------------- */

/*
 * Connects to 127.0.0.1:port within timeout_ms and returns a blocking socket
 * (SOCK_CLOEXEC, TCP_NODELAY), tracked by h so teardown closes it, or -errno.
 * harness_close_fd closes it.
 */
int wire_connect(struct harness *h, unsigned port, int timeout_ms);

/* Closes a tracked socket with a reset (SO_LINGER 0) instead of a FIN.
 * 0, or -errno when the option could not be set (the socket is closed). */
int wire_reset_close(struct harness *h, int fd);

/* Writes all len bytes before timeout_ms. Returns 0 or -errno. */
int wire_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * Reads exactly len bytes before timeout_ms. Returns len, a smaller count when
 * the peer closed first, or -errno (-ETIMEDOUT, -ECONNRESET, ...).
 */
ssize_t wire_recv_exact(int fd, void *buf, size_t len, int timeout_ms);

/*
 * Waits up to timeout_ms for the peer to close the connection: 0 on EOF or
 * reset, -ETIMEDOUT if it stayed open, -EPROTO if data arrived instead.
 */
int wire_wait_closed(int fd, int timeout_ms);

/*
 * Polls until every byte written on our socket fd has been read by the
 * server application: nothing left in our send queue (SIOCOUTQ) nor in the
 * server socket's receive queue. 0, -ETIMEDOUT or -errno.
 */
int wire_wait_consumed(int fd, unsigned server_port, int timeout_ms);

/* --- requests and answers ----------------------------------------------- */

/* Appends a request (header then data) to out, which must hold 4 + len. */
void wire_encode(uint8_t *out, unsigned action, const void *data, uint32_t len);

/*
 * Reads one response: *data is a heap buffer of *len bytes plus a NUL (free()
 * it). Returns 0, -EPROTO when the peer closed mid-response, or -errno.
 */
int wire_read_response(int fd, uint8_t **data, uint32_t *len, int timeout_ms);

/* Sends one request in a single write and reads its response (see
 * wire_read_response), each within HARNESS_IO_MS. */
int wire_request(int fd, unsigned action, const void *data, uint32_t len,
                 uint8_t **resp, uint32_t *resp_len);

/*
 * One uppercase exchange of the NUL-terminated text (at most 252 bytes) on
 * fd within timeout_ms: 0 when the answer is right, -EBADMSG when it is
 * wrong, -EPROTO when the peer closed mid-response, or -errno.
 */
int wire_upper_exchange(int fd, const char *text, int timeout_ms);

/*
 * Sends req[0..len) in pieces of at most piece bytes (0: as many as the
 * socket takes) while reading whatever comes back, until everything is sent
 * and the bytes received hold nresp complete responses. Reading while
 * writing is what keeps a large pipelined batch from deadlocking against a
 * server that applies backpressure. *out is a heap buffer of *out_len bytes
 * (free() it, also on failure). Returns 0, -ETIMEDOUT when nothing moved for
 * idle_ms, -EPROTO when the peer closed first, or -errno.
 */
int wire_pump(int fd, const void *req, size_t len, size_t piece, size_t nresp,
              uint8_t **out, size_t *out_len, int idle_ms);

/* --- is the server answering? -------------------------------------------- */

/*
 * One uppercase request on a fresh connection to 127.0.0.1:port: 0 when the
 * answer is correct, -EBADMSG when it is wrong, or -errno from connect or
 * the exchange (-EPROTO: closed mid-response).
 */
int wire_ping(struct harness *h, unsigned port, int timeout_ms);

/*
 * Polls with wire_ping until p answers on p->port: 0, -ECHILD when p exited
 * first (it is then reaped), or -ETIMEDOUT. The listener exists before the
 * worker, so only an answer proves the server is serving.
 */
int wire_wait_answer(struct harness *h, struct harness_proc *p, int timeout_ms);

#endif
