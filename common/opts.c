/*
 * A reentrant option iterator and strict number parsers. Unlike getopt_long
 * it keeps no global state and never prints, so every binary's parse
 * function can be unit tested and report errors in its own words.
 */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void opt_iter_init(struct opt_iter *it, int argc, char **argv)
{
    it->argc = argc;
    it->argv = argv;
    it->index = 1;
    it->cluster = NULL;
    it->only_positional = false;
}

static const struct opt_def *find_long(const struct opt_def *defs,
                                       const char *name, size_t len)
{
    for (; defs->id != 0; defs++) {
        if (defs->long_name != NULL && strlen(defs->long_name) == len &&
            memcmp(defs->long_name, name, len) == 0)
            return defs;
    }
    return NULL;
}

static const struct opt_def *find_short(const struct opt_def *defs, int c)
{
    for (; defs->id != 0; defs++) {
        if (defs->short_name != 0 && defs->short_name == c)
            return defs;
    }
    return NULL;
}

static int next_long(struct opt_iter *it, const struct opt_def *defs,
                     const char *word, const char **arg, char *err,
                     size_t errlen)
{
    const char *name = word + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct opt_def *d = find_long(defs, name, len);

    if (d == NULL) {
        snprintf(err, errlen, "unknown option '--%.*s'", (int)len, name);
        return OPT_ERROR;
    }
    if (!d->has_arg) {
        if (eq != NULL) {
            snprintf(err, errlen, "option '--%s' takes no value", d->long_name);
            return OPT_ERROR;
        }
        return d->id;
    }
    if (eq != NULL) {
        *arg = eq + 1;
        return d->id;
    }
    if (it->index >= it->argc) {
        snprintf(err, errlen, "option '--%s' needs a value", d->long_name);
        return OPT_ERROR;
    }
    *arg = it->argv[it->index++];
    return d->id;
}

static int next_short(struct opt_iter *it, const struct opt_def *defs,
                      const char **arg, char *err, size_t errlen)
{
    int c = (unsigned char)*it->cluster++;
    const struct opt_def *d = find_short(defs, c);

    if (d == NULL) {
        snprintf(err, errlen, "unknown option '-%c'", c);
        it->cluster = NULL;
        return OPT_ERROR;
    }
    if (!d->has_arg) {
        if (*it->cluster == '\0')
            it->cluster = NULL;
        return d->id;
    }
    if (*it->cluster != '\0') {
        *arg = it->cluster;
        it->cluster = NULL;
        return d->id;
    }
    it->cluster = NULL;
    if (it->index >= it->argc) {
        snprintf(err, errlen, "option '-%c' needs a value", c);
        return OPT_ERROR;
    }
    *arg = it->argv[it->index++];
    return d->id;
}

int opt_next(struct opt_iter *it, const struct opt_def *defs, const char **arg,
             char *err, size_t errlen)
{
    const char *word;

    *arg = NULL;
    if (it->cluster != NULL)
        return next_short(it, defs, arg, err, errlen);
    if (it->index >= it->argc)
        return OPT_END;
    word = it->argv[it->index++];
    if (it->only_positional || word[0] != '-' || word[1] == '\0') {
        *arg = word;
        return OPT_POSITIONAL;
    }
    if (word[1] == '-') {
        if (word[2] == '\0') {
            it->only_positional = true;
            return opt_next(it, defs, arg, err, errlen);
        }
        return next_long(it, defs, word, arg, err, errlen);
    }
    it->cluster = word + 1;
    return next_short(it, defs, arg, err, errlen);
}

enum opts_result opts_bad_value(char *err, size_t errlen, const char *what,
                                const char *value, const char *expect)
{
    snprintf(err, errlen, "invalid %s '%s' (expected %s)", what, value, expect);
    return OPTS_USAGE;
}

enum opts_result opts_parse_argv(int argc, char **argv,
                                 const struct opt_def *defs,
                                 opts_apply_fn apply, void *ctx, char *err,
                                 size_t errlen)
{
    struct opt_iter it;
    enum opts_result r = OPTS_OK;
    const char *arg;
    int id;

    opt_iter_init(&it, argc, argv);
    while (r == OPTS_OK &&
           (id = opt_next(&it, defs, &arg, err, errlen)) != OPT_END)
        r = id == OPT_ERROR ? OPTS_USAGE : apply(ctx, id, arg, err, errlen);
    return r;
}

int opts_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    char *end;

    /* strtoull accepts signs and leading blanks; a number here does not. */
    if (s == NULL || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end != '\0')
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *out = (uint64_t)v;
    return 0;
}

int opts_parse_seconds(const char *s, double max, double *out)
{
    double v;
    char *end;

    size_t digits = 0, dots = 0;

    if (s == NULL)
        return -EINVAL;
    /* Plain decimal only: no sign, exponent, hex or "inf". */
    for (const char *c = s; *c != '\0'; c++) {
        if (*c >= '0' && *c <= '9')
            digits++;
        else if (*c == '.')
            dots++;
        else
            return -EINVAL;
    }
    if (digits == 0 || dots > 1)
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || end == s)
        return -EINVAL;
    if (errno == ERANGE || !isfinite(v) || v < 0 || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int opts_parse_hostport(const char *s, char *host, size_t hostlen,
                        unsigned *port)
{
    const char *h, *colon;
    size_t hlen;
    uint64_t v;
    int r;

    if (s == NULL)
        return -EINVAL;
    if (*s == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':')
            return -EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strchr(s, ':');
        /* An unbracketed host with a colon of its own is ambiguous. */
        if (colon == NULL || strchr(colon + 1, ':') != NULL)
            return -EINVAL;
        h = s;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || memchr(h, '[', hlen) != NULL ||
        memchr(h, ']', hlen) != NULL)
        return -EINVAL;
    r = opts_parse_u64(colon + 1, 0, 65535, &v);
    if (r < 0)
        return r;
    if (hlen >= hostlen)
        return -ERANGE;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (unsigned)v;
    return 0;
}
