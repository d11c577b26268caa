/*
 * fz_store.h — the store the sync harnesses apply pushes to: a :memory:
 * db with the default schema and the people of tests/sync/fixture.h, made
 * once per process. Each input runs inside one transaction that is rolled
 * back at its end (fz_store_begin / fz_store_reset), so every input starts
 * from the same store without paying for a new one.
 *
 * Grids g1 g2 g3. Users: c1 cadre of g1,g2 (devices dA dB dC dD dE), c2
 * cadre of g3 (dX), s1 supervisor of all grids (sup), s2 supervisor of g1
 * (supl).
 */
#ifndef VS_TEST_FUZZ_STORE_H
#define VS_TEST_FUZZ_STORE_H

#include "sync.h"

#define FZ_NOW 1764410000000LL

struct fz_store {
    struct db *db;
    struct sync_rules rules;
};

/* The default schema, parsed once and shared; aborts when it does not parse. */
const struct proto_schema *fz_default_schema(void);

/* Opens a store with the people above; aborts on failure. */
void fz_store_open(struct fz_store *s);
/* Starts the input's transaction; aborts on failure. */
void fz_store_begin(struct fz_store *s);
/* Rolls the input's transaction back; aborts on failure. */
void fz_store_reset(struct fz_store *s);

/* Loads a device's principal (free with db_principal_clear); aborts when unknown. */
void fz_principal(struct fz_store *s, const char *device, struct db_principal *out);

/*
 * Applies changes as device, as the writer thread does (sync_apply_push),
 * inside the input's transaction; aborts when the store fails. results has
 * n entries; clear them with sync_results_clear. touched may be NULL, or n
 * entries to clear with sync_touched_clear.
 */
void fz_apply(struct fz_store *s, const struct db_principal *who,
              const struct proto_change *changes, size_t n, struct proto_result *results,
              struct sync_touched *touched);

/*
 * Checks a stored record: body and meta decode, re-encode to the same
 * bytes, and agree with its deleted flag and grid (scope is the
 * collection's scope field, or NULL). Aborts on a mismatch.
 */
void fz_check_stored(const struct db_record *r, const char *scope);

#endif
