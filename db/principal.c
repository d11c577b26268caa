/*
 * principal.c — who is asking: a device or an API token, with the user's
 * role and the grids they may see. Supervisors and admins without
 * user_grids rows see every grid; the list then holds every grid id so the
 * welcome can name them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

void db_principal_clear(struct db_principal *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->scope.n; i++)
        free(p->scope.grids[i]);
    free(p->scope.grids);
    memset(p, 0, sizeof *p);
}

/* Appends every first-column id of the bound statement s to scope (sorted by the query). */
static int db__scope_rows(struct db *db, sqlite3_stmt *s, struct db_scope *scope,
                          const char *user)
{
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (scope->n == DB__MAX_SCOPE)
            return db__error(db, DB_ECONSTRAINT, "user '%s' sees more than %d grids", user,
                             DB__MAX_SCOPE);
        if (scope->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **p = realloc(scope->grids, ncap * sizeof *p);
            if (!p)
                return db__error(db, DB_ENOMEM, "out of memory loading the grids of user '%s'",
                                 user);
            scope->grids = p;
            cap = ncap;
        }
        char *g = db_core_column_dup(s, 0, NULL);
        if (!g)
            return db__error(db, DB_ENOMEM, "out of memory loading the grids of user '%s'",
                             user);
        scope->grids[scope->n++] = g;
    }
    if (rc != SQLITE_DONE)
        return db__fail(db, rc, "loading the grids of user '%s'", user);
    return 0;
}

/* Fills p->scope for p->user and p->role. */
static int db__load_scope(struct db *db, struct db_principal *p)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__SCOPE_USER_GRIDS,
                       "SELECT grid_id FROM user_grids WHERE user_id = ?1 ORDER BY grid_id", &s);
    if (err)
        return err;
    db__bind_str(s, 1, p->user);
    err = db__scope_rows(db, s, &p->scope, p->user);
    db_core_reset(s);
    if (err || p->scope.n > 0 || p->role == DB_ROLE_CADRE)
        return err;

    p->scope.all = 1;
    err = db__stmt(db, DB__SCOPE_ALL_GRIDS, "SELECT id FROM grids ORDER BY id", &s);
    if (err)
        return err;
    err = db__scope_rows(db, s, &p->scope, p->user);
    db_core_reset(s);
    return err;
}

/* Copies a text column into a fixed id buffer; DB_ECORRUPT when it does not fit. */
static int db__copy_id(struct db *db, sqlite3_stmt *s, int col, char *dst, size_t size)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    size_t len = (size_t)sqlite3_column_bytes(s, col);
    if (!t || len >= size)
        return db__error(db, DB_ECORRUPT, "a stored id is missing or longer than %zu bytes",
                         size - 1);
    memcpy(dst, t, len + 1);
    return 0;
}

/*
 * Reads the row of a principal query whose columns are user, role,
 * revoked, token_hash, max_seq, then loads the scope into *out.
 */
static int db__load(struct db *db, sqlite3_stmt *s, const char *what, struct db_principal *out)
{
    struct db_principal p;
    int err = 0;

    memset(&p, 0, sizeof p);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        err = db__error(db, DB_ENOTFOUND, "%s does not exist", what);
        goto out;
    }
    if (rc != SQLITE_ROW) {
        err = db__fail(db, rc, "loading %s", what);
        goto out;
    }
    err = db__copy_id(db, s, 0, p.user, sizeof p.user);
    if (err)
        goto out;
    int role = db_role_parse((const char *)sqlite3_column_text(s, 1));
    if (role < 0) {
        err = db__error(db, DB_ECORRUPT, "user '%s' has a role this visitsync does not know",
                        p.user);
        goto out;
    }
    p.role = (enum db_role)role;
    p.revoked = sqlite3_column_int(s, 2) != 0;
    if (sqlite3_column_bytes(s, 3) == 32)
        memcpy(p.token_hash, sqlite3_column_blob(s, 3), 32);
    p.max_seq = sqlite3_column_int64(s, 4);
    db_core_reset(s);
    s = NULL;
    err = db__load_scope(db, &p);
out:
    db_core_reset(s);
    if (err) {
        db_principal_clear(&p);
        return err;
    }
    *out = p;
    return 0;
}

int db_device_load(struct db *db, const char *device, struct db_principal *out)
{
    sqlite3_stmt *s = NULL;
    char what[DB__MAX_ID + 16];
    if (!device || !out)
        return db__error(db, DB_EMISUSE, "loading a device needs its id");
    size_t len = strlen(device);
    if (len == 0 || len > DB__MAX_ID)
        return db__error(db, DB_ENOTFOUND, "device '%.64s' does not exist", device);
    int err = db__stmt(db, DB__PRINCIPAL_DEVICE,
                       "SELECT d.user_id, u.role, d.revoked, d.token_hash, d.max_seq"
                       " FROM devices AS d JOIN users AS u ON u.id = d.user_id WHERE d.id = ?1",
                       &s);
    if (err)
        return err;
    db__bind_text(s, 1, device, len);
    snprintf(what, sizeof what, "device '%s'", device);
    struct db_principal p;
    err = db__load(db, s, what, &p);
    if (err)
        return err;
    memcpy(p.device, device, len + 1);
    *out = p;
    return 0;
}

int db_token_load(struct db *db, const unsigned char token_hash[32], struct db_principal *out)
{
    sqlite3_stmt *s = NULL;
    if (!token_hash || !out)
        return db__error(db, DB_EMISUSE, "loading a token needs its hash");
    int err = db__stmt(db, DB__PRINCIPAL_TOKEN,
                       "SELECT t.user_id, u.role, t.revoked, t.hash, 0"
                       " FROM api_tokens AS t JOIN users AS u ON u.id = t.user_id"
                       " WHERE t.hash = ?1",
                       &s);
    if (err)
        return err;
    sqlite3_bind_blob(s, 1, token_hash, 32, SQLITE_STATIC);
    return db__load(db, s, "this API token", out);
}
