/*
 * test_resolve.c — a supervisor resolves a conflict entry (sync_resolve) on
 * a :memory: store: choosing the winner, the loser or a value of their
 * own; a value the schema refuses gets the fault a push would; a closed
 * entry, an unknown one and one outside the supervisor's grids; and the
 * store converging: a pull gets the chosen value, an older push does not
 * undo it, a newer one wins as usual, and the resolution opens no conflict.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "proto_record.h"

/* Pushes one subjects change from device; returns its status. */
static enum proto_status push1(struct fx *f, const char *device, int seq, const char *id,
                               int base, long long ms, const char *fields,
                               struct proto_fault *fault)
{
    char json[512];
    struct fx_push p;
    snprintf(json, sizeof json,
             "[{\"seq\":%d,\"collection\":\"subjects\",\"id\":\"%s\",\"base\":%d,"
             "\"hlc\":[%lld,0],\"fields\":{%s}}]",
             seq, id, base, ms, fields);
    fx_push(f, device, json, &p);
    enum proto_status st = p.res[0].status;
    if (fault)
        *fault = p.res[0].error;
    fx_push_free(&p);
    return st;
}

/*
 * Conflict 1 on s-1's name in grid: dA made it "Zhang" (rev 1), dB wrote
 * "Li" at li_ms (rev 2), dC wrote "Wang" at 150 from rev 1 (rev 3). The
 * record holds "Li" (the winner), "Wang" lost.
 */
static void make_conflict(struct fx *f, const char *grid, long long li_ms)
{
    char fields[64];
    snprintf(fields, sizeof fields, "\"name\":\"Zhang\",\"grid\":\"%s\"", grid);
    assert_int_equal(push1(f, "dA", 1, "s-1", 0, 100, fields, NULL), PROTO_APPLIED);
    assert_int_equal(push1(f, "dB", 1, "s-1", 1, li_ms, "\"name\":\"Li\"", NULL), PROTO_APPLIED);
    assert_int_equal(push1(f, "dC", 1, "s-1", 1, 150, "\"name\":\"Wang\"", NULL),
                     PROTO_CONFLICT);
}

struct outcome {
    int rc;
    struct proto_fault fault;
    int64_t rev, history_id;
    char grid_after[16];
};

/* Resolves as the user of device, in one transaction, the way the server's writer does. */
static struct outcome resolve(struct fx *f, const char *device, int64_t id,
                              enum sync_choice choose, const char *value, const char *reason)
{
    struct db_principal who;
    struct sync_touched t;
    struct outcome o = {.rev = -1, .history_id = -1};
    struct sync_resolution r = {
        .conflict_id = id,
        .choose = choose,
        .value_json = value,
        .value_len = value ? strlen(value) : 0,
        .reason = reason,
    };

    fx_principal(f, device, &who);
    assert_int_equal(db_begin(f->db), 0);
    o.rc = sync_resolve(&f->rules, f->db, &who, &r, f->now, &o.fault, &o.rev, &o.history_id, &t);
    if (o.rc < 0) {
        db_rollback(f->db);
        fail_msg("sync_resolve: %s (%s)", sync_strerror(o.rc), db_errmsg(f->db));
    }
    assert_int_equal(db_commit(f->db), 0);
    if (o.rc == SYNC_RESOLVED) {
        assert_null(t.grid_before);
        snprintf(o.grid_after, sizeof o.grid_after, "%s", t.grid_after ? t.grid_after : "");
    } else {
        assert_null(t.grid_after);
    }
    sync_touched_clear(&t, 1);
    db_principal_clear(&who);
    return o;
}

/* The record's name (its JSON) and rev, and the stamp of its name field. */
static void check_name(struct fx *f, const char *want_json, int64_t want_rev,
                       const char *want_device, int64_t want_ms, int64_t want_counter)
{
    struct db_record r;
    struct proto_record *dec = NULL;
    struct proto_fault fault;
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_int_equal(r.rev, want_rev);
    assert_int_equal(
        proto_record_decode(r.body, r.body_len, r.meta, r.meta_len, &dec, &fault), 0);
    size_t i = 0;
    while (i < dec->n_fields && strcmp(dec->fields[i].name, "name") != 0)
        i++;
    assert_true(i < dec->n_fields);
    assert_int_equal(dec->fields[i].value.json_len, strlen(want_json));
    assert_memory_equal(dec->fields[i].value.json, want_json, strlen(want_json));
    if (want_device) {
        assert_string_equal(dec->stamps[i].device, want_device);
        assert_int_equal(dec->stamps[i].hlc.ms, want_ms);
        assert_int_equal(dec->stamps[i].hlc.counter, want_counter);
    }
    proto_record_free(dec);
    db_record_clear(&r);
}

static int64_t open_conflicts(struct fx *f)
{
    int64_t n = -1;
    assert_int_equal(db_conflicts_count(f->db, DB_CONFLICT_OPEN, NULL, &n), 0);
    return n;
}

/* The history row of a resolution: "@user", seq = the entry, applied, the new rev. */
static int check_history(void *ctx, int64_t id, const struct db_history *h)
{
    const struct outcome *o = ctx;
    if (id != o->history_id)
        return 0;
    assert_string_equal(h->device, "@s1");
    assert_int_equal(h->seq, 1);
    assert_int_equal(h->outcome, DB_APPLIED);
    assert_int_equal(h->rev, o->rev);
    assert_string_equal(h->collection, "subjects");
    assert_string_equal(h->record_id, "s-1");
    assert_non_null(strstr(h->change, "\"fields\":{\"name\":\"Li\"}"));
    return 5;
}

static void test_choose_winner(void **state)
{
    struct fx *f = *state;
    struct db_conflict c;
    int64_t next;

    make_conflict(f, "g1", 200);
    assert_int_equal(open_conflicts(f), 1);
    struct outcome o = resolve(f, "sup", 1, SYNC_CHOOSE_WINNER, NULL, "checked by phone");
    assert_int_equal(o.rc, SYNC_RESOLVED);
    assert_int_equal(o.rev, 4);
    assert_string_equal(o.grid_after, "g1");
    /* Stamped at the server's clock, which is later than every stamp of the field. */
    check_name(f, "\"Li\"", 4, "@s1", f->now, 0);
    assert_int_equal(open_conflicts(f), 0);
    assert_int_equal(db_conflict_get(f->db, 1, &c), 0);
    assert_int_equal(c.status, DB_CONFLICT_RESOLVED);
    assert_string_equal(c.resolved_by, "s1");
    assert_int_equal(c.resolved_ms, f->now);
    assert_string_equal(c.reason, "checked by phone");
    assert_string_equal(c.resolution, "\"Li\"");
    db_conflict_clear(&c);
    assert_int_equal(db_history_page(f->db, NULL, 0, 100, check_history, &o, &next), 5);
    int64_t cursor = 0;
    assert_int_equal(db_cursor(f->db, &cursor), 0);
    assert_int_equal(cursor, o.history_id);
}

static void test_choose_loser_and_value(void **state)
{
    struct fx *f = *state;
    struct db_conflict c;

    make_conflict(f, "g1", 200);
    struct outcome o = resolve(f, "sup", 1, SYNC_CHOOSE_LOSER, NULL, NULL);
    assert_int_equal(o.rc, SYNC_RESOLVED);
    check_name(f, "\"Wang\"", 4, "@s1", f->now, 0);
    assert_int_equal(db_conflict_get(f->db, 1, &c), 0);
    assert_null(c.reason);
    assert_string_equal(c.resolution, "\"Wang\"");
    db_conflict_clear(&c);

    /* A new conflict on the same field, then a value of the supervisor's own. */
    assert_int_equal(push1(f, "dD", 1, "s-1", 1, 300, "\"name\":\"Zhou\"", NULL),
                     PROTO_CONFLICT);
    assert_int_equal(open_conflicts(f), 1);
    o = resolve(f, "supl", 2, SYNC_CHOOSE_VALUE, "\"Chen Jing\"", "the ID card says so");
    assert_int_equal(o.rc, SYNC_RESOLVED);
    assert_int_equal(o.rev, 6);
    check_name(f, "\"Chen Jing\"", 6, "@s2", f->now, 1);
    assert_int_equal(db_conflict_get(f->db, 2, &c), 0);
    assert_string_equal(c.resolved_by, "s2");
    assert_string_equal(c.resolution, "\"Chen Jing\"");
    db_conflict_clear(&c);
    assert_int_equal(open_conflicts(f), 0);
}

static void test_stamp_after_future_candidate(void **state)
{
    struct fx *f = *state;
    /* dB's clock runs 5 s ahead (within the skew allowed): the resolution goes after it. */
    make_conflict(f, "g1", (long long)FX_NOW + 5000);
    struct outcome o = resolve(f, "sup", 1, SYNC_CHOOSE_LOSER, NULL, NULL);
    assert_int_equal(o.rc, SYNC_RESOLVED);
    check_name(f, "\"Wang\"", 4, "@s1", FX_NOW + 5000, 1);
}

static void test_invalid_value(void **state)
{
    struct fx *f = *state;
    struct proto_fault pushed;
    struct db_conflict c;
    char reason[520];

    make_conflict(f, "g1", 200);
    /* The same fault as a tablet's push of that value. */
    assert_int_equal(push1(f, "dA", 2, "s-1", 3, 400, "\"name\":42", &pushed), PROTO_REJECTED);
    struct outcome o = resolve(f, "sup", 1, SYNC_CHOOSE_VALUE, "42", NULL);
    assert_int_equal(o.rc, SYNC_RESOLVE_INVALID);
    assert_int_equal(o.fault.code, pushed.code);
    assert_int_equal(o.fault.code, PROTO_CODE_INVALID_FIELD);
    assert_string_equal(o.fault.field, pushed.field);
    assert_string_equal(o.fault.message, pushed.message);
    assert_int_equal(o.rev, -1);
    assert_int_equal(o.history_id, -1);

    /* Not one JSON value, or text that tries to set another field. */
    static const char *const bad[] = {"{", "", "\"x\",\"grid\":\"g3\"", "\"x\"}},{\"seq\":9",
                                      "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = resolve(f, "sup", 1, SYNC_CHOOSE_VALUE, bad[i], NULL);
        assert_int_equal(o.rc, SYNC_RESOLVE_INVALID);
        assert_int_equal(o.fault.code, PROTO_CODE_INVALID_FIELD);
        assert_string_equal(o.fault.field, "name");
    }
    /* A required field cannot be cleared. */
    o = resolve(f, "sup", 1, SYNC_CHOOSE_VALUE, "null", NULL);
    assert_int_equal(o.rc, SYNC_RESOLVE_INVALID);
    assert_string_equal(o.fault.field, "name");
    memset(reason, 'x', 501);
    reason[501] = '\0';
    o = resolve(f, "sup", 1, SYNC_CHOOSE_WINNER, NULL, reason);
    assert_int_equal(o.rc, SYNC_RESOLVE_INVALID);
    assert_string_equal(o.fault.field, "reason");

    /* Nothing was written: the entry is open and the record as it was. */
    check_name(f, "\"Li\"", 3, "dB", 200, 0);
    assert_int_equal(db_conflict_get(f->db, 1, &c), 0);
    assert_int_equal(c.status, DB_CONFLICT_OPEN);
    db_conflict_clear(&c);
    reason[500] = '\0';
    assert_int_equal(resolve(f, "sup", 1, SYNC_CHOOSE_WINNER, NULL, reason).rc, SYNC_RESOLVED);
}

static void test_closed_missing_and_scope(void **state)
{
    struct fx *f = *state;

    make_conflict(f, "g2", 200);
    assert_int_equal(resolve(f, "sup", 99, SYNC_CHOOSE_WINNER, NULL, NULL).rc,
                     SYNC_RESOLVE_NOT_FOUND);
    /* s2 sees only g1: the entry of a g2 record does not exist for them. */
    assert_int_equal(resolve(f, "supl", 1, SYNC_CHOOSE_WINNER, NULL, NULL).rc,
                     SYNC_RESOLVE_NOT_FOUND);
    assert_int_equal(open_conflicts(f), 1);
    assert_int_equal(resolve(f, "sup", 1, SYNC_CHOOSE_WINNER, NULL, NULL).rc, SYNC_RESOLVED);
    assert_int_equal(resolve(f, "sup", 1, SYNC_CHOOSE_LOSER, NULL, NULL).rc,
                     SYNC_RESOLVE_CLOSED);
    /* Closed or not, out of scope stays not found. */
    assert_int_equal(resolve(f, "supl", 1, SYNC_CHOOSE_WINNER, NULL, NULL).rc,
                     SYNC_RESOLVE_NOT_FOUND);
    check_name(f, "\"Li\"", 4, "@s1", f->now, 0);
}

static int collect_name(void *ctx, const struct db_record *r, int removed)
{
    char *out = ctx;
    assert_false(removed);
    const char *name = strstr(r->body, "\"name\":");
    assert_non_null(name);
    snprintf(out, 64, "%s rev %lld %.12s", r->id, (long long)r->rev, name + 7);
    return 0;
}

static void test_converges(void **state)
{
    struct fx *f = *state;
    struct db_principal cadre;
    char seen[64] = "";
    int64_t before = 0, next = 0;
    int more = 1;

    make_conflict(f, "g1", 200);
    assert_int_equal(db_cursor(f->db, &before), 0);
    struct outcome o = resolve(f, "sup", 1, SYNC_CHOOSE_VALUE, "\"Chen\"", NULL);
    assert_int_equal(o.rc, SYNC_RESOLVED);

    /* A tablet that pulls from where it was, or from nothing, gets the chosen value. */
    fx_principal(f, "dB", &cadre);
    assert_int_equal(db_pull(f->db, before, &cadre.scope, 100, collect_name, seen, &next, &more),
                     0);
    assert_string_equal(seen, "s-1 rev 4 \"Chen\"}");
    assert_int_equal(next, o.history_id);
    seen[0] = '\0';
    assert_int_equal(db_pull(f->db, 0, &cadre.scope, 100, collect_name, seen, &next, &more), 0);
    assert_string_equal(seen, "s-1 rev 4 \"Chen\"}");
    db_principal_clear(&cadre);

    /* A tablet that had not seen it pushes an older edit: it loses, and says so. */
    assert_int_equal(push1(f, "dB", 2, "s-1", 2, 300, "\"name\":\"Zhou\"", NULL),
                     PROTO_CONFLICT);
    check_name(f, "\"Chen\"", 5, "@s1", f->now, 0);
    /* One that saw it edits later: an ordinary change, no conflict. */
    assert_int_equal(open_conflicts(f), 1);
    assert_int_equal(push1(f, "dC", 2, "s-1", 5, (long long)FX_NOW + 1000, "\"name\":\"Sun\"",
                           NULL),
                     PROTO_APPLIED);
    check_name(f, "\"Sun\"", 6, "dC", FX_NOW + 1000, 0);
    assert_int_equal(open_conflicts(f), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_choose_winner, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_choose_loser_and_value, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stamp_after_future_candidate, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_value, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_closed_missing_and_scope, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_converges, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
