/*
 * text.c — byte-level checks of the strings the contract restricts: UTF-8
 * well-formedness (and the tree's one count of code points), ids (§1),
 * collection and field names, hex digests.
 */
#include <string.h>

#include "internal.h"
#include "proto_text.h"

int proto__utf8_valid(const char *s, size_t n, size_t *chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t need;
        unsigned cp;
        unsigned min;
        if (c < 0x80) {
            /* Runs of ASCII eight bytes at a time. */
            uint64_t w;
            if (n - i >= 8 && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ull) == 0)) {
                i += 8;
                count += 8;
                continue;
            }
            i++;
            count++;
            continue;
        } else if ((c & 0xF0) == 0xE0 && n - i >= 3) {
            /* Three bytes (most CJK text) unrolled: the same checks as the general path. */
            unsigned c1 = p[i + 1], c2 = p[i + 2];
            if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80)
                return 0;
            cp = ((c & 0x0F) << 12) | ((c1 & 0x3F) << 6) | (c2 & 0x3F);
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
            i += 3;
            count++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            unsigned cc = p[i + k];
            if ((cc & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (cc & 0x3F);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
        count++;
    }
    if (chars)
        *chars = count;
    return 1;
}

/* Any thread. The public face of proto__utf8_valid, for the modules above protocol/. */
long proto_utf8_chars(const char *s, size_t len)
{
    size_t chars = 0;
    return proto__utf8_valid(s, len, &chars) ? (long)chars : -1;
}

static int is_alnum_(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int proto_id_valid(const char *s, size_t len)
{
    if (!s || len < 1 || len > PROTO_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum_(c) && c != '-' && c != '.' && c != ':')
            return 0;
    }
    return 1;
}

int proto__name_valid(const char *s, size_t n)
{
    if (!s || n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum_((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

int proto__hex_valid(const char *s, size_t len, size_t n)
{
    if (!s || len != n)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

size_t proto__i64_format(int64_t v, char out[PROTO__I64_MAX])
{
    char tmp[PROTO__I64_MAX];
    /* Through unsigned, so that INT64_MIN has a magnitude. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}
