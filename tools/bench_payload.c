/*
 * Request images for tcp_bench. Two layouts: a window of whole requests
 * (small and medium sizes, one iovec per write in the common case) and,
 * for requests past the window size, the header and the pattern referenced
 * piecewise, which sends a 128 MiB message from 64 KiB of memory.
 */
#include "bench_payload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static const char letters[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

int bench_payload_init(struct bench_payload *p, unsigned action, uint64_t len,
                       unsigned window, uint64_t seed)
{
    struct rng r;

    memset(p, 0, sizeof(p[0]));
    p->action = action;
    p->len = len;
    p->reqlen = PROTO_HEADER_LEN + len;
    proto_encode_request_header(p->hdr, action, (uint32_t)len);
    p->patlen = len < BENCH_PATTERN_MAX ? (size_t)len : BENCH_PATTERN_MAX;
    /* One byte even for an empty message keeps pat a valid pointer. */
    p->pat = malloc(p->patlen > 0 ? p->patlen : 1);
    if (p->pat == NULL)
        return -ENOMEM;
    rng_seed(&r, seed);
    for (size_t i = 0; i < p->patlen; i++)
        p->pat[i] = (uint8_t)letters[rng_below(&r, sizeof(letters) - 1)];

    if (window == 0)
        window = 1;
    p->copies = BENCH_WINDOW_MAX / p->reqlen;
    if (p->copies > window)
        p->copies = window;
    if (p->copies == 0)
        return 0;
    p->win = malloc(p->copies * p->reqlen);
    if (p->win == NULL) {
        bench_payload_free(p);
        return -ENOMEM;
    }
    for (size_t c = 0; c < p->copies; c++) {
        uint8_t *q = p->win + c * p->reqlen;

        memcpy(q, p->hdr, PROTO_HEADER_LEN);
        for (uint64_t i = 0; i < len; i += p->patlen) {
            size_t n = len - i < p->patlen ? (size_t)(len - i) : p->patlen;

            memcpy(q + PROTO_HEADER_LEN + i, p->pat, n);
        }
    }
    return 0;
}

void bench_payload_free(struct bench_payload *p)
{
    free(p->pat);
    free(p->win);
    p->pat = NULL;
    p->win = NULL;
    p->copies = 0;
}

/* sendmsg takes non-const iovecs; it only reads through them. */
static void *unconst(const uint8_t *q)
{
    union {
        const uint8_t *c;
        void *m;
    } u = {.c = q};

    return u.m;
}

int bench_payload_iov(const struct bench_payload *p, uint64_t off,
                      uint64_t count, struct iovec *iov, int max,
                      size_t maxbytes)
{
    uint64_t left = count * p->reqlen - off;
    size_t bytes = 0;
    int n = 0;

    if (p->copies > 0) {
        uint64_t wlen = (uint64_t)p->copies * p->reqlen;

        /* The stream is request-periodic: byte x is win[x % wlen]. */
        while (left > 0 && n < max && bytes < maxbytes) {
            uint64_t at = off % wlen;
            uint64_t take = wlen - at < left ? wlen - at : left;

            iov[n].iov_base = unconst(p->win + at);
            iov[n++].iov_len = (size_t)take;
            left -= take;
            off += take;
            bytes += (size_t)take;
        }
        return n;
    }
    while (left > 0 && n < max && bytes < maxbytes) {
        uint64_t q = off % p->reqlen;
        uint64_t take;

        if (q < PROTO_HEADER_LEN) {
            take = PROTO_HEADER_LEN - q;
            iov[n].iov_base = unconst(p->hdr + q);
        } else {
            uint64_t m = q - PROTO_HEADER_LEN;
            size_t at = (size_t)(m % p->patlen);

            take = p->patlen - at;
            if (take > p->len - m)
                take = p->len - m;
            iov[n].iov_base = unconst(p->pat + at);
        }
        if (take > left)
            take = left;
        iov[n++].iov_len = (size_t)take;
        left -= take;
        off += take;
        bytes += (size_t)take;
    }
    return n;
}
