/*
 * conflict.c — the conflict log: one open entry per (record, field),
 * listing each concurrent candidate once.
 */
#include "db_internal.h"

/* Finds the open entry for (collection, record_id, field) or opens one; *id is its id. */
static int db__conflict_entry(struct db *db, const char *collection, const char *record_id,
                              const char *field, int64_t now_ms, int64_t *id)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__CONFLICT_FIND,
                       "SELECT id FROM conflicts WHERE collection = ?1 AND record_id = ?2"
                       " AND field = ?3 AND status = 'open'",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, collection);
    db__bind_str(s, 2, record_id);
    db__bind_str(s, 3, field);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        db_core_reset(s);
        err = db__stmt(db, DB__CONFLICT_TOUCH,
                       "UPDATE conflicts SET updated_ms = max(updated_ms, ?2) WHERE id = ?1", &s);
        if (err)
            return err;
        sqlite3_bind_int64(s, 1, *id);
        sqlite3_bind_int64(s, 2, now_ms);
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
            err = db__fail(db, rc, "updating the conflict on field '%s' of record '%s'", field,
                           record_id);
        db_core_reset(s);
        return err;
    }
    if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "looking up the conflict on field '%s' of record '%s'", field,
                       record_id);
        db_core_reset(s);
        return err;
    }
    db_core_reset(s);

    err = db__stmt(db, DB__CONFLICT_OPEN,
                   "INSERT INTO conflicts (collection, record_id, field, created_ms, updated_ms)"
                   " VALUES (?1, ?2, ?3, ?4, ?4)",
                   &s);
    if (err)
        return err;
    db__bind_str(s, 1, collection);
    db__bind_str(s, 2, record_id);
    db__bind_str(s, 3, field);
    sqlite3_bind_int64(s, 4, now_ms);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        *id = sqlite3_last_insert_rowid(db->core.conn);
    else
        err = db__fail(db, rc, "opening a conflict on field '%s' of record '%s'", field,
                       record_id);
    db_core_reset(s);
    return err;
}

static int db__candidate_add(struct db *db, int64_t conflict, const struct db_candidate *c)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__CANDIDATE_ADD,
                       "INSERT INTO conflict_candidates"
                       " (conflict_id, device, hlc_ms, hlc_counter, value, history_id)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                       &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, conflict);
    db__bind_str(s, 2, c->device);
    sqlite3_bind_int64(s, 3, c->hlc_ms);
    sqlite3_bind_int64(s, 4, c->hlc_counter);
    db__bind_str(s, 5, c->value);
    if (c->history_id > 0)
        sqlite3_bind_int64(s, 6, c->history_id);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "adding the candidate of device '%s' to conflict %lld",
                       c->device, (long long)conflict);
    db_core_reset(s);
    return err;
}

int db_conflict_add(struct db *db, const char *collection, const char *record_id,
                    const char *field, const struct db_candidate *stored,
                    const struct db_candidate *incoming, int64_t now_ms)
{
    int64_t id = 0;
    if (!collection || !record_id || !field || !stored || !incoming || !stored->device ||
        !incoming->device)
        return db__error(db, DB_EMISUSE,
                         "a conflict needs its record, field and two candidates with devices");
    int err = db__conflict_entry(db, collection, record_id, field, now_ms, &id);
    if (!err)
        err = db__candidate_add(db, id, stored);
    if (!err)
        err = db__candidate_add(db, id, incoming);
    return err;
}
