/*
 * dump.c — one "key=value" line per member of a parsed client message.
 * Strings are written bare, values as their canonical JSON, a change's
 * fault as code:field (or "none"). The case runner compares expectations
 * with these lines, so a case can check exactly what matters to it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "dump.h"

struct out {
    char *buf;
    size_t size;
    size_t len;
};

__attribute__((format(printf, 2, 3))) static void line(struct out *o, const char *fmt, ...)
{
    if (o->len + 1 >= o->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    o->len += (size_t)n;
    if (o->len >= o->size - 1) {
        o->len = o->size - 1;
        return;
    }
    o->buf[o->len++] = '\n';
    o->buf[o->len] = '\0';
}

static void dump_change(struct out *o, size_t i, const struct proto_change *c)
{
    line(o, "changes[%zu].seq=%" PRId64, i, c->seq);
    line(o, "changes[%zu].id=%s", i, c->id ? c->id : "(null)");
    if (c->fault.code != PROTO_CODE_NONE) {
        line(o, "changes[%zu].fault=%s:%s", i, proto_code_name(c->fault.code), c->fault.field);
        return;
    }
    line(o, "changes[%zu].fault=none", i);
    line(o, "changes[%zu].collection=%s", i, c->collection);
    line(o, "changes[%zu].base=%" PRId64, i, c->base);
    line(o, "changes[%zu].hlc=%" PRId64 ",%" PRId64, i, c->hlc.ms, c->hlc.counter);
    line(o, "changes[%zu].fields=%zu", i, c->n_fields);
    for (size_t k = 0; k < c->n_fields; k++) {
        const struct proto_value *v = &c->fields[k].value;
        line(o, "changes[%zu].field.%s=%.*s", i, c->fields[k].name, (int)v->json_len, v->json);
        if (v->type == PROTO_STRING)
            line(o, "changes[%zu].chars.%s=%zu", i, c->fields[k].name, v->chars);
        if (v->type == PROTO_ARRAY)
            line(o, "changes[%zu].items.%s=%zu", i, c->fields[k].name, v->n_items);
    }
    /* The order of names, to check the sort. */
    char names[512] = "";
    size_t len = 0;
    for (size_t k = 0; k < c->n_fields && len < sizeof(names) - 1; k++) {
        int n = snprintf(names + len, sizeof(names) - len, "%s%s", k ? "," : "",
                         c->fields[k].name);
        if (n > 0)
            len += (size_t)n;
    }
    line(o, "changes[%zu].names=%s", i, names);
}

void dump_msg(const struct proto_msg *m, char *buf, size_t size)
{
    struct out o = {buf, size, 0};
    buf[0] = '\0';
    line(&o, "type=%s", proto_type_name(m->type));
    line(&o, "req=%s", m->req ? m->req : "(null)");
    switch (m->type) {
    case PROTO_HELLO: {
        const struct proto_hello *h = &m->u.hello;
        line(&o, "device=%s", h->device);
        line(&o, "token=%s", h->token);
        line(&o, "app=%s", h->app ? h->app : "(null)");
        line(&o, "pending=%" PRId64, h->pending);
        line(&o, "oldest_pending=%s", h->oldest_pending ? h->oldest_pending : "(null)");
        if (h->has_clock)
            line(&o, "clock=%" PRId64, h->clock);
        else
            line(&o, "clock=(none)");
        break;
    }
    case PROTO_PUSH:
        line(&o, "changes=%zu", m->u.push.n_changes);
        for (size_t i = 0; i < m->u.push.n_changes; i++)
            dump_change(&o, i, &m->u.push.changes[i]);
        break;
    case PROTO_PULL:
        line(&o, "since=%s", m->u.pull.since);
        line(&o, "limit=%" PRId64, m->u.pull.limit);
        break;
    case PROTO_BLOB_OFFER:
        line(&o, "sha256=%s", m->u.blob_offer.sha256);
        line(&o, "size=%" PRId64, m->u.blob_offer.size);
        line(&o, "mime=%s", m->u.blob_offer.mime ? m->u.blob_offer.mime : "(null)");
        break;
    default:
        break;
    }
}
