/*
 * Request bytes to queued answers: one pass over what a read brought in,
 * turning each parser event into queue segments. Streamed actions rewrite
 * their data in place and queue it by reference; collected actions answer
 * in place when the whole body came in one feed, and otherwise gather it in
 * a buffer that grows with the bytes that actually arrived.
 */
#include "answer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xform.h"

/* Larger bodies are handed to the output queue instead of copied. */
#define COPY_MAX ((size_t)16 * 1024)
/* Collect buffers larger than this are not kept between requests. */
#define BODY_KEEP_MAX ((size_t)1024 * 1024)
/* The first allocation of a collect buffer, doubled as data arrives. */
#define BODY_MIN_CAP ((size_t)4096)

static const uint8_t error_response[PROTO_HEADER_LEN + PROTO_ERROR_LEN] = {
    0, 0, 0, PROTO_ERROR_LEN, 'e', 'r', 'r', 'o', 'r'};

/* Counts of connections whose owner wants none. */
static struct wstats unread_stats;

void answer_init(struct answer *a, struct outq *out, struct rng *rng)
{
    memset(a, 0, sizeof(*a));
    a->out = out;
    a->rng = rng;
    a->stats = &unread_stats;
    proto_parser_init(&a->parser);
}

void answer_close(struct answer *a)
{
    free(a->body);
    a->body = NULL;
    a->body_cap = a->body_len = 0;
}

/* Queues a response header, rewriting the request's header in place when
 * it is still in the fed buffer. */
static int emit_header(struct answer *a, uint32_t len)
{
    uint8_t h[PROTO_HEADER_LEN];

    if (a->hdr_at != NULL) {
        proto_put_u32(a->hdr_at, len);
        return outq_add_ref(a->out, a->hdr_at, PROTO_HEADER_LEN);
    }
    proto_put_u32(h, len);
    return outq_add_copy(a->out, h, sizeof(h));
}

/*
 * The requests counter of each action value (5 bits): a table rather than
 * a switch, because this runs once per request and the values 1, 2, 4, 8,
 * 16 would compile to a chain of comparisons.
 */
/* clang-format off */
#define I_ WSTATS_INVALID
static const uint8_t stats_action[1u << PROTO_ACTION_BITS] = {
    I_, WSTATS_UPPERCASE, WSTATS_LOWERCASE, I_, WSTATS_REVERSE, I_, I_, I_,
    WSTATS_SHUFFLE, I_, I_, I_, I_, I_, I_, I_,
    WSTATS_RANDOM, I_, I_, I_, I_, I_, I_, I_,
    I_, I_, I_, I_, I_, I_, I_, I_,
};
/* clang-format on */
#undef I_
_Static_assert(PROTO_UPPERCASE == 1 && PROTO_LOWERCASE == 2 &&
                   PROTO_REVERSE == 4 && PROTO_SHUFFLE == 8 &&
                   PROTO_RANDOM == 16,
               "stats_action follows the action values");

static int on_begin(struct answer *a, const struct proto_event *ev,
                    uint8_t *hdr)
{
    a->action = ev->action;
    a->len = ev->len;
    a->hdr_at = hdr;
    a->inplace = NULL;
    a->body_len = 0;
    a->requests++;
    /* A plain add to shared memory: no system call per request. */
    wstats_add(&a->stats->requests[stats_action[ev->action]], 1);
    switch (ev->action) {
    case PROTO_UPPERCASE:
    case PROTO_LOWERCASE:
        a->mode = ANSWER_STREAM;
        return emit_header(a, ev->len);
    case PROTO_REVERSE:
    case PROTO_SHUFFLE:
    case PROTO_RANDOM:
        a->mode = ANSWER_COLLECT;
        return 0;
    default:
        a->mode = ANSWER_DISCARD;
        return 0;
    }
}

/* Appends to the collect buffer, which grows with what actually arrived,
 * never with what the header announced. */
static int collect(struct answer *a, const uint8_t *p, size_t n)
{
    size_t need = a->body_len + n;

    if (need > a->body_cap) {
        size_t ncap =
            a->body_cap < BODY_MIN_CAP ? BODY_MIN_CAP : a->body_cap * 2;
        uint8_t *b;

        if (ncap < need)
            ncap = need;
        if (ncap > a->len)
            ncap = a->len;
        b = realloc(a->body, ncap);
        if (b == NULL)
            return -ENOMEM;
        a->body = b;
        a->body_cap = ncap;
    }
    memcpy(a->body + a->body_len, p, n);
    a->body_len = need;
    return 0;
}

static int on_data(struct answer *a, uint8_t *p, size_t n)
{
    switch (a->mode) {
    case ANSWER_STREAM:
        if (a->action == PROTO_UPPERCASE)
            xform_upper(p, n);
        else
            xform_lower(p, n);
        return outq_add_ref(a->out, p, n);
    case ANSWER_COLLECT:
        if (a->body_len == 0 && n == a->len) {
            a->inplace = p;
            return 0;
        }
        return collect(a, p, n);
    case ANSWER_DISCARD:
        return 0;
    }
    return 0;
}

/* Queues a body the connection owns: copied when small, handed over when
 * large (the caller must not free it then). */
static int emit_owned(struct answer *a, uint8_t *mem, size_t n, bool *taken)
{
    *taken = false;
    if (n <= COPY_MAX)
        return outq_add_copy(a->out, mem, n);
    *taken = true;
    return outq_add_owned(a->out, mem, n);
}

static int answer_random(struct answer *a, uint8_t *data)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool taken;
    int r;

    r = xform_random(data, a->len, a->rng, &out, &out_len);
    if (r < 0)
        return r;
    r = emit_header(a, (uint32_t)out_len);
    if (r == 0)
        r = emit_owned(a, out, out_len, &taken);
    else
        taken = false;
    if (!taken)
        free(out);
    return r;
}

static int answer_collected(struct answer *a)
{
    uint8_t *data = a->inplace != NULL ? a->inplace : a->body;
    bool taken;
    int r;

    if (a->action == PROTO_RANDOM)
        return answer_random(a, data);
    if (a->action == PROTO_REVERSE) {
        xform_reverse(data, a->len);
    } else {
        r = xform_shuffle(data, a->len, a->rng);
        if (r < 0)
            return r;
    }
    r = emit_header(a, a->len);
    if (r < 0 || a->len == 0)
        return r;
    if (a->inplace != NULL)
        return outq_add_ref(a->out, a->inplace, a->len);
    r = emit_owned(a, a->body, a->len, &taken);
    if (taken) {
        a->body = NULL;
        a->body_cap = 0;
    }
    return r;
}

static int on_end(struct answer *a)
{
    int r = 0;

    if (a->mode == ANSWER_DISCARD)
        r = outq_add_copy(a->out, error_response, sizeof(error_response));
    else if (a->mode == ANSWER_COLLECT)
        r = answer_collected(a);
    if (a->body_cap > BODY_KEEP_MAX) {
        free(a->body);
        a->body = NULL;
        a->body_cap = 0;
    }
    a->body_len = 0;
    a->inplace = NULL;
    a->hdr_at = NULL;
    return r;
}

/*
 * The fast path of pipelined small requests: at a request boundary, every
 * following uppercase or lowercase request that lies whole in buf is
 * answered in place (the header rewritten to the response's, the body
 * mapped) without going through the parser's events, and the run of
 * answers, contiguous in buf like the requests, is queued as one
 * reference. Stops at anything else (another action, a partial request) or
 * where a new request would start above ANSWER_HIGH_WATER, which is what
 * the general path would do. Returns the bytes answered.
 *
 * Consecutive requests of one action are mapped as a group with a single
 * call over the whole span, headers included. Each answer header is
 * written during the scan (the request's with the action bits cleared);
 * the mapping leaves it alone unless one of its length bytes is a letter,
 * and those few headers are written again afterwards: a group ends early
 * at FIX_MAX of them.
 */
#define FIX_MAX 64

struct group {
    unsigned action;
    size_t count, end;
    size_t nfix; /* headers the mapping may change: offset and length */
    uint32_t fix_at[FIX_MAX], fix_len[FIX_MAX];
};

/* True when no byte of the answer header for length n can be a letter:
 * the top one holds 3 bits, the others are all below '@'. */
static inline bool header_immune(uint32_t n)
{
    return (n & 0x00c0c0c0u) == 0;
}

/*
 * One group of whole same-action requests from buf + pos, their headers
 * turned into the answers': g->count is 0 when the request there does not
 * qualify. The loop is the worker's innermost.
 */
static void group_scan(const struct answer *a, uint8_t *buf, size_t len,
                       size_t pos, struct group *g)
{
    size_t queued = outq_bytes(a->out), span = len - pos, lim;
    size_t count = 0, nfix = 0, at = 0;
    uint8_t *base = buf + pos;
    unsigned action;

    g->count = 0;
    /* Answers before pos are not queued yet: they count as queued. */
    if (span < PROTO_HEADER_LEN || queued + pos >= ANSWER_HIGH_WATER)
        return;
    /* A request starts below lim: a whole header fits, and it starts
     * below ANSWER_HIGH_WATER. */
    lim = span - (PROTO_HEADER_LEN - 1);
    if (ANSWER_HIGH_WATER - queued - pos < lim)
        lim = ANSWER_HIGH_WATER - queued - pos;
    action = base[0] >> (PROTO_LEN_BITS - 24);
    if (action != PROTO_UPPERCASE && action != PROTO_LOWERCASE)
        return;
    /* Locals, not g's fields: stores into buf could alias those. */
    while (at < lim) {
        uint32_t word = proto_get_u32(base + at);
        size_t n = word & PROTO_MAX_LEN;

        if (word >> PROTO_LEN_BITS != action ||
            n > span - at - PROTO_HEADER_LEN)
            break;
        if (!header_immune((uint32_t)n)) {
            if (nfix == FIX_MAX)
                break;
            g->fix_at[nfix] = (uint32_t)at;
            g->fix_len[nfix++] = (uint32_t)n;
        }
        base[at] &= (uint8_t)(PROTO_MAX_LEN >> 24);
        count++;
        at += PROTO_HEADER_LEN + n;
    }
    g->action = action;
    g->count = count;
    g->nfix = nfix;
    g->end = pos + at;
}

static long stream_run(struct answer *a, uint8_t *buf, size_t len)
{
    size_t pos = 0;
    struct group g;
    int r;

    for (group_scan(a, buf, len, pos, &g); g.count > 0;
         group_scan(a, buf, len, pos, &g)) {
        uint8_t *body = buf + pos + PROTO_HEADER_LEN;
        size_t span = g.end - pos - PROTO_HEADER_LEN;

        if (g.action == PROTO_UPPERCASE)
            xform_upper(body, span);
        else
            xform_lower(body, span);
        for (size_t i = 0; i < g.nfix; i++)
            proto_put_u32(buf + pos + g.fix_at[i], g.fix_len[i]);
        a->requests += g.count;
        wstats_add(&a->stats->requests[stats_action[g.action]], g.count);
        pos = g.end;
    }
    if (pos == 0)
        return 0;
    r = outq_add_ref(a->out, buf, pos);
    return r < 0 ? r : (long)pos;
}

long answer_feed(struct answer *a, uint8_t *buf, size_t len)
{
    size_t pos = 0;

    for (;;) {
        struct proto_event ev;
        int r = 0;

        if (answer_backpressured(a))
            return (long)pos;
        if (answer_at_boundary(a)) {
            long n = stream_run(a, buf + pos, len - pos);

            if (n < 0)
                return n;
            pos += (size_t)n;
            if (answer_backpressured(a))
                return (long)pos;
        }
        pos += proto_next(&a->parser, buf + pos, len - pos, &ev);
        switch (ev.type) {
        case PROTO_EV_NONE:
            /* All of buf is consumed and the caller may now reuse it: a
             * request header kept there for an in-place answer is gone. */
            a->hdr_at = NULL;
            return (long)pos;
        case PROTO_EV_BEGIN:
            r = on_begin(
                a, &ev, ev.header_in_buf ? buf + pos - PROTO_HEADER_LEN : NULL);
            break;
        case PROTO_EV_DATA:
            /* The data lies in the caller's writable buffer. */
            r = on_data(a, buf + (ev.data - (const uint8_t *)buf), ev.data_len);
            break;
        case PROTO_EV_END:
            r = on_end(a);
            break;
        }
        if (r < 0)
            return r;
    }
}
