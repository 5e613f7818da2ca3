/*
 * The HTTP/1.x request head, as much of it as a metrics endpoint needs
 * (RFC 9112 sections 2-5): the request line and header lines up to the
 * blank line that ends them. Header values are checked for their syntax
 * and otherwise ignored; a body, if any, is never read (the server answers
 * and closes). Pure: it looks at the bytes received so far and says
 * whether the head is complete, needs more bytes, or can already be
 * rejected, so garbage is refused without waiting for a line end.
 */
#ifndef TCP_SERVER_HTTPREQ_H
#define TCP_SERVER_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A method longer than this is refused (the longest standard one is 7). */
#define HTTPREQ_METHOD_MAX 16

enum httpreq_status {
    HTTPREQ_BAD = -1,       /* malformed: answer 400 and close */
    HTTPREQ_INCOMPLETE = 0, /* nothing wrong so far: read more */
    HTTPREQ_COMPLETE = 1,   /* the head ends at head_len */
};

struct httpreq {
    char method[HTTPREQ_METHOD_MAX + 1];
    bool is_metrics; /* the target's path is exactly /metrics */
    size_t head_len; /* bytes up to and including the blank line */
};

/*
 * Parses the head in buf[0..len). Once it returns HTTPREQ_BAD, no more
 * bytes can make the request valid; HTTPREQ_COMPLETE fills *req (and
 * ignores what follows head_len).
 */
enum httpreq_status httpreq_parse(const uint8_t *buf, size_t len,
                                  struct httpreq *req);

/*
 * The answer a complete request deserves: 200 for GET or HEAD of
 * /metrics, 405 for another method on /metrics, 404 for any other path.
 */
int httpreq_route(const struct httpreq *req);

#endif
