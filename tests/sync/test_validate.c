/*
 * test_validate.c — every rejection code of §2.2, with the field it names,
 * through a real push (parse → sync_apply_push → ack result), plus the
 * order of the checks, the scope helper and sync_strerror.
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

#define SUBJ(seq, id, extra) \
    "[{\"seq\":" #seq ",\"collection\":\"subjects\",\"id\":\"" id "\",\"base\":0," \
    "\"hlc\":[1764409000000,0],\"fields\":{\"name\":\"Zhang\",\"grid\":\"g1\"" extra "}}]"
#define VISIT(seq, id, extra) \
    "[{\"seq\":" #seq ",\"collection\":\"visits\",\"id\":\"" id "\",\"base\":0," \
    "\"hlc\":[1764409000000,0],\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\"," \
    "\"visited_at\":\"2026-11-28T09:30:00+08:00\"" extra "}}]"

/* Pushes one change from device and checks its one result. */
static void expect(struct fx *f, const char *device, const char *changes,
                   enum proto_status status, enum proto_code code, const char *field,
                   const char *in_message)
{
    struct fx_push p;
    fx_push(f, device, changes, &p);
    assert_int_equal(p.n, 1);
    if (p.res[0].status != status)
        fail_msg("status %s, expected %s (%s: %s) for %s", proto_status_name(p.res[0].status),
                 proto_status_name(status), p.res[0].error.field, p.res[0].error.message,
                 changes);
    if (status == PROTO_REJECTED) {
        assert_string_equal(proto_code_name(p.res[0].error.code), proto_code_name(code));
        assert_string_equal(p.res[0].error.field, field);
        if (in_message != NULL && strstr(p.res[0].error.message, in_message) == NULL)
            fail_msg("message \"%s\" does not mention \"%s\"", p.res[0].error.message,
                     in_message);
        /* A sentence that names the field it blames. */
        if (field[0] != '\0' && strstr(p.res[0].error.message, field) == NULL)
            fail_msg("message \"%s\" does not name the field %s", p.res[0].error.message, field);
    }
    fx_push_free(&p);
}

#define REJECT(f, dev, json, code, field, words) \
    expect(f, dev, json, PROTO_REJECTED, PROTO_CODE_##code, field, words)
#define OK(f, dev, json) expect(f, dev, json, PROTO_APPLIED, PROTO_CODE_NONE, "", NULL)

static void test_bad_id(void **state)
{
    struct fx *f = *state;
    struct proto_msg *msg = fx_parse_push(SUBJ(1, "s-1", ""));
    struct proto_change c = msg->u.push.changes[0];
    struct proto_fault fault = {0};
    struct db_principal who;

    fx_principal(f, "dA", &who);
    assert_int_equal(sync_validate(&f->rules, &who, &c, NULL, f->now, &fault), 0);
    c.id = "has space";
    assert_int_equal(sync_validate(&f->rules, &who, &c, NULL, f->now, &fault), 1);
    assert_int_equal(fault.code, PROTO_CODE_BAD_ID);
    assert_string_equal(fault.field, "id");
    assert_non_null(strstr(fault.message, "has space"));
    c.id = "x123456789x123456789x123456789x123456789x123456789x123456789abcde"; /* 65 */
    assert_int_equal(sync_validate(&f->rules, &who, &c, NULL, f->now, &fault), 1);
    assert_int_equal(fault.code, PROTO_CODE_BAD_ID);
    c.id = NULL;
    assert_int_equal(sync_validate(&f->rules, &who, &c, NULL, f->now, &fault), 1);
    assert_int_equal(fault.code, PROTO_CODE_BAD_ID);
    db_principal_clear(&who);
    proto_msg_free(msg);
}

static void test_unknown_collection(void **state)
{
    REJECT(*state, "dA",
           "[{\"seq\":1,\"collection\":\"cars\",\"id\":\"c-1\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"grid\":\"g1\"}}]",
           UNKNOWN_COLLECTION, "collection", "cars");
}

static void test_unknown_field(void **state)
{
    REJECT(*state, "dA", SUBJ(1, "s-1", ",\"nickname\":\"Z\""), UNKNOWN_FIELD, "nickname",
           "subjects");
}

/* True when s is well-formed UTF-8 (no cut sequences). */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 0;
        if (n == 0)
            return 0;
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        }
        p += n;
    }
    return 1;
}

static char *repeat(const char *unit, size_t times, const char *pre, const char *post)
{
    size_t n = strlen(pre) + strlen(unit) * times + strlen(post) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    strcpy(s, pre);
    for (size_t i = 0; i < times; i++)
        strcat(s, unit);
    strcat(s, post);
    return s;
}

/* Builds a subjects change whose extra fields are the JSON text extra. */
static char *subj_with(int seq, const char *extra)
{
    size_t n = strlen(extra) + 256;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n,
             "[{\"seq\":%d,\"collection\":\"subjects\",\"id\":\"s-%d\",\"base\":0,"
             "\"hlc\":[1764409000000,0],\"fields\":{\"name\":\"Zhang\",\"grid\":\"g1\"%s}}]",
             seq, seq, extra);
    return s;
}

/*
 * A long non-ASCII field name (protocol/ would refuse it; sync_validate may
 * be called by others) is cut to the fault's size at a character boundary.
 */
static void test_fault_stays_utf8(void **state)
{
    struct fx *f = *state;
    struct proto_msg *msg = fx_parse_push(SUBJ(1, "s-1", ",\"phone\":\"1\""));
    struct proto_change c = msg->u.push.changes[0];
    struct proto_field fields[8];
    struct proto_fault fault = {0};
    struct db_principal who;
    char *name = repeat("字", 50, "", ""); /* 150 bytes: more than field[96] */

    assert_true(c.n_fields <= 8);
    memcpy(fields, c.fields, c.n_fields * sizeof fields[0]);
    for (size_t i = 0; i < c.n_fields; i++) {
        if (strcmp(fields[i].name, "phone") == 0)
            fields[i].name = name;
    }
    c.fields = fields;
    fx_principal(f, "dA", &who);
    assert_int_equal(sync_validate(&f->rules, &who, &c, NULL, f->now, &fault), 1);
    assert_int_equal(fault.code, PROTO_CODE_UNKNOWN_FIELD);
    assert_true(utf8_ok(fault.field));
    assert_true(utf8_ok(fault.message));
    assert_int_equal(strlen(fault.field), 93); /* 31 whole characters of 3 bytes */
    assert_memory_equal(fault.field, name, 93);
    db_principal_clear(&who);
    proto_msg_free(msg);
    free(name);
}

static void test_invalid_string_and_text(void **state)
{
    struct fx *f = *state;
    char *v;

    /* 200 code points of a three-byte character fit a string; 201 ASCII do not. */
    v = repeat("旭", 200, ",\"employer\":\"", "\"");
    char *c = subj_with(1, v);
    OK(f, "dA", c);
    free(c), free(v);
    v = repeat("x", 201, ",\"employer\":\"", "\"");
    c = subj_with(2, v);
    REJECT(f, "dA", c, INVALID_FIELD, "employer", "200");
    free(c), free(v);
    REJECT(f, "dA", SUBJ(3, "s-3", ",\"employer\":5"), INVALID_FIELD, "employer", "string");

    v = repeat("x", 10000, ",\"family_notes\":\"", "\"");
    c = subj_with(4, v);
    OK(f, "dA", c);
    free(c), free(v);
    v = repeat("x", 10001, ",\"family_notes\":\"", "\"");
    c = subj_with(5, v);
    REJECT(f, "dA", c, INVALID_FIELD, "family_notes", "10000");
    free(c), free(v);
}

static void test_invalid_number_bool_enum(void **state)
{
    struct fx *f = *state;
    REJECT(f, "dA", SUBJ(1, "s-1", ",\"income\":\"5\""), INVALID_FIELD, "income", "number");
    REJECT(f, "dA", SUBJ(2, "s-2", ",\"income\":-1"), INVALID_FIELD, "income", "minimum");
    OK(f, "dA", SUBJ(3, "s-3", ",\"income\":0"));
    OK(f, "dA", SUBJ(4, "s-4", ",\"income\":2500.5"));
    REJECT(f, "dA", SUBJ(5, "s-5", ",\"disability_cert\":\"yes\""), INVALID_FIELD,
           "disability_cert", "true or false");
    OK(f, "dA", SUBJ(6, "s-6", ",\"disability_cert\":false"));
    REJECT(f, "dA", SUBJ(7, "s-7", ",\"status\":\"jailed\""), INVALID_FIELD, "status",
           "community_rehab");
    REJECT(f, "dA", SUBJ(8, "s-8", ",\"dibao\":1"), INVALID_FIELD, "dibao", "one of");
    OK(f, "dA", SUBJ(9, "s-9", ",\"status\":\"voluntary\",\"dibao\":\"approved\""));
}

static void test_invalid_date_datetime_id(void **state)
{
    struct fx *f = *state;
    REJECT(f, "dA", VISIT(1, "v-1", ",\"follow_up\":\"2026-02-30\""), INVALID_FIELD, "follow_up",
           "YYYY-MM-DD");
    REJECT(f, "dA", VISIT(2, "v-2", ",\"follow_up\":\"2026-2-3\""), INVALID_FIELD, "follow_up",
           NULL);
    OK(f, "dA", VISIT(3, "v-3", ",\"follow_up\":\"2028-02-29\""));
    REJECT(f, "dA",
           "[{\"seq\":4,\"collection\":\"visits\",\"id\":\"v-4\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\",\"visited_at\":\"2026-11-28 09:30\"}}]",
           INVALID_FIELD, "visited_at", "RFC 3339");
    REJECT(f, "dA",
           "[{\"seq\":5,\"collection\":\"visits\",\"id\":\"v-5\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\",\"visited_at\":\"2026-11-28T09:30:00\"}}]",
           INVALID_FIELD, "visited_at", "offset");
    OK(f, "dA",
       "[{\"seq\":6,\"collection\":\"visits\",\"id\":\"v-6\",\"base\":0,\"hlc\":[1,0],"
       "\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\",\"visited_at\":\"2026-11-28T01:30:00Z\"}}]");
    REJECT(f, "dA",
           "[{\"seq\":7,\"collection\":\"visits\",\"id\":\"v-7\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"subject\":\"s 1\",\"grid\":\"g1\",\"visited_at\":\"2026-11-28T01:30:00Z\"}}]",
           INVALID_FIELD, "subject", "id");
}

static void test_invalid_arrays(void **state)
{
    struct fx *f = *state;
    static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char buf[512];

    snprintf(buf, sizeof buf, VISIT(1, "v-1", ",\"photos\":[\"sha256:%s\"]"), hex);
    OK(f, "dA", buf);
    snprintf(buf, sizeof buf, VISIT(2, "v-2", ",\"photos\":[\"sha256:%s\",\"sha256:%.63sA\"]"),
             hex, hex);
    REJECT(f, "dA", buf, INVALID_FIELD, "photos", "photos[1]");
    snprintf(buf, sizeof buf, VISIT(3, "v-3", ",\"photos\":[\"%s\"]"), hex);
    REJECT(f, "dA", buf, INVALID_FIELD, "photos", "sha256:");
    REJECT(f, "dA", VISIT(4, "v-4", ",\"assistance\":[\"rehab\",\"training\",\"x\"]"),
           INVALID_FIELD, "assistance", "assistance[2]: \"x\" is not one of rehab, training");
    REJECT(f, "dA", VISIT(5, "v-5", ",\"assistance\":\"rehab\""), INVALID_FIELD, "assistance",
           "array");
    REJECT(f, "dA", VISIT(6, "v-6", ",\"assistance\":[null]"), INVALID_FIELD, "assistance",
           "assistance[0]");
    OK(f, "dA", VISIT(7, "v-7", ",\"assistance\":[]"));

    char *items = repeat("\"fund\",", 100, ",\"assistance\":[", "\"fund\"]"); /* 101 */
    char *c = malloc(strlen(items) + 512);
    assert_non_null(c);
    sprintf(c,
            "[{\"seq\":8,\"collection\":\"visits\",\"id\":\"v-8\",\"base\":0,\"hlc\":[1,0],"
            "\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\","
            "\"visited_at\":\"2026-11-28T01:30:00Z\"%s}}]",
            items);
    REJECT(f, "dA", c, INVALID_FIELD, "assistance", "100");
    free(items);
    items = repeat("\"fund\",", 99, ",\"assistance\":[", "\"fund\"]"); /* 100 */
    sprintf(c,
            "[{\"seq\":9,\"collection\":\"visits\",\"id\":\"v-9\",\"base\":0,\"hlc\":[1,0],"
            "\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\","
            "\"visited_at\":\"2026-11-28T01:30:00Z\"%s}}]",
            items);
    OK(f, "dA", c);
    free(items);
    free(c);
}

static void test_null_and_deleted(void **state)
{
    struct fx *f = *state;
    struct db_record r;

    REJECT(f, "dA",
           "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"name\":null,\"grid\":\"g1\"}}]",
           INVALID_FIELD, "name", "required");
    OK(f, "dA", SUBJ(2, "s-2", ",\"employer\":\"Acme\""));
    /* null clears an optional field; it is not a rejection. */
    OK(f, "dA",
       "[{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-2\",\"base\":1,"
       "\"hlc\":[1764409000001,0],\"fields\":{\"employer\":null}}]");
    assert_int_equal(fx_get(f, "subjects", "s-2", &r), 0);
    assert_null(strstr(r.body, "Acme"));
    assert_int_equal(r.rev, 2);
    db_record_clear(&r);
    REJECT(f, "dA",
           "[{\"seq\":4,\"collection\":\"subjects\",\"id\":\"s-2\",\"base\":2,\"hlc\":[1,0],"
           "\"fields\":{\"grid\":null}}]",
           INVALID_FIELD, "grid", NULL);
    REJECT(f, "dA", SUBJ(5, "s-5", ",\"_deleted\":\"yes\""), INVALID_FIELD, "_deleted",
           "true or false");
    REJECT(f, "dA", SUBJ(6, "s-6", ",\"_deleted\":null"), INVALID_FIELD, "_deleted", NULL);
}

static void test_clock_skew_boundary(void **state)
{
    struct fx *f = *state;
    char buf[512];
    snprintf(buf, sizeof buf,
             "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,"
             "\"hlc\":[%lld,0],\"fields\":{\"name\":\"Zhang\",\"grid\":\"g1\"}}]",
             (long long)(FX_NOW + SYNC_DEFAULT_MAX_SKEW_MS));
    OK(f, "dA", buf);
    snprintf(buf, sizeof buf,
             "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-2\",\"base\":0,"
             "\"hlc\":[%lld,0],\"fields\":{\"name\":\"Zhang\",\"grid\":\"g1\"}}]",
             (long long)(FX_NOW + SYNC_DEFAULT_MAX_SKEW_MS + 1));
    REJECT(f, "dA", buf, CLOCK_SKEW, "hlc", "600.001 s");

    /* A tighter limit from the rules. */
    f->rules.max_skew_ms = 1000;
    snprintf(buf, sizeof buf,
             "[{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,"
             "\"hlc\":[%lld,0],\"fields\":{\"name\":\"Zhang\",\"grid\":\"g1\"}}]",
             (long long)(FX_NOW + 1001));
    REJECT(f, "dA", buf, CLOCK_SKEW, "hlc", NULL);
}

static void test_missing_field(void **state)
{
    struct fx *f = *state;
    REJECT(f, "dA",
           "[{\"seq\":1,\"collection\":\"visits\",\"id\":\"v-1\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"subject\":\"s-1\",\"grid\":\"g1\"}}]",
           MISSING_FIELD, "visited_at", "base 0");
    /* The first missing field in schema order (name before grid). */
    REJECT(f, "dA",
           "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"status\":\"voluntary\"}}]",
           MISSING_FIELD, "name", NULL);
    /* base > 0 for a record the server lacks: the scope field is still needed. */
    REJECT(f, "dA",
           "[{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-9\",\"base\":4,\"hlc\":[1,0],"
           "\"fields\":{\"status\":\"voluntary\"}}]",
           MISSING_FIELD, "grid", "s-9");
    OK(f, "dA",
       "[{\"seq\":4,\"collection\":\"subjects\",\"id\":\"s-8\",\"base\":4,\"hlc\":[1,0],"
       "\"fields\":{\"status\":\"voluntary\",\"grid\":\"g2\"}}]");
    OK(f, "dA",
       "[{\"seq\":5,\"collection\":\"subjects\",\"id\":\"s-8\",\"base\":1,\"hlc\":[2,0],"
       "\"fields\":{\"status\":\"completed\"}}]");
}

static void test_out_of_scope(void **state)
{
    struct fx *f = *state;
    struct db_record before, after;
    struct fx_push p;

    REJECT(f, "dA",
           "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-1\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"name\":\"Zhang\",\"grid\":\"g3\"}}]",
           OUT_OF_SCOPE, "grid", "g3");
    assert_int_equal(fx_get(f, "subjects", "s-1", &before), DB_ENOTFOUND);

    /*
     * A record of g3 (c2's grid) cannot be edited by c1's device, not even
     * without grid: for c1 it does not exist (test_scope.c compares the
     * answers byte for byte)...
     */
    OK(f, "dX",
       "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,\"hlc\":[1,0],"
       "\"fields\":{\"name\":\"Wang\",\"grid\":\"g3\"}}]");
    assert_int_equal(fx_get(f, "subjects", "s-3", &before), 0);
    REJECT(f, "dA",
           "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":1,\"hlc\":[5,0],"
           "\"fields\":{\"name\":\"Li\"}}]",
           MISSING_FIELD, "grid", "s-3");
    /* ...nor moved into its grids: its id is taken. */
    REJECT(f, "dA",
           "[{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":1,\"hlc\":[5,0],"
           "\"fields\":{\"grid\":\"g1\"}}]",
           OUT_OF_SCOPE, "id", "s-3");
    assert_int_equal(fx_get(f, "subjects", "s-3", &after), 0);
    assert_int_equal(after.rev, before.rev);
    assert_int_equal(after.seq, before.seq);
    assert_string_equal(after.body, before.body);
    assert_string_equal(after.meta, before.meta);
    assert_string_equal(after.grid, "g3");
    db_record_clear(&after);

    /* The rejected seq is used: sending it again, now valid, is a duplicate. */
    fx_push(f, "dA",
            "[{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-4\",\"base\":0,\"hlc\":[6,0],"
            "\"fields\":{\"name\":\"Li\",\"grid\":\"g1\"}}]",
            &p);
    assert_int_equal(p.res[0].status, PROTO_DUPLICATE);
    assert_int_equal(p.res[0].rev, 0);
    fx_push_free(&p);
    assert_int_equal(fx_get(f, "subjects", "s-4", &after), DB_ENOTFOUND);

    /* A supervisor limited to g1 is limited like a cadre. */
    REJECT(f, "supl",
           "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-5\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"name\":\"Zhang\",\"grid\":\"g2\"}}]",
           OUT_OF_SCOPE, "grid", "g2");
    REJECT(f, "supl",
           "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":1,\"hlc\":[9,0],"
           "\"fields\":{\"name\":\"Zhao\"}}]",
           MISSING_FIELD, "grid", "s-3");
    /* A supervisor of all grids may write anywhere. */
    OK(f, "sup",
       "[{\"seq\":1,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":1,\"hlc\":[9,0],"
       "\"fields\":{\"name\":\"Zhao\"}}]");
    db_record_clear(&before);
}

/* When a change breaks several rules, the first in contract order is reported. */
static void test_check_order(void **state)
{
    struct fx *f = *state;
    /* unknown_field before invalid_field, though the invalid one sorts first. */
    REJECT(f, "dA", SUBJ(1, "s-1", ",\"address\":5,\"zzz\":1"), UNKNOWN_FIELD, "zzz", NULL);
    /* invalid_field before clock_skew and missing_field. */
    REJECT(f, "dA",
           "[{\"seq\":2,\"collection\":\"subjects\",\"id\":\"s-2\",\"base\":0,"
           "\"hlc\":[9999999999999,0],\"fields\":{\"income\":-4}}]",
           INVALID_FIELD, "income", NULL);
    /* clock_skew before missing_field. */
    REJECT(f, "dA",
           "[{\"seq\":3,\"collection\":\"subjects\",\"id\":\"s-3\",\"base\":0,"
           "\"hlc\":[9999999999999,0],\"fields\":{\"income\":4}}]",
           CLOCK_SKEW, "hlc", NULL);
    /* missing_field before out_of_scope. */
    REJECT(f, "dA",
           "[{\"seq\":4,\"collection\":\"subjects\",\"id\":\"s-4\",\"base\":0,\"hlc\":[1,0],"
           "\"fields\":{\"grid\":\"g3\"}}]",
           MISSING_FIELD, "name", NULL);
}

static void test_scope_helper(void **state)
{
    (void)state;
    char g1[] = "g1", g2[] = "g2";
    char *grids[] = {g1, g2};
    struct db_scope limited = {.all = 0, .grids = grids, .n = 2};
    struct db_scope none = {.all = 0, .grids = NULL, .n = 0};
    struct db_scope all = {.all = 1, .grids = NULL, .n = 0};

    assert_true(sync_scope_allows(&limited, "g1"));
    assert_true(sync_scope_allows(&limited, "g2"));
    assert_false(sync_scope_allows(&limited, "g3"));
    assert_false(sync_scope_allows(&limited, "g"));
    assert_false(sync_scope_allows(&limited, NULL));
    assert_false(sync_scope_allows(&none, "g1"));
    assert_true(sync_scope_allows(&all, "anything"));
    assert_false(sync_scope_allows(NULL, "g1"));
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(sync_strerror(0), "ok");
    assert_string_equal(sync_strerror(SYNC_ENOMEM), "out of memory");
    assert_non_null(strstr(sync_strerror(SYNC_ESTORE), "decoded"));
    assert_string_equal(sync_strerror(DB_ENOTFOUND), db_strerror(DB_ENOTFOUND));
    assert_string_equal(sync_strerror(DB_EIO), db_strerror(DB_EIO));
    assert_string_equal(sync_strerror(PROTO_EINVALID), proto_strerror(PROTO_EINVALID));
    assert_string_equal(sync_strerror(-12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_id, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_collection, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_field, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_stays_utf8, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_string_and_text, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_number_bool_enum, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_date_datetime_id, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arrays, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_null_and_deleted, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clock_skew_boundary, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_missing_field, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_scope, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_check_order, fx_setup, fx_teardown),
        cmocka_unit_test(test_scope_helper),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
