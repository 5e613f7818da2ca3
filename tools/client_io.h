/*
 * tcp_client's exchange: a source of requests (one message, or the lines of
 * a -f file held in memory) sent pipelined on one connection while the
 * answers are read and printed in order. Sending and receiving run together
 * on a non-blocking socket under poll(), so a file of any size cannot
 * deadlock against a server that applies backpressure.
 */
#ifndef TCP_SERVER_TOOLS_CLIENT_IO_H
#define TCP_SERVER_TOOLS_CLIENT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where requests come from. Caller-owned; the buffers outlive the run. */
struct client_src {
    bool lines;         /* true: buf holds "ACTION MESSAGE" lines */
    const uint8_t *buf; /* lines mode: the whole file */
    size_t len;
    unsigned action; /* single mode: the one request */
    const uint8_t *msg;
    size_t msglen;
};

/* A position in a source; starts zeroed. */
struct client_cursor {
    size_t pos;   /* lines mode: offset of the next line in buf */
    size_t index; /* requests yielded so far */
};

struct client_req {
    unsigned action;
    const uint8_t *msg;
    size_t len;
    size_t lineno; /* 1-based request number (the line in lines mode) */
};

/*
 * Yields the next request at *cur and advances it. Returns 1 with *req set,
 * 0 at the end, or a negative errno with a message in err for a bad line
 * (see client_parse_line).
 */
int client_src_next(const struct client_src *src, struct client_cursor *cur,
                    struct client_req *req, char *err, size_t errlen);

struct client_result {
    size_t answered;      /* answers received completely */
    size_t server_errors; /* answers that were the server's "error" */
};

/*
 * Sends the nreq requests of src on the connected socket fd and writes each
 * answer's bytes to out, followed by '\n' when newline is set. An answer
 * "error" that the request's action could not have produced is counted in
 * res->server_errors and reported on stderr. Returns 0 once every answer
 * arrived, or a negative errno with a one-line message in err when the
 * connection breaks, output fails, or (-ETIMEDOUT) the socket moved no byte
 * either way for timeout_ms while answers were due (0 = no limit); res then
 * says how far it got.
 */
int client_exchange(int fd, const struct client_src *src, size_t nreq,
                    bool newline, int timeout_ms, FILE *out,
                    struct client_result *res, char *err, size_t errlen);

#endif
