/*
 * loadgen.c — D simulated tablets against `visitsync serve` over loopback.
 *
 * Phases, each a barrier for all devices:
 *   1. connect + hello, until every device has its welcome;
 *   2. push: each device sends V visits in pushes of B changes, keeping up
 *      to K pushes in flight; an ack is the durable receipt, so ingest is
 *      counted from the results of acks, and each push's latency is the
 *      time from its send to its ack;
 *   3. pull: each device pages through its grid from cursor "0" until
 *      more=false, counting the records it receives.
 * With --updates PCT (the mixed phase), phase 2 is preceded by one that
 * creates the grids' subjects (not counted), and each change of phase 2 is,
 * by the device's seeded RNG, a new visit or (PCT %) an edit of a subject
 * or visit the device created and saw acked, with base = the rev of that
 * ack. Of the edits, --conflicts PCT % are concurrent: another device of
 * the same grid gets the twin edit (same record, field and base, another
 * value) for its next push, so the server must answer one of the two
 * `conflict`; the record is then left alone. The pull then checks that
 * every record is there with at least the rev its last ack gave: no
 * change was lost.
 * Everything runs on one thread with one epoll loop; every phase and the
 * whole run are bounded by --timeout, after which the figures so far are
 * printed. Output is "name: value" lines that bench/run.sh reads.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_K 64
#define PUSH_BUF_MAX (4u << 20)
#define MAX_TWINS 16

/* A record of the mixed phase: who created it and the newest rev an ack told. */
struct rec {
    char id[33];
    unsigned subject : 1; /* a subject (else a visit) */
    unsigned retired : 1; /* edited concurrently: no more edits of it */
    unsigned seen : 1;    /* came back in the pull */
    unsigned stale : 1;   /* came back with a rev below its last ack's */
    unsigned busy : 1;    /* an edit of it is in flight: its rev is not known yet */
    int64_t rev;          /* 0 until its creation is acked */
};

/* An edit that another device of the grid hands over: the second of a pair. */
struct twin {
    int32_t rec;
    int pick;
    int64_t base;
    uint64_t seed; /* the rng state both edits of the pair start from */
};

enum dev_state { D_CONNECTING, D_HELLO, D_READY, D_PUSHING, D_PUSHED, D_PULLING, D_PULLED, D_FAILED };

struct dev {
    struct bench_cred *cred;
    struct bench_ws *ws;
    enum dev_state state;
    struct bench_rng rng;
    int64_t next_seq;
    int64_t hlc_ms, hlc_counter;
    int pushes_total, pushes_sent, pushes_acked;
    uint64_t last_send_ns; /* for --pace-ms */
    int records_left;
    uint64_t sent_ns[MAX_K]; /* ring of send times of pushes in flight */
    int ring_head;
    int64_t created; /* records this device created that were acked applied/conflict */
    /* The mixed phase: */
    int mate;                   /* the next device of the same grid, or -1 */
    int grid_rank, grid_devs;   /* this device's place among its grid's devices */
    int n_subj, subj_first;     /* it creates R.recs[subj_first .. +n_subj) */
    int subj_sent;
    int32_t *own_visits;        /* R.recs indices of the visits it created */
    int n_own_visits;
    uint32_t *seqmap;           /* per seq from R.seq_start: rec index << 1 | is an edit */
    int n_seqmap;
    struct twin twins[MAX_TWINS];
    int n_twins;
    int edits_owed; /* edits drawn when none of its records could be edited */
    int64_t pulled;
    int pull_pages;
    char cursor[64];
};

struct run {
    struct dev *devs;
    int n_devs;
    int visits, batch, inflight, pull_limit;
    uint64_t pace_ns; /* least time between two pushes of a device; 0 = as fast as acks allow */
    int64_t seq_start;
    int n_welcomed, n_pushed, n_pulled, n_failed;
    int64_t res_applied, res_conflict, res_duplicate, res_rejected, errors;
    int printed_reject;
    uint64_t *lat_ns;
    size_t n_lat, cap_lat;
    uint64_t t_push0, t_push1, t_pull0, t_pull1;
    int64_t pulled_total;
    int64_t changes_sent;
    char *pushbuf;
    int phase; /* 1 connect, 2 push, 3 pull */
    /* The mixed phase (--updates): */
    int updates_pct, conflicts_pct;
    int making_subjects;        /* the uncounted phase that creates the subjects */
    struct rec *recs;
    int32_t n_recs, cap_recs;
    uint32_t *rec_hash;         /* open addressing, rec index + 1, 0 = empty */
    uint32_t hash_mask;
    int64_t subjects_created, edits_sent, edits_acked, pairs;
    uint64_t *ack_sent_ns;      /* --ack-log: send time of each latency sample */
};

static struct run R;

static void die_usage(const char *why)
{
    fprintf(stderr,
            "loadgen: %s\nusage: loadgen --port P --creds FILE [--host 127.0.0.1] [--devices 200]\n"
            "  [--visits 500] [--batch 50] [--inflight 4] [--timeout 120] [--server-pid PID]\n"
            "  [--db PATH] [--pull-limit 1000] [--no-pull] [--seq-start 1] [--seed S]\n"
            "  [--pace-ms MS: at most one push per device every MS ms, an open-loop load]\n"
            "  [--updates PCT --conflicts PCT: the mixed phase; see the top of loadgen.c]\n"
            "  [--ack-log FILE: one line per ack, \"send_wall_ms latency_ms\"]\n"
            "  or: loadgen --emit-docs FILE [--devices D] [--visits V] [--seed S]\n",
            why);
    exit(2);
}

/* ---- the records of the mixed phase --------------------------------------- */

static uint32_t id_hash(const char *id, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)id[i]) * 16777619u;
    return h;
}

/* The index of the record with this id, or -1. */
static int32_t rec_find(const char *id, size_t n)
{
    for (uint32_t h = id_hash(id, n) & R.hash_mask;; h = (h + 1) & R.hash_mask) {
        uint32_t v = R.rec_hash[h];
        if (!v)
            return -1;
        const char *have = R.recs[v - 1].id;
        if (strlen(have) == n && memcmp(have, id, n) == 0)
            return (int32_t)(v - 1);
    }
}

/* Adds a record (never full: the table has twice the room of R.recs). */
static int32_t rec_add(const char *id, int subject)
{
    if (R.n_recs >= R.cap_recs)
        return -1;
    int32_t i = R.n_recs++;
    struct rec *r = &R.recs[i];
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->subject = subject ? 1 : 0;
    uint32_t h = id_hash(r->id, strlen(r->id)) & R.hash_mask;
    while (R.rec_hash[h])
        h = (h + 1) & R.hash_mask;
    R.rec_hash[h] = (uint32_t)i + 1;
    return i;
}

/* A record of d's that it may edit (created and acked, no edit of it in
 * flight, not retired), or -1: a cadre edits what the tablet has synced.
 * A third of the picks go to its subjects when it has some. */
static int32_t pick_own(struct dev *d)
{
    for (int tries = 0; tries < 8; tries++) {
        int32_t i;
        if (d->n_subj && (!d->n_own_visits || bench_rng_below(&d->rng, 3) == 0))
            i = d->subj_first + (int32_t)bench_rng_below(&d->rng, (uint32_t)d->n_subj);
        else if (d->n_own_visits)
            i = d->own_visits[bench_rng_below(&d->rng, (uint32_t)d->n_own_visits)];
        else
            return -1;
        if (R.recs[i].rev > 0 && !R.recs[i].retired && !R.recs[i].busy)
            return i;
    }
    return -1;
}

/* ---- pushes -------------------------------------------------------------- */

/*
 * Chooses d's next change and writes everything of it but the closing
 * brace (seq, collection, id, base, hlc, fields) at b; returns its length,
 * or 0 when room is short. In the mixed phase it also records, under the
 * change's seq, which record it touches and whether it is an edit.
 */
static size_t put_change(struct dev *d, int64_t now, char *b, size_t room)
{
    char fields[4096], idbuf[33];
    const char *id = idbuf;
    int64_t base = 0;
    int32_t ri = -1;
    int edit = 0, subject = 0;
    size_t f;
    /* An edit drawn when none of d's records can be edited yet (none acked,
     * or all with an edit in flight) comes with a later change. */
    if (!R.making_subjects && !d->n_twins && R.updates_pct &&
        (int)bench_rng_below(&d->rng, 100) < R.updates_pct && d->edits_owed < 1000)
        d->edits_owed++;
    if (R.making_subjects) {
        ri = d->subj_first + d->subj_sent++;
        id = R.recs[ri].id;
        subject = 1;
        f = bench_subject_fields(&d->rng, d->cred->grid, fields, sizeof(fields));
    } else if (d->n_twins) {
        /* The second edit of a pair: the same field from the same base, the other side. */
        struct twin t = d->twins[--d->n_twins];
        struct bench_rng tr = {t.seed};
        ri = t.rec;
        id = R.recs[ri].id;
        subject = R.recs[ri].subject;
        base = t.base;
        edit = 1;
        f = bench_edit_fields(&tr, subject, t.pick, 1, fields, sizeof(fields));
    } else if (d->edits_owed && (ri = pick_own(d)) >= 0) {
        struct rec *r = &R.recs[ri];
        struct bench_rng er = {bench_rng_next(&d->rng)};
        int pick = (int)bench_rng_below(&d->rng, 3);
        id = r->id;
        subject = r->subject;
        base = r->rev;
        edit = 1;
        r->busy = 1;
        d->edits_owed--;
        if (R.conflicts_pct && (int)bench_rng_below(&d->rng, 100) < R.conflicts_pct) {
            /* The first device of the grid after d that still has changes to send. */
            for (int hop = 0, j = d->mate; hop < 16 && j >= 0 && j != d - R.devs;
                 hop++, j = R.devs[j].mate) {
                struct dev *m = &R.devs[j];
                if (m->state == D_PUSHING && m->n_twins < MAX_TWINS &&
                    m->records_left - m->n_twins > 0) {
                    m->twins[m->n_twins++] = (struct twin){ri, pick, base, er.s};
                    r->retired = 1;
                    R.pairs++;
                    break;
                }
            }
        }
        f = bench_edit_fields(&er, subject, pick, 0, fields, sizeof(fields));
    } else {
        bench_visit_id(&d->rng, idbuf);
        f = bench_visit_fields(&d->rng, d->cred->grid, now, fields, sizeof(fields));
        if (R.recs) {
            ri = rec_add(idbuf, 0);
            if (ri < 0)
                return 0;
            d->own_visits[d->n_own_visits++] = ri;
        }
    }
    if (!f)
        return 0;
    /* A hybrid logical clock: wall time, a counter within one ms. */
    if (now > d->hlc_ms) {
        d->hlc_ms = now;
        d->hlc_counter = 0;
    } else {
        d->hlc_counter++;
    }
    if (R.recs) {
        int64_t k = d->next_seq - R.seq_start;
        if (k < 0 || k >= d->n_seqmap)
            return 0;
        d->seqmap[k] = (uint32_t)ri << 1 | (uint32_t)edit;
        R.edits_sent += edit;
    }
    int h = snprintf(b, room,
                     "{\"seq\":%lld,\"collection\":\"%s\",\"id\":\"%s\",\"base\":%lld,"
                     "\"hlc\":[%lld,%lld],\"fields\":%s",
                     (long long)d->next_seq++, subject ? "subjects" : "visits", id,
                     (long long)base, (long long)d->hlc_ms, (long long)d->hlc_counter, fields);
    return h < 0 || (size_t)h >= room ? 0 : (size_t)h;
}

/* Builds and sends the next push of d. */
static int send_push(struct dev *d)
{
    int n = d->records_left < R.batch ? d->records_left : R.batch;
    size_t len = 0;
    char *b = R.pushbuf;
    int64_t now = bench_wall_ms();
    len += (size_t)snprintf(b, PUSH_BUF_MAX, "{\"type\":\"push\",\"req\":\"b%d\",\"changes\":[",
                            d->pushes_sent);
    for (int i = 0; i < n; i++) {
        if (i)
            b[len++] = ',';
        size_t h = put_change(d, now, b + len, PUSH_BUF_MAX - len - 4);
        if (!h)
            return -1;
        len += h;
        b[len++] = '}';
    }
    b[len++] = ']';
    b[len++] = '}';
    d->records_left -= n;
    R.changes_sent += n;
    d->sent_ns[(d->ring_head + (d->pushes_sent - d->pushes_acked)) % MAX_K] = bench_now_ns();
    d->pushes_sent++;
    if (R.t_push0 == 0)
        R.t_push0 = bench_now_ns();
    return bench_ws_send_text(d->ws, b, len);
}

static void fill_pushes(struct dev *d)
{
    while (d->state == D_PUSHING && d->records_left > 0 &&
           d->pushes_sent - d->pushes_acked < R.inflight) {
        uint64_t now = bench_now_ns();
        if (R.pace_ns && now < d->last_send_ns + R.pace_ns)
            return;
        d->last_send_ns = R.pace_ns ? (d->last_send_ns ? d->last_send_ns + R.pace_ns : now) : now;
        if (send_push(d) != 0) {
            fprintf(stderr, "loadgen: %s: could not send a push\n", d->cred->device);
            d->state = D_FAILED;
            R.n_failed++;
            return;
        }
    }
}

/* Counts an ack's results; in the mixed phase also keeps each record's newest rev. */
static void count_results(struct dev *d, struct bench_span results)
{
    static const char *const keys[] = {"status", "seq", "rev"};
    struct bench_span v[3], el;
    size_t pos = 0;
    int rc;
    while ((rc = bench_json_array_next(results, &pos, &el)) == 1) {
        if (bench_json_members(el.p, el.n, keys, v, 3) != 0)
            continue;
        int ok = 0;
        if (bench_json_str_eq(v[0], "applied")) {
            R.res_applied++;
            ok = 1;
        } else if (bench_json_str_eq(v[0], "conflict")) {
            R.res_conflict++;
            ok = 1;
        } else if (bench_json_str_eq(v[0], "duplicate")) {
            R.res_duplicate++;
        } else {
            R.res_rejected++;
            if (!R.printed_reject++)
                fprintf(stderr, "loadgen: first rejected change: %.*s\n", (int)el.n, el.p);
        }
        if (!ok)
            continue;
        if (!R.recs) {
            d->created++;
            continue;
        }
        int64_t k = v[1].p ? strtoll(v[1].p, NULL, 10) - R.seq_start : -1;
        if (k < 0 || k >= d->n_seqmap || !v[2].p) {
            R.errors++;
            continue;
        }
        uint32_t m = d->seqmap[k];
        struct rec *r = &R.recs[m >> 1];
        int64_t rev = strtoll(v[2].p, NULL, 10);
        if (rev > r->rev)
            r->rev = rev;
        if (m & 1) {
            R.edits_acked++;
            r->busy = 0;
        }
        else
            d->created++;
    }
}

static void on_ack(struct dev *d, struct bench_span results)
{
    uint64_t now = bench_now_ns();
    if (d->pushes_acked >= d->pushes_sent) {
        fprintf(stderr, "loadgen: %s: an ack for no push in flight\n", d->cred->device);
        return;
    }
    uint64_t sent = d->sent_ns[d->ring_head];
    d->ring_head = (d->ring_head + 1) % MAX_K;
    d->pushes_acked++;
    if (R.n_lat < R.cap_lat) {
        if (R.ack_sent_ns)
            R.ack_sent_ns[R.n_lat] = sent;
        R.lat_ns[R.n_lat++] = now - sent;
    }
    R.t_push1 = now;
    count_results(d, results);
    if (d->pushes_acked == d->pushes_total) {
        d->state = D_PUSHED;
        R.n_pushed++;
    } else {
        fill_pushes(d);
    }
}

/* ---- pulls --------------------------------------------------------------- */

static int send_pull(struct dev *d)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "{\"type\":\"pull\",\"req\":\"p%d\",\"since\":\"%s\",\"limit\":%d}",
                     d->pull_pages, d->cursor, R.pull_limit);
    return bench_ws_send_text(d->ws, msg, (size_t)n);
}

static void on_changes(struct dev *d, struct bench_span cursor, struct bench_span more,
                       struct bench_span changes)
{
    static const char *const keys[] = {"id", "rev"};
    struct bench_span el, v[2];
    size_t pos = 0;
    int64_t k = 0;
    while (bench_json_array_next(changes, &pos, &el) == 1) {
        k++;
        /* The mixed phase's check: every record at least at its last acked rev. */
        if (!R.recs || bench_json_members(el.p, el.n, keys, v, 2) != 0 || !v[0].p ||
            v[0].n < 2)
            continue;
        int32_t i = rec_find(v[0].p + 1, v[0].n - 2);
        if (i < 0)
            continue;
        R.recs[i].seen = 1;
        if (!v[1].p || strtoll(v[1].p, NULL, 10) < R.recs[i].rev)
            R.recs[i].stale = 1;
    }
    d->pulled += k;
    R.pulled_total += k;
    d->pull_pages++;
    R.t_pull1 = bench_now_ns();
    int is_more = more.p && more.n == 4 && memcmp(more.p, "true", 4) == 0;
    if (bench_json_str_copy(cursor, d->cursor, sizeof(d->cursor)) != 0) {
        fprintf(stderr, "loadgen: %s: changes without a readable cursor\n", d->cred->device);
        is_more = 0;
    }
    if (is_more && d->pull_pages < 100000) {
        if (send_pull(d) == 0)
            return;
    }
    d->state = D_PULLED;
    R.n_pulled++;
}

/* ---- the connection ----------------------------------------------------- */

static void on_open(struct bench_ws *ws, void *user)
{
    struct dev *d = user;
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "{\"type\":\"hello\",\"device\":\"%s\",\"token\":\"%s\",\"app\":\"bench/1\","
                     "\"pending\":%d,\"clock\":%lld}",
                     d->cred->device, d->cred->token, R.visits, (long long)bench_wall_ms());
    if (bench_ws_send_text(ws, msg, (size_t)n) == 0)
        d->state = D_HELLO;
}

static void fail_dev(struct dev *d, const char *why)
{
    if (d->state == D_FAILED)
        return;
    if (d->state == D_PUSHING || d->state == D_PULLING || d->state < D_READY)
        R.n_failed++;
    fprintf(stderr, "loadgen: %s: %s\n", d->cred->device, why);
    d->state = D_FAILED;
}

static void on_text(struct bench_ws *ws, void *user, const char *msg, size_t len)
{
    (void)ws;
    struct dev *d = user;
    static const char *const keys[] = {"type", "results", "cursor", "more", "changes",
                                       "time", "message"};
    struct bench_span v[7];
    if (bench_json_members(msg, len, keys, v, 7) != 0) {
        fprintf(stderr, "loadgen: %s: unreadable message: %.*s\n", d->cred->device,
                (int)(len > 200 ? 200 : len), msg);
        R.errors++;
        return;
    }
    if (bench_json_str_eq(v[0], "ack")) {
        on_ack(d, v[1]);
    } else if (bench_json_str_eq(v[0], "changes")) {
        on_changes(d, v[2], v[3], v[4]);
    } else if (bench_json_str_eq(v[0], "welcome")) {
        if (d->state == D_HELLO) {
            d->state = D_READY;
            R.n_welcomed++;
            if (v[5].p)
                d->hlc_ms = strtoll(v[5].p, NULL, 10);
        }
    } else if (bench_json_str_eq(v[0], "poke")) {
        /* The benchmark pulls in its own phase; pokes are expected and ignored. */
    } else {
        R.errors++;
        if (R.errors <= 5)
            fprintf(stderr, "loadgen: %s: %.*s\n", d->cred->device, (int)(len > 300 ? 300 : len),
                    msg);
    }
}

static void on_close(struct bench_ws *ws, void *user, int code, const char *why)
{
    (void)ws;
    struct dev *d = user;
    char m[200];
    snprintf(m, sizeof(m), "connection closed (%d %s)", code, why);
    if (d->state != D_PULLED)
        fail_dev(d, m);
}

static const struct bench_ws_ops ops = {on_open, on_text, on_close};

/* ---- reporting ------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
    if (R.n_lat == 0)
        return 0;
    size_t i = (size_t)(p * (double)(R.n_lat - 1) + 0.5);
    return (double)R.lat_ns[i] / 1e6;
}

static double secs(uint64_t a, uint64_t b)
{
    return b > a ? (double)(b - a) / 1e9 : 0;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- --emit-docs: the same records for the peer ---------------------------- */

static int emit_docs(const char *path, int devices, int visits, uint64_t seed)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "loadgen: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    int64_t now = bench_wall_ms();
    char fields[4096];
    for (int i = 0; i < devices; i++) {
        struct bench_rng rng = {seed * 1000003u + (uint64_t)i};
        char grid[8];
        bench_grid_name(i, grid);
        for (int k = 0; k < visits; k++) {
            char id[33];
            bench_visit_id(&rng, id);
            size_t n = bench_visit_fields(&rng, grid, now, fields, sizeof(fields));
            /* A CouchDB doc: the fields plus _id and the collection. */
            fprintf(f, "{\"_id\":\"%s\",\"collection\":\"visits\",%s\n", id, fields + 1);
            (void)n;
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "loadgen: writing %s failed\n", path);
        return 1;
    }
    return 0;
}

/* ---- the push phases --------------------------------------------------------- */

/* The number of a bench grid "g01".."g12", or 0 for another name. */
static int grid_no(const char *grid)
{
    int g = grid[0] == 'g' ? atoi(grid + 1) : 0;
    return g >= 1 && g <= BENCH_GRIDS ? g : 0;
}

/*
 * Prepares the mixed phase before the devices connect: each device's mate
 * (the next device of its grid), its share of its grid's BENCH_SUBJECTS
 * subjects (a grid's devices take them round robin; bench grids only), the
 * table of records with room for every subject and visit, and each
 * device's map from seq to record. Returns 0, or -1 when out of memory.
 */
static int mixed_setup(const struct bench_cred *cr)
{
    int count[BENCH_GRIDS + 1] = {0};
    int64_t cap = 0;
    for (int i = 0; i < R.n_devs; i++) {
        int g = grid_no(cr[i].grid);
        R.devs[i].grid_rank = g ? count[g]++ : 0;
    }
    for (int i = 0; i < R.n_devs; i++) {
        struct dev *d = &R.devs[i];
        int g = grid_no(cr[i].grid);
        d->grid_devs = g ? count[g] : 0;
        d->n_subj = g && d->grid_rank < BENCH_SUBJECTS
                        ? (BENCH_SUBJECTS - 1 - d->grid_rank) / d->grid_devs + 1
                        : 0;
        d->mate = -1;
        for (int k = 1; k <= 64 && k < R.n_devs; k++) {
            int j = (i + k) % R.n_devs;
            if (strcmp(cr[j].grid, cr[i].grid) == 0) {
                d->mate = j;
                break;
            }
        }
        cap += d->n_subj + R.visits;
    }
    if (cap > (1 << 28))
        return -1;
    uint32_t hsize = 1024;
    while (hsize < 2 * (uint32_t)cap)
        hsize *= 2;
    R.cap_recs = (int32_t)cap;
    R.recs = calloc((size_t)cap, sizeof(*R.recs));
    R.rec_hash = calloc(hsize, sizeof(*R.rec_hash));
    R.hash_mask = hsize - 1;
    if (!R.recs || !R.rec_hash)
        return -1;
    for (int i = 0; i < R.n_devs; i++) {
        struct dev *d = &R.devs[i];
        d->subj_first = R.n_recs;
        for (int k = 0; k < d->n_subj; k++) {
            char id[24];
            bench_subject_id(cr[i].grid, d->grid_rank + 1 + k * d->grid_devs, id);
            rec_add(id, 1);
        }
        d->n_seqmap = d->n_subj + R.visits;
        d->seqmap = calloc((size_t)d->n_seqmap, sizeof(*d->seqmap));
        d->own_visits = calloc((size_t)R.visits, sizeof(*d->own_visits));
        if (!d->seqmap || !d->own_visits)
            return -1;
    }
    return 0;
}

/*
 * Runs one push phase until every device that is ready has its pushes
 * acked: the mixed phase's subjects (subjects != 0) or the visits. Paced
 * devices start staggered over one period, so the offered load is even
 * rather than D pushes at the same instant every period. Returns 1 when
 * the deadline passed first, else 0.
 */
static int run_pushes(struct bench_loop *loop, uint64_t deadline, int subjects)
{
    uint64_t t_start = bench_now_ns();
    for (int i = 0; i < R.n_devs; i++) {
        struct dev *d = &R.devs[i];
        if (d->state != D_READY && d->state != D_PUSHED)
            continue;
        d->records_left = subjects ? d->n_subj : R.visits;
        d->pushes_total = (d->records_left + R.batch - 1) / R.batch;
        d->pushes_sent = d->pushes_acked = 0;
        d->ring_head = 0;
        d->last_send_ns = R.pace_ns
                              ? t_start + R.pace_ns * (uint64_t)i / (uint64_t)R.n_devs - R.pace_ns
                              : 0;
        d->state = d->records_left ? D_PUSHING : D_PUSHED;
        fill_pushes(d);
    }
    for (;;) {
        int busy = 0;
        for (int i = 0; i < R.n_devs; i++)
            busy += R.devs[i].state == D_PUSHING;
        if (!busy)
            return 0;
        if (bench_now_ns() > deadline)
            return 1;
        bench_loop_run_once(loop, R.pace_ns ? 1 : 50);
        for (int i = 0; R.pace_ns && i < R.n_devs; i++)
            fill_pushes(&R.devs[i]);
    }
    return 0;
}

/* Prints the ack latencies (sorted) as log-spaced buckets with cumulative %. */
static void print_ack_hist(void)
{
    static const double up_ms[] = {0.5, 1,  2,  3,   5,   7,   10,  15, 20,
                                   30,  50, 75, 100, 150, 200, 300, 500};
    size_t i = 0, nb = sizeof(up_ms) / sizeof(up_ms[0]);
    for (size_t b = 0; b <= nb; b++) {
        size_t n = 0;
        while (i < R.n_lat && (b == nb || (double)R.lat_ns[i] <= up_ms[b] * 1e6)) {
            i++;
            n++;
        }
        char up[16];
        if (b < nb)
            snprintf(up, sizeof(up), "%g", up_ms[b]);
        else
            snprintf(up, sizeof(up), "inf");
        printf("ack_hist: %s %zu %.2f\n", up, n,
               R.n_lat ? 100.0 * (double)i / (double)R.n_lat : 0.0);
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *creds = NULL, *db = NULL, *emit = NULL, *ack_log = NULL;
    int port = 0, timeout_s = 120, no_pull = 0;
    long server_pid = 0;
    uint64_t seed = 1;
    R.n_devs = 200;
    R.visits = 500;
    R.batch = 50;
    R.inflight = 4;
    R.pull_limit = 1000;
    R.seq_start = 1;
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},       {"port", 1, 0, 'p'},       {"creds", 1, 0, 'c'},
        {"devices", 1, 0, 'd'},    {"visits", 1, 0, 'v'},     {"batch", 1, 0, 'b'},
        {"inflight", 1, 0, 'k'},   {"timeout", 1, 0, 't'},    {"server-pid", 1, 0, 'P'},
        {"db", 1, 0, 'D'},         {"pull-limit", 1, 0, 'l'}, {"no-pull", 0, 0, 'n'},
        {"seq-start", 1, 0, 's'},  {"seed", 1, 0, 'S'},       {"emit-docs", 1, 0, 'E'},
        {"pace-ms", 1, 0, 'm'},    {"updates", 1, 0, 'u'},    {"conflicts", 1, 0, 'C'},
        {"ack-log", 1, 0, 'L'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': creds = optarg; break;
        case 'd': R.n_devs = atoi(optarg); break;
        case 'v': R.visits = atoi(optarg); break;
        case 'b': R.batch = atoi(optarg); break;
        case 'k': R.inflight = atoi(optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        case 'P': server_pid = atol(optarg); break;
        case 'D': db = optarg; break;
        case 'l': R.pull_limit = atoi(optarg); break;
        case 'n': no_pull = 1; break;
        case 's': R.seq_start = atoll(optarg); break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'E': emit = optarg; break;
        case 'm': R.pace_ns = (uint64_t)atoi(optarg) * 1000000u; break;
        case 'u': R.updates_pct = atoi(optarg); break;
        case 'C': R.conflicts_pct = atoi(optarg); break;
        case 'L': ack_log = optarg; break;
        default: die_usage("unknown option");
        }
    }
    if (R.n_devs < 1 || R.n_devs > 100000 || R.visits < 1 || R.visits > 1000000 ||
        R.batch < 1 || R.batch > 500 || R.inflight < 1 || R.inflight > MAX_K ||
        timeout_s < 1 || timeout_s > 3600 || R.pull_limit < 1 || R.pull_limit > 1000 ||
        R.updates_pct < 0 || R.updates_pct > 100 || R.conflicts_pct < 0 || R.conflicts_pct > 100)
        die_usage("a number is out of range (devices 1..100000, visits 1..1000000, "
                  "batch 1..500, inflight 1..64, timeout 1..3600 s, pull-limit 1..1000, "
                  "updates and conflicts 0..100 %)");
    if (emit)
        return emit_docs(emit, R.n_devs, R.visits, seed);
    if (port <= 0 || port > 65535 || !creds)
        die_usage("--port and --creds are required");

    struct bench_cred *cr = NULL;
    int nc = bench_creds_read(creds, R.n_devs, &cr);
    if (nc < 0)
        return 1;
    if (nc < R.n_devs) {
        fprintf(stderr, "loadgen: %s holds %d devices, %d asked for\n", creds, nc, R.n_devs);
        return 1;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    R.devs = calloc((size_t)R.n_devs, sizeof(struct dev));
    R.pushbuf = malloc(PUSH_BUF_MAX);
    R.cap_lat = (size_t)R.n_devs * (size_t)((R.visits + R.batch - 1) / R.batch);
    R.lat_ns = calloc(R.cap_lat, sizeof(uint64_t));
    if (ack_log)
        R.ack_sent_ns = calloc(R.cap_lat, sizeof(uint64_t));
    struct bench_loop *loop = NULL;
    if (!R.devs || !R.pushbuf || !R.lat_ns || (ack_log && !R.ack_sent_ns) ||
        bench_loop_new(&loop) != 0 || (R.updates_pct && mixed_setup(cr) != 0)) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    struct bench_proc ps0 = {0}, ps1 = {0}, ps2 = {0};
    if (server_pid && bench_proc_read((pid_t)server_pid, &ps0) != 0) {
        fprintf(stderr, "loadgen: no process %ld to measure\n", server_pid);
        server_pid = 0;
    }
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_s * 1000000000u;
    int timed_out = 0;

    /* Phase 1: connect and hello, at most 256 upgrades under way at once. */
    int next = 0;
    R.phase = 1;
    while (R.n_welcomed + R.n_failed < R.n_devs) {
        while (next < R.n_devs && next - R.n_welcomed - R.n_failed < 256) {
            struct dev *d = &R.devs[next];
            char err[200];
            d->cred = &cr[next];
            d->rng.s = seed * 1000003u + (uint64_t)next;
            d->next_seq = R.seq_start;
            snprintf(d->cursor, sizeof(d->cursor), "0");
            if (bench_ws_connect(loop, host, port, "/sync", "visitsync.v1", &ops, d, &d->ws, err,
                                 sizeof(err)) != 0) {
                fprintf(stderr, "loadgen: %s\n", err);
                d->state = D_FAILED;
                R.n_failed++;
            }
            next++;
        }
        if (bench_now_ns() > deadline) {
            timed_out = 1;
            break;
        }
        bench_loop_run_once(loop, 50);
    }
    int connected = R.n_welcomed;
    fprintf(stderr, "loadgen: %d of %d devices welcomed\n", connected, R.n_devs);

    /* The mixed phase's subjects first, uncounted: the figures start after. */
    if (R.recs && !timed_out) {
        uint64_t pace = R.pace_ns;
        R.pace_ns = 0;
        R.making_subjects = 1;
        timed_out = run_pushes(loop, deadline, 1);
        R.making_subjects = 0;
        R.pace_ns = pace;
        R.subjects_created = R.res_applied + R.res_conflict;
        fprintf(stderr, "loadgen: %lld subjects created\n", (long long)R.subjects_created);
        R.res_applied = R.res_conflict = R.res_duplicate = R.res_rejected = 0;
        R.n_lat = 0;
        R.t_push0 = R.t_push1 = 0;
        R.changes_sent = 0;
    }

    /* Phase 2: push. */
    R.phase = 2;
    double cpu0 = self_cpu();
    if (!timed_out)
        timed_out = run_pushes(loop, deadline, 0);
    double cpu1 = self_cpu();
    if (server_pid)
        bench_proc_read((pid_t)server_pid, &ps1);

    /* Phase 3: pull, every device from the beginning of its grid. */
    R.phase = 3;
    if (!no_pull && !timed_out) {
        R.t_pull0 = bench_now_ns();
        for (int i = 0; i < R.n_devs; i++) {
            struct dev *d = &R.devs[i];
            if (d->state == D_PUSHED) {
                d->state = D_PULLING;
                if (send_pull(d) != 0)
                    fail_dev(d, "could not send a pull");
            }
        }
        int pulling = 0;
        for (int i = 0; i < R.n_devs; i++)
            pulling += R.devs[i].state == D_PULLING;
        int done0 = R.n_pulled;
        while (R.n_pulled - done0 < pulling) {
            int live = 0;
            for (int i = 0; i < R.n_devs; i++)
                live += R.devs[i].state == D_PULLING;
            if (!live)
                break;
            if (bench_now_ns() > deadline) {
                timed_out = 1;
                break;
            }
            bench_loop_run_once(loop, 50);
        }
    }
    double cpu2 = self_cpu();
    if (server_pid)
        bench_proc_read((pid_t)server_pid, &ps2);

    /* A pull is complete when each device got every record pushed to its grid. */
    int64_t per_grid[BENCH_GRIDS + 1] = {0};
    for (int i = 0; i < R.n_devs; i++) {
        int g = atoi(R.devs[i].cred->grid + 1);
        if (g >= 1 && g <= BENCH_GRIDS)
            per_grid[g] += R.devs[i].created;
    }
    int pull_ok = 0, pull_short = 0;
    for (int i = 0; i < R.n_devs; i++) {
        struct dev *d = &R.devs[i];
        int g = atoi(d->cred->grid + 1);
        if (d->state != D_PULLED || g < 1 || g > BENCH_GRIDS)
            continue;
        if (d->pulled >= per_grid[g])
            pull_ok++;
        else
            pull_short++;
    }

    for (int i = 0; i < R.n_devs; i++)
        bench_ws_free(R.devs[i].ws, 1000);

    if (ack_log) {
        /* Wall-clock send times, to line up with the server's (strace -ttt, logs). */
        double wall0 = (double)bench_wall_ms() - (double)(bench_now_ns() - R.t_push0) / 1e6;
        FILE *f = fopen(ack_log, "w");
        for (size_t i = 0; f && i < R.n_lat; i++)
            fprintf(f, "%.3f %.3f\n",
                    wall0 + (double)((int64_t)R.ack_sent_ns[i] - (int64_t)R.t_push0) / 1e6,
                    (double)R.lat_ns[i] / 1e6);
        if (!f || fclose(f) != 0)
            fprintf(stderr, "loadgen: could not write %s\n", ack_log);
    }
    qsort(R.lat_ns, R.n_lat, sizeof(uint64_t), cmp_u64);
    int64_t ingested = R.res_applied + R.res_conflict;
    double ts = secs(R.t_push0, R.t_push1);
    double tp = secs(R.t_pull0, R.t_pull1);
    printf("devices: %d welcomed: %d failed: %d timed_out: %s\n", R.n_devs, connected,
           R.n_failed, timed_out ? "yes" : "no");
    printf("workload: visits_per_device %d batch %d inflight %d pace_ms %llu (%lld changes sent)\n",
           R.visits, R.batch, R.inflight, (unsigned long long)(R.pace_ns / 1000000u),
           (long long)R.changes_sent);
    printf("results: applied %lld conflict %lld duplicate %lld rejected %lld; other errors %lld\n",
           (long long)R.res_applied, (long long)R.res_conflict, (long long)R.res_duplicate,
           (long long)R.res_rejected, (long long)R.errors);
    printf("ingest_records: %lld\ningest_seconds: %.3f\n", (long long)ingested, ts);
    printf("ingest_records_per_s: %.0f\n", ts > 0 ? (double)ingested / ts : 0.0);
    printf("acks: %zu\nack_p50_ms: %.2f\nack_p99_ms: %.2f\nack_max_ms: %.2f\n", R.n_lat,
           pct_ms(0.50), pct_ms(0.99), R.n_lat ? (double)R.lat_ns[R.n_lat - 1] / 1e6 : 0.0);
    print_ack_hist();
    if (R.recs) {
        /* The check needs the pull: without it, "not_checked". */
        int64_t missing = 0, stale = 0;
        for (int32_t i = 0; i < R.n_recs; i++) {
            missing += R.recs[i].rev > 0 && !R.recs[i].seen;
            stale += R.recs[i].stale;
        }
        printf("mixed_subjects_created: %lld\n", (long long)R.subjects_created);
        printf("mixed_records_per_s: %.0f\n", ts > 0 ? (double)ingested / ts : 0.0);
        printf("mixed_updates: %lld (of %lld changes acked; %lld sent)\n",
               (long long)R.edits_acked, (long long)ingested, (long long)R.edits_sent);
        printf("mixed_concurrent_pairs: %lld\n", (long long)R.pairs);
        printf("mixed_conflicts: %lld\n", (long long)R.res_conflict);
        if (no_pull || timed_out)
            printf("mixed_lost: not_checked\n");
        else
            printf("mixed_lost: %lld (records missing %lld, below their acked rev %lld)\n",
                   (long long)(missing + stale), (long long)missing, (long long)stale);
    }
    if (!no_pull) {
        printf("pull_records: %lld\npull_seconds: %.3f\n", (long long)R.pulled_total, tp);
        printf("pull_records_per_s: %.0f\n", tp > 0 ? (double)R.pulled_total / tp : 0.0);
        printf("pull_complete_devices: %d of %d (short: %d)\n", pull_ok, R.n_devs, pull_short);
    }
    printf("loadgen_cpu_s: push %.2f pull %.2f\n", cpu1 - cpu0, cpu2 - cpu1);
    if (server_pid) {
        struct bench_proc last = ps2.cpu_s > 0 ? ps2 : ps1;
        printf("server_peak_rss_mib: %.1f\n", (double)last.hwm_kib / 1024.0);
        printf("server_cpu_s: push %.2f pull %.2f\n", ps1.cpu_s - ps0.cpu_s,
               ps2.cpu_s > 0 ? ps2.cpu_s - ps1.cpu_s : 0.0);
        if (ts > 0)
            printf("server_cpu_push_pct: %.0f\n", 100.0 * (ps1.cpu_s - ps0.cpu_s) / ts);
        if (tp > 0 && ps2.cpu_s > 0)
            printf("server_cpu_pull_pct: %.0f\n", 100.0 * (ps2.cpu_s - ps1.cpu_s) / tp);
    }
    if (db)
        printf("db_bytes: %lld\ndb_bytes_per_record: %.0f\n", bench_db_bytes(db),
               ingested ? (double)bench_db_bytes(db) / (double)ingested : 0.0);
    bench_loop_free(loop);
    for (int i = 0; i < R.n_devs; i++) {
        free(R.devs[i].seqmap);
        free(R.devs[i].own_visits);
    }
    free(R.recs);
    free(R.rec_hash);
    free(R.ack_sent_ns);
    free(R.lat_ns);
    free(R.pushbuf);
    free(R.devs);
    free(cr);
    return timed_out || R.n_failed ? 3 : 0;
}
