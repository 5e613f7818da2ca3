/*
 * Log text helpers for the process tests (see logtext.h). Lines are matched
 * in place; nothing here writes to the log or depends on cmocka.
 */
#include "logtext.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* True when line[0..len) holds the decimal pid not inside a longer number. */
static bool span_has_pid(const char *line, size_t len, long pid)
{
    char num[32];
    size_t nl;

    nl = (size_t)snprintf(num, sizeof(num), "%ld", pid);
    for (size_t i = 0; i + nl <= len; i++) {
        if (memcmp(line + i, num, nl) != 0)
            continue;
        if (i > 0 && isdigit((unsigned char)line[i - 1]))
            continue;
        if (i + nl < len && isdigit((unsigned char)line[i + nl]))
            continue;
        return true;
    }
    return false;
}

bool logtext_line_has(const char *text, const char *word, long pid)
{
    const char *line = text;
    size_t wl = strlen(word);

    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        bool has_word = false;

        for (size_t i = 0; i + wl <= len && !has_word; i++)
            has_word = memcmp(line + i, word, wl) == 0;
        if (has_word && span_has_pid(line, len, pid))
            return true;
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return false;
}

size_t logtext_count_lines(const char *text)
{
    size_t n = 0;

    for (const char *s = text; *s != '\0'; s++)
        if (*s == '\n')
            n++;
    if (*text != '\0' && text[strlen(text) - 1] != '\n')
        n++;
    return n;
}

size_t logtext_count(const char *text, const char *word)
{
    size_t n = 0, wl = strlen(word);

    for (const char *s = strstr(text, word); s != NULL;
         s = strstr(s + wl, word))
        n++;
    return n;
}

/*
 * Reads the width-digit number at *s followed by sep ('\0': nothing), and
 * moves *s past both. False, leaving *s alone, when they are not there.
 */
static bool time_field(const char **s, int width, char sep, int64_t *v)
{
    unsigned long long n;
    const char *end;

    if (harness_parse_num(*s, 10, &n, &end) < 0 || end - *s != width ||
        (sep != '\0' && *end != sep))
        return false;
    *v = (int64_t)n;
    *s = sep != '\0' ? end + 1 : end;
    return true;
}

size_t logtext_times(const char *text, const char *word, int64_t *ms,
                     size_t max)
{
    const char *line = text;
    size_t n = 0;

    while (*line != '\0' && n < max) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int64_t hh, mm, ss, mmm;
        char *copy = strndup(line, len);
        const char *t = copy != NULL && len > 23 ? copy + 11 : NULL;

        /* "YYYY-MM-DD HH:MM:SS.mmm [...": the time starts at offset 11. */
        if (t != NULL && strstr(copy, word) != NULL &&
            time_field(&t, 2, ':', &hh) && time_field(&t, 2, ':', &mm) &&
            time_field(&t, 2, '.', &ss) && time_field(&t, 3, '\0', &mmm))
            ms[n++] = ((hh * 60 + mm) * 60 + ss) * 1000 + mmm;
        free(copy);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return n;
}

int logtext_wait(struct logtext_tail *l, const char *word, long pid,
                 int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    for (;;) {
        char buf[65536];
        ssize_t n;
        int fd = open(l->path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
            return -errno;
        while ((n = pread(fd, buf, sizeof(buf) - 1, (off_t)l->off)) > 0) {
            char *line = buf, *nl;

            buf[n] = '\0';
            /* Only complete lines: the writer may be mid-line. */
            while ((nl = strchr(line, '\n')) != NULL) {
                bool hit;

                *nl = '\0';
                hit = logtext_line_has(line, word, pid);
                l->off += (size_t)(nl - line) + 1;
                line = nl + 1;
                if (hit) {
                    close(fd);
                    return 0;
                }
            }
            if (line == buf)
                break; /* a partial line longer than nothing: wait */
        }
        close(fd);
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(1);
    }
}
