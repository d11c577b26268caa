/*
 * test_browse.c — paging the history and the conflict log (browse.c):
 * paging through with any limit yields every row once in id order, the
 * filters (device, status) hold, an empty store pages nothing, a stopped
 * page leaves no statement or transaction behind, and one entry read by id
 * owns its copy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "t_db.h"

#define MAX_ROWS 64

/* What a page callback saw: ids in call order, and a copy of one text per row. */
struct seen {
    int n;
    int64_t id[MAX_ROWS];
    char text[MAX_ROWS][96];
    int stop_at; /* return 7 at this call (1-based); 0: never */
};

static int on_history(void *ctx, int64_t id, const struct db_history *h)
{
    struct seen *s = ctx;
    assert_true(s->n < MAX_ROWS);
    assert_non_null(h->device);
    s->id[s->n] = id;
    snprintf(s->text[s->n], sizeof s->text[0], "%s/%lld/%.*s", h->device, (long long)h->seq,
             (int)h->change_len, h->change ? h->change : "");
    s->n++;
    return s->n == s->stop_at ? 7 : 0;
}

static int on_conflict(void *ctx, const struct db_conflict *c)
{
    struct seen *s = ctx;
    assert_true(s->n < MAX_ROWS);
    s->id[s->n] = c->id;
    snprintf(s->text[s->n], sizeof s->text[0], "%s/%s/%s/%s/%zu", c->collection, c->record_id,
             c->field, c->status == DB_CONFLICT_OPEN ? "open" : "resolved", c->n_candidates);
    s->n++;
    return s->n == s->stop_at ? 7 : 0;
}

/* Pages the whole history (device filter) with limit and returns every id seen, in order. */
static void page_history(struct db *db, const char *device, int64_t limit, struct seen *out)
{
    int64_t after = 0, next = -1;
    int pages = 0;
    memset(out, 0, sizeof *out);
    do {
        int before = out->n;
        assert_int_equal(db_history_page(db, device, after, limit, on_history, out, &next), 0);
        assert_true(out->n - before <= limit);
        /* A page that says more follows is full. */
        if (next != 0) {
            assert_int_equal(out->n - before, limit);
            assert_int_equal(next, out->id[out->n - 1]);
        }
        after = next;
        assert_true(++pages <= MAX_ROWS + 1);
    } while (next != 0);
    assert_true(sqlite3_get_autocommit(db->core.conn)); /* no read transaction left open */
}

static void page_conflicts(struct db *db, enum db_conflict_status st, int64_t limit,
                           struct seen *out)
{
    int64_t after = 0, next = -1;
    int pages = 0;
    memset(out, 0, sizeof *out);
    do {
        int before = out->n;
        assert_int_equal(db_conflicts_page(db, st, NULL, after, limit, on_conflict, out, &next),
                         0);
        assert_true(out->n - before <= limit);
        if (next != 0) {
            assert_int_equal(out->n - before, limit);
            assert_int_equal(next, out->id[out->n - 1]);
        }
        after = next;
        assert_true(++pages <= MAX_ROWS + 1);
    } while (next != 0);
    assert_true(sqlite3_get_autocommit(db->core.conn));
}

static int64_t history_row(struct db *db, const char *device, int64_t seq, enum db_outcome o)
{
    char change[64];
    int64_t id = 0;
    snprintf(change, sizeof change, "{\"seq\":%lld}", (long long)seq);
    struct db_history h = {
        .device = device,
        .seq = seq,
        .received_ms = T_NOW + seq,
        .collection = o == DB_REJECTED ? NULL : "visits",
        .record_id = o == DB_REJECTED ? NULL : "v-1",
        .change = change,
        .outcome = o,
        .rev = o == DB_REJECTED ? 0 : seq,
        .error_code = o == DB_REJECTED ? "invalid_field" : NULL,
        .error_field = o == DB_REJECTED ? "visited_at" : NULL,
        .error_message = o == DB_REJECTED ? "not a date" : NULL,
    };
    assert_int_equal(db_history_add(db, &h, &id), 0);
    return id;
}

static void test_empty_store(void **state)
{
    struct db *db = *state;
    struct seen s;
    struct db_conflict c;
    int64_t n = -1;

    page_history(db, NULL, 3, &s);
    assert_int_equal(s.n, 0);
    page_history(db, "tab-c1", 1, &s);
    assert_int_equal(s.n, 0);
    for (int st = DB_CONFLICT_OPEN; st <= DB_CONFLICT_ANY; st++) {
        page_conflicts(db, (enum db_conflict_status)st, 2, &s);
        assert_int_equal(s.n, 0);
        assert_int_equal(db_conflicts_count(db, (enum db_conflict_status)st, NULL, &n), 0);
        assert_int_equal(n, 0);
    }
    memset(&c, 0x5a, sizeof c);
    assert_int_equal(db_conflict_get(db, 1, &c), DB_ENOTFOUND);
    assert_non_null(strstr(db_errmsg(db), "conflict with id 1"));
    assert_int_equal(c.id, 0x5a5a5a5a5a5a5a5aLL); /* untouched */
}

static void test_history_pages(void **state)
{
    struct db *db = *state;
    int64_t all[MAX_ROWS], c1[MAX_ROWS];
    int nall = 0, nc1 = 0;
    struct seen s;

    /* 23 rows from two devices, every outcome, interleaved. */
    for (int i = 1; i <= 23; i++) {
        const char *dev = i % 3 == 0 ? "tab-c2" : "tab-c1";
        int64_t id = history_row(db, dev, i, (enum db_outcome)(i % 4));
        all[nall++] = id;
        if (strcmp(dev, "tab-c1") == 0)
            c1[nc1++] = id;
    }
    const int64_t limits[] = {1, 2, 3, 7, 22, 23, 24, DB_BROWSE_MAX_LIMIT};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
        page_history(db, NULL, limits[l], &s);
        assert_int_equal(s.n, nall);
        assert_memory_equal(s.id, all, (size_t)nall * sizeof all[0]);
        page_history(db, "tab-c1", limits[l], &s);
        assert_int_equal(s.n, nc1);
        assert_memory_equal(s.id, c1, (size_t)nc1 * sizeof c1[0]);
        for (int i = 0; i < s.n; i++)
            assert_true(strncmp(s.text[i], "tab-c1/", 7) == 0);
    }
    page_history(db, "tab-nobody", 5, &s);
    assert_int_equal(s.n, 0);

    /* Starting after a row skips exactly the rows up to it. */
    int64_t next = -1;
    memset(&s, 0, sizeof s);
    assert_int_equal(db_history_page(db, NULL, all[20], 10, on_history, &s, &next), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.id[0], all[21]);
    assert_int_equal(next, 0);
    assert_string_equal(s.text[1], "tab-c1/23/{\"seq\":23}");
}

/* Checks every column of one history row as written by history_row. */
static int check_rejected(void *ctx, int64_t id, const struct db_history *h)
{
    int64_t *want = ctx;
    assert_int_equal(id, *want);
    assert_string_equal(h->device, "tab-c2");
    assert_int_equal(h->seq, 3);
    assert_int_equal(h->received_ms, T_NOW + 3);
    assert_null(h->collection);
    assert_null(h->record_id);
    assert_int_equal(h->change_len, strlen("{\"seq\":3}"));
    assert_memory_equal(h->change, "{\"seq\":3}", h->change_len);
    assert_int_equal(h->outcome, DB_REJECTED);
    assert_int_equal(h->rev, 0);
    assert_string_equal(h->error_code, "invalid_field");
    assert_string_equal(h->error_field, "visited_at");
    assert_string_equal(h->error_message, "not a date");
    assert_null(h->left_grid);
    *want = -1;
    return 0;
}

static void test_history_row_columns(void **state)
{
    struct db *db = *state;
    int64_t a = history_row(db, "tab-c1", 1, DB_APPLIED);
    int64_t want = history_row(db, "tab-c2", 3, DB_REJECTED);
    int64_t next = -1;
    assert_int_equal(db_history_page(db, "tab-c2", a, 5, check_rejected, &want, &next), 0);
    assert_int_equal(want, -1); /* the callback ran */
    assert_int_equal(next, 0);
}

static void candidate(struct db_candidate *c, const char *device, int64_t ms, int64_t counter,
                      const char *value, int64_t history_id)
{
    *c = (struct db_candidate){.device = device, .hlc_ms = ms, .hlc_counter = counter,
                               .value = value, .history_id = history_id};
}

/* Six entries: two resolved, four open. */
static void seed_conflicts(struct db *db, int64_t ids[6])
{
    struct db_candidate a, b, c;
    candidate(&a, "tab-c2", 20, 1, "\"Li\"", 0);
    candidate(&b, "tab-c1", 20, 0, "\"Zhang\"", 7);
    candidate(&c, "tab-c1", 20, 1, "\"Wang\"", 9);
    const char *fields[6] = {"name", "phone", "income", "status", "notes", "kind"};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(db_conflict_add(db, i % 2 ? "visits" : "subjects", "r-1", fields[i], &a,
                                         &b, T_NOW + i),
                         0);
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT id FROM conflicts WHERE field = '%s'", fields[i]);
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_prepare_v2(db->core.conn, sql, -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        ids[i] = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    /* A third candidate for "name", and the same two again: listed once. */
    assert_int_equal(db_conflict_add(db, "subjects", "r-1", "name", &b, &c, T_NOW + 50), 0);
    assert_int_equal(db_conflict_add(db, "subjects", "r-1", "name", &a, &b, T_NOW + 60), 0);
    assert_int_equal(
        db_conflict_resolve(db, ids[1], "s1", 1764410009999LL, "asked the family", "\"Li\""), 0);
    assert_int_equal(
        db_conflict_resolve(db, ids[4], "s1", 1764410009999LL, "asked the family", "\"Li\""), 0);
}

static void test_conflict_pages(void **state)
{
    struct db *db = *state;
    int64_t ids[6], n = -1;
    struct seen s;
    seed_conflicts(db, ids);

    const int64_t open_ids[] = {ids[0], ids[2], ids[3], ids[5]};
    const int64_t resolved_ids[] = {ids[1], ids[4]};
    for (int64_t limit = 1; limit <= 7; limit++) {
        page_conflicts(db, DB_CONFLICT_ANY, limit, &s);
        assert_int_equal(s.n, 6);
        assert_memory_equal(s.id, ids, sizeof ids);
        page_conflicts(db, DB_CONFLICT_OPEN, limit, &s);
        assert_int_equal(s.n, 4);
        assert_memory_equal(s.id, open_ids, sizeof open_ids);
        for (int i = 0; i < s.n; i++)
            assert_non_null(strstr(s.text[i], "/open/"));
        page_conflicts(db, DB_CONFLICT_RESOLVED, limit, &s);
        assert_int_equal(s.n, 2);
        assert_memory_equal(s.id, resolved_ids, sizeof resolved_ids);
    }
    page_conflicts(db, DB_CONFLICT_ANY, 100, &s);
    assert_string_equal(s.text[0], "subjects/r-1/name/open/3");
    assert_string_equal(s.text[1], "visits/r-1/phone/resolved/2");
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_OPEN, NULL, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_RESOLVED, NULL, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_ANY, NULL, &n), 0);
    assert_int_equal(n, 6);
}

static void test_conflict_get(void **state)
{
    struct db *db = *state;
    int64_t ids[6];
    struct db_conflict c;
    seed_conflicts(db, ids);

    assert_int_equal(db_conflict_get(db, ids[0], &c), 0);
    assert_int_equal(c.id, ids[0]);
    assert_string_equal(c.collection, "subjects");
    assert_string_equal(c.record_id, "r-1");
    assert_string_equal(c.field, "name");
    assert_int_equal(c.status, DB_CONFLICT_OPEN);
    assert_int_equal(c.created_ms, T_NOW);
    assert_int_equal(c.updated_ms, T_NOW + 60);
    assert_null(c.resolved_by);
    assert_int_equal(c.resolved_ms, 0);
    assert_null(c.reason);
    assert_null(c.resolution);
    /* By (ms, counter, device): [20,0,tab-c1] < [20,1,tab-c1] < [20,1,tab-c2]. */
    assert_int_equal(c.n_candidates, 3);
    assert_string_equal(c.candidates[0].device, "tab-c1");
    assert_int_equal(c.candidates[0].hlc_counter, 0);
    assert_string_equal(c.candidates[0].value, "\"Zhang\"");
    assert_int_equal(c.candidates[0].history_id, 7);
    assert_string_equal(c.candidates[1].value, "\"Wang\"");
    assert_int_equal(c.candidates[1].history_id, 9);
    assert_string_equal(c.candidates[2].device, "tab-c2");
    assert_int_equal(c.candidates[2].hlc_ms, 20);
    assert_int_equal(c.candidates[2].hlc_counter, 1);
    assert_string_equal(c.candidates[2].value, "\"Li\"");
    assert_int_equal(c.candidates[2].history_id, 0);

    /* The copy outlives the statements: page through everything, then read it again. */
    struct seen s;
    page_conflicts(db, DB_CONFLICT_ANY, 1, &s);
    assert_string_equal(c.candidates[0].value, "\"Zhang\"");
    db_conflict_clear(&c);
    assert_null(c.mem_);
    db_conflict_clear(&c); /* twice is harmless */

    assert_int_equal(db_conflict_get(db, ids[4], &c), 0);
    assert_int_equal(c.status, DB_CONFLICT_RESOLVED);
    assert_string_equal(c.resolved_by, "s1");
    assert_int_equal(c.resolved_ms, 1764410009999LL);
    assert_string_equal(c.reason, "asked the family");
    assert_string_equal(c.resolution, "\"Li\"");
    assert_int_equal(c.n_candidates, 2);
    db_conflict_clear(&c);
    assert_int_equal(db_conflict_get(db, ids[5] + 1, &c), DB_ENOTFOUND);
}

/* A callback that stops a page: its code comes back, *next stays, nothing is left open. */
static void test_stop_and_misuse(void **state)
{
    struct db *db = *state;
    int64_t ids[6], next = 123;
    struct seen s;
    seed_conflicts(db, ids);
    for (int i = 1; i <= 5; i++)
        history_row(db, "tab-c1", i, DB_APPLIED);

    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    assert_int_equal(db_conflicts_page(db, DB_CONFLICT_ANY, NULL, 0, 5, on_conflict, &s, &next), 7);
    assert_int_equal(next, 123);
    assert_int_equal(s.n, 2);
    assert_true(sqlite3_get_autocommit(db->core.conn));
    memset(&s, 0, sizeof s);
    s.stop_at = 1;
    assert_int_equal(db_history_page(db, "tab-c1", 0, 5, on_history, &s, &next), 7);
    assert_int_equal(next, 123);
    assert_true(sqlite3_get_autocommit(db->core.conn));
    /* The statements were reset: the same pages run again from the start. */
    page_conflicts(db, DB_CONFLICT_ANY, 4, &s);
    assert_int_equal(s.n, 6);
    page_history(db, "tab-c1", 4, &s);
    assert_int_equal(s.n, 5);

    assert_int_equal(db_history_page(db, NULL, 0, 0, on_history, &s, &next), DB_EMISUSE);
    assert_non_null(strstr(db_errmsg(db), "limit of 1 to"));
    assert_int_equal(db_history_page(db, NULL, 0, DB_BROWSE_MAX_LIMIT + 1, on_history, &s, &next),
                     DB_EMISUSE);
    assert_int_equal(db_history_page(db, NULL, -1, 5, on_history, &s, &next), DB_EMISUSE);
    assert_int_equal(db_conflicts_page(db, DB_CONFLICT_ANY, NULL, 0, 5, NULL, &s, &next),
                     DB_EMISUSE);
    assert_int_equal(db_conflicts_page(db, (enum db_conflict_status)9, NULL, 0, 5, on_conflict, &s,
                                       &next),
                     DB_EMISUSE);
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_ANY, NULL, NULL), DB_EMISUSE);
    assert_int_equal(next, 123);
}

/* Inside the caller's transaction a page sees its writes and leaves the transaction open. */
static void test_inside_transaction(void **state)
{
    struct db *db = *state;
    struct seen s;
    int64_t next = -1;
    assert_int_equal(db_begin(db), 0);
    int64_t id = history_row(db, "tab-c2", 1, DB_APPLIED);
    memset(&s, 0, sizeof s);
    assert_int_equal(db_history_page(db, "tab-c2", 0, 5, on_history, &s, &next), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.id[0], id);
    assert_int_equal(next, 0);
    assert_false(sqlite3_get_autocommit(db->core.conn)); /* still the caller's transaction */
    assert_int_equal(db_rollback(db), 0);
    page_history(db, NULL, 5, &s);
    assert_int_equal(s.n, 0);
}

/* The store this build makes has the device history index the pages use. */
static void test_schema(void **state)
{
    struct db *db = *state;
    sqlite3_stmt *s = NULL;
    assert_true(db_schema_version() >= 2);
    assert_int_equal(sqlite3_prepare_v2(db->core.conn,
                                        "SELECT group_concat(name, ' ') FROM (SELECT name FROM"
                                        " sqlite_master WHERE type = 'index' AND tbl_name ="
                                        " 'history' AND name LIKE 'history_device%' ORDER BY name)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "history_device_id");
    sqlite3_finalize(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_store, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_history_pages, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_history_row_columns, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_conflict_pages, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_conflict_get, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_misuse, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_inside_transaction, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_schema, t_setup_seeded, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
