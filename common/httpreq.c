/*
 * The request head parser (see httpreq.h). Written by hand because it is
 * small: a metrics endpoint needs the method and the path, and checks the
 * rest only for its shape. Every byte is classified once; a line that is
 * not finished yet is still checked as far as it goes.
 */
#include "httpreq.h"

#include <string.h>

/* RFC 9110 tchar: the characters of a method or a header name. */
static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_vchar(uint8_t c)
{
    return c > 0x20 && c < 0x7f;
}

/* A header value byte: visible, blank or obs-text. */
static bool is_field_char(uint8_t c)
{
    return is_vchar(c) || c == ' ' || c == '\t' || c >= 0x80;
}

/* "HTTP/1.x", possibly cut short at n bytes (done says it is whole). */
static bool version_ok(const uint8_t *p, size_t n, bool done)
{
    static const char v[] = "HTTP/1.";
    size_t k = n < 7 ? n : 7;

    if (memcmp(p, v, k) != 0)
        return false;
    if (n > 8 || (n == 8 && !(p[7] >= '0' && p[7] <= '9')))
        return false;
    return !done || n == 8;
}

/*
 * The request line line[0..n), whole when done: METHOD SP TARGET SP
 * VERSION. Fills req when whole and valid.
 */
static bool request_line(const uint8_t *line, size_t n, bool done,
                         struct httpreq *req)
{
    size_t m = 0, t, tend;

    while (m < n && is_tchar(line[m]))
        m++;
    if (m > HTTPREQ_METHOD_MAX || (m == 0 && n > 0))
        return false;
    if (m == n)
        return !done;
    if (line[m] != ' ')
        return false;
    t = m + 1;
    for (tend = t; tend < n && is_vchar(line[tend]); tend++)
        ;
    if (tend < n && (line[tend] != ' ' || tend == t || line[t] != '/'))
        return false;
    if (tend == n)
        return !done;
    if (!version_ok(line + tend + 1, n - tend - 1, done))
        return false;
    if (done) {
        size_t plen = tend - t;

        memcpy(req->method, line, m);
        req->method[m] = '\0';
        req->is_metrics = (plen == 8 || (plen > 8 && line[t + 8] == '?')) &&
                          memcmp(line + t, "/metrics", 8) == 0;
    }
    return true;
}

/* A header line line[0..n) (non-empty), whole when done: NAME: VALUE. */
static bool header_line(const uint8_t *line, size_t n, bool done)
{
    size_t i = 0;

    while (i < n && is_tchar(line[i]))
        i++;
    if (i == n)
        return !done;
    /* No blank before the colon, no empty name, no folded line. */
    if (i == 0 || line[i] != ':')
        return false;
    for (i++; i < n; i++) {
        if (!is_field_char(line[i]))
            return false;
    }
    return true;
}

/* Checks one line (without its LF, nor the CR before it when done). */
static bool line_ok(const uint8_t *line, size_t n, bool first, bool done,
                    struct httpreq *req)
{
    if (first)
        return request_line(line, n, done, req);
    return header_line(line, n, done);
}

enum httpreq_status httpreq_parse(const uint8_t *buf, size_t len,
                                  struct httpreq *req)
{
    size_t start = 0;
    bool first = true;

    memset(req, 0, sizeof(*req));
    while (start < len) {
        const uint8_t *nl = memchr(buf + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        size_t n = end - start;

        /* The CR of a line end, or of one whose LF is still on its way. */
        if (n > 0 && buf[end - 1] == '\r')
            n--;
        if (nl != NULL && n == 0 && !first) {
            req->head_len = end + 1;
            return HTTPREQ_COMPLETE;
        }
        /* A CR anywhere but before the LF is not allowed. */
        if (memchr(buf + start, '\r', n) != NULL ||
            !line_ok(buf + start, n, first, nl != NULL, req))
            return HTTPREQ_BAD;
        if (nl == NULL)
            break;
        first = false;
        start = end + 1;
    }
    return HTTPREQ_INCOMPLETE;
}

int httpreq_route(const struct httpreq *req)
{
    if (!req->is_metrics)
        return 404;
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        return 200;
    return 405;
}
