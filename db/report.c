/*
 * report.c — the programme report of GET /api/report: subjects by status,
 * placement (employment of those not completed), coverage (subjects
 * visited in the last 30 days) per grid, pairing with cadres (点对点帮扶),
 * assistance given, and visits per week.
 *
 * Design: the visits are read from the facts the store keeps of them
 * (migration step 4, db/migrate.c): visit_facts has one typed row per
 * visit (grid, subject, visited_at in ms, assistance; NULL for a deleted
 * visit; its creator) with an index for each way the report reads it, so
 * no visit's JSON is read here. The visits per week are index range
 * counts on time; the figures by creator and by assistance are one pass
 * over their index each, in key order, and an assistance array is parsed
 * once per distinct array, not per visit; a subject is visited when the
 * index on subject has a visit of it in the window. Only the subjects' own fields (status,
 * employment, cadre) are read from their JSON, once per subject.
 *
 * One statement derives all the visit and subject figures, each row
 * tagged with the figure it belongs to (enum db__part) and ordered by
 * (part, key). The lists with one row per key (grids, cadres) come from
 * their own tables in key order and are merged with those rows in C
 * (bytewise, as strcmp; SQLite's BINARY). Everything is read in one read
 * transaction, so the figures agree with one another.
 *
 * A visit's time is its visited_at as ms since the epoch (julianday keeps
 * whole ms, so the round trip is exact); one that does not parse counts in
 * no window. A window (now - span, now] leaves out visits dated in the
 * future. The scope limits the records read (a JSON array bound to
 * json_each(), NULL for all); a subject in scope counts as visited when a
 * visit in scope names it. Who made a visit is the user of the device of
 * the history row that created the record (rev 1, applied).
 *
 * Runs on the thread that owns db (a reader thread of the server).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* The most rows one list of the report may hold (grids, cadres, keys). */
#define DB__REPORT_MAX_ROWS 65536

/* ?1: the scope's grids as a JSON array, or NULL for every grid. */
#define DB__REPORT_SCOPE " AND (?1 IS NULL OR grid IN (SELECT value FROM json_each(?1)))"
/* ms within the last 30 days: (?2 - 30 days, ?2]. */
#define DB__RECENT "(ms > ?2 - 30 * 86400000 AND ms <= ?2)"

/* The figures of the one figures statement, in the order it returns them. */
enum db__part {
    DB__PART_WEEK = 1,   /* key: whole weeks ago; a: visits */
    DB__PART_ASSIST = 2, /* key: assistance kind; a: visits listing it, b: of the last 30 days */
    DB__PART_MADE = 3,   /* key: user; a: visits their devices made, b: of the last 30 days */
    DB__PART_GRID = 4,   /* key: grid; a: subjects, b: visited in 30 days, c: paired */
    DB__PART_PAIR = 5,   /* key: cadre; a: paired subjects, b: of them visited in 30 days */
};

/*
 * ?1 scope, ?2 now, ?3 weeks. A visit that lists a kind twice counts
 * once for it: the pairs (array, kind) are made distinct before summing.
 */
static const char db__sql_figures[] =
    "WITH s AS MATERIALIZED ("
    "  SELECT grid, coalesce(json_extract(body, '$.cadre'), '') AS cadre,"
    "  EXISTS (SELECT 1 FROM visit_facts AS f WHERE f.subject = r.id"
    "    AND f.ms > ?2 - 30 * 86400000 AND f.ms <= ?2"
    "    AND (?1 IS NULL OR f.grid IN (SELECT value FROM json_each(?1)))) AS visited"
    "  FROM records AS r WHERE collection = 'subjects' AND deleted = 0" DB__REPORT_SCOPE "),"
    " arrays AS ("
    "  SELECT assist, count(*) AS n, sum" DB__RECENT " AS recent FROM visit_facts"
    "  WHERE assist IS NOT NULL" DB__REPORT_SCOPE " GROUP BY assist),"
    " w(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM w WHERE k + 1 < ?3)"
    " SELECT 1, k, (SELECT count(*) FROM visit_facts"
    "   WHERE ms > ?2 - (k + 1) * 7 * 86400000 AND ms <= ?2 - k * 7 * 86400000" DB__REPORT_SCOPE
    "), 0, 0 FROM w"
    " UNION ALL"
    " SELECT 2, kind, sum(n), sum(recent), 0 FROM ("
    "  SELECT DISTINCT x.assist, a.value AS kind, x.n, x.recent"
    "  FROM arrays AS x, json_each(x.assist) AS a WHERE a.type = 'text')"
    "  GROUP BY kind"
    " UNION ALL"
    " SELECT 3, creator, count(*), sum" DB__RECENT ", 0 FROM visit_facts"
    "  WHERE creator IS NOT NULL AND deleted = 0" DB__REPORT_SCOPE " GROUP BY creator"
    " UNION ALL"
    " SELECT 4, grid, count(*), sum(visited), sum(cadre <> '') FROM s GROUP BY 2"
    " UNION ALL"
    " SELECT 5, cadre, count(*), sum(visited), 0 FROM s WHERE cadre <> '' GROUP BY 2"
    " ORDER BY 1, 2";

/* What db_report allocates besides the arrays it hands out: the strings. */
struct db__report_mem {
    char **strings;
    size_t n, cap;
};

/* Keeps a copy of column col of s in the report's memory; *out is NULL for SQL NULL. */
static int db__report_str(struct db *db, struct db__report_mem *m, sqlite3_stmt *s, int col,
                          const char **out)
{
    *out = NULL;
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return 0;
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        char **p = realloc(m->strings, ncap * sizeof *p);
        if (!p)
            return db__error(db, DB_ENOMEM, "out of memory reading the report");
        m->strings = p;
        m->cap = ncap;
    }
    char *t = db_core_column_dup(s, col, NULL);
    if (!t)
        return db__error(db, DB_ENOMEM, "out of memory reading the report");
    m->strings[m->n++] = t;
    *out = t;
    return 0;
}

/* Makes room for one more element of size bytes in *arr (n used, *cap allocated). */
static int db__report_grow(struct db *db, void **arr, size_t n, size_t *cap, size_t size,
                           const char *what)
{
    if (n < *cap)
        return 0;
    if (n >= DB__REPORT_MAX_ROWS)
        return db__error(db, DB_ENOMEM, "the report lists more than %d %s",
                         DB__REPORT_MAX_ROWS, what);
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return db__error(db, DB_ENOMEM, "out of memory reading the report's %s", what);
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Appends (key, n) to a list; key NULL reads as "". */
static int db__report_count_add(struct db *db, struct db__report_mem *m, sqlite3_stmt *s,
                                int64_t n, struct db_count **list, size_t *len, size_t *cap,
                                const char *what)
{
    int err = db__report_grow(db, (void **)list, *len, cap, sizeof **list, what);
    if (err)
        return err;
    struct db_count *c = &(*list)[*len];
    err = db__report_str(db, m, s, 1, &c->key);
    if (err)
        return err;
    if (!c->key)
        c->key = "";
    c->n = n;
    (*len)++;
    return 0;
}

/*
 * A subjects query of (k, n) rows in key order into a list (statuses,
 * employment); *total (may be NULL) gets the sum of n.
 */
static int db__report_counts(struct db *db, struct db__report_mem *m, enum db__stmt_id id,
                             const char *sql, const char *grids, const char *what,
                             struct db_count **out, size_t *n_out, int64_t *total)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int64_t sum = 0;
    int rc;
    int err = db__stmt(db, id, sql, &s);
    if (err)
        return err;
    db__bind_str(s, 1, grids);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(s, 2);
        err = db__report_count_add(db, m, s, n, out, n_out, &cap, what);
        if (err)
            goto out;
        sum += n;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading the report's %s", what);
out:
    db_core_reset(s);
    if (!err && total)
        *total = sum;
    return err;
}

/* Every grid in scope, in id order, with no figures yet. */
static int db__report_grids(struct db *db, struct db__report_mem *m, const char *grids,
                            struct db_report *r)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc;
    int err = db__stmt(db, DB__REPORT_GRIDS,
                       "SELECT id, name FROM grids WHERE ?1 IS NULL"
                       " OR id IN (SELECT value FROM json_each(?1)) ORDER BY id",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, grids);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        err = db__report_grow(db, (void **)&r->grids, r->n_grids, &cap, sizeof *r->grids,
                              "grids");
        if (err)
            goto out;
        struct db_report_grid *g = &r->grids[r->n_grids];
        memset(g, 0, sizeof *g);
        err = db__report_str(db, m, s, 0, &g->grid);
        if (!err)
            err = db__report_str(db, m, s, 1, &g->name);
        if (err)
            goto out;
        r->n_grids++;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading the grids for the report");
out:
    db_core_reset(s);
    return err;
}

/* Every cadre with a grid in scope, in id order, with no figures yet. */
static int db__report_cadres(struct db *db, struct db__report_mem *m, const char *grids,
                             struct db_report *r)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc;
    int err = db__stmt(db, DB__REPORT_CADRES,
                       "SELECT id, name FROM users AS u WHERE role = 'cadre'"
                       " AND (?1 IS NULL OR EXISTS (SELECT 1 FROM user_grids AS g"
                       "   WHERE g.user_id = u.id"
                       "   AND g.grid_id IN (SELECT value FROM json_each(?1))))"
                       " ORDER BY id",
                       &s);
    if (err)
        return err;
    db__bind_str(s, 1, grids);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        err = db__report_grow(db, (void **)&r->cadres, r->n_cadres, &cap, sizeof *r->cadres,
                              "cadres");
        if (err)
            goto out;
        struct db_report_cadre *c = &r->cadres[r->n_cadres];
        memset(c, 0, sizeof *c);
        err = db__report_str(db, m, s, 0, &c->user);
        if (!err)
            err = db__report_str(db, m, s, 1, &c->name);
        if (err)
            goto out;
        r->n_cadres++;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading the cadres for the report");
out:
    db_core_reset(s);
    return err;
}

/*
 * Index of the entry named key in a list sorted by name, searched from *at
 * on (rows come in key order, so the cursor only moves forward); -1 when
 * the list has no such entry (a grid or cadre outside the lists).
 */
static long db__report_find(const char *key, size_t *at, size_t n, const void *list,
                            size_t size, size_t name_offset)
{
    const char *base = list;
    while (key && *at < n) {
        const char *name = *(const char *const *)(const void *)(base + *at * size + name_offset);
        int cmp = strcmp(name, key);
        if (cmp == 0)
            return (long)*at;
        if (cmp > 0)
            break;
        (*at)++;
    }
    return -1;
}

/* Runs the figures statement and puts each row where its part says. */
static int db__report_figures(struct db *db, struct db__report_mem *m, const char *grids,
                              int64_t now_ms, struct db_report *r)
{
    sqlite3_stmt *s = NULL;
    size_t cap_all = 0, cap_30d = 0, at_grid = 0, at_made = 0, at_pair = 0;
    int rc;
    int err = db__stmt(db, DB__REPORT_FIGURES, db__sql_figures, &s);
    if (err)
        return err;
    db__bind_str(s, 1, grids);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int(s, 3, DB_REPORT_WEEKS);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 1);
        int64_t a = sqlite3_column_int64(s, 2), b = sqlite3_column_int64(s, 3);
        int64_t c = sqlite3_column_int64(s, 4);
        long i;
        switch (sqlite3_column_int(s, 0)) {
        case DB__PART_WEEK: {
            int64_t ago = sqlite3_column_int64(s, 1);
            if (ago >= 0 && ago < DB_REPORT_WEEKS)
                r->weeks[DB_REPORT_WEEKS - 1 - ago] = a;
            break;
        }
        case DB__PART_ASSIST:
            err = db__report_count_add(db, m, s, a, &r->assistance, &r->n_assistance, &cap_all,
                                       "assistance figures");
            if (!err && b > 0)
                err = db__report_count_add(db, m, s, b, &r->assistance_30d,
                                           &r->n_assistance_30d, &cap_30d,
                                           "assistance figures");
            break;
        case DB__PART_MADE:
            i = db__report_find(key, &at_made, r->n_cadres, r->cadres, sizeof *r->cadres,
                                offsetof(struct db_report_cadre, user));
            if (i >= 0) {
                r->cadres[i].visits = a;
                r->cadres[i].visits_30d = b;
            }
            break;
        case DB__PART_GRID:
            /* A record whose grid is not in table grids counts in the totals only. */
            i = db__report_find(key, &at_grid, r->n_grids, r->grids, sizeof *r->grids,
                                offsetof(struct db_report_grid, grid));
            if (i >= 0) {
                r->grids[i].subjects = a;
                r->grids[i].visited_30d = b;
                r->grids[i].paired = c;
            }
            r->subjects += a;
            r->visited_30d += b;
            r->paired += c;
            break;
        case DB__PART_PAIR:
            i = db__report_find(key, &at_pair, r->n_cadres, r->cadres, sizeof *r->cadres,
                                offsetof(struct db_report_cadre, user));
            if (i >= 0) {
                r->cadres[i].paired = a;
                r->cadres[i].paired_visited_30d = b;
            }
            break;
        default:
            break;
        }
        if (err)
            goto out;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading the report's visit and subject figures");
out:
    db_core_reset(s);
    return err;
}

void db_report_clear(struct db_report *r)
{
    if (!r)
        return;
    struct db__report_mem *m = r->mem_;
    if (m) {
        for (size_t i = 0; i < m->n; i++)
            free(m->strings[i]);
        free(m->strings);
        free(m);
    }
    free(r->by_status);
    free(r->by_employment);
    free(r->grids);
    free(r->assistance);
    free(r->assistance_30d);
    free(r->cadres);
    memset(r, 0, sizeof *r);
}

int db_report(struct db *db, const struct db_scope *scope, int64_t now_ms, struct db_report *out)
{
    struct db_report r = {0};
    char *grids = NULL;
    int began = 0;
    int err;

    if (!out)
        return db__error(db, DB_EMISUSE, "reading the report needs an output");
    r.mem_ = calloc(1, sizeof(struct db__report_mem));
    if (!r.mem_)
        return db__error(db, DB_ENOMEM, "out of memory reading the report");
    err = db__scope_grids(db, scope, &grids);
    if (err)
        goto out;
    err = db__read_begin(db, &began);
    if (err)
        goto out;
    err = db__report_counts(db, r.mem_, DB__REPORT_STATUS,
                            "SELECT 0, json_extract(body, '$.status') AS k, count(*)"
                            " FROM records WHERE collection = 'subjects' AND deleted = 0"
                            DB__REPORT_SCOPE " GROUP BY k ORDER BY k",
                            grids, "statuses", &r.by_status, &r.n_status, NULL);
    if (err)
        goto out;
    err = db__report_counts(db, r.mem_, DB__REPORT_EMPLOYMENT,
                            "SELECT 0, json_extract(body, '$.employment') AS k, count(*)"
                            " FROM records WHERE collection = 'subjects' AND deleted = 0"
                            DB__REPORT_SCOPE
                            " AND coalesce(json_extract(body, '$.status'), '') <> 'completed'"
                            " GROUP BY k ORDER BY k",
                            grids, "employment figures", &r.by_employment, &r.n_employment,
                            &r.eligible);
    if (err)
        goto out;
    err = db__report_grids(db, r.mem_, grids, &r);
    if (!err)
        err = db__report_cadres(db, r.mem_, grids, &r);
    if (!err)
        err = db__report_figures(db, r.mem_, grids, now_ms, &r);
out:
    err = db__read_end(db, began, err);
    free(grids);
    if (err) {
        db_report_clear(&r);
        return err;
    }
    *out = r;
    return 0;
}
