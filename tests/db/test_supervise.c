/*
 * test_supervise.c — what supervisors read (status.c, report.c, and the
 * scoped conflict log of browse.c) on small hand-made stores with known
 * answers: devices and store figures by scope, conflicts by scope with
 * their grid and candidates' users, closing an entry, devices enrolled
 * after a position, and the programme report (placement, coverage within
 * 30 days and not before, pairing, assistance, visits per week), where a
 * supervisor limited to g1 sees nothing of g2, and the facts of the visits
 * the report reads, through every kind of write and the back-fill.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_internal.h"
#include "t_db.h"

#define DAY 86400000LL

static void exec_sql(struct db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->core.conn, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

/*
 * Writes a record with body as one change of device (a history row with
 * the record's new rev, then the record), as sync/ would.
 */
static void put(struct db *db, const char *collection, const char *id, const char *grid,
                const char *device, int deleted, const char *body)
{
    struct db_record old;
    int64_t rev = 0, hid = 0;
    if (db_record_get(db, collection, id, &old) == 0) {
        rev = old.rev;
        db_record_clear(&old);
    }
    struct db_history h = {
        .device = device,
        .seq = 1,
        .received_ms = T_NOW,
        .collection = collection,
        .record_id = id,
        .change = "{}",
        .change_len = 2,
        .outcome = DB_APPLIED,
        .rev = rev + 1,
    };
    assert_int_equal(db_history_add(db, &h, &hid), 0);
    struct db_record r = {
        .collection = (char *)collection,
        .id = (char *)id,
        .rev = rev + 1,
        .grid = (char *)grid,
        .deleted = deleted,
        .body = (char *)body,
        .body_len = strlen(body),
        .meta = "{}",
        .meta_len = 2,
        .seq = hid,
    };
    if (db_record_put(db, &r) != 0)
        fail_msg("db_record_put: %s", db_errmsg(db));
}

/* RFC 3339 at +08:00 for ms since the epoch (whole seconds). */
static void at(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000 + 8 * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

static void visit(struct db *db, const char *id, const char *subject, const char *grid,
                  const char *device, int64_t ms, const char *extra)
{
    char when[40], body[512];
    at(ms, when, sizeof when);
    snprintf(body, sizeof body, "{%s\"grid\":\"%s\",\"subject\":\"%s\",\"visited_at\":\"%s\"}",
             extra, grid, subject, when);
    put(db, "visits", id, grid, device, 0, body);
}

/* A scope of the listed grids (static storage: the tests only read it). */
static struct db_scope scope_of(char **grids, size_t n)
{
    struct db_scope s = {.all = 0, .grids = grids, .n = n};
    return s;
}

/* ---- devices ------------------------------------------------------------ */

struct devs {
    int n;
    char line[8][160];
    int stop_at;
};

static int on_device(void *ctx, const struct db_device_status *d)
{
    struct devs *s = ctx;
    assert_true(s->n < 8);
    char grids[64] = "";
    for (size_t i = 0; i < d->n_grids; i++)
        snprintf(grids + strlen(grids), sizeof grids - strlen(grids), "%s%s", i ? "," : "",
                 d->grids[i]);
    snprintf(s->line[s->n], sizeof s->line[0],
             "%s %s %s [%s] r%d %s p%lld %s s%d:%lld %lld/%lld/%lld %s", d->device, d->user,
             d->user_name, grids, d->revoked, d->app ? d->app : "-", (long long)d->pending,
             d->oldest_pending ? d->oldest_pending : "-", d->has_skew,
             (long long)d->clock_skew_ms, (long long)d->last_seen_ms,
             (long long)d->last_push_ms, (long long)d->last_pull_ms,
             d->last_error ? d->last_error : "-");
    assert_int_equal(d->created_ms, T_NOW);
    s->n++;
    return s->n == s->stop_at ? 9 : 0;
}

static void test_devices_status(void **state)
{
    struct db *db = *state;
    unsigned char h[32];
    char *g1[] = {"g1"}, *g2[] = {"g2"}, *none[] = {"g9"};
    struct db_scope s1 = scope_of(g1, 1), s2 = scope_of(g2, 1), s9 = scope_of(none, 1);
    struct db_scope all = {.all = 1};
    struct devs d;

    t_hash(h, 0x51);
    assert_int_equal(db_device_enroll(db, "tab-s1", "s1", h, T_NOW), 0);
    struct db_hello hello = {.app = "field/1.3.0", .pending = 4,
                             .oldest_pending = "2026-11-20T08:15:00+08:00", .has_skew = 1,
                             .clock_skew_ms = -1200};
    assert_int_equal(db_device_hello(db, "tab-c1", &hello, T_NOW + 1), 0);
    assert_int_equal(db_device_note(db, "tab-c1", DB_ACTIVITY_PUSH, T_NOW + 2, "disk full"), 0);
    assert_int_equal(db_device_note(db, "tab-c2", DB_ACTIVITY_PULL, T_NOW + 3, NULL), 0);
    assert_int_equal(db_device_revoke(db, "tab-c2", T_NOW + 4), 0);

    memset(&d, 0, sizeof d);
    assert_int_equal(db_devices_status(db, NULL, on_device, &d), 0);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.line[0], "tab-c1 c1 Cadre one [g1] r0 field/1.3.0 p4 "
                                   "2026-11-20T08:15:00+08:00 s1:-1200 1764410000002/"
                                   "1764410000002/0 disk full");
    assert_string_equal(d.line[1], "tab-c2 c2 Cadre two [g2,g3] r1 - p-1 - s0:0 "
                                   "1764410000003/0/1764410000003 -");
    /* A user of every grid: no grids listed, and seen only by an unlimited scope. */
    assert_string_equal(d.line[2], "tab-s1 s1 Sup one [] r0 - p-1 - s0:0 0/0/0 -");
    memset(&d, 0, sizeof d);
    assert_int_equal(db_devices_status(db, &all, on_device, &d), 0);
    assert_int_equal(d.n, 3);

    memset(&d, 0, sizeof d);
    assert_int_equal(db_devices_status(db, &s1, on_device, &d), 0);
    assert_int_equal(d.n, 1);
    assert_memory_equal(d.line[0], "tab-c1 ", 7);
    memset(&d, 0, sizeof d);
    assert_int_equal(db_devices_status(db, &s2, on_device, &d), 0);
    assert_int_equal(d.n, 1);
    assert_memory_equal(d.line[0], "tab-c2 ", 7);
    memset(&d, 0, sizeof d);
    assert_int_equal(db_devices_status(db, &s9, on_device, &d), 0);
    assert_int_equal(d.n, 0);

    /* A non-zero return stops the listing, is returned, and leaves no transaction open. */
    memset(&d, 0, sizeof d);
    d.stop_at = 1;
    assert_int_equal(db_devices_status(db, NULL, on_device, &d), 9);
    assert_int_equal(d.n, 1);
    assert_true(sqlite3_get_autocommit(db->core.conn));
    assert_int_equal(db_devices_status(db, NULL, NULL, NULL), DB_EMISUSE);
}

struct enrolled {
    int n;
    char line[4][80];
};

static void on_enrolled(void *ctx, const char *device, const char *user)
{
    struct enrolled *e = ctx;
    assert_true(e->n < 4);
    snprintf(e->line[e->n++], sizeof e->line[0], "%s/%s", device, user);
}

static void test_enrolled_after(void **state)
{
    struct db *db = *state;
    unsigned char h[32];
    struct enrolled e = {0};
    int64_t last = -1, next = -1;

    assert_int_equal(db_devices_enrolled_after(db, 0, NULL, NULL, &last), 0);
    assert_int_equal(last, 2); /* t_seed enrolled two devices */
    assert_int_equal(db_devices_enrolled_after(db, last, on_enrolled, &e, &next), 0);
    assert_int_equal(e.n, 0);
    assert_int_equal(next, last);

    t_hash(h, 0x77);
    assert_int_equal(db_device_enroll(db, "tab-new", "c2", h, T_NOW), 0);
    t_hash(h, 0x78);
    assert_int_equal(db_device_enroll(db, "tab-newer", "c1", h, T_NOW), 0);
    assert_int_equal(db_devices_enrolled_after(db, last, on_enrolled, &e, &next), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.line[0], "tab-new/c2");
    assert_string_equal(e.line[1], "tab-newer/c1");
    assert_int_equal(next, last + 2);
    assert_int_equal(db_devices_enrolled_after(db, 0, NULL, NULL, &last), 0);
    assert_int_equal(last, next);
    assert_int_equal(db_devices_enrolled_after(db, 0, NULL, NULL, NULL), DB_EMISUSE);
}

/* ---- conflicts and store figures ---------------------------------------- */

static void conflict(struct db *db, const char *id, const char *field, const char *device)
{
    struct db_candidate a = {.device = "tab-c1", .hlc_ms = 100, .value = "\"a\""};
    struct db_candidate b = {.device = device, .hlc_ms = 200, .value = "\"b\"", .history_id = 1};
    assert_int_equal(db_conflict_add(db, "subjects", id, field, &a, &b, T_NOW), 0);
}

struct entries {
    int n;
    char line[8][160];
};

static int on_entry(void *ctx, const struct db_conflict *c)
{
    struct entries *s = ctx;
    assert_true(s->n < 8);
    int k = snprintf(s->line[s->n], sizeof s->line[0], "%s/%s %s", c->record_id, c->field,
                     c->grid ? c->grid : "-");
    for (size_t i = 0; i < c->n_candidates; i++)
        k += snprintf(s->line[s->n] + k, sizeof s->line[0] - (size_t)k, " %s:%s",
                      c->candidates[i].device,
                      c->candidates[i].user ? c->candidates[i].user : "-");
    s->n++;
    return 0;
}

static void test_conflicts_scope(void **state)
{
    struct db *db = *state;
    char *g1[] = {"g1"}, *g2[] = {"g2"};
    struct db_scope s1 = scope_of(g1, 1), s2 = scope_of(g2, 1);
    struct entries e = {0};
    struct db_conflict c;
    int64_t n = -1, next = -1;

    put(db, "subjects", "s-1", "g1", "tab-c1", 0, "{\"grid\":\"g1\",\"name\":\"x\"}");
    put(db, "subjects", "s-2", "g2", "tab-c2", 0, "{\"grid\":\"g2\",\"name\":\"y\"}");
    conflict(db, "s-1", "name", "tab-c2");
    conflict(db, "s-2", "name", "gone");
    conflict(db, "s-9", "name", "tab-c1"); /* no such record: in no scope */

    assert_int_equal(db_conflicts_page(db, DB_CONFLICT_ANY, NULL, 0, 10, on_entry, &e, &next),
                     0);
    assert_int_equal(e.n, 3);
    assert_string_equal(e.line[0], "s-1/name g1 tab-c1:c1 tab-c2:c2");
    assert_string_equal(e.line[1], "s-2/name g2 tab-c1:c1 gone:-");
    assert_string_equal(e.line[2], "s-9/name - tab-c1:c1 tab-c1:c1");
    memset(&e, 0, sizeof e);
    assert_int_equal(db_conflicts_page(db, DB_CONFLICT_OPEN, &s1, 0, 10, on_entry, &e, &next), 0);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.line[0], "s-1/name g1 tab-c1:c1 tab-c2:c2");
    memset(&e, 0, sizeof e);
    assert_int_equal(db_conflicts_page(db, DB_CONFLICT_ANY, &s2, 0, 10, on_entry, &e, &next), 0);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.line[0], "s-2/name g2 tab-c1:c1 gone:-");
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_OPEN, &s1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_ANY, NULL, &n), 0);
    assert_int_equal(n, 3);

    /* Closing: once, then it is resolved; an unknown id is not found. */
    assert_int_equal(db_conflict_resolve(db, 1, "s1", T_NOW + 5, "checked by phone", "\"b\""), 0);
    assert_int_equal(db_conflict_resolve(db, 1, "s1", T_NOW + 6, NULL, "\"a\""), DB_EEXISTS);
    assert_int_equal(db_conflict_resolve(db, 99, "s1", T_NOW + 6, NULL, "\"a\""), DB_ENOTFOUND);
    assert_int_equal(db_conflict_get(db, 1, &c), 0);
    assert_int_equal(c.status, DB_CONFLICT_RESOLVED);
    assert_string_equal(c.resolved_by, "s1");
    assert_int_equal(c.resolved_ms, T_NOW + 5);
    assert_int_equal(c.updated_ms, T_NOW + 5);
    assert_string_equal(c.reason, "checked by phone");
    assert_string_equal(c.resolution, "\"b\"");
    assert_string_equal(c.grid, "g1");
    /* A candidate carries its device's user and that user's name; an unknown device neither. */
    assert_string_equal(c.candidates[1].user, "c2");
    assert_string_equal(c.candidates[1].user_name, "Cadre two");
    db_conflict_clear(&c);
    assert_int_equal(db_conflict_get(db, 2, &c), 0);
    assert_string_equal(c.candidates[0].user_name, "Cadre one");
    assert_string_equal(c.candidates[1].device, "gone");
    assert_null(c.candidates[1].user);
    assert_null(c.candidates[1].user_name);
    db_conflict_clear(&c);
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_OPEN, &s1, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_RESOLVED, &s1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(db_conflicts_count(db, DB_CONFLICT_RESOLVED, &s2, &n), 0);
    assert_int_equal(n, 0);
}

static void test_store_stats(void **state)
{
    struct db *db = *state;
    char *g1[] = {"g1"}, *g2[] = {"g2"};
    struct db_scope s1 = scope_of(g1, 1), s2 = scope_of(g2, 1);
    struct db_store_stats st;
    static const char a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    static const char c[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    char extra[512];

    put(db, "subjects", "s-1", "g1", "tab-c1", 0, "{\"grid\":\"g1\",\"name\":\"x\"}");
    put(db, "subjects", "s-2", "g2", "tab-c2", 0, "{\"grid\":\"g2\",\"name\":\"y\"}");
    put(db, "subjects", "s-3", "g2", "tab-c2", 1, "{\"grid\":\"g2\"}");
    /* Photo a is complete, b half uploaded, c never offered; a deleted visit needs none. */
    snprintf(extra, sizeof extra, "\"photos\":[\"sha256:%s\",\"sha256:%s\"],", a, b);
    visit(db, "v-1", "s-1", "g1", "tab-c1", T_NOW - DAY, extra);
    snprintf(extra, sizeof extra, "\"photos\":[\"sha256:%s\"],", c);
    visit(db, "v-2", "s-2", "g2", "tab-c2", T_NOW - DAY, extra);
    put(db, "visits", "v-3", "g2", "tab-c2", 1, "{\"photos\":[\"sha256:cc\"]}");
    char sql[768];
    snprintf(sql, sizeof sql,
             "INSERT INTO blob_uploads (id, sha256, device, size, mime, have, done, started_ms,"
             " updated_ms) VALUES (1, '%s', 'tab-c1', 10, 'image/jpeg', 10, 1, 0, 0),"
             " (2, '%s', 'tab-c1', 10, 'image/jpeg', 5, 0, 0, 0);"
             "INSERT INTO blobs VALUES ('%s', 10, 'image/jpeg', 1, 0)",
             a, b, a);
    exec_sql(db, sql);
    conflict(db, "s-1", "name", "tab-c2");
    conflict(db, "s-2", "name", "tab-c1");
    conflict(db, "s-2", "grid", "tab-c1");

    assert_int_equal(db_store_stats(db, NULL, &st), 0);
    assert_int_equal(st.cursor, 6);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.conflicts_open, 3);
    assert_int_equal(st.missing_photos, 2);
    assert_int_equal(st.db_bytes, 0); /* a memory store has no file */
    assert_int_equal(db_store_stats(db, &s1, &st), 0);
    assert_int_equal(st.cursor, 6);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.conflicts_open, 1);
    assert_int_equal(st.missing_photos, 1);
    assert_int_equal(db_store_stats(db, &s2, &st), 0);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.conflicts_open, 2);
    assert_int_equal(st.missing_photos, 1);
    assert_true(sqlite3_get_autocommit(db->core.conn));
}

static void test_store_stats_file(void **state)
{
    (void)state;
    char path[256], err[256];
    struct db *db = NULL;
    struct db_store_stats st;

    t_temp_path(path, sizeof path);
    assert_int_equal(db_open(path, DB_OPEN_CREATE, &db, err, sizeof err), 0);
    t_seed(db);
    assert_int_equal(db_store_stats(db, NULL, &st), 0);
    /* At least the pages written so far, in the file or still in its WAL. */
    assert_true(st.db_bytes >= 4096);
    db_close(db);
    t_unlink(path);
}

/* ---- the report ---------------------------------------------------------- */

/*
 * Subjects: g1 has s-1 (rehab, employed, paired with c1), s-2 (voluntary,
 * unemployed, unpaired), s-3 (completed, employed, paired with c1) and a
 * deleted s-5; g2 has s-4 (relapsed, no employment, paired with c2). g3 is
 * empty. Visits: v-1 of s-1 a day ago by tab-c1 (edited later by tab-c2,
 * still tab-c1's), v-2 of s-2 40 days ago, v-3 of s-4 exactly 7 days ago by
 * tab-c2, v-4 of s-1 dated tomorrow, v-5 deleted, v-6 of s-3 exactly 30
 * days ago (just outside the window).
 */
static void report_store(struct db *db)
{
    put(db, "subjects", "s-1", "g1", "tab-c1", 0,
        "{\"cadre\":\"c1\",\"employment\":\"employed\",\"grid\":\"g1\",\"status\":"
        "\"community_rehab\"}");
    put(db, "subjects", "s-2", "g1", "tab-c1", 0,
        "{\"cadre\":\"\",\"employment\":\"unemployed\",\"grid\":\"g1\",\"status\":\"voluntary\"}");
    put(db, "subjects", "s-3", "g1", "tab-c1", 0,
        "{\"cadre\":\"c1\",\"employment\":\"employed\",\"grid\":\"g1\",\"status\":\"completed\"}");
    put(db, "subjects", "s-4", "g2", "tab-c2", 0,
        "{\"cadre\":\"c2\",\"grid\":\"g2\",\"status\":\"relapsed\"}");
    put(db, "subjects", "s-5", "g1", "tab-c1", 1, "{\"cadre\":\"c1\",\"grid\":\"g1\"}");
    const char *helped = "\"assistance\":[\"placement\",\"rehab\"],";
    visit(db, "v-1", "s-1", "g1", "tab-c1", T_NOW - DAY, helped);
    visit(db, "v-1", "s-1", "g1", "tab-c2", T_NOW - DAY, helped);
    visit(db, "v-2", "s-2", "g1", "tab-c1", T_NOW - 40 * DAY, "\"assistance\":[\"rehab\"],");
    visit(db, "v-3", "s-4", "g2", "tab-c2", T_NOW - 7 * DAY, "\"assistance\":[\"fund\",\"fund\"],");
    visit(db, "v-4", "s-1", "g1", "tab-c1", T_NOW + DAY, "");
    put(db, "visits", "v-5", "g1", "tab-c1", 1,
        "{\"assistance\":[\"medical\"],\"subject\":\"s-2\"}");
    visit(db, "v-6", "s-3", "g1", "tab-c1", T_NOW - 30 * DAY, "");
}

static void check_counts(const struct db_count *c, size_t n, const char *want)
{
    char got[256] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s=%lld", i ? " " : "",
                 c[i].key, (long long)c[i].n);
    assert_string_equal(got, want);
}

static void test_report(void **state)
{
    struct db *db = *state;
    struct db_report r;

    report_store(db);
    assert_int_equal(db_report(db, NULL, T_NOW, &r), 0);
    assert_true(sqlite3_get_autocommit(db->core.conn));
    assert_int_equal(r.subjects, 4);
    check_counts(r.by_status, r.n_status, "community_rehab=1 completed=1 relapsed=1 voluntary=1");
    /* Placement: of the 3 not completed, 1 employed (s-3 is completed, so not counted). */
    check_counts(r.by_employment, r.n_employment, "=1 employed=1 unemployed=1");
    assert_int_equal(r.eligible, 3);
    assert_int_equal(r.n_grids, 3);
    assert_string_equal(r.grids[0].grid, "g1");
    assert_string_equal(r.grids[0].name, "Grid one");
    assert_int_equal(r.grids[0].subjects, 3);
    assert_int_equal(r.grids[0].visited_30d, 1); /* s-1; s-2 40 days ago, s-3 exactly 30 */
    assert_int_equal(r.grids[0].paired, 2);
    assert_string_equal(r.grids[1].grid, "g2");
    assert_int_equal(r.grids[1].subjects, 1);
    assert_int_equal(r.grids[1].visited_30d, 1);
    assert_int_equal(r.grids[1].paired, 1);
    assert_string_equal(r.grids[2].grid, "g3");
    assert_int_equal(r.grids[2].subjects, 0);
    assert_int_equal(r.paired, 3);
    assert_int_equal(r.visited_30d, 2);
    check_counts(r.assistance, r.n_assistance, "fund=1 placement=1 rehab=2");
    check_counts(r.assistance_30d, r.n_assistance_30d, "fund=1 placement=1 rehab=1");
    assert_int_equal(r.n_cadres, 2);
    assert_string_equal(r.cadres[0].user, "c1");
    assert_string_equal(r.cadres[0].name, "Cadre one");
    assert_int_equal(r.cadres[0].visits, 4); /* v-1, v-2, v-4, v-6 */
    assert_int_equal(r.cadres[0].visits_30d, 1);
    assert_int_equal(r.cadres[0].paired, 2);
    assert_int_equal(r.cadres[0].paired_visited_30d, 1);
    assert_string_equal(r.cadres[1].user, "c2");
    assert_int_equal(r.cadres[1].visits, 1);
    assert_int_equal(r.cadres[1].visits_30d, 1);
    assert_int_equal(r.cadres[1].paired, 1);
    assert_int_equal(r.cadres[1].paired_visited_30d, 1);
    int64_t want[DB_REPORT_WEEKS] = {0};
    want[DB_REPORT_WEEKS - 1] = 1; /* v-1 */
    want[DB_REPORT_WEEKS - 2] = 1; /* v-3, 7 days ago: not in (now - 7d, now] */
    want[DB_REPORT_WEEKS - 5] = 1; /* v-6, 30 days ago */
    want[DB_REPORT_WEEKS - 6] = 1; /* v-2, 40 days ago */
    assert_memory_equal(r.weeks, want, sizeof want);
    db_report_clear(&r);
    assert_null(r.grids);
    db_report_clear(&r); /* twice is harmless */
}

static void test_report_scope(void **state)
{
    struct db *db = *state;
    char *g1[] = {"g1"}, *g3[] = {"g3"};
    struct db_scope s1 = scope_of(g1, 1), s3 = scope_of(g3, 1);
    struct db_report r;

    report_store(db);
    assert_int_equal(db_report(db, &s1, T_NOW, &r), 0);
    assert_int_equal(r.subjects, 3);
    check_counts(r.by_status, r.n_status, "community_rehab=1 completed=1 voluntary=1");
    check_counts(r.by_employment, r.n_employment, "employed=1 unemployed=1");
    assert_int_equal(r.eligible, 2);
    assert_int_equal(r.n_grids, 1);
    assert_string_equal(r.grids[0].grid, "g1");
    assert_int_equal(r.paired, 2);
    assert_int_equal(r.visited_30d, 1);
    check_counts(r.assistance, r.n_assistance, "placement=1 rehab=2");
    check_counts(r.assistance_30d, r.n_assistance_30d, "placement=1 rehab=1");
    assert_int_equal(r.n_cadres, 1); /* c2's grids are g2 and g3 */
    assert_string_equal(r.cadres[0].user, "c1");
    assert_int_equal(r.weeks[DB_REPORT_WEEKS - 2], 0);
    db_report_clear(&r);

    /* A grid with nothing in it: zeros, the grid itself, and its cadre. */
    assert_int_equal(db_report(db, &s3, T_NOW, &r), 0);
    assert_int_equal(r.subjects, 0);
    assert_int_equal(r.n_status, 0);
    assert_int_equal(r.n_grids, 1);
    assert_int_equal(r.n_cadres, 1);
    assert_string_equal(r.cadres[0].user, "c2");
    assert_int_equal(r.cadres[0].visits, 0);
    assert_int_equal(r.n_assistance, 0);
    db_report_clear(&r);

    assert_int_equal(db_report(db, NULL, T_NOW, NULL), DB_EMISUSE);
}

/* ---- the visits' facts (migration step 4, record.c) ---------------------- */

/* Every figure of the report for scope as one line of text, for comparing two reports. */
static void report_text(struct db *db, const struct db_scope *scope, char *buf, size_t size)
{
    struct db_report r;
    size_t k = 0;
    assert_int_equal(db_report(db, scope, T_NOW, &r), 0);
#define ADD(...) (k += (size_t)snprintf(buf + k, k < size ? size - k : 0, __VA_ARGS__))
    ADD("subjects %lld eligible %lld paired %lld visited %lld weeks", (long long)r.subjects,
        (long long)r.eligible, (long long)r.paired, (long long)r.visited_30d);
    for (int i = 0; i < DB_REPORT_WEEKS; i++)
        ADD(" %lld", (long long)r.weeks[i]);
    for (size_t i = 0; i < r.n_assistance; i++)
        ADD(" a:%s=%lld", r.assistance[i].key, (long long)r.assistance[i].n);
    for (size_t i = 0; i < r.n_assistance_30d; i++)
        ADD(" a30:%s=%lld", r.assistance_30d[i].key, (long long)r.assistance_30d[i].n);
    for (size_t i = 0; i < r.n_grids; i++)
        ADD(" g:%s=%lld/%lld/%lld", r.grids[i].grid, (long long)r.grids[i].subjects,
            (long long)r.grids[i].visited_30d, (long long)r.grids[i].paired);
    for (size_t i = 0; i < r.n_cadres; i++)
        ADD(" c:%s=%lld/%lld/%lld/%lld", r.cadres[i].user, (long long)r.cadres[i].visits,
            (long long)r.cadres[i].visits_30d, (long long)r.cadres[i].paired,
            (long long)r.cadres[i].paired_visited_30d);
#undef ADD
    assert_true(k < size);
    db_report_clear(&r);
}

/* One visit's row of visit_facts as "creator subject ms-or-null assist photos". */
static void facts_of(struct db *db, const char *id, char *buf, size_t size)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db->core.conn,
                                        "SELECT coalesce(creator, '-'), coalesce(subject, '-'),"
                                        " coalesce(ms, '-'), coalesce(assist, '-'), photos"
                                        " FROM visit_facts WHERE id = ?1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(buf, size, "%s %s %s %s %d", sqlite3_column_text(s, 0), sqlite3_column_text(s, 1),
             sqlite3_column_text(s, 2), sqlite3_column_text(s, 3), sqlite3_column_int(s, 4));
    sqlite3_finalize(s);
}

/*
 * The facts follow every kind of write: a visit edited (subject, date,
 * assistance) by another tablet keeps its maker, a tombstone leaves the
 * figures, a visit moved to another grid counts there, a tombstone
 * revived counts again for its maker. Then the same store taken back to
 * schema version 3 (no facts) and opened again is back-filled to the same
 * report, in every scope.
 */
static void test_visit_facts(void **state)
{
    (void)state;
    char path[256], err[256], body[512], line[160];
    char *g1[] = {"g1"}, *g2[] = {"g2"};
    struct db_scope s1 = scope_of(g1, 1), s2 = scope_of(g2, 1);
    const struct db_scope *scopes[] = {NULL, &s1, &s2};
    char before[3][1024], after[1024];
    struct db *db = NULL;
    struct db_report r;

    t_temp_path(path, sizeof path);
    assert_int_equal(db_open(path, DB_OPEN_CREATE, &db, err, sizeof err), 0);
    t_seed(db);
    report_store(db);
    facts_of(db, "v-5", line, sizeof line);
    assert_string_equal(line, "c1 - - - 0"); /* created as a tombstone */
    visit(db, "v-1", "s-2", "g1", "tab-c2", T_NOW - 3 * DAY, "\"assistance\":[\"fund\"],");
    put(db, "visits", "v-3", "g2", "tab-c2", 1, "{\"subject\":\"s-4\"}");
    visit(db, "v-2", "s-2", "g2", "tab-c1", T_NOW - 2 * DAY,
          "\"assistance\":[\"rehab\"],\"photos\":[\"sha256:aa\"],");
    visit(db, "v-5", "s-1", "g1", "tab-c2", T_NOW - DAY, "");

    facts_of(db, "v-1", line, sizeof line);
    snprintf(body, sizeof body, "c1 s-2 %lld [\"fund\"] 0", (long long)(T_NOW - 3 * DAY));
    assert_string_equal(line, body);
    facts_of(db, "v-3", line, sizeof line);
    assert_string_equal(line, "c2 - - - 0");
    facts_of(db, "v-2", line, sizeof line);
    snprintf(body, sizeof body, "c1 s-2 %lld [\"rehab\"] 1", (long long)(T_NOW - 2 * DAY));
    assert_string_equal(line, body);

    assert_int_equal(db_report(db, NULL, T_NOW, &r), 0);
    check_counts(r.assistance, r.n_assistance, "fund=1 rehab=1");
    check_counts(r.assistance_30d, r.n_assistance_30d, "fund=1 rehab=1");
    assert_int_equal(r.visited_30d, 2); /* s-1 (v-5) and s-2 (v-1, v-2); v-3 of s-4 is gone */
    assert_int_equal(r.grids[0].visited_30d, 2);
    assert_int_equal(r.grids[1].visited_30d, 0);
    assert_string_equal(r.cadres[0].user, "c1");
    assert_int_equal(r.cadres[0].visits, 5);     /* v-1, v-2, v-4, v-5, v-6 */
    assert_int_equal(r.cadres[0].visits_30d, 3); /* v-1, v-2, v-5 */
    assert_int_equal(r.cadres[1].visits, 0);
    assert_int_equal(r.weeks[DB_REPORT_WEEKS - 1], 3);
    assert_int_equal(r.weeks[DB_REPORT_WEEKS - 2], 0);
    assert_int_equal(r.weeks[DB_REPORT_WEEKS - 5], 1); /* v-6 */
    db_report_clear(&r);
    assert_int_equal(db_report(db, &s2, T_NOW, &r), 0);
    check_counts(r.assistance, r.n_assistance, "rehab=1"); /* v-2 moved to g2 */
    assert_int_equal(r.visited_30d, 0); /* s-4 was visited by v-3 only */
    db_report_clear(&r);
    for (int i = 0; i < 3; i++)
        report_text(db, scopes[i], before[i], sizeof before[i]);

    /* Back to the schema before step 4, then opened again: the back-fill. */
    exec_sql(db, "DROP TABLE visit_facts; DROP INDEX records_deleted; PRAGMA user_version = 3");
    db_close(db);
    db = NULL;
    assert_int_equal(db_open(path, 0, &db, err, sizeof err), 0);
    facts_of(db, "v-5", line, sizeof line);
    snprintf(body, sizeof body, "c1 s-1 %lld - 0", (long long)(T_NOW - DAY));
    assert_string_equal(line, body);
    for (int i = 0; i < 3; i++) {
        report_text(db, scopes[i], after, sizeof after);
        assert_string_equal(after, before[i]);
    }
    db_close(db);
    t_unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_devices_status, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_enrolled_after, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_scope, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_store_stats, t_setup_seeded, t_teardown),
        cmocka_unit_test(test_store_stats_file),
        cmocka_unit_test_setup_teardown(test_report, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_report_scope, t_setup_seeded, t_teardown),
        cmocka_unit_test(test_visit_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
