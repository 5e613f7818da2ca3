/*
 * Whole-buffer answer checks for the actions whose output is not a function
 * of the input alone: shuffle (a permutation of the bytes) and random (drawn
 * from the input in order, with repeats). The checks work on bytes, which is
 * exact for ASCII text (every ASCII byte is a character of its own) and a
 * necessary condition for any input. Pure functions, no allocation.
 */
#ifndef TCP_SERVER_TOOLS_CHECK_H
#define TCP_SERVER_TOOLS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when out holds the same bytes as in, each as many times. */
bool check_permutation(const uint8_t *in, size_t inlen, const uint8_t *out,
                       size_t outlen);

/*
 * True when out could be an answer of the random action to in: out is in
 * with each byte dropped or repeated, order kept (a subsequence with
 * repeats), and out is empty exactly when in is.
 */
bool check_drawn(const uint8_t *in, size_t inlen, const uint8_t *out,
                 size_t outlen);

/*
 * True when the action (a proto_action value) applied to msg could answer
 * exactly the five bytes "error". The client uses it to tell the server's
 * error answer from a transform that happens to spell "error" (lowercase
 * of "ERROR", reverse of "rorre", ...).
 */
bool check_could_spell_error(unsigned action, const uint8_t *msg, size_t len);

#endif
