/*
 * t_db.h — helpers shared by the db/ tests: open a store, seed grids and
 * users, write a record the way sync/ does (a history row, then the record
 * with seq = that row's id), and make temporary file paths.
 */
#ifndef VS_T_DB_H
#define VS_T_DB_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define T_NOW 1764410000000LL

/* Opens a migrated :memory: store; fails the test when it cannot. */
struct db *t_open_memory(void);

/* Grids g1, g2, g3; cadre c1 (g1), cadre c2 (g2, g3), supervisor s1 (all),
 * admin a1 (all), supervisor s2 (g2 only); devices tab-c1 and tab-c2. */
void t_seed(struct db *db);

/* cmocka fixtures: *state becomes a seeded :memory: store, closed after the test. */
int t_setup_seeded(void **state);
int t_teardown(void **state);

/* A token hash whose bytes are all b. */
void t_hash(unsigned char out[32], unsigned char b);

/*
 * Writes record (collection, id) into grid as one applied change: a
 * history row (left_grid when the record moved out of it) and the record
 * with rev + 1 and seq = the new history id, which it returns.
 */
int64_t t_write(struct db *db, const char *collection, const char *id, const char *grid,
                const char *left_grid);

/* A rejected change: a history row without a record; returns its id. */
int64_t t_reject(struct db *db);

/* A fresh path under /tmp (the file does not exist); t_unlink removes it with -wal/-shm. */
void t_temp_path(char *buf, size_t size);
void t_unlink(const char *path);

#endif
