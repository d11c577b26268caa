/*
 * migrate.c — the schema, as a list of steps. Step i brings PRAGMA
 * user_version from i-1 to i inside one BEGIN IMMEDIATE transaction that
 * also sets the version, so a step is applied entirely or not at all and
 * re-running init is a no-op. Steps are never edited once released: a
 * change to the schema is a new step at the end.
 *
 * The change feed is the history: history.id is the pull cursor and
 * records.seq is the id of the history row that last wrote the record
 * (docs/architecture.md).
 */
#include <stdio.h>

#include "db_internal.h"

static const char *const db__steps[] = {
    /* 1: the first schema. */
    "CREATE TABLE grids ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL"
    ") STRICT;"

    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('cadre', 'supervisor', 'admin')),"
    "  created_ms INTEGER NOT NULL"
    ") STRICT;"

    /* No rows for a supervisor or admin means every grid. */
    "CREATE TABLE user_grids ("
    "  user_id TEXT NOT NULL REFERENCES users(id),"
    "  grid_id TEXT NOT NULL REFERENCES grids(id),"
    "  PRIMARY KEY (user_id, grid_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX user_grids_grid ON user_grids(grid_id);"

    "CREATE TABLE devices ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  user_id TEXT NOT NULL REFERENCES users(id),"
    "  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    "  revoked INTEGER NOT NULL DEFAULT 0,"
    "  revoked_ms INTEGER,"
    "  max_seq INTEGER NOT NULL DEFAULT 0,"
    "  app TEXT,"
    "  pending INTEGER,"
    "  oldest_pending TEXT,"
    "  clock_skew_ms INTEGER,"
    "  last_seen_ms INTEGER,"
    "  last_push_ms INTEGER,"
    "  last_pull_ms INTEGER,"
    "  last_error TEXT,"
    "  created_ms INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX devices_user ON devices(user_id);"
    /* The server polls for fresh revocations every second. */
    "CREATE INDEX devices_revoked ON devices(revoked_ms) WHERE revoked_ms IS NOT NULL;"

    "CREATE TABLE api_tokens ("
    "  hash BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),"
    "  user_id TEXT NOT NULL REFERENCES users(id),"
    "  created_ms INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);"

    /*
     * A rowid table: the pull walks records_seq and fetches each row by
     * rowid, which is cheaper than a text primary-key lookup, and large
     * bodies sit better in a rowid table. grid is in the seq index so a
     * scoped pull filters rows before touching the table.
     */
    "CREATE TABLE records ("
    "  collection TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  rev INTEGER NOT NULL,"
    "  grid TEXT NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  body TEXT NOT NULL,"
    "  meta TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (collection, id)"
    ") STRICT;"
    "CREATE INDEX records_seq ON records(seq, grid);"
    "CREATE INDEX records_grid ON records(grid, seq);"

    /* Append-only: ids are the change-feed sequence. */
    "CREATE TABLE history ("
    "  id INTEGER PRIMARY KEY,"
    "  device TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  collection TEXT,"
    "  record_id TEXT,"
    "  change TEXT,"
    "  outcome TEXT NOT NULL"
    "    CHECK (outcome IN ('applied', 'conflict', 'duplicate', 'rejected')),"
    "  rev INTEGER NOT NULL DEFAULT 0,"
    "  error_code TEXT,"
    "  error_field TEXT,"
    "  error_message TEXT,"
    "  left_grid TEXT"
    ") STRICT;"
    "CREATE INDEX history_record_left ON history(collection, record_id, id)"
    "  WHERE left_grid IS NOT NULL;"
    /* The pull's removed query walks the moves after a cursor. */
    "CREATE INDEX history_left ON history(id, left_grid, collection, record_id)"
    "  WHERE left_grid IS NOT NULL;"
    "CREATE INDEX history_device ON history(device, seq);"

    "CREATE TABLE conflicts ("
    "  id INTEGER PRIMARY KEY,"
    "  collection TEXT NOT NULL,"
    "  record_id TEXT NOT NULL,"
    "  field TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  resolved_by TEXT,"
    "  resolved_ms INTEGER,"
    "  reason TEXT,"
    "  resolution TEXT"
    ") STRICT;"
    "CREATE UNIQUE INDEX conflicts_open ON conflicts(collection, record_id, field)"
    "  WHERE status = 'open';"
    "CREATE INDEX conflicts_status ON conflicts(status, id);"

    "CREATE TABLE conflict_candidates ("
    "  conflict_id INTEGER NOT NULL REFERENCES conflicts(id),"
    "  device TEXT NOT NULL,"
    "  hlc_ms INTEGER NOT NULL,"
    "  hlc_counter INTEGER NOT NULL,"
    "  value TEXT,"
    "  history_id INTEGER,"
    "  UNIQUE (conflict_id, device, hlc_ms, hlc_counter)"
    ") STRICT;"

    /* Photos (§2.6), filled by a later issue. */
    "CREATE TABLE blobs ("
    "  sha256 TEXT PRIMARY KEY NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  mime TEXT,"
    "  have INTEGER NOT NULL DEFAULT 0,"
    "  complete INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE blob_chunks ("
    "  sha256 TEXT NOT NULL REFERENCES blobs(sha256),"
    "  offset INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (sha256, offset)"
    ") STRICT, WITHOUT ROWID;",

    /*
     * 2: a device's history is paged by id (db_history_page). An index on
     * (device) holds (device, rowid), so "device = ? AND id > ? ORDER BY id"
     * is one index range. It replaces history_device(device, seq), which no
     * query used, so a history insert still maintains the same number of
     * indexes (the write path costs what it did).
     */
    "DROP INDEX history_device;"
    "CREATE INDEX history_device_id ON history(device);",

    /*
     * 3: history.outcome's CHECK written as ORs. SQLite 3.40 evaluates a
     * CHECK of the form `x IN (list)` by building an ephemeral table for
     * every inserted row, about 14 % of the writer's instructions per change;
     * the ORs cost a few comparisons. A CHECK cannot be altered in place, so
     * the table is rebuilt (nothing references history by foreign key) and
     * its indexes are made again.
     */
    "CREATE TABLE history_v3 ("
    "  id INTEGER PRIMARY KEY,"
    "  device TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  collection TEXT,"
    "  record_id TEXT,"
    "  change TEXT,"
    "  outcome TEXT NOT NULL"
    "    CHECK (outcome = 'applied' OR outcome = 'conflict' OR outcome = 'duplicate'"
    "           OR outcome = 'rejected'),"
    "  rev INTEGER NOT NULL DEFAULT 0,"
    "  error_code TEXT,"
    "  error_field TEXT,"
    "  error_message TEXT,"
    "  left_grid TEXT"
    ") STRICT;"
    "INSERT INTO history_v3 (id, device, seq, received_ms, collection, record_id, change,"
    "                        outcome, rev, error_code, error_field, error_message, left_grid)"
    "  SELECT id, device, seq, received_ms, collection, record_id, change,"
    "         outcome, rev, error_code, error_field, error_message, left_grid FROM history;"
    "DROP TABLE history;"
    "ALTER TABLE history_v3 RENAME TO history;"
    "CREATE INDEX history_record_left ON history(collection, record_id, id)"
    "  WHERE left_grid IS NOT NULL;"
    "CREATE INDEX history_left ON history(id, left_grid, collection, record_id)"
    "  WHERE left_grid IS NOT NULL;"
    "CREATE INDEX history_device_id ON history(device);",

    /*
     * 4: typed facts of the visits, written by the store's write path
     * (db_record_put in db/record.c), so that the supervisors' report and
     * status (db/report.c, db/status.c) read columns from indexes instead
     * of every visit's JSON on every call.
     *
     * visit_facts has one row per visit record, tombstones included, so
     * that a revived visit keeps who made it: creator, the user of the
     * device whose applied change created the visit (the history row of
     * rev 1 that the first write names). The other facts are those of a
     * live visit and NULL (photos 0) for a tombstone, so that the
     * queries need no condition on deleted except by creator, and every
     * index covers what is read of it. ms is visited_at in ms since the
     * epoch (NULL when it does not parse); assist is the assistance array
     * as written (NULL when it is not an array), so the report parses
     * each distinct array once; photos is the length of the photos array,
     * so the status reads the bodies of only the visits that have photos.
     *
     * The indexes serve the report: time ranges (weeks), visits of a
     * subject in a window, and visits by creator and by assistance in key
     * order (no sort). They are not partial: SQLite 3.40 reads the table
     * for a partial index's own condition. visit_facts_photos, for the
     * status, lists only the visits with photos.
     * records_deleted lists the tombstones, which the status subtracts
     * from a count of records_grid. The existing visits are back-filled
     * here. IF NOT EXISTS and OR IGNORE: a store whose user_version was
     * set back (tests rebuild older schemas that way) keeps its facts.
     */
    "CREATE TABLE IF NOT EXISTS visit_facts ("
    "  id TEXT PRIMARY KEY NOT NULL," /* the visit's id in records */
    "  grid TEXT NOT NULL,"
    "  deleted INTEGER NOT NULL,"
    "  creator TEXT,"
    "  subject TEXT,"
    "  ms INTEGER,"
    "  assist TEXT,"
    "  photos INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS visit_facts_ms ON visit_facts(ms, grid);"
    "CREATE INDEX IF NOT EXISTS visit_facts_subject ON visit_facts(subject, ms, grid);"
    "CREATE INDEX IF NOT EXISTS visit_facts_creator ON visit_facts(creator, deleted, ms, grid);"
    "CREATE INDEX IF NOT EXISTS visit_facts_assist ON visit_facts(assist, ms, grid);"
    "CREATE INDEX IF NOT EXISTS visit_facts_photos ON visit_facts(grid) WHERE photos > 0;"
    "CREATE INDEX IF NOT EXISTS records_deleted ON records(grid) WHERE deleted <> 0;"

    /* The same expressions as db/record.c's DB__FACTS_PUT. */
    "INSERT OR IGNORE INTO visit_facts (id, grid, deleted, creator, subject, ms, assist, photos)"
    "  SELECT r.id, r.grid, r.deleted,"
    "    (SELECT d.user_id FROM history AS h JOIN devices AS d ON d.id = h.device"
    "      WHERE h.id = m.first),"
    "    CASE WHEN r.deleted = 0 THEN json_extract(r.body, '$.subject') END,"
    "    CASE WHEN r.deleted = 0 THEN CAST(round((julianday(json_extract(r.body,"
    "      '$.visited_at')) - 2440587.5) * 86400000.0) AS INTEGER) END,"
    "    CASE WHEN r.deleted = 0 AND json_type(r.body, '$.assistance') = 'array'"
    "      THEN json_extract(r.body, '$.assistance') END,"
    "    CASE WHEN r.deleted = 0 THEN coalesce(json_array_length(r.body, '$.photos'), 0)"
    "      ELSE 0 END"
    "  FROM records AS r LEFT JOIN ("
    "    SELECT record_id, min(id) AS first FROM history WHERE collection = 'visits'"
    "    AND rev = 1 AND outcome = 'applied' GROUP BY record_id) AS m ON m.record_id = r.id"
    "  WHERE r.collection = 'visits';",

    /*
     * 5: the store's epoch and the audit log (issue 11).
     *
     * store_meta holds one value per key; "epoch" is 32 random bits as 8
     * lower-case hex characters (db_epoch). Every cursor the server hands
     * out carries it, and db_backup gives each copy a new one, so a store
     * restored from a copy answers the cursors handed out before the
     * restore with a reset (docs/protocol.md §2.4).
     *
     * audit is append-only: the triggers refuse every UPDATE and DELETE,
     * so a recorded act stays as written (db/audit.c). Its ids only grow,
     * which is the order `visitsync audit` lists.
     *
     * IF NOT EXISTS and OR IGNORE: a store whose user_version was set back
     * (tests rebuild older schemas that way) keeps its epoch and its log.
     */
    "CREATE TABLE IF NOT EXISTS store_meta ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "INSERT OR IGNORE INTO store_meta (key, value) VALUES ('epoch', lower(hex(randomblob(4))));"

    "CREATE TABLE IF NOT EXISTS audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at_ms INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  act TEXT NOT NULL,"
    "  target TEXT,"
    "  detail TEXT"
    ") STRICT;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN"
    "  SELECT RAISE(ABORT, 'the audit log is append-only');"
    "END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN"
    "  SELECT RAISE(ABORT, 'the audit log is append-only');"
    "END;",

    /*
     * 6: photos (§2.6, issue 12), stored in the database itself: one file
     * to back up, atomic with the records, covered by integrity_check, and a
     * chunk's fsync is the writer's group COMMIT (docs/architecture.md, "The
     * life of a photo"). Step 1's blobs and blob_chunks were never written
     * to; they are replaced.
     *
     * An upload is one device's attempt at one photo: its bytes arrive in
     * order as blob_parts (the chunks as sent, keyed by their offset) and
     * have counts them. A device has at most one open upload per photo
     * (blob_uploads_open). When the bytes verify, the photo gets a row in
     * blobs naming the upload that holds its bytes (done = 1 from then on),
     * or, when another upload already holds them, the new one is deleted.
     * blob_grants lists the grids that may see a photo: the grids of the
     * cadre of every device that uploaded it whole.
     */
    "DROP TABLE IF EXISTS blob_chunks;"
    "DROP TABLE IF EXISTS blobs;"
    "CREATE TABLE IF NOT EXISTS blob_uploads ("
    "  id INTEGER PRIMARY KEY,"
    "  sha256 TEXT NOT NULL,"
    "  device TEXT NOT NULL,"
    "  size INTEGER NOT NULL CHECK (size > 0),"
    "  mime TEXT NOT NULL,"
    "  have INTEGER NOT NULL DEFAULT 0 CHECK (have >= 0 AND have <= size),"
    "  done INTEGER NOT NULL DEFAULT 0,"
    "  started_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ") STRICT;"
    "CREATE UNIQUE INDEX IF NOT EXISTS blob_uploads_open ON blob_uploads(sha256, device)"
    "  WHERE done = 0;"
    "CREATE TABLE IF NOT EXISTS blob_parts ("
    "  upload INTEGER NOT NULL REFERENCES blob_uploads(id),"
    "  offset INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (upload, offset)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blobs ("
    "  sha256 TEXT PRIMARY KEY NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  mime TEXT NOT NULL,"
    "  upload INTEGER NOT NULL REFERENCES blob_uploads(id),"
    "  completed_ms INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE IF NOT EXISTS blob_grants ("
    "  sha256 TEXT NOT NULL REFERENCES blobs(sha256),"
    "  grid TEXT NOT NULL,"
    "  PRIMARY KEY (sha256, grid)"
    ") STRICT, WITHOUT ROWID;",
};

#define DB__N_STEPS ((int)(sizeof db__steps / sizeof db__steps[0]))

int db_schema_version(void)
{
    return DB__N_STEPS;
}

/* Applies step `to` (user_version to-1 -> to) unless another process already did. */
static int db__step(struct db *db, int to)
{
    char sql[64];
    int now = 0;
    int err = db__exec(db, "BEGIN IMMEDIATE", "starting a schema migration");
    if (err)
        return err;
    /* Read again under the write lock: another init may have run meanwhile. */
    err = db__user_version(db, &now);
    if (err || now >= to)
        goto out;
    err = db__exec(db, db__steps[to - 1], "migrating the schema");
    if (err)
        goto out;
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", to);
    err = db__exec(db, sql, "setting the schema version");
    if (err)
        goto out;
    err = db__exec(db, "COMMIT", "committing a schema migration");
out:
    if (err && !sqlite3_get_autocommit(db->core.conn)) {
        char keep[DB_CORE_ERRMSG_MAX];
        snprintf(keep, sizeof keep, "%s", db->core.errmsg);
        sqlite3_exec(db->core.conn, "ROLLBACK", NULL, NULL, NULL);
        snprintf(db->core.errmsg, sizeof db->core.errmsg, "%s", keep);
    }
    return err;
}

int db__migrate(struct db *db)
{
    int version = 0;
    int err = db__user_version(db, &version);
    if (err)
        return err;
    if (version > DB__N_STEPS)
        return db__error(db, DB_ETOONEW,
                         "the database has schema version %d but this visitsync knows only up "
                         "to %d; use a newer visitsync",
                         version, DB__N_STEPS);
    for (int to = version + 1; to <= DB__N_STEPS; to++) {
        err = db__step(db, to);
        if (err)
            return err;
    }
    return 0;
}
