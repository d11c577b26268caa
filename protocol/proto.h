/*
 * proto.h — the visitsync.v1 wire messages as plain C structs.
 *
 * protocol/ parses, validates and serializes every message of the contract
 * (shared/spec/interface.md §2) and the schema file (§4). It does no I/O and
 * is the only module that sees cJSON: everything it hands out is a plain
 * struct whose strings live in the message's own arena, so one
 * proto_msg_free() releases a whole message.
 *
 * Errors: functions return 0 or a negative PROTO_E* code (proto_strerror()).
 * A message or value that breaks a rule fills a struct proto_fault with the
 * wire code, the offending member ("changes[3].hlc") and a sentence a person
 * can act on.
 */
#ifndef VS_PROTO_H
#define VS_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* ---- limits of the contract -------------------------------------------- */

#define PROTO_ID_MAX 64            /* ids: 1..64 of A-Z a-z 0-9 _ - . : (§1) */
#define PROTO_REQ_MAX 64           /* req: any string up to 64 chars (§2) */
#define PROTO_REQ_BYTES (4 * PROTO_REQ_MAX) /* ...which take up to this many bytes of UTF-8 */
#define PROTO_MAX_MESSAGE 1048576  /* default max_message (§2.1) */
#define PROTO_MAX_BATCH 500        /* default max_batch (§2.1) */
#define PROTO_PULL_LIMIT 1000      /* default and maximum pull limit (§2.4) */
#define PROTO_HLC_MS_MAX 8640000000000000LL /* the largest JavaScript Date */
#define PROTO_HLC_COUNTER_MAX 2147483647LL
#define PROTO_SEQ_MAX 9007199254740991LL   /* 2^53 - 1: exact in every JSON reader */

/* ---- return codes ------------------------------------------------------- */

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

/* ---- wire error codes (§2.2, §2.6, §2.8) ---------------------------------- */

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

/* True when s (len bytes) is a valid id: 1..64 of A-Z a-z 0-9 _ - . : */
int proto_id_valid(const char *s, size_t len);

/* ---- values ------------------------------------------------------------- */

enum proto_vtype { PROTO_NULL, PROTO_BOOL, PROTO_NUMBER, PROTO_STRING, PROTO_ARRAY, PROTO_OBJECT };

/*
 * A JSON value. json/json_len is its canonical compact encoding (objects
 * keep member order); two values are equal iff their encodings are equal.
 * str is the decoded UTF-8 of a string (NUL-terminated, len bytes, chars
 * counts code points). items are the elements of an array; objects carry
 * only their encoding.
 */
struct proto_value {
    enum proto_vtype type;
    int boolean;
    double number;
    const char *str;
    size_t len;
    size_t chars;
    const struct proto_value *items;
    size_t n_items;
    const char *json;
    size_t json_len;
};

/* A named value; field lists are sorted by name (bytewise) and unique. */
struct proto_field {
    const char *name;
    struct proto_value value;
};

/* ---- hybrid logical clock and per-field stamps (§2.3) --------------------- */

struct proto_hlc {
    int64_t ms;
    int64_t counter;
};

/* Who last set a field: the change's hlc and device, and the record rev it made. */
struct proto_stamp {
    struct proto_hlc hlc;
    const char *device;
    int64_t rev;
};

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

/* ---- output buffers ----------------------------------------------------- */

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
/* Writes the header; then proto_write_changes_item per record; then _end. */
int proto_write_changes_begin(struct proto_buf *b, const char *req);
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

/* ---- stored records ----------------------------------------------------- */

/*
 * A record as db/ stores it: body is the compact JSON object of its current
 * fields (sorted by name, "_deleted" not included), meta the JSON object
 * {"field":[ms,counter,"device",rev],…} of per-field stamps including
 * "_deleted". A decoded record owns its arena.
 */
struct proto_record {
    struct proto_field *fields; /* sorted by name; includes "_deleted" when stamped */
    struct proto_stamp *stamps; /* stamps[i] belongs to fields[i] */
    size_t n_fields;
    struct proto_arena *arena;
};

/*
 * Decodes body + meta (either may be NULL for a new record; a body without
 * meta gets stamps with device "" and zeros). Stored text that breaks the
 * format fails with PROTO_EINVALID and an INTERNAL fault. Free the result
 * with proto_record_free.
 * It reads only what proto_record_encode writes, byte for byte (compact,
 * sorted, canonical escapes and numbers), and refuses anything else; it is
 * safe on arbitrary bytes. It keeps no global state (no cJSON): any thread,
 * the writer's included, may call it.
 */
int proto_record_decode(const char *body, size_t body_len, const char *meta, size_t meta_len,
                        struct proto_record **out, struct proto_fault *fault);
/*
 * Encodes fields/stamps (n, sorted by name) into body and meta. "_deleted"
 * goes only into meta, as [ms,counter,"device",rev,true|false]. Appends to
 * the two buffers; the same input always gives the same bytes. Returns
 * PROTO_EINVALID (nothing written) for unsorted or duplicate names, a NULL
 * device or a "_deleted" that is not a bool; PROTO_ETOOBIG/ENOMEM (both
 * buffers left as they were).
 */
int proto_record_encode(const struct proto_field *fields, const struct proto_stamp *stamps,
                        size_t n, struct proto_buf *body, struct proto_buf *meta);
void proto_record_free(struct proto_record *r);

/*
 * Decodes a body (the fields only, stamps NULL) for export and clients.
 * Any JSON object of fields is read (whitespace, any order), through
 * cJSON, whose parser writes a global error position: call it from one
 * thread only (the CLI, the client library), never from the server's
 * writer or reader.
 */
int proto_fields_decode(const char *body, size_t body_len, struct proto_record **out,
                        struct proto_fault *fault);

/* ---- the schema (§4) ---------------------------------------------------- */

/* Each spec of a parsed schema has max_items set (100 when the file omits it). */

enum proto_ftype {
    PROTO_F_STRING,   /* <= 200 chars */
    PROTO_F_TEXT,     /* <= 10,000 chars */
    PROTO_F_NUMBER,   /* finite; optional min */
    PROTO_F_BOOL,
    PROTO_F_ENUM,     /* one of values */
    PROTO_F_DATE,     /* YYYY-MM-DD */
    PROTO_F_DATETIME, /* RFC 3339 with offset */
    PROTO_F_ID,       /* an id of §1 (grid, subject) */
    PROTO_F_SHA256,   /* "sha256:<64 lowercase hex>" */
    PROTO_F_ARRAY     /* of item */
};

struct proto_ftype_spec {
    enum proto_ftype type;
    const char *const *values; /* PROTO_F_ENUM */
    size_t n_values;
    int has_min;
    double min;
    size_t max_items; /* PROTO_F_ARRAY; 0 = the default of 100 */
    const struct proto_ftype_spec *item; /* PROTO_F_ARRAY */
};

struct proto_schema_field {
    const char *name;
    int required;
    struct proto_ftype_spec spec;
};

struct proto_collection {
    const char *name;
    const char *scope; /* the field that names the record's grid */
    const struct proto_schema_field *fields; /* in file order */
    size_t n_fields;
};

struct proto_schema {
    const struct proto_collection *collections; /* in file order */
    size_t n_collections;
    const char *version;          /* lowercase hex SHA-256 of collections_json */
    const char *collections_json; /* compact JSON of the "collections" object */
    struct proto_arena *arena;
};

/* The built-in default schema of §4, as JSON text. */
extern const char proto_default_schema_json[];

/*
 * Parses a schema file's text. On failure fault names the member and rule
 * ("collections.visits.fields.kind.values: must be a non-empty array of
 * strings"). The result owns its memory; free with proto_schema_free.
 */
int proto_schema_parse(const char *json, size_t len, struct proto_schema **out,
                       struct proto_fault *fault);
void proto_schema_free(struct proto_schema *s);
/* The schema spelling of a field type ("datetime"). */
const char *proto_ftype_name(enum proto_ftype t);
const struct proto_collection *proto_schema_collection(const struct proto_schema *s,
                                                       const char *name);
const struct proto_schema_field *proto_collection_field(const struct proto_collection *c,
                                                        const char *name);

/* ---- small helpers shared by callers ----------------------------------- */

/* Checks text against YYYY-MM-DD (a real calendar date, years 0001..9999). */
int proto_date_valid(const char *s, size_t len);
/*
 * Checks text against RFC 3339 date-time with a Z or ±hh:mm offset:
 * YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|±HH:MM), upper-case T and Z only,
 * seconds 00..59 (no leap second, which JavaScript cannot parse).
 */
int proto_datetime_valid(const char *s, size_t len);
/* Formats ms since the epoch as RFC 3339 UTC ("2026-11-29T17:04:15.123Z"); buf >= 32. */
void proto_format_time(int64_t ms, char *buf, size_t size);
/*
 * The one clock of the tree (protocol/time.c), any thread: proto_now_ms is
 * the wall clock in ms since the epoch (stamps, hlc, what is stored);
 * proto_mono_ms counts ms since boot and never steps back (deadlines, and
 * how long something took).
 */
int64_t proto_now_ms(void);
int64_t proto_mono_ms(void);
/*
 * The one UTF-8 counter of the tree (protocol/text.c): the code points of s
 * (len bytes), or -1 when s is not well-formed UTF-8 (a stray or missing
 * continuation byte, an overlong form, a surrogate, past U+10FFFF).
 */
long proto_utf8_chars(const char *s, size_t len);

/* ---- tokens (device and API credentials; protocol/token.c) ------------- */

/*
 * One scheme for the CLI that makes tokens, the server that checks them and
 * the benchmarks: 32 random bytes from getrandom(), shown once as URL-safe
 * base64 without padding (43 characters), stored only as the SHA-256 of
 * that text exactly as a client sends it, compared in constant time.
 * Nothing here keeps state; any thread may call these.
 */
#define PROTO_TOKEN_BYTES 32
#define PROTO_TOKEN_CHARS 43 /* base64url of 32 bytes, no padding */
#define PROTO_TOKEN_HASH 32  /* SHA-256 */

/* Makes a new token: its text in text (PROTO_TOKEN_CHARS + 1 bytes, NUL
 * ended) and its hash. Returns 0 or -errno (no randomness from the kernel);
 * text and hash are written only on success. */
int proto_token_new(char text[PROTO_TOKEN_CHARS + 1], unsigned char hash[PROTO_TOKEN_HASH]);
/* The SHA-256 of the token text (len bytes) into hash. */
void proto_token_hash(const char *token, size_t len, unsigned char hash[PROTO_TOKEN_HASH]);
/* True when the two hashes are equal; constant time (CRYPTO_memcmp). */
int proto_token_equal(const unsigned char a[PROTO_TOKEN_HASH],
                      const unsigned char b[PROTO_TOKEN_HASH]);
/* True when text is the shape of a token: 43 characters of A-Z a-z 0-9 - _. */
int proto_token_well_formed(const char *text, size_t len);
/* Encodes n bytes as URL-safe base64 without padding into out, which must
 * hold 4 * ceil(n / 3) + 1 bytes; returns the length written (NUL added). */
size_t proto_token_encode(const unsigned char *raw, size_t n, char *out);

#endif
