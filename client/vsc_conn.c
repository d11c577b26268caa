/*
 * vsc_conn.c — the libwebsockets side of the client library: the URL,
 * the connection, the event loop run on the caller's thread, the queue of
 * outgoing messages and the assembly of incoming ones.
 *
 * Design: each struct vsc has its own lws context with one client
 * connection, so the lws callback finds the vsc through the context's user
 * pointer. Nothing runs between calls: vsc__wait() turns the event loop
 * until a predicate holds, a fatal event, or a deadline. lws_service() sleeps
 * until the next event or scheduled timer, so the wait schedules a tick
 * (at most one second ahead, never past the deadline) before each turn to
 * bound the sleep.
 */
#include "vsc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto_time.h"

#define VSC_SUBPROTOCOL "visitsync.v1"

const char *vsc_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
#define VSC_ERRNO_TEXT(name, text) case VSC_E##name: return text;
        VSC_ERRNO_MAP(VSC_ERRNO_TEXT)
#undef VSC_ERRNO_TEXT
    default: return "unknown client error";
    }
}

int vsc__fail(struct vsc *v, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->errmsg, sizeof v->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

const char *vsc_errmsg(const struct vsc *v)
{
    return v && v->errmsg[0] ? v->errmsg : "no error";
}

int vsc_close_code(const struct vsc *v)
{
    return v ? v->close_code : 0;
}

/* What the close codes of the contract (§2) mean, for error messages. */
static const char *vsc__close_meaning(int code)
{
    switch (code) {
    case 1000: return "normal closure";
    case 1001: return "the server is shutting down";
    case 1006: return "connection lost";
    case 1009: return "message too big";
    case 1011: return "internal server error";
    case 4400: return "too many bad messages";
    case 4401: return "unauthorized";
    case 4408: return "no hello in time";
    case 4409: return "replaced by a newer connection of this device";
    case 4429: return "too many failed sign-ins from this address; wait and try again";
    default: return "unknown code";
    }
}

void vsc__describe_close(const struct vsc *v, char *buf, size_t size)
{
    const char *meaning = vsc__close_meaning(v->close_code);
    /* A reason that only repeats the code's meaning is not worth saying twice. */
    if (v->close_reason[0] && strcasecmp(v->close_reason, meaning) != 0)
        snprintf(buf, size, "code %d (%s: %s)", v->close_code, meaning, v->close_reason);
    else
        snprintf(buf, size, "code %d (%s)", v->close_code, meaning);
}

/* ---- outgoing ----------------------------------------------------------- */

struct vsc__out *vsc__out_new(size_t max)
{
    struct vsc__out *o = calloc(1, sizeof *o);
    if (o)
        proto_buf_init(&o->buf, LWS_PRE, max);
    return o;
}

void vsc__out_free(struct vsc__out *o)
{
    if (!o)
        return;
    proto_buf_free(&o->buf);
    free(o);
}

int vsc__queue(struct vsc *v, struct vsc__out *out)
{
    if (v->dead) {
        vsc__out_free(out);
        return v->dead;
    }
    if (v->state != VSC__OPEN) {
        vsc__out_free(out);
        return vsc__fail(v, VSC_EUSAGE, "cannot send to %s:%d: the connection is not open",
                         v->host, v->port);
    }
    out->next = NULL;
    if (v->out_tail)
        v->out_tail->next = out;
    else
        v->out_head = out;
    v->out_tail = out;
    lws_callback_on_writable(v->wsi);
    return 0;
}

/* Writes the next queued message: one lws_write per writeable callback. */
static int vsc__on_writeable(struct vsc *v, struct lws *wsi)
{
    struct vsc__out *o = v->out_head;

    /* With permessage-deflate lws may still read the last buffer until now. */
    vsc__out_free(v->out_sent);
    v->out_sent = NULL;
    if (!o)
        return 0;
    v->out_head = o->next;
    if (!v->out_head)
        v->out_tail = NULL;
    v->out_sent = o;
    size_t len = o->buf.len;
    int n = lws_write(wsi, (unsigned char *)proto_buf_data(&o->buf), len,
                      o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (n < (int)len) {
        v->dead = vsc__fail(v, VSC_ECLOSED, "sending to %s:%d failed: the connection broke",
                            v->host, v->port);
        return -1;
    }
    if (v->out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

/* ---- incoming ----------------------------------------------------------- */

struct proto_msg *vsc__take(struct vsc *v, size_t i)
{
    struct proto_msg *m = v->inbox[i];
    memmove(&v->inbox[i], &v->inbox[i + 1], (v->n_inbox - i - 1) * sizeof v->inbox[0]);
    v->n_inbox--;
    return m;
}

/* A whole message arrived: parse it, count pokes, keep the rest for callers. */
static int vsc__on_message(struct vsc *v)
{
    struct proto_msg *m = NULL;
    struct proto_fault fault;

    if (proto_parse_server(v->rx, v->rx_len, &m, &fault) != 0) {
        v->dead = vsc__fail(v, VSC_EPROTOCOL,
                            "%s:%d sent a message that is not valid visitsync.v1: %s%s%s",
                            v->host, v->port, fault.field, fault.field[0] ? ": " : "",
                            fault.message);
        return -1;
    }
    if (m->type == PROTO_POKE) {
        v->pokes++;
        snprintf(v->poke_cursor, sizeof v->poke_cursor, "%s",
                 m->u.poke.cursor ? m->u.poke.cursor : "");
        proto_msg_free(m);
        return 0;
    }
    if (v->n_inbox == VSC_INBOX_MAX) {
        proto_msg_free(m);
        v->dead = vsc__fail(v, VSC_EPROTOCOL,
                            "%s:%d sent more than %d messages nobody asked for", v->host,
                            v->port, VSC_INBOX_MAX);
        return -1;
    }
    v->inbox[v->n_inbox++] = m;
    return 0;
}

/* Appends one received piece; a finished message goes to vsc__on_message. */
static int vsc__on_receive(struct vsc *v, struct lws *wsi, const void *in, size_t len)
{
    if (!v->rx_in_msg) {
        v->rx_in_msg = 1;
        v->rx_len = 0;
    }
    if (len > v->max_incoming - v->rx_len) {
        v->dead = vsc__fail(v, VSC_EPROTOCOL, "%s:%d sent a message larger than %zu bytes",
                            v->host, v->port, v->max_incoming);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (v->rx_len + len + 1 > v->rx_cap) {
        size_t cap = v->rx_cap ? v->rx_cap : 4096;
        while (cap < v->rx_len + len + 1)
            cap *= 2;
        if (cap > v->max_incoming + 1)
            cap = v->max_incoming + 1;
        char *p = realloc(v->rx, cap);
        if (!p) {
            v->dead = vsc__fail(v, VSC_ENOMEM, "out of memory receiving from %s:%d", v->host,
                                v->port);
            return -1;
        }
        v->rx = p;
        v->rx_cap = cap;
    }
    memcpy(v->rx + v->rx_len, in, len);
    v->rx_len += len;
    v->rx[v->rx_len] = '\0';
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    v->rx_in_msg = 0;
    if (lws_frame_is_binary(wsi))
        return 0; /* the server sends no binary messages to clients (§2.6) */
    return vsc__on_message(v);
}

/* ---- why a connection failed -------------------------------------------- */

/*
 * libwebsockets reports a failed connect as "Unable to connect" without the
 * errno, which tells a person nothing. So after a failure we try one plain
 * TCP connect (at most 2 s) to learn the reason ("Connection refused",
 * "No route to host", an unknown host name). Writes "" when the TCP
 * connect works, i.e. the failure was above TCP (TLS, HTTP upgrade).
 */
static void vsc__probe(const char *host, int port, char *buf, size_t size)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char service[16];
    int fd = -1, err = 0;

    buf[0] = '\0';
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        snprintf(buf, size, "cannot resolve host %.100s: %s", host, gai_strerror(gai));
        return;
    }
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        err = errno;
    } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            socklen_t len = sizeof err;
            int n = poll(&p, 1, 2000);
            if (n == 0)
                err = ETIMEDOUT;
            else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
    }
    if (err)
        snprintf(buf, size, "%s", strerror(err));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
}

/* ---- the lws callback --------------------------------------------------- */

static int vsc__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct vsc *v = lws_context_user(lws_get_context(wsi));

    if (!v)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        v->wsi = NULL;
        v->state = VSC__CLOSED;
        if (!v->dead) {
            char why[200];
            vsc__probe(v->host, v->port, why, sizeof why);
            if (why[0])
                v->dead = vsc__fail(v, VSC_ECONNECT, "cannot connect to %s:%d: %s", v->host,
                                    v->port, why);
            else if (v->tls_error[0])
                v->dead = vsc__fail(v, VSC_ECONNECT,
                                    "cannot connect to %s:%d: the server's TLS certificate is "
                                    "not trusted (%s); pass the CA that signed it (--ca FILE) "
                                    "or accept it (--insecure)",
                                    v->host, v->port, v->tls_error);
            else
                v->dead = vsc__fail(v, VSC_ECONNECT, "cannot connect to %s:%d: %.*s%s", v->host,
                                    v->port, in ? (int)len : 14,
                                    in ? (const char *)in : "unknown reason",
                                    v->tls ? "" : " (if the server uses TLS, the url must "
                                                  "start with wss://)");
        }
        break;
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* Only noted, to say why a handshake failed; 0 keeps OpenSSL's verdict. */
        if (!len && user) {
            int e = X509_STORE_CTX_get_error((X509_STORE_CTX *)user);
            snprintf(v->tls_error, sizeof v->tls_error, "%s", X509_verify_cert_error_string(e));
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        v->state = VSC__OPEN;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (v->dead)
            return -1;
        return vsc__on_receive(v, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (v->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        if (v->dead)
            return -1;
        return vsc__on_writeable(v, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (in && len >= 2) {
            const unsigned char *p = in;
            v->close_code = (p[0] << 8) | p[1];
            snprintf(v->close_reason, sizeof v->close_reason, "%.*s", (int)(len - 2),
                     (const char *)p + 2);
        } else {
            v->close_code = LWS_CLOSE_STATUS_NO_STATUS;
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        v->wsi = NULL;
        v->state = VSC__CLOSED;
        if (!v->dead) {
            char why[200];
            if (!v->close_code)
                v->close_code = LWS_CLOSE_STATUS_ABNORMAL_CLOSE;
            vsc__describe_close(v, why, sizeof why);
            v->dead = vsc__fail(v, VSC_ECLOSED, "closed by the server %s:%d with %s", v->host,
                                v->port, why);
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols vsc__protocols[] = {
    { VSC_SUBPROTOCOL, vsc__callback, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static const struct lws_extension vsc__extensions[] = {
    { "permessage-deflate", lws_extension_callback_pm_deflate,
      "permessage-deflate; client_no_context_takeover; client_max_window_bits" },
    { NULL, NULL, NULL },
};

/* ---- the wait loop ------------------------------------------------------ */

static void vsc__tick(lws_sorted_usec_list_t *sul)
{
    (void)sul; /* only wakes lws_service() up so the wait can check its deadline */
}

int vsc__wait(struct vsc *v, vsc__done_fn done, void *arg, int timeout_ms, const char *what)
{
    int64_t deadline = proto_mono_ms() + timeout_ms;
    int rc = 0;

    while (!done(v, arg)) {
        if (v->dead) {
            rc = v->dead;
            goto out;
        }
        int64_t left = deadline - proto_mono_ms();
        if (left <= 0) {
            rc = vsc__fail(v, VSC_ETIMEOUT, "%s:%d did not answer %s within %d ms", v->host,
                           v->port, what, timeout_ms);
            goto out;
        }
        lws_sul_schedule(v->ctx, 0, v->tick, vsc__tick,
                         (lws_usec_t)(left < 1000 ? left : 1000) * 1000);
        if (lws_service(v->ctx, 0) < 0) {
            v->dead = vsc__fail(v, VSC_ECLOSED, "the event loop for %s:%d failed", v->host,
                                v->port);
            rc = v->dead;
            goto out;
        }
    }
out:
    lws_sul_cancel(v->tick);
    return rc;
}

/* ---- connect and close -------------------------------------------------- */

/* Splits ws[s]://HOST[:PORT][/PATH] into v's fields; a sentence on failure. */
static int vsc__parse_url(struct vsc *v, const char *url)
{
    const char *p, *host, *host_end, *port_end;
    size_t n;

    if (strncmp(url, "ws://", 5) == 0) {
        v->tls = 0;
        p = url + 5;
    } else if (strncmp(url, "wss://", 6) == 0) {
        v->tls = 1;
        p = url + 6;
    } else {
        return vsc__fail(v, VSC_EUSAGE, "server url %s must start with ws:// or wss://", url);
    }
    if (*p == '[') { /* [IPv6]:port */
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return vsc__fail(v, VSC_EUSAGE, "server url %s: missing ] after the IPv6 address",
                             url);
        p = host_end + 1;
    } else {
        host = p;
        host_end = p + strcspn(p, ":/");
        p = host_end;
    }
    n = (size_t)(host_end - host);
    if (n == 0 || n >= sizeof v->host)
        return vsc__fail(v, VSC_EUSAGE, "server url %s has no usable host name", url);
    memcpy(v->host, host, n);
    v->host[n] = '\0';
    v->port = v->tls ? 443 : 80;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        port_end = end;
        if (port_end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return vsc__fail(v, VSC_EUSAGE, "server url %s has a bad port (1-65535)", url);
        v->port = (int)port;
        p = port_end;
    } else if (*p && *p != '/') {
        return vsc__fail(v, VSC_EUSAGE, "server url %s is malformed after the host", url);
    }
    snprintf(v->path, sizeof v->path, "%s", *p ? p : "/sync");
    if (strlen(p) >= sizeof v->path)
        return vsc__fail(v, VSC_EUSAGE, "server url %s: the path is too long", url);
    return 0;
}

static int vsc__is_open(struct vsc *v, void *arg)
{
    (void)arg;
    return v->state == VSC__OPEN;
}

static void vsc__free(struct vsc *v)
{
    if (v->ctx)
        lws_context_destroy(v->ctx);
    vsc__out_free(v->out_sent);
    while (v->out_head) {
        struct vsc__out *o = v->out_head;
        v->out_head = o->next;
        vsc__out_free(o);
    }
    for (size_t i = 0; i < v->n_inbox; i++)
        proto_msg_free(v->inbox[i]);
    proto_msg_free(v->welcome);
    free(v->rx);
    free(v->tick);
    free(v);
}

int vsc_connect(const char *url, const struct vsc_opts *opts, struct vsc **out, char *errbuf,
                size_t errsize)
{
    static const struct vsc_opts dflt = { 0 };
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;
    struct vsc *v = calloc(1, sizeof *v);
    int rc = VSC_ENOMEM;

    if (!opts)
        opts = &dflt;
    if (!v) {
        if (errbuf)
            snprintf(errbuf, errsize, "out of memory connecting to %s", url);
        return VSC_ENOMEM;
    }
    v->tick = calloc(1, sizeof(lws_sorted_usec_list_t));
    if (!v->tick)
        goto out;
    v->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : VSC_DEFAULT_TIMEOUT_MS;
    v->max_incoming = opts->max_incoming ? opts->max_incoming : VSC_DEFAULT_MAX_INCOMING;
    v->max_message = PROTO_MAX_MESSAGE;
    if ((rc = vsc__parse_url(v, url)) != 0)
        goto out;
    if (opts->ca_file && access(opts->ca_file, R_OK) != 0) {
        rc = vsc__fail(v, VSC_EUSAGE, "cannot read the CA file %s: %s", opts->ca_file,
                       strerror(errno));
        goto out;
    }

    lws_set_log_level(opts->lws_log_level, NULL);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = vsc__protocols;
    info.extensions = opts->no_deflate ? NULL : vsc__extensions;
    info.user = v;
    info.gid = -1;
    info.uid = -1;
    info.connect_timeout_secs = (unsigned)(v->timeout_ms + 999) / 1000;
    if (v->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = opts->ca_file;
    }
    v->ctx = lws_create_context(&info);
    if (!v->ctx) {
        rc = vsc__fail(v, VSC_ECONNECT, "cannot connect to %s:%d: libwebsockets could not start%s",
                       v->host, v->port, v->tls ? " (check the CA file)" : "");
        goto out;
    }

    memset(&ci, 0, sizeof ci);
    ci.context = v->ctx;
    ci.address = v->host;
    ci.port = v->port;
    ci.path = v->path;
    ci.host = v->host;
    ci.origin = v->host;
    ci.protocol = VSC_SUBPROTOCOL;
    ci.pwsi = &v->wsi;
    if (v->tls) {
        ci.ssl_connection = LCCSCF_USE_SSL;
        if (opts->insecure)
            ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                 LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    if (!lws_client_connect_via_info(&ci)) {
        /* The connection error callback may already have said why. */
        rc = v->dead ? v->dead
                     : vsc__fail(v, VSC_ECONNECT, "cannot connect to %s:%d", v->host, v->port);
        goto out;
    }
    rc = vsc__wait(v, vsc__is_open, NULL, v->timeout_ms, "the WebSocket upgrade");
    if (rc == VSC_ETIMEOUT)
        rc = vsc__fail(v, VSC_ECONNECT, "cannot connect to %s:%d: no answer within %d ms",
                       v->host, v->port, v->timeout_ms);
    else if (rc == VSC_ECLOSED)
        rc = vsc__fail(v, VSC_ECONNECT, "cannot connect to %s:%d: %s", v->host, v->port,
                       v->errmsg);
out:
    if (rc != 0) {
        if (errbuf)
            snprintf(errbuf, errsize, "%s", v->errmsg[0] ? v->errmsg : vsc_strerror(rc));
        vsc__free(v);
        return rc;
    }
    *out = v;
    return 0;
}

static int vsc__is_closed(struct vsc *v, void *arg)
{
    (void)arg;
    return v->state != VSC__OPEN || v->wsi == NULL;
}

void vsc_close(struct vsc *v)
{
    if (!v)
        return;
    if (v->state == VSC__OPEN && v->wsi && !v->dead) {
        /* The next writeable callback sends a 1000 close frame and returns -1. */
        v->closing = 1;
        lws_callback_on_writable(v->wsi);
        vsc__wait(v, vsc__is_closed, NULL, 1000, "the close");
    }
    vsc__free(v);
}
