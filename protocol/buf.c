/*
 * buf.c — the output buffer every serializer appends to. It keeps
 * `headroom` bytes free in front of the data (libwebsockets writes its
 * frame header there), grows by doubling, never past max bytes of output,
 * and keeps the data NUL-terminated so it can be logged or parsed as text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto_buf.h"

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
static int buf_grow(struct proto_buf *b, size_t n)
{
    size_t need = b->head + b->len + n + 1;
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

int proto__buf_reserve(struct proto_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return PROTO_ETOOBIG;
    if (b->head + b->len + n + 1 <= b->cap)
        return 0;
    return buf_grow(b, n);
}

int proto_buf_append(struct proto_buf *b, const void *p, size_t n)
{
    /* The common case, room already there, takes one comparison of capacity. */
    int err = proto__buf_reserve(b, n);
    if (err)
        return err;
    if (n)
        memcpy(b->mem + b->head + b->len, p, n);
    b->len += n;
    b->mem[b->head + b->len] = '\0';
    return 0;
}

/*
 * The escape of each byte below 0x80 that JSON (as cJSON writes it) does not
 * pass through: 0 for bytes copied as they are, the short escape letter, or
 * 'u' for \u00XX. Bytes from 0x80 up (UTF-8) always pass.
 */
static const char json_escape[128] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u',
    [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u',
    [0x11] = 'u', [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u',
    [0x17] = 'u', [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u',
    [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"', ['\\'] = '\\',
};

/* True when one of the 8 bytes of x is below 0x20, '"' or '\\' (never wrong when it says no). */
static inline int word_needs_escape(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t below = (x - ones * 0x20) & ~x;
    uint64_t zero_q = (quote - ones) & ~quote;
    uint64_t zero_b = (backslash - ones) & ~backslash;
    return ((below | zero_q | zero_b) & highs) != 0;
}

size_t proto__json_plain(const char *s, size_t n)
{
    size_t i = 0;
    /* Eight bytes at a time while none of them can need an escape; text is mostly such bytes. */
    while (n - i >= 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (word_needs_escape(x))
            break;
        i += 8;
    }
    while (i < n && ((unsigned char)s[i] >= 0x80 || !json_escape[(unsigned char)s[i]]))
        i++;
    return i;
}

int proto_buf_append_json_string(struct proto_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    /*
     * Room for the text without escapes is reserved at once; a string that
     * needs escapes grows the buffer again as they come (rare: names and
     * most values have none).
     */
    int err = n > b->max - 2 ? PROTO_ETOOBIG : proto__buf_reserve(b, n + 2);
    if (!err)
        err = proto_buf_append(b, "\"", 1);
    size_t i = 0;
    while (!err && i < n) {
        size_t run = i + proto__json_plain(s + i, n - i);
        err = proto_buf_append(b, s + i, run - i);
        i = run;
        if (err || i == n)
            break;
        unsigned char c = (unsigned char)s[i++];
        char esc[6] = {'\\', json_escape[c]};
        size_t esc_len = 2;
        if (esc[1] == 'u') {
            /* The other control characters as \u00XX, as cJSON writes them. */
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        err = proto_buf_append(b, esc, esc_len);
    }
    if (!err)
        err = proto_buf_append(b, "\"", 1);
    if (err) {
        b->len = start;
        if (b->mem)
            b->mem[b->head + b->len] = '\0';
    }
    return err;
}
