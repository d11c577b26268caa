/*
 * fuzz_record.c — the stored-record codec (proto_record_decode and
 * proto_record_encode) on any bytes, through the public API only, so it
 * covers whichever decoder protocol/record.c holds.
 *
 * Input: the body, then "\n" and the meta. Without a "\n" the whole input
 * is a body without meta (a record stored before stamps existed). Body and
 * meta are separate exact-size heap copies, so an over-read of either is
 * an ASan report.
 *
 * Properties:
 *  - the decoder reads only what the encoder writes (proto_record.h): whatever
 *    decodes encodes back to exactly the input's bytes, and that decodes
 *    to the same fields and stamps;
 *  - a body the strict decoder reads (without meta), proto_fields_decode
 *    (any JSON object of fields, for the CLI and clients) reads the same;
 *  - differential: the body, as the fields of a push, goes through the
 *    message parser. When the change parses without a fault (and has no
 *    "_deleted", which a body may not hold), its fields — what the writer
 *    stores — encode and decode back to themselves, and a body that also
 *    decodes on its own gives the very same names and canonical values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"
#include "proto_record.h"

#define RECORD_MAX ((size_t)16 * 1024 * 1024)

static void check_same(const struct proto_record *a, const struct proto_record *b,
                       int with_stamps, const char *what)
{
    FZ_CHECK(a->n_fields == b->n_fields, "%s: %zu fields, then %zu", what, a->n_fields,
             b->n_fields);
    for (size_t i = 0; i < a->n_fields; i++) {
        const struct proto_field *x = &a->fields[i], *y = &b->fields[i];
        FZ_CHECK(strcmp(x->name, y->name) == 0, "%s: field %zu is %s, then %s", what, i, x->name,
                 y->name);
        FZ_CHECK(x->value.type == y->value.type && x->value.json_len == y->value.json_len &&
                     memcmp(x->value.json, y->value.json, x->value.json_len) == 0,
                 "%s: %s = %.*s, then %.*s", what, x->name, (int)x->value.json_len, x->value.json,
                 (int)y->value.json_len, y->value.json);
        if (!with_stamps)
            continue;
        const struct proto_stamp *s = &a->stamps[i], *t = &b->stamps[i];
        FZ_CHECK(s->hlc.ms == t->hlc.ms && s->hlc.counter == t->hlc.counter && s->rev == t->rev &&
                     strcmp(s->device, t->device) == 0,
                 "%s: the stamp of %s changes", what, x->name);
    }
}

static void check_record_shape(const struct proto_record *r, const char *what)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        const struct proto_field *f = &r->fields[i];
        FZ_CHECK(f->name != NULL && f->value.json != NULL, "%s: field %zu is empty", what, i);
        FZ_CHECK(i == 0 || strcmp(r->fields[i - 1].name, f->name) < 0,
                 "%s: fields not sorted and unique at %s", what, f->name);
        FZ_CHECK(r->stamps == NULL || r->stamps[i].device != NULL, "%s: %s has no device", what,
                 f->name);
        if (strcmp(f->name, "_deleted") == 0)
            FZ_CHECK(f->value.type == PROTO_BOOL, "%s: _deleted is not a bool", what);
    }
}

/*
 * Encodes r, decodes that, and checks both ways; returns the encoding in
 * body/meta (the caller frees the buffers).
 */
static void round_trip(const struct proto_record *r, struct proto_buf *body,
                       struct proto_buf *meta, const char *what)
{
    proto_buf_init(body, 0, RECORD_MAX);
    proto_buf_init(meta, 0, RECORD_MAX);
    int err = proto_record_encode(r->fields, r->stamps, r->n_fields, body, meta);
    FZ_CHECK(err == 0, "%s: a decoded record does not encode: %s", what, proto_strerror(err));
    char *b = fz_copy(proto_buf_data(body), body->len);
    char *m = fz_copy(proto_buf_data(meta), meta->len);
    struct proto_record *again = NULL;
    struct proto_fault fault = {0};
    err = proto_record_decode(b, body->len, m, meta->len, &again, &fault);
    FZ_CHECK(err == 0, "%s: our own encoding does not decode: %s (%s)\nbody %s\nmeta %s", what,
             fault.message, fault.field, proto_buf_data(body), proto_buf_data(meta));
    check_same(r, again, 1, what);

    struct proto_buf body2, meta2;
    proto_buf_init(&body2, 0, RECORD_MAX);
    proto_buf_init(&meta2, 0, RECORD_MAX);
    err = proto_record_encode(again->fields, again->stamps, again->n_fields, &body2, &meta2);
    FZ_CHECK(err == 0 && body2.len == body->len && meta2.len == meta->len &&
                 memcmp(proto_buf_data(&body2), proto_buf_data(body), body->len) == 0 &&
                 memcmp(proto_buf_data(&meta2), proto_buf_data(meta), meta->len) == 0,
             "%s: encode(decode(encoding)) is not the encoding:\n%s\n%s\n---\n%s\n%s", what,
             proto_buf_data(body), proto_buf_data(meta), proto_buf_data(&body2),
             proto_buf_data(&meta2));
    proto_buf_free(&body2);
    proto_buf_free(&meta2);
    proto_record_free(again);
    free(b);
    free(m);
}

/* The body as the fields of a push: what the message parser makes of the same text. */
static void differential(const char *body, size_t body_len, const struct proto_record *alone)
{
    static const char head[] = "{\"type\":\"push\",\"changes\":[{\"seq\":1,\"collection\":\"c\","
                               "\"id\":\"a\",\"base\":0,\"hlc\":[1,0],\"fields\":";
    static const char tail[] = "}]}";
    size_t n = sizeof head - 1 + body_len + sizeof tail - 1;
    char *text = malloc(n);
    FZ_CHECK(text != NULL, "out of memory");
    memcpy(text, head, sizeof head - 1);
    memcpy(text + sizeof head - 1, body, body_len);
    memcpy(text + sizeof head - 1 + body_len, tail, sizeof tail - 1);

    struct proto_msg *msg = NULL;
    struct proto_fault fault = {0};
    if (proto_parse_client(text, n, &msg, &fault, NULL) != 0) {
        free(text);
        return;
    }
    const struct proto_change *c =
        msg->u.push.n_changes == 1 ? &msg->u.push.changes[0] : NULL;
    int usable = c != NULL && c->fault.code == PROTO_CODE_NONE;
    for (size_t i = 0; usable && i < c->n_fields; i++)
        usable = strcmp(c->fields[i].name, "_deleted") != 0;
    if (usable) {
        /* What the writer would store from this change, read back. */
        struct proto_stamp *stamps = calloc(c->n_fields ? c->n_fields : 1, sizeof *stamps);
        FZ_CHECK(stamps != NULL, "out of memory");
        for (size_t i = 0; i < c->n_fields; i++) {
            stamps[i].hlc = c->hlc;
            stamps[i].device = "dA";
            stamps[i].rev = 1;
        }
        struct proto_record pushed = {
            .fields = (struct proto_field *)c->fields, .stamps = stamps, .n_fields = c->n_fields};
        struct proto_buf b, m;
        round_trip(&pushed, &b, &m, "push fields stored");
        proto_buf_free(&b);
        proto_buf_free(&m);
        free(stamps);
        /*
         * A body that is also a record body on its own must read the same
         * whichever parser reads it. (Only then is the push's text exactly
         * body: otherwise the body's bytes may have closed the change early.)
         */
        if (alone != NULL)
            check_same(&pushed, alone, 0, "the push parser and the record decoder");
    }
    proto_msg_free(msg);
    free(text);
}

/* Encodes r and checks that it gives exactly body/meta (meta NULL: body only). */
static void check_exact(const struct proto_record *r, const char *body, size_t body_len,
                        const char *meta, size_t meta_len, const char *what)
{
    struct proto_buf b, m;
    proto_buf_init(&b, 0, RECORD_MAX);
    proto_buf_init(&m, 0, RECORD_MAX);
    int err = proto_record_encode(r->fields, r->stamps, r->n_fields, &b, &m);
    FZ_CHECK(err == 0, "%s: a decoded record does not encode: %s", what, proto_strerror(err));
    FZ_CHECK(b.len == body_len && memcmp(proto_buf_data(&b), body, body_len) == 0 &&
                 (meta == NULL ||
                  (m.len == meta_len && memcmp(proto_buf_data(&m), meta, meta_len) == 0)),
             "%s: decoded, then encoded, the record is other text (the decoder reads only "
             "what the encoder writes):\n%.*s\n%.*s\n---\n%s\n%s",
             what, (int)body_len, body, (int)(meta ? meta_len : 0), meta ? meta : "",
             proto_buf_data(&b), proto_buf_data(&m));
    proto_buf_free(&b);
    proto_buf_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t body_len = nl ? (size_t)(nl - data) : size;
    char *body = fz_copy(data, body_len);
    char *meta = nl ? fz_copy(nl + 1, size - body_len - 1) : NULL;
    size_t meta_len = nl ? size - body_len - 1 : 0;
    struct proto_record *r = NULL, *alone = NULL, *fields = NULL;
    struct proto_fault fault = {0};

    /* The record as stored: whatever decodes is exactly what the encoder writes. */
    int err = proto_record_decode(body, body_len, meta, meta_len, &r, &fault);
    if (err == 0) {
        check_record_shape(r, "decode");
        if (meta != NULL && meta_len > 0 && body_len > 0)
            check_exact(r, body, body_len, meta, meta_len, "decode");
        struct proto_buf b, m;
        round_trip(r, &b, &m, "decode");
        proto_buf_free(&b);
        proto_buf_free(&m);
        proto_record_free(r);
    } else {
        FZ_CHECK(err == PROTO_EINVALID || err == PROTO_ENOMEM, "decode returned %d", err);
        if (err == PROTO_EINVALID) {
            fz_check_fault(&fault, "proto_record_decode");
            FZ_CHECK(fault.code == PROTO_CODE_INTERNAL, "a corrupt record's code is %s",
                     proto_code_name(fault.code));
        }
    }

    /*
     * The body alone: as a record without meta (strict) and as plain fields
     * (proto_fields_decode, which reads any JSON object of fields). What the
     * strict decoder reads, the lenient one reads the same.
     */
    memset(&fault, 0, sizeof fault);
    int e1 = proto_record_decode(body, body_len, NULL, 0, &alone, &fault);
    if (e1 != 0)
        fz_check_fault(&fault, "proto_record_decode without meta");
    memset(&fault, 0, sizeof fault);
    int e2 = proto_fields_decode(body, body_len, &fields, &fault);
    if (e2 != 0)
        fz_check_fault(&fault, "proto_fields_decode");
    if (e1 == 0) {
        check_record_shape(alone, "decode without meta");
        FZ_CHECK(e2 == 0, "the body decodes strictly but not as fields: %s", fault.message);
        check_same(alone, fields, 0, "strict record without meta vs fields");
        for (size_t i = 0; i < alone->n_fields; i++)
            FZ_CHECK(alone->stamps[i].device[0] == '\0' && alone->stamps[i].rev == 0,
                     "a body without meta got a stamp for %s", alone->fields[i].name);
        if (body_len > 0)
            check_exact(alone, body, body_len, NULL, 0, "decode without meta");
        struct proto_buf b, m;
        round_trip(alone, &b, &m, "decode without meta");
        proto_buf_free(&b);
        proto_buf_free(&m);
    }
    differential(body, body_len, e1 == 0 ? alone : NULL);
    proto_record_free(alone);
    proto_record_free(fields);
    free(body);
    free(meta);
    return 0;
}
