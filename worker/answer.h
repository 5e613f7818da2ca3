/*
 * From request bytes to queued answers (DESIGN.md section 2): parses what a
 * client sent and queues each request's response, in order, on an output
 * queue. No I/O: the caller reads into a buffer, feeds it here, and writes
 * the queue out. Answers are built in place in the fed buffer wherever
 * possible (uppercase and lowercase always, reverse and shuffle when a whole
 * request arrived in one feed), so the common path copies and allocates
 * nothing.
 */
#ifndef TCP_SERVER_ANSWER_H
#define TCP_SERVER_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outq.h"
#include "proto.h"
#include "rng.h"
#include "wstats.h"

/* Above this much queued output, no new request is started. */
#define ANSWER_HIGH_WATER ((size_t)1024 * 1024)

enum answer_mode {
    ANSWER_STREAM,  /* uppercase, lowercase: answered chunk by chunk */
    ANSWER_COLLECT, /* reverse, shuffle, random: need the whole message */
    ANSWER_DISCARD, /* unknown action: data skipped, answered "error" */
};

/* One connection's request state; the caller owns it and the queue. */
struct answer {
    struct outq *out;
    struct rng *rng;
    struct proto_parser parser;
    enum answer_mode mode;
    unsigned action;
    uint32_t len;
    uint8_t *hdr_at;  /* the request header in the fed buffer, or NULL */
    uint8_t *inplace; /* the whole body in the fed buffer, or NULL */
    uint8_t *body;    /* collect buffer when the body spans feeds */
    size_t body_len, body_cap;
    uint64_t requests; /* requests begun */
    /* Where requests are counted by action; answer_init points it at a
     * block nobody reads, the worker at its shared one. */
    struct wstats *stats;
};

/* Starts a connection's state: answers go to out, shuffle and random draw
 * from rng. Allocates nothing. */
void answer_init(struct answer *a, struct outq *out, struct rng *rng);

/* Frees the collect buffer. The queue is the caller's to reset. */
void answer_close(struct answer *a);

/*
 * Answers the requests in buf[0..len), queuing every response that is
 * complete and every streamed chunk. Queued segments may borrow buf, which
 * is modified in place: keep it unchanged until outq_settle(). Stops early
 * only at a request boundary while ANSWER_HIGH_WATER bytes are queued; the
 * caller then passes the unconsumed rest, unchanged and at the same address,
 * once output drained. Once a call consumed all of buf, buf may be reused
 * for the next bytes. Returns the bytes consumed or -ENOMEM.
 */
long answer_feed(struct answer *a, uint8_t *buf, size_t len);

/* True when no byte of a request is pending: between two requests. */
static inline bool answer_at_boundary(const struct answer *a)
{
    return proto_at_boundary(&a->parser);
}

/* True when answer_feed() would start no new request for now. */
static inline bool answer_backpressured(const struct answer *a)
{
    return answer_at_boundary(a) && outq_bytes(a->out) >= ANSWER_HIGH_WATER;
}

#endif
