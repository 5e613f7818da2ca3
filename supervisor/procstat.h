/*
 * The supervisor's own process figures, named as the Prometheus client
 * libraries name them (process_start_time_seconds, process_cpu_seconds_total,
 * process_resident_memory_bytes, process_open_fds), read from /proc/self,
 * and the listening socket's accept queue from TCP_INFO. A figure that
 * cannot be read is left unknown in the snapshot (and left out of the
 * scrape) rather than reported as 0.
 */
#ifndef TCP_SERVER_PROCSTAT_H
#define TCP_SERVER_PROCSTAT_H

#include "metrics.h"

/* Fills m's process figures and, when listen_fd >= 0, its listen queue. */
void procstat_fill(struct metrics_snapshot *m, int listen_fd);

#endif
