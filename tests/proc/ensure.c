/*
 * cmocka assertions for the process tests (see ensure.h). On a mismatch they
 * print what was sent, expected and received before failing, because a bare
 * "memory differs" says little about a protocol bug.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ensure.h"

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wire.h"

/* Longest unexpected response body read for display. */
#define SHOW_MAX 256

void ensure_print_bytes(const char *label, const void *buf, size_t len,
                        size_t max)
{
    const uint8_t *b = buf;

    fprintf(stderr, "%s (%zu bytes): \"", label, len);
    for (size_t i = 0; i < len && i < max; i++) {
        if (b[i] == '"' || b[i] == '\\')
            fprintf(stderr, "\\%c", b[i]);
        else if (b[i] >= 0x20 && b[i] < 0x7f)
            fputc(b[i], stderr);
        else
            fprintf(stderr, "\\x%02x", b[i]);
    }
    fprintf(stderr, "\"%s\n", len > max ? "..." : "");
}

struct harness_proc *ensure_start_server(struct harness *h,
                                         const char *const extra[])
{
    struct harness_proc *p = NULL;
    int r = harness_start_server(h, extra, &p);

    if (r < 0) {
        fprintf(stderr, "server did not start and answer: %s\n", strerror(-r));
        if (p != NULL)
            harness_print_stderr(p);
        fail();
    }
    return p;
}

int ensure_connect(struct harness *h, const struct harness_proc *p)
{
    int fd = wire_connect(h, p->port, HARNESS_IO_MS);

    if (fd < 0) {
        fprintf(stderr, "connect to port %u: %s\n", p->port, strerror(-fd));
        fail();
    }
    return fd;
}

void ensure_response(int fd, const void *want, size_t want_len)
{
    uint8_t hdr[4], body[SHOW_MAX], *resp;
    uint32_t len;
    ssize_t n;
    bool ok = true;

    n = wire_recv_exact(fd, hdr, sizeof(hdr), HARNESS_IO_MS);
    if (n != (ssize_t)sizeof(hdr)) {
        fprintf(stderr, "no response header: %s\n",
                n < 0 ? strerror((int)-n) : "connection closed");
        ensure_print_bytes("expected", want, want_len, SHOW_MAX);
        fail();
    }
    len = proto_get_u32(hdr);
    if (len != want_len) {
        size_t show = len < SHOW_MAX ? len : SHOW_MAX;

        n = wire_recv_exact(fd, body, show, HARNESS_IO_MS);
        fprintf(stderr, "response length %u, expected %zu\n", len, want_len);
        ensure_print_bytes("expected", want, want_len, SHOW_MAX);
        ensure_print_bytes("got (start)", body, n > 0 ? (size_t)n : 0,
                           SHOW_MAX);
        fail();
    }
    resp = malloc(want_len + 1);
    assert_non_null(resp);
    n = wire_recv_exact(fd, resp, want_len, HARNESS_IO_MS);
    /* One free before the verdict: fail() does not return. */
    if (n != (ssize_t)want_len) {
        fprintf(stderr, "response body cut short: %s\n",
                n < 0 ? strerror((int)-n) : "connection closed");
        ok = false;
    } else if (want_len > 0 && memcmp(resp, want, want_len) != 0) {
        ensure_print_bytes("expected", want, want_len, SHOW_MAX);
        ensure_print_bytes("got", resp, want_len, SHOW_MAX);
        ok = false;
    }
    free(resp);
    if (!ok)
        fail();
}

void ensure_exchange(int fd, unsigned action, const void *in, size_t in_len,
                     const void *want, size_t want_len)
{
    uint8_t *req;
    int r;

    assert_true(in_len <= PROTO_MAX_LEN);
    req = malloc(PROTO_HEADER_LEN + in_len);
    assert_non_null(req);
    wire_encode(req, action, in, (uint32_t)in_len);
    r = wire_send_all(fd, req, PROTO_HEADER_LEN + in_len, HARNESS_IO_MS);
    free(req);
    if (r < 0) {
        fprintf(stderr, "send of action %u request failed: %s\n", action,
                strerror(-r));
        fail();
    }
    ensure_response(fd, want, want_len);
}

void ensure_exchange_once(struct harness *h, const struct harness_proc *p,
                          unsigned action, const void *in, size_t in_len,
                          const void *want, size_t want_len)
{
    int fd = ensure_connect(h, p);

    ensure_exchange(fd, action, in, in_len, want, want_len);
    harness_close_fd(h, fd);
}

void ensure_exit_status(const struct harness_proc *p, int want)
{
    if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != want) {
        fprintf(stderr, "wait status 0x%x, expected exit %d\n", p->status,
                want);
        harness_print_stderr(p);
        fail();
    }
}
