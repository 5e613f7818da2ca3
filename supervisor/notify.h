/*
 * Readiness and state for systemd: the sd_notify(3) protocol, implemented
 * here (a datagram to $NOTIFY_SOCKET) rather than linked from libsystemd.
 * Only the supervisor sends: notify_open() takes NOTIFY_SOCKET out of the
 * environment, so the workers it starts never see it.
 *
 *   READY=1      once every slot has a ready worker (and again once every
 *                slot has a ready worker of a reload's new generation)
 *   RELOADING=1  with MONOTONIC_USEC=, when SIGHUP starts a reload
 *   STOPPING=1   when a stop begins
 *   STATUS=...   one line (address, workers ready/configured, restarts),
 *                with each of the above and whenever it changes
 *
 * Without NOTIFY_SOCKET every call is a silent no-op, and a failing send is
 * logged at debug level only: it never affects serving. Every function
 * accepts a NULL struct notify and does nothing then.
 */
#ifndef TCP_SERVER_NOTIFY_H
#define TCP_SERVER_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* What the supervisor is doing, for the message and its STATUS line. */
enum notify_event {
    NOTIFY_STATUS,    /* only STATUS= */
    NOTIFY_READY,     /* READY=1 */
    NOTIFY_RELOADING, /* RELOADING=1, MONOTONIC_USEC= */
    NOTIFY_STOPPING,  /* STOPPING=1 */
};

/* What the STATUS= line says. */
struct notify_status {
    const char *listen;  /* "127.0.0.1:8083" */
    unsigned ready;      /* slots with a ready worker (current generation) */
    unsigned configured; /* -w N */
    unsigned long restarts;
    bool reloading;
    bool stopping;
};

#define NOTIFY_MSG_MAX 512

/*
 * Formats the datagram for ev (pure): e.g. "READY=1\nSTATUS=listening on
 * 127.0.0.1:8083, 2/2 workers ready, 0 restarts". mono_usec is used for
 * NOTIFY_RELOADING only. Returns the length, or -ENOSPC.
 */
int notify_format(char *buf, size_t len, enum notify_event ev,
                  const struct notify_status *st, uint64_t mono_usec);

/*
 * Turns a NOTIFY_SOCKET value into a Unix address (pure): an absolute path,
 * or an abstract name when it starts with '@'. 0, or -EINVAL for anything
 * else (empty, relative, too long).
 */
int notify_parse_addr(const char *value, struct sockaddr_un *addr,
                      socklen_t *addrlen);

struct notify {
    int fd; /* -1: notifications off */
    struct sockaddr_un addr;
    socklen_t addrlen;
    struct notify_status st;
    char listen[96];
    bool ready_sent;           /* READY=1 sent for the current generation */
    char last[NOTIFY_MSG_MAX]; /* the last STATUS= sent, to skip repeats */
};

/*
 * Reads and unsets NOTIFY_SOCKET, and opens the datagram socket when it is
 * set and valid (an invalid value is a warning: notifications off).
 * listen is the listening address for STATUS=; configured is -w N.
 */
void notify_open(struct notify *n, const char *listen, unsigned configured);

/* Closes the socket. */
void notify_close(struct notify *n);

/*
 * The number of slots with a ready worker changed (or may have): sends
 * READY=1 when it reaches every slot for the first time in this
 * generation, otherwise STATUS= when the line changed.
 */
void notify_workers(struct notify *n, unsigned ready);

/* The restarts so far (workers replaced after a crash or a failed start),
 * for the next STATUS= line: the supervisor's metrics counters, so a
 * scrape and systemctl status agree. */
void notify_restarts(struct notify *n, unsigned long total);

/* SIGHUP: RELOADING=1; READY=1 follows when the new generation is ready. */
void notify_reloading(struct notify *n);

/* The stop began: STOPPING=1. */
void notify_stopping(struct notify *n);

#endif
