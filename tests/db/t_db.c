/* t_db.c — helpers for the db/ tests (see t_db.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t_db.h"

struct db *t_open_memory(void)
{
    struct db *db = NULL;
    char err[256];
    int rc = db_open(":memory:", DB_OPEN_CREATE, &db, err, sizeof err);
    if (rc != 0)
        fail_msg("db_open(:memory:) failed: %s", err);
    return db;
}

void t_hash(unsigned char out[32], unsigned char b)
{
    memset(out, b, 32);
}

void t_seed(struct db *db)
{
    unsigned char h[32];
    const char *c1[] = {"g1"};
    const char *c2[] = {"g2", "g3"};
    const char *s2[] = {"g2"};

    assert_int_equal(db_grid_add(db, "g1", "Grid one", T_NOW), 0);
    assert_int_equal(db_grid_add(db, "g3", "Grid three", T_NOW), 0);
    assert_int_equal(db_grid_add(db, "g2", "Grid two", T_NOW), 0);
    assert_int_equal(db_user_add(db, "c1", "Cadre one", DB_ROLE_CADRE, c1, 1, T_NOW), 0);
    assert_int_equal(db_user_add(db, "c2", "Cadre two", DB_ROLE_CADRE, c2, 2, T_NOW), 0);
    assert_int_equal(db_user_add(db, "s1", "Sup one", DB_ROLE_SUPERVISOR, NULL, 0, T_NOW), 0);
    assert_int_equal(db_user_add(db, "a1", "Admin one", DB_ROLE_ADMIN, NULL, 0, T_NOW), 0);
    assert_int_equal(db_user_add(db, "s2", "Sup two", DB_ROLE_SUPERVISOR, s2, 1, T_NOW), 0);
    t_hash(h, 0xc1);
    assert_int_equal(db_device_enroll(db, "tab-c1", "c1", h, T_NOW), 0);
    t_hash(h, 0xc2);
    assert_int_equal(db_device_enroll(db, "tab-c2", "c2", h, T_NOW), 0);
}

int64_t t_write(struct db *db, const char *collection, const char *id, const char *grid,
                const char *left_grid)
{
    struct db_record old;
    int64_t rev = 0, hid = 0;
    if (db_record_get(db, collection, id, &old) == 0) {
        rev = old.rev;
        db_record_clear(&old);
    }
    char body[256];
    snprintf(body, sizeof body, "{\"grid\":\"%s\",\"name\":\"%s\"}", grid, id);
    struct db_history h = {
        .device = "tab-c1",
        .seq = 1,
        .received_ms = T_NOW,
        .collection = collection,
        .record_id = id,
        .change = "{}",
        .change_len = 2,
        .outcome = DB_APPLIED,
        .rev = rev + 1,
        .left_grid = left_grid,
    };
    assert_int_equal(db_history_add(db, &h, &hid), 0);
    struct db_record r = {
        .collection = (char *)collection,
        .id = (char *)id,
        .rev = rev + 1,
        .grid = (char *)grid,
        .body = body,
        .body_len = strlen(body),
        .meta = "{}",
        .meta_len = 2,
        .seq = hid,
    };
    if (db_record_put(db, &r) != 0)
        fail_msg("db_record_put: %s", db_errmsg(db));
    return hid;
}

int64_t t_reject(struct db *db)
{
    int64_t hid = 0;
    struct db_history h = {
        .device = "tab-c1",
        .seq = 1,
        .received_ms = T_NOW,
        .change = "{\"seq\":1}",
        .outcome = DB_REJECTED,
        .error_code = "bad_id",
        .error_field = "id",
        .error_message = "the id is empty",
    };
    assert_int_equal(db_history_add(db, &h, &hid), 0);
    return hid;
}

void t_temp_path(char *buf, size_t size)
{
    static int n;
    snprintf(buf, size, "/tmp/vs-db-test-%ld-%d.db", (long)getpid(), n++);
    t_unlink(buf);
}

void t_unlink(const char *path)
{
    char side[512];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-journal", path);
    unlink(side);
}

int t_setup_seeded(void **state)
{
    struct db *db = t_open_memory();
    t_seed(db);
    *state = db;
    return 0;
}

int t_teardown(void **state)
{
    db_close(*state);
    return 0;
}
