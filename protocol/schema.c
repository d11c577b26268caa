/*
 * schema.c — the schema file of §4: which collections exist, their fields
 * and types, and the field that scopes a record to a grid.
 *
 *   {"collections":{"<name>":{"scope":"<field>","fields":{"<field>":<spec>,…}},…}}
 *   spec = {"type":T[,"required":bool][,"values":[…]][,"min":N][,"items":spec]
 *           [,"max_items":N][,"label":"…"][,"description":"…"]}
 *
 * Unknown members are refused, so that a typo ("requried") fails loudly
 * instead of silently loosening validation; "label" and "description" are
 * allowed everywhere for the forms clients build. The version is the
 * SHA-256 of the compact "collections" JSON, so reformatting the file does
 * not change it but any change of meaning does.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"
#include "proto_schema.h"

/* Ceilings that keep a schema a schema, not a database. */
#define SCHEMA_MAX_COLLECTIONS 64
#define SCHEMA_MAX_FIELDS 256
#define SCHEMA_MAX_VALUES 1000
#define SCHEMA_MAX_ITEMS_LIMIT 10000
#define SCHEMA_DEFAULT_MAX_ITEMS 100

static const char *const ftype_names[] = {
    [PROTO_F_STRING] = "string", [PROTO_F_TEXT] = "text",         [PROTO_F_NUMBER] = "number",
    [PROTO_F_BOOL] = "bool",     [PROTO_F_ENUM] = "enum",         [PROTO_F_DATE] = "date",
    [PROTO_F_DATETIME] = "datetime", [PROTO_F_ID] = "id",         [PROTO_F_SHA256] = "sha256",
    [PROTO_F_ARRAY] = "array",
};

const char *proto_ftype_name(enum proto_ftype t)
{
    if ((unsigned)t > PROTO_F_ARRAY)
        return "unknown";
    return ftype_names[t];
}

/* Fills the fault for a schema that breaks a rule at path; returns PROTO_EINVALID. */
__attribute__((format(printf, 3, 4))) static int refuse(struct proto_fault *f, const char *path,
                                                        const char *fmt, ...)
{
    char rule[sizeof(f->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    if (!path[0])
        return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, "", "%s", rule);
    return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, path, "%s: %s", path, rule);
}

/*
 * Refuses members of obj that are not in allowed (NULL-terminated), and
 * duplicates; the fault names the member itself ("….fields.grid.requried").
 */
static int only_members(const cJSON *obj, const char *path, const char *const *allowed,
                        struct proto_fault *f)
{
    char sub[256];
    for (const cJSON *c = obj->child; c; c = c->next) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], c->string) != 0)
            i++;
        snprintf(sub, sizeof(sub), "%s%s%.64s", path, path[0] ? "." : "", c->string);
        if (!allowed[i]) {
            char list[160] = "";
            size_t len = 0;
            for (size_t k = 0; allowed[k] && len < sizeof(list); k++)
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
                                        allowed[k]);
            return refuse(f, sub, "unknown member; allowed here: %s", list);
        }
        for (const cJSON *d = c->next; d; d = d->next) {
            if (strcmp(c->string, d->string) == 0)
                return refuse(f, sub, "appears more than once");
        }
    }
    return 0;
}

/* The annotations allowed on collections and fields must be strings. */
static int check_annotations(const cJSON *obj, const char *path, struct proto_fault *f)
{
    static const char *const names[] = {"label", "description"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, names[i]);
        if (it && (!cJSON_IsString(it) ||
                   !proto__utf8_valid(it->valuestring, strlen(it->valuestring), NULL)))
            return refuse(f, path, "%s must be a UTF-8 string", names[i]);
    }
    return 0;
}

static int parse_spec(struct proto_arena *a, const cJSON *obj, const char *path, int is_item,
                      struct proto_ftype_spec *spec, int *required, struct proto_fault *f)
{
    static const char *const field_members[] = {"type",      "required", "values", "min",
                                                "items",     "max_items", "label",
                                                "description", NULL};
    /* items and max_items are listed so that an array of arrays gets the clearer fault. */
    static const char *const item_members[] = {"type", "values", "min", "items", "max_items",
                                               NULL};
    char sub[256];
    if (!cJSON_IsObject(obj))
        return refuse(f, path, "a field type must be an object like {\"type\":\"string\"}");
    int err = only_members(obj, path, is_item ? item_members : field_members, f);
    if (!err && !is_item)
        err = check_annotations(obj, path, f);
    if (err)
        return err;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    snprintf(sub, sizeof(sub), "%s.type", path);
    if (!cJSON_IsString(type))
        return refuse(f, sub, "must be one of string, text, number, bool, enum, date, datetime, "
                              "id, sha256, array");
    size_t t = 0;
    while (t <= PROTO_F_ARRAY && strcmp(ftype_names[t], type->valuestring) != 0)
        t++;
    if (t > PROTO_F_ARRAY)
        return refuse(f, sub, "unknown type \"%.40s\"; use string, text, number, bool, enum, date, "
                              "datetime, id, sha256 or array",
                      type->valuestring);
    spec->type = (enum proto_ftype)t;
    if (is_item && spec->type == PROTO_F_ARRAY)
        return refuse(f, sub, "the items of an array cannot be arrays");

    const cJSON *req = cJSON_GetObjectItemCaseSensitive(obj, "required");
    *required = 0;
    if (req) {
        snprintf(sub, sizeof(sub), "%s.required", path);
        if (!cJSON_IsBool(req))
            return refuse(f, sub, "must be true or false");
        *required = cJSON_IsTrue(req);
    }

    const cJSON *values = cJSON_GetObjectItemCaseSensitive(obj, "values");
    snprintf(sub, sizeof(sub), "%s.values", path);
    if (spec->type != PROTO_F_ENUM && values)
        return refuse(f, sub, "only an enum has values");
    if (spec->type == PROTO_F_ENUM) {
        int n = cJSON_GetArraySize(values);
        if (!cJSON_IsArray(values) || n == 0 || n > SCHEMA_MAX_VALUES)
            return refuse(f, sub, "must be a non-empty array of strings");
        const char **list = proto__alloc(a, (size_t)n * sizeof(*list));
        if (!list)
            return PROTO_ENOMEM;
        int i = 0;
        for (const cJSON *v = values->child; v; v = v->next, i++) {
            if (!cJSON_IsString(v) || !v->valuestring[0] ||
                !proto__utf8_valid(v->valuestring, strlen(v->valuestring), NULL))
                return refuse(f, sub, "must be a non-empty array of strings");
            for (int k = 0; k < i; k++) {
                if (strcmp(list[k], v->valuestring) == 0)
                    return refuse(f, sub, "value \"%.64s\" is listed twice", v->valuestring);
            }
            list[i] = proto__strdup(a, v->valuestring);
            if (!list[i])
                return PROTO_ENOMEM;
        }
        spec->values = list;
        spec->n_values = (size_t)n;
    }

    const cJSON *min = cJSON_GetObjectItemCaseSensitive(obj, "min");
    snprintf(sub, sizeof(sub), "%s.min", path);
    if (min && spec->type != PROTO_F_NUMBER)
        return refuse(f, sub, "only a number has a min");
    if (min) {
        if (!cJSON_IsNumber(min) || !isfinite(min->valuedouble))
            return refuse(f, sub, "must be a number");
        spec->has_min = 1;
        spec->min = min->valuedouble;
    }

    const cJSON *items = cJSON_GetObjectItemCaseSensitive(obj, "items");
    const cJSON *max_items = cJSON_GetObjectItemCaseSensitive(obj, "max_items");
    snprintf(sub, sizeof(sub), "%s.items", path);
    if (spec->type != PROTO_F_ARRAY) {
        if (items || max_items)
            return refuse(f, sub, "only an array has items and max_items");
        return 0;
    }
    if (!items)
        return refuse(f, sub,
                      "an array must say the type of its items, e.g. {\"type\":\"string\"}");
    struct proto_ftype_spec *item = proto__alloc(a, sizeof(*item));
    if (!item)
        return PROTO_ENOMEM;
    int dummy;
    err = parse_spec(a, items, sub, 1, item, &dummy, f);
    if (err)
        return err;
    spec->item = item;
    spec->max_items = SCHEMA_DEFAULT_MAX_ITEMS;
    if (max_items) {
        int64_t n;
        snprintf(sub, sizeof(sub), "%s.max_items", path);
        if (!proto__json_int(max_items, 1, SCHEMA_MAX_ITEMS_LIMIT, &n))
            return refuse(f, sub, "must be an integer from 1 to %d", SCHEMA_MAX_ITEMS_LIMIT);
        spec->max_items = (size_t)n;
    }
    return 0;
}

static int parse_collection(struct proto_arena *a, const cJSON *obj, const char *path,
                            struct proto_collection *c, struct proto_fault *f)
{
    static const char *const members[] = {"scope", "fields", "label", "description", NULL};
    char sub[256];
    if (!cJSON_IsObject(obj))
        return refuse(f, path, "a collection must be an object with scope and fields");
    int err = only_members(obj, path, members, f);
    if (!err)
        err = check_annotations(obj, path, f);
    if (err)
        return err;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(obj, "fields");
    snprintf(sub, sizeof(sub), "%s.fields", path);
    int n = cJSON_GetArraySize(fields);
    if (!cJSON_IsObject(fields) || n == 0)
        return refuse(f, sub, "must be a non-empty object of field types");
    if (n > SCHEMA_MAX_FIELDS)
        return refuse(f, sub, "has %d fields; at most %d are allowed", n, SCHEMA_MAX_FIELDS);
    struct proto_schema_field *list = proto__alloc(a, (size_t)n * sizeof(*list));
    if (!list)
        return PROTO_ENOMEM;
    int i = 0;
    for (const cJSON *fd = fields->child; fd; fd = fd->next, i++) {
        snprintf(sub, sizeof(sub), "%s.fields.%.64s", path, fd->string);
        if (!proto__name_valid(fd->string, strlen(fd->string)) || fd->string[0] == '_')
            return refuse(f, sub,
                          "a field name must be 1..64 of A-Z a-z 0-9 _ and not start with _");
        for (int k = 0; k < i; k++) {
            if (strcmp(list[k].name, fd->string) == 0)
                return refuse(f, sub, "the field is defined twice");
        }
        list[i].name = proto__strdup(a, fd->string);
        if (!list[i].name)
            return PROTO_ENOMEM;
        err = parse_spec(a, fd, sub, 0, &list[i].spec, &list[i].required, f);
        if (err)
            return err;
    }
    c->fields = list;
    c->n_fields = (size_t)n;

    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(obj, "scope");
    snprintf(sub, sizeof(sub), "%s.scope", path);
    if (!cJSON_IsString(scope))
        return refuse(f, sub, "must name the field of type id that holds the record's grid");
    const struct proto_schema_field *sf = proto_collection_field(c, scope->valuestring);
    if (!sf || sf->spec.type != PROTO_F_ID || !sf->required)
        return refuse(f, sub, "\"%.64s\" must be a required field of type id", scope->valuestring);
    c->scope = sf->name;
    return 0;
}

static int parse_collections(struct proto_schema *s, const cJSON *cols, struct proto_fault *f)
{
    int n = cJSON_GetArraySize(cols);
    if (!cJSON_IsObject(cols) || n == 0)
        return refuse(f, "collections", "must be a non-empty object of collections");
    if (n > SCHEMA_MAX_COLLECTIONS)
        return refuse(f, "collections", "has %d collections; at most %d are allowed", n,
                      SCHEMA_MAX_COLLECTIONS);
    struct proto_collection *list = proto__alloc(s->arena, (size_t)n * sizeof(*list));
    if (!list)
        return PROTO_ENOMEM;
    int i = 0;
    char path[128];
    for (const cJSON *c = cols->child; c; c = c->next, i++) {
        snprintf(path, sizeof(path), "collections.%.64s", c->string);
        if (!proto__name_valid(c->string, strlen(c->string)))
            return refuse(f, path, "a collection name must be 1..64 of A-Z a-z 0-9 _");
        for (int k = 0; k < i; k++) {
            if (strcmp(list[k].name, c->string) == 0)
                return refuse(f, path, "the collection is defined twice");
        }
        list[i].name = proto__strdup(s->arena, c->string);
        if (!list[i].name)
            return PROTO_ENOMEM;
        int err = parse_collection(s->arena, c, path, &list[i], f);
        if (err)
            return err;
    }
    s->collections = list;
    s->n_collections = (size_t)n;
    return 0;
}

/* The version: lowercase hex SHA-256 of the compact collections JSON. */
static int schema_version(struct proto_schema *s)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!EVP_Digest(s->collections_json, strlen(s->collections_json), md, &md_len, EVP_sha256(),
                    NULL))
        return PROTO_ENOMEM;
    char *hex = proto__alloc(s->arena, md_len * 2 + 1);
    if (!hex)
        return PROTO_ENOMEM;
    for (unsigned i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    s->version = hex;
    return 0;
}

int proto_schema_parse(const char *json, size_t len, struct proto_schema **out,
                       struct proto_fault *fault)
{
    static const char *const members[] = {"collections", "description", NULL};
    cJSON *root = NULL;
    struct proto_schema *s = NULL;
    struct proto_arena *a = proto__arena_new();
    int err = a ? 0 : PROTO_ENOMEM;
    if (!err)
        err = proto__json_parse(json, len, &root, fault);
    if (err)
        goto out;
    if (!cJSON_IsObject(root)) {
        err = refuse(fault, "", "a schema must be a JSON object with \"collections\"");
        goto out;
    }
    err = only_members(root, "", members, fault);
    if (err)
        goto out;
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc && !cJSON_IsString(desc)) {
        err = refuse(fault, "description", "must be a string");
        goto out;
    }
    s = proto__alloc(a, sizeof(*s));
    if (!s) {
        err = PROTO_ENOMEM;
        goto out;
    }
    s->arena = a;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(root, "collections");
    if (!cols) {
        err = refuse(fault, "collections", "is required");
        goto out;
    }
    err = parse_collections(s, cols, fault);
    if (err)
        goto out;
    s->collections_json = proto__json_print(a, cols, NULL);
    err = s->collections_json ? schema_version(s) : PROTO_ENOMEM;
out:
    cJSON_Delete(root);
    if (err) {
        proto__arena_free(a);
        return err;
    }
    *out = s;
    return 0;
}

void proto_schema_free(struct proto_schema *s)
{
    if (s)
        proto__arena_free(s->arena);
}

const struct proto_collection *proto_schema_collection(const struct proto_schema *s,
                                                       const char *name)
{
    for (size_t i = 0; s && name && i < s->n_collections; i++) {
        /* The first byte settles most misses without a call (a lookup per change). */
        if (s->collections[i].name[0] == name[0] && strcmp(s->collections[i].name, name) == 0)
            return &s->collections[i];
    }
    return NULL;
}

const struct proto_schema_field *proto_collection_field(const struct proto_collection *c,
                                                        const char *name)
{
    for (size_t i = 0; c && name && i < c->n_fields; i++) {
        /* Called per field of every change: the first byte settles most misses. */
        if (c->fields[i].name[0] == name[0] && strcmp(c->fields[i].name, name) == 0)
            return &c->fields[i];
    }
    return NULL;
}
