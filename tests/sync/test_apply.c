/*
 * test_apply.c — the push pipeline of sync_apply_push on a :memory: store:
 * outcomes, seq dedupe, revs, tombstones, conflicts, grid moves and pull,
 * and the pure merge rule (equal stamps, device tie-break).
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
#include "sync_internal.h"

/* A subjects change as JSON; fields is the inside of the fields object. */
static char *chg(int seq, const char *id, int base, long long ms, int counter, const char *fields)
{
    char *s = malloc(strlen(fields) + 200);
    assert_non_null(s);
    sprintf(s,
            "{\"seq\":%d,\"collection\":\"subjects\",\"id\":\"%s\",\"base\":%d,"
            "\"hlc\":[%lld,%d],\"fields\":{%s}}",
            seq, id, base, ms, counter, fields);
    return s;
}

/* Pushes one subjects change and returns its status; *rev gets its rev. */
static enum proto_status push1(struct fx *f, const char *device, int seq, const char *id, int base,
                               long long ms, int counter, const char *fields, int64_t *rev,
                               char *conflicts, size_t size)
{
    char *c = chg(seq, id, base, ms, counter, fields);
    char *arr = malloc(strlen(c) + 3);
    struct fx_push p;
    assert_non_null(arr);
    sprintf(arr, "[%s]", c);
    fx_push(f, device, arr, &p);
    enum proto_status st = p.res[0].status;
    if (rev)
        *rev = p.res[0].rev;
    if (conflicts) {
        conflicts[0] = '\0';
        for (size_t i = 0; i < p.res[0].n_conflicts; i++)
            snprintf(conflicts + strlen(conflicts), size - strlen(conflicts), "%s%s",
                     i ? "," : "", p.res[0].conflicts[i]);
    }
    if (st == PROTO_REJECTED)
        print_message("rejected: %s: %s\n", p.res[0].error.field, p.res[0].error.message);
    fx_push_free(&p);
    free(arr);
    free(c);
    return st;
}

static void test_create_and_update(void **state)
{
    struct fx *f = *state;
    struct db_record r;
    int64_t rev, seq;

    assert_int_equal(push1(f, "dA", 1, "s-1", 0, 100, 0, "\"name\":\"Zhang\",\"grid\":\"g1\"",
                           &rev, NULL, 0),
                     PROTO_APPLIED);
    assert_int_equal(rev, 1);
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_int_equal(r.rev, 1);
    assert_string_equal(r.grid, "g1");
    assert_int_equal(r.deleted, 0);
    assert_non_null(strstr(r.body, "\"name\":\"Zhang\""));
    assert_non_null(strstr(r.meta, "dA"));
    assert_true(r.seq > 0);
    seq = r.seq;
    db_record_clear(&r);

    assert_int_equal(push1(f, "dA", 2, "s-1", 1, 200, 0, "\"employer\":\"旭峰农牧\"", &rev, NULL, 0),
                     PROTO_APPLIED);
    assert_int_equal(rev, 2);
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_int_equal(r.rev, 2);
    assert_true(r.seq > seq);
    assert_non_null(strstr(r.body, "旭峰农牧"));
    assert_non_null(strstr(r.body, "Zhang"));
    db_record_clear(&r);

    /* A change whose fields all lose still counts: rev counts merged changes. */
    assert_int_equal(push1(f, "dB", 1, "s-1", 2, 150, 0, "\"employer\":\"Old\"", &rev, NULL, 0),
                     PROTO_APPLIED);
    assert_int_equal(rev, 3);
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_non_null(strstr(r.body, "旭峰农牧"));
    assert_null(strstr(r.body, "Old"));
    db_record_clear(&r);
}

static void test_batch_with_rejection_and_duplicates(void **state)
{
    struct fx *f = *state;
    struct fx_push p;
    int64_t max_seq = -1;

    fx_push(f, "dA",
            "[{\"seq\":10,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
            "\"fields\":{\"name\":\"A\",\"grid\":\"g1\"}},"
            "{\"seq\":11,\"collection\":\"subjects\",\"id\":\"s-2\",\"base\":0,\"hlc\":[2,0],"
            "\"fields\":{\"name\":\"B\",\"grid\":\"g1\",\"income\":-1}},"
            "{\"seq\":12,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":1,\"hlc\":[3,0],"
            "\"fields\":{\"phone\":\"123\"}},"
            "{\"seq\":12,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":1,\"hlc\":[3,0],"
            "\"fields\":{\"phone\":\"123\"}},"
            "{\"seq\":9,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,\"hlc\":[4,0],"
            "\"fields\":{\"name\":\"C\",\"grid\":\"g1\"}}]",
            &p);
    assert_int_equal(p.n, 5);
    assert_int_equal(p.res[0].status, PROTO_APPLIED);
    assert_int_equal(p.res[0].seq, 10);
    assert_string_equal(p.res[0].id, "s-1");
    assert_int_equal(p.res[1].status, PROTO_REJECTED);
    assert_string_equal(p.res[1].error.field, "income");
    assert_int_equal(p.res[2].status, PROTO_APPLIED);
    assert_int_equal(p.res[2].rev, 2);
    assert_int_equal(p.res[3].status, PROTO_DUPLICATE);
    assert_int_equal(p.res[3].rev, 2);
    assert_int_equal(p.res[4].status, PROTO_DUPLICATE);
    assert_int_equal(p.res[4].rev, 0);
    fx_push_free(&p);
    assert_int_equal(db_device_max_seq(f->db, "dA", &max_seq), 0);
    assert_int_equal(max_seq, 12);

    /* Re-sending the whole push after a lost ack: all duplicates, current revs. */
    fx_push(f, "dA",
            "[{\"seq\":10,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
            "\"fields\":{\"name\":\"A\",\"grid\":\"g1\"}},"
            "{\"seq\":11,\"collection\":\"subjects\",\"id\":\"s-2\",\"base\":0,\"hlc\":[2,0],"
            "\"fields\":{\"name\":\"B\",\"grid\":\"g1\",\"income\":-1}}]",
            &p);
    assert_int_equal(p.res[0].status, PROTO_DUPLICATE);
    assert_int_equal(p.res[0].rev, 2);
    assert_int_equal(p.res[1].status, PROTO_DUPLICATE);
    assert_int_equal(p.res[1].rev, 0);
    fx_push_free(&p);
}

/* The committed max_seq is read from the store, not from a stale principal. */
static void test_stale_principal(void **state)
{
    struct fx *f = *state;
    struct db_principal who;
    struct proto_msg *msg = fx_parse_push(
        "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
        "\"fields\":{\"name\":\"A\",\"grid\":\"g1\"}}]");
    struct proto_result res[1];

    fx_principal(f, "dA", &who);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(db_begin(f->db), 0);
        assert_int_equal(
            sync_apply_push(&f->rules, f->db, &who, msg->u.push.changes, 1, f->now, res, NULL),
            0);
        assert_int_equal(db_commit(f->db), 0);
        assert_int_equal(res[0].status, round == 0 ? PROTO_APPLIED : PROTO_DUPLICATE);
        assert_int_equal(res[0].rev, 1);
        sync_results_clear(res, 1);
    }
    db_principal_clear(&who);
    proto_msg_free(msg);
}

/*
 * sync_apply_push reports each stored change's grid after, and
 * the grid before only when the record moved; nothing for a duplicate or a
 * rejected change.
 */
static void test_touched_grids(void **state)
{
    struct fx *f = *state;
    struct db_principal who;
    struct proto_msg *msg = fx_parse_push(
        "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
        "\"fields\":{\"name\":\"A\",\"grid\":\"g1\"}},"
        "{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":1,\"hlc\":[2,0],"
        "\"fields\":{\"name\":\"B\"}},"
        "{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":2,\"hlc\":[3,0],"
        "\"fields\":{\"grid\":\"g2\"}},"
        "{\"seq\":4,\"collection\":\"subjects\",\"id\":\"s-2\",\"base\":0,\"hlc\":[4,0],"
        "\"fields\":{\"name\":\"C\",\"grid\":\"g3\"}},"
        "{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":2,\"hlc\":[3,0],"
        "\"fields\":{\"grid\":\"g2\"}}]");
    struct proto_result res[5];
    struct sync_touched t[5];

    fx_principal(f, "dA", &who);
    assert_int_equal(db_begin(f->db), 0);
    assert_int_equal(
        sync_apply_push(&f->rules, f->db, &who, msg->u.push.changes, 5, f->now, res, t), 0);
    assert_int_equal(db_commit(f->db), 0);
    /* New record: only the grid after. */
    assert_int_equal(res[0].status, PROTO_APPLIED);
    assert_null(t[0].grid_before);
    assert_string_equal(t[0].grid_after, "g1");
    /* An edit that keeps the grid. */
    assert_int_equal(res[1].status, PROTO_APPLIED);
    assert_null(t[1].grid_before);
    assert_string_equal(t[1].grid_after, "g1");
    /* A move within the cadre's grids pokes both. */
    assert_int_equal(res[2].status, PROTO_APPLIED);
    assert_string_equal(t[2].grid_before, "g1");
    assert_string_equal(t[2].grid_after, "g2");
    /* Outside the cadre's grids: rejected, nothing touched. */
    assert_int_equal(res[3].status, PROTO_REJECTED);
    assert_null(t[3].grid_before);
    assert_null(t[3].grid_after);
    /* A duplicate touches nothing. */
    assert_int_equal(res[4].status, PROTO_DUPLICATE);
    assert_null(t[4].grid_before);
    assert_null(t[4].grid_after);
    sync_touched_clear(t, 5);
    assert_null(t[2].grid_after);
    sync_results_clear(res, 5);
    db_principal_clear(&who);
    proto_msg_free(msg);
}

/* A change protocol/ found malformed is rejected with protocol's fault. */
static void test_malformed_change(void **state)
{
    struct fx *f = *state;
    struct db_principal who;
    struct proto_msg *msg = fx_parse_push(
        "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
        "\"fields\":{\"name\":\"A\",\"grid\":\"g1\"}},"
        "{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":1,\"hlc\":[2,0],"
        "\"fields\":{\"name\":\"B\"}}]");
    struct proto_change c[2] = {msg->u.push.changes[0], msg->u.push.changes[1]};
    struct proto_result res[3];
    struct db_record r;
    int64_t max_seq = 0;

    c[0].fault.code = PROTO_CODE_BAD_MESSAGE;
    snprintf(c[0].fault.field, sizeof c[0].fault.field, "changes[0].hlc");
    snprintf(c[0].fault.message, sizeof c[0].fault.message, "changes[0].hlc: broken");
    fx_principal(f, "dA", &who);
    assert_int_equal(db_begin(f->db), 0);
    assert_int_equal(sync_apply_push(&f->rules, f->db, &who, c, 2, f->now, res, NULL), 0);
    assert_int_equal(db_commit(f->db), 0);
    assert_int_equal(res[0].status, PROTO_REJECTED);
    assert_int_equal(res[0].error.code, PROTO_CODE_BAD_MESSAGE);
    assert_string_equal(res[0].error.field, "changes[0].hlc");
    /* Nothing applied, so the next change meets no record and no grid. */
    assert_int_equal(res[1].status, PROTO_REJECTED);
    assert_int_equal(res[1].error.code, PROTO_CODE_MISSING_FIELD);
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), DB_ENOTFOUND);
    assert_int_equal(db_device_max_seq(f->db, "dA", &max_seq), 0);
    assert_int_equal(max_seq, 2);
    sync_results_clear(res, 2);

    /* A malformed duplicate reports rev 0 without looking anything up. */
    c[1] = c[0];
    c[1].seq = 1;
    assert_int_equal(db_begin(f->db), 0);
    assert_int_equal(sync_apply_push(&f->rules, f->db, &who, &c[1], 1, f->now, res, NULL), 0);
    assert_int_equal(db_commit(f->db), 0);
    assert_int_equal(res[0].status, PROTO_DUPLICATE);
    assert_int_equal(res[0].rev, 0);
    sync_results_clear(res, 1);
    db_principal_clear(&who);
    proto_msg_free(msg);
}

static void test_tombstone_and_restore(void **state)
{
    struct fx *f = *state;
    struct db_record r;
    int64_t rev;

    assert_int_equal(push1(f, "dA", 1, "s-1", 0, 100, 0,
                           "\"name\":\"Zhang\",\"grid\":\"g1\",\"phone\":\"1\"", &rev, NULL, 0),
                     PROTO_APPLIED);
    assert_int_equal(push1(f, "dA", 2, "s-1", 1, 200, 0, "\"_deleted\":true", &rev, NULL, 0),
                     PROTO_APPLIED);
    assert_int_equal(rev, 2);
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_int_equal(r.deleted, 1);
    assert_int_equal(r.rev, 2);
    assert_null(strstr(r.body, "_deleted")); /* a stamp in meta, not a body field */
    assert_non_null(strstr(r.meta, "_deleted"));
    assert_non_null(strstr(r.body, "Zhang")); /* the tombstone keeps the fields */
    db_record_clear(&r);

    /* An older restore loses to the newer delete... */
    assert_int_equal(push1(f, "dB", 1, "s-1", 2, 150, 0, "\"_deleted\":false", &rev, NULL, 0),
                     PROTO_APPLIED);
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_int_equal(r.deleted, 1);
    assert_int_equal(r.rev, 3);
    db_record_clear(&r);
    /* ...a newer one brings the record back, with an edit in the same change. */
    assert_int_equal(
        push1(f, "dB", 2, "s-1", 3, 300, 0, "\"_deleted\":false,\"phone\":\"2\"", &rev, NULL, 0),
        PROTO_APPLIED);
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_int_equal(r.deleted, 0);
    assert_int_equal(r.rev, 4);
    assert_non_null(strstr(r.body, "\"phone\":\"2\""));
    db_record_clear(&r);
}

static void test_conflicts(void **state)
{
    struct fx *f = *state;
    char names[128];
    int64_t rev;

    assert_int_equal(push1(f, "dA", 1, "s-1", 0, 100, 0,
                           "\"name\":\"Zhang\",\"grid\":\"g1\",\"phone\":\"0\"", &rev, NULL, 0),
                     PROTO_APPLIED);
    /* Two devices edit from rev 1: the second sees the first's edit as concurrent. */
    assert_int_equal(push1(f, "dB", 1, "s-1", 1, 200, 0, "\"employer\":\"X\",\"phone\":\"1\"",
                           &rev, names, sizeof names),
                     PROTO_APPLIED);
    assert_int_equal(push1(f, "dC", 1, "s-1", 1, 150, 0,
                           "\"employer\":\"Y\",\"phone\":\"1\",\"status\":\"voluntary\"", &rev,
                           names, sizeof names),
                     PROTO_CONFLICT);
    assert_string_equal(names, "employer"); /* phone agrees, status is new */
    assert_int_equal(rev, 3);
    /* The loser stays out of the record. */
    struct db_record r;
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_non_null(strstr(r.body, "\"employer\":\"X\""));
    db_record_clear(&r);

    /* A device that saw rev 3 edits without conflict; so does one editing its own value. */
    assert_int_equal(push1(f, "dC", 2, "s-1", 3, 400, 0, "\"employer\":\"Z\"", &rev, names,
                           sizeof names),
                     PROTO_APPLIED);
    assert_int_equal(push1(f, "dC", 3, "s-1", 1, 500, 0, "\"employer\":\"W\"", &rev, names,
                           sizeof names),
                     PROTO_APPLIED);
    /* The winning value wins regardless of arrival: a concurrent newer edit still conflicts. */
    assert_int_equal(push1(f, "dD", 1, "s-1", 4, 600, 0, "\"employer\":\"V\",\"name\":\"Li\"",
                           &rev, names, sizeof names),
                     PROTO_CONFLICT);
    assert_string_equal(names, "employer");
    assert_int_equal(rev, 6);
}

static int collect(void *ctx, const struct db_record *r, int removed)
{
    char *out = ctx;
    sprintf(out + strlen(out), "%s/%s:%s%s;", r->collection, r->id, removed ? "removed" : "rev",
            removed ? "" : (r->deleted ? "deleted" : ""));
    return 0;
}

static void test_move_between_grids(void **state)
{
    struct fx *f = *state;
    struct db_principal cadre;
    char seen[512] = "";
    int64_t rev, cursor = 0, next = 0;
    int more = 1;

    assert_int_equal(push1(f, "dA", 1, "s-1", 0, 100, 0, "\"name\":\"Zhang\",\"grid\":\"g1\"",
                           &rev, NULL, 0),
                     PROTO_APPLIED);
    assert_int_equal(db_cursor(f->db, &cursor), 0);
    /* The cadre may move it within the cadre's grids, not out of them. */
    assert_int_equal(push1(f, "dA", 2, "s-1", 1, 200, 0, "\"grid\":\"g3\"", &rev, NULL, 0),
                     PROTO_REJECTED);
    assert_int_equal(push1(f, "sup", 1, "s-1", 1, 300, 0, "\"grid\":\"g3\"", &rev, NULL, 0),
                     PROTO_APPLIED);
    struct db_record r;
    assert_int_equal(fx_get(f, "subjects", "s-1", &r), 0);
    assert_string_equal(r.grid, "g3");
    assert_int_equal(r.rev, 2);
    db_record_clear(&r);

    fx_principal(f, "dA", &cadre);
    assert_int_equal(db_pull(f->db, cursor, &cadre.scope, 100, collect, seen, &next, &more), 0);
    assert_string_equal(seen, "subjects/s-1:removed;");
    assert_int_equal(more, 0);
    db_principal_clear(&cadre);

    /* From the beginning a cadre of g1,g2 has nothing to see of it at all, or a removal. */
    seen[0] = '\0';
    fx_principal(f, "dX", &cadre); /* c2: g3 */
    assert_int_equal(db_pull(f->db, 0, &cadre.scope, 100, collect, seen, &next, &more), 0);
    assert_string_equal(seen, "subjects/s-1:rev;");
    db_principal_clear(&cadre);

    /* An edit that keeps the grid records no move. */
    assert_int_equal(push1(f, "sup", 2, "s-1", 2, 400, 0, "\"phone\":\"9\"", &rev, NULL, 0),
                     PROTO_APPLIED);
    fx_principal(f, "dA", &cadre);
    seen[0] = '\0';
    assert_int_equal(db_pull(f->db, next, &cadre.scope, 100, collect, seen, &next, &more), 0);
    assert_string_equal(seen, "");
    db_principal_clear(&cadre);
}

/* ---- the pure merge ------------------------------------------------------ */

static void test_stamp_order(void **state)
{
    (void)state;
    struct proto_hlc a = {100, 0}, b = {100, 1}, c = {101, 0};
    assert_true(sync__stamp_after(&b, "dA", &a, "dZ"));
    assert_true(sync__stamp_after(&c, "dA", &b, "dZ"));
    assert_true(sync__stamp_after(&a, "dB", &a, "dA"));
    assert_false(sync__stamp_after(&a, "dA", &a, "dB"));
    assert_false(sync__stamp_after(&a, "dA", &a, "dA")); /* equal never replaces */
    assert_true(sync__stamp_after(&a, "da", &a, "dZ"));  /* bytewise: 'a' > 'Z' */
}

/* Two devices with the same (ms, counter): the larger device id wins in either order. */
static void test_device_breaks_ties(void **state)
{
    struct fx *f = *state;
    for (int order = 0; order < 2; order++) {
        char id[8];
        struct db_record r;
        int64_t rev;
        snprintf(id, sizeof id, "t-%d", order);
        assert_int_equal(push1(f, "dA", 1 + order * 10, id, 0, 100, 0,
                               "\"name\":\"Zhang\",\"grid\":\"g1\"", &rev, NULL, 0),
                         PROTO_APPLIED);
        const char *first = order ? "dC" : "dB", *second = order ? "dB" : "dC";
        assert_int_equal(push1(f, first, 1 + order * 10, id, 1, 500, 7,
                               order ? "\"phone\":\"C\"" : "\"phone\":\"B\"", &rev, NULL, 0),
                         PROTO_APPLIED);
        assert_int_equal(push1(f, second, 1 + order * 10, id, 1, 500, 7,
                               order ? "\"phone\":\"B\"" : "\"phone\":\"C\"", &rev, NULL, 0),
                         PROTO_CONFLICT);
        assert_int_equal(fx_get(f, "subjects", id, &r), 0);
        assert_non_null(strstr(r.body, "\"phone\":\"C\""));
        db_record_clear(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_update, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_with_rejection_and_duplicates, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_principal, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_change, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_and_restore, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_conflicts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_move_between_grids, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_touched_grids, fx_setup, fx_teardown),
        cmocka_unit_test(test_stamp_order),
        cmocka_unit_test_setup_teardown(test_device_breaks_ties, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
