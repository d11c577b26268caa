/*
 * vsc_blob.c — photo upload (§2.6) in the client library: blob_offer and
 * its blob_status, then the photo's bytes as binary chunks
 * (protocol/proto_blob.h) with a few in flight. Runs on the caller's
 * thread, like every call of vsc.h.
 *
 * Design: the server answers each chunk, in the order they were sent, with
 * a blob_status without req once the chunk is durable, or with an `error`
 * without req when it refuses it. So the upload keeps a window of chunks
 * sent and not yet answered and matches answers by the photo's sha256.
 * When a chunk is refused the ones behind it are refused too (their offsets
 * no longer follow what the server holds); their answers are drained before
 * returning, so that no later call takes one of them for its own answer.
 */
#include "vsc_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto_blob.h"

/*
 * What a wait for a photo's answer looks for: a blob_status of sha256 with
 * req (NULL: a chunk's status, which has none), or an error with that req
 * or none.
 */
struct vsc__blob_want {
    const char *sha256;
    const char *req;
    size_t found;
};

static int vsc__blob_find(struct vsc *v, void *arg)
{
    struct vsc__blob_want *w = arg;

    for (size_t i = 0; i < v->n_inbox; i++) {
        const struct proto_msg *m = v->inbox[i];
        int same_req = w->req ? m->req && strcmp(m->req, w->req) == 0 : !m->req;
        /*
         * An offer's answer echoes its req; an error without one belongs
         * to a chunk (a late refusal must not pass for the next offer's).
         */
        if ((m->type == PROTO_ERROR && (w->req ? same_req : !m->req)) ||
            (m->type == PROTO_BLOB_STATUS && same_req && m->u.blob_status.sha256 &&
             strcmp(m->u.blob_status.sha256, w->sha256) == 0)) {
            w->found = i;
            return 1;
        }
    }
    return 0;
}

/* Checks the arguments every blob call shares; raw gets the digest. */
static int vsc__blob_check(struct vsc *v, const char *sha256_hex, int64_t size,
                           unsigned char raw[PROTO_SHA256_BYTES])
{
    if (!v->welcome)
        return vsc__fail(v, VSC_EUSAGE, "photo upload before a welcome: call vsc_hello first");
    if (!sha256_hex || proto_sha256_hex_decode(sha256_hex, raw) != 0)
        return vsc__fail(v, VSC_EUSAGE, "a photo is named by its SHA-256 as 64 lowercase hex "
                                        "digits");
    if (size < 1)
        return vsc__fail(v, VSC_EUSAGE, "photo sha256:%.12s… is empty: there is nothing to upload",
                         sha256_hex);
    return 0;
}

int vsc_blob_offer(struct vsc *v, const char *sha256_hex, int64_t size, const char *mime,
                   int64_t *have, int *complete)
{
    unsigned char raw[PROTO_SHA256_BYTES];
    char req[24], what[96];
    struct vsc__blob_want w = { sha256_hex, req, 0 };
    struct proto_blob_offer offer = { sha256_hex, size, mime };
    struct vsc__out *o;
    int rc;

    if ((rc = vsc__blob_check(v, sha256_hex, size, raw)) != 0)
        return rc;
    snprintf(req, sizeof req, "b%" PRIu64, ++v->next_req);
    snprintf(what, sizeof what, "the offer of photo sha256:%.12s…", sha256_hex);
    if (!(o = vsc__out_new(PROTO_MAX_MESSAGE)))
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing %s", what);
    if ((rc = proto_write_blob_offer(&o->buf, req, &offer)) != 0)
        return vsc__write_failed(v, o, rc, what);
    if ((rc = vsc__queue(v, o)) != 0)
        return rc;
    if ((rc = vsc__wait(v, vsc__blob_find, &w, v->timeout_ms, what)) != 0)
        return rc;
    struct proto_msg *m = vsc__take(v, w.found);
    if (m->type == PROTO_ERROR)
        return vsc__server_error(v, m, what);
    const struct proto_blob_status *st = &m->u.blob_status;
    if (st->have < 0 || st->have > size) {
        v->dead = vsc__fail(v, VSC_EPROTOCOL,
                            "%s:%d answered %s with have %" PRId64 ", outside 0..%" PRId64,
                            v->host, v->port, what, st->have, size);
        proto_msg_free(m);
        return v->dead;
    }
    *have = st->complete ? size : st->have;
    *complete = st->complete != 0;
    proto_msg_free(m);
    return 0;
}

/* Queues one chunk of the photo: the 40-byte header, then data[0..len). */
static int vsc__blob_send(struct vsc *v, const unsigned char raw[PROTO_SHA256_BYTES],
                          int64_t offset, const unsigned char *data, size_t len)
{
    unsigned char head[PROTO_BLOB_HEADER];
    struct vsc__out *o = vsc__out_new(PROTO_BLOB_HEADER + len);
    int rc;

    if (!o)
        return vsc__fail(v, VSC_ENOMEM, "out of memory writing a photo chunk");
    o->binary = 1;
    proto_blob_chunk_header(head, raw, offset);
    if ((rc = proto_buf_append(&o->buf, head, sizeof head)) != 0 ||
        (rc = proto_buf_append(&o->buf, data, len)) != 0)
        return vsc__write_failed(v, o, rc, "a photo chunk");
    return vsc__queue(v, o);
}

/* Takes the answers of chunks sent behind a refused one; they are refused too. */
static void vsc__blob_drain(struct vsc *v, struct vsc__blob_want *w, size_t in_flight)
{
    while (in_flight-- > 0 && vsc__wait(v, vsc__blob_find, w, v->timeout_ms, "a chunk") == 0)
        proto_msg_free(vsc__take(v, w->found));
}

int vsc_blob_upload(struct vsc *v, const char *sha256_hex, const void *bytes, int64_t size,
                    int64_t from, int window)
{
    const unsigned char *data = bytes;
    unsigned char raw[PROTO_SHA256_BYTES];
    struct vsc__blob_want w = { sha256_hex, NULL, 0 };
    int64_t sent = from, held = from, chunk = PROTO_BLOB_CHUNK_MAX;
    size_t in_flight = 0;
    char what[96], why[600];
    int rc;

    if ((rc = vsc__blob_check(v, sha256_hex, size, raw)) != 0)
        return rc;
    if (!bytes || from < 0 || from > size)
        return vsc__fail(v, VSC_EUSAGE, "photo sha256:%.12s…: resume offset %" PRId64
                         " is outside its %" PRId64 " bytes", sha256_hex, from, size);
    /* The inbox must hold every answer of the window. */
    if (window <= 0)
        window = VSC_BLOB_WINDOW;
    if (window > VSC_INBOX_MAX / 2)
        window = VSC_INBOX_MAX / 2;
    /* A server whose messages are smaller than a chunk gets smaller chunks. */
    if (chunk > v->max_message - PROTO_BLOB_HEADER)
        chunk = v->max_message - PROTO_BLOB_HEADER;
    if (chunk < 1)
        return vsc__fail(v, VSC_EUSAGE, "%s:%d accepts messages of %" PRId64 " bytes: too small "
                         "for a photo chunk", v->host, v->port, v->max_message);
    snprintf(what, sizeof what, "a chunk of photo sha256:%.12s…", sha256_hex);
    for (;;) {
        while (in_flight < (size_t)window && sent < size) {
            int64_t len = size - sent < chunk ? size - sent : chunk;
            if ((rc = vsc__blob_send(v, raw, sent, data + sent, (size_t)len)) != 0)
                goto out;
            sent += len;
            in_flight++;
        }
        if (in_flight == 0) {
            v->dead = vsc__fail(v, VSC_EPROTOCOL, "%s:%d acknowledged every chunk of photo "
                                "sha256:%.12s… but never said it was complete", v->host, v->port,
                                sha256_hex);
            rc = v->dead;
            goto out;
        }
        if ((rc = vsc__wait(v, vsc__blob_find, &w, v->timeout_ms, what)) != 0)
            goto out;
        struct proto_msg *m = vsc__take(v, w.found);
        in_flight--;
        if (m->type == PROTO_ERROR) {
            /* The server's words, kept while the answers behind this one are drained. */
            snprintf(why, sizeof why, "%s:%d refused %s: %s%s%s", v->host, v->port, what,
                     m->u.error.code ? m->u.error.code : "error", m->u.error.message ? ": " : "",
                     m->u.error.message ? m->u.error.message : "");
            proto_msg_free(m);
            vsc__blob_drain(v, &w, in_flight);
            rc = vsc__fail(v, VSC_ESERVER, "%s", why);
            goto out;
        }
        int complete = m->u.blob_status.complete;
        if (m->u.blob_status.have > held)
            held = m->u.blob_status.have;
        proto_msg_free(m);
        if (complete)
            break;
    }
    vsc__blob_drain(v, &w, in_flight); /* none are left unless the server erred */
out:
    if (rc != 0) {
        snprintf(why, sizeof why, "%s", v->errmsg);
        vsc__fail(v, rc, "photo sha256:%.12s… stopped with %" PRId64 " of %" PRId64
                  " bytes on the server: %s", sha256_hex, held, size, why);
    }
    return rc;
}
