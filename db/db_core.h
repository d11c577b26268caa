/*
 * db_core.h — one SQLite connection as every store of ours keeps it: the
 * server's database (db/, struct db) and a tablet's local store
 * (client/vsc_replica.c, struct vsc_replica) are both built on it, so they
 * open files the same way, cache statements the same way and report
 * failures with the same DB_E* codes (db.h; db_strerror() names them).
 *
 * What it holds: the sqlite3 handle, the statements the owner prepared
 * (SQLITE_PREPARE_PERSISTENT, one slot each, finalized together at close)
 * and the sentence of the last error. What it does at open: a new file is
 * created 0600 first; then extended result codes, a busy timeout, a read of
 * the header (a file that is not SQLite fails here), the owner's version
 * check, WAL (verified on files), synchronous=FULL and foreign keys.
 *
 * It exposes sqlite3 types, so only db/ and client/ include it
 * (tests/layering.sh). A struct db_core is used by one thread at a time: the
 * thread that owns the store it is part of.
 */
#ifndef VS_DB_CORE_H
#define VS_DB_CORE_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>

#include "db.h"

/* The longest error sentence a connection holds; longer ones are truncated. */
#define DB_CORE_ERRMSG_MAX 512
/* How long a statement waits for another connection's lock before DB_EBUSY. */
#define DB_CORE_BUSY_TIMEOUT_MS 5000

struct db_core {
    sqlite3 *conn;
    sqlite3_stmt **stmt; /* the owner's n_stmt slots, NULL until first prepared */
    int n_stmt;
    const char *label;   /* how messages name the file: "the database", "the local store" */
    char errmsg[DB_CORE_ERRMSG_MAX];
};

enum db_core_flags {
    DB_CORE_CREATE = 1,   /* create the file when missing, 0600 */
    DB_CORE_READONLY = 2, /* open read-only: no WAL switch, no writes */
};

/*
 * Called by db_core_open with the user_version read from the file's header,
 * before the open writes anything to the file (the WAL switch does). Returns
 * 0 to go on, or a DB_E* code with a sentence set by db_core_error().
 */
typedef int (*db_core_version_fn)(struct db_core *c, void *ctx, const char *path, int version);

/*
 * Prepares c for db_core_open: slots (n_slots of them, all NULL) become its
 * statement cache and stay owned by the caller's struct; label names the
 * file in messages. Any thread; cannot fail.
 */
void db_core_init(struct db_core *c, const char *label, sqlite3_stmt **slots, int n_slots);

/*
 * Opens path (":memory:" or "" for a private in-memory store) with flags
 * (enum db_core_flags). A missing file is DB_ENOTFOUND unless
 * DB_CORE_CREATE (the caller may replace the sentence with a hint); one it
 * creates is made by db_core_create_private first. check (may be NULL) sees
 * the header's user_version before anything is written. Then: WAL, which
 * must take on a file unless DB_CORE_READONLY (a directory SQLite cannot
 * write the -wal file into is DB_EIO, not a silent rollback journal),
 * synchronous=FULL, foreign_keys=ON, and a busy timeout of
 * DB_CORE_BUSY_TIMEOUT_MS. Returns 0 or a DB_E* code with c->errmsg set;
 * either way the caller ends with db_core_close(c). The calling thread then
 * owns the connection.
 */
int db_core_open(struct db_core *c, const char *path, int flags, db_core_version_fn check,
                 void *ctx);

/* Finalizes every cached statement and closes the connection; safe after a failed open. */
void db_core_close(struct db_core *c);

/*
 * Hands out the statement of slot, preparing sql with
 * SQLITE_PREPARE_PERSISTENT on first use; later calls return the same
 * statement whatever sql says. The statement stays owned by c: the caller
 * resets it with db_core_reset() on every exit path. Returns 0 or a DB_E*
 * code (DB_EMISUSE for a slot out of range).
 */
int db_core_stmt(struct db_core *c, int slot, const char *sql, sqlite3_stmt **out);
/* Resets and unbinds a statement, so it holds no read snapshot or borrowed pointer; NULL is fine. */
void db_core_reset(sqlite3_stmt *s);
/* Runs SQL text not worth caching (pragmas, BEGIN/COMMIT, schema); 0 or a DB_E* code. */
int db_core_exec(struct db_core *c, const char *sql, const char *what);
/* A malloc'd copy of a text column, "" for SQL NULL, taken before the reset; NULL when out of memory. */
char *db_core_column_dup(sqlite3_stmt *s, int col, size_t *len);

/*
 * The one map from SQLite result codes (primary or extended) to DB_E*
 * codes: SQLITE_OK, ROW and DONE are DB_OK; see core.c for the rest and
 * why a code it does not name is DB_EMISUSE. Pure; any thread.
 */
int db_core_map(int sqlite_rc);

/*
 * Records the connection's last SQLite error as "<SQLite's message> (while
 * <what>)" and returns db_core_map(sqlite_rc), or DB_EMISUSE when that is
 * DB_OK (a failure reported with a success code is our mistake). Call it
 * before resetting the statement that failed, so the message is still
 * SQLite's.
 */
int db_core_fail(struct db_core *c, int sqlite_rc, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
int db_core_vfail(struct db_core *c, int sqlite_rc, const char *what_fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Sets a sentence of our own and returns err. */
int db_core_error(struct db_core *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int db_core_verror(struct db_core *c, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* The last error's sentence (never NULL; "no error" before the first). */
const char *db_core_errmsg(const struct db_core *c);

/*
 * Creates path as an empty file that only its owner may read or write
 * (0600, whatever the umask) when no file is there, before sqlite3_open_v2
 * makes it with 0644: the server's store holds personal records, a replica
 * its device's token. SQLite gives the -wal, -shm and -journal files it
 * makes the mode of the main file, so they are 0600 too. An existing file
 * is left as it is, mode included: changing an operator's file silently is
 * not ours to do (docs/operations.md, "File modes"). A symlink counts as
 * existing (a dangling one is then created by SQLite, with its default
 * mode). db_core_open calls it for DB_CORE_CREATE; any thread. Returns 0
 * when it created the file, 1 when there was nothing to create (a file was
 * there, or path is ":memory:" or ""), or -errno when it could not.
 */
int db_core_create_private(const char *path);

#endif
