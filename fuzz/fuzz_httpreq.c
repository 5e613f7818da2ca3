/*
 * Fuzz target for the metrics endpoint's request head parser
 * (httpreq_parse). The whole input is what a client sent. Checks: the
 * verdict only moves forward as bytes arrive (a prefix found bad stays
 * bad; a complete head stays complete at the same length, with the same
 * method and path); a complete head ends with its blank line, is no longer
 * than the input, and every shorter prefix of it is merely incomplete; the
 * method is 1 to HTTPREQ_METHOD_MAX token characters; the route is 200,
 * 404 or 405. The input lies in a heap block of exactly its size, so any
 * read past it is caught by ASan.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "httpreq.h"

/* Prefixes checked besides the whole input and the head's own length. */
#define SPLITS 8

static bool token(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > HTTPREQ_METHOD_MAX)
        return false;
    for (; *s != '\0'; s++) {
        if (*s <= ' ' || *s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *s))
            return false;
    }
    return true;
}

static void check_complete(const uint8_t *buf, size_t size,
                           const struct httpreq *r)
{
    int route = httpreq_route(r);
    struct httpreq shorter;

    FUZZ_CHECK(r->head_len >= 2 && r->head_len <= size, "head_len %zu of %zu",
               r->head_len, size);
    FUZZ_CHECK(buf[r->head_len - 1] == '\n', "head does not end in LF");
    FUZZ_CHECK(token(r->method), "method '%s'", r->method);
    FUZZ_CHECK(route == 200 || route == 404 || route == 405, "route %d", route);
    FUZZ_CHECK(httpreq_parse(buf, r->head_len - 1, &shorter) ==
                   HTTPREQ_INCOMPLETE,
               "a prefix of a complete head is not incomplete");
}

/* A prefix's verdict must agree with the whole input's. */
static void check_prefix(const uint8_t *buf, size_t n,
                         enum httpreq_status whole, const struct httpreq *r)
{
    struct httpreq p;
    enum httpreq_status st = httpreq_parse(buf, n, &p);

    if (st == HTTPREQ_BAD)
        FUZZ_CHECK(whole == HTTPREQ_BAD, "bad prefix of %zu, whole %d", n,
                   whole);
    if (st == HTTPREQ_COMPLETE) {
        FUZZ_CHECK(whole == HTTPREQ_COMPLETE && p.head_len == r->head_len &&
                       strcmp(p.method, r->method) == 0 &&
                       p.is_metrics == r->is_metrics,
                   "complete prefix of %zu disagrees with the whole", n);
    }
    if (whole == HTTPREQ_COMPLETE && n >= r->head_len)
        FUZZ_CHECK(st == HTTPREQ_COMPLETE, "prefix of %zu past the head: %d", n,
                   st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_dup(data, size);
    struct httpreq r;
    enum httpreq_status whole = httpreq_parse(buf, size, &r);
    uint32_t h = 2166136261u;

    if (whole == HTTPREQ_COMPLETE)
        check_complete(buf, size, &r);
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    for (size_t k = 0; k < SPLITS && size > 0; k++) {
        check_prefix(buf, (h % size), whole, &r);
        h = h * 1103515245u + 12345u;
    }
    if (size > 0)
        check_prefix(buf, size - 1, whole, &r);
    if (whole == HTTPREQ_COMPLETE)
        check_prefix(buf, r.head_len, whole, &r);
    free(buf);
    return 0;
}
