/*
 * A writer of the Prometheus text exposition format, version 0.0.4, into a
 * caller's buffer: "# HELP" and "# TYPE" once per metric family, then its
 * samples, each "name{label="value",...} value" on a line of its own, with
 * label values and help text escaped as the format requires. Pure: no I/O,
 * no allocation. Misuse (a sample outside its family, a family written
 * twice) and a full buffer are remembered and reported by expo_finish, so
 * a caller writes everything and checks once.
 */
#ifndef TCP_SERVER_EXPO_H
#define TCP_SERVER_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct expo {
    char *buf;
    size_t cap, len;
    const char *family; /* the family samples belong to now, or NULL */
    int error;          /* 0, -ENOSPC or -EINVAL, the first one seen */
};

/* A label of a sample: written in the order given. */
struct expo_label {
    const char *name;
    const char *value; /* escaped on output */
};

void expo_init(struct expo *e, char *buf, size_t cap);

/*
 * Starts the family name: its HELP line (help escaped) and TYPE line
 * ("counter", "gauge", "untyped"...). A family already written is an error
 * (-EINVAL): each family appears once, its samples together.
 */
void expo_family(struct expo *e, const char *name, const char *type,
                 const char *help);

/* A sample of the current family, whose name it must be, with an integer
 * value. labels may be NULL when n is 0. */
void expo_sample_u64(struct expo *e, const char *name,
                     const struct expo_label *labels, size_t n, uint64_t v);

/* The same with a floating-point value (NaN and infinities as the format
 * spells them). */
void expo_sample_f64(struct expo *e, const char *name,
                     const struct expo_label *labels, size_t n, double v);

/* The length written (it ends in a newline, and buf[len] is NUL), or the
 * first error: -ENOSPC when cap was too small, -EINVAL on misuse. */
long expo_finish(const struct expo *e);

#endif
