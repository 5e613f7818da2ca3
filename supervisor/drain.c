/*
 * The drain decision of the supervisor (see drain.h).
 */
#include "drain.h"

enum drain_action drain_decide(const struct drain_input *in, uint64_t *until_ms)
{
    uint64_t until;

    if (!in->agent)
        return DRAIN_STOP_NOW;
    until = in->stop_ms + in->timeout_ms;
    if (in->answered && in->answered_ms + DRAIN_GRACE_MS < until)
        until = in->answered_ms + DRAIN_GRACE_MS;
    if (in->now_ms >= until)
        return DRAIN_STOP_NOW;
    *until_ms = until;
    return DRAIN_WAIT;
}
