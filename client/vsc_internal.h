/*
 * vsc_internal.h — what vsc_conn.c (the libwebsockets side), vsc_requests.c
 * (the visitsync.v1 calls) and vsc_blob.c (photo upload) share. Not
 * installed, not for callers.
 */
#ifndef VS_VSC_INTERNAL_H
#define VS_VSC_INTERNAL_H

#include "vsc.h"

#define VSC_INBOX_MAX 64 /* parsed messages nobody has asked for yet */

/* One queued outgoing message: a proto_buf with LWS_PRE headroom. */
struct vsc__out {
    struct vsc__out *next;
    struct proto_buf buf;
    int binary; /* a photo chunk (§2.6); else a text message */
};

enum vsc__state { VSC__CONNECTING, VSC__OPEN, VSC__CLOSED };

/* A predicate the wait loop checks after every turn of the event loop. */
typedef int (*vsc__done_fn)(struct vsc *v, void *arg);

struct vsc {
    struct lws_context *ctx;
    struct lws *wsi;
    void *tick; /* lws_sorted_usec_list_t, kept opaque here */

    char host[256];
    int port;
    char path[256];
    int tls;
    int timeout_ms;
    size_t max_incoming;

    enum vsc__state state;
    int dead;                /* a VSC_E* code once the connection is unusable */
    int closing;             /* vsc_close asked for a close frame */
    int close_code;          /* from the server's close frame */
    char close_reason[124];
    char tls_error[120];     /* why OpenSSL did not trust the server's certificate */
    char errmsg[600];

    /* outgoing: queued messages, and the last one written (kept for deflate) */
    struct vsc__out *out_head, *out_tail, *out_sent;

    /* incoming: the message being assembled from fragments */
    char *rx;
    size_t rx_len, rx_cap;
    int rx_in_msg;

    /* parsed messages waiting for a caller, oldest first */
    struct proto_msg *inbox[VSC_INBOX_MAX];
    size_t n_inbox;

    int64_t pokes;
    char poke_cursor[PROTO_REQ_MAX + 1];

    /* reqs of unanswered pushes, oldest first */
    char inflight[VSC_MAX_IN_FLIGHT][24];
    size_t n_inflight;
    uint64_t next_req;

    struct proto_msg *welcome;
    int64_t max_message; /* outgoing limit from welcome */
};

int vsc__fail(struct vsc *v, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Queues a finished message (takes ownership of out) and asks to write. */
int vsc__queue(struct vsc *v, struct vsc__out *out);
/* A new empty outgoing message with the headroom lws needs. */
struct vsc__out *vsc__out_new(size_t max);
void vsc__out_free(struct vsc__out *o);
/* Runs the event loop until done(v, arg) or the timeout; what names the wait. */
int vsc__wait(struct vsc *v, vsc__done_fn done, void *arg, int timeout_ms, const char *what);
/* Removes and returns inbox[i]. */
struct proto_msg *vsc__take(struct vsc *v, size_t i);
/* Turns an `error` reply to what into VSC_ESERVER with a sentence; frees m. */
int vsc__server_error(struct vsc *v, struct proto_msg *m, const char *what);
/* Maps a proto_write_* failure (prc) to a VSC_E* code and frees the half-written o. */
int vsc__write_failed(struct vsc *v, struct vsc__out *o, int prc, const char *what);
/* "code 4401 (unauthorized)" for the close code the server sent. */
void vsc__describe_close(const struct vsc *v, char *buf, size_t size);

#endif
