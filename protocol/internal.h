/*
 * internal.h — what the files of protocol/ share and nobody else sees.
 *
 * The arena holds every string and array a parsed message, record or schema
 * hands out, so one free releases all of it. The json helpers wrap cJSON:
 * a strict syntax scan first (depth, numbers, escapes), then cJSON builds
 * the tree, and the readers below turn members into checked C values.
 * Functions named proto__* are internal to this library.
 */
#ifndef VS_PROTO_INTERNAL_H
#define VS_PROTO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "proto.h"

/*
 * Nesting limits. A message of the contract nests at most 5 levels (push →
 * changes → change → fields → an array value), so any text deeper than
 * PROTO__MAX_DEPTH is refused before cJSON sees it: this bounds the
 * recursion of cJSON_Parse and cJSON_Delete to 32 frames. A single field
 * value may nest PROTO__MAX_VALUE_DEPTH levels (the schema needs 2: an
 * array of scalars; 8 leaves room without letting a value be a tree).
 */
#define PROTO__MAX_DEPTH 32
#define PROTO__MAX_VALUE_DEPTH 8
/* The largest text any parser accepts; the server's max_message is far lower. */
#define PROTO__MAX_TEXT (16u * 1024 * 1024)
/* The most memory one arena may hold. */
#define PROTO__ARENA_MAX ((size_t)256 * 1024 * 1024)
/* A push is parsed only up to this many changes, to bound memory. */
#define PROTO__MAX_CHANGES 10000

/*
 * The field whose value lives in its stamp, not in a record's body
 * (record.c writes it, record_decode.c reads it back).
 */
#define PROTO__DELETED "_deleted"

/* True for "_deleted"; the first byte rules out nearly every other name without strcmp. */
static inline int proto__is_deleted(const char *name)
{
    return name[0] == '_' && strcmp(name, PROTO__DELETED) == 0;
}

/* ---- arena (arena.c) ---------------------------------------------------- */

struct proto_arena;

struct proto_arena *proto__arena_new(void);
void proto__arena_free(struct proto_arena *a);
/* Zeroed, aligned memory that lives as long as the arena; NULL when out of memory. */
void *proto__alloc(struct proto_arena *a, size_t n);
/* The same without zeroing, for callers that write every byte themselves. */
void *proto__alloc_raw(struct proto_arena *a, size_t n);
/* A NUL-terminated copy of n bytes of s. */
char *proto__strndup(struct proto_arena *a, const char *s, size_t n);
char *proto__strdup(struct proto_arena *a, const char *s);

/* ---- output buffers (buf.c) ------------------------------------------- */

/*
 * Makes room for n more bytes of output (plus the NUL) at once, so a
 * serializer that knows its size grows the buffer once instead of per
 * append. Returns 0, PROTO_ETOOBIG past the buffer's max, or PROTO_ENOMEM.
 */
int proto__buf_reserve(struct proto_buf *b, size_t n);
/*
 * How many bytes from the start of s[0..n) go into a JSON string as they
 * are, before the first byte that needs an escape (n when none does).
 */
size_t proto__json_plain(const char *s, size_t n);

/* ---- text checks (text.c) ----------------------------------------------- */

/* Room for any int64_t in decimal: a sign and 19 digits. */
#define PROTO__I64_MAX 20

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates); *chars = code points. */
int proto__utf8_valid(const char *s, size_t n, size_t *chars);
/* True for 1..64 of [A-Za-z0-9_]: collection and field names. */
int proto__name_valid(const char *s, size_t n);
/* True for exactly n lowercase hex digits. */
int proto__hex_valid(const char *s, size_t len, size_t n);
/*
 * Writes v in decimal to out (no NUL) and returns the length (at most 20).
 * It replaces snprintf("%" PRId64) on the hot paths: the writer formats
 * three integers per stamp of every record it stores.
 */
size_t proto__i64_format(int64_t v, char out[PROTO__I64_MAX]);

/* Append a NUL-terminated string, or an integer in decimal; as proto_buf_append. */
static inline int proto__buf_puts(struct proto_buf *b, const char *s)
{
    return proto_buf_append(b, s, strlen(s));
}

static inline int proto__buf_put_i64(struct proto_buf *b, int64_t v)
{
    char num[PROTO__I64_MAX];
    return proto_buf_append(b, num, proto__i64_format(v, num));
}

/* ---- json (json.c) ------------------------------------------------------ */

/*
 * Checks the syntax of json[0..len) strictly and parses it with cJSON.
 * Returns 0 with *root set (the caller deletes it), PROTO_EINVALID with a
 * BAD_JSON fault, or PROTO_ENOMEM.
 */
int proto__json_parse(const char *json, size_t len, cJSON **root, struct proto_fault *fault);

/*
 * Finds member name of obj (case-sensitive). Returns 0 with *out the item
 * or NULL when absent, -1 when the name appears more than once.
 */
int proto__member(const cJSON *obj, const char *name, const cJSON **out);

/* True when item is a number with an integer value in [lo, hi]; stores it. */
int proto__json_int(const cJSON *item, int64_t lo, int64_t hi, int64_t *out);

/* The compact JSON of item copied into the arena; NULL when out of memory. */
char *proto__json_print(struct proto_arena *a, const cJSON *item, size_t *len);
/*
 * When d is an integer that cJSON prints as plain digits (|d| < 1e15, not
 * -0), writes those digits to out, sets *len and returns 1; else 0.
 */
int proto__json_int_text(double d, char out[PROTO__I64_MAX], size_t *len);

#define PROTO__NUM_MAX 32 /* the longest number text: "%1.17g" of a double and its NUL */
/*
 * The one canonical text of a finite number, as every printer in the tree
 * writes it: plain digits for an integer below 1e15, else "%1.15g" when
 * that reads back as exactly d, else "%1.17g" (which always does). Returns
 * its length; 0 for a non-finite d. Any thread.
 */
size_t proto__json_number_text(double d, char out[PROTO__NUM_MAX]);

/* How deeply item nests (a scalar is 1). */
int proto__json_depth(const cJSON *item);

/* ---- member readers (read.c) ------------------------------------------ */

/*
 * Each reader looks up member `name` of obj and checks it. The fault names
 * prefix + name ("changes[2]." + "seq") and uses code. Absent optional
 * members (or null) leave the output alone and return 0; *present, when
 * given, tells which. They return 0, PROTO_EINVALID or PROTO_ENOMEM.
 */
struct proto__where {
    enum proto_code code;
    const char *prefix; /* "" at the top of a message */
    struct proto_fault *fault;
};

/* A string of min..max characters (code points) of valid UTF-8, copied into the arena. */
int proto__get_string(struct proto_arena *a, const cJSON *obj, const char *name, int required,
                      size_t min_chars, size_t max_chars, const char **out,
                      const struct proto__where *w);
/* An integer-valued number in [lo, hi] (bounds within +-2^53). */
int proto__get_int(const cJSON *obj, const char *name, int required, int64_t lo, int64_t hi,
                   int64_t *out, int *present, const struct proto__where *w);
int proto__get_bool(const cJSON *obj, const char *name, int required, int *out,
                    const struct proto__where *w);
/* Any member of type `type` (cJSON_Array, cJSON_Object...); *out NULL when absent. */
int proto__get_item(const cJSON *obj, const char *name, int required, int type,
                    const cJSON **out, const struct proto__where *w);
/* Fills buf with a short description of item for "got ..." in messages. */
void proto__describe(const cJSON *item, char *buf, size_t size);

/* ---- values (value.c) --------------------------------------------------- */

/*
 * Converts item into *v, everything in the arena. Returns 0, PROTO_ENOMEM,
 * or PROTO_EINVALID with *why set to a static phrase (invalid UTF-8, too
 * deep, number out of range) for the caller to put in a fault.
 */
int proto__value_from_json(struct proto_arena *a, const cJSON *item, struct proto_value *v,
                           const char **why);

/* Sorts fields by name; returns the first duplicated name or NULL. */
const char *proto__fields_sort(struct proto_field *fields, size_t n);

/* ---- messages (msg.c) --------------------------------------------------- */

/* A zeroed message living in its own new arena; NULL when out of memory. */
struct proto_msg *proto__msg_new(void);

/*
 * The common start of every parse: checks the text, that it is an object,
 * its req (copied to fault_req when given and readable) and its type.
 * Returns 0 with *root (the caller deletes it) and *out (a new message
 * with type and req set), or an error with *fault set.
 */
int proto__msg_begin(const char *json, size_t len, cJSON **root, struct proto_msg **out,
                     struct proto_fault *fault, char *fault_req);

/* Reads the push's members into m->u.push (parse_push.c). */
int proto__parse_push(struct proto_msg *m, const cJSON *root, struct proto_fault *fault);

#endif
