/*
 * The supervisor's side of the metrics (DESIGN.md section 10): counter
 * blocks lent to workers, the snapshot a scrape renders, and the endpoint
 * started on the loop with --metrics.
 */
#include "sup_metrics.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "procstat.h"
#include "sup_types.h"

/*
 * Lends the worker about to start a counter block and names it in cmd;
 * the block, or -1 (no --metrics, or every block lent).
 */
int sup_lend_block(struct supervisor *sup, struct worker_cmd *cmd)
{
    int b;

    if (sup->shm.fd < 0)
        return -1;
    b = stats_shm_lend(&sup->shm);
    if (b < 0) {
        log_warnx("every counter block is lent: this worker's work will not "
                  "be counted");
        return -1;
    }
    cmd->stats_fd = WORKER_CMD_STATS_FD;
    cmd->stats_block = (unsigned)b;
    return b;
}

void supervisor_metrics(const struct supervisor *sup,
                        struct metrics_snapshot *m)
{
    metrics_snapshot_init(m);
    for (const struct worker *w = sup->workers; w != NULL; w = w->next) {
        if (!w->child.ready)
            m->workers[METRICS_STARTING]++;
        else if (stats_shm_busy(&sup->shm, w->block))
            m->workers[METRICS_BUSY]++;
        else
            m->workers[METRICS_READY]++;
    }
    memcpy(m->restarts, sup->restarts, sizeof(m->restarts));
    m->generation = sup->generation;
    stats_shm_sum(&sup->shm, m);
    procstat_fill(m, sup->listen_fd);
}

/* A metrics_http_render_fn; ctx is the supervisor. */
static long render_metrics(void *ctx, char *buf, size_t cap)
{
    struct metrics_snapshot m;

    supervisor_metrics(ctx, &m);
    return metrics_render(&m, buf, cap);
}

/* The counter blocks and the endpoint, with --metrics. 0 or -errno. */
int sup_start_metrics(struct supervisor *sup, char *err, size_t errlen)
{
    int r;

    if (sup->cfg->metrics_fd < 0)
        return 0;
    r = stats_shm_open(&sup->shm, (size_t)sup->cfg->workers * WSTATS_PER_SLOT);
    if (r < 0) {
        close(sup->cfg->metrics_fd);
        snprintf(err, errlen, "cannot create the counters' memory: %s",
                 strerror(-r));
        return r;
    }
    r = metrics_http_start(&sup->http, &sup->loop, sup->cfg->metrics_fd,
                           render_metrics, sup);
    if (r < 0)
        snprintf(err, errlen, "cannot serve metrics: %s", uv_strerror(r));
    return r;
}
