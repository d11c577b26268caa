/*
 * parse_server.c — the messages the server sends (welcome, ack, changes,
 * poke, schema, blob_status, error), read by the C client, the load
 * generator and the tests. Types are checked as strictly as on the server
 * side, so a test that round-trips a serializer through here also checks
 * that the serializer wrote what the contract says.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "proto_cursor.h"
#include "proto_text.h"

/* Reads an array of strings at prefix+name into the arena. */
static int get_strings(struct proto_arena *a, const cJSON *obj, const char *name, int required,
                       const char *const **out, size_t *n_out, const struct proto__where *w)
{
    const cJSON *arr;
    int err = proto__get_item(obj, name, required, cJSON_Array, &arr, w);
    if (err || !arr)
        return err;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    const char **list = proto__alloc(a, (n ? n : 1) * sizeof(*list));
    if (!list)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = arr->child; c && i < n; c = c->next, i++) {
        if (!cJSON_IsString(c) || !proto__utf8_valid(c->valuestring, strlen(c->valuestring), NULL)) {
            char field[sizeof(w->fault->field)];
            snprintf(field, sizeof(field), "%s%s[%zu]", w->prefix, name, i);
            return proto_fault_set(w->fault, w->code, field, "%s must be a UTF-8 string", field);
        }
        list[i] = proto__strdup(a, c->valuestring);
        if (!list[i])
            return PROTO_ENOMEM;
    }
    *out = list;
    *n_out = i;
    return 0;
}

static int parse_welcome(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_welcome *x = &m->u.welcome;
    struct proto_arena *a = m->arena;
    x->max_batch = PROTO_MAX_BATCH;
    x->max_message = PROTO_MAX_MESSAGE;
    x->seq = -1; /* absent: the server does not say (older than the member) */
    int err = proto__get_string(a, r, "user", 1, 1, PROTO_ID_MAX, &x->user, w);
    if (!err)
        err = proto__get_string(a, r, "role", 1, 1, 32, &x->role, w);
    if (!err)
        err = get_strings(a, r, "grids", 1, &x->grids, &x->n_grids, w);
    if (!err)
        err = proto__get_int(r, "time", 1, 0, PROTO_HLC_MS_MAX, &x->time, NULL, w);
    if (!err)
        err = proto__get_int(r, "max_batch", 0, 1, PROTO_SEQ_MAX, &x->max_batch, NULL, w);
    if (!err)
        err = proto__get_int(r, "max_message", 0, 1, PROTO_SEQ_MAX, &x->max_message, NULL, w);
    if (!err)
        err = proto__get_string(a, r, "cursor", 1, 1, PROTO_CURSOR_SIZE - 1, &x->cursor, w);
    if (!err)
        err = proto__get_int(r, "protocol", 1, 1, 1000000, &x->protocol, NULL, w);
    if (!err)
        err = proto__get_string(a, r, "schema_version", 0, 1, 128, &x->schema_version, w);
    if (!err)
        err = proto__get_int(r, "seq", 0, 0, PROTO_SEQ_MAX, &x->seq, NULL, w);
    return err;
}

static int parse_result(struct proto_arena *a, const cJSON *item, size_t i,
                        struct proto_result *res, struct proto_fault *fault)
{
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "results[%zu].", i);
    struct proto__where w = {PROTO_CODE_BAD_MESSAGE, prefix, fault};
    if (!cJSON_IsObject(item))
        return proto_fault_set(fault, w.code, "results", "results[%zu] must be an object", i);
    const char *status = NULL;
    int err = proto__get_int(item, "seq", 1, 1, PROTO_SEQ_MAX, &res->seq, NULL, &w);
    if (!err)
        err = proto__get_string(a, item, "id", 0, 1, PROTO_ID_MAX, &res->id, &w);
    if (!err)
        err = proto__get_string(a, item, "status", 1, 1, 16, &status, &w);
    if (err)
        return err;
    char field[sizeof(fault->field)];
    if (proto_status_from_name(status, &res->status)) {
        snprintf(field, sizeof(field), "%sstatus", prefix);
        return proto_fault_set(fault, w.code, field,
                               "%s must be applied, conflict, duplicate or rejected", field);
    }
    err = proto__get_int(item, "rev", 0, 0, PROTO_SEQ_MAX, &res->rev, NULL, &w);
    if (!err)
        err = get_strings(a, item, "conflicts", res->status == PROTO_CONFLICT, &res->conflicts,
                          &res->n_conflicts, &w);
    if (err || res->status != PROTO_REJECTED)
        return err;
    const cJSON *e;
    err = proto__get_item(item, "error", 1, cJSON_Object, &e, &w);
    if (err)
        return err;
    char eprefix[48];
    snprintf(eprefix, sizeof(eprefix), "%serror.", prefix);
    struct proto__where we = {PROTO_CODE_BAD_MESSAGE, eprefix, fault};
    const char *code = NULL, *member = NULL, *message = NULL;
    err = proto__get_string(a, e, "code", 1, 1, 32, &code, &we);
    if (!err)
        err = proto__get_string(a, e, "field", 0, 0, sizeof(res->error.field) - 1, &member, &we);
    if (!err)
        err = proto__get_string(a, e, "message", 0, 0, 1000, &message, &we);
    if (err)
        return err;
    enum proto_code c;
    if (proto_code_from_name(code, &c)) {
        snprintf(field, sizeof(field), "%serror.code", prefix);
        return proto_fault_set(fault, w.code, field, "%s \"%s\" is not a known code", field,
                               code);
    }
    proto_fault_set(&res->error, c, member, "%s", message ? message : "");
    return 0;
}

static int parse_ack(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_ack *x = &m->u.ack;
    int err = proto__get_string(m->arena, r, "cursor", 1, 1, PROTO_CURSOR_SIZE - 1, &x->cursor, w);
    const cJSON *list = NULL;
    if (!err)
        err = proto__get_item(r, "results", 1, cJSON_Array, &list, w);
    if (err)
        return err;
    size_t n = (size_t)cJSON_GetArraySize(list);
    struct proto_result *res = proto__alloc(m->arena, (n ? n : 1) * sizeof(*res));
    if (!res)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = list->child; c && i < n; c = c->next, i++) {
        err = parse_result(m->arena, c, i, &res[i], w->fault);
        if (err)
            return err;
    }
    x->results = res;
    x->n_results = i;
    return 0;
}

static int parse_pulled(struct proto_arena *a, const cJSON *item, size_t i,
                        struct proto_pulled *p, struct proto_fault *fault)
{
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "changes[%zu].", i);
    struct proto__where w = {PROTO_CODE_BAD_MESSAGE, prefix, fault};
    if (!cJSON_IsObject(item))
        return proto_fault_set(fault, w.code, "changes", "changes[%zu] must be an object", i);
    int err = proto__get_string(a, item, "collection", 1, 1, 64, &p->collection, &w);
    if (!err)
        err = proto__get_string(a, item, "id", 1, 1, PROTO_ID_MAX, &p->id, &w);
    if (!err)
        err = proto__get_bool(item, "removed", 0, &p->removed, &w);
    if (err || p->removed)
        return err;
    err = proto__get_int(item, "rev", 1, 1, PROTO_SEQ_MAX, &p->rev, NULL, &w);
    if (!err)
        err = proto__get_bool(item, "deleted", 0, &p->deleted, &w);
    const cJSON *fields = NULL;
    if (!err)
        err = proto__get_item(item, "fields", 1, cJSON_Object, &fields, &w);
    if (err)
        return err;
    p->body = proto__json_print(a, fields, &p->body_len);
    return p->body ? 0 : PROTO_ENOMEM;
}

static int parse_changes(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_changes *x = &m->u.changes;
    int err = proto__get_string(m->arena, r, "cursor", 1, 1, PROTO_CURSOR_SIZE - 1, &x->cursor, w);
    if (!err)
        err = proto__get_bool(r, "more", 0, &x->more, w);
    if (!err)
        err = proto__get_bool(r, "reset", 0, &x->reset, w);
    const cJSON *list = NULL;
    if (!err)
        err = proto__get_item(r, "changes", 1, cJSON_Array, &list, w);
    if (err)
        return err;
    size_t n = (size_t)cJSON_GetArraySize(list);
    struct proto_pulled *items = proto__alloc(m->arena, (n ? n : 1) * sizeof(*items));
    if (!items)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = list->child; c && i < n; c = c->next, i++) {
        err = parse_pulled(m->arena, c, i, &items[i], w->fault);
        if (err)
            return err;
    }
    x->items = items;
    x->n_items = i;
    return 0;
}

static int parse_schema_reply(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_schema_reply *x = &m->u.schema;
    int err = proto__get_string(m->arena, r, "version", 1, 1, 128, &x->version, w);
    const cJSON *cols = NULL;
    if (!err)
        err = proto__get_item(r, "collections", 1, cJSON_Object, &cols, w);
    if (err)
        return err;
    x->collections_json = proto__json_print(m->arena, cols, NULL);
    return x->collections_json ? 0 : PROTO_ENOMEM;
}

static int parse_blob_status(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_blob_status *x = &m->u.blob_status;
    int err = proto__get_string(m->arena, r, "sha256", 1, 1, 64, &x->sha256, w);
    if (err)
        return err;
    if (!proto__hex_valid(x->sha256, strlen(x->sha256), 64))
        return proto_fault_set(w->fault, w->code, "sha256",
                               "sha256 must be 64 lowercase hex digits");
    err = proto__get_int(r, "have", 1, 0, PROTO_SEQ_MAX, &x->have, NULL, w);
    if (!err)
        err = proto__get_bool(r, "complete", 1, &x->complete, w);
    return err;
}

static int parse_error(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_error *x = &m->u.error;
    x->message = "";
    int err = proto__get_string(m->arena, r, "code", 1, 1, 32, &x->code, w);
    if (!err)
        err = proto__get_string(m->arena, r, "message", 0, 0, 10000, &x->message, w);
    return err;
}

int proto_parse_server(const char *json, size_t len, struct proto_msg **out,
                       struct proto_fault *fault)
{
    struct proto__where w = {PROTO_CODE_BAD_MESSAGE, "", fault};
    cJSON *root = NULL;
    struct proto_msg *m = NULL;
    int err = proto__msg_begin(json, len, &root, &m, fault, NULL);
    if (err)
        goto out;
    switch (m->type) {
    case PROTO_WELCOME:
        err = parse_welcome(m, root, &w);
        break;
    case PROTO_ACK:
        err = parse_ack(m, root, &w);
        break;
    case PROTO_CHANGES:
        err = parse_changes(m, root, &w);
        break;
    case PROTO_POKE:
        err = proto__get_string(m->arena, root, "cursor", 1, 1, PROTO_CURSOR_SIZE - 1,
                                &m->u.poke.cursor, &w);
        break;
    case PROTO_SCHEMA:
        err = parse_schema_reply(m, root, &w);
        break;
    case PROTO_BLOB_STATUS:
        err = parse_blob_status(m, root, &w);
        break;
    case PROTO_ERROR:
        err = parse_error(m, root, &w);
        break;
    default:
        err = proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "type",
                              "type \"%s\" is sent by a client, not by the server",
                              proto_type_name(m->type));
        break;
    }
    if (err)
        goto out;
    *out = m;
    m = NULL;
out:
    cJSON_Delete(root);
    proto_msg_free(m);
    return err;
}
