/*
 * export.c — every current record of a collection, in id order, read in
 * one transaction so the export is one consistent snapshot.
 */
#include <stdio.h>

#include "db_internal.h"

int db_export(struct db *db, const char *collection, db_row_fn row, void *ctx)
{
    sqlite3_stmt *s = NULL;
    int began = 0, err;

    if (!collection || !row)
        return db__error(db, DB_EMISUSE, "an export needs a collection and a row callback");
    if (sqlite3_get_autocommit(db->core.conn)) {
        err = db__run(db, DB__BEGIN_DEFERRED, "BEGIN", "starting a read transaction");
        if (err)
            return err;
        began = 1;
    }
    err = db__stmt(db, DB__EXPORT,
                   "SELECT collection, id, rev, grid, deleted, body, meta, seq FROM records"
                   " WHERE collection = ?1 ORDER BY id",
                   &s);
    if (err)
        goto out;
    db__bind_str(s, 1, collection);
    int rc;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct db_record r = {
            .collection = (char *)sqlite3_column_text(s, 0),
            .id = (char *)sqlite3_column_text(s, 1),
            .rev = sqlite3_column_int64(s, 2),
            .grid = (char *)sqlite3_column_text(s, 3),
            .deleted = sqlite3_column_int(s, 4) != 0,
            .body = (char *)sqlite3_column_text(s, 5),
            .body_len = (size_t)sqlite3_column_bytes(s, 5),
            .meta = (char *)sqlite3_column_text(s, 6),
            .meta_len = (size_t)sqlite3_column_bytes(s, 6),
            .seq = sqlite3_column_int64(s, 7),
        };
        err = row(ctx, &r, 0);
    }
    if (!err && rc != SQLITE_DONE)
        err = db__fail(db, rc, "exporting collection '%s'", collection);
out:
    db_core_reset(s);
    if (began) {
        if (err) {
            char keep[DB_CORE_ERRMSG_MAX];
            snprintf(keep, sizeof keep, "%s", db->core.errmsg);
            db_rollback(db);
            snprintf(db->core.errmsg, sizeof db->core.errmsg, "%s", keep);
        } else {
            err = db__run(db, DB__COMMIT, "COMMIT", "ending a read transaction");
        }
    }
    return err;
}
