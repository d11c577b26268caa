/*
 * srv_api_json.c — the JSON documents of the supervisors' HTTP API
 * (docs/protocol.md, "HTTP"), written with protocol/'s JSON writer
 * straight from the store's rows: a status of 10,000 devices is streamed
 * into the answer, never held as structs.
 *
 * Every enum the documents list (subjects by status, assistance by kind)
 * takes its values from the schema in force, so each value appears, 0
 * included, and a schema with other values is reported as it is.
 *
 * The API reader thread writes the GET documents (on srv->adb); the writer
 * writes a resolve's answer (srv_api_json_conflict). Times are RFC 3339 UTC
 * with milliseconds; "never" is null.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_jsonw.h"
#include "proto_schema.h"
#include "proto_time.h"
#include "proto_cursor.h"
#include "srv_internal.h"

#ifndef VS_VERSION
#error "VS_VERSION must be defined by the build (PROJECT_VERSION)"
#endif

#define DAY_MS (24 * 3600 * 1000LL)
/* The programme's published placement rate, the dashboard's reference line. */
#define PLACEMENT_REFERENCE 0.8367

/* ---- small writers ---------------------------------------------------------- */

static void k_str(struct proto_jw *w, const char *key, const char *s)
{
    proto_jw_key(w, key);
    proto_jw_string(w, s);
}

static void k_int(struct proto_jw *w, const char *key, int64_t v)
{
    proto_jw_key(w, key);
    proto_jw_int(w, v);
}

static void k_time(struct proto_jw *w, const char *key, int64_t ms)
{
    proto_jw_key(w, key);
    proto_jw_time(w, ms);
}

/* part / whole to 4 decimals, or null when whole is 0. */
static void k_rate(struct proto_jw *w, const char *key, int64_t part, int64_t whole)
{
    proto_jw_key(w, key);
    if (whole <= 0)
        proto_jw_null(w);
    else
        proto_jw_number(w, (double)(int64_t)((double)part * 10000.0 / (double)whole + 0.5) /
                               10000.0);
}

static void strings(struct proto_jw *w, const char *const *s, size_t n)
{
    proto_jw_array(w);
    for (size_t i = 0; i < n; i++)
        proto_jw_string(w, s[i]);
    proto_jw_array_end(w);
}

/* ---- errors and conflicts ------------------------------------------------------ */

/* Any thread. */
int srv_api_json_error(struct proto_buf *out, const char *error, const char *message)
{
    struct proto_jw w;

    proto_buf_reset(out);
    proto_jw_init(&w, out);
    proto_jw_object(&w);
    k_str(&w, "error", error);
    if (message != NULL)
        k_str(&w, "message", message);
    proto_jw_object_end(&w);
    return proto_jw_finish(&w);
}

/* One entry of the conflict log, its candidates oldest stamp first. */
static void conflict_entry(struct proto_jw *w, const struct db_conflict *c)
{
    proto_jw_object(w);
    k_int(w, "id", c->id);
    k_str(w, "collection", c->collection);
    k_str(w, "record", c->record_id);
    k_str(w, "field", c->field);
    k_str(w, "grid", c->grid);
    k_str(w, "status", c->status == DB_CONFLICT_RESOLVED ? "resolved" : "open");
    k_time(w, "created", c->created_ms);
    k_time(w, "updated", c->updated_ms);
    proto_jw_key(w, "candidates");
    proto_jw_array(w);
    for (size_t i = 0; i < c->n_candidates; i++) {
        const struct db_candidate *d = &c->candidates[i];
        proto_jw_object(w);
        k_str(w, "device", d->device);
        k_str(w, "user", d->user);
        k_str(w, "user_name", d->user_name);
        k_time(w, "time", d->hlc_ms);
        proto_jw_key(w, "value");
        if (d->value != NULL)
            proto_jw_raw(w, d->value, strlen(d->value));
        else
            proto_jw_null(w);
        proto_jw_object_end(w);
    }
    proto_jw_array_end(w);
    k_str(w, "resolved_by", c->resolved_by);
    k_time(w, "resolved_at", c->resolved_ms);
    k_str(w, "reason", c->reason);
    proto_jw_key(w, "resolution");
    if (c->resolution != NULL)
        proto_jw_raw(w, c->resolution, strlen(c->resolution));
    else
        proto_jw_null(w);
    proto_jw_object_end(w);
}

/* Writer thread. */
int srv_api_json_conflict(struct proto_buf *out, const struct db_conflict *c, int64_t rev)
{
    struct proto_jw w;

    proto_buf_reset(out);
    proto_jw_init(&w, out);
    proto_jw_object(&w);
    proto_jw_key(&w, "conflict");
    conflict_entry(&w, c);
    k_int(&w, "rev", rev);
    proto_jw_object_end(&w);
    return proto_jw_finish(&w);
}

static int conflict_row(void *ctx, const struct db_conflict *c)
{
    struct proto_jw *w = ctx;

    conflict_entry(w, c);
    return w->err;
}

/* Reader thread. */
int srv_api_json_conflicts(struct srv *srv, const struct db_principal *who,
                           const struct srv_api_args *a, struct proto_buf *out)
{
    struct proto_jw w;
    int64_t next = 0;
    char cursor[24];
    int rc;

    proto_buf_reset(out);
    proto_jw_init(&w, out);
    proto_jw_object(&w);
    proto_jw_key(&w, "conflicts");
    proto_jw_array(&w);
    rc = db_conflicts_page(srv->adb, a->status, &who->scope, a->after, a->limit, conflict_row, &w,
                           &next);
    if (rc != 0)
        return w.err ? w.err : rc;
    proto_jw_array_end(&w);
    proto_jw_key(&w, "next");
    if (next > 0) {
        snprintf(cursor, sizeof cursor, "%lld", (long long)next);
        proto_jw_string(&w, cursor);
    } else {
        proto_jw_null(&w);
    }
    proto_jw_object_end(&w);
    return proto_jw_finish(&w);
}

/* ---- status -------------------------------------------------------------------- */

struct status_ctx {
    struct proto_jw *w;
    const char **online; /* sorted */
    size_t n_online;
};

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int status_row(void *ctx, const struct db_device_status *d)
{
    struct status_ctx *sc = ctx;
    struct proto_jw *w = sc->w;
    int online = sc->n_online > 0 &&
                 bsearch(&d->device, sc->online, sc->n_online, sizeof *sc->online, strcmp_ptr);

    proto_jw_object(w);
    k_str(w, "device", d->device);
    k_str(w, "user", d->user);
    k_str(w, "user_name", d->user_name);
    proto_jw_key(w, "grids");
    strings(w, d->grids, d->n_grids);
    proto_jw_key(w, "online");
    proto_jw_bool(w, online);
    proto_jw_key(w, "revoked");
    proto_jw_bool(w, d->revoked);
    k_time(w, "enrolled", d->created_ms);
    k_time(w, "last_seen", d->last_seen_ms);
    k_time(w, "last_push", d->last_push_ms);
    k_time(w, "last_pull", d->last_pull_ms);
    proto_jw_key(w, "pending");
    if (d->pending >= 0)
        proto_jw_int(w, d->pending);
    else
        proto_jw_null(w);
    k_str(w, "oldest_pending", d->oldest_pending);
    k_str(w, "app", d->app);
    proto_jw_key(w, "clock_skew_ms");
    if (d->has_skew)
        proto_jw_int(w, d->clock_skew_ms);
    else
        proto_jw_null(w);
    k_str(w, "last_error", d->last_error);
    k_int(w, "missing_photos", d->missing_photos);
    proto_jw_object_end(w);
    return w->err;
}

/* Reader thread. online holds n_online NUL-terminated ids, sorted. */
int srv_api_json_status(struct srv *srv, const struct db_principal *who, const char *online,
                        size_t n_online, struct proto_buf *out)
{
    struct status_ctx sc = {NULL, NULL, 0};
    struct db_store_stats st;
    struct proto_jw w;
    int64_t now = proto_now_ms();
    char cursor[PROTO_CURSOR_SIZE];
    int rc;

    sc.online = calloc(n_online ? n_online : 1, sizeof *sc.online);
    if (sc.online == NULL)
        return PROTO_ENOMEM;
    for (const char *p = online; sc.n_online < n_online; p += strlen(p) + 1)
        sc.online[sc.n_online++] = p;
    memset(&st, 0, sizeof st);
    rc = db_store_stats(srv->adb, &who->scope, &st);
    if (rc != 0)
        goto out;
    proto_buf_reset(out);
    proto_jw_init(&w, out);
    sc.w = &w;
    proto_jw_object(&w);
    proto_jw_key(&w, "server");
    proto_jw_object(&w);
    k_str(&w, "version", VS_VERSION);
    k_int(&w, "uptime_s", (now - srv->started_ms) / 1000);
    proto_cursor_format(st.cursor, srv->epoch, cursor);
    k_str(&w, "cursor", cursor);
    k_int(&w, "records", st.records);
    k_int(&w, "db_bytes", st.db_bytes);
    k_time(&w, "time", now);
    proto_jw_object_end(&w);
    proto_jw_key(&w, "devices");
    proto_jw_array(&w);
    rc = db_devices_status(srv->adb, &who->scope, status_row, &sc);
    if (rc != 0) {
        rc = w.err ? w.err : rc;
        goto out;
    }
    proto_jw_array_end(&w);
    k_int(&w, "conflicts_open", st.conflicts_open);
    k_int(&w, "missing_photos", st.missing_photos);
    proto_jw_object_end(&w);
    rc = proto_jw_finish(&w);
out:
    free(sc.online);
    return rc;
}

/* ---- report --------------------------------------------------------------------- */

/* The values of an enum field (or of an array of enum) of the schema; n 0 when there is none. */
static void schema_enum(const struct proto_schema *schema, const char *collection,
                        const char *field, const char *const **values, size_t *n)
{
    const struct proto_collection *c = proto_schema_collection(schema, collection);
    const struct proto_schema_field *f = c ? proto_collection_field(c, field) : NULL;
    const struct proto_ftype_spec *spec = f ? &f->spec : NULL;

    if (spec != NULL && spec->type == PROTO_F_ARRAY)
        spec = spec->item;
    *values = NULL;
    *n = 0;
    if (spec != NULL && spec->type == PROTO_F_ENUM) {
        *values = spec->values;
        *n = spec->n_values;
    }
}

static int64_t count_of(const struct db_count *counts, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(counts[i].key, key) == 0)
            return counts[i].n;
    return 0;
}

static int listed(const char *const *values, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(values[i], key) == 0)
            return 1;
    return 0;
}

/*
 * {"value":N,…}: every value of the schema's enum in schema order, then
 * any other value the store holds, then, when none_key is given, the
 * records without one under that name.
 */
static void counts(struct proto_jw *w, const char *const *values, size_t n_values,
                   const struct db_count *c, size_t n, const char *none_key)
{
    proto_jw_object(w);
    for (size_t i = 0; i < n_values; i++)
        k_int(w, values[i], count_of(c, n, values[i]));
    for (size_t i = 0; i < n; i++)
        if (c[i].key[0] != '\0' && !listed(values, n_values, c[i].key))
            k_int(w, c[i].key, c[i].n);
    if (none_key != NULL)
        k_int(w, none_key, count_of(c, n, ""));
    proto_jw_object_end(w);
}

static void report_body(struct srv *srv, struct proto_jw *w, const struct db_report *r,
                        int64_t now)
{
    static const char *const four_in_one[] = {"rehab", "training", "placement", "family"};
    const char *const *status, *const *kinds;
    size_t n_status, n_kinds;
    int64_t employed = count_of(r->by_employment, r->n_employment, "employed");
    int64_t self_employed = count_of(r->by_employment, r->n_employment, "self_employed");
    char day[40];

    schema_enum(srv->schema, "subjects", "status", &status, &n_status);
    schema_enum(srv->schema, "visits", "assistance", &kinds, &n_kinds);

    proto_jw_object(w);
    k_time(w, "generated", now);

    proto_jw_key(w, "subjects");
    proto_jw_object(w);
    k_int(w, "total", r->subjects);
    proto_jw_key(w, "by_status");
    counts(w, status, n_status, r->by_status, r->n_status, "none");
    proto_jw_object_end(w);

    proto_jw_key(w, "placement");
    proto_jw_object(w);
    k_int(w, "employed", employed);
    k_int(w, "self_employed", self_employed);
    k_int(w, "eligible", r->eligible);
    k_rate(w, "rate", employed + self_employed, r->eligible);
    proto_jw_key(w, "reference");
    proto_jw_number(w, PLACEMENT_REFERENCE);
    proto_jw_object_end(w);

    proto_jw_key(w, "coverage");
    proto_jw_object(w);
    k_int(w, "subjects", r->subjects);
    k_int(w, "visited_30d", r->visited_30d);
    k_rate(w, "rate", r->visited_30d, r->subjects);
    proto_jw_key(w, "grids");
    proto_jw_array(w);
    for (size_t i = 0; i < r->n_grids; i++) {
        const struct db_report_grid *g = &r->grids[i];
        proto_jw_object(w);
        k_str(w, "grid", g->grid);
        k_str(w, "name", g->name);
        k_int(w, "subjects", g->subjects);
        k_int(w, "visited_30d", g->visited_30d);
        k_rate(w, "rate", g->visited_30d, g->subjects);
        k_int(w, "paired", g->paired);
        proto_jw_object_end(w);
    }
    proto_jw_array_end(w);
    proto_jw_object_end(w);

    proto_jw_key(w, "assistance");
    proto_jw_object(w);
    proto_jw_key(w, "all");
    counts(w, kinds, n_kinds, r->assistance, r->n_assistance, NULL);
    proto_jw_key(w, "last_30d");
    counts(w, kinds, n_kinds, r->assistance_30d, r->n_assistance_30d, NULL);
    proto_jw_key(w, "four_in_one");
    strings(w, four_in_one, sizeof four_in_one / sizeof four_in_one[0]);
    proto_jw_object_end(w);

    proto_jw_key(w, "pairing");
    proto_jw_object(w);
    k_int(w, "subjects", r->subjects);
    k_int(w, "paired", r->paired);
    k_rate(w, "rate", r->paired, r->subjects);
    proto_jw_key(w, "goal");
    proto_jw_number(w, 1.0);
    proto_jw_key(w, "cadres");
    proto_jw_array(w);
    for (size_t i = 0; i < r->n_cadres; i++) {
        const struct db_report_cadre *c = &r->cadres[i];
        proto_jw_object(w);
        k_str(w, "user", c->user);
        k_str(w, "name", c->name);
        k_int(w, "paired", c->paired);
        k_int(w, "paired_visited_30d", c->paired_visited_30d);
        k_int(w, "visits_30d", c->visits_30d);
        k_int(w, "visits", c->visits);
        proto_jw_object_end(w);
    }
    proto_jw_array_end(w);
    proto_jw_object_end(w);

    /* weeks[i] is the 7 days ending (DB_REPORT_WEEKS - 1 - i) weeks before now. */
    proto_jw_key(w, "visits_per_week");
    proto_jw_array(w);
    for (size_t i = 0; i < DB_REPORT_WEEKS; i++) {
        proto_format_time(now - (int64_t)(DB_REPORT_WEEKS - i) * 7 * DAY_MS, day, sizeof day);
        day[10] = '\0'; /* the date of "YYYY-MM-DDT…" */
        proto_jw_object(w);
        k_str(w, "week_start", day);
        k_int(w, "visits", r->weeks[i]);
        proto_jw_object_end(w);
    }
    proto_jw_array_end(w);
    proto_jw_object_end(w);
}

/* Reader thread. */
int srv_api_json_report(struct srv *srv, const struct db_principal *who, struct proto_buf *out)
{
    struct db_report r;
    struct proto_jw w;
    int64_t now = proto_now_ms();
    int rc;

    memset(&r, 0, sizeof r);
    rc = db_report(srv->adb, &who->scope, now, &r);
    if (rc != 0)
        return rc;
    proto_buf_reset(out);
    proto_jw_init(&w, out);
    report_body(srv, &w, &r, now);
    rc = proto_jw_finish(&w);
    db_report_clear(&r);
    return rc;
}
