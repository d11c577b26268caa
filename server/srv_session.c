/*
 * srv_session.c — one WebSocket connection of the visitsync.v1 protocol.
 *
 * Everything here runs on the lws service thread, which owns every session.
 * The file reads in the order a message travels: replies and closing (what
 * every request may end in), the requests themselves, assembling frames,
 * writing; then what a completion does to a connection (srv_complete.c
 * decides when), the session tables, and the lws callback.
 *
 * Design:
 * - Messages are assembled from fragments until lws_is_final_fragment();
 *   max_message applies to the assembled size, SRV_PREHELLO_MAX before the
 *   welcome. Over it, the session is flagged and closed with 1009 from the
 *   writeable callback (returning -1 from RECEIVE may not close a
 *   permessage-deflate connection in lws 4.1; compression is off now, but
 *   the close path does not depend on that).
 * - Binary messages are photo chunks (§2.6): after the welcome each one is
 *   a writer job like a push, carrying the assembled buffer itself.
 * - Replies keep request order: each request gets a slot in a FIFO when it
 *   arrives; a worker's completion fills its slot; only the head is written,
 *   one lws_write per writeable callback. Pokes and errors are slots that
 *   are ready at once.
 * - Back-pressure: while a hello is being checked, or more than
 *   SRV_MAX_IN_FLIGHT requests wait, or more than SRV_MAX_QUEUED reply bytes
 *   wait to be written, the connection is not read (lws_rx_flow_control), so
 *   a client that never reads cannot make the server buffer without bound.
 * - The 10 s hello deadline is a FIFO of sessions checked by one periodic
 *   timer (srv_hello_tick), not a timer per connection.
 * - Peer addresses (srv_peer.c): an upgrade over --max-conn-per-ip is
 *   answered HTTP 429 at LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION (the same
 *   lws call as ESTABLISHED, where it is counted, so the check cannot race).
 *   A throttled address's hello is refused (4429) here, before it is queued
 *   for the writer; its failed sign-ins are counted when the writer's answer
 *   comes back (srv_complete.c).
 * - Closing: close_code is set, what must not be sent is dropped, the
 *   remaining ready replies are written, then the writeable callback sets
 *   the close reason and returns -1.
 * - The lists (sessions, the id and device tables, the hello FIFO, each
 *   session's replies) are srv_list.h links: O(1) to enter and leave.
 * - The grid index: at its welcome a session enters the list of each grid
 *   of its scope (a supervisor's, whose scope is every grid, a list of its
 *   own), and leaves them when it starts closing. A push's pokes visit the
 *   lists of the grids it changed (srv_complete.c), so their cost is the
 *   tablets of those grids, not every connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_internal.h"

_Static_assert(SRV_PREHELLO_MAX == 16384, "on_receive's close reason names the size");

/* The session tables and the hello FIFO, at the end of the file. */
static void session_register(struct srv *srv, struct srv_session *s, struct lws *wsi);
static void session_unregister(struct srv_session *s);
static void device_add(struct srv_session *s);
static void device_remove(struct srv_session *s);
static void hello_wait(struct srv_session *s);
static void hello_unwait(struct srv_session *s);
static void grids_index(struct srv_session *s);
static void grids_unindex(struct srv_session *s);

/* ---- flow control -------------------------------------------------------- */

/* Pauses or resumes reading so that the session's backlog stays bounded. */
static void session_flow(struct srv_session *s)
{
    int pause = !s->close_code &&
                (s->hello_pending || s->in_flight >= SRV_MAX_IN_FLIGHT ||
                 s->queued_bytes > SRV_MAX_QUEUED || s->srv->phase != SRV_RUNNING);

    if (pause == s->rx_paused)
        return;
    s->rx_paused = pause;
    lws_rx_flow_control(s->wsi, !pause);
}

/* Service thread. */
void srv_sessions_flow(struct srv *srv)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &srv->sessions)
        session_flow(srv_list_entry(l, struct srv_session, all_link));
}

/* ---- replies ------------------------------------------------------------- */

static struct srv_reply *reply_of(struct srv_list *link)
{
    return srv_list_entry(link, struct srv_reply, link);
}

static void reply_free(struct srv_reply *r)
{
    proto_buf_free(&r->buf);
    free(r);
}

/* Appends a slot. request: the slot answers a request handed to a worker. */
static struct srv_reply *reply_add(struct srv_session *s, int request)
{
    struct srv_reply *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->id = ++s->next_reply;
    r->request = request;
    proto_buf_init(&r->buf, LWS_PRE, SRV_REPLY_MAX);
    srv_list_insert_tail(&s->replies, &r->link);
    if (request)
        s->in_flight++;
    return r;
}

/* Marks r ready (its buf holds the message) and schedules a write if it is next. */
static void reply_ready(struct srv_session *s, struct srv_reply *r)
{
    if (r->request)
        s->in_flight--;
    r->ready = 1;
    s->queued_bytes += r->buf.len;
    if (s->replies.next == &r->link)
        lws_callback_on_writable(s->wsi);
    session_flow(s);
}

/* Removes r from the FIFO (wherever it is) and frees it. */
static void reply_unlink(struct srv_session *s, struct srv_reply *r)
{
    srv_list_remove(&r->link);
    if (r->ready)
        s->queued_bytes -= r->buf.len;
    else if (r->request)
        s->in_flight--;
    reply_free(r);
}

/* Drops queued replies: all of them, or only those not ready yet. */
static void replies_drop(struct srv_session *s, int keep_ready)
{
    struct srv_list *l, *next;

    SRV_LIST_FOREACH_SAFE(l, next, &s->replies) {
        struct srv_reply *r = reply_of(l);
        if (!keep_ready || !r->ready)
            reply_unlink(s, r);
    }
}

/* Queues an error reply (§2.8), ready at once; written by srv_write_verror. */
static void __attribute__((format(printf, 4, 5)))
reply_error(struct srv_session *s, const char *req, enum proto_code code, const char *fmt, ...)
{
    struct srv_reply *r = reply_add(s, 0);
    va_list ap;
    int rc;

    if (r == NULL)
        return;
    va_start(ap, fmt);
    rc = srv_write_verror(&r->buf, req, code, fmt, ap);
    va_end(ap);
    if (rc != 0) {
        reply_unlink(s, r);
        return;
    }
    reply_ready(s, r);
}

/* ---- closing ------------------------------------------------------------- */

/* Service thread (srv_internal.h). */
void srv_session_close(struct srv_session *s, int code, const char *why, int keep_ready)
{
    if (s->close_code)
        return;
    replies_drop(s, keep_ready);
    s->close_code = code;
    snprintf(s->close_why, sizeof s->close_why, "%s", why);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = s->rx_cap = 0;
    hello_unwait(s);
    grids_unindex(s); /* a closing session is poked no more */
    /*
     * A peer that never lets us write is dropped without the close frame.
     * Not while stopping: the stop has its own deadline, and lws keeps
     * timeouts in a sorted list, so arming thousands at once is quadratic.
     */
    if (s->srv->phase == SRV_RUNNING)
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, 5);
    session_flow(s);
    lws_callback_on_writable(s->wsi);
    srv_log(SRV_LOG_INFO, "session %llu (%s): closing with %d: %s", (unsigned long long)s->id,
            s->who ? s->who->p.device : "-", code, why);
}

/* Service thread. Closing unlinks nothing: the walk may go on. */
void srv_sessions_close_all(struct srv *srv, int code, const char *why)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &srv->sessions)
        srv_session_close(srv_list_entry(l, struct srv_session, all_link), code, why, 0);
}

/* Service thread. */
int srv_sessions_idle(struct srv *srv)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &srv->sessions) {
        struct srv_session *s = srv_list_entry(l, struct srv_session, all_link);
        if (!s->close_code && (s->in_flight > 0 || !srv_list_empty(&s->replies)))
            return 0;
    }
    return 1;
}

/* Service thread (srv_internal.h). */
void srv_session_bad(struct srv_session *s)
{
    if (++s->bad_in_row >= SRV_BAD_IN_A_ROW)
        srv_session_close(s, SRV_CLOSE_BAD, "too many bad messages in a row", 1);
}

/* ---- requests ------------------------------------------------------------ */

/*
 * Hands job to a worker queue with a reply slot; on failure answers
 * "internal". Returns 0 when a worker has the job, -1 when it was freed.
 */
static int submit(struct srv_session *s, struct srv_queue *q, struct srv_job *job,
                  const char *req)
{
    struct srv_reply *r = reply_add(s, 1);

    if (r == NULL) {
        srv_job_free(job);
        return -1;
    }
    job->session = s->id;
    job->reply = r->id;
    if (srv_queue_put(q, job) != 0) {
        srv_write_error(&r->buf, req, PROTO_CODE_INTERNAL, "the server is stopping");
        srv_job_free(job);
        reply_ready(s, r);
        return -1;
    }
    session_flow(s);
    return 0;
}

/*
 * True (and the session closing with 4429) when the session's address may
 * not sign in now: it is banned, or its probe is still at the writer.
 */
static int hello_throttled(struct srv_session *s, struct proto_msg *msg)
{
    char device[PROTO_ID_MAX * 4 + 8];
    int64_t wait_ms;

    if (s->peer == NULL || srv_peer_hello_begin(s->peer, proto_mono_ms(), &wait_ms) == 0)
        return 0;
    srv_log_escape(msg->u.hello.device ? msg->u.hello.device : "", device, sizeof device);
    srv_log(SRV_LOG_INFO, "sign-in of device \"%s\" from %s not checked: throttled for %lld ms",
            device, s->peer->addr, (long long)wait_ms);
    srv_metric_inc(&s->srv->metrics.throttled_hellos);
    /* not_authenticated, not unauthorized: the token was not judged, and must not be dropped. */
    reply_error(s, msg->req, PROTO_CODE_NOT_AUTHENTICATED,
                "too many failed sign-ins from %s; wait %lld s and try again", s->peer->addr,
                (long long)((wait_ms + 999) / 1000));
    srv_session_close(s, SRV_CLOSE_THROTTLED, "too many failed sign-ins", 1);
    return 1;
}

/* hello (§2.1): the writer authenticates it; reading pauses until it answers. */
static void on_hello(struct srv_session *s, struct proto_msg *msg)
{
    struct srv_job *job;

    if (hello_throttled(s, msg)) {
        proto_msg_free(msg);
        return;
    }
    job = srv_job_new(SRV_JOB_HELLO);
    if (job == NULL) {
        reply_error(s, msg->req, PROTO_CODE_INTERNAL, "out of memory");
        proto_msg_free(msg);
        if (s->peer != NULL)
            srv_peer_hello_end(&s->srv->peers, s->peer, 0, proto_mono_ms(), NULL, NULL);
        return;
    }
    job->msg = msg;
    job->peer = s->peer;
    s->hello_pending = 1;
    hello_unwait(s); /* the writer answers it; a failure puts it back */
    if (submit(s, &s->srv->writes, job, msg->req) != 0 && s->peer != NULL)
        srv_peer_hello_end(&s->srv->peers, s->peer, 0, proto_mono_ms(), NULL, NULL);
}

/* push (§2.2): bounded by max_batch here, applied by the writer. */
static void on_push(struct srv_session *s, struct proto_msg *msg)
{
    const struct srv_config *cfg = s->srv->cfg;
    size_t n = msg->u.push.n_changes;
    struct srv_job *job;

    if ((int64_t)n > cfg->max_batch) {
        reply_error(s, msg->req, PROTO_CODE_BAD_MESSAGE,
                    "changes: the push has %zu changes but max_batch is %lld; nothing was "
                    "applied, split it into smaller pushes",
                    n, (long long)cfg->max_batch);
        proto_msg_free(msg);
        srv_session_bad(s);
        return;
    }
    s->bad_in_row = 0;
    job = srv_job_new(SRV_JOB_PUSH);
    if (job == NULL) {
        reply_error(s, msg->req, PROTO_CODE_INTERNAL, "out of memory; send it again");
        proto_msg_free(msg);
        return;
    }
    job->msg = msg;
    job->bytes = s->rx_len;
    job->who = srv_principal_ref(s->who);
    submit(s, &s->srv->writes, job, msg->req);
}

/* pull (§2.4): answered by the reader; the writer notes when the device pulled. */
static void on_pull(struct srv_session *s, struct proto_msg *msg)
{
    struct srv_job *job = srv_job_new(SRV_JOB_PULL);
    struct srv_job *note;

    if (job == NULL) {
        reply_error(s, msg->req, PROTO_CODE_INTERNAL, "out of memory; pull again");
        proto_msg_free(msg);
        return;
    }
    s->poke_outstanding = 0;
    job->msg = msg;
    job->who = srv_principal_ref(s->who);
    submit(s, &s->srv->reads, job, msg->req);
    note = srv_job_new(SRV_JOB_NOTE);
    if (note != NULL) {
        snprintf(note->device, sizeof note->device, "%s", s->who->p.device);
        if (srv_queue_put(&s->srv->writes, note) != 0)
            srv_job_free(note);
    }
}

/* schema (§2.7): answered from memory, in order with the other replies. */
static void on_schema(struct srv_session *s, struct proto_msg *msg)
{
    const struct proto_schema *schema = s->srv->schema;
    struct srv_reply *r = reply_add(s, 0);

    if (r != NULL) {
        if (proto_write_schema(&r->buf, msg->req, schema->version, schema->collections_json) != 0)
            srv_write_error(&r->buf, msg->req, PROTO_CODE_INTERNAL,
                            "the schema could not be written");
        reply_ready(s, r);
    }
    proto_msg_free(msg);
}

/*
 * blob_offer (§2.6): over --max-blob it is refused here; otherwise the
 * writer creates or resumes the device's upload and answers blob_status.
 * A refused size is a well-formed message about a photo this server will
 * not take, not a broken client: it does not count toward §2.8's ten in a
 * row, or a tablet holding ten large photos could never send the small
 * ones behind them.
 */
static void on_offer(struct srv_session *s, struct proto_msg *msg)
{
    const struct proto_blob_offer *o = &msg->u.blob_offer;
    int64_t max = s->srv->cfg->max_blob;
    struct srv_job *job;

    if (o->size > max) {
        reply_error(s, msg->req, PROTO_CODE_BAD_MESSAGE,
                    "size: the photo %.12s… has %lld bytes, over the %lld this server accepts "
                    "(--max-blob)",
                    o->sha256, (long long)o->size, (long long)max);
        proto_msg_free(msg);
        s->bad_in_row = 0;
        return;
    }
    s->bad_in_row = 0;
    job = srv_job_new(SRV_JOB_BLOB_OFFER);
    if (job == NULL) {
        reply_error(s, msg->req, PROTO_CODE_INTERNAL, "out of memory; offer it again");
        proto_msg_free(msg);
        return;
    }
    snprintf(job->blob.sha256, sizeof job->blob.sha256, "%s", o->sha256);
    job->msg = msg;
    job->who = srv_principal_ref(s->who);
    submit(s, &s->srv->writes, job, msg->req);
}

/*
 * A binary message after the welcome: a photo chunk (§2.6). Its shape is
 * checked here; whether it fits the device's upload (offered, at have,
 * within the size) only the writer knows, since chunks may be pipelined.
 * The assembled buffer is handed to the job instead of being copied; the
 * session starts a new one. At most SRV_MAX_IN_FLIGHT chunks of a session
 * wait for the writer (reading pauses beyond), so one session holds at
 * most 8 x 256 KiB of photo bytes.
 */
static void on_chunk(struct srv_session *s)
{
    struct proto_blob_chunk c;
    struct proto_fault fault;
    struct srv_job *job;

    memset(&fault, 0, sizeof fault);
    if (proto_blob_chunk_parse(s->rx, s->rx_len, &c, &fault) != 0) {
        reply_error(s, NULL, PROTO_CODE_BAD_MESSAGE, "%s", fault.message);
        srv_session_bad(s);
        return;
    }
    job = srv_job_new(SRV_JOB_BLOB_CHUNK);
    if (job == NULL) {
        reply_error(s, NULL, PROTO_CODE_INTERNAL,
                    "out of memory; offer sha256 %.12s… again and resume from have",
                    c.sha256_hex);
        return;
    }
    /* Not counted here either way: the writer's verdict is, when it comes back. */
    memcpy(job->blob.sha256, c.sha256_hex, sizeof job->blob.sha256);
    job->blob.offset = c.offset;
    job->blob.len = c.len;
    /* Doubling may have left up to twice the message: give the slack back (mremap, no copy). */
    job->blob.raw = realloc(s->rx, s->rx_len);
    if (job->blob.raw == NULL)
        job->blob.raw = s->rx;
    job->blob.data = (const unsigned char *)job->blob.raw + PROTO_BLOB_HEADER; /* c.data moved */
    job->bytes = s->rx_len;
    s->rx = NULL;
    s->rx_cap = 0;
    job->who = srv_principal_ref(s->who);
    submit(s, &s->srv->writes, job, NULL);
}

/* One whole message arrived: parses it and hands it to its handler (on_hello...). */
static void dispatch_message(struct srv_session *s)
{
    char req[PROTO_REQ_BYTES + 1] = "";
    struct proto_fault fault;
    struct proto_msg *msg = NULL;

    if (s->rx_binary) {
        if (s->who != NULL) {
            on_chunk(s); /* may take s->rx */
            return;
        }
        reply_error(s, NULL, PROTO_CODE_NOT_AUTHENTICATED,
                    "the first message must be hello; a binary message (a photo chunk) is not "
                    "allowed before welcome");
        srv_session_bad(s);
        return;
    }
    memset(&fault, 0, sizeof fault);
    if (proto_parse_client(s->rx ? s->rx : "", s->rx_len, &msg, &fault, req) != 0) {
        if (fault.code == PROTO_CODE_NONE)
            fault.code = PROTO_CODE_BAD_MESSAGE;
        /* Name the member once: protocol/'s sentences often start with it already. */
        int named = fault.field[0] == '\0' ||
                    strncmp(fault.message, fault.field, strlen(fault.field)) == 0;
        reply_error(s, req[0] ? req : NULL, fault.code, "%s%s%s", named ? "" : fault.field,
                    named ? "" : ": ", fault.message);
        srv_session_bad(s);
        return;
    }
    if (s->who == NULL) {
        if (msg->type != PROTO_HELLO || s->hello_pending) {
            reply_error(s, msg->req, PROTO_CODE_NOT_AUTHENTICATED,
                        "the first message must be hello; %s is not allowed before welcome",
                        proto_type_name(msg->type));
            proto_msg_free(msg);
            srv_session_bad(s);
            return;
        }
        s->bad_in_row = 0;
        on_hello(s, msg);
        return;
    }
    switch (msg->type) {
    case PROTO_PUSH:
        on_push(s, msg); /* resets or counts bad_in_row itself */
        return;
    case PROTO_PULL:
        s->bad_in_row = 0;
        on_pull(s, msg);
        return;
    case PROTO_SCHEMA:
        s->bad_in_row = 0;
        on_schema(s, msg);
        return;
    case PROTO_HELLO:
        reply_error(s, msg->req, PROTO_CODE_BAD_MESSAGE,
                    "hello: this connection is already authenticated");
        break;
    case PROTO_BLOB_OFFER:
        on_offer(s, msg); /* resets or counts bad_in_row itself */
        return;
    default:
        reply_error(s, msg->req, PROTO_CODE_BAD_MESSAGE, "type: a client does not send %s",
                    proto_type_name(msg->type));
        break;
    }
    proto_msg_free(msg);
    srv_session_bad(s);
}

/*
 * A fragment arrived: assemble, enforce max_message (SRV_PREHELLO_MAX before
 * the welcome), dispatch whole messages.
 */
static void on_receive(struct srv_session *s, const void *in, size_t len)
{
    size_t max = (size_t)s->srv->cfg->max_message;

    if (s->close_code)
        return; /* closing: further data is dropped */
    if (s->who == NULL && max > SRV_PREHELLO_MAX)
        max = SRV_PREHELLO_MAX; /* no hello is this big: do not hold more for a stranger */
    if (s->rx_len == 0)
        s->rx_binary = lws_frame_is_binary(s->wsi);
    /* A whole photo chunk fits even under a --max-message smaller than one (§2.6). */
    if (s->who != NULL && s->rx_binary && max < PROTO_BLOB_HEADER + PROTO_BLOB_CHUNK_MAX)
        max = PROTO_BLOB_HEADER + PROTO_BLOB_CHUNK_MAX;
    if (len > max - s->rx_len) {
        srv_session_close(s, SRV_CLOSE_TOO_BIG,
                      s->who != NULL ? "message over max_message"
                                     : "message over 16384 bytes before welcome",
                      0);
        return;
    }
    if (s->rx_len + len > s->rx_cap) {
        /*
         * The first piece: room for the rest of its frame (a message is one
         * frame, usually), but no more than 64 KiB ahead of the bytes that
         * came: a frame's header may promise a megabyte that never follows.
         */
        size_t ahead = lws_remaining_packet_payload(s->wsi);
        size_t cap = s->rx_cap ? s->rx_cap : len + (ahead < 65536 ? ahead : 65536);
        char *grown;
        if (cap < 256)
            cap = 256;
        while (cap < s->rx_len + len)
            cap *= 2;
        if (cap > max)
            cap = max;
        grown = realloc(s->rx, cap);
        if (grown == NULL) {
            srv_session_close(s, 1011, "out of memory", 0);
            return;
        }
        s->rx = grown;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!lws_is_final_fragment(s->wsi))
        return;
    dispatch_message(s);
    s->rx_len = 0;
    /* An idle tablet holds no buffer: 50,000 of them would keep 200 MiB in 4 KiB ones. */
    free(s->rx);
    s->rx = NULL;
    s->rx_cap = 0;
}

/*
 * While stopping: sends the close frame itself and drops the connection
 * without waiting for the peer's echo. lws's close handshake arms two
 * timeouts per connection in its sorted timer list, which is quadratic when
 * thousands of connections close at once; the stop has its own deadline.
 * Returns -1 for the callback to return.
 */
/*
 * lws 4.1.6 writes close frames with lws_write(..., LWS_WRITE_CLOSE), a value
 * its public header leaves out ("handled by lws_close_reason()"); it is 4 in
 * lib/roles/ws/private-lib-roles-ws.h.
 */
#define SRV_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

static int close_now(struct srv_session *s)
{
    unsigned char frame[LWS_PRE + 2 + sizeof s->close_why];
    size_t n = strlen(s->close_why);

    frame[LWS_PRE] = (unsigned char)(s->close_code >> 8);
    frame[LWS_PRE + 1] = (unsigned char)(s->close_code & 0xff);
    memcpy(frame + LWS_PRE + 2, s->close_why, n);
    lws_write(s->wsi, frame + LWS_PRE, 2 + n, SRV_LWS_WRITE_CLOSE);
    return -1;
}

/* Writes the head reply, or closes once nothing is left to write. */
static int on_writable(struct srv_session *s)
{
    struct srv_list *first = srv_list_first(&s->replies);
    struct srv_reply *r = first != NULL ? reply_of(first) : NULL;
    size_t len;

    if (s->alive.ping_due)
        return srv_alive_write(&s->alive);
    /* lws is done with the previous buffer (permessage-deflate may drain it late). */
    proto_buf_free(&s->sent);
    if (r != NULL && r->ready) {
        len = r->buf.len;
        srv_list_remove(&r->link);
        s->queued_bytes -= len;
        s->sent = r->buf;
        free(r);
        if (lws_write(s->wsi, (unsigned char *)proto_buf_data(&s->sent), len, LWS_WRITE_TEXT) <
            0)
            return -1;
        first = srv_list_first(&s->replies);
        if ((first != NULL && reply_of(first)->ready) || (s->close_code && first == NULL))
            lws_callback_on_writable(s->wsi);
        session_flow(s);
        return 0;
    }
    if (s->close_code && r == NULL) {
        if (s->srv->phase != SRV_RUNNING && !lws_partial_buffered(s->wsi))
            return close_now(s);
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
                         (unsigned char *)s->close_why, strlen(s->close_why));
        return -1;
    }
    return 0;
}

/* The connection is gone (CLOSED): unlinks s from everything and frees what it owns. */
static void session_cleanup(struct srv_session *s)
{
    hello_unwait(s);
    srv_alive_stop(&s->alive);
    srv_metric_add(&s->srv->metrics.connections, -1);
    /* Offline only when it still was its device's session (not replaced by a newer one). */
    if (srv_list_linked(&s->device_link))
        srv_monitor_presence(s->srv, &s->who->p, 0);
    srv_peer_detach(&s->srv->peers, s->peer, proto_mono_ms());
    s->peer = NULL;
    device_remove(s);
    grids_unindex(s);
    session_unregister(s);
    replies_drop(s, 0);
    proto_buf_free(&s->sent);
    free(s->rx);
    s->rx = NULL;
    srv_principal_unref(s->who);
    s->who = NULL;
}

/* ---- the hello deadline (§2.1) -------------------------------------------- */

/*
 * Service thread (a context sul): closes overdue sessions, pings the idle
 * WebSockets and drops the silent ones (srv_keepalive.c), once a second
 * forgets peer addresses whose throttle state decayed, then looks again soon.
 */
void srv_hello_tick(lws_sorted_usec_list_t *sul)
{
    struct srv *srv = lws_container_of(sul, struct srv, hello_tick);
    int64_t now = proto_mono_ms();
    struct srv_list *first;

    /* Closing takes the session off the list. */
    while ((first = srv_list_first(&srv->hello_waiting)) != NULL) {
        struct srv_session *s = srv_list_entry(first, struct srv_session, hello_link);
        if (s->hello_deadline > now)
            break;
        srv_session_close(s, SRV_CLOSE_HELLO_TIMEOUT, "no hello within 10 s", 0);
    }
    srv_alive_tick(srv, now);
    if (now - srv->peers_swept >= 1000) {
        srv_peers_sweep(&srv->peers, now);
        srv->peers_swept = now;
    }
    if (srv->phase != SRV_DONE)
        lws_sul_schedule(srv->ctx, 0, &srv->hello_tick, srv_hello_tick, SRV_HELLO_TICK_US);
}

/* ---- what a completion does to a connection (srv_complete.c decides) ------ */

/* Service thread. */
void srv_session_fill_reply(struct srv_session *s, struct srv_job *job)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &s->replies) {
        struct srv_reply *r = reply_of(l);
        if (r->id != job->reply)
            continue;
        if (r->ready)
            return;
        proto_buf_free(&r->buf);
        r->buf = job->out;
        memset(&job->out, 0, sizeof job->out);
        reply_ready(s, r);
        return;
    }
}

/* Service thread. */
void srv_session_welcome(struct srv_session *s, struct srv_principal *who)
{
    struct srv_session *older = srv_session_of_device(s->srv, who->p.device);

    if (older != NULL && older != s) {
        device_remove(older);
        srv_session_close(older, SRV_CLOSE_REPLACED, "replaced by a newer connection", 0);
    }
    s->who = who;
    device_add(s);
    grids_index(s);
    srv_monitor_presence(s->srv, &who->p, 1);
    srv_log(SRV_LOG_INFO, "session %llu: device %s (user %s) connected", (unsigned long long)s->id,
            s->who->p.device, s->who->p.user);
}

/* Service thread. */
void srv_session_hello_again(struct srv_session *s)
{
    hello_wait(s);
    session_flow(s);
}

/* Service thread: called for every session a push pokes, so it stays small. */
int srv_session_poke(struct srv_session *s, const char *cursor)
{
    struct srv_reply *r;

    if (s->poke_outstanding)
        return 0;
    r = reply_add(s, 0);
    if (r == NULL)
        return 0;
    if (proto_write_poke(&r->buf, cursor) != 0) {
        reply_unlink(s, r);
        return 0;
    }
    s->poke_outstanding = 1;
    reply_ready(s, r);
    return 1;
}

/* Service thread. */
void srv_session_revoked(struct srv_session *s)
{
    replies_drop(s, 0);
    reply_error(s, NULL, PROTO_CODE_UNAUTHORIZED, "device \"%s\" was revoked", s->who->p.device);
    srv_session_close(s, SRV_CLOSE_UNAUTHORIZED, "device revoked", 1);
}

/* ---- the session tables ---------------------------------------------------- */

/* Enters s in every session list and the id table. Starts its reply FIFO. */
static void session_register(struct srv *srv, struct srv_session *s, struct lws *wsi)
{
    s->srv = srv;
    s->wsi = wsi;
    s->id = ++srv->next_session;
    srv_list_init(&s->replies);
    srv_list_insert_head(&srv->by_id[s->id % SRV_BUCKETS], &s->id_link);
    srv_list_insert_head(&srv->sessions, &s->all_link);
    srv->n_sessions++;
}

static void session_unregister(struct srv_session *s)
{
    srv_list_remove(&s->id_link);
    srv_list_remove(&s->all_link);
    s->srv->n_sessions--;
}

/* Service thread. */
struct srv_session *srv_session_find(struct srv *srv, uint64_t id)
{
    struct srv_list *head = &srv->by_id[id % SRV_BUCKETS], *l;

    SRV_LIST_FOREACH(l, head) {
        struct srv_session *s = srv_list_entry(l, struct srv_session, id_link);
        if (s->id == id)
            return s;
    }
    return NULL;
}

/* ---- the device table: the one live connection of each device ------------- */

/* FNV-1a of a device id or grid id, for the tables' buckets. */
static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static struct srv_list *device_bucket(struct srv *srv, const char *device)
{
    return &srv->by_device[name_hash(device) % SRV_BUCKETS];
}

/* Service thread. */
struct srv_session *srv_session_of_device(struct srv *srv, const char *device)
{
    struct srv_list *head = device_bucket(srv, device), *l;

    SRV_LIST_FOREACH(l, head) {
        struct srv_session *s = srv_list_entry(l, struct srv_session, device_link);
        if (strcmp(s->who->p.device, device) == 0)
            return s;
    }
    return NULL;
}

/* Enters s (authenticated) as its device's live connection. */
static void device_add(struct srv_session *s)
{
    srv_list_insert_head(device_bucket(s->srv, s->who->p.device), &s->device_link);
    srv_metric_add(&s->srv->metrics.devices_online, 1);
}

static void device_remove(struct srv_session *s)
{
    if (srv_list_linked(&s->device_link)) {
        srv_list_remove(&s->device_link);
        srv_metric_add(&s->srv->metrics.devices_online, -1);
    }
}

/* ---- the grid index: signed-in sessions by the grids of their scope -------- */

static struct srv_list *grid_bucket(struct srv *srv, const char *grid)
{
    return &srv->grids[name_hash(grid) % SRV_GRID_BUCKETS];
}

/* Service thread. */
struct srv_grid *srv_grid_find(struct srv *srv, const char *grid)
{
    struct srv_list *head = grid_bucket(srv, grid), *l;

    SRV_LIST_FOREACH(l, head) {
        struct srv_grid *g = srv_list_entry(l, struct srv_grid, link);
        if (strcmp(g->name, grid) == 0)
            return g;
    }
    return NULL;
}

/* The entry of grid, created empty when missing; NULL when out of memory or not an id. */
static struct srv_grid *grid_get(struct srv *srv, const char *grid)
{
    struct srv_grid *g = srv_grid_find(srv, grid);

    if (g != NULL || strlen(grid) > PROTO_ID_MAX)
        return g;
    g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    memcpy(g->name, grid, strlen(grid) + 1);
    srv_list_init(&g->members);
    srv_list_insert_head(grid_bucket(srv, grid), &g->link);
    return g;
}

/*
 * Enters s (just welcomed) in the list of each grid of its scope. A scope
 * of every grid puts it on srv.unindexed, where each push checks its scope
 * (a grid created after its welcome is in it too); so does a failure to
 * allocate its entries, which costs a scope check per push, never a poke.
 * A scope without grids is indexed nowhere: nothing it could see changes.
 */
static void grids_index(struct srv_session *s)
{
    const struct db_scope *scope = &s->who->p.scope;
    struct srv_grid_member *m;

    if (scope->all)
        goto unindexed;
    if (scope->n == 0)
        return;
    m = calloc(scope->n, sizeof *m);
    if (m == NULL)
        goto failed;
    s->grid_members = m;
    for (size_t i = 0; i < scope->n; i++) {
        struct srv_grid *g;
        if (scope->grids[i] == NULL)
            continue;
        g = grid_get(s->srv, scope->grids[i]);
        if (g == NULL)
            goto failed;
        m[s->n_grid_members].grid = g;
        m[s->n_grid_members].s = s;
        srv_list_insert_tail(&g->members, &m[s->n_grid_members].link);
        s->n_grid_members++;
    }
    return;
failed:
    grids_unindex(s);
    srv_log(SRV_LOG_WARN, "session %llu (%s): out of memory for the grid index; its pokes are "
            "found by a scope check", (unsigned long long)s->id, s->who->p.device);
unindexed:
    srv_list_insert_head(&s->srv->unindexed, &s->unindexed_link);
}

/* Takes s out of the grid index (it may be in none); frees the grids left empty. */
static void grids_unindex(struct srv_session *s)
{
    for (size_t i = 0; i < s->n_grid_members; i++) {
        struct srv_grid *g = s->grid_members[i].grid;
        srv_list_remove(&s->grid_members[i].link);
        if (srv_list_empty(&g->members)) {
            srv_list_remove(&g->link);
            free(g);
        }
    }
    free(s->grid_members);
    s->grid_members = NULL;
    s->n_grid_members = 0;
    if (srv_list_linked(&s->unindexed_link))
        srv_list_remove(&s->unindexed_link);
}

/* ---- the hello FIFO: sessions that owe a hello, oldest first ---------------- */

/* Puts s at the tail of the hello list with a deadline of now + 10 s. */
static void hello_wait(struct srv_session *s)
{
    if (srv_list_linked(&s->hello_link))
        return;
    s->hello_deadline = proto_mono_ms() + SRV_HELLO_TIMEOUT_MS;
    srv_list_insert_tail(&s->srv->hello_waiting, &s->hello_link);
}

/* Takes s off the hello list (its hello arrived, or it is closing). */
static void hello_unwait(struct srv_session *s)
{
    if (srv_list_linked(&s->hello_link))
        srv_list_remove(&s->hello_link);
}

/* Main thread, before lws starts. */
void srv_sessions_init(struct srv *srv)
{
    for (size_t b = 0; b < SRV_BUCKETS; b++) {
        srv_list_init(&srv->by_id[b]);
        srv_list_init(&srv->by_device[b]);
    }
    for (size_t b = 0; b < SRV_GRID_BUCKETS; b++)
        srv_list_init(&srv->grids[b]);
    srv_list_init(&srv->unindexed);
    srv_list_init(&srv->sessions);
    srv_list_init(&srv->hello_waiting);
    srv_list_init(&srv->alive);
}

/* ---- the lws protocol callback -------------------------------------------- */

/*
 * Answers an upgrade with an HTTP error before lws drops the connection.
 * Written by hand: lws_return_http_status() says "HTTP/1.0" this early (the
 * request's version is not recorded yet), which clients reject as no valid
 * response, and it knows no reason phrase for 429.
 */
static void refuse_upgrade(struct lws *wsi, const char *status, const char *body)
{
    unsigned char buf[LWS_PRE + 256];
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %s\r\ncontent-type: text/plain\r\ncontent-length: %zu\r\n"
                     "connection: close\r\ncache-control: no-store\r\n\r\n%s",
                     status, strlen(body), body);

    if (n > 0 && (size_t)n < sizeof buf - LWS_PRE)
        lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP);
}

/*
 * At the upgrade: answers HTTP 429 and returns 1 (lws then drops the
 * connection) when the peer's address holds --max-conn-per-ip connections
 * already. Logged at most every 10 s per address, with the count refused.
 */
static int over_cap(struct srv *srv, struct lws *wsi)
{
    int cap = srv->cfg->max_conn_per_ip;
    char addr[SRV_ADDR_MAX];
    struct srv_peer *p;
    int64_t now;

    if (cap <= 0)
        return 0;
    p = srv_peer_find(&srv->peers, srv_peer_address(wsi, addr, sizeof addr));
    if (p == NULL || p->conns < (uint32_t)cap)
        return 0;
    p->cap_refused++;
    now = proto_mono_ms();
    if (p->cap_logged == 0 || now - p->cap_logged >= 10000) {
        srv_log(SRV_LOG_NOTICE,
                "refused %u connection(s) from %s: it has %u, the cap (--max-conn-per-ip)",
                p->cap_refused, addr, p->conns);
        p->cap_logged = now;
        p->cap_refused = 0;
    }
    refuse_upgrade(wsi, "429 Too Many Requests",
                   "too many connections from this address (--max-conn-per-ip)\n");
    return 1;
}

/* Service thread: lws calls it for every event of a visitsync.v1 connection. */
int srv_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct srv_session *s = user;
    char addr[SRV_ADDR_MAX];
    struct srv *srv;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Sent to every protocol; this one drains the completion queue. */
        srv = lws_context_user(lws_get_context(wsi));
        if (srv != NULL) {
            srv_complete_drain(srv);
            srv_stop_poll(srv);
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        srv = lws_context_user(lws_get_context(wsi));
        if (srv->phase != SRV_RUNNING)
            return 1; /* stopping: refuse new connections */
        return over_cap(srv, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        srv = lws_context_user(lws_get_context(wsi));
        memset(s, 0, sizeof *s);
        session_register(srv, s, wsi);
        srv_metric_add(&srv->metrics.connections, 1);
        s->peer = srv_peer_attach(&srv->peers, srv_peer_address(wsi, addr, sizeof addr));
        hello_wait(s);
        srv_alive_start(srv, &s->alive, wsi);
        srv_log(SRV_LOG_DEBUG, "session %llu: connected", (unsigned long long)s->id);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (s != NULL && srv_list_linked(&s->all_link))
            srv_alive_pong(s->srv, &s->alive);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (s != NULL && srv_list_linked(&s->all_link))
            on_receive(s, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (s == NULL || !srv_list_linked(&s->all_link))
            return 0;
        return on_writable(s);
    case LWS_CALLBACK_CLOSED:
        if (s != NULL && srv_list_linked(&s->all_link)) {
            srv_log(SRV_LOG_DEBUG, "session %llu: closed", (unsigned long long)s->id);
            session_cleanup(s);
        }
        return 0;
    default:
        return 0;
    }
}
