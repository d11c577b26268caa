/*
 * test_pull_perf.c — the full-pull rate on a file store: 200,000 records
 * in 50 grids, paged 1000 at a time, for an all-grids scope and for a
 * 5-grid scope. The target is 100,000 records/s; the test fails below a
 * floor (lower under sanitizers, which slow everything several times).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "t_db.h"

#define N_RECORDS 200000
#define N_GRIDS 50

#if defined(__SANITIZE_ADDRESS__)
#define FLOOR_PER_S 15000.0
#else
#define FLOOR_PER_S 100000.0
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct fill {
    int first;
    int n;
};

/* One job writes n records the way sync/ does: history row, then the record. */
static int fill(struct db *db, void *arg)
{
    struct fill *f = arg;
    char id[32], grid[16], body[200];
    for (int i = f->first; i < f->first + f->n; i++) {
        snprintf(id, sizeof id, "rec-%07d", i);
        snprintf(grid, sizeof grid, "g%02d", i % N_GRIDS);
        int len = snprintf(body, sizeof body,
                           "{\"grid\":\"%s\",\"name\":\"Subject %d\",\"status\":\"voluntary\","
                           "\"employment\":\"employed\",\"income\":%d}",
                           grid, i, 1000 + i % 5000);
        struct db_history h = {.device = "tab-c1", .seq = i + 1, .received_ms = T_NOW,
                               .collection = "subjects", .record_id = id, .change = body,
                               .change_len = (size_t)len, .outcome = DB_APPLIED, .rev = 1};
        int64_t hid = 0;
        int err = db_history_add(db, &h, &hid);
        if (err)
            return err;
        struct db_record r = {.collection = "subjects", .id = id, .rev = 1, .grid = grid,
                              .body = body, .body_len = (size_t)len,
                              .meta = "{\"grid\":[1764410000000,0,\"tab-c1\",1]}", .seq = hid};
        err = db_record_put(db, &r);
        if (err)
            return err;
    }
    return 0;
}

static int count_row(void *ctx, const struct db_record *r, int removed)
{
    (void)removed;
    size_t *n = ctx;
    *n += r->body_len > 0;
    return 0;
}

/* Pages through everything from 0; returns records per second. */
static double full_pull_once(struct db *db, const struct db_scope *scope, size_t expect)
{
    size_t n = 0;
    int64_t next = 0;
    int more = 1;
    double t0 = now_s();
    while (more)
        assert_int_equal(db_pull(db, next, scope, 1000, count_row, &n, &next, &more), 0);
    double dt = now_s() - t0;
    assert_int_equal(n, expect);
    return (double)n / dt;
}

/* The better of two runs: the machine is shared, a rate is a best case. */
static double full_pull(struct db *db, const struct db_scope *scope, size_t expect)
{
    double a = full_pull_once(db, scope, expect);
    double b = full_pull_once(db, scope, expect);
    return a > b ? a : b;
}

static void test_full_pull_rate(void **state)
{
    (void)state;
    char path[256], err[512];
    struct db *w = NULL, *r = NULL;
    t_temp_path(path, sizeof path);
    assert_int_equal(db_open(path, DB_OPEN_CREATE, &w, err, sizeof err), 0);
    t_seed(w);
    for (int g = 0; g < N_GRIDS; g++) {
        char grid[16];
        snprintf(grid, sizeof grid, "g%02d", g);
        assert_int_equal(db_grid_add(w, grid, grid, T_NOW), 0);
    }
    enum { PER_JOB = 5000 };
    static struct fill jobs[N_RECORDS / PER_JOB];
    void *ptrs[N_RECORDS / PER_JOB];
    int rc[N_RECORDS / PER_JOB];
    for (int j = 0; j < N_RECORDS / PER_JOB; j++) {
        jobs[j] = (struct fill){j * PER_JOB, PER_JOB};
        ptrs[j] = &jobs[j];
    }
    double t0 = now_s();
    assert_int_equal(db_commit_group(w, fill, ptrs, N_RECORDS / PER_JOB, rc), 0);
    for (int j = 0; j < N_RECORDS / PER_JOB; j++)
        assert_int_equal(rc[j], 0);
    double fill_s = now_s() - t0;

    assert_int_equal(db_open(path, DB_OPEN_READONLY, &r, err, sizeof err), 0);
    static const struct db_scope all = {1, NULL, 0};
    static char *five[] = {"g00", "g07", "g21", "g33", "g49"};
    static const struct db_scope some = {0, five, 5};
    double rate_all = full_pull(r, &all, N_RECORDS);
    double rate_some = full_pull(r, &some, N_RECORDS / N_GRIDS * 5);
    /* Twenty grids: more than the per-grid streams, so the filtered scan. */
    static char names[20][8];
    static char *twenty[20];
    for (int g = 0; g < 20; g++) {
        snprintf(names[g], sizeof names[g], "g%02d", g * 2);
        twenty[g] = names[g];
    }
    static const struct db_scope wide = {0, twenty, 20};
    double rate_wide = full_pull(r, &wide, N_RECORDS / N_GRIDS * 20);
    print_message("fill %.0f records/s; full pull: all grids %.0f records/s, 5 of %d grids "
                  "%.0f records/s, 20 of %d grids %.0f records/s (floor %.0f)\n",
                  N_RECORDS / fill_s, rate_all, N_GRIDS, rate_some, N_GRIDS, rate_wide,
                  FLOOR_PER_S);
    assert_true(rate_all >= FLOOR_PER_S);
    assert_true(rate_some >= FLOOR_PER_S);
    assert_true(rate_wide >= FLOOR_PER_S);
    db_close(r);
    db_close(w);
    t_unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_pull_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
