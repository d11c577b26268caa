/*
 * record.c — one record's current state: read it (whole, or only its rev and
 * grid), write it (an UPSERT of every column), free a copy.
 *
 * Writing a visit also writes its row of visit_facts (migration step 4),
 * by a second one-row statement rather than a trigger: SQLite journals
 * every page a statement touches when it fires a trigger that calls a
 * function, which made a change cost several times as much
 * (docs/performance.md). The facts come from the caller when it has the
 * fields parsed (struct db_visit_facts: the writer's pushes), else from the
 * body by SQLite's JSON functions, the same expressions as the back-fill.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

void db_record_clear(struct db_record *r)
{
    if (!r)
        return;
    free(r->collection);
    free(r->id);
    free(r->grid);
    free(r->body);
    free(r->meta);
    memset(r, 0, sizeof *r);
}

int db_record_get(struct db *db, const char *collection, const char *id, struct db_record *out)
{
    sqlite3_stmt *s = NULL;
    struct db_record r;

    memset(&r, 0, sizeof r);
    if (!collection || !id || !out)
        return db__error(db, DB_EMISUSE, "reading a record needs its collection and id");
    int err = db__stmt(db, DB__RECORD_GET,
                       "SELECT rev, grid, deleted, body, meta, seq FROM records"
                       " WHERE collection = ?1 AND id = ?2",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, collection);
    db__bind_str(s, 2, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        err = db__error(db, DB_ENOTFOUND, "record '%s' of '%s' does not exist", id, collection);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        err = db__fail(db, rc, "reading record '%s' of '%s'", id, collection);
        goto out;
    }
    r.collection = strdup(collection);
    r.id = strdup(id);
    r.rev = sqlite3_column_int64(s, 0);
    r.grid = db_core_column_dup(s, 1, NULL);
    r.deleted = sqlite3_column_int(s, 2) != 0;
    r.body = db_core_column_dup(s, 3, &r.body_len);
    r.meta = db_core_column_dup(s, 4, &r.meta_len);
    r.seq = sqlite3_column_int64(s, 5);
    if (!r.collection || !r.id || !r.grid || !r.body || !r.meta)
        err = db__error(db, DB_ENOMEM, "out of memory reading record '%s' of '%s'", id,
                        collection);
out:
    db_core_reset(s);
    if (err) {
        db_record_clear(&r);
        return err;
    }
    *out = r;
    return 0;
}

int db_record_head(struct db *db, const char *collection, const char *id, int64_t *rev,
                   char *grid, size_t size)
{
    sqlite3_stmt *s = NULL;
    if (!collection || !id || !rev || !grid || size == 0)
        return db__error(db, DB_EMISUSE, "reading a record's head needs its collection and id");
    /* rev and grid come before body in the row, so large bodies are not read. */
    int err = db__stmt(db, DB__RECORD_HEAD,
                       "SELECT rev, grid FROM records WHERE collection = ?1 AND id = ?2", &s);
    if (err)
        return err;
    db__bind_str(s, 1, collection);
    db__bind_str(s, 2, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        err = db__error(db, DB_ENOTFOUND, "record '%s' of '%s' does not exist", id, collection);
    } else if (rc != SQLITE_ROW) {
        err = db__fail(db, rc, "reading record '%s' of '%s'", id, collection);
    } else {
        const char *g = (const char *)sqlite3_column_text(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        if (len >= size) {
            err = db__error(db, DB_ECORRUPT, "record '%s' of '%s' has a grid of %zu bytes", id,
                            collection, len);
        } else {
            *rev = sqlite3_column_int64(s, 0);
            memcpy(grid, g ? g : "", len);
            grid[len] = '\0';
        }
    }
    db_core_reset(s);
    return err;
}

/* The length of a text member: the given one, or strlen when 0 was given. */
static size_t db__len(const char *text, size_t len)
{
    return len || !text ? len : strlen(text);
}

/* visited_at of the body ?4 in ms since the epoch, NULL when it does not parse. */
#define DB__FACTS_MS                                                                       \
    "CAST(round((julianday(json_extract(?4, '$.visited_at')) - 2440587.5) * 86400000.0)"  \
    " AS INTEGER)"

/* The row of visit_facts, and what a later write of the same visit changes: all but its creator. */
#define DB__FACTS_INSERT                                                               \
    "INSERT INTO visit_facts (id, grid, deleted, creator, subject, ms, assist, photos)" \
    " VALUES (?1, ?2, ?3, "
#define DB__FACTS_UPSERT                                                                   \
    " ON CONFLICT (id) DO UPDATE SET grid = excluded.grid, deleted = excluded.deleted,"   \
    " creator = coalesce(creator, excluded.creator), subject = excluded.subject,"         \
    " ms = excluded.ms, assist = excluded.assist, photos = excluded.photos"

/*
 * Writes the row of visit_facts of visit r, just written to records: one
 * statement of one row (VALUES), as SQLite gives a statement that may
 * write several rows and call a function a statement journal, a copy of
 * every page it touches. A visit keeps its creator. A tombstone's facts
 * are NULL (photos 0).
 *
 * With r->facts (the writer: struct db_visit_facts) the values are bound
 * as they are. Without, SQL derives them from the body, with the
 * expressions of migration step 4's back-fill: the JSON functions, and for
 * a new visit's creator the user of the device of history row r->seq when
 * that row created it (rev 1, applied).
 */
static int db__facts_put(struct db *db, const struct db_record *r)
{
    const struct db_visit_facts *f = r->facts;
    sqlite3_stmt *s = NULL;
    int live = r->deleted == 0, rc = SQLITE_OK, err;

    if (f != NULL)
        err = db__stmt(db, DB__FACTS_PUT_GIVEN,
                       DB__FACTS_INSERT "?4, ?5, ?6, ?7, ?8)" DB__FACTS_UPSERT, &s);
    else
        err = db__stmt(db, DB__FACTS_PUT,
                       DB__FACTS_INSERT
                       " (SELECT d.user_id FROM history AS h JOIN devices AS d"
                       "   ON d.id = h.device WHERE h.id = ?5 AND h.collection = 'visits'"
                       "   AND h.record_id = ?1 AND h.rev = 1 AND h.outcome = 'applied'),"
                       " CASE WHEN ?3 = 0 THEN json_extract(?4, '$.subject') END,"
                       " CASE WHEN ?3 = 0 THEN " DB__FACTS_MS " END,"
                       " CASE WHEN ?3 = 0 AND json_type(?4, '$.assistance') = 'array'"
                       "   THEN json_extract(?4, '$.assistance') END,"
                       " CASE WHEN ?3 = 0 THEN coalesce(json_array_length(?4, '$.photos'), 0)"
                       "   ELSE 0 END)" DB__FACTS_UPSERT,
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, r->id);
    db__bind_str(s, 2, r->grid);
    sqlite3_bind_int(s, 3, !live);
    if (f != NULL) {
        db__bind_str(s, 4, f->creator);
        db__bind_str(s, 5, live ? f->subject : NULL);
        if (live && f->has_ms)
            sqlite3_bind_int64(s, 6, f->ms);
        if (live && f->assist)
            rc = db__bind_text(s, 7, f->assist, f->assist_len);
        sqlite3_bind_int64(s, 8, live ? f->photos : 0);
    } else {
        rc = db__bind_text(s, 4, r->body, db__len(r->body, r->body_len));
        sqlite3_bind_int64(s, 5, r->seq);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "keeping the facts of visit '%s'", r->id);
    db_core_reset(s);
    return err;
}

int db_record_put(struct db *db, const struct db_record *r)
{
    sqlite3_stmt *s = NULL;
    if (!r || !r->collection || !r->id || !r->grid || !r->body || !r->meta)
        return db__error(db, DB_EMISUSE,
                         "writing a record needs its collection, id, grid, body and meta");
    int err = db__stmt(db, DB__RECORD_PUT,
                       "INSERT INTO records (collection, id, rev, grid, deleted, body, meta, seq)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                       " ON CONFLICT (collection, id) DO UPDATE SET"
                       " rev = excluded.rev, grid = excluded.grid, deleted = excluded.deleted,"
                       " body = excluded.body, meta = excluded.meta, seq = excluded.seq",
                       &s);
    if (err)
        return err;
    int rc = SQLITE_OK;
    db__bind_str(s, 1, r->collection);
    db__bind_str(s, 2, r->id);
    sqlite3_bind_int64(s, 3, r->rev);
    db__bind_str(s, 4, r->grid);
    sqlite3_bind_int(s, 5, r->deleted != 0);
    /* Only the body and meta can be large enough for SQLite to refuse them. */
    if (rc == SQLITE_OK)
        rc = db__bind_text(s, 6, r->body, db__len(r->body, r->body_len));
    if (rc == SQLITE_OK)
        rc = db__bind_text(s, 7, r->meta, db__len(r->meta, r->meta_len));
    sqlite3_bind_int64(s, 8, r->seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "writing record '%s' of '%s'", r->id, r->collection);
    db_core_reset(s);
    if (!err && strcmp(r->collection, "visits") == 0)
        err = db__facts_put(db, r);
    return err;
}
