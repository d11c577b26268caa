/*
 * status.c — what supervisors see of the devices and of the store: the
 * rows of GET /api/status, its store figures (also the metrics'), and the
 * devices enrolled since a position for the live monitor.
 *
 * Design: a scope reaches SQL as one JSON array bound to json_each() (as
 * in pull.c), NULL meaning no filter, so each statement is prepared once
 * whatever the number of grids. A device belongs to the scope when its
 * user has a grid in it; a user without grid rows (a supervisor or admin
 * of every grid) is shown only to an unlimited scope, since a limited
 * supervisor must not learn about people above them.
 *
 * Every function here only reads; it runs on the thread that owns db (a
 * reader thread of the server, or a test).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_internal.h"

int db__scope_grids(struct db *db, const struct db_scope *scope, char **out)
{
    *out = NULL;
    if (!scope || scope->all)
        return 0;
    size_t cap = 3;
    for (size_t i = 0; i < scope->n; i++)
        cap += 6 * strlen(scope->grids[i]) + 3; /* worst case: every byte as \u00XX */
    char *json = malloc(cap);
    if (!json)
        return db__error(db, DB_ENOMEM, "out of memory listing the grids of a scope");
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    json[k++] = '[';
    for (size_t i = 0; i < scope->n; i++) {
        if (i)
            json[k++] = ',';
        json[k++] = '"';
        for (const unsigned char *c = (const unsigned char *)scope->grids[i]; *c; c++) {
            if (*c == '"' || *c == '\\') {
                json[k++] = '\\';
                json[k++] = (char)*c;
            } else if (*c < 0x20) {
                memcpy(json + k, "\\u00", 4);
                json[k + 4] = hex[*c >> 4];
                json[k + 5] = hex[*c & 15];
                k += 6;
            } else {
                json[k++] = (char)*c;
            }
        }
        json[k++] = '"';
    }
    json[k++] = ']';
    json[k] = '\0';
    *out = json;
    return 0;
}

/* The grids of the user a device row names, kept while consecutive rows name the same user. */
struct db__user_grids {
    char user[DB__MAX_ID + 1];
    int loaded;
    char **grids;
    size_t n, cap;
};

static void db__user_grids_empty(struct db__user_grids *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->grids[i]);
    g->n = 0;
    g->loaded = 0;
}

/* Loads the grids of user into g unless g holds them already. */
static int db__user_grids_load(struct db *db, struct db__user_grids *g, const char *user)
{
    sqlite3_stmt *s = NULL;
    int rc, err;

    if (g->loaded && strcmp(g->user, user) == 0)
        return 0;
    db__user_grids_empty(g);
    if (strlen(user) > DB__MAX_ID)
        return db__error(db, DB_ECORRUPT, "user id '%.64s…' is longer than %d characters",
                         user, DB__MAX_ID);
    err = db__stmt(db, DB__STATUS_USER_GRIDS,
                   "SELECT grid_id FROM user_grids WHERE user_id = ?1 ORDER BY grid_id", &s);
    if (err)
        return err;
    db__bind_str(s, 1, user);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (g->n == g->cap) {
            if (g->cap >= DB__MAX_SCOPE) {
                err = db__error(db, DB_ECONSTRAINT, "user '%s' has more than %d grids", user,
                                DB__MAX_SCOPE);
                goto out;
            }
            size_t ncap = g->cap ? g->cap * 2 : 8;
            char **p = realloc(g->grids, ncap * sizeof *p);
            if (!p) {
                err = db__error(db, DB_ENOMEM, "out of memory loading the grids of user '%s'",
                                user);
                goto out;
            }
            g->grids = p;
            g->cap = ncap;
        }
        char *grid = db_core_column_dup(s, 0, NULL);
        if (!grid) {
            err = db__error(db, DB_ENOMEM, "out of memory loading the grids of user '%s'", user);
            goto out;
        }
        g->grids[g->n++] = grid;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "loading the grids of user '%s'", user);
out:
    db_core_reset(s);
    if (!err) {
        strcpy(g->user, user);
        g->loaded = 1;
    }
    return err;
}

/* A text column, NULL for SQL NULL. */
static const char *db__text_or_null(sqlite3_stmt *s, int col)
{
    return (const char *)sqlite3_column_text(s, col);
}

int db_devices_status(struct db *db, const struct db_scope *scope, db_device_status_fn fn,
                      void *ctx)
{
    sqlite3_stmt *s = NULL, *m = NULL;
    int mrc = SQLITE_DONE;
    struct db__user_grids g = {0};
    char *grids = NULL;
    int began = 0, rc;
    int err;

    if (!fn)
        return db__error(db, DB_EMISUSE, "listing the devices needs a callback");
    err = db__scope_grids(db, scope, &grids);
    if (err)
        return err;
    err = db__read_begin(db, &began);
    if (err)
        goto out;
    err = db__stmt(db, DB__STATUS_DEVICES,
                   "SELECT d.id, d.user_id, u.name, d.revoked, d.app, coalesce(d.pending, -1),"
                   " d.oldest_pending, d.clock_skew_ms, coalesce(d.last_seen_ms, 0),"
                   " coalesce(d.last_push_ms, 0), coalesce(d.last_pull_ms, 0), d.last_error,"
                   " d.created_ms"
                   " FROM devices AS d JOIN users AS u ON u.id = d.user_id"
                   " WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM user_grids AS g"
                   "   WHERE g.user_id = d.user_id"
                   "   AND g.grid_id IN (SELECT value FROM json_each(?1)))"
                   " ORDER BY d.id",
                   &s);
    if (err)
        goto out;
    db__bind_str(s, 1, grids);
    /*
     * The missing photos of the visits in scope, by the device that set
     * their photos field last (its stamp in meta, [ms,counter,"device",rev]):
     * db_store_stats's query grouped once, in device order, and merged with
     * the devices as both are walked (a join made SQLite scan the groups
     * once per device).
     */
    err = db__stmt(db, DB__STATUS_MISSING_BY_DEVICE,
                   "SELECT json_extract(r.meta, '$.photos[2]'), count(*)"
                   " FROM visit_facts AS v INDEXED BY visit_facts_photos"
                   " CROSS JOIN records AS r ON r.collection = 'visits' AND r.id = v.id,"
                   " json_each(r.body, '$.photos') AS p"
                   " WHERE v.photos > 0"
                   " AND (?1 IS NULL OR v.grid IN (SELECT value FROM json_each(?1)))"
                   " AND p.type = 'text' AND p.value LIKE 'sha256:%'"
                   " AND NOT EXISTS (SELECT 1 FROM blobs AS b WHERE b.sha256 = substr(p.value, 8))"
                   " GROUP BY 1 ORDER BY 1",
                   &m);
    if (err)
        goto out;
    db__bind_str(m, 1, grids);
    mrc = sqlite3_step(m);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *user = db__text_or_null(s, 1);
        const char *device = db__text_or_null(s, 0);
        int64_t missing = 0;
        /* NULL (a stamp without a device) sorts first and matches no device. */
        while (mrc == SQLITE_ROW && device != NULL &&
               (db__text_or_null(m, 0) == NULL || strcmp(db__text_or_null(m, 0), device) < 0))
            mrc = sqlite3_step(m);
        if (mrc == SQLITE_ROW && device != NULL && strcmp(db__text_or_null(m, 0), device) == 0)
            missing = sqlite3_column_int64(m, 1);
        err = db__user_grids_load(db, &g, user ? user : "");
        if (err)
            goto out;
        struct db_device_status d = {
            .device = db__text_or_null(s, 0),
            .user = user,
            .user_name = db__text_or_null(s, 2),
            .grids = (const char *const *)g.grids,
            .n_grids = g.n,
            .revoked = sqlite3_column_int(s, 3) != 0,
            .app = db__text_or_null(s, 4),
            .pending = sqlite3_column_int64(s, 5),
            .oldest_pending = db__text_or_null(s, 6),
            .has_skew = sqlite3_column_type(s, 7) != SQLITE_NULL,
            .clock_skew_ms = sqlite3_column_int64(s, 7),
            .last_seen_ms = sqlite3_column_int64(s, 8),
            .last_push_ms = sqlite3_column_int64(s, 9),
            .last_pull_ms = sqlite3_column_int64(s, 10),
            .last_error = db__text_or_null(s, 11),
            .created_ms = sqlite3_column_int64(s, 12),
            .missing_photos = missing,
        };
        err = fn(ctx, &d);
        if (err)
            goto out;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "listing the devices");
    else if (mrc != SQLITE_ROW && mrc != SQLITE_DONE)
        err = db__fail(db, mrc, "counting the missing photos by device");
out:
    db_core_reset(s);
    db_core_reset(m);
    err = db__read_end(db, began, err);
    db__user_grids_empty(&g);
    free(g.grids);
    free(grids);
    return err;
}

/* The size of a file in bytes, 0 when there is none (no WAL yet, or a memory database). */
static int64_t db__file_bytes(const char *path)
{
    struct stat st;
    if (!path || !*path || stat(path, &st) != 0)
        return 0;
    return (int64_t)st.st_size;
}

/* Runs a bound one-row count statement into *out; what names it in an error. */
static int db__count(struct db *db, sqlite3_stmt *s, int64_t *out, const char *what)
{
    int rc = sqlite3_step(s);
    int err = 0;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        err = db__fail(db, rc, "counting %s", what);
    db_core_reset(s);
    return err;
}

int db_store_stats(struct db *db, const struct db_scope *scope, struct db_store_stats *out)
{
    sqlite3_stmt *s = NULL;
    struct db_store_stats st = {0};
    char *grids = NULL;
    int began = 0;
    int err;

    if (!out)
        return db__error(db, DB_EMISUSE, "reading the store's figures needs an output");
    err = db__scope_grids(db, scope, &grids);
    if (err)
        return err;
    err = db__read_begin(db, &began);
    if (err)
        goto out;
    err = db_cursor(db, &st.cursor);
    if (err)
        goto out;
    /*
     * The records less the tombstones, each counted from an index rather
     * than the table: records_grid holds every record, records_deleted
     * (migration step 4) only the tombstones. Unscoped, count(*) of the
     * table counts the smallest index page by page.
     */
    if (grids)
        err = db__stmt(db, DB__STATS_RECORDS_SCOPE,
                       "SELECT (SELECT count(*) FROM records"
                       "   WHERE grid IN (SELECT value FROM json_each(?1)))"
                       " - (SELECT count(*) FROM records"
                       "   WHERE deleted <> 0 AND grid IN (SELECT value FROM json_each(?1)))",
                       &s);
    else
        err = db__stmt(db, DB__STATS_RECORDS,
                       "SELECT (SELECT count(*) FROM records)"
                       " - (SELECT count(*) FROM records WHERE deleted <> 0)",
                       &s);
    if (err)
        goto out;
    if (grids)
        db__bind_str(s, 1, grids);
    err = db__count(db, s, &st.records, "the records");
    if (err)
        goto out;
    err = db_conflicts_count(db, DB_CONFLICT_OPEN, scope, &st.conflicts_open);
    if (err)
        goto out;
    /*
     * A photo is named "sha256:<hex>" in a visit and by its bare hex in
     * table blobs (blob_offer sends the hex), which holds only complete
     * photos (migration step 6). Deleted visits need no photos.
     * Only the bodies of visits with photos are read: visit_facts_photos
     * (migration step 4) lists them (a deleted visit has none), and CROSS
     * JOIN keeps the planner from walking the records instead.
     */
    err = db__stmt(db, DB__STATS_MISSING_PHOTOS,
                   "SELECT count(*) FROM visit_facts AS v INDEXED BY visit_facts_photos"
                   " CROSS JOIN records AS r ON r.collection = 'visits' AND r.id = v.id,"
                   " json_each(r.body, '$.photos') AS p"
                   " WHERE v.photos > 0"
                   " AND (?1 IS NULL OR v.grid IN (SELECT value FROM json_each(?1)))"
                   " AND p.type = 'text' AND p.value LIKE 'sha256:%'"
                   " AND NOT EXISTS (SELECT 1 FROM blobs AS b WHERE b.sha256 = substr(p.value, 8))",
                   &s);
    if (err)
        goto out;
    db__bind_str(s, 1, grids);
    err = db__count(db, s, &st.missing_photos, "the missing photos");
    if (err)
        goto out;
    const char *path = sqlite3_db_filename(db->core.conn, "main");
    st.db_bytes = db__file_bytes(path);
    if (path && *path) {
        const char *wal = sqlite3_filename_wal(path);
        st.db_bytes += db__file_bytes(wal);
    }
out:
    err = db__read_end(db, began, err);
    free(grids);
    if (!err)
        *out = st;
    return err;
}

int db_devices_enrolled_after(struct db *db, int64_t after, db_enrolled_fn fn, void *ctx,
                              int64_t *last)
{
    sqlite3_stmt *s = NULL;
    int64_t top = after;
    int rc, err;

    if (!last)
        return db__error(db, DB_EMISUSE, "listing new devices needs a position output");
    if (!fn) {
        err = db__stmt(db, DB__STATUS_ENROLLED_TOP, "SELECT coalesce(max(rowid), 0) FROM devices",
                       &s);
        if (err)
            return err;
        err = db__count(db, s, &top, "the devices");
        if (!err)
            *last = top > after ? top : after;
        return err;
    }
    err = db__stmt(db, DB__STATUS_ENROLLED,
                   "SELECT rowid, id, user_id FROM devices WHERE rowid > ?1 ORDER BY rowid", &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, after);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        top = sqlite3_column_int64(s, 0);
        fn(ctx, db__text_or_null(s, 1), db__text_or_null(s, 2));
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "listing the devices enrolled after position %lld",
                       (long long)after);
    db_core_reset(s);
    if (!err)
        *last = top;
    return err;
}
