/*
 * test_open.c — opening a store: pragmas on files and :memory:, migration
 * re-runs, the errors for missing, foreign, too new and too old files, a
 * read-only second connection that sees what the writer committed, and the
 * modes of the files a store is made of (0600 under any umask; the client's
 * replica: tests/client/test_replica.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_internal.h"
#include "t_db.h"

/* The text of a one-value query on the store's own connection, copied into out. */
static void q_text(struct db *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db->core.conn, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

/* Every schema object's SQL, concatenated in name order. */
static char *schema_dump(struct db *db)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    assert_int_equal(sqlite3_prepare_v2(db->core.conn,
                                        "SELECT type || ' ' || name || ' ' || coalesce(sql, '')"
                                        " FROM sqlite_schema ORDER BY name",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        size_t n = strlen(t);
        assert_true(len + n + 2 < cap);
        memcpy(out + len, t, n);
        len += n;
        out[len++] = '\n';
    }
    sqlite3_finalize(s);
    return out;
}

static void test_memory(void **state)
{
    (void)state;
    struct db *db = t_open_memory();
    int v = -1;
    char buf[64];
    assert_int_equal(db_user_version(db, &v), 0);
    assert_int_equal(v, db_schema_version());
    assert_true(db_schema_version() >= 1);
    q_text(db, "PRAGMA foreign_keys", buf, sizeof buf);
    assert_string_equal(buf, "1");
    q_text(db, "PRAGMA synchronous", buf, sizeof buf);
    assert_string_equal(buf, "2");
    int64_t c = -1;
    assert_int_equal(db_cursor(db, &c), 0);
    assert_int_equal(c, 0);
    db_close(db);
}

static void test_file_pragmas_and_rerun(void **state)
{
    (void)state;
    char path[256], err[512], buf[64];
    struct db *db = NULL;
    t_temp_path(path, sizeof path);

    assert_int_equal(db_open(path, DB_OPEN_CREATE, &db, err, sizeof err), 0);
    q_text(db, "PRAGMA journal_mode", buf, sizeof buf);
    assert_string_equal(buf, "wal");
    q_text(db, "PRAGMA synchronous", buf, sizeof buf);
    assert_string_equal(buf, "2");
    q_text(db, "PRAGMA foreign_keys", buf, sizeof buf);
    assert_string_equal(buf, "1");
    q_text(db, "PRAGMA busy_timeout", buf, sizeof buf);
    assert_string_equal(buf, "5000");
    int v = -1;
    assert_int_equal(db_user_version(db, &v), 0);
    assert_int_equal(v, db_schema_version());
    assert_int_equal(db_grid_add(db, "g1", "one", T_NOW), 0);
    char *before = schema_dump(db);
    assert_non_null(strstr(before, "table records"));
    assert_non_null(strstr(before, "index conflicts_open"));
    db_close(db);

    /* Re-running (init again, with or without CREATE) changes nothing. */
    for (int flags = 0; flags <= DB_OPEN_CREATE; flags += DB_OPEN_CREATE) {
        db = NULL;
        assert_int_equal(db_open(path, flags, &db, err, sizeof err), 0);
        char *after = schema_dump(db);
        assert_string_equal(before, after);
        free(after);
        assert_int_equal(db_user_version(db, &v), 0);
        assert_int_equal(v, db_schema_version());
        assert_int_equal(db_grid_exists(db, "g1"), 1);
        db_close(db);
    }
    free(before);
    t_unlink(path);
}

static void test_missing_file(void **state)
{
    (void)state;
    char path[256], err[512];
    struct db *db = NULL;
    t_temp_path(path, sizeof path);
    assert_int_equal(db_open(path, 0, &db, err, sizeof err), DB_ENOTFOUND);
    assert_null(db);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "visitsync init"));
    assert_int_equal(db_open(path, DB_OPEN_READONLY, &db, err, sizeof err), DB_ENOTFOUND);
    assert_non_null(strstr(err, path));
    FILE *f = fopen(path, "r");
    assert_null(f); /* we did not create it */
}

static void test_not_sqlite(void **state)
{
    (void)state;
    char path[256], err[512];
    struct db *db = NULL;
    t_temp_path(path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is a text file, not a database\n", f);
    fclose(f);
    assert_int_equal(db_open(path, 0, &db, err, sizeof err), DB_ECORRUPT);
    assert_non_null(strstr(err, path));
    assert_int_equal(db_open(path, DB_OPEN_READONLY, &db, err, sizeof err), DB_ECORRUPT);
    assert_non_null(strstr(err, path));
    assert_null(db);
    t_unlink(path);
}

/* Makes a SQLite file at path with the given user_version and nothing else. */
static void raw_file(const char *path, int version)
{
    sqlite3 *c = NULL;
    char sql[64];
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
    assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
}

static void test_versions(void **state)
{
    (void)state;
    char path[256], err[512];
    struct db *db = NULL;
    t_temp_path(path, sizeof path);

    raw_file(path, db_schema_version() + 1);
    assert_int_equal(db_open(path, 0, &db, err, sizeof err), DB_ETOONEW);
    assert_non_null(strstr(err, path));
    assert_int_equal(db_open(path, DB_OPEN_READONLY, &db, err, sizeof err), DB_ETOONEW);
    assert_null(db);
    t_unlink(path);

    raw_file(path, 0);
    assert_int_equal(db_open(path, DB_OPEN_READONLY, &db, err, sizeof err), DB_ETOOOLD);
    assert_non_null(strstr(err, "visitsync init"));
    assert_non_null(strstr(err, path));
    /* A writer migrates it; then a reader may open it. */
    assert_int_equal(db_open(path, 0, &db, err, sizeof err), 0);
    db_close(db);
    db = NULL;
    assert_int_equal(db_open(path, DB_OPEN_READONLY, &db, err, sizeof err), 0);
    db_close(db);
    t_unlink(path);
}

/* The count of one query's single integer, on a raw connection. */
static long long raw_int(sqlite3 *c, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/*
 * Step 3 rebuilds history to change its CHECK: a store at version 2 with
 * history rows keeps every row and column, gets its indexes back, and still
 * refuses an unknown outcome. The version-2 store is made from a current one
 * by putting back the version-2 table (its `IN (list)` CHECK).
 */
static void test_step3_keeps_history(void **state)
{
    (void)state;
    char path[256], err[512];
    struct db *db = NULL;
    sqlite3 *c = NULL;
    t_temp_path(path, sizeof path);

    assert_int_equal(db_open(path, DB_OPEN_CREATE, &db, err, sizeof err), 0);
    db_close(db);
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(c,
                     "DROP TABLE history;"
                     "CREATE TABLE history (id INTEGER PRIMARY KEY, device TEXT NOT NULL,"
                     " seq INTEGER NOT NULL, received_ms INTEGER NOT NULL, collection TEXT,"
                     " record_id TEXT, change TEXT, outcome TEXT NOT NULL"
                     " CHECK (outcome IN ('applied', 'conflict', 'duplicate', 'rejected')),"
                     " rev INTEGER NOT NULL DEFAULT 0, error_code TEXT, error_field TEXT,"
                     " error_message TEXT, left_grid TEXT) STRICT;"
                     "CREATE INDEX history_device_id ON history(device);"
                     "INSERT INTO history VALUES (7, 'tab-1', 3, 1000, 'visits', 'v1',"
                     " '{\"seq\":3}', 'applied', 1, NULL, NULL, NULL, 'g1');"
                     "INSERT INTO history VALUES (9, 'tab-1', 4, 1001, 'visits', 'v2',"
                     " '{\"seq\":4}', 'rejected', 0, 'bad_id', 'id', 'no', NULL);"
                     "PRAGMA user_version = 2;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(c);

    assert_int_equal(db_open(path, 0, &db, err, sizeof err), 0);
    int v = -1;
    assert_int_equal(db_user_version(db, &v), 0);
    assert_int_equal(v, db_schema_version());
    assert_int_equal(raw_int(db->core.conn, "SELECT count(*) FROM history"), 2);
    assert_int_equal(raw_int(db->core.conn, "SELECT count(*) FROM history WHERE id = 9 AND"
                                       " outcome = 'rejected' AND error_code = 'bad_id' AND"
                                       " error_field = 'id' AND error_message = 'no' AND"
                                       " left_grid IS NULL AND seq = 4 AND rev = 0"),
                     1);
    assert_int_equal(raw_int(db->core.conn, "SELECT count(*) FROM history WHERE id = 7 AND"
                                       " left_grid = 'g1' AND change = '{\"seq\":3}'"),
                     1);
    assert_int_equal(raw_int(db->core.conn, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                                       " ('history_record_left', 'history_left',"
                                       " 'history_device_id')"),
                     3);
    assert_int_equal(raw_int(db->core.conn, "SELECT count(*) FROM sqlite_schema WHERE"
                                       " name = 'history' AND sql LIKE '%IN (%'"),
                     0);
    /* New ids continue after the old ones: the change feed stays monotonic. */
    int64_t id = 0;
    struct db_history h = {.device = "tab-1", .seq = 5, .received_ms = 1002,
                           .change = "{}", .change_len = 2, .outcome = DB_APPLIED};
    assert_int_equal(db_history_add(db, &h, &id), 0);
    assert_true(id > 9);
    assert_int_not_equal(sqlite3_exec(db->core.conn,
                                      "INSERT INTO history (device, seq, received_ms, outcome)"
                                      " VALUES ('x', 1, 1, 'bogus')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    db_close(db);
    t_unlink(path);
}

static void test_readonly_sees_commits(void **state)
{
    (void)state;
    char path[256], err[512];
    struct db *w = NULL, *r = NULL;
    t_temp_path(path, sizeof path);
    assert_int_equal(db_open(path, DB_OPEN_CREATE, &w, err, sizeof err), 0);
    t_seed(w);
    t_write(w, "subjects", "s1", "g1", NULL);
    assert_int_equal(db_open(path, DB_OPEN_READONLY, &r, err, sizeof err), 0);

    struct db_record rec;
    assert_int_equal(db_record_get(r, "subjects", "s1", &rec), 0);
    assert_string_equal(rec.grid, "g1");
    db_record_clear(&rec);

    /* The writer commits while the reader is open (WAL): the reader's next read sees it. */
    int64_t hid = t_write(w, "subjects", "s2", "g2", NULL);
    int64_t c = 0;
    assert_int_equal(db_cursor(r, &c), 0);
    assert_int_equal(c, hid);
    assert_int_equal(db_record_get(r, "subjects", "s2", &rec), 0);
    db_record_clear(&rec);

    /* An open write transaction of the writer is invisible to the reader. */
    assert_int_equal(db_begin(w), 0);
    t_write(w, "subjects", "s3", "g2", NULL);
    assert_int_equal(db_record_get(r, "subjects", "s3", &rec), DB_ENOTFOUND);
    assert_int_equal(db_commit(w), 0);
    assert_int_equal(db_record_get(r, "subjects", "s3", &rec), 0);
    db_record_clear(&rec);

    /* The reader cannot write. */
    int rc = db_grid_add(r, "g9", "nine", T_NOW);
    assert_true(rc < 0);
    assert_int_equal(db_grid_exists(w, "g9"), 0);

    db_close(r);
    db_close(w);
    t_unlink(path);
}

/* The permission bits of path (suffix appended); fails the test when it is missing. */
static unsigned file_mode(const char *path, const char *suffix)
{
    char full[512];
    struct stat st;
    snprintf(full, sizeof full, "%s%s", path, suffix);
    if (stat(full, &st) != 0)
        fail_msg("%s: %s", full, strerror(errno));
    return (unsigned)(st.st_mode & 07777);
}

static void test_create_private(void **state)
{
    (void)state;
    char path[256];
    mode_t old = umask(022);
    t_temp_path(path, sizeof path);

    assert_int_equal(db_core_create_private(path), 0);
    assert_int_equal(file_mode(path, ""), 0600);
    assert_int_equal(db_core_create_private(path), 1); /* there already */
    assert_int_equal(file_mode(path, ""), 0600);
    t_unlink(path);

    /* A umask stricter than 077 still leaves a file its owner can write. */
    umask(0277);
    assert_int_equal(db_core_create_private(path), 0);
    assert_int_equal(file_mode(path, ""), 0600);
    t_unlink(path);
    umask(022);

    /* An operator's file keeps its mode and its bytes. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    assert_int_equal(db_core_create_private(path), 1);
    assert_int_equal(file_mode(path, ""), 0644);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1);
    t_unlink(path);

    assert_int_equal(db_core_create_private(":memory:"), 1);
    assert_int_equal(db_core_create_private(""), 1);
    assert_int_equal(db_core_create_private("/nonexistent-vs-dir/x.db"), -ENOENT);
    umask(old);
}

static void test_new_files_private(void **state)
{
    (void)state;
    char path[256], err[512];
    struct db *db = NULL;
    mode_t old = umask(022);
    t_temp_path(path, sizeof path);

    /* The store, and the -wal and -shm SQLite makes while it is open. */
    assert_int_equal(db_open(path, DB_OPEN_CREATE, &db, err, sizeof err), 0);
    assert_int_equal(db_grid_add(db, "g1", "one", T_NOW), 0);
    assert_int_equal(file_mode(path, ""), 0600);
    assert_int_equal(file_mode(path, "-wal"), 0600);
    assert_int_equal(file_mode(path, "-shm"), 0600);
    db_close(db);
    /* An existing store keeps the mode its operator gave it. */
    assert_int_equal(chmod(path, 0640), 0);
    db = NULL;
    assert_int_equal(db_open(path, DB_OPEN_CREATE, &db, err, sizeof err), 0);
    assert_int_equal(file_mode(path, ""), 0640);
    db_close(db);
    t_unlink(path);

    /* A file that cannot be created: the sentence says why. */
    db = NULL;
    assert_int_equal(db_open("/nonexistent-vs-dir/x.db", DB_OPEN_CREATE, &db, err, sizeof err),
                     DB_EIO);
    assert_null(db);
    assert_non_null(strstr(err, "/nonexistent-vs-dir/x.db"));
    assert_non_null(strstr(err, strerror(ENOENT)));
    umask(old);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(db_strerror(DB_OK), "success");
    for (int e = DB_ERRNO_FIRST_ + 1; e <= DB_ETOOOLD; e++) {
        assert_non_null(db_strerror(e));
        assert_string_not_equal(db_strerror(e), "unknown database error");
    }
    assert_string_equal(db_strerror(12345), "unknown database error");
    assert_non_null(db_errmsg(NULL));
    struct db *db = t_open_memory();
    assert_non_null(db_errmsg(db));
    db_close(db);
    db_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_file_pragmas_and_rerun),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_sqlite),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_step3_keeps_history),
        cmocka_unit_test(test_readonly_sees_commits),
        cmocka_unit_test(test_create_private),
        cmocka_unit_test(test_new_files_private),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
