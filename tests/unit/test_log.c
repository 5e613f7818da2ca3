/*
 * Logging (common/log.c): the line format "time [LEVEL role pid] message",
 * level filtering before any argument is evaluated, errno preserved and
 * appended by log_warn, long lines cut to one buffer, and fatal's exit.
 * Lines are captured from a real pipe put in place of stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* One log line is at most this long (LOG_LINE_MAX - 1 in log.c). */
#define LINE_MAX_BYTES 1023

struct capture {
    int saved; /* the real stderr */
    int rd;    /* read end of the pipe now on descriptor 2 */
};

static void capture_start(struct capture *c)
{
    int p[2];

    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    close(p[1]);
    c->rd = p[0];
}

/* Puts stderr back and returns what was logged, NUL-terminated. */
static size_t capture_end(struct capture *c, char *buf, size_t len)
{
    ssize_t n;

    assert_int_equal(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
    close(c->saved);
    n = read(c->rd, buf, len - 1);
    close(c->rd);
    if (n < 0)
        n = 0; /* EAGAIN: nothing was written */
    buf[n] = '\0';
    return (size_t)n;
}

static void expect_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            fail_msg("'%c' at %zu of '%s' is not a digit", s[i], i, s);
    }
}

/* "2026-11-25 21:08:23.123 " */
static void expect_timestamp(const char *line)
{
    expect_digits(line, 4);
    assert_int_equal(line[4], '-');
    expect_digits(line + 5, 2);
    assert_int_equal(line[7], '-');
    expect_digits(line + 8, 2);
    assert_int_equal(line[10], ' ');
    expect_digits(line + 11, 2);
    assert_int_equal(line[13], ':');
    expect_digits(line + 14, 2);
    assert_int_equal(line[16], ':');
    expect_digits(line + 17, 2);
    assert_int_equal(line[19], '.');
    expect_digits(line + 20, 3);
    assert_int_equal(line[23], ' ');
}

static void test_log_line_format(void **state)
{
    struct capture c;
    char buf[2048], want[256];
    size_t n;

    (void)state;
    log_init("tester", 1);
    capture_start(&c);
    log_info("hello %d", 42);
    n = capture_end(&c, buf, sizeof(buf));

    assert_true(n > 24);
    expect_timestamp(buf);
    snprintf(want, sizeof(want), "[INFO tester %ld] hello 42\n",
             (long)getpid());
    assert_string_equal(buf + 24, want);
}

static void test_log_journal_matches(void **state)
{
    (void)state;
    assert_true(log_journal_matches("8:1234", 8, 1234));
    assert_false(log_journal_matches("8:1234", 8, 1235));
    assert_false(log_journal_matches("9:1234", 8, 1234));
    assert_false(log_journal_matches(NULL, 8, 1234));
    assert_false(log_journal_matches("", 8, 1234));
    assert_false(log_journal_matches("8:1234x", 8, 1234));
    assert_false(log_journal_matches("8", 8, 1234));
    assert_false(log_journal_matches("-8:1234", (unsigned long long)-8, 1234));
}

/* stderr is "the journal" when JOURNAL_STREAM names it: no timestamp. */
static void test_log_journal_format(void **state)
{
    struct capture c;
    struct stat st;
    char buf[2048], want[256], env[64];

    (void)state;
    capture_start(&c);
    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
    log_init("tester", 1);
    log_info("hello %d", 42);
    log_error("bad");
    capture_end(&c, buf, sizeof(buf));
    snprintf(want, sizeof(want),
             "<6>[INFO tester %ld] hello 42\n<3>[ERROR tester %ld] bad\n",
             (long)getpid(), (long)getpid());
    assert_string_equal(buf, want);

    /* Another file (stderr redirected by hand): timestamps again. */
    assert_int_equal(setenv("JOURNAL_STREAM", "1:1", 1), 0);
    capture_start(&c);
    log_init("tester", 1);
    log_info("hello");
    capture_end(&c, buf, sizeof(buf));
    expect_timestamp(buf);
    assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
    log_init("tester", 1);
}

static void test_log_levels(void **state)
{
    struct capture c;
    char buf[4096];
    int evaluated = 0;

    (void)state;
    log_init("quiet", 0);
    assert_true(log_enabled(LOG_ERROR));
    assert_true(log_enabled(LOG_WARN));
    assert_false(log_enabled(LOG_INFO));
    assert_false(log_enabled(LOG_DEBUG));

    capture_start(&c);
    log_debug("debug %d", ++evaluated);
    log_info("info %d", ++evaluated);
    log_warnx("careful");
    log_error("broken");
    capture_end(&c, buf, sizeof(buf));
    /* The level check happens before the arguments are evaluated. */
    assert_int_equal(evaluated, 0);
    assert_null(strstr(buf, "DEBUG"));
    assert_null(strstr(buf, "INFO"));
    assert_non_null(strstr(buf, "[WARN quiet "));
    assert_non_null(strstr(buf, "] careful\n"));
    assert_non_null(strstr(buf, "[ERROR quiet "));
    assert_non_null(strstr(buf, "] broken\n"));

    log_init("loud", 2);
    assert_true(log_enabled(LOG_DEBUG));
    capture_start(&c);
    log_debug("debug %d", ++evaluated);
    capture_end(&c, buf, sizeof(buf));
    assert_int_equal(evaluated, 1);
    assert_non_null(strstr(buf, "[DEBUG loud "));
    assert_non_null(strstr(buf, "] debug 1\n"));
}

static void test_log_errno(void **state)
{
    struct capture c;
    char buf[2048], want[256];
    size_t n;

    (void)state;
    log_init("tester", 0);
    capture_start(&c);
    errno = ENOENT;
    log_warn("cannot open %s", "x");
    /* Preserved even though the write itself may have changed it. */
    assert_int_equal(errno, ENOENT);
    errno = EPIPE;
    log_warnx("no errno here");
    assert_int_equal(errno, EPIPE);
    n = capture_end(&c, buf, sizeof(buf));
    assert_true(n > 0);

    snprintf(want, sizeof(want), "] cannot open x: %s\n", strerror(ENOENT));
    assert_non_null(strstr(buf, want));
    assert_non_null(strstr(buf, "] no errno here\n"));
    assert_null(strstr(buf, strerror(EPIPE)));
}

static void test_log_long_line(void **state)
{
    static char msg[3000], buf[4096];
    struct capture c;
    size_t n;

    (void)state;
    memset(msg, 'm', sizeof(msg) - 1);
    log_init("tester", 0);
    capture_start(&c);
    log_warnx("%s", msg);
    n = capture_end(&c, buf, sizeof(buf));
    /* Cut to one buffer, still one whole line. */
    assert_int_equal(n, LINE_MAX_BYTES);
    assert_int_equal(buf[n - 1], '\n');
    assert_int_equal(buf[n - 2], 'm');
    assert_null(memchr(buf, '\n', n - 1));
}

static void test_log_fatalx_exits(void **state)
{
    struct capture c;
    char buf[2048];
    pid_t pid;
    int status;

    (void)state;
    log_init("tester", 0);
    capture_start(&c);
    /* exit() in the child flushes stdio: nothing of ours may be pending. */
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        fatalx("giving up on %s", "this");
    assert_int_equal(waitpid(pid, &status, 0), pid);
    capture_end(&c, buf, sizeof(buf));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(buf, "[ERROR tester "));
    assert_non_null(strstr(buf, "] giving up on this\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_line_format),
        cmocka_unit_test(test_log_journal_matches),
        cmocka_unit_test(test_log_journal_format),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_log_errno),
        cmocka_unit_test(test_log_long_line),
        cmocka_unit_test(test_log_fatalx_exits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
