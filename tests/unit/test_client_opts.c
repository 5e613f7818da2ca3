/*
 * Unit tests of tcp_client's pure parts: the command line, the -f line
 * format, the request source, and the exchange itself over a real
 * socketpair (the peer's answers are written before the exchange starts, so
 * no thread is needed): output bytes, the "server answered error" rule, and
 * a connection that breaks off before every answer arrived.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "client_io.h"
#include "client_opts.h"
#include "proto.h"
#include "xform.h"

static enum opts_result parse_argv(struct client_opts *o, int argc,
                                   const char *const *args)
{
    char *argv[16];
    char err[160];

    /* argv is not const in main's signature; the parser only reads it. */
    for (int i = 0; i < argc; i++) {
        union {
            const char *c;
            char *m;
        } u = {.c = args[i]};

        argv[i] = u.m;
    }
    argv[argc] = NULL;
    return client_opts_parse(o, argc, argv, err, sizeof(err));
}

#define PARSE(o, ...)                                                          \
    parse_argv((o),                                                            \
               (int)(sizeof((const char *[]){"tcp_client", __VA_ARGS__}) /     \
                     sizeof(const char *)),                                    \
               (const char *[]){"tcp_client", __VA_ARGS__})

static void test_client_opts_parse_defaults(void **state)
{
    struct client_opts o;

    (void)state;
    assert_int_equal(PARSE(&o, "uppercase", "hello world"), OPTS_OK);
    assert_string_equal(o.host, "localhost");
    assert_int_equal(o.port, 8083);
    assert_int_equal(o.verbose, 0);
    assert_null(o.file);
    assert_int_equal(o.action, PROTO_UPPERCASE);
    assert_string_equal(o.message, "hello world");
    assert_false(o.message_stdin);
    assert_true(o.timeout == 30.0);
}

static void test_client_opts_parse_options(void **state)
{
    struct client_opts o;

    (void)state;
    assert_int_equal(PARSE(&o, "-v", "-h", "::1", "-p", "9000", "random", "-"),
                     OPTS_OK);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.port, 9000);
    assert_int_equal(o.verbose, 1);
    assert_int_equal(o.action, PROTO_RANDOM);
    assert_true(o.message_stdin);
    assert_int_equal(PARSE(&o, "--port=1", "--host", "example", "reverse", ""),
                     OPTS_OK);
    assert_int_equal(o.port, 1);
    assert_string_equal(o.message, "");
    assert_int_equal(PARSE(&o, "-f", "list.txt", "-p", "65535"), OPTS_OK);
    assert_string_equal(o.file, "list.txt");
    assert_int_equal(PARSE(&o, "-t", "2.5", "uppercase", "a"), OPTS_OK);
    assert_true(o.timeout == 2.5);
    assert_int_equal(PARSE(&o, "--timeout", "0", "uppercase", "a"), OPTS_OK);
    assert_true(o.timeout == 0.0);
    /* A message that starts with '-' follows "--". */
    assert_int_equal(PARSE(&o, "shuffle", "--", "-x"), OPTS_OK);
    assert_string_equal(o.message, "-x");
    assert_int_equal(PARSE(&o, "--help"), OPTS_HELP);
    assert_int_equal(PARSE(&o, "uppercase", "x", "--help"), OPTS_HELP);
    assert_int_equal(PARSE(&o, "--version"), OPTS_VERSION);
    assert_int_equal(PARSE(&o, "uppercase", "x", "--version"), OPTS_VERSION);
}

static void test_client_opts_parse_errors(void **state)
{
    struct client_opts o;

    (void)state;
    assert_int_equal(PARSE(&o, "uppercase"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "uppercase", "a", "b"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "UPPERCASE", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "upcase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-p", "0", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-p", "65536", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-p", "x1", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-p"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-x", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "uppercase", "-x"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-f", "list", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-h", "", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-t", "-1", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(PARSE(&o, "-t", "soon", "uppercase", "a"), OPTS_USAGE);
    assert_int_equal(parse_argv(&o, 1, (const char *[]){"tcp_client"}),
                     OPTS_USAGE);
}

static void test_client_parse_line_cases(void **state)
{
    unsigned action = 99;
    const char *msg = NULL;
    size_t len = 99;
    char err[128];
    const char *line;

    (void)state;
    line = "uppercase hello world";
    assert_int_equal(client_parse_line(line, strlen(line), &action, &msg, &len,
                                       err, sizeof(err)),
                     0);
    assert_int_equal(action, PROTO_UPPERCASE);
    assert_int_equal(len, 11);
    assert_memory_equal(msg, "hello world", 11);

    /* Only the first space separates: the rest is the message. */
    line = "reverse  two";
    assert_int_equal(client_parse_line(line, strlen(line), &action, &msg, &len,
                                       err, sizeof(err)),
                     0);
    assert_int_equal(action, PROTO_REVERSE);
    assert_int_equal(len, 4);
    assert_memory_equal(msg, " two", 4);

    line = "lowercase ";
    assert_int_equal(client_parse_line(line, strlen(line), &action, &msg, &len,
                                       err, sizeof(err)),
                     0);
    assert_int_equal(len, 0);
    line = "shuffle";
    assert_int_equal(client_parse_line(line, strlen(line), &action, &msg, &len,
                                       err, sizeof(err)),
                     0);
    assert_int_equal(action, PROTO_SHUFFLE);
    assert_int_equal(len, 0);

    /* The line is not NUL-terminated: only len bytes count. */
    line = "random abcXYZ";
    assert_int_equal(
        client_parse_line(line, 10, &action, &msg, &len, err, sizeof(err)), 0);
    assert_int_equal(action, PROTO_RANDOM);
    assert_int_equal(len, 3);

    assert_int_equal(
        client_parse_line("", 0, &action, &msg, &len, err, sizeof(err)),
        -EINVAL);
    line = "bogus x";
    assert_int_equal(client_parse_line(line, strlen(line), &action, &msg, &len,
                                       err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "bogus"));
    line = " uppercase x";
    assert_int_equal(client_parse_line(line, strlen(line), &action, &msg, &len,
                                       err, sizeof(err)),
                     -EINVAL);
}

static void test_client_src_next_lines(void **state)
{
    static const char text[] = "uppercase a\nreverse bc\nlowercase\nshuffle z";
    struct client_src src = {
        true, (const uint8_t *)text, sizeof(text) - 1, 0, NULL, 0};
    struct client_cursor cur = {0, 0};
    struct client_req req;
    char err[128];

    (void)state;
    assert_int_equal(client_src_next(&src, &cur, &req, err, sizeof(err)), 1);
    assert_int_equal(req.action, PROTO_UPPERCASE);
    assert_int_equal(req.lineno, 1);
    assert_memory_equal(req.msg, "a", 1);
    assert_int_equal(client_src_next(&src, &cur, &req, err, sizeof(err)), 1);
    assert_int_equal(req.len, 2);
    assert_int_equal(client_src_next(&src, &cur, &req, err, sizeof(err)), 1);
    assert_int_equal(req.len, 0);
    /* The last line needs no newline. */
    assert_int_equal(client_src_next(&src, &cur, &req, err, sizeof(err)), 1);
    assert_int_equal(req.action, PROTO_SHUFFLE);
    assert_int_equal(req.lineno, 4);
    assert_int_equal(client_src_next(&src, &cur, &req, err, sizeof(err)), 0);
}

static void test_client_src_next_bad_line(void **state)
{
    static const char text[] = "uppercase a\n\nreverse b\n";
    struct client_src src = {
        true, (const uint8_t *)text, sizeof(text) - 1, 0, NULL, 0};
    struct client_cursor cur = {0, 0};
    struct client_req req;
    char err[128];

    (void)state;
    assert_int_equal(client_src_next(&src, &cur, &req, err, sizeof(err)), 1);
    assert_int_equal(client_src_next(&src, &cur, &req, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(cur.index + 1, 2); /* the line to name in the error */
}

/* ---- the exchange over a socketpair -------------------------------------- */

struct pair {
    int client;
    int server;
};

static void pair_open(struct pair *p)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->client = sv[0];
    p->server = sv[1];
}

static void pair_close(struct pair *p)
{
    if (p->client >= 0)
        close(p->client);
    if (p->server >= 0)
        close(p->server);
}

static void put_answer(int fd, const char *data, size_t len)
{
    uint8_t hdr[4];

    proto_put_u32(hdr, (uint32_t)len);
    assert_int_equal(write(fd, hdr, 4), 4);
    if (len > 0)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
}

/* Runs an exchange and returns what it printed (malloc'd) in *out. */
static int run(int fd, const struct client_src *src, size_t nreq, bool newline,
               char **out, size_t *outlen, struct client_result *res)
{
    FILE *f = open_memstream(out, outlen);
    char err[256];
    int r;

    assert_non_null(f);
    r = client_exchange(fd, src, nreq, newline, 0, f, res, err, sizeof(err));
    assert_int_equal(fclose(f), 0);
    return r;
}

static void test_client_exchange_single_raw(void **state)
{
    static const uint8_t msg[] = {'a', 0, 'b', 0xff};
    struct client_src src = {false, NULL, 0, PROTO_UPPERCASE, msg, 4};
    struct client_result res;
    struct pair p;
    uint8_t sent[16];
    char *out = NULL;
    size_t outlen = 0;

    (void)state;
    pair_open(&p);
    put_answer(p.server, "A\0B\xff", 4);
    assert_int_equal(run(p.client, &src, 1, false, &out, &outlen, &res), 0);
    assert_int_equal(res.answered, 1);
    assert_int_equal(res.server_errors, 0);
    /* Raw: exactly the answer's bytes, no newline. */
    assert_int_equal(outlen, 4);
    assert_memory_equal(out, "A\0B\xff", 4);
    /* The request on the wire: header (action 1, length 4), message. */
    assert_int_equal(read(p.server, sent, sizeof(sent)), 8);
    assert_memory_equal(sent, "\x08\x00\x00\x04", 4);
    assert_memory_equal(sent + 4, msg, 4);
    free(out);
    pair_close(&p);
}

static void test_client_exchange_lines_in_order(void **state)
{
    static const char text[] = "uppercase ab\nlowercase ERROR\nreverse \n";
    struct client_src src = {
        true, (const uint8_t *)text, sizeof(text) - 1, 0, NULL, 0};
    struct client_result res;
    struct pair p;
    char *out = NULL;
    size_t outlen = 0;

    (void)state;
    pair_open(&p);
    put_answer(p.server, "AB", 2);
    put_answer(p.server, "error", 5); /* lowercase of ERROR: legitimate */
    put_answer(p.server, "", 0);
    assert_int_equal(run(p.client, &src, 3, true, &out, &outlen, &res), 0);
    assert_int_equal(res.answered, 3);
    assert_int_equal(res.server_errors, 0);
    assert_int_equal(outlen, 10);
    assert_memory_equal(out, "AB\nerror\n\n", 10);
    free(out);
    pair_close(&p);
}

static void test_client_exchange_server_error_counted(void **state)
{
    static const char text[] = "uppercase ab\nreverse xy\n";
    struct client_src src = {
        true, (const uint8_t *)text, sizeof(text) - 1, 0, NULL, 0};
    struct client_result res;
    struct pair p;
    char *out = NULL;
    size_t outlen = 0;

    (void)state;
    pair_open(&p);
    put_answer(p.server, "error", 5); /* uppercase never spells it */
    put_answer(p.server, "yx", 2);
    assert_int_equal(run(p.client, &src, 2, true, &out, &outlen, &res), 0);
    assert_int_equal(res.answered, 2);
    assert_int_equal(res.server_errors, 1);
    free(out);
    pair_close(&p);
}

static void test_client_exchange_broken_off(void **state)
{
    static const char text[] = "uppercase ab\nuppercase cd\n";
    struct client_src src = {
        true, (const uint8_t *)text, sizeof(text) - 1, 0, NULL, 0};
    struct client_result res;
    struct pair p;
    char *out = NULL;
    size_t outlen = 0;

    (void)state;
    pair_open(&p);
    put_answer(p.server, "AB", 2);
    /* Half of the second answer, then the server goes away. */
    assert_int_equal(write(p.server,
                           "\0\0\0\x02"
                           "C",
                           5),
                     5);
    assert_int_equal(shutdown(p.server, SHUT_WR), 0);
    assert_true(run(p.client, &src, 2, true, &out, &outlen, &res) < 0);
    assert_int_equal(res.answered, 1);
    free(out);
    pair_close(&p);
}

/* A peer that takes the request and never answers: -ETIMEDOUT, and the
 * message says how long and how far it got. */
static void test_client_exchange_times_out(void **state)
{
    static const uint8_t msg[] = "hello";
    struct client_src src = {false, NULL, 0, PROTO_UPPERCASE, msg, 5};
    struct client_result res;
    struct pair p;
    char err[256];
    FILE *f;
    char *out = NULL;
    size_t outlen = 0;

    (void)state;
    pair_open(&p);
    f = open_memstream(&out, &outlen);
    assert_non_null(f);
    assert_int_equal(client_exchange(p.client, &src, 1, true, 200, f, &res, err,
                                     sizeof(err)),
                     -ETIMEDOUT);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(res.answered, 0);
    assert_string_equal(err, "no answer from the server for 0.2 s (0 of 1 "
                             "answers received)");
    free(out);
    pair_close(&p);
}

/* Reads exactly n bytes, a few at a time. 0, or -1 at end of stream. */
static int read_slowly(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n < 777 ? n : 777);

        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The forked peer: answers nreq uppercase requests, then exits. */
static void peer_serve(int fd, size_t nreq)
{
    static uint8_t msg[400000];
    uint8_t hdr[4];

    for (size_t i = 0; i < nreq; i++) {
        uint32_t len;

        if (read_slowly(fd, hdr, 4) < 0)
            _exit(3);
        len = proto_get_u32(hdr) & PROTO_MAX_LEN;
        if (len > sizeof(msg) || read_slowly(fd, msg, len) < 0)
            _exit(4);
        xform_upper(msg, len);
        proto_put_u32(hdr, len);
        if (write(fd, hdr, 4) != 4 ||
            (len > 0 && write(fd, msg, len) != (ssize_t)len))
            _exit(5);
    }
    _exit(0);
}

static void test_client_exchange_partial_writes(void **state)
{
    const size_t nlines = 300;
    const size_t big = 300000;
    char *text = malloc(nlines * 80 + big + 32);
    char *want = malloc(nlines * 80 + big + 32);
    struct client_src src;
    struct client_result res;
    struct pair p;
    char *out = NULL;
    size_t outlen = 0, tlen = 0, wlen = 0;
    int sndbuf = 4096;
    int status;
    pid_t pid;

    (void)state;
    assert_non_null(text);
    assert_non_null(want);
    /* Lines of varied length, one of them far larger than the send
     * buffer, so sendmsg stops mid-header and mid-message many times. */
    for (size_t i = 0; i < nlines; i++) {
        size_t n = i == nlines / 2 ? big : i % 61;

        tlen += (size_t)sprintf(text + tlen, "uppercase ");
        for (size_t k = 0; k < n; k++) {
            text[tlen++] = (char)('a' + (i + k) % 26);
            want[wlen++] = (char)('A' + (i + k) % 26);
        }
        text[tlen++] = '\n';
        want[wlen++] = '\n';
    }
    src = (struct client_src){true, (const uint8_t *)text, tlen, 0, NULL, 0};
    pair_open(&p);
    assert_int_equal(
        setsockopt(p.client, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
        0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p.client);
        peer_serve(p.server, nlines);
    }
    close(p.server);
    p.server = -1;
    assert_int_equal(run(p.client, &src, nlines, true, &out, &outlen, &res), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(res.answered, nlines);
    assert_int_equal(outlen, wlen);
    assert_memory_equal(out, want, wlen);
    free(out);
    free(text);
    free(want);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_opts_parse_defaults),
        cmocka_unit_test(test_client_opts_parse_options),
        cmocka_unit_test(test_client_opts_parse_errors),
        cmocka_unit_test(test_client_parse_line_cases),
        cmocka_unit_test(test_client_src_next_lines),
        cmocka_unit_test(test_client_src_next_bad_line),
        cmocka_unit_test(test_client_exchange_single_raw),
        cmocka_unit_test(test_client_exchange_lines_in_order),
        cmocka_unit_test(test_client_exchange_server_error_counted),
        cmocka_unit_test(test_client_exchange_broken_off),
        cmocka_unit_test(test_client_exchange_times_out),
        cmocka_unit_test(test_client_exchange_partial_writes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
