/*
 * srv_writer.c — the writer thread: the only user of the read-write store.
 *
 * Design: take every job waiting (up to SRV_GROUP_MAX jobs and SRV_GROUP_BYTES
 * of message text) and apply them in one
 * db_commit_group, each in its own savepoint, so one COMMIT (one fsync) makes
 * many pushes durable. Only after COMMIT returned are replies serialized and
 * the jobs handed back on the completion queue: an ack therefore never
 * promises what a crash could lose.
 *
 * Revocation: before a push is applied, the device's revoked flag is read
 * again inside the group's transaction. `visitsync device revoke` is a
 * write transaction of its own and SQLite has one writer at a time, so a
 * revoke that has returned committed before our BEGIN and is seen, and one
 * still running waits for our COMMIT: no change of a revoked device
 * commits after its revoke returned. The push is then refused whole
 * (unauthorized) and the service thread closes the connection (4401).
 * Once a second, when idle or between groups, the writer also polls for
 * devices revoked by another process, so that idle connections are closed
 * too. This thread never touches a wsi and logs only through srv_log.
 */
#include <stdlib.h>
#include <string.h>

#include "proto_token.h"
#include "srv_internal.h"

/* What one push needs while it is applied: its results and the grids it touched. */
struct push_work {
    struct proto_result *results;
    struct sync_touched *touched; /* per change, filled by sync_apply_push */
};

struct writer_ctx;

/* One job of a group as db_commit_group hands it to writer_apply_job. */
struct group_slot {
    struct writer_ctx *w;
    struct srv_job *job;
    struct push_work work;
};

struct writer_ctx {
    struct srv *srv;
    int64_t now_ms;
    struct group_slot slots[SRV_GROUP_MAX];
};

/*
 * Authenticates a hello: the token must not be empty, the device must
 * exist, not be revoked, and the SHA-256 of the token must equal the
 * stored hash (compared in constant time). Refusals are not store
 * failures: they return 0 with job->refused set. On success job->who owns
 * the principal. Writer thread, inside the group.
 */
static int writer_apply_hello(struct writer_ctx *w, struct db *db, struct srv_job *job)
{
    const struct proto_hello *h = &job->msg->u.hello;
    unsigned char hash[PROTO_TOKEN_HASH];
    struct srv_principal *who;
    struct db_hello rec;
    int rc;

    /* Contract v1.1: an empty token is unauthorized (no token is ever empty). */
    if (h->token == NULL || h->token[0] == '\0') {
        job->refused = PROTO_CODE_UNAUTHORIZED;
        return 0;
    }
    proto_token_hash(h->token, strlen(h->token), hash);
    who = calloc(1, sizeof *who);
    if (who == NULL)
        return DB_ENOMEM;
    atomic_init(&who->refs, 1);
    rc = db_device_load(db, h->device, &who->p);
    if (rc == DB_ENOTFOUND) {
        free(who);
        job->refused = PROTO_CODE_UNAUTHORIZED;
        return 0;
    }
    if (rc != 0) {
        free(who);
        return rc;
    }
    if (!proto_token_equal(hash, who->p.token_hash) || who->p.revoked) {
        srv_principal_unref(who);
        job->refused = PROTO_CODE_UNAUTHORIZED;
        return 0;
    }
    memset(&rec, 0, sizeof rec);
    rec.app = h->app;
    rec.pending = h->pending;
    rec.oldest_pending = h->oldest_pending;
    rec.has_skew = h->has_clock;
    rec.clock_skew_ms = h->has_clock ? h->clock - w->now_ms : 0;
    rc = db_device_hello(db, h->device, &rec, w->now_ms);
    if (rc != 0) {
        srv_principal_unref(who);
        return rc;
    }
    job->who = who;
    return 0;
}

/*
 * Applies a push through sync/, noting the grids of every record it changed
 * (before and after, so a record that moved pokes both grids) as sync
 * reports them: the records are not read again here. A push of a device
 * revoked since its hello (read now, in this transaction: one primary-key
 * lookup per push) is refused whole with job->refused set, writing
 * nothing. Writer thread, inside the group.
 */
static int writer_apply_push(struct writer_ctx *w, struct db *db, struct srv_job *job,
                             struct push_work *pw)
{
    const struct proto_push *p = &job->msg->u.push;
    int revoked = 0;
    int rc;

    rc = db_device_revoked(db, job->who->p.device, &revoked);
    if (rc == DB_ENOTFOUND) {
        revoked = 1; /* a device that no longer exists has no token either */
        rc = 0;
    }
    if (rc != 0)
        return rc;
    if (revoked) {
        job->refused = PROTO_CODE_UNAUTHORIZED;
        return 0;
    }
    rc = sync_apply_push(&w->srv->rules, db, &job->who->p, p->changes, p->n_changes, w->now_ms,
                         pw->results, pw->touched);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct sync_touched *t = &pw->touched[i];
        if (t->grid_before != NULL)
            srv_job_add_name(job, t->grid_before);
        if (t->grid_after != NULL)
            srv_job_add_name(job, t->grid_after);
    }
    return db_device_note(db, job->who->p.device, DB_ACTIVITY_PUSH, w->now_ms, NULL);
}

/* db_commit_group's callback. Writer thread. */
static int writer_apply_job(struct db *db, void *arg)
{
    struct group_slot *slot = arg;
    struct writer_ctx *w = slot->w;
    struct srv_job *job = slot->job;

    switch (job->kind) {
    case SRV_JOB_HELLO:
        return writer_apply_hello(w, db, job);
    case SRV_JOB_PUSH:
        if (slot->work.results == NULL)
            return DB_ENOMEM;
        return writer_apply_push(w, db, job, &slot->work);
    case SRV_JOB_NOTE:
        return db_device_note(db, job->device, DB_ACTIVITY_PULL, w->now_ms, NULL);
    case SRV_JOB_RESOLVE:
        return srv_api_resolve_apply(w->srv, db, job, w->now_ms);
    case SRV_JOB_BLOB_OFFER:
    case SRV_JOB_BLOB_CHUNK:
        return srv_blob_apply(db, job, w->now_ms);
    default:
        return DB_EMISUSE;
    }
}

/* Builds the welcome of §2.1 after the group committed. Writer thread. */
static void finish_hello(struct srv *srv, struct srv_job *job, int64_t now_ms)
{
    const char *req = job->msg->req;
    struct proto_welcome wl;
    char cursor[PROTO_CURSOR_SIZE];

    if (job->rc != 0) {
        srv_principal_unref(job->who);
        job->who = NULL;
        srv_write_error(&job->out, req, PROTO_CODE_INTERNAL,
                        "the server could not read its database; try again later");
        return;
    }
    if (job->refused != PROTO_CODE_NONE) {
        srv_write_error(&job->out, req, job->refused,
                        "device \"%s\" is unknown, revoked, or the token does not match",
                        job->msg->u.hello.device);
        return;
    }
    proto_cursor_format(job->cursor, srv->epoch, cursor);
    memset(&wl, 0, sizeof wl);
    wl.user = job->who->p.user;
    wl.role = db_role_name(job->who->p.role);
    wl.grids = (const char *const *)job->who->p.scope.grids;
    wl.n_grids = job->who->p.scope.n;
    wl.time = now_ms;
    wl.max_batch = srv->cfg->max_batch;
    wl.max_message = srv->cfg->max_message;
    wl.cursor = cursor;
    wl.protocol = 1;
    wl.schema_version = srv->schema->version;
    /*
     * Read inside the group that committed this hello, so it counts every
     * push of the device committed before it: a client whose store is new
     * numbers its changes after it instead of having them taken as
     * duplicates.
     */
    wl.seq = job->who->p.max_seq;
    proto_buf_reset(&job->out);
    if (proto_write_welcome(&job->out, req, &wl) != 0) {
        srv_principal_unref(job->who);
        job->who = NULL;
        srv_write_error(&job->out, req, PROTO_CODE_INTERNAL, "the welcome could not be written");
    }
}

/* Builds the ack of §2.2 after the group committed. Writer thread. */
static void finish_push(struct srv *srv, struct srv_job *job, struct push_work *pw)
{
    const struct proto_push *p = &job->msg->u.push;
    const char *req = job->msg->req;
    char cursor[PROTO_CURSOR_SIZE];
    int rc;

    if (job->rc != 0) {
        /* Nothing of this push is durable: the client must send it again. */
        for (size_t i = 0; i < job->n_names; i++)
            free(job->names[i]);
        job->n_names = 0;
        srv_write_error(&job->out, req, PROTO_CODE_INTERNAL,
                        "the push could not be committed (%s); send it again",
                        sync_strerror(job->rc));
        return;
    }
    if (job->refused != PROTO_CODE_NONE) {
        /* The service thread closes the connection (4401) after this reply. */
        srv_write_error(&job->out, req, job->refused,
                        "device \"%s\" was revoked; nothing of this push was applied",
                        job->who->p.device);
        return;
    }
    proto_cursor_format(job->cursor, srv->epoch, cursor);
    proto_buf_reset(&job->out);
    rc = proto_write_ack(&job->out, req, cursor, pw->results, p->n_changes);
    if (rc != 0)
        srv_write_error(&job->out, req, PROTO_CODE_INTERNAL,
                        "the ack could not be written (%s); the push is committed, send it "
                        "again to read the results",
                        proto_strerror(rc));
}

static void push_work_free(struct push_work *pw, size_t n)
{
    if (pw->results != NULL) {
        sync_results_clear(pw->results, n);
        free(pw->results);
    }
    if (pw->touched != NULL) {
        sync_touched_clear(pw->touched, n);
        free(pw->touched);
    }
    memset(pw, 0, sizeof *pw);
}

/*
 * Counts a committed push's changes by outcome (the monitor's push event and
 * /metrics) and, when a monitor is watching, notes each conflicted field
 * for its conflict events. Writer thread, after COMMIT.
 */
static void push_account(struct srv *srv, struct srv_job *job, const struct push_work *pw)
{
    const struct proto_push *p = &job->msg->u.push;
    int watched = srv_monitor_watched(&srv->mon);

    if (job->rc != 0 || job->refused != PROTO_CODE_NONE)
        return;
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct proto_result *r = &pw->results[i];
        job->outcomes[r->status]++;
        for (size_t f = 0; watched && r->status == PROTO_CONFLICT && f < r->n_conflicts; f++)
            srv_monitor_note_conflict(job, p->changes[i].collection, r->id, r->conflicts[f],
                                      pw->touched[i].grid_after);
    }
    srv_metrics_push(&srv->metrics, job->outcomes);
}

/* Applies one group, then completes every job of it. Writer thread. */
static void writer_group(struct writer_ctx *w, struct srv_job **jobs, size_t n)
{
    struct srv *srv = w->srv;
    void *ptrs[SRV_GROUP_MAX];
    int rcs[SRV_GROUP_MAX];
    int64_t cursor = 0;
    int rc;

    w->now_ms = proto_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct group_slot *slot = &w->slots[i];
        slot->w = w;
        slot->job = jobs[i];
        ptrs[i] = slot;
        rcs[i] = 0;
        if (jobs[i]->kind == SRV_JOB_PUSH) {
            size_t nc = jobs[i]->msg->u.push.n_changes;
            /* Left NULL when out of memory: writer_apply_job then fails only this job. */
            slot->work.results = calloc(nc ? nc : 1, sizeof *slot->work.results);
            slot->work.touched = calloc(nc ? nc : 1, sizeof *slot->work.touched);
            if (slot->work.results == NULL || slot->work.touched == NULL)
                push_work_free(&slot->work, 0);
        }
    }
    int64_t t0 = srv_metrics_clock_ns();
    rc = db_commit_group(srv->wdb, writer_apply_job, ptrs, n, rcs);
    int64_t took_ns = srv_metrics_clock_ns() - t0;
    srv_metrics_commit(&srv->metrics, took_ns, rc == 0);
    srv_log(SRV_LOG_DEBUG, "group of %zu jobs: %s in %lld ms", n, rc == 0 ? "committed" : "failed",
            (long long)(took_ns / 1000000));
    if (rc == 0) {
        atomic_store(&srv->db_ok, 1);
        if (db_cursor(srv->wdb, &cursor) != 0)
            cursor = 0;
    } else {
        atomic_store(&srv->db_ok, 0);
        srv_log(SRV_LOG_ERR, "a group of %zu jobs could not be committed: %s", n,
                db_errmsg(srv->wdb));
    }
    for (size_t i = 0; i < n; i++) {
        struct group_slot *slot = &w->slots[i];
        struct srv_job *job = slot->job;
        job->rc = rc != 0 ? rc : rcs[i];
        job->cursor = cursor;
        if (job->kind == SRV_JOB_HELLO)
            finish_hello(srv, job, w->now_ms);
        else if (job->kind == SRV_JOB_PUSH) {
            finish_push(srv, job, &slot->work);
            push_account(srv, job, &slot->work);
        } else if (job->kind == SRV_JOB_RESOLVE) {
            srv_api_resolve_finish(srv, job);
        } else if (job->kind == SRV_JOB_BLOB_OFFER || job->kind == SRV_JOB_BLOB_CHUNK) {
            srv_blob_finish(job);
        }
        if (job->kind == SRV_JOB_PUSH)
            push_work_free(&slot->work, job->msg->u.push.n_changes);
        slot->job = NULL;
        srv_complete(srv, job);
    }
}

/*
 * What the once-a-second poll keeps between polls. Revocations are read
 * with overlap (a device may be reported by two or three polls in a row:
 * closing it again is harmless, but the monitor hears of it once, when it
 * was not in the previous poll's list); enrollments by position.
 */
struct writer_poll {
    struct srv *srv;
    struct srv_job *job;
    int watched;
    struct srv_job *prev; /* names: the devices the previous poll found revoked */
    int64_t enrolled_pos; /* the newest device announced (devices rowid) */
};

static void revoked_cb(void *ctx, const char *device)
{
    srv_job_add_name(ctx, device);
}

/* Notes a device for an "enrolled" or "revoked" event with its user's grids. */
static void note_device(struct writer_poll *wp, const char *device, int enrolled)
{
    struct db_principal p;

    if (db_device_load(wp->srv->wdb, device, &p) != 0)
        return; /* removed meanwhile: no event */
    srv_monitor_note_device(wp->job, enrolled, &p);
    db_principal_clear(&p);
}

static void enrolled_cb(void *ctx, const char *device, const char *user)
{
    struct writer_poll *wp = ctx;

    (void)user; /* note_device loads it with the grids */
    if (wp->watched && device != NULL)
        note_device(wp, device, 1);
}

/*
 * Asks the store which devices were revoked lately (their connections are
 * closed) and, for the monitor, which were enrolled. Writer thread.
 */
static void writer_poll_revoked(struct writer_poll *wp, int64_t since_ms)
{
    struct srv *srv = wp->srv;
    struct srv_job *job = srv_job_new(SRV_JOB_REVOKED);
    int rc;

    if (job == NULL)
        return;
    wp->job = job;
    wp->watched = srv_monitor_watched(&srv->mon);
    rc = db_devices_revoked_since(srv->wdb, since_ms, revoked_cb, job);
    if (rc != 0) {
        srv_log(SRV_LOG_WARN, "the revocation poll failed: %s", db_errmsg(srv->wdb));
        srv_job_free(job);
        return;
    }
    for (size_t i = 0; wp->watched && i < job->n_names; i++) {
        size_t k = 0;
        while (wp->prev != NULL && k < wp->prev->n_names &&
               strcmp(wp->prev->names[k], job->names[i]) != 0)
            k++;
        if (wp->prev == NULL || k == wp->prev->n_names)
            note_device(wp, job->names[i], 0);
    }
    /* Kept for the next poll's comparison: only the names, in a job that is never queued. */
    srv_job_free(wp->prev);
    wp->prev = srv_job_new(SRV_JOB_REVOKED);
    for (size_t i = 0; wp->prev != NULL && i < job->n_names; i++)
        srv_job_add_name(wp->prev, job->names[i]);
    /* Not watched: only the position moves, so no device is announced late. */
    rc = db_devices_enrolled_after(srv->wdb, wp->enrolled_pos, wp->watched ? enrolled_cb : NULL,
                                   wp, &wp->enrolled_pos);
    if (rc != 0)
        srv_log(SRV_LOG_WARN, "the enrollment poll failed: %s", db_errmsg(srv->wdb));
    if (job->n_names == 0 && job->note == NULL) {
        srv_job_free(job);
        return;
    }
    srv_complete(srv, job);
}

/* The writer thread's body. Returns when the write queue is stopped. */
void *srv_writer_main(void *arg)
{
    struct srv *srv = arg;
    struct writer_ctx *w = calloc(1, sizeof *w);
    struct srv_job *jobs[SRV_GROUP_MAX];
    /* Revocations are polled with overlap: a device reported twice is closed once. */
    int64_t since = srv->started_ms - 2 * SRV_REVOKE_POLL_MS;
    int64_t next_poll = proto_mono_ms() + SRV_REVOKE_POLL_MS;
    struct writer_poll wp = {.srv = srv};

    if (w == NULL) {
        srv_log(SRV_LOG_ERR, "the writer thread is out of memory");
        atomic_store(&srv->db_ok, 0);
        return NULL;
    }
    w->srv = srv;
    /* Devices enrolled before the start are not announced. */
    if (db_devices_enrolled_after(srv->wdb, 0, NULL, NULL, &wp.enrolled_pos) != 0)
        srv_log(SRV_LOG_WARN, "the enrollment poll failed: %s", db_errmsg(srv->wdb));
    for (;;) {
        int n = srv_queue_take(&srv->writes, jobs, SRV_GROUP_MAX, SRV_GROUP_BYTES, next_poll);
        if (n < 0)
            break;
        if (n > 0)
            writer_group(w, jobs, (size_t)n);
        if (proto_mono_ms() >= next_poll) {
            int64_t started = proto_now_ms();
            writer_poll_revoked(&wp, since);
            since = started - 2 * SRV_REVOKE_POLL_MS;
            next_poll = proto_mono_ms() + SRV_REVOKE_POLL_MS;
        }
    }
    srv_job_free(wp.prev);
    free(w);
    return NULL;
}
