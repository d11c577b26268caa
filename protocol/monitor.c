/*
 * monitor.c — parsing the hello of a /monitor client (proto_monitor.h).
 */
#include <string.h>

#include "internal.h"
#include "proto_monitor.h"

/* The service thread (cJSON). */
int proto_parse_monitor_hello(const char *json, size_t len,
                              char token[PROTO_MONITOR_TOKEN_MAX + 1], struct proto_fault *fault)
{
    const cJSON *type = NULL, *tok = NULL;
    cJSON *root = NULL;
    size_t n;
    int rc;

    rc = proto__json_parse(json, len, &root, fault);
    if (rc != 0)
        return rc;
    rc = PROTO_EINVALID;
    if (!cJSON_IsObject(root)) {
        proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "", "a message must be a JSON object");
        goto out;
    }
    if (proto__member(root, "type", &type) != 0 || proto__member(root, "token", &tok) != 0) {
        proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "", "a member appears twice");
        goto out;
    }
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "hello") != 0) {
        proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "type",
                        "type: the first message on /monitor must be {\"type\":\"hello\","
                        "\"token\":\"...\"}");
        goto out;
    }
    if (!cJSON_IsString(tok)) {
        proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "token",
                        "token: give a supervisor's or admin's API token as a string");
        goto out;
    }
    n = strlen(tok->valuestring);
    if (n > PROTO_MONITOR_TOKEN_MAX) {
        proto_fault_set(fault, PROTO_CODE_BAD_MESSAGE, "token",
                        "token: %zu bytes is longer than any API token", n);
        goto out;
    }
    memcpy(token, tok->valuestring, n + 1);
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}
