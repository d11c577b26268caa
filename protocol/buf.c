/*
 * buf.c — the output buffer every serializer appends to. It keeps
 * `headroom` bytes free in front of the data (libwebsockets writes its
 * frame header there), grows by doubling, never past max bytes of output,
 * and keeps the data NUL-terminated so it can be logged or parsed as text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define BUF_FIRST_CAP 256

void proto_buf_init(struct proto_buf *b, size_t headroom, size_t max)
{
    b->mem = NULL;
    b->head = headroom;
    b->len = 0;
    b->cap = 0;
    /* A ceiling near SIZE_MAX would overflow the capacity arithmetic. */
    b->max = max < SIZE_MAX / 4 ? max : SIZE_MAX / 4;
}

void proto_buf_reset(struct proto_buf *b)
{
    b->len = 0;
    if (b->mem)
        b->mem[b->head] = '\0';
}

void proto_buf_free(struct proto_buf *b)
{
    free(b->mem);
    b->mem = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Makes room for n more bytes plus the NUL; the ceiling is checked by the caller. */
static int buf_reserve(struct proto_buf *b, size_t n)
{
    size_t need = b->head + b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t limit = b->head + b->max + 1;
    size_t cap = b->cap ? b->cap : BUF_FIRST_CAP;
    while (cap < need)
        cap = cap > limit / 2 ? limit : cap * 2;
    if (cap > limit)
        cap = limit > need ? limit : need;
    char *mem = realloc(b->mem, cap);
    if (!mem)
        return PROTO_ENOMEM;
    b->mem = mem;
    b->cap = cap;
    return 0;
}

int proto_buf_append(struct proto_buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return PROTO_ETOOBIG;
    int err = buf_reserve(b, n);
    if (err)
        return err;
    if (n)
        memcpy(b->mem + b->head + b->len, p, n);
    b->len += n;
    b->mem[b->head + b->len] = '\0';
    return 0;
}

int proto_buf_append_json_string(struct proto_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    int err = proto_buf_append(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed before each escape */
    for (size_t i = 0; !err && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t esc_len = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (c >= 0x20) {
                run++;
                continue;
            }
            /* The other control characters as \u00XX, as cJSON writes them. */
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        err = proto_buf_append(b, s + i - run, run);
        run = 0;
        if (!err)
            err = proto_buf_append(b, esc, esc_len);
    }
    if (!err)
        err = proto_buf_append(b, s + n - run, run);
    if (!err)
        err = proto_buf_append(b, "\"", 1);
    if (err) {
        b->len = start;
        if (b->mem)
            b->mem[b->head + b->len] = '\0';
    }
    return err;
}
