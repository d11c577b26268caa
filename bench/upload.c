/*
 * upload.c — what photo upload (§2.6) costs, against what the disk alone
 * costs, in one run on one disk:
 *   upload_mb_per_s       N photos of M MiB, one after another, sent as a
 *                         tablet does (256 KiB chunks, a few in flight) by
 *                         the bench's own client (bench.h) over loopback to
 *                         `visitsync serve`, which makes each chunk durable
 *                         (SQLite commit with fsync) before answering it;
 *   file_fsync_mb_per_s   the same bytes written to a plain file in 256 KiB
 *                         chunks with fsync after each chunk (what a
 *                         content-addressed folder beside the database would
 *                         cost at the least);
 *   sqlite_chunk_mb_per_s the same bytes as 256 KiB BLOB inserts into a
 *                         SQLite file, one transaction each, WAL,
 *                         synchronous=FULL (the server's storage without the
 *                         network and the protocol);
 *   upload_ratio_vs_file  upload over plain file.
 * MB is 10^6 bytes. The photos are random bytes (nothing compresses them)
 * and each one is new to the server, so every byte is sent and stored. The
 * timed upload includes the connection and hello. The client runs on this
 * thread; the server is the one bench/run.sh started.
 * --dir must be on the same disk as the server's database, or the
 * comparison compares disks.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto_blob.h"

#define UPLOAD_CHUNK PROTO_BLOB_CHUNK_MAX
#define UPLOAD_WINDOW 4 /* chunks unanswered, as the C client sends them */

static void usage(void)
{
    fprintf(stderr, "usage: upload --port P --creds FILE --dir DIR [--photos N (8)] "
                    "[--mib M (4)] [--window W (%d)]\n", UPLOAD_WINDOW);
}

/*
 * The upload, as a tablet does it: hello, then per photo blob_offer and its
 * chunks with up to `window` unanswered, each answered by a blob_status once
 * durable; the next photo once the server says complete. Runs on the one
 * bench loop (bench.h), driven by on_text.
 */
struct up {
    struct bench_ws *ws;
    const struct bench_cred *cred;
    unsigned char **photos;
    int n, window;
    size_t size;
    int cur;             /* the photo being uploaded */
    unsigned char raw[PROTO_SHA256_BYTES];
    char hex[PROTO_SHA256_HEX + 1];
    size_t sent;         /* bytes of photos[cur] sent */
    int in_flight;       /* chunks sent and not answered */
    unsigned char *frame; /* header + one chunk */
    int done, failed;
    char why[300];
};

/* Notes the first failure: what went wrong, then detail (the server's words, or ""). */
static void up_fail(struct up *u, const char *what, const char *detail)
{
    if (u->failed || u->done)
        return;
    u->failed = 1;
    snprintf(u->why, sizeof u->why, "%s%s", what, detail);
}

/* Sends chunks of the current photo until the window is full or all are sent. */
static void up_send_chunks(struct up *u)
{
    while (u->in_flight < u->window && u->sent < u->size) {
        size_t len = u->size - u->sent < UPLOAD_CHUNK ? u->size - u->sent : UPLOAD_CHUNK;
        proto_blob_chunk_header(u->frame, u->raw, (int64_t)u->sent);
        memcpy(u->frame + PROTO_BLOB_HEADER, u->photos[u->cur] + u->sent, len);
        if (bench_ws_send_binary(u->ws, u->frame, PROTO_BLOB_HEADER + len) != 0) {
            up_fail(u, "sending a chunk failed", "");
            return;
        }
        u->sent += len;
        u->in_flight++;
    }
}

/* Offers photo i, or ends the run after the last one. */
static void up_offer(struct up *u, int i)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char msg[256];

    if (i == u->n) {
        u->done = 1;
        return;
    }
    u->cur = i;
    u->sent = 0;
    u->in_flight = 0;
    EVP_Digest(u->photos[i], u->size, md, &md_len, EVP_sha256(), NULL);
    memcpy(u->raw, md, PROTO_SHA256_BYTES);
    proto_sha256_hex(u->raw, u->hex);
    int len = snprintf(msg, sizeof msg,
                       "{\"type\":\"blob_offer\",\"req\":\"o%d\",\"sha256\":\"%s\",\"size\":%zu,"
                       "\"mime\":\"image/jpeg\"}",
                       i, u->hex, u->size);
    if (bench_ws_send_text(u->ws, msg, (size_t)len) != 0)
        up_fail(u, "sending an offer failed", "");
}

static void up_on_open(struct bench_ws *ws, void *user)
{
    struct up *u = user;
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "{\"type\":\"hello\",\"device\":\"%s\",\"token\":\"%s\",\"app\":\"bench/1\"}",
                     u->cred->device, u->cred->token);
    if (bench_ws_send_text(ws, msg, (size_t)n) != 0)
        up_fail(u, "sending hello failed", "");
}

static void up_on_text(struct bench_ws *ws, void *user, const char *msg, size_t len)
{
    static const char *const keys[] = {"type", "req", "complete"};
    struct bench_span v[3];
    struct up *u = user;
    char detail[200];
    (void)ws;

    if (bench_json_members(msg, len, keys, v, 3) != 0) {
        up_fail(u, "the server sent a message that is not a JSON object", "");
        return;
    }
    if (bench_json_str_eq(v[0], "welcome")) {
        up_offer(u, 0);
        return;
    }
    if (!bench_json_str_eq(v[0], "blob_status")) {
        snprintf(detail, sizeof detail, "%.*s", (int)(len < 180 ? len : 180), msg);
        up_fail(u, "the server answered: ", detail);
        return;
    }
    if (!v[1].p) /* a chunk's status has no req */
        u->in_flight--;
    if (v[2].p && v[2].n == 4 && memcmp(v[2].p, "true", 4) == 0)
        up_offer(u, u->cur + 1);
    else
        up_send_chunks(u);
}

static void up_on_close(struct bench_ws *ws, void *user, int code, const char *why)
{
    struct up *u = user;
    char detail[160];
    (void)ws;
    snprintf(detail, sizeof detail, "%d %s", code, why ? why : "");
    up_fail(u, "the connection closed: ", detail);
}

/* Uploads every photo through one connection; returns the seconds or -1. */
static double upload_all(int port, const struct bench_cred *cred, unsigned char **photos,
                         int n, size_t size, int window)
{
    static const struct bench_ws_ops ops = {up_on_open, up_on_text, up_on_close};
    struct up u = {.cred = cred, .photos = photos, .n = n, .size = size, .window = window};
    struct bench_loop *loop = NULL;
    char err[300];
    double secs = -1;

    if (!(u.frame = malloc(PROTO_BLOB_HEADER + UPLOAD_CHUNK)) || bench_loop_new(&loop) != 0) {
        fprintf(stderr, "upload: out of memory\n");
        goto out;
    }
    uint64_t t0 = bench_now_ns();
    if (bench_ws_connect(loop, "127.0.0.1", port, "/sync", "visitsync.v1", &ops, &u, &u.ws, err,
                         sizeof err) != 0) {
        fprintf(stderr, "upload: %s\n", err);
        goto out;
    }
    /* Bounded: 2 minutes for the whole upload, even at 1 MB/s. */
    while (!u.done && !u.failed && bench_now_ns() - t0 < 120ull * 1000000000ull)
        if (bench_loop_run_once(loop, 1000) != 0)
            up_fail(&u, "the event loop failed", "");
    if (u.done)
        secs = (double)(bench_now_ns() - t0) / 1e9;
    else
        fprintf(stderr, "upload: photo %d of %d: %s\n", u.cur + 1, n,
                u.failed ? u.why : "not done within 120 s");
out:
    bench_ws_free(u.ws, 1000);
    bench_loop_free(loop);
    free(u.frame);
    return secs;
}

/* The same bytes into a plain file, fsync after each chunk; seconds or -1. */
static double file_all(const char *dir, unsigned char **photos, int n, size_t size)
{
    char path[4096];
    double secs = -1;
    int fd;

    snprintf(path, sizeof path, "%s/upload-file.bin", dir);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "upload: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        for (size_t off = 0; off < size; off += UPLOAD_CHUNK) {
            size_t len = size - off < UPLOAD_CHUNK ? size - off : UPLOAD_CHUNK;
            if (write(fd, photos[i] + off, len) != (ssize_t)len || fsync(fd) != 0) {
                fprintf(stderr, "upload: writing %s: %s\n", path, strerror(errno));
                goto out;
            }
        }
    }
    secs = (double)(bench_now_ns() - t0) / 1e9;
out:
    close(fd);
    unlink(path);
    return secs;
}

/* The same bytes as BLOB rows, one transaction each, WAL + FULL; seconds or -1. */
static double sqlite_all(const char *dir, unsigned char **photos, int n, size_t size)
{
    char path[4096], wal[4200];
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    double secs = -1;

    snprintf(path, sizeof path, "%s/upload-sqlite.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "CREATE TABLE chunk(sha TEXT NOT NULL, off INTEGER NOT NULL,"
                         " data BLOB NOT NULL, PRIMARY KEY(sha, off));",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO chunk VALUES (?1, ?2, ?3)", -1, &ins, NULL) !=
            SQLITE_OK)
        goto out;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        for (size_t off = 0; off < size; off += UPLOAD_CHUNK) {
            size_t len = size - off < UPLOAD_CHUNK ? size - off : UPLOAD_CHUNK;
            /* A chunk is one transaction, as the server's writer commits it. */
            if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
                goto out;
            sqlite3_bind_text(ins, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, (int64_t)off);
            sqlite3_bind_blob(ins, 3, photos[i] + off, (int)len, SQLITE_STATIC);
            int rc = sqlite3_step(ins);
            sqlite3_reset(ins);
            if (rc != SQLITE_DONE || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                goto out;
        }
    }
    secs = (double)(bench_now_ns() - t0) / 1e9;
out:
    if (secs < 0)
        fprintf(stderr, "upload: SQLite in %s: %s\n", path, db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_finalize(ins);
    sqlite3_close(db);
    unlink(path);
    unlink(wal);
    return secs;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},   {"creds", required_argument, NULL, 'c'},
        {"dir", required_argument, NULL, 'd'},    {"photos", required_argument, NULL, 'n'},
        {"mib", required_argument, NULL, 'm'},    {"window", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    const char *creds_path = NULL, *dir = NULL;
    int port = 0, n = 8, mib = 4, window = UPLOAD_WINDOW, c, rc = 1;
    struct bench_cred *creds = NULL;
    unsigned char **photos = NULL;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': port = atoi(optarg); break;
        case 'c': creds_path = optarg; break;
        case 'd': dir = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'm': mib = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        default: usage(); return 2;
        }
    }
    /* Bounded: at most 64 photos of at most 20 MiB (the server's default --max-blob). */
    if (port <= 0 || port > 65535 || !creds_path || !dir || n < 1 || n > 64 || mib < 1 ||
        mib > 20 || window < 1 || window > 16) {
        usage();
        return 2;
    }
    if (bench_creds_read(creds_path, 1, &creds) < 1)
        return 1;
    size_t size = (size_t)mib * 1024 * 1024;
    struct bench_rng rng = { (uint64_t)bench_wall_ms() };
    if (!(photos = calloc((size_t)n, sizeof *photos)))
        goto out;
    for (int i = 0; i < n; i++) {
        if (!(photos[i] = malloc(size)))
            goto out;
        for (size_t off = 0; off + 8 <= size; off += 8) {
            uint64_t x = bench_rng_next(&rng);
            memcpy(photos[i] + off, &x, 8);
        }
    }
    double up = upload_all(port, &creds[0], photos, n, size, window);
    double file = file_all(dir, photos, n, size);
    double lite = sqlite_all(dir, photos, n, size);
    if (up <= 0 || file <= 0 || lite <= 0)
        goto out;
    double mb = (double)size * n / 1e6;
    printf("upload_photos: %d of %d MiB, window %d\n", n, mib, window);
    printf("upload_mb_per_s: %.1f\n", mb / up);
    printf("file_fsync_mb_per_s: %.1f\n", mb / file);
    printf("sqlite_chunk_mb_per_s: %.1f\n", mb / lite);
    printf("upload_ratio_vs_file: %.2f\n", file / up);
    rc = 0;
out:
    if (photos)
        for (int i = 0; i < n; i++)
            free(photos[i]);
    free(photos);
    free(creds);
    return rc;
}
