/*
 * proto_cursor.h — the pull cursor of §2.4, spelled and read in one place
 * (protocol/cursor.c): the server writes every cursor it hands out with
 * proto_cursor_format, and the pull parser and the server read them back
 * with proto_cursor_parse.
 *
 * A cursor is "<history id>-<epoch>", e.g. "1240-9f3a01bc": the position in
 * the store's change feed and the store's epoch, 8 lower-case hex
 * characters that a copy made by `visitsync backup` does not share. The id
 * alone cannot tell a restored store's cursors from the ones it handed out
 * before the restore, since it soon issues the same numbers again; the
 * epoch can. "0" means "from the beginning"; a plain decimal id without an
 * epoch is what a server before epochs handed out. Both stay valid input.
 * Nothing here keeps state; any thread may call these.
 */
#ifndef VS_PROTO_CURSOR_H
#define VS_PROTO_CURSOR_H

#include <stdint.h>

#define PROTO_EPOCH_CHARS 8
/* The longest cursor, "9223372036854775807-xxxxxxxx", with its NUL. */
#define PROTO_CURSOR_SIZE 29

struct proto_cursor {
    int64_t id;                        /* the history id: 0 for "from the beginning" */
    char epoch[PROTO_EPOCH_CHARS + 1]; /* "" for "0" and for a cursor without an epoch */
};

/* True when s is an epoch: exactly PROTO_EPOCH_CHARS of 0-9 a-f. */
int proto_epoch_valid(const char *s);

/*
 * Reads a cursor: a decimal id from 0 to INT64_MAX without leading zeros,
 * optionally followed by '-' and an epoch. Returns 0 and fills *out, or -1
 * (out untouched) when s is not a cursor.
 */
int proto_cursor_parse(const char *s, struct proto_cursor *out);

/*
 * Writes "<id>-<epoch>" into buf. epoch must satisfy proto_epoch_valid and
 * id be >= 0 (the caller's store issued both).
 */
void proto_cursor_format(int64_t id, const char *epoch, char buf[PROTO_CURSOR_SIZE]);

#endif
