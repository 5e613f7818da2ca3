/*
 * The connection output queue. Copy chunks are at least OUTQ_CHUNK bytes so
 * that many small responses share one allocation and one iovec.
 */
#include "outq.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define OUTQ_CHUNK   ((size_t)64 * 1024)
#define OUTQ_IOV_MAX 256

void outq_init(struct outq *q)
{
    memset(q, 0, sizeof(*q));
}

void outq_reset(struct outq *q)
{
    for (size_t i = 0; i < q->count; i++)
        free(q->segs[q->head + i].mem);
    free(q->segs);
    outq_init(q);
}

/* Segment arrays up to this many entries are kept between connections. */
#define OUTQ_KEEP_SEGS 64

void outq_clear(struct outq *q)
{
    if (q->cap > OUTQ_KEEP_SEGS) {
        outq_reset(q);
        return;
    }
    for (size_t i = 0; i < q->count; i++)
        free(q->segs[q->head + i].mem);
    q->head = q->count = q->bytes = 0;
}

static struct outq_seg *tail(struct outq *q)
{
    return q->count > 0 ? &q->segs[q->head + q->count - 1] : NULL;
}

/* Returns a fresh zeroed segment at the tail, or NULL. */
static struct outq_seg *push(struct outq *q)
{
    if (q->head + q->count == q->cap) {
        if (q->head > 0) {
            memmove(q->segs, q->segs + q->head, q->count * sizeof(*q->segs));
            q->head = 0;
        }
        if (q->count == q->cap) {
            size_t ncap = q->cap ? q->cap * 2 : 16;
            struct outq_seg *s = realloc(q->segs, ncap * sizeof(*s));
            if (s == NULL)
                return NULL;
            q->segs = s;
            q->cap = ncap;
        }
    }
    assert(q->segs != NULL);
    struct outq_seg *s = &q->segs[q->head + q->count++];
    memset(s, 0, sizeof(*s));
    return s;
}

/* Returns a fresh segment at the tail that owns the malloc'd block mem,
 * empty, with room free bytes; or frees mem and returns NULL. */
static struct outq_seg *push_block(struct outq *q, uint8_t *mem, size_t room)
{
    struct outq_seg *t = push(q);

    if (t == NULL) {
        free(mem);
        return NULL;
    }
    t->mem = mem;
    t->ptr = mem;
    t->room = room;
    return t;
}

int outq_add_ref(struct outq *q, uint8_t *p, size_t n)
{
    struct outq_seg *t = tail(q);

    if (n == 0)
        return 0;
    /* Answers built in place in the read buffer are usually adjacent. */
    if (t != NULL && t->mem == NULL && t->ptr + t->len == p) {
        t->len += n;
    } else {
        t = push(q);
        if (t == NULL)
            return -ENOMEM;
        t->ptr = p;
        t->len = n;
    }
    q->bytes += n;
    return 0;
}

int outq_add_copy(struct outq *q, const uint8_t *p, size_t n)
{
    struct outq_seg *t = tail(q);

    if (n == 0)
        return 0;
    if (t == NULL || t->mem == NULL || t->room < n) {
        size_t size = n > OUTQ_CHUNK ? n : OUTQ_CHUNK;
        uint8_t *mem = malloc(size);
        if (mem == NULL)
            return -ENOMEM;
        t = push_block(q, mem, size);
        if (t == NULL)
            return -ENOMEM;
    }
    memcpy(t->ptr + t->len, p, n);
    t->len += n;
    t->room -= n;
    q->bytes += n;
    return 0;
}

int outq_add_owned(struct outq *q, uint8_t *mem, size_t n)
{
    struct outq_seg *t;

    if (n == 0) {
        free(mem);
        return 0;
    }
    t = push_block(q, mem, 0);
    if (t == NULL)
        return -ENOMEM;
    t->len = n;
    q->bytes += n;
    return 0;
}

int outq_settle(struct outq *q)
{
    struct outq nq;
    size_t i;
    bool borrowed = false;

    for (i = 0; i < q->count && !borrowed; i++)
        borrowed = q->segs[q->head + i].mem == NULL;
    if (!borrowed)
        return 0;

    /* Rebuild in order: owned segments move, borrowed runs are copied and
     * coalesce into shared chunks. */
    outq_init(&nq);
    for (i = 0; i < q->count; i++) {
        struct outq_seg *s = &q->segs[q->head + i];
        struct outq_seg *t;

        if (s->mem == NULL) {
            if (outq_add_copy(&nq, s->ptr, s->len) < 0)
                goto fail;
            continue;
        }
        t = push(&nq);
        if (t == NULL)
            goto fail;
        *t = *s;
        s->mem = NULL; /* now owned by nq */
        nq.bytes += s->len;
    }
    free(q->segs);
    *q = nq;
    return 0;

fail:
    outq_reset(&nq);
    outq_reset(q);
    return -ENOMEM;
}

/* Drops n written bytes from the front, freeing finished segments. */
static void consume(struct outq *q, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        struct outq_seg *s = &q->segs[q->head];
        if (n < s->len) {
            s->ptr += n;
            s->len -= n;
            return;
        }
        n -= s->len;
        s->len = 0;
        if (q->count == 1 && s->room > 0) {
            /* Keep the last chunk's memory for the next appends. */
            s->room += (size_t)(s->ptr - s->mem);
            s->ptr = s->mem;
            return;
        }
        free(s->mem);
        q->head++;
        q->count--;
    }
    if (q->count == 0)
        q->head = 0;
}

long outq_flush(struct outq *q, int fd)
{
    long total = 0;

    while (q->bytes > 0) {
        struct iovec iov[OUTQ_IOV_MAX];
        struct msghdr msg;
        size_t n = 0, want = 0;
        ssize_t w;

        for (size_t i = 0; i < q->count && n < OUTQ_IOV_MAX; i++) {
            struct outq_seg *s = &q->segs[q->head + i];
            if (s->len == 0)
                continue;
            iov[n].iov_base = s->ptr;
            iov[n].iov_len = s->len;
            want += s->len;
            n++;
        }
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        consume(q, (size_t)w);
        total += w;
        if ((size_t)w < want)
            break;
    }
    return total;
}
