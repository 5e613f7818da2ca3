/*
 * The shared counter blocks (see stats_shm.h). The memfd is sealed against
 * shrinking and growing, so no worker can truncate it under the supervisor
 * (which would make its reads fault).
 */
#include "stats_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int stats_shm_open(struct stats_shm *s, size_t n)
{
    size_t size = n * sizeof(struct wstats);
    void *p;
    int r;

    s->fd = -1;
    s->blocks = NULL;
    s->n = 0;
    s->lent = calloc(n, sizeof(*s->lent));
    if (s->lent == NULL)
        return -ENOMEM;
    s->fd = memfd_create("tcp_server-stats", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (s->fd < 0)
        goto fail;
    if (ftruncate(s->fd, (off_t)size) < 0 ||
        fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) <
            0)
        goto fail;
    p = mmap(NULL, size, PROT_READ, MAP_SHARED, s->fd, 0);
    if (p == MAP_FAILED)
        goto fail;
    s->blocks = p;
    s->n = n;
    return 0;
fail:
    r = -errno;
    stats_shm_close(s);
    return r;
}

void stats_shm_close(struct stats_shm *s)
{
    if (s->blocks != NULL)
        munmap(s->blocks, s->n * sizeof(struct wstats));
    if (s->fd >= 0)
        close(s->fd);
    free(s->lent);
    s->blocks = NULL;
    s->lent = NULL;
    s->fd = -1;
    s->n = 0;
}

int stats_shm_lend(struct stats_shm *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->lent[i]) {
            s->lent[i] = true;
            return (int)i;
        }
    }
    return -ENOSPC;
}

void stats_shm_give_back(struct stats_shm *s, int index)
{
    if (index >= 0 && (size_t)index < s->n)
        s->lent[index] = false;
}

bool stats_shm_busy(const struct stats_shm *s, int index)
{
    if (index < 0 || (size_t)index >= s->n || !s->lent[index])
        return false;
    return wstats_read(&s->blocks[index].busy) != 0;
}

void stats_shm_sum(const struct stats_shm *s, struct metrics_snapshot *m)
{
    for (size_t i = 0; i < s->n; i++)
        metrics_add_block(m, &s->blocks[i]);
}
