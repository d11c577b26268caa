/*
 * parse_push.c — a push and its changes. A push is rejected whole only
 * when it is not a list of objects with readable seqs: without a seq no
 * result could be attributed. Any other problem of a change becomes that
 * change's fault (the server answers it "rejected" and goes on with the
 * batch). Whether a collection or field exists is the schema's business
 * (sync/): here only the shapes are checked. The batch limit is the
 * server's too; the parser only refuses more than PROTO__MAX_CHANGES.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "proto_text.h"

static int parse_hlc(const cJSON *item, struct proto_hlc *hlc, struct proto_fault *f)
{
    struct proto__where w = {PROTO_CODE_INVALID_FIELD, "", f};
    const cJSON *arr;
    int err = proto__get_item(item, "hlc", 1, cJSON_Array, &arr, &w);
    if (err)
        return err;
    int n = cJSON_GetArraySize(arr);
    if (n != 2)
        return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, "hlc",
                               "hlc must be [ms, counter] with 0 <= ms <= %lld; got %d element%s",
                               PROTO_HLC_MS_MAX, n, n == 1 ? "" : "s");
    char got[40];
    if (!proto__json_int(arr->child, 0, PROTO_HLC_MS_MAX, &hlc->ms)) {
        proto__describe(arr->child, got, sizeof(got));
        return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, "hlc",
                               "hlc must be [ms, counter] with ms an integer from 0 to %lld; "
                               "got ms %s",
                               PROTO_HLC_MS_MAX, got);
    }
    if (!proto__json_int(arr->child->next, 0, PROTO_HLC_COUNTER_MAX, &hlc->counter)) {
        proto__describe(arr->child->next, got, sizeof(got));
        return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, "hlc",
                               "hlc must be [ms, counter] with counter an integer from 0 to "
                               "%lld; got counter %s",
                               PROTO_HLC_COUNTER_MAX, got);
    }
    return 0;
}

static int parse_fields(struct proto_arena *a, const cJSON *item, struct proto_change *ch,
                        struct proto_fault *f)
{
    struct proto__where w = {PROTO_CODE_INVALID_FIELD, "", f};
    const cJSON *obj;
    int err = proto__get_item(item, "fields", 1, cJSON_Object, &obj, &w);
    if (err)
        return err;
    size_t n = (size_t)cJSON_GetArraySize(obj);
    struct proto_field *fields = proto__alloc(a, (n ? n : 1) * sizeof(*fields));
    if (!fields)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = obj->child; c && i < n; c = c->next, i++) {
        size_t len = strlen(c->string);
        if (!proto__name_valid(c->string, len)) {
            /* Only a valid UTF-8 name may be echoed back in the fault. */
            if (!proto__utf8_valid(c->string, len, NULL))
                return proto_fault_set(f, PROTO_CODE_UNKNOWN_FIELD, "fields",
                                       "a field name is not valid UTF-8");
            return proto_fault_set(f, PROTO_CODE_UNKNOWN_FIELD, c->string,
                                   "field name \"%s\" must be 1..64 of A-Z a-z 0-9 _", c->string);
        }
        if (strcmp(c->string, "_deleted") == 0 && !cJSON_IsBool(c))
            return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, "_deleted",
                                   "_deleted must be true or false");
        const char *why = NULL;
        err = proto__value_from_json(a, c, &fields[i].value, &why);
        if (err == PROTO_EINVALID)
            return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, c->string, "%s: %s", c->string,
                                   why);
        if (err)
            return err;
        fields[i].name = proto__strndup(a, c->string, len);
        if (!fields[i].name)
            return PROTO_ENOMEM;
    }
    const char *dup = proto__fields_sort(fields, i);
    if (dup)
        return proto_fault_set(f, PROTO_CODE_INVALID_FIELD, dup,
                               "field %s appears more than once", dup);
    ch->fields = fields;
    ch->n_fields = i;
    return 0;
}

/* Reads everything but seq; a malformed change fills f and returns PROTO_EINVALID. */
static int parse_change_body(struct proto_arena *a, const cJSON *item, struct proto_change *ch,
                             struct proto_fault *f)
{
    const cJSON *id;
    /* The id is read first and kept when valid, so that the result can echo it. */
    if (proto__member(item, "id", &id) == 0 && cJSON_IsString(id) &&
        proto_id_valid(id->valuestring, strlen(id->valuestring))) {
        ch->id = proto__strdup(a, id->valuestring);
        if (!ch->id)
            return PROTO_ENOMEM;
    }
    struct proto__where wc = {PROTO_CODE_UNKNOWN_COLLECTION, "", f};
    int err = proto__get_string(a, item, "collection", 1, 1, 64, &ch->collection, &wc);
    if (err)
        return err;
    if (!proto__name_valid(ch->collection, strlen(ch->collection)))
        return proto_fault_set(f, PROTO_CODE_UNKNOWN_COLLECTION, "collection",
                               "collection \"%s\" is not a collection name (1..64 of A-Z a-z "
                               "0-9 _)",
                               ch->collection);
    if (!ch->id) {
        const cJSON *dummy;
        if (proto__member(item, "id", &dummy) < 0)
            return proto_fault_set(f, PROTO_CODE_BAD_ID, "id", "id appears more than once");
        char got[40];
        proto__describe(id, got, sizeof(got));
        if (!id)
            return proto_fault_set(f, PROTO_CODE_BAD_ID, "id", "id is required");
        if (!cJSON_IsString(id))
            return proto_fault_set(f, PROTO_CODE_BAD_ID, "id", "id must be a string; got %s",
                                   got);
        size_t len = strlen(id->valuestring);
        if (len == 0)
            return proto_fault_set(f, PROTO_CODE_BAD_ID, "id", "id must not be empty");
        if (len > PROTO_ID_MAX || !proto__utf8_valid(id->valuestring, len, NULL))
            return proto_fault_set(f, PROTO_CODE_BAD_ID, "id",
                                   "id must be 1..64 of A-Z a-z 0-9 _ - . :; got a string of "
                                   "%zu bytes",
                                   len);
        return proto_fault_set(f, PROTO_CODE_BAD_ID, "id",
                               "id \"%s\" must be 1..64 of A-Z a-z 0-9 _ - . :", id->valuestring);
    }
    struct proto__where wf = {PROTO_CODE_INVALID_FIELD, "", f};
    err = proto__get_int(item, "base", 1, 0, PROTO_SEQ_MAX, &ch->base, NULL, &wf);
    if (!err)
        err = parse_hlc(item, &ch->hlc, f);
    if (!err)
        err = parse_fields(a, item, ch, f);
    return err;
}

static int parse_change(struct proto_arena *a, const cJSON *item, size_t i,
                        struct proto_change *ch, struct proto_fault *fault)
{
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "changes[%zu].", i);
    if (!cJSON_IsObject(item)) {
        char got[40];
        proto__describe(item, got, sizeof(got));
        prefix[strlen(prefix) - 1] = '\0';
        return proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, prefix,
                               "%s must be an object; got %s", prefix, got);
    }
    struct proto__where w = {PROTO_CODE_BAD_MESSAGE, prefix, fault};
    int err = proto__get_int(item, "seq", 1, 1, PROTO_SEQ_MAX, &ch->seq, NULL, &w);
    if (err)
        return err;
    ch->raw = proto__json_print(a, item, &ch->raw_len);
    if (!ch->raw)
        return PROTO_ENOMEM;
    err = parse_change_body(a, item, ch, &ch->fault);
    if (err == PROTO_EINVALID) {
        /* The change is answered "rejected"; its parts may be half read. */
        ch->fields = NULL;
        ch->n_fields = 0;
        return 0;
    }
    ch->fault.code = PROTO_CODE_NONE;
    return err;
}

int proto__parse_push(struct proto_msg *m, const cJSON *root, struct proto_fault *fault)
{
    struct proto__where w = {PROTO_CODE_BAD_MESSAGE, "", fault};
    const cJSON *list;
    int err = proto__get_item(root, "changes", 1, cJSON_Array, &list, &w);
    if (err)
        return err;
    size_t n = (size_t)cJSON_GetArraySize(list);
    if (n > PROTO__MAX_CHANGES)
        return proto_fault_set(fault, PROTO_CODE_BATCH_TOO_LARGE, "changes",
                               "the push carries %zu changes; send at most the welcome's "
                               "max_batch per push",
                               n);
    struct proto_change *changes = proto__alloc(m->arena, (n ? n : 1) * sizeof(*changes));
    if (!changes)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = list->child; c && i < n; c = c->next, i++) {
        err = parse_change(m->arena, c, i, &changes[i], fault);
        if (err)
            return err;
    }
    m->u.push.changes = changes;
    m->u.push.n_changes = i;
    return 0;
}
