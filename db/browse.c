/*
 * browse.c — reading the history and the conflict log page by page, for
 * the supervisors' dashboard and for tests.
 *
 * Design: keyset paging by id (id > after_id ORDER BY id LIMIT limit + 1),
 * so a page costs what it holds however deep into the table it starts and
 * rows added meanwhile never shift a page. The extra row only tells
 * whether more follows. A page is read in one read transaction (or inside
 * the caller's) so it is one snapshot.
 *
 * A conflict entry is delivered with its candidates. Their text is copied
 * into one buffer per call (struct db__buf) because the candidates
 * statement steps past each row; the buffer is reused entry after entry
 * and has a ceiling. History rows need no copy: fn sees the columns of the
 * current row, which stay valid until the statement steps again.
 *
 * An entry carries its record's current grid (a join on the record's
 * primary key), which is also how a supervisor's scope filters the log:
 * an entry whose record is outside the scope, or gone, is not listed. A
 * candidate carries the user of its device, and that user's name, when the
 * device is known.
 * Closing an entry (db_conflict_resolve) lives here too: the log's one
 * write besides db_conflict_add.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* The most candidates and bytes of text one conflict entry may hold in memory. */
#define DB__MAX_CANDIDATES 4096
#define DB__MAX_ENTRY_TEXT (64u << 20)
/* The offset of a string that is SQL NULL. */
#define DB__NONE SIZE_MAX

/* The entry's record (r) gives its current grid; NULL when the record does not exist. */
#define DB__CONFLICT_COLUMNS                                                            \
    "c.id, c.collection, c.record_id, c.field, c.status, c.created_ms, c.updated_ms,"  \
    " c.resolved_by, c.resolved_ms, c.reason, c.resolution, r.grid"
#define DB__CONFLICT_FROM                                                               \
    " FROM conflicts AS c LEFT JOIN records AS r"                                       \
    " ON r.collection = c.collection AND r.id = c.record_id"
/* ?4: the scope's grids as a JSON array, or NULL for every entry. */
#define DB__CONFLICT_IN_SCOPE " AND (?4 IS NULL OR r.grid IN (SELECT value FROM json_each(?4)))"

#define DB__HISTORY_COLUMNS                                                             \
    "id, device, seq, received_ms, collection, record_id, change, outcome, rev,"       \
    " error_code, error_field, error_message, left_grid"

static const char *const db__status_names[] = {
    [DB_CONFLICT_OPEN] = "open",
    [DB_CONFLICT_RESOLVED] = "resolved",
};

/* A candidate whose strings are offsets into the entry's text. */
struct db__cand {
    size_t device, value, user, user_name;
    int64_t hlc_ms, hlc_counter, history_id;
};

/* A conflict row whose strings are offsets into the entry's text. */
struct db__entry {
    int64_t id;
    size_t collection, record_id, field, resolved_by, reason, resolution, grid;
    enum db_conflict_status status;
    int64_t created_ms, updated_ms, resolved_ms;
};

/* One entry's copied text and candidates; view is cand with pointers. */
struct db__buf {
    char *text;
    size_t len, cap;
    struct db__cand *cand;
    struct db_candidate *view;
    size_t n, ncap;
};

static void db__buf_free(struct db__buf *b)
{
    free(b->text);
    free(b->cand);
    free(b->view);
    memset(b, 0, sizeof *b);
}

/* Copies column col of s into b's text; *off is its offset, DB__NONE for NULL. */
static int db__buf_put(struct db *db, struct db__buf *b, sqlite3_stmt *s, int col,
                       int64_t conflict, size_t *off)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    if (!t) {
        if (sqlite3_errcode(db->core.conn) == SQLITE_NOMEM)
            return db__error(db, DB_ENOMEM, "out of memory reading conflict %lld",
                             (long long)conflict);
        *off = DB__NONE;
        return 0;
    }
    if (n + 1 > DB__MAX_ENTRY_TEXT - b->len)
        return db__error(db, DB_ENOMEM,
                         "conflict %lld holds more than %u MiB of text, more than one entry "
                         "may take in memory",
                         (long long)conflict, DB__MAX_ENTRY_TEXT >> 20);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > DB__MAX_ENTRY_TEXT)
            cap = DB__MAX_ENTRY_TEXT;
        char *p = realloc(b->text, cap);
        if (!p)
            return db__error(db, DB_ENOMEM, "out of memory reading conflict %lld",
                             (long long)conflict);
        b->text = p;
        b->cap = cap;
    }
    memcpy(b->text + b->len, t, n);
    b->text[b->len + n] = '\0';
    *off = b->len;
    b->len += n + 1;
    return 0;
}

/* Makes room for one more candidate in b. */
static int db__buf_grow(struct db *db, struct db__buf *b, int64_t conflict)
{
    if (b->n < b->ncap)
        return 0;
    if (b->ncap >= DB__MAX_CANDIDATES)
        return db__error(db, DB_ENOMEM,
                         "conflict %lld lists more than %d candidates, more than one entry "
                         "may take in memory",
                         (long long)conflict, DB__MAX_CANDIDATES);
    size_t ncap = b->ncap ? b->ncap * 2 : 8;
    struct db__cand *c = realloc(b->cand, ncap * sizeof *c);
    if (c)
        b->cand = c;
    struct db_candidate *v = c ? realloc(b->view, ncap * sizeof *v) : NULL;
    if (!v)
        return db__error(db, DB_ENOMEM, "out of memory reading conflict %lld",
                         (long long)conflict);
    b->view = v;
    b->ncap = ncap;
    return 0;
}

static const char *db__at(const char *text, size_t off)
{
    return off == DB__NONE ? NULL : text + off;
}

/* Reads the conflict row s points at (DB__CONFLICT_COLUMNS) into e; b is emptied first. */
static int db__entry_read(struct db *db, struct db__buf *b, sqlite3_stmt *s, struct db__entry *e)
{
    const unsigned char *status = sqlite3_column_text(s, 4);
    int err;

    b->len = 0;
    b->n = 0;
    e->id = sqlite3_column_int64(s, 0);
    if (!status || strcmp((const char *)status, "open") == 0)
        e->status = DB_CONFLICT_OPEN;
    else if (strcmp((const char *)status, "resolved") == 0)
        e->status = DB_CONFLICT_RESOLVED;
    else
        return db__error(db, DB_ECORRUPT, "conflict %lld has the unknown status '%s'",
                         (long long)e->id, (const char *)status);
    e->created_ms = sqlite3_column_int64(s, 5);
    e->updated_ms = sqlite3_column_int64(s, 6);
    e->resolved_ms = sqlite3_column_int64(s, 8);
    err = db__buf_put(db, b, s, 1, e->id, &e->collection);
    if (!err)
        err = db__buf_put(db, b, s, 2, e->id, &e->record_id);
    if (!err)
        err = db__buf_put(db, b, s, 3, e->id, &e->field);
    if (!err)
        err = db__buf_put(db, b, s, 7, e->id, &e->resolved_by);
    if (!err)
        err = db__buf_put(db, b, s, 9, e->id, &e->reason);
    if (!err)
        err = db__buf_put(db, b, s, 10, e->id, &e->resolution);
    if (!err)
        err = db__buf_put(db, b, s, 11, e->id, &e->grid);
    return err;
}

/* Appends the candidates of conflict e->id to b, by (hlc_ms, hlc_counter, device). */
static int db__candidates_read(struct db *db, struct db__buf *b, const struct db__entry *e)
{
    sqlite3_stmt *s = NULL;
    int rc, err = db__stmt(db, DB__BROWSE_CANDIDATES,
                           "SELECT k.device, k.hlc_ms, k.hlc_counter, k.value,"
                           " coalesce(k.history_id, 0), d.user_id, u.name"
                           " FROM conflict_candidates AS k LEFT JOIN devices AS d"
                           " ON d.id = k.device LEFT JOIN users AS u ON u.id = d.user_id"
                           " WHERE k.conflict_id = ?1"
                           " ORDER BY k.hlc_ms, k.hlc_counter, k.device",
                           &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, e->id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        err = db__buf_grow(db, b, e->id);
        if (err)
            goto out;
        struct db__cand *c = &b->cand[b->n];
        c->hlc_ms = sqlite3_column_int64(s, 1);
        c->hlc_counter = sqlite3_column_int64(s, 2);
        c->history_id = sqlite3_column_int64(s, 4);
        err = db__buf_put(db, b, s, 0, e->id, &c->device);
        if (!err)
            err = db__buf_put(db, b, s, 3, e->id, &c->value);
        if (!err)
            err = db__buf_put(db, b, s, 5, e->id, &c->user);
        if (!err)
            err = db__buf_put(db, b, s, 6, e->id, &c->user_name);
        if (err)
            goto out;
        b->n++;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading the candidates of conflict %lld", (long long)e->id);
out:
    db_core_reset(s);
    return err;
}

/* Points out's strings at text and its candidates at view (filled from b->cand). */
static void db__entry_view(const struct db__entry *e, const struct db__buf *b, const char *text,
                           struct db_candidate *view, struct db_conflict *out)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct db__cand *c = &b->cand[i];
        view[i] = (struct db_candidate){
            .device = db__at(text, c->device),
            .hlc_ms = c->hlc_ms,
            .hlc_counter = c->hlc_counter,
            .value = db__at(text, c->value),
            .history_id = c->history_id,
            .user = db__at(text, c->user),
            .user_name = db__at(text, c->user_name),
        };
    }
    *out = (struct db_conflict){
        .id = e->id,
        .collection = db__at(text, e->collection),
        .record_id = db__at(text, e->record_id),
        .field = db__at(text, e->field),
        .status = e->status,
        .created_ms = e->created_ms,
        .updated_ms = e->updated_ms,
        .resolved_by = db__at(text, e->resolved_by),
        .resolved_ms = e->resolved_ms,
        .reason = db__at(text, e->reason),
        .resolution = db__at(text, e->resolution),
        .grid = db__at(text, e->grid),
        .candidates = view,
        .n_candidates = b->n,
        .mem_ = NULL,
    };
}

static int db__page_args(struct db *db, int64_t after_id, int64_t limit, const void *fn,
                         const int64_t *next, const char *what)
{
    if (!fn || !next || after_id < 0 || limit < 1 || limit > DB_BROWSE_MAX_LIMIT)
        return db__error(db, DB_EMISUSE,
                         "paging %s needs a callback, a cursor output, after_id >= 0 and a "
                         "limit of 1 to %d (got after_id %lld, limit %lld)",
                         what, DB_BROWSE_MAX_LIMIT, (long long)after_id, (long long)limit);
    return 0;
}

int db_conflicts_page(struct db *db, enum db_conflict_status status,
                      const struct db_scope *scope, int64_t after_id, int64_t limit,
                      db_conflict_fn fn, void *ctx, int64_t *next)
{
    sqlite3_stmt *s = NULL;
    struct db__buf b = {0};
    char *grids = NULL;
    int64_t last = 0, delivered = 0;
    int began = 0, more = 0, rc;
    int err = db__page_args(db, after_id, limit, (const void *)fn, next, "conflicts");
    if (err)
        return err;
    if ((unsigned)status > DB_CONFLICT_ANY)
        return db__error(db, DB_EMISUSE, "unknown conflict status filter %d", (int)status);
    err = db__scope_grids(db, scope, &grids);
    if (err)
        return err;
    err = db__read_begin(db, &began);
    if (err)
        goto out;
    if (status == DB_CONFLICT_ANY)
        err = db__stmt(db, DB__BROWSE_CONFLICTS_ALL,
                       "SELECT " DB__CONFLICT_COLUMNS DB__CONFLICT_FROM
                       " WHERE c.id > ?1" DB__CONFLICT_IN_SCOPE " ORDER BY c.id LIMIT ?2",
                       &s);
    else
        err = db__stmt(db, DB__BROWSE_CONFLICTS_STATUS,
                       "SELECT " DB__CONFLICT_COLUMNS DB__CONFLICT_FROM
                       " WHERE c.status = ?3 AND c.id > ?1" DB__CONFLICT_IN_SCOPE
                       " ORDER BY c.id LIMIT ?2",
                       &s);
    if (err)
        goto out;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, limit + 1);
    if (status != DB_CONFLICT_ANY)
        db__bind_str(s, 3, db__status_names[status]);
    db__bind_str(s, 4, grids);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct db__entry e;
        struct db_conflict c;
        if (delivered == limit) {
            more = 1;
            break;
        }
        err = db__entry_read(db, &b, s, &e);
        if (!err)
            err = db__candidates_read(db, &b, &e);
        if (err)
            goto out;
        db__entry_view(&e, &b, b.text, b.view, &c);
        err = fn(ctx, &c);
        if (err)
            goto out;
        last = e.id;
        delivered++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading the conflicts after id %lld", (long long)after_id);
out:
    db_core_reset(s);
    err = db__read_end(db, began, err);
    db__buf_free(&b);
    free(grids);
    if (!err)
        *next = more ? last : 0;
    return err;
}

int db_conflict_get(struct db *db, int64_t id, struct db_conflict *out)
{
    sqlite3_stmt *s = NULL;
    struct db__buf b = {0};
    struct db__entry e = {0};
    char *mem = NULL;
    size_t head = 0;
    int began = 0, rc;
    int err;

    if (!out)
        return db__error(db, DB_EMISUSE, "reading a conflict needs somewhere to put it");
    err = db__read_begin(db, &began);
    if (err)
        return err;
    err = db__stmt(db, DB__BROWSE_CONFLICT,
                   "SELECT " DB__CONFLICT_COLUMNS DB__CONFLICT_FROM " WHERE c.id = ?1", &s);
    if (err)
        goto out;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        err = db__error(db, DB_ENOTFOUND, "there is no conflict with id %lld", (long long)id);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        err = db__fail(db, rc, "reading conflict %lld", (long long)id);
        goto out;
    }
    err = db__entry_read(db, &b, s, &e);
    if (!err)
        err = db__candidates_read(db, &b, &e);
    if (err)
        goto out;
    /* One block the caller frees: the candidates, then the text they point into. */
    head = b.n * sizeof(struct db_candidate);
    mem = malloc(head + b.len + 1);
    if (!mem) {
        err = db__error(db, DB_ENOMEM, "out of memory copying conflict %lld", (long long)id);
        goto out;
    }
    if (b.len)
        memcpy(mem + head, b.text, b.len);
out:
    db_core_reset(s);
    err = db__read_end(db, began, err);
    if (!err) {
        db__entry_view(&e, &b, mem + head, (struct db_candidate *)(void *)mem, out);
        out->mem_ = mem;
        mem = NULL;
    }
    free(mem);
    db__buf_free(&b);
    return err;
}

void db_conflict_clear(struct db_conflict *c)
{
    if (!c)
        return;
    free(c->mem_);
    memset(c, 0, sizeof *c);
}

int db_conflicts_count(struct db *db, enum db_conflict_status status,
                       const struct db_scope *scope, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    char *grids = NULL;
    int err;

    if (!out || (unsigned)status > DB_CONFLICT_ANY)
        return db__error(db, DB_EMISUSE,
                         "counting conflicts needs an output and a known status filter (got %d)",
                         (int)status);
    err = db__scope_grids(db, scope, &grids);
    if (err)
        return err;
    /* An unscoped count reads the status index alone; a scoped one joins each record. */
    if (!grids && status == DB_CONFLICT_ANY)
        err = db__stmt(db, DB__BROWSE_COUNT_ALL, "SELECT count(*) FROM conflicts", &s);
    else if (!grids)
        err = db__stmt(db, DB__BROWSE_COUNT_STATUS,
                       "SELECT count(*) FROM conflicts WHERE status = ?1", &s);
    else
        err = db__stmt(db, DB__BROWSE_COUNT_SCOPE,
                       "SELECT count(*) FROM conflicts AS c JOIN records AS r"
                       " ON r.collection = c.collection AND r.id = c.record_id"
                       " WHERE (?1 IS NULL OR c.status = ?1)"
                       " AND r.grid IN (SELECT value FROM json_each(?2))",
                       &s);
    if (err)
        goto out;
    if (status != DB_CONFLICT_ANY)
        db__bind_str(s, 1, db__status_names[status]);
    db__bind_str(s, 2, grids);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        err = db__fail(db, rc, "counting the conflicts");
out:
    db_core_reset(s);
    free(grids);
    return err;
}

int db_conflict_resolve(struct db *db, int64_t id, const char *resolved_by, int64_t now_ms,
                        const char *reason, const char *resolution)
{
    sqlite3_stmt *s = NULL;
    int rc, err;

    if (!resolved_by || !resolution)
        return db__error(db, DB_EMISUSE, "closing conflict %lld needs who and the value",
                         (long long)id);
    err = db__stmt(db, DB__CONFLICT_RESOLVE,
                   "UPDATE conflicts SET status = 'resolved', updated_ms = ?2,"
                   " resolved_by = ?3, resolved_ms = ?2, reason = ?4, resolution = ?5"
                   " WHERE id = ?1 AND status = 'open'",
                   &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    db__bind_str(s, 3, resolved_by);
    db__bind_str(s, 4, reason);
    db__bind_str(s, 5, resolution);
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "closing conflict %lld", (long long)id);
    db_core_reset(s);
    if (err || sqlite3_changes(db->core.conn) == 1)
        return err;
    /* Nothing changed: either there is no such entry or it is closed already. */
    err = db__stmt(db, DB__CONFLICT_STATUS, "SELECT status FROM conflicts WHERE id = ?1", &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        err = db__error(db, DB_EEXISTS, "conflict %lld is already resolved", (long long)id);
    else if (rc == SQLITE_DONE)
        err = db__error(db, DB_ENOTFOUND, "there is no conflict with id %lld", (long long)id);
    else
        err = db__fail(db, rc, "reading the status of conflict %lld", (long long)id);
    db_core_reset(s);
    return err;
}

/* The outcome named by the text of column col, or -1 for a name we do not know. */
static int db__outcome_parse(sqlite3_stmt *s, int col)
{
    return db__outcome_from_name((const char *)sqlite3_column_text(s, col));
}

int db_history_page(struct db *db, const char *device, int64_t after_id, int64_t limit,
                    db_history_fn fn, void *ctx, int64_t *next)
{
    sqlite3_stmt *s = NULL;
    int64_t last = 0, delivered = 0;
    int began = 0, more = 0, rc;
    int err = db__page_args(db, after_id, limit, (const void *)fn, next, "the history");
    if (err)
        return err;
    err = db__read_begin(db, &began);
    if (err)
        return err;
    if (!device)
        err = db__stmt(db, DB__BROWSE_HISTORY_ALL,
                       "SELECT " DB__HISTORY_COLUMNS " FROM history"
                       " WHERE id > ?1 ORDER BY id LIMIT ?2",
                       &s);
    else
        err = db__stmt(db, DB__BROWSE_HISTORY_DEVICE,
                       "SELECT " DB__HISTORY_COLUMNS " FROM history INDEXED BY history_device_id"
                       " WHERE device = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
                       &s);
    if (err)
        goto out;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, limit + 1);
    db__bind_str(s, 3, device);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (delivered == limit) {
            more = 1;
            break;
        }
        int64_t id = sqlite3_column_int64(s, 0);
        int outcome = db__outcome_parse(s, 7);
        if (outcome < 0) {
            err = db__error(db, DB_ECORRUPT, "history row %lld has an unknown outcome",
                            (long long)id);
            goto out;
        }
        const char *change = (const char *)sqlite3_column_text(s, 6);
        struct db_history h = {
            .device = (const char *)sqlite3_column_text(s, 1),
            .seq = sqlite3_column_int64(s, 2),
            .received_ms = sqlite3_column_int64(s, 3),
            .collection = (const char *)sqlite3_column_text(s, 4),
            .record_id = (const char *)sqlite3_column_text(s, 5),
            .change = change,
            .change_len = change ? (size_t)sqlite3_column_bytes(s, 6) : 0,
            .outcome = (enum db_outcome)outcome,
            .rev = sqlite3_column_int64(s, 8),
            .error_code = (const char *)sqlite3_column_text(s, 9),
            .error_field = (const char *)sqlite3_column_text(s, 10),
            .error_message = (const char *)sqlite3_column_text(s, 11),
            .left_grid = (const char *)sqlite3_column_text(s, 12),
        };
        err = fn(ctx, id, &h);
        if (err)
            goto out;
        last = id;
        delivered++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading the history after id %lld", (long long)after_id);
out:
    db_core_reset(s);
    err = db__read_end(db, began, err);
    if (!err)
        *next = more ? last : 0;
    return err;
}
