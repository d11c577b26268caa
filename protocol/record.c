/*
 * record.c — the stored form of a record (architecture.md, "The merge").
 *
 *   body = {"field":value,…}                   current values, "_deleted" left out
 *   meta = {"field":[ms,counter,"device",rev],…, "_deleted":[ms,counter,"device",rev,true]}
 *
 * Both are compact JSON with members sorted by name (bytewise), so the same
 * fields and stamps always give the same bytes: records compare, hash and
 * replicate by their text. "_deleted" is a field like the others for the
 * merge; its value lives in its stamp so that body stays what clients see.
 *
 * The stored form is read back by proto_record_decode (record_decode.c),
 * strictly and without cJSON. proto_fields_decode below reads any JSON
 * object of fields through cJSON: the CLI and the client library hand it
 * text a person or another program wrote. The server never calls it (cJSON's
 * parser writes global state; only the service thread may use it).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto_record.h"

/* True when s[0..n) goes into a JSON string as it is (no byte needs an escape). */
static int plain(const char *s, size_t n)
{
    return proto__json_plain(s, n) == n;
}

/* The longest name or device composed on the stack; longer ones take the general path. */
#define STAMP_PART_MAX 64

static int put_stamp(struct proto_buf *m, const struct proto_field *f, const struct proto_stamp *s)
{
    size_t name_len = strlen(f->name), dev_len = strlen(s->device);
    int deleted = proto__is_deleted(f->name);
    if (name_len <= STAMP_PART_MAX && dev_len <= STAMP_PART_MAX && plain(f->name, name_len) &&
        plain(s->device, dev_len)) {
        /*
         * The usual stamp is composed whole and appended once: the writer
         * writes one per field of every record it stores.
         */
        char t[2 * STAMP_PART_MAX + 3 * PROTO__I64_MAX + 24];
        size_t k = 0;
        t[k++] = '"';
        memcpy(t + k, f->name, name_len);
        k += name_len;
        memcpy(t + k, "\":[", 3);
        k += 3;
        k += proto__i64_format(s->hlc.ms, t + k);
        t[k++] = ',';
        k += proto__i64_format(s->hlc.counter, t + k);
        memcpy(t + k, ",\"", 2);
        k += 2;
        memcpy(t + k, s->device, dev_len);
        k += dev_len;
        memcpy(t + k, "\",", 2);
        k += 2;
        k += proto__i64_format(s->rev, t + k);
        if (deleted) {
            const char *flag = f->value.boolean ? ",true" : ",false";
            size_t flag_len = strlen(flag);
            memcpy(t + k, flag, flag_len);
            k += flag_len;
        }
        t[k++] = ']';
        return proto_buf_append(m, t, k);
    }
    int err = proto_buf_append_json_string(m, f->name, name_len);
    if (!err)
        err = proto__buf_puts(m, ":[");
    if (!err)
        err = proto__buf_put_i64(m, s->hlc.ms);
    if (!err)
        err = proto__buf_puts(m, ",");
    if (!err)
        err = proto__buf_put_i64(m, s->hlc.counter);
    if (!err)
        err = proto__buf_puts(m, ",");
    if (!err)
        err = proto_buf_append_json_string(m, s->device, dev_len);
    if (!err)
        err = proto__buf_puts(m, ",");
    if (!err)
        err = proto__buf_put_i64(m, s->rev);
    if (!err && deleted)
        err = proto__buf_puts(m, f->value.boolean ? ",true" : ",false");
    return err ? err : proto__buf_puts(m, "]");
}

int proto_record_encode(const struct proto_field *fields, const struct proto_stamp *stamps,
                        size_t n, struct proto_buf *body, struct proto_buf *meta)
{
    size_t body_start = body->len, meta_start = meta->len;
    int err = 0;
    for (size_t i = 0; i < n; i++) {
        /* Sorted and unique is what makes the encoding deterministic. */
        if (!fields[i].name || !stamps[i].device ||
            (i > 0 && strcmp(fields[i - 1].name, fields[i].name) >= 0) ||
            (proto__is_deleted(fields[i].name) ? fields[i].value.type != PROTO_BOOL
                                               : !fields[i].value.json))
            return PROTO_EINVALID;
    }
    /*
     * Both outputs are reserved once from their expected sizes, so a record
     * grows each buffer once instead of doubling through its appends. It is
     * only a hint: a failure here is left to the appends to report.
     */
    size_t body_need = 2, meta_need = 2;
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strlen(fields[i].name);
        body_need += name_len + 4 + fields[i].value.json_len;
        meta_need += name_len + strlen(stamps[i].device) + 3 * PROTO__I64_MAX + 16;
    }
    (void)proto__buf_reserve(body, body_need);
    (void)proto__buf_reserve(meta, meta_need);
    err = proto__buf_puts(body, "{");
    if (!err)
        err = proto__buf_puts(meta, "{");
    int first_body = 1;
    for (size_t i = 0; !err && i < n; i++) {
        if (i)
            err = proto__buf_puts(meta, ",");
        if (!err)
            err = put_stamp(meta, &fields[i], &stamps[i]);
        if (err || proto__is_deleted(fields[i].name))
            continue;
        size_t name_len = strlen(fields[i].name);
        if (name_len <= STAMP_PART_MAX && plain(fields[i].name, name_len)) {
            /* The usual name: separator, quoted name and colon in one append. */
            char t[STAMP_PART_MAX + 4];
            size_t k = 0;
            if (!first_body)
                t[k++] = ',';
            t[k++] = '"';
            memcpy(t + k, fields[i].name, name_len);
            k += name_len;
            t[k++] = '"';
            t[k++] = ':';
            err = proto_buf_append(body, t, k);
        } else {
            if (!first_body)
                err = proto__buf_puts(body, ",");
            if (!err)
                err = proto_buf_append_json_string(body, fields[i].name, name_len);
            if (!err)
                err = proto__buf_puts(body, ":");
        }
        first_body = 0;
        if (!err)
            err = proto_buf_append(body, fields[i].value.json, fields[i].value.json_len);
    }
    if (!err)
        err = proto__buf_puts(body, "}");
    if (!err)
        err = proto__buf_puts(meta, "}");
    if (err) {
        body->len = body_start;
        meta->len = meta_start;
        if (body->mem)
            body->mem[body->head + body->len] = '\0';
        if (meta->mem)
            meta->mem[meta->head + meta->len] = '\0';
    }
    return err;
}

static int corrupt(struct proto_fault *f, const char *field, const char *what)
{
    return proto_fault_set(f, PROTO_CODE_INTERNAL, field, "the stored record is corrupt: %s",
                           what);
}

/* Reads body's members into fields, sorted. */
static int body_fields(struct proto_arena *a, const cJSON *body, struct proto_field **out,
                       size_t *n_out, struct proto_fault *f)
{
    size_t n = body ? (size_t)cJSON_GetArraySize(body) : 0;
    if (body && !cJSON_IsObject(body))
        return corrupt(f, "body", "body is not a JSON object");
    struct proto_field *fields = proto__alloc(a, (n ? n : 1) * sizeof(*fields));
    if (!fields)
        return PROTO_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = body ? body->child : NULL; c && i < n; c = c->next, i++) {
        const char *why = NULL;
        if (proto__is_deleted(c->string))
            return corrupt(f, c->string, "_deleted belongs in meta, not in body");
        int err = proto__value_from_json(a, c, &fields[i].value, &why);
        if (err == PROTO_EINVALID)
            return corrupt(f, c->string, why);
        if (err)
            return err;
        fields[i].name = proto__strdup(a, c->string);
        if (!fields[i].name)
            return PROTO_ENOMEM;
    }
    const char *dup = proto__fields_sort(fields, i);
    if (dup)
        return corrupt(f, dup, "a field appears twice in body");
    *out = fields;
    *n_out = i;
    return 0;
}

int proto_fields_decode(const char *body, size_t body_len, struct proto_record **out,
                        struct proto_fault *fault)
{
    cJSON *jbody = NULL;
    struct proto_arena *a = proto__arena_new();
    int err = a ? 0 : PROTO_ENOMEM;
    if (!err && body && body_len)
        err = proto__json_parse(body, body_len, &jbody, fault);
    if (err == PROTO_EINVALID)
        fault->code = PROTO_CODE_INTERNAL;
    struct proto_field *fields = NULL;
    size_t n = 0;
    if (!err)
        err = body_fields(a, jbody, &fields, &n, fault);
    struct proto_record *r = NULL;
    if (!err) {
        r = proto__alloc(a, sizeof(*r));
        err = r ? 0 : PROTO_ENOMEM;
    }
    cJSON_Delete(jbody);
    if (err) {
        proto__arena_free(a);
        return err;
    }
    r->fields = fields;
    r->n_fields = n;
    r->arena = a;
    *out = r;
    return 0;
}

void proto_record_free(struct proto_record *r)
{
    if (r)
        proto__arena_free(r->arena);
}
