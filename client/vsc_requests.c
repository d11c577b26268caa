/*
 * vsc_requests.c — the visitsync.v1 calls of the client library: hello, push
 * (pipelined), pull, schema, pokes. Each call writes its message with
 * protocol/, queues it, and runs the event loop (vsc_conn.c) until the
 * reply with its req is in the inbox. Replies to other calls stay in the
 * inbox for them; an `error` without req answers whichever call waits.
 */
#include "vsc_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a wait looks for: a reply of type with req (NULL: any), or an error. */
struct vsc__want {
    enum proto_type type;
    const char *req;
    size_t found;
};

static int vsc__find(struct vsc *v, void *arg)
{
    struct vsc__want *w = arg;

    for (size_t i = 0; i < v->n_inbox; i++) {
        const struct proto_msg *m = v->inbox[i];
        int req_ok = !w->req || !m->req || strcmp(m->req, w->req) == 0;
        /* An ack without req cannot be told apart: acks come in push order. */
        if ((m->type == w->type || m->type == PROTO_ERROR) && req_ok) {
            w->found = i;
            return 1;
        }
    }
    return 0;
}

int vsc__server_error(struct vsc *v, struct proto_msg *m, const char *what)
{
    int rc = vsc__fail(v, VSC_ESERVER, "%s:%d refused %s: %s%s%s", v->host, v->port, what,
                       m->u.error.code ? m->u.error.code : "error",
                       m->u.error.message ? ": " : "",
                       m->u.error.message ? m->u.error.message : "");
    proto_msg_free(m);
    return rc;
}

/* Waits for the reply described by w; *out owns it. An error reply fails. */
static int vsc__await(struct vsc *v, struct vsc__want *w, const char *what, struct proto_msg **out)
{
    int rc = vsc__wait(v, vsc__find, w, v->timeout_ms, what);
    if (rc != 0)
        return rc;
    struct proto_msg *m = vsc__take(v, w->found);
    if (m->type == PROTO_ERROR)
        return vsc__server_error(v, m, what);
    *out = m;
    return 0;
}

int vsc__write_failed(struct vsc *v, struct vsc__out *o, int prc, const char *what)
{
    vsc__out_free(o);
    if (prc == PROTO_ETOOBIG)
        return vsc__fail(v, VSC_ETOOBIG, "%s would exceed the server's limit of %" PRId64
                         " bytes per message", what, v->max_message);
    if (prc == PROTO_ENOMEM)
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing %s", what);
    return vsc__fail(v, VSC_EUSAGE, "cannot write %s: %s", what, proto_strerror(prc));
}

/* ---- hello -------------------------------------------------------------- */

static int vsc__not_open(struct vsc *v, void *arg)
{
    (void)arg;
    return v->wsi == NULL;
}

int vsc_hello(struct vsc *v, const struct proto_hello *h, const struct proto_welcome **out)
{
    struct vsc__want w = { PROTO_WELCOME, NULL, 0 };
    struct vsc__out *o;
    int rc;

    if (!h || !h->device || !h->token)
        return vsc__fail(v, VSC_EUSAGE, "hello needs a device and a token");
    if (v->welcome)
        return vsc__fail(v, VSC_EUSAGE, "hello was already answered on this connection");
    if (!(o = vsc__out_new(PROTO_MAX_MESSAGE)))
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing hello");
    if ((rc = proto_write_hello(&o->buf, NULL, h)) != 0)
        return vsc__write_failed(v, o, rc, "hello");
    if ((rc = vsc__queue(v, o)) != 0)
        return rc;
    rc = vsc__wait(v, vsc__find, &w, v->timeout_ms, "hello");
    if (rc != 0)
        return rc;
    struct proto_msg *m = vsc__take(v, w.found);
    if (m->type == PROTO_ERROR) {
        char code[64], msg[300], why[200];
        snprintf(code, sizeof code, "%s", m->u.error.code ? m->u.error.code : "error");
        snprintf(msg, sizeof msg, "%s", m->u.error.message ? m->u.error.message : "");
        proto_msg_free(m);
        /* The server closes right after refusing (4401): name the close code too. */
        vsc__wait(v, vsc__not_open, NULL, 1000, "the close after an error");
        if (v->close_code) {
            vsc__describe_close(v, why, sizeof why);
            return vsc__fail(v, VSC_ESERVER,
                             "%s:%d refused device %s: %s%s%s; closed by the server with %s",
                             v->host, v->port, h->device, code, msg[0] ? ": " : "", msg, why);
        }
        return vsc__fail(v, VSC_ESERVER, "%s:%d refused device %s: %s%s%s", v->host, v->port,
                         h->device, code, msg[0] ? ": " : "", msg);
    }
    v->welcome = m;
    if (m->u.welcome.max_message > 0)
        v->max_message = m->u.welcome.max_message;
    *out = &m->u.welcome;
    return 0;
}

/* ---- push --------------------------------------------------------------- */

size_t vsc_in_flight(const struct vsc *v)
{
    return v->n_inflight;
}

int vsc_push_send(struct vsc *v, const struct proto_change *changes, size_t n)
{
    char req[24];
    struct vsc__out *o;
    int rc;

    if (!v->welcome)
        return vsc__fail(v, VSC_EUSAGE, "push before a welcome: call vsc_hello first");
    if (v->n_inflight == VSC_MAX_IN_FLIGHT)
        return vsc__fail(v, VSC_EUSAGE, "%d pushes are already unanswered: wait for an ack",
                         VSC_MAX_IN_FLIGHT);
    snprintf(req, sizeof req, "p%" PRIu64, ++v->next_req);
    if (!(o = vsc__out_new((size_t)v->max_message)))
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing a push");
    if ((rc = proto_write_push(&o->buf, req, changes, n)) != 0) {
        char what[64];
        snprintf(what, sizeof what, "a push of %zu changes", n);
        return vsc__write_failed(v, o, rc, what);
    }
    if ((rc = vsc__queue(v, o)) != 0)
        return rc;
    memcpy(v->inflight[v->n_inflight++], req, sizeof req);
    return 0;
}

int vsc_push_wait(struct vsc *v, struct proto_msg **ack)
{
    char req[24], what[48];
    struct vsc__want w = { PROTO_ACK, req, 0 };
    struct proto_msg *m = NULL;
    int rc;

    if (v->n_inflight == 0)
        return vsc__fail(v, VSC_EUSAGE, "no push is waiting for an ack");
    memcpy(req, v->inflight[0], sizeof req);
    snprintf(what, sizeof what, "push %s", req);
    rc = vsc__await(v, &w, what, &m);
    if (rc == 0 || rc == VSC_ESERVER) {
        /* Answered either way: the next wait is for the next push. */
        v->n_inflight--;
        memmove(v->inflight[0], v->inflight[1], v->n_inflight * sizeof v->inflight[0]);
    }
    if (rc == 0)
        *ack = m;
    return rc;
}

int vsc_push(struct vsc *v, const struct proto_change *changes, size_t n, struct proto_msg **ack)
{
    int rc = vsc_push_send(v, changes, n);
    return rc ? rc : vsc_push_wait(v, ack);
}

/* ---- pull and schema ---------------------------------------------------- */

int vsc_pull(struct vsc *v, const char *since, int64_t limit, struct proto_msg **changes)
{
    char req[24];
    struct vsc__want w = { PROTO_CHANGES, req, 0 };
    struct vsc__out *o;
    int rc;

    if (!v->welcome)
        return vsc__fail(v, VSC_EUSAGE, "pull before a welcome: call vsc_hello first");
    snprintf(req, sizeof req, "l%" PRIu64, ++v->next_req);
    if (!(o = vsc__out_new(PROTO_MAX_MESSAGE)))
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing a pull");
    if ((rc = proto_write_pull(&o->buf, req, since ? since : "0",
                               limit > 0 ? limit : PROTO_PULL_LIMIT)) != 0)
        return vsc__write_failed(v, o, rc, "a pull");
    if ((rc = vsc__queue(v, o)) != 0)
        return rc;
    return vsc__await(v, &w, "a pull", changes);
}

int vsc_schema(struct vsc *v, struct proto_msg **schema)
{
    char req[24];
    struct vsc__want w = { PROTO_SCHEMA, req, 0 };
    struct vsc__out *o;
    int rc;

    if (!v->welcome)
        return vsc__fail(v, VSC_EUSAGE, "schema before a welcome: call vsc_hello first");
    snprintf(req, sizeof req, "s%" PRIu64, ++v->next_req);
    if (!(o = vsc__out_new(PROTO_MAX_MESSAGE)))
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing a schema request");
    if ((rc = proto_write_schema_request(&o->buf, req)) != 0)
        return vsc__write_failed(v, o, rc, "a schema request");
    if ((rc = vsc__queue(v, o)) != 0)
        return rc;
    return vsc__await(v, &w, "the schema request", schema);
}

/* ---- pokes and raw messages --------------------------------------------- */

int64_t vsc_pokes(const struct vsc *v, const char **last_cursor)
{
    if (last_cursor)
        *last_cursor = v->pokes ? v->poke_cursor : NULL;
    return v->pokes;
}

static int vsc__poked(struct vsc *v, void *arg)
{
    return v->pokes > *(const int64_t *)arg;
}

int vsc_wait_poke(struct vsc *v, int64_t seen, int timeout_ms)
{
    return vsc__wait(v, vsc__poked, &seen, timeout_ms, "with a poke");
}

int vsc_send_raw(struct vsc *v, const char *text, size_t len)
{
    struct vsc__out *o = vsc__out_new(len + 1);
    int rc;

    if (!o)
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing a message");
    if ((rc = proto_buf_append(&o->buf, text, len)) != 0)
        return vsc__write_failed(v, o, rc, "a raw message");
    return vsc__queue(v, o);
}

static int vsc__any(struct vsc *v, void *arg)
{
    (void)arg;
    return v->n_inbox > 0;
}

int vsc_recv(struct vsc *v, struct proto_msg **msg)
{
    int rc = vsc__wait(v, vsc__any, NULL, v->timeout_ms, "a message");
    if (rc == 0)
        *msg = vsc__take(v, 0);
    return rc;
}
