/*
 * proto_errors.h — how protocol/ reports a failure (protocol/errors.c).
 *
 * Functions of protocol/ return 0 or a negative PROTO_E* code
 * (proto_strerror()). A message or value that breaks a rule fills a struct
 * proto_fault with the wire code (§2.2, §2.6, §2.8), the offending member
 * ("changes[3].hlc") and a sentence a person can act on; the server sends
 * those codes back in its acks and errors. Any thread; no state.
 */
#ifndef VS_PROTO_ERRORS_H
#define VS_PROTO_ERRORS_H

#define PROTO_ERRNO_MAP(X)                                          \
    X(NOMEM, "out of memory")                                       \
    X(INVALID, "the message breaks the protocol (see the fault)")   \
    X(TOOBIG, "the output would exceed its size limit")

enum proto_errno {
    PROTO_OK = 0,
#define PROTO_ERRNO_ENUM(name, text) PROTO_E##name,
    PROTO_ERRNO_FIRST_ = -100,
    PROTO_ERRNO_MAP(PROTO_ERRNO_ENUM)
#undef PROTO_ERRNO_ENUM
};

/* Returns a static sentence for a PROTO_E* code (or "ok" for 0). */
const char *proto_strerror(int err);

/* The wire error codes (§2.2, §2.6, §2.8): what an error or a rejected result names. */

#define PROTO_CODE_MAP(X)                          \
    X(NONE, "")                                    \
    X(BAD_JSON, "bad_json")                        \
    X(BAD_MESSAGE, "bad_message")                  \
    X(NOT_AUTHENTICATED, "not_authenticated")      \
    X(UNAUTHORIZED, "unauthorized")                \
    X(UNKNOWN_COLLECTION, "unknown_collection")    \
    X(MISSING_FIELD, "missing_field")              \
    X(INVALID_FIELD, "invalid_field")              \
    X(UNKNOWN_FIELD, "unknown_field")              \
    X(OUT_OF_SCOPE, "out_of_scope")                \
    X(CLOCK_SKEW, "clock_skew")                    \
    X(BAD_ID, "bad_id")                            \
    X(BLOB_CORRUPT, "blob_corrupt")                \
    X(BATCH_TOO_LARGE, "batch_too_large")          \
    X(INTERNAL, "internal")

enum proto_code {
#define PROTO_CODE_ENUM(name, text) PROTO_CODE_##name,
    PROTO_CODE_MAP(PROTO_CODE_ENUM)
#undef PROTO_CODE_ENUM
    PROTO_CODE_COUNT_
};

/* The wire spelling of a code ("invalid_field"). */
const char *proto_code_name(enum proto_code code);
/* The code of a wire spelling; 0, or PROTO_EINVALID when name is no code. */
int proto_code_from_name(const char *name, enum proto_code *out);

/* What was wrong, where, and in words. field is "" when no member is to blame. */
struct proto_fault {
    enum proto_code code;
    char field[96];
    char message[200];
};

/* Fills *f (printf-style message); returns PROTO_EINVALID for convenience. */
int proto_fault_set(struct proto_fault *f, enum proto_code code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
