/*
 * proto.h — the visitsync.v1 wire messages as plain C structs.
 *
 * protocol/ parses, validates and serializes every message of the contract
 * (shared/spec/interface.md §2). This header holds the messages, their
 * parsers and their serializers; what they are built from has its own
 * header (proto_errors.h, proto_value.h, proto_time.h, proto_buf.h), and so
 * has each of the module's other jobs: the stored records (proto_record.h),
 * the schema file (proto_schema.h), text rules (proto_text.h) and tokens
 * (proto_token.h). protocol/ does no I/O and is the only module that sees
 * cJSON: everything a parser hands out is a plain struct whose strings live
 * in the message's own arena, so one proto_msg_free() releases a whole
 * message.
 */
#ifndef VS_PROTO_H
#define VS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "proto_buf.h"
#include "proto_errors.h"
#include "proto_time.h"
#include "proto_value.h"

/* ---- limits of the contract -------------------------------------------- */

#define PROTO_REQ_MAX 64           /* req: any string up to 64 chars (§2) */
#define PROTO_REQ_BYTES (4 * PROTO_REQ_MAX) /* ...which take up to this many bytes of UTF-8 */
#define PROTO_MAX_MESSAGE 1048576  /* default max_message (§2.1) */
#define PROTO_MAX_BATCH 500        /* default max_batch (§2.1) */
#define PROTO_PULL_LIMIT 1000      /* default and maximum pull limit (§2.4) */
#define PROTO_SEQ_MAX 9007199254740991LL   /* 2^53 - 1: exact in every JSON reader */

/* ---- messages ----------------------------------------------------------- */

enum proto_type {
    PROTO_HELLO,
    PROTO_WELCOME,
    PROTO_PUSH,
    PROTO_ACK,
    PROTO_PULL,
    PROTO_CHANGES,
    PROTO_POKE,
    PROTO_SCHEMA,
    PROTO_BLOB_OFFER,
    PROTO_BLOB_STATUS,
    PROTO_ERROR,
    PROTO_TYPE_COUNT_
};

/* The wire spelling of a message type ("push"). */
const char *proto_type_name(enum proto_type type);
/* The type of a wire spelling; 0, or PROTO_EINVALID when name is no type. */
int proto_type_from_name(const char *name, enum proto_type *out);

struct proto_hello {
    const char *device;
    const char *token;
    const char *app;            /* NULL when absent */
    int64_t pending;            /* -1 when absent */
    const char *oldest_pending; /* RFC 3339, NULL when absent */
    int64_t clock;              /* ms since the epoch, 0 when absent */
    int has_clock;
};

/*
 * max_batch and max_message default to PROTO_MAX_* when a welcome lacks them.
 * seq is the highest seq the server has committed for this device (0: none
 * yet); a welcome without it (a server older than the member) reads as -1,
 * and proto_write_welcome leaves it out when it is negative.
 */
struct proto_welcome {
    const char *user;
    const char *role;
    const char *const *grids; /* every grid in scope, also for "all grids" */
    size_t n_grids;
    int64_t time;
    int64_t max_batch;
    int64_t max_message;
    const char *cursor;
    int64_t protocol;
    const char *schema_version;
    int64_t seq;
};

/*
 * One change of a push. seq is always valid (a push whose seq cannot be
 * read is rejected whole). When fault.code != PROTO_CODE_NONE the change
 * was malformed and only seq, id (possibly NULL) and raw are meaningful:
 * the server answers it "rejected" with that fault and applies nothing.
 * Such a fault names the member inside the change ("hlc", "id", or the
 * field's name), as the ack's error.field does. Codes: UNKNOWN_COLLECTION
 * (collection not a name), BAD_ID, INVALID_FIELD (base, hlc, fields,
 * _deleted not a bool, duplicate field, invalid UTF-8, a value nested
 * deeper than 8 levels or a non-finite number), UNKNOWN_FIELD (a name that
 * is not 1..64 of A-Z a-z 0-9 _). Whether the collection and fields exist
 * in the schema is checked by sync/, not here.
 */
struct proto_change {
    int64_t seq;
    const char *collection;
    const char *id;
    int64_t base;
    struct proto_hlc hlc;
    const struct proto_field *fields; /* sorted by name, includes "_deleted" */
    size_t n_fields;
    struct proto_fault fault;
    const char *raw; /* the change object as sent, compact JSON, for history */
    size_t raw_len;
};

struct proto_push {
    const struct proto_change *changes;
    size_t n_changes;
};

struct proto_pull {
    const char *since; /* "0" when absent */
    int64_t limit;     /* PROTO_PULL_LIMIT when absent; 1..PROTO_PULL_LIMIT */
};

struct proto_blob_offer {
    const char *sha256; /* 64 lowercase hex */
    int64_t size;
    const char *mime;   /* NULL when absent */
};

struct proto_blob_status {
    const char *sha256;
    int64_t have;
    int complete;
};

struct proto_error {
    const char *code;
    const char *message;
};

enum proto_status { PROTO_APPLIED, PROTO_CONFLICT, PROTO_DUPLICATE, PROTO_REJECTED };

/* The wire spelling of a result status ("applied"). */
const char *proto_status_name(enum proto_status status);
/* The status of a wire spelling; 0, or PROTO_EINVALID when name is no status. */
int proto_status_from_name(const char *name, enum proto_status *out);

/* One entry of an ack. Strings are borrowed from the push they answer. */
struct proto_result {
    int64_t seq;
    const char *id; /* may be NULL for a change whose id was unreadable */
    enum proto_status status;
    int64_t rev;                    /* 0 when the record does not exist */
    const char *const *conflicts;   /* field names, PROTO_CONFLICT only */
    size_t n_conflicts;
    struct proto_fault error;       /* PROTO_REJECTED only */
};

/* One entry of a changes reply. body is the record's stored JSON object. */
struct proto_pulled {
    const char *collection;
    const char *id;
    int64_t rev;
    int deleted;
    int removed; /* when set only collection and id are sent */
    const char *body;
    size_t body_len;
};

struct proto_ack {
    const char *cursor;
    const struct proto_result *results;
    size_t n_results;
};

struct proto_changes {
    const char *cursor;
    int more;
    int reset; /* since was not this store's: the page starts from the beginning (§2.4) */
    const struct proto_pulled *items;
    size_t n_items;
};

struct proto_poke {
    const char *cursor;
};

struct proto_schema_reply {
    const char *version;          /* NULL in a request */
    const char *collections_json; /* NULL in a request */
};

/* A parsed message. Everything it points to lives in its arena. */
struct proto_msg {
    enum proto_type type;
    const char *req; /* NULL when absent */
    union {
        struct proto_hello hello;
        struct proto_push push;
        struct proto_pull pull;
        struct proto_blob_offer blob_offer;
        struct proto_blob_status blob_status;
        struct proto_error error;
        struct proto_welcome welcome;
        struct proto_ack ack;
        struct proto_changes changes;
        struct proto_poke poke;
        struct proto_schema_reply schema;
    } u;
    struct proto_arena *arena; /* opaque */
};

/*
 * Parses one text message a client sent (hello, push, pull, schema,
 * blob_offer). json need not be NUL-terminated. On success *out owns the
 * message (free with proto_msg_free) and 0 is returned. On failure returns
 * PROTO_EINVALID with *fault set: BAD_JSON for text that is not a JSON
 * object (also: nesting deeper than 32 levels, \u0000 in a string, more
 * than 16 MiB), BAD_MESSAGE for an unknown type or a malformed member
 * (named in fault->field), BATCH_TOO_LARGE for a push of more than 10,000
 * changes (the server's own max_batch is checked by the server); or
 * PROTO_ENOMEM. req, when readable, is copied to fault_req (PROTO_REQ_BYTES
 * + 1 bytes, may be NULL; "" when unreadable) so the error can echo it. Unknown members are ignored; an optional member
 * sent as null counts as absent. A push's changes carry their own faults
 * (see struct proto_change); only an unreadable seq rejects the push.
 * Runs on any thread; keeps no global state.
 */
int proto_parse_client(const char *json, size_t len, struct proto_msg **out,
                       struct proto_fault *fault, char *fault_req);

/*
 * Parses one message the server sent (welcome, ack, changes, poke, schema,
 * blob_status, error), for clients. Same contract as proto_parse_client.
 */
int proto_parse_server(const char *json, size_t len, struct proto_msg **out,
                       struct proto_fault *fault);

void proto_msg_free(struct proto_msg *msg);

/*
 * ---- serializers: each appends one complete message to b ----------------
 * Compact JSON written by hand (no cJSON). Each returns 0, PROTO_ETOOBIG
 * or PROTO_ENOMEM; on failure b is left exactly as it was, so a changes
 * reply can stop at the first item that does not fit. NULL strings are
 * written as "". Run on any thread; b belongs to the caller.
 */

int proto_write_hello(struct proto_buf *b, const char *req, const struct proto_hello *h);
int proto_write_welcome(struct proto_buf *b, const char *req, const struct proto_welcome *w);
/* changes[i] must carry raw == NULL: they are written from their parts. */
int proto_write_push(struct proto_buf *b, const char *req, const struct proto_change *changes,
                     size_t n);
int proto_write_ack(struct proto_buf *b, const char *req, const char *cursor,
                    const struct proto_result *results, size_t n);
int proto_write_pull(struct proto_buf *b, const char *req, const char *since, int64_t limit);
/*
 * Writes the header; then proto_write_changes_item per record; then _end.
 * reset != 0 adds "reset":true: the pull's since was not this store's, so
 * this page starts from the beginning (§2.4); only that first page says so.
 */
int proto_write_changes_begin(struct proto_buf *b, const char *req, int reset);
int proto_write_changes_item(struct proto_buf *b, const struct proto_pulled *p, int first);
int proto_write_changes_end(struct proto_buf *b, const char *cursor, int more);
int proto_write_poke(struct proto_buf *b, const char *cursor);
/* collections_json is the compact JSON object of the schema's collections. */
int proto_write_schema(struct proto_buf *b, const char *req, const char *version,
                       const char *collections_json);
int proto_write_schema_request(struct proto_buf *b, const char *req);
int proto_write_blob_offer(struct proto_buf *b, const char *req, const struct proto_blob_offer *o);
int proto_write_blob_status(struct proto_buf *b, const char *req, const struct proto_blob_status *s);
int proto_write_error(struct proto_buf *b, const char *req, enum proto_code code,
                      const char *message);

#endif
