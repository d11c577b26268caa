/*
 * test_scope.c — a record outside a device's grids is, for that device, a
 * record that does not exist (docs/protocol.md, "Scope").
 *
 * Two stores are made the same way, except that one of them also holds
 * records of grid g3 (cadre c2's). Device dA (cadre c1: g1, g2) then sends
 * the same changes to both; wherever the change would be refused for a
 * record that does not exist, the two acks must be equal byte for byte.
 * Where a change to an absent record would be applied (a create), the
 * hidden one is refused with answers that name nothing about the record
 * but its id, which the device sent. A visit may not name a subject of
 * another grid, and a duplicate never reports another grid's rev.
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

/* absent: no g3 records; hidden: the same store plus subject s-3 and visit v-3 of g3. */
struct pair {
    struct fx absent;
    struct fx hidden;
};

/* Pushes changes from device into f and returns the one ack it answers, as sent. */
static char *ack_of(struct fx *f, const char *device, const char *changes)
{
    struct fx_push p;
    struct proto_buf b;
    char *out;

    fx_push(f, device, changes, &p);
    proto_buf_init(&b, 0, PROTO_MAX_MESSAGE);
    /* A fixed cursor: the two stores' feeds differ by the g3 records. */
    assert_int_equal(proto_write_ack(&b, "t", "0", p.res, p.n), 0);
    out = strdup(proto_buf_data(&b));
    assert_non_null(out);
    proto_buf_free(&b);
    fx_push_free(&p);
    return out;
}

/* The same changes to both stores, which must be answered the same. */
static void same_answer(struct pair *pr, const char *device, const char *changes)
{
    char *a = ack_of(&pr->absent, device, changes);
    char *h = ack_of(&pr->hidden, device, changes);
    if (strcmp(a, h) != 0)
        fail_msg("a record of another grid is answered differently from one that does not "
                 "exist:\n  absent: %s\n  hidden: %s\n  for %s",
                 a, h, changes);
    free(a);
    free(h);
}

static void both(struct pair *pr, const char *device, const char *changes)
{
    struct fx_push p;
    fx_push(&pr->absent, device, changes, &p);
    fx_push_free(&p);
    fx_push(&pr->hidden, device, changes, &p);
    fx_push_free(&p);
}

static int setup(void **state)
{
    struct pair *pr = calloc(1, sizeof *pr);
    struct fx_push p;

    fx_open(&pr->absent);
    fx_open(&pr->hidden);
    /* What both stores hold: a subject of g1 made by another device of c1. */
    both(pr, "dB",
         "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[10,0],"
         "\"fields\":{\"name\":\"Zhang\",\"grid\":\"g1\"}}]");
    /* What only the hidden store holds: g3's subject s-3 at rev 3 and its visit v-3. */
    fx_push(&pr->hidden, "dX",
            "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,\"hlc\":[10,0],"
            "\"fields\":{\"name\":\"Wang\",\"grid\":\"g3\",\"phone\":\"13800000000\"}},"
            "{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":1,\"hlc\":[11,0],"
            "\"fields\":{\"status\":\"voluntary\"}},"
            "{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":2,\"hlc\":[12,0],"
            "\"fields\":{\"employer\":\"X\"}},"
            "{\"seq\":4,\"collection\":\"visits\",\"id\":\"v-3\",\"base\":0,\"hlc\":[13,0],"
            "\"fields\":{\"subject\":\"s-3\",\"grid\":\"g3\","
            "\"visited_at\":\"2026-11-28T09:30:00+08:00\"}}]",
            &p);
    for (size_t i = 0; i < p.n; i++)
        assert_int_equal(p.res[i].status, PROTO_APPLIED);
    fx_push_free(&p);
    *state = pr;
    return 0;
}

static int teardown(void **state)
{
    struct pair *pr = *state;
    fx_close(&pr->absent);
    fx_close(&pr->hidden);
    free(pr);
    return 0;
}

/* The g3 records as they were: nothing the probes sent reached them. */
static void hidden_untouched(struct pair *pr)
{
    struct db_record r;
    assert_int_equal(fx_get(&pr->hidden, "subjects", "s-3", &r), 0);
    assert_int_equal(r.rev, 3);
    assert_string_equal(r.grid, "g3");
    assert_int_equal(r.deleted, 0);
    assert_null(strstr(r.body, "Li"));
    db_record_clear(&r);
    assert_int_equal(fx_get(&pr->hidden, "visits", "v-3", &r), 0);
    assert_int_equal(r.rev, 1);
    db_record_clear(&r);
}

/* Every change a record that does not exist would refuse: the same answer, byte for byte. */
static void test_refusals_equal_absent(void **state)
{
    struct pair *pr = *state;

    /* An edit without the grid (the grid, its rev and its fields stay unsaid). */
    same_answer(pr, "dA",
                "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":3,"
                "\"hlc\":[20,0],\"fields\":{\"name\":\"Li\"}}]");
    /* A delete, and a restore. */
    same_answer(pr, "dA",
                "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":3,"
                "\"hlc\":[21,0],\"fields\":{\"_deleted\":true}}]");
    same_answer(pr, "dA",
                "[{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":1,"
                "\"hlc\":[22,0],\"fields\":{\"_deleted\":false}}]");
    /* An edit naming the record's real grid: refused for that grid, as for any id. */
    same_answer(pr, "dA",
                "[{\"seq\":4,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":3,"
                "\"hlc\":[23,0],\"fields\":{\"name\":\"Li\",\"grid\":\"g3\"}}]");
    /* A create missing a required field, and one with an invalid field. */
    same_answer(pr, "dA",
                "[{\"seq\":5,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,"
                "\"hlc\":[24,0],\"fields\":{\"grid\":\"g1\"}}]");
    same_answer(pr, "dA",
                "[{\"seq\":6,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,"
                "\"hlc\":[25,0],\"fields\":{\"name\":\"Li\",\"grid\":\"g1\",\"income\":-1}}]");
    /* Another collection: an edit of g3's visit. */
    same_answer(pr, "dA",
                "[{\"seq\":7,\"collection\":\"visits\",\"id\":\"v-3\",\"base\":1,"
                "\"hlc\":[26,0],\"fields\":{\"notes\":\"seen\"}}]");
    /* A seq used again, naming the hidden record: a duplicate with rev 0. */
    same_answer(pr, "dA",
                "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":3,"
                "\"hlc\":[27,0],\"fields\":{\"name\":\"Li\"}}]");
    /* A supervisor limited to g1 is answered like a cadre. */
    same_answer(pr, "supl",
                "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":3,"
                "\"hlc\":[28,0],\"fields\":{\"name\":\"Li\"}}]");
    hidden_untouched(pr);
}

/* Checks one result of a refused create or claim of a hidden id. */
static void expect_taken(struct fx *f, const char *device, const char *changes)
{
    struct fx_push p;
    char *ack;

    fx_push(f, device, changes, &p);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.res[0].status, PROTO_REJECTED);
    assert_int_equal(p.res[0].rev, 0);
    assert_string_equal(proto_code_name(p.res[0].error.code), "out_of_scope");
    assert_string_equal(p.res[0].error.field, "id");
    fx_push_free(&p);
    ack = ack_of(f, device, changes); /* now a duplicate: also rev 0 */
    assert_non_null(strstr(ack, "\"status\":\"duplicate\",\"rev\":0"));
    free(ack);
}

/*
 * A change that would create the record if it did not exist cannot be
 * answered the same way (the id is taken); the answer still says nothing
 * but that, and is the same for every hidden record.
 */
static void test_taken_id(void **state)
{
    struct pair *pr = *state;
    const char *create =
        "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,\"hlc\":[20,0],"
        "\"fields\":{\"name\":\"Li\",\"grid\":\"g1\"}}]";
    const char *claim = /* an edit that names one of dA's grids */
        "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":3,\"hlc\":[21,0],"
        "\"fields\":{\"grid\":\"g2\"}}]";
    const char *visit =
        "[{\"seq\":3,\"collection\":\"visits\",\"id\":\"v-3\",\"base\":0,\"hlc\":[22,0],"
        "\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\","
        "\"visited_at\":\"2026-11-28T09:30:00+08:00\"}}]";
    char *a, *b;
    struct fx_push p;

    expect_taken(&pr->hidden, "dA", create);
    expect_taken(&pr->hidden, "dA", claim);
    expect_taken(&pr->hidden, "dA", visit);
    /* The words: the id the device sent and its user, nothing of g3 or rev 3. */
    a = ack_of(&pr->hidden, "dB",
               "[{\"seq\":5,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,"
               "\"hlc\":[20,0],\"fields\":{\"name\":\"Li\",\"grid\":\"g1\"}}]");
    assert_null(strstr(a, "g3"));
    assert_null(strstr(a, "\"rev\":3"));
    assert_non_null(strstr(a, "\"status\":\"rejected\",\"rev\":0"));
    assert_non_null(strstr(a, "s-3"));
    /* The same words for a hidden record of another collection, grid and rev. */
    b = ack_of(&pr->hidden, "dC",
               "[{\"seq\":5,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,"
               "\"hlc\":[20,0],\"fields\":{\"name\":\"Li\",\"grid\":\"g1\"}}]");
    assert_string_equal(a, b);
    free(a);
    free(b);
    /* In the store without g3's records the same create is simply applied. */
    fx_push(&pr->absent, "dA", create, &p);
    assert_int_equal(p.res[0].status, PROTO_APPLIED);
    fx_push_free(&p);
    hidden_untouched(pr);
}

/* Pushes one visit naming subject from device; returns its result's status. */
static enum proto_status visit_of(struct fx *f, const char *device, int seq, const char *id,
                                  const char *subject, const char *grid, char *ack, size_t size)
{
    char changes[512];
    struct fx_push p;
    enum proto_status st;

    snprintf(changes, sizeof changes,
             "[{\"seq\":%d,\"collection\":\"visits\",\"id\":\"%s\",\"base\":0,\"hlc\":[30,0],"
             "\"fields\":{\"subject\":\"%s\",\"grid\":\"%s\","
             "\"visited_at\":\"2026-11-28T09:30:00+08:00\"}}]",
             seq, id, subject, grid);
    fx_push(f, device, changes, &p);
    st = p.res[0].status;
    if (st == PROTO_REJECTED) {
        assert_string_equal(proto_code_name(p.res[0].error.code), "out_of_scope");
        assert_string_equal(p.res[0].error.field, "subject");
        assert_int_equal(p.res[0].rev, 0);
    }
    fx_push_free(&p);
    if (ack != NULL) {
        char *a = ack_of(f, device, changes); /* the duplicate, for its words */
        snprintf(ack, size, "%s", a);
        free(a);
    }
    return st;
}

/*
 * A visit may name a subject of its device's grids, or one the server does
 * not have (records arrive in any order), but not a subject of another
 * grid — and the refusal names nothing about that subject.
 */
static void test_visit_subject(void **state)
{
    struct pair *pr = *state;
    struct fx *f = &pr->hidden;
    struct fx_push p;
    struct db_record r;

    assert_int_equal(visit_of(f, "dA", 1, "v-a", "s-1", "g1", NULL, 0), PROTO_APPLIED);
    assert_int_equal(visit_of(f, "dA", 2, "v-b", "s-404", "g1", NULL, 0), PROTO_APPLIED);
    assert_int_equal(visit_of(f, "dA", 3, "v-c", "s-3", "g2", NULL, 0), PROTO_REJECTED);
    assert_int_equal(fx_get(f, "visits", "v-c", &r), DB_ENOTFOUND);
    /* Moving a visit of dA's onto the hidden subject is refused too; its own rev is told. */
    fx_push(f, "dA",
            "[{\"seq\":4,\"collection\":\"visits\",\"id\":\"v-a\",\"base\":1,\"hlc\":[31,0],"
            "\"fields\":{\"subject\":\"s-3\"}}]",
            &p);
    assert_int_equal(p.res[0].status, PROTO_REJECTED);
    assert_string_equal(p.res[0].error.field, "subject");
    assert_int_equal(p.res[0].rev, 1);
    assert_null(strstr(p.res[0].error.message, "g3"));
    fx_push_free(&p);
    /* A subject created earlier in the same push is found. */
    fx_push(f, "dA",
            "[{\"seq\":5,\"collection\":\"subjects\",\"id\":\"s-5\",\"base\":0,\"hlc\":[32,0],"
            "\"fields\":{\"name\":\"Zhao\",\"grid\":\"g2\"}},"
            "{\"seq\":6,\"collection\":\"visits\",\"id\":\"v-5\",\"base\":0,\"hlc\":[33,0],"
            "\"fields\":{\"subject\":\"s-5\",\"grid\":\"g1\","
            "\"visited_at\":\"2026-11-28T09:30:00+08:00\"}}]",
            &p);
    assert_int_equal(p.res[0].status, PROTO_APPLIED);
    assert_int_equal(p.res[1].status, PROTO_APPLIED);
    fx_push_free(&p);
    /* A limited supervisor is refused; a supervisor of every grid is not. */
    assert_int_equal(visit_of(f, "supl", 1, "v-d", "s-3", "g1", NULL, 0), PROTO_REJECTED);
    assert_int_equal(visit_of(f, "sup", 1, "v-e", "s-3", "g3", NULL, 0), PROTO_APPLIED);

    /* The refusal's words are the same for every hidden subject. */
    char one[1024], two[1024];
    assert_int_equal(visit_of(f, "dB", 10, "v-f", "s-3", "g1", one, sizeof one),
                     PROTO_REJECTED);
    assert_int_equal(visit_of(f, "dX", 10, "v-g", "s-1", "g3", NULL, 0), PROTO_REJECTED);
    fx_push(f, "sup",
            "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":3,\"hlc\":[40,0],"
            "\"fields\":{\"_deleted\":true}}]",
            &p);
    assert_int_equal(p.res[0].status, PROTO_APPLIED);
    fx_push_free(&p);
    assert_int_equal(visit_of(f, "dC", 10, "v-f", "s-3", "g1", two, sizeof two),
                     PROTO_REJECTED);
    assert_string_equal(one, two);
    assert_null(strstr(one, "g3"));
}

/* Replaces the first "from" in s (which has room) by "to" of the same length. */
static void swap_id(char *s, const char *from, const char *to)
{
    char *p = strstr(s, from);
    assert_non_null(p);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(p, to, strlen(to));
}

/* A duplicate reports the rev of its record only while the record is in scope. */
static void test_duplicate_after_move(void **state)
{
    struct pair *pr = *state;
    struct fx *f = &pr->absent;
    const char *mine =
        "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-m\",\"base\":0,\"hlc\":[20,0],"
        "\"fields\":{\"name\":\"Sun\",\"grid\":\"g1\"}}]";
    const char *never =
        "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-z\",\"base\":0,\"hlc\":[20,0],"
        "\"fields\":{\"name\":\"Sun\",\"grid\":\"g1\"}}]";
    struct fx_push p;
    char *a, *b;

    fx_push(f, "dA", mine, &p);
    assert_int_equal(p.res[0].status, PROTO_APPLIED);
    fx_push_free(&p);
    a = ack_of(f, "dA", mine);
    assert_non_null(strstr(a, "\"status\":\"duplicate\",\"rev\":1"));
    free(a);
    /* A supervisor moves it to g3 and edits it there. */
    fx_push(f, "sup",
            "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-m\",\"base\":1,\"hlc\":[21,0],"
            "\"fields\":{\"grid\":\"g3\"}},"
            "{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-m\",\"base\":2,\"hlc\":[22,0],"
            "\"fields\":{\"phone\":\"1\"}}]",
            &p);
    assert_int_equal(p.res[1].rev, 3);
    fx_push_free(&p);
    /* Now the re-sent change is answered like one naming an id that never existed. */
    a = ack_of(f, "dA", mine);
    b = ack_of(f, "dA", never);
    swap_id(b, "s-z", "s-m");
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "\"status\":\"duplicate\",\"rev\":0"));
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals_equal_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_taken_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_visit_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_after_move, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
