/*
 * Exponential respawn back-off (see backoff.h). Kept apart from the event
 * loop so the policy is one small, tested function.
 */
#include "backoff.h"

unsigned backoff_delay_ms(unsigned consecutive_failures)
{
    unsigned delay = BACKOFF_BASE_MS;

    if (consecutive_failures == 0)
        return 0;
    /* Double step by step and stop at the cap, so no shift can overflow. */
    for (unsigned i = 1; i < consecutive_failures; i++) {
        if (delay >= BACKOFF_CAP_MS / 2)
            return BACKOFF_CAP_MS;
        delay *= 2;
    }
    return delay < BACKOFF_CAP_MS ? delay : BACKOFF_CAP_MS;
}
