/*
 * fuzz_parse_client.c — any bytes a client may send, through the server's
 * message parser (proto_parse_client), and the same bytes through the
 * client's (proto_parse_server).
 *
 * Properties, beyond "no crash, no leak, no over-read":
 *  - a refused message has a fault a reply can carry (UTF-8, a sentence),
 *    one of the codes the parser may give, and a req echo of at most 64
 *    bytes; the error reply the server writes from them parses back in a
 *    client with the same code and message;
 *  - a parsed message is written back with its type's serializer and parses
 *    again to the same dump (tests/protocol/dump.c), when no change of a
 *    push carries a fault;
 *  - each change's raw text, alone in a push, parses to the same change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "fuzz.h"
#include "proto_text.h"

#define DUMP_SIZE 65536

static char dump_a[DUMP_SIZE], dump_b[DUMP_SIZE];

static int write_back(const struct proto_msg *m, struct proto_buf *b)
{
    switch (m->type) {
    case PROTO_HELLO:
        return proto_write_hello(b, m->req, &m->u.hello);
    case PROTO_PUSH:
        return proto_write_push(b, m->req, m->u.push.changes, m->u.push.n_changes);
    case PROTO_PULL:
        return proto_write_pull(b, m->req, m->u.pull.since, m->u.pull.limit);
    case PROTO_SCHEMA:
        return proto_write_schema_request(b, m->req);
    case PROTO_BLOB_OFFER:
        return proto_write_blob_offer(b, m->req, &m->u.blob_offer);
    default:
        FZ_CHECK(0, "proto_parse_client returned the server type %s", proto_type_name(m->type));
    }
    return -1;
}

static int same_fields(const struct proto_change *a, const struct proto_change *b)
{
    if (a->n_fields != b->n_fields)
        return 0;
    for (size_t i = 0; i < a->n_fields; i++) {
        const struct proto_value *x = &a->fields[i].value, *y = &b->fields[i].value;
        if (strcmp(a->fields[i].name, b->fields[i].name) != 0 || x->type != y->type ||
            x->json_len != y->json_len || memcmp(x->json, y->json, x->json_len) != 0)
            return 0;
    }
    return 1;
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Checks one parsed change: its shape, and that its raw text parses to itself. */
static void check_change(const struct proto_change *c, size_t i)
{
    fz_check_fault(&c->fault, "a change's fault");
    FZ_CHECK(c->seq >= 1 && c->seq <= PROTO_SEQ_MAX, "changes[%zu].seq %lld", i,
             (long long)c->seq);
    FZ_CHECK(c->raw != NULL && c->raw_len > 0, "changes[%zu] has no raw text", i);
    if (c->fault.code == PROTO_CODE_NONE) {
        FZ_CHECK(c->collection != NULL && c->id != NULL, "changes[%zu] lacks collection or id",
                 i);
        FZ_CHECK(c->base >= 0 && c->hlc.ms >= 0 && c->hlc.ms <= PROTO_HLC_MS_MAX &&
                     c->hlc.counter >= 0 && c->hlc.counter <= PROTO_HLC_COUNTER_MAX,
                 "changes[%zu]: base or hlc out of range", i);
        for (size_t k = 0; k < c->n_fields; k++) {
            const struct proto_field *f = &c->fields[k];
            FZ_CHECK(k == 0 || strcmp(c->fields[k - 1].name, f->name) < 0,
                     "changes[%zu].fields not sorted and unique at %s", i, f->name);
            FZ_CHECK(f->value.json != NULL && f->value.json_len > 0,
                     "changes[%zu].%s has no encoding", i, f->name);
            FZ_CHECK(fz_utf8_valid(f->value.json, f->value.json_len),
                     "changes[%zu].%s encodes as invalid UTF-8", i, f->name);
            if (f->value.type == PROTO_STRING)
                FZ_CHECK(strlen(f->value.str) == f->value.len && f->value.chars <= f->value.len,
                         "changes[%zu].%s: len or chars wrong", i, f->name);
        }
    }

    size_t len = c->raw_len + 64;
    char *text = malloc(len);
    FZ_CHECK(text != NULL, "out of memory");
    int n = snprintf(text, len, "{\"type\":\"push\",\"changes\":[%.*s]}", (int)c->raw_len, c->raw);
    char *exact = fz_copy(text, (size_t)n);
    free(text);
    struct proto_msg *m = NULL;
    struct proto_fault fault = {0};
    int err = proto_parse_client(exact, (size_t)n, &m, &fault, NULL);
    FZ_CHECK(err == 0 && m->type == PROTO_PUSH && m->u.push.n_changes == 1,
             "changes[%zu].raw alone does not parse as a push of one change: %s (%s)\n%.*s", i,
             fault.message, fault.field, n, exact);
    const struct proto_change *d = &m->u.push.changes[0];
    FZ_CHECK(d->seq == c->seq && same_str(d->id, c->id),
             "changes[%zu].raw parses to another seq or id\n%.*s", i, n, exact);
    /*
     * A faulted change's raw may read back without its fault: a number too
     * big for a double (1e999) is printed as null. It is rejected and raw
     * only goes into the history, so only seq (the dedupe key) and id count.
     */
    if (c->fault.code == PROTO_CODE_NONE)
        FZ_CHECK(d->fault.code == PROTO_CODE_NONE && same_str(d->collection, c->collection) &&
                     d->base == c->base && d->hlc.ms == c->hlc.ms &&
                     d->hlc.counter == c->hlc.counter && same_fields(c, d),
                 "changes[%zu].raw parses to another change (%s %s)\n%.*s", i,
                 proto_code_name(d->fault.code), d->fault.field, n, exact);
    proto_msg_free(m);
    free(exact);
}

static void check_parsed(const struct proto_msg *m)
{
    int faulted = 0;
    FZ_CHECK(m->req == NULL || (proto_utf8_chars(m->req, strlen(m->req)) >= 0 &&
                                proto_utf8_chars(m->req, strlen(m->req)) <= PROTO_REQ_MAX),
             "req is not UTF-8 of at most %d characters", PROTO_REQ_MAX);
    if (m->type == PROTO_PUSH) {
        for (size_t i = 0; i < m->u.push.n_changes; i++) {
            check_change(&m->u.push.changes[i], i);
            faulted |= m->u.push.changes[i].fault.code != PROTO_CODE_NONE;
        }
    }
    if (faulted)
        return; /* a faulted change has no parts to write back */

    struct proto_buf b;
    proto_buf_init(&b, 16, (size_t)16 * 1024 * 1024);
    int err = write_back(m, &b);
    FZ_CHECK(err == 0, "the %s parsed but cannot be written back: %s", proto_type_name(m->type),
             proto_strerror(err));
    char *exact = fz_copy(proto_buf_data(&b), b.len);
    struct proto_msg *again = NULL;
    struct proto_fault fault = {0};
    err = proto_parse_client(exact, b.len, &again, &fault, NULL);
    FZ_CHECK(err == 0, "written back as %.*s, which does not parse: %s (%s)", (int)b.len, exact,
             fault.message, fault.field);
    dump_msg(m, dump_a, sizeof dump_a);
    dump_msg(again, dump_b, sizeof dump_b);
    FZ_CHECK(strcmp(dump_a, dump_b) == 0, "the round trip differs:\n%s---\n%s", dump_a, dump_b);
    proto_msg_free(again);
    free(exact);
    proto_buf_free(&b);
}

/* The server answers a refused message with an error reply; a client must read it back. */
static void check_refused(int err, const struct proto_fault *fault, const char *req)
{
    FZ_CHECK(err == PROTO_EINVALID || err == PROTO_ENOMEM, "proto_parse_client returned %d",
             err);
    if (err != PROTO_EINVALID)
        return;
    fz_check_fault(fault, "proto_parse_client");
    FZ_CHECK(fault->code == PROTO_CODE_BAD_JSON || fault->code == PROTO_CODE_BAD_MESSAGE ||
                 fault->code == PROTO_CODE_BATCH_TOO_LARGE,
             "a refused message has code %s", proto_code_name(fault->code));
    const char *end = memchr(req, '\0', PROTO_REQ_BYTES + 1);
    FZ_CHECK(end != NULL, "fault_req is not terminated within %d bytes", PROTO_REQ_BYTES + 1);

    struct proto_buf b;
    proto_buf_init(&b, 16, PROTO_MAX_MESSAGE);
    FZ_CHECK(proto_write_error(&b, req, fault->code, fault->message) == 0,
             "the error reply cannot be written");
    char *exact = fz_copy(proto_buf_data(&b), b.len);
    struct proto_msg *m = NULL;
    struct proto_fault f2 = {0};
    int rc = proto_parse_server(exact, b.len, &m, &f2);
    FZ_CHECK(rc == 0 && m->type == PROTO_ERROR, "the error reply %.*s does not parse: %s",
             (int)b.len, exact, f2.message);
    FZ_CHECK(strcmp(m->u.error.code, proto_code_name(fault->code)) == 0 &&
                 strcmp(m->u.error.message, fault->message) == 0,
             "the error reply reads back as %s: %s", m->u.error.code, m->u.error.message);
    FZ_CHECK(same_str(m->req, req[0] ? req : NULL) || (m->req != NULL && !strcmp(m->req, req)),
             "the error reply echoes req \"%s\", not \"%s\"", m->req ? m->req : "(null)", req);
    proto_msg_free(m);
    free(exact);
    proto_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_msg *m = NULL;
    struct proto_fault fault = {0};
    char req[PROTO_REQ_BYTES + 1];

    memset(req, 'x', sizeof req); /* the parser must terminate what it writes */
    int err = proto_parse_client((const char *)data, size, &m, &fault, req);
    if (err == 0) {
        check_parsed(m);
        proto_msg_free(m);
    } else {
        check_refused(err, &fault, req);
    }

    /* The client's parser on the same bytes: no property but its own contract. */
    m = NULL;
    memset(&fault, 0, sizeof fault);
    err = proto_parse_server((const char *)data, size, &m, &fault);
    if (err == 0)
        proto_msg_free(m);
    else
        fz_check_fault(&fault, "proto_parse_server");
    return 0;
}
