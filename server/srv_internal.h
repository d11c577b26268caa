/*
 * srv_internal.h — what the files of server/ share and nobody else sees.
 *
 * Design (docs/architecture.md, "Threads"): the lws service thread owns every
 * wsi and every struct srv_session. Work that touches SQLite travels as a
 * struct srv_job: the service thread fills the request part and puts it on
 * the writer's or the reader's queue; the worker fills the result part
 * (including the serialized reply) and puts the same job on the completion
 * queue, then wakes the service thread with lws_cancel_service(). A job names
 * its session by a numeric id, never by pointer, so a completion for a
 * session that closed meanwhile finds nothing and is dropped.
 */
#ifndef VS_SRV_INTERNAL_H
#define VS_SRV_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "proto_text.h"
#include "srv.h"
#include "srv_list.h"
#include "sync.h"

/* ---- limits ------------------------------------------------------------- */

#define SRV_SUBPROTOCOL "visitsync.v1"
#define SRV_HELLO_TIMEOUT_MS 10000 /* §2.1 */
#define SRV_HELLO_TICK_US (200 * LWS_US_PER_MS)
/*
 * The largest message a connection may send before its welcome. A hello is
 * a few hundred bytes; without this cap every unauthenticated connection
 * could make the server buffer max_message (1 MiB) for 10 s.
 */
#define SRV_PREHELLO_MAX ((size_t)16 << 10)
#define SRV_BAD_IN_A_ROW 10                          /* §2.8 */
#define SRV_MAX_IN_FLIGHT 8              /* requests per session before rx pauses */
#define SRV_MAX_QUEUED ((size_t)4 << 20) /* reply bytes per session before rx pauses */
#define SRV_GROUP_MAX 256                /* jobs in one db_commit_group */
/*
 * Message bytes in one db_commit_group: a group's dirty pages (about 3.5x
 * its message text) must fit the writer's 64 MiB page cache, or SQLite
 * spills them to the WAL mid-transaction and writes hot pages again.
 */
#define SRV_GROUP_BYTES ((size_t)32 << 20)
#define SRV_REPLY_MAX ((size_t)8 << 20)  /* ceiling of a welcome, ack or error */
#define SRV_CHANGES_MAX ((size_t)32 << 20) /* ceiling of one changes reply */
#define SRV_REVOKE_POLL_MS 1000
#define SRV_CHECKPOINT_MS 1000       /* a PASSIVE WAL checkpoint off the writer, this often */
#define SRV_WAL_AUTOCHECKPOINT 16384 /* pages (64 MiB): the writer's own bound on the WAL */
#define SRV_DRAIN_MS 2500 /* graceful stop: wait this long for in-flight work */
#define SRV_CLOSE_MS 1000 /* then this long for close handshakes */

/* WebSocket close codes of the contract (§2.1, §2.8). */
enum srv_close {
    SRV_CLOSE_GOING_AWAY = 1001,
    SRV_CLOSE_TOO_BIG = 1009,
    SRV_CLOSE_BAD = 4400,
    SRV_CLOSE_UNAUTHORIZED = 4401,
    SRV_CLOSE_HELLO_TIMEOUT = 4408,
    SRV_CLOSE_REPLACED = 4409,
    SRV_CLOSE_THROTTLED = 4429, /* ours: too many failed sign-ins from this address */
};

/* ---- logging (srv_log.c): thread-safe, unlike Debian's lwsl_* ---------- */

enum srv_log_level { SRV_LOG_ERR, SRV_LOG_WARN, SRV_LOG_NOTICE, SRV_LOG_INFO, SRV_LOG_DEBUG };

/* Reads VISITSYNC_LOG (err|warn|notice|info|debug; default notice). Main thread, once. */
void srv_log_init(void);
/* Writes one timestamped line to stderr under a mutex. Any thread. */
void srv_log(enum srv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The lws log emitter: lws logs only from the service thread, through us. */
void srv_log_lws(int level, const char *line);
/*
 * Copies text a peer chose (a device id) into out for a log line: printable
 * ASCII stays, '"' and '\\' and every other byte become \xNN, and a text too
 * long for out ends in "...". out is always terminated. Any thread.
 */
void srv_log_escape(const char *text, char *out, size_t size);

/* ---- principals --------------------------------------------------------- */

/*
 * An authenticated device, shared read-only by its session and the jobs it
 * submits (a pull may still run on the reader when the session closes).
 */
struct srv_principal {
    atomic_int refs;
    struct db_principal p;
};

/* Takes one more reference. Any thread. */
struct srv_principal *srv_principal_ref(struct srv_principal *w);
/* Drops a reference; the last one frees. NULL is allowed. Any thread. */
void srv_principal_unref(struct srv_principal *w);

/* ---- jobs and queues (srv_queue.c) --------------------------------------- */

enum srv_job_kind {
    SRV_JOB_HELLO,   /* writer: authenticate, record the hello, build the welcome */
    SRV_JOB_PUSH,    /* writer: sync_apply_push, build the ack after COMMIT */
    SRV_JOB_NOTE,    /* writer: db_device_note of a pull */
    SRV_JOB_REVOKED, /* writer -> service: devices revoked since the last poll */
    SRV_JOB_PULL,    /* reader: db_pull, build the changes reply */
};

struct srv_job {
    struct srv_job *next;
    enum srv_job_kind kind;
    uint64_t session;          /* the session that asked; 0 for none */
    uint64_t reply;            /* the reply slot it fills; 0 for none */
    struct proto_msg *msg;     /* owned: hello, push or pull */
    struct srv_principal *who; /* owned reference: push, note, pull; the result of hello */
    struct srv_peer *peer;     /* hello: its address; service thread only (kept by pending) */
    char device[PROTO_ID_MAX + 1];
    size_t bytes;              /* push: the message text's length (the group's byte cap) */

    /* Filled by the worker. */
    int rc;                   /* 0, or the negative code of a store failure */
    enum proto_code refused;  /* hello: PROTO_CODE_UNAUTHORIZED when refused */
    struct proto_buf out;     /* the serialized reply, LWS_PRE headroom */
    int64_t cursor;           /* push: the change feed after the COMMIT */
    char **names;             /* push: grids it changed; revoked: devices */
    size_t n_names;
};

/* Allocates a zeroed job of kind; NULL when out of memory. Any thread. */
struct srv_job *srv_job_new(enum srv_job_kind kind);
/* Frees a job and everything it owns. NULL is allowed. Any thread. */
void srv_job_free(struct srv_job *job);
/* Adds a copy of name to job->names unless already there (ceiling: 4096). */
int srv_job_add_name(struct srv_job *job, const char *name);

/* A FIFO of jobs under a mutex, with a condition variable for the consumer. */
struct srv_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct srv_job *head, *tail;
    size_t n;
    int stopped;
};

int srv_queue_init(struct srv_queue *q);
/* Frees the jobs still queued. Only after every user stopped. */
void srv_queue_destroy(struct srv_queue *q);
/* Appends job; the queue owns it then. -1 (caller keeps job) once stopped. Any thread. */
int srv_queue_put(struct srv_queue *q, struct srv_job *job);
/*
 * Waits until a job is queued, the queue is stopped, or until_mono_ms (proto_mono_ms
 * clock) passes; then moves up to max jobs into jobs[], stopping before a
 * job that would take the sum of their bytes over max_bytes (0: no byte
 * cap; the first job is always taken). Returns how many, or -1 once
 * stopped. The consumer thread.
 */
int srv_queue_take(struct srv_queue *q, struct srv_job **jobs, size_t max, size_t max_bytes,
                   int64_t until_mono_ms);
/* Takes the whole list without waiting (oldest first); NULL when empty. Any thread. */
struct srv_job *srv_queue_take_all(struct srv_queue *q);
/* Wakes every waiter; later puts fail. Any thread. */
void srv_queue_stop(struct srv_queue *q);

/* ---- peer addresses (srv_peer.c, service thread) --------------------------- */

/*
 * Failed sign-ins (§2.1 refusals) are free up to SRV_THROTTLE_FREE a minute
 * per address; past that the address's hellos are refused with 4429 for a
 * ban that starts at 1 s and doubles up to 60 s. The allowance refills
 * steadily (one failure every 12 s); bans start at 1 s again once a minute
 * has passed after the last one without a failure.
 */
#define SRV_THROTTLE_FREE 5
#define SRV_THROTTLE_WINDOW_MS 60000
#define SRV_THROTTLE_COST_MS (SRV_THROTTLE_WINDOW_MS / SRV_THROTTLE_FREE)
#define SRV_THROTTLE_BAN_MIN_MS 1000
#define SRV_THROTTLE_BAN_MAX_MS 60000
#define SRV_PEER_BUCKETS 1024
#define SRV_PEER_IDLE_MAX 4096 /* addresses kept only for their throttle state */
#define SRV_ADDR_MAX 64        /* an address as lws_get_peer_simple() prints it */

/* What the server knows of one peer address. */
struct srv_peer {
    struct srv_peer *next; /* the bucket's chain */
    uint32_t conns;        /* live visitsync.v1 connections */
    uint32_t pending;      /* hellos at the writer */
    uint32_t fails;        /* failed sign-ins since the address was last clean */
    uint32_t refused;      /* hellos refused (4429) since the last ban began */
    uint32_t cap_refused;  /* upgrades refused by the cap since the last log line */
    int idle;              /* counted in srv_peers.n_idle */
    int64_t debt_until;    /* failed sign-ins: the allowance is whole again then */
    int64_t ban_until;     /* hellos are refused until then */
    int64_t backoff_ms;    /* the length of the next ban */
    int64_t cap_logged;    /* when the cap was last logged for this address */
    char addr[SRV_ADDR_MAX];
};

/* Every address with a connection, a hello at the writer, or a recent failure. */
struct srv_peers {
    struct srv_peer *buckets[SRV_PEER_BUCKETS];
    size_t n;      /* entries */
    size_t n_idle; /* entries kept only for their throttle state */
};

/* The entry of addr, or NULL. */
struct srv_peer *srv_peer_find(struct srv_peers *t, const char *addr);
/* Counts one more connection of addr, creating its entry; NULL when out of memory. */
struct srv_peer *srv_peer_attach(struct srv_peers *t, const char *addr);
/* Counts one connection less; frees the entry once it holds nothing worth keeping. */
void srv_peer_detach(struct srv_peers *t, struct srv_peer *p, int64_t now);
/*
 * A hello arrived from p at now (proto_mono_ms): returns 0 and counts it as
 * pending (it may go to the writer), or 1 when it must be refused now, with
 * the milliseconds to wait in *wait_ms.
 */
int srv_peer_hello_begin(struct srv_peer *p, int64_t now, int64_t *wait_ms);
/*
 * The writer answered a hello counted by srv_peer_hello_begin; failed: it
 * was refused, and *fails is set to the address's failures since it was
 * last clean. Returns 1 when this failure began a ban (its length in
 * *ban_ms), else 0; ban_ms and fails may be NULL when failed is 0. May free
 * p (its connection may be gone already): copy p->addr before.
 */
int srv_peer_hello_end(struct srv_peers *t, struct srv_peer *p, int failed, int64_t now,
                       int64_t *ban_ms, uint32_t *fails);
/* Frees the entries that hold nothing any more. */
void srv_peers_sweep(struct srv_peers *t, int64_t now);
/* Frees every entry. At shutdown, after the lws context is gone. */
void srv_peers_free(struct srv_peers *t);

/* ---- the server --------------------------------------------------------- */

struct srv_session;

enum srv_phase { SRV_RUNNING, SRV_DRAINING, SRV_CLOSING, SRV_DONE };

#define SRV_BUCKETS 1024 /* session id hash buckets (chained) */

struct srv {
    const struct srv_config *cfg;
    struct proto_schema *schema;
    struct sync_rules rules;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct db *wdb; /* the writer thread's */
    struct db *rdb; /* the reader thread's */
    struct db *cdb; /* the checkpointer thread's (read-write, checkpoints only) */
    struct srv_queue writes, reads, done;
    struct srv_queue ckpt_stop; /* never holds a job: stopping it stops the checkpointer */
    pthread_t writer, reader, ckpt;
    int writer_started, reader_started, ckpt_started;
    atomic_int db_ok;          /* 0 after the writer failed to commit */
    atomic_int stop_requested; /* set by the signal thread */
    int64_t started_ms;
    lws_retry_bo_t keepalive; /* from --ping-interval and --idle-timeout */

    /* Service thread only; the lists are set up by srv_sessions_init. */
    struct srv_list by_id[SRV_BUCKETS];     /* sessions by id (srv_session.id_link) */
    struct srv_list by_device[SRV_BUCKETS]; /* each device's live session (device_link) */
    struct srv_list sessions;               /* every registered session, newest first */
    size_t n_sessions;
    uint64_t next_session;
    enum srv_phase phase;
    int64_t phase_deadline; /* proto_mono_ms */
    lws_sorted_usec_list_t tick;
    /*
     * Sessions that owe a hello, oldest first. Every deadline is "connected +
     * 10 s", so the list is sorted by construction and one periodic check of
     * its head replaces a timer per connection (lws keeps timers in a sorted
     * list: thousands of them make every insert slow).
     */
    struct srv_list hello_waiting; /* srv_session.hello_link */
    lws_sorted_usec_list_t hello_tick;
    struct srv_peers peers;
    int64_t peers_swept; /* proto_mono_ms of the last srv_peers_sweep */
};

/* ---- sessions (srv_session.c, service thread) ---------------------------- */

/* One reply slot, in request order. ready: buf holds the whole message. */
struct srv_reply {
    struct srv_list link; /* the session's replies */
    uint64_t id;
    int ready;
    int request; /* counts as a request in flight until ready */
    struct proto_buf buf;
};

/* Per-connection state: lws allocates it as the protocol's per-session data. */
struct srv_session {
    struct srv *srv;
    struct lws *wsi;
    uint64_t id;
    struct srv_list all_link;    /* srv.sessions; linked from ESTABLISHED to CLOSED */
    struct srv_list id_link;     /* srv.by_id, linked with all_link */
    struct srv_list device_link; /* srv.by_device while it is its device's live session */

    struct srv_principal *who; /* NULL until welcome */
    struct srv_peer *peer;     /* its address's entry (counted in conns); NULL when out of memory */
    int hello_pending;
    int64_t hello_deadline; /* proto_mono_ms; meaningful while hello_link is linked */
    struct srv_list hello_link; /* srv.hello_waiting while it owes a hello */

    char *rx; /* the message being assembled */
    size_t rx_len, rx_cap;
    int rx_binary;
    int bad_in_row;

    struct srv_list replies; /* struct srv_reply, in request order; only the first is written */
    uint64_t next_reply;
    size_t in_flight;    /* replies not ready yet */
    size_t queued_bytes; /* bytes of ready replies not yet written */
    struct proto_buf sent; /* the last buffer written; freed at the next writable */
    int rx_paused;
    int poke_outstanding;

    int close_code; /* nonzero: closing once the queued replies are written */
    char close_why[64];
};

/* LWS_CALLBACK_* handling of the visitsync.v1 protocol. Service thread. */
int srv_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);
/* Makes the session lists of srv empty. Main thread, before lws starts. */
void srv_sessions_init(struct srv *srv);
/* Re-evaluates rx flow control of every session (phase change). Service thread. */
void srv_sessions_flow(struct srv *srv);
/* True when no session has a request in flight or a reply left to write. Service thread. */
int srv_sessions_idle(struct srv *srv);
/* Closes every session with code, dropping what is queued. Service thread. */
void srv_sessions_close_all(struct srv *srv, int code, const char *why);
/* Closes (4408) the sessions whose hello is overdue; reschedules itself. Service thread. */
void srv_hello_tick(lws_sorted_usec_list_t *sul);

/*
 * What a completion does to one connection: srv_complete.c decides, these
 * act. Service thread. The s they take is registered and not closing
 * (srv_session_close excepted: a second close keeps the first reason).
 */
/* The registered session with this id, or NULL (closed meanwhile, or 0). */
struct srv_session *srv_session_find(struct srv *srv, uint64_t id);
/* The live authenticated session of device, or NULL. */
struct srv_session *srv_session_of_device(struct srv *srv, const char *device);
/* Moves job->out into s's reply slot job->reply and makes it ready to write. */
void srv_session_fill_reply(struct srv_session *s, struct srv_job *job);
/*
 * Authenticates s as who (takes the reference) and makes it its device's
 * live session; an older session of the device is closed (4409).
 */
void srv_session_welcome(struct srv_session *s, struct srv_principal *who);
/* The store failed to check a hello: s may say hello again, within 10 s. */
void srv_session_hello_again(struct srv_session *s);
/* Queues a poke (§2.5) with cursor, unless one is outstanding. */
void srv_session_poke(struct srv_session *s, const char *cursor);
/* s's device was revoked: drops what is queued, says so, closes (4401). */
void srv_session_revoked(struct srv_session *s);
/*
 * Starts closing s with code. keep_ready: ready replies are still written
 * first; otherwise everything queued is dropped. The first reason wins.
 */
void srv_session_close(struct srv_session *s, int code, const char *why, int keep_ready);

/* ---- completions (srv_complete.c) ----------------------------------------- */

/* Puts a finished job on the completion queue and wakes the service thread. Worker threads. */
void srv_complete(struct srv *srv, struct srv_job *job);
/*
 * Takes every job on the completion queue and does what each one means for
 * its session (or drops it when the session is gone), then frees it.
 * Service thread, on LWS_CALLBACK_EVENT_WAIT_CANCELLED.
 */
void srv_complete_drain(struct srv *srv);

/*
 * Begins the graceful stop once a signal asked for it, and advances it
 * (srv_main.c). Service thread, after every wake-up.
 */
void srv_stop_poll(struct srv *srv);

/* ---- HTTP (srv_http.c, service thread) ------------------------------------ */

struct srv_http_pss {
    int status;
    const char *body;
};
int srv_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

/* ---- workers ------------------------------------------------------------ */

/* The writer thread's body (srv_writer.c); arg is struct srv. */
void *srv_writer_main(void *arg);
/* The reader thread's body (srv_reader.c); arg is struct srv. */
void *srv_reader_main(void *arg);
/* The checkpointer thread's body (srv_checkpoint.c); arg is struct srv. */
void *srv_checkpoint_main(void *arg);
/*
 * Serializes an error reply (§2.8) into b, replacing what b held: the one
 * writer of error replies, for a job's out and a session's reply slot
 * alike. The message is cut at 511 bytes. Returns 0 or a PROTO_E* code.
 * Any thread.
 */
int srv_write_error(struct proto_buf *b, const char *req, enum proto_code code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* srv_write_error with a va_list (the session's variadic reply helper). Any thread. */
int srv_write_verror(struct proto_buf *b, const char *req, enum proto_code code,
                     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#endif
