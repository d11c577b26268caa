/*
 * sync_internal.h — what the files of sync/ share and nobody else sees.
 */
#ifndef VS_SYNC_INTERNAL_H
#define VS_SYNC_INTERNAL_H

#include "proto_record.h"
#include "sync.h"

/* The ceiling of an encoded record body or meta (each field is bounded by a message). */
#define SYNC__RECORD_MAX ((size_t)16 * 1024 * 1024)

/* One field where the change met a concurrent value (§2.3 step 4). */
struct sync__conflict {
    const char *field;                 /* borrowed from the change */
    const struct proto_value *stored;   /* borrowed from the stored record */
    const struct proto_stamp *stored_stamp;
    const struct proto_value *incoming; /* borrowed from the change */
};

/*
 * The record a change merges into. fields/stamps (n, sorted by name) and
 * conflicts are arrays this struct owns; the strings and values they point
 * to are borrowed from the stored record and the change.
 */
struct sync__merged {
    struct proto_field *fields;
    struct proto_stamp *stamps;
    size_t n;
    int64_t rev;
    int deleted;
    const char *grid; /* the merged scope value, NULL when unset or not a string */
    struct sync__conflict *conflicts;
    size_t n_conflicts;
};

/*
 * Merges change c from device into stored (NULL: a new record) whose rev is
 * stored_rev, by the per-field rule of §2.3. Pure: touches no store. On
 * success fills *out (free with sync__merged_clear) and returns 0;
 * SYNC_ENOMEM otherwise. Borrows every argument; any thread.
 */
int sync__merge(const struct proto_collection *col, const struct proto_record *stored,
                int64_t stored_rev, const struct proto_change *c, const char *device,
                struct sync__merged *out);
void sync__merged_clear(struct sync__merged *m);

/* True when (a, a_device) orders after (b, b_device): ms, counter, then device bytewise. */
int sync__stamp_after(const struct proto_hlc *a, const char *a_device, const struct proto_hlc *b,
                      const char *b_device);

/*
 * The visit facts of merged record m (facts.c) for the store to keep with
 * it; user is the user of the device that sent the change (NULL when no
 * device did). 0 with *f (borrowing m's strings), or -1 when the store's
 * SQL must derive them from the body instead. Pure; any thread.
 */
int sync__visit_facts(const struct sync__merged *m, const char *user, struct db_visit_facts *f);

/*
 * Merges a valid change from device into stored (NULL: a new record) and
 * writes its history row, the record and its conflict candidates (apply.c).
 * user is the user of device (for a new visit's creator), NULL when device
 * is not a device (a supervisor's resolution).
 * Fills *r (its conflicts array is the caller's: sync_results_clear) and
 * *history_out (may be NULL: the change's history id), t (may be NULL) as
 * for sync_apply_push. Pushes and resolutions (resolve.c) both store their
 * changes here, so both write stamps and meta the same way. The caller's
 * thread, inside its transaction; 0 or a negative code.
 */
int sync__merge_and_store(const struct sync_rules *rules, struct db *db, const char *device,
                          const char *user, const struct proto_change *c, const struct db_record *stored,
                          int64_t now_ms, struct proto_result *r, int64_t *history_out,
                          struct sync_touched *t);

/* ---- scope (scope.c) ----------------------------------------------------- */

/*
 * True when who may see grid. A cadre is limited to its listed grids even
 * if its scope says "all". Borrows both; any thread.
 */
int sync__allows(const struct db_principal *who, const char *grid);

/*
 * Fills *fault with the answer to a change that would create or claim a
 * record outside who's grids (its id is taken there): out_of_scope on
 * "id", naming neither the record's grid nor anything else about it, the
 * same for every such record. Any thread.
 */
void sync__taken_fault(const struct db_principal *who, const struct proto_change *c,
                       struct proto_fault *fault);

/*
 * Checks the records a valid change names in its fields (a visit's
 * subject): one that exists outside who's grids is refused (1, *fault
 * filled); one that does not exist is allowed, since records may arrive in
 * any order. Returns 1, 0, or a negative DB_E* code when the store failed.
 * One primary-key lookup per named record, none when who sees every grid.
 * The caller's thread, inside its transaction.
 */
int sync__refs_check(const struct sync_rules *rules, struct db *db,
                     const struct db_principal *who, const struct proto_change *c,
                     struct proto_fault *fault);

#endif
