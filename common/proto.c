/*
 * Wire protocol codec: the incremental request parser, action names and the
 * big-endian helpers. The parser is a two-state machine (header, body) that
 * reports one event per call. It never copies body bytes: DATA events point
 * into the caller's buffer. When a whole header is present in the buffer it
 * is loaded with one 32-bit read, so a buffer full of tiny pipelined
 * requests costs a few operations per request rather than per byte.
 */
#include "proto.h"

#include <assert.h>
#include <endian.h>
#include <string.h>

static const char *const action_names[] = {
    [PROTO_UPPERCASE] = "uppercase", [PROTO_LOWERCASE] = "lowercase",
    [PROTO_REVERSE] = "reverse",     [PROTO_SHUFFLE] = "shuffle",
    [PROTO_RANDOM] = "random",
};

#define ACTION_NAMES_LEN (sizeof(action_names) / sizeof(action_names[0]))

void proto_encode_request_header(uint8_t out[4], unsigned action, uint32_t len)
{
    assert(action < (1u << PROTO_ACTION_BITS));
    assert(len <= PROTO_MAX_LEN);
    proto_put_u32(out, ((uint32_t)action << PROTO_LEN_BITS) | len);
}

bool proto_action_known(unsigned action)
{
    return action < ACTION_NAMES_LEN && action_names[action] != NULL;
}

const char *proto_action_name(unsigned action)
{
    return proto_action_known(action) ? action_names[action] : NULL;
}

int proto_action_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (unsigned a = 0; a < ACTION_NAMES_LEN; a++) {
        if (action_names[a] != NULL && strcmp(action_names[a], name) == 0)
            return (int)a;
    }
    return -1;
}

void proto_parser_init(struct proto_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->state = PROTO_ST_HEADER;
}

bool proto_at_boundary(const struct proto_parser *p)
{
    return p->state == PROTO_ST_HEADER && p->hdr_have == 0 && !p->end_pending;
}

/*
 * Decodes a complete header word, fills in the BEGIN event and moves to the
 * body state (or straight to a pending END for an empty request).
 */
static void begin_request(struct proto_parser *p, uint32_t word, bool in_buf,
                          struct proto_event *ev)
{
    p->action = word >> PROTO_LEN_BITS;
    p->len = word & PROTO_MAX_LEN;
    p->remaining = p->len;
    p->hdr_have = 0;
    if (p->len == 0) {
        p->end_pending = true;
    } else {
        p->state = PROTO_ST_BODY;
    }
    ev->type = PROTO_EV_BEGIN;
    ev->action = p->action;
    ev->len = p->len;
    ev->header_in_buf = in_buf;
}

/* Collects header bytes; reports BEGIN once all four are present. */
static size_t parse_header(struct proto_parser *p, const uint8_t *buf,
                           size_t len, struct proto_event *ev)
{
    size_t used;

    /* Hot path: the whole header is in this buffer. */
    if (p->hdr_have == 0 && len >= PROTO_HEADER_LEN) {
        begin_request(p, proto_get_u32(buf), true, ev);
        return PROTO_HEADER_LEN;
    }

    /*
     * The header is split across calls: gather it byte-wise. It counts as
     * "in the buffer" only if all four bytes came from this call, which the
     * hot path above already covers, so here it never does.
     */
    used = PROTO_HEADER_LEN - p->hdr_have;
    if (used > len)
        used = len;
    memcpy(p->hdr + p->hdr_have, buf, used);
    p->hdr_have += (unsigned)used;
    if (p->hdr_have < PROTO_HEADER_LEN)
        return used; /* ev->type stays NONE: everything was consumed. */
    begin_request(p, proto_get_u32(p->hdr), false, ev);
    return used;
}

size_t proto_next(struct proto_parser *p, const uint8_t *buf, size_t len,
                  struct proto_event *ev)
{
    size_t n;

    ev->type = PROTO_EV_NONE;
    ev->action = p->action;
    ev->len = p->len;
    ev->data = NULL;
    ev->data_len = 0;
    ev->header_in_buf = false;

    /* END is reported on its own call, consuming nothing. */
    if (p->end_pending) {
        p->end_pending = false;
        p->state = PROTO_ST_HEADER;
        ev->type = PROTO_EV_END;
        return 0;
    }
    if (len == 0)
        return 0;
    if (p->state == PROTO_ST_HEADER)
        return parse_header(p, buf, len, ev);

    n = len < p->remaining ? len : p->remaining;
    p->remaining -= (uint32_t)n;
    if (p->remaining == 0)
        p->end_pending = true;
    ev->type = PROTO_EV_DATA;
    ev->data = buf;
    ev->data_len = n;
    return n;
}
