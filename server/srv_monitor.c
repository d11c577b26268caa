/*
 * srv_monitor.c — the live monitor: WebSocket /monitor, subprotocol
 * visitsync.monitor, for the supervisors' dashboard (docs/protocol.md,
 * "The monitor").
 *
 * Everything here runs on the lws service thread unless a comment says
 * otherwise. A watcher sends {"type":"hello","token":…} within 10 s; the
 * token is checked by the reader thread (a SRV_JOB_MONITOR_HELLO job:
 * SHA-256, db_token_load, role supervisor or admin) and failures count in
 * the same per-address throttle as devices' sign-ins. Once welcomed, it
 * gets the events its scope allows and nothing it sends matters.
 *
 * Design:
 * - Events are built here from what a completion carries (the writer notes
 *   a push's conflicts and the devices its poll found in job->note; no
 *   SQLite on this thread), once per event, then copied into the queue of
 *   each watcher whose grids meet the event's. With nobody welcomed every
 *   entry point returns after one load, and the writer notes nothing.
 * - Each watcher has a FIFO of whole messages with a byte ceiling
 *   (SRV_MONITOR_QUEUE_MAX): one that falls that far behind is closed with
 *   4413 and reconnects; the server never buffers without bound for it.
 *   One message per writeable callback; the sent buffer is freed at the next.
 * - The 10 s hello deadline: watchers that owe a hello are a FIFO (every
 *   deadline is "connected + 10 s", so it is sorted by construction) with
 *   one timer set for its head, not a timer per connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_cursor.h"
#include "proto_jsonw.h"
#include "proto_monitor.h"
#include "proto_token.h"
#include "srv_internal.h"

#define MONITOR_NOTE_MAX 65536 /* conflicts or devices one note may carry */
#define MONITOR_EVENT_MAX ((size_t)64 << 10)

/* ---- notes: what the writer hands over for events ---------------------------- */

struct note_conflict {
    char *collection, *record, *field, *grid; /* grid NULL: the record has none */
};

struct note_device {
    int enrolled; /* 1 enrolled, 0 revoked */
    char *device, *user;
    char **grids; /* the user's grids; n_grids 0 (all) for a user of every grid */
    size_t n_grids;
};

struct srv_monitor_note {
    unsigned char token_hash[PROTO_TOKEN_HASH]; /* a monitor hello's token */
    struct note_conflict *conflicts;
    size_t n_conflicts, cap_conflicts;
    struct note_device *devices;
    size_t n_devices, cap_devices;
};

/* The note of job, made on first use; NULL when out of memory. */
static struct srv_monitor_note *note_of(struct srv_job *job)
{
    if (job->note == NULL)
        job->note = calloc(1, sizeof *job->note);
    return job->note;
}

/* Makes room for one more item of size bytes in *items (cap doubles; ceiling). */
static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    size_t want = *cap ? *cap * 2 : 8;
    void *grown;

    if (n < *cap)
        return 0;
    if (n >= MONITOR_NOTE_MAX)
        return -1;
    grown = realloc(*items, want * size);
    if (grown == NULL)
        return -1;
    *items = grown;
    *cap = want;
    return 0;
}

static char *dup_or_null(const char *s, int *failed)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *failed = 1;
    return d;
}

/* The thread that owns job (the writer). */
int srv_monitor_note_conflict(struct srv_job *job, const char *collection, const char *record,
                              const char *field, const char *grid)
{
    struct srv_monitor_note *n = note_of(job);
    struct note_conflict *c;
    int failed = 0;

    if (n == NULL || grow((void **)&n->conflicts, &n->cap_conflicts, n->n_conflicts,
                          sizeof *n->conflicts) != 0)
        return -1;
    c = &n->conflicts[n->n_conflicts];
    c->collection = dup_or_null(collection ? collection : "", &failed);
    c->record = dup_or_null(record ? record : "", &failed);
    c->field = dup_or_null(field, &failed);
    c->grid = dup_or_null(grid, &failed);
    if (failed || c->field == NULL) {
        free(c->collection);
        free(c->record);
        free(c->field);
        free(c->grid);
        return -1;
    }
    n->n_conflicts++;
    return 0;
}

static void device_free(struct note_device *d)
{
    free(d->device);
    free(d->user);
    for (size_t i = 0; i < d->n_grids; i++)
        free(d->grids[i]);
    free(d->grids);
}

/* The thread that owns job (the writer). */
int srv_monitor_note_device(struct srv_job *job, int enrolled, const struct db_principal *p)
{
    struct srv_monitor_note *n = note_of(job);
    struct note_device *d;
    int failed = 0;

    if (n == NULL ||
        grow((void **)&n->devices, &n->cap_devices, n->n_devices, sizeof *n->devices) != 0)
        return -1;
    d = &n->devices[n->n_devices];
    memset(d, 0, sizeof *d);
    d->enrolled = enrolled;
    d->device = dup_or_null(p->device, &failed);
    d->user = dup_or_null(p->user, &failed);
    if (!p->scope.all && p->scope.n > 0) {
        d->grids = calloc(p->scope.n, sizeof *d->grids);
        failed |= d->grids == NULL;
        for (size_t i = 0; !failed && i < p->scope.n; i++) {
            d->grids[i] = dup_or_null(p->scope.grids[i], &failed);
            d->n_grids += !failed;
        }
    }
    if (failed) {
        device_free(d);
        return -1;
    }
    n->n_devices++;
    return 0;
}

/* Any thread. */
void srv_monitor_note_free(struct srv_monitor_note *note)
{
    if (note == NULL)
        return;
    for (size_t i = 0; i < note->n_conflicts; i++) {
        struct note_conflict *c = &note->conflicts[i];
        free(c->collection);
        free(c->record);
        free(c->field);
        free(c->grid);
    }
    free(note->conflicts);
    for (size_t i = 0; i < note->n_devices; i++)
        device_free(&note->devices[i]);
    free(note->devices);
    free(note);
}

/* ---- the token check (reader thread) --------------------------------------- */

/* Reader thread. */
void srv_monitor_check(struct srv *srv, struct db *db, struct srv_job *job)
{
    struct srv_principal *who;
    int rc;

    (void)srv;
    if (job->note == NULL) {
        job->rc = DB_EMISUSE;
        return;
    }
    who = calloc(1, sizeof *who);
    if (who == NULL) {
        job->rc = DB_ENOMEM;
        return;
    }
    atomic_init(&who->refs, 1);
    rc = db_token_load(db, job->note->token_hash, &who->p);
    if (rc == DB_ENOTFOUND) {
        free(who);
        job->refused = PROTO_CODE_UNAUTHORIZED;
        return;
    }
    if (rc != 0) {
        free(who);
        job->rc = rc;
        return;
    }
    if (who->p.revoked || (who->p.role != DB_ROLE_SUPERVISOR && who->p.role != DB_ROLE_ADMIN)) {
        srv_principal_unref(who);
        job->refused = PROTO_CODE_UNAUTHORIZED;
        return;
    }
    job->who = who;
}

/* ---- the watcher's queue and closing ------------------------------------------ */

/* One whole message, LWS_PRE headroom in front of its text. */
struct srv_wmsg {
    struct srv_list link;
    size_t len;
    unsigned char data[];
};

static void queue_drop(struct srv_watcher *w)
{
    struct srv_list *l, *next;

    SRV_LIST_FOREACH_SAFE(l, next, &w->queue) {
        srv_list_remove(l);
        free(srv_list_entry(l, struct srv_wmsg, link));
    }
    w->queued_bytes = 0;
}

static void watcher_hello_unwait(struct srv_watcher *w)
{
    if (srv_list_linked(&w->hello_link))
        srv_list_remove(&w->hello_link);
}

/* Starts closing w with code; keep: what is queued is still written first. */
static void watcher_close(struct srv_watcher *w, int code, const char *why, int keep)
{
    if (w->close_code)
        return;
    if (!keep)
        queue_drop(w);
    w->close_code = code;
    snprintf(w->close_why, sizeof w->close_why, "%s", why);
    free(w->rx);
    w->rx = NULL;
    w->rx_len = 0;
    watcher_hello_unwait(w);
    /* A peer that never lets us write is dropped without the close frame. */
    if (w->srv->phase == SRV_RUNNING)
        lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, 5);
    lws_callback_on_writable(w->wsi);
    srv_log(SRV_LOG_INFO, "monitor %llu (%s): closing with %d: %s", (unsigned long long)w->id,
            w->who ? w->who->p.user : "-", code, why);
}

/* Queues one message; a watcher this far behind is closed (4413) instead. */
static void watcher_send(struct srv_watcher *w, const char *json, size_t len)
{
    struct srv_wmsg *m;

    if (w->close_code)
        return;
    if (len > SRV_MONITOR_QUEUE_MAX - w->queued_bytes) {
        srv_log(SRV_LOG_NOTICE, "monitor %llu (%s): too slow, %zu bytes of events unread; closed "
                "(4413), it may reconnect", (unsigned long long)w->id,
                w->who != NULL ? w->who->p.user : "-", w->queued_bytes);
        watcher_close(w, SRV_CLOSE_TOO_SLOW, "too slow: events are not being read", 0);
        return;
    }
    m = malloc(sizeof *m + LWS_PRE + len);
    if (m == NULL) {
        watcher_close(w, 1011, "out of memory", 0);
        return;
    }
    m->len = len;
    memcpy(m->data + LWS_PRE, json, len);
    if (srv_list_empty(&w->queue))
        lws_callback_on_writable(w->wsi);
    srv_list_insert_tail(&w->queue, &m->link);
    w->queued_bytes += len;
}

/* Sends {"type":"error","code":…,"message":…}. */
static void watcher_error(struct srv_watcher *w, const char *code, const char *message)
{
    struct proto_buf b;
    struct proto_jw jw;

    proto_buf_init(&b, 0, MONITOR_EVENT_MAX);
    proto_jw_init(&jw, &b);
    proto_jw_object(&jw);
    proto_jw_key(&jw, "type");
    proto_jw_string(&jw, "error");
    proto_jw_key(&jw, "code");
    proto_jw_string(&jw, code);
    proto_jw_key(&jw, "message");
    proto_jw_string(&jw, message);
    proto_jw_object_end(&jw);
    if (proto_jw_finish(&jw) == 0)
        watcher_send(w, proto_buf_data(&b), b.len);
    proto_buf_free(&b);
}

/* Writes the head message, or closes once nothing is left to write. */
static int watcher_writable(struct srv_watcher *w)
{
    struct srv_list *first = srv_list_first(&w->queue);

    if (w->alive.ping_due)
        return srv_alive_write(&w->alive);
    free(w->sent);
    w->sent = NULL;
    if (first != NULL) {
        struct srv_wmsg *m = srv_list_entry(first, struct srv_wmsg, link);
        srv_list_remove(first);
        w->queued_bytes -= m->len;
        w->sent = m;
        if (lws_write(w->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
            return -1;
        if (!srv_list_empty(&w->queue) || w->close_code)
            lws_callback_on_writable(w->wsi);
        return 0;
    }
    if (w->close_code) {
        lws_close_reason(w->wsi, (enum lws_close_status)w->close_code,
                         (unsigned char *)w->close_why, strlen(w->close_why));
        return -1;
    }
    return 0;
}

/* Service thread. */
void srv_monitor_close_all(struct srv *srv, int code, const char *why)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &srv->mon.all)
        watcher_close(srv_list_entry(l, struct srv_watcher, link), code, why, 0);
}

/* ---- the hello deadline ---------------------------------------------------------- */

static void hello_tick(lws_sorted_usec_list_t *sul);

/* Sets the timer for the head of the waiting FIFO, if any. */
static void hello_schedule(struct srv *srv)
{
    struct srv_list *first = srv_list_first(&srv->mon.waiting);
    int64_t wait_ms;

    if (first == NULL || srv->phase == SRV_DONE)
        return;
    wait_ms = srv_list_entry(first, struct srv_watcher, hello_link)->hello_deadline -
              proto_mono_ms();
    if (wait_ms < 1)
        wait_ms = 1;
    lws_sul_schedule(srv->ctx, 0, &srv->mon.tick, hello_tick, wait_ms * LWS_US_PER_MS);
}

/* A context sul: closes the watchers whose hello is overdue (4408). */
static void hello_tick(lws_sorted_usec_list_t *sul)
{
    struct srv *srv = lws_container_of(sul, struct srv, mon.tick);
    int64_t now = proto_mono_ms();
    struct srv_list *first;

    /* Closing takes the watcher off the list. */
    while ((first = srv_list_first(&srv->mon.waiting)) != NULL) {
        struct srv_watcher *w = srv_list_entry(first, struct srv_watcher, hello_link);
        if (w->hello_deadline > now)
            break;
        watcher_close(w, SRV_CLOSE_HELLO_TIMEOUT, "no hello within 10 s", 0);
    }
    hello_schedule(srv);
}

static void watcher_hello_wait(struct srv_watcher *w)
{
    int was_empty = srv_list_empty(&w->srv->mon.waiting);

    w->hello_deadline = proto_mono_ms() + SRV_HELLO_TIMEOUT_MS;
    srv_list_insert_tail(&w->srv->mon.waiting, &w->hello_link);
    if (was_empty)
        hello_schedule(w->srv);
}

/* Main thread, before lws starts. */
void srv_monitor_init(struct srv *srv)
{
    srv_list_init(&srv->mon.all);
    srv_list_init(&srv->mon.waiting);
    atomic_init(&srv->mon.n_welcomed, 0);
}

/* ---- hello and welcome -------------------------------------------------------------- */

/* A whole message arrived: before the welcome it must be the hello; after, it is ignored. */
static void on_message(struct srv_watcher *w)
{
    char token[PROTO_MONITOR_TOKEN_MAX + 1];
    struct srv *srv = w->srv;
    struct proto_fault fault;
    struct srv_job *job;
    int64_t wait_ms;
    char msg[160];

    if (w->who != NULL || w->hello_pending)
        return;
    memset(&fault, 0, sizeof fault);
    if (proto_parse_monitor_hello(w->rx ? w->rx : "", w->rx_len, token, &fault) != 0) {
        watcher_error(w, fault.code == PROTO_CODE_BAD_JSON ? "bad_json" : "bad_message",
                      fault.message);
        watcher_close(w, SRV_CLOSE_BAD, "the first message was not a hello", 1);
        return;
    }
    if (w->peer != NULL && srv_peer_hello_begin(w->peer, proto_mono_ms(), &wait_ms) != 0) {
        srv_metric_inc(&srv->metrics.throttled_hellos);
        snprintf(msg, sizeof msg, "too many failed sign-ins from %s; wait %lld s and try again",
                 w->peer->addr, (long long)((wait_ms + 999) / 1000));
        watcher_error(w, "throttled", msg);
        watcher_close(w, SRV_CLOSE_THROTTLED, "too many failed sign-ins", 1);
        return;
    }
    job = srv_job_new(SRV_JOB_MONITOR_HELLO);
    if (job == NULL || note_of(job) == NULL) {
        srv_job_free(job);
        if (w->peer != NULL)
            srv_peer_hello_end(&srv->peers, w->peer, 0, proto_mono_ms(), NULL, NULL);
        watcher_close(w, 1011, "out of memory", 0);
        return;
    }
    proto_token_hash(token, strlen(token), job->note->token_hash);
    job->session = w->id;
    job->peer = w->peer;
    if (srv_queue_put(&srv->api_reads, job) != 0) {
        srv_job_free(job);
        if (w->peer != NULL)
            srv_peer_hello_end(&srv->peers, w->peer, 0, proto_mono_ms(), NULL, NULL);
        watcher_close(w, SRV_CLOSE_GOING_AWAY, "the server is stopping", 0);
        return;
    }
    w->hello_pending = 1;
    watcher_hello_unwait(w);
}

static struct srv_watcher *watcher_find(struct srv *srv, uint64_t id)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &srv->mon.all) {
        struct srv_watcher *w = srv_list_entry(l, struct srv_watcher, link);
        if (w->id == id)
            return w;
    }
    return NULL;
}

/* Appends "grids":[…] of a scope: [] for one of every grid. */
static void put_grids(struct proto_jw *jw, const char *const *grids, size_t n)
{
    proto_jw_key(jw, "grids");
    proto_jw_array(jw);
    for (size_t i = 0; i < n; i++)
        proto_jw_string(jw, grids[i]);
    proto_jw_array_end(jw);
}

static const char *const *scope_grids(const struct db_scope *s, size_t *n)
{
    *n = s->all ? 0 : s->n;
    return (const char *const *)s->grids;
}

/* Sends the welcome: who, as which role, over which grids. */
static void send_welcome(struct srv_watcher *w)
{
    const struct db_principal *p = &w->who->p;
    struct proto_buf b;
    struct proto_jw jw;
    const char *const *grids;
    size_t n;

    grids = scope_grids(&p->scope, &n);
    proto_buf_init(&b, 0, MONITOR_EVENT_MAX);
    proto_jw_init(&jw, &b);
    proto_jw_object(&jw);
    proto_jw_key(&jw, "type");
    proto_jw_string(&jw, "welcome");
    proto_jw_key(&jw, "user");
    proto_jw_string(&jw, p->user);
    proto_jw_key(&jw, "role");
    proto_jw_string(&jw, db_role_name(p->role));
    put_grids(&jw, grids, n);
    proto_jw_object_end(&jw);
    if (proto_jw_finish(&jw) == 0)
        watcher_send(w, proto_buf_data(&b), b.len);
    else
        watcher_close(w, 1011, "the welcome could not be written", 0);
    proto_buf_free(&b);
}

/* Service thread: counts the answer against the address, then welcomes or refuses. */
void srv_monitor_hello_done(struct srv *srv, struct srv_job *job)
{
    int failed = job->rc == 0 && job->refused != PROTO_CODE_NONE;
    struct srv_watcher *w = watcher_find(srv, job->session);
    char addr[SRV_ADDR_MAX] = "unknown";
    int64_t ban_ms = 0;
    uint32_t fails = 0;

    if (job->peer != NULL) {
        snprintf(addr, sizeof addr, "%s", job->peer->addr);
        if (srv_peer_hello_end(&srv->peers, job->peer, failed, proto_mono_ms(), &ban_ms,
                               &fails) != 0)
            srv_log(SRV_LOG_NOTICE, "sign-ins from %s refused for %lld s (close 4429)", addr,
                    (long long)(ban_ms / 1000));
        job->peer = NULL; /* may be freed */
    }
    if (failed) {
        srv_metric_inc(&srv->metrics.signin_failures);
        srv_log(SRV_LOG_NOTICE,
                "monitor sign-in refused from %s (unknown or revoked API token, or not a "
                "supervisor's); %u failures from this address lately",
                addr, fails);
    }
    if (w == NULL || w->close_code)
        return;
    w->hello_pending = 0;
    if (job->rc != 0) {
        watcher_error(w, "internal", "the server could not read its database; try again later");
        watcher_close(w, 1011, "store failure", 1);
        return;
    }
    if (job->who == NULL) {
        watcher_error(w, "unauthorized",
                      "the token is unknown, revoked, or not a supervisor's or admin's API token");
        watcher_close(w, SRV_CLOSE_UNAUTHORIZED, "unauthorized", 1);
        return;
    }
    w->who = job->who;
    job->who = NULL;
    atomic_fetch_add_explicit(&srv->mon.n_welcomed, 1, memory_order_relaxed);
    send_welcome(w);
    srv_log(SRV_LOG_INFO, "monitor %llu: user %s watching", (unsigned long long)w->id,
            w->who->p.user);
}

/* ---- events ----------------------------------------------------------------------- */

/* Service thread. */
void srv_monitor_publish(struct srv *srv, const char *const *grids, size_t n_grids,
                         const char *json, size_t len)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &srv->mon.all) {
        struct srv_watcher *w = srv_list_entry(l, struct srv_watcher, link);
        int hit = 0;
        if (w->who == NULL || w->close_code)
            continue;
        hit = w->who->p.scope.all;
        for (size_t i = 0; i < n_grids && !hit; i++)
            hit = grids[i] != NULL && sync_scope_allows(&w->who->p.scope, grids[i]);
        if (hit)
            watcher_send(w, json, len);
    }
}

/* Begins {"type":"event","event":name into b. */
static void event_begin(struct proto_jw *jw, struct proto_buf *b, const char *name)
{
    proto_buf_init(b, 0, MONITOR_EVENT_MAX);
    proto_jw_init(jw, b);
    proto_jw_object(jw);
    proto_jw_key(jw, "type");
    proto_jw_string(jw, "event");
    proto_jw_key(jw, "event");
    proto_jw_string(jw, name);
}

/* Ends the event with its time and publishes it to grids. */
static void event_publish(struct srv *srv, struct proto_jw *jw, struct proto_buf *b,
                          const char *const *grids, size_t n_grids, int64_t now)
{
    proto_jw_key(jw, "time");
    proto_jw_time(jw, now);
    proto_jw_object_end(jw);
    if (proto_jw_finish(jw) == 0)
        srv_monitor_publish(srv, grids, n_grids, proto_buf_data(b), b->len);
    proto_buf_free(b);
}

/* "device", "user", "grids" of a device's user. */
static void put_device(struct proto_jw *jw, const char *device, const char *user,
                       const char *const *grids, size_t n)
{
    proto_jw_key(jw, "device");
    proto_jw_string(jw, device);
    proto_jw_key(jw, "user");
    proto_jw_string(jw, user);
    put_grids(jw, grids, n);
}

/* Service thread. */
void srv_monitor_presence(struct srv *srv, const struct db_principal *who, int online)
{
    const char *const *grids;
    struct proto_buf b;
    struct proto_jw jw;
    size_t n;

    if (!srv_monitor_watched(&srv->mon))
        return;
    grids = scope_grids(&who->scope, &n);
    event_begin(&jw, &b, online ? "online" : "offline");
    put_device(&jw, who->device, who->user, grids, n);
    event_publish(srv, &jw, &b, grids, n, proto_now_ms());
}

/* Service thread. */
void srv_monitor_push(struct srv *srv, const struct srv_job *job)
{
    const struct db_principal *who;
    const char *const *grids;
    struct proto_buf b;
    struct proto_jw jw;
    int64_t now;
    size_t n;

    if (!srv_monitor_watched(&srv->mon) || job->rc != 0 || job->refused != PROTO_CODE_NONE)
        return;
    who = &job->who->p;
    grids = scope_grids(&who->scope, &n);
    now = proto_now_ms();
    event_begin(&jw, &b, "push");
    put_device(&jw, who->device, who->user, grids, n);
    proto_jw_key(&jw, "changes");
    proto_jw_int(&jw, (int64_t)job->outcomes[PROTO_APPLIED] + job->outcomes[PROTO_CONFLICT] +
                          job->outcomes[PROTO_DUPLICATE] + job->outcomes[PROTO_REJECTED]);
    proto_jw_key(&jw, "applied");
    proto_jw_int(&jw, job->outcomes[PROTO_APPLIED]);
    proto_jw_key(&jw, "conflicts");
    proto_jw_int(&jw, job->outcomes[PROTO_CONFLICT]);
    proto_jw_key(&jw, "duplicates");
    proto_jw_int(&jw, job->outcomes[PROTO_DUPLICATE]);
    proto_jw_key(&jw, "rejected");
    proto_jw_int(&jw, job->outcomes[PROTO_REJECTED]);
    {
        char cursor[PROTO_CURSOR_SIZE];
        proto_cursor_format(job->cursor, srv->epoch, cursor);
        proto_jw_key(&jw, "cursor");
        proto_jw_string(&jw, cursor);
    }
    event_publish(srv, &jw, &b, grids, n, now);

    for (size_t i = 0; job->note != NULL && i < job->note->n_conflicts; i++) {
        const struct note_conflict *c = &job->note->conflicts[i];
        const char *grid[1] = {c->grid};
        event_begin(&jw, &b, "conflict");
        proto_jw_key(&jw, "id");
        proto_jw_null(&jw); /* the writer does not learn the entry's id */
        proto_jw_key(&jw, "status");
        proto_jw_string(&jw, "open");
        proto_jw_key(&jw, "collection");
        proto_jw_string(&jw, c->collection);
        proto_jw_key(&jw, "record");
        proto_jw_string(&jw, c->record);
        proto_jw_key(&jw, "field");
        proto_jw_string(&jw, c->field);
        proto_jw_key(&jw, "grid");
        proto_jw_string(&jw, c->grid);
        event_publish(srv, &jw, &b, grid, c->grid != NULL, now);
    }
}

/* Service thread. */
void srv_monitor_pull(struct srv *srv, const struct srv_job *job)
{
    const struct db_principal *who;
    const char *const *grids;
    struct proto_buf b;
    struct proto_jw jw;
    size_t n;

    if (!srv_monitor_watched(&srv->mon) || job->rc != 0 || job->who == NULL)
        return;
    who = &job->who->p;
    grids = scope_grids(&who->scope, &n);
    event_begin(&jw, &b, "pull");
    put_device(&jw, who->device, who->user, grids, n);
    proto_jw_key(&jw, "records");
    proto_jw_int(&jw, (int64_t)job->records);
    event_publish(srv, &jw, &b, grids, n, proto_now_ms());
}

/* Service thread. */
void srv_monitor_devices(struct srv *srv, const struct srv_job *job)
{
    struct proto_buf b;
    struct proto_jw jw;
    int64_t now = proto_now_ms();

    if (!srv_monitor_watched(&srv->mon) || job->note == NULL)
        return;
    for (size_t i = 0; i < job->note->n_devices; i++) {
        const struct note_device *d = &job->note->devices[i];
        const char *const *grids = (const char *const *)d->grids;
        event_begin(&jw, &b, d->enrolled ? "enrolled" : "revoked");
        put_device(&jw, d->device, d->user, grids, d->n_grids);
        event_publish(srv, &jw, &b, grids, d->n_grids, now);
    }
}

/* ---- the lws protocol callback --------------------------------------------------- */

/* Assembles a message (at most SRV_MONITOR_MSG_MAX bytes; over it: 1009). */
static void watcher_receive(struct srv_watcher *w, const void *in, size_t len)
{
    if (w->close_code)
        return;
    if (len > SRV_MONITOR_MSG_MAX - w->rx_len) {
        watcher_close(w, SRV_CLOSE_TOO_BIG, "message over 16384 bytes", 0);
        return;
    }
    if (w->rx == NULL) {
        w->rx = malloc(SRV_MONITOR_MSG_MAX);
        if (w->rx == NULL) {
            watcher_close(w, 1011, "out of memory", 0);
            return;
        }
    }
    memcpy(w->rx + w->rx_len, in, len);
    w->rx_len += len;
    if (!lws_is_final_fragment(w->wsi))
        return;
    on_message(w);
    w->rx_len = 0;
    if (w->who != NULL && w->rx != NULL) { /* welcomed: what it sends is ignored */
        free(w->rx);
        w->rx = NULL;
    }
}

/* The connection is gone (CLOSED): unlinks w and frees what it owns. */
static void watcher_cleanup(struct srv_watcher *w)
{
    struct srv *srv = w->srv;

    watcher_hello_unwait(w);
    srv_alive_stop(&w->alive);
    srv_list_remove(&w->link);
    srv->mon.n--;
    srv_metric_add(&srv->metrics.watchers, -1);
    srv_peer_detach(&srv->peers, w->peer, proto_mono_ms());
    w->peer = NULL;
    queue_drop(w);
    free(w->sent);
    w->sent = NULL;
    free(w->rx);
    w->rx = NULL;
    if (w->who != NULL)
        atomic_fetch_sub_explicit(&srv->mon.n_welcomed, 1, memory_order_relaxed);
    srv_principal_unref(w->who);
    w->who = NULL;
}

/* Service thread: lws calls it for every event of a visitsync.monitor connection. */
int srv_monitor_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    struct srv_watcher *w = user;
    char addr[SRV_ADDR_MAX];
    struct srv *srv;
    struct srv_peer *p;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        srv = lws_context_user(lws_get_context(wsi));
        if (srv->phase != SRV_RUNNING)
            return 1; /* stopping: refuse new connections */
        /* Watchers count in --max-conn-per-ip with the address's devices. */
        p = srv_peer_find(&srv->peers, srv_peer_address(wsi, addr, sizeof addr));
        return srv->cfg->max_conn_per_ip > 0 && p != NULL &&
               p->conns >= (uint32_t)srv->cfg->max_conn_per_ip;
    case LWS_CALLBACK_ESTABLISHED:
        srv = lws_context_user(lws_get_context(wsi));
        memset(w, 0, sizeof *w);
        w->srv = srv;
        w->wsi = wsi;
        w->id = ++srv->mon.next_id;
        srv_list_init(&w->queue);
        srv_list_insert_tail(&srv->mon.all, &w->link);
        srv->mon.n++;
        srv_metric_add(&srv->metrics.watchers, 1);
        w->peer = srv_peer_attach(&srv->peers, srv_peer_address(wsi, addr, sizeof addr));
        watcher_hello_wait(w);
        srv_alive_start(srv, &w->alive, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (w != NULL && srv_list_linked(&w->link))
            srv_alive_pong(w->srv, &w->alive);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (w != NULL && srv_list_linked(&w->link))
            watcher_receive(w, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (w == NULL || !srv_list_linked(&w->link))
            return 0;
        return watcher_writable(w);
    case LWS_CALLBACK_CLOSED:
        if (w != NULL && srv_list_linked(&w->link))
            watcher_cleanup(w);
        return 0;
    default:
        return 0;
    }
}
