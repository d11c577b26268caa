/*
 * cursor.c — the pull cursor, "<history id>-<epoch>" (proto_cursor.h).
 *
 * The reader is strict (no sign, no leading zeros, no upper-case hex, no
 * spaces): a cursor is only ever text this code wrote, so anything else is a
 * client's mistake, answered with bad_message rather than guessed at.
 */
#include "proto_cursor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int proto_epoch_valid(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; i < PROTO_EPOCH_CHARS; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[i] == '\0';
}

int proto_cursor_parse(const char *s, struct proto_cursor *out)
{
    static const char max[] = "9223372036854775807";
    size_t n = 0;
    int64_t id = 0;

    if (s == NULL)
        return -1;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0 || n > sizeof max - 1 || (n > 1 && s[0] == '0'))
        return -1;
    if (n == sizeof max - 1 && strncmp(s, max, n) > 0)
        return -1;
    if (s[n] != '\0' && (s[n] != '-' || !proto_epoch_valid(s + n + 1)))
        return -1;
    for (size_t i = 0; i < n; i++)
        id = id * 10 + (s[i] - '0');
    out->id = id;
    snprintf(out->epoch, sizeof out->epoch, "%s", s[n] == '-' ? s + n + 1 : "");
    return 0;
}

void proto_cursor_format(int64_t id, const char *epoch, char buf[PROTO_CURSOR_SIZE])
{
    snprintf(buf, PROTO_CURSOR_SIZE, "%" PRId64 "-%.8s", id, epoch);
}
