/*
 * tcp_server's metric families, their help text and labels, written with
 * the exposition writer. Counters are named with _total in the family
 * name, as the 0.0.4 text format and the client libraries write them.
 */
#include "metrics.h"

#include <math.h>
#include <string.h>

#include "expo.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const state_names[METRICS_STATE_N] = {"ready", "starting",
                                                         "busy"};
static const char *const restart_names[METRICS_RESTART_N] = {"crash", "startup",
                                                             "reload"};
static const char *const close_names[WSTATS_CLOSE_N] = {
    "client", "idle", "keepalive", "slow", "error", "shutdown"};
static const char *const action_names[WSTATS_ACTION_N] = {
    "uppercase", "lowercase", "reverse", "shuffle", "random", "invalid"};

const char *metrics_close_name(size_t reason)
{
    return reason < WSTATS_CLOSE_N ? close_names[reason] : NULL;
}

void metrics_snapshot_init(struct metrics_snapshot *m)
{
    memset(m, 0, sizeof(*m));
    m->start_time_seconds = NAN;
    m->cpu_seconds = NAN;
    m->resident_bytes = NAN;
    m->open_fds = NAN;
}

void metrics_add_block(struct metrics_snapshot *m, const struct wstats *b)
{
    m->connections += wstats_read(&b->connections);
    for (size_t i = 0; i < WSTATS_CLOSE_N; i++)
        m->closed[i] += wstats_read(&b->closed[i]);
    for (size_t i = 0; i < WSTATS_ACTION_N; i++)
        m->requests[i] += wstats_read(&b->requests[i]);
    m->received_bytes += wstats_read(&b->received_bytes);
    m->sent_bytes += wstats_read(&b->sent_bytes);
}

/* One family with one label taking each of names[0..n) in turn. */
static void labelled(struct expo *e, const char *name, const char *type,
                     const char *help, const char *label,
                     const char *const *names, const uint64_t *v, size_t n)
{
    expo_family(e, name, type, help);
    for (size_t i = 0; i < n; i++) {
        struct expo_label l = {label, names[i]};

        expo_sample_u64(e, name, &l, 1, v[i]);
    }
}

static void single(struct expo *e, const char *name, const char *type,
                   const char *help, uint64_t v)
{
    expo_family(e, name, type, help);
    expo_sample_u64(e, name, NULL, 0, v);
}

/* A process figure, left out when unknown. */
static void process(struct expo *e, const char *name, const char *type,
                    const char *help, double v)
{
    if (!isfinite(v) || v < 0)
        return;
    expo_family(e, name, type, help);
    expo_sample_f64(e, name, NULL, 0, v);
}

static void render_workers(struct expo *e, const struct metrics_snapshot *m)
{
    labelled(e, "tcp_server_workers", "gauge", "Worker processes by state.",
             "state", state_names, m->workers, ARRAY_LEN(state_names));
    labelled(e, "tcp_server_worker_restarts_total", "counter",
             "Workers started again, by reason.", "reason", restart_names,
             m->restarts, ARRAY_LEN(restart_names));
    single(e, "tcp_server_generation", "gauge",
           "Worker generation, incremented by each reload (SIGHUP).",
           m->generation);
    if (m->listen_queue_known)
        single(e, "tcp_server_listen_queue", "gauge",
               "Connections waiting in the listening socket's accept queue.",
               m->listen_queue);
}

static void render_traffic(struct expo *e, const struct metrics_snapshot *m)
{
    single(e, "tcp_server_connections_total", "counter",
           "Client connections accepted.", m->connections);
    labelled(e, "tcp_server_connections_closed_total", "counter",
             "Client connections closed by the server's workers, by reason.",
             "reason", close_names, m->closed, ARRAY_LEN(close_names));
    labelled(e, "tcp_server_requests_total", "counter",
             "Requests begun, by action.", "action", action_names, m->requests,
             ARRAY_LEN(action_names));
    single(e, "tcp_server_received_bytes_total", "counter",
           "Bytes received from clients.", m->received_bytes);
    single(e, "tcp_server_sent_bytes_total", "counter",
           "Bytes sent to clients.", m->sent_bytes);
}

static void render_process(struct expo *e, const struct metrics_snapshot *m)
{
    process(e, "process_start_time_seconds", "gauge",
            "Start time of the process since unix epoch in seconds.",
            m->start_time_seconds);
    process(e, "process_cpu_seconds_total", "counter",
            "Total user and system CPU time spent in seconds.", m->cpu_seconds);
    process(e, "process_resident_memory_bytes", "gauge",
            "Resident memory size in bytes.", m->resident_bytes);
    process(e, "process_open_fds", "gauge", "Number of open file descriptors.",
            m->open_fds);
}

long metrics_render(const struct metrics_snapshot *m, char *buf, size_t cap)
{
    struct expo e;

    expo_init(&e, buf, cap);
    render_workers(&e, m);
    render_traffic(&e, m);
    render_process(&e, m);
    return expo_finish(&e);
}
