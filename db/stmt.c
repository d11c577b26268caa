/*
 * stmt.c — the statement cache of a struct db (db__stmt, over the core's in
 * core.c) and small binding helpers shared by db/. Statements are prepared
 * once per connection (SQLITE_PREPARE_PERSISTENT) and finalized together in
 * db_close.
 */
#include <string.h>

#include "db_internal.h"

int db__stmt(struct db *db, enum db__stmt_id id, const char *sql, sqlite3_stmt **out)
{
    return db_core_stmt(&db->core, (int)id, sql, out);
}

int db__run(struct db *db, enum db__stmt_id id, const char *sql, const char *what)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, id, sql, &s);
    if (err)
        return err;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = db__fail(db, rc, "%s", what);
    db_core_reset(s);
    return err;
}

int db__exec(struct db *db, const char *sql, const char *what)
{
    return db_core_exec(&db->core, sql, what);
}

int db__bind_text(sqlite3_stmt *s, int idx, const char *text, size_t len)
{
    if (!text)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text64(s, idx, text, len, SQLITE_STATIC, SQLITE_UTF8);
}

int db__bind_str(sqlite3_stmt *s, int idx, const char *str)
{
    if (!str)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text64(s, idx, str, strlen(str), SQLITE_STATIC, SQLITE_UTF8);
}
