/*
 * proto_jsonw.h — a small JSON writer for documents that are not wire
 * messages of §2: the supervisors' HTTP API answers (server/srv_api_json.c)
 * are built with it, member by member, straight into a proto_buf
 * (protocol/jsonw.c). It writes compact JSON with the tree's one escaping
 * and number text, so cJSON never leaves protocol/.
 *
 * The writer keeps the first error: every call after a failure does
 * nothing, and proto_jw_finish reports it. A caller therefore writes a
 * whole document and checks once. No global state; any thread, one writer
 * per thread at a time.
 */
#ifndef VS_PROTO_JSONW_H
#define VS_PROTO_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "proto_buf.h"

#define PROTO_JW_DEPTH 16 /* containers open at once */

struct proto_jw {
    struct proto_buf *b;
    int err;       /* the first PROTO_E* code, or 0 */
    int depth;     /* containers open */
    int after_key; /* a member name was written: the value comes next, no comma */
    unsigned char filled[PROTO_JW_DEPTH]; /* the container at that depth has an item */
};

/* Starts writing one document at the end of b (b keeps its content). */
void proto_jw_init(struct proto_jw *w, struct proto_buf *b);
void proto_jw_object(struct proto_jw *w);
void proto_jw_object_end(struct proto_jw *w);
void proto_jw_array(struct proto_jw *w);
void proto_jw_array_end(struct proto_jw *w);
/* A member name; the next call writes its value. */
void proto_jw_key(struct proto_jw *w, const char *key);
/* A string (UTF-8 passed through, escaped); NULL writes null. */
void proto_jw_string(struct proto_jw *w, const char *s);
void proto_jw_int(struct proto_jw *w, int64_t v);
/* A number in the tree's canonical text; a non-finite one writes null. */
void proto_jw_number(struct proto_jw *w, double d);
void proto_jw_bool(struct proto_jw *w, int v);
void proto_jw_null(struct proto_jw *w);
/* A time as RFC 3339 UTC with milliseconds; ms 0 (never) writes null. */
void proto_jw_time(struct proto_jw *w, int64_t ms);
/* A value that is JSON text already (a stored field value), written as it is. */
void proto_jw_raw(struct proto_jw *w, const char *json, size_t len);
/*
 * Ends the document: 0, the first PROTO_ETOOBIG / PROTO_ENOMEM, or
 * PROTO_EINVALID when containers were left open or nested too deep.
 */
int proto_jw_finish(struct proto_jw *w);

#endif
