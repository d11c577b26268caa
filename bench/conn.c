/*
 * conn.c — what idle tablets cost the server: opens N authenticated
 * connections (hello with each device's token, wait for welcome), holds
 * them for --hold seconds, reads the server's resident memory, and closes
 * them. Upgrades are started at most --concurrency at a time so the
 * listen backlog is never the thing measured. Bounded by --timeout.
 */
#include "bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct cconn {
    struct bench_cred *cred;
    struct bench_ws *ws;
    int state; /* 0 connecting, 1 hello sent, 2 welcomed, 3 failed */
};

static int n_welcomed, n_failed, n_closed_after;

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

static void on_text(struct bench_ws *ws, void *user, const char *msg, size_t len)
{
    (void)ws;
    struct cconn *c = user;
    static const char *const keys[] = {"type"};
    struct bench_span v[1];
    if (bench_json_members(msg, len, keys, v, 1) != 0)
        return;
    if (c->state == 1 && bench_json_str_eq(v[0], "welcome")) {
        c->state = 2;
        n_welcomed++;
    } else if (bench_json_str_eq(v[0], "error") && n_failed < 3) {
        fprintf(stderr, "conn: %s: %.*s\n", c->cred->device, (int)(len > 200 ? 200 : len), msg);
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

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *creds = NULL;
    int port = 0, count = 10000, hold = 5, timeout_s = 90, conc = 200;
    long pid = 0;
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},    {"port", 1, 0, 'p'},        {"creds", 1, 0, 'c'},
        {"count", 1, 0, 'n'},   {"hold", 1, 0, 'H'},        {"timeout", 1, 0, 't'},
        {"server-pid", 1, 0, 'P'}, {"concurrency", 1, 0, 'C'}, {0, 0, 0, 0}};
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
        default: goto usage;
        }
    }
    if (!creds || port <= 0 || port > 65535 || count < 1 || count > 100000 || hold < 0 ||
        hold > 600 || timeout_s < 1 || timeout_s > 3600 || conc < 1)
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
            char err[200];
            cs[next].cred = &cr[next];
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
    return timed_out || held < count ? 3 : 0;
usage:
    fprintf(stderr, "usage: conn --port P --creds FILE [--count 10000] [--hold 5] [--timeout 90]\n"
                    "  [--server-pid PID] [--concurrency 200] [--host 127.0.0.1]\n");
    return 2;
}
