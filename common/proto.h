/*
 * Wire protocol codec. A request is a 32-bit big-endian word holding a 5-bit
 * action (top bits) and a 27-bit length, followed by that many data bytes; a
 * response is a 32-bit big-endian length followed by the data. The parser is
 * a pure incremental state machine: it never allocates and never performs
 * I/O, so bytes may be fed in any split and the caller owns every buffer.
 */
#ifndef TCP_SERVER_PROTO_H
#define TCP_SERVER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <endian.h>
#include <string.h>

#define PROTO_HEADER_LEN  4
#define PROTO_MAX_LEN     0x07ffffffu /* 2^27 - 1 */
#define PROTO_ACTION_BITS 5
#define PROTO_LEN_BITS    27

enum proto_action {
    PROTO_UPPERCASE = 0x01,
    PROTO_LOWERCASE = 0x02,
    PROTO_REVERSE = 0x04,
    PROTO_SHUFFLE = 0x08,
    PROTO_RANDOM = 0x10,
};

/* Response sent for an unknown action: header 00 00 00 05 then "error". */
#define PROTO_ERROR_TEXT "error"
#define PROTO_ERROR_LEN  5

enum proto_event_type {
    PROTO_EV_NONE,  /* every fed byte was consumed; feed more */
    PROTO_EV_BEGIN, /* a header was parsed: action and len are set */
    PROTO_EV_DATA,  /* data bytes of the current request: data, data_len */
    PROTO_EV_END,   /* the current request is complete */
};

struct proto_event {
    enum proto_event_type type;
    unsigned action;     /* BEGIN, DATA, END: the request's action (0..31) */
    uint32_t len;        /* BEGIN, DATA, END: the request's data length */
    const uint8_t *data; /* DATA: points into the fed buffer */
    size_t data_len;     /* DATA: number of bytes at data */
    /*
     * BEGIN: true when the four header bytes are the four bytes just before
     * the consumed position in the buffer passed to this call (the header
     * was not split across calls), so a caller may reuse them in place.
     */
    bool header_in_buf;
};

enum proto_state {
    PROTO_ST_HEADER,
    PROTO_ST_BODY,
};

struct proto_parser {
    enum proto_state state;
    uint8_t hdr[PROTO_HEADER_LEN];
    unsigned hdr_have;  /* header bytes collected so far */
    unsigned action;    /* current request's action */
    uint32_t len;       /* current request's length */
    uint32_t remaining; /* data bytes still expected */
    bool end_pending;   /* body complete, END not yet reported */
};

/* Resets the parser to expect a fresh request header. */
void proto_parser_init(struct proto_parser *p);

/*
 * Consumes bytes from buf[0..len) up to and including the next event and
 * returns how many bytes were consumed; *ev describes the event. When it
 * returns with ev->type == PROTO_EV_NONE, all len bytes were consumed and no
 * event is pending. Call repeatedly, advancing buf, until that happens.
 * A zero-length request yields BEGIN then END; a request with data yields
 * BEGIN, one or more DATA, then END. Never fails: every byte sequence is a
 * valid request stream (unknown actions are the caller's concern).
 */
size_t proto_next(struct proto_parser *p, const uint8_t *buf, size_t len,
                  struct proto_event *ev);

/* True when no byte of a request has been consumed since the last END. */
bool proto_at_boundary(const struct proto_parser *p);

/* True for the five known actions. */
bool proto_action_known(unsigned action);

/* Name of a known action ("uppercase", ...), or NULL. */
const char *proto_action_name(unsigned action);

/* Action value for a name ("uppercase", ...), or -1 when unknown. */
int proto_action_from_name(const char *name);

/* Big-endian 32-bit store and load; inline, as the worker's per-request
 * loop does one of each. memcpy is a single (possibly unaligned) access. */
static inline void proto_put_u32(uint8_t out[4], uint32_t v)
{
    uint32_t be = htobe32(v);

    memcpy(out, &be, sizeof(be));
}

static inline uint32_t proto_get_u32(const uint8_t in[4])
{
    uint32_t be;

    memcpy(&be, in, sizeof(be));
    return be32toh(be);
}

/* Encodes a request header. action must be < 32 and len <= PROTO_MAX_LEN. */
void proto_encode_request_header(uint8_t out[4], unsigned action, uint32_t len);

#endif
