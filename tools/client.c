/*
 * tcp_client: sends one request (ACTION MESSAGE) or every line of a file
 * (-f FILE) to a tcp_server and prints the answers on stdout. Exit status:
 * 0 success, 1 connection or protocol failure (including an "error" answer),
 * 2 bad usage or a malformed -f line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_io.h"
#include "client_opts.h"
#include "log.h"
#include "net.h"
#include "proto.h"

#define CONNECT_TIMEOUT_MS 10000

/* -t in milliseconds for poll(), 0 for none, clamped to what int holds. */
static int seconds_to_ms(double s)
{
    if (s <= 0)
        return 0;
    if (s >= (double)INT_MAX / 1000.0)
        return INT_MAX;
    return (int)(s * 1000.0 + 0.5);
}

/* Bytes read from stdin or a file, or a read-only mapping of a file. */
struct input {
    uint8_t *data;
    size_t len;
    bool mapped;
};

static void input_free(struct input *in)
{
    if (in->mapped && in->len > 0)
        munmap(in->data, in->len);
    else if (!in->mapped)
        free(in->data);
    in->data = NULL;
    in->len = 0;
}

/*
 * Reads fd to its end, at most max bytes. Returns 0, -EMSGSIZE when there
 * is more than max, or another negative errno.
 */
static int read_all(int fd, size_t max, struct input *in)
{
    size_t cap = (size_t)64 * 1024;
    uint8_t *buf = malloc(cap);

    in->mapped = false;
    in->len = 0;
    if (buf == NULL)
        return -ENOMEM;
    for (;;) {
        ssize_t n;

        if (in->len == cap) {
            uint8_t *bigger;

            /* One byte past max is enough to know the input is too long. */
            if (cap > max)
                break;
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            bigger = realloc(buf, cap);
            if (bigger == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = bigger;
        }
        n = read(fd, buf + in->len, cap - in->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            return -errno;
        }
        if (n == 0)
            break;
        in->len += (size_t)n;
    }
    in->data = buf;
    if (in->len > max) {
        input_free(in);
        return -EMSGSIZE;
    }
    return 0;
}

/* Maps a regular file, or reads anything else (a pipe, stdin) whole. */
static int load_file(const char *path, struct input *in)
{
    struct stat st;
    int fd;
    int r;

    if (strcmp(path, "-") == 0)
        return read_all(STDIN_FILENO, SIZE_MAX / 2, in);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->mapped = true;
        in->len = (size_t)st.st_size;
        in->data = NULL;
        if (in->len > 0) {
            void *m = mmap(NULL, in->len, PROT_READ, MAP_PRIVATE, fd, 0);

            if (m == MAP_FAILED) {
                r = -errno;
                close(fd);
                return r;
            }
            in->data = m;
        }
        close(fd);
        return 0;
    }
    r = read_all(fd, SIZE_MAX / 2, in);
    close(fd);
    return r;
}

/* Checks every line before anything is sent; returns the count or -1. */
static long count_lines(const struct client_src *src, const char *path)
{
    struct client_cursor cur = {0, 0};
    struct client_req req;
    char err[160];
    long n = 0;
    int r;

    while ((r = client_src_next(src, &cur, &req, err, sizeof(err))) == 1)
        n++;
    if (r < 0) {
        fprintf(stderr, "tcp_client: %s:%zu: %s\n", path, cur.index + 1, err);
        return -1;
    }
    return n;
}

static int usage_exit(const char *msg)
{
    fprintf(stderr, "tcp_client: %s\n%s", msg, client_usage);
    return 2;
}

int main(int argc, char **argv)
{
    static char outbuf[(size_t)256 * 1024];
    struct client_opts o;
    struct client_src src;
    struct client_result res;
    struct input in = {NULL, 0, false};
    char err[256];
    long nreq = 1;
    int status = 1;
    int fd = -1;
    int r;

    log_init("client", 0);
    switch (client_opts_parse(&o, argc, argv, err, sizeof(err))) {
    case OPTS_HELP:
        fputs(client_help, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    case OPTS_VERSION:
        fputs("tcp_client " TCP_SERVER_VERSION "\n", stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    case OPTS_USAGE:
        return usage_exit(err);
    case OPTS_OK:
        break;
    }
    log_init("client", o.verbose);
    memset(&src, 0, sizeof(src));
    if (o.file != NULL) {
        r = load_file(o.file, &in);
        if (r < 0) {
            fprintf(stderr, "tcp_client: cannot read %s: %s\n", o.file,
                    strerror(-r));
            return 2;
        }
        src.lines = true;
        src.buf = in.data;
        src.len = in.len;
        nreq = count_lines(&src, o.file);
        if (nreq < 0) {
            input_free(&in);
            return 2;
        }
    } else if (o.message_stdin) {
        r = read_all(STDIN_FILENO, PROTO_MAX_LEN, &in);
        if (r == -EMSGSIZE) {
            fprintf(stderr,
                    "tcp_client: message too long (more than %u "
                    "bytes)\n",
                    PROTO_MAX_LEN);
            return 1;
        }
        if (r < 0) {
            fprintf(stderr, "tcp_client: cannot read stdin: %s\n",
                    strerror(-r));
            return 1;
        }
        src.action = o.action;
        src.msg = in.data;
        src.msglen = in.len;
    } else {
        src.action = o.action;
        src.msg = (const uint8_t *)o.message;
        src.msglen = strlen(o.message);
    }

    fd = net_connect(o.host, o.port, CONNECT_TIMEOUT_MS);
    if (fd < 0) {
        net_error_message(fd, NET_OP_CONNECT, o.host, o.port, err, sizeof(err));
        fprintf(stderr, "tcp_client: %s\n", err);
        goto out;
    }
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    /* A raw stdin message comes back raw; anything else gets a newline. */
    r = client_exchange(fd, &src, (size_t)nreq, !o.message_stdin,
                        seconds_to_ms(o.timeout), stdout, &res, err,
                        sizeof(err));
    if (fflush(stdout) != 0 && r == 0) {
        snprintf(err, sizeof(err), "cannot write the answer: %s",
                 strerror(errno));
        r = -EIO;
    }
    if (r < 0)
        fprintf(stderr, "tcp_client: %s\n", err);
    else if (res.server_errors == 0)
        status = 0;
    log_debug("%zu answers, %zu error answers", res.answered,
              res.server_errors);
out:
    if (fd >= 0)
        close(fd);
    input_free(&in);
    return status;
}
