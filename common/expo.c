/*
 * The Prometheus text format writer (see expo.h). Escaping follows the
 * format's rules: in label values backslash, double quote and newline
 * become \\, \" and \n; in help text backslash and newline do.
 */
#include "expo.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void expo_init(struct expo *e, char *buf, size_t cap)
{
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->family = NULL;
    e->error = cap == 0 ? -ENOSPC : 0;
    if (cap > 0)
        buf[0] = '\0';
}

static void fail(struct expo *e, int err)
{
    if (e->error == 0)
        e->error = err;
}

static void put(struct expo *e, const char *s, size_t n)
{
    /* Keep room for the final NUL. */
    if (e->error != 0 || n >= e->cap - e->len) {
        fail(e, -ENOSPC);
        return;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
    e->buf[e->len] = '\0';
}

static void puts_(struct expo *e, const char *s)
{
    put(e, s, strlen(s));
}

/* Writes s escaped; quote says whether '"' is escaped too. */
static void put_escaped(struct expo *e, const char *s, bool quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            puts_(e, "\\\\");
        else if (*s == '\n')
            puts_(e, "\\n");
        else if (*s == '"' && quote)
            puts_(e, "\\\"");
        else
            put(e, s, 1);
    }
}

/* True when "# TYPE name " was written already. */
static bool family_written(const struct expo *e, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = e->buf; (p = strstr(p, "# TYPE ")) != NULL; p++) {
        if (strncmp(p + 7, name, n) == 0 && p[7 + n] == ' ')
            return true;
    }
    return false;
}

void expo_family(struct expo *e, const char *name, const char *type,
                 const char *help)
{
    if (e->error == 0 && family_written(e, name)) {
        fail(e, -EINVAL);
        return;
    }
    e->family = name;
    puts_(e, "# HELP ");
    puts_(e, name);
    puts_(e, " ");
    put_escaped(e, help, false);
    puts_(e, "\n# TYPE ");
    puts_(e, name);
    puts_(e, " ");
    puts_(e, type);
    puts_(e, "\n");
}

/* Writes "name{a="x",b="y"} " for a sample of the current family. */
static void sample_head(struct expo *e, const char *name,
                        const struct expo_label *labels, size_t n)
{
    if (e->family == NULL || strcmp(e->family, name) != 0) {
        fail(e, -EINVAL);
        return;
    }
    puts_(e, name);
    for (size_t i = 0; i < n; i++) {
        puts_(e, i == 0 ? "{" : ",");
        puts_(e, labels[i].name);
        puts_(e, "=\"");
        put_escaped(e, labels[i].value, true);
        puts_(e, "\"");
    }
    puts_(e, n > 0 ? "} " : " ");
}

void expo_sample_u64(struct expo *e, const char *name,
                     const struct expo_label *labels, size_t n, uint64_t v)
{
    char num[32];

    sample_head(e, name, labels, n);
    snprintf(num, sizeof(num), "%llu\n", (unsigned long long)v);
    puts_(e, num);
}

void expo_sample_f64(struct expo *e, const char *name,
                     const struct expo_label *labels, size_t n, double v)
{
    char num[48];

    sample_head(e, name, labels, n);
    if (isnan(v))
        snprintf(num, sizeof(num), "NaN\n");
    else if (isinf(v))
        snprintf(num, sizeof(num), "%sInf\n", v > 0 ? "+" : "-");
    else
        snprintf(num, sizeof(num), "%.15g\n", v);
    puts_(e, num);
}

long expo_finish(const struct expo *e)
{
    if (e->error != 0)
        return e->error;
    return (long)e->len;
}
