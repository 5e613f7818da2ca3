/*
 * The requests tcp_bench sends. Every request of a run is the same: a header
 * and a message of random ASCII letters (both cases, so uppercase and
 * lowercase change something). The message repeats a pattern of at most
 * 64 KiB, which keeps a 128 MiB message cheap to send and to check. Small
 * requests are pre-encoded back to back in a window buffer, so a whole
 * pipeline window leaves in a single write.
 */
#ifndef TCP_SERVER_TOOLS_BENCH_PAYLOAD_H
#define TCP_SERVER_TOOLS_BENCH_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "proto.h"

/* Bytes of the message pattern, and of the pre-encoded request window. */
#define BENCH_PATTERN_MAX ((size_t)64 * 1024)
#define BENCH_WINDOW_MAX  ((size_t)4 * 1024 * 1024)

struct bench_payload {
    unsigned action;
    uint64_t len;    /* message length */
    uint64_t reqlen; /* header + message */
    uint8_t hdr[PROTO_HEADER_LEN];
    uint8_t *pat; /* message byte i is pat[i % patlen] */
    size_t patlen;
    uint8_t *win;  /* copies whole requests back to back, or NULL */
    size_t copies; /* 0 when the request is too large to pre-encode */
};

/*
 * Builds the request: action (0..31), message length len (at most
 * PROTO_MAX_LEN), up to `window` requests pre-encoded, letters drawn from
 * seed. Returns 0 or -ENOMEM; release with bench_payload_free.
 */
int bench_payload_init(struct bench_payload *p, unsigned action, uint64_t len,
                       unsigned window, uint64_t seed);

void bench_payload_free(struct bench_payload *p);

/*
 * Fills at most max iovecs (max > 0) describing the bytes of a stream of
 * `count` back-to-back requests, starting `off` bytes into the first one
 * (off < reqlen), capped at about `maxbytes`. Returns the number of iovecs
 * filled (0 when count is 0). The iovecs point into p and stay valid.
 */
int bench_payload_iov(const struct bench_payload *p, uint64_t off,
                      uint64_t count, struct iovec *iov, int max,
                      size_t maxbytes);

#endif
