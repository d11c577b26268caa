/*
 * test_client_lib.c — the client library (client/vsc.h) against the
 * scripted fake server (fake_server.py, which runs this program with
 * VSC_TEST_URL set): fragmented replies, pipelined pushes matched in order,
 * pokes counted between replies, duplicates, rejections, pull paging, the
 * schema, size limits both ways, timeouts and the server's close codes; and
 * a whole sync (vsc_sync.h) whose pull the server answers with reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_record.h"
#include "vsc.h"
#include "vsc_sync.h"

static const char *url(void)
{
    const char *u = getenv("VSC_TEST_URL");
    if (!u) {
        fprintf(stderr, "VSC_TEST_URL is not set: run this through fake_server.py\n");
        exit(1);
    }
    return u;
}

/* Connects and says hello as device with token; asserts success. */
static struct vsc *open_as(const char *device, const char *token, const struct vsc_opts *o,
                           const struct proto_welcome **w)
{
    struct vsc *v = NULL;
    char err[300];
    const struct proto_welcome *welcome = NULL;
    struct proto_hello h = {.device = device, .token = token, .app = "test/1", .pending = 0,
                            .clock = 1764409990000, .has_clock = 1};
    int rc = vsc_connect(url(), o, &v, err, sizeof err);
    if (rc != 0)
        fail_msg("connect: %s", err);
    rc = vsc_hello(v, &h, &welcome);
    if (rc != 0)
        fail_msg("hello: %s", vsc_errmsg(v));
    if (w)
        *w = welcome;
    return v;
}

/* One change with fields (a JSON object text), decoded into rec. */
static struct proto_change change(int64_t seq, const char *id, const char *fields,
                                  struct proto_record **rec)
{
    struct proto_fault fault;
    assert_int_equal(proto_fields_decode(fields, strlen(fields), rec, &fault), 0);
    struct proto_change c = {.seq = seq, .collection = "visits", .id = id, .base = 0,
                             .hlc = {1764409000000, 0}, .fields = (*rec)->fields,
                             .n_fields = (*rec)->n_fields};
    return c;
}

static void test_connect_refused(void **state)
{
    (void)state;
    struct vsc *v = NULL;
    char err[300] = "";
    struct vsc_opts o = {.timeout_ms = 3000};
    assert_int_equal(vsc_connect("ws://127.0.0.1:1/sync", &o, &v, err, sizeof err), VSC_ECONNECT);
    assert_null(v);
    assert_non_null(strstr(err, "127.0.0.1:1"));
    assert_non_null(strstr(err, "refused"));
    print_message("refused: %s\n", err);
}

static void test_bad_url(void **state)
{
    (void)state;
    struct vsc *v = NULL;
    char err[300] = "";
    assert_int_equal(vsc_connect("http://127.0.0.1:8080/", NULL, &v, err, sizeof err), VSC_EUSAGE);
    assert_non_null(strstr(err, "ws://"));
    assert_int_equal(vsc_connect("ws://127.0.0.1:99999/sync", NULL, &v, err, sizeof err),
                     VSC_EUSAGE);
    assert_non_null(strstr(err, "port"));
}

static void test_unauthorized(void **state)
{
    (void)state;
    struct vsc *v = NULL;
    char err[300];
    const struct proto_welcome *w = NULL;
    struct proto_hello h = {.device = "tab-x", .token = "bad", .pending = -1};
    assert_int_equal(vsc_connect(url(), NULL, &v, err, sizeof err), 0);
    assert_int_equal(vsc_hello(v, &h, &w), VSC_ESERVER);
    assert_null(w);
    assert_int_equal(vsc_close_code(v), 4401);
    assert_non_null(strstr(vsc_errmsg(v), "unauthorized"));
    assert_non_null(strstr(vsc_errmsg(v), "4401"));
    print_message("unauthorized: %s\n", vsc_errmsg(v));
    vsc_close(v);
}

static void test_welcome(void **state)
{
    (void)state;
    const struct proto_welcome *w = NULL;
    struct vsc *v = open_as("tab-w", "t", NULL, &w);
    assert_string_equal(w->user, "c01");
    assert_string_equal(w->role, "cadre");
    assert_int_equal(w->n_grids, 1);
    assert_string_equal(w->grids[0], "g01");
    assert_int_equal(w->max_batch, 3);
    assert_int_equal(w->max_message, 4096);
    assert_int_equal(w->time, 1764410000000LL);
    /* A second hello on the same connection is a caller mistake. */
    struct proto_hello h = {.device = "tab-w", .token = "t", .pending = -1};
    assert_int_equal(vsc_hello(v, &h, &w), VSC_EUSAGE);
    vsc_close(v);
}

static void test_pipelined_push(void **state)
{
    (void)state;
    struct vsc *v = open_as("tab-p", "t", NULL, NULL);
    struct proto_record *rec[6];
    struct proto_change c[6];
    char id[16];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "p-%d", i);
        c[i] = change(i + 1, strdup(id), "{\"grid\":\"g01\",\"kind\":\"home\"}", &rec[i]);
    }
    /* Three pushes in flight before the first wait; acks come back in order. */
    assert_int_equal(vsc_push_send(v, &c[0], 2), 0);
    assert_int_equal(vsc_push_send(v, &c[2], 2), 0);
    assert_int_equal(vsc_push_send(v, &c[4], 2), 0);
    assert_int_equal(vsc_in_flight(v), 3);
    for (int k = 0; k < 3; k++) {
        struct proto_msg *ack = NULL;
        assert_int_equal(vsc_push_wait(v, &ack), 0);
        assert_int_equal(ack->type, PROTO_ACK);
        assert_int_equal(ack->u.ack.n_results, 2);
        assert_int_equal(ack->u.ack.results[0].seq, 2 * k + 1);
        assert_int_equal(ack->u.ack.results[1].seq, 2 * k + 2);
        assert_int_equal(ack->u.ack.results[0].status, PROTO_APPLIED);
        proto_msg_free(ack);
    }
    assert_int_equal(vsc_in_flight(v), 0);
    struct proto_msg *none = NULL;
    assert_int_equal(vsc_push_wait(v, &none), VSC_EUSAGE);
    /* A poke came before each ack. */
    const char *cursor = NULL;
    assert_true(vsc_pokes(v, &cursor) >= 3);
    assert_non_null(cursor);
    for (int i = 0; i < 6; i++) {
        free((char *)c[i].id);
        proto_record_free(rec[i]);
    }
    vsc_close(v);
}

static void test_duplicate_and_rejected(void **state)
{
    (void)state;
    struct vsc *v = open_as("tab-d", "t", NULL, NULL);
    struct proto_record *r1, *r2;
    struct proto_change c[2] = {
        change(1, "d-1", "{\"grid\":\"g01\",\"kind\":\"bad\"}", &r1),
        change(2, "d-2", "{\"grid\":\"g01\",\"kind\":\"home\"}", &r2),
    };
    struct proto_msg *ack = NULL;
    assert_int_equal(vsc_push(v, c, 2, &ack), 0);
    /* One rejected change does not block the other. */
    assert_int_equal(ack->u.ack.results[0].status, PROTO_REJECTED);
    assert_int_equal(ack->u.ack.results[0].error.code, PROTO_CODE_INVALID_FIELD);
    assert_string_equal(ack->u.ack.results[0].error.field, "kind");
    assert_int_equal(ack->u.ack.results[1].status, PROTO_APPLIED);
    proto_msg_free(ack);
    /* The same push again, as after a lost ack: both are duplicates. */
    assert_int_equal(vsc_push(v, c, 2, &ack), 0);
    assert_int_equal(ack->u.ack.results[0].status, PROTO_DUPLICATE);
    assert_int_equal(ack->u.ack.results[1].status, PROTO_DUPLICATE);
    proto_msg_free(ack);
    proto_record_free(r1);
    proto_record_free(r2);
    vsc_close(v);
}

static void test_pull_pages(void **state)
{
    (void)state;
    struct vsc *v = open_as("tab-l", "t", NULL, NULL);
    struct proto_record *rec[5];
    struct proto_change c[5];
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "l-%d", i);
        c[i] = change(i + 1, strdup(id), "{\"grid\":\"g01\",\"kind\":\"home\"}", &rec[i]);
    }
    struct proto_msg *ack = NULL;
    assert_int_equal(vsc_push(v, c, 3, &ack), 0);
    proto_msg_free(ack);
    assert_int_equal(vsc_push(v, c + 3, 2, &ack), 0);
    proto_msg_free(ack);

    char since[64] = "0";
    int pages = 0, more = 1;
    size_t items = 0;
    while (more) {
        struct proto_msg *m = NULL;
        assert_int_equal(vsc_pull(v, since, 2, &m), 0);
        assert_int_equal(m->type, PROTO_CHANGES);
        assert_true(m->u.changes.n_items <= 2);
        items += m->u.changes.n_items;
        more = m->u.changes.more;
        snprintf(since, sizeof since, "%s", m->u.changes.cursor);
        proto_msg_free(m);
        pages++;
        assert_true(pages < 100);
    }
    assert_true(pages >= 3);
    assert_true(items >= 5);
    for (int i = 0; i < 5; i++) {
        free((char *)c[i].id);
        proto_record_free(rec[i]);
    }
    vsc_close(v);
}

static void test_schema_and_raw(void **state)
{
    (void)state;
    struct vsc *v = open_as("tab-s", "t", NULL, NULL);
    struct proto_msg *m = NULL;
    assert_int_equal(vsc_schema(v, &m), 0);
    assert_string_equal(m->u.schema.version, "abc");
    assert_non_null(m->u.schema.collections_json);
    proto_msg_free(m);
    const char *junk = "{\"type\":\"nonsense\",\"req\":\"x1\"}";
    assert_int_equal(vsc_send_raw(v, junk, strlen(junk)), 0);
    assert_int_equal(vsc_recv(v, &m), 0);
    assert_int_equal(m->type, PROTO_ERROR);
    assert_string_equal(m->u.error.code, "bad_message");
    assert_string_equal(m->req, "x1");
    proto_msg_free(m);
    vsc_close(v);
}

static void test_outgoing_too_big(void **state)
{
    (void)state;
    struct vsc *v = open_as("tab-o", "t", NULL, NULL);
    char *fields = malloc(6000);
    snprintf(fields, 6000, "{\"grid\":\"g01\",\"notes\":\"%05000d\"}", 7);
    struct proto_record *rec;
    struct proto_change c = change(1, "o-1", fields, &rec);
    assert_int_equal(vsc_push_send(v, &c, 1), VSC_ETOOBIG);
    assert_non_null(strstr(vsc_errmsg(v), "4096"));
    assert_int_equal(vsc_in_flight(v), 0);
    proto_record_free(rec);
    free(fields);
    vsc_close(v);
}

static void test_incoming_too_big(void **state)
{
    (void)state;
    struct vsc_opts o = {.max_incoming = 1024};
    struct vsc *v = open_as("tab-big", "t", &o, NULL);
    struct proto_msg *m = NULL;
    assert_int_equal(vsc_pull(v, "0", 10, &m), VSC_EPROTOCOL);
    assert_non_null(strstr(vsc_errmsg(v), "larger than 1024"));
    print_message("too big: %s\n", vsc_errmsg(v));
    vsc_close(v);
}

static void test_timeout(void **state)
{
    (void)state;
    struct vsc_opts o = {.timeout_ms = 400};
    struct vsc *v = open_as("tab-slow", "t", &o, NULL);
    struct proto_record *rec;
    struct proto_change c = change(1, "s-1", "{\"grid\":\"g01\"}", &rec);
    struct proto_msg *ack = NULL;
    assert_int_equal(vsc_push(v, &c, 1, &ack), VSC_ETIMEOUT);
    assert_non_null(strstr(vsc_errmsg(v), "did not answer"));
    print_message("timeout: %s\n", vsc_errmsg(v));
    proto_record_free(rec);
    vsc_close(v);
}

static void test_replaced(void **state)
{
    (void)state;
    struct vsc *v = open_as("tab-replaced", "t", NULL, NULL);
    struct proto_msg *m = NULL;
    assert_int_equal(vsc_pull(v, "0", 10, &m), VSC_ECLOSED);
    assert_int_equal(vsc_close_code(v), 4409);
    assert_non_null(strstr(vsc_errmsg(v), "4409"));
    print_message("replaced: %s\n", vsc_errmsg(v));
    /* The connection is dead: later calls fail at once with the same error. */
    assert_int_equal(vsc_pull(v, "0", 10, &m), VSC_ECLOSED);
    vsc_close(v);
}

/* A :memory: store set up as device; asserts success. */
static struct vsc_replica *store_for(const char *device)
{
    struct vsc_replica *r = NULL;
    char err[300];
    if (vsc_replica_open(":memory:", 1, &r, err, sizeof err) != 0)
        fail_msg("store: %s", err);
    assert_int_equal(vsc_replica_config_set(r, "url", url()), 0);
    assert_int_equal(vsc_replica_config_set(r, "device", device), 0);
    assert_int_equal(vsc_replica_config_set(r, "token", "t"), 0);
    return r;
}

/*
 * The stored cursor is one the server no longer issues (it was restored
 * from a backup): the pull is answered reset, and the sync rebuilds the
 * replica from the beginning over several pages — a record only the old
 * replica had is gone, and the result equals a fresh store's full pull —
 * while the queued change is still pushed.
 */
static void test_sync_reset_rebuilds(void **state)
{
    (void)state;
    struct vsc_replica *r = store_for("tab-reset"), *fresh = store_for("tab-fresh");
    struct vsc_replica_item stale = {"visits", "only-here", 40, 0, 0, "{}", 2};
    struct vsc_replica_change c;
    struct vsc_replica_record rec;
    struct vsc_sync_report rep, ref;
    char err[700], *cursor = NULL;

    assert_int_equal(vsc_replica_apply(r, &stale, 1, "7-gone"), 0);
    assert_int_equal(vsc_replica_queue(r, "visits", "reset-1", 0,
                                       "{\"grid\":\"g01\",\"kind\":\"home\"}", -1,
                                       1764409000000, &c),
                     0);
    vsc_replica_change_clear(&c);
    if (vsc_sync(r, NULL, &rep, err, sizeof err) != 0)
        fail_msg("sync: %s", err);
    assert_int_equal(rep.reset, 1);
    assert_int_equal(rep.applied, 1);
    assert_int_equal(rep.pending, 0);
    assert_true(rep.pulled > 2); /* more than one page of 2 */
    assert_int_equal(vsc_replica_get(r, "visits", "only-here", &rec), DB_ENOTFOUND);
    assert_int_equal(vsc_replica_get(r, "visits", "reset-1", &rec), 0);
    free(rec.body);
    assert_int_equal(vsc_replica_config_get(r, "cursor", &cursor), 0);
    assert_null(strstr(cursor, "gone"));
    free(cursor);

    /* A store that never had a cursor pulls the same records, without reset. */
    if (vsc_sync(fresh, NULL, &ref, err, sizeof err) != 0)
        fail_msg("sync: %s", err);
    assert_int_equal(ref.reset, 0);
    assert_int_equal(ref.records, rep.records);
    /* And the next sync of the rebuilt store is an ordinary one. */
    if (vsc_sync(r, NULL, &rep, err, sizeof err) != 0)
        fail_msg("sync: %s", err);
    assert_int_equal(rep.reset, 0);
    assert_int_equal(rep.records, ref.records);
    vsc_replica_close(r);
    vsc_replica_close(fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_refused), cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_unauthorized),    cmocka_unit_test(test_welcome),
        cmocka_unit_test(test_pipelined_push),  cmocka_unit_test(test_duplicate_and_rejected),
        cmocka_unit_test(test_pull_pages),      cmocka_unit_test(test_schema_and_raw),
        cmocka_unit_test(test_outgoing_too_big), cmocka_unit_test(test_incoming_too_big),
        cmocka_unit_test(test_timeout),         cmocka_unit_test(test_replaced),
        cmocka_unit_test(test_sync_reset_rebuilds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
