/*
 * A minimal HTTP client for the metrics tests (see scrape.h): the
 * endpoint closes every connection after one answer, so an answer is
 * everything read up to end of file.
 */
#include "scrape.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

int scrape_connect(unsigned port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    return fd;
}

/* Reads until end of file or reset; 0 or -errno. */
static int read_all(int fd, char **out, int64_t deadline)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);

    if (buf == NULL)
        return -ENOMEM;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - harness_now_ms();
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            free(buf);
            return -ETIMEDOUT;
        }
        if (len + 1 == cap) {
            char *b = realloc(buf, cap * 2);

            if (b == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = b;
            cap *= 2;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            break; /* end of file, or a reset after the answer */
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

int scrape_http(unsigned port, const char *req, size_t len, char **out,
                int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    int fd = scrape_connect(port);
    int r;

    if (fd < 0)
        return fd;
    r = send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EIO;
    if (r == 0)
        r = read_all(fd, out, deadline);
    close(fd);
    return r;
}

int scrape_metrics(unsigned port, char **body, int timeout_ms)
{
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
    char *resp = NULL, *start;
    int r = scrape_http(port, req, sizeof(req) - 1, &resp, timeout_ms);

    if (r < 0)
        return r;
    start = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.1 200 ", 13) != 0 || start == NULL ||
        strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4; "
                     "charset=utf-8\r\n") == NULL) {
        free(resp);
        return -EBADMSG;
    }
    memmove(resp, start + 4, strlen(start + 4) + 1);
    *body = resp;
    return 0;
}

int scrape_value(const char *text, const char *series, double *v)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            *v = strtod(p + n + 1, NULL);
            return 0;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -ENOENT;
}

int scrape_wait_value(unsigned port, const char *series, double want,
                      double *last, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;

    *last = NAN;
    while (harness_now_ms() < deadline) {
        char *body = NULL;

        if (scrape_metrics(port, &body, timeout_ms) == 0) {
            int r = scrape_value(body, series, last);

            free(body);
            if (r == 0 && *last == want)
                return 0;
        }
        harness_pause_ms(20);
    }
    return -ETIMEDOUT;
}
