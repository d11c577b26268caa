/*
 * test_audit.c — the audit log and the store's epoch: rows come back in
 * order, paged and filtered by time; the log refuses UPDATE and DELETE;
 * detail is cut at DB_AUDIT_DETAIL_MAX characters, never inside one; the
 * epoch is 8 hex characters, and a backup's copy gets a new one while the
 * live store keeps its own (and the copy keeps the audit log).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"
#include "t_db.h"

/* What a page delivered, as "id|at|actor|act|target|detail" lines. */
struct seen {
    char text[8192];
    int n;
};

static int seen_row(void *ctx, const struct db_audit *a)
{
    struct seen *s = ctx;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%lld|%lld|%s|%s|%s|%s\n", (long long)a->id,
             (long long)a->at_ms, a->actor, a->act, a->target ? a->target : "-",
             a->detail ? a->detail : "-");
    s->n++;
    return 0;
}

static void audit_pages(void **state)
{
    struct db *db = *state;
    struct seen s = {"", 0};
    int64_t next = -1;

    assert_int_equal(db_audit_page(db, 0, 0, 10, seen_row, &s, &next), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(next, 0);
    assert_int_equal(db_audit_add(db, 1000, "cli:root", "grid add", "g9", "name=x"), 0);
    assert_int_equal(db_audit_add(db, 2000, "s1", "resolve", "17", NULL), 0);
    assert_int_equal(db_audit_add(db, 1500, "cli:uid1000", "backup", NULL, NULL), 0);

    assert_int_equal(db_audit_page(db, 0, 0, 2, seen_row, &s, &next), 0);
    assert_string_equal(s.text, "1|1000|cli:root|grid add|g9|name=x\n2|2000|s1|resolve|17|-\n");
    assert_int_equal(next, 2);
    memset(&s, 0, sizeof s);
    assert_int_equal(db_audit_page(db, 0, next, 2, seen_row, &s, &next), 0);
    assert_string_equal(s.text, "3|1500|cli:uid1000|backup|-|-\n");
    assert_int_equal(next, 0);
    /* since_ms keeps the rows at or after it, still in id order. */
    memset(&s, 0, sizeof s);
    assert_int_equal(db_audit_page(db, 1500, 0, 10, seen_row, &s, &next), 0);
    assert_string_equal(s.text, "2|2000|s1|resolve|17|-\n3|1500|cli:uid1000|backup|-|-\n");

    assert_int_equal(db_audit_page(db, 0, 0, 0, seen_row, &s, &next), DB_EMISUSE);
    assert_int_equal(db_audit_page(db, 0, 0, DB_AUDIT_MAX_LIMIT + 1, seen_row, &s, &next),
                     DB_EMISUSE);
    assert_int_equal(db_audit_add(db, 1, NULL, "x", NULL, NULL), DB_EMISUSE);
}

/* The triggers of the schema refuse every change to a recorded act. */
static void audit_append_only(void **state)
{
    struct db *db = *state;
    char *msg = NULL;

    assert_int_equal(db_audit_add(db, 1000, "cli:root", "device revoke", "tab-c1", NULL), 0);
    assert_int_not_equal(
        sqlite3_exec(db->core.conn, "UPDATE audit SET actor = 'nobody'", NULL, NULL, &msg),
        SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "the audit log is append-only"));
    sqlite3_free(msg);
    msg = NULL;
    assert_int_not_equal(sqlite3_exec(db->core.conn, "DELETE FROM audit", NULL, NULL, &msg),
                         SQLITE_OK);
    assert_non_null(strstr(msg, "the audit log is append-only"));
    sqlite3_free(msg);

    struct seen s = {"", 0};
    int64_t next = -1;
    assert_int_equal(db_audit_page(db, 0, 0, 10, seen_row, &s, &next), 0);
    assert_string_equal(s.text, "1|1000|cli:root|device revoke|tab-c1|-\n");
}

/* A long detail keeps its first DB_AUDIT_DETAIL_MAX characters, CJK ones whole. */
static void audit_detail_cut(void **state)
{
    struct db *db = *state;
    char detail[1024] = "";
    struct seen s = {"", 0};
    int64_t next = -1;

    strcat(detail, "a");
    for (int i = 0; i < 250; i++)
        strcat(detail, "理"); /* 3 bytes each */
    assert_int_equal(db_audit_add(db, 1, "s1", "resolve", "1", detail), 0);
    assert_int_equal(db_audit_page(db, 0, 0, 1, seen_row, &s, &next), 0);
    char *d = strrchr(s.text, '|') + 1;
    d[strlen(d) - 1] = '\0';
    assert_int_equal(strlen(d), 1 + (DB_AUDIT_DETAIL_MAX - 1) * 3);
    assert_memory_equal(d, detail, strlen(d));
}

static void epoch_shape(void **state)
{
    struct db *db = *state;
    char e1[DB_EPOCH_SIZE], e2[DB_EPOCH_SIZE];

    assert_int_equal(db_epoch(db, e1), 0);
    assert_int_equal(strlen(e1), 8);
    assert_int_equal(strspn(e1, "0123456789abcdef"), 8);
    assert_int_equal(db_epoch(db, e2), 0);
    assert_string_equal(e1, e2);
    /* A store whose epoch was tampered with says so instead of handing out odd cursors. */
    assert_int_equal(sqlite3_exec(db->core.conn,
                                  "UPDATE store_meta SET value = 'XYZ' WHERE key = 'epoch'", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(db_epoch(db, e2), DB_ECORRUPT);
}

/* The copy gets a new epoch, the live store keeps its own, and the log is in the copy. */
static void backup_new_epoch(void **state)
{
    (void)state;
    char live_path[256], copy_path[300], side[320];
    char before[DB_EPOCH_SIZE], after[DB_EPOCH_SIZE], copy_epoch[DB_EPOCH_SIZE],
        reported[DB_EPOCH_SIZE];
    struct db *live = NULL, *copy = NULL;
    struct seen s = {"", 0};
    int64_t next = -1;

    t_temp_path(live_path, sizeof live_path);
    snprintf(copy_path, sizeof copy_path, "%s.copy", live_path);
    assert_int_equal(db_open(live_path, DB_OPEN_CREATE, &live, NULL, 0), 0);
    assert_int_equal(db_audit_add(live, 5, "cli:root", "grid add", "g1", NULL), 0);
    assert_int_equal(db_epoch(live, before), 0);
    assert_int_equal(db_backup(live, copy_path, NULL, NULL, reported), 0);
    assert_int_equal(db_epoch(live, after), 0);
    assert_string_equal(before, after);

    snprintf(side, sizeof side, "%s-wal", copy_path);
    assert_int_not_equal(access(side, F_OK), 0); /* the epoch is in the file itself */
    assert_int_equal(db_open(copy_path, DB_OPEN_READONLY, &copy, NULL, 0), 0);
    assert_int_equal(db_epoch(copy, copy_epoch), 0);
    assert_string_not_equal(copy_epoch, before);
    assert_string_equal(copy_epoch, reported);
    assert_int_equal(db_audit_page(copy, 0, 0, 10, seen_row, &s, &next), 0);
    assert_string_equal(s.text, "1|5|cli:root|grid add|g1|-\n");

    /* A second copy gets yet another epoch; NULL is allowed for copy_epoch. */
    db_close(copy);
    assert_int_equal(db_backup(live, copy_path, NULL, NULL, NULL), 0);
    assert_int_equal(db_open(copy_path, DB_OPEN_READONLY, &copy, NULL, 0), 0);
    assert_int_equal(db_epoch(copy, after), 0);
    assert_string_not_equal(after, copy_epoch);
    assert_string_not_equal(after, before);
    db_close(copy);
    db_close(live);
    t_unlink(copy_path);
    t_unlink(live_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(audit_pages, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(audit_append_only, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(audit_detail_cut, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(epoch_shape, t_setup_seeded, t_teardown),
        cmocka_unit_test(backup_new_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
