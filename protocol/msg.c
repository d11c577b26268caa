/*
 * msg.c — what every parsed message shares: it lives in its own arena
 * (the message struct included), and its parse starts the same way for
 * both directions: JSON text → object → req → type.
 */
#include <string.h>

#include "internal.h"

struct proto_msg *proto__msg_new(void)
{
    struct proto_arena *a = proto__arena_new();
    if (!a)
        return NULL;
    struct proto_msg *m = proto__alloc(a, sizeof(*m));
    if (!m) {
        proto__arena_free(a);
        return NULL;
    }
    m->arena = a;
    return m;
}

void proto_msg_free(struct proto_msg *msg)
{
    if (msg)
        proto__arena_free(msg->arena);
}

int proto__msg_begin(const char *json, size_t len, cJSON **root, struct proto_msg **out,
                     struct proto_fault *fault, char *fault_req)
{
    struct proto__where w = {PROTO_CODE_BAD_MESSAGE, "", fault};
    cJSON *r = NULL;
    struct proto_msg *m = NULL;
    if (fault_req)
        fault_req[0] = '\0';
    int err = proto__json_parse(json, len, &r, fault);
    if (err)
        goto out;
    if (!cJSON_IsObject(r)) {
        char got[40];
        proto__describe(r, got, sizeof(got));
        err = proto_fault_set(fault, PROTO_CODE_BAD_JSON, "",
                              "the message must be a JSON object; got %s", got);
        goto out;
    }
    m = proto__msg_new();
    if (!m) {
        err = PROTO_ENOMEM;
        goto out;
    }
    /* req first, so that even a message with a bad type can be answered with its req. */
    err = proto__get_string(m->arena, r, "req", 0, 0, PROTO_REQ_MAX, &m->req, &w);
    if (err)
        goto out;
    /* fault_req has PROTO_REQ_BYTES + 1 bytes: room for 64 characters of any width. */
    if (m->req && fault_req && strlen(m->req) <= PROTO_REQ_BYTES)
        memcpy(fault_req, m->req, strlen(m->req) + 1);
    const char *type = NULL;
    err = proto__get_string(m->arena, r, "type", 1, 1, 32, &type, &w);
    if (err)
        goto out;
    if (proto_type_from_name(type, &m->type)) {
        err = proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "type",
                              "type \"%s\" is not a message of visitsync.v1", type);
        goto out;
    }
    *root = r;
    *out = m;
    r = NULL;
    m = NULL;
out:
    cJSON_Delete(r);
    proto_msg_free(m);
    return err;
}
