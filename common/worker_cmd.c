/*
 * The worker's command line (see worker_cmd.h). One table, generated from
 * WORKER_CMD_OPTIONS, drives the defaults, the builder, the parser and the
 * usage text, so what the supervisor writes and what the worker reads
 * cannot drift apart: the builder refuses a value the parser would reject.
 */
#include "worker_cmd.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The usage text wraps before this column. */
#define USAGE_WIDTH 80

enum wc_kind { WC_FD, WC_PID, WC_UINT, WC_SECONDS, WC_U64, WC_COUNT };

struct wc_opt {
    size_t offset; /* of the member in struct worker_cmd */
    const char *name;
    const char *metavar;
    const char *what, *expect;
    double def;
    uint64_t max;
    enum wc_kind kind;
    int short_name;
    bool required;
};

/* One row of WORKER_CMD_OPTIONS as data. */
#define WC_ROW(f, k, nm, sh, mv, req, df, mx, wh, ex)                          \
    {.kind = WC_##k,                                                           \
     .offset = offsetof(struct worker_cmd, f),                                 \
     .name = (nm),                                                             \
     .short_name = (sh),                                                       \
     .metavar = (mv),                                                          \
     .required = (req),                                                        \
     .def = (df),                                                              \
     .max = (mx),                                                              \
     .what = (wh),                                                             \
     .expect = (ex)},

static const struct wc_opt wc_opts[] = {WORKER_CMD_OPTIONS(WC_ROW)};

#define N_OPTS (sizeof(wc_opts) / sizeof(wc_opts[0]))
/* Option ids for opt_next: row i is i + 1, then --help and --version. */
#define ID_HELP    ((int)N_OPTS + 1)
#define ID_VERSION ((int)N_OPTS + 2)

static void *member(struct worker_cmd *c, const struct wc_opt *d)
{
    return (char *)c + d->offset;
}

static const void *cmember(const struct worker_cmd *c, const struct wc_opt *d)
{
    return (const char *)c + d->offset;
}

static void set_default(struct worker_cmd *c, const struct wc_opt *d)
{
    void *m = member(c, d);

    switch (d->kind) {
    case WC_FD:
    case WC_COUNT:
        *(int *)m = (int)d->def;
        break;
    case WC_PID:
        *(long *)m = (long)d->def;
        break;
    case WC_UINT:
        *(unsigned *)m = (unsigned)d->def;
        break;
    case WC_SECONDS:
        *(double *)m = d->def;
        break;
    case WC_U64:
        ((struct worker_cmd_u64 *)m)->set = false;
        ((struct worker_cmd_u64 *)m)->value = (uint64_t)d->def;
        break;
    }
}

void worker_cmd_init(struct worker_cmd *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_OPTS; i++)
        set_default(c, &wc_opts[i]);
}

/* ---- Building ---------------------------------------------------------- */

struct argv_out {
    struct worker_argv *a;
    size_t argc; /* words in a->argv so far */
    size_t used; /* bytes of a->text so far */
};

static int push(struct argv_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one formatted word; -E2BIG when argv or text is full. */
static int push(struct argv_out *o, const char *fmt, ...)
{
    char *dst = o->a->text + o->used;
    size_t room = sizeof(o->a->text) - o->used;
    va_list ap;
    int n;

    /* Keep one slot for the final NULL. */
    if (o->argc + 1 >= WORKER_ARGV_MAX)
        return -E2BIG;
    va_start(ap, fmt);
    n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return -E2BIG;
    o->a->argv[o->argc++] = dst;
    o->used += (size_t)n + 1;
    return 0;
}

/* The flag itself: its one-letter form when it has one. */
static int push_name(struct argv_out *o, const struct wc_opt *d)
{
    if (d->short_name != 0)
        return push(o, "-%c", d->short_name);
    return push(o, "--%s", d->name);
}

/* A flag given n times, at most max. */
static int push_count(struct argv_out *o, const struct wc_opt *d, int n)
{
    int r = 0;

    for (int i = 0; i < n && (uint64_t)i < d->max && r == 0; i++)
        r = push_name(o, d);
    return r;
}

/*
 * Seconds as plain decimals: the parser rejects exponents. A positive
 * timeout must not round down to 0, which means "never".
 */
static int push_seconds(struct argv_out *o, const struct wc_opt *d, double s)
{
    int r;

    if (!(s >= 0 && s <= (double)d->max))
        return -ERANGE;
    if (s > 0 && s < 0.000001)
        s = 0.000001;
    r = push_name(o, d);
    return r < 0 ? r : push(o, "%.6f", s);
}

/* An integer value, which must be within 0..max. */
static int push_integer(struct argv_out *o, const struct wc_opt *d, uint64_t v)
{
    int r;

    if (v > d->max)
        return -ERANGE;
    r = push_name(o, d);
    return r < 0 ? r : push(o, "%llu", (unsigned long long)v);
}

/* A signed member: nothing when it equals absent (the default). */
static int push_signed(struct argv_out *o, const struct wc_opt *d, long v,
                       long absent)
{
    if (v == absent)
        return 0;
    if (v < 0)
        return -ERANGE;
    return push_integer(o, d, (uint64_t)v);
}

static int push_opt(struct argv_out *o, const struct worker_cmd *c,
                    const struct wc_opt *d)
{
    const void *m = cmember(c, d);
    const struct worker_cmd_u64 *u = m;

    switch (d->kind) {
    case WC_FD:
        return push_signed(o, d, *(const int *)m, (long)d->def);
    case WC_PID:
        return push_signed(o, d, *(const long *)m, (long)d->def);
    case WC_UINT:
        return push_integer(o, d, *(const unsigned *)m);
    case WC_SECONDS:
        return push_seconds(o, d, *(const double *)m);
    case WC_U64:
        return u->set ? push_integer(o, d, u->value) : 0;
    case WC_COUNT:
        return push_count(o, d, *(const int *)m);
    }
    return -EINVAL;
}

int worker_cmd_build(const struct worker_cmd *c, const char *path,
                     struct worker_argv *a)
{
    struct argv_out o = {a, 0, 0};
    int r = push(&o, "%s", path);

    for (size_t i = 0; i < N_OPTS && r == 0; i++)
        r = push_opt(&o, c, &wc_opts[i]);
    a->argv[r == 0 ? o.argc : 0] = NULL;
    return r;
}

/* ---- Parsing ----------------------------------------------------------- */

struct parse_ctx {
    struct worker_cmd *c;
    bool seen[N_OPTS];
};

/* Stores a number already checked against the row's bounds. */
static void store_integer(void *m, enum wc_kind kind, uint64_t v)
{
    switch (kind) {
    case WC_FD:
        *(int *)m = (int)v;
        break;
    case WC_PID:
        *(long *)m = (long)v;
        break;
    case WC_UINT:
        *(unsigned *)m = (unsigned)v;
        break;
    default: /* WC_U64 */
        ((struct worker_cmd_u64 *)m)->set = true;
        ((struct worker_cmd_u64 *)m)->value = v;
        break;
    }
}

static enum opts_result parse_value(struct worker_cmd *c,
                                    const struct wc_opt *d, const char *arg,
                                    char *err, size_t errlen)
{
    void *m = member(c, d);
    uint64_t v;
    int r;

    switch (d->kind) {
    case WC_COUNT:
        (*(int *)m)++;
        return OPTS_OK;
    case WC_SECONDS:
        r = opts_parse_seconds(arg, (double)d->max, m);
        break;
    default:
        /* A pid of 0 would mean "none": the option names a real one. */
        r = opts_parse_u64(arg, d->kind == WC_PID ? 1 : 0, d->max, &v);
        if (r == 0)
            store_integer(m, d->kind, v);
        break;
    }
    if (r < 0)
        return opts_bad_value(err, errlen, d->what, arg, d->expect);
    return OPTS_OK;
}

/* An opts_apply_fn; ctx is a struct parse_ctx. */
static enum opts_result apply(void *ctx, int id, const char *arg, char *err,
                              size_t errlen)
{
    struct parse_ctx *p = ctx;

    if (id == OPT_POSITIONAL) {
        snprintf(err, errlen, "unexpected argument '%s'", arg);
        return OPTS_USAGE;
    }
    if (id == ID_HELP)
        return OPTS_HELP;
    if (id == ID_VERSION)
        return OPTS_VERSION;
    p->seen[id - 1] = true;
    return parse_value(p->c, &wc_opts[id - 1], arg, err, errlen);
}

enum opts_result worker_cmd_parse(struct worker_cmd *c, int argc, char **argv,
                                  char *err, size_t errlen)
{
    struct opt_def defs[N_OPTS + 3];
    struct parse_ctx p = {.c = c};
    enum opts_result r;

    worker_cmd_init(c);
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct wc_opt *d = &wc_opts[i];

        defs[i] = (struct opt_def){d->name, d->short_name, d->kind != WC_COUNT,
                                   (int)i + 1};
    }
    defs[N_OPTS] = (struct opt_def){"help", 'h', false, ID_HELP};
    defs[N_OPTS + 1] = (struct opt_def){"version", 0, false, ID_VERSION};
    defs[N_OPTS + 2] = (struct opt_def){NULL, 0, false, 0};

    r = opts_parse_argv(argc, argv, defs, apply, &p, err, errlen);
    for (size_t i = 0; i < N_OPTS && r == OPTS_OK; i++) {
        if (wc_opts[i].required && !p.seen[i]) {
            snprintf(err, errlen, "missing --%s", wc_opts[i].name);
            r = OPTS_USAGE;
        }
    }
    return r;
}

/* ---- Usage ------------------------------------------------------------- */

struct text_out {
    char *buf;
    size_t len;
    size_t used; /* < len, or 0 when len is 0 */
};

static void append(struct text_out *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends to t, truncating silently. */
static void append(struct text_out *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->len == 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->used += (size_t)n;
    if (t->used >= t->len)
        t->used = t->len - 1;
}

/* "--name METAVAR", "[--name METAVAR]" or "[-v]". */
static void usage_item(const struct wc_opt *d, char *buf, size_t len)
{
    const char *open = d->required ? "" : "[";
    const char *close = d->required ? "" : "]";

    if (d->kind == WC_COUNT && d->short_name != 0)
        snprintf(buf, len, "%s-%c%s", open, d->short_name, close);
    else if (d->kind == WC_COUNT)
        snprintf(buf, len, "%s--%s%s", open, d->name, close);
    else
        snprintf(buf, len, "%s--%s %s%s", open, d->name, d->metavar, close);
}

void worker_cmd_usage(char *buf, size_t len)
{
    static const char prog[] = "usage: tcp_server_worker";
    struct text_out t = {buf, len, 0};
    size_t col = strlen(prog);

    if (len > 0)
        buf[0] = '\0';
    append(&t, "%s", prog);
    for (size_t i = 0; i < N_OPTS; i++) {
        char item[128];

        usage_item(&wc_opts[i], item, sizeof(item));
        /* Continuation lines start under the first option. */
        if (col + 1 + strlen(item) > USAGE_WIDTH) {
            append(&t, "\n%*s", (int)strlen(prog), "");
            col = strlen(prog);
        }
        append(&t, " %s", item);
        col += 1 + strlen(item);
    }
    append(&t, "\n(started by tcp_server; not meant to be run by hand)\n");
}
