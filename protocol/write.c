/*
 * write.c — the serializers. They write compact JSON by hand straight into
 * a proto_buf, without building a tree: this is the server's hot path
 * (every ack and every pulled record). Strings are escaped by
 * proto_buf_append_json_string; stored record bodies and values are
 * already compact JSON and are spliced in verbatim. A writer that fails
 * (PROTO_ETOOBIG, PROTO_ENOMEM) leaves the buffer as it found it, so a
 * caller filling a changes reply can stop at the item that did not fit.
 */
#include <string.h>

#include "internal.h"

static int put_json_string(struct proto_buf *b, const char *s)
{
    if (!s)
        s = "";
    return proto_buf_append_json_string(b, s, strlen(s));
}

/* `,"key":` then a string, an integer or a literal; keys are our own literals. */
static int kv_str(struct proto_buf *b, const char *key, const char *s)
{
    int err = proto__buf_puts(b, ",\"");
    if (!err)
        err = proto__buf_puts(b, key);
    if (!err)
        err = proto__buf_puts(b, "\":");
    return err ? err : put_json_string(b, s);
}

static int kv_int(struct proto_buf *b, const char *key, int64_t v)
{
    int err = proto__buf_puts(b, ",\"");
    if (!err)
        err = proto__buf_puts(b, key);
    if (!err)
        err = proto__buf_puts(b, "\":");
    return err ? err : proto__buf_put_i64(b, v);
}

static int kv_raw(struct proto_buf *b, const char *key, const char *json, size_t len)
{
    int err = proto__buf_puts(b, ",\"");
    if (!err)
        err = proto__buf_puts(b, key);
    if (!err)
        err = proto__buf_puts(b, "\":");
    return err ? err : proto_buf_append(b, json, len);
}

static int kv_bool(struct proto_buf *b, const char *key, int v)
{
    return kv_raw(b, key, v ? "true" : "false", v ? 4 : 5);
}

/* `{"type":"…"` and the req when there is one. */
static int begin(struct proto_buf *b, const char *type, const char *req)
{
    int err = proto__buf_puts(b, "{\"type\":\"");
    if (!err)
        err = proto__buf_puts(b, type);
    if (!err)
        err = proto__buf_puts(b, "\"");
    if (!err && req)
        err = kv_str(b, "req", req);
    return err;
}

/* Closes the object on success; on failure cuts the buffer back to start. */
static int finish(struct proto_buf *b, size_t start, int err, int close)
{
    if (!err && close)
        err = proto__buf_puts(b, "}");
    if (err) {
        b->len = start;
        if (b->mem)
            b->mem[b->head + b->len] = '\0';
    }
    return err;
}

static int put_strings(struct proto_buf *b, const char *key, const char *const *s, size_t n)
{
    int err = kv_raw(b, key, "[", 1);
    for (size_t i = 0; !err && i < n; i++) {
        if (i)
            err = proto__buf_puts(b, ",");
        if (!err)
            err = put_json_string(b, s[i]);
    }
    return err ? err : proto__buf_puts(b, "]");
}

int proto_write_hello(struct proto_buf *b, const char *req, const struct proto_hello *h)
{
    size_t start = b->len;
    int err = begin(b, "hello", req);
    if (!err)
        err = kv_str(b, "device", h->device);
    if (!err)
        err = kv_str(b, "token", h->token);
    if (!err && h->app)
        err = kv_str(b, "app", h->app);
    if (!err && h->pending >= 0)
        err = kv_int(b, "pending", h->pending);
    if (!err && h->oldest_pending)
        err = kv_str(b, "oldest_pending", h->oldest_pending);
    if (!err && h->has_clock)
        err = kv_int(b, "clock", h->clock);
    return finish(b, start, err, 1);
}

int proto_write_welcome(struct proto_buf *b, const char *req, const struct proto_welcome *w)
{
    size_t start = b->len;
    int err = begin(b, "welcome", req);
    if (!err)
        err = kv_str(b, "user", w->user);
    if (!err)
        err = kv_str(b, "role", w->role);
    if (!err)
        err = put_strings(b, "grids", w->grids, w->n_grids);
    if (!err)
        err = kv_int(b, "time", w->time);
    if (!err)
        err = kv_int(b, "max_batch", w->max_batch);
    if (!err)
        err = kv_int(b, "max_message", w->max_message);
    if (!err)
        err = kv_str(b, "cursor", w->cursor);
    if (!err)
        err = kv_int(b, "protocol", w->protocol);
    if (!err && w->schema_version)
        err = kv_str(b, "schema_version", w->schema_version);
    /* Last, as an addition to protocol 1; negative means "do not say". */
    if (!err && w->seq >= 0)
        err = kv_int(b, "seq", w->seq);
    return finish(b, start, err, 1);
}

static int put_change(struct proto_buf *b, const struct proto_change *c)
{
    int err = proto__buf_puts(b, "{\"seq\":");
    if (!err)
        err = proto__buf_put_i64(b, c->seq);
    if (!err)
        err = kv_str(b, "collection", c->collection);
    if (!err)
        err = kv_str(b, "id", c->id);
    if (!err)
        err = kv_int(b, "base", c->base);
    if (!err)
        err = proto__buf_puts(b, ",\"hlc\":[");
    if (!err)
        err = proto__buf_put_i64(b, c->hlc.ms);
    if (!err)
        err = proto__buf_puts(b, ",");
    if (!err)
        err = proto__buf_put_i64(b, c->hlc.counter);
    if (!err)
        err = proto__buf_puts(b, "],\"fields\":{");
    for (size_t i = 0; !err && i < c->n_fields; i++) {
        if (i)
            err = proto__buf_puts(b, ",");
        if (!err)
            err = put_json_string(b, c->fields[i].name);
        if (!err)
            err = proto__buf_puts(b, ":");
        if (!err)
            err = proto_buf_append(b, c->fields[i].value.json, c->fields[i].value.json_len);
    }
    return err ? err : proto__buf_puts(b, "}}");
}

int proto_write_push(struct proto_buf *b, const char *req, const struct proto_change *changes,
                     size_t n)
{
    size_t start = b->len;
    int err = begin(b, "push", req);
    if (!err)
        err = kv_raw(b, "changes", "[", 1);
    for (size_t i = 0; !err && i < n; i++) {
        if (i)
            err = proto__buf_puts(b, ",");
        if (!err)
            err = put_change(b, &changes[i]);
    }
    if (!err)
        err = proto__buf_puts(b, "]");
    return finish(b, start, err, 1);
}

static int put_result(struct proto_buf *b, const struct proto_result *r)
{
    int err = proto__buf_puts(b, "{\"seq\":");
    if (!err)
        err = proto__buf_put_i64(b, r->seq);
    if (!err && r->id)
        err = kv_str(b, "id", r->id);
    if (!err)
        err = kv_str(b, "status", proto_status_name(r->status));
    if (!err)
        err = kv_int(b, "rev", r->rev);
    if (!err && r->status == PROTO_CONFLICT)
        err = put_strings(b, "conflicts", r->conflicts, r->n_conflicts);
    if (!err && r->status == PROTO_REJECTED) {
        err = proto__buf_puts(b, ",\"error\":{\"code\":");
        if (!err)
            err = put_json_string(b, proto_code_name(r->error.code));
        if (!err && r->error.field[0])
            err = kv_str(b, "field", r->error.field);
        if (!err)
            err = kv_str(b, "message", r->error.message);
        if (!err)
            err = proto__buf_puts(b, "}");
    }
    return err ? err : proto__buf_puts(b, "}");
}

int proto_write_ack(struct proto_buf *b, const char *req, const char *cursor,
                    const struct proto_result *results, size_t n)
{
    size_t start = b->len;
    int err = begin(b, "ack", req);
    if (!err)
        err = kv_str(b, "cursor", cursor);
    if (!err)
        err = kv_raw(b, "results", "[", 1);
    for (size_t i = 0; !err && i < n; i++) {
        if (i)
            err = proto__buf_puts(b, ",");
        if (!err)
            err = put_result(b, &results[i]);
    }
    if (!err)
        err = proto__buf_puts(b, "]");
    return finish(b, start, err, 1);
}

int proto_write_pull(struct proto_buf *b, const char *req, const char *since, int64_t limit)
{
    size_t start = b->len;
    int err = begin(b, "pull", req);
    if (!err && since)
        err = kv_str(b, "since", since);
    if (!err && limit > 0)
        err = kv_int(b, "limit", limit);
    return finish(b, start, err, 1);
}

int proto_write_changes_begin(struct proto_buf *b, const char *req, int reset)
{
    size_t start = b->len;
    int err = begin(b, "changes", req);
    if (!err && reset)
        err = kv_raw(b, "reset", "true", 4);
    if (!err)
        err = kv_raw(b, "changes", "[", 1);
    return finish(b, start, err, 0);
}

int proto_write_changes_item(struct proto_buf *b, const struct proto_pulled *p, int first)
{
    size_t start = b->len;
    int err = first ? 0 : proto__buf_puts(b, ",");
    if (!err)
        err = proto__buf_puts(b, "{\"collection\":");
    if (!err)
        err = put_json_string(b, p->collection);
    if (!err)
        err = kv_str(b, "id", p->id);
    if (!err && p->removed)
        err = kv_raw(b, "removed", "true", 4);
    if (!err && !p->removed) {
        err = kv_int(b, "rev", p->rev);
        if (!err && p->body)
            err = kv_raw(b, "fields", p->body, p->body_len);
        else if (!err)
            err = kv_raw(b, "fields", "{}", 2);
        if (!err && p->deleted)
            err = kv_raw(b, "deleted", "true", 4);
    }
    return finish(b, start, err, 1);
}

int proto_write_changes_end(struct proto_buf *b, const char *cursor, int more)
{
    size_t start = b->len;
    int err = proto__buf_puts(b, "]");
    if (!err)
        err = kv_str(b, "cursor", cursor);
    if (!err)
        err = kv_bool(b, "more", more);
    return finish(b, start, err, 1);
}

int proto_write_poke(struct proto_buf *b, const char *cursor)
{
    size_t start = b->len;
    int err = begin(b, "poke", NULL);
    if (!err)
        err = kv_str(b, "cursor", cursor);
    return finish(b, start, err, 1);
}

int proto_write_schema(struct proto_buf *b, const char *req, const char *version,
                       const char *collections_json)
{
    size_t start = b->len;
    int err = begin(b, "schema", req);
    if (!err)
        err = kv_str(b, "version", version);
    if (!err)
        err = kv_raw(b, "collections", collections_json, strlen(collections_json));
    return finish(b, start, err, 1);
}

int proto_write_schema_request(struct proto_buf *b, const char *req)
{
    size_t start = b->len;
    return finish(b, start, begin(b, "schema", req), 1);
}

int proto_write_blob_offer(struct proto_buf *b, const char *req, const struct proto_blob_offer *o)
{
    size_t start = b->len;
    int err = begin(b, "blob_offer", req);
    if (!err)
        err = kv_str(b, "sha256", o->sha256);
    if (!err)
        err = kv_int(b, "size", o->size);
    if (!err && o->mime)
        err = kv_str(b, "mime", o->mime);
    return finish(b, start, err, 1);
}

int proto_write_blob_status(struct proto_buf *b, const char *req, const struct proto_blob_status *s)
{
    size_t start = b->len;
    int err = begin(b, "blob_status", req);
    if (!err)
        err = kv_str(b, "sha256", s->sha256);
    if (!err)
        err = kv_int(b, "have", s->have);
    if (!err)
        err = kv_bool(b, "complete", s->complete);
    return finish(b, start, err, 1);
}

int proto_write_error(struct proto_buf *b, const char *req, enum proto_code code,
                      const char *message)
{
    size_t start = b->len;
    int err = begin(b, "error", req);
    if (!err)
        err = kv_str(b, "code", proto_code_name(code));
    if (!err)
        err = kv_str(b, "message", message);
    return finish(b, start, err, 1);
}
