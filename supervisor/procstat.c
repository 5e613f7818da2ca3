/*
 * /proc/self and TCP_INFO readings for the metrics (see procstat.h).
 * For a listening socket, Linux reports the accept queue's length in
 * tcpi_unacked and its limit in tcpi_sacked (tcp_get_info()).
 */
#include "procstat.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads a small file into buf (NUL-terminated); its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* Seconds since the epoch at which the machine booted, or -1. */
static double boot_time(void)
{
    char buf[8192];
    const char *p;

    if (read_small("/proc/stat", buf, sizeof(buf)) < 0)
        return -1;
    p = strstr(buf, "\nbtime ");
    return p != NULL ? strtod(p + 7, NULL) : -1;
}

/*
 * /proc/self/stat: after the command name in parentheses (which may hold
 * anything, hence the last ')'), field 3 is the state; utime and stime are
 * fields 14 and 15, starttime 22 and rss (pages) 24.
 */
static void self_stat(struct metrics_snapshot *m)
{
    char buf[1024];
    char *p, *end;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    double v[25] = {0};
    double boot;

    if (read_small("/proc/self/stat", buf, sizeof(buf)) < 0 ||
        (p = strrchr(buf, ')')) == NULL || ticks <= 0 || page <= 0)
        return;
    p += 2; /* ") " */
    /* Skip the state letter; fields 4 onwards are numbers. */
    p = strchr(p, ' ');
    for (int f = 4; p != NULL && f <= 24; f++) {
        v[f] = strtod(p, &end);
        if (end == p)
            return;
        p = end;
    }
    m->cpu_seconds = (v[14] + v[15]) / ticks;
    m->resident_bytes = v[24] * page;
    boot = boot_time();
    if (boot >= 0)
        m->start_time_seconds = boot + v[22] / ticks;
}

static void open_fds(struct metrics_snapshot *m)
{
    DIR *d = opendir("/proc/self/fd");
    const struct dirent *e;
    double n = 0;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    /* The directory stream's own descriptor is not ours to count. */
    m->open_fds = n - 1;
}

void procstat_fill(struct metrics_snapshot *m, int listen_fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    self_stat(m);
    open_fds(m);
    if (listen_fd >= 0 &&
        getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
        m->listen_queue = ti.tcpi_unacked;
        m->listen_queue_known = true;
    }
}
