/*
 * checkpoint.c — WAL checkpoints driven by the server instead of by the
 * writer's COMMIT. SQLite's automatic checkpoint runs on the connection
 * that commits, so with the default threshold (1000 pages) the writer
 * thread copied the WAL back into the database inside the ack path of
 * every large group. The server raises the writer's threshold (a bound on
 * WAL growth only) and runs PASSIVE checkpoints from a connection of its
 * own on another thread: PASSIVE never waits for the writer or readers, it
 * copies what it can and leaves the rest for the next call.
 */
#include "db_internal.h"

/*
 * One PASSIVE checkpoint. Sets *wal_pages (the WAL's size in pages) and
 * *done_pages (pages now in the database file) on success; either may be
 * NULL. Returns 0, DB_EBUSY when another checkpoint was running (not a
 * failure: try again later), DB_EMISUSE on a read-only connection, or
 * another DB_E* code. The calling thread must own db.
 */
int db_checkpoint(struct db *db, int *wal_pages, int *done_pages)
{
    int log = 0, ckpt = 0;
    int rc;

    if (db->readonly)
        return db__error(db, DB_EMISUSE, "a read-only connection cannot checkpoint the WAL");
    rc = sqlite3_wal_checkpoint_v2(db->core.conn, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return db__error(db, DB_EBUSY, "another checkpoint of the WAL was running");
    if (rc != SQLITE_OK)
        return db__fail(db, rc, "checkpointing the WAL");
    if (wal_pages != NULL)
        *wal_pages = log;
    if (done_pages != NULL)
        *done_pages = ckpt;
    return 0;
}

/*
 * Sets the WAL size in pages at which a COMMIT on this connection runs a
 * checkpoint itself (0 turns that off). Returns 0 or a DB_E* code. The
 * calling thread must own db.
 */
int db_wal_autocheckpoint(struct db *db, int pages)
{
    int rc = sqlite3_wal_autocheckpoint(db->core.conn, pages);
    if (rc != SQLITE_OK)
        return db__fail(db, rc, "setting wal_autocheckpoint to %d pages", pages);
    return 0;
}
