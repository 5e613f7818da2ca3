/*
 * CPU time of a server's whole process tree (the supervisor, its workers,
 * every thread of each), read from /proc/PID/task/TID/schedstat: nanoseconds
 * spent on a CPU, at scheduler resolution. tcp_bench samples it before and
 * after a run to report the server's CPU per unit of work, a steadier
 * figure than throughput on a small shared machine.
 */
#ifndef TCP_SERVER_TOOLS_BENCH_CPU_H
#define TCP_SERVER_TOOLS_BENCH_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Processes counted at most: a supervisor and its workers. */
#define BENCH_CPU_MAX_PROCS 1024

/*
 * Parses the first field of a schedstat line ("run_ns wait_ns slices").
 * Returns 0 with *ns set, or -EINVAL.
 */
int bench_cpu_parse_schedstat(const char *line, uint64_t *ns);

/*
 * Parses a /proc/PID/task/TID/children list ("12 34 ") into pids, at most
 * max. Returns how many, or -EINVAL for anything but numbers and spaces.
 */
int bench_cpu_parse_children(const char *text, pid_t *pids, size_t max);

/*
 * Sums the run time of every thread of pid and of all its descendants
 * (as they are now). Returns 0 with *ns set, or a negative errno when pid
 * itself cannot be read (gone, or no /proc).
 */
int bench_cpu_tree_ns(pid_t pid, uint64_t *ns);

#endif
