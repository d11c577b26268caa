/*
 * proto_monitor.h — the one message a /monitor client sends (protocol/
 * monitor.c): {"type":"hello","token":"<a supervisor's or admin's API
 * token>"}. What the server sends on that connection (welcome, events,
 * errors) is written by server/srv_monitor.c; docs/protocol.md describes both.
 */
#ifndef VS_PROTO_MONITOR_H
#define VS_PROTO_MONITOR_H

#include <stddef.h>

#include "proto_errors.h"

#define PROTO_MONITOR_TOKEN_MAX 256 /* bytes; API tokens have 43 */

/*
 * Parses a monitor hello from json[0..len): members other than type and
 * token are ignored. Returns 0 with the token copied into token
 * (PROTO_MONITOR_TOKEN_MAX + 1 bytes, NUL-terminated), PROTO_EINVALID with
 * fault filled (bad_json; bad_message naming the member: type not "hello",
 * token missing, not a string or too long), or PROTO_ENOMEM. Like every
 * cJSON parser of the tree, the service thread's only.
 */
int proto_parse_monitor_hello(const char *json, size_t len,
                              char token[PROTO_MONITOR_TOKEN_MAX + 1], struct proto_fault *fault);

#endif
