/*
 * change.h — builds proto_change values in memory, the way a tablet's push
 * would arrive after parsing, so the CLI (demo) can write through the real
 * merge path (sync_apply_push) without a server.
 *
 * Everything built lives in a cli_arena: a bump allocator with a ceiling,
 * freed at once. Nothing here keeps global state; one thread uses an arena.
 */
#ifndef VS_CLI_CHANGE_H
#define VS_CLI_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct cli_arena;

/* A new arena that refuses to grow past max_bytes. NULL when out of memory. */
struct cli_arena *cli_arena_new(size_t max_bytes);
void cli_arena_free(struct cli_arena *a);
/* n bytes aligned for any type, zeroed; NULL past the ceiling or out of memory. */
void *cli_arena_alloc(struct cli_arena *a, size_t n);
/* A NUL-terminated copy of n bytes at s. */
char *cli_arena_strndup(struct cli_arena *a, const char *s, size_t n);
/* Bytes handed out so far. */
size_t cli_arena_used(const struct cli_arena *a);

/* Values; each returns 0, or -1 when the arena is full. json is set to the
 * canonical compact encoding. */
int cli_value_string(struct cli_arena *a, const char *s, struct proto_value *out);
int cli_value_number(struct cli_arena *a, double d, struct proto_value *out);
int cli_value_bool(struct cli_arena *a, int b, struct proto_value *out);
int cli_value_string_array(struct cli_arena *a, const char *const *items, size_t n,
                           struct proto_value *out);

#define CLI_FIELDS_MAX 32

/*
 * The fields of one change while they are being added, in any order. A
 * failure (arena full, too many fields) is sticky in err so that callers
 * can add a dozen fields and check once, in cli_change_build.
 */
struct cli_fields {
    struct proto_field items[CLI_FIELDS_MAX];
    size_t n;
    int err;
};

void cli_fields_str(struct cli_fields *f, struct cli_arena *a, const char *name, const char *s);
void cli_fields_num(struct cli_fields *f, struct cli_arena *a, const char *name, double d);
void cli_fields_bool(struct cli_fields *f, struct cli_arena *a, const char *name, int b);
void cli_fields_strs(struct cli_fields *f, struct cli_arena *a, const char *name,
                     const char *const *items, size_t n);

/*
 * Fills *c with a well-formed change: the fields of f sorted by name (a
 * name given twice is an error), hlc [hlc_ms, counter], and raw set to
 * the change's compact JSON as a tablet would send it (kept in history).
 * Strings are copied into the arena. Returns 0, or -1 (arena full,
 * duplicate field, or an earlier failure recorded in f->err).
 */
int cli_change_build(struct cli_arena *a, struct proto_change *c, int64_t seq,
                     const char *collection, const char *id, int64_t base, int64_t hlc_ms,
                     int64_t counter, struct cli_fields *f);

#endif
