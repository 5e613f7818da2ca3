/*
 * The CPU time of a process tree from /proc (see bench_cpu.h). Processes
 * that exit during a run take their time with them; the benchmarks sample
 * a server whose processes live through the run.
 */
#include "bench_cpu.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

int bench_cpu_parse_schedstat(const char *line, uint64_t *ns)
{
    char num[24];
    size_t n = strspn(line, "0123456789");

    if (n == 0 || n >= sizeof(num) ||
        (line[n] != ' ' && line[n] != '\n' && line[n] != '\0'))
        return -EINVAL;
    memcpy(num, line, n);
    num[n] = '\0';
    return opts_parse_u64(num, 0, UINT64_MAX, ns) < 0 ? -EINVAL : 0;
}

int bench_cpu_parse_children(const char *text, pid_t *pids, size_t max)
{
    size_t count = 0;

    while (*text != '\0') {
        char num[16];
        size_t n;
        uint64_t v;

        if (*text == ' ' || *text == '\n') {
            text++;
            continue;
        }
        n = strspn(text, "0123456789");
        if (n == 0 || n >= sizeof(num))
            return -EINVAL;
        memcpy(num, text, n);
        num[n] = '\0';
        if (opts_parse_u64(num, 1, INT32_MAX, &v) < 0)
            return -EINVAL;
        if (count < max)
            pids[count++] = (pid_t)v;
        text += n;
    }
    return (int)count;
}

/* Reads a small /proc file into buf (NUL-terminated): 0 or -errno. */
static int read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    size_t n;
    int r = 0;

    /* Whatever fread leaves, the text ends within the buffer. */
    memset(buf, 0, len);
    if (f == NULL)
        return -errno;
    n = fread(buf, 1, len - 1, f);
    if (ferror(f))
        r = -EIO;
    buf[n] = '\0';
    fclose(f);
    return r;
}

/*
 * Adds the run time of each thread of pid to *ns and appends the children
 * of each thread to the queue. 0, or -errno when pid cannot be read.
 */
static int add_process(pid_t pid, uint64_t *ns, pid_t *queue, size_t *tail)
{
    char path[64], buf[4096];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    d = opendir(path);
    if (d == NULL)
        return -errno;
    while ((de = readdir(d)) != NULL) {
        uint64_t t;
        int n;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%.16s/schedstat",
                 (long)pid, de->d_name);
        if (read_small(path, buf, sizeof(buf)) == 0 &&
            bench_cpu_parse_schedstat(buf, &t) == 0)
            *ns += t;
        snprintf(path, sizeof(path), "/proc/%ld/task/%.16s/children", (long)pid,
                 de->d_name);
        if (read_small(path, buf, sizeof(buf)) != 0)
            continue;
        n = bench_cpu_parse_children(buf, queue + *tail,
                                     BENCH_CPU_MAX_PROCS - *tail);
        if (n > 0)
            *tail += (size_t)n;
    }
    closedir(d);
    return 0;
}

int bench_cpu_tree_ns(pid_t pid, uint64_t *ns)
{
    pid_t *queue = malloc(BENCH_CPU_MAX_PROCS * sizeof(*queue));
    size_t head = 0, tail = 1;
    int r;

    if (queue == NULL)
        return -ENOMEM;
    *ns = 0;
    queue[0] = pid;
    r = add_process(pid, ns, queue, &tail);
    /* A descendant that exits meanwhile is skipped, not an error. */
    for (head = 1; r == 0 && head < tail; head++)
        (void)add_process(queue[head], ns, queue, &tail);
    free(queue);
    return r;
}
