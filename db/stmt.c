/*
 * stmt.c — the statement cache and small binding helpers shared by db/.
 * Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * and finalized together in db_close.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

int db__stmt(struct db *db, enum db__stmt_id id, const char *sql, sqlite3_stmt **out)
{
    if (db->stmt[id]) {
        *out = db->stmt[id];
        return 0;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK)
        return db__fail(db, rc, "preparing \"%.120s\"", sql);
    db->stmt[id] = s;
    *out = s;
    return 0;
}

void db__reset(sqlite3_stmt *s)
{
    if (!s)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
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
    db__reset(s);
    return err;
}

int db__exec(struct db *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db__fail(db, rc, "%s", what);
    return 0;
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

char *db__column_dup(sqlite3_stmt *s, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    if (t)
        memcpy(copy, t, n);
    else
        n = 0;
    copy[n] = '\0';
    if (len)
        *len = n;
    return copy;
}
