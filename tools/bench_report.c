/*
 * Report formatting for tcp_bench. Latencies are kept in nanoseconds and
 * shown in microseconds. JSON keys are unique across the whole object, so a
 * shell script can pick a value with a plain pattern match.
 */
#include "bench_report.h"

#include <errno.h>

#include "proto.h"

static const char *const err_names[BENCH_ERR_COUNT] = {
    [BENCH_ERR_REFUSED] = "refused",
    [BENCH_ERR_CONNECT] = "connect",
    [BENCH_ERR_RESET] = "reset",
    [BENCH_ERR_SHORT] = "short_read",
    [BENCH_ERR_WRONG] = "wrong_answer",
    [BENCH_ERR_TIMEOUT] = "timeout",
    [BENCH_ERR_IO] = "io",
};

const char *bench_err_name(enum bench_err e)
{
    return e < BENCH_ERR_COUNT ? err_names[e] : "?";
}

enum bench_err bench_err_classify(enum bench_op op, int err)
{
    switch (err) {
    case ECONNREFUSED:
        return BENCH_ERR_REFUSED;
    case ECONNRESET:
    case EPIPE:
        return BENCH_ERR_RESET;
    case ETIMEDOUT:
        return BENCH_ERR_TIMEOUT;
    default:
        return op == BENCH_OP_CONNECT ? BENCH_ERR_CONNECT : BENCH_ERR_IO;
    }
}

uint64_t bench_stats_errors(const struct bench_stats *s)
{
    uint64_t n = 0;

    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        n += s->errors[i];
    return n;
}

double bench_stats_rate(const struct bench_stats *s)
{
    return s->elapsed > 0 ? (double)s->answers / s->elapsed : 0.0;
}

double bench_stats_mbps(const struct bench_stats *s)
{
    return s->elapsed > 0 ? (double)s->answer_bytes / s->elapsed / 1e6 : 0.0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static const char *action_text(unsigned action, char *buf, size_t len)
{
    const char *name = proto_action_name(action);

    if (name != NULL)
        return name;
    snprintf(buf, len, "action %u", action);
    return buf;
}

/* The server's CPU per answer in microseconds, per MiB of answer data in
 * milliseconds; 0 when there was no answer. */
static double cpu_per_answer_us(const struct bench_stats *s)
{
    return s->answers > 0 ? (double)s->server_cpu_ns / 1e3 / (double)s->answers
                          : 0.0;
}

static double cpu_per_mib_ms(const struct bench_stats *s)
{
    double mib = (double)s->answer_bytes / (1024.0 * 1024.0);

    return mib > 0 ? (double)s->server_cpu_ns / 1e6 / mib : 0.0;
}

void bench_report_text(FILE *f, const struct bench_opts *o,
                       const struct bench_stats *s)
{
    const struct bench_hist *h = &s->hist;
    char abuf[32];
    uint64_t nerr = bench_stats_errors(s);

    fprintf(f, "tcp_bench %s%s: %s port %u, %s, %llu-byte messages, ",
            bench_mode_name(o->mode), o->raw ? " --raw" : "", o->host, o->port,
            action_text(o->action, abuf, sizeof(abuf)),
            (unsigned long long)o->size);
    if (o->mode == BENCH_CONN)
        fprintf(f, "%u at a time\n", o->conns);
    else
        fprintf(f, "%u connection%s x %u in flight\n", o->conns,
                o->conns == 1 ? "" : "s", o->pipeline);
    fprintf(f, "  answers       %llu in %.3f s%s\n",
            (unsigned long long)s->answers, s->elapsed,
            s->interrupted ? " (interrupted)" : "");
    fprintf(f, "  throughput    %.0f %s/s, %.2f MB/s of answer data\n",
            bench_stats_rate(s),
            o->mode == BENCH_CONN ? "connections" : "requests",
            bench_stats_mbps(s));
    fprintf(f,
            "  latency us    min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  "
            "max %.1f  mean %.1f\n",
            us(h->total > 0 ? h->min : 0), us(bench_hist_percentile(h, 50)),
            us(bench_hist_percentile(h, 90)), us(bench_hist_percentile(h, 99)),
            us(h->max), bench_hist_mean(h) / 1000.0);
    if (s->server_cpu_valid)
        fprintf(f, "  server CPU    %.1f ms: %.3f us per %s, %.3f ms per MiB\n",
                (double)s->server_cpu_ns / 1e6, cpu_per_answer_us(s),
                o->mode == BENCH_CONN ? "connection" : "request",
                cpu_per_mib_ms(s));
    fprintf(f, "  errors        %llu", (unsigned long long)nerr);
    for (int i = 0; i < BENCH_ERR_COUNT; i++) {
        if (s->errors[i] > 0)
            fprintf(f, "  %s %llu", err_names[i],
                    (unsigned long long)s->errors[i]);
    }
    fputc('\n', f);
}

void bench_report_json(FILE *f, const struct bench_opts *o,
                       const struct bench_stats *s)
{
    const struct bench_hist *h = &s->hist;
    char abuf[32];

    fprintf(f,
            "{\"mode\":\"%s\",\"raw\":%s,\"host\":\"%s\",\"port\":%u,"
            "\"action\":\"%s\",\"size\":%llu,\"connections\":%u,"
            "\"pipeline\":%u,",
            bench_mode_name(o->mode), o->raw ? "true" : "false", o->host,
            o->port, action_text(o->action, abuf, sizeof(abuf)),
            (unsigned long long)o->size, o->conns, o->pipeline);
    fprintf(f,
            "\"answers\":%llu,\"elapsed_s\":%.6f,\"requests_per_s\":%.1f,"
            "\"mb_per_s\":%.3f,\"answer_bytes\":%llu,\"bytes_sent\":%llu,"
            "\"bytes_received\":%llu,\"connects\":%llu,\"interrupted\":%s,",
            (unsigned long long)s->answers, s->elapsed, bench_stats_rate(s),
            bench_stats_mbps(s), (unsigned long long)s->answer_bytes,
            (unsigned long long)s->bytes_sent,
            (unsigned long long)s->bytes_received,
            (unsigned long long)s->connections,
            s->interrupted ? "true" : "false");
    fprintf(f,
            "\"latency_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
            "\"p99\":%.1f,\"max\":%.1f,\"mean\":%.1f},",
            us(h->total > 0 ? h->min : 0), us(bench_hist_percentile(h, 50)),
            us(bench_hist_percentile(h, 90)), us(bench_hist_percentile(h, 99)),
            us(h->max), bench_hist_mean(h) / 1000.0);
    if (s->server_cpu_valid)
        fprintf(f,
                "\"server_cpu_ns\":%llu,\"server_cpu_us_per_answer\":%.4f,"
                "\"server_cpu_ms_per_mib\":%.4f,",
                (unsigned long long)s->server_cpu_ns, cpu_per_answer_us(s),
                cpu_per_mib_ms(s));
    fprintf(f, "\"errors\":{");
    for (int i = 0; i < BENCH_ERR_COUNT; i++)
        fprintf(f, "%s\"%s\":%llu", i > 0 ? "," : "", err_names[i],
                (unsigned long long)s->errors[i]);
    fprintf(f, "},\"errors_total\":%llu,\"ok\":%s}\n",
            (unsigned long long)bench_stats_errors(s),
            bench_stats_errors(s) == 0 && !s->interrupted ? "true" : "false");
}

void bench_report_progress(FILE *f, const struct bench_opts *o,
                           uint64_t answers, double rate, uint64_t errors,
                           double elapsed)
{
    fprintf(f, "\r%s: %llu answers, %.0f/s, %llu errors, %.1f s ",
            bench_mode_name(o->mode), (unsigned long long)answers, rate,
            (unsigned long long)errors, elapsed);
    fflush(f);
}

void bench_report_progress_clear(FILE *f)
{
    fputs("\r\033[K", f);
    fflush(f);
}
