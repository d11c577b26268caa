/*
 * backup.c — a consistent copy of the store taken while the server writes.
 *
 * Design: SQLite's online backup API copies pages from this connection into
 * a new file. A stepped backup restarts whenever another connection commits
 * between two steps, which under a steady push load would be forever; so the
 * copy is read inside one read transaction that this function opens first.
 * In WAL mode a reader blocks no writer: pushes go on committing during the
 * copy, and the WAL only grows a little longer than usual because the
 * checkpointer cannot copy back pages the snapshot still needs.
 *
 * The copy gets an epoch of its own (db_epoch) before it is checked, written
 * through its own connection, so that a store restored from it is told
 * apart from this one by every cursor (§2.4).
 *
 * The copy is written to "<path>.partial" (0600), checked with
 * PRAGMA integrity_check, flushed to disk and only then renamed to path, with
 * the directory flushed too: path is either the previous file or a whole,
 * verified copy, never a half-written one.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"

/* Pages per backup step: 4 MiB at the default 4 KiB page, so progress moves often. */
#define DB__BACKUP_STEP_PAGES 1024

/* Flushes path (a file, or a directory with O_DIRECTORY) to disk; 0 or -errno. */
static int db__fsync_path(const char *path, int flags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Flushes the directory that holds path, so a rename in it is durable. */
static int db__fsync_parent(const char *path)
{
    char copy[PATH_MAX];

    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return -ENAMETOOLONG;
    return db__fsync_path(dirname(copy), O_DIRECTORY);
}

/* Runs PRAGMA integrity_check on the copy; 0 when it says "ok". */
static int db__backup_verify(struct db *db, sqlite3 *copy, const char *partial)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(copy, "PRAGMA integrity_check(20)", -1, &s, NULL);
    int err = 0;

    if (rc != SQLITE_OK) {
        err = db__error(db, db_core_map(rc), "cannot check the copy %s: %s", partial,
                        sqlite3_errmsg(copy));
        goto out;
    }
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        err = db__error(db, db_core_map(rc), "cannot check the copy %s: %s", partial,
                        sqlite3_errmsg(copy));
        goto out;
    }
    const char *verdict = (const char *)sqlite3_column_text(s, 0);
    if (verdict == NULL || strcmp(verdict, "ok") != 0)
        err = db__error(db, DB_ECORRUPT, "the copy %s failed its integrity check: %s", partial,
                        verdict != NULL ? verdict : "no answer");
out:
    sqlite3_finalize(s);
    return err;
}

/*
 * Gives the copy a new epoch (db_epoch), different from live's, through the
 * copy's own connection: a store restored from the copy then refuses the
 * cursors this store handed out (they reset, §2.4) even once it issues the
 * same history ids again. Into out on success.
 */
static int db__backup_new_epoch(struct db *db, sqlite3 *copy, const char *partial,
                                const char live[DB_EPOCH_SIZE], char out[DB_EPOCH_SIZE])
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(copy,
                                "UPDATE store_meta SET value = lower(hex(randomblob(4)))"
                                " WHERE key = 'epoch' RETURNING value",
                                -1, &s, NULL);
    int err = 0;

    if (rc != SQLITE_OK) {
        err = db__error(db, db_core_map(rc), "cannot give the copy %s its epoch: %s", partial,
                        sqlite3_errmsg(copy));
        goto out;
    }
    /* 32 random bits equal the live epoch once in 4 billion copies: then draw again. */
    for (int tries = 0; tries < 4; tries++) {
        const char *v = NULL;
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            v = (const char *)sqlite3_column_text(s, 0);
        if (v == NULL || strlen(v) != DB_EPOCH_SIZE - 1) {
            err = db__error(db, rc == SQLITE_ROW ? DB_ECORRUPT : db_core_map(rc),
                            "cannot give the copy %s its epoch: %s", partial,
                            rc == SQLITE_ROW ? "the copy has no epoch" : sqlite3_errmsg(copy));
            goto out;
        }
        memcpy(out, v, DB_EPOCH_SIZE);
        rc = sqlite3_reset(s);
        if (rc != SQLITE_OK) {
            err = db__error(db, db_core_map(rc), "cannot give the copy %s its epoch: %s",
                            partial, sqlite3_errmsg(copy));
            goto out;
        }
        if (strcmp(out, live) != 0)
            goto out;
    }
    err = db__error(db, DB_EIO, "cannot draw an epoch for the copy %s that differs from %s",
                    partial, live);
out:
    sqlite3_finalize(s);
    return err;
}

int db_backup(struct db *db, const char *path, db_progress_fn progress, void *ctx,
              char copy_epoch[DB_EPOCH_SIZE])
{
    char live[DB_EPOCH_SIZE], fresh[DB_EPOCH_SIZE];
    char partial[PATH_MAX];
    sqlite3 *copy = NULL;
    sqlite3_backup *b = NULL;
    int began = 0, made = 0;
    int err, rc;

    if (snprintf(partial, sizeof partial, "%s.partial", path) >= (int)sizeof partial)
        return db__error(db, DB_EMISUSE, "the backup path is too long: %s", path);
    /* A .partial file is what an interrupted backup left: never a copy to keep. */
    if (unlink(partial) != 0 && errno != ENOENT)
        return db__error(db, DB_EIO, "cannot remove the unfinished copy %s: %s", partial,
                         strerror(errno));
    rc = db_core_create_private(partial);
    if (rc < 0)
        return db__error(db, DB_EIO, "cannot create %s: %s", partial, strerror(-rc));
    made = 1;
    rc = sqlite3_open_v2(partial, &copy, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        err = db__error(db, db_core_map(rc), "cannot open %s: %s", partial,
                        copy != NULL ? sqlite3_errmsg(copy) : sqlite3_errstr(rc));
        goto out;
    }

    /* One snapshot for the whole copy (see the top of this file). */
    if ((err = db__read_begin(db, &began)) != 0)
        goto out;
    if ((err = db__exec(db, "SELECT count(*) FROM sqlite_schema", "starting the backup's read")))
        goto out;
    if ((err = db_epoch(db, live)) != 0)
        goto out;
    b = sqlite3_backup_init(copy, "main", db->core.conn, "main");
    if (b == NULL) {
        err = db__error(db, db_core_map(sqlite3_errcode(copy)), "cannot start the backup: %s",
                        sqlite3_errmsg(copy));
        goto out;
    }
    do {
        rc = sqlite3_backup_step(b, DB__BACKUP_STEP_PAGES);
        if (progress != NULL && (rc == SQLITE_OK || rc == SQLITE_DONE)) {
            int total = sqlite3_backup_pagecount(b);
            progress(ctx, total - sqlite3_backup_remaining(b), total);
        }
    } while (rc == SQLITE_OK);
    if (rc != SQLITE_DONE) {
        err = db__error(db, db_core_map(rc), "the backup stopped while copying pages: %s",
                        sqlite3_errstr(rc));
        goto out;
    }
    rc = sqlite3_backup_finish(b);
    b = NULL;
    if (rc != SQLITE_OK) {
        err = db__error(db, db_core_map(rc), "cannot finish the backup: %s",
                        sqlite3_errmsg(copy));
        goto out;
    }
    err = db__read_end(db, began, 0);
    began = 0;
    if (err)
        goto out;

    if ((err = db__backup_new_epoch(db, copy, partial, live, fresh)) != 0)
        goto out;
    if ((err = db__backup_verify(db, copy, partial)) != 0)
        goto out;
    rc = sqlite3_close(copy);
    copy = NULL;
    if (rc != SQLITE_OK) {
        err = db__error(db, db_core_map(rc), "cannot close the copy %s", partial);
        goto out;
    }
    if ((rc = db__fsync_path(partial, 0)) != 0) {
        err = db__error(db, DB_EIO, "cannot flush %s to disk: %s", partial, strerror(-rc));
        goto out;
    }
    if (rename(partial, path) != 0) {
        err = db__error(db, DB_EIO, "cannot rename %s to %s: %s", partial, path,
                        strerror(errno));
        goto out;
    }
    made = 0;
    if ((rc = db__fsync_parent(path)) != 0) {
        err = db__error(db, DB_EIO, "the copy is at %s but its folder could not be flushed: %s",
                        path, strerror(-rc));
        goto out;
    }
    if (copy_epoch != NULL)
        memcpy(copy_epoch, fresh, DB_EPOCH_SIZE);
    err = 0;
out:
    if (b != NULL)
        sqlite3_backup_finish(b);
    if (began)
        err = db__read_end(db, began, err);
    if (copy != NULL)
        sqlite3_close(copy);
    if (made) {
        unlink(partial);
        char side[PATH_MAX + 8];
        snprintf(side, sizeof side, "%s-wal", partial);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", partial);
        unlink(side);
    }
    return err;
}
