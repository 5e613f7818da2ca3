/*
 * Unit tests of the protocol codec. The central property: however a byte
 * stream is split into chunks, the parser reports exactly the same requests
 * (action, length, data) as when the stream is fed whole, with events in
 * BEGIN, DATA..., END order, DATA never past the request's end, and the
 * header_in_buf flag true exactly when the header bytes sit in the chunk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

#define MAX_REQS 32
#define MAX_DATA 4096

/* What a consumer of the parser saw, checked for ordering on the way. */
struct record {
    unsigned nreqs;
    unsigned action[MAX_REQS];
    uint32_t len[MAX_REQS];
    size_t data_off[MAX_REQS]; /* start of each request's data in data[] */
    uint8_t data[MAX_DATA];
    size_t data_used;
    bool in_request;        /* between BEGIN and END */
    uint32_t got;           /* data bytes of the current request so far */
    unsigned nbegin_in_buf; /* BEGIN events with header_in_buf */
};

/*
 * Feeds one chunk to the parser until it reports NONE, recording events
 * and checking every per-event contract against the chunk.
 */
static void feed(struct proto_parser *p, struct record *rec,
                 const uint8_t *chunk, size_t chunk_len)
{
    const uint8_t *buf = chunk;
    size_t len = chunk_len;

    for (;;) {
        struct proto_event ev;
        size_t n = proto_next(p, buf, len, &ev);
        unsigned r = rec->nreqs;

        assert_true(n <= len);
        buf += n;
        len -= n;
        switch (ev.type) {
        case PROTO_EV_NONE:
            /* NONE means everything was consumed. */
            assert_int_equal(len, 0);
            return;
        case PROTO_EV_BEGIN:
            assert_false(rec->in_request);
            assert_true(r < MAX_REQS);
            assert_true(ev.action < 32);
            assert_true(ev.len <= PROTO_MAX_LEN);
            rec->action[r] = ev.action;
            rec->len[r] = ev.len;
            rec->data_off[r] = rec->data_used;
            rec->in_request = true;
            rec->got = 0;
            if (ev.header_in_buf) {
                /* The header must be the four bytes just consumed. */
                assert_true(buf - chunk >= PROTO_HEADER_LEN);
                assert_int_equal(proto_get_u32(buf - PROTO_HEADER_LEN),
                                 (ev.action << PROTO_LEN_BITS) | ev.len);
                rec->nbegin_in_buf++;
            }
            assert_false(proto_at_boundary(p));
            break;
        case PROTO_EV_DATA:
            assert_true(rec->in_request);
            assert_int_equal(ev.action, rec->action[r]);
            assert_int_equal(ev.len, rec->len[r]);
            assert_true(ev.data_len > 0);
            /* Data points into this chunk, just before the new position. */
            assert_ptr_equal(ev.data, buf - ev.data_len);
            assert_true(ev.data >= chunk);
            assert_true(ev.data_len <= rec->len[r] - rec->got);
            assert_true(rec->data_used + ev.data_len <= MAX_DATA);
            memcpy(rec->data + rec->data_used, ev.data, ev.data_len);
            rec->data_used += ev.data_len;
            rec->got += (uint32_t)ev.data_len;
            break;
        case PROTO_EV_END:
            assert_true(rec->in_request);
            assert_int_equal(n, 0);
            assert_int_equal(ev.action, rec->action[r]);
            assert_int_equal(ev.len, rec->len[r]);
            assert_int_equal(rec->got, rec->len[r]);
            rec->in_request = false;
            rec->nreqs++;
            assert_true(proto_at_boundary(p));
            break;
        default:
            fail_msg("unknown event type %d", (int)ev.type);
        }
    }
}

static void assert_same_records(const struct record *a, const struct record *b)
{
    assert_int_equal(a->nreqs, b->nreqs);
    assert_int_equal(a->in_request, b->in_request);
    for (unsigned i = 0; i < a->nreqs; i++) {
        assert_int_equal(a->action[i], b->action[i]);
        assert_int_equal(a->len[i], b->len[i]);
        assert_int_equal(a->data_off[i], b->data_off[i]);
    }
    assert_int_equal(a->data_used, b->data_used);
    assert_memory_equal(a->data, b->data, a->data_used);
}

struct req_spec {
    unsigned action;
    const char *data;
};

/*
 * Several requests: empty and one-byte ones, every known action, unknown
 * actions (0, 6, 31), and data that itself looks like headers.
 */
static const struct req_spec stream_reqs[] = {
    {PROTO_UPPERCASE, "hello"},
    {PROTO_LOWERCASE, ""},
    {PROTO_REVERSE, "x"},
    {0, "abc"},
    {PROTO_SHUFFLE, "\x08\x00\x00\x02zz"},
    {31, ""},
    {PROTO_RANDOM, "0123456789"},
    {6, "\xff\xfe"},
    {PROTO_UPPERCASE, ""},
};

#define NSTREAM_REQS (sizeof(stream_reqs) / sizeof(stream_reqs[0]))

static size_t build_stream(uint8_t *out, size_t cap)
{
    size_t used = 0;

    for (size_t i = 0; i < NSTREAM_REQS; i++) {
        size_t n = strlen(stream_reqs[i].data);

        assert_true(used + PROTO_HEADER_LEN + n <= cap);
        proto_encode_request_header(out + used, stream_reqs[i].action,
                                    (uint32_t)n);
        used += PROTO_HEADER_LEN;
        memcpy(out + used, stream_reqs[i].data, n);
        used += n;
    }
    return used;
}

/* Parses the stream in chunks split at the given cut points (cuts may be
 * NULL when ncuts is 0). */
static void parse_split(const uint8_t *s, size_t len, const size_t *cuts,
                        size_t ncuts, struct record *rec)
{
    struct proto_parser p;
    size_t prev = 0;

    memset(rec, 0, sizeof(*rec));
    proto_parser_init(&p);
    assert_true(proto_at_boundary(&p));
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = cuts != NULL && i < ncuts ? cuts[i] : len;

        feed(&p, rec, s + prev, end - prev);
        prev = end;
    }
    assert_true(proto_at_boundary(&p));
}

static void test_proto_next_whole_stream(void **state)
{
    uint8_t s[512];
    size_t len = build_stream(s, sizeof(s));
    struct record rec;
    size_t off = 0;

    (void)state;
    parse_split(s, len, NULL, 0, &rec);
    assert_int_equal(rec.nreqs, NSTREAM_REQS);
    /* Fed whole, every header lies in the buffer. */
    assert_int_equal(rec.nbegin_in_buf, NSTREAM_REQS);
    for (size_t i = 0; i < NSTREAM_REQS; i++) {
        size_t n = strlen(stream_reqs[i].data);

        assert_int_equal(rec.action[i], stream_reqs[i].action);
        assert_int_equal(rec.len[i], n);
        assert_memory_equal(rec.data + rec.data_off[i], stream_reqs[i].data, n);
        off += n;
    }
    assert_int_equal(rec.data_used, off);
}

static void test_proto_next_every_two_chunk_split(void **state)
{
    uint8_t s[512];
    size_t len = build_stream(s, sizeof(s));
    struct record whole, rec;

    (void)state;
    parse_split(s, len, NULL, 0, &whole);
    for (size_t cut = 0; cut <= len; cut++) {
        parse_split(s, len, &cut, 1, &rec);
        assert_same_records(&whole, &rec);
    }
}

static void test_proto_next_every_three_chunk_split(void **state)
{
    uint8_t s[512];
    size_t len = build_stream(s, sizeof(s));
    struct record whole, rec;

    (void)state;
    parse_split(s, len, NULL, 0, &whole);
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = {a, b};

            parse_split(s, len, cuts, 2, &rec);
            assert_same_records(&whole, &rec);
        }
    }
}

static void test_proto_next_one_byte_at_a_time(void **state)
{
    uint8_t s[512];
    size_t len = build_stream(s, sizeof(s));
    size_t cuts[512], ncuts = 0;
    struct record whole, rec;

    (void)state;
    /* A cut after every byte but the last: len - 1 of them. */
    for (size_t i = 1; i < len; i++)
        cuts[ncuts++] = i;
    parse_split(s, len, NULL, 0, &whole);
    parse_split(s, len, cuts, ncuts, &rec);
    assert_same_records(&whole, &rec);
    /* No header ever lies whole in a one-byte chunk. */
    assert_int_equal(rec.nbegin_in_buf, 0);
}

static void test_proto_next_zero_length_begin_then_end(void **state)
{
    struct proto_parser p;
    struct proto_event ev;
    uint8_t hdr[4];
    size_t n;

    (void)state;
    proto_parser_init(&p);
    proto_encode_request_header(hdr, PROTO_REVERSE, 0);
    n = proto_next(&p, hdr, sizeof(hdr), &ev);
    assert_int_equal(n, 4);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_int_equal(ev.action, PROTO_REVERSE);
    assert_int_equal(ev.len, 0);
    assert_false(proto_at_boundary(&p));
    /* END comes even when no more bytes are offered. */
    n = proto_next(&p, hdr + 4, 0, &ev);
    assert_int_equal(n, 0);
    assert_int_equal(ev.type, PROTO_EV_END);
    assert_int_equal(ev.action, PROTO_REVERSE);
    assert_true(proto_at_boundary(&p));
    n = proto_next(&p, hdr + 4, 0, &ev);
    assert_int_equal(n, 0);
    assert_int_equal(ev.type, PROTO_EV_NONE);
}

static void test_proto_next_one_byte_request(void **state)
{
    struct proto_parser p;
    struct proto_event ev;
    uint8_t s[6];
    size_t n;

    (void)state;
    proto_parser_init(&p);
    proto_encode_request_header(s, PROTO_UPPERCASE, 1);
    s[4] = 'q';
    s[5] = 0x55; /* first byte of the next header */
    n = proto_next(&p, s, sizeof(s), &ev);
    assert_int_equal(n, 4);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_int_equal(ev.len, 1);
    n = proto_next(&p, s + 4, 2, &ev);
    /* DATA never reaches past the request into the next header. */
    assert_int_equal(n, 1);
    assert_int_equal(ev.type, PROTO_EV_DATA);
    assert_ptr_equal(ev.data, s + 4);
    assert_int_equal(ev.data_len, 1);
    n = proto_next(&p, s + 5, 1, &ev);
    assert_int_equal(n, 0);
    assert_int_equal(ev.type, PROTO_EV_END);
    n = proto_next(&p, s + 5, 1, &ev);
    assert_int_equal(n, 1);
    assert_int_equal(ev.type, PROTO_EV_NONE);
    assert_false(proto_at_boundary(&p));
}

static void test_proto_next_max_length(void **state)
{
    /* Not a divisor of the length: the last chunk has bytes to spare. */
    const size_t chunk_len = (1u << 20) + 5;
    uint8_t *zeros = calloc(1, chunk_len);
    struct proto_parser p;
    struct proto_event ev;
    uint8_t hdr[4];
    uint64_t total = 0;
    unsigned nend = 0;

    (void)state;
    assert_non_null(zeros);
    proto_parser_init(&p);
    proto_encode_request_header(hdr, PROTO_LOWERCASE, PROTO_MAX_LEN);
    assert_int_equal(proto_get_u32(hdr), 0x17ffffffu);
    assert_int_equal(proto_next(&p, hdr, 4, &ev), 4);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_int_equal(ev.action, PROTO_LOWERCASE);
    assert_int_equal(ev.len, PROTO_MAX_LEN);
    /*
     * Feed whole zero chunks. The last one holds more than the body needs:
     * DATA must stop exactly at the end, and the zeros after it read as an
     * empty request of action 0.
     */
    while (nend == 0) {
        const uint8_t *buf = zeros;
        size_t len = chunk_len;

        for (;;) {
            size_t n = proto_next(&p, buf, len, &ev);

            buf += n;
            len -= n;
            if (ev.type == PROTO_EV_NONE)
                break;
            if (ev.type == PROTO_EV_DATA) {
                assert_true(ev.data_len <= PROTO_MAX_LEN - total);
                total += ev.data_len;
            } else if (ev.type == PROTO_EV_END) {
                nend++;
                assert_int_equal(total, PROTO_MAX_LEN);
                assert_true(proto_at_boundary(&p));
                assert_true(len >= PROTO_HEADER_LEN);
                n = proto_next(&p, buf, len, &ev);
                assert_int_equal(n, 4);
                assert_int_equal(ev.type, PROTO_EV_BEGIN);
                assert_int_equal(ev.action, 0);
                assert_int_equal(ev.len, 0);
                assert_true(ev.header_in_buf);
                break;
            } else {
                fail_msg("unexpected event %d", (int)ev.type);
            }
        }
    }
    assert_int_equal(total, PROTO_MAX_LEN);
    free(zeros);
}

static void test_proto_next_header_in_buf_cases(void **state)
{
    struct proto_parser p;
    struct proto_event ev;
    uint8_t s[16];
    size_t n;

    (void)state;
    proto_encode_request_header(s, PROTO_SHUFFLE, 2);
    s[4] = 'a';
    s[5] = 'b';
    proto_encode_request_header(s + 6, PROTO_RANDOM, 0);

    /* Whole header at the start of the buffer. */
    proto_parser_init(&p);
    n = proto_next(&p, s, 10, &ev);
    assert_int_equal(n, 4);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_true(ev.header_in_buf);
    /* Second header in the same buffer after a body. */
    assert_int_equal(proto_next(&p, s + 4, 6, &ev), 2);
    assert_int_equal(proto_next(&p, s + 6, 4, &ev), 0);
    assert_int_equal(ev.type, PROTO_EV_END);
    assert_int_equal(proto_next(&p, s + 6, 4, &ev), 4);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_int_equal(ev.action, PROTO_RANDOM);
    assert_true(ev.header_in_buf);

    /* Header split 2 + 2. */
    proto_parser_init(&p);
    assert_int_equal(proto_next(&p, s, 2, &ev), 2);
    assert_int_equal(ev.type, PROTO_EV_NONE);
    assert_false(proto_at_boundary(&p));
    assert_int_equal(proto_next(&p, s + 2, 8, &ev), 2);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_int_equal(ev.action, PROTO_SHUFFLE);
    assert_int_equal(ev.len, 2);
    assert_false(ev.header_in_buf);

    /* Header split 1 + 3, then 3 + 1. */
    proto_parser_init(&p);
    assert_int_equal(proto_next(&p, s, 1, &ev), 1);
    assert_int_equal(proto_next(&p, s + 1, 3, &ev), 3);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_false(ev.header_in_buf);
    proto_parser_init(&p);
    assert_int_equal(proto_next(&p, s, 3, &ev), 3);
    assert_int_equal(proto_next(&p, s + 3, 7, &ev), 1);
    assert_int_equal(ev.type, PROTO_EV_BEGIN);
    assert_false(ev.header_in_buf);
}

static void test_proto_at_boundary_states(void **state)
{
    struct proto_parser p;
    struct proto_event ev;
    static const uint8_t body[3] = {'a', 'b', 'c'};
    uint8_t s[7];

    (void)state;
    proto_encode_request_header(s, PROTO_UPPERCASE, 3);
    memcpy(s + 4, body, sizeof(body));
    proto_parser_init(&p);
    assert_true(proto_at_boundary(&p));
    assert_int_equal(proto_next(&p, s, 1, &ev), 1);
    assert_false(proto_at_boundary(&p)); /* part of a header */
    assert_int_equal(proto_next(&p, s + 1, 4, &ev), 3);
    assert_false(proto_at_boundary(&p)); /* header complete */
    assert_int_equal(proto_next(&p, s + 4, 2, &ev), 2);
    assert_false(proto_at_boundary(&p)); /* part of the body */
    assert_int_equal(proto_next(&p, s + 6, 1, &ev), 1);
    assert_int_equal(ev.type, PROTO_EV_DATA);
    assert_false(proto_at_boundary(&p)); /* END not yet reported */
    assert_int_equal(proto_next(&p, s + 7, 0, &ev), 0);
    assert_int_equal(ev.type, PROTO_EV_END);
    assert_true(proto_at_boundary(&p));
    /* init resets a parser caught mid-request. */
    assert_int_equal(proto_next(&p, s, 2, &ev), 2);
    proto_parser_init(&p);
    assert_true(proto_at_boundary(&p));
}

static void test_proto_encode_request_header_roundtrip(void **state)
{
    static const uint32_t lens[] = {0, 1, 19, 0x00ffffff, PROTO_MAX_LEN};

    (void)state;
    for (unsigned a = 0; a < 32; a++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            struct proto_parser p;
            struct proto_event ev;
            uint8_t hdr[4];

            proto_encode_request_header(hdr, a, lens[i]);
            assert_int_equal(hdr[0] >> 3, a);
            proto_parser_init(&p);
            assert_int_equal(proto_next(&p, hdr, 4, &ev), 4);
            assert_int_equal(ev.type, PROTO_EV_BEGIN);
            assert_int_equal(ev.action, a);
            assert_int_equal(ev.len, lens[i]);
        }
    }
}

static void test_proto_encode_request_header_worked_example(void **state)
{
    uint8_t hdr[4];

    (void)state;
    /* docs: 20 00 00 13 is reverse with 19 bytes; 30 00 00 13 action 6. */
    proto_encode_request_header(hdr, PROTO_REVERSE, 19);
    assert_memory_equal(hdr, "\x20\x00\x00\x13", 4);
    proto_encode_request_header(hdr, 6, 19);
    assert_memory_equal(hdr, "\x30\x00\x00\x13", 4);
    proto_encode_request_header(hdr, PROTO_RANDOM, 0);
    assert_memory_equal(hdr, "\x80\x00\x00\x00", 4);
    proto_encode_request_header(hdr, 31, PROTO_MAX_LEN);
    assert_memory_equal(hdr, "\xff\xff\xff\xff", 4);
}

static void test_proto_action_name_mapping(void **state)
{
    static const struct {
        unsigned action;
        const char *name;
    } known[] = {
        {PROTO_UPPERCASE, "uppercase"}, {PROTO_LOWERCASE, "lowercase"},
        {PROTO_REVERSE, "reverse"},     {PROTO_SHUFFLE, "shuffle"},
        {PROTO_RANDOM, "random"},
    };
    unsigned nknown = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        assert_true(proto_action_known(known[i].action));
        assert_string_equal(proto_action_name(known[i].action), known[i].name);
        assert_int_equal(proto_action_from_name(known[i].name),
                         known[i].action);
    }
    for (unsigned a = 0; a < 64; a++) {
        if (proto_action_known(a)) {
            nknown++;
            assert_non_null(proto_action_name(a));
        } else {
            assert_null(proto_action_name(a));
        }
    }
    assert_int_equal(nknown, 5);
    assert_false(proto_action_known(1000000));
    assert_int_equal(proto_action_from_name(""), -1);
    assert_int_equal(proto_action_from_name("UPPERCASE"), -1);
    assert_int_equal(proto_action_from_name("upper"), -1);
    assert_int_equal(proto_action_from_name("uppercase "), -1);
    assert_int_equal(proto_action_from_name("error"), -1);
}

static void test_proto_u32_helpers(void **state)
{
    uint8_t buf[9] = {0};
    static const uint32_t values[] = {
        0, 1, 0xff, 0x100, 0x01020304, 0x7fffffff, 0x80000000, 0xffffffff};

    (void)state;
    proto_put_u32(buf, 0x01020304);
    assert_memory_equal(buf, "\x01\x02\x03\x04", 4);
    assert_int_equal(proto_get_u32((const uint8_t *)"\xde\xad\xbe\xef"),
                     0xdeadbeefu);
    /* Unaligned positions work too. */
    for (size_t off = 0; off < 5; off++) {
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            proto_put_u32(buf + off, values[i]);
            assert_int_equal(buf[off], values[i] >> 24);
            assert_int_equal(buf[off + 3], values[i] & 0xff);
            assert_int_equal(proto_get_u32(buf + off), values[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_next_whole_stream),
        cmocka_unit_test(test_proto_next_every_two_chunk_split),
        cmocka_unit_test(test_proto_next_every_three_chunk_split),
        cmocka_unit_test(test_proto_next_one_byte_at_a_time),
        cmocka_unit_test(test_proto_next_zero_length_begin_then_end),
        cmocka_unit_test(test_proto_next_one_byte_request),
        cmocka_unit_test(test_proto_next_max_length),
        cmocka_unit_test(test_proto_next_header_in_buf_cases),
        cmocka_unit_test(test_proto_at_boundary_states),
        cmocka_unit_test(test_proto_encode_request_header_roundtrip),
        cmocka_unit_test(test_proto_encode_request_header_worked_example),
        cmocka_unit_test(test_proto_action_name_mapping),
        cmocka_unit_test(test_proto_u32_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
