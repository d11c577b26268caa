/*
 * open.c — opening and closing a connection: the pragmas every connection
 * needs (WAL, synchronous=FULL, foreign keys, busy timeout), the checks that
 * the file is ours and of the right version, and the migration for writers.
 * A new file is created 0600 before SQLite opens it (db__create_private).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_internal.h"

#define DB__BUSY_TIMEOUT_MS 5000
/* The writer's page cache in KiB (negative: a size, not a page count): 64 MiB. */
#define DB__WRITER_CACHE "-65536"

static int db__is_memory(const char *path)
{
    return path[0] == '\0' || strcmp(path, ":memory:") == 0;
}

int db__create_private(const char *path)
{
    if (db__is_memory(path))
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

/* Sets journal_mode=WAL and checks that SQLite agreed (it cannot for :memory:). */
static int db__wal(struct db *db, const char *path, int is_file)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    int rc = sqlite3_prepare_v2(db->conn, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return db__fail(db, rc, "switching '%s' to WAL mode", path);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        err = db__fail(db, rc, "switching '%s' to WAL mode", path);
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    if (is_file && (!mode || strcmp(mode, "wal") != 0))
        err = db__error(db, DB_EIO,
                        "the database '%s' could not be switched to WAL mode (journal_mode is "
                        "'%s'); check that its directory is writable",
                        path, mode ? mode : "?");
out:
    sqlite3_finalize(s);
    return err;
}

/* Refuses files whose schema this build cannot use as they are. */
static int db__check_version(struct db *db, const char *path, int version, int readonly)
{
    int want = db_schema_version();
    if (version > want)
        return db__error(db, DB_ETOONEW,
                         "the database '%s' has schema version %d but this visitsync knows only "
                         "up to %d; use a newer visitsync",
                         path, version, want);
    if (readonly && version < want)
        return db__error(db, DB_ETOOOLD,
                         "the database '%s' has schema version %d, older than %d; run "
                         "'visitsync init --db %s' to migrate it",
                         path, version, want, path);
    return 0;
}

static int db__setup(struct db *db, const char *path, int flags)
{
    int is_file = !db__is_memory(path);
    int version = 0;
    int err;

    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, DB__BUSY_TIMEOUT_MS);

    /* The first read of the header: a file that is not SQLite fails here. */
    err = db__user_version(db, &version);
    if (err == DB_ECORRUPT)
        return db__error(db, DB_ECORRUPT,
                         "'%s' is not a visitsync database or is damaged (%s)", path,
                         sqlite3_errmsg(db->conn));
    if (err)
        return err;
    err = db__check_version(db, path, version, flags & DB_OPEN_READONLY);
    if (err)
        return err;
    if (!(flags & DB_OPEN_READONLY)) {
        err = db__wal(db, path, is_file);
        if (err)
            return err;
    }
    err = db__exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                   "setting synchronous=FULL and foreign_keys=ON");
    if (err)
        return err;
    if (flags & DB_OPEN_READONLY)
        return 0;
    /*
     * The writer applies thousands of records per transaction; with
     * SQLite's default 2 MiB page cache a group spills dirty pages to the
     * WAL mid-transaction and reads them back (docs/performance.md,
     * "speed pass"). Temporary b-trees stay in memory too.
     */
    err = db__exec(db, "PRAGMA cache_size=" DB__WRITER_CACHE "; PRAGMA temp_store=MEMORY;",
                   "sizing the writer's page cache");
    if (err)
        return err;
    return db__migrate(db);
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
    if (!path) {
        err = db__error(db, DB_EMISUSE, "no database path given");
        goto out;
    }
    db->readonly = (flags & DB_OPEN_READONLY) != 0;

    /* SQLite's "unable to open database file" does not say why; we can. */
    struct stat st;
    if (!db__is_memory(path) && stat(path, &st) != 0) {
        if (errno == ENOENT && (!(flags & DB_OPEN_CREATE) || db->readonly)) {
            err = db__error(db, DB_ENOTFOUND,
                            "the database '%s' does not exist; create it with "
                            "'visitsync init --db %s'",
                            path, path);
            goto out;
        }
        if (errno != ENOENT) {
            err = db__error(db, DB_EIO, "cannot open the database '%s': %s", path,
                            strerror(errno));
            goto out;
        }
    }

    if (!db->readonly && (flags & DB_OPEN_CREATE)) {
        int made = db__create_private(path);
        if (made < 0) {
            err = db__error(db, DB_EIO, "cannot create the database '%s': %s", path,
                            strerror(-made));
            goto out;
        }
    }
    int oflags = SQLITE_OPEN_NOMUTEX;
    if (db->readonly)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | ((flags & DB_OPEN_CREATE) ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db->conn, oflags, NULL);
    if (rc != SQLITE_OK) {
        err = db__fail(db, rc, "opening the database '%s'", path);
        goto out;
    }
    err = db__setup(db, path, flags);
out:
    if (err) {
        if (errbuf && errsize)
            snprintf(errbuf, errsize, "%s", db->errmsg);
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
    for (int i = 0; i < DB__STMT_COUNT; i++)
        sqlite3_finalize(db->stmt[i]);
    /* sqlite3_close_v2 never fails for a busy connection: it defers instead. */
    sqlite3_close_v2(db->conn);
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
    db__reset(s);
    return err;
}

int db_user_version(struct db *db, int *out)
{
    return db__user_version(db, out);
}
