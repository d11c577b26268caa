/*
 * history.c — the append-only log of every change received. A row's id is
 * the change-feed sequence number: records.seq points at it and pull
 * cursors count in it.
 */
#include <string.h>

#include "db_internal.h"

/* How history.outcome spells each outcome; browse.c reads the same names back. */
static const char *const db__outcome_names[] = {
    [DB_APPLIED] = "applied",
    [DB_CONFLICT] = "conflict",
    [DB_DUPLICATE] = "duplicate",
    [DB_REJECTED] = "rejected",
};

#define DB__N_OUTCOMES (sizeof db__outcome_names / sizeof db__outcome_names[0])

const char *db__outcome_name(enum db_outcome outcome)
{
    return (unsigned)outcome < DB__N_OUTCOMES ? db__outcome_names[outcome] : NULL;
}

int db__outcome_from_name(const char *name)
{
    for (size_t i = 0; name && i < DB__N_OUTCOMES; i++) {
        if (strcmp(name, db__outcome_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

int db_history_add(struct db *db, const struct db_history *h, int64_t *id)
{
    sqlite3_stmt *s = NULL;
    if (!h || !h->device)
        return db__error(db, DB_EMISUSE, "a history row needs the device that sent the change");
    const char *outcome = db__outcome_name(h->outcome);
    if (!outcome)
        return db__error(db, DB_EMISUSE, "unknown outcome %d for a change of device '%s'",
                         (int)h->outcome, h->device);
    int err = db__stmt(db, DB__HISTORY_ADD,
                       "INSERT INTO history (device, seq, received_ms, collection, record_id,"
                       " change, outcome, rev, error_code, error_field, error_message, left_grid)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                       &s);
    if (err)
        return err;
    int rc;
    db__bind_str(s, 1, h->device);
    sqlite3_bind_int64(s, 2, h->seq);
    sqlite3_bind_int64(s, 3, h->received_ms);
    db__bind_str(s, 4, h->collection);
    db__bind_str(s, 5, h->record_id);
    rc = db__bind_text(s, 6, h->change,
                       h->change_len || !h->change ? h->change_len : strlen(h->change));
    db__bind_str(s, 7, outcome);
    sqlite3_bind_int64(s, 8, h->rev);
    db__bind_str(s, 9, h->error_code);
    db__bind_str(s, 10, h->error_field);
    db__bind_str(s, 11, h->error_message);
    db__bind_str(s, 12, h->left_grid);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "logging change %lld of device '%s'", (long long)h->seq,
                       h->device);
        goto out;
    }
    if (id)
        *id = sqlite3_last_insert_rowid(db->core.conn);
out:
    db_core_reset(s);
    return err;
}
