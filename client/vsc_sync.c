/*
 * vsc_sync.c — one sync of a local store with the server (vsc_sync.h).
 *
 * Design: a sync first prunes the acked changes kept longer than
 * retain_days. A session is connect → hello → (the store notes the welcome:
 * on its first one it numbers its queue after the server's seq; after a
 * server restore it queues its kept acked changes again) → push the whole
 * outbox → pull to the end (rebuilding the replica when the server answers
 * reset) → close. vsc_sync runs sessions until one completes, retrying only
 * failures a new connection can cure (refused or lost connection, timeout,
 * a server going away); an unauthorized device, a protocol violation or a
 * local store failure ends the sync at once. Each ack is written to the
 * store as soon as it arrives, so what a failed attempt achieved is kept;
 * the next attempt re-sends the rest of the outbox from its start.
 *
 * Photos come last, after the pull: the server counts a photo as missing
 * only once a record names it, and every chunk the server made durable is
 * kept there, so an attempt cut off mid-photo loses nothing: the next offer
 * answers with the bytes held and the upload resumes from there. A photo
 * the server refuses is reported and the others still go.
 */
#include "vsc_sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto_blob.h"
#include "proto_record.h"
#include "proto_time.h"

#define VSC__SYNC_DEFAULT_ATTEMPTS 5
#define VSC__SYNC_DEFAULT_BACKOFF_MS 500
#define VSC__SYNC_DEFAULT_IN_FLIGHT 4
#define VSC__SYNC_MAX_PAGES 1000000 /* a server whose "more" never ends is broken */

/* One queued change loaded for a push, with its decoded fields. */
struct vsc__sync_item {
    struct vsc_replica_change c; /* owned copies */
    struct proto_record *rec;
    struct proto_field *fields; /* rec's fields plus _deleted, when set */
};

/* The changes of one push, in seq order. */
struct vsc__sync_batch {
    struct vsc__sync_item *items;
    size_t n, cap;
};

struct vsc__sync_state {
    struct vsc_replica *r;
    const struct vsc_sync_opts *o;
    struct vsc_sync_report *rep;
    char *url, *device, *token;
    int64_t batch_size; /* shrinks when a push would exceed max_message */
    char err[600];
};

static void vsc__sync_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int vsc__sync_dbfail(struct vsc__sync_state *s, int rc)
{
    snprintf(s->err, sizeof s->err, "%s", vsc_replica_errmsg(s->r));
    return rc;
}

static int vsc__sync_vscfail(struct vsc__sync_state *s, struct vsc *v, int rc)
{
    snprintf(s->err, sizeof s->err, "%s", vsc_errmsg(v));
    return rc;
}

/* ---- batches ------------------------------------------------------------ */

static void vsc__sync_batch_clear(struct vsc__sync_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        vsc_replica_change_clear(&b->items[i].c);
        proto_record_free(b->items[i].rec);
        free(b->items[i].fields);
    }
    b->n = 0;
}

static void vsc__sync_batch_free(struct vsc__sync_batch *b)
{
    vsc__sync_batch_clear(b);
    free(b->items);
    b->items = NULL;
    b->cap = 0;
}

static int vsc__sync_collect(void *ctx, const struct vsc_replica_change *c)
{
    struct vsc__sync_batch *b = ctx;
    struct vsc__sync_item *it = &b->items[b->n];

    memset(it, 0, sizeof *it);
    it->c = *c;
    it->c.collection = strdup(c->collection);
    it->c.id = strdup(c->id);
    it->c.fields = strdup(c->fields);
    b->n++; /* counted now so that clearing frees what was copied */
    return it->c.collection && it->c.id && it->c.fields ? 0 : DB_ENOMEM;
}

/* Loads up to size changes after seq `after` into b (emptied first). */
static int vsc__sync_batch_load(struct vsc__sync_state *s, struct vsc__sync_batch *b,
                                int64_t after, int64_t size)
{
    int rc;

    vsc__sync_batch_clear(b);
    if ((size_t)size > b->cap) {
        struct vsc__sync_item *p = realloc(b->items, (size_t)size * sizeof *p);
        if (!p)
            return DB_ENOMEM;
        b->items = p;
        b->cap = (size_t)size;
    }
    rc = vsc_replica_outbox_list(s->r, after, size, vsc__sync_collect, b);
    return rc ? vsc__sync_dbfail(s, rc) : 0;
}

/*
 * Decodes item's fields into a proto_change; returns 0, or -1 with a
 * sentence in why when the stored text is not a JSON object of fields.
 */
static int vsc__sync_change(struct vsc__sync_item *it, struct proto_change *ch, char *why,
                            size_t size)
{
    static const struct proto_value del_true = { .type = PROTO_BOOL, .boolean = 1,
                                                 .json = "true", .json_len = 4 };
    static const struct proto_value del_false = { .type = PROTO_BOOL, .boolean = 0,
                                                  .json = "false", .json_len = 5 };
    struct proto_fault fault;

    if (!it->rec && proto_fields_decode(it->c.fields, strlen(it->c.fields), &it->rec, &fault)) {
        snprintf(why, size, "the queued fields are not a JSON object of fields: %.60s %.120s",
                 fault.field, fault.message);
        return -1;
    }
    memset(ch, 0, sizeof *ch);
    ch->seq = it->c.seq;
    ch->collection = it->c.collection;
    ch->id = it->c.id;
    ch->base = it->c.base;
    ch->hlc.ms = it->c.hlc_ms;
    ch->hlc.counter = it->c.hlc_counter;
    ch->fields = it->rec->fields;
    ch->n_fields = it->rec->n_fields;
    if (it->c.deleted >= 0) {
        /* _deleted travels as a field (§2.2), kept in name order. */
        size_t n = it->rec->n_fields, k = 0;
        if (!it->fields && !(it->fields = malloc((n + 1) * sizeof *it->fields))) {
            snprintf(why, size, "out of memory");
            return -1;
        }
        while (k < n && strcmp(it->rec->fields[k].name, "_deleted") < 0)
            k++;
        memcpy(it->fields, it->rec->fields, k * sizeof *it->fields);
        it->fields[k].name = "_deleted";
        it->fields[k].value = it->c.deleted ? del_true : del_false;
        memcpy(it->fields + k + 1, it->rec->fields + k, (n - k) * sizeof *it->fields);
        ch->fields = it->fields;
        ch->n_fields = n + 1;
    }
    return 0;
}

/* Keeps a change the server can never take in the rejected list. */
static int vsc__sync_reject_locally(struct vsc__sync_state *s, int64_t seq, const char *code,
                                    const char *message)
{
    struct vsc_replica_outcome o = { seq, 1, code, "", message };
    int rc = vsc_replica_acked(s->r, &o, 1, proto_now_ms());
    if (rc)
        return vsc__sync_dbfail(s, rc);
    s->rep->rejected++;
    return 0;
}

/*
 * Sends one push of up to batch_size changes after *after; advances *after
 * past what it sent (or rejected locally). *sent is 1 when a push went out,
 * 0 when the outbox had nothing more.
 */
static int vsc__sync_send_one(struct vsc__sync_state *s, struct vsc *v,
                              struct vsc__sync_batch *b, int64_t *after, int *sent)
{
    struct proto_change *chs = NULL;
    char why[300];
    int rc;

    *sent = 0;
    for (;;) {
        if ((rc = vsc__sync_batch_load(s, b, *after, s->batch_size)) != 0)
            goto out;
        if (b->n == 0)
            goto out;
        free(chs);
        if (!(chs = calloc(b->n, sizeof *chs))) {
            rc = DB_ENOMEM;
            snprintf(s->err, sizeof s->err, "out of memory preparing a push");
            goto out;
        }
        size_t n = 0;
        for (size_t i = 0; i < b->n; i++) {
            if (vsc__sync_change(&b->items[i], &chs[n], why, sizeof why) == 0) {
                n++;
                continue;
            }
            /* A queued change that cannot even be written will never be accepted. */
            if ((rc = vsc__sync_reject_locally(s, b->items[i].c.seq, "bad_json", why)) != 0)
                goto out;
        }
        int64_t last = b->items[b->n - 1].c.seq;
        if (n == 0) {
            *after = last;
            continue;
        }
        rc = vsc_push_send(v, chs, n);
        if (rc == 0) {
            *after = last;
            *sent = 1;
            goto out;
        }
        if (rc != VSC_ETOOBIG) {
            rc = vsc__sync_vscfail(s, v, rc);
            goto out;
        }
        if (b->n > 1) {
            s->batch_size = (int64_t)(b->n / 2); /* smaller pushes from now on */
            continue;
        }
        snprintf(why, sizeof why, "the change is larger than the server accepts in one message");
        if ((rc = vsc__sync_reject_locally(s, b->items[0].c.seq, "too_large", why)) != 0)
            goto out;
        *after = last;
    }
out:
    free(chs);
    return rc;
}

/* Writes one ack's verdicts to the store and counts them. */
static int vsc__sync_record_ack(struct vsc__sync_state *s, const struct proto_ack *ack)
{
    struct vsc_replica_outcome *o = calloc(ack->n_results ? ack->n_results : 1, sizeof *o);
    int rc;

    if (!o) {
        snprintf(s->err, sizeof s->err, "out of memory recording an ack");
        return DB_ENOMEM;
    }
    for (size_t i = 0; i < ack->n_results; i++) {
        const struct proto_result *res = &ack->results[i];
        o[i].seq = res->seq;
        o[i].rejected = res->status == PROTO_REJECTED;
        o[i].code = proto_code_name(res->error.code);
        o[i].field = res->error.field;
        o[i].message = res->error.message;
        switch (res->status) {
        case PROTO_APPLIED: s->rep->applied++; break;
        case PROTO_CONFLICT: s->rep->conflict++; break;
        case PROTO_DUPLICATE: s->rep->duplicate++; break;
        case PROTO_REJECTED: s->rep->rejected++; break;
        }
    }
    s->rep->pushed += (int64_t)ack->n_results;
    rc = vsc_replica_acked(s->r, o, ack->n_results, proto_now_ms());
    free(o);
    return rc ? vsc__sync_dbfail(s, rc) : 0;
}

static int vsc__sync_push_all(struct vsc__sync_state *s, struct vsc *v)
{
    struct vsc__sync_batch b = { 0 };
    int64_t after = 0;
    int more = 1, rc = 0;
    size_t window = s->o->in_flight > 0 ? (size_t)s->o->in_flight : VSC__SYNC_DEFAULT_IN_FLIGHT;

    if (window > VSC_MAX_IN_FLIGHT)
        window = VSC_MAX_IN_FLIGHT;
    for (;;) {
        while (more && vsc_in_flight(v) < window) {
            if ((rc = vsc__sync_send_one(s, v, &b, &after, &more)) != 0)
                goto out;
        }
        if (vsc_in_flight(v) == 0)
            break;
        struct proto_msg *ack = NULL;
        if ((rc = vsc_push_wait(v, &ack)) != 0) {
            rc = vsc__sync_vscfail(s, v, rc);
            goto out;
        }
        rc = vsc__sync_record_ack(s, &ack->u.ack);
        proto_msg_free(ack);
        if (rc)
            goto out;
    }
out:
    vsc__sync_batch_free(&b);
    return rc;
}

/* ---- pull --------------------------------------------------------------- */

static int vsc__sync_apply_page(struct vsc__sync_state *s, const struct proto_changes *ch)
{
    struct vsc_replica_item *items = calloc(ch->n_items ? ch->n_items : 1, sizeof *items);
    int rc;

    if (!items) {
        snprintf(s->err, sizeof s->err, "out of memory applying a pull");
        return DB_ENOMEM;
    }
    for (size_t i = 0; i < ch->n_items; i++) {
        const struct proto_pulled *p = &ch->items[i];
        items[i] = (struct vsc_replica_item){ p->collection, p->id, p->rev, p->deleted,
                                             p->removed, p->body, p->body_len };
        s->rep->removed += p->removed != 0;
    }
    s->rep->pulled += (int64_t)ch->n_items;
    /* reset: the page starts from the beginning; what the replica holds is stale. */
    if (ch->reset) {
        s->rep->reset = 1;
        rc = vsc_replica_rebuild(s->r, items, ch->n_items, ch->cursor);
    } else {
        rc = vsc_replica_apply(s->r, items, ch->n_items, ch->cursor);
    }
    free(items);
    return rc ? vsc__sync_dbfail(s, rc) : 0;
}

static int vsc__sync_pull_all(struct vsc__sync_state *s, struct vsc *v)
{
    char *since = NULL;
    int rc = vsc_replica_config_get(s->r, "cursor", &since);

    if (rc == DB_ENOTFOUND) {
        since = strdup("0");
        rc = since ? 0 : DB_ENOMEM;
    }
    if (rc)
        return vsc__sync_dbfail(s, rc);
    for (long page = 0; page < VSC__SYNC_MAX_PAGES; page++) {
        struct proto_msg *m = NULL;
        if ((rc = vsc_pull(v, since, PROTO_PULL_LIMIT, &m)) != 0) {
            rc = vsc__sync_vscfail(s, v, rc);
            goto out;
        }
        const struct proto_changes *ch = &m->u.changes;
        const char *cursor = ch->cursor ? ch->cursor : since;
        int more = ch->more, stuck = more && strcmp(cursor, since) == 0;
        rc = vsc__sync_apply_page(s, ch);
        if (rc == 0) {
            char *next = strdup(cursor);
            if (next) {
                free(since);
                since = next;
            } else {
                rc = DB_ENOMEM;
            }
        }
        proto_msg_free(m);
        if (rc)
            goto out;
        if (stuck) {
            rc = VSC_EPROTOCOL;
            snprintf(s->err, sizeof s->err,
                     "the server says there is more to pull but its cursor stays at %s", since);
            goto out;
        }
        if (!more)
            break;
    }
    snprintf(s->rep->cursor, sizeof s->rep->cursor, "%s", since);
out:
    free(since);
    return rc;
}

/* ---- photos ------------------------------------------------------------- */

/* One named photo to upload, copied out of the store's walk. */
struct vsc__sync_photo_item {
    char sha256[PROTO_SHA256_HEX + 1];
    char *mime;
};

struct vsc__sync_photo_list {
    struct vsc__sync_photo_item *items;
    size_t n, cap;
};

static int vsc__sync_photo_collect(void *ctx, const struct vsc_replica_photo *p)
{
    struct vsc__sync_photo_list *l = ctx;

    if (!p->named)
        return 0; /* kept on the tablet until a visit names it */
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct vsc__sync_photo_item *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return DB_ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    struct vsc__sync_photo_item *it = &l->items[l->n];
    snprintf(it->sha256, sizeof it->sha256, "%s", p->sha256);
    if (!(it->mime = strdup(p->mime)))
        return DB_ENOMEM;
    l->n++;
    return 0;
}

static void vsc__sync_photo_note(struct vsc__sync_state *s, const char *sha256, int64_t size,
                                 int64_t from, enum vsc_sync_photo_outcome outcome,
                                 const char *error)
{
    struct vsc_sync_photo p = { sha256, size, from, outcome, error };
    if (s->o->photo)
        s->o->photo(s->o->note_ctx, &p);
}

/*
 * Offers one photo and uploads what the server lacks. Returns 0, a DB_E*
 * code, or the VSC_E* code of vsc_blob_*. Two concern this photo alone and
 * leave the connection usable for the next one: VSC_ESERVER (the server
 * refused it) and DB_ECORRUPT (its bytes in the store are damaged, so it is
 * not sent at all).
 */
static int vsc__sync_photo_one(struct vsc__sync_state *s, struct vsc *v,
                               const struct vsc__sync_photo_item *it)
{
    void *bytes = NULL;
    size_t len = 0;
    int64_t have = 0;
    int complete = 0;
    int rc = vsc_replica_photo_bytes(s->r, it->sha256, &bytes, &len);

    if (rc == DB_ECORRUPT) {
        vsc__sync_dbfail(s, rc);
        s->rep->photos_failed++;
        vsc__sync_photo_note(s, it->sha256, 0, 0, VSC_SYNC_PHOTO_FAILED, s->err);
        return rc;
    }
    if (rc != 0)
        return vsc__sync_dbfail(s, rc);
    rc = vsc_blob_offer(v, it->sha256, (int64_t)len, it->mime, &have, &complete);
    if (rc == 0 && !complete)
        rc = vsc_blob_upload(v, it->sha256, bytes, (int64_t)len, have, 0);
    free(bytes);
    if (rc != 0) {
        vsc__sync_vscfail(s, v, rc);
        s->rep->photos_failed++;
        vsc__sync_photo_note(s, it->sha256, (int64_t)len, have, VSC_SYNC_PHOTO_FAILED, s->err);
        return rc;
    }
    if ((rc = vsc_replica_photo_uploaded(s->r, it->sha256, proto_now_ms())) != 0)
        return vsc__sync_dbfail(s, rc);
    s->rep->photos_done++;
    vsc__sync_photo_note(s, it->sha256, (int64_t)len, have,
                         complete   ? VSC_SYNC_PHOTO_ON_SERVER
                         : have > 0 ? VSC_SYNC_PHOTO_RESUMED
                                    : VSC_SYNC_PHOTO_UPLOADED,
                         NULL);
    return 0;
}

/* Uploads every named photo not uploaded yet, oldest first. */
static int vsc__sync_photos(struct vsc__sync_state *s, struct vsc *v)
{
    struct vsc__sync_photo_list l = { 0 };
    int rc = vsc_replica_photo_list(s->r, 1, vsc__sync_photo_collect, &l);

    s->rep->photos_failed = 0; /* this attempt's count replaces the last one's */
    if (rc != 0) {
        if (rc == DB_ENOMEM)
            snprintf(s->err, sizeof s->err, "out of memory listing the photos to upload");
        else
            vsc__sync_dbfail(s, rc);
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        rc = vsc__sync_photo_one(s, v, &l.items[i]);
        if (rc != 0 && rc != VSC_ESERVER && rc != DB_ECORRUPT)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i].mime);
    free(l.items);
    return rc;
}

/* Counts the photos still to upload and the unnamed ones (vsc_replica_photo_fn). */
static int vsc__sync_photo_count(void *ctx, const struct vsc_replica_photo *p)
{
    struct vsc_sync_report *rep = ctx;
    if (p->named)
        rep->photos_pending++;
    else
        rep->photos_unnamed++;
    return 0;
}

/* ---- a session and the retries ------------------------------------------ */

static int vsc__sync_hello(struct vsc__sync_state *s, struct vsc *v)
{
    int64_t pending = 0, oldest = 0;
    char oldest_txt[40];
    const struct proto_welcome *w = NULL;
    int rc = vsc_replica_pending(s->r, &pending, &oldest);

    if (rc)
        return vsc__sync_dbfail(s, rc);
    struct proto_hello h = {
        .device = s->device,
        .token = s->token,
        .app = s->o->app ? s->o->app : "visitsync-client",
        .pending = pending,
        .clock = proto_now_ms(),
        .has_clock = 1,
    };
    if (pending > 0) {
        proto_format_time(oldest, oldest_txt, sizeof oldest_txt);
        h.oldest_pending = oldest_txt;
    }
    if ((rc = vsc_hello(v, &h, &w)) != 0)
        return vsc__sync_vscfail(s, v, rc);
    /*
     * Before any push: a store new to a device the server knows numbers its
     * queue after the server's seq, or its changes would be duplicates; a
     * store acked further than the server now knows queues those again.
     */
    struct vsc_replica_welcomed done;
    if ((rc = vsc_replica_welcome(s->r, w->seq, proto_now_ms(), &done)) != 0)
        return vsc__sync_dbfail(s, rc);
    s->rep->renumbered += done.renumbered;
    s->rep->requeued += done.requeued;
    if (done.lost_n > 0) {
        struct vsc_sync_report *rep = s->rep;
        rep->lost_lo = rep->lost_n > 0 && rep->lost_lo < done.lost_lo ? rep->lost_lo
                                                                       : done.lost_lo;
        rep->lost_hi = rep->lost_hi > done.lost_hi ? rep->lost_hi : done.lost_hi;
        rep->lost_n += done.lost_n;
    }
    s->rep->server_seq = w->seq;
    /* The batch is capped by the server's limit as well as ours. */
    if (w->max_batch > 0 && s->batch_size > w->max_batch)
        s->batch_size = w->max_batch;
    if ((rc = vsc_replica_clock_merge(s->r, w->time)) != 0 ||
        (w->user && (rc = vsc_replica_config_set(s->r, "user", w->user)) != 0) ||
        (w->role && (rc = vsc_replica_config_set(s->r, "role", w->role)) != 0))
        return vsc__sync_dbfail(s, rc);
    return 0;
}

static int vsc__sync_session(struct vsc__sync_state *s)
{
    struct vsc *v = NULL;
    int rc = vsc_connect(s->url, s->o->conn, &v, s->err, sizeof s->err);

    if (rc)
        return rc;
    s->rep->attempts++;
    if ((rc = vsc__sync_hello(s, v)) == 0 && (rc = vsc__sync_push_all(s, v)) == 0 &&
        (rc = vsc__sync_pull_all(s, v)) == 0)
        rc = vsc__sync_photos(s, v);
    if (rc == VSC_ECLOSED && (vsc_close_code(v) == 4401 || vsc_close_code(v) == 4400 ||
                              vsc_close_code(v) == 1009))
        rc = VSC_ESERVER; /* a new connection would be refused the same way */
    vsc_close(v);
    return rc;
}

/* Failures that another connection may cure. */
static int vsc__sync_transient(int rc)
{
    return rc == VSC_ECONNECT || rc == VSC_ETIMEOUT || rc == VSC_ECLOSED;
}

static int vsc__sync_load_config(struct vsc__sync_state *s)
{
    int rc;
    if ((rc = vsc_replica_config_get(s->r, "url", &s->url)) != 0 ||
        (rc = vsc_replica_config_get(s->r, "device", &s->device)) != 0 ||
        (rc = vsc_replica_config_get(s->r, "token", &s->token)) != 0) {
        snprintf(s->err, sizeof s->err,
                 "the local store has no %s (run `visitsync client init` first)",
                 !s->url ? "server url" : !s->device ? "device id" : "token");
        return rc;
    }
    return 0;
}

/* Sums the records of every collection (vsc_replica_count_fn). */
static int vsc__sync_count(void *ctx, const char *collection, int64_t live, int64_t deleted)
{
    (void)collection;
    *(int64_t *)ctx += live + deleted;
    return 0;
}

/* Drops the acked changes kept longer than the options say (vsc_replica_prune). */
static int vsc__sync_prune(struct vsc__sync_state *s)
{
    int64_t now = proto_now_ms(), before;
    int days = s->o->retain_days ? s->o->retain_days : VSC_RETAIN_DAYS;
    int rc;

    /* Negative: everything acked before now goes; nothing can be acked at now + 1. */
    before = days < 0 ? now + 1 : now - (int64_t)days * 24 * 3600 * 1000;
    if ((rc = vsc_replica_prune(s->r, before, &s->rep->pruned)) != 0)
        return vsc__sync_dbfail(s, rc);
    return 0;
}

int vsc_sync(struct vsc_replica *r, const struct vsc_sync_opts *opts,
             struct vsc_sync_report *report, char *errbuf, size_t errsize)
{
    static const struct vsc_sync_opts dflt = { 0 };
    struct vsc__sync_state s = { .r = r, .o = opts ? opts : &dflt, .rep = report };
    int rc, attempts, backoff;
    int64_t oldest;

    memset(report, 0, sizeof *report);
    report->server_seq = -1;
    attempts = s.o->attempts > 0 ? s.o->attempts : VSC__SYNC_DEFAULT_ATTEMPTS;
    backoff = s.o->backoff_ms > 0 ? s.o->backoff_ms : VSC__SYNC_DEFAULT_BACKOFF_MS;
    if ((rc = vsc__sync_load_config(&s)) != 0 || (rc = vsc__sync_prune(&s)) != 0)
        goto out;
    for (int i = 1;; i++) {
        s.batch_size = s.o->max_batch > 0 && s.o->max_batch < PROTO_MAX_BATCH ? s.o->max_batch
                                                                              : PROTO_MAX_BATCH;
        rc = vsc__sync_session(&s);
        if (rc == 0 || !vsc__sync_transient(rc) || i >= attempts)
            break;
        if (s.o->note) {
            char line[800];
            snprintf(line, sizeof line, "%s; retrying in %d ms (attempt %d of %d)", s.err,
                     backoff, i + 1, attempts);
            s.o->note(s.o->note_ctx, line);
        }
        vsc__sync_sleep_ms(backoff);
        backoff = backoff < 30000 ? backoff * 2 : backoff;
    }
    if (rc && vsc__sync_transient(rc) && attempts > 1) {
        char first[512];
        snprintf(first, sizeof first, "%.500s", s.err);
        snprintf(s.err, sizeof s.err, "%s (gave up after %d attempts)", first, attempts);
    }
out:
    if (vsc_replica_pending(r, &report->pending, &oldest) != 0)
        report->pending = -1;
    if (vsc_replica_counts(r, vsc__sync_count, &report->records) != 0)
        report->records = -1;
    if (vsc_replica_photo_list(r, 1, vsc__sync_photo_count, report) != 0)
        report->photos_pending = -1;
    if (rc && errbuf)
        snprintf(errbuf, errsize, "%s", s.err[0] ? s.err : "sync failed");
    free(s.url);
    free(s.device);
    free(s.token);
    return rc;
}
