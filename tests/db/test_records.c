/*
 * test_records.c — records (get/put round trip), the history log (ids are
 * monotonic) and the conflict log (one open entry per field, candidates
 * listed once).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "db_internal.h"
#include "t_db.h"

static int64_t q_int(struct db *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db->core.conn, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void test_record_round_trip(void **state)
{
    struct db *db = *state;
    struct db_record r;
    memset(&r, 0x5a, sizeof r);
    assert_int_equal(db_record_get(db, "subjects", "s-1", &r), DB_ENOTFOUND);
    assert_non_null(strstr(db_errmsg(db), "s-1"));
    assert_int_equal(r.rev, 0x5a5a5a5a5a5a5a5aLL); /* untouched */

    /* A body with an embedded length given, not NUL-terminated at body_len. */
    char body[] = "{\"name\":\"旭峰\"}TRAILING";
    struct db_record in = {
        .collection = "subjects", .id = "s-1", .rev = 3, .grid = "g1", .deleted = 1,
        .body = body, .body_len = strlen("{\"name\":\"旭峰\"}"),
        .meta = "{\"name\":[1,0,\"tab-c1\",3]}", .meta_len = 0, .seq = 42,
    };
    assert_int_equal(db_record_put(db, &in), 0);
    assert_int_equal(db_record_get(db, "subjects", "s-1", &r), 0);
    assert_string_equal(r.collection, "subjects");
    assert_string_equal(r.id, "s-1");
    assert_int_equal(r.rev, 3);
    assert_string_equal(r.grid, "g1");
    assert_int_equal(r.deleted, 1);
    assert_string_equal(r.body, "{\"name\":\"旭峰\"}");
    assert_int_equal(r.body_len, strlen("{\"name\":\"旭峰\"}"));
    assert_string_equal(r.meta, "{\"name\":[1,0,\"tab-c1\",3]}");
    assert_int_equal(r.meta_len, strlen(r.meta));
    assert_int_equal(r.seq, 42);
    db_record_clear(&r);
    assert_null(r.body);

    /* Put again replaces every column. */
    in.rev = 4;
    in.grid = "g2";
    in.deleted = 0;
    in.body = "{}";
    in.body_len = 2;
    in.meta = "{}";
    in.seq = 43;
    assert_int_equal(db_record_put(db, &in), 0);
    assert_int_equal(db_record_get(db, "subjects", "s-1", &r), 0);
    assert_int_equal(r.rev, 4);
    assert_string_equal(r.grid, "g2");
    assert_int_equal(r.deleted, 0);
    assert_string_equal(r.body, "{}");
    assert_int_equal(r.seq, 43);
    db_record_clear(&r);
    assert_int_equal(q_int(db, "SELECT count(*) FROM records"), 1);

    /* Same id in another collection is another record. */
    in.collection = "visits";
    assert_int_equal(db_record_put(db, &in), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM records"), 2);

    in.grid = NULL;
    assert_int_equal(db_record_put(db, &in), DB_EMISUSE);
    db_record_clear(NULL);

    /* The head: rev and grid only; outputs untouched on a miss or a short buffer. */
    char grid[8] = "unset";
    int64_t rev = -1;
    assert_int_equal(db_record_head(db, "visits", "s-1", &rev, grid, sizeof grid), 0);
    assert_int_equal(rev, 4);
    assert_string_equal(grid, "g2");
    rev = -1;
    assert_int_equal(db_record_head(db, "visits", "s-2", &rev, grid, sizeof grid), DB_ENOTFOUND);
    assert_non_null(strstr(db_errmsg(db), "s-2"));
    assert_int_equal(rev, -1);
    assert_string_equal(grid, "g2");
    assert_int_equal(db_record_head(db, "visits", "s-1", &rev, grid, 2), DB_ECORRUPT);
    assert_int_equal(rev, -1);
    assert_int_equal(db_record_head(db, "visits", "s-1", &rev, grid, 3), 0);
    assert_string_equal(grid, "g2");
    assert_int_equal(db_record_head(db, NULL, "s-1", &rev, grid, sizeof grid), DB_EMISUSE);
}

static void test_history_monotonic(void **state)
{
    struct db *db = *state;
    int64_t prev = 0, id = 0;
    for (int i = 0; i < 50; i++) {
        struct db_history h = {
            .device = "tab-c1", .seq = i + 1, .received_ms = T_NOW,
            .collection = i % 3 ? "visits" : NULL, .record_id = i % 3 ? "v1" : NULL,
            .change = "{\"seq\":1}", .outcome = (enum db_outcome)(i % 4), .rev = i,
            .error_code = i % 4 == DB_REJECTED ? "bad_id" : NULL,
        };
        assert_int_equal(db_history_add(db, &h, &id), 0);
        assert_true(id > prev);
        prev = id;
    }
    int64_t c = 0;
    assert_int_equal(db_cursor(db, &c), 0);
    assert_int_equal(c, id);
    assert_int_equal(q_int(db, "SELECT count(*) FROM history WHERE outcome = 'rejected'"
                               " AND error_code = 'bad_id'"),
                     12);
    struct db_history bad = {.device = "tab-c1", .outcome = (enum db_outcome)9};
    assert_int_equal(db_history_add(db, &bad, &id), DB_EMISUSE);
    bad.device = NULL;
    assert_int_equal(db_history_add(db, &bad, &id), DB_EMISUSE);
}

static void test_conflicts(void **state)
{
    struct db *db = *state;
    struct db_candidate a = {.device = "tab-c1", .hlc_ms = 100, .hlc_counter = 0,
                             .value = "\"x\"", .history_id = 7};
    struct db_candidate b = {.device = "tab-c2", .hlc_ms = 90, .hlc_counter = 1,
                             .value = "\"y\"", .history_id = 8};
    struct db_candidate c = {.device = "tab-c3", .hlc_ms = 95, .hlc_counter = 0,
                             .value = "\"z\"", .history_id = 0};

    assert_int_equal(db_conflict_add(db, "subjects", "s-1", "employer", &a, &b, T_NOW), 0);
    assert_int_equal(db_conflict_add(db, "subjects", "s-1", "employer", &b, &a, T_NOW + 5), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflicts"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflict_candidates"), 2);
    assert_int_equal(q_int(db, "SELECT updated_ms FROM conflicts"), T_NOW + 5);
    assert_int_equal(q_int(db, "SELECT created_ms FROM conflicts"), T_NOW);

    /* A third writer joins the same open entry. */
    assert_int_equal(db_conflict_add(db, "subjects", "s-1", "employer", &a, &c, T_NOW + 6), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflicts"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflict_candidates"), 3);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflict_candidates"
                               " WHERE history_id IS NULL AND device = 'tab-c3'"),
                     1);

    /* Another field is another entry. */
    assert_int_equal(db_conflict_add(db, "subjects", "s-1", "phone", &a, &b, T_NOW), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflicts"), 2);

    /* Once resolved, a new conflict on the field opens a new entry. */
    assert_int_equal(sqlite3_exec(db->core.conn,
                                  "UPDATE conflicts SET status = 'resolved'"
                                  " WHERE field = 'employer'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(db_conflict_add(db, "subjects", "s-1", "employer", &a, &b, T_NOW + 9), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflicts WHERE field = 'employer'"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflicts WHERE status = 'open'"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM conflict_candidates"), 7);

    assert_int_equal(db_conflict_add(db, "subjects", "s-1", NULL, &a, &b, T_NOW), DB_EMISUSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_round_trip, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_history_monotonic, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_conflicts, t_setup_seeded, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
