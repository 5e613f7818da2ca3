/*
 * Incremental reader of responses: a 32-bit big-endian length, then that
 * many data bytes. Like the request parser in common/proto.h it never
 * allocates and never performs I/O: bytes may be fed in any split and data
 * is handed back in place. A response length may use all 32 bits (the
 * random action can grow a message), so proto_next cannot parse responses.
 */
#ifndef TCP_SERVER_TOOLS_RESP_H
#define TCP_SERVER_TOOLS_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_HEADER_LEN 4

enum resp_event_type {
    RESP_EV_NONE,  /* every fed byte was consumed; feed more */
    RESP_EV_BEGIN, /* a length was read: len is set */
    RESP_EV_DATA,  /* data bytes of the current response: data, data_len */
    RESP_EV_END,   /* the current response is complete */
};

struct resp_event {
    enum resp_event_type type;
    uint32_t len;        /* BEGIN, DATA, END: the response's length */
    const uint8_t *data; /* DATA: points into the fed buffer */
    size_t data_len;     /* DATA: number of bytes at data */
};

struct resp_parser {
    uint8_t hdr[RESP_HEADER_LEN];
    unsigned hdr_have;  /* length bytes collected so far */
    bool in_body;       /* the length is known, data follows */
    bool end_pending;   /* data complete, END not yet reported */
    uint32_t len;       /* current response's length */
    uint32_t remaining; /* data bytes still expected */
};

/* Resets the parser to expect a fresh response. */
void resp_parser_init(struct resp_parser *p);

/*
 * Consumes bytes from buf[0..len) up to and including the next event and
 * returns how many were consumed; *ev describes the event. RESP_EV_NONE
 * means all len bytes were consumed and no event is pending: call again,
 * advancing buf, until then. An empty response yields BEGIN then END.
 */
size_t resp_next(struct resp_parser *p, const uint8_t *buf, size_t len,
                 struct resp_event *ev);

/* True when no byte of a response has been consumed since the last END. */
bool resp_at_boundary(const struct resp_parser *p);

#endif
