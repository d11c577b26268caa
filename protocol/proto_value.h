/*
 * proto_value.h — a JSON value as a plain C struct: what a change's fields,
 * a stored record and the schema checks of sync/ hold (protocol/value.c
 * builds them). A value's strings and items live in the arena of the
 * message or record it came from.
 */
#ifndef VS_PROTO_VALUE_H
#define VS_PROTO_VALUE_H

#include <stddef.h>

enum proto_vtype { PROTO_NULL, PROTO_BOOL, PROTO_NUMBER, PROTO_STRING, PROTO_ARRAY, PROTO_OBJECT };

/*
 * A JSON value. json/json_len is its canonical compact encoding (objects
 * keep member order); two values are equal iff their encodings are equal.
 * str is the decoded UTF-8 of a string (NUL-terminated, len bytes, chars
 * counts code points). items are the elements of an array; objects carry
 * only their encoding.
 */
struct proto_value {
    enum proto_vtype type;
    int boolean;
    double number;
    const char *str;
    size_t len;
    size_t chars;
    const struct proto_value *items;
    size_t n_items;
    const char *json;
    size_t json_len;
};

/* A named value; field lists are sorted by name (bytewise) and unique. */
struct proto_field {
    const char *name;
    struct proto_value value;
};

#endif
