/*
 * Output queue of one connection: an ordered list of byte segments written
 * with one sendmsg() per flush. A segment either borrows caller memory (a
 * "ref", valid only until outq_settle(), which lets the worker answer from
 * its read buffer without copying), owns a malloc'd block handed over by the
 * caller, or is a copy chunk that small appends share.
 */
#ifndef TCP_SERVER_OUTQ_H
#define TCP_SERVER_OUTQ_H

#include <stddef.h>
#include <stdint.h>

struct outq_seg {
    uint8_t *ptr; /* first unsent byte */
    size_t len;   /* unsent bytes */
    uint8_t *mem; /* block to free once sent; NULL for a ref */
    size_t room;  /* free bytes after ptr + len (copy chunks only) */
};

struct outq {
    struct outq_seg *segs;
    size_t head;  /* index of the first live segment */
    size_t count; /* live segments from head */
    size_t cap;   /* allocated segments */
    size_t bytes; /* unsent bytes in all segments */
};

void outq_init(struct outq *q);

/* Frees every segment; the queue is empty and reusable. */
void outq_reset(struct outq *q);

/*
 * Empties the queue for the next connection: frees what segments own but
 * keeps a small segment array, so a short connection allocates nothing.
 */
void outq_clear(struct outq *q);

static inline size_t outq_bytes(const struct outq *q)
{
    return q->bytes;
}

/* Borrows p[0..n) until the next outq_settle(). 0 or -ENOMEM. */
int outq_add_ref(struct outq *q, uint8_t *p, size_t n);

/* Copies p[0..n). 0 or -ENOMEM. */
int outq_add_copy(struct outq *q, const uint8_t *p, size_t n);

/* Takes ownership of mem (malloc'd), whose first n bytes are queued. On
 * failure mem is freed and -ENOMEM returned. */
int outq_add_owned(struct outq *q, uint8_t *mem, size_t n);

/* Copies every borrowed segment so that the borrowed memory may be reused.
 * On -ENOMEM the queue has been emptied: the connection cannot go on. */
int outq_settle(struct outq *q);

/*
 * Writes as much as the socket takes without blocking. Returns the number of
 * bytes written (0 when the socket is full), or a negative errno.
 */
long outq_flush(struct outq *q, int fd);

#endif
