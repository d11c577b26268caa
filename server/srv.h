/*
 * srv.h — `visitsync serve`: the WebSocket sync server of the contract
 * (shared/spec/interface.md §2.1–2.5, §2.7, §2.8) and GET /healthz (§5).
 *
 * server/ is the only module that sees libwebsockets. This header is what
 * cli/ uses: a plain configuration struct and one blocking call that runs
 * the server until SIGINT/SIGTERM. Threads and queues are internal
 * (srv_internal.h); docs/protocol.md describes the protocol as built.
 */
#ifndef VS_SRV_H
#define VS_SRV_H

#include <stddef.h>
#include <stdint.h>

#define SRV_DEFAULT_HOST "127.0.0.1"
#define SRV_DEFAULT_PORT 8080
#define SRV_HOST_MAX 64
/*
 * Connections one peer address may hold at once. High on purpose: a town's
 * tablets (184 in Xiangang) often reach the server through one NAT address.
 */
#define SRV_DEFAULT_MAX_CONN_PER_IP 512
#define SRV_DEFAULT_PING_S 30 /* keep-alive: ping this long after the last pong */
#define SRV_DEFAULT_IDLE_S 70 /* and hang up this long after it */
#define SRV_KEEPALIVE_MAX_S 65535 /* lws keeps both in 16 bits */
/* The largest --max-blob: GET /blobs reads a photo whole into memory before sending it. */
#define SRV_MAX_BLOB_CEILING ((int64_t)64 << 20)

/* Exit statuses of srv_run, as the command line reports them (§1). */
enum srv_exit { SRV_EXIT_OK = 0, SRV_EXIT_RUNTIME = 1, SRV_EXIT_USAGE = 2 };

/*
 * What `visitsync serve` was asked to do. Strings are borrowed from the
 * caller for the whole srv_run call; NULL means "not given".
 */
struct srv_config {
    const char *db_path;
    char host[SRV_HOST_MAX]; /* as written in --listen, for the startup line */
    int port;                /* 0: the system picks a free port */
    const char *tls_cert;
    const char *tls_key;
    const char *web_dir;     /* static files served at / */
    const char *schema_path; /* NULL: the built-in default schema (§4) */
    int insecure;            /* allow a non-loopback listen without TLS */
    int64_t max_skew_ms;
    int64_t max_batch;
    int64_t max_message;
    int64_t max_blob;    /* the largest photo accepted (§2.6, --max-blob), in bytes */
    int max_conn_per_ip; /* visitsync.v1 connections per peer address; 0: no cap */
    int ping_s;          /* keep-alive ping after this many seconds without a pong */
    int idle_s;          /* hang up after this many (more than ping_s) */
    const char *metrics_token; /* GET /metrics needs "Bearer" it; NULL: no auth */
};

/*
 * Fills c with the defaults of the contract (127.0.0.1:8080, 1 MiB, 500, 10 min)
 * and ours (512 connections per address, ping 30 s, hang up 70 s).
 */
void srv_config_init(struct srv_config *c);

/*
 * Parses "HOST:PORT" ("[::1]:8080" for IPv6) into c->host and c->port.
 * Returns 0, or -1 with a sentence naming the problem in err (errsize bytes).
 * Any thread.
 */
int srv_parse_listen(struct srv_config *c, const char *arg, char *err, size_t errsize);

/* True when host is a loopback address (127.0.0.0/8, ::1, localhost). */
int srv_host_is_loopback(const char *host);

/*
 * Runs the server until SIGINT or SIGTERM, then stops gracefully: in-flight
 * pushes commit and are acknowledged, sessions are closed with 1001, the
 * threads are joined. Prints "visitsync listening on HOST:PORT" on stdout
 * once the socket is bound; every error is one line on stderr. Owns nothing
 * of c. Called once, from the main thread; blocks SIGINT/SIGTERM in the
 * calling thread. Returns an srv_exit status.
 */
int srv_run(const struct srv_config *c);

#endif
