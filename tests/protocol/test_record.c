/*
 * test_record.c — the stored record encoding: exact bytes, decode/encode
 * round trips, determinism whatever order the input came in, "_deleted"
 * living in meta only, and corrupt stored text reported, not trusted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "proto_record.h"

/* Parses fields_json as the fields of a one-change push, to get proto_fields. */
static struct proto_msg *fields_of(const char *fields_json)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"type\":\"push\",\"changes\":[{\"seq\":1,\"collection\":\"c\",\"id\":\"a\","
             "\"base\":0,\"hlc\":[1,0],\"fields\":%s}]}",
             fields_json);
    struct proto_msg *m = NULL;
    struct proto_fault f;
    assert_int_equal(proto_parse_client(text, strlen(text), &m, &f, NULL), 0);
    assert_int_equal(m->u.push.changes[0].fault.code, PROTO_CODE_NONE);
    return m;
}

static const char BODY[] =
    "{\"assistance\":[\"placement\",\"fund\"],\"employer\":\"旭峰农牧\",\"income\":3500.5,"
    "\"notes\":\"a \\\"quote\\\"\\n\"}";
static const char META[] = "{\"_deleted\":[1764409000000,3,\"tab-2\",4,true],"
                           "\"assistance\":[1764409000000,0,\"tab-1\",1],"
                           "\"employer\":[1764409100000,0,\"tab-2\",2],"
                           "\"income\":[1764409100000,1,\"tab-2\",2],"
                           "\"notes\":[5,0,\"tab-1\",3]}";

static void encode_exact(void **state)
{
    (void)state;
    /* Sent in another order and with whitespace: the push sorts, the encoding is canonical. */
    struct proto_msg *m = fields_of("{ \"notes\" : \"a \\\"quote\\\"\\n\", \"income\": 3500.5,"
                                    " \"employer\":\"\\u65ed\\u5cf0\\u519c\\u7267\","
                                    "\"_deleted\": true, \"assistance\":[\"placement\", \"fund\"]}");
    const struct proto_change *c = &m->u.push.changes[0];
    assert_int_equal(c->n_fields, 5);
    struct proto_stamp stamps[5] = {
        {{1764409000000, 3}, "tab-2", 4}, {{1764409000000, 0}, "tab-1", 1},
        {{1764409100000, 0}, "tab-2", 2}, {{1764409100000, 1}, "tab-2", 2},
        {{5, 0}, "tab-1", 3},
    };
    struct proto_buf body, meta;
    proto_buf_init(&body, 0, 4096);
    proto_buf_init(&meta, 0, 4096);
    assert_int_equal(proto_record_encode(c->fields, stamps, 5, &body, &meta), 0);
    assert_string_equal(proto_buf_data(&body), BODY);
    assert_string_equal(proto_buf_data(&meta), META);
    proto_buf_free(&body);
    proto_buf_free(&meta);
    proto_msg_free(m);
}

static void decode_round_trip(void **state)
{
    (void)state;
    struct proto_record *r = NULL;
    struct proto_fault f;
    assert_int_equal(proto_record_decode(BODY, strlen(BODY), META, strlen(META), &r, &f), 0);
    assert_int_equal(r->n_fields, 5);
    assert_string_equal(r->fields[0].name, "_deleted");
    assert_int_equal(r->fields[0].value.type, PROTO_BOOL);
    assert_true(r->fields[0].value.boolean);
    assert_string_equal(r->stamps[0].device, "tab-2");
    assert_int_equal(r->stamps[0].rev, 4);
    assert_string_equal(r->fields[1].name, "assistance");
    assert_int_equal(r->fields[1].value.n_items, 2);
    assert_string_equal(r->fields[1].value.items[1].str, "fund");
    assert_string_equal(r->fields[2].value.str, "旭峰农牧");
    assert_int_equal(r->fields[2].value.chars, 4);
    assert_int_equal(r->stamps[3].hlc.counter, 1);
    assert_true(r->fields[3].value.number == 3500.5);
    assert_int_equal(r->stamps[4].hlc.ms, 5);
    /* Encoding the decoded record gives the same bytes, every time. */
    for (int round = 0; round < 2; round++) {
        struct proto_buf body, meta;
        proto_buf_init(&body, 0, 4096);
        proto_buf_init(&meta, 0, 4096);
        assert_int_equal(proto_record_encode(r->fields, r->stamps, r->n_fields, &body, &meta), 0);
        assert_string_equal(proto_buf_data(&body), BODY);
        assert_string_equal(proto_buf_data(&meta), META);
        proto_buf_free(&body);
        proto_buf_free(&meta);
    }
    proto_record_free(r);

    /* Fields only: no _deleted, no stamps. */
    assert_int_equal(proto_fields_decode(BODY, strlen(BODY), &r, &f), 0);
    assert_int_equal(r->n_fields, 4);
    assert_null(r->stamps);
    assert_string_equal(r->fields[0].name, "assistance");
    proto_record_free(r);

    /* A new record: nothing stored yet. */
    assert_int_equal(proto_record_decode(NULL, 0, NULL, 0, &r, &f), 0);
    assert_int_equal(r->n_fields, 0);
    proto_record_free(r);

    /* Restored: _deleted false stays a field with its stamp. */
    const char *meta = "{\"_deleted\":[9,0,\"d\",7,false]}";
    assert_int_equal(proto_record_decode("{}", 2, meta, strlen(meta), &r, &f), 0);
    assert_int_equal(r->n_fields, 1);
    assert_false(r->fields[0].value.boolean);
    assert_string_equal(r->fields[0].value.json, "false");
    struct proto_buf body, m2;
    proto_buf_init(&body, 0, 100);
    proto_buf_init(&m2, 0, 100);
    assert_int_equal(proto_record_encode(r->fields, r->stamps, r->n_fields, &body, &m2), 0);
    assert_string_equal(proto_buf_data(&body), "{}");
    assert_string_equal(proto_buf_data(&m2), meta);
    proto_buf_free(&body);
    proto_buf_free(&m2);
    proto_record_free(r);
}

static void encode_refuses_unsorted(void **state)
{
    (void)state;
    struct proto_msg *m = fields_of("{\"a\":1,\"b\":2}");
    const struct proto_change *c = &m->u.push.changes[0];
    struct proto_field swapped[2] = {c->fields[1], c->fields[0]};
    struct proto_stamp st[2] = {{{1, 0}, "d", 1}, {{1, 0}, "d", 1}};
    struct proto_buf body, meta;
    proto_buf_init(&body, 0, 100);
    proto_buf_init(&meta, 0, 100);
    assert_int_equal(proto_record_encode(swapped, st, 2, &body, &meta), PROTO_EINVALID);
    struct proto_field dup[2] = {c->fields[0], c->fields[0]};
    assert_int_equal(proto_record_encode(dup, st, 2, &body, &meta), PROTO_EINVALID);
    assert_int_equal(body.len, 0);
    /* A buffer too small leaves both outputs as they were. */
    proto_buf_free(&body);
    proto_buf_init(&body, 0, 5);
    assert_int_equal(proto_record_encode(c->fields, st, 2, &body, &meta), PROTO_ETOOBIG);
    assert_int_equal(body.len, 0);
    assert_int_equal(meta.len, 0);
    proto_buf_free(&body);
    proto_buf_free(&meta);
    proto_msg_free(m);
}

static void decode_refuses_corrupt(void **state)
{
    (void)state;
    static const struct {
        const char *body, *meta;
    } bad[] = {
        {"[1]", "{}"},
        {"{\"a\":1}", "{\"a\":[1,0,\"d\"]}"},         /* a stamp too short */
        {"{\"a\":1}", "{}"},                          /* a field without stamp */
        {"{}", "{\"a\":[1,0,\"d\",1]}"},              /* a stamp without field */
        {"{\"a\":1}", "{\"a\":[-1,0,\"d\",1]}"},      /* ms out of range */
        {"{\"a\":1}", "{\"a\":[1,0,7,1]}"},           /* device not a string */
        {"{\"_deleted\":true}", "{}"},                /* _deleted belongs in meta */
        {"{}", "{\"_deleted\":[1,0,\"d\",1]}"},       /* _deleted without its value */
        {"{\"a\":1,\"a\":2}", "{\"a\":[1,0,\"d\",1]}"}, /* duplicate field */
        {"{\"a\":", "{}"},                            /* not JSON */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proto_record *r = NULL;
        struct proto_fault f = {0};
        int err = proto_record_decode(bad[i].body, strlen(bad[i].body), bad[i].meta,
                                      strlen(bad[i].meta), &r, &f);
        if (err != PROTO_EINVALID)
            fail_msg("case %zu (%s / %s) decoded", i, bad[i].body, bad[i].meta);
        assert_null(r);
        assert_int_equal(f.code, PROTO_CODE_INTERNAL);
        assert_true(strlen(f.message) > 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_exact),
        cmocka_unit_test(decode_round_trip),
        cmocka_unit_test(encode_refuses_unsorted),
        cmocka_unit_test(decode_refuses_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
