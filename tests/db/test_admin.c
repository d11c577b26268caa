/*
 * test_admin.c — grids, users, devices, tokens and their errors; loading
 * principals with their scope; what the device activity calls store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "t_db.h"

/* One integer column of one device, read with raw SQL; -1 for NULL. */
static int64_t dev_int(struct db *db, const char *device, const char *column)
{
    char sql[128];
    sqlite3_stmt *s = NULL;
    snprintf(sql, sizeof sql, "SELECT %s FROM devices WHERE id = ?1", column);
    assert_int_equal(sqlite3_prepare_v2(db->core.conn, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void dev_text(struct db *db, const char *device, const char *column, char *out,
                     size_t size)
{
    char sql[128];
    sqlite3_stmt *s = NULL;
    snprintf(sql, sizeof sql, "SELECT coalesce(%s, '(null)') FROM devices WHERE id = ?1",
             column);
    assert_int_equal(sqlite3_prepare_v2(db->core.conn, sql, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

static void test_roles(void **state)
{
    (void)state;
    assert_int_equal(db_role_parse("cadre"), DB_ROLE_CADRE);
    assert_int_equal(db_role_parse("supervisor"), DB_ROLE_SUPERVISOR);
    assert_int_equal(db_role_parse("admin"), DB_ROLE_ADMIN);
    assert_int_equal(db_role_parse("root"), -1);
    assert_int_equal(db_role_parse(NULL), -1);
    assert_string_equal(db_role_name(DB_ROLE_SUPERVISOR), "supervisor");
}

static void test_grids(void **state)
{
    struct db *db = *state;
    assert_int_equal(db_grid_exists(db, "g1"), 1);
    assert_int_equal(db_grid_exists(db, "nope"), 0);
    assert_int_equal(db_grid_add(db, "g1", "again", T_NOW), DB_EEXISTS);
    assert_non_null(strstr(db_errmsg(db), "g1"));
    assert_int_equal(db_grid_add(db, NULL, "x", T_NOW), DB_EMISUSE);
}

static void test_users(void **state)
{
    struct db *db = *state;
    const char *bad[] = {"g1", "g-missing"};
    const char *g1[] = {"g1", "g1"};

    assert_int_equal(db_user_exists(db, "c1"), 1);
    assert_int_equal(db_user_exists(db, "zz"), 0);
    assert_int_equal(db_user_add(db, "u9", "U", DB_ROLE_CADRE, bad, 2, T_NOW), DB_ENOTFOUND);
    assert_non_null(strstr(db_errmsg(db), "g-missing"));
    assert_int_equal(db_user_exists(db, "u9"), 0);

    assert_int_equal(db_user_add(db, "u9", "U", DB_ROLE_CADRE, NULL, 0, T_NOW), DB_EMISUSE);
    assert_non_null(strstr(db_errmsg(db), "at least one grid"));
    assert_int_equal(db_user_exists(db, "u9"), 0);

    assert_int_equal(db_user_add(db, "c1", "dup", DB_ROLE_ADMIN, NULL, 0, T_NOW), DB_EEXISTS);
    assert_non_null(strstr(db_errmsg(db), "c1"));

    /* A grid named twice is kept once. */
    assert_int_equal(db_user_add(db, "u9", "U", DB_ROLE_CADRE, g1, 2, T_NOW), 0);
    struct db_principal p;
    unsigned char h[32];
    t_hash(h, 0x99);
    assert_int_equal(db_device_enroll(db, "tab-u9", "u9", h, T_NOW), 0);
    assert_int_equal(db_device_load(db, "tab-u9", &p), 0);
    assert_int_equal(p.scope.n, 1);
    db_principal_clear(&p);

    assert_int_equal(db_user_add(db, "x", "X", (enum db_role)7, NULL, 0, T_NOW), DB_EMISUSE);
}

static void test_devices(void **state)
{
    struct db *db = *state;
    unsigned char h[32];

    t_hash(h, 0x01);
    assert_int_equal(db_device_enroll(db, "tab-x", "nobody", h, T_NOW), DB_ENOTFOUND);
    assert_non_null(strstr(db_errmsg(db), "nobody"));
    assert_int_equal(db_device_enroll(db, "tab-c1", "c1", h, T_NOW), DB_EEXISTS);
    assert_non_null(strstr(db_errmsg(db), "tab-c1"));
    t_hash(h, 0xc1); /* tab-c1's token */
    assert_int_equal(db_device_enroll(db, "tab-new", "c1", h, T_NOW), DB_EEXISTS);

    assert_int_equal(db_device_revoke(db, "tab-none", T_NOW), DB_ENOTFOUND);
    assert_non_null(strstr(db_errmsg(db), "tab-none"));
    int revoked = -1;
    assert_int_equal(db_device_revoked(db, "tab-c1", &revoked), 0);
    assert_int_equal(revoked, 0);
    assert_int_equal(db_device_revoke(db, "tab-c1", T_NOW + 10), 0);
    assert_int_equal(db_device_revoke(db, "tab-c1", T_NOW + 20), 0);
    assert_int_equal(dev_int(db, "tab-c1", "revoked_ms"), T_NOW + 10);
    assert_int_equal(dev_int(db, "tab-c2", "revoked"), 0);
    /* Read from the store each time, as the writer does before every push. */
    assert_int_equal(db_device_revoked(db, "tab-c1", &revoked), 0);
    assert_int_equal(revoked, 1);
    assert_int_equal(db_device_revoked(db, "tab-c2", &revoked), 0);
    assert_int_equal(revoked, 0);
    revoked = 7;
    assert_int_equal(db_device_revoked(db, "tab-none", &revoked), DB_ENOTFOUND);
    assert_int_equal(revoked, 7);
    assert_int_equal(db_device_revoked(db, NULL, &revoked), DB_EMISUSE);
}

struct seen {
    int n;
    char ids[8][65];
};

static void on_revoked(void *ctx, const char *device)
{
    struct seen *s = ctx;
    assert_true(s->n < 8);
    snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", device);
}

static void test_revoked_since(void **state)
{
    struct db *db = *state;
    struct seen s = {0};
    assert_int_equal(db_devices_revoked_since(db, 0, on_revoked, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(db_device_revoke(db, "tab-c2", T_NOW + 100), 0);
    assert_int_equal(db_device_revoke(db, "tab-c1", T_NOW + 200), 0);
    assert_int_equal(db_devices_revoked_since(db, T_NOW + 100, on_revoked, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], "tab-c2");
    assert_string_equal(s.ids[1], "tab-c1");
    s.n = 0;
    assert_int_equal(db_devices_revoked_since(db, T_NOW + 101, on_revoked, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], "tab-c1");
}

static void test_tokens(void **state)
{
    struct db *db = *state;
    unsigned char h[32];
    t_hash(h, 0x51);
    assert_int_equal(db_token_add(db, "ghost", h, T_NOW), DB_ENOTFOUND);
    assert_non_null(strstr(db_errmsg(db), "ghost"));
    assert_int_equal(db_token_add(db, "c1", h, T_NOW), DB_EMISUSE);
    assert_non_null(strstr(db_errmsg(db), "cadre"));
    assert_int_equal(db_token_add(db, "s1", h, T_NOW), 0);
    assert_int_equal(db_token_add(db, "a1", h, T_NOW), DB_EEXISTS);
}

static void test_principal_cadre(void **state)
{
    struct db *db = *state;
    struct db_principal p;
    unsigned char h[32];

    memset(&p, 0x5a, sizeof p);
    assert_int_equal(db_device_load(db, "tab-none", &p), DB_ENOTFOUND);
    assert_int_equal(p.role, 0x5a5a5a5a); /* untouched on failure */
    assert_int_equal(db_device_load(db, "", &p), DB_ENOTFOUND);

    assert_int_equal(db_device_load(db, "tab-c2", &p), 0);
    assert_string_equal(p.device, "tab-c2");
    assert_string_equal(p.user, "c2");
    assert_int_equal(p.role, DB_ROLE_CADRE);
    assert_int_equal(p.revoked, 0);
    t_hash(h, 0xc2);
    assert_memory_equal(p.token_hash, h, 32);
    assert_int_equal(p.max_seq, 0);
    assert_int_equal(p.scope.all, 0);
    assert_int_equal(p.scope.n, 2);
    assert_string_equal(p.scope.grids[0], "g2");
    assert_string_equal(p.scope.grids[1], "g3");
    db_principal_clear(&p);
    assert_null(p.scope.grids);
    assert_int_equal(p.scope.n, 0);

    assert_int_equal(db_device_revoke(db, "tab-c2", T_NOW), 0);
    assert_int_equal(db_device_set_max_seq(db, "tab-c2", 41, T_NOW), 0);
    assert_int_equal(db_device_load(db, "tab-c2", &p), 0);
    assert_int_equal(p.revoked, 1);
    assert_int_equal(p.max_seq, 41);
    db_principal_clear(&p);
}

static void test_principal_tokens(void **state)
{
    struct db *db = *state;
    struct db_principal p;
    unsigned char hs[32], ha[32], hl[32], hx[32];
    t_hash(hs, 0x10);
    t_hash(ha, 0x20);
    t_hash(hl, 0x30);
    t_hash(hx, 0x40);
    assert_int_equal(db_token_add(db, "s1", hs, T_NOW), 0);
    assert_int_equal(db_token_add(db, "a1", ha, T_NOW), 0);
    assert_int_equal(db_token_add(db, "s2", hl, T_NOW), 0);

    assert_int_equal(db_token_load(db, hx, &p), DB_ENOTFOUND);

    /* A supervisor without grids sees all, listed sorted. */
    assert_int_equal(db_token_load(db, hs, &p), 0);
    assert_string_equal(p.device, "");
    assert_string_equal(p.user, "s1");
    assert_int_equal(p.role, DB_ROLE_SUPERVISOR);
    assert_int_equal(p.scope.all, 1);
    assert_int_equal(p.scope.n, 3);
    assert_string_equal(p.scope.grids[0], "g1");
    assert_string_equal(p.scope.grids[1], "g2");
    assert_string_equal(p.scope.grids[2], "g3");
    assert_memory_equal(p.token_hash, hs, 32);
    db_principal_clear(&p);

    assert_int_equal(db_token_load(db, ha, &p), 0);
    assert_int_equal(p.role, DB_ROLE_ADMIN);
    assert_int_equal(p.scope.all, 1);
    assert_int_equal(p.scope.n, 3);
    db_principal_clear(&p);

    /* A supervisor limited to g2 is not "all". */
    assert_int_equal(db_token_load(db, hl, &p), 0);
    assert_int_equal(p.scope.all, 0);
    assert_int_equal(p.scope.n, 1);
    assert_string_equal(p.scope.grids[0], "g2");
    db_principal_clear(&p);
    db_principal_clear(NULL);
}

static void test_activity(void **state)
{
    struct db *db = *state;
    char buf[128];
    int64_t seq = -1;

    assert_int_equal(db_device_max_seq(db, "tab-c1", &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(db_device_set_max_seq(db, "tab-c1", 17, T_NOW + 5), 0);
    assert_int_equal(db_device_max_seq(db, "tab-c1", &seq), 0);
    assert_int_equal(seq, 17);
    seq = 99;
    assert_int_equal(db_device_max_seq(db, "tab-none", &seq), DB_ENOTFOUND);
    assert_int_equal(seq, 99);
    assert_int_equal(db_device_set_max_seq(db, "tab-none", 1, T_NOW), DB_ENOTFOUND);

    struct db_hello h = {.app = "field/1.3.0", .pending = 37,
                         .oldest_pending = "2026-11-20T08:15:00+08:00", .has_skew = 1,
                         .clock_skew_ms = -1500};
    assert_int_equal(db_device_hello(db, "tab-c1", &h, T_NOW + 7), 0);
    dev_text(db, "tab-c1", "app", buf, sizeof buf);
    assert_string_equal(buf, "field/1.3.0");
    assert_int_equal(dev_int(db, "tab-c1", "pending"), 37);
    assert_int_equal(dev_int(db, "tab-c1", "clock_skew_ms"), -1500);
    assert_int_equal(dev_int(db, "tab-c1", "last_seen_ms"), T_NOW + 7);
    /* NULL, -1 and has_skew 0 keep what was there. */
    struct db_hello keep = {.app = NULL, .pending = -1, .oldest_pending = NULL};
    assert_int_equal(db_device_hello(db, "tab-c1", &keep, T_NOW + 8), 0);
    dev_text(db, "tab-c1", "oldest_pending", buf, sizeof buf);
    assert_string_equal(buf, "2026-11-20T08:15:00+08:00");
    assert_int_equal(dev_int(db, "tab-c1", "pending"), 37);
    assert_int_equal(dev_int(db, "tab-c1", "clock_skew_ms"), -1500);
    assert_int_equal(dev_int(db, "tab-c1", "last_seen_ms"), T_NOW + 8);
    assert_int_equal(db_device_hello(db, "tab-none", &keep, T_NOW), DB_ENOTFOUND);

    assert_int_equal(db_device_note(db, "tab-c1", DB_ACTIVITY_PULL, T_NOW + 9, "limit too big"),
                     0);
    assert_int_equal(dev_int(db, "tab-c1", "last_pull_ms"), T_NOW + 9);
    dev_text(db, "tab-c1", "last_error", buf, sizeof buf);
    assert_string_equal(buf, "limit too big");
    assert_int_equal(db_device_note(db, "tab-c1", DB_ACTIVITY_PUSH, T_NOW + 11, NULL), 0);
    assert_int_equal(dev_int(db, "tab-c1", "last_push_ms"), T_NOW + 11);
    assert_int_equal(dev_int(db, "tab-c1", "last_seen_ms"), T_NOW + 11);
    dev_text(db, "tab-c1", "last_error", buf, sizeof buf);
    assert_string_equal(buf, "(null)");
    assert_int_equal(db_device_note(db, "tab-none", DB_ACTIVITY_PUSH, T_NOW, NULL), DB_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test_setup_teardown(test_grids, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_users, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_devices, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_revoked_since, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_tokens, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_principal_cadre, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_principal_tokens, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_activity, t_setup_seeded, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
