/*
 * db_internal.h — what the files of db/ share: the connection struct, the
 * statement ids and the helpers that adapt the connection core (db_core.h)
 * to a struct db. Nothing outside db/ includes it (tests/layering.sh).
 *
 * Design: every SQL statement has a slot in db->stmt, indexed by enum
 * db__stmt_id, which is the statement cache of db->core. The file that uses
 * a statement keeps its SQL next to the code and asks db__stmt() for it; the
 * statement is prepared on first use with SQLITE_PREPARE_PERSISTENT and
 * finalized in db_close. Every user resets and unbinds it (db_core_reset) on
 * every exit path, so a cached statement never holds a read snapshot or a
 * bound pointer between calls.
 */
#ifndef VS_DB_INTERNAL_H
#define VS_DB_INTERNAL_H

#include "db.h"
#include "db_core.h"

/* A scope of at most this many grids is pulled as one index range per grid. */
#define DB__PULL_GRID_STREAMS 8

enum db__stmt_id {
    /* transactions (commit.c) */
    DB__BEGIN_IMMEDIATE,
    DB__BEGIN_DEFERRED,
    DB__COMMIT,
    DB__ROLLBACK,
    DB__JOB_SAVEPOINT,
    DB__JOB_ROLLBACK_TO,
    DB__JOB_RELEASE,
    DB__OP_SAVEPOINT,
    DB__OP_ROLLBACK_TO,
    DB__OP_RELEASE,
    /* administration (admin.c) */
    DB__GRID_ADD,
    DB__GRID_EXISTS,
    DB__USER_ADD,
    DB__USER_EXISTS,
    DB__USER_ROLE,
    DB__USER_GRID_ADD,
    DB__DEVICE_ENROLL,
    DB__DEVICE_REVOKE,
    DB__TOKEN_ADD,
    /* device activity (device.c) */
    DB__DEVICE_HELLO,
    DB__DEVICE_NOTE_PUSH,
    DB__DEVICE_NOTE_PULL,
    DB__DEVICE_REVOKED_SINCE,
    DB__DEVICE_MAX_SEQ,
    DB__DEVICE_SET_MAX_SEQ,
    DB__DEVICE_REVOKED,
    /* principals (principal.c) */
    DB__PRINCIPAL_DEVICE,
    DB__PRINCIPAL_TOKEN,
    DB__SCOPE_USER_GRIDS,
    DB__SCOPE_ALL_GRIDS,
    /* records, history, conflicts */
    DB__RECORD_GET,
    DB__RECORD_HEAD,
    DB__RECORD_PUT,
    /* a visit's facts (record.c) */
    DB__FACTS_PUT,
    DB__FACTS_PUT_GIVEN,
    DB__HISTORY_ADD,
    DB__CONFLICT_FIND,
    DB__CONFLICT_OPEN,
    DB__CONFLICT_TOUCH,
    DB__CANDIDATE_ADD,
    /* reading (pull.c, export.c) */
    DB__PULL_ALL,
    DB__PULL_SCOPE,
    /* one statement per grid stream of a small scope (pull.c merges them) */
    DB__PULL_GRID,
    DB__PULL_GRID_LAST_ = DB__PULL_GRID + DB__PULL_GRID_STREAMS - 1,
    DB__PULL_REMOVED,
    DB__CURSOR,
    DB__EXPORT,
    DB__USER_VERSION,
    /* browsing the history and the conflicts (browse.c) */
    DB__BROWSE_CONFLICTS_ALL,
    DB__BROWSE_CONFLICTS_STATUS,
    DB__BROWSE_CONFLICT,
    DB__BROWSE_CANDIDATES,
    DB__BROWSE_COUNT_ALL,
    DB__BROWSE_COUNT_STATUS,
    DB__BROWSE_COUNT_SCOPE,
    DB__CONFLICT_RESOLVE,
    DB__CONFLICT_STATUS,
    /* supervisors' views (status.c, report.c) */
    DB__STATUS_USER_GRIDS,
    DB__STATUS_DEVICES,
    DB__STATS_RECORDS,
    DB__STATS_RECORDS_SCOPE,
    DB__STATS_MISSING_PHOTOS,
    DB__STATUS_ENROLLED_TOP,
    DB__STATUS_ENROLLED,
    DB__REPORT_STATUS,
    DB__REPORT_EMPLOYMENT,
    DB__REPORT_GRIDS,
    DB__REPORT_CADRES,
    DB__REPORT_FIGURES,
    DB__BROWSE_HISTORY_ALL,
    DB__BROWSE_HISTORY_DEVICE,
    /* the store's epoch (pull.c) and the audit log (audit.c) */
    DB__EPOCH,
    DB__AUDIT_ADD,
    DB__AUDIT_PAGE,
    /* photos (blob.c) */
    DB__BLOB_VISIBLE_TO_DEVICE,
    DB__BLOB_UPLOAD_FIND,
    DB__BLOB_UPLOADS_OPEN,
    DB__BLOB_UPLOAD_ADD,
    DB__BLOB_UPLOAD_RESTART,
    DB__BLOB_UPLOAD_GROW,
    DB__BLOB_UPLOAD_DONE,
    DB__BLOB_UPLOAD_DELETE,
    DB__BLOB_PARTS_DELETE,
    DB__BLOB_PART_ADD,
    DB__BLOB_PARTS_READ,
    DB__BLOB_ADD,
    DB__BLOB_GRANT,
    DB__BLOB_FIND,
    DB__BLOB_RANGE,
    DB__BLOB_TOKEN_DEVICE,
    DB__STATUS_MISSING_BY_DEVICE, /* status.c */
    DB__STMT_COUNT
};

/* The most grids a scope may list: a ceiling for the arrays we grow. */
#define DB__MAX_SCOPE 65536
/* Ids are 1..64 characters (interface §1); struct db_principal has room for 64. */
#define DB__MAX_ID 64

struct db {
    struct db_core core; /* the connection, its statement cache (stmt) and errmsg */
    int readonly;
    sqlite3_stmt *stmt[DB__STMT_COUNT];
};

/*
 * Hands out the cached statement for id (db_core_stmt on db->core).
 * Returns 0 or a DB_E* code (errmsg set). The statement stays owned by db.
 */
int db__stmt(struct db *db, enum db__stmt_id id, const char *sql, sqlite3_stmt **out);

/* db_core_fail and db_core_error on db->core (errors.c). */
int db__fail(struct db *db, int sqlite_rc, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
int db__error(struct db *db, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs one statement from the cache that takes no parameters and returns no rows. */
int db__run(struct db *db, enum db__stmt_id id, const char *sql, const char *what);

/* Runs SQL text that is not worth caching (migrations); db_core_exec on db->core. */
int db__exec(struct db *db, const char *sql, const char *what);

/* Binds text of known length, or NULL when s is NULL. */
int db__bind_text(sqlite3_stmt *s, int idx, const char *text, size_t len);
/* Binds a NUL-terminated string, or NULL when s is NULL. */
int db__bind_str(sqlite3_stmt *s, int idx, const char *str);

/*
 * The grids of scope as a JSON array of strings for json_each(), malloc'd
 * into *out; *out is NULL for NULL or an all-grids scope (no filter).
 * Returns 0 or DB_ENOMEM (status.c).
 */
int db__scope_grids(struct db *db, const struct db_scope *scope, char **out);

/*
 * The one spelling of each outcome in history.outcome (history.c):
 * db__outcome_name gives it, NULL for a value that is no outcome;
 * db__outcome_from_name reads it back, -1 for a name that is none (or NULL).
 * No state; any thread.
 */
const char *db__outcome_name(enum db_outcome outcome);
int db__outcome_from_name(const char *name);

/* Brings the schema up to db_schema_version() (migrate.c). */
int db__migrate(struct db *db);
/* Reads PRAGMA user_version. */
int db__user_version(struct db *db, int *out);

/* A small-grained savepoint for functions that write several rows (admin). */
int db__op_begin(struct db *db);
int db__op_end(struct db *db, int err);

/*
 * A read that must see one snapshot (a pull page, a browse page) opens a
 * deferred transaction unless the caller already has one open; *began says
 * whether it did. db__read_end ends only what db__read_begin opened and
 * returns err (or the COMMIT's error). commit.c.
 */
int db__read_begin(struct db *db, int *began);
int db__read_end(struct db *db, int began, int err);

#endif
