/*
 * The response reader: a two-state machine (length, data) plus a pending
 * END, so each call reports exactly one event and the caller's loop stays a
 * flat switch.
 */
#include "resp.h"

#include "proto.h"

void resp_parser_init(struct resp_parser *p)
{
    p->hdr_have = 0;
    p->in_body = false;
    p->end_pending = false;
    p->len = 0;
    p->remaining = 0;
}

size_t resp_next(struct resp_parser *p, const uint8_t *buf, size_t len,
                 struct resp_event *ev)
{
    size_t used = 0;

    ev->type = RESP_EV_NONE;
    ev->len = p->len;
    ev->data = NULL;
    ev->data_len = 0;
    if (p->end_pending) {
        p->end_pending = false;
        ev->type = RESP_EV_END;
        return 0;
    }
    if (!p->in_body) {
        while (p->hdr_have < RESP_HEADER_LEN && used < len)
            p->hdr[p->hdr_have++] = buf[used++];
        if (p->hdr_have < RESP_HEADER_LEN)
            return used;
        p->hdr_have = 0;
        p->len = proto_get_u32(p->hdr);
        p->remaining = p->len;
        ev->type = RESP_EV_BEGIN;
        ev->len = p->len;
        if (p->len == 0)
            p->end_pending = true;
        else
            p->in_body = true;
        return used;
    }
    if (len == 0)
        return 0;
    used = len < p->remaining ? len : p->remaining;
    p->remaining -= (uint32_t)used;
    ev->type = RESP_EV_DATA;
    ev->data = buf;
    ev->data_len = used;
    if (p->remaining == 0) {
        p->in_body = false;
        p->end_pending = true;
    }
    return used;
}

bool resp_at_boundary(const struct resp_parser *p)
{
    return !p->in_body && !p->end_pending && p->hdr_have == 0;
}
