/*
 * tcp_echo: the raw loopback baseline for tcp_bench --raw. It serves one
 * client at a time with blocking calls, like the worker, and writes back
 * every byte it reads, through a 256 KiB buffer, with no parsing at all:
 * the difference between its figures and the server's is what the protocol
 * handling costs.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "opts.h"

#define ECHO_DEFAULT_PORT 8084
#define ECHO_BUF          ((size_t)256 * 1024)

static const char echo_usage[] =
    "usage: tcp_echo [--help] [-v] [-p PORT] [-b ADDR]\n";

static const char echo_help[] =
    "usage: tcp_echo [--help] [-v] [-p PORT] [-b ADDR]\n"
    "\n"
    "Raw echo server, the baseline for 'tcp_bench --raw': one client at a\n"
    "time, every byte read is written back.\n"
    "\n"
    "  --help                 show this help message and exit\n"
    "  --version              print the version and exit\n"
    "  -v, --verbose          log connections to stderr\n"
    "  -p PORT, --port PORT   port to listen on (default 8084, 0: any free)\n"
    "  -b ADDR, --bind ADDR   address to bind (default 127.0.0.1)\n";

enum { OPT_HELP = 1, OPT_VERBOSE, OPT_PORT, OPT_BIND, OPT_VERSION };

static const struct opt_def echo_defs[] = {
    {"help", 0, false, OPT_HELP},       {"verbose", 'v', false, OPT_VERBOSE},
    {"port", 'p', true, OPT_PORT},      {"bind", 'b', true, OPT_BIND},
    {"version", 0, false, OPT_VERSION}, {NULL, 0, false, 0},
};

/* Writes all n bytes. 0 or a negative errno. */
static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Echoes one client until it closes. Returns the bytes echoed. */
static unsigned long long serve(int fd, uint8_t *buf)
{
    unsigned long long total = 0;

    for (;;) {
        ssize_t n = recv(fd, buf, ECHO_BUF, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                log_debug("receive: %s", strerror(errno));
            return total;
        }
        if (send_all(fd, buf, (size_t)n) < 0) {
            log_debug("send failed");
            return total;
        }
        total += (unsigned long long)n;
    }
}

static int usage(const char *msg)
{
    fprintf(stderr, "tcp_echo: %s\n%s", msg, echo_usage);
    return 2;
}

int main(int argc, char **argv)
{
    const char *bind_addr = "127.0.0.1";
    unsigned port = ECHO_DEFAULT_PORT;
    struct opt_iter it;
    const char *arg;
    char err[256];
    uint8_t *buf;
    uint64_t v;
    int verbose = 0;
    int lfd, lport;
    int id;

    opt_iter_init(&it, argc, argv);
    while ((id = opt_next(&it, echo_defs, &arg, err, sizeof(err))) != OPT_END) {
        switch (id) {
        case OPT_HELP:
            fputs(echo_help, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        case OPT_VERSION:
            fputs("tcp_echo " TCP_SERVER_VERSION "\n", stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        case OPT_VERBOSE:
            verbose++;
            break;
        case OPT_PORT:
            if (opts_parse_u64(arg, 0, 65535, &v) < 0) {
                snprintf(err, sizeof(err), "bad port '%s'", arg);
                return usage(err);
            }
            port = (unsigned)v;
            break;
        case OPT_BIND:
            bind_addr = arg;
            break;
        case OPT_POSITIONAL:
            snprintf(err, sizeof(err), "unexpected argument '%s'", arg);
            return usage(err);
        default:
            return usage(err);
        }
    }
    log_init("echo", verbose);
    signal(SIGPIPE, SIG_IGN);
    buf = malloc(ECHO_BUF);
    if (buf == NULL)
        fatalx("out of memory");
    lfd = net_listen(bind_addr, port);
    if (lfd < 0) {
        net_error_message(lfd, NET_OP_LISTEN, bind_addr, port, err,
                          sizeof(err));
        fprintf(stderr, "tcp_echo: %s\n", err);
        free(buf);
        return 1;
    }
    lport = net_local_port(lfd);
    if (lport < 0) {
        fprintf(stderr, "tcp_echo: %s\n", net_strerror(lport));
        close(lfd);
        free(buf);
        return 1;
    }
    fprintf(stderr, "tcp_echo: listening on %s port %d\n", bind_addr, lport);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        unsigned long long n;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                log_warn("accept");
                usleep(100000);
                continue;
            }
            log_warn("accept");
            break;
        }
        (void)net_set_nodelay(fd);
        n = serve(fd, buf);
        log_debug("client done: %llu bytes echoed", n);
        close(fd);
    }
    close(lfd);
    free(buf);
    return 1;
}
