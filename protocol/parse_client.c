/*
 * parse_client.c — the messages a device sends: hello, push (parse_push.c),
 * pull, schema and blob_offer. Every member is checked for its JSON type
 * and range; a broken one rejects the message with BAD_MESSAGE naming it.
 * Unknown members are ignored, so clients can grow; an optional member
 * sent as null counts as absent.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "proto_cursor.h"
#include "proto_text.h"

#define TOKEN_MAX 256
#define APP_MAX 64
#define MIME_MAX 100
#define OLDEST_MAX 64

static int parse_hello(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_hello *h = &m->u.hello;
    h->pending = -1;
    int err = proto__get_string(m->arena, r, "device", 1, 1, PROTO_ID_MAX, &h->device, w);
    if (err)
        return err;
    if (!proto_id_valid(h->device, strlen(h->device)))
        return proto_fault_set(w->fault, w->code, "device",
                               "device must be 1..64 of A-Z a-z 0-9 _ - . :");
    /* An empty token parses: the server refuses it as unauthorized (contract v1.1). */
    err = proto__get_string(m->arena, r, "token", 1, 0, TOKEN_MAX, &h->token, w);
    if (!err)
        err = proto__get_string(m->arena, r, "app", 0, 0, APP_MAX, &h->app, w);
    if (!err)
        err = proto__get_int(r, "pending", 0, 0, PROTO_SEQ_MAX, &h->pending, NULL, w);
    if (!err)
        err = proto__get_string(m->arena, r, "oldest_pending", 0, 1, OLDEST_MAX,
                                &h->oldest_pending, w);
    if (err)
        return err;
    if (h->oldest_pending && !proto_datetime_valid(h->oldest_pending, strlen(h->oldest_pending)))
        return proto_fault_set(w->fault, w->code, "oldest_pending",
                               "oldest_pending must be an RFC 3339 date-time such as "
                               "2026-11-20T08:15:00+08:00");
    return proto__get_int(r, "clock", 0, 0, PROTO_HLC_MS_MAX, &h->clock, &h->has_clock, w);
}

static int parse_pull(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_pull *p = &m->u.pull;
    p->since = "0";
    p->limit = PROTO_PULL_LIMIT;
    const cJSON *since;
    int err = proto__get_item(r, "since", 0, cJSON_String, &since, w);
    if (err)
        return err;
    if (since) {
        struct proto_cursor c;
        if (proto_cursor_parse(since->valuestring, &c) != 0)
            return proto_fault_set(w->fault, w->code, "since",
                                   "since must be \"0\" or a cursor from an earlier reply, "
                                   "such as \"1240-9f3a01bc\"");
        p->since = proto__strdup(m->arena, since->valuestring);
        if (!p->since)
            return PROTO_ENOMEM;
    }
    /*
     * Contract v1.1: a larger limit is served as PROTO_PULL_LIMIT, not
     * refused — also one beyond 2^53, which proto__get_int cannot read
     * exactly but which is just as surely larger.
     */
    const cJSON *it = NULL;
    if (proto__member(r, "limit", &it) == 0 && it && cJSON_IsNumber(it) &&
        isfinite(it->valuedouble) && it->valuedouble > (double)PROTO_SEQ_MAX) {
        p->limit = PROTO_PULL_LIMIT;
        return 0;
    }
    err = proto__get_int(r, "limit", 0, 1, PROTO_SEQ_MAX, &p->limit, NULL, w);
    if (!err && p->limit > PROTO_PULL_LIMIT)
        p->limit = PROTO_PULL_LIMIT;
    return err;
}

static int parse_blob_offer(struct proto_msg *m, const cJSON *r, const struct proto__where *w)
{
    struct proto_blob_offer *o = &m->u.blob_offer;
    int err = proto__get_string(m->arena, r, "sha256", 1, 1, 64, &o->sha256, w);
    if (err)
        return err;
    if (!proto__hex_valid(o->sha256, strlen(o->sha256), 64))
        return proto_fault_set(w->fault, w->code, "sha256",
                               "sha256 must be 64 lowercase hex digits");
    err = proto__get_int(r, "size", 1, 1, PROTO_SEQ_MAX, &o->size, NULL, w);
    if (!err)
        err = proto__get_string(m->arena, r, "mime", 0, 1, MIME_MAX, &o->mime, w);
    return err;
}

int proto_parse_client(const char *json, size_t len, struct proto_msg **out,
                       struct proto_fault *fault, char *fault_req)
{
    struct proto__where w = {PROTO_CODE_BAD_MESSAGE, "", fault};
    cJSON *root = NULL;
    struct proto_msg *m = NULL;
    int err = proto__msg_begin(json, len, &root, &m, fault, fault_req);
    if (err)
        goto out;
    switch (m->type) {
    case PROTO_HELLO:
        err = parse_hello(m, root, &w);
        break;
    case PROTO_PUSH:
        err = proto__parse_push(m, root, fault);
        break;
    case PROTO_PULL:
        err = parse_pull(m, root, &w);
        break;
    case PROTO_SCHEMA:
        /* A request: the reply's members are not read from a client. */
        break;
    case PROTO_BLOB_OFFER:
        err = parse_blob_offer(m, root, &w);
        break;
    default:
        err = proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "type",
                              "type \"%s\" is sent by the server, not by a client",
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
