/*
 * Command lines for the option parsers' unit tests: string literals are
 * read-only, and argv, as main() gets it, is not, so make_args copies them.
 */
#ifndef TCP_SERVER_TEST_ARGS_H
#define TCP_SERVER_TEST_ARGS_H

#include <stdio.h>

#define MAX_ARGS 32

struct args {
    int argc;
    char *argv[MAX_ARGS + 1];
    char store[MAX_ARGS][64];
};

/* Copies the NULL-terminated in[] into a (at most MAX_ARGS words). */
static inline void make_args(struct args *a, const char *const *in)
{
    a->argc = 0;
    for (; *in != NULL && a->argc < MAX_ARGS; in++, a->argc++) {
        snprintf(a->store[a->argc], sizeof(a->store[0]), "%s", *in);
        a->argv[a->argc] = a->store[a->argc];
    }
    a->argv[a->argc] = NULL;
}

#endif
