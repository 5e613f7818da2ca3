/*
 * Long uppercase exchanges of a known pattern, streamed: a request of any
 * length is sent in chunks while its answer is read and checked as it
 * arrives, so neither side holds the whole message. The supervision tests
 * use them to keep a worker in the middle of an exchange while they signal
 * the server, then finish the exchange and check every byte of the answer.
 */
#ifndef TCP_SERVER_TESTS_WIRE_STREAM_H
#define TCP_SERVER_TESTS_WIRE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* An uppercase request of len bytes of the test pattern, streamed. */
struct wire_stream {
    int fd;
    uint32_t len;
    uint64_t sent; /* request bytes sent, header included */
    uint64_t rgot; /* response bytes received and checked, header included */
    uint8_t rhdr[4];
};

/*
 * Fills buf (when not NULL) with the test pattern from offset off on, and up
 * (when not NULL) with its uppercase: mixed-case letters and other bytes,
 * whose period divides no power of two.
 */
void wire_stream_pattern(uint8_t *buf, uint8_t *up, size_t len, uint64_t off);

/*
 * Connects, sends the header and the first sent data bytes of an uppercase
 * request of len bytes, and waits until the answer has begun (its header and
 * a first byte), which proves a worker accepted the connection and is in the
 * middle of the exchange. 0 or -errno; s->fd is tracked by h.
 */
int wire_stream_start(struct harness *h, unsigned port, uint32_t len,
                      uint32_t sent, struct wire_stream *s);

/* Sends the rest of the request while checking the whole answer. 0 or
 * -errno (-EBADMSG: a wrong byte; -ECONNABORTED: closed before the end). */
int wire_stream_finish(struct wire_stream *s);

/*
 * Runs the exchange of s (s->fd connected, s->len set) until send_until
 * request bytes are sent and want_rgot response bytes arrived (0), or until
 * ctl_fd (when >= 0) becomes readable (1). -errno on failure, -ETIMEDOUT
 * after a minute without progress.
 */
int wire_stream_run(struct wire_stream *s, uint64_t send_until,
                    uint64_t want_rgot, int ctl_fd);

#endif
