/*
 * test_core.c — the connection core both stores are built on (db/db_core.h):
 * the one map from SQLite result codes to DB_E* codes (every code lands on a
 * DB_E* code with a sentence; the ones we name, and why an unnamed one is
 * DB_EMISUSE), failures as SQLite really reports them, the pragmas and file
 * mode of a core opened on a file, the version check that runs before
 * anything is written, and the statement cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_core.h"
#include "t_db.h"

#define N_SLOTS 4

struct mapped {
    int sqlite_rc;
    int want;
};

/* Named codes, primary and extended, with what they must map to. */
static const struct mapped cases[] = {
    {SQLITE_OK, DB_OK},
    {SQLITE_ROW, DB_OK},
    {SQLITE_DONE, DB_OK},
    {SQLITE_NOMEM, DB_ENOMEM},
    {SQLITE_BUSY, DB_EBUSY},
    {SQLITE_BUSY_SNAPSHOT, DB_EBUSY},
    {SQLITE_LOCKED, DB_EBUSY},
    {SQLITE_LOCKED_SHAREDCACHE, DB_EBUSY},
    {SQLITE_CORRUPT, DB_ECORRUPT},
    {SQLITE_CORRUPT_INDEX, DB_ECORRUPT},
    {SQLITE_NOTADB, DB_ECORRUPT},
    {SQLITE_IOERR, DB_EIO},
    {SQLITE_IOERR_FSYNC, DB_EIO},
    {SQLITE_IOERR_SHORT_READ, DB_EIO},
    {SQLITE_FULL, DB_EIO},
    {SQLITE_CANTOPEN, DB_EIO},
    {SQLITE_CANTOPEN_ISDIR, DB_EIO},
    {SQLITE_READONLY, DB_EIO},
    {SQLITE_READONLY_DBMOVED, DB_EIO},
    {SQLITE_PERM, DB_EIO},
    {SQLITE_PROTOCOL, DB_EIO},
    {SQLITE_NOLFS, DB_EIO},
    {SQLITE_CONSTRAINT, DB_ECONSTRAINT},
    {SQLITE_CONSTRAINT_CHECK, DB_ECONSTRAINT},
    {SQLITE_CONSTRAINT_NOTNULL, DB_ECONSTRAINT},
    {SQLITE_CONSTRAINT_PRIMARYKEY, DB_EEXISTS},
    {SQLITE_CONSTRAINT_UNIQUE, DB_EEXISTS},
    {SQLITE_CONSTRAINT_FOREIGNKEY, DB_ENOTFOUND},
    /* The request was wrong: not a fault of the file or the disk (core.c). */
    {SQLITE_ERROR, DB_EMISUSE},
    {SQLITE_ERROR_MISSING_COLLSEQ, DB_EMISUSE},
    {SQLITE_MISUSE, DB_EMISUSE},
    {SQLITE_RANGE, DB_EMISUSE},
    {SQLITE_MISMATCH, DB_EMISUSE},
    {SQLITE_TOOBIG, DB_EMISUSE},
    {SQLITE_ABORT, DB_EMISUSE},
    {SQLITE_ABORT_ROLLBACK, DB_EMISUSE},
    {SQLITE_SCHEMA, DB_EMISUSE},
    {SQLITE_NOTFOUND, DB_EMISUSE},
    {SQLITE_INTERNAL, DB_EMISUSE},
    {SQLITE_AUTH, DB_EMISUSE},
    {SQLITE_INTERRUPT, DB_EMISUSE},
    {199, DB_EMISUSE}, /* a primary code SQLite does not have (yet) */
};

static void test_map_named_codes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = db_core_map(cases[i].sqlite_rc);
        if (got != cases[i].want)
            fail_msg("SQLite code %d (%s) maps to %d (%s), want %d (%s)", cases[i].sqlite_rc,
                     sqlite3_errstr(cases[i].sqlite_rc), got, db_strerror(got), cases[i].want,
                     db_strerror(cases[i].want));
    }
}

/* Every code, extended ones included, lands on a DB_E* code that has a sentence. */
static void test_map_is_total(void **state)
{
    (void)state;
    int seen_io = 0, seen_misuse = 0;
    for (int rc = 0; rc < 0x10000; rc++) {
        int got = db_core_map(rc), primary = rc & 0xff;
        int success = primary == SQLITE_OK || primary == SQLITE_ROW || primary == SQLITE_DONE;
        if ((got == DB_OK) != success)
            fail_msg("code %d maps to %d: success and failure are mixed up", rc, got);
        if (got != DB_OK && strcmp(db_strerror(got), "unknown database error") == 0)
            fail_msg("code %d maps to %d, which has no sentence", rc, got);
        /* An extended code keeps its primary code's meaning. */
        if (got != db_core_map(rc & 0xff) && rc != SQLITE_CONSTRAINT_PRIMARYKEY &&
            rc != SQLITE_CONSTRAINT_UNIQUE && rc != SQLITE_CONSTRAINT_FOREIGNKEY)
            fail_msg("code %d maps to %d, its primary code %d to %d", rc, got, rc & 0xff,
                     db_core_map(rc & 0xff));
        seen_io += got == DB_EIO;
        seen_misuse += got == DB_EMISUSE;
    }
    /* Both outcomes of the choice occur: the loop above did not pass vacuously. */
    assert_true(seen_io > 0);
    assert_true(seen_misuse > 0);
}

static int open_memory(struct db_core *c, sqlite3_stmt **slots)
{
    db_core_init(c, "the test store", slots, N_SLOTS);
    return db_core_open(c, ":memory:", DB_CORE_CREATE, NULL, NULL);
}

/* Failures as SQLite really reports them go through the same map, with its sentence. */
static void test_fail_real_errors(void **state)
{
    (void)state;
    sqlite3_stmt *slots[N_SLOTS] = {0}, *s = NULL;
    struct db_core c;
    assert_int_equal(open_memory(&c, slots), 0);
    assert_string_equal(db_core_errmsg(&c), "no error");

    /* A statement that cannot be prepared is our mistake. */
    assert_int_equal(db_core_stmt(&c, 0, "SELECT * FROM nowhere", &s), DB_EMISUSE);
    assert_non_null(strstr(db_core_errmsg(&c), "no such table"));
    assert_non_null(strstr(db_core_errmsg(&c), "(while preparing"));
    assert_null(slots[0]);

    assert_int_equal(db_core_exec(&c,
                                  "CREATE TABLE p(id INTEGER PRIMARY KEY);"
                                  "CREATE TABLE u(name TEXT UNIQUE);"
                                  "CREATE TABLE ch(p INTEGER REFERENCES p(id));"
                                  "INSERT INTO p VALUES (1); INSERT INTO u VALUES ('a');",
                                  "creating tables"),
                     0);
    /* Extended result codes are on, so a duplicate key is DB_EEXISTS, not just a constraint. */
    assert_int_equal(db_core_exec(&c, "INSERT INTO p VALUES (1)", "adding p"), DB_EEXISTS);
    assert_non_null(strstr(db_core_errmsg(&c), "(while adding p)"));
    assert_int_equal(db_core_exec(&c, "INSERT INTO u VALUES ('a')", "adding u"), DB_EEXISTS);
    /* foreign_keys=ON: a row that refers to nothing. */
    assert_int_equal(db_core_exec(&c, "INSERT INTO ch VALUES (9)", "adding ch"), DB_ENOTFOUND);
    assert_int_equal(db_core_exec(&c, "INSERT INTO p VALUES ('x')", "adding p"), DB_EMISUSE);

    /* A failure reported with a success code is still a failure. */
    assert_int_equal(db_core_fail(&c, SQLITE_OK, "doing %s", "nothing"), DB_EMISUSE);
    assert_int_equal(db_core_error(&c, DB_EBUSY, "ours: %d", 7), DB_EBUSY);
    assert_string_equal(db_core_errmsg(&c), "ours: 7");
    db_core_close(&c);
}

static void test_stmt_cache(void **state)
{
    (void)state;
    sqlite3_stmt *slots[N_SLOTS] = {0}, *a = NULL, *b = NULL;
    struct db_core c;
    assert_int_equal(open_memory(&c, slots), 0);

    assert_int_equal(db_core_stmt(&c, 1, "SELECT ?1", &a), 0);
    assert_int_equal(db_core_stmt(&c, 1, "SELECT ?1", &b), 0);
    assert_ptr_equal(a, b);
    assert_ptr_equal(slots[1], a);
    assert_int_equal(db_core_stmt(&c, N_SLOTS, "SELECT 1", &b), DB_EMISUSE);
    assert_int_equal(db_core_stmt(&c, -1, "SELECT 1", &b), DB_EMISUSE);

    /* Reset also unbinds: the next use does not see the last one's value. */
    sqlite3_bind_int(a, 1, 7);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(a, 0), 7);
    char *copy = db_core_column_dup(a, 0, NULL);
    assert_string_equal(copy, "7");
    free(copy);
    db_core_reset(a);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(a, 0), SQLITE_NULL);
    size_t len = 9;
    copy = db_core_column_dup(a, 0, &len);
    assert_string_equal(copy, "");
    assert_int_equal(len, 0);
    free(copy);
    db_core_reset(a);
    db_core_reset(NULL);
    db_core_close(&c); /* finalizes the cached statement */
    assert_null(slots[1]);
}

static void q_text(struct db_core *c, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(c->conn, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

static int seen_version = -1;

static int version_ok(struct db_core *c, void *ctx, const char *path, int version)
{
    (void)c;
    (void)path;
    seen_version = version;
    return *(int *)ctx;
}

static int version_refused(struct db_core *c, void *ctx, const char *path, int version)
{
    (void)ctx;
    return db_core_error(c, DB_ETOONEW, "'%s' has version %d", path, version);
}

static void test_open_file(void **state)
{
    (void)state;
    char path[256], buf[64];
    sqlite3_stmt *slots[N_SLOTS] = {0};
    struct db_core c;
    struct stat st;
    int go_on = 0;
    t_temp_path(path, sizeof path);

    /* Missing and not to be created: DB_ENOTFOUND naming the file, and no file made. */
    db_core_init(&c, "the test store", slots, N_SLOTS);
    assert_int_equal(db_core_open(&c, path, 0, NULL, NULL), DB_ENOTFOUND);
    assert_non_null(strstr(db_core_errmsg(&c), path));
    assert_non_null(strstr(db_core_errmsg(&c), "the test store"));
    db_core_close(&c);
    assert_int_not_equal(stat(path, &st), 0);

    mode_t old = umask(022);
    db_core_init(&c, "the test store", slots, N_SLOTS);
    assert_int_equal(db_core_open(&c, path, DB_CORE_CREATE, version_ok, &go_on), 0);
    umask(old);
    assert_int_equal(seen_version, 0);
    q_text(&c, "PRAGMA journal_mode", buf, sizeof buf);
    assert_string_equal(buf, "wal");
    q_text(&c, "PRAGMA synchronous", buf, sizeof buf);
    assert_string_equal(buf, "2");
    q_text(&c, "PRAGMA foreign_keys", buf, sizeof buf);
    assert_string_equal(buf, "1");
    q_text(&c, "PRAGMA busy_timeout", buf, sizeof buf);
    assert_string_equal(buf, "5000");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(db_core_exec(&c, "PRAGMA user_version = 3", "setting the version"), 0);
    db_core_close(&c);
    db_core_close(&c); /* twice is harmless */

    /* The version check sees the header's version and can stop the open. */
    db_core_init(&c, "the test store", slots, N_SLOTS);
    assert_int_equal(db_core_open(&c, path, 0, version_refused, NULL), DB_ETOONEW);
    assert_non_null(strstr(db_core_errmsg(&c), "has version 3"));
    db_core_close(&c);
    db_core_init(&c, "the test store", slots, N_SLOTS);
    assert_int_equal(db_core_open(&c, path, DB_CORE_READONLY, version_ok, &go_on), 0);
    assert_int_equal(seen_version, 3);
    db_core_close(&c);
    t_unlink(path);

    /* A file that is not SQLite is DB_ECORRUPT, and the check never ran. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an SQLite database, not even its header; just some text to fill a page",
          f);
    fclose(f);
    seen_version = -1;
    db_core_init(&c, "the test store", slots, N_SLOTS);
    assert_int_equal(db_core_open(&c, path, 0, version_ok, &go_on), DB_ECORRUPT);
    assert_non_null(strstr(db_core_errmsg(&c), path));
    assert_int_equal(seen_version, -1);
    db_core_close(&c);
    t_unlink(path);

    /* A file that cannot be created: DB_EIO with the reason. */
    db_core_init(&c, "the test store", slots, N_SLOTS);
    assert_int_equal(db_core_open(&c, "/nonexistent-vs-dir/x.db", DB_CORE_CREATE, NULL, NULL),
                     DB_EIO);
    assert_non_null(strstr(db_core_errmsg(&c), "cannot create the test store"));
    db_core_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_named_codes),
        cmocka_unit_test(test_map_is_total),
        cmocka_unit_test(test_fail_real_errors),
        cmocka_unit_test(test_stmt_cache),
        cmocka_unit_test(test_open_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
