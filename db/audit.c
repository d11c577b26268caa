/*
 * audit.c — the audit log: who did which admin or supervisor act, when,
 * and to what (db.h, "the audit log").
 *
 * Design: one table written only by db_audit_add, made append-only by the
 * schema itself (triggers that refuse UPDATE and DELETE with "the audit
 * log is append-only"), so no code path of ours, and no sqlite3 shell
 * session short of dropping the triggers, rewrites history quietly. A row
 * is written inside the act's own transaction where the act has one (the
 * CLI's admin commands, the writer's resolve), so an act and its record
 * commit together. Reading is keyset paging by id, like browse.c: a page
 * costs what it holds, and rows added meanwhile never shift a page.
 */
#include <string.h>

#include "db_internal.h"

/* The bytes of s that hold its first max characters (UTF-8 lead bytes counted). */
static size_t db__audit_cut(const char *s, size_t max)
{
    size_t chars = 0, i;

    for (i = 0; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == max)
            break;
    }
    return i;
}

int db_audit_add(struct db *db, int64_t at_ms, const char *actor, const char *act,
                 const char *target, const char *detail)
{
    sqlite3_stmt *s = NULL;
    int err, rc;

    if (actor == NULL || act == NULL)
        return db__error(db, DB_EMISUSE, "an audit row needs an actor and an act");
    err = db__stmt(db, DB__AUDIT_ADD,
                   "INSERT INTO audit (at_ms, actor, act, target, detail)"
                   " VALUES (?1, ?2, ?3, ?4, ?5)",
                   &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, at_ms);
    db__bind_str(s, 2, actor);
    db__bind_str(s, 3, act);
    db__bind_str(s, 4, target);
    if (detail != NULL)
        db__bind_text(s, 5, detail, db__audit_cut(detail, DB_AUDIT_DETAIL_MAX));
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "recording \"%s\" in the audit log", act);
    db_core_reset(s);
    return err;
}

int db_audit_page(struct db *db, int64_t since_ms, int64_t after_id, int64_t limit,
                  db_audit_fn fn, void *ctx, int64_t *next)
{
    sqlite3_stmt *s = NULL;
    int64_t last = 0, delivered = 0;
    int began = 0, more = 0, rc;
    int err;

    if (!fn || !next || after_id < 0 || limit < 1 || limit > DB_AUDIT_MAX_LIMIT)
        return db__error(db, DB_EMISUSE,
                         "paging the audit log needs a callback, a cursor output, after_id >= 0 "
                         "and a limit of 1 to %d (got after_id %lld, limit %lld)",
                         DB_AUDIT_MAX_LIMIT, (long long)after_id, (long long)limit);
    err = db__read_begin(db, &began);
    if (err)
        return err;
    /* A rowid range: at_ms filters it (acts are few; the log needs no second index). */
    err = db__stmt(db, DB__AUDIT_PAGE,
                   "SELECT id, at_ms, actor, act, target, detail FROM audit"
                   " WHERE id > ?1 AND at_ms >= ?2 ORDER BY id LIMIT ?3",
                   &s);
    if (err)
        goto out;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, since_ms);
    sqlite3_bind_int64(s, 3, limit + 1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (delivered == limit) {
            more = 1;
            break;
        }
        struct db_audit a = {
            .id = sqlite3_column_int64(s, 0),
            .at_ms = sqlite3_column_int64(s, 1),
            .actor = (const char *)sqlite3_column_text(s, 2),
            .act = (const char *)sqlite3_column_text(s, 3),
            .target = (const char *)sqlite3_column_text(s, 4),
            .detail = (const char *)sqlite3_column_text(s, 5),
        };
        err = fn(ctx, &a);
        if (err)
            goto out;
        last = a.id;
        delivered++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = db__fail(db, rc, "reading the audit log after id %lld", (long long)after_id);
out:
    db_core_reset(s);
    err = db__read_end(db, began, err);
    if (!err)
        *next = more ? last : 0;
    return err;
}
