/*
 * errors.c — sentences for the codes sync/ returns.
 *
 * sync/ passes db/ and protocol/ codes up unchanged, so sync_strerror
 * answers all three ranges: PROTO_E* in (-100, 0), DB_E* in (-200, -100],
 * SYNC_E* in (-300, -200].
 */
#include "sync.h"

const char *sync_strerror(int err)
{
    if (err == 0)
        return "ok";
    if (err > PROTO_ERRNO_FIRST_ && err < 0)
        return proto_strerror(err);
    if (err > DB_ERRNO_FIRST_ && err <= PROTO_ERRNO_FIRST_)
        return db_strerror(err);
    switch (err) {
#define SYNC_ERRNO_CASE(name, text) \
    case SYNC_E##name:              \
        return text;
        SYNC_ERRNO_MAP(SYNC_ERRNO_CASE)
#undef SYNC_ERRNO_CASE
    default:
        return "unknown error";
    }
}
