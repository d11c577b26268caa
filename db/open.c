/*
 * open.c — opening and closing the server's store: the connection core
 * (core.c) opens the file with the pragmas every store needs; this file adds
 * what only the server's store has: the check that the file is of a schema
 * version this build can use, a larger page cache for the writer, and the
 * migration for writers.
 */
#include <stdio.h>
#include <stdlib.h>

#include "db_internal.h"

/* The writer's page cache in KiB (negative: a size, not a page count): 64 MiB. */
#define DB__WRITER_CACHE "-65536"

/* Refuses files whose schema this build cannot use as they are (db_core_version_fn). */
static int db__check_version(struct db_core *c, void *ctx, const char *path, int version)
{
    int readonly = *(const int *)ctx;
    int want = db_schema_version();
    if (version > want)
        return db_core_error(c, DB_ETOONEW,
                             "the database '%s' has schema version %d but this visitsync knows "
                             "only up to %d; use a newer visitsync",
                             path, version, want);
    if (readonly && version < want)
        return db_core_error(c, DB_ETOOOLD,
                             "the database '%s' has schema version %d, older than %d; run "
                             "'visitsync init --db %s' to migrate it",
                             path, version, want, path);
    return 0;
}

int db_open(const char *path, int flags, struct db **out, char *errbuf, size_t errsize)
{
    struct db *db = NULL;
    int err = 0;

    if (errbuf && errsize)
        errbuf[0] = '\0';
    db = calloc(1, sizeof *db);
    if (!db) {
        if (errbuf && errsize)
            snprintf(errbuf, errsize, "out of memory opening the database '%s'",
                     path ? path : "(null)");
        return DB_ENOMEM;
    }
    db_core_init(&db->core, "the database", db->stmt, DB__STMT_COUNT);
    db->readonly = (flags & DB_OPEN_READONLY) != 0;
    err = db_core_open(&db->core, path,
                       (db->readonly ? DB_CORE_READONLY : 0) |
                           ((flags & DB_OPEN_CREATE) ? DB_CORE_CREATE : 0),
                       db__check_version, &db->readonly);
    if (err == DB_ENOTFOUND && path)
        err = db__error(db, DB_ENOTFOUND,
                        "the database '%s' does not exist; create it with "
                        "'visitsync init --db %s'",
                        path, path);
    if (err || db->readonly)
        goto out;
    /*
     * The writer applies thousands of records per transaction; with
     * SQLite's default 2 MiB page cache a group spills dirty pages to the
     * WAL mid-transaction and reads them back (docs/performance.md,
     * "speed pass"). Temporary b-trees stay in memory too.
     */
    err = db__exec(db, "PRAGMA cache_size=" DB__WRITER_CACHE "; PRAGMA temp_store=MEMORY;",
                   "sizing the writer's page cache");
    if (!err)
        err = db__migrate(db);
out:
    if (err) {
        if (errbuf && errsize)
            snprintf(errbuf, errsize, "%s", db->core.errmsg);
        db_close(db);
        return err;
    }
    *out = db;
    return 0;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    db_core_close(&db->core);
    free(db);
}

int db__user_version(struct db *db, int *out)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__USER_VERSION, "PRAGMA user_version", &s);
    if (err)
        return err;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        err = db__fail(db, rc, "reading the schema version");
        goto out;
    }
    *out = sqlite3_column_int(s, 0);
out:
    db_core_reset(s);
    return err;
}

int db_user_version(struct db *db, int *out)
{
    return db__user_version(db, out);
}
