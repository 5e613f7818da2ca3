/*
 * The supervisor's metrics helpers, used by its loop (supervisor.c).
 */
#ifndef TCP_SERVER_SUP_METRICS_H
#define TCP_SERVER_SUP_METRICS_H

#include <stddef.h>

#include "worker_cmd.h"

struct supervisor;

/*
 * Lends the worker about to start a counter block and names it in cmd;
 * the block, or -1 (no --metrics, or every block lent).
 */
int sup_lend_block(struct supervisor *sup, struct worker_cmd *cmd);

/* The counter blocks and the endpoint, with --metrics. 0 or -errno, with
 * a message in err. */
int sup_start_metrics(struct supervisor *sup, char *err, size_t errlen);

#endif
