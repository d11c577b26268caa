/*
 * srv_blob.c — photos (§2.6) on the server: what the writer does with an
 * offer or a chunk and the reply it writes after COMMIT, what their
 * completion does to the session, and GET /blobs/<sha256> on the API
 * reader.
 *
 * Design (docs/architecture.md, "The life of a photo"): the service thread
 * checks what it can alone (srv_session.c: --max-blob, a chunk's shape) and
 * hands the rest to the writer as jobs of its commit group, in the
 * session's order. Whether a chunk fits (offered by this device, at have,
 * within the size) is decided there, from the store, because chunks may
 * be pipelined: the service thread cannot know have. A chunk's blob_status
 * is written only after the COMMIT that made its bytes durable; the last
 * chunk is verified in the same transaction (db/blob.c). A refusal counts
 * toward §2.8's ten bad messages in a row when its reply comes back.
 *
 * GET /blobs serves a supervisor's or admin's API token whose scope holds
 * a grid the photo is granted to, and a cadre's device token the same way
 * (the field app shows photos taken on other tablets of its grids); every
 * other token is 401, and a photo that does not exist, is incomplete or
 * is not visible is one 404, so existence does not leak. The body is
 * read whole (up to --max-blob) into the job, as API answers are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_token.h"
#include "srv_internal.h"

/* GET /blobs reads a photo whole into the job's answer (srv.h). */
_Static_assert(SRV_MAX_BLOB_CEILING <= (int64_t)SRV_API_BODY_MAX, "a photo must fit an answer");

static const char blob_json_type[] = "application/json";
static const char octet_stream[] = "application/octet-stream";
/* The types a photo is served as; any other offered mime is served as octet-stream. */
static const char *const served_types[] = {
    "image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif",
    "application/pdf",
};

/* ---- the writer ----------------------------------------------------------- */

/*
 * Writer thread, inside the group. A device revoked since its hello (read
 * now, as for a push) is refused: nothing of it is kept.
 */
int srv_blob_apply(struct db *db, struct srv_job *job, int64_t now_ms)
{
    const char *device = job->who->p.device;
    int revoked = 0;
    int rc = db_device_revoked(db, device, &revoked);

    if (rc == DB_ENOTFOUND) {
        revoked = 1;
        rc = 0;
    }
    if (rc != 0)
        return rc;
    if (revoked) {
        job->refused = PROTO_CODE_UNAUTHORIZED;
        return 0;
    }
    if (job->kind == SRV_JOB_BLOB_OFFER) {
        const struct proto_blob_offer *o = &job->msg->u.blob_offer;
        return db_blob_offer(db, device, o->sha256, o->size, o->mime, now_ms, &job->blob.state);
    }
    return db_blob_chunk(db, device, job->blob.sha256, job->blob.offset, job->blob.data,
                         job->blob.len, now_ms, &job->blob.chunk);
}

/* The reply to a chunk the store refused; sets blob.bad when it counts toward §2.8. */
static void chunk_refused(struct srv_job *job)
{
    const struct db_blob_chunk_result *c = &job->blob.chunk;
    const char *sha = job->blob.sha256;

    job->blob.bad = 1;
    switch (c->verdict) {
    case DB_BLOB_NOT_OFFERED:
        srv_write_error(&job->out, NULL, PROTO_CODE_BAD_MESSAGE,
                        "chunk: sha256 %.12s… has no upload of this device (never offered, or "
                        "complete); send blob_offer first",
                        sha);
        return;
    case DB_BLOB_BAD_OFFSET:
        srv_write_error(&job->out, NULL, PROTO_CODE_BAD_MESSAGE,
                        "chunk: offset %lld is not the %lld bytes the server holds for sha256 "
                        "%.12s…; offer again and resume from have",
                        (long long)job->blob.offset, (long long)c->have, sha);
        return;
    case DB_BLOB_TOO_LONG:
        srv_write_error(&job->out, NULL, PROTO_CODE_BAD_MESSAGE,
                        "chunk: offset %lld + %zu bytes is over the %lld bytes offered for "
                        "sha256 %.12s…; offer it again with its real size",
                        (long long)job->blob.offset, job->blob.len, (long long)c->size, sha);
        return;
    case DB_BLOB_CORRUPT:
        /* Not a protocol error: the bytes were damaged on the way or at the source. */
        job->blob.bad = 0;
        srv_write_error(&job->out, NULL, PROTO_CODE_BLOB_CORRUPT,
                        "sha256 %s: the %lld bytes received hash to %s; the upload was "
                        "discarded, offer it again",
                        sha, (long long)c->size, c->got);
        return;
    case DB_BLOB_STORED:
    case DB_BLOB_COMPLETED:
        break;
    }
    job->blob.bad = 0;
}

/* Writer thread, after the group's COMMIT (or its failure). */
void srv_blob_finish(struct srv_job *job)
{
    const char *req = job->kind == SRV_JOB_BLOB_OFFER ? job->msg->req : NULL;
    const struct db_blob_chunk_result *c = &job->blob.chunk;
    struct proto_blob_status st = {.sha256 = job->blob.sha256};

    /* SQLite has the bytes (or nothing will): the message is not needed any more. */
    free(job->blob.raw);
    job->blob.raw = NULL;
    job->blob.data = NULL;
    if (job->rc != 0) {
        srv_write_error(&job->out, req, PROTO_CODE_INTERNAL,
                        "sha256 %.12s…: the server could not store it (%s); offer it again and "
                        "resume from have",
                        job->blob.sha256, sync_strerror(job->rc));
        return;
    }
    if (job->refused != PROTO_CODE_NONE) {
        /* The service thread closes the connection (4401) after this reply. */
        srv_write_error(&job->out, req, job->refused,
                        "device \"%s\" was revoked; nothing of this photo was kept",
                        job->who->p.device);
        return;
    }
    if (job->kind == SRV_JOB_BLOB_OFFER && job->blob.state.too_many) {
        srv_write_error(&job->out, req, PROTO_CODE_BAD_MESSAGE,
                        "sha256 %.12s…: device \"%s\" has %d photos half uploaded; finish those "
                        "first (offer each again and resume from have)",
                        job->blob.sha256, job->who->p.device, DB_BLOB_OPEN_MAX);
        return;
    }
    if (job->kind == SRV_JOB_BLOB_OFFER) {
        st.have = job->blob.state.have;
        st.complete = job->blob.state.complete;
    } else if (c->verdict == DB_BLOB_STORED || c->verdict == DB_BLOB_COMPLETED) {
        st.have = c->have;
        st.complete = c->verdict == DB_BLOB_COMPLETED;
    } else {
        chunk_refused(job);
        return;
    }
    proto_buf_reset(&job->out);
    if (proto_write_blob_status(&job->out, req, &st) != 0)
        srv_write_error(&job->out, req, PROTO_CODE_INTERNAL,
                        "sha256 %.12s…: the blob_status could not be written; offer it again",
                        job->blob.sha256);
}

/* ---- completion (service thread) -------------------------------------------- */

/* Service thread. */
void srv_blob_complete(struct srv *srv, struct srv_job *job)
{
    struct srv_session *s;

    if (job->kind == SRV_JOB_BLOB_GET) {
        srv_http_answer_job(srv, job, job->blob.type);
        return;
    }
    s = job->session != 0 ? srv_session_find(srv, job->session) : NULL;
    if (s == NULL || s->close_code)
        return;
    srv_session_fill_reply(s, job);
    if (job->refused != PROTO_CODE_NONE)
        srv_session_close(s, SRV_CLOSE_UNAUTHORIZED, "device revoked", 1);
    else if (job->blob.bad)
        srv_session_bad(s);
    else if (job->kind == SRV_JOB_BLOB_CHUNK)
        s->bad_in_row = 0; /* an offer was counted when it arrived */
}

/* ---- GET /blobs/<sha256> (API reader thread) ---------------------------------- */

/*
 * The principal of a bearer token that may fetch photos: a supervisor's
 * or admin's API token (srv_api_auth), else a cadre's device token, not
 * revoked, with its cadre's grids as scope. 0 with *out, 1 when neither,
 * or a negative store code.
 */
static int blob_auth(struct db *db, const char *token, struct db_principal *out)
{
    unsigned char hash[PROTO_TOKEN_HASH];
    char device[PROTO_ID_MAX + 1];
    struct db_principal p;
    int rc = srv_api_auth(db, token, out);

    if (rc != 1)
        return rc;
    proto_token_hash(token, strlen(token), hash);
    rc = db_blob_token_device(db, hash, device);
    if (rc == 0)
        rc = db_device_load(db, device, &p);
    if (rc == DB_ENOTFOUND)
        return 1;
    if (rc != 0)
        return rc;
    if (!proto_token_equal(hash, p.token_hash) || p.revoked || p.role != DB_ROLE_CADRE) {
        db_principal_clear(&p);
        return 1;
    }
    *out = p;
    return 0;
}

/* Reads 1 to 18 decimal digits at *p into *v, moving *p past them; -1 when there are none. */
static int range_number(const char **p, int64_t *v)
{
    int64_t n = 0;
    int digits = 0;

    while (**p >= '0' && **p <= '9' && digits < 18) {
        n = n * 10 + (**p - '0');
        (*p)++;
        digits++;
    }
    if (digits == 0 || (**p >= '0' && **p <= '9'))
        return -1;
    *v = n;
    return 0;
}

/*
 * One byte range of a Range header (RFC 9110 §14) against a photo of size
 * bytes: 1 with [*from, *from + *len), -1 when it cannot be satisfied (416),
 * 0 when there is none or it is not one we honour (several ranges, or a
 * syntax we do not read): the whole photo is sent then.
 */
static int range_parse(const char *h, int64_t size, int64_t *from, int64_t *len)
{
    const char *p = h;
    int64_t a = 0, b = -1;

    if (strncmp(p, "bytes=", 6) != 0 || strchr(p, ',') != NULL)
        return 0;
    p += 6;
    while (*p == ' ')
        p++;
    if (*p == '-') { /* the last b bytes */
        p++;
        if (range_number(&p, &b) != 0 || *p != '\0')
            return 0;
        if (b == 0)
            return -1;
        *len = b < size ? b : size;
        *from = size - *len;
        return 1;
    }
    if (range_number(&p, &a) != 0 || *p++ != '-')
        return 0;
    if (*p != '\0' && (range_number(&p, &b) != 0 || *p != '\0' || b < a))
        return 0;
    if (a >= size)
        return -1;
    if (b < 0 || b >= size)
        b = size - 1;
    *from = a;
    *len = b - a + 1;
    return 1;
}

static int append_bytes(void *ctx, const void *bytes, size_t n)
{
    return proto_buf_append(ctx, bytes, n) != 0 ? DB_ENOMEM : 0;
}

/* The Content-Type a photo offered as mime is served with. */
static const char *served_type(const char *mime)
{
    for (size_t i = 0; i < sizeof served_types / sizeof served_types[0]; i++)
        if (strcmp(mime, served_types[i]) == 0)
            return served_types[i];
    return octet_stream;
}

/* A JSON answer {"error":error} with status. */
static void get_error(struct srv_job *job, unsigned int status, const char *error)
{
    job->http_status = status;
    job->http_blob = 0;
    job->http_etag[0] = job->http_range[0] = '\0';
    job->blob.type = blob_json_type;
    if (srv_api_json_error(&job->out, error, NULL) != 0) {
        job->http_status = 503;
        proto_buf_reset(&job->out);
    }
}

/* API reader thread, on srv->adb. */
void srv_blob_get(struct srv *srv, struct srv_job *job)
{
    struct db_principal who;
    struct db_blob_info info;
    const char *inm = job->blob.if_none_match;
    int64_t from = 0, len = 0;
    int rc, ranged;

    memset(&who, 0, sizeof who);
    proto_buf_free(&job->out);
    proto_buf_init(&job->out, 0, SRV_API_BODY_MAX);
    rc = blob_auth(srv->adb, job->api.token, &who);
    if (rc == 1) {
        get_error(job, 401, "unauthorized");
        return;
    }
    if (rc == 0)
        rc = db_blob_find(srv->adb, job->blob.sha256, &who.scope, &info);
    db_principal_clear(&who);
    if (rc == DB_ENOTFOUND) {
        get_error(job, 404, "not_found");
        return;
    }
    if (rc != 0)
        goto fail;
    job->http_blob = 1;
    job->blob.type = served_type(info.mime);
    snprintf(job->http_etag, sizeof job->http_etag, "\"%s\"", job->blob.sha256);
    if (strcmp(inm, "*") == 0 || strstr(inm, job->http_etag) != NULL) {
        job->http_status = 304;
        return;
    }
    ranged = range_parse(job->blob.range, info.size, &from, &len);
    if (ranged < 0) {
        /* Not with the photo's year-long caching: a cache must not keep a refusal. */
        job->http_blob = 0;
        job->http_status = 416;
        snprintf(job->http_range, sizeof job->http_range, "bytes */%lld", (long long)info.size);
        return;
    }
    if (ranged == 0) {
        from = 0;
        len = info.size;
    }
    rc = db_blob_read(srv->adb, job->blob.sha256, from, len, append_bytes, &job->out);
    if (rc == DB_ENOTFOUND) {
        get_error(job, 404, "not_found");
        return;
    }
    if (rc != 0)
        goto fail;
    job->http_status = ranged ? 206 : 200;
    if (ranged)
        snprintf(job->http_range, sizeof job->http_range, "bytes %lld-%lld/%lld",
                 (long long)from, (long long)(from + len - 1), (long long)info.size);
    return;
fail:
    srv_log(SRV_LOG_ERR, "GET /blobs/%.12s…: the photo could not be read: %s", job->blob.sha256,
            db_errmsg(srv->adb));
    proto_buf_reset(&job->out);
    get_error(job, 500, "internal");
}
