/*
 * vsc.h — a small synchronous client for the visitsync.v1 protocol.
 *
 * For the `visitsync client` command, the tests, and whoever builds a
 * tablet app in C. Every call runs the libwebsockets event loop itself until
 * its answer arrives or its timeout passes, so the API is single-threaded
 * and blocking: one struct vsc is used by one thread, and nothing runs in
 * the background between calls (a poke that arrives meanwhile is picked up
 * by the next call that waits).
 *
 * Messages are written and read with protocol/ (proto_write_*,
 * proto_parse_server); lws types never leave this module. Replies handed
 * out are parsed messages (struct proto_msg) the caller frees with
 * proto_msg_free().
 *
 * Errors: functions return 0 or a negative VSC_E* code; vsc_errmsg() then
 * holds one sentence naming what failed ("connection refused by
 * 127.0.0.1:8080", "closed by the server with code 4401 (unauthorized)").
 * After VSC_ECLOSED, VSC_ECONNECT or VSC_EPROTOCOL the connection is dead:
 * only vsc_close() is left to call.
 */
#ifndef VS_VSC_H
#define VS_VSC_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define VSC_ERRNO_MAP(X)                                                       \
    X(NOMEM, "out of memory")                                                  \
    X(USAGE, "the client was called with a bad argument or in a bad state")    \
    X(CONNECT, "the connection to the server could not be made")               \
    X(TIMEOUT, "the server did not answer in time")                            \
    X(CLOSED, "the connection was closed")                                     \
    X(PROTOCOL, "the server sent something that breaks the protocol")          \
    X(SERVER, "the server answered with an error")                             \
    X(TOOBIG, "the message is larger than the server accepts")

enum vsc_errno {
    VSC_OK = 0,
    VSC_ERRNO_FIRST_ = -500,
#define VSC_ERRNO_ENUM(name, text) VSC_E##name,
    VSC_ERRNO_MAP(VSC_ERRNO_ENUM)
#undef VSC_ERRNO_ENUM
};

/* A static sentence for a VSC_E* code ("ok" for 0). */
const char *vsc_strerror(int err);

#define VSC_DEFAULT_TIMEOUT_MS 15000
#define VSC_DEFAULT_MAX_INCOMING (64u * 1024u * 1024u)

struct vsc_opts {
    const char *ca_file;   /* wss://: PEM file of the CA to trust; NULL: the system's */
    int insecure;          /* wss://: accept a self-signed or mismatched certificate */
    int timeout_ms;        /* bound of every wait; 0: VSC_DEFAULT_TIMEOUT_MS */
    size_t max_incoming;   /* largest message accepted; 0: VSC_DEFAULT_MAX_INCOMING */
    int no_deflate;        /* do not offer permessage-deflate */
    int lws_log_level;     /* libwebsockets' own logging (LLL_* bits); 0: silent */
};

struct vsc;

/*
 * Connects to url (ws://HOST[:PORT][/PATH] or wss://…; the path defaults to
 * /sync) with subprotocol visitsync.v1, waiting at most the timeout. opts
 * may be NULL. On success the caller owns *out (vsc_close). On failure
 * returns a VSC_E* code and a sentence in errbuf (when not NULL).
 * Sets libwebsockets' process-wide log level (opts->lws_log_level).
 */
int vsc_connect(const char *url, const struct vsc_opts *opts, struct vsc **out, char *errbuf,
                size_t errsize);

/* Sends a close frame (1000) when still open, then frees everything. NULL is fine. */
void vsc_close(struct vsc *v);

/* The last error's sentence (never NULL). */
const char *vsc_errmsg(const struct vsc *v);

/* The close code the server sent (0: none yet). */
int vsc_close_code(const struct vsc *v);

/*
 * Sends hello (h->device and h->token required; pending -1 and has_clock 0
 * leave those out) and waits for welcome. *out points to the welcome kept
 * by the connection: valid until vsc_close. An `error` reply gives
 * VSC_ESERVER (the connection is then usually closed, with 4401 for a bad
 * token); the message names both.
 */
int vsc_hello(struct vsc *v, const struct proto_hello *h, const struct proto_welcome **out);

/*
 * Pipelined push. vsc_push_send serializes changes[0..n) (raw must be NULL)
 * as one push with a fresh req, queues it and returns without waiting; at
 * most VSC_MAX_IN_FLIGHT pushes may be unanswered. VSC_ETOOBIG when the
 * message would exceed the welcome's max_message (send fewer changes).
 * vsc_push_wait waits for the ack of the oldest unanswered push (acks come
 * in push order); on success the caller owns *ack (proto_msg_free), whose
 * results are in the order of the changes. An `error` reply to the push is
 * VSC_ESERVER. vsc_push is send + wait.
 */
#define VSC_MAX_IN_FLIGHT 16
int vsc_push_send(struct vsc *v, const struct proto_change *changes, size_t n);
int vsc_push_wait(struct vsc *v, struct proto_msg **ack);
int vsc_push(struct vsc *v, const struct proto_change *changes, size_t n, struct proto_msg **ack);
/* How many pushes were sent and not yet answered. */
size_t vsc_in_flight(const struct vsc *v);

/*
 * Pulls one page after since (NULL or "0": from the beginning), at most
 * limit records (0: the server's default). On success the caller owns
 * *changes (a PROTO_CHANGES message: items, cursor, more).
 */
int vsc_pull(struct vsc *v, const char *since, int64_t limit, struct proto_msg **changes);

/* Asks for the schema in force; the caller owns *schema (version, collections_json). */
int vsc_schema(struct vsc *v, struct proto_msg **schema);

/*
 * Pokes (§2.5) are counted as they arrive during any wait. vsc_pokes
 * returns how many arrived since connect and the cursor of the last one
 * (NULL: none; valid until the next call). vsc_wait_poke waits up to
 * timeout_ms for the count to exceed seen: 0 when it did, VSC_ETIMEOUT.
 */
int64_t vsc_pokes(const struct vsc *v, const char **last_cursor);
int vsc_wait_poke(struct vsc *v, int64_t seen, int timeout_ms);

/*
 * Photos (§2.6, client/vsc_blob.c). vsc_blob_offer sends blob_offer for the
 * photo whose SHA-256 is sha256_hex (64 lowercase hex) of size bytes, with
 * mime (NULL: left out), and waits for its blob_status: *have is how many
 * leading bytes of this device's upload the server holds durably, and
 * *complete is 1 when the server holds the whole photo for this device
 * (nothing to send). An `error` reply (a size over the server's
 * --max-blob, a server without photo upload) is VSC_ESERVER naming it.
 */
int vsc_blob_offer(struct vsc *v, const char *sha256_hex, int64_t size, const char *mime,
                   int64_t *have, int *complete);

#define VSC_BLOB_WINDOW 4 /* chunks sent before waiting for the oldest one's status */

/*
 * Sends bytes[from..size) of the photo offered as sha256_hex (from: the
 * offer's have) as binary chunks of PROTO_BLOB_CHUNK_MAX bytes, with up to
 * window (0: VSC_BLOB_WINDOW) chunks unanswered, each answered by a
 * blob_status once the server made it durable. bytes is the caller's and
 * must hold size bytes. Returns 0 when the server answered complete, or a
 * VSC_E* code with a sentence that names the photo and how many bytes the
 * server held durably when it stopped (`blob_corrupt`, a chunk refused:
 * VSC_ESERVER; the connection may still be used after it).
 */
int vsc_blob_upload(struct vsc *v, const char *sha256_hex, const void *bytes, int64_t size,
                    int64_t from, int window);

/*
 * Sends text as one message as is, for tests of the server's handling of
 * bad input. vsc_recv waits for a message (not a poke) and returns the
 * oldest one no other call has taken yet; do not mix it with unanswered
 * pushes, whose acks it would take. The caller owns *msg.
 */
int vsc_send_raw(struct vsc *v, const char *text, size_t len);
int vsc_recv(struct vsc *v, struct proto_msg **msg);

#endif
