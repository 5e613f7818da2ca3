/*
 * Hostile clients (the hardening issue): a few hundred connections that send
 * random bytes, random requests with valid and invalid actions, truncated
 * bodies, that reset the connection while a large answer is being written,
 * or that connect and go silent. After each hostile client a well-behaved
 * client on a fresh connection must get correct answers. At the end no
 * worker has died or been replaced, the server has logged no error or
 * warning (it runs without -v, so only those would appear), and SIGINT stops
 * it with status 0.
 *
 * The server runs two workers with --idle-timeout 1. A silent connection
 * holds its worker until the idle timeout (a worker serves one client at a
 * time), so at most one is open at a time while the others are served by
 * the second worker; a final round opens more silent connections than there
 * are workers and checks that a good client queued behind them is served.
 *
 * The run is reproducible: the PRNG seed is printed at the start and
 * TCP_SERVER_TEST_SEED overrides it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ensure.h"
#include "harness.h"
#include "procfs.h"
#include "wire.h"
#include "proto.h"
#include "rng.h"

#define HOSTILE_CLIENTS 300
#define DEFAULT_SEED    20261125u
#define WORKERS         2
/* Iterations between two silent connections of the main phase. */
#define SILENT_EVERY 15
#define MAX_SILENT   8
/* Silent connections of the final round: more than the workers. */
#define FINAL_SILENT 3
/* Lower bound of a silent connection's life (--idle-timeout 1). */
#define IDLE_MIN_MS 900
/* Upper bound: the timeout plus a generous allowance for load. */
#define SILENT_MAX_MS harness_ms(10000)
#define BIG_IO_MS     harness_ms(60000)

enum kind {
    K_CLOSE_AT_ONCE,
    K_RANDOM_BYTES,
    K_RANDOM_REQUESTS,
    K_TRUNCATED,
    K_RESET_MID_ANSWER,
    K_KINDS
};

static const char *const kind_names[K_KINDS] = {
    "close at once", "random bytes", "random requests", "truncated body",
    "reset mid-answer"};

/* How a hostile connection ends. */
enum ending { E_CLOSE, E_RESET, E_HALF_CLOSE };

struct silent {
    int fd;
    int64_t t0;
};

struct run {
    struct harness *h;
    struct harness_proc *srv;
    struct rng rng;        /* the hostile and good clients */
    struct rng silent_rng; /* silent ones, whose timing varies */
    struct silent silent[MAX_SILENT];
    size_t nsilent;
    unsigned kinds[K_KINDS];
    unsigned silent_total, requests_checked;
    int64_t silent_min_ms, silent_max_ms;
};

static uint64_t draw(struct run *r, uint64_t bound)
{
    return rng_below(&r->rng, bound);
}

static void fill_random(struct run *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next(&r->rng);
}

/* Printable ASCII: reverse, shuffle and random then work byte by byte. */
static void fill_ascii(struct run *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(0x20 + draw(r, 0x5f));
}

/* Reads and discards until the server closes; fails after a bound. */
static void drain_to_eof(int fd)
{
    static uint8_t sink[65536];
    ssize_t n;

    do {
        n = wire_recv_exact(fd, sink, sizeof(sink), HARNESS_IO_MS);
    } while (n == (ssize_t)sizeof(sink));
    if (n < 0 && n != -ECONNRESET)
        fprintf(stderr, "server did not close a half-closed connection: %s\n",
                strerror((int)-n));
    assert_true(n >= 0 || n == -ECONNRESET);
}

/* Ends a hostile connection as chosen. */
static void end_connection(struct run *r, int fd, enum ending e)
{
    switch (e) {
    case E_CLOSE:
        harness_close_fd(r->h, fd);
        break;
    case E_RESET:
        assert_int_equal(wire_reset_close(r->h, fd), 0);
        break;
    case E_HALF_CLOSE:
        /* The server must notice the end, mid-request or not, and close. */
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        drain_to_eof(fd);
        harness_close_fd(r->h, fd);
        break;
    }
}

static enum ending pick_ending(struct run *r)
{
    return (enum ending)draw(r, 3);
}

/* Sends buf, ignoring a server that stopped reading or closed. */
static void send_best_effort(int fd, const uint8_t *buf, size_t len)
{
    int e = wire_send_all(fd, buf, len, HARNESS_IO_MS);

    assert_true(e == 0 || e == -EPIPE || e == -ECONNRESET);
}

/*
 * Every hostile client builds its bytes before it connects: with
 * --idle-timeout 1, a client slow to start (ASan on a loaded machine) would
 * be dropped for its silence, which is right but not what is tested here.
 */
static int connect_client(struct run *r)
{
    return ensure_connect(r->h, r->srv);
}

static void hostile_random_bytes(struct run *r)
{
    size_t n = 1 + draw(r, 65536);
    uint8_t *buf = malloc(n);
    int fd;

    assert_non_null(buf);
    fill_random(r, buf, n);
    fd = connect_client(r);
    send_best_effort(fd, buf, n);
    free(buf);
    end_connection(r, fd, pick_ending(r));
}

/* A random action 0..31, known ones more often. */
static unsigned pick_action(struct run *r)
{
    static const unsigned known[] = {PROTO_UPPERCASE, PROTO_LOWERCASE,
                                     PROTO_REVERSE, PROTO_SHUFFLE,
                                     PROTO_RANDOM};

    if (draw(r, 3) == 0)
        return (unsigned)draw(r, 32);
    return known[draw(r, 5)];
}

static size_t pick_length(struct run *r)
{
    switch (draw(r, 20)) {
    case 0:
        return draw(r, (uint64_t)300 * 1024);
    case 1:
    case 2:
    case 3:
        return draw(r, (uint64_t)16 * 1024);
    default:
        return draw(r, 257);
    }
}

/* collapsed(out) is a subsequence of in: random keeps, drops, repeats. */
static bool random_answer_ok(const uint8_t *in, size_t in_len,
                             const uint8_t *out, size_t out_len)
{
    size_t pos = 0;

    if ((in_len == 0) != (out_len == 0))
        return false;
    for (size_t i = 0; i < out_len; i++) {
        if (i > 0 && out[i] == out[i - 1])
            continue;
        while (pos < in_len && in[pos] != out[i])
            pos++;
        if (pos == in_len)
            return false;
        pos++;
    }
    return true;
}

static bool permutation_ok(const uint8_t *in, const uint8_t *out, size_t n)
{
    long count[256] = {0};

    for (size_t i = 0; i < n; i++) {
        count[in[i]]++;
        count[out[i]]--;
    }
    for (size_t i = 0; i < 256; i++)
        if (count[i] != 0)
            return false;
    return true;
}

/* True when out is the right answer (or, for shuffle and random, a
 * possible one) to action applied to in. */
static bool answer_ok(unsigned action, const uint8_t *in, size_t n,
                      const uint8_t *out, size_t out_len)
{
    switch (action) {
    case PROTO_UPPERCASE:
    case PROTO_LOWERCASE:
        if (out_len != n)
            return false;
        for (size_t i = 0; i < n; i++) {
            uint8_t c = in[i];

            if (action == PROTO_UPPERCASE && c >= 'a' && c <= 'z')
                c = (uint8_t)(c - 'a' + 'A');
            if (action == PROTO_LOWERCASE && c >= 'A' && c <= 'Z')
                c = (uint8_t)(c - 'A' + 'a');
            if (out[i] != c)
                return false;
        }
        return true;
    case PROTO_REVERSE:
        if (out_len != n)
            return false;
        for (size_t i = 0; i < n; i++)
            if (out[i] != in[n - 1 - i])
                return false;
        return true;
    case PROTO_SHUFFLE:
        return out_len == n && permutation_ok(in, out, n);
    case PROTO_RANDOM:
        return random_answer_ok(in, n, out, out_len);
    default:
        return out_len == PROTO_ERROR_LEN &&
               memcmp(out, PROTO_ERROR_TEXT, PROTO_ERROR_LEN) == 0;
    }
}

/* One request of a random batch: where its data lies in the batch. */
struct batch_req {
    unsigned action;
    size_t off, len;
};

/* Builds up to 20 random requests; returns the batch and its length. */
static uint8_t *build_batch(struct run *r, struct batch_req *reqs, size_t *nreq,
                            size_t *len)
{
    size_t n = 1 + draw(r, 20), k = 0, total = 0, off = 0;
    uint8_t *buf;

    /* A do-while, because there is always a first request (the analyzer
     * cannot tell that n >= 1 and would see malloc(0) below). */
    do {
        reqs[k].action = pick_action(r);
        reqs[k].len = pick_length(r);
        total += 4 + reqs[k].len;
    } while (++k < n);
    buf = malloc(total);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) {
        unsigned a = reqs[i].action;

        proto_encode_request_header(buf + off, a, (uint32_t)reqs[i].len);
        reqs[i].off = off + 4;
        if (a == PROTO_REVERSE || a == PROTO_SHUFFLE || a == PROTO_RANDOM)
            fill_ascii(r, buf + off + 4, reqs[i].len);
        else
            fill_random(r, buf + off + 4, reqs[i].len);
        off += 4 + reqs[i].len;
    }
    *nreq = n;
    *len = total;
    return buf;
}

static void check_batch_answers(struct run *r, const uint8_t *batch,
                                const struct batch_req *reqs, size_t n,
                                const uint8_t *out, size_t out_len)
{
    size_t at = 0;

    for (size_t i = 0; i < n; i++) {
        const uint8_t *in = batch + reqs[i].off;
        uint32_t len;

        assert_true(out_len - at >= 4);
        len = proto_get_u32(out + at);
        assert_true(out_len - at - 4 >= len);
        if (!answer_ok(reqs[i].action, in, reqs[i].len, out + at + 4, len)) {
            fprintf(stderr, "request %zu of %zu (action %u) misanswered\n", i,
                    n, reqs[i].action);
            ensure_print_bytes("sent", in, reqs[i].len, 128);
            ensure_print_bytes("got", out + at + 4, len, 128);
            fail();
        }
        at += 4 + len;
        r->requests_checked++;
    }
    assert_int_equal(at, out_len);
}

static void hostile_random_requests(struct run *r)
{
    struct batch_req reqs[20];
    size_t n, len, out_len, piece;
    uint8_t *batch, *out = NULL, tail[4 + 64];
    int e, fd;

    batch = build_batch(r, reqs, &n, &len);
    /* Random piece sizes split headers and bodies anywhere. */
    piece = draw(r, 2) ? 0 : 1 + draw(r, 4096);
    fd = connect_client(r);
    e = wire_pump(fd, batch, len, piece, n, &out, &out_len, BIG_IO_MS);
    if (e < 0)
        fprintf(stderr, "random batch of %zu requests: %s\n", n, strerror(-e));
    assert_int_equal(e, 0);
    /* Then either leave, or start one more request and leave in it. */
    if (draw(r, 2)) {
        size_t cut = draw(r, sizeof(tail));

        proto_encode_request_header(tail, pick_action(r), 64 + draw(r, 1000));
        fill_random(r, tail + 4, 64);
        send_best_effort(fd, tail, cut);
    }
    end_connection(r, fd, pick_ending(r));
    /* Checked once the connection is over: checking takes a while. */
    check_batch_answers(r, batch, reqs, n, out, out_len);
    free(batch);
    free(out);
}

static void hostile_truncated(struct run *r)
{
    uint32_t announced = 1 + (uint32_t)draw(r, PROTO_MAX_LEN);
    size_t sent = draw(r, announced < 262144 ? announced : 262144);
    uint8_t *buf = malloc(4 + sent);
    int fd;

    assert_non_null(buf);
    proto_encode_request_header(buf, pick_action(r), announced);
    fill_random(r, buf + 4, sent);
    fd = connect_client(r);
    send_best_effort(fd, buf, 4 + sent);
    free(buf);
    end_connection(r, fd, pick_ending(r));
}

/* A large request, part of its answer read, then a reset. */
static void hostile_reset_mid_answer(struct run *r)
{
    static const unsigned actions[] = {PROTO_UPPERCASE, PROTO_LOWERCASE,
                                       PROTO_REVERSE};
    size_t n = (1u << 20) + draw(r, 3u << 20), want = draw(r, 65536);
    uint8_t *buf = malloc(4 + n);
    ssize_t got;
    int fd;

    assert_non_null(buf);
    proto_encode_request_header(buf, actions[draw(r, 3)], (uint32_t)n);
    fill_ascii(r, buf + 4, n);
    fd = connect_client(r);
    /* The worker keeps reading while it writes, so this cannot deadlock. */
    assert_int_equal(wire_send_all(fd, buf, 4 + n, BIG_IO_MS), 0);
    if (want > 0) {
        got = wire_recv_exact(fd, buf, want, BIG_IO_MS);
        assert_int_equal(got, (ssize_t)want);
    }
    free(buf);
    assert_int_equal(wire_reset_close(r->h, fd), 0);
}

static void hostile(struct run *r)
{
    enum kind k;
    unsigned d = (unsigned)draw(r, 20);

    /* 10% close at once, 25% bytes, 30% requests, 20% truncated, 15% reset. */
    k = d < 2    ? K_CLOSE_AT_ONCE
        : d < 7  ? K_RANDOM_BYTES
        : d < 13 ? K_RANDOM_REQUESTS
        : d < 17 ? K_TRUNCATED
                 : K_RESET_MID_ANSWER;
    r->kinds[k]++;
    switch (k) {
    case K_CLOSE_AT_ONCE:
        end_connection(r, connect_client(r), draw(r, 2) ? E_CLOSE : E_RESET);
        break;
    case K_RANDOM_BYTES:
        hostile_random_bytes(r);
        break;
    case K_RANDOM_REQUESTS:
        hostile_random_requests(r);
        break;
    case K_TRUNCATED:
        hostile_truncated(r);
        break;
    default:
        hostile_reset_mid_answer(r);
        break;
    }
}

/* A well-behaved client on a fresh connection. */
static void good_client(struct run *r)
{
    char in[65], up[65], rev[65];
    size_t n = 1 + draw(r, 64);
    int fd;

    for (size_t i = 0; i < n; i++) {
        in[i] = (char)('a' + draw(r, 26));
        up[i] = (char)(in[i] - 'a' + 'A');
        rev[n - 1 - i] = in[i];
    }
    fd = connect_client(r);
    ensure_exchange(fd, PROTO_UPPERCASE, in, n, up, n);
    ensure_exchange(fd, PROTO_REVERSE, in, n, rev, n);
    ensure_exchange(fd, 7, in, n, PROTO_ERROR_TEXT, PROTO_ERROR_LEN);
    harness_close_fd(r->h, fd);
}

/* Connects and goes silent: nothing, part of a header, or part of a body. */
static void open_silent(struct run *r)
{
    uint8_t req[4 + 16];
    int fd = ensure_connect(r->h, r->srv);
    size_t n = 0;

    assert_true(r->nsilent < MAX_SILENT);
    switch (rng_below(&r->silent_rng, 3)) {
    case 1:
        n = 1 + rng_below(&r->silent_rng, 3);
        break;
    case 2:
        n = 4 + rng_below(&r->silent_rng, 16);
        break;
    default:
        break;
    }
    proto_encode_request_header(req, PROTO_REVERSE, 1000);
    memset(req + 4, 's', 16);
    if (n > 0)
        assert_int_equal(wire_send_all(fd, req, n, HARNESS_IO_MS), 0);
    r->silent[r->nsilent].fd = fd;
    r->silent[r->nsilent].t0 = harness_now_ms();
    r->nsilent++;
    r->silent_total++;
}

/* True when the server has closed fd (EOF or reset); never blocks. */
static bool closed_by_server(int fd)
{
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

    if (n == 0 || (n < 0 && errno == ECONNRESET))
        return true;
    assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    return false;
}

/* Collects silent connections the server has dropped, checking when. */
static void reap_silent(struct run *r)
{
    for (size_t i = 0; i < r->nsilent;) {
        struct silent *s = &r->silent[i];
        int64_t age = harness_now_ms() - s->t0;

        if (!closed_by_server(s->fd)) {
            if (age > SILENT_MAX_MS)
                fprintf(stderr, "silent client still open after %lld ms\n",
                        (long long)age);
            assert_true(age <= SILENT_MAX_MS);
            i++;
            continue;
        }
        if (age < IDLE_MIN_MS)
            fprintf(stderr, "silent client dropped after only %lld ms\n",
                    (long long)age);
        assert_true(age >= IDLE_MIN_MS);
        if (r->silent_min_ms == 0 || age < r->silent_min_ms)
            r->silent_min_ms = age;
        if (age > r->silent_max_ms)
            r->silent_max_ms = age;
        harness_close_fd(r->h, s->fd);
        *s = r->silent[--r->nsilent];
    }
}

static void wait_silent_gone(struct run *r)
{
    while (r->nsilent > 0) {
        reap_silent(r);
        harness_pause_ms(10);
    }
}

/* More silent clients than workers, and a good client queued behind. */
static void final_silent_round(struct run *r)
{
    uint8_t req[4 + 5];
    int64_t t0 = harness_now_ms();
    int fd;

    for (int i = 0; i < FINAL_SILENT; i++)
        open_silent(r);
    fd = ensure_connect(r->h, r->srv);
    wire_encode(req, PROTO_LOWERCASE, "QUEUE", 5);
    assert_int_equal(wire_send_all(fd, req, sizeof(req), HARNESS_IO_MS), 0);
    /* Served once a worker has dropped its silent client. */
    ensure_response(fd, "queue", 5);
    fprintf(stderr,
            "good client queued behind %d silent ones served after %lld ms\n",
            FINAL_SILENT, (long long)(harness_now_ms() - t0));
    harness_close_fd(r->h, fd);
    wait_silent_gone(r);
}

static uint64_t test_seed(void)
{
    const char *e = getenv("TCP_SERVER_TEST_SEED");
    char *end;
    unsigned long long v;

    if (e == NULL || *e == '\0')
        return DEFAULT_SEED;
    v = strtoull(e, &end, 0);
    return *end == '\0' ? v : DEFAULT_SEED;
}

/* The sorted pids of srv's workers. */
static void worker_set(const struct harness_proc *srv, pid_t out[WORKERS])
{
    pid_t pids[WORKERS + 2];
    int n = procfs_children(srv->pid, pids, WORKERS + 2);

    assert_int_equal(n, WORKERS);
    if (pids[0] > pids[1]) {
        pid_t t = pids[0];
        pids[0] = pids[1];
        pids[1] = t;
    }
    memcpy(out, pids, sizeof(pid_t) * WORKERS);
}

/* Fails if the server logged an error, a warning or a worker's death. */
static void assert_quiet_log(const struct harness_proc *srv)
{
    static const char *const bad[] = {"ERROR", "WARN", "killed by signal",
                                      "exited with status"};
    char *err = NULL;
    size_t len;

    assert_int_equal(harness_read_file(srv->err_path, &err, &len), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (strstr(err, bad[i]) != NULL)
            fprintf(stderr, "server log has \"%s\":\n%s\n", bad[i], err);
        assert_null(strstr(err, bad[i]));
    }
    free(err);
}

static void test_hostile_clients(void **state)
{
    static const char *const extra[] = {"-w", "2", "--idle-timeout", "1", NULL};
    struct run r;
    pid_t before[WORKERS], after[WORKERS];
    int64_t t0 = harness_now_ms();

    memset(&r, 0, sizeof(r));
    r.h = *state;
    rng_seed(&r.rng, test_seed());
    rng_seed(&r.silent_rng, ~test_seed());
    fprintf(stderr, "seed %llu (TCP_SERVER_TEST_SEED=N to change it)\n",
            (unsigned long long)test_seed());
    r.srv = ensure_start_server(r.h, extra);
    assert_int_equal(harness_wait_children(r.srv, WORKERS, HARNESS_READY_MS),
                     WORKERS);
    worker_set(r.srv, before);

    for (unsigned i = 0; i < HOSTILE_CLIENTS; i++) {
        if (i % SILENT_EVERY == 0 && r.nsilent == 0)
            open_silent(&r);
        hostile(&r);
        good_client(&r);
        reap_silent(&r);
    }
    wait_silent_gone(&r);
    final_silent_round(&r);

    fprintf(stderr, "%d hostile clients in %lld ms:", HOSTILE_CLIENTS,
            (long long)(harness_now_ms() - t0));
    for (int k = 0; k < K_KINDS; k++)
        fprintf(stderr, " %s %u%s", kind_names[k], r.kinds[k],
                k + 1 < K_KINDS ? "," : "\n");
    fprintf(stderr,
            "%u random requests verified; %u silent clients dropped after "
            "%lld..%lld ms\n",
            r.requests_checked, r.silent_total, (long long)r.silent_min_ms,
            (long long)r.silent_max_ms);

    worker_set(r.srv, after);
    assert_memory_equal(before, after, sizeof(before));
    assert_quiet_log(r.srv);
    assert_int_equal(harness_kill(r.srv, SIGINT, false), 0);
    assert_int_equal(harness_wait_exit(r.srv, HARNESS_STOP_MS), 0);
    assert_true(WIFEXITED(r.srv->status));
    assert_int_equal(WEXITSTATUS(r.srv->status), 0);
    assert_quiet_log(r.srv);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_hostile_clients),
    };

    harness_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
