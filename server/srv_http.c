/*
 * srv_http.c — plain HTTP on the server's port: GET /healthz (§5), a 404 for
 * everything else that no --web mount serves, and the gate of WebSocket
 * upgrades (only /sync, only with the visitsync.v1 subprotocol).
 *
 * Everything here runs on the lws service thread.
 */
#include <string.h>

#include "srv_internal.h"

static const char healthz_ok[] = "{\"status\":\"ok\"}";
static const char healthz_down[] = "{\"status\":\"unavailable\"}";
static const char not_found[] = "{\"error\":\"not_found\"}";

/* Writes status line and headers for a JSON body of len bytes. */
static int write_headers(struct lws *wsi, unsigned int status, size_t len)
{
    unsigned char buf[LWS_PRE + 512];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;

    if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) != 0)
        return -1;
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) != 0)
        return -1;
    return lws_finalize_write_http_header(wsi, start, &p, end);
}

/* Answers a request: headers now, the body from the writeable callback. */
static int respond(struct lws *wsi, struct srv_http_pss *pss, unsigned int status,
                   const char *body)
{
    pss->status = (int)status;
    pss->body = body;
    if (write_headers(wsi, status, strlen(body)) != 0)
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
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
        /* in is the Upgrade header: only WebSocket, only on /sync. */
        if (strcmp((const char *)in, "websocket") != 0 ||
            lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
            strcmp(uri, "/sync") != 0) {
            lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
            return 1;
        }
        if (srv->phase != SRV_RUNNING) {
            lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL);
            return 1;
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket without the visitsync.v1 subprotocol lands here: refuse it. */
        return 1;
    case LWS_CALLBACK_HTTP:
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0 &&
            strcmp(uri, "/healthz") == 0)
            return respond(wsi, pss, atomic_load(&srv->db_ok) ? HTTP_STATUS_OK : 503,
                           atomic_load(&srv->db_ok) ? healthz_ok : healthz_down);
        return respond(wsi, pss, HTTP_STATUS_NOT_FOUND, not_found);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss == NULL || pss->body == NULL)
            break;
        {
            unsigned char buf[LWS_PRE + 64];
            size_t n = strlen(pss->body);
            memcpy(buf + LWS_PRE, pss->body, n);
            pss->body = NULL;
            if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) != (int)n)
                return 1;
        }
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
