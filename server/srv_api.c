/*
 * srv_api.c — the jobs of the supervisors' HTTP API: what the reader and
 * the writer do for them, and what their completion does on the service
 * thread.
 *
 * Design: srv_http.c turns a request into a job (the bearer token, the
 * query, the parsed body). The worker authenticates the token against the
 * store itself (srv_api_auth: its SHA-256 in api_tokens, not revoked, the
 * user a supervisor or an admin), so a token revoked a moment ago is
 * refused by the very next request; then it writes the whole answer into
 * job->out with the principal's scope passed to every store call. A
 * resolve runs in the writer's commit group like a push, so its answer
 * leaves only once it is durable; its completion pokes the tablets of the
 * grid it touched (srv_complete.c's poke path) and tells the monitor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_jsonw.h"
#include "proto_time.h"
#include "proto_token.h"
#include "srv_internal.h"

static const char unauthorized_error[] = "unauthorized";
static const char prometheus_type[] = "text/plain; version=0.0.4; charset=utf-8";

/* Any worker thread. */
int srv_api_auth(struct db *db, const char *token, struct db_principal *out)
{
    unsigned char hash[PROTO_TOKEN_HASH];
    struct db_principal p;
    int rc;

    memset(&p, 0, sizeof p);
    proto_token_hash(token, strlen(token), hash);
    rc = db_token_load(db, hash, &p);
    if (rc == DB_ENOTFOUND)
        return 1;
    if (rc != 0)
        return rc;
    /* The store found the hash; the compare is repeated in constant time all the same. */
    if (!proto_token_equal(hash, p.token_hash) || p.revoked ||
        (p.role != DB_ROLE_SUPERVISOR && p.role != DB_ROLE_ADMIN)) {
        db_principal_clear(&p);
        return 1;
    }
    *out = p;
    return 0;
}

/* Replaces job->out with an error document and sets the status. */
static void api_error(struct srv_job *job, unsigned int status, const char *error,
                      const char *message)
{
    job->http_status = status;
    if (srv_api_json_error(&job->out, error, message) != 0) {
        /* Only memory can fail this small a document: say so plainly. */
        job->http_status = 503;
        proto_buf_reset(&job->out);
    }
}

/* Gives job->out an empty buffer for an answer without headroom. Worker threads. */
static void answer_begin(struct srv_job *job)
{
    proto_buf_free(&job->out);
    proto_buf_init(&job->out, 0, SRV_API_BODY_MAX);
}

/* Answers a GET job (status, conflicts, report, metrics) into job->out. API reader thread. */
static void api_read(struct srv *srv, struct srv_job *job)
{
    struct db_principal who;
    struct db_store_stats st;
    int rc;

    memset(&who, 0, sizeof who);
    answer_begin(job);
    job->http_status = 200;
    if (job->kind == SRV_JOB_METRICS) {
        /* The token of --metrics-token was checked by the service thread. */
        memset(&st, 0, sizeof st);
        rc = db_store_stats(srv->adb, NULL, &st);
        if (rc != 0)
            srv_log(SRV_LOG_WARN, "/metrics: the store's figures could not be read: %s",
                    db_errmsg(srv->adb));
        rc = srv_metrics_write(srv, rc == 0 ? &st : NULL, &job->out);
        goto out;
    }
    rc = srv_api_auth(srv->adb, job->api.token, &who);
    if (rc == 1) {
        api_error(job, 401, unauthorized_error, NULL);
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    switch (job->kind) {
    case SRV_JOB_API_STATUS:
        rc = srv_api_json_status(srv, &who, proto_buf_data(&job->in), job->api.n_online, &job->out);
        break;
    case SRV_JOB_API_CONFLICTS:
        rc = srv_api_json_conflicts(srv, &who, &job->api, &job->out);
        break;
    case SRV_JOB_API_REPORT:
        rc = srv_api_json_report(srv, &who, &job->out);
        break;
    default:
        rc = DB_EMISUSE;
        break;
    }
out:
    if (rc != 0) {
        srv_log(SRV_LOG_ERR, "an HTTP API request (job kind %d) failed: %s; the store says: %s",
                (int)job->kind, sync_strerror(rc), db_errmsg(srv->adb));
        api_error(job, 500, "internal", "the store could not be read; try again");
    }
    db_principal_clear(&who);
}

/* The API reader thread's body. Returns when its queue is stopped. */
void *srv_api_main(void *arg)
{
    struct srv *srv = arg;
    struct srv_job *job;

    for (;;) {
        int n = srv_queue_take(&srv->api_reads, &job, 1, 0, proto_mono_ms() + 60 * 1000);
        if (n < 0)
            break;
        if (n == 0)
            continue;
        if (job->kind == SRV_JOB_MONITOR_HELLO)
            srv_monitor_check(srv, srv->adb, job);
        else if (job->kind == SRV_JOB_BLOB_GET)
            srv_blob_get(srv, job);
        else
            api_read(srv, job);
        srv_complete(srv, job);
    }
    return NULL;
}

/* Copies s into a fixed field of the resolved note ("" for NULL). */
static void note(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s != NULL ? s : "");
}

/*
 * Records a resolution in the audit log, inside the resolve's savepoint so
 * that both commit or neither: who (the supervisor's user id), the
 * conflict, and what was chosen and why. The value itself is not written
 * (it is in the entry and the history). Writer thread.
 */
static int resolve_audit(struct db *db, const struct db_principal *who,
                         const struct db_conflict *c, const struct sync_resolution *res,
                         int64_t now_ms)
{
    static const char *const choices[] = {
        [SYNC_CHOOSE_WINNER] = "winner",
        [SYNC_CHOOSE_LOSER] = "loser",
        [SYNC_CHOOSE_VALUE] = "value",
    };
    char target[24], detail[DB_AUDIT_DETAIL_MAX * 4 + 1];

    snprintf(target, sizeof target, "%lld", (long long)c->id);
    /* db_audit_add cuts detail at DB_AUDIT_DETAIL_MAX characters. */
    snprintf(detail, sizeof detail, "choose=%s field=%s/%s.%s%s%s", choices[res->choose],
             c->collection, c->record_id, c->field, res->reason != NULL ? " reason=" : "",
             res->reason != NULL ? res->reason : "");
    return db_audit_add(db, now_ms, who->user, "resolve", target, detail);
}

/*
 * Writer thread, inside the group's savepoint: authenticates, resolves
 * through sync/, and writes the answer (sent only if the group commits).
 * A refusal (401, 400, 404, 409) writes nothing and returns 0.
 */
int srv_api_resolve_apply(struct srv *srv, struct db *db, struct srv_job *job, int64_t now_ms)
{
    struct srv_principal *who = NULL;
    struct sync_resolution res;
    struct sync_touched touched = {NULL, NULL};
    struct proto_fault fault;
    struct db_conflict c;
    int64_t rev = 0, history_id = 0;
    const char *data;
    int rc;

    memset(&c, 0, sizeof c);
    memset(&fault, 0, sizeof fault);
    answer_begin(job);
    data = proto_buf_data(&job->in);
    who = calloc(1, sizeof *who);
    if (who == NULL) {
        rc = DB_ENOMEM;
        goto out;
    }
    atomic_init(&who->refs, 1);
    rc = srv_api_auth(db, job->api.token, &who->p);
    if (rc == 1) {
        api_error(job, 401, unauthorized_error, NULL);
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    memset(&res, 0, sizeof res);
    res.conflict_id = job->api.conflict_id;
    res.choose = job->api.choose;
    res.value_json = res.choose == SYNC_CHOOSE_VALUE ? data : NULL;
    res.value_len = job->api.value_len;
    res.reason = job->api.has_reason ? data + job->api.value_len + 1 : NULL;
    rc = sync_resolve(&srv->rules, db, &who->p, &res, now_ms, &fault, &rev, &history_id,
                      &touched);
    switch (rc) {
    case SYNC_RESOLVED:
        break;
    case SYNC_RESOLVE_NOT_FOUND:
        api_error(job, 404, "not_found", NULL);
        rc = 0;
        goto out;
    case SYNC_RESOLVE_CLOSED:
        api_error(job, 409, "already_resolved", NULL);
        rc = 0;
        goto out;
    case SYNC_RESOLVE_INVALID:
        api_error(job, 400, "bad_request", fault.message);
        rc = 0;
        goto out;
    default:
        goto out; /* a store failure: the savepoint is rolled back */
    }
    if (touched.grid_before != NULL)
        srv_job_add_name(job, touched.grid_before);
    if (touched.grid_after != NULL)
        srv_job_add_name(job, touched.grid_after);
    rc = db_conflict_get(db, job->api.conflict_id, &c);
    if (rc == 0)
        rc = resolve_audit(db, &who->p, &c, &res, now_ms);
    if (rc != 0)
        goto out;
    job->http_status = 200;
    if (srv_api_json_conflict(&job->out, &c, rev) != 0) {
        rc = DB_ENOMEM;
        goto out;
    }
    job->resolved.id = c.id;
    note(job->resolved.collection, sizeof job->resolved.collection, c.collection);
    note(job->resolved.record, sizeof job->resolved.record, c.record_id);
    note(job->resolved.field, sizeof job->resolved.field, c.field);
    note(job->resolved.grid, sizeof job->resolved.grid, c.grid);
    /* The poke path skips the sender's device; a supervisor's principal has none. */
    job->who = who;
    who = NULL;
out:
    db_conflict_clear(&c);
    sync_touched_clear(&touched, 1);
    srv_principal_unref(who);
    return rc;
}

/* Writer thread, after the group's COMMIT (or its failure). */
void srv_api_resolve_finish(struct srv *srv, struct srv_job *job)
{
    if (job->rc == 0)
        return;
    /* Nothing of it is durable: no poke, no event, and the supervisor may try again. */
    for (size_t i = 0; i < job->n_names; i++)
        free(job->names[i]);
    job->n_names = 0;
    job->resolved.id = 0;
    srv_log(SRV_LOG_ERR, "resolving conflict %lld failed: %s", (long long)job->api.conflict_id,
            sync_strerror(job->rc));
    api_error(job, 500, "internal",
              atomic_load(&srv->db_ok) ? "the resolution could not be written; try again"
                                       : "the store cannot be written; nothing was resolved");
}

/* The monitor's event of a resolution (docs/protocol.md, "/monitor"). */
static void publish_resolved(struct srv *srv, const struct srv_job *job)
{
    const struct srv_api_resolved *r = &job->resolved;
    const char *grid = r->grid;
    struct proto_buf b;
    struct proto_jw w;

    proto_buf_init(&b, 0, 4096);
    proto_jw_init(&w, &b);
    proto_jw_object(&w);
    proto_jw_key(&w, "type");
    proto_jw_string(&w, "event");
    proto_jw_key(&w, "event");
    proto_jw_string(&w, "conflict");
    proto_jw_key(&w, "id");
    proto_jw_int(&w, r->id);
    proto_jw_key(&w, "status");
    proto_jw_string(&w, "resolved");
    proto_jw_key(&w, "collection");
    proto_jw_string(&w, r->collection);
    proto_jw_key(&w, "record");
    proto_jw_string(&w, r->record);
    proto_jw_key(&w, "field");
    proto_jw_string(&w, r->field);
    proto_jw_key(&w, "grid");
    proto_jw_string(&w, r->grid[0] ? r->grid : NULL);
    proto_jw_key(&w, "time");
    proto_jw_time(&w, proto_now_ms());
    proto_jw_object_end(&w);
    if (proto_jw_finish(&w) == 0)
        srv_monitor_publish(srv, &grid, r->grid[0] ? 1 : 0, proto_buf_data(&b), b.len);
    proto_buf_free(&b);
}

/* Service thread. */
void srv_api_complete(struct srv *srv, struct srv_job *job)
{
    int text = job->kind == SRV_JOB_METRICS && job->http_status == 200;

    if (job->kind == SRV_JOB_RESOLVE && job->rc == 0 && job->resolved.id != 0)
        publish_resolved(srv, job);
    srv_http_answer_job(srv, job, text ? prometheus_type : "application/json");
}
