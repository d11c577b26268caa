/*
 * change.c — the arena and the proto_value / proto_change builders of
 * change.h. JSON text is produced with protocol/'s own string escaper so
 * that what the CLI builds is byte-for-byte what a parsed push carries.
 */
#include "change.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN (256 * 1024)

struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

struct cli_arena {
    struct chunk *head;
    size_t total; /* bytes of all chunks */
    size_t used;
    size_t max;
};

struct cli_arena *cli_arena_new(size_t max_bytes)
{
    struct cli_arena *a = calloc(1, sizeof *a);
    if (a)
        a->max = max_bytes;
    return a;
}

void cli_arena_free(struct cli_arena *a)
{
    if (a == NULL)
        return;
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

size_t cli_arena_used(const struct cli_arena *a)
{
    return a->used;
}

void *cli_arena_alloc(struct cli_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    struct chunk *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
        if (a->total + size > a->max)
            return NULL;
        c = malloc(sizeof *c + size);
        if (c == NULL)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        a->total += size;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *cli_arena_strndup(struct cli_arena *a, const char *s, size_t n)
{
    char *p = cli_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Copies a proto_buf's output into the arena as the value's json. */
static int take_json(struct cli_arena *a, struct proto_buf *b, struct proto_value *v)
{
    char *json = cli_arena_strndup(a, proto_buf_data(b), b->len);
    if (json == NULL)
        return -1;
    v->json = json;
    v->json_len = b->len;
    return 0;
}

int cli_value_string(struct cli_arena *a, const char *s, struct proto_value *out)
{
    struct proto_value v = {.type = PROTO_STRING};
    struct proto_buf b;
    size_t len = strlen(s);
    int rc = -1;
    proto_buf_init(&b, 0, 8 * len + 16);
    v.str = cli_arena_strndup(a, s, len);
    if (v.str == NULL || proto_buf_append_json_string(&b, s, len) != 0 || take_json(a, &b, &v))
        goto out;
    v.len = len;
    for (size_t i = 0; i < len; i++)
        v.chars += ((unsigned char)s[i] & 0xc0) != 0x80; /* count lead bytes */
    *out = v;
    rc = 0;
out:
    proto_buf_free(&b);
    return rc;
}

int cli_value_number(struct cli_arena *a, double d, struct proto_value *out)
{
    struct proto_value v = {.type = PROTO_NUMBER, .number = d};
    char buf[40];
    int n;
    if (!isfinite(d))
        return -1;
    /* Integers print without a fraction, as every JSON writer does. */
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        n = snprintf(buf, sizeof buf, "%" PRId64, (int64_t)d);
    else
        n = snprintf(buf, sizeof buf, "%.17g", d);
    v.json = cli_arena_strndup(a, buf, (size_t)n);
    if (v.json == NULL)
        return -1;
    v.json_len = (size_t)n;
    *out = v;
    return 0;
}

int cli_value_bool(struct cli_arena *a, int b, struct proto_value *out)
{
    (void)a;
    struct proto_value v = {.type = PROTO_BOOL, .boolean = b != 0};
    v.json = b ? "true" : "false";
    v.json_len = strlen(v.json);
    *out = v;
    return 0;
}

int cli_value_string_array(struct cli_arena *a, const char *const *items, size_t n,
                           struct proto_value *out)
{
    struct proto_value v = {.type = PROTO_ARRAY};
    struct proto_value *vals = cli_arena_alloc(a, (n ? n : 1) * sizeof *vals);
    struct proto_buf b;
    int rc = -1;
    proto_buf_init(&b, 0, 16 * 1024 * 1024);
    if (vals == NULL || proto_buf_append(&b, "[", 1) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (cli_value_string(a, items[i], &vals[i]) != 0 ||
            (i && proto_buf_append(&b, ",", 1) != 0) ||
            proto_buf_append(&b, vals[i].json, vals[i].json_len) != 0)
            goto out;
    }
    if (proto_buf_append(&b, "]", 1) != 0 || take_json(a, &b, &v) != 0)
        goto out;
    v.items = vals;
    v.n_items = n;
    *out = v;
    rc = 0;
out:
    proto_buf_free(&b);
    return rc;
}

/* Reserves the next slot of f under name, or records the failure. */
static struct proto_field *next_field(struct cli_fields *f, struct cli_arena *a, const char *name)
{
    if (f->err)
        return NULL;
    if (f->n == CLI_FIELDS_MAX) {
        f->err = -1;
        return NULL;
    }
    struct proto_field *fld = &f->items[f->n];
    fld->name = cli_arena_strndup(a, name, strlen(name));
    if (fld->name == NULL) {
        f->err = -1;
        return NULL;
    }
    return fld;
}

/* Keeps the slot when rc is 0, else records the failure. */
static void commit_field(struct cli_fields *f, int rc)
{
    if (rc == 0)
        f->n++;
    else
        f->err = -1;
}

void cli_fields_str(struct cli_fields *f, struct cli_arena *a, const char *name, const char *s)
{
    struct proto_field *fld = next_field(f, a, name);
    if (fld)
        commit_field(f, cli_value_string(a, s, &fld->value));
}

void cli_fields_num(struct cli_fields *f, struct cli_arena *a, const char *name, double d)
{
    struct proto_field *fld = next_field(f, a, name);
    if (fld)
        commit_field(f, cli_value_number(a, d, &fld->value));
}

void cli_fields_bool(struct cli_fields *f, struct cli_arena *a, const char *name, int b)
{
    struct proto_field *fld = next_field(f, a, name);
    if (fld)
        commit_field(f, cli_value_bool(a, b, &fld->value));
}

void cli_fields_strs(struct cli_fields *f, struct cli_arena *a, const char *name,
                     const char *const *items, size_t n)
{
    struct proto_field *fld = next_field(f, a, name);
    if (fld)
        commit_field(f, cli_value_string_array(a, items, n, &fld->value));
}

static int by_name(const void *x, const void *y)
{
    const struct proto_field *a = x, *b = y;
    return strcmp(a->name, b->name);
}

int cli_change_build(struct cli_arena *a, struct proto_change *c, int64_t seq,
                     const char *collection, const char *id, int64_t base, int64_t hlc_ms,
                     int64_t counter, struct cli_fields *f)
{
    struct proto_change ch = {0};
    struct proto_field *fields = NULL;
    struct proto_buf b;
    char num[96];
    int rc = -1;

    proto_buf_init(&b, 0, PROTO_MAX_MESSAGE);
    if (f->err)
        goto out;
    fields = cli_arena_alloc(a, (f->n ? f->n : 1) * sizeof *fields);
    if (fields == NULL)
        goto out;
    memcpy(fields, f->items, f->n * sizeof *fields);
    qsort(fields, f->n, sizeof *fields, by_name);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(fields[i - 1].name, fields[i].name) == 0)
            goto out;

    ch.seq = seq;
    ch.collection = cli_arena_strndup(a, collection, strlen(collection));
    ch.id = cli_arena_strndup(a, id, strlen(id));
    ch.base = base;
    ch.hlc.ms = hlc_ms;
    ch.hlc.counter = counter;
    ch.fields = fields;
    ch.n_fields = f->n;
    ch.fault.code = PROTO_CODE_NONE;
    if (ch.collection == NULL || ch.id == NULL)
        goto out;

    /* raw: {"seq":…,"collection":…,"id":…,"base":…,"hlc":[…],"fields":{…}} */
    snprintf(num, sizeof num, "{\"seq\":%" PRId64 ",\"collection\":", seq);
    if (proto_buf_append(&b, num, strlen(num)) != 0 ||
        proto_buf_append_json_string(&b, collection, strlen(collection)) != 0 ||
        proto_buf_append(&b, ",\"id\":", 6) != 0 ||
        proto_buf_append_json_string(&b, id, strlen(id)) != 0)
        goto out;
    snprintf(num, sizeof num,
             ",\"base\":%" PRId64 ",\"hlc\":[%" PRId64 ",%" PRId64 "],\"fields\":{", base,
             hlc_ms, counter);
    if (proto_buf_append(&b, num, strlen(num)) != 0)
        goto out;
    for (size_t i = 0; i < f->n; i++) {
        if ((i && proto_buf_append(&b, ",", 1) != 0) ||
            proto_buf_append_json_string(&b, fields[i].name, strlen(fields[i].name)) != 0 ||
            proto_buf_append(&b, ":", 1) != 0 ||
            proto_buf_append(&b, fields[i].value.json, fields[i].value.json_len) != 0)
            goto out;
    }
    if (proto_buf_append(&b, "}}", 2) != 0)
        goto out;
    ch.raw = cli_arena_strndup(a, proto_buf_data(&b), b.len);
    if (ch.raw == NULL)
        goto out;
    ch.raw_len = b.len;
    *c = ch;
    rc = 0;
out:
    proto_buf_free(&b);
    return rc;
}
