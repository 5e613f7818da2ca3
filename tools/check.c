/*
 * Answer checks for shuffle and random, and the test the client applies
 * before it calls an "error" answer the server's.
 */
#include "check.h"

#include <string.h>

#include "proto.h"
#include "xform.h"

bool check_permutation(const uint8_t *in, size_t inlen, const uint8_t *out,
                       size_t outlen)
{
    size_t counts[256] = {0};

    if (inlen != outlen)
        return false;
    for (size_t i = 0; i < inlen; i++)
        counts[in[i]]++;
    for (size_t i = 0; i < outlen; i++) {
        if (counts[out[i]] == 0)
            return false;
        counts[out[i]]--;
    }
    return true;
}

bool check_drawn(const uint8_t *in, size_t inlen, const uint8_t *out,
                 size_t outlen)
{
    size_t pos = 0; /* index of the last input byte matched, if matched */
    bool matched = false;

    if ((inlen == 0) != (outlen == 0))
        return false;
    for (size_t i = 0; i < outlen; i++) {
        const uint8_t *hit;
        size_t from;

        /* Staying on a match is never worse than moving on: repeats. */
        if (matched && in[pos] == out[i])
            continue;
        from = matched ? pos + 1 : 0;
        if (from >= inlen)
            return false;
        hit = memchr(in + from, out[i], inlen - from);
        if (hit == NULL)
            return false;
        pos = (size_t)(hit - in);
        matched = true;
    }
    return true;
}

bool check_could_spell_error(unsigned action, const uint8_t *msg, size_t len)
{
    static const uint8_t word[PROTO_ERROR_LEN] = {'e', 'r', 'r', 'o', 'r'};
    uint8_t tmp[PROTO_ERROR_LEN];

    switch (action) {
    case PROTO_UPPERCASE:
    case PROTO_LOWERCASE:
    case PROTO_REVERSE:
        if (len != PROTO_ERROR_LEN)
            return false;
        memcpy(tmp, msg, len);
        if (action == PROTO_UPPERCASE)
            xform_upper(tmp, len);
        else if (action == PROTO_LOWERCASE)
            xform_lower(tmp, len);
        else
            xform_reverse(tmp, len);
        return memcmp(tmp, word, sizeof(word)) == 0;
    case PROTO_SHUFFLE:
        return check_permutation(msg, len, word, sizeof(word));
    case PROTO_RANDOM:
        return check_drawn(msg, len, word, sizeof(word));
    default:
        return false;
    }
}
