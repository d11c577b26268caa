/*
 * srv_metrics.c — the Prometheus figures of GET /metrics (text format
 * 0.0.4) and the --metrics-token check.
 *
 * Design: the counters (struct srv_metrics, srv_internal.h) are bumped
 * where things happen — sessions and the monitor on the service thread,
 * pushes and COMMITs on the writer, checkpoints on the checkpointer — as
 * relaxed atomics with one writing thread each: no lock, and on the
 * writer's path a handful of uncontended increments per group. This file
 * only reads them (any thread; the HTTP route's reader job) and prints
 * them with the store's figures, which the caller read with db_store_stats.
 * A scrape is not a snapshot: counters bumped during it may show in one
 * line and not another, as with any Prometheus exporter; a histogram's
 * _count is the sum of its buckets as read, so the two always agree.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "srv_internal.h"

/* Upper bounds of the histograms' finite buckets. */
static const uint64_t push_le[SRV_PUSH_BUCKETS - 1] = {1, 5, 10, 50, 100, 250, 500};
static const char *const commit_le[SRV_COMMIT_BUCKETS - 1] = {
    "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.25", "0.5", "1"};
static const int64_t commit_le_ns[SRV_COMMIT_BUCKETS - 1] = {
    1000000, 2000000, 5000000, 10000000, 20000000, 50000000, 100000000, 250000000, 500000000,
    1000000000};

_Static_assert(PROTO_APPLIED == 0 && PROTO_CONFLICT == 1 && PROTO_DUPLICATE == 2 &&
                   PROTO_REJECTED == 3,
               "struct srv_metrics.changes is indexed by enum proto_status");

/* Any thread. */
int64_t srv_metrics_clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Writer thread: once per committed push. */
void srv_metrics_push(struct srv_metrics *m, const uint32_t outcomes[4])
{
    uint64_t n = 0;
    size_t b = 0;

    for (size_t i = 0; i < 4; i++) {
        if (outcomes[i] != 0)
            atomic_fetch_add_explicit(&m->changes[i], outcomes[i], memory_order_relaxed);
        n += outcomes[i];
    }
    while (b < SRV_PUSH_BUCKETS - 1 && n > push_le[b])
        b++;
    srv_metric_inc(&m->push_buckets[b]);
    atomic_fetch_add_explicit(&m->push_changes, n, memory_order_relaxed);
}

/* Writer thread: once per db_commit_group. */
void srv_metrics_commit(struct srv_metrics *m, int64_t ns, int committed)
{
    size_t b = 0;

    if (ns < 0)
        ns = 0;
    while (b < SRV_COMMIT_BUCKETS - 1 && ns > commit_le_ns[b])
        b++;
    srv_metric_inc(&m->commit_buckets[b]);
    atomic_fetch_add_explicit(&m->commit_ns, (unsigned long long)ns, memory_order_relaxed);
    if (committed)
        srv_metric_inc(&m->commits);
}

/* Service thread: once per poke fan-out (srv_complete.c). */
void srv_metrics_poke(struct srv_metrics *m, int64_t ns, size_t pokes)
{
    unsigned long long u = ns > 0 ? (unsigned long long)ns : 0;

    srv_metric_inc(&m->poke_fanouts);
    atomic_fetch_add_explicit(&m->pokes, pokes, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->poke_ns, u, memory_order_relaxed);
    /* One writing thread: a plain compare is enough. */
    if (u > atomic_load_explicit(&m->poke_max_ns, memory_order_relaxed))
        atomic_store_explicit(&m->poke_max_ns, u, memory_order_relaxed);
}

static unsigned long long load(const atomic_ullong *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static long long load_gauge(const atomic_llong *c)
{
    long long v = atomic_load_explicit(c, memory_order_relaxed);
    return v < 0 ? 0 : v;
}

/* Appends printf-style text; the first failure sticks in *rc. */
static void __attribute__((format(printf, 3, 4)))
metrics_printf(struct proto_buf *out, int *rc, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    if (*rc != 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        *rc = PROTO_ETOOBIG;
        return;
    }
    *rc = proto_buf_append(out, line, (size_t)n);
}

/* The HELP and TYPE lines of one metric family. */
static void family(struct proto_buf *out, int *rc, const char *name, const char *type,
                   const char *help)
{
    metrics_printf(out, rc, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(struct proto_buf *out, int *rc, const char *name, const char *type,
                   const char *help, long long v)
{
    family(out, rc, name, type, help);
    metrics_printf(out, rc, "%s %lld\n", name, v);
}

/* Any thread. */
int srv_metrics_write(struct srv *srv, const struct db_store_stats *st, struct proto_buf *out)
{
    static const char *const outcome[4] = {"applied", "conflict", "duplicate", "rejected"};
    struct srv_metrics *m = &srv->metrics;
    unsigned long long cum = 0;
    int64_t up_ms = proto_now_ms() - srv->started_ms;
    int rc = 0;

    scalar(out, &rc, "visitsync_uptime_seconds", "gauge", "Seconds since the server started.",
           (long long)(up_ms > 0 ? up_ms / 1000 : 0));
    scalar(out, &rc, "visitsync_connections", "gauge",
           "visitsync.v1 WebSocket connections open, signed in or not.",
           load_gauge(&m->connections));
    scalar(out, &rc, "visitsync_devices_online", "gauge",
           "Devices with a signed-in visitsync.v1 connection.", load_gauge(&m->devices_online));
    scalar(out, &rc, "visitsync_monitor_watchers", "gauge",
           "/monitor WebSocket connections open, signed in or not.", load_gauge(&m->watchers));

    family(out, &rc, "visitsync_changes_total", "counter",
           "Pushed changes by outcome, counted when their push committed.");
    for (size_t i = 0; i < 4; i++)
        metrics_printf(out, &rc, "visitsync_changes_total{outcome=\"%s\"} %llu\n", outcome[i],
            load(&m->changes[i]));

    family(out, &rc, "visitsync_push_changes", "histogram", "Changes per committed push.");
    for (size_t b = 0; b < SRV_PUSH_BUCKETS; b++) {
        cum += load(&m->push_buckets[b]);
        if (b < SRV_PUSH_BUCKETS - 1)
            metrics_printf(out, &rc, "visitsync_push_changes_bucket{le=\"%" PRIu64 "\"} %llu\n", push_le[b],
                cum);
        else
            metrics_printf(out, &rc, "visitsync_push_changes_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    metrics_printf(out, &rc, "visitsync_push_changes_sum %llu\nvisitsync_push_changes_count %llu\n",
        load(&m->push_changes), cum);

    cum = 0;
    family(out, &rc, "visitsync_commit_seconds", "histogram",
           "Wall time of one group commit of the writer (BEGIN to COMMIT, fsync included).");
    for (size_t b = 0; b < SRV_COMMIT_BUCKETS; b++) {
        cum += load(&m->commit_buckets[b]);
        metrics_printf(out, &rc, "visitsync_commit_seconds_bucket{le=\"%s\"} %llu\n",
            b < SRV_COMMIT_BUCKETS - 1 ? commit_le[b] : "+Inf", cum);
    }
    metrics_printf(out, &rc, "visitsync_commit_seconds_sum %.9f\nvisitsync_commit_seconds_count %llu\n",
        (double)load(&m->commit_ns) / 1e9, cum);

    scalar(out, &rc, "visitsync_commits_total", "counter",
           "Group commits: one COMMIT, one fsync of the WAL (synchronous=FULL).",
           (long long)load(&m->commits));
    scalar(out, &rc, "visitsync_checkpoints_total", "counter",
           "WAL checkpoints that copied pages into the database file.",
           (long long)load(&m->checkpoints));
    scalar(out, &rc, "visitsync_poke_fanouts_total", "counter",
           "Committed pushes and resolutions whose tablets were poked (one fan-out each).",
           (long long)load(&m->poke_fanouts));
    scalar(out, &rc, "visitsync_pokes_total", "counter",
           "Pokes queued to signed-in tablets by the fan-outs.", (long long)load(&m->pokes));
    family(out, &rc, "visitsync_poke_fanout_seconds_total", "counter",
           "Service-thread time of the fan-outs: finding the tablets to poke, queuing pokes.");
    metrics_printf(out, &rc, "visitsync_poke_fanout_seconds_total %.9f\n",
                   (double)load(&m->poke_ns) / 1e9);
    family(out, &rc, "visitsync_poke_fanout_max_seconds", "gauge",
           "The longest poke fan-out since the server started.");
    metrics_printf(out, &rc, "visitsync_poke_fanout_max_seconds %.9f\n",
                   (double)load(&m->poke_max_ns) / 1e9);
    scalar(out, &rc, "visitsync_signin_failures_total", "counter",
           "Refused sign-ins (devices and monitors): unknown, revoked or wrong token.",
           (long long)load(&m->signin_failures));
    scalar(out, &rc, "visitsync_throttled_hellos_total", "counter",
           "Hellos refused unchecked (close 4429): too many failed sign-ins from the address.",
           (long long)load(&m->throttled_hellos));

    if (st != NULL) {
        scalar(out, &rc, "visitsync_db_bytes", "gauge",
               "Size of the database file and its WAL in bytes.", (long long)st->db_bytes);
        scalar(out, &rc, "visitsync_records", "gauge", "Current records, deleted ones not counted.",
               (long long)st->records);
        scalar(out, &rc, "visitsync_cursor", "gauge",
               "The change feed's position: the id of the newest history row.",
               (long long)st->cursor);
        scalar(out, &rc, "visitsync_conflicts_open", "gauge", "Conflict entries still open.",
               (long long)st->conflicts_open);
    }
    return rc;
}

/* Any thread. */
int srv_metrics_authorized(const struct srv *srv, const char *authorization_header)
{
    const char *want = srv->cfg->metrics_token;
    unsigned char a[PROTO_TOKEN_HASH], b[PROTO_TOKEN_HASH];
    const char *given;

    if (want == NULL)
        return 1;
    if (authorization_header == NULL || strncmp(authorization_header, "Bearer ", 7) != 0)
        return 0;
    given = authorization_header + 7;
    /* Hashing both makes the compare constant-time whatever the lengths. */
    proto_token_hash(given, strlen(given), a);
    proto_token_hash(want, strlen(want), b);
    return proto_token_equal(a, b);
}
