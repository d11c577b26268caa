/*
 * sync.h — the merge engine: validation against the schema, grid scope,
 * seq dedupe, the per-field last-writer-wins merge of §2.3, conflict
 * detection, tombstones.
 *
 * sync/ is pure logic: it reads and writes the store only through db/ and
 * never does I/O of its own. Everything here runs on the caller's thread;
 * the server calls sync_apply_push from its writer thread inside
 * db_commit_group.
 *
 * Errors: 0 or a negative SYNC_E* code (sync_strerror), or a DB_E* code
 * passed up from db/, or a PROTO_E* code when a merged record cannot be
 * encoded (the ranges do not overlap; sync_strerror names all three).
 */
#ifndef VS_SYNC_H
#define VS_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "proto.h"
#include "proto_schema.h"

#define SYNC_ERRNO_MAP(X)                                    \
    X(NOMEM, "out of memory")                                \
    X(STORE, "the stored record could not be decoded")

enum sync_errno {
    SYNC_OK = 0,
    SYNC_ERRNO_FIRST_ = -300,
#define SYNC_ERRNO_ENUM(name, text) SYNC_E##name,
    SYNC_ERRNO_MAP(SYNC_ERRNO_ENUM)
#undef SYNC_ERRNO_ENUM
};

/* A static sentence for a SYNC_E*, DB_E* or PROTO_E* code; any thread. */
const char *sync_strerror(int err);

#define SYNC_DEFAULT_MAX_SKEW_MS (10 * 60 * 1000)

/*
 * The rules in force: the schema and the clock-skew limit (max_skew_ms <= 0
 * means SYNC_DEFAULT_MAX_SKEW_MS). Borrowed, read-only.
 */
struct sync_rules {
    const struct proto_schema *schema;
    int64_t max_skew_ms;
};

/* True when the scope allows grid. */
int sync_scope_allows(const struct db_scope *scope, const char *grid);

/*
 * Checks one change against the schema and the principal's scope, without
 * looking at the store except for what stored (may be NULL: the record
 * does not exist) says about the record's current grid. A stored record
 * outside who's grids is checked as if it did not exist, and a change that
 * would then be valid is refused out_of_scope on "id" (its id is taken);
 * no fault names such a record's grid or rev. Records the change names in
 * its fields (a visit's subject) are checked by sync_apply_push, which has
 * the store. now_ms is the server clock. Returns 1 and fills *fault when
 * the change must be rejected, 0 when it may be merged.
 */
int sync_validate(const struct sync_rules *rules, const struct db_principal *who,
                  const struct proto_change *c, const struct db_record *stored, int64_t now_ms,
                  struct proto_fault *fault);

/* ---- applying a push ----------------------------------------------------- */

/*
 * What one change did to its record's grid, so the server can poke the
 * sessions of every grid that saw a change without reading the records
 * again. Set only for an applied or conflict result (a stored change);
 * both NULL otherwise. Owned: free with sync_touched_clear.
 */
struct sync_touched {
    char *grid_before; /* the record's grid before, only when it differs from grid_after */
    char *grid_after;  /* the record's grid after the merge; NULL when it has none */
};

/*
 * Applies the changes of one push from who's device: dedupes by seq,
 * validates, merges each into the store, records conflicts and history,
 * and advances the device's committed seq. results[i] answers changes[i];
 * their strings are borrowed from changes. A record outside who's grids
 * is answered as one that does not exist (rev 0, also for a duplicate);
 * a visit naming a subject outside who's grids is rejected out_of_scope.
 * touched may be NULL; otherwise it has n entries and touched[i] is
 * filled for changes[i] (the server pokes from it). Whether the device is
 * still allowed to push (not revoked) is the caller's to check. Must run
 * inside a transaction (db_commit_group): the server's writer thread, or
 * the command line's only thread. Returns 0, or a negative code when the
 * store failed (the caller rolls the job back; results are then
 * meaningless, and results and touched are cleared).
 */
int sync_apply_push(const struct sync_rules *rules, struct db *db,
                    const struct db_principal *who, const struct proto_change *changes,
                    size_t n, int64_t now_ms, struct proto_result *results,
                    struct sync_touched *touched);

/* ---- resolving a conflict (resolve.c) ------------------------------------ */

enum sync_choice { SYNC_CHOOSE_WINNER, SYNC_CHOOSE_LOSER, SYNC_CHOOSE_VALUE };

struct sync_resolution {
    int64_t conflict_id;
    enum sync_choice choose;
    const char *value_json; /* SYNC_CHOOSE_VALUE: the value as compact JSON text */
    size_t value_len;
    const char *reason; /* NULL or up to 500 characters */
};

/* What happened: 0 resolved; otherwise one of these (positive), with fault filled for INVALID. */
enum sync_resolve_outcome {
    SYNC_RESOLVED = 0,
    SYNC_RESOLVE_NOT_FOUND = 1,
    SYNC_RESOLVE_CLOSED = 2,
    SYNC_RESOLVE_INVALID = 3
};

/*
 * A supervisor (who: role supervisor or admin, with a scope) resolves an
 * open conflict entry: writes the chosen value of the entry's field as a
 * new change of the record, stamped later than every stamp of that field
 * (so every replica converges on it by the normal merge), recorded in
 * history like any change (device "@<user id>", which no device id can
 * be: '@' is not an id character; seq: the entry's id), then closes the
 * entry with who, when, why and the value (its canonical compact JSON).
 * "winner" is the value the record holds now (the
 * greatest stamp listed); "loser" the candidate with the greatest stamp
 * whose value differs from the winner's (none: SYNC_RESOLVE_INVALID). The
 * reason must be UTF-8 (else INVALID on "reason"). An entry whose record is outside
 * who's scope is SYNC_RESOLVE_NOT_FOUND (as if it did not exist). A value
 * that the schema refuses for that field is SYNC_RESOLVE_INVALID with the
 * same fault a push would get. Must run inside a transaction (the
 * server's writer thread). *rev gets the record's new rev, *history_id the
 * change-feed position of the change, touched (may be NULL) the grid it
 * touched so the server pokes that grid's tablets. Returns one of the
 * outcomes, or a negative store code (or SYNC_ENOMEM / SYNC_ESTORE);
 * *rev and *history_id are set only for SYNC_RESOLVED. Whether who's role
 * may resolve at all is the caller's to check (a cadre's scope would be
 * honoured, not refused).
 */
int sync_resolve(const struct sync_rules *rules, struct db *db, const struct db_principal *who,
                 const struct sync_resolution *r, int64_t now_ms, struct proto_fault *fault,
                 int64_t *rev, int64_t *history_id, struct sync_touched *touched);

/* Frees what sync_apply_push allocated inside results (the conflicts lists). */
void sync_results_clear(struct proto_result *results, size_t n);

/* Frees the grid copies inside touched[0..n); any thread. */
void sync_touched_clear(struct sync_touched *touched, size_t n);

#endif
