/*
 * jscan.c — reads the few members the load generator needs from the
 * server's replies (type, req, cursor, more, results, changes) in one pass
 * over the text, without building a tree or copying: a changes reply is
 * about a megabyte and the generator shares two cores with the server.
 * It checks structure (brackets, strings, separators), not every detail of
 * JSON grammar: the server's own serializer is tested elsewhere.
 */
#include "bench.h"

#include <string.h>

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Index after the string starting at s[i] == '"', or 0 when unterminated. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        const char *q = memchr(s + i, '"', n - i);
        if (!q)
            return 0;
        i = (size_t)(q - s);
        size_t bs = 0;
        while (bs < i && s[i - 1 - bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return i + 1;
    }
    return 0;
}

/* Index after the value starting at s[i] (no leading space), or 0 when malformed. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    char c = s[i];
    if (c == '"')
        return skip_string(s, n, i);
    if (c == '{' || c == '[') {
        int depth = 0;
        for (; i < n; i++) {
            c = s[i];
            if (c == '"') {
                size_t j = skip_string(s, n, i);
                if (!j)
                    return 0;
                i = j - 1;
            } else if (c == '{' || c == '[') {
                if (++depth > 64)
                    return 0;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return 0;
    }
    size_t start = i;
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
        i++;
    return i > start ? i : 0;
}

int bench_json_members(const char *s, size_t n, const char *const *keys, struct bench_span *vals,
                       size_t nkeys)
{
    for (size_t k = 0; k < nkeys; k++) {
        vals[k].p = NULL;
        vals[k].n = 0;
    }
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{')
        return -1;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        return 0;
    for (;;) {
        if (i >= n || s[i] != '"')
            return -1;
        size_t ke = skip_string(s, n, i);
        if (!ke)
            return -1;
        const char *key = s + i + 1;
        size_t klen = ke - i - 2;
        i = skip_ws(s, n, ke);
        if (i >= n || s[i] != ':')
            return -1;
        i = skip_ws(s, n, i + 1);
        size_t ve = skip_value(s, n, i);
        if (!ve)
            return -1;
        for (size_t k = 0; k < nkeys; k++) {
            if (!vals[k].p && strlen(keys[k]) == klen && memcmp(keys[k], key, klen) == 0) {
                vals[k].p = s + i;
                vals[k].n = ve - i;
            }
        }
        i = skip_ws(s, n, ve);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        return i < n && s[i] == '}' ? 0 : -1;
    }
}

int bench_json_array_next(struct bench_span arr, size_t *pos, struct bench_span *elem)
{
    const char *s = arr.p;
    size_t n = arr.n, i = *pos;
    if (!s || n < 2 || s[0] != '[')
        return -1;
    i = skip_ws(s, n, i == 0 ? 1 : i);
    if (i < n && s[i] == ',')
        i = skip_ws(s, n, i + 1);
    if (i >= n)
        return -1;
    if (s[i] == ']')
        return 0;
    size_t e = skip_value(s, n, i);
    if (!e)
        return -1;
    elem->p = s + i;
    elem->n = e - i;
    *pos = e;
    return 1;
}

int bench_json_str_eq(struct bench_span v, const char *lit)
{
    size_t l = strlen(lit);
    return v.p && v.n == l + 2 && v.p[0] == '"' && memcmp(v.p + 1, lit, l) == 0;
}

int bench_json_str_copy(struct bench_span v, char *buf, size_t size)
{
    if (!v.p || v.n < 2 || v.p[0] != '"' || v.n - 2 >= size)
        return -1;
    memcpy(buf, v.p + 1, v.n - 2);
    buf[v.n - 2] = '\0';
    return 0;
}
