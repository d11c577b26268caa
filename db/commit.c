/*
 * commit.c — transactions: the group commit of the writer thread (one
 * BEGIN IMMEDIATE, a savepoint per job, one COMMIT and so one fsync for the
 * whole group), the plain begin/commit/rollback for tests and single-job
 * tools, and the small savepoint admin functions use to write several rows
 * atomically.
 */
#include <stdio.h>

#include "db_internal.h"

int db_begin(struct db *db)
{
    return db__run(db, DB__BEGIN_IMMEDIATE, "BEGIN IMMEDIATE", "starting a write transaction");
}

int db_commit(struct db *db)
{
    return db__run(db, DB__COMMIT, "COMMIT", "committing a transaction");
}

int db_rollback(struct db *db)
{
    if (sqlite3_get_autocommit(db->core.conn))
        return 0;
    return db__run(db, DB__ROLLBACK, "ROLLBACK", "rolling back a transaction");
}

/* Rolls back after a failure without overwriting the message that explains it. */
static void db__rollback_quietly(struct db *db)
{
    char keep[DB_CORE_ERRMSG_MAX];
    snprintf(keep, sizeof keep, "%s", db->core.errmsg);
    db_rollback(db);
    snprintf(db->core.errmsg, sizeof db->core.errmsg, "%s", keep);
}

int db_commit_group(struct db *db, db_apply_fn apply, void *const *jobs, size_t n, int *job_rc)
{
    int err = 0;
    size_t i;

    if (n == 0)
        return 0;
    err = db_begin(db);
    if (err)
        goto out;
    for (i = 0; i < n; i++) {
        err = db__run(db, DB__JOB_SAVEPOINT, "SAVEPOINT j", "opening a job's savepoint");
        if (err)
            goto out;
        int rc = apply(db, jobs[i]);
        if (rc < 0) {
            char keep[DB_CORE_ERRMSG_MAX];
            snprintf(keep, sizeof keep, "%s", db->core.errmsg);
            err = db__run(db, DB__JOB_ROLLBACK_TO, "ROLLBACK TO j", "undoing a failed job");
            if (err)
                goto out;
            snprintf(db->core.errmsg, sizeof db->core.errmsg, "%s", keep);
        }
        err = db__run(db, DB__JOB_RELEASE, "RELEASE j", "closing a job's savepoint");
        if (err)
            goto out;
        job_rc[i] = rc;
    }
    err = db_commit(db);
out:
    if (err) {
        db__rollback_quietly(db);
        for (i = 0; i < n; i++)
            job_rc[i] = err;
    }
    return err;
}

int db__op_begin(struct db *db)
{
    return db__run(db, DB__OP_SAVEPOINT, "SAVEPOINT op", "opening a savepoint");
}

int db__op_end(struct db *db, int err)
{
    if (err) {
        char keep[DB_CORE_ERRMSG_MAX];
        snprintf(keep, sizeof keep, "%s", db->core.errmsg);
        db__run(db, DB__OP_ROLLBACK_TO, "ROLLBACK TO op", "undoing a failed change");
        db__run(db, DB__OP_RELEASE, "RELEASE op", "closing a savepoint");
        snprintf(db->core.errmsg, sizeof db->core.errmsg, "%s", keep);
        return err;
    }
    err = db__run(db, DB__OP_RELEASE, "RELEASE op", "committing a change");
    if (err)
        return db__op_end(db, err);
    return 0;
}

/* Opens a read transaction unless one is open; *began says whether we opened it. */
int db__read_begin(struct db *db, int *began)
{
    *began = 0;
    if (!sqlite3_get_autocommit(db->core.conn))
        return 0;
    int err = db__run(db, DB__BEGIN_DEFERRED, "BEGIN", "starting a read transaction");
    if (!err)
        *began = 1;
    return err;
}

/* Ends what db__read_begin opened: COMMIT, or ROLLBACK keeping the first error's message. */
int db__read_end(struct db *db, int began, int err)
{
    if (!began)
        return err;
    if (err) {
        char keep[DB_CORE_ERRMSG_MAX];
        snprintf(keep, sizeof keep, "%s", db->core.errmsg);
        db_rollback(db);
        snprintf(db->core.errmsg, sizeof db->core.errmsg, "%s", keep);
        return err;
    }
    return db__run(db, DB__COMMIT, "COMMIT", "ending a read transaction");
}
