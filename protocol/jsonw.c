/*
 * jsonw.c — the JSON writer of proto_jsonw.h: commas and nesting tracked
 * per container, the first error kept.
 */
#include <string.h>

#include "internal.h"
#include "proto_jsonw.h"

void proto_jw_init(struct proto_jw *w, struct proto_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

/* Writes the comma an item needs, unless it is a member's value or the first item. */
static void item(struct proto_jw *w, const char *text, size_t len)
{
    if (w->err)
        return;
    if (!w->after_key && w->depth > 0 && w->filled[w->depth - 1])
        w->err = proto_buf_append(w->b, ",", 1);
    if (w->depth > 0)
        w->filled[w->depth - 1] = 1;
    w->after_key = 0;
    if (!w->err)
        w->err = proto_buf_append(w->b, text, len);
}

static void open_container(struct proto_jw *w, const char *bracket)
{
    if (!w->err && w->depth == PROTO_JW_DEPTH)
        w->err = PROTO_EINVALID;
    item(w, bracket, 1);
    if (!w->err)
        w->filled[w->depth++] = 0;
}

static void close_container(struct proto_jw *w, const char *bracket)
{
    if (!w->err && (w->depth == 0 || w->after_key))
        w->err = PROTO_EINVALID;
    if (w->err)
        return;
    w->depth--;
    w->err = proto_buf_append(w->b, bracket, 1);
}

void proto_jw_object(struct proto_jw *w)
{
    open_container(w, "{");
}

void proto_jw_object_end(struct proto_jw *w)
{
    close_container(w, "}");
}

void proto_jw_array(struct proto_jw *w)
{
    open_container(w, "[");
}

void proto_jw_array_end(struct proto_jw *w)
{
    close_container(w, "]");
}

void proto_jw_key(struct proto_jw *w, const char *key)
{
    if (w->err)
        return;
    if (w->after_key || w->depth == 0) {
        w->err = PROTO_EINVALID;
        return;
    }
    if (w->filled[w->depth - 1])
        w->err = proto_buf_append(w->b, ",", 1);
    w->filled[w->depth - 1] = 1;
    if (!w->err)
        w->err = proto_buf_append_json_string(w->b, key, strlen(key));
    if (!w->err)
        w->err = proto_buf_append(w->b, ":", 1);
    w->after_key = 1;
}

void proto_jw_string(struct proto_jw *w, const char *s)
{
    if (s == NULL) {
        proto_jw_null(w);
        return;
    }
    /* The separator first, then the escaped text straight into the buffer. */
    item(w, "", 0);
    if (!w->err)
        w->err = proto_buf_append_json_string(w->b, s, strlen(s));
}

void proto_jw_int(struct proto_jw *w, int64_t v)
{
    char num[PROTO__I64_MAX];

    item(w, num, proto__i64_format(v, num));
}

void proto_jw_number(struct proto_jw *w, double d)
{
    char num[PROTO__NUM_MAX];
    size_t n = proto__json_number_text(d, num);

    if (n == 0)
        proto_jw_null(w);
    else
        item(w, num, n);
}

void proto_jw_bool(struct proto_jw *w, int v)
{
    item(w, v ? "true" : "false", v ? 4 : 5);
}

void proto_jw_null(struct proto_jw *w)
{
    item(w, "null", 4);
}

void proto_jw_time(struct proto_jw *w, int64_t ms)
{
    char t[40];

    if (ms == 0) {
        proto_jw_null(w);
        return;
    }
    proto_format_time(ms, t, sizeof t);
    t[sizeof t - 1] = '\0';
    item(w, "\"", 1);
    if (!w->err)
        w->err = proto_buf_append(w->b, t, strlen(t));
    if (!w->err)
        w->err = proto_buf_append(w->b, "\"", 1);
}

void proto_jw_raw(struct proto_jw *w, const char *json, size_t len)
{
    item(w, json, len);
}

int proto_jw_finish(struct proto_jw *w)
{
    if (!w->err && (w->depth != 0 || w->after_key))
        w->err = PROTO_EINVALID;
    return w->err;
}
