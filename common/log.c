/*
 * Line-oriented logging to stderr. Every line is formatted into one buffer
 * and written with a single write(2), so the supervisor's and the workers'
 * lines never interleave mid-line. Nothing here allocates.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

static const char *log_role = "main";
static int log_verbose;
static bool log_journal; /* stderr is the journal: no timestamp */

static const char *const level_names[] = {
    [LOG_ERROR] = "ERROR",
    [LOG_WARN] = "WARN",
    [LOG_INFO] = "INFO",
    [LOG_DEBUG] = "DEBUG",
};

/* syslog(3) priorities, which the journal reads from a "<N>" prefix. */
static const int level_priorities[] = {
    [LOG_ERROR] = 3,
    [LOG_WARN] = 4,
    [LOG_INFO] = 6,
    [LOG_DEBUG] = 7,
};

bool log_journal_matches(const char *env, unsigned long long dev,
                         unsigned long long ino)
{
    unsigned long long d, i;
    char *end;

    if (env == NULL || env[0] < '0' || env[0] > '9')
        return false;
    errno = 0;
    d = strtoull(env, &end, 10);
    if (*end != ':' || end[1] < '0' || end[1] > '9')
        return false;
    i = strtoull(end + 1, &end, 10);
    return errno == 0 && *end == '\0' && d == dev && i == ino;
}

void log_init(const char *role, int verbose)
{
    struct stat st;

    log_role = role;
    log_verbose = verbose;
    /* A stderr redirected elsewhere keeps its timestamps. */
    log_journal = fstat(STDERR_FILENO, &st) == 0 &&
                  log_journal_matches(getenv("JOURNAL_STREAM"),
                                      (unsigned long long)st.st_dev,
                                      (unsigned long long)st.st_ino);
}

bool log_enabled(enum log_level level)
{
    return level <= LOG_WARN || log_verbose > 0;
}

static void log_vwrite(enum log_level level, bool with_errno, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));

static void log_vwrite(enum log_level level, bool with_errno, const char *fmt,
                       va_list ap)
{
    int saved = errno;
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int r;

    if (log_journal) {
        r = snprintf(line, sizeof(line), "<%d>[%s %s %ld] ",
                     level_priorities[level], level_names[level], log_role,
                     (long)getpid());
        n = 0;
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
        r = snprintf(line + n, sizeof(line) - n, ".%03ld [%s %s %ld] ",
                     ts.tv_nsec / 1000000, level_names[level], log_role,
                     (long)getpid());
    }
    if (r > 0)
        n += (size_t)r;
    if (n < sizeof(line)) {
        r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        if (r > 0)
            n += (size_t)r;
    }
    if (with_errno && n < sizeof(line)) {
        r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(saved));
        if (r > 0)
            n += (size_t)r;
    }
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';

    /* A failed log write has nowhere to be reported; ignore it. */
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    errno = saved;
}

/* The body of every variadic entry point: one line from fmt and its "...". */
#define LOG_VARIADIC(level, with_errno, fmt)                                   \
    do {                                                                       \
        va_list ap;                                                            \
                                                                               \
        va_start(ap, fmt);                                                     \
        log_vwrite((level), (with_errno), (fmt), ap);                          \
        va_end(ap);                                                            \
    } while (0)

void log_write(enum log_level level, bool with_errno, const char *fmt, ...)
{
    LOG_VARIADIC(level, with_errno, fmt);
}

void fatal(const char *fmt, ...)
{
    LOG_VARIADIC(LOG_ERROR, true, fmt);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    LOG_VARIADIC(LOG_ERROR, false, fmt);
    exit(1);
}
