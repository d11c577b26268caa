/*
 * test_commit.c — the group commit: a failing job is rolled back alone,
 * an empty group is a no-op, a group where every job fails commits nothing,
 * and a group that cannot begin reports the error for every job.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "db.h"
#include "t_db.h"

struct job {
    const char *grid; /* the grid this job adds */
    int fail;         /* return this after writing (0: succeed) */
    int calls;
};

static int apply(struct db *db, void *arg)
{
    struct job *j = arg;
    j->calls++;
    int err = db_grid_add(db, j->grid, "job", T_NOW);
    if (err)
        return err;
    return j->fail;
}

static void test_group_partial(void **state)
{
    (void)state;
    struct db *db = t_open_memory();
    struct job a = {"ga", 0, 0}, b = {"gb", -42, 0}, c = {"gc", 0, 0}, d = {"ga", 0, 0};
    void *jobs[] = {&a, &b, &c, &d};
    int rc[4] = {1, 1, 1, 1};

    assert_int_equal(db_commit_group(db, apply, jobs, 4, rc), 0);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], -42);
    assert_int_equal(rc[2], 0);
    assert_int_equal(rc[3], DB_EEXISTS); /* a store error also rolls back only its job */
    assert_int_equal(db_grid_exists(db, "ga"), 1);
    assert_int_equal(db_grid_exists(db, "gb"), 0);
    assert_int_equal(db_grid_exists(db, "gc"), 1);
    assert_int_equal(a.calls + b.calls + c.calls + d.calls, 4);
    db_close(db);
}

static void test_group_empty(void **state)
{
    (void)state;
    struct db *db = t_open_memory();
    assert_int_equal(db_commit_group(db, apply, NULL, 0, NULL), 0);
    /* Still usable, and not left inside a transaction. */
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_commit(db), 0);
    db_close(db);
}

static void test_group_all_fail(void **state)
{
    (void)state;
    struct db *db = t_open_memory();
    struct job a = {"ga", -1, 0}, b = {"gb", -2, 0};
    void *jobs[] = {&a, &b};
    int rc[2] = {0, 0};
    assert_int_equal(db_commit_group(db, apply, jobs, 2, rc), 0);
    assert_int_equal(rc[0], -1);
    assert_int_equal(rc[1], -2);
    assert_int_equal(db_grid_exists(db, "ga"), 0);
    assert_int_equal(db_grid_exists(db, "gb"), 0);
    db_close(db);
}

static void test_group_cannot_begin(void **state)
{
    (void)state;
    struct db *db = t_open_memory();
    struct job a = {"ga", 0, 0}, b = {"gb", 0, 0};
    void *jobs[] = {&a, &b};
    int rc[2] = {0, 0};
    /* A transaction already open makes BEGIN IMMEDIATE fail. */
    assert_int_equal(db_begin(db), 0);
    int err = db_commit_group(db, apply, jobs, 2, rc);
    assert_true(err < 0);
    assert_int_equal(rc[0], err);
    assert_int_equal(rc[1], err);
    assert_int_equal(a.calls + b.calls, 0);
    assert_true(strlen(db_errmsg(db)) > 0);
    /* Nothing is left open afterwards. */
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_rollback(db), 0);
    assert_int_equal(db_rollback(db), 0); /* harmless with no transaction */
    assert_int_equal(db_grid_exists(db, "ga"), 0);
    db_close(db);
}

static void test_begin_commit_rollback(void **state)
{
    (void)state;
    struct db *db = t_open_memory();
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_grid_add(db, "g1", "one", T_NOW), 0);
    assert_int_equal(db_rollback(db), 0);
    assert_int_equal(db_grid_exists(db, "g1"), 0);
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_grid_add(db, "g1", "one", T_NOW), 0);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(db_grid_exists(db, "g1"), 1);
    assert_true(db_commit(db) < 0); /* no transaction to commit */
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_partial),
        cmocka_unit_test(test_group_empty),
        cmocka_unit_test(test_group_all_fail),
        cmocka_unit_test(test_group_cannot_begin),
        cmocka_unit_test(test_begin_commit_rollback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
