/*
 * fixture.h — a :memory: store with grids, users and devices for the sync
 * tests, and a push helper that parses a real push message and applies it
 * in one transaction, the way the server's writer thread does.
 *
 * Grids g1 g2 g3. Users: c1 cadre of g1,g2 (devices dA dB dC dD dE dZ),
 * c2 cadre of g3 (device dX), s1 supervisor of all grids (device sup),
 * s2 supervisor limited to g1 (device supl).
 */
#ifndef VS_TEST_SYNC_FIXTURE_H
#define VS_TEST_SYNC_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "sync.h"

#define FX_NOW 1764410000000LL

struct fx {
    struct db *db;
    struct proto_schema *schema;
    struct sync_rules rules;
    int64_t now;
};

/* One applied push: the parsed message owns the strings the results borrow. */
struct fx_push {
    struct proto_msg *msg;
    struct proto_result *res;
    size_t n;
};

/* Opens a fresh store and the default schema; fails the test on error. */
void fx_open(struct fx *f);
void fx_close(struct fx *f);
/* cmocka setup and teardown: *state is a struct fx opened by fx_open. */
int fx_setup(void **state);
int fx_teardown(void **state);

/*
 * Parses {"type":"push","changes":CHANGES} and applies it for device inside
 * db_begin/db_commit; fails the test when the store fails.
 */
void fx_push(struct fx *f, const char *device, const char *changes, struct fx_push *out);
void fx_push_free(struct fx_push *p);

/* Parses a push and returns it (no store involved); free with proto_msg_free. */
struct proto_msg *fx_parse_push(const char *changes);

/* db_record_get that fails the test on anything but success or DB_ENOTFOUND. */
int fx_get(struct fx *f, const char *collection, const char *id, struct db_record *out);

/* Loads a device's principal; free with db_principal_clear. */
void fx_principal(struct fx *f, const char *device, struct db_principal *out);

#endif
