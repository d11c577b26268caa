/*
 * pull.c — the change feed (§2.4), its cursor and the store's epoch.
 *
 * Design: a page merges ordered streams by position, all read in one
 * deferred transaction so they see one snapshot:
 *   - in-scope records changed after since, by records.seq. An all-grids
 *     scope is one range scan of records_seq. A scope of up to
 *     DB__PULL_GRID_STREAMS grids is one range of records_grid per grid
 *     (cost proportional to the page, however large the store); a larger
 *     scope is one scan of records_seq whose grid column filters the scope
 *     before the table row is read (the scope then covers much of the
 *     store anyway);
 *   - records now out of scope whose last exit from a scope grid
 *     (history.left_grid) came after since, positioned at that history id.
 * Placing a removal at the history id of the move, not at the record's
 * seq, is what makes paging exact: pages cover consecutive ranges of
 * history ids, so each removal lands in exactly one page even when the
 * record changed again later in its new grid. A device pulling from 0
 * never held such records, so it gets no removals.
 * Both scoped plans are pinned with INDEXED BY: without ANALYZE statistics
 * SQLite would read the wide scope through records_grid and sort every
 * remaining row on each page, which makes a full pull quadratic.
 * A scope list reaches SQL as one JSON array bound to json_each(), so the
 * statements are prepared once whatever the number of grids.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#define DB__RECORD_COLUMNS "collection, id, rev, grid, deleted, body, meta, seq"

static const char db__sql_pull_all[] =
    "SELECT " DB__RECORD_COLUMNS ", seq FROM records WHERE seq > ?1 ORDER BY seq LIMIT ?2";

static const char db__sql_pull_scope[] =
    "SELECT " DB__RECORD_COLUMNS ", seq FROM records INDEXED BY records_seq"
    " WHERE seq > ?1 AND grid IN (SELECT value FROM json_each(?3))"
    " ORDER BY seq LIMIT ?2";

static const char db__sql_pull_grid[] =
    "SELECT " DB__RECORD_COLUMNS ", seq FROM records INDEXED BY records_grid"
    " WHERE grid = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2";

static const char db__sql_pull_removed[] =
    "SELECT r.collection, r.id, r.rev, r.grid, r.deleted, r.body, r.meta, r.seq, x.at"
    " FROM (SELECT collection, record_id, max(id) AS at FROM history"
    "       WHERE left_grid IS NOT NULL AND id > ?1"
    "         AND left_grid IN (SELECT value FROM json_each(?3))"
    "       GROUP BY collection, record_id) AS x"
    " JOIN records AS r ON r.collection = x.collection AND r.id = x.record_id"
    " WHERE r.grid NOT IN (SELECT value FROM json_each(?3))"
    " ORDER BY x.at LIMIT ?2";

/* One of the merged streams: its statement and whether it holds a row. */
struct db__stream {
    sqlite3_stmt *s;
    int has;
    int64_t pos;
};

static int db__stream_next(struct db *db, struct db__stream *st)
{
    int rc = sqlite3_step(st->s);
    if (rc == SQLITE_ROW) {
        st->has = 1;
        st->pos = sqlite3_column_int64(st->s, 8);
        return 0;
    }
    st->has = 0;
    if (rc != SQLITE_DONE)
        return db__fail(db, rc, "reading the change feed");
    return 0;
}

/* Points r at the current row of s; valid until s steps or resets. */
static void db__row_view(sqlite3_stmt *s, struct db_record *r)
{
    r->collection = (char *)sqlite3_column_text(s, 0);
    r->id = (char *)sqlite3_column_text(s, 1);
    r->rev = sqlite3_column_int64(s, 2);
    r->grid = (char *)sqlite3_column_text(s, 3);
    r->deleted = sqlite3_column_int(s, 4) != 0;
    r->body = (char *)sqlite3_column_text(s, 5);
    r->body_len = (size_t)sqlite3_column_bytes(s, 5);
    r->meta = (char *)sqlite3_column_text(s, 6);
    r->meta_len = (size_t)sqlite3_column_bytes(s, 6);
    r->seq = sqlite3_column_int64(s, 7);
}

static int db__read_cursor(struct db *db, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__CURSOR, "SELECT coalesce(max(id), 0) FROM history", &s);
    if (err)
        return err;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        err = db__fail(db, rc, "reading the change-feed cursor");
    db_core_reset(s);
    return err;
}

int db_cursor(struct db *db, int64_t *out)
{
    return db__read_cursor(db, out);
}

int db_epoch(struct db *db, char out[DB_EPOCH_SIZE])
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__EPOCH, "SELECT value FROM store_meta WHERE key = 'epoch'", &s);
    if (err)
        return err;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        size_t n = v != NULL ? strlen(v) : 0;
        /* Written only by the schema step and db_backup: 8 of 0-9 a-f. */
        if (n != DB_EPOCH_SIZE - 1 || strspn(v, "0123456789abcdef") != n)
            err = db__error(db, DB_ECORRUPT, "the store's epoch \"%.16s\" is not 8 hex characters",
                            v != NULL ? v : "");
        else
            memcpy(out, v, DB_EPOCH_SIZE);
    } else if (rc == SQLITE_DONE) {
        err = db__error(db, DB_ECORRUPT, "the store has no epoch (table store_meta)");
    } else {
        err = db__fail(db, rc, "reading the store's epoch");
    }
    db_core_reset(s);
    return err;
}

/* The streams of one page: in-scope ones, then the removed one. */
struct db__page {
    struct db__stream st[DB__PULL_GRID_STREAMS + 1];
    size_t n;
};

/* Adds a stream for the cached statement id, bound to since and limit + 1. */
static int db__page_add(struct db *db, struct db__page *pg, enum db__stmt_id id,
                        const char *sql, int64_t since, int64_t limit, const char *text3)
{
    struct db__stream *st = &pg->st[pg->n];
    int err = db__stmt(db, id, sql, &st->s);
    if (err)
        return err;
    pg->n++;
    sqlite3_bind_int64(st->s, 1, since);
    sqlite3_bind_int64(st->s, 2, limit + 1);
    if (text3)
        db__bind_str(st->s, 3, text3);
    return db__stream_next(db, st);
}

/* True when grids[i] appeared before in the list: a grid gets one stream only. */
static int db__seen_before(const struct db_scope *scope, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(scope->grids[j], scope->grids[i]) == 0)
            return 1;
    return 0;
}

/* Prepares, binds and primes the streams of a page. */
static int db__page_open(struct db *db, int64_t since, const struct db_scope *scope,
                         int64_t limit, const char *json, struct db__page *pg)
{
    int err = 0;
    if (scope->all)
        return db__page_add(db, pg, DB__PULL_ALL, db__sql_pull_all, since, limit, NULL);
    if (scope->n <= DB__PULL_GRID_STREAMS) {
        for (size_t i = 0; !err && i < scope->n; i++)
            if (!db__seen_before(scope, i))
                err = db__page_add(db, pg, (enum db__stmt_id)(DB__PULL_GRID + (int)pg->n),
                                   db__sql_pull_grid, since, limit, scope->grids[i]);
    } else {
        err = db__page_add(db, pg, DB__PULL_SCOPE, db__sql_pull_scope, since, limit, json);
    }
    /* A device from 0 never held anything that could have left. */
    if (!err && since > 0)
        err = db__page_add(db, pg, DB__PULL_REMOVED, db__sql_pull_removed, since, limit, json);
    return err;
}

/* The stream holding the lowest position, or NULL when all are exhausted. */
static struct db__stream *db__page_min(struct db__page *pg)
{
    struct db__stream *min = NULL;
    for (size_t i = 0; i < pg->n; i++)
        if (pg->st[i].has && (!min || pg->st[i].pos < min->pos))
            min = &pg->st[i];
    return min;
}

int db_pull(struct db *db, int64_t since, const struct db_scope *scope, int64_t limit,
            db_row_fn row, void *ctx, int64_t *next, int *more)
{
    struct db__page pg;
    struct db__stream *removed = NULL, *st = NULL;
    char *json = NULL;
    int64_t last = since, cursor = 0;
    int began = 0, err;

    memset(&pg, 0, sizeof pg);
    if (!scope || !row || !next || !more || limit <= 0 || limit >= INT64_MAX / 2)
        return db__error(db, DB_EMISUSE, "a pull needs a scope, a row callback and a limit > 0");
    if (!scope->all && scope->n > DB__MAX_SCOPE)
        return db__error(db, DB_EMISUSE, "a pull scope of %zu grids is more than %d", scope->n,
                         DB__MAX_SCOPE);
    err = db__scope_grids(db, scope, &json);
    if (err)
        return err;
    err = db__read_begin(db, &began);
    if (err)
        goto out;
    err = db__page_open(db, since, scope, limit, json, &pg);
    if (err)
        goto out;
    if (!scope->all && since > 0)
        removed = &pg.st[pg.n - 1];
    for (int64_t emitted = 0; emitted < limit && (st = db__page_min(&pg)); emitted++) {
        struct db_record r;
        db__row_view(st->s, &r);
        last = st->pos;
        err = row(ctx, &r, st == removed);
        if (!err)
            err = db__stream_next(db, st);
        if (err)
            goto out;
    }
    st = db__page_min(&pg);
    if (!st) {
        /* Nothing more in this snapshot: jump to its end so an idle device advances. */
        err = db__read_cursor(db, &cursor);
        if (err)
            goto out;
        last = cursor > last ? cursor : last;
    }
out:
    for (size_t i = 0; i < pg.n; i++)
        db_core_reset(pg.st[i].s);
    err = db__read_end(db, began, err);
    free(json);
    if (err)
        return err;
    *more = st != NULL;
    *next = last;
    return 0;
}
