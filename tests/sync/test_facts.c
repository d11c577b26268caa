/*
 * test_facts.c — a visit's facts taken from its parsed fields in C
 * (sync/facts.c) equal what the store's SQL derives from its body
 * (db/record.c, migration step 4's back-fill): for each stored visit, the
 * facts sync__visit_facts gives are written by a re-put of the record with
 * them, then by a re-put without them, and the two visit_facts rows must be
 * the same. The visits cover fractions of a second rounded half up,
 * offsets, the ends of the calendar, arrays and their absence, an edit by
 * another user, and a tombstone.
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
#include "fixture.h"
#include "proto_record.h"
#include "sync_internal.h"

/* The row of visit_facts of id as "creator subject ms assist photos deleted". */
static void facts_row(struct fx *f, const char *id, char *buf, size_t size)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->db->core.conn,
                                        "SELECT coalesce(creator, '-'), coalesce(subject, '-'),"
                                        " coalesce(ms, '-'), coalesce(assist, '-'), photos, deleted"
                                        " FROM visit_facts WHERE id = ?1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(buf, size, "%s %s %s %s %d %d", sqlite3_column_text(s, 0),
             sqlite3_column_text(s, 1), sqlite3_column_text(s, 2), sqlite3_column_text(s, 3),
             sqlite3_column_int(s, 4), sqlite3_column_int(s, 5));
    sqlite3_finalize(s);
}

static void reput(struct fx *f, struct db_record *r, const struct db_visit_facts *facts)
{
    r->facts = facts;
    assert_int_equal(db_begin(f->db), 0);
    assert_int_equal(db_record_put(f->db, r), 0);
    assert_int_equal(db_commit(f->db), 0);
}

/*
 * Checks visit id both ways; returns what sync__visit_facts returned (-1:
 * it left the facts to the SQL). creator is the user to offer it.
 */
static int check_visit(struct fx *f, const char *id, const char *creator, char *row, size_t size)
{
    struct db_record r;
    struct proto_record *dec = NULL;
    struct proto_fault fault;
    struct db_visit_facts facts;
    char sql_row[512];

    assert_int_equal(fx_get(f, "visits", id, &r), 0);
    assert_int_equal(proto_record_decode(r.body, r.body_len, r.meta, r.meta_len, &dec, &fault), 0);
    struct sync__merged m = {.fields = dec->fields, .stamps = dec->stamps, .n = dec->n_fields,
                             .rev = r.rev, .deleted = r.deleted, .grid = r.grid};
    int rc = sync__visit_facts(&m, creator, &facts);
    if (rc == 0) {
        reput(f, &r, &facts);
        facts_row(f, id, row, size);
        reput(f, &r, NULL);
        facts_row(f, id, sql_row, sizeof sql_row);
        assert_string_equal(row, sql_row);
    } else {
        facts_row(f, id, row, size);
    }
    proto_record_free(dec);
    r.facts = NULL;
    db_record_clear(&r);
    return rc;
}

static const struct {
    const char *at;    /* visited_at */
    const char *extra; /* more fields */
    int given;         /* sync__visit_facts takes it (else the SQL does) */
    const char *ms;    /* the expected ms, as julianday() reads it */
} visits[] = {
    {"2026-11-28T09:30:00+08:00", "", 1, "1795829400000"},
    {"2026-01-01T00:00:00.1236Z", ",\"assistance\":[\"fund\",\"rehab\"]", 1, "1767225600124"},
    {"2026-01-01T00:00:00.0045Z", ",\"assistance\":[]", 1, "1767225600005"},
    {"2026-01-01T00:00:00.0044999Z", ",\"photos\":[]", 1, "1767225600004"},
    {"2026-01-01T00:00:00.0005Z", "", 1, "1767225600001"},
    {"2026-01-01T00:00:00.9996+08:00", "", 1, "1767196801000"},
    {"2026-03-01T12:00:00-05:30", ",\"photos\":[\"sha256:" "0123456789abcdef0123456789abcdef"
     "0123456789abcdef0123456789abcdef\"]", 1, "1772386200000"},
    {"2024-02-29T23:59:59+14:59", "", 1, "1709197259000"},
    {"0001-01-01T00:00:00+00:01", "", 1, "-62135596860000"},
    {"9999-12-31T23:59:59.999Z", "", 1, "253402300799999"},
    /* julianday() reads no instant here: the SQL decides, and says none. */
    {"9999-12-31T23:59:59.9996Z", "", 0, "-"},
    {"9999-12-31T23:59:59-00:01", "", 0, "-"},
    {"2026-01-01T00:00:00+15:00", "", 0, "-"},
};

static void test_facts_as_the_store_derives_them(void **state)
{
    struct fx *f = *state;
    const size_t n = sizeof visits / sizeof visits[0];
    char changes[16384], row[512], id[16], want[64];
    size_t k = 0;

    k += (size_t)snprintf(changes + k, sizeof changes - k, "[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(changes + k, sizeof changes - k,
                              "%s{\"seq\":%zu,\"collection\":\"visits\",\"id\":\"v-%02zu\","
                              "\"base\":0,\"hlc\":[%lld,0],\"fields\":{\"subject\":\"s-1\","
                              "\"grid\":\"g1\",\"visited_at\":\"%s\"%s}}",
                              i ? "," : "", i + 1, i, (long long)FX_NOW, visits[i].at,
                              visits[i].extra);
    snprintf(changes + k, sizeof changes - k, "]");
    struct fx_push p;
    fx_push(f, "dA", changes, &p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(p.res[i].status, PROTO_APPLIED);
    fx_push_free(&p);

    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "v-%02zu", i);
        int rc = check_visit(f, id, "c1", row, sizeof row);
        assert_int_equal(rc, visits[i].given ? 0 : -1);
        /* "c1 s-1 MS": the maker, the subject and the instant. */
        snprintf(want, sizeof want, "c1 s-1 %s ", visits[i].ms);
        if (strncmp(row, want, strlen(want)) != 0)
            fail_msg("%s: %s, want %s", id, row, want);
    }
    check_visit(f, "v-01", "c1", row, sizeof row);
    assert_string_equal(row, "c1 s-1 1767225600124 [\"fund\",\"rehab\"] 0 0");
    check_visit(f, "v-06", "c1", row, sizeof row);
    assert_string_equal(row, "c1 s-1 1772386200000 - 1 0");

    /* Edited by the supervisor's tablet: no creator offered, c1 stays. */
    fx_push(f, "sup",
            "[{\"seq\":1,\"collection\":\"visits\",\"id\":\"v-01\",\"base\":1,"
            "\"hlc\":[1764410000001,0],\"fields\":{\"visited_at\":\"2026-02-01T08:00:00Z\","
            "\"assistance\":[\"dibao\"],\"subject\":\"s-2\"}}]",
            &p);
    assert_int_equal(p.res[0].status, PROTO_APPLIED);
    fx_push_free(&p);
    assert_int_equal(check_visit(f, "v-01", NULL, row, sizeof row), 0);
    assert_string_equal(row, "c1 s-2 1769932800000 [\"dibao\"] 0 0");

    /* A tombstone keeps its maker and nothing else. */
    fx_push(f, "dA",
            "[{\"seq\":99,\"collection\":\"visits\",\"id\":\"v-06\",\"base\":1,"
            "\"hlc\":[1764410000002,0],\"fields\":{\"_deleted\":true}}]",
            &p);
    assert_int_equal(p.res[0].status, PROTO_APPLIED);
    fx_push_free(&p);
    assert_int_equal(check_visit(f, "v-06", NULL, row, sizeof row), 0);
    assert_string_equal(row, "c1 - - - 0 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_facts_as_the_store_derives_them, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
