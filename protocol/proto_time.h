/*
 * proto_time.h — time as the contract writes it and the tree reads it
 * (protocol/time.c): the hybrid logical clock that orders changes (§2.3),
 * the process's two clocks, and the date and RFC 3339 formats of §4.
 */
#ifndef VS_PROTO_TIME_H
#define VS_PROTO_TIME_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_HLC_MS_MAX 8640000000000000LL /* the largest JavaScript Date */
#define PROTO_HLC_COUNTER_MAX 2147483647LL

/* A change's hybrid logical clock: ms since the epoch, then a counter. */
struct proto_hlc {
    int64_t ms;
    int64_t counter;
};

/* Checks text against YYYY-MM-DD (a real calendar date, years 0001..9999). */
int proto_date_valid(const char *s, size_t len);
/*
 * Checks text against RFC 3339 date-time with a Z or ±hh:mm offset:
 * YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|±HH:MM), upper-case T and Z only,
 * seconds 00..59 (no leap second, which JavaScript cannot parse).
 */
int proto_datetime_valid(const char *s, size_t len);
/*
 * The instant of an RFC 3339 date-time (proto_datetime_valid) in ms since
 * the epoch, read as SQLite's julianday() reads it, so that the store's
 * SQL and C agree: the fraction rounded half up to the ms, offsets up to
 * ±14:00, nothing after 9999-12-31T23:59:59.999Z. 0 with *ms, else -1.
 */
int proto_datetime_ms(const char *s, size_t len, int64_t *ms);
/* Formats ms since the epoch as RFC 3339 UTC ("2026-11-29T17:04:15.123Z"); buf >= 32. */
void proto_format_time(int64_t ms, char *buf, size_t size);
/*
 * The one clock of the tree (protocol/time.c), any thread: proto_now_ms is
 * the wall clock in ms since the epoch (stamps, hlc, what is stored);
 * proto_mono_ms counts ms since boot and never steps back (deadlines, and
 * how long something took).
 */
int64_t proto_now_ms(void);
int64_t proto_mono_ms(void);

#endif
