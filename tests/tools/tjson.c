/*
 * Recursive descent over the RFC 8259 grammar. Each parse function takes
 * the cursor and the path of the value it parses, and either advances the
 * cursor past the value or fails; scalars are appended to the entry table.
 */
#include "tjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
    struct tjson *j;
    const char *start;
    const char *p;
    int err;
};

static int fault(struct cursor *c, int err)
{
    if (c->err == 0) {
        c->err = err;
        c->j->err_at = (size_t)(c->p - c->start);
    }
    return err;
}

static void skip_ws(struct cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
        c->p++;
}

static int add(struct cursor *c, const char *path, enum tjson_type type,
               const char *val, size_t len)
{
    struct tjson_entry *e;

    if (c->j->n == TJSON_MAX_ENTRIES)
        return fault(c, -E2BIG);
    e = &c->j->e[c->j->n++];
    snprintf(e->path, sizeof(e->path), "%s", path);
    e->type = type;
    e->val = val;
    e->len = len;
    return 0;
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
           (ch >= 'A' && ch <= 'F');
}

/* A string; *val and *len describe its contents between the quotes. */
static int parse_string(struct cursor *c, const char **val, size_t *len)
{
    const char *s;

    if (*c->p != '"')
        return fault(c, -EINVAL);
    s = ++c->p;
    for (;;) {
        unsigned char ch = (unsigned char)*c->p;

        if (ch == '"')
            break;
        if (ch < 0x20) /* also the terminating NUL */
            return fault(c, -EINVAL);
        if (ch == '\\') {
            c->p++;
            if (*c->p == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (!is_hex(c->p[i]))
                        return fault(c, -EINVAL);
                }
                c->p += 4;
            } else if (strchr("\"\\/bfnrt", *c->p) == NULL || *c->p == '\0') {
                return fault(c, -EINVAL);
            }
        }
        c->p++;
    }
    *val = s;
    *len = (size_t)(c->p - s);
    c->p++;
    return 0;
}

static bool digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int parse_number(struct cursor *c, const char *path)
{
    const char *s = c->p;

    if (*c->p == '-')
        c->p++;
    if (*c->p == '0') {
        c->p++;
    } else if (digit(*c->p)) {
        while (digit(*c->p))
            c->p++;
    } else {
        return fault(c, -EINVAL);
    }
    if (*c->p == '.') {
        c->p++;
        if (!digit(*c->p))
            return fault(c, -EINVAL);
        while (digit(*c->p))
            c->p++;
    }
    if (*c->p == 'e' || *c->p == 'E') {
        c->p++;
        if (*c->p == '+' || *c->p == '-')
            c->p++;
        if (!digit(*c->p))
            return fault(c, -EINVAL);
        while (digit(*c->p))
            c->p++;
    }
    return add(c, path, TJSON_NUMBER, s, (size_t)(c->p - s));
}

static int parse_value(struct cursor *c, const char *path, int depth);

/* path + "." + key (or just key at the top), truncation being an error. */
static int join(struct cursor *c, char *out, const char *path, const char *key,
                size_t keylen)
{
    int n = snprintf(out, TJSON_MAX_PATH, "%s%s%.*s", path,
                     path[0] != '\0' ? "." : "", (int)keylen, key);

    if (n < 0 || n >= TJSON_MAX_PATH)
        return fault(c, -E2BIG);
    return 0;
}

static int parse_object(struct cursor *c, const char *path, int depth)
{
    char sub[TJSON_MAX_PATH];

    c->p++; /* { */
    skip_ws(c);
    if (*c->p == '}') {
        c->p++;
        return 0;
    }
    for (;;) {
        const char *key;
        size_t keylen;

        skip_ws(c);
        if (parse_string(c, &key, &keylen) < 0 ||
            join(c, sub, path, key, keylen) < 0)
            return c->err;
        skip_ws(c);
        if (*c->p != ':')
            return fault(c, -EINVAL);
        c->p++;
        if (parse_value(c, sub, depth + 1) < 0)
            return c->err;
        skip_ws(c);
        if (*c->p == '}') {
            c->p++;
            return 0;
        }
        if (*c->p != ',')
            return fault(c, -EINVAL);
        c->p++;
    }
}

static int parse_array(struct cursor *c, const char *path, int depth)
{
    char sub[TJSON_MAX_PATH], idx[24];
    size_t i = 0;

    c->p++; /* [ */
    skip_ws(c);
    if (*c->p == ']') {
        c->p++;
        return 0;
    }
    for (;; i++) {
        snprintf(idx, sizeof(idx), "%zu", i);
        if (join(c, sub, path, idx, strlen(idx)) < 0 ||
            parse_value(c, sub, depth + 1) < 0)
            return c->err;
        skip_ws(c);
        if (*c->p == ']') {
            c->p++;
            return 0;
        }
        if (*c->p != ',')
            return fault(c, -EINVAL);
        c->p++;
    }
}

static int parse_word(struct cursor *c, const char *path, const char *word,
                      enum tjson_type type)
{
    size_t n = strlen(word);
    const char *s = c->p;

    if (strncmp(c->p, word, n) != 0)
        return fault(c, -EINVAL);
    c->p += n;
    return add(c, path, type, s, n);
}

static int parse_value(struct cursor *c, const char *path, int depth)
{
    const char *val = NULL;
    size_t len = 0;

    if (depth > TJSON_MAX_DEPTH)
        return fault(c, -E2BIG);
    skip_ws(c);
    switch (*c->p) {
    case '{':
        return parse_object(c, path, depth);
    case '[':
        return parse_array(c, path, depth);
    case '"':
        if (parse_string(c, &val, &len) < 0)
            return c->err;
        return add(c, path, TJSON_STRING, val, len);
    case 't':
        return parse_word(c, path, "true", TJSON_BOOL);
    case 'f':
        return parse_word(c, path, "false", TJSON_BOOL);
    case 'n':
        return parse_word(c, path, "null", TJSON_NULL);
    default:
        return parse_number(c, path);
    }
}

int tjson_parse(struct tjson *j, const char *text)
{
    struct cursor c = {j, text, text, 0};

    j->n = 0;
    j->err_at = 0;
    if (parse_value(&c, "", 0) < 0)
        return c.err;
    skip_ws(&c);
    if (*c.p != '\0')
        return fault(&c, -EINVAL);
    return 0;
}

const struct tjson_entry *tjson_find(const struct tjson *j, const char *path)
{
    for (size_t i = 0; i < j->n; i++) {
        if (strcmp(j->e[i].path, path) == 0)
            return &j->e[i];
    }
    return NULL;
}

int tjson_number(const struct tjson *j, const char *path, double *out)
{
    const struct tjson_entry *e = tjson_find(j, path);
    char buf[64];

    if (e == NULL || e->type != TJSON_NUMBER || e->len >= sizeof(buf))
        return -ENOENT;
    memcpy(buf, e->val, e->len);
    buf[e->len] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

int tjson_bool(const struct tjson *j, const char *path, bool *out)
{
    const struct tjson_entry *e = tjson_find(j, path);

    if (e == NULL || e->type != TJSON_BOOL)
        return -ENOENT;
    *out = e->val[0] == 't';
    return 0;
}

bool tjson_string_is(const struct tjson *j, const char *path, const char *want)
{
    const struct tjson_entry *e = tjson_find(j, path);

    return e != NULL && e->type == TJSON_STRING && e->len == strlen(want) &&
           memcmp(e->val, want, e->len) == 0;
}
