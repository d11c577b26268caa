/*
 * core.c — the connection core of every store (db_core.h): opening a file
 * with the pragmas it needs, the statement cache, and the one map from
 * SQLite result codes to DB_E* codes with the sentence of the last error.
 * db/ (struct db) and client/vsc_replica.c (struct vsc_replica) embed a
 * struct db_core; neither opens, prepares or maps on its own.
 */
#include "db_core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------- */

/*
 * Why a code this switch does not name is DB_EMISUSE: every code that says
 * the file or the disk failed is named (I/O, full, cannot open, read-only,
 * permission, locking protocol, no large-file support, corrupt, not a
 * database), and SQLite adds new failures of an existing kind as extended
 * codes of that primary code (SQLITE_IOERR_*), which the second switch
 * catches. What is left is SQLite telling us the request was wrong: a bad
 * statement or a table that is not there (SQLITE_ERROR), MISUSE, RANGE (a
 * bind index), MISMATCH and TOOBIG (a value the column or the limits do not
 * allow), ABORT (a statement cut off by our own ROLLBACK), SCHEMA, and
 * NOTFOUND (an unknown file-control opcode, not a missing row). None of them
 * is cured by a retry or by the operator's disk, so calling them DB_EIO
 * ("could not be read or written") would send whoever reads the message to
 * look for a fault that is not there; DB_EMISUSE says the caller or the
 * store is at fault. (The local store used to say DB_EIO here; db/ said
 * DB_EMISUSE.)
 */
int db_core_map(int sqlite_rc)
{
    switch (sqlite_rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return DB_EEXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return DB_ENOTFOUND; /* the row it refers to is not there */
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
    case SQLITE_NOLFS:
        return DB_EIO;
    case SQLITE_CONSTRAINT:
        return DB_ECONSTRAINT;
    default:
        return DB_EMISUSE;
    }
}

int db_core_vfail(struct db_core *c, int sqlite_rc, const char *what_fmt, va_list ap)
{
    char what[256];

    vsnprintf(what, sizeof what, what_fmt, ap);
    snprintf(c->errmsg, sizeof c->errmsg, "%s (while %s)",
             c->conn ? sqlite3_errmsg(c->conn) : sqlite3_errstr(sqlite_rc), what);
    int err = db_core_map(sqlite_rc);
    return err == DB_OK ? DB_EMISUSE : err;
}

int db_core_fail(struct db_core *c, int sqlite_rc, const char *what_fmt, ...)
{
    va_list ap;

    va_start(ap, what_fmt);
    int err = db_core_vfail(c, sqlite_rc, what_fmt, ap);
    va_end(ap);
    return err;
}

int db_core_verror(struct db_core *c, int err, const char *fmt, va_list ap)
{
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    return err;
}

int db_core_error(struct db_core *c, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    db_core_verror(c, err, fmt, ap);
    va_end(ap);
    return err;
}

const char *db_core_errmsg(const struct db_core *c)
{
    return c->errmsg[0] ? c->errmsg : "no error";
}

/* ---- statements --------------------------------------------------------- */

int db_core_stmt(struct db_core *c, int slot, const char *sql, sqlite3_stmt **out)
{
    if (slot < 0 || slot >= c->n_stmt)
        return db_core_error(c, DB_EMISUSE, "statement slot %d is not one of the %d this store has",
                             slot, c->n_stmt);
    if (c->stmt[slot]) {
        *out = c->stmt[slot];
        return 0;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(c->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK)
        return db_core_fail(c, rc, "preparing \"%.120s\"", sql);
    c->stmt[slot] = s;
    *out = s;
    return 0;
}

void db_core_reset(sqlite3_stmt *s)
{
    if (!s)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

int db_core_exec(struct db_core *c, const char *sql, const char *what)
{
    int rc = sqlite3_exec(c->conn, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_core_fail(c, rc, "%s", what);
    return 0;
}

char *db_core_column_dup(sqlite3_stmt *s, int col, size_t *len)
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

/* ---- opening ------------------------------------------------------------ */

static int db__core_is_memory(const char *path)
{
    return path[0] == '\0' || strcmp(path, ":memory:") == 0;
}

int db_core_create_private(const char *path)
{
    if (db__core_is_memory(path))
        return 1;
    /* O_EXCL: an existing file is never opened, let alone changed; nor is a symlink followed. */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? 1 : -errno;
    /* open() applied the umask: the file we made gets 0600 exactly, like SQLite's own files. */
    int rc = fchmod(fd, 0600) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

void db_core_init(struct db_core *c, const char *label, sqlite3_stmt **slots, int n_slots)
{
    memset(c, 0, sizeof *c);
    c->label = label;
    c->stmt = slots;
    c->n_stmt = n_slots;
}

/* The first read of the header: a file that is not SQLite fails here. */
static int db__core_header(struct db_core *c, const char *path, int *version)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    int rc = sqlite3_prepare_v2(c->conn, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        *version = sqlite3_column_int(s, 0);
        goto out;
    }
    err = db_core_fail(c, rc, "reading the schema version of %s '%s'", c->label, path);
    if (err == DB_ECORRUPT)
        err = db_core_error(c, DB_ECORRUPT, "'%s' is not a visitsync database or is damaged (%s)",
                            path, sqlite3_errmsg(c->conn));
out:
    sqlite3_finalize(s);
    return err;
}

/* Sets journal_mode=WAL and checks that SQLite agreed (it cannot for :memory:). */
static int db__core_wal(struct db_core *c, const char *path)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    int rc = sqlite3_prepare_v2(c->conn, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        err = db_core_fail(c, rc, "switching %s '%s' to WAL mode", c->label, path);
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    if (!db__core_is_memory(path) && (!mode || strcmp(mode, "wal") != 0))
        err = db_core_error(c, DB_EIO,
                            "%s '%s' could not be switched to WAL mode (journal_mode is '%s'); "
                            "check that its directory is writable",
                            c->label, path, mode ? mode : "?");
out:
    sqlite3_finalize(s);
    return err;
}

int db_core_open(struct db_core *c, const char *path, int flags, db_core_version_fn check,
                 void *ctx)
{
    int readonly = (flags & DB_CORE_READONLY) != 0;
    int create = (flags & DB_CORE_CREATE) && !readonly;
    int version = 0, err;
    struct stat st;

    if (!path)
        return db_core_error(c, DB_EMISUSE, "no path given for %s", c->label);
    /* SQLite's "unable to open database file" does not say why; we can. */
    if (!db__core_is_memory(path) && stat(path, &st) != 0) {
        if (errno == ENOENT && !create)
            return db_core_error(c, DB_ENOTFOUND, "%s '%s' does not exist", c->label, path);
        if (errno != ENOENT)
            return db_core_error(c, DB_EIO, "cannot open %s '%s': %s", c->label, path,
                                 strerror(errno));
    }
    if (create) {
        int made = db_core_create_private(path);
        if (made < 0)
            return db_core_error(c, DB_EIO, "cannot create %s '%s': %s", c->label, path,
                                 strerror(-made));
    }
    int oflags = SQLITE_OPEN_NOMUTEX;
    if (readonly)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &c->conn, oflags, NULL);
    if (rc != SQLITE_OK)
        return db_core_fail(c, rc, "opening %s '%s'", c->label, path);
    sqlite3_extended_result_codes(c->conn, 1);
    sqlite3_busy_timeout(c->conn, DB_CORE_BUSY_TIMEOUT_MS);

    if ((err = db__core_header(c, path, &version)) != 0)
        return err;
    if (check && (err = check(c, ctx, path, version)) != 0)
        return err;
    if (!readonly && (err = db__core_wal(c, path)) != 0)
        return err;
    return db_core_exec(c, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                        "setting synchronous=FULL and foreign_keys=ON");
}

void db_core_close(struct db_core *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_stmt; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
    /* sqlite3_close_v2 never fails for a busy connection: it defers instead. */
    sqlite3_close_v2(c->conn);
    c->conn = NULL;
}
