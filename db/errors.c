/*
 * errors.c — DB_E* codes: db_strerror(), the one sentence per code for the
 * server's store and the client's local store alike, and the error helpers
 * of a struct db. The map from SQLite result codes is the core's
 * (db_core_map in core.c): there is one.
 */
#include <stdarg.h>
#include <stdio.h>

#include "db_internal.h"

const char *db_strerror(int err)
{
    switch (err) {
    case DB_OK:
        return "success";
#define DB_ERRNO_TEXT(name, text) \
    case DB_E##name:              \
        return text;
        DB_ERRNO_MAP(DB_ERRNO_TEXT)
#undef DB_ERRNO_TEXT
    default:
        return "unknown database error";
    }
}

int db__fail(struct db *db, int sqlite_rc, const char *what_fmt, ...)
{
    va_list ap;

    va_start(ap, what_fmt);
    int err = db_core_vfail(&db->core, sqlite_rc, what_fmt, ap);
    va_end(ap);
    return err;
}

int db__error(struct db *db, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    db_core_verror(&db->core, err, fmt, ap);
    va_end(ap);
    return err;
}

const char *db_errmsg(const struct db *db)
{
    if (!db)
        return "no database connection";
    return db_core_errmsg(&db->core);
}
