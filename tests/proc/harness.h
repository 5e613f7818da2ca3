/*
 * Harness for the process-level tests: starts the real tcp_server binary with
 * its output captured in a per-test temporary directory, waits until it
 * answers a request, talks the wire protocol as a client, and ends every
 * process it started, by pid, even when a test assertion fails (the cmocka
 * teardown calls harness_close). Functions return 0 or a count on success and
 * a negative errno on failure; the tests make the assertions. Every wait is a
 * poll against a deadline: nothing here sleeps to synchronise.
 */
#ifndef TCP_SERVER_TESTS_HARNESS_H
#define TCP_SERVER_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Generous bounds: the ASan build on a loaded 2-core machine is slow, and
 * under valgrind everything is ten times slower again, so every wait is
 * scaled by harness_ms() (TCP_SERVER_TEST_SLOW, see below).
 */
#define HARNESS_READY_MS     harness_ms(10000) /* start to first answer */
#define HARNESS_STOP_MS      harness_ms(10000) /* SIGINT to exit, then KILL */
#define HARNESS_IO_MS        harness_ms(10000) /* one client exchange */
#define HARNESS_MAX_PROCS    32
#define HARNESS_MAX_FDS      64
#define HARNESS_MAX_CHILDREN 64

/* One process started by the harness. */
struct harness_proc {
    pid_t pid;          /* -1 when never started */
    bool reaped;        /* the harness collected its exit status */
    int status;         /* wait status, valid once reaped */
    unsigned port;      /* the -p port given to a server, or 0 */
    bool own_pgrp;      /* leads its own process group */
    char out_path[512]; /* its stdout */
    char err_path[512]; /* its stderr */
    /* Workers seen while the server ran, so orphans can be ended too. */
    pid_t children[HARNESS_MAX_CHILDREN];
    unsigned long long child_start[HARNESS_MAX_CHILDREN];
    size_t nchildren;
};

/* Per-test state: a temporary directory, processes and client sockets. */
struct harness {
    char dir[256];
    struct harness_proc procs[HARNESS_MAX_PROCS];
    size_t nprocs;
    int fds[HARNESS_MAX_FDS];
};

/*
 * ms multiplied by the factor in $TCP_SERVER_TEST_SLOW (a positive number,
 * default 1), for bounds that must stretch when the server runs under
 * valgrind. Only waits are scaled: a lower bound a test asserts is not.
 */
int harness_ms(int ms);

/* cmocka setup and teardown: *state is a struct harness. 0 or -1. */
int harness_setup(void **state);
int harness_teardown(void **state);

/* Paths of the binaries under test: environment first, then CMake's. */
const char *harness_server_bin(void);
const char *harness_worker_bin(void);

/*
 * Creates the temporary directory and ignores SIGPIPE in the test process.
 * Returns 0 or -errno. *out is freed by harness_close.
 */
int harness_open(struct harness **out);

/*
 * Ends every process still running (SIGINT, then SIGKILL after
 * HARNESS_STOP_MS; then any worker that outlived its supervisor), closes every
 * tracked socket, removes the temporary directory and frees h. NULL is a
 * no-op. Suitable as the body of a cmocka teardown.
 */
void harness_close(struct harness *h);

/* A TCP port of 127.0.0.1 that was free a moment ago, or -errno. */
int harness_free_port(void);

/*
 * Starts argv[0] with argv (NULL-terminated), stdout and stderr redirected to
 * files in the temporary directory, in its own process group when new_pgrp.
 * Does not wait for anything. *out points into h. Returns 0 or -errno.
 */
int harness_spawn(struct harness *h, char *const argv[], bool new_pgrp,
                  struct harness_proc **out);

/*
 * Starts tcp_server -p port followed by extra (NULL-terminated, may be NULL)
 * in its own process group, without waiting for anything. 0 or -errno.
 */
int harness_spawn_server(struct harness *h, unsigned port,
                         const char *const extra[], struct harness_proc **out);

/*
 * Starts tcp_server -p PORT followed by extra (NULL-terminated, may be NULL)
 * on a free port, and waits until a request on 127.0.0.1:PORT is answered
 * correctly (the listener exists before the worker, so a bare connect proves
 * nothing). When the server exits complaining that the port is in use, it
 * retries on another port. Returns 0 or -errno (-ETIMEDOUT when it never
 * answered, -ECHILD when it exited; the process is then already reaped).
 */
int harness_start_server(struct harness *h, const char *const extra[],
                         struct harness_proc **out);

/*
 * Polls until p exits, for at most timeout_ms. Returns 0 with the wait status
 * in p->status, or -ETIMEDOUT (the process keeps running).
 */
int harness_wait_exit(struct harness_proc *p, int timeout_ms);

/*
 * SIGINT, a bounded wait, then SIGKILL and reap if needed. Returns 0 with the
 * wait status in p->status. Also ends any worker that outlived the server.
 */
int harness_stop(struct harness_proc *p);

/* Sends sig to p (to its process group when group). 0 or -errno. */
int harness_kill(struct harness_proc *p, int sig, bool group);

/*
 * Fills pids with the live children of parent (at most max) and returns their
 * count, or -errno. Reads /proc/PID/stat of every process.
 */
int harness_children(pid_t parent, pid_t *pids, size_t max);

/*
 * Polls until parent has exactly n live children, for at most timeout_ms, and
 * records them as its workers. Returns n or -ETIMEDOUT.
 */
int harness_wait_children(struct harness_proc *p, size_t n, int timeout_ms);

/* True while pid exists and is not a zombie. */
bool harness_pid_alive(pid_t pid);

/*
 * Reads a whole file into a NUL-terminated heap buffer (*len excludes the
 * NUL). Returns 0 or -errno; free() *buf.
 */
int harness_read_file(const char *path, char **buf, size_t *len);

/* True when some line of text contains both word and the decimal pid, the
 * pid not being part of a longer number. */
bool harness_line_has(const char *text, const char *word, long pid);

/* Number of lines in text (a last line without '\n' counts). */
size_t harness_count_lines(const char *text);

/* --- client side ------------------------------------------------------- */

/*
 * Connects to 127.0.0.1:port within timeout_ms and returns a blocking socket
 * (SOCK_CLOEXEC, TCP_NODELAY), tracked by h so teardown closes it, or -errno.
 */
int harness_connect(struct harness *h, unsigned port, int timeout_ms);

/* Closes a socket returned by harness_connect and stops tracking it. */
void harness_close_fd(struct harness *h, int fd);

/* Writes all len bytes before timeout_ms. Returns 0 or -errno. */
int harness_send_all(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * Reads exactly len bytes before timeout_ms. Returns len, a smaller count when
 * the peer closed first, or -errno (-ETIMEDOUT, -ECONNRESET, ...).
 */
ssize_t harness_recv_exact(int fd, void *buf, size_t len, int timeout_ms);

/*
 * Waits up to timeout_ms for the peer to close the connection: 0 on EOF or
 * reset, -ETIMEDOUT if it stayed open, -EPROTO if data arrived instead.
 */
int harness_wait_closed(int fd, int timeout_ms);

/* Appends a request (header then data) to out, which must hold 4 + len. */
void harness_encode(uint8_t *out, unsigned action, const void *data,
                    uint32_t len);

/*
 * Reads one response: *data is a heap buffer of *len bytes plus a NUL (free()
 * it). Returns 0, -EPROTO when the peer closed mid-response, or -errno.
 */
int harness_read_response(int fd, uint8_t **data, uint32_t *len,
                          int timeout_ms);

/* Sends one request in a single write and reads its response (see
 * harness_read_response). */
int harness_request(int fd, unsigned action, const void *data, uint32_t len,
                    uint8_t **resp, uint32_t *resp_len);

/*
 * Sends req[0..len) in pieces of at most piece bytes (0: as many as the
 * socket takes) while reading whatever comes back, until everything is sent
 * and the bytes received hold nresp complete responses. Reading while
 * writing is what keeps a large pipelined batch from deadlocking against a
 * server that applies backpressure. *out is a heap buffer of *out_len bytes
 * (free() it, also on failure). Returns 0, -ETIMEDOUT when nothing moved for
 * idle_ms, -EPROTO when the peer closed first, or -errno.
 */
int harness_pump(int fd, const void *req, size_t len, size_t piece,
                 size_t nresp, uint8_t **out, size_t *out_len, int idle_ms);

/* --- /proc views of a process ------------------------------------------ */

/*
 * Reads the number in base (8, 10 or 16) at the start of s, which must begin
 * with a digit (no blanks, no sign), up to the first character that is not a
 * digit of base; *end (may be NULL) gets that position. Returns 0, -EINVAL
 * when s does not start with a number, or -ERANGE when it overflows; *v and
 * *end are only written on success.
 */
int harness_parse_num(const char *s, int base, unsigned long long *v,
                      const char **end);

/* The fields of one socket line of /proc/net/tcp or tcp6 the tests use. */
struct harness_tcp_line {
    unsigned lport, rport;       /* local and remote port */
    unsigned st;                 /* TCP state, numbered as the kernel does */
    unsigned long long txq, rxq; /* bytes in the send and receive queues */
    unsigned long long inode;    /* of the socket, as in /proc/PID/fd links */
};

/*
 * Parses one socket line of /proc/net/tcp or tcp6 (the column titles are
 * not one). Returns 0, or -EINVAL when the line does not have that form.
 */
int harness_parse_tcp_line(const char *line, struct harness_tcp_line *t);

/*
 * A "Name:   value kB" field of /proc/PID/status (VmRSS, VmHWM, VmSize...) in
 * KiB, or -errno (-ENOENT when the field is missing).
 */
long harness_status_kb(pid_t pid, const char *field);

/* Number of open descriptors of pid (entries of /proc/PID/fd), or -errno. */
int harness_count_fds(pid_t pid);

/*
 * True when pid is blocked in accept() or accept4() (from /proc/PID/syscall,
 * or the wait channel where that file cannot be read).
 */
bool harness_in_accept(pid_t pid);

/*
 * Polls until pid is blocked in accept, for at most timeout_ms. 0 or
 * -ETIMEDOUT.
 */
int harness_wait_in_accept(pid_t pid, int timeout_ms);

/*
 * Bytes the server application has not read yet on the connection between
 * server_port and our client_port (rx_queue of /proc/net/tcp and tcp6), or
 * -ENOENT when no such socket exists.
 */
long harness_server_rxq(unsigned server_port, unsigned client_port);

/*
 * Polls until every byte written on our socket fd has been read by the
 * server application: nothing left in our send queue (SIOCOUTQ) nor in the
 * server socket's receive queue. 0, -ETIMEDOUT or -errno.
 */
int harness_wait_consumed(int fd, unsigned server_port, int timeout_ms);

/* Monotonic milliseconds. */
int64_t harness_now_ms(void);

/* Sleeps for ms milliseconds (pacing only, never synchronisation). */
void harness_pause_ms(int ms);

#endif
