/*
 * value.c — turns a cJSON item into a proto_value that owns nothing but
 * arena memory: its canonical compact encoding (cJSON_PrintUnformatted,
 * whose number format is deterministic: integers as integers, others with
 * %1.15g or %1.17g), and the decoded string or array items. Strings must
 * be UTF-8 (the socket checks it, the CLI and tests may not), numbers
 * finite, nesting at most PROTO__MAX_VALUE_DEPTH.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int value_convert(struct proto_arena *a, const cJSON *item, struct proto_value *v,
                         int depth, const char **why)
{
    if (depth > PROTO__MAX_VALUE_DEPTH) {
        *why = "the value nests deeper than 8 levels";
        return PROTO_EINVALID;
    }
    memset(v, 0, sizeof(*v));
    if (cJSON_IsNull(item)) {
        v->type = PROTO_NULL;
    } else if (cJSON_IsBool(item)) {
        v->type = PROTO_BOOL;
        v->boolean = cJSON_IsTrue(item) ? 1 : 0;
    } else if (cJSON_IsNumber(item)) {
        /* 1e400 parses as infinity, which JSON cannot carry back. */
        if (!isfinite(item->valuedouble)) {
            *why = "the number is out of range";
            return PROTO_EINVALID;
        }
        v->type = PROTO_NUMBER;
        v->number = item->valuedouble;
    } else if (cJSON_IsString(item)) {
        v->type = PROTO_STRING;
        v->len = strlen(item->valuestring);
        if (!proto__utf8_valid(item->valuestring, v->len, &v->chars)) {
            *why = "the string is not valid UTF-8";
            return PROTO_EINVALID;
        }
        v->str = proto__strndup(a, item->valuestring, v->len);
        if (!v->str)
            return PROTO_ENOMEM;
    } else if (cJSON_IsArray(item)) {
        v->type = PROTO_ARRAY;
        size_t n = (size_t)cJSON_GetArraySize(item);
        struct proto_value *items = proto__alloc(a, (n ? n : 1) * sizeof(*items));
        if (!items)
            return PROTO_ENOMEM;
        size_t i = 0;
        for (const cJSON *c = item->child; c && i < n; c = c->next, i++) {
            int err = value_convert(a, c, &items[i], depth + 1, why);
            if (err)
                return err;
        }
        v->items = items;
        v->n_items = i;
    } else if (cJSON_IsObject(item)) {
        v->type = PROTO_OBJECT;
        if (proto__json_depth(item) + depth - 1 > PROTO__MAX_VALUE_DEPTH) {
            *why = "the value nests deeper than 8 levels";
            return PROTO_EINVALID;
        }
        /* Strings inside an object are carried only as JSON, but must still be UTF-8. */
        for (const cJSON *c = item->child; c; c = c->next) {
            struct proto_value inner;
            if (!proto__utf8_valid(c->string, strlen(c->string), NULL)) {
                *why = "a member name is not valid UTF-8";
                return PROTO_EINVALID;
            }
            int err = value_convert(a, c, &inner, depth + 1, why);
            if (err)
                return err;
        }
    } else {
        *why = "the value has no JSON type";
        return PROTO_EINVALID;
    }
    v->json = proto__json_print(a, item, &v->json_len);
    if (!v->json)
        return PROTO_ENOMEM;
    return 0;
}

int proto__value_from_json(struct proto_arena *a, const cJSON *item, struct proto_value *v,
                           const char **why)
{
    struct proto_value tmp;
    const char *reason = NULL;
    int err = value_convert(a, item, &tmp, 1, &reason);
    if (err) {
        if (why)
            *why = reason ? reason : "out of memory";
        return err;
    }
    *v = tmp;
    return 0;
}

static int field_cmp(const void *x, const void *y)
{
    const struct proto_field *a = x, *b = y;
    return strcmp(a->name, b->name);
}

const char *proto__fields_sort(struct proto_field *fields, size_t n)
{
    if (n > 1)
        qsort(fields, n, sizeof(*fields), field_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(fields[i - 1].name, fields[i].name) == 0)
            return fields[i].name;
    }
    return NULL;
}
