/*
 * test_pull.c — the change feed: scope filtering, paging until more is
 * false, removed records after a grid move (never from 0, once per move
 * even across pages), the cursor of an idle device, export order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "t_db.h"

#define MAX_ROWS 512

struct got {
    int n;
    struct {
        char id[65];
        char grid[65];
        int removed;
        int deleted;
        int64_t seq;
    } rows[MAX_ROWS];
    int stop_after; /* > 0: return 99 at that row */
};

static int on_row(void *ctx, const struct db_record *r, int removed)
{
    struct got *g = ctx;
    assert_true(g->n < MAX_ROWS);
    assert_int_equal(strlen(r->body), r->body_len);
    snprintf(g->rows[g->n].id, sizeof g->rows[0].id, "%s", r->id);
    snprintf(g->rows[g->n].grid, sizeof g->rows[0].grid, "%s", r->grid);
    g->rows[g->n].removed = removed;
    g->rows[g->n].deleted = r->deleted;
    g->rows[g->n].seq = r->seq;
    g->n++;
    if (g->stop_after && g->n == g->stop_after)
        return 99;
    return 0;
}

static char *g1_only[] = {"g1"};
static char *g1_g3[] = {"g1", "g3"};
static const struct db_scope scope_g1 = {0, g1_only, 1};
static const struct db_scope scope_g13 = {0, g1_g3, 2};
static const struct db_scope scope_all = {1, NULL, 0};

/* How many rows of g name id with the given removed flag. */
static int count(const struct got *g, const char *id, int removed)
{
    int n = 0;
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->rows[i].id, id) == 0 && g->rows[i].removed == removed)
            n++;
    return n;
}

/* Pulls from since in pages of limit until more is 0; returns the final cursor. */
static int64_t pull_all_pages(struct db *db, int64_t since, const struct db_scope *scope,
                              int64_t limit, struct got *g, int *pages)
{
    int more = 1;
    int64_t next = since;
    *pages = 0;
    while (more) {
        int before = g->n;
        int64_t prev = next;
        assert_int_equal(db_pull(db, prev, scope, limit, on_row, g, &next, &more), 0);
        assert_true(g->n - before <= limit);
        if (more)
            assert_int_equal(g->n - before, limit);
        assert_true(next >= prev);
        (*pages)++;
        assert_true(*pages < 1000);
    }
    return next;
}

static void test_scope_filter(void **state)
{
    struct db *db = *state;
    struct got g = {0};
    int64_t next = -1;
    int more = -1;

    t_write(db, "subjects", "a", "g1", NULL);
    t_write(db, "subjects", "b", "g2", NULL);
    t_write(db, "visits", "c", "g3", NULL);
    t_write(db, "subjects", "d", "g1", NULL);
    int64_t last = t_write(db, "subjects", "b", "g2", NULL);

    assert_int_equal(db_pull(db, 0, &scope_g1, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.rows[0].id, "a");
    assert_string_equal(g.rows[1].id, "d");
    assert_int_equal(g.rows[0].removed, 0);
    assert_true(g.rows[0].seq < g.rows[1].seq);
    assert_int_equal(more, 0);
    assert_int_equal(next, last); /* the cursor of the store, not of the last row */

    g.n = 0;
    assert_int_equal(db_pull(db, 0, &scope_g13, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.rows[1].id, "c");

    /* Everything, once, at its newest state, oldest change first. */
    g.n = 0;
    assert_int_equal(db_pull(db, 0, &scope_all, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.rows[3].id, "b");
    assert_int_equal(g.rows[3].seq, last);
    for (int i = 1; i < g.n; i++)
        assert_true(g.rows[i - 1].seq < g.rows[i].seq);

    /* An empty scope sees nothing but still advances. */
    static const struct db_scope none = {0, NULL, 0};
    g.n = 0;
    assert_int_equal(db_pull(db, 0, &none, 10, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(next, last);

    assert_int_equal(db_pull(db, 0, &scope_g1, 0, on_row, &g, &next, &more), DB_EMISUSE);
}

static void test_paging(void **state)
{
    struct db *db = *state;
    char id[32];
    const char *grids[] = {"g1", "g2", "g3"};
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "r%03d", i);
        t_write(db, i % 2 ? "visits" : "subjects", id, grids[i % 3], NULL);
    }
    /* Rewrite some: they move to the end of the feed but appear once. */
    for (int i = 0; i < 100; i += 7) {
        snprintf(id, sizeof id, "r%03d", i);
        t_write(db, i % 2 ? "visits" : "subjects", id, grids[i % 3], NULL);
    }
    int64_t cursor = 0;
    assert_int_equal(db_cursor(db, &cursor), 0);

    for (int64_t limit = 1; limit <= 40; limit += 13) {
        struct got g = {0};
        int pages = 0;
        int64_t end = pull_all_pages(db, 0, &scope_g13, limit, &g, &pages);
        assert_int_equal(end, cursor);
        int expect = 0;
        for (int i = 0; i < 100; i++) {
            snprintf(id, sizeof id, "r%03d", i);
            int in = i % 3 != 1;
            expect += in;
            assert_int_equal(count(&g, id, 0), in);
        }
        assert_int_equal(g.n, expect);
        for (int i = 1; i < g.n; i++)
            assert_true(g.rows[i - 1].seq < g.rows[i].seq);
    }

    /* Exactly limit rows left: more is 0 and next is the store's cursor. */
    struct got g = {0};
    int64_t next = 0;
    int more = 1;
    assert_int_equal(db_pull(db, 0, &scope_all, 100, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 100);
    assert_int_equal(more, 0);
    assert_int_equal(next, cursor);
    g.n = 0;
    assert_int_equal(db_pull(db, 0, &scope_all, 99, on_row, &g, &next, &more), 0);
    assert_int_equal(more, 1);
    assert_int_equal(next, g.rows[98].seq);
}

/* Scopes above the per-grid stream count take the other query; duplicates count once. */
static void test_scope_sizes(void **state)
{
    struct db *db = *state;
    char id[32], grid[16];
    static char names[12][8];
    static char *many[13];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "h%02d", i);
        assert_int_equal(db_grid_add(db, names[i], names[i], T_NOW), 0);
        many[i] = names[i];
    }
    many[12] = names[0]; /* a duplicate */
    for (int i = 0; i < 120; i++) {
        snprintf(id, sizeof id, "r%03d", i);
        snprintf(grid, sizeof grid, "h%02d", i % 12);
        t_write(db, "visits", id, i % 5 == 0 ? "g1" : grid, NULL);
    }
    for (size_t n = 1; n <= 13; n++) {
        struct db_scope scope = {0, many, n};
        struct got g = {0};
        int pages = 0;
        pull_all_pages(db, 0, &scope, 7, &g, &pages);
        int expect = 0;
        for (int i = 0; i < 120; i++) {
            snprintf(id, sizeof id, "r%03d", i);
            int in = i % 5 != 0 && (size_t)(i % 12) < (n > 12 ? 12 : n);
            expect += in;
            assert_int_equal(count(&g, id, 0), in);
        }
        assert_int_equal(g.n, expect);
        for (int i = 1; i < g.n; i++)
            assert_true(g.rows[i - 1].seq < g.rows[i].seq);
    }
    static char *twice[] = {"g1", "g1"};
    static const struct db_scope dup = {0, twice, 2};
    struct got g = {0};
    int pages = 0;
    pull_all_pages(db, 0, &dup, 5, &g, &pages);
    assert_int_equal(g.n, 24);
}

static void test_removed(void **state)
{
    struct db *db = *state;
    struct got g = {0};
    int64_t next = 0, c1 = 0;
    int more = 0;

    t_write(db, "subjects", "x", "g1", NULL);
    t_write(db, "subjects", "y", "g1", NULL);
    assert_int_equal(db_cursor(db, &c1), 0);

    /* x moves from g1 to g2. */
    t_write(db, "subjects", "x", "g2", "g1");

    assert_int_equal(db_pull(db, c1, &scope_g1, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rows[0].id, "x");
    assert_int_equal(g.rows[0].removed, 1);
    int64_t c2 = next;

    /* A device starting from 0 never had x. */
    g.n = 0;
    assert_int_equal(db_pull(db, 0, &scope_g1, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rows[0].id, "y");
    assert_int_equal(count(&g, "x", 1), 0);

    /* The device in g2 gets x normally; an all-grids scope never sees removals. */
    static char *g2_only[] = {"g2"};
    static const struct db_scope scope_g2 = {0, g2_only, 1};
    g.n = 0;
    assert_int_equal(db_pull(db, c1, &scope_g2, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(count(&g, "x", 0), 1);
    g.n = 0;
    assert_int_equal(db_pull(db, c1, &scope_all, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(count(&g, "x", 0), 1);
    assert_int_equal(count(&g, "x", 1), 0);

    /* Once told, later edits of x in its new grid are not told again. */
    t_write(db, "subjects", "x", "g2", NULL);
    g.n = 0;
    assert_int_equal(db_pull(db, c2, &scope_g1, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 0);

    /* x comes back to g1: an ordinary row again. */
    t_write(db, "subjects", "x", "g1", "g2");
    g.n = 0;
    assert_int_equal(db_pull(db, c1, &scope_g1, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(count(&g, "x", 0), 1);

    /* A move between two grids of the scope is no removal. */
    t_write(db, "subjects", "y", "g3", "g1");
    g.n = 0;
    assert_int_equal(db_pull(db, c1, &scope_g13, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(count(&g, "y", 0), 1);
    assert_int_equal(count(&g, "y", 1), 0);
}

static void test_removed_across_pages(void **state)
{
    struct db *db = *state;
    char id[32];
    int64_t since = 0;

    t_write(db, "subjects", "mover", "g1", NULL);
    assert_int_equal(db_cursor(db, &since), 0);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "early%d", i);
        t_write(db, "subjects", id, "g1", NULL);
    }
    t_write(db, "subjects", "mover", "g2", "g1"); /* leaves the scope ... */
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "late%d", i);
        t_write(db, "subjects", id, "g1", NULL);
    }
    t_write(db, "subjects", "mover", "g2", NULL); /* ... and changes again later */
    t_reject(db);

    /* g1 plus nine grids that hold nothing: the scan path, not per-grid streams. */
    static char *wide_grids[] = {"g1", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"};
    static const struct db_scope wide = {0, wide_grids, 10};
    for (int64_t limit = 1; limit <= 24; limit++) {
        struct got g = {0};
        int pages = 0;
        int64_t cursor = 0;
        int64_t end = pull_all_pages(db, since, limit <= 12 ? &scope_g1 : &wide,
                                     limit <= 12 ? limit : limit - 12, &g, &pages);
        assert_int_equal(db_cursor(db, &cursor), 0);
        assert_int_equal(end, cursor);
        assert_int_equal(g.n, 11);
        assert_int_equal(count(&g, "mover", 1), 1);
        assert_int_equal(count(&g, "mover", 0), 0);
        /* The removal sits where the move happened: after early*, before late*. */
        assert_string_equal(g.rows[5].id, "mover");
        assert_int_equal(g.rows[5].removed, 1);
    }
}

static void test_cursor_advance(void **state)
{
    struct db *db = *state;
    struct got g = {0};
    int64_t next = 0, c = 0;
    int more = 1;

    t_write(db, "subjects", "a", "g1", NULL);
    assert_int_equal(db_cursor(db, &c), 0);
    /* Others' work and rejected changes only. */
    t_write(db, "subjects", "b", "g2", NULL);
    int64_t last = t_reject(db);
    assert_int_equal(db_pull(db, c, &scope_g1, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(more, 0);
    assert_int_equal(next, last);
    /* Pulling from the top is a no-op that keeps the cursor. */
    assert_int_equal(db_pull(db, next, &scope_g1, 1000, on_row, &g, &next, &more), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(next, last);
}

static void test_row_error_stops(void **state)
{
    struct db *db = *state;
    struct got g = {.stop_after = 2};
    int64_t next = -7;
    int more = -7;
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "r%d", i);
        t_write(db, "subjects", id, "g1", NULL);
    }
    assert_int_equal(db_pull(db, 0, &scope_all, 1000, on_row, &g, &next, &more), 99);
    assert_int_equal(g.n, 2);
    assert_int_equal(next, -7);
    assert_int_equal(more, -7);
    /* The connection is usable afterwards (no read transaction left open). */
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_commit(db), 0);
    g.n = 0;
    g.stop_after = 0;
    assert_int_equal(db_export(db, "subjects", on_row, &g), 0);
    assert_int_equal(g.n, 5);
}

static void test_export_order(void **state)
{
    struct db *db = *state;
    struct got g = {0};
    const char *ids[] = {"m", "b", "z", "a", "k"};
    for (int i = 0; i < 5; i++)
        t_write(db, "visits", ids[i], i % 2 ? "g1" : "g2", NULL);
    t_write(db, "subjects", "c", "g1", NULL);
    struct db_record del = {.collection = "visits", .id = "b2", .rev = 2, .grid = "g3",
                            .deleted = 1, .body = "{}", .meta = "{}", .seq = 99};
    assert_int_equal(db_record_put(db, &del), 0);

    assert_int_equal(db_export(db, "visits", on_row, &g), 0);
    const char *want[] = {"a", "b", "b2", "k", "m", "z"};
    assert_int_equal(g.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(g.rows[i].id, want[i]);
        assert_int_equal(g.rows[i].removed, 0);
        assert_int_equal(g.rows[i].deleted, strcmp(want[i], "b2") == 0);
    }
    g.n = 0;
    assert_int_equal(db_export(db, "nothing", on_row, &g), 0);
    assert_int_equal(g.n, 0);
    g.stop_after = 1;
    assert_int_equal(db_export(db, "visits", on_row, &g), 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scope_filter, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_paging, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_scope_sizes, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_removed, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_removed_across_pages, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_cursor_advance, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_row_error_stops, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_export_order, t_setup_seeded, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
