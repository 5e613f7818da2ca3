/*
 * Fuzz target for the incremental request parser (common/proto.c). The
 * input is a split description followed by a byte stream:
 *
 *   byte 0        low 4 bits: k, the number of chunk-size bytes that follow
 *   bytes 1..k    chunk sizes (0..255), used in turn until the stream ends
 *   the rest      the stream, fed to proto_next
 *
 * The stream is parsed by a trivial reference reader, then through the
 * parser whole, one byte at a time, in the chunks the input describes and in
 * pseudo-random small chunks. Every run must report the same requests as
 * the reference (action, length, where the header sits, how much data
 * arrived, whether it completed), and every event must keep the API's
 * contracts: BEGIN, DATA..., END order; DATA never past the announced
 * length and pointing at the bytes just consumed; NONE only when the chunk
 * is used up; header_in_buf exactly when the header lies in the chunk, and
 * then the four bytes before the position decode to the event's header;
 * proto_at_boundary true exactly between requests. Each chunk is copied to
 * its own heap block, so ASan reports any read outside it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto.h"

struct req {
    unsigned action;
    uint32_t len;
    size_t hdr_off; /* stream offset of the header */
    uint32_t got;   /* data bytes reported */
    bool done;      /* END reported */
};

/* What one parse of the stream reported. */
struct record {
    struct req *reqs;
    size_t nreqs; /* including an unfinished last one */
    bool in_request;
    size_t pos;      /* stream bytes consumed */
    size_t next_hdr; /* stream offset where the next header starts */
};

static void record_init(struct record *rec, size_t stream_len)
{
    /* Every request takes at least four bytes of header. */
    rec->reqs =
        fuzz_xmalloc((stream_len / PROTO_HEADER_LEN + 1) * sizeof(*rec->reqs));
    rec->nreqs = 0;
    rec->in_request = false;
    rec->pos = 0;
    rec->next_hdr = 0;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* The protocol read straight from the whole stream, without the parser. */
static void parse_reference(const uint8_t *s, size_t len, struct record *rec)
{
    size_t pos = 0;

    while (len - pos >= PROTO_HEADER_LEN) {
        uint32_t word = load_be32(s + pos);
        struct req *r = &rec->reqs[rec->nreqs++];
        size_t avail = len - pos - PROTO_HEADER_LEN;

        r->action = word >> 27;
        r->len = word & 0x07ffffffu;
        r->hdr_off = pos;
        r->got = avail < r->len ? (uint32_t)avail : r->len;
        r->done = r->got == r->len;
        rec->next_hdr = pos + PROTO_HEADER_LEN + r->len;
        if (!r->done) {
            rec->in_request = true;
            rec->pos = len;
            return;
        }
        pos = rec->next_hdr;
    }
    rec->next_hdr = pos; /* len - pos bytes of a header are pending */
    rec->pos = len;
}

static void check_begin(const struct proto_event *ev, struct record *rec,
                        const uint8_t *stream, size_t chunk_off,
                        const uint8_t *chunk, const uint8_t *buf, size_t n)
{
    size_t hdr_off = rec->next_hdr;
    uint32_t word = ((uint32_t)ev->action << PROTO_LEN_BITS) | ev->len;
    bool in_chunk = hdr_off >= chunk_off;
    const char *name = proto_action_name(ev->action);
    uint8_t enc[PROTO_HEADER_LEN];
    struct req *r;

    FUZZ_CHECK(!rec->in_request, "BEGIN inside request %zu", rec->nreqs - 1);
    FUZZ_CHECK(ev->action < 32 && ev->len <= PROTO_MAX_LEN,
               "BEGIN action %u len %u out of range", ev->action, ev->len);
    FUZZ_CHECK(rec->pos == hdr_off + PROTO_HEADER_LEN,
               "BEGIN at stream offset %zu, header started at %zu", rec->pos,
               hdr_off);
    FUZZ_CHECK(load_be32(stream + hdr_off) == word,
               "BEGIN reports %08x, the stream holds %08x at %zu", word,
               load_be32(stream + hdr_off), hdr_off);
    FUZZ_CHECK(ev->header_in_buf == in_chunk,
               "header at %zu, chunk from %zu, header_in_buf %d", hdr_off,
               chunk_off, (int)ev->header_in_buf);
    if (ev->header_in_buf) {
        FUZZ_CHECK(n == PROTO_HEADER_LEN && buf - chunk >= PROTO_HEADER_LEN,
                   "header_in_buf but consumed %zu at chunk offset %td", n,
                   buf - chunk);
        FUZZ_CHECK(proto_get_u32(buf - PROTO_HEADER_LEN) == word,
                   "header_in_buf but the 4 bytes before the position are "
                   "%08x, not %08x",
                   proto_get_u32(buf - PROTO_HEADER_LEN), word);
    }
    proto_encode_request_header(enc, ev->action, ev->len);
    FUZZ_CHECK(memcmp(enc, stream + hdr_off, PROTO_HEADER_LEN) == 0,
               "encoding action %u len %u does not give the header back",
               ev->action, ev->len);
    FUZZ_CHECK(proto_action_known(ev->action) == (name != NULL),
               "proto_action_known(%u) disagrees with proto_action_name",
               ev->action);
    FUZZ_CHECK(name == NULL || proto_action_from_name(name) == (int)ev->action,
               "action %u is named %s, which maps back elsewhere", ev->action,
               name);

    r = &rec->reqs[rec->nreqs++];
    r->action = ev->action;
    r->len = ev->len;
    r->hdr_off = hdr_off;
    r->got = 0;
    r->done = false;
    rec->in_request = true;
    rec->next_hdr = hdr_off + PROTO_HEADER_LEN + ev->len;
}

static void check_data(const struct proto_event *ev, struct record *rec,
                       const uint8_t *stream, const uint8_t *at, size_t n)
{
    struct req *r;

    FUZZ_CHECK(rec->in_request && rec->nreqs > 0, "DATA outside a request");
    r = &rec->reqs[rec->nreqs - 1];
    FUZZ_CHECK(ev->action == r->action && ev->len == r->len,
               "DATA says action %u len %u, BEGIN said %u %u", ev->action,
               ev->len, r->action, r->len);
    FUZZ_CHECK(ev->data_len > 0 && ev->data_len == n,
               "DATA of %zu bytes consumed %zu", ev->data_len, n);
    FUZZ_CHECK(ev->data == at, "DATA does not point at the consumed bytes");
    FUZZ_CHECK(ev->data_len <= r->len - r->got,
               "DATA of %zu bytes with only %u remaining", ev->data_len,
               r->len - r->got);
    FUZZ_CHECK(memcmp(ev->data, stream + rec->pos - n, n) == 0,
               "DATA bytes differ from the stream at %zu", rec->pos - n);
    r->got += (uint32_t)n;
}

static void check_end(const struct proto_event *ev, struct record *rec,
                      size_t n)
{
    struct req *r;

    FUZZ_CHECK(rec->in_request && rec->nreqs > 0, "END outside a request");
    r = &rec->reqs[rec->nreqs - 1];
    FUZZ_CHECK(n == 0, "END consumed %zu bytes", n);
    FUZZ_CHECK(ev->action == r->action && ev->len == r->len,
               "END says action %u len %u, BEGIN said %u %u", ev->action,
               ev->len, r->action, r->len);
    FUZZ_CHECK(r->got == r->len, "END after %u of %u data bytes", r->got,
               r->len);
    r->done = true;
    rec->in_request = false;
}

/* Feeds stream[off, off + len) as one chunk until the parser reports NONE. */
static void feed(struct proto_parser *p, struct record *rec,
                 const uint8_t *stream, size_t off, size_t len)
{
    uint8_t *chunk = fuzz_dup(stream + off, len);
    const uint8_t *buf = chunk;
    size_t left = len;
    unsigned idle = 0;

    for (;;) {
        struct proto_event ev;
        const uint8_t *at = buf;
        size_t n = proto_next(p, buf, left, &ev);
        bool boundary;

        FUZZ_CHECK(n <= left, "consumed %zu of %zu bytes", n, left);
        buf += n;
        left -= n;
        rec->pos += n;
        /* Only END and the final NONE may consume nothing. */
        idle = n == 0 ? idle + 1 : 0;
        FUZZ_CHECK(idle <= 2, "no progress for %u calls", idle);
        switch (ev.type) {
        case PROTO_EV_NONE:
            FUZZ_CHECK(left == 0, "NONE with %zu bytes left", left);
            break;
        case PROTO_EV_BEGIN:
            check_begin(&ev, rec, stream, off, chunk, buf, n);
            break;
        case PROTO_EV_DATA:
            check_data(&ev, rec, stream, at, n);
            break;
        case PROTO_EV_END:
            check_end(&ev, rec, n);
            break;
        default:
            fuzz_fail(__FILE__, __LINE__, "ev.type", "unknown event %d",
                      (int)ev.type);
        }
        boundary = !rec->in_request && rec->pos == rec->next_hdr;
        FUZZ_CHECK(proto_at_boundary(p) == boundary,
                   "proto_at_boundary %d at stream offset %zu, expected %d",
                   (int)proto_at_boundary(p), rec->pos, (int)boundary);
        if (ev.type == PROTO_EV_NONE)
            break;
    }
    free(chunk);
}

static void compare(const struct record *want, const struct record *got,
                    const char *how)
{
    FUZZ_CHECK(got->nreqs == want->nreqs, "%s: %zu requests, expected %zu", how,
               got->nreqs, want->nreqs);
    for (size_t i = 0; i < want->nreqs; i++) {
        const struct req *a = &want->reqs[i], *b = &got->reqs[i];

        FUZZ_CHECK(a->action == b->action && a->len == b->len &&
                       a->hdr_off == b->hdr_off && a->got == b->got &&
                       a->done == b->done,
                   "%s: request %zu is action %u len %u at %zu got %u done "
                   "%d, expected %u %u at %zu got %u done %d",
                   how, i, b->action, b->len, b->hdr_off, b->got, (int)b->done,
                   a->action, a->len, a->hdr_off, a->got, (int)a->done);
    }
    FUZZ_CHECK(got->in_request == want->in_request && got->pos == want->pos &&
                   got->next_hdr == want->next_hdr,
               "%s: ends in_request %d pos %zu next header %zu, expected %d "
               "%zu %zu",
               how, (int)got->in_request, got->pos, got->next_hdr,
               (int)want->in_request, want->pos, want->next_hdr);
}

/* Chunk sizes: the pattern from the input, or pseudo-random ones. */
struct splitter {
    const uint8_t *pattern;
    size_t npattern;
    size_t i;
    bool random;  /* pseudo-random sizes 0..7 instead of the pattern */
    uint64_t lcg; /* their generator's state */
};

static size_t next_chunk(struct splitter *sp)
{
    if (sp->random) {
        sp->lcg = sp->lcg * 6364136223846793005u + 1442695040888963407u;
        return (size_t)(sp->lcg >> 61);
    }
    return sp->pattern[sp->i++ % sp->npattern];
}

static void parse_split(const uint8_t *s, size_t len, struct splitter *sp,
                        const struct record *want, const char *how)
{
    struct proto_parser p;
    struct record rec;
    size_t off = 0;

    record_init(&rec, len);
    proto_parser_init(&p);
    FUZZ_CHECK(proto_at_boundary(&p), "a fresh parser is not at a boundary");
    do {
        size_t n = sp == NULL ? len : next_chunk(sp);

        if (n > len - off)
            n = len - off;
        feed(&p, &rec, s, off, n);
        off += n;
    } while (off < len);
    compare(want, &rec, how);
    free(rec.reqs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t one = 1;
    struct splitter sp;
    struct record want;
    const uint8_t *stream;
    size_t k, len, sum = 0;

    if (size == 0)
        return 0;
    k = data[0] & 0x0f;
    if (k > size - 1)
        k = size - 1;
    stream = data + 1 + k;
    len = size - 1 - k;

    record_init(&want, len);
    parse_reference(stream, len, &want);

    parse_split(stream, len, NULL, &want, "whole");

    sp = (struct splitter){.pattern = &one, .npattern = 1};
    parse_split(stream, len, &sp, &want, "byte by byte");

    /* A pattern of only empty chunks would never finish. */
    for (size_t i = 0; i < k; i++)
        sum += data[1 + i];
    if (sum > 0) {
        sp = (struct splitter){.pattern = data + 1, .npattern = k};
        parse_split(stream, len, &sp, &want, "input pattern");
    }

    /* The sizes depend on the whole input, so each input splits anew. */
    sp = (struct splitter){.random = true, .lcg = size};
    for (size_t i = 0; i < size; i++)
        sp.lcg = sp.lcg * 31 + data[i];
    parse_split(stream, len, &sp, &want, "pseudo-random chunks");

    free(want.reqs);
    return 0;
}
