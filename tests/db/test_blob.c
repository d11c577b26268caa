/*
 * test_blob.c — photos in the store (db/blob.c): an offer starts, resumes
 * and restarts a device's own upload; chunks are kept only at have and
 * within the size; the last one verifies the bytes (complete and granted
 * to the cadre's grids, or discarded as corrupt); a second device of a
 * grid that can see the photo is answered complete at once, one of a
 * grid that cannot must upload it itself; reading serves any range from
 * the parts; a supervisor's scope limits what is found; and the status
 * counts missing photos in all and per device (the one whose change set
 * the visit's photos field last).
 *
 * The seed (t_db.c): cadre c1 (g1) with tab-c1, cadre c2 (g2, g3) with
 * tab-c2, supervisor s2 of g2 only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "db_internal.h"
#include "t_db.h"

#define PHOTO 1000003 /* not a multiple of the chunk size */
#define CHUNK 262144

static unsigned char *photo_bytes(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
    return p;
}

static void sha_hex(const unsigned char *p, size_t n, char hex[65])
{
    unsigned char d[32];
    SHA256(p, n, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static struct db_blob_state offer(struct db *db, const char *device, const char *sha,
                                  int64_t size, const char *mime)
{
    struct db_blob_state st;
    assert_int_equal(db_begin(db), 0);
    if (db_blob_offer(db, device, sha, size, mime, T_NOW, &st) != 0)
        fail_msg("db_blob_offer: %s", db_errmsg(db));
    assert_int_equal(db_commit(db), 0);
    return st;
}

static struct db_blob_chunk_result chunk(struct db *db, const char *device, const char *sha,
                                         int64_t offset, const unsigned char *data, size_t len)
{
    struct db_blob_chunk_result r;
    assert_int_equal(db_begin(db), 0);
    if (db_blob_chunk(db, device, sha, offset, data, len, T_NOW, &r) != 0)
        fail_msg("db_blob_chunk: %s", db_errmsg(db));
    assert_int_equal(db_commit(db), 0);
    return r;
}

/* Sends p[from..n) in chunks of CHUNK; returns the last verdict. */
static struct db_blob_chunk_result upload_from(struct db *db, const char *device,
                                               const char *sha, const unsigned char *p,
                                               size_t from, size_t n)
{
    struct db_blob_chunk_result r;
    memset(&r, 0, sizeof r);
    for (size_t at = from; at < n; at += CHUNK) {
        size_t len = n - at < CHUNK ? n - at : CHUNK;
        r = chunk(db, device, sha, (int64_t)at, p + at, len);
        if (at + len < n) {
            assert_int_equal(r.verdict, DB_BLOB_STORED);
            assert_int_equal(r.have, (int64_t)(at + len));
        }
    }
    return r;
}

static int64_t count(struct db *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db->core.conn, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

struct collect {
    unsigned char *buf;
    size_t len, pieces;
};

static int collect_bytes(void *ctx, const void *bytes, size_t n)
{
    struct collect *c = ctx;
    memcpy(c->buf + c->len, bytes, n);
    c->len += n;
    c->pieces++;
    return 0;
}

static void test_offer_resume_complete(void **state)
{
    struct db *db = *state;
    unsigned char *p = photo_bytes(PHOTO, 1);
    char sha[65];
    struct db_blob_state st;
    struct db_blob_chunk_result r;

    sha_hex(p, PHOTO, sha);
    st = offer(db, "tab-c1", sha, PHOTO, "image/jpeg");
    assert_int_equal(st.have, 0);
    assert_int_equal(st.complete, 0);
    /* Two chunks arrive, then the connection drops: the next offer resumes at 2 chunks. */
    assert_int_equal(chunk(db, "tab-c1", sha, 0, p, CHUNK).verdict, DB_BLOB_STORED);
    assert_int_equal(chunk(db, "tab-c1", sha, CHUNK, p + CHUNK, CHUNK).verdict, DB_BLOB_STORED);
    st = offer(db, "tab-c1", sha, PHOTO, "image/jpeg");
    assert_int_equal(st.have, 2 * CHUNK);
    assert_int_equal(st.complete, 0);
    /* A chunk at the wrong offset or past the size is refused and keeps nothing. */
    r = chunk(db, "tab-c1", sha, CHUNK, p + CHUNK, CHUNK);
    assert_int_equal(r.verdict, DB_BLOB_BAD_OFFSET);
    assert_int_equal(r.have, 2 * CHUNK);
    r = chunk(db, "tab-c1", sha, 3 * CHUNK, p, CHUNK);
    assert_int_equal(r.verdict, DB_BLOB_BAD_OFFSET);
    /* Another device never offered it. */
    assert_int_equal(chunk(db, "tab-c2", sha, 0, p, 10).verdict, DB_BLOB_NOT_OFFERED);
    r = upload_from(db, "tab-c1", sha, p, 2 * CHUNK, PHOTO);
    assert_int_equal(r.verdict, DB_BLOB_COMPLETED);
    assert_int_equal(r.have, PHOTO);
    assert_int_equal(count(db, "SELECT count(*) FROM blobs"), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_grants WHERE grid = 'g1'"), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_grants"), 1);
    /* Offered again: complete at once, no bytes needed. */
    st = offer(db, "tab-c1", sha, PHOTO, "image/jpeg");
    assert_int_equal(st.have, PHOTO);
    assert_int_equal(st.complete, 1);
    assert_int_equal(chunk(db, "tab-c1", sha, 0, p, 10).verdict, DB_BLOB_NOT_OFFERED);
    free(p);
}

static void test_size_change_and_limits(void **state)
{
    struct db *db = *state;
    unsigned char *p = photo_bytes(1000, 2);
    char sha[65];
    struct db_blob_state st;
    struct db_blob_chunk_result r;

    sha_hex(p, 1000, sha);
    offer(db, "tab-c1", sha, 2000, NULL);
    assert_int_equal(chunk(db, "tab-c1", sha, 0, p, 500).verdict, DB_BLOB_STORED);
    /* Offered with another size: the partial upload is discarded. */
    st = offer(db, "tab-c1", sha, 1000, NULL);
    assert_int_equal(st.have, 0);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_parts"), 0);
    r = chunk(db, "tab-c1", sha, 0, p, 1000);
    assert_int_equal(r.verdict, DB_BLOB_COMPLETED);
    assert_int_equal(count(db, "SELECT count(*) FROM blobs WHERE mime = 'application/octet-stream'"),
                     1);
    /* Past the size. */
    unsigned char *q = photo_bytes(100, 3);
    sha_hex(q, 100, sha);
    offer(db, "tab-c1", sha, 100, "image/png");
    r = chunk(db, "tab-c1", sha, 0, q, 60);
    assert_int_equal(r.verdict, DB_BLOB_STORED);
    r = chunk(db, "tab-c1", sha, 60, q, 41);
    assert_int_equal(r.verdict, DB_BLOB_TOO_LONG);
    assert_int_equal(r.have, 60);
    assert_int_equal(r.size, 100);
    free(p);
    free(q);
}

static void test_corrupt(void **state)
{
    struct db *db = *state;
    unsigned char *p = photo_bytes(300000, 4);
    char sha[65];
    struct db_blob_chunk_result r;

    sha_hex(p, 300000, sha);
    offer(db, "tab-c1", sha, 300000, "image/jpeg");
    p[5] ^= 1; /* one bit flipped on the way */
    r = upload_from(db, "tab-c1", sha, p, 0, 300000);
    assert_int_equal(r.verdict, DB_BLOB_CORRUPT);
    assert_int_equal(strlen(r.got), 64);
    assert_string_not_equal(r.got, sha);
    assert_int_equal(count(db, "SELECT count(*) FROM blobs"), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_uploads"), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_parts"), 0);
    /* Offered again: from the start. */
    assert_int_equal(offer(db, "tab-c1", sha, 300000, "image/jpeg").have, 0);
    p[5] ^= 1;
    assert_int_equal(upload_from(db, "tab-c1", sha, p, 0, 300000).verdict, DB_BLOB_COMPLETED);
    free(p);
}

static void test_grants_and_scope(void **state)
{
    struct db *db = *state;
    unsigned char *p = photo_bytes(PHOTO, 5);
    char sha[65];
    char *g1[] = {"g1"}, *g2[] = {"g2"};
    struct db_scope s_g1 = {0, g1, 1}, s_g2 = {0, g2, 1}, all = {1, NULL, 0};
    struct db_blob_info info;
    struct db_blob_state st;

    sha_hex(p, PHOTO, sha);
    /* Both devices offer it at once: each gets its own upload. */
    assert_int_equal(offer(db, "tab-c1", sha, PHOTO, "image/jpeg").have, 0);
    assert_int_equal(offer(db, "tab-c2", sha, PHOTO, "image/jpeg").have, 0);
    assert_int_equal(upload_from(db, "tab-c1", sha, p, 0, PHOTO).verdict, DB_BLOB_COMPLETED);
    /* g2 cannot see it yet: not found for s2's scope, and tab-c2 must finish its upload. */
    assert_int_equal(db_blob_find(db, sha, &s_g2, &info), DB_ENOTFOUND);
    assert_int_equal(db_blob_find(db, sha, &s_g1, &info), 0);
    assert_int_equal(info.size, PHOTO);
    assert_string_equal(info.mime, "image/jpeg");
    assert_int_equal(db_blob_find(db, sha, &all, &info), 0);
    assert_int_equal(db_blob_find(db, sha, NULL, &info), 0);
    st = offer(db, "tab-c2", sha, PHOTO, "image/jpeg");
    assert_int_equal(st.complete, 0);
    assert_int_equal(st.have, 0);
    assert_int_equal(upload_from(db, "tab-c2", sha, p, 0, PHOTO).verdict, DB_BLOB_COMPLETED);
    /* One copy of the bytes; both cadres' grids granted. */
    assert_int_equal(count(db, "SELECT count(*) FROM blob_uploads"), 1);
    assert_int_equal(count(db, "SELECT count(DISTINCT upload) FROM blob_parts"), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_grants"), 3);
    assert_int_equal(db_blob_find(db, sha, &s_g2, &info), 0);
    assert_int_equal(offer(db, "tab-c2", sha, PHOTO, NULL).complete, 1);
    /* A photo nobody uploaded, or a malformed sha, is not found / refused. */
    assert_int_equal(db_blob_find(db, "0000000000000000000000000000000000000000000000000000000000000000",
                                  NULL, &info),
                     DB_ENOTFOUND);
    assert_int_equal(db_blob_find(db, "ABC", NULL, &info), DB_EMISUSE);
    free(p);
}

static void test_read_ranges(void **state)
{
    struct db *db = *state;
    unsigned char *p = photo_bytes(PHOTO, 6);
    unsigned char *got = malloc(PHOTO);
    char sha[65];
    static const int64_t ranges[][2] = {
        {0, PHOTO}, {0, 1}, {PHOTO - 1, 1}, {CHUNK - 1, 2}, {CHUNK, CHUNK},
        {100, 3 * CHUNK}, {3 * CHUNK + 5, PHOTO - 3 * CHUNK - 5},
    };

    assert_non_null(got);
    sha_hex(p, PHOTO, sha);
    offer(db, "tab-c1", sha, PHOTO, "image/webp");
    assert_int_equal(upload_from(db, "tab-c1", sha, p, 0, PHOTO).verdict, DB_BLOB_COMPLETED);
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        struct collect c = {got, 0, 0};
        assert_int_equal(db_blob_read(db, sha, ranges[i][0], ranges[i][1], collect_bytes, &c), 0);
        assert_int_equal(c.len, ranges[i][1]);
        assert_memory_equal(got, p + ranges[i][0], (size_t)ranges[i][1]);
    }
    struct collect c = {got, 0, 0};
    assert_int_equal(db_blob_read(db, sha, 0, PHOTO, collect_bytes, &c), 0);
    assert_int_equal(c.pieces, 4); /* one piece per stored chunk, not a copy of the whole */
    /* Past the end, and a photo that is not complete. */
    c.len = 0;
    assert_int_equal(db_blob_read(db, sha, PHOTO - 1, 2, collect_bytes, &c), DB_EMISUSE);
    unsigned char *q = photo_bytes(100, 7);
    sha_hex(q, 100, sha);
    offer(db, "tab-c1", sha, 100, NULL);
    chunk(db, "tab-c1", sha, 0, q, 50);
    c.len = 0;
    assert_int_equal(db_blob_read(db, sha, 0, 10, collect_bytes, &c), DB_ENOTFOUND);
    assert_true(sqlite3_get_autocommit(db->core.conn));
    free(p);
    free(q);
    free(got);
}

/* A visit whose photos field device set last, as sync/ writes it (meta stamps). */
static void visit(struct db *db, const char *id, const char *grid, const char *device,
                  const char *photos)
{
    char body[512], meta[256];
    int64_t hid = 0;
    snprintf(body, sizeof body, "{\"grid\":\"%s\",\"photos\":%s,\"subject\":\"s-1\"}", grid,
             photos);
    snprintf(meta, sizeof meta,
             "{\"grid\":[1,0,\"%s\",1],\"photos\":[1,0,\"%s\",1],\"subject\":[1,0,\"%s\",1]}",
             device, device, device);
    struct db_history h = {
        .device = device, .seq = 1, .received_ms = T_NOW, .collection = "visits",
        .record_id = id, .change = "{}", .change_len = 2, .outcome = DB_APPLIED, .rev = 1,
    };
    assert_int_equal(db_history_add(db, &h, &hid), 0);
    struct db_record r = {
        .collection = "visits", .id = (char *)id, .rev = 1, .grid = (char *)grid,
        .body = body, .body_len = strlen(body), .meta = meta, .meta_len = strlen(meta),
        .seq = hid,
    };
    if (db_record_put(db, &r) != 0)
        fail_msg("db_record_put: %s", db_errmsg(db));
}

struct missing {
    int64_t c1, c2, rows;
};

static int missing_row(void *ctx, const struct db_device_status *d)
{
    struct missing *m = ctx;
    if (strcmp(d->device, "tab-c1") == 0)
        m->c1 = d->missing_photos;
    else if (strcmp(d->device, "tab-c2") == 0)
        m->c2 = d->missing_photos;
    m->rows++;
    return 0;
}

static void test_missing_photos(void **state)
{
    struct db *db = *state;
    unsigned char *p = photo_bytes(5000, 8);
    char sha[65], photos[256];
    char *g2[] = {"g2"};
    struct db_scope s_g2 = {0, g2, 1};
    struct db_store_stats st;
    struct missing m = {-1, -1, 0};

    sha_hex(p, 5000, sha);
    snprintf(photos, sizeof photos, "[\"sha256:%s\",\"sha256:%064d\"]", sha, 1);
    visit(db, "v-1", "g1", "tab-c1", photos);
    visit(db, "v-2", "g2", "tab-c2", photos);
    visit(db, "v-3", "g3", "tab-c2", "[\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"]");
    assert_int_equal(db_store_stats(db, NULL, &st), 0);
    assert_int_equal(st.missing_photos, 5);
    assert_int_equal(db_devices_status(db, NULL, missing_row, &m), 0);
    assert_int_equal(m.c1, 2);
    assert_int_equal(m.c2, 3);
    /* tab-c1 uploads the first photo: it is no longer missing anywhere. */
    offer(db, "tab-c1", sha, 5000, NULL);
    assert_int_equal(chunk(db, "tab-c1", sha, 0, p, 5000).verdict, DB_BLOB_COMPLETED);
    assert_int_equal(db_store_stats(db, NULL, &st), 0);
    assert_int_equal(st.missing_photos, 3);
    m = (struct missing){-1, -1, 0};
    assert_int_equal(db_devices_status(db, NULL, missing_row, &m), 0);
    assert_int_equal(m.c1, 1);
    assert_int_equal(m.c2, 2);
    /* A supervisor of g2 counts only g2's visits. */
    assert_int_equal(db_store_stats(db, &s_g2, &st), 0);
    assert_int_equal(st.missing_photos, 1);
    m = (struct missing){-1, -1, 0};
    assert_int_equal(db_devices_status(db, &s_g2, missing_row, &m), 0);
    assert_int_equal(m.rows, 1);
    assert_int_equal(m.c2, 1);
    free(p);
}

static void test_token_device(void **state)
{
    struct db *db = *state;
    unsigned char h[32];
    char device[65];

    t_hash(h, 0xc2);
    assert_int_equal(db_blob_token_device(db, h, device), 0);
    assert_string_equal(device, "tab-c2");
    t_hash(h, 0x99);
    assert_int_equal(db_blob_token_device(db, h, device), DB_ENOTFOUND);
}

/*
 * A device's half upload is dropped once another tablet of the cadre has
 * completed the photo; and a device may leave at most DB_BLOB_OPEN_MAX
 * uploads unfinished (nothing is started beyond them; resuming still works).
 */
static void test_open_uploads(void **state)
{
    struct db *db = *state;
    unsigned char *p = photo_bytes(PHOTO, 9);
    unsigned char h[32] = {7};
    char sha[65];
    struct db_blob_state st;

    assert_int_equal(db_device_enroll(db, "tab-c2b", "c2", h, T_NOW), 0);
    sha_hex(p, PHOTO, sha);
    assert_int_equal(offer(db, "tab-c2", sha, PHOTO, "image/jpeg").have, 0);
    assert_int_equal(chunk(db, "tab-c2", sha, 0, p, CHUNK).verdict, DB_BLOB_STORED);
    assert_int_equal(offer(db, "tab-c2b", sha, PHOTO, "image/jpeg").have, 0);
    assert_int_equal(upload_from(db, "tab-c2b", sha, p, 0, PHOTO).verdict, DB_BLOB_COMPLETED);
    st = offer(db, "tab-c2", sha, PHOTO, "image/jpeg");
    assert_int_equal(st.complete, 1);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_uploads WHERE done = 0"), 0);
    assert_int_equal(count(db, "SELECT count(DISTINCT upload) FROM blob_parts"), 1);

    for (int i = 0; i < DB_BLOB_OPEN_MAX; i++) {
        char other[65];
        snprintf(other, sizeof other, "%064x", i + 1);
        st = offer(db, "tab-c1", other, 10, NULL);
        assert_int_equal(st.too_many, 0);
    }
    st = offer(db, "tab-c1", "ff00000000000000000000000000000000000000000000000000000000000000", 10, NULL);
    assert_int_equal(st.too_many, 1);
    assert_int_equal(count(db, "SELECT count(*) FROM blob_uploads WHERE device = 'tab-c1'"),
                     DB_BLOB_OPEN_MAX);
    st = offer(db, "tab-c1", "0000000000000000000000000000000000000000000000000000000000000001", 10,
               NULL);
    assert_int_equal(st.too_many, 0); /* resuming one of them */
    assert_int_equal(offer(db, "tab-c2", "ff00000000000000000000000000000000000000000000000000000000000000",
                           10, NULL).too_many,
                     0); /* the limit is per device */
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offer_resume_complete, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_size_change_and_limits, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_grants_and_scope, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_read_ranges, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_missing_photos, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_token_device, t_setup_seeded, t_teardown),
        cmocka_unit_test_setup_teardown(test_open_uploads, t_setup_seeded, t_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
