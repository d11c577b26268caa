/*
 * srv_complete.c — the completion queue, both ends of it, and what each
 * finished job means for its connection.
 *
 * Design (redis's bio.c pattern): a worker thread fills the result part of
 * a job, including the serialized reply, and srv_complete() appends it to
 * srv->done and wakes the service thread with lws_cancel_service(), the one
 * lws call that is safe from another thread. Wake-ups coalesce, so the
 * service thread takes the whole queue each time (srv_complete_drain, on
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED) and dispatches every job by kind:
 *
 *   hello    count the answer against the peer address, then welcome the
 *            session (an older connection of the device is closed, 4409),
 *            refuse it (4401), or, when the store failed, let it say hello
 *            again;
 *   push     poke every other device whose scope holds a grid the push
 *            changed, then hand the ack to the session, closing it (4401)
 *            when its device was revoked meanwhile;
 *   pull     hand the changes reply to the session;
 *   note     nothing (the writer recorded the pull);
 *   revoked  close the live connections of the revoked devices (4401);
 *   API      answer the waiting HTTP request (srv_api_complete); a
 *            resolve first pokes the tablets of the grid it changed, as
 *            a push does;
 *   monitor hello  welcome or refuse a /monitor watcher (srv_monitor.c);
 *   photo    a blob_status or error to the session, a photo to the
 *            waiting HTTP request (srv_blob.c).
 *
 * Pushes, pulls and the writer's poll are also the monitor's events
 * (srv_monitor_push, _pull, _devices): one atomic load when nobody watches.
 *
 * A job names its session by id: a session that closed meanwhile is not
 * found, and its reply is dropped. What a completion does to a connection
 * is srv_session.c's (srv_session_fill_reply, srv_session_welcome, ...);
 * this file decides which of those happen.
 */
#include <stdio.h>
#include <string.h>

#include "srv_internal.h"

/* Worker threads. lws_cancel_service is the one lws call safe from another thread. */
void srv_complete(struct srv *srv, struct srv_job *job)
{
    if (srv_queue_put(&srv->done, job) != 0) {
        srv_job_free(job);
        return;
    }
    lws_cancel_service(srv->ctx);
}

/* The session a job answers, when it is still there and not closing. */
static struct srv_session *job_session(struct srv *srv, const struct srv_job *job)
{
    struct srv_session *s = job->session != 0 ? srv_session_find(srv, job->session) : NULL;

    return s != NULL && !s->close_code ? s : NULL;
}

/*
 * Counts a hello's answer against its address, whether or not its session
 * is still there (closing right after sending a wrong token must not dodge
 * the count), and logs a refusal: the address and the device, never the token.
 */
static void hello_account(struct srv *srv, struct srv_job *job)
{
    char addr[SRV_ADDR_MAX], device[PROTO_ID_MAX * 4 + 8];
    int failed = job->rc == 0 && job->refused != PROTO_CODE_NONE;
    int64_t ban_ms = 0;
    uint32_t fails = 0;
    int banned;

    if (job->peer == NULL)
        return;
    snprintf(addr, sizeof addr, "%s", job->peer->addr);
    banned = srv_peer_hello_end(&srv->peers, job->peer, failed, proto_mono_ms(), &ban_ms, &fails);
    job->peer = NULL; /* may be freed */
    if (!failed)
        return;
    srv_metric_inc(&srv->metrics.signin_failures);
    srv_log_escape(job->msg != NULL && job->msg->u.hello.device ? job->msg->u.hello.device : "",
                   device, sizeof device);
    srv_log(SRV_LOG_NOTICE,
            "sign-in refused: device \"%s\" from %s (unknown, revoked, or the token does not "
            "match); %u failures from this address lately (%d a minute are free)",
            device, addr, fails, SRV_THROTTLE_FREE);
    if (banned)
        srv_log(SRV_LOG_NOTICE, "sign-ins from %s refused for %lld s (close 4429)", addr,
                (long long)(ban_ms / 1000));
}

/* A hello was answered: welcome (replacing an older connection) or refusal. */
static void complete_hello(struct srv *srv, struct srv_job *job)
{
    struct srv_session *s;

    hello_account(srv, job);
    s = job_session(srv, job);
    if (s == NULL)
        return;
    s->hello_pending = 0;
    if (job->who != NULL) {
        srv_session_welcome(s, job->who);
        job->who = NULL;
        srv_session_fill_reply(s, job);
        return;
    }
    srv_session_fill_reply(s, job);
    if (job->refused != PROTO_CODE_NONE)
        srv_session_close(s, SRV_CLOSE_UNAUTHORIZED, "unauthorized", 1);
    else
        srv_session_hello_again(s); /* the store failed: the client may say hello again */
}

/* Pokes s unless it is the pusher's device's, closing, or owes a pull already. 1 when poked. */
static size_t poke_one(struct srv_session *s, const char *pusher, const char *cursor)
{
    if (s->close_code || s->poke_outstanding || strcmp(s->who->p.device, pusher) == 0)
        return 0;
    return (size_t)srv_session_poke(s, cursor);
}

/*
 * Pokes (§2.5) every other device whose scope has one of the grids the push
 * changed: the sessions of each such grid in the grid index (srv_session.c),
 * then the few on srv->unindexed (every grid: supervisors) whose scope
 * allows one of them. A session of several of the grids is visited once per
 * grid but poked once: its first poke leaves it owing a pull
 * (poke_outstanding). So the cost is the tablets of the grids changed, not
 * every connection; its time and count go to /metrics.
 */
static void poke_others(struct srv *srv, const struct srv_job *job)
{
    const char *pusher = job->who->p.device;
    int64_t t0 = srv_metrics_clock_ns();
    size_t poked = 0;
    struct srv_list *l;
    char cursor[PROTO_CURSOR_SIZE];

    proto_cursor_format(job->cursor, srv->epoch, cursor);
    for (size_t i = 0; i < job->n_names; i++) {
        struct srv_grid *g = srv_grid_find(srv, job->names[i]);
        if (g == NULL)
            continue;
        SRV_LIST_FOREACH(l, &g->members)
            poked += poke_one(srv_list_entry(l, struct srv_grid_member, link)->s, pusher, cursor);
    }
    SRV_LIST_FOREACH(l, &srv->unindexed) {
        struct srv_session *s = srv_list_entry(l, struct srv_session, unindexed_link);
        int hit = 0;
        for (size_t i = 0; i < job->n_names && !hit; i++)
            hit = sync_scope_allows(&s->who->p.scope, job->names[i]);
        if (hit)
            poked += poke_one(s, pusher, cursor);
    }
    srv_metrics_poke(&srv->metrics, srv_metrics_clock_ns() - t0, poked);
}

/* A push was committed (or failed): pokes, then the ack. */
static void complete_push(struct srv *srv, struct srv_job *job)
{
    struct srv_session *s;

    if (job->rc == 0 && job->n_names > 0)
        poke_others(srv, job);
    srv_monitor_push(srv, job);
    s = job_session(srv, job);
    if (s == NULL)
        return;
    srv_session_fill_reply(s, job);
    if (job->refused != PROTO_CODE_NONE)
        srv_session_close(s, SRV_CLOSE_UNAUTHORIZED, "device revoked", 1);
}

/* Closes the live connections of revoked devices (4401). */
static void complete_revoked(struct srv *srv, const struct srv_job *job)
{
    for (size_t i = 0; i < job->n_names; i++) {
        struct srv_session *s = srv_session_of_device(srv, job->names[i]);
        if (s != NULL && !s->close_code)
            srv_session_revoked(s);
    }
    srv_monitor_devices(srv, job);
}

/* Does what one finished job means. Service thread; the caller frees job. */
static void complete_one(struct srv *srv, struct srv_job *job)
{
    struct srv_session *s;

    switch (job->kind) {
    case SRV_JOB_HELLO:
        complete_hello(srv, job);
        return;
    case SRV_JOB_PUSH:
        complete_push(srv, job);
        return;
    case SRV_JOB_PULL:
        srv_monitor_pull(srv, job);
        s = job_session(srv, job);
        if (s != NULL)
            srv_session_fill_reply(s, job);
        return;
    case SRV_JOB_NOTE:
        return;
    case SRV_JOB_REVOKED:
        complete_revoked(srv, job);
        return;
    case SRV_JOB_MONITOR_HELLO:
        srv_monitor_hello_done(srv, job);
        return;
    case SRV_JOB_API_STATUS:
    case SRV_JOB_API_CONFLICTS:
    case SRV_JOB_API_REPORT:
    case SRV_JOB_METRICS:
        srv_api_complete(srv, job);
        return;
    case SRV_JOB_BLOB_OFFER:
    case SRV_JOB_BLOB_CHUNK:
    case SRV_JOB_BLOB_GET:
        srv_blob_complete(srv, job);
        return;
    case SRV_JOB_RESOLVE:
        /* A resolution is a change by the supervisor: the same pokes as a push's. */
        if (job->rc == 0 && job->n_names > 0)
            poke_others(srv, job);
        srv_api_complete(srv, job);
        return;
    }
}

/* Service thread. Takes the whole list at once: wake-ups coalesce. */
void srv_complete_drain(struct srv *srv)
{
    struct srv_job *job = srv_queue_take_all(&srv->done);

    while (job != NULL) {
        struct srv_job *next = job->next;
        job->next = NULL;
        complete_one(srv, job);
        srv_job_free(job);
        job = next;
    }
}
