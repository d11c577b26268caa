/*
 * srv_main.c — srv_run: configuration checks, the lws context, the threads,
 * and the graceful stop.
 *
 * Threads: the calling thread becomes the lws service thread; it starts the
 * writer (read-write store), the reader (read-only store, pulls), the API
 * reader (read-only store, supervisors' reads and monitor sign-ins), the
 * checkpointer (its own read-write connection, PASSIVE WAL checkpoints) and
 * a signal thread that turns SIGINT/SIGTERM into a flag plus
 * lws_cancel_service(). Shutdown follows docs/architecture.md: stop reading,
 * let in-flight work commit and its replies be written (bounded by
 * SRV_DRAIN_MS), close every session with 1001 (bounded by SRV_CLOSE_MS),
 * stop the queues, join the workers, destroy the lws context, close the
 * store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "srv_internal.h"

#define SRV_SCHEMA_FILE_MAX ((size_t)4 << 20)
#define SRV_TICK_US (50 * LWS_US_PER_MS)
/*
 * File descriptors the server asks for (each connection holds one). Debian's
 * default soft limit of 1024 caps it near a thousand connections, and past
 * the limit lws retries accept() in a tight loop. lws sizes its descriptor
 * table from the limit when the context is created, so it is raised first.
 */
#define SRV_NOFILE_WANT 65536
#define SRV_NOFILE_WARN 4096

/* Any thread. */
void srv_config_init(struct srv_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "%s", SRV_DEFAULT_HOST);
    c->port = SRV_DEFAULT_PORT;
    c->max_skew_ms = SYNC_DEFAULT_MAX_SKEW_MS;
    c->max_batch = PROTO_MAX_BATCH;
    c->max_message = PROTO_MAX_MESSAGE;
    c->max_blob = PROTO_BLOB_MAX_DEFAULT;
    c->max_conn_per_ip = SRV_DEFAULT_MAX_CONN_PER_IP;
    c->ping_s = SRV_DEFAULT_PING_S;
    c->idle_s = SRV_DEFAULT_IDLE_S;
}

/* Any thread. */
int srv_parse_listen(struct srv_config *c, const char *arg, char *err, size_t errsize)
{
    const char *colon, *host = arg;
    size_t host_len;
    char *end;
    long port;

    if (arg[0] == '[') { /* [v6]:port */
        const char *close = strchr(arg, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errsize, "--listen %s: write an IPv6 address as [ADDR]:PORT", arg);
            return -1;
        }
        host = arg + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (colon == NULL) {
            snprintf(err, errsize, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:8080", arg);
            return -1;
        }
        host_len = (size_t)(colon - arg);
    }
    if (host_len == 0 || host_len >= sizeof c->host) {
        snprintf(err, errsize, "--listen %s: the host is empty or too long", arg);
        return -1;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 || port > 65535) {
        snprintf(err, errsize, "--listen %s: the port must be a number from 0 to 65535", arg);
        return -1;
    }
    memcpy(c->host, host, host_len);
    c->host[host_len] = '\0';
    c->port = (int)port;
    return 0;
}

/* Any thread. */
int srv_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* The address lws binds: an IP literal ("localhost" means 127.0.0.1). */

/* A retry policy with no hangup: lws arms no validity timer per connection. */
static const lws_retry_bo_t no_lws_keepalive;
static const char *bind_address(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcmp(host, "localhost") == 0)
        return "127.0.0.1";
    if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
        return host;
    return NULL;
}

/* Checks what the command line cannot: host, TLS files, limits. Main thread. */
static int check_config(const struct srv_config *c)
{
    if (bind_address(c->host) == NULL) {
        fprintf(stderr, "visitsync: --listen %s: the host must be an IP address or localhost\n",
                c->host);
        return SRV_EXIT_USAGE;
    }
    if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
        fprintf(stderr, "visitsync: TLS needs both --tls-cert and --tls-key\n");
        return SRV_EXIT_USAGE;
    }
    if (c->tls_cert != NULL && access(c->tls_cert, R_OK) != 0) {
        fprintf(stderr, "visitsync: --tls-cert %s: %s\n", c->tls_cert, strerror(errno));
        return SRV_EXIT_USAGE;
    }
    if (c->tls_key != NULL && access(c->tls_key, R_OK) != 0) {
        fprintf(stderr, "visitsync: --tls-key %s: %s\n", c->tls_key, strerror(errno));
        return SRV_EXIT_USAGE;
    }
    if (!srv_host_is_loopback(c->host) && c->tls_cert == NULL && !c->insecure) {
        fprintf(stderr,
                "visitsync: refusing to listen on %s without TLS: device tokens would cross "
                "the network in clear text; give --tls-cert and --tls-key, or --insecure if a "
                "TLS proxy is in front\n",
                c->host);
        return SRV_EXIT_USAGE;
    }
    if (c->web_dir != NULL && access(c->web_dir, R_OK | X_OK) != 0) {
        fprintf(stderr, "visitsync: --web %s: %s\n", c->web_dir, strerror(errno));
        return SRV_EXIT_USAGE;
    }
    if (c->max_batch < 1 || c->max_message < 1024 || c->max_message > ((int64_t)1 << 30) ||
        c->max_skew_ms < 0) {
        fprintf(stderr, "visitsync: --max-batch must be at least 1, --max-message between "
                        "1024 and 1073741824 bytes, --max-skew not negative\n");
        return SRV_EXIT_USAGE;
    }
    if (c->max_blob < 1 || c->max_blob > SRV_MAX_BLOB_CEILING) {
        fprintf(stderr, "visitsync: --max-blob must be from 1 to 67108864 bytes\n");
        return SRV_EXIT_USAGE;
    }
    if (c->max_conn_per_ip < 0) {
        fprintf(stderr, "visitsync: --max-conn-per-ip must not be negative (0: no cap)\n");
        return SRV_EXIT_USAGE;
    }
    if (c->ping_s < 1 || c->idle_s <= c->ping_s || c->idle_s > SRV_KEEPALIVE_MAX_S) {
        fprintf(stderr,
                "visitsync: --ping-interval %d, --idle-timeout %d: the ping interval must be at "
                "least 1 s and the idle timeout longer than it, at most %d s\n",
                c->ping_s, c->idle_s, SRV_KEEPALIVE_MAX_S);
        return SRV_EXIT_USAGE;
    }
    return SRV_EXIT_OK;
}

/* Loads --schema or the built-in schema. Main thread. */
static int load_schema(const struct srv_config *c, struct proto_schema **out)
{
    struct proto_fault fault;
    char *text = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int rc = SRV_EXIT_USAGE;

    memset(&fault, 0, sizeof fault);
    if (c->schema_path == NULL) {
        if (proto_schema_parse(proto_default_schema_json, strlen(proto_default_schema_json), out,
                               &fault) != 0) {
            fprintf(stderr, "visitsync: the built-in schema is invalid: %s: %s\n", fault.field,
                    fault.message);
            return SRV_EXIT_RUNTIME;
        }
        return SRV_EXIT_OK;
    }
    f = fopen(c->schema_path, "rb");
    if (f == NULL) {
        fprintf(stderr, "visitsync: --schema %s: %s\n", c->schema_path, strerror(errno));
        goto out;
    }
    text = malloc(SRV_SCHEMA_FILE_MAX + 1);
    if (text == NULL) {
        fprintf(stderr, "visitsync: --schema %s: out of memory\n", c->schema_path);
        rc = SRV_EXIT_RUNTIME;
        goto out;
    }
    len = fread(text, 1, SRV_SCHEMA_FILE_MAX + 1, f);
    if (ferror(f) || len > SRV_SCHEMA_FILE_MAX) {
        fprintf(stderr, "visitsync: --schema %s: %s\n", c->schema_path,
                ferror(f) ? "could not be read" : "larger than 4 MiB");
        goto out;
    }
    if (proto_schema_parse(text, len, out, &fault) != 0) {
        /* Name the member once: protocol/'s sentences often start with it already. */
        int named = fault.field[0] == '\0' ||
                    strncmp(fault.message, fault.field, strlen(fault.field)) == 0;
        fprintf(stderr, "visitsync: --schema %s: %s%s%s\n", c->schema_path,
                named ? "" : fault.field, named ? "" : ": ", fault.message);
        goto out;
    }
    rc = SRV_EXIT_OK;
out:
    free(text);
    if (f != NULL)
        fclose(f);
    return rc;
}

/* ---- the graceful stop (service thread) ----------------------------------- */

static void phase_step(struct srv *srv)
{
    int64_t now = proto_mono_ms();

    if (srv->phase == SRV_DRAINING && (srv_sessions_idle(srv) || now >= srv->phase_deadline)) {
        srv_sessions_close_all(srv, SRV_CLOSE_GOING_AWAY, "server stopping");
        srv_monitor_close_all(srv, SRV_CLOSE_GOING_AWAY, "server stopping");
        srv->phase = SRV_CLOSING;
        now = proto_mono_ms(); /* closing thousands of sessions takes a while */
        srv->phase_deadline = now + SRV_CLOSE_MS;
    }
    if (srv->phase == SRV_CLOSING &&
        ((srv->n_sessions == 0 && srv->mon.n == 0) || now >= srv->phase_deadline)) {
        srv->phase = SRV_DONE;
        /* A sul callback runs before lws polls: make that poll return at once. */
        lws_cancel_service(srv->ctx);
    }
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct srv *srv = lws_container_of(sul, struct srv, tick);

    phase_step(srv);
    if (srv->phase != SRV_DONE)
        lws_sul_schedule(srv->ctx, 0, &srv->tick, on_tick, SRV_TICK_US);
}

/*
 * Service thread, on LWS_CALLBACK_EVENT_WAIT_CANCELLED after the completions
 * are drained (the signal thread wakes lws the same way the workers do).
 */
void srv_stop_poll(struct srv *srv)
{
    if (srv->phase == SRV_RUNNING && atomic_load(&srv->stop_requested)) {
        srv_log(SRV_LOG_NOTICE, "stopping: finishing in-flight work of %zu sessions",
                srv->n_sessions);
        srv->phase = SRV_DRAINING;
        srv->phase_deadline = proto_mono_ms() + SRV_DRAIN_MS;
        srv_sessions_flow(srv); /* stop reading new messages */
        lws_sul_schedule(srv->ctx, 0, &srv->tick, on_tick, SRV_TICK_US);
    }
    if (srv->phase != SRV_RUNNING)
        phase_step(srv);
}

/* ---- the signal thread ---------------------------------------------------- */

struct signal_ctx {
    struct srv *srv;
    sigset_t set;
};

/* Waits for SIGINT/SIGTERM (SIGUSR1 ends it); only sets a flag and wakes lws. */
static void *signal_main(void *arg)
{
    struct signal_ctx *sc = arg;
    int sig;

    for (;;) {
        if (sigwait(&sc->set, &sig) != 0)
            continue;
        if (sig == SIGUSR1)
            break;
        atomic_store(&sc->srv->stop_requested, 1);
        lws_cancel_service(sc->srv->ctx);
    }
    return NULL;
}

/* ---- lws setup ------------------------------------------------------------ */

/*
 * rx_buffer_size is not a message limit (messages are assembled in the
 * session): it is the per-connection receive buffer lws allocates, so it is
 * kept small for the many idle tablets a township has connected.
 */
static const struct lws_protocols srv_protocols[] = {
    {"http", srv_http_callback, sizeof(struct srv_http_pss), 0, 0, NULL, 0},
    {SRV_SUBPROTOCOL, srv_ws_callback, sizeof(struct srv_session), 4096, 0, NULL, 0},
    {SRV_MONITOR_SUBPROTOCOL, srv_monitor_callback, sizeof(struct srv_watcher), 4096, 0, NULL,
     0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/*
 * No permessage-deflate: lws 4.1.6 inflates wrongly when several compressing
 * clients send at once (zlib errors, then an abort; upstream issue 2120), and
 * Debian ships that version. Without info.extensions every client, browsers
 * included, negotiates no compression and works uncompressed.
 */

/* Raises the soft descriptor limit towards SRV_NOFILE_WANT (see there). Main thread. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < SRV_NOFILE_WANT && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < SRV_NOFILE_WANT ? rl.rlim_max : SRV_NOFILE_WANT;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < SRV_NOFILE_WARN)
        srv_log(SRV_LOG_WARN,
                "only %llu file descriptors allowed: fewer than that many connections fit; "
                "raise the limit (LimitNOFILE= in the systemd unit, ulimit -n)",
                (unsigned long long)rl.rlim_cur);
}

/* Creates the context and the listening vhost; prints the startup line. Main thread. */
static int start_lws(struct srv *srv)
{
    const struct srv_config *c = srv->cfg;
    struct lws_context_creation_info info;
    int level = LLL_ERR;
    int port;

    if (getenv("VISITSYNC_LOG") != NULL && strcmp(getenv("VISITSYNC_LOG"), "debug") == 0)
        level |= LLL_WARN | LLL_NOTICE;
    lws_set_log_level(level, srv_log_lws);

    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (c->tls_cert != NULL)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = srv;
    srv->ctx = lws_create_context(&info);
    if (srv->ctx == NULL) {
        fprintf(stderr, "visitsync: the WebSocket library could not start\n");
        return SRV_EXIT_RUNTIME;
    }

    /*
     * No mounts: every HTTP request reaches srv_http_callback, which routes
     * /healthz, /metrics and /api itself and serves the web apps (embedded,
     * or --web DIR) the same way (srv_static.c).
     */
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (c->tls_cert != NULL)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.vhost_name = "visitsync";
    info.iface = bind_address(c->host);
    info.port = c->port;
    info.protocols = srv_protocols;
    /* lws's own keep-alive off (a hangup of 0): srv_keepalive.c pings. */
    info.retry_and_idle_policy = &no_lws_keepalive;
    info.ssl_cert_filepath = c->tls_cert;
    info.ssl_private_key_filepath = c->tls_key;
    /* HTTP/1.1 only: lws ignores rx flow control on h2 streams. */
    info.alpn = "http/1.1";
    info.user = srv;
    srv->vhost = lws_create_vhost(srv->ctx, &info);
    if (srv->vhost == NULL) {
        fprintf(stderr,
                "visitsync: could not listen on %s:%d (address in use, not local, or the TLS "
                "certificate and key do not load)\n",
                c->host, c->port);
        return SRV_EXIT_RUNTIME;
    }
    port = lws_get_vhost_listen_port(srv->vhost);
    if (strchr(c->host, ':') != NULL)
        printf("visitsync listening on [%s]:%d\n", c->host, port);
    else
        printf("visitsync listening on %s:%d\n", c->host, port);
    fflush(stdout);
    return SRV_EXIT_OK;
}

/* Opens the writer's store (migrating it), the two readers' and the checkpointer's. Main thread. */
static int open_stores(struct srv *srv)
{
    char err[256] = "";

    if (db_open(srv->cfg->db_path, 0, &srv->wdb, err, sizeof err) != 0) {
        fprintf(stderr, "visitsync: cannot open the database %s: %s\n", srv->cfg->db_path,
                err[0] ? err : "unknown error");
        return SRV_EXIT_RUNTIME;
    }
    if (db_open(srv->cfg->db_path, DB_OPEN_READONLY, &srv->rdb, err, sizeof err) != 0) {
        fprintf(stderr, "visitsync: cannot open the database %s for reading: %s\n",
                srv->cfg->db_path, err[0] ? err : "unknown error");
        return SRV_EXIT_RUNTIME;
    }
    if (db_open(srv->cfg->db_path, DB_OPEN_READONLY, &srv->adb, err, sizeof err) != 0) {
        fprintf(stderr, "visitsync: cannot open the database %s for the HTTP API: %s\n",
                srv->cfg->db_path, err[0] ? err : "unknown error");
        return SRV_EXIT_RUNTIME;
    }
    if (db_open(srv->cfg->db_path, 0, &srv->cdb, err, sizeof err) != 0) {
        fprintf(stderr, "visitsync: cannot open the database %s for checkpoints: %s\n",
                srv->cfg->db_path, err[0] ? err : "unknown error");
        return SRV_EXIT_RUNTIME;
    }
    /* Constant while the server runs: a store changes its epoch only by a restore. */
    if (db_epoch(srv->wdb, srv->epoch) != 0) {
        fprintf(stderr, "visitsync: cannot read the database %s: %s\n", srv->cfg->db_path,
                db_errmsg(srv->wdb));
        return SRV_EXIT_RUNTIME;
    }
    /* The checkpointer thread copies the WAL back; this is only the bound on its growth. */
    if (db_wal_autocheckpoint(srv->wdb, SRV_WAL_AUTOCHECKPOINT) != 0) {
        fprintf(stderr, "visitsync: cannot configure the database %s: %s\n", srv->cfg->db_path,
                db_errmsg(srv->wdb));
        return SRV_EXIT_RUNTIME;
    }
    return SRV_EXIT_OK;
}

/* Main thread, once. */
int srv_run(const struct srv_config *c)
{
    struct signal_ctx sc;
    pthread_t sig_thread;
    int sig_started = 0;
    struct srv *srv;
    int rc;

    srv_log_init();
    rc = check_config(c);
    if (rc != SRV_EXIT_OK)
        return rc;
    srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        fprintf(stderr, "visitsync: out of memory\n");
        return SRV_EXIT_RUNTIME;
    }
    srv->cfg = c;
    srv_sessions_init(srv);
    srv_http_init(srv);
    srv_monitor_init(srv);
    srv->started_ms = proto_now_ms();
    atomic_init(&srv->db_ok, 1);
    atomic_init(&srv->stop_requested, 0);

    /* Block the stop signals in every thread; the signal thread waits for them. */
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGINT);
    sigaddset(&sc.set, SIGTERM);
    sigaddset(&sc.set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit (ulimit -f) must fail a commit with an error the
     * writer reports, not kill the server with every connection in it. */
    signal(SIGXFSZ, SIG_IGN);
    sc.srv = srv;

    if (srv_queue_init(&srv->writes) != 0 || srv_queue_init(&srv->reads) != 0 ||
        srv_queue_init(&srv->api_reads) != 0 ||
        srv_queue_init(&srv->done) != 0 || srv_queue_init(&srv->ckpt_stop) != 0) {
        fprintf(stderr, "visitsync: could not create the job queues\n");
        free(srv);
        return SRV_EXIT_RUNTIME;
    }
    rc = load_schema(c, &srv->schema);
    if (rc != SRV_EXIT_OK)
        goto out;
    srv->rules.schema = srv->schema;
    srv->rules.max_skew_ms = c->max_skew_ms;
    rc = open_stores(srv);
    if (rc != SRV_EXIT_OK)
        goto out;
    raise_nofile();
    rc = start_lws(srv);
    if (rc != SRV_EXIT_OK)
        goto out;

    rc = SRV_EXIT_RUNTIME;
    if (pthread_create(&srv->writer, NULL, srv_writer_main, srv) != 0) {
        fprintf(stderr, "visitsync: could not start the writer thread\n");
        goto out;
    }
    srv->writer_started = 1;
    if (pthread_create(&srv->reader, NULL, srv_reader_main, srv) != 0) {
        fprintf(stderr, "visitsync: could not start the reader thread\n");
        goto out;
    }
    srv->reader_started = 1;
    if (pthread_create(&srv->api_reader, NULL, srv_api_main, srv) != 0) {
        fprintf(stderr, "visitsync: could not start the API reader thread\n");
        goto out;
    }
    srv->api_reader_started = 1;
    if (pthread_create(&srv->ckpt, NULL, srv_checkpoint_main, srv) != 0) {
        fprintf(stderr, "visitsync: could not start the checkpointer thread\n");
        goto out;
    }
    srv->ckpt_started = 1;
    if (pthread_create(&sig_thread, NULL, signal_main, &sc) != 0) {
        fprintf(stderr, "visitsync: could not start the signal thread\n");
        goto out;
    }
    sig_started = 1;

    lws_sul_schedule(srv->ctx, 0, &srv->hello_tick, srv_hello_tick, SRV_HELLO_TICK_US);
    srv_log(SRV_LOG_NOTICE, "serving %s (schema %.12s…)", c->db_path, srv->schema->version);
    while (srv->phase != SRV_DONE)
        if (lws_service(srv->ctx, 0) < 0)
            break;
    rc = SRV_EXIT_OK;
    srv_log(SRV_LOG_NOTICE, "stopped");

out:
    srv_queue_stop(&srv->writes);
    srv_queue_stop(&srv->reads);
    srv_queue_stop(&srv->api_reads);
    if (srv->writer_started)
        pthread_join(srv->writer, NULL);
    if (srv->reader_started)
        pthread_join(srv->reader, NULL);
    if (srv->api_reader_started)
        pthread_join(srv->api_reader, NULL);
    srv_queue_stop(&srv->ckpt_stop);
    if (srv->ckpt_started)
        pthread_join(srv->ckpt, NULL);
    if (sig_started) {
        pthread_kill(sig_thread, SIGUSR1);
        pthread_join(sig_thread, NULL);
    }
    srv_queue_stop(&srv->done);
    if (srv->ctx != NULL) {
        lws_sul_cancel(&srv->tick);
        lws_sul_cancel(&srv->hello_tick);
        lws_sul_cancel(&srv->mon.tick);
        lws_context_destroy(srv->ctx);
    }
    srv_peers_free(&srv->peers); /* after the sessions' CLOSED callbacks in the destroy */
    srv_queue_destroy(&srv->writes);
    srv_queue_destroy(&srv->reads);
    srv_queue_destroy(&srv->api_reads);
    srv_queue_destroy(&srv->done);
    srv_queue_destroy(&srv->ckpt_stop);
    if (srv->cdb != NULL)
        db_close(srv->cdb);
    if (srv->rdb != NULL)
        db_close(srv->rdb);
    if (srv->adb != NULL)
        db_close(srv->adb);
    if (srv->wdb != NULL)
        db_close(srv->wdb);
    if (srv->schema != NULL)
        proto_schema_free(srv->schema);
    free(srv);
    return rc;
}
