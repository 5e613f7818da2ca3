/*
 * Logging to stderr. Each line carries a timestamp, a level and the process
 * (role and pid): "2026-11-25 21:08:23.123 [INFO supervisor 1234] message".
 * A line is emitted with a single write(2) so lines of several processes
 * sharing stderr never interleave. errno is preserved across every call.
 * Errors and warnings are always shown; info and debug need verbose mode.
 *
 * When stderr is the systemd journal (JOURNAL_STREAM names stderr's device
 * and inode, see systemd.exec(5)), the journal records the time itself: a
 * line then starts with its syslog priority instead of the timestamp,
 * "<6>[INFO supervisor 1234] message", so journalctl -p filters by level.
 */
#ifndef TCP_SERVER_LOG_H
#define TCP_SERVER_LOG_H

#include <stdbool.h>
#include <stdnoreturn.h>

enum log_level {
    LOG_ERROR,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
};

/*
 * role names the process ("supervisor", "worker"); verbose > 0 shows all.
 * Also decides, from JOURNAL_STREAM and stderr, the journal format above.
 */
void log_init(const char *role, int verbose);

/*
 * True when the JOURNAL_STREAM value env ("DEVICE:INODE", decimal) names
 * the file with this device and inode (pure; env may be NULL).
 */
bool log_journal_matches(const char *env, unsigned long long dev,
                         unsigned long long ino);

bool log_enabled(enum log_level level);

/* Writes one line; with_errno appends ": strerror(errno)". */
void log_write(enum log_level level, bool with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs at error level and exits with status 1. Start-up code only. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The level check happens before any argument is formatted. */
#define LOG_AT(level, with_errno, ...)                                         \
    do {                                                                       \
        if (log_enabled(level))                                                \
            log_write((level), (with_errno), __VA_ARGS__);                     \
    } while (0)

#define log_error(...) LOG_AT(LOG_ERROR, false, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_WARN, true, __VA_ARGS__)
#define log_warnx(...) LOG_AT(LOG_WARN, false, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_INFO, false, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, false, __VA_ARGS__)

#endif
