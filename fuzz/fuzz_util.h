/*
 * Helpers shared by the libFuzzer targets: a check that reports a broken
 * invariant and aborts (so libFuzzer saves the input), an independent UTF-8
 * decoder to hold xform.c's character rule against, and byte and character
 * multiset comparisons. The decoder shares no code with common/, so a bug
 * there cannot hide behind the same bug in the checker.
 */
#ifndef TCP_SERVER_FUZZ_UTIL_H
#define TCP_SERVER_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The entry point libFuzzer calls; each target defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "invariant broken at file:line: expr: message" and aborts. */
__attribute__((noreturn, format(printf, 4, 5))) void
fuzz_fail(const char *file, int line, const char *expr, const char *fmt, ...);

/* Aborts with a message when cond is false. Always evaluated (no NDEBUG). */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond))                                                           \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                 \
    } while (0)

/* malloc that aborts on failure; size 0 still returns a unique pointer. */
void *fuzz_xmalloc(size_t size);

/* A heap copy of exactly len bytes, so ASan catches any access past it. */
uint8_t *fuzz_dup(const uint8_t *buf, size_t len);

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 when p does not
 * start one. Decodes the code point and checks its range, rather than
 * following a byte table like xform.c does.
 */
size_t fuzz_utf8_seq_len(const uint8_t *p, size_t avail);

/* The character rule of docs/protocol.md: a valid sequence, else 1 byte. */
size_t fuzz_char_len(const uint8_t *p, size_t avail);

/* True when buf is entirely valid UTF-8. */
bool fuzz_utf8_valid(const uint8_t *buf, size_t len);

/* True when a and b hold the same bytes in some order. */
bool fuzz_same_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen);

/*
 * A character packed left-aligned into a word (byte k at bits 31-8k) and its
 * length, so that characters sort and compare as integers.
 */
struct fuzz_char {
    uint32_t packed;
    uint32_t len;
};

/* Packs the n (1..4) bytes at p into a word, byte k at bits 31-8k. */
uint32_t fuzz_pack_char(const uint8_t *p, size_t n);

/*
 * Splits buf into characters with xform_char_len, the rule under test, and
 * checks each length against fuzz_char_len on the way. Returns a malloc'd
 * array (free() it) and its length in *n.
 */
struct fuzz_char *fuzz_split_chars(const uint8_t *buf, size_t len, size_t *n);

/* Sorts n characters in place (by packed value, then length). */
void fuzz_sort_chars(struct fuzz_char *c, size_t n);

/* Prints len bytes as hex on stderr (at most the first 64), after a label. */
void fuzz_dump(const char *label, const uint8_t *buf, size_t len);

/* Reads a little-endian seed from up to the first 8 bytes of data. */
uint64_t fuzz_seed(const uint8_t *data, size_t size);

#endif
