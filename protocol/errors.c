/*
 * errors.c — the names and sentences of protocol/'s codes, generated from
 * the X-macro maps in proto_errors.h so that a code and its spelling never drift.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "proto_errors.h"

const char *proto_strerror(int err)
{
    switch (err) {
    case PROTO_OK:
        return "ok";
#define PROTO_ERRNO_CASE(name, text) \
    case PROTO_E##name:              \
        return text;
        PROTO_ERRNO_MAP(PROTO_ERRNO_CASE)
#undef PROTO_ERRNO_CASE
    default:
        return "unknown protocol error";
    }
}

static const char *const code_names[PROTO_CODE_COUNT_] = {
#define PROTO_CODE_NAME(name, text) text,
    PROTO_CODE_MAP(PROTO_CODE_NAME)
#undef PROTO_CODE_NAME
};

const char *proto_code_name(enum proto_code code)
{
    if ((unsigned)code >= PROTO_CODE_COUNT_)
        return "internal";
    return code_names[code];
}

int proto_code_from_name(const char *name, enum proto_code *out)
{
    for (int i = 1; i < PROTO_CODE_COUNT_; i++) {
        if (strcmp(code_names[i], name) == 0) {
            *out = (enum proto_code)i;
            return 0;
        }
    }
    return PROTO_EINVALID;
}

static const char *const type_names[PROTO_TYPE_COUNT_] = {
    [PROTO_HELLO] = "hello",
    [PROTO_WELCOME] = "welcome",
    [PROTO_PUSH] = "push",
    [PROTO_ACK] = "ack",
    [PROTO_PULL] = "pull",
    [PROTO_CHANGES] = "changes",
    [PROTO_POKE] = "poke",
    [PROTO_SCHEMA] = "schema",
    [PROTO_BLOB_OFFER] = "blob_offer",
    [PROTO_BLOB_STATUS] = "blob_status",
    [PROTO_ERROR] = "error",
};

const char *proto_type_name(enum proto_type type)
{
    if ((unsigned)type >= PROTO_TYPE_COUNT_)
        return "unknown";
    return type_names[type];
}

int proto_type_from_name(const char *name, enum proto_type *out)
{
    for (int i = 0; i < PROTO_TYPE_COUNT_; i++) {
        if (strcmp(type_names[i], name) == 0) {
            *out = (enum proto_type)i;
            return 0;
        }
    }
    return PROTO_EINVALID;
}

static const char *const status_names[] = {
    [PROTO_APPLIED] = "applied",
    [PROTO_CONFLICT] = "conflict",
    [PROTO_DUPLICATE] = "duplicate",
    [PROTO_REJECTED] = "rejected",
};

const char *proto_status_name(enum proto_status status)
{
    if ((unsigned)status > PROTO_REJECTED)
        return "rejected";
    return status_names[status];
}

int proto_status_from_name(const char *name, enum proto_status *out)
{
    for (int i = 0; i <= PROTO_REJECTED; i++) {
        if (strcmp(status_names[i], name) == 0) {
            *out = (enum proto_status)i;
            return 0;
        }
    }
    return PROTO_EINVALID;
}

/*
 * Drops every byte of s that is not part of a well-formed UTF-8 sequence,
 * in place. A fault quotes names and values with "%.64s" and the like,
 * which can cut a character in two anywhere in the message, not only at
 * its end; a reply must never put broken UTF-8 on the wire (a browser
 * fails the connection with 1007). The shortest prefix that validates is
 * the sequence at i, checked by the one UTF-8 validator (text.c).
 */
static void drop_broken_utf8(char *s)
{
    size_t n = strlen(s), out = 0;
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        while (k <= 4 && i + k <= n && !proto__utf8_valid(s + i, k, NULL))
            k++;
        if (k > 4 || i + k > n) {
            i++; /* no sequence starts here */
            continue;
        }
        memmove(s + out, s + i, k);
        out += k;
        i += k;
    }
    s[out] = '\0';
}

int proto_fault_set(struct proto_fault *f, enum proto_code code, const char *field,
                    const char *fmt, ...)
{
    if (!f)
        return PROTO_EINVALID;
    f->code = code;
    snprintf(f->field, sizeof(f->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    drop_broken_utf8(f->field);
    drop_broken_utf8(f->message);
    return PROTO_EINVALID;
}
