/*
 * Reading the server's stderr log as text: whether a line names a word and a
 * pid, how many lines or matches there are, the timestamps of matching
 * lines, and a reader that follows a growing log file line by line. The
 * log format is the product's ("YYYY-MM-DD hh:mm:ss.mmm [LEVEL role pid]
 * message"); these helpers only search it, so a test states what it expects
 * in the words of the log.
 */
#ifndef TCP_SERVER_TESTS_LOGTEXT_H
#define TCP_SERVER_TESTS_LOGTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when some line of text contains both word and the decimal pid, the
 * pid not being part of a longer number. */
bool logtext_line_has(const char *text, const char *word, long pid);

/* Number of lines in text (a last line without '\n' counts). */
size_t logtext_count_lines(const char *text);

/* Number of times word occurs in text. */
size_t logtext_count(const char *text, const char *word);

/*
 * Milliseconds since midnight of the timestamp ("YYYY-MM-DD hh:mm:ss.mmm")
 * of every line of text that contains word, in order; at most max. Returns
 * the count.
 */
size_t logtext_times(const char *text, const char *word, int64_t *ms,
                     size_t max);

/* Position in a growing log file: only complete lines are consumed. */
struct logtext_tail {
    const char *path;
    size_t off;
};

/*
 * Polls the log from l->off on until a complete line contains word and the
 * pid (logtext_line_has), consuming every line up to that one. 0,
 * -ETIMEDOUT or -errno.
 */
int logtext_wait(struct logtext_tail *l, const char *word, long pid,
                 int timeout_ms);

#endif
