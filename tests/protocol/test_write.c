/*
 * test_write.c — the serializers. Every server message is written, read
 * back with proto_parse_server, and compared member by member; string
 * escaping is checked byte for byte; welcome.seq (optional) is read as
 * strictly as the other members; proto_buf's ceiling, headroom and the
 * writers' all-or-nothing behaviour are checked at the edge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "proto_cursor.h"

static struct proto_msg *reparse(const struct proto_buf *b)
{
    struct proto_msg *m = NULL;
    struct proto_fault f = {0};
    int err = proto_parse_server(proto_buf_data(b), b->len, &m, &f);
    if (err)
        fail_msg("%s does not parse: %s [%s] %s", proto_buf_data(b), proto_strerror(err),
                 f.field, f.message);
    return m;
}

static void ack_round_trip(void **state)
{
    (void)state;
    static const char *const conflicts[] = {"employer", "income"};
    struct proto_result r[4] = {
        {.seq = 101, .id = "7f0c", .status = PROTO_APPLIED, .rev = 1},
        {.seq = 102, .id = "s-0031", .status = PROTO_CONFLICT, .rev = 9, .conflicts = conflicts,
         .n_conflicts = 2},
        {.seq = 103, .id = "s-0031", .status = PROTO_DUPLICATE, .rev = 9},
        {.seq = 104, .id = NULL, .status = PROTO_REJECTED},
    };
    proto_fault_set(&r[3].error, PROTO_CODE_INVALID_FIELD, "visited_at",
                    "visited_at must be an RFC 3339 date-time; got \"昨天\"");
    struct proto_result r5 = {.seq = 105, .id = "x", .status = PROTO_REJECTED};
    proto_fault_set(&r5.error, PROTO_CODE_CLOCK_SKEW, "", "hlc is 11 minutes ahead");
    struct proto_buf b;
    proto_buf_init(&b, 16, PROTO_MAX_MESSAGE);
    assert_int_equal(proto_write_ack(&b, "b17", "1240", r, 4), 0);
    /* The exact bytes of the contract's example, plus what we added. */
    assert_non_null(strstr(proto_buf_data(&b),
                           "{\"type\":\"ack\",\"req\":\"b17\",\"cursor\":\"1240\",\"results\":[{\"seq\":"
                           "101,\"id\":\"7f0c\",\"status\":\"applied\",\"rev\":1},{\"seq\":102,"
                           "\"id\":\"s-0031\",\"status\":\"conflict\",\"rev\":9,\"conflicts\":["
                           "\"employer\",\"income\"]}"));
    struct proto_msg *m = reparse(&b);
    assert_int_equal(m->type, PROTO_ACK);
    assert_string_equal(m->req, "b17");
    assert_string_equal(m->u.ack.cursor, "1240");
    assert_int_equal(m->u.ack.n_results, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct proto_result *x = &m->u.ack.results[i];
        assert_int_equal(x->seq, r[i].seq);
        assert_int_equal(x->status, r[i].status);
        assert_int_equal(x->rev, r[i].rev);
        if (r[i].id)
            assert_string_equal(x->id, r[i].id);
        else
            assert_null(x->id);
    }
    assert_int_equal(m->u.ack.results[1].n_conflicts, 2);
    assert_string_equal(m->u.ack.results[1].conflicts[1], "income");
    assert_int_equal(m->u.ack.results[3].error.code, PROTO_CODE_INVALID_FIELD);
    assert_string_equal(m->u.ack.results[3].error.field, "visited_at");
    assert_string_equal(m->u.ack.results[3].error.message, r[3].error.message);
    proto_msg_free(m);

    /* An error with no field omits the member. */
    proto_buf_reset(&b);
    assert_int_equal(proto_write_ack(&b, NULL, "7", &r5, 1), 0);
    assert_null(strstr(proto_buf_data(&b), "\"field\""));
    assert_null(strstr(proto_buf_data(&b), "\"req\""));
    m = reparse(&b);
    assert_null(m->req);
    assert_int_equal(m->u.ack.results[0].error.code, PROTO_CODE_CLOCK_SKEW);
    assert_string_equal(m->u.ack.results[0].error.field, "");
    proto_msg_free(m);
    proto_buf_free(&b);
}

static void changes_round_trip(void **state)
{
    (void)state;
    const char *body = "{\"employer\":\"旭峰农牧\",\"grid\":\"g03\",\"income\":3500.5}";
    struct proto_pulled items[3] = {
        {.collection = "subjects", .id = "s-0031", .rev = 9, .body = body,
         .body_len = strlen(body)},
        {.collection = "visits", .id = "91aa", .rev = 1, .deleted = 1, .body = "{}", .body_len = 2},
        {.collection = "subjects", .id = "s-0007", .removed = 1, .rev = 4, .body = body,
         .body_len = strlen(body)},
    };
    struct proto_buf b;
    proto_buf_init(&b, 16, PROTO_MAX_MESSAGE);
    assert_int_equal(proto_write_changes_begin(&b, "p3", 0), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(proto_write_changes_item(&b, &items[i], i == 0), 0);
    assert_int_equal(proto_write_changes_end(&b, "1240-9f3a01bc", 0), 0);
    /* A removed item carries only collection and id; the body is spliced verbatim. */
    assert_non_null(strstr(proto_buf_data(&b),
                           "{\"collection\":\"subjects\",\"id\":\"s-0007\",\"removed\":true}"));
    assert_non_null(strstr(proto_buf_data(&b), body));
    assert_non_null(strstr(proto_buf_data(&b), "\"rev\":1,\"fields\":{},\"deleted\":true}"));
    struct proto_msg *m = reparse(&b);
    assert_int_equal(m->type, PROTO_CHANGES);
    assert_string_equal(m->u.changes.cursor, "1240-9f3a01bc");
    assert_false(m->u.changes.more);
    assert_false(m->u.changes.reset);
    assert_null(strstr(proto_buf_data(&b), "reset"));
    assert_int_equal(m->u.changes.n_items, 3);
    const struct proto_pulled *p = m->u.changes.items;
    assert_string_equal(p[0].id, "s-0031");
    assert_int_equal(p[0].rev, 9);
    assert_string_equal(p[0].body, body);
    assert_false(p[0].deleted);
    assert_true(p[1].deleted);
    assert_true(p[2].removed);
    assert_null(p[2].body);
    proto_msg_free(m);

    proto_buf_reset(&b);
    assert_int_equal(proto_write_changes_begin(&b, NULL, 0), 0);
    assert_int_equal(proto_write_changes_end(&b, "0", 1), 0);
    assert_string_equal(proto_buf_data(&b),
                        "{\"type\":\"changes\",\"changes\":[],\"cursor\":\"0\",\"more\":true}");
    m = reparse(&b);
    assert_true(m->u.changes.more);
    assert_false(m->u.changes.reset);
    assert_int_equal(m->u.changes.n_items, 0);
    proto_msg_free(m);

    /* A reset page says so once, in its header; the longest cursor still parses. */
    proto_buf_reset(&b);
    assert_int_equal(proto_write_changes_begin(&b, "p4", 1), 0);
    assert_int_equal(proto_write_changes_item(&b, &items[0], 1), 0);
    assert_int_equal(proto_write_changes_end(&b, "9223372036854775807-00ff00ff", 1), 0);
    assert_non_null(strstr(proto_buf_data(&b),
                           "{\"type\":\"changes\",\"req\":\"p4\",\"reset\":true,\"changes\":["));
    m = reparse(&b);
    assert_true(m->u.changes.reset);
    assert_true(m->u.changes.more);
    assert_string_equal(m->u.changes.cursor, "9223372036854775807-00ff00ff");
    assert_int_equal(m->u.changes.n_items, 1);
    proto_msg_free(m);
    proto_buf_free(&b);
}

static void small_messages_round_trip(void **state)
{
    (void)state;
    static const char *const grids[] = {"g03", "g04"};
    struct proto_welcome w = {.user = "c017", .role = "cadre", .grids = grids, .n_grids = 2,
                              .time = 1764410000000, .max_batch = 500, .max_message = 1048576,
                              .cursor = "1234", .protocol = 1, .schema_version = "9f2c",
                              .seq = 3333};
    struct proto_buf b;
    proto_buf_init(&b, 0, PROTO_MAX_MESSAGE);
    assert_int_equal(proto_write_welcome(&b, NULL, &w), 0);
    assert_string_equal(proto_buf_data(&b),
                        "{\"type\":\"welcome\",\"user\":\"c017\",\"role\":\"cadre\",\"grids\":["
                        "\"g03\",\"g04\"],\"time\":1764410000000,\"max_batch\":500,"
                        "\"max_message\":1048576,\"cursor\":\"1234\",\"protocol\":1,"
                        "\"schema_version\":\"9f2c\",\"seq\":3333}");
    struct proto_msg *m = reparse(&b);
    assert_string_equal(m->u.welcome.user, "c017");
    assert_int_equal(m->u.welcome.n_grids, 2);
    assert_string_equal(m->u.welcome.grids[1], "g04");
    assert_int_equal(m->u.welcome.time, 1764410000000);
    assert_int_equal(m->u.welcome.max_message, 1048576);
    assert_string_equal(m->u.welcome.schema_version, "9f2c");
    assert_int_equal(m->u.welcome.seq, 3333);
    proto_msg_free(m);

    /* seq 0 (nothing committed yet) is said; a negative seq is left out. */
    w.seq = 0;
    proto_buf_reset(&b);
    assert_int_equal(proto_write_welcome(&b, NULL, &w), 0);
    assert_non_null(strstr(proto_buf_data(&b), ",\"seq\":0}"));
    m = reparse(&b);
    assert_int_equal(m->u.welcome.seq, 0);
    proto_msg_free(m);
    w.seq = -1;
    proto_buf_reset(&b);
    assert_int_equal(proto_write_welcome(&b, NULL, &w), 0);
    assert_null(strstr(proto_buf_data(&b), "seq"));
    m = reparse(&b);
    assert_int_equal(m->u.welcome.seq, -1);
    proto_msg_free(m);

    proto_buf_reset(&b);
    assert_int_equal(proto_write_poke(&b, "1240"), 0);
    assert_string_equal(proto_buf_data(&b), "{\"type\":\"poke\",\"cursor\":\"1240\"}");
    m = reparse(&b);
    assert_string_equal(m->u.poke.cursor, "1240");
    proto_msg_free(m);

    proto_buf_reset(&b);
    assert_int_equal(proto_write_error(&b, "x1", PROTO_CODE_NOT_AUTHENTICATED,
                                       "send hello first"),
                     0);
    m = reparse(&b);
    assert_int_equal(m->type, PROTO_ERROR);
    assert_string_equal(m->req, "x1");
    assert_string_equal(m->u.error.code, "not_authenticated");
    assert_string_equal(m->u.error.message, "send hello first");
    proto_msg_free(m);

    const char *cols = "{\"a\":{\"scope\":\"g\",\"fields\":{\"g\":{\"type\":\"id\"}}}}";
    proto_buf_reset(&b);
    assert_int_equal(proto_write_schema(&b, "s1", "abc", cols), 0);
    m = reparse(&b);
    assert_int_equal(m->type, PROTO_SCHEMA);
    assert_string_equal(m->u.schema.version, "abc");
    assert_string_equal(m->u.schema.collections_json, cols);
    proto_msg_free(m);

    char hex[65];
    memset(hex, 'e', 64);
    hex[64] = '\0';
    struct proto_blob_status s = {.sha256 = hex, .have = 1048576, .complete = 0};
    proto_buf_reset(&b);
    assert_int_equal(proto_write_blob_status(&b, "f1", &s), 0);
    m = reparse(&b);
    assert_string_equal(m->u.blob_status.sha256, hex);
    assert_int_equal(m->u.blob_status.have, 1048576);
    assert_false(m->u.blob_status.complete);
    proto_msg_free(m);
    s.complete = 1;
    proto_buf_reset(&b);
    assert_int_equal(proto_write_blob_status(&b, NULL, &s), 0);
    m = reparse(&b);
    assert_true(m->u.blob_status.complete);
    proto_msg_free(m);

    /* A client message is refused by the server-side parser and vice versa. */
    proto_buf_reset(&b);
    assert_int_equal(proto_write_pull(&b, "p", "5", 10), 0);
    struct proto_fault f;
    assert_int_equal(proto_parse_server(proto_buf_data(&b), b.len, &m, &f), PROTO_EINVALID);
    assert_string_equal(f.field, "type");
    proto_buf_free(&b);
}

static void string_escaping(void **state)
{
    (void)state;
    struct proto_buf b;
    proto_buf_init(&b, 4, 1000);
    const char in[] = "a\"b\\c/\x01\x1f\n\t\r\b\f中文😀\x7f";
    assert_int_equal(proto_buf_append_json_string(&b, in, sizeof(in) - 1), 0);
    assert_string_equal(proto_buf_data(&b),
                        "\"a\\\"b\\\\c/\\u0001\\u001f\\n\\t\\r\\b\\f中文😀\x7f\"");
    /* An embedded NUL is escaped too, since n, not the NUL, ends the input. */
    proto_buf_reset(&b);
    assert_int_equal(proto_buf_append_json_string(&b, "x\0y", 3), 0);
    assert_string_equal(proto_buf_data(&b), "\"x\\u0000y\"");
    /* And the escaped text reads back as the input. */
    proto_buf_reset(&b);
    const char *msg = "quote \" backslash \\ tab\t bell\x07 中文";
    assert_int_equal(proto_write_error(&b, NULL, PROTO_CODE_BAD_JSON, msg), 0);
    struct proto_msg *m = reparse(&b);
    assert_string_equal(m->u.error.message, msg);
    proto_msg_free(m);
    proto_buf_free(&b);
}

static void buf_ceiling(void **state)
{
    (void)state;
    struct proto_buf b;
    proto_buf_init(&b, 16, 10);
    assert_null(proto_buf_data(&b));
    assert_int_equal(proto_buf_append(&b, "0123456789", 10), 0);
    assert_ptr_equal(proto_buf_data(&b), b.mem + 16);
    assert_int_equal(proto_buf_append(&b, "x", 1), PROTO_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(proto_buf_data(&b), "0123456789");
    assert_true(b.cap <= 16 + 10 + 1);
    proto_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(proto_buf_data(&b), "");
    /* A string that does not fit leaves nothing behind. */
    assert_int_equal(proto_buf_append(&b, "ab", 2), 0);
    assert_int_equal(proto_buf_append_json_string(&b, "abcdefgh", 8), PROTO_ETOOBIG);
    assert_string_equal(proto_buf_data(&b), "ab");
    proto_buf_free(&b);

    /* Growth by doubling keeps every byte. */
    proto_buf_init(&b, 8, 100000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(proto_buf_append(&b, i % 2 ? "b" : "a", 1), 0);
    assert_int_equal(b.len, 10000);
    assert_int_equal(proto_buf_data(&b)[9999], 'b');
    assert_int_equal(proto_buf_data(&b)[10000], '\0');
    proto_buf_free(&b);

    /* A writer that does not fit rolls back; the item before it stays whole. */
    struct proto_pulled p = {.collection = "c", .id = "a", .rev = 1, .body = "{}", .body_len = 2};
    proto_buf_init(&b, 16, 80);
    assert_int_equal(proto_write_changes_begin(&b, NULL, 0), 0);
    assert_int_equal(proto_write_changes_item(&b, &p, 1), 0);
    size_t len = b.len;
    int err = 0;
    for (int i = 0; i < 10 && !err; i++)
        err = proto_write_changes_item(&b, &p, 0);
    assert_int_equal(err, PROTO_ETOOBIG);
    assert_true(b.len <= 80);
    assert_true(b.len >= len);
    assert_int_equal(proto_buf_data(&b)[b.len - 1], '}');
    proto_buf_free(&b);

    static const char *const grids[] = {"g1"};
    struct proto_welcome w = {.user = "u", .role = "cadre", .grids = grids, .n_grids = 1,
                              .cursor = "0", .protocol = 1};
    proto_buf_init(&b, 0, 20);
    assert_int_equal(proto_write_welcome(&b, NULL, &w), PROTO_ETOOBIG);
    assert_int_equal(b.len, 0);
    proto_buf_free(&b);
}

/* Parses a welcome; returns the parse result, *seq set on success. */
static int welcome_seq(const char *extra, int64_t *seq, struct proto_fault *f)
{
    char json[400];
    struct proto_msg *m = NULL;
    snprintf(json, sizeof json,
             "{\"type\":\"welcome\",\"user\":\"c001\",\"role\":\"cadre\",\"grids\":[\"g01\"],"
             "\"time\":1,\"cursor\":\"0\",\"protocol\":1%s}",
             extra);
    int err = proto_parse_server(json, strlen(json), &m, f);
    if (!err) {
        *seq = m->u.welcome.seq;
        proto_msg_free(m);
    }
    return err;
}

/*
 * welcome.seq is optional (a server from before it sends none: -1,
 * "unknown"; null counts as absent) and, when sent, an integer 0..2^53-1.
 */
static void welcome_seq_member(void **state)
{
    (void)state;
    struct proto_fault f;
    int64_t seq = 0;
    assert_int_equal(welcome_seq("", &seq, &f), 0);
    assert_int_equal(seq, -1);
    assert_int_equal(welcome_seq(",\"seq\":null", &seq, &f), 0);
    assert_int_equal(seq, -1);
    assert_int_equal(welcome_seq(",\"seq\":0", &seq, &f), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(welcome_seq(",\"seq\":9007199254740991", &seq, &f), 0);
    assert_int_equal(seq, PROTO_SEQ_MAX);
    static const char *const bad[] = {",\"seq\":-1", ",\"seq\":\"36\"", ",\"seq\":1.5",
                                      ",\"seq\":9007199254740992", ",\"seq\":1,\"seq\":2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&f, 0, sizeof f);
        assert_int_equal(welcome_seq(bad[i], &seq, &f), PROTO_EINVALID);
        assert_int_equal(f.code, PROTO_CODE_BAD_MESSAGE);
        assert_string_equal(f.field, "seq");
    }
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(proto_code_name(PROTO_CODE_BATCH_TOO_LARGE), "batch_too_large");
    assert_string_equal(proto_type_name(PROTO_BLOB_OFFER), "blob_offer");
    assert_string_equal(proto_status_name(PROTO_DUPLICATE), "duplicate");
    enum proto_code c;
    assert_int_equal(proto_code_from_name("out_of_scope", &c), 0);
    assert_int_equal(c, PROTO_CODE_OUT_OF_SCOPE);
    assert_int_equal(proto_code_from_name("", &c), PROTO_EINVALID);
    assert_string_equal(proto_strerror(PROTO_ETOOBIG), "the output would exceed its size limit");
    assert_string_equal(proto_strerror(0), "ok");
    /* A fault cut at its size never ends in half a UTF-8 character. */
    struct proto_fault f;
    char longname[200];
    memset(longname, 'x', 94);
    strcpy(longname + 94, "中文");
    proto_fault_set(&f, PROTO_CODE_UNKNOWN_FIELD, longname, "%s", longname);
    assert_int_equal(strlen(f.field), 94);
}

/* The cursor of §2.4: what the server writes reads back; anything else is refused. */
static void cursor_spelling(void **state)
{
    (void)state;
    char buf[PROTO_CURSOR_SIZE];
    struct proto_cursor c = {.id = -5, .epoch = "x"};

    proto_cursor_format(1240, "9f3a01bc", buf);
    assert_string_equal(buf, "1240-9f3a01bc");
    assert_int_equal(proto_cursor_parse(buf, &c), 0);
    assert_int_equal(c.id, 1240);
    assert_string_equal(c.epoch, "9f3a01bc");
    proto_cursor_format(INT64_MAX, "00000000", buf);
    assert_int_equal(strlen(buf), PROTO_CURSOR_SIZE - 1);
    assert_int_equal(proto_cursor_parse(buf, &c), 0);
    assert_true(c.id == INT64_MAX);
    /* "0" and a cursor of a server before epochs: no epoch. */
    assert_int_equal(proto_cursor_parse("0", &c), 0);
    assert_int_equal(c.id, 0);
    assert_string_equal(c.epoch, "");
    assert_int_equal(proto_cursor_parse("77", &c), 0);
    assert_int_equal(c.id, 77);
    assert_string_equal(c.epoch, "");
    assert_int_equal(proto_cursor_parse("0-0123abcd", &c), 0);
    assert_int_equal(c.id, 0);
    assert_string_equal(c.epoch, "0123abcd");

    static const char *const bad[] = {
        "", "-", "-1", "+1", "01", "1-", "1-9f3a01b", "1-9f3a01bcd", "1-9F3A01BC", "1-9f3a01bg",
        "1 -9f3a01bc", "1-9f3a01bc ", "9223372036854775808", "9223372036854775808-9f3a01bc",
        "99999999999999999999", "1--9f3a01bc", "x1", "1x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c.id = 3;
        assert_int_equal(proto_cursor_parse(bad[i], &c), -1);
        assert_int_equal(c.id, 3); /* untouched on failure */
    }
    assert_int_equal(proto_cursor_parse(NULL, &c), -1);
    assert_true(proto_epoch_valid("deadbeef"));
    assert_false(proto_epoch_valid("deadbee"));
    assert_false(proto_epoch_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ack_round_trip),     cmocka_unit_test(changes_round_trip),
        cmocka_unit_test(small_messages_round_trip), cmocka_unit_test(string_escaping),
        cmocka_unit_test(buf_ceiling),        cmocka_unit_test(names),
        cmocka_unit_test(welcome_seq_member), cmocka_unit_test(cursor_spelling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
