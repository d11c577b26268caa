/*
 * api.c — the HTTP API's request bodies (proto_api.h). The faults are
 * written for a person at the dashboard: each names the member and the
 * rule it broke.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "proto_api.h"

static int bad(struct proto_fault *fault, const char *field, const char *msg)
{
    return proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, field, "%s", msg);
}

/* Reads choose / value / reason of the body's object into r. */
static int read_body(struct proto_resolve *r, const cJSON *root, struct proto_fault *fault)
{
    const cJSON *choose, *value, *reason;
    struct proto_value v;
    const char *why = NULL;
    size_t chars;
    int err;

    if (proto__member(root, "choose", &choose) < 0)
        return bad(fault, "choose", "choose appears more than once");
    if (proto__member(root, "value", &value) < 0)
        return bad(fault, "value", "value appears more than once");
    if (proto__member(root, "reason", &reason) < 0)
        return bad(fault, "reason", "reason appears more than once");
    if ((choose == NULL) == (value == NULL))
        return bad(fault, choose ? "value" : "", "give either choose or value");
    if (choose != NULL) {
        if (cJSON_IsString(choose) && strcmp(choose->valuestring, "winner") == 0)
            r->choose = PROTO_CHOOSE_WINNER;
        else if (cJSON_IsString(choose) && strcmp(choose->valuestring, "loser") == 0)
            r->choose = PROTO_CHOOSE_LOSER;
        else
            return bad(fault, "choose", "choose must be \"winner\" or \"loser\"");
    } else {
        if (proto__json_depth(value) > PROTO__MAX_VALUE_DEPTH)
            return proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "value",
                                   "value nests deeper than %d levels", PROTO__MAX_VALUE_DEPTH);
        err = proto__value_from_json(r->arena, value, &v, &why);
        if (err == PROTO_EINVALID)
            return proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "value", "value: %s", why);
        if (err)
            return err;
        r->choose = PROTO_CHOOSE_VALUE;
        r->value = v.json;
        r->value_len = v.json_len;
    }
    if (reason != NULL && !cJSON_IsNull(reason)) {
        if (!cJSON_IsString(reason))
            return bad(fault, "reason", "reason must be a string");
        if (!proto__utf8_valid(reason->valuestring, strlen(reason->valuestring), &chars))
            return bad(fault, "reason", "reason is not valid UTF-8");
        if (chars > PROTO_REASON_MAX)
            return bad(fault, "reason", "reason is over 500 characters");
        r->reason = proto__strdup(r->arena, reason->valuestring);
        if (r->reason == NULL)
            return PROTO_ENOMEM;
    }
    return 0;
}

int proto_parse_resolve(const char *json, size_t len, struct proto_resolve **out,
                        struct proto_fault *fault)
{
    struct proto_arena *a = NULL;
    struct proto_resolve *r;
    cJSON *root = NULL;
    int err;

    err = proto__json_parse(json, len, &root, fault);
    if (err == PROTO_EINVALID) {
        /* The scanner's sentence begins "invalid JSON: "; say it once, our way. */
        char msg[sizeof fault->message];
        const char *what = fault->message;
        if (strncmp(what, "invalid JSON: ", 14) == 0)
            what += 14;
        snprintf(msg, sizeof msg, "not JSON: %.180s", what);
        return proto_fault_set(fault, PROTO_CODE_BAD_JSON, "", "%s", msg);
    }
    if (err)
        return err;
    if (!cJSON_IsObject(root)) {
        err = bad(fault, "", "the body must be a JSON object");
        goto out;
    }
    a = proto__arena_new();
    r = a ? proto__alloc(a, sizeof *r) : NULL;
    if (r == NULL) {
        err = PROTO_ENOMEM;
        goto out;
    }
    r->arena = a;
    err = read_body(r, root, fault);
    if (err == 0) {
        *out = r;
        a = NULL;
    }
out:
    if (a != NULL)
        proto__arena_free(a);
    cJSON_Delete(root);
    return err;
}

void proto_resolve_free(struct proto_resolve *r)
{
    if (r != NULL)
        proto__arena_free(r->arena);
}
