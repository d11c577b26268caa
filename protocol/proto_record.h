/*
 * proto_record.h — the stored-record codec (protocol/record.c,
 * record_decode.c): a record's fields and their per-field stamps, to and
 * from the body and meta text that db/ stores.
 */
#ifndef VS_PROTO_RECORD_H
#define VS_PROTO_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "proto_buf.h"
#include "proto_errors.h"
#include "proto_time.h"
#include "proto_value.h"

/* Who last set a field: the change's hlc and device, and the record rev it made. */
struct proto_stamp {
    struct proto_hlc hlc;
    const char *device;
    int64_t rev;
};

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

#endif
