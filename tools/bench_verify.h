/*
 * Streaming verification of tcp_bench's answers: every answer is checked as
 * its bytes arrive, without storing it. The message of a run is a repeating
 * pattern of ASCII letters (see bench_payload.h), so the expected bytes of
 * uppercase, lowercase and reverse are a repeating pattern too and a chunk
 * is checked with memcmp; shuffle is checked as a permutation (byte counts)
 * and random as drawn from the input in order (a subsequence with repeats).
 * An unknown action must be answered exactly "error". In raw mode (the echo
 * baseline) the answer is the request itself, header included.
 */
#ifndef TCP_SERVER_TOOLS_BENCH_VERIFY_H
#define TCP_SERVER_TOOLS_BENCH_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

enum bench_verify_kind {
    BENCH_VERIFY_EXACT, /* expected bytes known: upper, lower, reverse, error */
    BENCH_VERIFY_PERM,  /* shuffle: same bytes, any order */
    BENCH_VERIFY_DRAWN, /* random: input bytes in order, dropped or repeated */
};

/* What every answer of a run must look like. Built once per run. */
struct bench_verify_spec {
    enum bench_verify_kind kind;
    const uint8_t *in; /* input byte i is in[i % in_period] */
    size_t in_period;
    uint64_t in_len;
    /* EXACT: expected length and bytes: pre[0..pre_len) first, then byte
     * j of the rest is exp[(j + exp_phase) % exp_period]. */
    uint64_t exp_len;
    uint8_t pre[PROTO_HEADER_LEN];
    size_t pre_len;
    uint8_t *exp; /* owned */
    size_t exp_period;
    size_t exp_phase;
    /* PERM: how often each byte value occurs in the input. */
    uint32_t in_counts[256];
};

/* Per-connection progress through the current answer. */
struct bench_verify_state {
    uint64_t len;         /* the answer's announced length */
    uint64_t off;         /* bytes of it checked so far */
    bool failed;          /* this answer is wrong; the rest is skipped */
    const char *why;      /* what was wrong (static text) */
    uint64_t fail_off;    /* where */
    uint32_t counts[256]; /* PERM: input counts not yet matched */
    uint64_t pos;         /* DRAWN: index of the last matched input byte */
    bool matched;         /* DRAWN: pos is valid */
};

/*
 * Builds the spec for answers to `action` on the message in[i % in_period],
 * i < in_len (in must outlive the spec). raw: the answer is the request
 * itself (header hdr, then the message). Returns 0 or -ENOMEM; release
 * with bench_verify_spec_free; -EINVAL when in_period is 0 and in_len
 * is not.
 */
int bench_verify_spec_init(struct bench_verify_spec *s, unsigned action,
                           bool raw, const uint8_t hdr[PROTO_HEADER_LEN],
                           const uint8_t *in, size_t in_period,
                           uint64_t in_len);

void bench_verify_spec_free(struct bench_verify_spec *s);

/* Prepares a state for a connection's first answer. */
void bench_verify_state_init(const struct bench_verify_spec *s,
                             struct bench_verify_state *st);

/*
 * Starts an answer of announced length len. Returns 0, or -1 when the
 * length is wrong (st->why says so; the answer's data should still be fed,
 * it is skipped).
 */
int bench_verify_begin(const struct bench_verify_spec *s,
                       struct bench_verify_state *st, uint64_t len);

/* Checks the next n bytes of the answer. 0, or -1 on the first mismatch. */
int bench_verify_data(const struct bench_verify_spec *s,
                      struct bench_verify_state *st, const uint8_t *d,
                      size_t n);

/*
 * Ends the answer (all announced bytes were fed) and readies the state for
 * the next. Returns 0 when the whole answer was right, -1 otherwise with
 * st->why and st->fail_off describing the first fault.
 */
int bench_verify_end(const struct bench_verify_spec *s,
                     struct bench_verify_state *st);

#endif
