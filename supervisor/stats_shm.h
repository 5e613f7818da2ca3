/*
 * The workers' counter blocks (common/wstats.h) in one memfd the supervisor
 * creates and maps, and every worker inherits and maps too. Each worker is
 * lent a block of its own when it starts and gives it back when it has been
 * reaped; the block keeps its values, and the next worker lent it adds to
 * them, so the sum over all blocks never goes backwards.
 *
 * There are WSTATS_PER_SLOT blocks per slot. A worker started
 * when every block is lent runs without one (its work goes uncounted, and
 * a warning says so).
 */
#ifndef TCP_SERVER_STATS_SHM_H
#define TCP_SERVER_STATS_SHM_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"
#include "wstats.h"

struct stats_shm {
    int fd; /* the memfd, close-on-exec; -1 when not open */
    struct wstats *blocks;
    size_t n;
    bool *lent;
};

/* Creates the memfd with n blocks and maps it. 0 or a negative errno. */
int stats_shm_open(struct stats_shm *s, size_t n);

/* Unmaps and closes; safe on a zeroed or closed struct with fd -1. */
void stats_shm_close(struct stats_shm *s);

/* Lends a free block: its index, or -ENOSPC when all are lent. */
int stats_shm_lend(struct stats_shm *s);

/* Takes back a block whose worker has been reaped. */
void stats_shm_give_back(struct stats_shm *s, int index);

/* True when block index is lent and its worker says it is serving. */
bool stats_shm_busy(const struct stats_shm *s, int index);

/* Adds every block's counters to m. */
void stats_shm_sum(const struct stats_shm *s, struct metrics_snapshot *m);

#endif
