/*
 * setup.c — a fresh database enrolled for a benchmark: 12 grids, N cadres
 * (one grid each, round robin) and one device per cadre with a random
 * token, written as "device token grid" lines for loadgen and conn.
 *
 * Tokens are made by protocol/token.c, as the CLI makes them: 32 random
 * bytes in base64url without padding; the store keeps the SHA-256 of the
 * token string as the tablet sends it. All rows go in through one
 * db_commit_group, so enrolling 10,000 devices costs one fsync, not 20,000.
 */
#include "bench.h"
#include "db.h"
#include "proto_token.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct job {
    int n;
    char (*tokens)[PROTO_TOKEN_CHARS + 1];
    unsigned char (*hashes)[PROTO_TOKEN_HASH];
    int64_t now;
    const char *failed; /* what failed, for the message */
};

/* Runs inside the commit group's transaction: every grid, user and device. */
static int enroll_all(struct db *db, void *arg)
{
    struct job *j = arg;
    int rc;
    for (int g = 0; g < BENCH_GRIDS; g++) {
        char id[8], name[32];
        bench_grid_name(g, id);
        snprintf(name, sizeof(name), "网格%02d", g + 1);
        if ((rc = db_grid_add(db, id, name, j->now)) != 0) {
            j->failed = "grid add";
            return rc;
        }
    }
    for (int i = 0; i < j->n; i++) {
        char user[32], dev[32], name[32], grid[8];
        snprintf(user, sizeof(user), "bc-%05d", i + 1);
        snprintf(dev, sizeof(dev), "bench-%05d", i + 1);
        snprintf(name, sizeof(name), "干部%05d", i + 1);
        bench_grid_name(i, grid);
        const char *grids[1] = {grid};
        if ((rc = db_user_add(db, user, name, DB_ROLE_CADRE, grids, 1, j->now)) != 0) {
            j->failed = "user add";
            return rc;
        }
        if ((rc = db_device_enroll(db, dev, user, j->hashes[i], j->now)) != 0) {
            j->failed = "device enroll";
            return rc;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *out = NULL;
    int n = 200, rc = 1;
    static const struct option lo[] = {
        {"db", 1, 0, 'd'}, {"devices", 1, 0, 'n'}, {"out", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'o': out = optarg; break;
        default:
            fprintf(stderr, "usage: setup --db PATH --out FILE [--devices 200]\n");
            return 2;
        }
    }
    if (!path || !out || n < 1 || n > 99999) {
        fprintf(stderr, "usage: setup --db PATH --out FILE [--devices 1..99999]\n");
        return 2;
    }
    /* A fresh database: a benchmark never runs on an existing one. */
    struct stat st;
    if (stat(path, &st) == 0) {
        fprintf(stderr, "setup: %s already exists; the benchmark wants a fresh database\n", path);
        return 1;
    }

    struct job j = {.n = n, .now = bench_wall_ms()};
    j.tokens = calloc((size_t)n, sizeof(*j.tokens));
    j.hashes = calloc((size_t)n, sizeof(*j.hashes));
    struct db *db = NULL;
    FILE *f = NULL;
    char err[256] = "";
    if (!j.tokens || !j.hashes) {
        fprintf(stderr, "setup: out of memory\n");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int trc = proto_token_new(j.tokens[i], j.hashes[i]);
        if (trc != 0) {
            fprintf(stderr, "setup: no random bytes for a token: %s\n", strerror(-trc));
            goto out;
        }
    }
    int drc = db_open(path, DB_OPEN_CREATE, &db, err, sizeof(err));
    if (drc != 0) {
        fprintf(stderr, "setup: cannot create %s: %s\n", path, err[0] ? err : db_strerror(drc));
        goto out;
    }
    void *jobs[1] = {&j};
    int job_rc = 0;
    drc = db_commit_group(db, enroll_all, jobs, 1, &job_rc);
    if (drc != 0 || job_rc != 0) {
        fprintf(stderr, "setup: enrolling %d devices failed at %s: %s\n", n,
                j.failed ? j.failed : "commit", db_errmsg(db));
        goto out;
    }
    f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "setup: cannot write %s: %s\n", out, strerror(errno));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char grid[8];
        bench_grid_name(i, grid);
        fprintf(f, "bench-%05d %s %s\n", i + 1, j.tokens[i], grid);
    }
    if (fclose(f) != 0) {
        f = NULL;
        fprintf(stderr, "setup: writing %s failed\n", out);
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    if (db)
        db_close(db);
    free(j.tokens);
    free(j.hashes);
    return rc;
}
