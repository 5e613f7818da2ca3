/*
 * HTTP for the metrics tests: one request on a fresh connection to
 * 127.0.0.1, the answer read to the end, and the value of one series
 * picked out of a Prometheus text scrape. Functions return 0 or a negative
 * errno; the tests make the assertions.
 */
#ifndef TCP_SERVER_TESTS_SCRAPE_H
#define TCP_SERVER_TESTS_SCRAPE_H

#include <stddef.h>

/* A blocking, close-on-exec connection to 127.0.0.1:port (the caller
 * closes it), or -errno. */
int scrape_connect(unsigned port);

/*
 * Sends req (len bytes) to 127.0.0.1:port and reads until the server
 * closes, within timeout_ms. *out is a NUL-terminated heap buffer (free()
 * it). 0, or -errno (-ETIMEDOUT when the server never closed).
 */
int scrape_http(unsigned port, const char *req, size_t len, char **out,
                int timeout_ms);

/*
 * GET /metrics on port: 0 with the body in *body (free() it) when the
 * answer is 200 with the 0.0.4 content type, -EBADMSG for anything else,
 * or -errno.
 */
int scrape_metrics(unsigned port, char **body, int timeout_ms);

/* The value of series (e.g. tcp_server_requests_total{action="reverse"})
 * in a scrape: 0, or -ENOENT when it is not there. */
int scrape_value(const char *text, const char *series, double *v);

/*
 * Polls the endpoint until series equals want; 0, or -ETIMEDOUT with the
 * last value seen in *last (NAN when never seen).
 */
int scrape_wait_value(unsigned port, const char *series, double want,
                      double *last, int timeout_ms);

#endif
