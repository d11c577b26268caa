/*
 * limit.c — the ceiling a server built on SQLite can approach: the same
 * ~850-byte visit changes written into a SQLite file by one process with
 * the server's durability (WAL, synchronous=FULL), no network, no parsing,
 * no merge. Each record costs what the architecture says an applied change
 * costs at the least: one history insert (the change as sent) and one
 * record insert (its body and per-field stamps) — two rows per record.
 *   (a) one transaction per 50 records (one fsync per push of 50);
 *   (b) one transaction for all records (the floor of fsync cost).
 * --rows 1 does only the history insert (one row per record: the barest
 * floor, for comparison). Prints records/s for each. This is the only
 * program outside db/ that includes sqlite3.h (tests/layering.sh allows
 * bench/).
 */
#include "bench.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char schema_sql[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE history(id INTEGER PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL,"
    " received_ms INTEGER NOT NULL, collection TEXT, record_id TEXT, change TEXT NOT NULL,"
    " outcome INTEGER NOT NULL, rev INTEGER NOT NULL);"
    "CREATE TABLE records(collection TEXT NOT NULL, id TEXT NOT NULL, rev INTEGER NOT NULL,"
    " grid TEXT NOT NULL, deleted INTEGER NOT NULL, body TEXT NOT NULL, meta TEXT NOT NULL,"
    " seq INTEGER NOT NULL, PRIMARY KEY(collection, id));"
    "CREATE INDEX records_seq ON records(seq);";

struct lim {
    sqlite3 *db;
    sqlite3_stmt *hist, *rec;
    int rows; /* 1 or 2 inserts per record */
};

static int check(struct lim *l, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    fprintf(stderr, "limit: %s: %s\n", what, sqlite3_errmsg(l->db));
    return -1;
}

/* Writes n records, txn per transaction; returns the seconds it took or -1. */
static double run(struct lim *l, int n, int txn, uint64_t seed)
{
    struct bench_rng rng = {seed};
    char fields[4096], change[8192], meta[2048];
    int64_t now = bench_wall_ms();
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        if (i % txn == 0 && check(l, sqlite3_exec(l->db, "BEGIN", 0, 0, 0), "BEGIN"))
            return -1;
        char id[33], grid[8], dev[16];
        bench_visit_id(&rng, id);
        bench_grid_name(i / 500, grid);
        snprintf(dev, sizeof(dev), "bench-%05d", i / 500 + 1);
        size_t fl = bench_visit_fields(&rng, grid, now, fields, sizeof(fields));
        int cl = snprintf(change, sizeof(change),
                          "{\"seq\":%d,\"collection\":\"visits\",\"id\":\"%s\",\"base\":0,"
                          "\"hlc\":[%lld,0],\"fields\":%s}",
                          i % 500 + 1, id, (long long)now, fields);
        sqlite3_stmt *h = l->hist;
        sqlite3_bind_text(h, 1, dev, -1, SQLITE_STATIC);
        sqlite3_bind_int64(h, 2, i % 500 + 1);
        sqlite3_bind_int64(h, 3, now);
        sqlite3_bind_text(h, 4, "visits", -1, SQLITE_STATIC);
        sqlite3_bind_text(h, 5, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(h, 6, change, cl, SQLITE_STATIC);
        if (check(l, sqlite3_step(h), "history insert"))
            return -1;
        sqlite3_reset(h);
        if (l->rows == 2) {
            /* The stamps of 10 fields, as the server keeps them per record. */
            int ml = snprintf(meta, sizeof(meta),
                              "{\"assistance\":[%lld,0,\"%s\",1],\"employment\":[%lld,0,\"%s\",1],"
                              "\"grid\":[%lld,0,\"%s\",1],\"income\":[%lld,0,\"%s\",1],"
                              "\"kind\":[%lld,0,\"%s\",1],\"living\":[%lld,0,\"%s\",1],"
                              "\"needs\":[%lld,0,\"%s\",1],\"notes\":[%lld,0,\"%s\",1],"
                              "\"subject\":[%lld,0,\"%s\",1],\"visited_at\":[%lld,0,\"%s\",1]}",
                              (long long)now, dev, (long long)now, dev, (long long)now, dev,
                              (long long)now, dev, (long long)now, dev, (long long)now, dev,
                              (long long)now, dev, (long long)now, dev, (long long)now, dev,
                              (long long)now, dev);
            sqlite3_stmt *r = l->rec;
            sqlite3_bind_text(r, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_text(r, 2, grid, -1, SQLITE_STATIC);
            sqlite3_bind_text(r, 3, fields, (int)fl, SQLITE_STATIC);
            sqlite3_bind_text(r, 4, meta, ml, SQLITE_STATIC);
            sqlite3_bind_int64(r, 5, sqlite3_last_insert_rowid(l->db));
            if (check(l, sqlite3_step(r), "record insert"))
                return -1;
            sqlite3_reset(r);
        }
        if ((i + 1) % txn == 0 || i + 1 == n) {
            if (check(l, sqlite3_exec(l->db, "COMMIT", 0, 0, 0), "COMMIT"))
                return -1;
        }
    }
    return (double)(bench_now_ns() - t0) / 1e9;
}

static int cache_mib; /* 0: SQLite's default page cache (2 MiB), as the server has */

static int open_fresh(struct lim *l, const char *path)
{
    char p[4200];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    if (sqlite3_open(path, &l->db) != SQLITE_OK)
        return check(l, SQLITE_ERROR, "open");
    if (check(l, sqlite3_exec(l->db, schema_sql, 0, 0, 0), "schema"))
        return -1;
    if (cache_mib > 0) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=-%d", cache_mib * 1024);
        if (check(l, sqlite3_exec(l->db, pragma, 0, 0, 0), "cache_size"))
            return -1;
    }
    if (check(l, sqlite3_prepare_v2(l->db,
                                    "INSERT INTO history(device,seq,received_ms,collection,"
                                    "record_id,change,outcome,rev) VALUES(?,?,?,?,?,?,0,1)",
                                    -1, &l->hist, 0),
              "prepare history"))
        return -1;
    return check(l, sqlite3_prepare_v2(l->db,
                                       "INSERT INTO records(collection,id,rev,grid,deleted,body,"
                                       "meta,seq) VALUES('visits',?,1,?,0,?,?,?)",
                                       -1, &l->rec, 0),
                 "prepare records");
}

static void close_db(struct lim *l)
{
    sqlite3_finalize(l->hist);
    sqlite3_finalize(l->rec);
    sqlite3_close(l->db);
    l->hist = l->rec = NULL;
    l->db = NULL;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int n = 100000, n_batched = 20000, batch = 50, rows = 2;
    static const struct option lo[] = {{"db", 1, 0, 'd'},      {"records", 1, 0, 'n'},
                                       {"batched", 1, 0, 'm'}, {"batch", 1, 0, 'b'},
                                       {"rows", 1, 0, 'r'},    {"cache-mib", 1, 0, 'c'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'm': n_batched = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'r': rows = atoi(optarg); break;
        case 'c': cache_mib = atoi(optarg); break;
        default: goto usage;
        }
    }
    if (!path || n < 1 || n > 10000000 || n_batched < 1 || n_batched > 10000000 || batch < 1 ||
        (rows != 1 && rows != 2) || cache_mib < 0 || cache_mib > 4096)
        goto usage;

    struct lim l = {.rows = rows};
    if (open_fresh(&l, path) != 0)
        return 1;
    double ta = run(&l, n_batched, batch, 7);
    close_db(&l);
    if (ta < 0)
        return 1;
    if (open_fresh(&l, path) != 0)
        return 1;
    double tb = run(&l, n, n, 7);
    close_db(&l);
    if (tb < 0)
        return 1;
    printf("limit: %d insert%s per record (%s), WAL, synchronous=FULL, page cache %s, file %s\n",
           rows, rows == 2 ? "s" : "", rows == 2 ? "history + records" : "history only",
           cache_mib ? "set by --cache-mib" : "SQLite's default", path);
    printf("limit_txn_per_%d_records: %d records in %.3f s\n", batch, n_batched, ta);
    printf("limit_batched_records_per_s: %.0f\n", (double)n_batched / ta);
    printf("limit_single_txn: %d records in %.3f s\n", n, tb);
    printf("limit_single_txn_records_per_s: %.0f\n", (double)n / tb);
    return 0;
usage:
    fprintf(stderr, "usage: limit --db PATH [--records 100000] [--batched 20000] [--batch 50] "
                    "[--rows 2|1] [--cache-mib N]\n");
    return 2;
}
