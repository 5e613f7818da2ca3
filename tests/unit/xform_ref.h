/*
 * Reference helpers shared by the text transform tests (test_xform_case,
 * test_xform_order, test_xform_random). Characters are split here by an
 * independent UTF-8 decoder (ref_char_len) so that xform_char_len is checked
 * against it rather than against itself. Helpers that fill a buffer fail
 * the running cmocka test when it is too small.
 */
#ifndef TCP_SERVER_TESTS_XFORM_REF_H
#define TCP_SERVER_TESTS_XFORM_REF_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* One character of a split text: its bytes (zero-padded) and length. */
struct chr {
    uint8_t b[4];
    size_t n;
};

/*
 * Length of the character at p (avail bytes left): 2 to 4 for a valid
 * UTF-8 sequence, decoded and checked as a code point, 1 otherwise.
 */
size_t ref_char_len(const uint8_t *p, size_t avail);

/* Splits buf into characters; returns their number (at most cap). */
size_t split_chars(const uint8_t *buf, size_t len, struct chr *out, size_t cap);

/* qsort() order of struct chr; chr_eq is its equality. */
int chr_cmp(const void *a, const void *b);
int chr_eq(const struct chr *a, const struct chr *b);

/* 1 when buf is valid UTF-8, else 0. */
int valid_utf8(const uint8_t *buf, size_t len);

/*
 * Random valid UTF-8 text of up to max_chars characters; with
 * invalid_kind 1, bytes that never merge are mixed in; with 2, arbitrary
 * fragments too. Returns its length (at most cap).
 */
size_t gen_text(struct rng *r, uint8_t *out, size_t cap, size_t max_chars,
                int invalid_kind);

#endif
