/*
 * errors.c — DB_E* codes: their sentences, the mapping from SQLite result
 * codes, and the per-connection message that db_errmsg() returns.
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

int db__map(int sqlite_rc)
{
    switch (sqlite_rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return DB_EEXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return DB_ENOTFOUND;
    default:
        break;
    }
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return DB_OK;
    case SQLITE_NOMEM:
        return DB_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return DB_ECORRUPT;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
        return DB_EIO;
    case SQLITE_CONSTRAINT:
        return DB_ECONSTRAINT;
    case SQLITE_NOTFOUND:
        return DB_ENOTFOUND;
    default:
        /* SQLITE_ERROR, MISUSE, RANGE, SCHEMA...: we asked for something wrong. */
        return DB_EMISUSE;
    }
}

int db__fail(struct db *db, int sqlite_rc, const char *what_fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    snprintf(db->errmsg, sizeof db->errmsg, "%s (while %s)",
             db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(sqlite_rc), what);
    int err = db__map(sqlite_rc);
    return err == DB_OK ? DB_EMISUSE : err;
}

int db__error(struct db *db, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
    va_end(ap);
    return err;
}

const char *db_errmsg(const struct db *db)
{
    if (!db)
        return "no database connection";
    return db->errmsg[0] ? db->errmsg : "no error";
}
