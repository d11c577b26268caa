/*
 * proto_schema.h — the schema file (§4) as C structs (protocol/schema.c):
 * its collections, their fields and the type rules sync/ checks changes
 * against, and the built-in default schema (protocol/schema_default.c).
 */
#ifndef VS_PROTO_SCHEMA_H
#define VS_PROTO_SCHEMA_H

#include <stddef.h>

#include "proto_errors.h"

/* Each spec of a parsed schema has max_items set (100 when the file omits it). */

enum proto_ftype {
    PROTO_F_STRING,   /* <= 200 chars */
    PROTO_F_TEXT,     /* <= 10,000 chars */
    PROTO_F_NUMBER,   /* finite; optional min */
    PROTO_F_BOOL,
    PROTO_F_ENUM,     /* one of values */
    PROTO_F_DATE,     /* YYYY-MM-DD */
    PROTO_F_DATETIME, /* RFC 3339 with offset */
    PROTO_F_ID,       /* an id of §1 (grid, subject) */
    PROTO_F_SHA256,   /* "sha256:<64 lowercase hex>" */
    PROTO_F_ARRAY     /* of item */
};

struct proto_ftype_spec {
    enum proto_ftype type;
    const char *const *values; /* PROTO_F_ENUM */
    size_t n_values;
    int has_min;
    double min;
    size_t max_items; /* PROTO_F_ARRAY; 0 = the default of 100 */
    const struct proto_ftype_spec *item; /* PROTO_F_ARRAY */
};

struct proto_schema_field {
    const char *name;
    int required;
    struct proto_ftype_spec spec;
};

struct proto_collection {
    const char *name;
    const char *scope; /* the field that names the record's grid */
    const struct proto_schema_field *fields; /* in file order */
    size_t n_fields;
};

struct proto_schema {
    const struct proto_collection *collections; /* in file order */
    size_t n_collections;
    const char *version;          /* lowercase hex SHA-256 of collections_json */
    const char *collections_json; /* compact JSON of the "collections" object */
    struct proto_arena *arena;
};

/* The built-in default schema of §4, as JSON text. */
extern const char proto_default_schema_json[];

/*
 * Parses a schema file's text. On failure fault names the member and rule
 * ("collections.visits.fields.kind.values: must be a non-empty array of
 * strings"). The result owns its memory; free with proto_schema_free.
 */
int proto_schema_parse(const char *json, size_t len, struct proto_schema **out,
                       struct proto_fault *fault);
void proto_schema_free(struct proto_schema *s);
/* The schema spelling of a field type ("datetime"). */
const char *proto_ftype_name(enum proto_ftype t);
const struct proto_collection *proto_schema_collection(const struct proto_schema *s,
                                                       const char *name);
const struct proto_schema_field *proto_collection_field(const struct proto_collection *c,
                                                        const char *name);

#endif
