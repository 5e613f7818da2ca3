/*
 * A strict little JSON reader for the tool tests: it checks that a text is
 * exactly one JSON value (RFC 8259 grammar, nothing after it but white
 * space) and records every scalar under a dotted path ("errors.timeout",
 * "list.0"), so a test can assert that tcp_bench --json printed valid JSON
 * and read a few values back. No allocation: values point into the text.
 */
#ifndef TCP_SERVER_TESTS_TJSON_H
#define TCP_SERVER_TESTS_TJSON_H

#include <stdbool.h>
#include <stddef.h>

#define TJSON_MAX_ENTRIES 128
#define TJSON_MAX_PATH    96
#define TJSON_MAX_DEPTH   16

enum tjson_type {
    TJSON_STRING, /* val excludes the quotes; escapes are left as written */
    TJSON_NUMBER,
    TJSON_BOOL,
    TJSON_NULL,
};

struct tjson_entry {
    char path[TJSON_MAX_PATH];
    enum tjson_type type;
    const char *val;
    size_t len;
};

struct tjson {
    struct tjson_entry e[TJSON_MAX_ENTRIES];
    size_t n;
    size_t err_at; /* offset of the first fault when parsing failed */
};

/*
 * Parses the NUL-terminated text. Returns 0, -EINVAL when it is not exactly
 * one valid JSON value (err_at says where), or -E2BIG past the limits above.
 */
int tjson_parse(struct tjson *j, const char *text);

/* The scalar at path, or NULL. */
const struct tjson_entry *tjson_find(const struct tjson *j, const char *path);

/* The number at path in *out: 0, or -ENOENT when there is no number. */
int tjson_number(const struct tjson *j, const char *path, double *out);

/* The boolean at path in *out: 0, or -ENOENT. */
int tjson_bool(const struct tjson *j, const char *path, bool *out);

/* True when path holds a string exactly equal to want (no escapes). */
bool tjson_string_is(const struct tjson *j, const char *path, const char *want);

#endif
