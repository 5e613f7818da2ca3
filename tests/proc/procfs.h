/*
 * /proc views of the processes under test: the fields of /proc/PID/stat
 * (state, parent, CPU time, start time), figures of /proc/PID/status, open
 * descriptors, the children of a process, whether it blocks in accept(),
 * and the TCP sockets of /proc/net/tcp and tcp6 (states, queues, which
 * process holds which connection). Functions return 0 or a count on
 * success and a negative errno on failure; the tests make the assertions.
 */
#ifndef TCP_SERVER_TESTS_PROCFS_H
#define TCP_SERVER_TESTS_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* TCP states as /proc/net/tcp numbers them. */
#define PROCFS_TCP_ESTABLISHED 0x01
#define PROCFS_TCP_TIME_WAIT   0x06
#define PROCFS_TCP_LISTEN      0x0a

/* The fields of /proc/PID/stat the tests use. */
struct procfs_stat {
    char state;               /* R, S, D, Z, X... */
    pid_t ppid;               /* field 4 */
    unsigned long long utime; /* field 14, clock ticks */
    unsigned long long stime; /* field 15, clock ticks */
    unsigned long long start; /* field 22: tells a reused pid apart */
};

/*
 * Reads /proc/PID/stat into *st (zeroed on failure). 0, or -errno when the
 * process is gone, -EIO when the file has an unexpected form.
 */
int procfs_read_stat(pid_t pid, struct procfs_stat *st);

/* True while pid exists and is not a zombie. */
bool procfs_pid_alive(pid_t pid);

/*
 * Fills pids with the live children of parent (at most max) and returns their
 * count, or -errno. Reads /proc/PID/stat of every process.
 */
int procfs_children(pid_t parent, pid_t *pids, size_t max);

/* user + system CPU time of pid in milliseconds, or -errno. */
int64_t procfs_cpu_ms(pid_t pid);

/*
 * The pid of a live process whose command line is exactly argv0 followed by
 * the arguments in args (NULL-terminated) and possibly more, or -ESRCH.
 */
pid_t procfs_find_process(const char *argv0, const char *const args[]);

/*
 * The number after "field:" at the start of a line of /proc/PID/status, in
 * base (10 for "VmRSS:   1234 kB", 16 for "SigBlk: 0000000000000000"). 0,
 * -ENOENT when the field is missing, -EPROTO when no number follows, or
 * -errno.
 */
int procfs_status_num(pid_t pid, const char *field, int base,
                      unsigned long long *v);

/*
 * A "Name:   value kB" field of /proc/PID/status (VmRSS, VmHWM, VmSize...) in
 * KiB, or -errno (-ENOENT when the field is missing).
 */
long procfs_status_kb(pid_t pid, const char *field);

/* Number of open descriptors of pid (entries of /proc/PID/fd), or -errno. */
int procfs_count_fds(pid_t pid);

/*
 * True when pid is blocked in accept() or accept4() (from /proc/PID/syscall,
 * or the wait channel where that file cannot be read).
 */
bool procfs_in_accept(pid_t pid);

/*
 * Polls until pid is blocked in accept, for at most timeout_ms. 0 or
 * -ETIMEDOUT.
 */
int procfs_wait_in_accept(pid_t pid, int timeout_ms);

/*
 * Polls until pid is blocked in recv() (recvfrom), for at most timeout_ms.
 * 0 or -ETIMEDOUT.
 */
int procfs_wait_in_recv(pid_t pid, int timeout_ms);

/* The fields of one socket line of /proc/net/tcp or tcp6 the tests use. */
struct procfs_tcp_line {
    unsigned lport, rport;       /* local and remote port */
    unsigned st;                 /* TCP state, numbered as the kernel does */
    unsigned long long txq, rxq; /* bytes in the send and receive queues */
    unsigned long long inode;    /* of the socket, as in /proc/PID/fd links */
};

/*
 * Parses one socket line of /proc/net/tcp or tcp6 (the column titles are
 * not one). Returns 0, or -EINVAL when the line does not have that form.
 */
int procfs_parse_tcp_line(const char *line, struct procfs_tcp_line *t);

/*
 * Bytes the server application has not read yet on the connection between
 * server_port and our client_port (rx_queue of /proc/net/tcp and tcp6), or
 * -ENOENT when no such socket exists.
 */
long procfs_server_rxq(unsigned server_port, unsigned client_port);

/* Number of TCP sockets with local port port in state st, or -errno. */
int procfs_count_tcp_state(unsigned port, unsigned st);

/*
 * 1 when process pid holds a TCP socket connected to client_port (the local
 * port of the client), 0 when not, or -errno.
 */
int procfs_serves_port(pid_t pid, unsigned client_port);

#endif
