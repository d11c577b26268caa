/*
 * vsc_replica.c — the tablet's local store (see vsc_replica.h).
 *
 * Design: the connection is a struct db_core (db/db_core.h), as the
 * server's store is: the core opens the file (0600 when new, WAL verified,
 * synchronous=FULL, busy timeout), caches the statements and maps SQLite's
 * result codes to the DB_E* codes both stores share. Every statement is
 * listed once in VSC__REPLICA_STMT_MAP, prepared on first use and kept
 * until close; each use ends with db_core_reset(), which resets and unbinds
 * it, so no exit path leaves a statement holding a read transaction open.
 * Multi-step operations (queue, ack, apply) run inside BEGIN IMMEDIATE …
 * COMMIT so a crash leaves the outbox, the clock and the replica consistent
 * with each other. A store is used by one thread at a time, the caller's.
 *
 * An acked change stays in the outbox table with its ack time (acked_ms;
 * NULL while it is queued), so that a welcome from a server restored from
 * an older backup can queue it again unchanged. Pruning it notes its seq in
 * `pruned` (ranges of consecutive seqs, one row per range, so the table stays
 * a few rows for a tablet whose seqs run on without holes); a welcome that
 * needed pruned changes moves their range into `lost`, which only grows, to
 * be shown by `visitsync client status`. Photos (§2.6) are kept as BLOBs in
 * the same file, so a photo and the change that names it are backed up,
 * copied and lost together; a photo is "named" when the text of a change or
 * a record contains "sha256:<its hex>", a 71-character token no other text
 * holds by chance. The schema is versioned with
 * user_version and brought up one step at a time (vsc__replica_steps).
 */
#include "vsc_replica.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db_core.h"

#define VSC__REPLICA_SCHEMA_VERSION 3

/* Every statement the store uses, prepared once. */
#define VSC__REPLICA_STMT_MAP(X)                                                              \
    X(CONFIG_GET, "SELECT value FROM config WHERE key = ?1")                                  \
    X(CONFIG_SET, "INSERT INTO config(key, value) VALUES (?1, ?2) "                           \
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value")                    \
    X(CONFIG_DEL, "DELETE FROM config WHERE key = ?1")                                        \
    X(OUTBOX_ADD, "INSERT INTO outbox(seq, collection, id, base, hlc_ms, hlc_counter, "       \
                  "fields, deleted, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)") \
    X(OUTBOX_STATS, "SELECT count(*), min(created_ms) FROM outbox WHERE acked_ms IS NULL")    \
    X(OUTBOX_LIST, "SELECT seq, collection, id, base, hlc_ms, hlc_counter, fields, "          \
                   "created_ms, deleted FROM outbox WHERE seq > ?1 AND acked_ms IS NULL "     \
                   "ORDER BY seq LIMIT ?2")                                                   \
    X(OUTBOX_DEL, "DELETE FROM outbox WHERE seq = ?1")                                        \
    X(OUTBOX_ACK, "UPDATE outbox SET acked_ms = ?2 WHERE seq = ?1 AND acked_ms IS NULL")      \
    X(OUTBOX_RANGE, "SELECT min(seq), max(seq) FROM outbox WHERE acked_ms IS NULL")           \
    X(OUTBOX_SHIFT, "UPDATE outbox SET seq = -(seq + ?1) WHERE acked_ms IS NULL")             \
    X(OUTBOX_UNFLIP, "UPDATE outbox SET seq = -seq WHERE seq < 0")                            \
    X(KEPT_STATS, "SELECT count(*), min(acked_ms) FROM outbox WHERE acked_ms IS NOT NULL")    \
    X(KEPT_REQUEUE, "UPDATE outbox SET acked_ms = NULL WHERE acked_ms IS NOT NULL "           \
                    "AND seq > ?1")                                                           \
    X(KEPT_OLD, "SELECT seq FROM outbox WHERE acked_ms < ?1 ORDER BY seq")                    \
    X(KEPT_DROP, "DELETE FROM outbox WHERE acked_ms < ?1")                                    \
    X(PRUNED_EXTEND, "UPDATE pruned SET hi = ?1 WHERE hi = ?1 - 1")                           \
    X(PRUNED_ADD, "INSERT INTO pruned(lo, hi) VALUES (?1, ?1)")                               \
    X(PRUNED_ABOVE, "SELECT min(max(lo, ?1 + 1)), max(hi), sum(hi - max(lo, ?1 + 1) + 1) "    \
                    "FROM pruned WHERE hi > ?1")                                              \
    X(PRUNED_DROP, "DELETE FROM pruned WHERE lo > ?1")                                        \
    X(PRUNED_TRIM, "UPDATE pruned SET hi = ?1 WHERE hi > ?1")                                 \
    X(LOST_ADD, "INSERT INTO lost(lo, hi, n, found_ms) VALUES (?1, ?2, ?3, ?4)")              \
    X(LOST_LIST, "SELECT lo, hi, n, found_ms FROM lost ORDER BY id")                          \
    X(REJECT_ADD, "INSERT OR REPLACE INTO rejected(seq, collection, id, fields, code, "       \
                  "field, message, created_ms, rejected_ms) SELECT seq, collection, id, "     \
                  "fields, ?2, ?3, ?4, created_ms, ?5 FROM outbox WHERE seq = ?1")            \
    X(REJECT_LIST, "SELECT seq, collection, id, fields, code, field, message, created_ms, "   \
                   "rejected_ms FROM rejected ORDER BY seq")                                  \
    X(RECORD_GET, "SELECT rev, deleted, body FROM replica WHERE collection = ?1 AND id = ?2") \
    X(RECORD_PUT, "INSERT INTO replica(collection, id, rev, deleted, body) "                  \
                  "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(collection, id) DO UPDATE SET "    \
                  "rev = excluded.rev, deleted = excluded.deleted, body = excluded.body")     \
    X(RECORD_DEL, "DELETE FROM replica WHERE collection = ?1 AND id = ?2")                    \
    X(RECORD_CLEAR, "DELETE FROM replica")                                                    \
    X(RECORD_LIST_ALL, "SELECT collection, id, rev, deleted, body FROM replica "              \
                       "ORDER BY collection, id")                                             \
    X(RECORD_LIST_ONE, "SELECT collection, id, rev, deleted, body FROM replica "              \
                       "WHERE collection = ?1 ORDER BY id")                                   \
    X(RECORD_COUNTS, "SELECT collection, sum(deleted = 0), sum(deleted != 0) FROM replica "   \
                     "GROUP BY collection ORDER BY collection")                               \
    X(PHOTO_ADD, "INSERT INTO photo(sha256, mime, size, bytes, added_ms) "                    \
                 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(sha256) DO NOTHING")                \
    X(PHOTO_BYTES, "SELECT bytes FROM photo WHERE sha256 = ?1")                               \
    X(PHOTO_UPLOADED, "UPDATE photo SET uploaded_ms = ?2 WHERE sha256 = ?1 "                  \
                      "AND uploaded_ms IS NULL")                                              \
    X(PHOTO_LIST, "SELECT sha256, mime, size, added_ms, uploaded_ms, "                        \
                  "EXISTS (SELECT 1 FROM outbox WHERE instr(fields, 'sha256:' || sha256)) "   \
                  "OR EXISTS (SELECT 1 FROM replica WHERE instr(body, 'sha256:' || sha256)) " \
                  "FROM photo WHERE ?1 = 0 OR uploaded_ms IS NULL ORDER BY added_ms, sha256")

enum vsc__replica_stmt {
#define VSC__REPLICA_STMT_ENUM(name, sql) VSC__REPLICA_##name,
    VSC__REPLICA_STMT_MAP(VSC__REPLICA_STMT_ENUM)
#undef VSC__REPLICA_STMT_ENUM
    VSC__REPLICA_STMT_COUNT_
};

static const char *const vsc__replica_sql[VSC__REPLICA_STMT_COUNT_] = {
#define VSC__REPLICA_STMT_SQL(name, sql) sql,
    VSC__REPLICA_STMT_MAP(VSC__REPLICA_STMT_SQL)
#undef VSC__REPLICA_STMT_SQL
};

/* Step 1: the store as it was first made. */
static const char vsc__replica_schema_v1[] =
    "CREATE TABLE IF NOT EXISTS config(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
    " id TEXT NOT NULL, base INTEGER NOT NULL, hlc_ms INTEGER NOT NULL,"
    " hlc_counter INTEGER NOT NULL, fields TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT -1,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rejected(seq INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
    " id TEXT NOT NULL, fields TEXT NOT NULL, code TEXT NOT NULL, field TEXT NOT NULL,"
    " message TEXT NOT NULL, created_ms INTEGER NOT NULL, rejected_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS replica(collection TEXT NOT NULL, id TEXT NOT NULL,"
    " rev INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL,"
    " PRIMARY KEY(collection, id)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

/*
 * Step 2: acked changes are kept (acked_ms), their seqs noted once pruned,
 * and losses after a server restore recorded. The partial index keeps the
 * queue's walk and count as cheap as before, however many are kept.
 */
static const char vsc__replica_schema_v2[] =
    "ALTER TABLE outbox ADD COLUMN acked_ms INTEGER;"
    "CREATE INDEX outbox_queued ON outbox(seq) WHERE acked_ms IS NULL;"
    "CREATE TABLE pruned(lo INTEGER PRIMARY KEY, hi INTEGER NOT NULL);"
    "CREATE TABLE lost(id INTEGER PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL,"
    " n INTEGER NOT NULL, found_ms INTEGER NOT NULL);"
    "PRAGMA user_version = 2;";

/*
 * Step 3: the photos the tablet took (§2.6), kept in the store until the
 * server has them; uploaded_ms is NULL until the server said complete.
 */
static const char vsc__replica_schema_v3[] =
    "CREATE TABLE photo(sha256 TEXT PRIMARY KEY, mime TEXT NOT NULL, size INTEGER NOT NULL,"
    " bytes BLOB NOT NULL, added_ms INTEGER NOT NULL, uploaded_ms INTEGER);"
    "PRAGMA user_version = 3;";

/* vsc__replica_steps[v] brings a store of version v to version v + 1. */
static const char *const vsc__replica_steps[VSC__REPLICA_SCHEMA_VERSION] = {
    vsc__replica_schema_v1,
    vsc__replica_schema_v2,
    vsc__replica_schema_v3,
};

struct vsc_replica {
    struct db_core core; /* the connection; its statement cache is stmt */
    sqlite3_stmt *stmt[VSC__REPLICA_STMT_COUNT_];
};

/* The statement for id, prepared on first use; 0 or a DB_E* code. */
static int vsc__replica_stmt(struct vsc_replica *r, enum vsc__replica_stmt id, sqlite3_stmt **out)
{
    return db_core_stmt(&r->core, (int)id, vsc__replica_sql[id], out);
}

/* Fails with SQLite's own message for what was being done; returns the DB_E* code. */
static int vsc__replica_sqlfail(struct vsc_replica *r, int rc, const char *what)
{
    return db_core_fail(&r->core, rc, "%s in the local store", what);
}

static int vsc__replica_begin(struct vsc_replica *r)
{
    return db_core_exec(&r->core, "BEGIN IMMEDIATE", "starting a transaction in the local store");
}

/* Commits when rc == 0, else rolls back; returns rc or the commit's failure. */
static int vsc__replica_end(struct vsc_replica *r, int rc)
{
    if (rc == 0)
        return db_core_exec(&r->core, "COMMIT", "committing to the local store");
    /* The error being reported stays in errmsg: sqlite3_exec does not touch it. */
    sqlite3_exec(r->core.conn, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Refuses a store made by a newer visitsync (db_core_version_fn); ctx gets the version. */
static int vsc__replica_check_version(struct db_core *c, void *ctx, const char *path, int version)
{
    if (version > VSC__REPLICA_SCHEMA_VERSION)
        return db_core_error(c, DB_ETOONEW,
                             "the local store '%s' was made by a newer visitsync (version %d)",
                             path, version);
    *(int *)ctx = version;
    return 0;
}

int vsc_replica_open(const char *path, int create, struct vsc_replica **out, char *errbuf,
                     size_t errsize)
{
    struct vsc_replica *r = calloc(1, sizeof *r);
    int rc, version = 0;

    if (!r) {
        if (errbuf)
            snprintf(errbuf, errsize, "the local store '%s': out of memory", path ? path : "");
        return DB_ENOMEM;
    }
    db_core_init(&r->core, "the local store", r->stmt, VSC__REPLICA_STMT_COUNT_);
    /* The store holds the device's token: the core creates a new one 0600. */
    rc = db_core_open(&r->core, path, create ? DB_CORE_CREATE : 0, vsc__replica_check_version,
                      &version);
    if (rc == DB_ENOTFOUND && path)
        rc = db_core_error(&r->core, DB_ENOTFOUND,
                           "the local store '%s' does not exist (run `visitsync client init` "
                           "first)",
                           path);
    /* Every step in one transaction: a store is at one version or the next. */
    if (rc == 0 && version < VSC__REPLICA_SCHEMA_VERSION && (rc = vsc__replica_begin(r)) == 0) {
        for (int v = version; rc == 0 && v < VSC__REPLICA_SCHEMA_VERSION; v++)
            rc = db_core_exec(&r->core, vsc__replica_steps[v],
                              "bringing the local store's tables up to date");
        rc = vsc__replica_end(r, rc);
    }
    if (rc != 0) {
        if (errbuf)
            snprintf(errbuf, errsize, "%s", db_core_errmsg(&r->core));
        vsc_replica_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void vsc_replica_close(struct vsc_replica *r)
{
    if (!r)
        return;
    db_core_close(&r->core);
    free(r);
}

const char *vsc_replica_errmsg(const struct vsc_replica *r)
{
    return r ? db_core_errmsg(&r->core) : "no local store";
}

/* ---- config ------------------------------------------------------------- */

int vsc_replica_config_get(struct vsc_replica *r, const char *key, char **out)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_CONFIG_GET, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char *v = db_core_column_dup(st, 0, NULL);
        rc = v ? 0 : DB_ENOMEM;
        if (v)
            *out = v;
    } else if (rc == SQLITE_DONE) {
        rc = db_core_error(&r->core, DB_ENOTFOUND, "local store: setting %s is not set", key);
    } else {
        rc = vsc__replica_sqlfail(r, rc, "reading a setting");
    }
    db_core_reset(st);
    return rc;
}

int vsc_replica_config_set(struct vsc_replica *r, const char *key, const char *value)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, value ? VSC__REPLICA_CONFIG_SET : VSC__REPLICA_CONFIG_DEL, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "writing a setting");
    db_core_reset(st);
    return rc;
}

int vsc_replica_config_get_int(struct vsc_replica *r, const char *key, int64_t dflt, int64_t *out)
{
    char *v = NULL, *end = NULL;
    int rc = vsc_replica_config_get(r, key, &v);

    if (rc == DB_ENOTFOUND) {
        *out = dflt;
        return 0;
    }
    if (rc != 0)
        return rc;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end) {
        rc = db_core_error(&r->core, DB_ECORRUPT,
                           "local store: setting %s is not an integer: \"%s\"", key, v);
    } else {
        *out = n;
    }
    free(v);
    return rc;
}

int vsc_replica_config_set_int(struct vsc_replica *r, const char *key, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return vsc_replica_config_set(r, key, buf);
}

int vsc_replica_clock_merge(struct vsc_replica *r, int64_t server_ms)
{
    int64_t ms = 0;
    int rc = vsc__replica_begin(r);

    if (rc != 0)
        return rc;
    rc = vsc_replica_config_get_int(r, "hlc_ms", 0, &ms);
    if (rc == 0 && server_ms > ms) {
        rc = vsc_replica_config_set_int(r, "hlc_ms", server_ms);
        if (rc == 0)
            rc = vsc_replica_config_set_int(r, "hlc_counter", 0);
    }
    return vsc__replica_end(r, rc);
}

/* ---- welcome ------------------------------------------------------------ */

#define VSC__REPLICA_SEQ_MAX 9007199254740991LL /* 2^53 - 1, the protocol's largest seq */

/* Whether this store ever had a welcome (see vsc_replica_welcome). */
static int vsc__replica_welcomed(struct vsc_replica *r, int *out)
{
    char *v = NULL;
    int rc = vsc_replica_config_get(r, "welcomed", &v);

    if (rc == DB_ENOTFOUND)
        rc = vsc_replica_config_get(r, "user", &v);
    if (rc == 0 || rc == DB_ENOTFOUND) {
        *out = rc == 0;
        rc = 0;
    }
    free(v);
    return rc;
}

/* The lowest and highest queued seq; *n_out 0 when the outbox is empty. */
static int vsc__replica_outbox_range(struct vsc_replica *r, int64_t *lo, int64_t *hi, int *n_out)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_OUTBOX_RANGE, &st);

    if (rc != 0)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n_out = sqlite3_column_type(st, 0) != SQLITE_NULL;
        *lo = sqlite3_column_int64(st, 0);
        *hi = sqlite3_column_int64(st, 1);
        rc = 0;
    } else {
        rc = vsc__replica_sqlfail(r, rc, "reading the outbox's seqs");
    }
    db_core_reset(st);
    return rc;
}

/* Runs one of the renumbering statements, binding offset when it takes one. */
static int vsc__replica_renumber_step(struct vsc_replica *r, enum vsc__replica_stmt s,
                                      int64_t offset)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, s, &st);

    if (rc != 0)
        return rc;
    if (s == VSC__REPLICA_OUTBOX_SHIFT)
        sqlite3_bind_int64(st, 1, offset);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "renumbering the outbox");
    db_core_reset(st);
    return rc;
}

/* Runs a statement that takes one integer (?1) and returns no row; what names it in errors. */
static int vsc__replica_run_int(struct vsc_replica *r, enum vsc__replica_stmt s, int64_t value,
                                const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, s, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, value);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, what);
    db_core_reset(st);
    return rc;
}

/*
 * The pruned seqs above server_seq: their lowest, highest and count (*n 0:
 * none), read from the ranges noted by vsc_replica_prune.
 */
static int vsc__replica_pruned_above(struct vsc_replica *r, int64_t server_seq, int64_t *lo,
                                     int64_t *hi, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_PRUNED_ABOVE, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, server_seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *lo = sqlite3_column_int64(st, 0);
        *hi = sqlite3_column_int64(st, 1);
        *n = sqlite3_column_int64(st, 2); /* NULL (no range) reads as 0 */
        rc = 0;
    } else {
        rc = vsc__replica_sqlfail(r, rc, "reading the pruned seqs");
    }
    db_core_reset(st);
    return rc;
}

/*
 * The server lost the changes this store had acked above server_seq (it was
 * restored from an older backup): queues the kept ones again as they are,
 * and records the pruned ones as a loss, once (their ranges leave `pruned`,
 * so the next welcome with the same seq does not report them again). Runs
 * inside vsc_replica_welcome's transaction.
 */
static int vsc__replica_resend(struct vsc_replica *r, int64_t server_seq, int64_t now_ms,
                               struct vsc_replica_welcomed *w)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_run_int(r, VSC__REPLICA_KEPT_REQUEUE, server_seq,
                                  "queueing the acked changes again");

    if (rc != 0)
        return rc;
    w->requeued = sqlite3_changes(r->core.conn);
    rc = vsc__replica_pruned_above(r, server_seq, &w->lost_lo, &w->lost_hi, &w->lost_n);
    if (rc != 0 || w->lost_n == 0)
        return rc;
    if ((rc = vsc__replica_stmt(r, VSC__REPLICA_LOST_ADD, &st)) != 0)
        return rc;
    sqlite3_bind_int64(st, 1, w->lost_lo);
    sqlite3_bind_int64(st, 2, w->lost_hi);
    sqlite3_bind_int64(st, 3, w->lost_n);
    sqlite3_bind_int64(st, 4, now_ms);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "recording lost changes");
    db_core_reset(st);
    if (rc == 0)
        rc = vsc__replica_run_int(r, VSC__REPLICA_PRUNED_DROP, server_seq,
                                  "recording lost changes");
    if (rc == 0)
        rc = vsc__replica_run_int(r, VSC__REPLICA_PRUNED_TRIM, server_seq,
                                  "recording lost changes");
    return rc;
}

int vsc_replica_welcome(struct vsc_replica *r, int64_t server_seq, int64_t now_ms,
                        struct vsc_replica_welcomed *out)
{
    struct vsc_replica_welcomed w = { 0 };
    int64_t lo = 0, hi = 0, next = 1, offset = 0, acked = 0;
    int welcomed = 0, queued = 0;
    int rc = vsc__replica_begin(r);

    if (rc != 0)
        return rc;
    if ((rc = vsc__replica_welcomed(r, &welcomed)) != 0 ||
        (rc = vsc_replica_config_get_int(r, "next_seq", 1, &next)) != 0 ||
        (rc = vsc_replica_config_get_int(r, "acked_seq", 0, &acked)) != 0 ||
        (rc = vsc__replica_outbox_range(r, &lo, &hi, &queued)) != 0)
        goto out;
    if (!welcomed && server_seq >= 0 && queued && server_seq >= lo) {
        offset = server_seq + 1 - lo;
        if (hi > VSC__REPLICA_SEQ_MAX - offset || next > VSC__REPLICA_SEQ_MAX - offset) {
            rc = db_core_error(&r->core, DB_EMISUSE,
                               "local store: the server has committed seqs up to %" PRId64
                               " for this device; the queued changes cannot be numbered after it",
                               server_seq);
            goto out;
        }
        /*
         * Two steps because seq is the primary key and SQLite checks it row
         * by row: shifted rows go negative first (no queued seq is), so no
         * row ever lands on one not yet moved; then they flip back.
         */
        if ((rc = vsc__replica_renumber_step(r, VSC__REPLICA_OUTBOX_SHIFT, offset)) != 0 ||
            (rc = vsc__replica_renumber_step(r, VSC__REPLICA_OUTBOX_UNFLIP, 0)) != 0)
            goto out;
        w.renumbered = sqlite3_changes(r->core.conn);
        next += offset;
    } else if (welcomed && server_seq >= 0 && server_seq < acked) {
        /* Not a new store: a server that knows less than it acked was restored. */
        if ((rc = vsc__replica_resend(r, server_seq, now_ms, &w)) != 0)
            goto out;
    }
    if (server_seq >= 0 && next <= server_seq)
        next = server_seq + 1;
    if ((rc = vsc_replica_config_set_int(r, "next_seq", next)) != 0 ||
        (rc = vsc_replica_config_set(r, "welcomed", "1")) != 0)
        goto out;
    if (server_seq >= 0)
        rc = vsc_replica_config_set_int(r, "server_seq", server_seq);
out:
    rc = vsc__replica_end(r, rc);
    if (rc == 0 && out)
        *out = w;
    return rc;
}

/* ---- outbox ------------------------------------------------------------- */

void vsc_replica_change_clear(struct vsc_replica_change *c)
{
    if (!c)
        return;
    free(c->collection);
    free(c->id);
    free(c->fields);
    memset(c, 0, sizeof *c);
}

/* The replica's rev of a record, 0 when it has none. */
static int vsc__replica_local_rev(struct vsc_replica *r, const char *collection, const char *id,
                                  int64_t *out)
{
    struct vsc_replica_record rec;
    int rc = vsc_replica_get(r, collection, id, &rec);

    if (rc == DB_ENOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc == 0) {
        *out = rec.rev;
        free(rec.body);
    }
    return rc;
}

int vsc_replica_queue(struct vsc_replica *r, const char *collection, const char *id, int64_t base,
                      const char *fields, int deleted, int64_t now_ms,
                      struct vsc_replica_change *out)
{
    int64_t seq = 0, ms = 0, counter = 0;
    struct vsc_replica_change c = { 0 };
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_begin(r);

    if (rc != 0)
        return rc;
    if ((rc = vsc_replica_config_get_int(r, "next_seq", 1, &seq)) != 0 ||
        (rc = vsc_replica_config_get_int(r, "hlc_ms", 0, &ms)) != 0 ||
        (rc = vsc_replica_config_get_int(r, "hlc_counter", 0, &counter)) != 0)
        goto out;
    if (base < 0 && (rc = vsc__replica_local_rev(r, collection, id, &base)) != 0)
        goto out;
    /* Hybrid logical clock: never behind the last stamp or server time. */
    if (now_ms > ms) {
        ms = now_ms;
        counter = 0;
    } else {
        counter++;
    }
    c.seq = seq;
    c.base = base;
    c.hlc_ms = ms;
    c.hlc_counter = counter;
    c.created_ms = now_ms;
    c.deleted = deleted < 0 ? -1 : deleted != 0;
    c.collection = strdup(collection);
    c.id = strdup(id);
    c.fields = strdup(fields);
    if (!c.collection || !c.id || !c.fields) {
        rc = db_core_error(&r->core, DB_ENOMEM, "local store: out of memory queueing a change");
        goto out;
    }
    if ((rc = vsc__replica_stmt(r, VSC__REPLICA_OUTBOX_ADD, &st)) != 0)
        goto out;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, base);
    sqlite3_bind_int64(st, 5, ms);
    sqlite3_bind_int64(st, 6, counter);
    sqlite3_bind_text(st, 7, fields, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, c.deleted);
    sqlite3_bind_int64(st, 9, now_ms);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "queueing a change");
    db_core_reset(st);
    if (rc == 0)
        rc = vsc_replica_config_set_int(r, "next_seq", seq + 1);
    if (rc == 0)
        rc = vsc_replica_config_set_int(r, "hlc_ms", ms);
    if (rc == 0)
        rc = vsc_replica_config_set_int(r, "hlc_counter", counter);
out:
    rc = vsc__replica_end(r, rc);
    if (rc != 0) {
        vsc_replica_change_clear(&c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Reads the one row of a (count, oldest time) statement; a NULL time reads as 0. */
static int vsc__replica_count_oldest(struct vsc_replica *r, enum vsc__replica_stmt slot,
                                     const char *what, int64_t *count, int64_t *oldest_ms)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, slot, &st);

    if (rc != 0)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        *oldest_ms = sqlite3_column_int64(st, 1);
        rc = 0;
    } else {
        rc = vsc__replica_sqlfail(r, rc, what);
    }
    db_core_reset(st);
    return rc;
}

int vsc_replica_pending(struct vsc_replica *r, int64_t *count, int64_t *oldest_ms)
{
    return vsc__replica_count_oldest(r, VSC__REPLICA_OUTBOX_STATS, "counting the outbox", count,
                                     oldest_ms);
}

int vsc_replica_outbox_list(struct vsc_replica *r, int64_t after_seq, int64_t limit,
                            vsc_replica_change_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_OUTBOX_LIST, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct vsc_replica_change c = {
            .seq = sqlite3_column_int64(st, 0),
            .collection = (char *)sqlite3_column_text(st, 1),
            .id = (char *)sqlite3_column_text(st, 2),
            .base = sqlite3_column_int64(st, 3),
            .hlc_ms = sqlite3_column_int64(st, 4),
            .hlc_counter = sqlite3_column_int64(st, 5),
            .fields = (char *)sqlite3_column_text(st, 6),
            .created_ms = sqlite3_column_int64(st, 7),
            .deleted = sqlite3_column_int(st, 8),
        };
        if ((rc = fn(ctx, &c)) != 0)
            goto out;
    }
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "reading the outbox");
out:
    db_core_reset(st);
    return rc;
}

/* Records one verdict: a rejected change moves to the rejected list, any other is marked acked. */
static int vsc__replica_ack_one(struct vsc_replica *r, const struct vsc_replica_outcome *o,
                                int64_t now_ms)
{
    sqlite3_stmt *st;
    int rc;

    if (o->rejected) {
        if ((rc = vsc__replica_stmt(r, VSC__REPLICA_REJECT_ADD, &st)) != 0)
            return rc;
        sqlite3_bind_int64(st, 1, o->seq);
        sqlite3_bind_text(st, 2, o->code ? o->code : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, o->field ? o->field : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, o->message ? o->message : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now_ms);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "keeping a rejected change");
        db_core_reset(st);
        if (rc == 0)
            rc = vsc__replica_run_int(r, VSC__REPLICA_OUTBOX_DEL, o->seq,
                                      "removing a rejected change");
        return rc;
    }
    /* Kept, marked acked, for a server restored from an older backup (§2.4a). */
    if ((rc = vsc__replica_stmt(r, VSC__REPLICA_OUTBOX_ACK, &st)) != 0)
        return rc;
    sqlite3_bind_int64(st, 1, o->seq);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "marking a change acknowledged");
    db_core_reset(st);
    return rc;
}

int vsc_replica_acked(struct vsc_replica *r, const struct vsc_replica_outcome *o, size_t n,
                      int64_t now_ms)
{
    int64_t top = -1, known = -1, acked = 0;
    int rc = vsc__replica_begin(r);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = vsc__replica_ack_one(r, &o[i], now_ms);
        top = o[i].seq > top ? o[i].seq : top;
    }
    /* Every seq an ack names is committed: keep server_seq current, once known. */
    if (rc == 0 && top >= 0)
        rc = vsc_replica_config_get_int(r, "server_seq", -1, &known);
    if (rc == 0 && known >= 0 && top > known)
        rc = vsc_replica_config_set_int(r, "server_seq", top);
    /* What a later welcome is compared with to notice a restored server. */
    if (rc == 0 && top >= 0)
        rc = vsc_replica_config_get_int(r, "acked_seq", 0, &acked);
    if (rc == 0 && top > acked)
        rc = vsc_replica_config_set_int(r, "acked_seq", top);
    return vsc__replica_end(r, rc);
}

/* Notes one pruned seq: extends the range that ends just below it, or starts one. */
static int vsc__replica_note_pruned(struct vsc_replica *r, int64_t seq)
{
    int rc = vsc__replica_run_int(r, VSC__REPLICA_PRUNED_EXTEND, seq, "noting a pruned seq");

    if (rc == 0 && sqlite3_changes(r->core.conn) == 0)
        rc = vsc__replica_run_int(r, VSC__REPLICA_PRUNED_ADD, seq, "noting a pruned seq");
    return rc;
}

int vsc_replica_prune(struct vsc_replica *r, int64_t before_ms, int64_t *count)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    int rc = vsc__replica_begin(r);

    if (rc != 0)
        return rc;
    if ((rc = vsc__replica_stmt(r, VSC__REPLICA_KEPT_OLD, &st)) != 0)
        goto out;
    sqlite3_bind_int64(st, 1, before_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = vsc__replica_note_pruned(r, sqlite3_column_int64(st, 0))) != 0)
            break;
        n++;
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0)
        rc = vsc__replica_sqlfail(r, rc, "reading the acked changes");
    db_core_reset(st);
    if (rc == 0 && n > 0)
        rc = vsc__replica_run_int(r, VSC__REPLICA_KEPT_DROP, before_ms,
                                  "pruning the acked changes");
out:
    rc = vsc__replica_end(r, rc);
    if (rc == 0 && count)
        *count = n;
    return rc;
}

int vsc_replica_retained(struct vsc_replica *r, int64_t *count, int64_t *oldest_acked_ms)
{
    return vsc__replica_count_oldest(r, VSC__REPLICA_KEPT_STATS, "counting the acked changes",
                                     count, oldest_acked_ms);
}

int vsc_replica_lost_list(struct vsc_replica *r, vsc_replica_lost_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_LOST_LIST, &st);

    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct vsc_replica_lost x = {
            .lo = sqlite3_column_int64(st, 0),
            .hi = sqlite3_column_int64(st, 1),
            .n = sqlite3_column_int64(st, 2),
            .found_ms = sqlite3_column_int64(st, 3),
        };
        if ((rc = fn(ctx, &x)) != 0)
            goto out;
    }
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "reading the lost changes");
out:
    db_core_reset(st);
    return rc;
}

int vsc_replica_rejected_list(struct vsc_replica *r, vsc_replica_rejected_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_REJECT_LIST, &st);

    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct vsc_replica_rejected x = {
            .seq = sqlite3_column_int64(st, 0),
            .collection = (const char *)sqlite3_column_text(st, 1),
            .id = (const char *)sqlite3_column_text(st, 2),
            .fields = (const char *)sqlite3_column_text(st, 3),
            .code = (const char *)sqlite3_column_text(st, 4),
            .field = (const char *)sqlite3_column_text(st, 5),
            .message = (const char *)sqlite3_column_text(st, 6),
            .created_ms = sqlite3_column_int64(st, 7),
            .rejected_ms = sqlite3_column_int64(st, 8),
        };
        if ((rc = fn(ctx, &x)) != 0)
            goto out;
    }
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "reading the rejected changes");
out:
    db_core_reset(st);
    return rc;
}

/* ---- replica ------------------------------------------------------------ */

static int vsc__replica_apply_one(struct vsc_replica *r, const struct vsc_replica_item *it)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, it->removed ? VSC__REPLICA_RECORD_DEL : VSC__REPLICA_RECORD_PUT,
                               &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, it->collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, it->id, -1, SQLITE_STATIC);
    if (!it->removed) {
        sqlite3_bind_int64(st, 3, it->rev);
        sqlite3_bind_int(st, 4, it->deleted ? 1 : 0);
        if (it->body)
            sqlite3_bind_text(st, 5, it->body, (int)it->body_len, SQLITE_STATIC);
        else
            sqlite3_bind_text(st, 5, "{}", 2, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "storing a pulled record");
    db_core_reset(st);
    return rc;
}

/* Applies a page, after removing every record first when clear is set (a reset). */
static int vsc__replica_apply_page(struct vsc_replica *r, const struct vsc_replica_item *items,
                                   size_t n, const char *cursor, int clear)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_begin(r);

    if (rc == 0 && clear && (rc = vsc__replica_stmt(r, VSC__REPLICA_RECORD_CLEAR, &st)) == 0) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "clearing the replica");
        db_core_reset(st);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = vsc__replica_apply_one(r, &items[i]);
    if (rc == 0 && cursor)
        rc = vsc_replica_config_set(r, "cursor", cursor);
    return vsc__replica_end(r, rc);
}

int vsc_replica_apply(struct vsc_replica *r, const struct vsc_replica_item *items, size_t n,
                      const char *cursor)
{
    return vsc__replica_apply_page(r, items, n, cursor, 0);
}

int vsc_replica_rebuild(struct vsc_replica *r, const struct vsc_replica_item *items, size_t n,
                        const char *cursor)
{
    return vsc__replica_apply_page(r, items, n, cursor, 1);
}

int vsc_replica_get(struct vsc_replica *r, const char *collection, const char *id,
                    struct vsc_replica_record *out)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_RECORD_GET, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char *body = db_core_column_dup(st, 2, NULL);
        if (!body) {
            rc = DB_ENOMEM;
        } else {
            out->rev = sqlite3_column_int64(st, 0);
            out->deleted = sqlite3_column_int(st, 1);
            out->body = body;
            rc = 0;
        }
    } else if (rc == SQLITE_DONE) {
        rc = db_core_error(&r->core, DB_ENOTFOUND, "local store: no record %s/%s", collection, id);
    } else {
        rc = vsc__replica_sqlfail(r, rc, "reading a record");
    }
    db_core_reset(st);
    return rc;
}

int vsc_replica_list(struct vsc_replica *r, const char *collection, vsc_replica_record_fn fn,
                     void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(
        r, collection ? VSC__REPLICA_RECORD_LIST_ONE : VSC__REPLICA_RECORD_LIST_ALL, &st);

    if (rc != 0)
        return rc;
    if (collection)
        sqlite3_bind_text(st, 1, collection, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(ctx, (const char *)sqlite3_column_text(st, 0),
                (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2),
                sqlite3_column_int(st, 3), (const char *)sqlite3_column_text(st, 4));
        if (rc != 0)
            goto out;
    }
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "listing records");
out:
    db_core_reset(st);
    return rc;
}

int vsc_replica_counts(struct vsc_replica *r, vsc_replica_count_fn fn, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_RECORD_COUNTS, &st);

    if (rc != 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
                sqlite3_column_int64(st, 2));
        if (rc != 0)
            goto out;
    }
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "counting records");
out:
    db_core_reset(st);
    return rc;
}

/* ---- photos ------------------------------------------------------------- */

/* Writes the SHA-256 of bytes as 64 lowercase hex digits; 0 or DB_ENOMEM. */
static int vsc__replica_sha256(struct vsc_replica *r, const void *bytes, size_t len,
                               char hex_out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (!EVP_Digest(bytes, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
        return db_core_error(&r->core, DB_ENOMEM, "local store: cannot hash a photo (OpenSSL)");
    for (unsigned i = 0; i < 32; i++) {
        hex_out[2 * i] = hex[md[i] >> 4];
        hex_out[2 * i + 1] = hex[md[i] & 15];
    }
    hex_out[64] = '\0';
    return 0;
}

int vsc_replica_photo_add(struct vsc_replica *r, const void *bytes, size_t len, const char *mime,
                          int64_t now_ms, char sha256_hex[65])
{
    char name[65];
    sqlite3_stmt *st = NULL;
    int rc;

    if (len == 0 || len > VSC_PHOTO_MAX)
        return db_core_error(&r->core, DB_EMISUSE,
                             "local store: a photo of %zu bytes cannot be kept: photos are "
                             "1 to %d bytes",
                             len, VSC_PHOTO_MAX);
    if ((rc = vsc__replica_sha256(r, bytes, len, name)) != 0)
        return rc;
    if ((rc = vsc__replica_stmt(r, VSC__REPLICA_PHOTO_ADD, &st)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, 64, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, mime ? mime : "application/octet-stream", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)len);
    sqlite3_bind_blob(st, 4, bytes, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "storing a photo");
    db_core_reset(st);
    if (rc == 0)
        memcpy(sha256_hex, name, sizeof name);
    return rc;
}

int vsc_replica_photo_bytes(struct vsc_replica *r, const char *sha256_hex, void **bytes,
                            size_t *len)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_PHOTO_BYTES, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, sha256_hex, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const void *p = sqlite3_column_blob(st, 0);
        void *copy = malloc(n ? n : 1);
        char got[65];
        if (!copy) {
            rc = db_core_error(&r->core, DB_ENOMEM, "local store: out of memory reading photo "
                               "sha256:%.12s…", sha256_hex);
        } else if (n)
            memcpy(copy, p, n);
        /* Damaged bytes would be sent in full and refused by the server at the end. */
        if (copy && (rc = vsc__replica_sha256(r, copy, n, got)) == 0 &&
            strcmp(got, sha256_hex) != 0)
            rc = db_core_error(&r->core, DB_ECORRUPT,
                               "local store: photo sha256:%.12s… is damaged: its %zu bytes "
                               "hash to %.12s…; it cannot be uploaded: keep the photo again "
                               "(`visitsync client photo`) if you still have it",
                               sha256_hex, n, got);
        if (rc == 0) {
            *bytes = copy;
            *len = n;
        } else {
            free(copy);
        }
    } else if (rc == SQLITE_DONE) {
        rc = db_core_error(&r->core, DB_ENOTFOUND, "local store: no photo sha256:%.64s",
                           sha256_hex);
    } else {
        rc = vsc__replica_sqlfail(r, rc, "reading a photo");
    }
    db_core_reset(st);
    return rc;
}

int vsc_replica_photo_uploaded(struct vsc_replica *r, const char *sha256_hex, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_PHOTO_UPLOADED, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, sha256_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "marking a photo uploaded");
    db_core_reset(st);
    return rc;
}

int vsc_replica_photo_list(struct vsc_replica *r, int pending, vsc_replica_photo_fn fn,
                           void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = vsc__replica_stmt(r, VSC__REPLICA_PHOTO_LIST, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_int(st, 1, pending != 0);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct vsc_replica_photo p = {
            .sha256 = (const char *)sqlite3_column_text(st, 0),
            .mime = (const char *)sqlite3_column_text(st, 1),
            .size = sqlite3_column_int64(st, 2),
            .added_ms = sqlite3_column_int64(st, 3),
            .uploaded_ms = sqlite3_column_int64(st, 4),
            .named = sqlite3_column_int(st, 5),
        };
        if ((rc = fn(ctx, &p)) != 0)
            goto out;
    }
    rc = rc == SQLITE_DONE ? 0 : vsc__replica_sqlfail(r, rc, "listing photos");
out:
    db_core_reset(st);
    return rc;
}
