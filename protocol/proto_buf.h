/*
 * proto_buf.h — the output buffer every serializer of protocol/ appends to
 * (protocol/buf.c): it grows up to a ceiling, and keeps headroom in front
 * of the data for the caller's transport.
 */
#ifndef VS_PROTO_BUF_H
#define VS_PROTO_BUF_H

#include <stddef.h>

/*
 * A growable byte buffer with a ceiling and reserved headroom in front of
 * the data (libwebsockets needs LWS_PRE bytes before a frame; protocol/
 * does not know that number, the caller passes it). data[head..head+len)
 * holds the output; it is always NUL-terminated.
 */
struct proto_buf {
    char *mem;
    size_t head;
    size_t len;
    size_t cap;
    size_t max;
};

/* Prepares an empty buffer that may grow to max bytes of output. */
void proto_buf_init(struct proto_buf *b, size_t headroom, size_t max);
/* Empties b, keeping its memory. */
void proto_buf_reset(struct proto_buf *b);
void proto_buf_free(struct proto_buf *b);
/* The output bytes (head offset applied). */
static inline char *proto_buf_data(const struct proto_buf *b) { return b->mem ? b->mem + b->head : NULL; }
/* Appends bytes; PROTO_ETOOBIG past max, PROTO_ENOMEM. */
int proto_buf_append(struct proto_buf *b, const void *p, size_t n);
/*
 * Appends s (n bytes, UTF-8 passed through) as a JSON string literal with
 * quotes: " and \ escaped, \b \f \n \r \t short, other control bytes as
 * \u00XX (as cJSON writes them). All or nothing, like proto_buf_append.
 */
int proto_buf_append_json_string(struct proto_buf *b, const char *s, size_t n);


#endif
