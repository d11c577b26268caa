/*
 * device.c — what the server keeps about each device between connections:
 * what its hello reported, when it last pushed or pulled, its last error,
 * its highest committed seq, whether it is revoked, and which devices were
 * revoked lately.
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* The most revocations one poll hands out; the rest come at the next poll. */
#define DB__MAX_REVOKED 4096

/* After an UPDATE of one device: DB_ENOTFOUND when no row matched. */
static int db__one_device(struct db *db, sqlite3_stmt *s, const char *device, const char *doing)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        return db__fail(db, rc, "%s of device '%s'", doing, device);
    if (sqlite3_changes(db->core.conn) == 0)
        return db__error(db, DB_ENOTFOUND, "device '%s' does not exist (while %s)", device,
                         doing);
    return 0;
}

int db_device_hello(struct db *db, const char *device, const struct db_hello *h, int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    if (!device || !h)
        return db__error(db, DB_EMISUSE, "recording a hello needs the device and what it said");
    int err = db__stmt(db, DB__DEVICE_HELLO,
                       "UPDATE devices SET"
                       " app = coalesce(?2, app),"
                       " pending = CASE WHEN ?3 < 0 THEN pending ELSE ?3 END,"
                       " oldest_pending = coalesce(?4, oldest_pending),"
                       " clock_skew_ms = CASE WHEN ?5 THEN ?6 ELSE clock_skew_ms END,"
                       " last_seen_ms = ?7"
                       " WHERE id = ?1",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, device);
    db__bind_str(s, 2, h->app);
    sqlite3_bind_int64(s, 3, h->pending);
    db__bind_str(s, 4, h->oldest_pending);
    sqlite3_bind_int(s, 5, h->has_skew != 0);
    sqlite3_bind_int64(s, 6, h->clock_skew_ms);
    sqlite3_bind_int64(s, 7, now_ms);
    err = db__one_device(db, s, device, "recording the hello");
    db_core_reset(s);
    return err;
}

int db_device_note(struct db *db, const char *device, enum db_activity what, int64_t now_ms,
                   const char *last_error)
{
    sqlite3_stmt *s = NULL;
    int err;
    if (!device)
        return db__error(db, DB_EMISUSE, "noting activity needs the device");
    /* last_error describes the latest activity: NULL clears an older one. */
    if (what == DB_ACTIVITY_PUSH)
        err = db__stmt(db, DB__DEVICE_NOTE_PUSH,
                       "UPDATE devices SET last_push_ms = ?2, last_seen_ms = ?2,"
                       " last_error = ?3 WHERE id = ?1",
                       &s);
    else if (what == DB_ACTIVITY_PULL)
        err = db__stmt(db, DB__DEVICE_NOTE_PULL,
                       "UPDATE devices SET last_pull_ms = ?2, last_seen_ms = ?2,"
                       " last_error = ?3 WHERE id = ?1",
                       &s);
    else
        return db__error(db, DB_EMISUSE, "unknown activity %d for device '%s'", (int)what,
                         device);
    if (err)
        return err;
    db__bind_str(s, 1, device);
    sqlite3_bind_int64(s, 2, now_ms);
    db__bind_str(s, 3, last_error);
    err = db__one_device(db, s, device, "noting the activity");
    db_core_reset(s);
    return err;
}

int db_devices_revoked_since(struct db *db, int64_t since_ms,
                             void (*fn)(void *ctx, const char *device), void *ctx)
{
    sqlite3_stmt *s = NULL;
    char (*ids)[DB__MAX_ID + 1] = NULL;
    size_t n = 0, cap = 0;
    int err = db__stmt(db, DB__DEVICE_REVOKED_SINCE,
                       "SELECT id FROM devices WHERE revoked_ms >= ?1 ORDER BY revoked_ms, id",
                       &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, since_ms);
    /* Collect first: fn may call back into this connection. */
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < DB__MAX_REVOKED) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        size_t len = (size_t)sqlite3_column_bytes(s, 0);
        if (!id || len > DB__MAX_ID)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(ids, ncap * sizeof *ids);
            if (!p) {
                err = db__error(db, DB_ENOMEM, "out of memory listing revoked devices");
                goto out;
            }
            ids = p;
            cap = ncap;
        }
        memcpy(ids[n], id, len + 1);
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = db__fail(db, rc, "listing revoked devices");
        goto out;
    }
    db_core_reset(s);
    s = NULL;
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]);
out:
    db_core_reset(s);
    free(ids);
    return err;
}

/* One primary-key lookup; the writer runs it once per push, inside its transaction. */
int db_device_revoked(struct db *db, const char *device, int *revoked)
{
    sqlite3_stmt *s = NULL;
    if (!device || !revoked)
        return db__error(db, DB_EMISUSE, "reading whether a device is revoked needs the device");
    int err = db__stmt(db, DB__DEVICE_REVOKED, "SELECT revoked FROM devices WHERE id = ?1", &s);
    if (err)
        return err;
    db__bind_str(s, 1, device);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *revoked = sqlite3_column_int(s, 0) != 0;
    else if (rc == SQLITE_DONE)
        err = db__error(db, DB_ENOTFOUND, "device '%s' does not exist", device);
    else
        err = db__fail(db, rc, "reading whether device '%s' is revoked", device);
    db_core_reset(s);
    return err;
}

int db_device_max_seq(struct db *db, const char *device, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    if (!device)
        return db__error(db, DB_EMISUSE, "reading a device's seq needs the device");
    int err =
        db__stmt(db, DB__DEVICE_MAX_SEQ, "SELECT max_seq FROM devices WHERE id = ?1", &s);
    if (err)
        return err;
    db__bind_str(s, 1, device);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        err = db__error(db, DB_ENOTFOUND, "device '%s' does not exist", device);
    else
        err = db__fail(db, rc, "reading the committed seq of device '%s'", device);
    db_core_reset(s);
    return err;
}

int db_device_set_max_seq(struct db *db, const char *device, int64_t max_seq, int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    if (!device)
        return db__error(db, DB_EMISUSE, "setting a device's seq needs the device");
    int err = db__stmt(db, DB__DEVICE_SET_MAX_SEQ,
                       "UPDATE devices SET max_seq = ?2, last_push_ms = ?3, last_seen_ms = ?3"
                       " WHERE id = ?1",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, device);
    sqlite3_bind_int64(s, 2, max_seq);
    sqlite3_bind_int64(s, 3, now_ms);
    err = db__one_device(db, s, device, "setting the committed seq");
    db_core_reset(s);
    return err;
}
