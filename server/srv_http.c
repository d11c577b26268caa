/*
 * srv_http.c — plain HTTP on the server's port: the routes, the gate of
 * WebSocket upgrades, and the writing of every HTTP answer.
 *
 *   GET  /healthz                       answered here (no store access)
 *   GET  /metrics                       a reader job (--metrics-token checked here)
 *   GET  /api/status|conflicts|report   a reader job
 *   POST /api/conflicts/ID/resolve      a writer job (the body is parsed here)
 *   GET  /blobs/<sha256>                a reader job (srv_blob.c)
 *   anything else                       the web apps (srv_static.c)
 *
 * Design (docs/architecture.md, "The life of an HTTP request"): the service
 * thread never touches SQLite. An API request becomes a struct srv_job on
 * the reader's or the writer's queue; the connection waits in
 * srv.http_waiting under a numeric id, which the job carries instead of a
 * wsi, so an answer for a connection that closed meanwhile finds nothing
 * and is dropped (LWS_CALLBACK_CLOSED_HTTP takes it off the table). The
 * worker authenticates the bearer token and writes the whole body; the
 * service thread writes the status line and headers at the first
 * writeable callback, then the body: pieces of SRV_HTTP_CHUNK while the
 * socket takes them, at most SRV_HTTP_BURST per callback so one large
 * answer (megabytes for a large township's status) does not hold up the
 * tablets' connections. lws keeps what a socket did not take and sends it
 * before our next writeable callback; the request is complete only after
 * that, so an answer is never cut short.
 *
 * Everything here runs on the lws service thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto_api.h"
#include "srv_internal.h"

static const char healthz_ok[] = "{\"status\":\"ok\"}";
static const char healthz_down[] = "{\"status\":\"unavailable\"}";
const char srv_http_not_found[] = "{\"error\":\"not_found\"}";
static const char unauthorized[] = "{\"error\":\"unauthorized\"}";
static const char bad_method[] =
    "{\"error\":\"method_not_allowed\",\"message\":\"this path does not take that method\"}";
static const char too_large[] =
    "{\"error\":\"too_large\",\"message\":\"the body is over 65536 bytes\"}";
static const char unavailable[] =
    "{\"error\":\"unavailable\",\"message\":\"the server is stopping or out of memory; try "
    "again\"}";
static const char json_type[] = "application/json";
/* A photo is shown, never run: no script, no plugin, no same-origin rights. */
static const char blob_csp[] = "default-src 'none'; sandbox";
/*
 * One policy for both web apps' pages. Everything comes from this server:
 * WebSockets (ws: or wss:, as the page was reached), photos shown from
 * local bytes (blob:) or shrunk on a canvas (data:). The field app's
 * service worker and manifest are named although default-src already
 * allows them from 'self', so a later tightening of default-src cannot
 * take the offline app away unnoticed.
 */
static const char csp[] = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: "
                          "blob:; style-src 'self' 'unsafe-inline'; worker-src 'self'; "
                          "manifest-src 'self'; object-src 'none'; base-uri 'self'; "
                          "frame-ancestors 'none'";

/* ---- the table of requests a job answers ----------------------------------- */

/* Main thread, before lws starts. */
void srv_http_init(struct srv *srv)
{
    srv_list_init(&srv->http_waiting);
}

static void waiting_add(struct srv_http_pss *pss)
{
    pss->id = ++pss->srv->next_http;
    srv_list_insert_tail(&pss->srv->http_waiting, &pss->link);
}

static void waiting_remove(struct srv_http_pss *pss)
{
    if (srv_list_linked(&pss->link))
        srv_list_remove(&pss->link);
    pss->id = 0;
}

/* A handful wait at a time (the dashboards' requests): a list is enough. */
static struct srv_http_pss *waiting_find(struct srv *srv, uint64_t id)
{
    struct srv_list *l;

    SRV_LIST_FOREACH(l, &srv->http_waiting) {
        struct srv_http_pss *pss = srv_list_entry(l, struct srv_http_pss, link);
        if (pss->id == id)
            return pss;
    }
    return NULL;
}

/* Frees what the last request left; pss then holds only its connection. */
static void pss_clear(struct srv_http_pss *pss)
{
    struct srv *srv = pss->srv;
    struct lws *wsi = pss->wsi;

    waiting_remove(pss);
    free(pss->rx);
    proto_buf_free(&pss->owned);
    memset(pss, 0, sizeof *pss);
    pss->srv = srv;
    pss->wsi = wsi;
}

/* ---- writing an answer ------------------------------------------------------- */

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* The status line and headers, in one lws_write. */
static int write_headers(struct srv_http_pss *pss)
{
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    struct lws *wsi = pss->wsi;
    int rc;

    rc = lws_add_http_common_headers(wsi, pss->status, pss->type, pss->body_len, &p, end);
    if (rc == 0)
        rc = add_header(wsi, "cache-control:",
                        pss->kind == SRV_HTTP_API      ? "no-store"
                        : pss->kind == SRV_HTTP_STATIC ? "no-cache"
                                                       : "private, no-cache",
                        &p, end);
    if (rc == 0 && pss->kind == SRV_HTTP_BLOB) {
        rc = add_header(wsi, "content-security-policy:", blob_csp, &p, end);
        if (rc == 0)
            rc = add_header(wsi, "accept-ranges:", "bytes", &p, end);
    }
    if (rc == 0 && pss->range[0] != '\0')
        rc = add_header(wsi, "content-range:", pss->range, &p, end);
    if (rc == 0)
        rc = add_header(wsi, "x-content-type-options:", "nosniff", &p, end);
    if (rc == 0 && pss->etag[0] != '\0')
        rc = add_header(wsi, "etag:", pss->etag, &p, end);
    if (rc == 0 && pss->location[0] != '\0')
        rc = add_header(wsi, "location:", pss->location, &p, end);
    if (rc == 0 && pss->html) {
        rc = add_header(wsi, "content-security-policy:", csp, &p, end);
        if (rc == 0)
            rc = add_header(wsi, "x-frame-options:", "DENY", &p, end);
        if (rc == 0)
            rc = add_header(wsi, "referrer-policy:", "no-referrer", &p, end);
    }
    if (rc == 0 && pss->close_after)
        rc = add_header(wsi, "connection:", "close", &p, end);
    if (rc != 0)
        return -1;
    return lws_finalize_write_http_header(wsi, start, &p, end);
}

/* The answer is out: ready for the next request on the connection, or closed. */
static int answer_done(struct srv_http_pss *pss)
{
    int close = pss->close_after;

    pss_clear(pss);
    if (close)
        return -1;
    return lws_http_transaction_completed(pss->wsi) ? -1 : 0;
}

/* One step of an answer per writeable callback: the headers, then a burst of the body. */
static int on_writeable(struct srv_http_pss *pss)
{
    unsigned char buf[LWS_PRE + SRV_HTTP_CHUNK];
    size_t burst = 0;

    if (!pss->answering)
        return 0;
    if (pss->body_sent) {
        /* lws calls back only once what it kept of the last write is out. */
        return answer_done(pss);
    }
    if (!pss->headers_sent) {
        if (write_headers(pss) != 0)
            return -1;
        pss->headers_sent = 1;
        if (pss->body_len == 0)
            return answer_done(pss);
        lws_callback_on_writable(pss->wsi);
        return 0;
    }
    while (pss->sent < pss->body_len && burst < SRV_HTTP_BURST) {
        /* Copied into a buffer with LWS_PRE headroom: the body may be a constant. */
        size_t n = pss->body_len - pss->sent;
        if (n > SRV_HTTP_CHUNK)
            n = SRV_HTTP_CHUNK;
        int last = pss->sent + n == pss->body_len;
        memcpy(buf + LWS_PRE, pss->body + pss->sent, n);
        if (lws_write(pss->wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
        pss->sent += n;
        burst += n;
        if (lws_partial_buffered(pss->wsi) || lws_send_pipe_choked(pss->wsi))
            break;
    }
    if (pss->sent == pss->body_len)
        pss->body_sent = 1;
    lws_callback_on_writable(pss->wsi);
    return 0;
}

/* Service thread. */
int srv_http_answer(struct srv_http_pss *pss, unsigned int status, enum srv_http_kind kind,
                    const char *type, const char *body, size_t len)
{
    pss->answering = 1;
    pss->status = status;
    pss->kind = kind;
    pss->type = type;
    pss->body = body;
    pss->body_len = len;
    pss->sent = 0;
    return lws_callback_on_writable(pss->wsi) < 0 ? -1 : 0;
}

/* Service thread. */
int srv_http_answer_json(struct srv_http_pss *pss, unsigned int status, const char *json)
{
    return srv_http_answer(pss, status, SRV_HTTP_API, json_type, json, strlen(json));
}

/* Service thread. */
void srv_http_answer_job(struct srv *srv, struct srv_job *job, const char *type)
{
    struct srv_http_pss *pss = job->http != 0 ? waiting_find(srv, job->http) : NULL;

    if (pss == NULL)
        return;
    waiting_remove(pss);
    proto_buf_free(&pss->owned);
    pss->owned = job->out;
    memset(&job->out, 0, sizeof job->out);
    snprintf(pss->etag, sizeof pss->etag, "%s", job->http_etag);
    snprintf(pss->range, sizeof pss->range, "%s", job->http_range);
    if (srv_http_answer(pss, job->http_status, job->http_blob ? SRV_HTTP_BLOB : SRV_HTTP_API, type,
                        proto_buf_data(&pss->owned), pss->owned.len) != 0)
        lws_set_timeout(pss->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* A 400 with a sentence: {"error":"bad_request","message":"…"}. */
static int answer_bad_request(struct srv_http_pss *pss, const char *message)
{
    proto_buf_free(&pss->owned);
    proto_buf_init(&pss->owned, 0, SRV_HTTP_BODY_MAX);
    if (srv_api_json_error(&pss->owned, "bad_request", message) != 0)
        return srv_http_answer_json(pss, 503, unavailable);
    return srv_http_answer(pss, 400, SRV_HTTP_API, json_type, proto_buf_data(&pss->owned),
                           pss->owned.len);
}

/* ---- API requests ------------------------------------------------------------- */

/*
 * Copies the bearer token of the Authorization header into token. Returns
 * 0, or -1 when there is none or it is not the shape of a token (then no
 * store is asked: the answer is 401 at once).
 */
static int bearer(struct lws *wsi, char token[PROTO_TOKEN_CHARS + 1])
{
    char h[128];
    const char *t;
    int n = lws_hdr_copy(wsi, h, sizeof h, WSI_TOKEN_HTTP_AUTHORIZATION);

    if (n <= 7 || strncasecmp(h, "Bearer ", 7) != 0)
        return -1;
    t = h + 7;
    while (*t == ' ')
        t++;
    if (!proto_token_well_formed(t, strlen(t)))
        return -1;
    memcpy(token, t, PROTO_TOKEN_CHARS + 1);
    return 0;
}

/* Hands job to q for pss, which waits for it. Takes job. */
static int http_submit(struct srv_http_pss *pss, struct srv_queue *q, struct srv_job *job)
{
    waiting_add(pss);
    job->http = pss->id;
    if (srv_queue_put(q, job) != 0) {
        waiting_remove(pss);
        srv_job_free(job);
        return srv_http_answer_json(pss, 503, unavailable);
    }
    return 0;
}

static int device_id_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Puts the ids of the devices online (their live signed-in sessions)
 * into job->out, sorted, each NUL-terminated: only this thread knows
 * them, and the reader marks the status rows by binary search.
 */
static int online_devices(struct srv *srv, struct srv_job *job)
{
    const char **ids = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    for (size_t b = 0; b < SRV_BUCKETS; b++) {
        struct srv_list *l;
        SRV_LIST_FOREACH(l, &srv->by_device[b]) {
            struct srv_session *s = srv_list_entry(l, struct srv_session, device_link);
            if (s->close_code)
                continue;
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 256;
                const char **grown = realloc(ids, ncap * sizeof *grown);
                if (grown == NULL) {
                    rc = -1;
                    goto out;
                }
                ids = grown;
                cap = ncap;
            }
            ids[n++] = s->who->p.device;
        }
    }
    if (n > 1)
        qsort(ids, n, sizeof *ids, device_id_cmp);
    proto_buf_init(&job->in, 0, SRV_API_BODY_MAX);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = proto_buf_append(&job->in, ids[i], strlen(ids[i]) + 1);
    job->api.n_online = n;
out:
    free(ids);
    return rc;
}

/* v as a whole number in [lo, hi]: 0 with *out, else -1. */
static int query_int(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long n;

    if (v[0] < '0' || v[0] > '9')
        return -1;
    n = strtoll(v, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

/*
 * Reads ?status=&after=&limit= of GET /api/conflicts; NULL, or a sentence
 * for a 400. lws copies "name=value" into buf and returns where the value
 * starts.
 */
static const char *conflicts_query(struct lws *wsi, struct srv_api_args *a)
{
    char buf[64];
    const char *v;

    a->status = DB_CONFLICT_OPEN;
    a->after = 0;
    a->limit = 100;
    if ((v = lws_get_urlarg_by_name(wsi, "status=", buf, sizeof buf)) != NULL) {
        if (strcmp(v, "open") == 0)
            a->status = DB_CONFLICT_OPEN;
        else if (strcmp(v, "resolved") == 0)
            a->status = DB_CONFLICT_RESOLVED;
        else if (strcmp(v, "all") == 0)
            a->status = DB_CONFLICT_ANY;
        else
            return "status must be open, resolved or all";
    }
    if ((v = lws_get_urlarg_by_name(wsi, "after=", buf, sizeof buf)) != NULL &&
        query_int(v, 0, PROTO_SEQ_MAX, &a->after) != 0)
        return "after must be a conflict id (a whole number, 0 for the first page)";
    if ((v = lws_get_urlarg_by_name(wsi, "limit=", buf, sizeof buf)) != NULL &&
        query_int(v, 1, DB_BROWSE_MAX_LIMIT, &a->limit) != 0)
        return "limit must be a whole number from 1 to 1000";
    return NULL;
}

/* "/api/conflicts/ID/resolve": 1 with *id, else 0. */
static int resolve_path(const char *path, int64_t *id)
{
    static const char prefix[] = "/api/conflicts/";
    const char *p = path + sizeof prefix - 1;
    char *end;
    long long v;

    if (strncmp(path, prefix, sizeof prefix - 1) != 0 || *p < '1' || *p > '9')
        return 0;
    v = strtoll(p, &end, 10);
    if (strcmp(end, "/resolve") != 0 || v <= 0 || v > PROTO_SEQ_MAX)
        return 0;
    *id = v;
    return 1;
}

static int on_resolve_body(struct srv_http_pss *pss);

/* GET /api/status|conflicts|report and the start of POST …/resolve. */
static int on_api(struct srv_http_pss *pss, int method, const char *path)
{
    struct srv *srv = pss->srv;
    enum srv_job_kind kind;
    struct srv_job *job;
    const char *why;
    int64_t id = 0;

    if (strcmp(path, "/api/status") == 0)
        kind = SRV_JOB_API_STATUS;
    else if (strcmp(path, "/api/conflicts") == 0)
        kind = SRV_JOB_API_CONFLICTS;
    else if (strcmp(path, "/api/report") == 0)
        kind = SRV_JOB_API_REPORT;
    else if (resolve_path(path, &id))
        kind = SRV_JOB_RESOLVE;
    else
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    if (method != (kind == SRV_JOB_RESOLVE ? LWSHUMETH_POST : LWSHUMETH_GET))
        return srv_http_answer_json(pss, 405, bad_method);
    if (kind == SRV_JOB_RESOLVE) {
        /* The body follows (LWS_CALLBACK_HTTP_BODY); without one there is nothing to wait for. */
        char cl[24];
        pss->conflict_id = id;
        if (lws_hdr_copy(pss->wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
            strtoull(cl, NULL, 10) == 0)
            return on_resolve_body(pss);
        if (strtoull(cl, NULL, 10) > SRV_HTTP_BODY_MAX) {
            pss->close_after = 1; /* the body is not read: the connection cannot go on */
            return srv_http_answer_json(pss, 413, too_large);
        }
        pss->posting = 1;
        return 0;
    }
    job = srv_job_new(kind);
    if (job == NULL)
        return srv_http_answer_json(pss, 503, unavailable);
    if (bearer(pss->wsi, job->api.token) != 0) {
        srv_job_free(job);
        return srv_http_answer_json(pss, 401, unauthorized);
    }
    why = kind == SRV_JOB_API_CONFLICTS ? conflicts_query(pss->wsi, &job->api) : NULL;
    if (why != NULL) {
        srv_job_free(job);
        return answer_bad_request(pss, why);
    }
    if (kind == SRV_JOB_API_STATUS && online_devices(srv, job) != 0) {
        srv_job_free(job);
        return srv_http_answer_json(pss, 503, unavailable);
    }
    return http_submit(pss, &srv->api_reads, job);
}

/* The whole body of POST /api/conflicts/ID/resolve arrived: parse it, queue the job. */
static int on_resolve_body(struct srv_http_pss *pss)
{
    struct proto_resolve *req = NULL;
    struct proto_fault fault;
    struct srv_job *job;
    int rc;

    if (pss->rx_over) {
        pss->close_after = 1;
        return srv_http_answer_json(pss, 413, too_large);
    }
    job = srv_job_new(SRV_JOB_RESOLVE);
    if (job == NULL)
        return srv_http_answer_json(pss, 503, unavailable);
    if (bearer(pss->wsi, job->api.token) != 0) {
        srv_job_free(job);
        return srv_http_answer_json(pss, 401, unauthorized);
    }
    memset(&fault, 0, sizeof fault);
    rc = proto_parse_resolve(pss->rx, pss->rx_len, &req, &fault);
    if (rc != 0) {
        srv_job_free(job);
        if (rc == PROTO_EINVALID)
            return answer_bad_request(pss, fault.message);
        return srv_http_answer_json(pss, 503, unavailable);
    }
    job->api.conflict_id = pss->conflict_id;
    job->api.choose = req->choose == PROTO_CHOOSE_WINNER  ? SYNC_CHOOSE_WINNER
                      : req->choose == PROTO_CHOOSE_LOSER ? SYNC_CHOOSE_LOSER
                                                          : SYNC_CHOOSE_VALUE;
    /* The value and the reason travel in job->in, each NUL-terminated (srv_internal.h). */
    proto_buf_init(&job->in, 0, 2 * SRV_HTTP_BODY_MAX);
    job->api.value_len = req->value_len;
    job->api.has_reason = req->reason != NULL;
    rc = proto_buf_append(&job->in, req->value ? req->value : "", req->value_len);
    if (rc == 0)
        rc = proto_buf_append(&job->in, "", 1);
    if (rc == 0 && req->reason != NULL)
        rc = proto_buf_append(&job->in, req->reason, strlen(req->reason) + 1);
    job->bytes = job->in.len;
    proto_resolve_free(req);
    if (rc != 0) {
        srv_job_free(job);
        return srv_http_answer_json(pss, 503, unavailable);
    }
    return http_submit(pss, &pss->srv->writes, job);
}

/* GET /metrics: the token of --metrics-token is checked here, the figures by the reader. */
static int on_metrics(struct srv_http_pss *pss, int method)
{
    char h[128];
    struct srv_job *job;

    if (method != LWSHUMETH_GET)
        return srv_http_answer_json(pss, 405, bad_method);
    if (lws_hdr_copy(pss->wsi, h, sizeof h, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        h[0] = '\0';
    if (!srv_metrics_authorized(pss->srv, h[0] ? h : NULL))
        return srv_http_answer_json(pss, 401, unauthorized);
    job = srv_job_new(SRV_JOB_METRICS);
    if (job == NULL)
        return srv_http_answer_json(pss, 503, unavailable);
    return http_submit(pss, &pss->srv->api_reads, job);
}

/*
 * GET /blobs/<sha256>: anything but 64 lowercase hex is 404 at once; the
 * reader checks the token and the photo's grants (srv_blob.c). The Range
 * and If-None-Match headers travel as sent; one too long for its buffer
 * is no header (the whole photo is sent).
 */
static int on_blob(struct srv_http_pss *pss, int method, const char *sha256)
{
    unsigned char raw[PROTO_SHA256_BYTES];
    struct srv_job *job;

    if (proto_sha256_hex_decode(sha256, raw) != 0)
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    if (method != LWSHUMETH_GET)
        return srv_http_answer_json(pss, 405, bad_method);
    job = srv_job_new(SRV_JOB_BLOB_GET);
    if (job == NULL)
        return srv_http_answer_json(pss, 503, unavailable);
    if (bearer(pss->wsi, job->api.token) != 0) {
        srv_job_free(job);
        return srv_http_answer_json(pss, 401, unauthorized);
    }
    memcpy(job->blob.sha256, sha256, sizeof job->blob.sha256);
    if (lws_hdr_copy(pss->wsi, job->blob.range, sizeof job->blob.range, WSI_TOKEN_HTTP_RANGE) < 0)
        job->blob.range[0] = '\0';
    if (lws_hdr_copy(pss->wsi, job->blob.if_none_match, sizeof job->blob.if_none_match,
                     WSI_TOKEN_HTTP_IF_NONE_MATCH) < 0)
        job->blob.if_none_match[0] = '\0';
    return http_submit(pss, &pss->srv->api_reads, job);
}

/* A request's headers arrived: route it. */
static int on_http(struct srv_http_pss *pss)
{
    char path[SRV_PATH_MAX + 1];
    char *uri = NULL;
    int ulen = 0;
    int method = lws_http_get_uri_and_method(pss->wsi, &uri, &ulen);

    if (method < 0 || uri == NULL || ulen <= 0 || (size_t)ulen > SRV_PATH_MAX)
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    memcpy(path, uri, (size_t)ulen);
    path[ulen] = '\0';
    if (strcmp(path, "/healthz") == 0) {
        int ok = atomic_load(&pss->srv->db_ok);
        if (method != LWSHUMETH_GET)
            return srv_http_answer_json(pss, 405, bad_method);
        return srv_http_answer_json(pss, ok ? 200 : 503, ok ? healthz_ok : healthz_down);
    }
    if (strcmp(path, "/metrics") == 0)
        return on_metrics(pss, method);
    if (strcmp(path, "/api") == 0 || strncmp(path, "/api/", 5) == 0)
        return on_api(pss, method, path);
    if (strncmp(path, "/blobs/", 7) == 0)
        return on_blob(pss, method, path + 7);
    if (method != LWSHUMETH_GET)
        return srv_http_answer_json(pss, 405, bad_method);
    return srv_static_serve(pss, path);
}

/* Service thread: lws calls it for HTTP requests and the default protocol. */
int srv_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct srv_http_pss *pss = user;
    struct srv *srv = lws_context_user(lws_get_context(wsi));
    char uri[128];

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* in is the Upgrade header: only WebSocket, only on /sync and /monitor. */
        if (strcmp((const char *)in, "websocket") != 0 ||
            lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
            (strcmp(uri, "/sync") != 0 && strcmp(uri, "/monitor") != 0)) {
            lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
            return 1;
        }
        if (srv->phase != SRV_RUNNING) {
            lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL);
            return 1;
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket without one of our subprotocols lands here: refuse it. */
        return 1;
    case LWS_CALLBACK_HTTP:
        pss->srv = srv;
        pss->wsi = wsi;
        pss_clear(pss);
        return on_http(pss) != 0 ? -1 : 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (pss == NULL || !pss->posting || pss->answering)
            return 0;
        if (pss->rx_len + len > SRV_HTTP_BODY_MAX) {
            pss->rx_over = 1;
            return 0;
        }
        {
            char *grown = realloc(pss->rx, pss->rx_len + len + 1);
            if (grown == NULL) {
                pss->rx_over = 1;
                return 0;
            }
            pss->rx = grown;
            memcpy(pss->rx + pss->rx_len, in, len);
            pss->rx_len += len;
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (pss == NULL || !pss->posting || pss->answering)
            return 0;
        pss->posting = 0;
        return on_resolve_body(pss) != 0 ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss == NULL)
            return 0;
        return on_writeable(pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        /* The connection ends (or becomes a WebSocket): a job's answer for it is dropped. */
        if (pss != NULL && pss->srv != NULL)
            pss_clear(pss);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
