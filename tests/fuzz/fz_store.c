/*
 * fz_store.c — see fz_store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fz_store.h"
#include "proto_record.h"

const struct proto_schema *fz_default_schema(void)
{
    static struct proto_schema *schema;
    if (schema == NULL) {
        struct proto_fault fault = {0};
        int err = proto_schema_parse(proto_default_schema_json, strlen(proto_default_schema_json),
                                     &schema, &fault);
        FZ_CHECK(err == 0, "the default schema does not parse: %s", fault.message);
    }
    return schema;
}

static void enroll(struct fz_store *s, const char *device, const char *user)
{
    unsigned char hash[32] = {0};
    snprintf((char *)hash, sizeof hash, "hash-of-%s", device);
    FZ_CHECK(db_device_enroll(s->db, device, user, hash, FZ_NOW) == 0, "enroll %s: %s", device,
             db_errmsg(s->db));
}

void fz_store_open(struct fz_store *s)
{
    static const char *const c1_grids[] = {"g1", "g2"};
    static const char *const c2_grids[] = {"g3"};
    static const char *const s2_grids[] = {"g1"};
    static const char *const c1_devices[] = {"dA", "dB", "dC", "dD", "dE"};
    char err[256] = "";

    memset(s, 0, sizeof *s);
    FZ_CHECK(db_open(":memory:", DB_OPEN_CREATE, &s->db, err, sizeof err) == 0, "db_open: %s",
             err);
    s->rules.schema = fz_default_schema();
    s->rules.max_skew_ms = SYNC_DEFAULT_MAX_SKEW_MS;
    FZ_CHECK(db_grid_add(s->db, "g1", "North", FZ_NOW) == 0 &&
                 db_grid_add(s->db, "g2", "South", FZ_NOW) == 0 &&
                 db_grid_add(s->db, "g3", "East", FZ_NOW) == 0,
             "grids: %s", db_errmsg(s->db));
    FZ_CHECK(db_user_add(s->db, "c1", "Cadre One", DB_ROLE_CADRE, c1_grids, 2, FZ_NOW) == 0 &&
                 db_user_add(s->db, "c2", "Cadre Two", DB_ROLE_CADRE, c2_grids, 1, FZ_NOW) == 0 &&
                 db_user_add(s->db, "s1", "Supervisor", DB_ROLE_SUPERVISOR, NULL, 0, FZ_NOW) ==
                     0 &&
                 db_user_add(s->db, "s2", "Limited", DB_ROLE_SUPERVISOR, s2_grids, 1, FZ_NOW) == 0,
             "users: %s", db_errmsg(s->db));
    for (size_t i = 0; i < sizeof c1_devices / sizeof c1_devices[0]; i++)
        enroll(s, c1_devices[i], "c1");
    enroll(s, "dX", "c2");
    enroll(s, "sup", "s1");
    enroll(s, "supl", "s2");
}

void fz_store_begin(struct fz_store *s)
{
    FZ_CHECK(db_begin(s->db) == 0, "db_begin: %s", db_errmsg(s->db));
}

void fz_store_reset(struct fz_store *s)
{
    FZ_CHECK(db_rollback(s->db) == 0, "db_rollback: %s", db_errmsg(s->db));
}

void fz_principal(struct fz_store *s, const char *device, struct db_principal *out)
{
    FZ_CHECK(db_device_load(s->db, device, out) == 0, "db_device_load %s: %s", device,
             db_errmsg(s->db));
}

void fz_apply(struct fz_store *s, const struct db_principal *who,
              const struct proto_change *changes, size_t n, struct proto_result *results,
              struct sync_touched *touched)
{
    int rc = sync_apply_push(&s->rules, s->db, who, changes, n, FZ_NOW, results, touched);
    FZ_CHECK(rc == 0, "sync_apply_push as %s: %s (%s)", who->device, sync_strerror(rc),
             db_errmsg(s->db));
}

void fz_check_stored(const struct db_record *r, const char *scope)
{
    struct proto_record *dec = NULL;
    struct proto_fault fault = {0};
    int err = proto_record_decode(r->body, r->body_len, r->meta, r->meta_len, &dec, &fault);
    FZ_CHECK(err == 0, "%s/%s as stored does not decode: %s\nbody %s\nmeta %s", r->collection,
             r->id, fault.message, r->body, r->meta);

    struct proto_buf body, meta;
    proto_buf_init(&body, 0, (size_t)16 * 1024 * 1024);
    proto_buf_init(&meta, 0, (size_t)16 * 1024 * 1024);
    err = proto_record_encode(dec->fields, dec->stamps, dec->n_fields, &body, &meta);
    FZ_CHECK(err == 0 && body.len == r->body_len && meta.len == r->meta_len &&
                 memcmp(proto_buf_data(&body), r->body, body.len) == 0 &&
                 memcmp(proto_buf_data(&meta), r->meta, meta.len) == 0,
             "%s/%s re-encodes differently:\n%s\n%s\n---\n%s\n%s", r->collection, r->id, r->body,
             r->meta, proto_buf_data(&body), proto_buf_data(&meta));

    int deleted = 0;
    const char *grid = NULL;
    for (size_t i = 0; i < dec->n_fields; i++) {
        const struct proto_field *f = &dec->fields[i];
        FZ_CHECK(dec->stamps[i].rev >= 1 && dec->stamps[i].rev <= r->rev,
                 "%s/%s: %s has stamp rev %lld in a record at rev %lld", r->collection, r->id,
                 f->name, (long long)dec->stamps[i].rev, (long long)r->rev);
        if (strcmp(f->name, "_deleted") == 0)
            deleted = f->value.type == PROTO_BOOL && f->value.boolean;
        else if (scope != NULL && strcmp(f->name, scope) == 0 && f->value.type == PROTO_STRING)
            grid = f->value.str;
    }
    FZ_CHECK(r->deleted == deleted, "%s/%s: deleted %d, its _deleted says %d", r->collection,
             r->id, r->deleted, deleted);
    FZ_CHECK((grid == NULL && r->grid == NULL) ||
                 (grid != NULL && r->grid != NULL && strcmp(grid, r->grid) == 0),
             "%s/%s: grid %s, its %s says %s", r->collection, r->id, r->grid ? r->grid : "(none)",
             scope ? scope : "(no scope)", grid ? grid : "(none)");
    proto_buf_free(&body);
    proto_buf_free(&meta);
    proto_record_free(dec);
}
