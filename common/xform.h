/*
 * The five text transforms. Messages are bytes: uppercase and lowercase map
 * ASCII letters only and stream; reverse, shuffle and random treat each valid
 * UTF-8 sequence as one character and every other byte as a character of its
 * own. No function here performs I/O.
 */
#ifndef TCP_SERVER_XFORM_H
#define TCP_SERVER_XFORM_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Repeat count cap of the random action (see docs/protocol.md). */
#define XFORM_RANDOM_CAP 65536u

/* Longest output the random action ever produces (fits a 32-bit length). */
#define XFORM_RANDOM_MAX_OUT 0xffffffffu

/* In-place ASCII case mapping; other bytes are unchanged. */
void xform_upper(uint8_t *buf, size_t len);
void xform_lower(uint8_t *buf, size_t len);

/*
 * Length of the character starting at p (avail > 0 bytes available): the
 * length of a valid UTF-8 sequence (1..4; no overlongs, no surrogates, at
 * most U+10FFFF), or 1 for a byte that does not start one.
 */
size_t xform_char_len(const uint8_t *p, size_t avail);

/* Reverses the characters of buf in place. */
void xform_reverse(uint8_t *buf, size_t len);

/*
 * Shuffles the characters of buf in place (uniform, Fisher-Yates). Returns 0,
 * or -ENOMEM when scratch space for multi-byte text cannot be allocated (buf
 * is then unchanged).
 */
int xform_shuffle(uint8_t *buf, size_t len, struct rng *r);

/*
 * The random action: writes a freshly allocated result to *out and its length
 * to *out_len (free() it; NULL with length 0 for empty input). Returns 0 or
 * -ENOMEM. The output never exceeds XFORM_RANDOM_MAX_OUT bytes.
 */
int xform_random(const uint8_t *in, size_t len, struct rng *r, uint8_t **out,
                 size_t *out_len);

#endif
