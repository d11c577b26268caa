/*
 * fixture.c — see fixture.h.
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

static void enroll(struct fx *f, const char *device, const char *user)
{
    unsigned char hash[32] = {0};
    snprintf((char *)hash, sizeof hash, "hash-of-%s", device);
    int rc = db_device_enroll(f->db, device, user, hash, f->now);
    if (rc != 0)
        fail_msg("enroll %s: %s", device, db_errmsg(f->db));
}

void fx_open(struct fx *f)
{
    char err[256] = "";
    struct proto_fault fault = {0};
    static const char *const c1_grids[] = {"g1", "g2"};
    static const char *const c2_grids[] = {"g3"};
    static const char *const s2_grids[] = {"g1"};

    memset(f, 0, sizeof *f);
    f->now = FX_NOW;
    if (db_open(":memory:", DB_OPEN_CREATE, &f->db, err, sizeof err) != 0)
        fail_msg("db_open: %s", err);
    if (proto_schema_parse(proto_default_schema_json, strlen(proto_default_schema_json),
                           &f->schema, &fault) != 0)
        fail_msg("default schema: %s: %s", fault.field, fault.message);
    f->rules.schema = f->schema;
    f->rules.max_skew_ms = SYNC_DEFAULT_MAX_SKEW_MS;
    assert_int_equal(db_grid_add(f->db, "g1", "North", f->now), 0);
    assert_int_equal(db_grid_add(f->db, "g2", "South", f->now), 0);
    assert_int_equal(db_grid_add(f->db, "g3", "East", f->now), 0);
    assert_int_equal(db_user_add(f->db, "c1", "Cadre One", DB_ROLE_CADRE, c1_grids, 2, f->now), 0);
    assert_int_equal(db_user_add(f->db, "c2", "Cadre Two", DB_ROLE_CADRE, c2_grids, 1, f->now), 0);
    assert_int_equal(db_user_add(f->db, "s1", "Supervisor", DB_ROLE_SUPERVISOR, NULL, 0, f->now),
                     0);
    assert_int_equal(
        db_user_add(f->db, "s2", "Limited Supervisor", DB_ROLE_SUPERVISOR, s2_grids, 1, f->now), 0);
    static const char *const c1_devices[] = {"dA", "dB", "dC", "dD", "dE", "dZ"};
    for (size_t i = 0; i < sizeof c1_devices / sizeof c1_devices[0]; i++)
        enroll(f, c1_devices[i], "c1");
    enroll(f, "dX", "c2");
    enroll(f, "sup", "s1");
    enroll(f, "supl", "s2");
}

void fx_close(struct fx *f)
{
    db_close(f->db);
    proto_schema_free(f->schema);
    memset(f, 0, sizeof *f);
}

int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    fx_open(f);
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    fx_close(*state);
    free(*state);
    return 0;
}

struct proto_msg *fx_parse_push(const char *changes)
{
    struct proto_fault fault = {0};
    struct proto_msg *msg = NULL;
    char req[PROTO_REQ_BYTES + 1] = "";
    size_t len = strlen(changes) + 64;
    char *json = malloc(len);

    assert_non_null(json);
    snprintf(json, len, "{\"type\":\"push\",\"req\":\"t\",\"changes\":%s}", changes);
    if (proto_parse_client(json, strlen(json), &msg, &fault, req) != 0)
        fail_msg("push does not parse: %s: %s\n%s", fault.field, fault.message, json);
    free(json);
    assert_int_equal(msg->type, PROTO_PUSH);
    return msg;
}

void fx_principal(struct fx *f, const char *device, struct db_principal *out)
{
    if (db_device_load(f->db, device, out) != 0)
        fail_msg("db_device_load %s: %s", device, db_errmsg(f->db));
}

void fx_push(struct fx *f, const char *device, const char *changes, struct fx_push *out)
{
    struct db_principal who;
    int rc;

    memset(out, 0, sizeof *out);
    out->msg = fx_parse_push(changes);
    out->n = out->msg->u.push.n_changes;
    out->res = calloc(out->n ? out->n : 1, sizeof *out->res);
    assert_non_null(out->res);
    fx_principal(f, device, &who);
    assert_int_equal(db_begin(f->db), 0);
    rc = sync_apply_push(&f->rules, f->db, &who, out->msg->u.push.changes, out->n, f->now,
                         out->res, NULL);
    if (rc != 0) {
        db_rollback(f->db);
        fail_msg("sync_apply_push: %s (%s)", sync_strerror(rc), db_errmsg(f->db));
    }
    assert_int_equal(db_commit(f->db), 0);
    db_principal_clear(&who);
}

void fx_push_free(struct fx_push *p)
{
    if (p->res != NULL)
        sync_results_clear(p->res, p->n);
    free(p->res);
    proto_msg_free(p->msg);
    memset(p, 0, sizeof *p);
}

int fx_get(struct fx *f, const char *collection, const char *id, struct db_record *out)
{
    int rc = db_record_get(f->db, collection, id, out);
    if (rc != 0 && rc != DB_ENOTFOUND)
        fail_msg("db_record_get %s/%s: %s", collection, id, db_errmsg(f->db));
    return rc;
}
