/*
 * conn.c — what idle tablets cost the server: opens N authenticated
 * connections (hello with each device's token, wait for welcome), holds
 * them for --hold seconds, reads the server's resident memory, and closes
 * them. Upgrades are started at most --concurrency at a time so the
 * listen backlog is never the thing measured. Bounded by --timeout.
 *
 * With --pushes K, the first tablet then pushes one visit into its grid K
 * times, one at a time, while every tablet answers a poke with a pull as a
 * real one does; the server's own figures of the poke fan-out (GET
 * /metrics, read before and after) give its time per push. With --sources
 * S, connections come from 127.0.0.2 .. 127.0.0.(S+1) in turn: one source
 * address has about 28,000 ephemeral ports towards the server.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct cconn {
    struct bench_cred *cred;
    struct bench_ws *ws;
    int state; /* 0 connecting, 1 hello sent, 2 welcomed, 3 failed */
    char cursor[64]; /* the feed position it pulled up to (welcome, then changes) */
};

static int n_welcomed, n_failed, n_closed_after;
/* The push phase: pokes received, pulls answered, the pusher's acks. */
static long n_pokes, n_pulled, n_acked, n_push_errors;

static void on_open(struct bench_ws *ws, void *user)
{
    struct cconn *c = user;
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "{\"type\":\"hello\",\"device\":\"%s\",\"token\":\"%s\",\"app\":\"bench-conn/1\"}",
                     c->cred->device, c->cred->token);
    if (bench_ws_send_text(ws, msg, (size_t)n) == 0)
        c->state = 1;
}

/* A poked tablet pulls from where it was, as the field app does. */
static void pull(struct bench_ws *ws, struct cconn *c)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "{\"type\":\"pull\",\"req\":\"k\",\"since\":\"%s\",\"limit\":1000}",
                     c->cursor[0] ? c->cursor : "0");
    bench_ws_send_text(ws, msg, (size_t)n);
}

static void on_text(struct bench_ws *ws, void *user, const char *msg, size_t len)
{
    struct cconn *c = user;
    static const char *const keys[] = {"type", "cursor", "more"};
    struct bench_span v[3];
    if (bench_json_members(msg, len, keys, v, 3) != 0)
        return;
    if (c->state == 1 && bench_json_str_eq(v[0], "welcome")) {
        c->state = 2;
        n_welcomed++;
        bench_json_str_copy(v[1], c->cursor, sizeof(c->cursor));
    } else if (bench_json_str_eq(v[0], "poke")) {
        n_pokes++;
        pull(ws, c);
    } else if (bench_json_str_eq(v[0], "changes")) {
        bench_json_str_copy(v[1], c->cursor, sizeof(c->cursor));
        if (v[2].p != NULL && v[2].n == 4 && memcmp(v[2].p, "true", 4) == 0)
            pull(ws, c);
        else
            n_pulled++;
    } else if (bench_json_str_eq(v[0], "ack")) {
        n_acked++;
    } else if (bench_json_str_eq(v[0], "error")) {
        if (c->state == 2)
            n_push_errors++;
        if (n_failed + n_push_errors < 4)
            fprintf(stderr, "conn: %s: %.*s\n", c->cred->device, (int)(len > 200 ? 200 : len),
                    msg);
    }
}

static void on_close(struct bench_ws *ws, void *user, int code, const char *why)
{
    (void)ws;
    struct cconn *c = user;
    if (c->state == 2) {
        n_closed_after++;
        n_welcomed--;
    }
    if (c->state != 3) {
        if (n_failed < 3)
            fprintf(stderr, "conn: %s closed (%d %s)\n", c->cred->device, code, why);
        n_failed++;
    }
    c->state = 3;
}

static const struct bench_ws_ops ops = {on_open, on_text, on_close};

/* The poke fan-out's counters of GET /metrics. */
struct poke_metrics {
    double fanouts, pokes, seconds, max_seconds;
};

/*
 * Reads the server's poke counters with one blocking GET /metrics (no
 * token: the bench server runs without --metrics-token). Returns 0, or -1
 * with a sentence on stderr.
 */
static int scrape(const char *host, int port, struct poke_metrics *out)
{
    static char buf[1 << 17];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 10};
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1, found = 0;

    memset(out, 0, sizeof(*out));
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        goto out;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
        goto out;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(buf) - 1)
            break;
    }
    buf[len] = '\0';
    static const struct {
        const char *name;
        size_t off;
    } want[] = {
        {"\nvisitsync_poke_fanouts_total ", offsetof(struct poke_metrics, fanouts)},
        {"\nvisitsync_pokes_total ", offsetof(struct poke_metrics, pokes)},
        {"\nvisitsync_poke_fanout_seconds_total ", offsetof(struct poke_metrics, seconds)},
        {"\nvisitsync_poke_fanout_max_seconds ", offsetof(struct poke_metrics, max_seconds)},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *p = strstr(buf, want[i].name);
        if (p == NULL)
            continue;
        *(double *)(void *)((char *)out + want[i].off) = strtod(p + strlen(want[i].name), NULL);
        found++;
    }
    rc = found == 4 ? 0 : -1;
out:
    if (rc != 0)
        fprintf(stderr, "conn: GET /metrics on %s:%d gave no poke figures (%zu bytes read)\n",
                host, port, len);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* True once acks answered acks pushes and pokes pokes came and were pulled. */
static int push_settled(long acks, long pokes)
{
    return n_acked + n_push_errors >= acks && n_pokes >= pokes && n_pulled >= n_pokes;
}

/*
 * The push phase: pusher pushes one new visit into its grid, pushes times,
 * each once the last one's ack came and every tablet it poked has pulled
 * (at most 20 s each). in_grid: the other welcomed tablets of its grid, so
 * the pokes a push should bring. Prints the server's fan-out figures.
 * Returns 0, or -1 when a push went unanswered or the metrics were unreadable.
 */
static int push_phase(struct bench_loop *loop, const char *host, int port, struct cconn *pusher,
                      int pushes, long in_grid, uint64_t deadline_ns)
{
    static char msg[8192];
    struct bench_rng rng = {.s = 0x9e3779b97f4a7c15ull};
    struct poke_metrics m0, m1;
    long pokes0 = n_pokes;
    uint64_t t0;
    int sent = 0;

    if (scrape(host, port, &m0) != 0)
        return -1;
    t0 = bench_now_ns();
    for (int k = 0; k < pushes && bench_now_ns() < deadline_ns; k++) {
        char id[33], fields[4096];
        int64_t now = bench_wall_ms();
        bench_visit_id(&rng, id);
        if (bench_visit_fields(&rng, pusher->cred->grid, now, fields, sizeof(fields)) == 0)
            return -1;
        int n = snprintf(msg, sizeof(msg),
                         "{\"type\":\"push\",\"req\":\"b%d\",\"changes\":[{\"seq\":%d,"
                         "\"collection\":\"visits\",\"id\":\"%s\",\"base\":0,\"hlc\":[%lld,0],"
                         "\"fields\":%s}]}",
                         k, k + 1, id, (long long)now, fields);
        if (n < 0 || (size_t)n >= sizeof(msg) || bench_ws_send_text(pusher->ws, msg, (size_t)n) != 0)
            return -1;
        sent++;
        /* Pokes only reach tablets whose last poke was pulled: every one has, by now. */
        long pokes = n_pokes + in_grid;
        uint64_t until = bench_now_ns() + 20000000000u;
        if (until > deadline_ns)
            until = deadline_ns;
        uint64_t tk = bench_now_ns();
        long k_pokes0 = n_pokes - in_grid, pulled0 = n_pulled;
        while (!push_settled(k + 1, pokes) && bench_now_ns() < until)
            bench_loop_run_once(loop, 20);
        if (!push_settled(k + 1, pokes))
            fprintf(stderr, "conn: push %d: acked %s, %ld of %ld tablets poked, %ld pulled, after %.1f s\n",
                    k + 1, n_acked > k ? "yes" : "no", n_pokes - k_pokes0, in_grid,
                    n_pulled - pulled0, (double)(bench_now_ns() - tk) / 1e9);
    }
    double wall_s = (double)(bench_now_ns() - t0) / 1e9;
    if (scrape(host, port, &m1) != 0)
        return -1;
    double fanouts = m1.fanouts - m0.fanouts;
    printf("poke_pushes: %d\npoke_pushes_acked: %ld\npoke_push_errors: %ld\n", sent, n_acked,
           n_push_errors);
    printf("poke_tablets_in_grid: %ld\n", in_grid);
    printf("poke_received_per_push: %.1f\n", sent ? (double)(n_pokes - pokes0) / sent : 0.0);
    printf("poke_phase_seconds: %.2f\n", wall_s);
    if (fanouts < 1) {
        fprintf(stderr, "conn: the server counted no poke fan-out for %d pushes\n", sent);
        return -1;
    }
    printf("pokes_per_push: %.1f\n", (m1.pokes - m0.pokes) / fanouts);
    printf("poke_fanout_us: %.1f\n", (m1.seconds - m0.seconds) * 1e6 / fanouts);
    printf("poke_fanout_max_us: %.1f\n", m1.max_seconds * 1e6);
    return n_acked == sent && n_push_errors == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *creds = NULL;
    int port = 0, count = 10000, hold = 5, timeout_s = 90, conc = 200, sources = 0, pushes = 0;
    long pid = 0;
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},    {"port", 1, 0, 'p'},        {"creds", 1, 0, 'c'},
        {"count", 1, 0, 'n'},   {"hold", 1, 0, 'H'},        {"timeout", 1, 0, 't'},
        {"server-pid", 1, 0, 'P'}, {"concurrency", 1, 0, 'C'}, {"sources", 1, 0, 'S'},
        {"pushes", 1, 0, 'k'},  {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': creds = optarg; break;
        case 'n': count = atoi(optarg); break;
        case 'H': hold = atoi(optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        case 'P': pid = atol(optarg); break;
        case 'C': conc = atoi(optarg); break;
        case 'S': sources = atoi(optarg); break;
        case 'k': pushes = atoi(optarg); break;
        default: goto usage;
        }
    }
    if (!creds || port <= 0 || port > 65535 || count < 1 || count > 100000 || hold < 0 ||
        hold > 600 || timeout_s < 1 || timeout_s > 3600 || conc < 1 || sources < 0 ||
        sources > 250 || pushes < 0 || pushes > 1000)
        goto usage;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)count + 64) {
            fprintf(stderr, "conn: the open-file limit is %llu, %d connections need more "
                            "(raise ulimit -n before running)\n",
                    (unsigned long long)rl.rlim_cur, count);
            return 1;
        }
    }
    struct bench_cred *cr = NULL;
    int nc = bench_creds_read(creds, count, &cr);
    if (nc < 0)
        return 1;
    if (nc < count) {
        fprintf(stderr, "conn: %s holds %d devices, %d asked for\n", creds, nc, count);
        return 1;
    }
    struct cconn *cs = calloc((size_t)count, sizeof(*cs));
    struct bench_loop *loop = NULL;
    if (!cs || bench_loop_new(&loop) != 0) {
        fprintf(stderr, "conn: out of memory\n");
        return 1;
    }
    struct bench_proc p0 = {0}, p1 = {0};
    if (pid && bench_proc_read((pid_t)pid, &p0) != 0) {
        fprintf(stderr, "conn: no process %ld to measure\n", pid);
        pid = 0;
    }
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)timeout_s * 1000000000u;
    int next = 0, timed_out = 0;
    while (n_welcomed + n_failed + n_closed_after < count) {
        while (next < count && next - n_welcomed - n_failed - n_closed_after < conc) {
            char err[200], src[16];
            cs[next].cred = &cr[next];
            if (sources > 0) {
                snprintf(src, sizeof(src), "127.0.0.%d", 2 + next % sources);
                bench_loop_set_source(loop, src);
            }
            if (bench_ws_connect(loop, host, port, "/sync", "visitsync.v1", &ops, &cs[next],
                                 &cs[next].ws, err, sizeof(err)) != 0) {
                fprintf(stderr, "conn: %s\n", err);
                cs[next].state = 3;
                n_failed++;
            }
            next++;
        }
        if (bench_now_ns() > deadline) {
            timed_out = 1;
            break;
        }
        bench_loop_run_once(loop, 50);
    }
    double t_open = (double)(bench_now_ns() - t0) / 1e9;
    int opened = n_welcomed;
    fprintf(stderr, "conn: %d welcomed in %.1f s; holding for %d s\n", opened, t_open, hold);
    /* Hold: keep answering pings so the server sees live, idle tablets. */
    uint64_t hold_end = bench_now_ns() + (uint64_t)hold * 1000000000u;
    while (bench_now_ns() < hold_end && bench_now_ns() < deadline + 30000000000u)
        bench_loop_run_once(loop, 100);
    if (pid)
        bench_proc_read((pid_t)pid, &p1);
    int held = n_welcomed;
    int push_failed = 0;
    if (pushes > 0) {
        long in_grid = 0;
        for (int i = 1; i < count; i++)
            in_grid += cs[i].state == 2 && strcmp(cs[i].cred->grid, cs[0].cred->grid) == 0;
        if (cs[0].state != 2) {
            fprintf(stderr, "conn: the pushing tablet %s is not signed in\n", cr[0].device);
            push_failed = 1;
        } else {
            push_failed = push_phase(loop, host, port, &cs[0], pushes, in_grid,
                                     deadline + 60000000000u) != 0;
        }
    }
    for (int i = 0; i < count; i++)
        bench_ws_free(cs[i].ws, 1000);

    printf("conn_asked: %d\nconn_welcomed: %d\nconn_still_open_after_hold: %d\nconn_failed: %d\n",
           count, opened, held, n_failed);
    printf("conn_open_seconds: %.2f\nconn_timed_out: %s\n", t_open, timed_out ? "yes" : "no");
    if (pid) {
        double base = (double)p0.rss_kib / 1024.0, now = (double)p1.rss_kib / 1024.0;
        printf("server_rss_before_mib: %.1f\n", base);
        printf("idle_rss_mib: %.1f\n", now);
        printf("idle_peak_rss_mib: %.1f\n", (double)p1.hwm_kib / 1024.0);
        if (held > 0)
            printf("idle_kib_per_connection: %.1f\n", (now - base) * 1024.0 / held);
    }
    bench_loop_free(loop);
    free(cs);
    free(cr);
    return timed_out || held < count || push_failed ? 3 : 0;
usage:
    fprintf(stderr, "usage: conn --port P --creds FILE [--count 10000] [--hold 5] [--timeout 90]\n"
                    "  [--server-pid PID] [--concurrency 200] [--host 127.0.0.1]\n"
                    "  [--sources 0..250 (from 127.0.0.2..)] [--pushes 0..1000]\n");
    return 2;
}
