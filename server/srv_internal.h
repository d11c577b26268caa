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

#include "proto_blob.h"
#include "proto_cursor.h"
#include "proto_text.h"
#include "proto_token.h"
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
    SRV_CLOSE_TOO_SLOW = 4413,  /* ours: a monitor that reads events slower than they come */
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
    /* The supervisors' HTTP API (srv_api.c): each answers one waiting HTTP request. */
    SRV_JOB_API_STATUS,    /* API reader: GET /api/status */
    SRV_JOB_API_CONFLICTS, /* API reader: GET /api/conflicts */
    SRV_JOB_API_REPORT,    /* API reader: GET /api/report */
    SRV_JOB_METRICS,       /* API reader: GET /metrics */
    SRV_JOB_RESOLVE,       /* writer: POST /api/conflicts/ID/resolve, in a commit group */
    SRV_JOB_MONITOR_HELLO, /* API reader: check a monitor's API token (srv_monitor.c) */
    /* Photos (srv_blob.c). */
    SRV_JOB_BLOB_OFFER, /* writer: db_blob_offer, the blob_status after COMMIT */
    SRV_JOB_BLOB_CHUNK, /* writer: db_blob_chunk, its blob_status or error after COMMIT */
    SRV_JOB_BLOB_GET,   /* API reader: GET /blobs/<sha256> */
};

struct srv_monitor_note;

/*
 * What an HTTP API job asks (set by the service thread, srv_http.c). Its
 * variable part travels in the job's in buffer: a status job's online devices (each
 * NUL-terminated, sorted bytewise), a resolve's value JSON (value_len
 * bytes) followed by its reason.
 */
struct srv_api_args {
    char token[PROTO_TOKEN_CHARS + 1]; /* the bearer token as sent (well-formed) */
    enum db_conflict_status status;    /* conflicts */
    int64_t after, limit;              /* conflicts */
    size_t n_online;                   /* status */
    int64_t conflict_id;               /* resolve */
    enum sync_choice choose;           /* resolve */
    size_t value_len;                  /* resolve: SYNC_CHOOSE_VALUE */
    int has_reason;                    /* resolve */
};

/* The entry a resolve closed, for the monitor's event (filled by the writer). */
struct srv_api_resolved {
    int64_t id;
    char collection[PROTO_ID_MAX + 1];
    char record[PROTO_ID_MAX + 1];
    char field[PROTO_ID_MAX + 1];
    char grid[PROTO_ID_MAX + 1]; /* "" when the record has none */
};

/*
 * A photo job's request (set by the service thread) and result (by the
 * worker). A chunk owns the binary message it came in (raw, the session's
 * assembled buffer, handed over rather than copied); data points into it.
 */
struct srv_blob_args {
    char sha256[PROTO_SHA256_HEX + 1];
    char *raw;                 /* chunk: owned */
    const unsigned char *data; /* chunk: its bytes, inside raw */
    size_t len;
    int64_t offset;
    char range[96];         /* GET: the Range header, "" when none (or too long to be one range) */
    char if_none_match[96]; /* GET: the If-None-Match header, "" when none */
    /* Filled by the writer. */
    struct db_blob_state state;        /* offer */
    struct db_blob_chunk_result chunk; /* chunk */
    int bad;                           /* the reply is an error that counts toward §2.8's 10 */
    const char *type;                  /* GET: the answer's Content-Type (a constant) */
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
    struct proto_buf in;      /* API: the request's variable part (see srv_api_args) */
    int64_t cursor;           /* push: the change feed after the COMMIT */
    char **names;             /* push: grids it changed; revoked: devices */
    size_t n_names;
    /* HTTP API jobs: the request (srv_http.c) and the answer (srv_api.c). */
    uint64_t http;                     /* the waiting HTTP request's id; 0 for none */
    struct srv_api_args api;
    unsigned int http_status;          /* filled: the answer's status; out holds its body */
    struct srv_api_resolved resolved;  /* filled by a resolve that succeeded */
    int http_blob;                     /* filled: answer with a photo's headers (srv_blob.c) */
    char http_etag[80];                /* filled: the answer's ETag, "" for none */
    char http_range[64];               /* filled: the answer's Content-Range, "" for none */
    struct srv_blob_args blob;         /* photo jobs */
    uint32_t outcomes[4];     /* push: its changes by enum proto_status, after COMMIT */
    size_t records;           /* pull: the records of the reply */
    struct srv_monitor_note *note; /* owned: what only the monitor needs; NULL when none */
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
    uint32_t conns;        /* live connections: visitsync.v1 and monitor */
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

/*
 * The peer's address of wsi as lws prints it into buf, an IPv4 peer of the
 * dual-stack socket without its "::ffff:" ("unknown" when lws cannot say).
 * Returns buf.
 */
const char *srv_peer_address(struct lws *wsi, char *buf, size_t size);
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

/* ---- metrics (srv_metrics.c) ------------------------------------------------ */

struct srv;

#define SRV_PUSH_BUCKETS 8    /* changes per push: 1, 5, 10, 50, 100, 250, 500, +Inf */
#define SRV_COMMIT_BUCKETS 11 /* seconds per COMMIT: 0.001 ... 1, +Inf */

/*
 * The counters of GET /metrics, kept where things happen. Each has one
 * writing thread and is a relaxed atomic, so that srv_metrics_write may
 * read it from any thread; nothing here takes a lock. Histogram buckets
 * are not cumulative here (srv_metrics_write sums them), so a bucket costs
 * one increment per observation.
 */
struct srv_metrics {
    atomic_llong connections;    /* visitsync.v1 connections open (service thread) */
    atomic_llong devices_online; /* devices with a live authenticated session (service) */
    atomic_llong watchers;       /* /monitor connections open (service) */
    atomic_ullong signin_failures;  /* refused hellos, devices' and monitors' (service) */
    atomic_ullong throttled_hellos; /* hellos refused with 4429 unchecked (service) */
    atomic_ullong changes[4];    /* by enum proto_status (writer, after COMMIT) */
    atomic_ullong push_buckets[SRV_PUSH_BUCKETS];
    atomic_ullong push_changes;  /* the pushes' changes summed */
    atomic_ullong commit_buckets[SRV_COMMIT_BUCKETS];
    atomic_ullong commit_ns;     /* the COMMITs' wall time summed */
    atomic_ullong commits;       /* committed groups: one WAL fsync each (writer) */
    atomic_ullong checkpoints;   /* checkpoints that copied pages (checkpointer) */
    /* The poke fan-out of committed pushes and resolutions (service thread). */
    atomic_ullong poke_fanouts;  /* fan-outs: one per committed push or resolve */
    atomic_ullong pokes;         /* pokes queued by them */
    atomic_ullong poke_ns;       /* their time summed: finding the sessions, queuing pokes */
    atomic_ullong poke_max_ns;   /* the longest one */
};

/* Adds d to a gauge or counter with no ordering. Any thread (the counter's writer). */
static inline void srv_metric_add(atomic_llong *c, long long d)
{
    atomic_fetch_add_explicit(c, d, memory_order_relaxed);
}
static inline void srv_metric_inc(atomic_ullong *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}
/* CLOCK_MONOTONIC in ns, for the commit histogram. Any thread. */
int64_t srv_metrics_clock_ns(void);
/* One committed push: its changes by outcome (enum proto_status). Writer thread. */
void srv_metrics_push(struct srv_metrics *m, const uint32_t outcomes[4]);
/* One db_commit_group that took ns; committed: it COMMITted (an fsync). Writer thread. */
void srv_metrics_commit(struct srv_metrics *m, int64_t ns, int committed);
/* One poke fan-out that took ns and queued pokes pokes. Service thread. */
void srv_metrics_poke(struct srv_metrics *m, int64_t ns, size_t pokes);

/*
 * Appends the Prometheus text exposition (format 0.0.4, "# HELP" and
 * "# TYPE" lines, names visitsync_*) of srv's counters and of st (the
 * store's figures, db_store_stats with scope NULL; NULL leaves them out)
 * to out. Returns 0 or a PROTO_E* code (out's ceiling). Any thread.
 */
int srv_metrics_write(struct srv *srv, const struct db_store_stats *st, struct proto_buf *out);
/*
 * True when a GET /metrics with this Authorization header (NULL: none) may
 * be answered: serve has no --metrics-token, or the header is "Bearer T"
 * with its token (compared in constant time). Any thread.
 */
int srv_metrics_authorized(const struct srv *srv, const char *authorization_header);

/* ---- keep-alive (srv_keepalive.c, service thread) ------------------------- */

/* A WebSocket's place in srv.alive: when it last proved alive, its ping. */
struct srv_alive {
    struct srv_list link; /* srv.alive, from the upgrade until it closes */
    struct lws *wsi;
    int64_t valid_ms;     /* proto_mono_ms of the upgrade or the last pong */
    int ping_due;         /* the tick asked for a ping: send it when writable */
    int pinged;           /* a ping went out since valid_ms */
};

void srv_alive_start(struct srv *srv, struct srv_alive *a, struct lws *wsi);
void srv_alive_pong(struct srv *srv, struct srv_alive *a);
void srv_alive_stop(struct srv_alive *a);
/* At SERVER_WRITEABLE, first: sends a due ping. 0, or -1 for the callback to return. */
int srv_alive_write(struct srv_alive *a);
/* Pings the connections idle for --ping-interval, drops those idle for --idle-timeout. */
void srv_alive_tick(struct srv *srv, int64_t now);

/* ---- the live monitor (srv_monitor.c, service thread unless said) ---------- */

#define SRV_MONITOR_SUBPROTOCOL "visitsync.monitor"
#define SRV_MONITOR_MSG_MAX ((size_t)16 << 10)   /* a message from a watcher; over it: 1009 */
#define SRV_MONITOR_QUEUE_MAX ((size_t)1 << 20) /* event bytes queued per watcher; over: 4413 */

/* The monitor's part of struct srv. Service thread, except n_welcomed. */
struct srv_monitor {
    struct srv_list all;     /* every watcher (srv_watcher.link) */
    struct srv_list waiting; /* watchers that owe a hello, oldest first (hello_link) */
    size_t n;                /* watchers connected */
    atomic_int n_welcomed;   /* watchers welcomed: other threads skip work nobody sees */
    uint64_t next_id;
    lws_sorted_usec_list_t tick; /* the hello deadline of the head of waiting */
};

/* Per-connection state of a /monitor connection: lws allocates it. */
struct srv_watcher {
    struct srv *srv;
    struct lws *wsi;
    uint64_t id;
    struct srv_list link;       /* srv->mon.all */
    struct srv_list hello_link; /* srv->mon.waiting while it owes a hello */
    int64_t hello_deadline;     /* proto_mono_ms */
    int hello_pending;          /* its token is at the reader */
    struct srv_principal *who;  /* the supervisor, once welcomed */
    struct srv_alive alive;     /* srv->alive: its pings */
    struct srv_peer *peer;      /* its address (counted in conns); NULL when out of memory */
    char *rx;                   /* the message being assembled (SRV_MONITOR_MSG_MAX) */
    size_t rx_len;
    struct srv_list queue;      /* struct srv_wmsg, oldest first */
    size_t queued_bytes;
    void *sent;                 /* the last message written; freed at the next writable */
    int close_code;             /* nonzero: closing once the queue is written */
    char close_why[64];
};

/* LWS_CALLBACK_* handling of the visitsync.monitor protocol. */
int srv_monitor_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len);
/* Makes the monitor's lists empty. Main thread, before lws starts. */
void srv_monitor_init(struct srv *srv);
/* Closes every watcher with code (dropping queued events). */
void srv_monitor_close_all(struct srv *srv, int code, const char *why);
/* True when a welcomed watcher may want events. Any thread (a relaxed load). */
static inline int srv_monitor_watched(struct srv_monitor *mon)
{
    return atomic_load_explicit(&mon->n_welcomed, memory_order_relaxed) > 0;
}
/*
 * Queues the event json (len bytes, a whole message) to every welcomed
 * watcher whose scope holds one of grids[0..n_grids); an unlimited watcher
 * gets every event, and only it gets an event with no grids. A watcher
 * whose queue would pass SRV_MONITOR_QUEUE_MAX is closed (4413).
 */
void srv_monitor_publish(struct srv *srv, const char *const *grids, size_t n_grids,
                         const char *json, size_t len);
/* "online" or "offline" of the device of who (srv_session.c). */
void srv_monitor_presence(struct srv *srv, const struct db_principal *who, int online);
/* The events of a committed push: "push", then one "conflict" per conflicted field. */
void srv_monitor_push(struct srv *srv, const struct srv_job *job);
/* The event of an answered pull. */
void srv_monitor_pull(struct srv *srv, const struct srv_job *job);
/* The "enrolled" and "revoked" events the writer's poll noted in job. */
void srv_monitor_devices(struct srv *srv, const struct srv_job *job);
/* A monitor hello's answer came back from the reader: welcome or refuse. */
void srv_monitor_hello_done(struct srv *srv, struct srv_job *job);
/*
 * Checks the API token of a monitor hello (job->note) against the store:
 * job->who is set for a supervisor's or admin's token, job->refused
 * otherwise; job->rc for a store failure. Reader thread.
 */
void srv_monitor_check(struct srv *srv, struct db *db, struct srv_job *job);
/*
 * What the writer notes for the monitor: a conflicted field of a push, a
 * device enrolled (enrolled 1) or revoked (0). Return 0 or -1 (no memory:
 * the event is lost, nothing else). The thread that owns job.
 */
int srv_monitor_note_conflict(struct srv_job *job, const char *collection, const char *record,
                              const char *field, const char *grid);
int srv_monitor_note_device(struct srv_job *job, int enrolled, const struct db_principal *p);
/* Frees a note. NULL is allowed. Any thread. */
void srv_monitor_note_free(struct srv_monitor_note *note);

/* ---- the server --------------------------------------------------------- */

struct srv_session;

enum srv_phase { SRV_RUNNING, SRV_DRAINING, SRV_CLOSING, SRV_DONE };

#define SRV_BUCKETS 1024 /* session id hash buckets (chained) */
#define SRV_GRID_BUCKETS 256 /* grid index hash buckets (chained) */

struct srv {
    const struct srv_config *cfg;
    struct proto_schema *schema;
    struct sync_rules rules;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct db *wdb; /* the writer thread's */
    struct db *rdb; /* the reader thread's: pulls */
    struct db *adb; /* the API reader thread's: supervisors' reads, monitor sign-ins */
    struct db *cdb; /* the checkpointer thread's (read-write, checkpoints only) */
    struct srv_queue writes, reads, api_reads, done;
    struct srv_queue ckpt_stop; /* never holds a job: stopping it stops the checkpointer */
    pthread_t writer, reader, api_reader, ckpt;
    int writer_started, reader_started, api_reader_started, ckpt_started;
    atomic_int db_ok;          /* 0 after the writer failed to commit */
    atomic_int stop_requested; /* set by the signal thread */
    int64_t started_ms;
    char epoch[DB_EPOCH_SIZE]; /* the store's (db_epoch), read at start; read-only, any thread */
    struct srv_list alive; /* srv_alive.link: every WebSocket, oldest sign of life first */

    /* Service thread only; the lists are set up by srv_sessions_init. */
    struct srv_list by_id[SRV_BUCKETS];     /* sessions by id (srv_session.id_link) */
    struct srv_list by_device[SRV_BUCKETS]; /* each device's live session (device_link) */
    struct srv_list sessions;               /* every registered session, newest first */
    size_t n_sessions;
    /*
     * The poke fan-out's index (srv_session.c): signed-in sessions by the
     * grids of their scope, so that a push into one grid visits that grid's
     * tablets only. A session whose scope is every grid (a supervisor's or
     * admin's device), or whose entries could not be allocated, is on
     * unindexed instead, and is checked against the scope at each push.
     */
    struct srv_list grids[SRV_GRID_BUCKETS]; /* struct srv_grid.link */
    struct srv_list unindexed;               /* srv_session.unindexed_link */
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
    /* HTTP requests a job is answering (srv_http_pss.link), found again by id. */
    struct srv_list http_waiting;
    uint64_t next_http;
    struct srv_monitor mon;
    struct srv_metrics metrics; /* any thread: relaxed atomics */
};

/* ---- sessions (srv_session.c, service thread) ---------------------------- */

/* The signed-in sessions whose scope lists one grid; freed when the last leaves. */
struct srv_grid {
    struct srv_list link;     /* its bucket of srv.grids */
    struct srv_list members;  /* struct srv_grid_member.link */
    char name[PROTO_ID_MAX + 1];
};

/* One session's place in the list of one grid of its scope. */
struct srv_grid_member {
    struct srv_list link; /* srv_grid.members */
    struct srv_grid *grid;
    struct srv_session *s;
};

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
    /* In the grid index from its welcome until it closes: one of these two. */
    struct srv_grid_member *grid_members; /* owned: one per grid of its scope */
    size_t n_grid_members;
    struct srv_list unindexed_link; /* srv.unindexed */

    struct srv_principal *who; /* NULL until welcome */
    struct srv_alive alive;    /* srv.alive: its pings */
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
/*
 * Counts one more bad message in a row (§2.8); the tenth closes s with
 * 4400. A photo chunk refused by the writer counts when its reply comes back.
 */
void srv_session_bad(struct srv_session *s);
/* Queues a poke (§2.5) with cursor, unless one is outstanding. 1 when queued, else 0. */
int srv_session_poke(struct srv_session *s, const char *cursor);
/* The grid index's entry of grid (its signed-in sessions), or NULL when none has it. */
struct srv_grid *srv_grid_find(struct srv *srv, const char *grid);
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

/* ---- HTTP (srv_http.c, srv_static.c; service thread) ---------------------- */

#define SRV_HTTP_BODY_MAX ((size_t)64 << 10) /* a POST body; more is 413 */
#define SRV_HTTP_CHUNK ((size_t)16 << 10)    /* body bytes per lws_write */
#define SRV_HTTP_BURST ((size_t)1 << 20)     /* body bytes per writeable callback, at most */
#define SRV_API_BODY_MAX ((size_t)64 << 20)  /* an API answer (status of 10,000 devices: ~4 MiB) */
#define SRV_WEB_FILE_MAX ((size_t)16 << 20)  /* a file served from --web DIR */
#define SRV_PATH_MAX 512                     /* a request path we route */

/* How an answer is cached and framed. */
enum srv_http_kind {
    SRV_HTTP_API,    /* Cache-Control: no-store */
    SRV_HTTP_STATIC, /* Cache-Control: no-cache, ETag; the security headers on HTML */
    SRV_HTTP_BLOB,   /* a photo: private, immutable; ETag, Accept-Ranges, a sandboxing CSP */
};

/*
 * One HTTP connection's state (lws's per-session data of the "http"
 * protocol). It carries one request at a time: keep-alive reuses it, and
 * each request starts by clearing what the last one left.
 */
struct srv_http_pss {
    struct srv *srv;
    struct lws *wsi;
    uint64_t id;          /* nonzero while a job answers it (linked in srv.http_waiting) */
    struct srv_list link; /* srv.http_waiting */

    /* A POST body being received. */
    int posting;
    int64_t conflict_id;
    char *rx;
    size_t rx_len;
    int rx_over; /* more than SRV_HTTP_BODY_MAX came */

    /* The answer: headers at the first writeable callback, then the body in chunks. */
    int answering;
    int headers_sent;
    int body_sent; /* the last byte went to lws; done once lws has sent it all */
    int close_after; /* drop the connection once answered (unread body bytes follow) */
    unsigned int status;
    enum srv_http_kind kind;
    const char *type; /* Content-Type (static) */
    int html;
    char etag[80];      /* "" for none */
    char range[64];     /* Content-Range, "" for none */
    char location[SRV_PATH_MAX + 2]; /* a redirect's target, "" for none */
    struct proto_buf owned; /* a body this connection owns (a job's, a file's) */
    const char *body;
    size_t body_len, sent;
};

/* lws's callback of the "http" protocol: routing, API requests, static files. */
int srv_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
/* Makes srv's table of waiting HTTP requests empty. Main thread, before lws starts. */
void srv_http_init(struct srv *srv);
/*
 * Answers a waiting HTTP request with a finished job's status and body
 * (moved out of job->out) and the Content-Type type; a request that closed
 * meanwhile is not found and the answer is dropped.
 */
void srv_http_answer_job(struct srv *srv, struct srv_job *job, const char *type);
/*
 * Starts answering pss: status, a body of len bytes (borrowed: it must
 * live as long as pss's answer, e.g. pss->owned or a constant), how it is
 * cached, and its Content-Type. Returns 0, or -1 when lws failed.
 */
int srv_http_answer(struct srv_http_pss *pss, unsigned int status, enum srv_http_kind kind,
                    const char *type, const char *body, size_t len);
/* Answers a constant JSON body (no-store). */
int srv_http_answer_json(struct srv_http_pss *pss, unsigned int status, const char *json);
/* The body of every 404: {"error":"not_found"}. */
extern const char srv_http_not_found[];
/*
 * Serves path (GET) from the embedded web apps or, with --web DIR, from
 * DIR: "/x/" means "/x/index.html", a directory without its "/" is
 * redirected (301), If-None-Match answers 304. srv_static.c.
 */
int srv_static_serve(struct srv_http_pss *pss, const char *path);

/* ---- the HTTP API's jobs (srv_api.c, srv_api_json.c) ------------------------ */

/*
 * Loads the principal of a supervisor's or admin's API token (its
 * SHA-256 against the store): 0 with *out filled (db_principal_clear), 1
 * when the token is unknown, revoked or not a supervisor's or admin's, or
 * a negative store code. Any worker thread, on the db it owns.
 */
int srv_api_auth(struct db *db, const char *token, struct db_principal *out);
/* Applies a resolve inside the writer's group; returns 0 or a negative store code. */
int srv_api_resolve_apply(struct srv *srv, struct db *db, struct srv_job *job, int64_t now_ms);
/* Writes the resolve's answer once the group committed (or failed). Writer thread. */
void srv_api_resolve_finish(struct srv *srv, struct srv_job *job);
/* A finished API job: answers its HTTP request, and a resolve tells the monitor. Service thread. */
void srv_api_complete(struct srv *srv, struct srv_job *job);
/*
 * The documents (srv_api_json.c). Each replaces what out held and returns
 * 0, a PROTO_E* code, or (those that read the store, on srv->adb: the
 * API reader thread) a DB_E* code. who's scope limits what they show.
 */
/* {"error":error,"message":message}; message may be NULL. Any thread. */
int srv_api_json_error(struct proto_buf *out, const char *error, const char *message);
/* {"conflict":{…},"rev":rev}: a resolve's answer. Writer thread. */
int srv_api_json_conflict(struct proto_buf *out, const struct db_conflict *c, int64_t rev);
/* GET /api/status; online: n_online device ids, each NUL-terminated, sorted. */
int srv_api_json_status(struct srv *srv, const struct db_principal *who, const char *online,
                        size_t n_online, struct proto_buf *out);
/* GET /api/conflicts with a's status, after and limit. */
int srv_api_json_conflicts(struct srv *srv, const struct db_principal *who,
                           const struct srv_api_args *a, struct proto_buf *out);
/* GET /api/report. */
int srv_api_json_report(struct srv *srv, const struct db_principal *who, struct proto_buf *out);

/* ---- photos (srv_blob.c) ------------------------------------------------------ */

/*
 * The session side (srv_session.c: on_offer, on_chunk) checks a blob_offer
 * against --max-blob and a chunk's shape, then hands a writer job with a
 * reply slot; srv_http.c turns GET /blobs/<sha256> into a reader job; the
 * rest is here.
 */
/* Applies a photo job inside the writer's group; 0 or a negative store code. Writer thread. */
int srv_blob_apply(struct db *db, struct srv_job *job, int64_t now_ms);
/* Writes a photo job's reply once the group committed (or failed). Writer thread. */
void srv_blob_finish(struct srv_job *job);
/* A photo job came back: its reply to the session (and §2.8's count). Service thread. */
void srv_blob_complete(struct srv *srv, struct srv_job *job);
/* Answers GET /blobs into job (status, headers, body). API reader thread, on srv->adb. */
void srv_blob_get(struct srv *srv, struct srv_job *job);

/* ---- workers ------------------------------------------------------------ */

/* The writer thread's body (srv_writer.c); arg is struct srv. */
void *srv_writer_main(void *arg);
/* The reader thread's body (srv_reader.c): pulls; arg is struct srv. */
void *srv_reader_main(void *arg);
/*
 * The API reader thread's body (srv_api.c): the supervisors' GETs, /metrics
 * and monitor sign-ins, on a connection of their own, so a report over a
 * large store never delays a tablet's pull. arg is struct srv.
 */
void *srv_api_main(void *arg);
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
