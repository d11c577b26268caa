/*
 * proto_api.h — the request bodies of the supervisors' HTTP API
 * (docs/protocol.md, "HTTP"), parsed into plain structs (protocol/api.c).
 * Today that is one body: POST /api/conflicts/ID/resolve.
 *
 * The parse goes through cJSON, whose parser writes a global error
 * position: the server calls it on its service thread only, as it does
 * proto_parse_client.
 */
#ifndef VS_PROTO_API_H
#define VS_PROTO_API_H

#include <stddef.h>

#include "proto_errors.h"

#define PROTO_REASON_MAX 500 /* characters of a resolution's reason */

enum proto_choose { PROTO_CHOOSE_WINNER, PROTO_CHOOSE_LOSER, PROTO_CHOOSE_VALUE };

/*
 * {"choose":"winner"|"loser","reason":"…"} or {"value":<JSON>,"reason":"…"}.
 * Everything lives in the request's arena (proto_resolve_free).
 */
struct proto_resolve {
    enum proto_choose choose;
    const char *value; /* PROTO_CHOOSE_VALUE: its canonical compact JSON; else NULL */
    size_t value_len;
    const char *reason; /* NULL when absent or null */
    struct proto_arena *arena;
};

/*
 * Parses a resolve body (len bytes, not necessarily NUL-terminated). On
 * success *out owns the request and 0 is returned; otherwise
 * PROTO_EINVALID with fault->message a sentence for the supervisor ("not
 * JSON: …", "give either choose or value", "choose must be \"winner\" or
 * \"loser\"", "reason is over 500 characters") and fault->field the member
 * to blame, or PROTO_ENOMEM. Unknown members are ignored. A "value" of
 * null is a value (the field is cleared), not an absent member. The
 * service thread (cJSON).
 */
int proto_parse_resolve(const char *json, size_t len, struct proto_resolve **out,
                        struct proto_fault *fault);
void proto_resolve_free(struct proto_resolve *r);

#endif
