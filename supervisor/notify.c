/*
 * The sd_notify(3) protocol (see notify.h): one datagram per state change
 * on a socket of our own, sent without blocking. The formatting and the
 * address parsing are pure functions; the rest is a few system calls whose
 * failures are only logged at debug level.
 */
#include "notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define NOTIFY_ENV "NOTIFY_SOCKET"

static const char *const event_lines[] = {
    [NOTIFY_STATUS] = "",
    [NOTIFY_READY] = "READY=1\n",
    [NOTIFY_RELOADING] = "RELOADING=1\n",
    [NOTIFY_STOPPING] = "STOPPING=1\n",
};

int notify_format(char *buf, size_t len, enum notify_event ev,
                  const struct notify_status *st, uint64_t mono_usec)
{
    char mono[48] = "";
    const char *state = st->stopping    ? "stopping: "
                        : st->reloading ? "reloading: "
                                        : "";
    int n;

    if (ev == NOTIFY_RELOADING)
        snprintf(mono, sizeof(mono), "MONOTONIC_USEC=%llu\n",
                 (unsigned long long)mono_usec);
    n = snprintf(buf, len,
                 "%s%sSTATUS=%slistening on %s, workers ready %u/%u, "
                 "restarts %lu",
                 event_lines[ev], mono, state, st->listen, st->ready,
                 st->configured, st->restarts);
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    return n;
}

int notify_parse_addr(const char *value, struct sockaddr_un *addr,
                      socklen_t *addrlen)
{
    size_t len = value != NULL ? strlen(value) : 0;

    if (len < 2 || (value[0] != '/' && value[0] != '@') ||
        len >= sizeof(addr->sun_path))
        return -EINVAL;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, value, len);
    if (value[0] == '@') {
        /* Abstract: a leading NUL, and the length counts every byte. */
        addr->sun_path[0] = '\0';
        *addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        *addrlen =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    return 0;
}

void notify_open(struct notify *n, const char *listen, unsigned configured)
{
    const char *value = getenv(NOTIFY_ENV);

    memset(n, 0, sizeof(*n));
    n->fd = -1;
    snprintf(n->listen, sizeof(n->listen), "%s", listen);
    n->st.listen = n->listen;
    n->st.configured = configured;
    if (value == NULL)
        return;
    if (notify_parse_addr(value, &n->addr, &n->addrlen) < 0)
        log_warnx("%s='%s' is neither an absolute path nor an abstract "
                  "name: no readiness notification",
                  NOTIFY_ENV, value);
    else
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->addrlen > 0 && n->fd < 0)
        log_warn("cannot create the %s socket", NOTIFY_ENV);
    /* Only the supervisor speaks to systemd; workers inherit environ. */
    (void)unsetenv(NOTIFY_ENV);
}

void notify_close(struct notify *n)
{
    if (n != NULL && n->fd >= 0) {
        close(n->fd);
        n->fd = -1;
    }
}

static uint64_t monotonic_usec(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void send_event(struct notify *n, enum notify_event ev)
{
    char msg[NOTIFY_MSG_MAX];
    const char *status;
    int len;

    len = notify_format(msg, sizeof(msg), ev, &n->st,
                        ev == NOTIFY_RELOADING ? monotonic_usec() : 0);
    if (len < 0)
        return;
    status = strstr(msg, "STATUS=");
    if (ev == NOTIFY_STATUS && strcmp(status, n->last) == 0)
        return; /* nothing changed */
    snprintf(n->last, sizeof(n->last), "%s", status);
    if (n->fd < 0)
        return;
    if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT,
               (const struct sockaddr *)&n->addr, n->addrlen) < 0)
        log_debug("%s: cannot send: %s", NOTIFY_ENV, strerror(errno));
}

void notify_workers(struct notify *n, unsigned ready)
{
    if (n == NULL)
        return;
    n->st.ready = ready;
    if (!n->st.stopping && !n->ready_sent && ready >= n->st.configured) {
        n->ready_sent = true;
        n->st.reloading = false;
        send_event(n, NOTIFY_READY);
        return;
    }
    send_event(n, NOTIFY_STATUS);
}

void notify_restarts(struct notify *n, unsigned long total)
{
    if (n != NULL)
        n->st.restarts = total;
}

void notify_reloading(struct notify *n)
{
    if (n == NULL)
        return;
    n->ready_sent = false;
    n->st.reloading = true;
    n->st.ready = 0; /* the new generation has none yet */
    send_event(n, NOTIFY_RELOADING);
}

void notify_stopping(struct notify *n)
{
    if (n == NULL)
        return;
    n->st.stopping = true;
    n->st.reloading = false;
    send_event(n, NOTIFY_STOPPING);
}
