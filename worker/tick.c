/*
 * The periodic SIGALRM of tick.h. The handler does nothing: being
 * installed without SA_RESTART is what makes a blocking call return EINTR.
 */
#include "tick.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>

#define MS_PER_S  1000
#define US_PER_MS 1000

static void on_tick(int sig)
{
    (void)sig;
}

int tick_start(uint64_t period_ms)
{
    struct sigaction sa;
    struct itimerval it;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_tick;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the point of the tick */
    if (sigaction(SIGALRM, &sa, NULL) < 0)
        return -errno;
    it.it_interval.tv_sec = (time_t)(period_ms / MS_PER_S);
    it.it_interval.tv_usec = (suseconds_t)(period_ms % MS_PER_S * US_PER_MS);
    it.it_value = it.it_interval;
    if (setitimer(ITIMER_REAL, &it, NULL) < 0)
        return -errno;
    return 0;
}
