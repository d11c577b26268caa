/*
 * admin.c — what the command line administers: grids, users and their
 * grids, device enrolment and revocation, API tokens. Each function checks
 * what it refers to first, so its error names the missing id instead of
 * SQLite's bare "FOREIGN KEY constraint failed".
 */
#include <string.h>

#include "db_internal.h"

static const char *const db__role_names[] = {
    [DB_ROLE_CADRE] = "cadre",
    [DB_ROLE_SUPERVISOR] = "supervisor",
    [DB_ROLE_ADMIN] = "admin",
};

const char *db_role_name(enum db_role role)
{
    if ((unsigned)role >= sizeof db__role_names / sizeof db__role_names[0])
        return "unknown";
    return db__role_names[role];
}

int db_role_parse(const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof db__role_names / sizeof db__role_names[0]; i++)
        if (strcmp(s, db__role_names[i]) == 0)
            return (int)i;
    return -1;
}

int db_grid_add(struct db *db, const char *id, const char *name, int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    if (!id || !name)
        return db__error(db, DB_EMISUSE, "a grid needs an id and a name");
    int err = db__stmt(db, DB__GRID_ADD,
                       "INSERT INTO grids (id, name, created_ms) VALUES (?1, ?2, ?3)", &s);
    if (err)
        return err;
    db__bind_str(s, 1, id);
    db__bind_str(s, 2, name);
    sqlite3_bind_int64(s, 3, now_ms);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "adding grid '%s'", id);
        if (err == DB_EEXISTS)
            db__error(db, err, "grid '%s' already exists", id);
    }
    db_core_reset(s);
    return err;
}

/* 1 when the query finds a row for key, 0 when not, or a DB_E* code. */
static int db__exists(struct db *db, enum db__stmt_id which, const char *sql, const char *key,
                      const char *what)
{
    sqlite3_stmt *s = NULL;
    if (!key)
        return 0;
    int err = db__stmt(db, which, sql, &s);
    if (err)
        return err;
    db__bind_str(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        err = 1;
    else if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "looking up %s '%s'", what, key);
    db_core_reset(s);
    return err;
}

int db_grid_exists(struct db *db, const char *id)
{
    return db__exists(db, DB__GRID_EXISTS, "SELECT 1 FROM grids WHERE id = ?1", id, "grid");
}

int db_user_exists(struct db *db, const char *id)
{
    return db__exists(db, DB__USER_EXISTS, "SELECT 1 FROM users WHERE id = ?1", id, "user");
}

static int db__user_grid_add(struct db *db, const char *user, const char *grid)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__USER_GRID_ADD,
                       "INSERT INTO user_grids (user_id, grid_id) VALUES (?1, ?2)"
                       " ON CONFLICT DO NOTHING",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, user);
    db__bind_str(s, 2, grid);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "giving user '%s' grid '%s'", user, grid);
    db_core_reset(s);
    return err;
}

static int db__user_insert(struct db *db, const char *id, const char *name, enum db_role role,
                           int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__USER_ADD,
                       "INSERT INTO users (id, name, role, created_ms) VALUES (?1, ?2, ?3, ?4)",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, id);
    db__bind_str(s, 2, name);
    db__bind_str(s, 3, db_role_name(role));
    sqlite3_bind_int64(s, 4, now_ms);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "adding user '%s'", id);
        if (err == DB_EEXISTS)
            db__error(db, err, "user '%s' already exists", id);
    }
    db_core_reset(s);
    return err;
}

int db_user_add(struct db *db, const char *id, const char *name, enum db_role role,
                const char *const *grids, size_t n_grids, int64_t now_ms)
{
    int err;

    if (!id || !name)
        return db__error(db, DB_EMISUSE, "a user needs an id and a name");
    if (db_role_parse(db_role_name(role)) < 0)
        return db__error(db, DB_EMISUSE, "user '%s' has an unknown role (%d)", id, (int)role);
    if (!grids)
        n_grids = 0;
    if (role == DB_ROLE_CADRE && n_grids == 0)
        return db__error(db, DB_EMISUSE,
                         "user '%s' is a cadre and must be given at least one grid", id);
    if (n_grids > DB__MAX_SCOPE)
        return db__error(db, DB_EMISUSE, "user '%s' is given %zu grids, more than %d", id,
                         n_grids, DB__MAX_SCOPE);
    for (size_t i = 0; i < n_grids; i++) {
        err = db_grid_exists(db, grids[i]);
        if (err < 0)
            return err;
        if (err == 0)
            return db__error(db, DB_ENOTFOUND,
                             "grid '%s' does not exist (while adding user '%s'); add it with "
                             "'visitsync grid add'",
                             grids[i] ? grids[i] : "(null)", id);
    }

    err = db__op_begin(db);
    if (err)
        return err;
    err = db__user_insert(db, id, name, role, now_ms);
    for (size_t i = 0; !err && i < n_grids; i++)
        err = db__user_grid_add(db, id, grids[i]);
    return db__op_end(db, err);
}

/* DB_ENOTFOUND with a sentence when user does not exist. */
static int db__need_user(struct db *db, const char *user, const char *doing)
{
    int err = db_user_exists(db, user);
    if (err < 0)
        return err;
    if (err == 0)
        return db__error(db, DB_ENOTFOUND, "user '%s' does not exist (while %s)",
                         user ? user : "(null)", doing);
    return 0;
}

int db_device_enroll(struct db *db, const char *device, const char *user,
                     const unsigned char token_hash[32], int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    if (!device || !token_hash)
        return db__error(db, DB_EMISUSE, "enrolling a device needs its id and token hash");
    int err = db__need_user(db, user, "enrolling a device");
    if (err)
        return err;
    err = db__stmt(db, DB__DEVICE_ENROLL,
                   "INSERT INTO devices (id, user_id, token_hash, created_ms)"
                   " VALUES (?1, ?2, ?3, ?4)",
                   &s);
    if (err)
        return err;
    db__bind_str(s, 1, device);
    db__bind_str(s, 2, user);
    sqlite3_bind_blob(s, 3, token_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now_ms);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "enrolling device '%s'", device);
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            db__error(db, err, "device '%s' is already enrolled", device);
        else if (rc == SQLITE_CONSTRAINT_UNIQUE)
            db__error(db, err, "another device already has this token (while enrolling "
                               "device '%s'); make a new token",
                      device);
    }
    db_core_reset(s);
    return err;
}

int db_device_revoke(struct db *db, const char *device, int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    if (!device)
        return db__error(db, DB_EMISUSE, "revoking a device needs its id");
    /* A second revoke keeps the first time: the connections closed then. */
    int err = db__stmt(db, DB__DEVICE_REVOKE,
                       "UPDATE devices SET revoked = 1, revoked_ms = coalesce(revoked_ms, ?2)"
                       " WHERE id = ?1",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, device);
    sqlite3_bind_int64(s, 2, now_ms);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "revoking device '%s'", device);
    else if (sqlite3_changes(db->core.conn) == 0)
        err = db__error(db, DB_ENOTFOUND, "device '%s' does not exist", device);
    db_core_reset(s);
    return err;
}

/* The role of user, or a DB_E* code (DB_ENOTFOUND with a sentence). */
static int db__user_role(struct db *db, const char *user, const char *doing)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__USER_ROLE, "SELECT role FROM users WHERE id = ?1", &s);
    if (err)
        return err;
    db__bind_str(s, 1, user);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        err = db_role_parse((const char *)sqlite3_column_text(s, 0));
    else if (rc == SQLITE_DONE)
        err = db__error(db, DB_ENOTFOUND, "user '%s' does not exist (while %s)", user, doing);
    else
        err = db__fail(db, rc, "%s", doing);
    if (err == -1)
        err = db__error(db, DB_ECORRUPT, "user '%s' has a role this visitsync does not know",
                        user);
    db_core_reset(s);
    return err;
}

int db_token_add(struct db *db, const char *user, const unsigned char token_hash[32],
                 int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    if (!user || !token_hash)
        return db__error(db, DB_EMISUSE, "an API token needs a user and a token hash");
    int role = db__user_role(db, user, "creating an API token");
    if (role < 0)
        return role;
    if (role == DB_ROLE_CADRE)
        return db__error(db, DB_EMISUSE,
                         "user '%s' is a cadre; API tokens are for supervisors and admins", user);
    int err = db__stmt(db, DB__TOKEN_ADD,
                       "INSERT INTO api_tokens (hash, user_id, created_ms) VALUES (?1, ?2, ?3)",
                       &s);
    if (err)
        return err;
    sqlite3_bind_blob(s, 1, token_hash, 32, SQLITE_STATIC);
    db__bind_str(s, 2, user);
    sqlite3_bind_int64(s, 3, now_ms);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "creating an API token for user '%s'", user);
        if (err == DB_EEXISTS)
            db__error(db, err, "this token already exists (while creating an API token for "
                               "user '%s'); make a new token",
                      user);
    }
    db_core_reset(s);
    return err;
}
