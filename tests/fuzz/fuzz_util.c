/*
 * fuzz_util.c — see fuzz.h: failing loudly, exact-size copies, UTF-8 and
 * fault checks, and the byte reader the generators draw their choices from.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

void (*fz_on_fail)(void);

void fz_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz: %s:%d: check failed: %s\n  ", file, line, what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (fz_on_fail != NULL) {
        void (*hook)(void) = fz_on_fail;
        fz_on_fail = NULL; /* a failure inside the hook must not loop */
        hook();
    }
    fflush(stderr);
    abort();
}

int fz_known(const char *id)
{
    const char *list = getenv("VS_FUZZ_KNOWN");
    size_t n = strlen(id);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, id, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

char *fz_copy(const void *data, size_t n)
{
    /* malloc(0) may return NULL; one byte keeps NULL meaning "no memory". */
    char *p = malloc(n ? n : 1);
    FZ_CHECK(p != NULL, "out of memory copying %zu bytes", n);
    if (n)
        memcpy(p, data, n);
    return p;
}

int fz_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((u[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (u[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

void fz_check_fault(const struct proto_fault *f, const char *what)
{
    const char *fend = memchr(f->field, '\0', sizeof f->field);
    const char *mend = memchr(f->message, '\0', sizeof f->message);
    FZ_CHECK(fend != NULL && mend != NULL, "%s: a fault's field or message is not terminated",
             what);
    FZ_CHECK((unsigned)f->code < PROTO_CODE_COUNT_, "%s: fault code %d is no code", what,
             (int)f->code);
    FZ_CHECK(fz_utf8_valid(f->field, (size_t)(fend - f->field)),
             "%s: the fault's field is not UTF-8: %s", what, f->field);
    FZ_CHECK(fz_utf8_valid(f->message, (size_t)(mend - f->message)),
             "%s: the fault's message is not UTF-8: %s", what, f->message);
    FZ_CHECK(f->code == PROTO_CODE_NONE || mend - f->message >= 10,
             "%s: %s with a message too short to act on: \"%s\"", what,
             proto_code_name(f->code), f->message);
}

void fz_bytes_init(struct fz_bytes *b, const uint8_t *p, size_t n, int backward)
{
    b->p = p;
    b->n = n;
    b->at = 0;
    b->backward = backward;
}

static unsigned next_byte(struct fz_bytes *b)
{
    if (b->at >= b->n)
        return 0;
    unsigned v = b->backward ? b->p[b->n - 1 - b->at] : b->p[b->at];
    b->at++;
    return v;
}

unsigned fz_take(struct fz_bytes *b, unsigned n)
{
    unsigned v = next_byte(b);
    if (n > 256)
        v = (v << 8) | next_byte(b);
    return n ? v % n : 0;
}
