/*
 * blob.c — photos (§2.6) in the store: offers, chunks, completion and its
 * grants, and reading a complete photo back (db.h, "photos").
 *
 * Design: the bytes live in the database, so a chunk is durable exactly
 * when the writer's group COMMIT is, a backup copies the photos with the
 * records, and integrity_check covers them. An upload belongs to one
 * device (blob_uploads, one open row per photo and device); its chunks are
 * rows of blob_parts keyed by offset, in order, never rewritten. The last
 * chunk reads them all back in order inside the same transaction and
 * hashes them: a match completes the photo (a row in blobs naming the
 * upload that holds its bytes) and grants it to every grid of the
 * device's cadre; a mismatch deletes the upload. A second device that
 * uploads the same photo whole adds its grids and its copy is dropped:
 * one copy of the bytes is kept. Reading serves a byte range from the
 * parts that overlap it.
 *
 * The writer thread calls the writing functions inside its commit group;
 * the reading ones run on the thread that owns db (the API reader).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db_internal.h"

#define DB__SHA_HEX 64

static const char db__hex_digits[] = "0123456789abcdef";

/* True for 64 lowercase hex digits: the only spelling the tables hold. */
static int db__sha_valid(const char *sha256)
{
    if (sha256 == NULL || strlen(sha256) != DB__SHA_HEX)
        return 0;
    for (const char *c = sha256; *c; c++)
        if (strchr(db__hex_digits, *c) == NULL)
            return 0;
    return 1;
}

/* The open upload of sha256 by device: 1 with its id, size and have; 0 when none. */
static int db__upload_find(struct db *db, const char *device, const char *sha256, int64_t *id,
                           int64_t *size, int64_t *have, int *found)
{
    sqlite3_stmt *s = NULL;
    int err, rc;

    *found = 0;
    err = db__stmt(db, DB__BLOB_UPLOAD_FIND,
                   "SELECT id, size, have FROM blob_uploads"
                   " WHERE sha256 = ?1 AND device = ?2 AND done = 0",
                   &s);
    if (err)
        return err;
    db__bind_str(s, 1, sha256);
    db__bind_str(s, 2, device);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        *size = sqlite3_column_int64(s, 1);
        *have = sqlite3_column_int64(s, 2);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "reading the upload of photo %.12s… by device '%s'", sha256,
                       device);
    }
    db_core_reset(s);
    return err;
}

/* Runs a bound statement that returns no rows; what names it in an error. */
static int db__blob_step(struct db *db, sqlite3_stmt *s, const char *what, const char *sha256)
{
    int rc = sqlite3_step(s);
    int err = 0;

    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "%s of photo %.12s…", what, sha256);
    db_core_reset(s);
    return err;
}

/* Deletes the parts of upload id and, when whole, its row too. */
static int db__upload_drop(struct db *db, int64_t id, int whole, const char *sha256)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__BLOB_PARTS_DELETE, "DELETE FROM blob_parts WHERE upload = ?1", &s);

    if (err)
        return err;
    sqlite3_bind_int64(s, 1, id);
    err = db__blob_step(db, s, "deleting the bytes of an upload", sha256);
    if (err || !whole)
        return err;
    err = db__stmt(db, DB__BLOB_UPLOAD_DELETE, "DELETE FROM blob_uploads WHERE id = ?1", &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, id);
    return db__blob_step(db, s, "deleting an upload", sha256);
}

int db_blob_offer(struct db *db, const char *device, const char *sha256, int64_t size,
                  const char *mime, int64_t now_ms, struct db_blob_state *out)
{
    sqlite3_stmt *s = NULL;
    int64_t id = 0, had_size = 0, have = 0;
    int found = 0, err, rc;

    if (device == NULL || !db__sha_valid(sha256) || size <= 0 || out == NULL)
        return db__error(db, DB_EMISUSE,
                         "an offer needs a device, a sha256 of 64 lowercase hex and a size");
    if (mime == NULL)
        mime = DB_BLOB_MIME_DEFAULT;
    /* Complete and granted to one of the device's cadre's grids: nothing to send. */
    err = db__stmt(db, DB__BLOB_VISIBLE_TO_DEVICE,
                   "SELECT b.size FROM blobs AS b WHERE b.sha256 = ?1 AND EXISTS ("
                   " SELECT 1 FROM devices AS d"
                   " JOIN user_grids AS u ON u.user_id = d.user_id"
                   " JOIN blob_grants AS g ON g.sha256 = b.sha256 AND g.grid = u.grid_id"
                   " WHERE d.id = ?2)",
                   &s);
    if (err)
        return err;
    db__bind_str(s, 1, sha256);
    db__bind_str(s, 2, device);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int64_t held = sqlite3_column_int64(s, 0);
        db_core_reset(s);
        /* Another tablet finished it: this device's half upload will never be needed. */
        err = db__upload_find(db, device, sha256, &id, &had_size, &have, &found);
        if (!err && found)
            err = db__upload_drop(db, id, 1, sha256);
        if (!err)
            *out = (struct db_blob_state){.size = held, .have = held, .complete = 1};
        return err;
    }
    db_core_reset(s);
    if (rc != SQLITE_DONE)
        return db__fail(db, rc, "looking for photo %.12s…", sha256);
    err = db__upload_find(db, device, sha256, &id, &had_size, &have, &found);
    if (err)
        return err;
    if (!found) {
        int64_t open = 0;
        err = db__stmt(db, DB__BLOB_UPLOADS_OPEN,
                       "SELECT count(*) FROM blob_uploads WHERE device = ?1 AND done = 0", &s);
        if (err)
            return err;
        db__bind_str(s, 1, device);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            open = sqlite3_column_int64(s, 0);
        db_core_reset(s);
        if (rc != SQLITE_ROW)
            return db__fail(db, rc, "counting the open uploads of device %s", device);
        if (open >= DB_BLOB_OPEN_MAX) {
            *out = (struct db_blob_state){.size = size, .too_many = 1};
            return 0;
        }
    }
    if (found && had_size == size) {
        *out = (struct db_blob_state){.size = size, .have = have, .complete = 0};
        return 0;
    }
    if (found) {
        /* Another size for the same photo: what was sent belongs to another file. */
        err = db__upload_drop(db, id, 0, sha256);
        if (err)
            return err;
        err = db__stmt(db, DB__BLOB_UPLOAD_RESTART,
                       "UPDATE blob_uploads SET size = ?2, mime = ?3, have = 0, started_ms = ?4,"
                       " updated_ms = ?4 WHERE id = ?1",
                       &s);
        if (err)
            return err;
        sqlite3_bind_int64(s, 1, id);
    } else {
        err = db__stmt(db, DB__BLOB_UPLOAD_ADD,
                       "INSERT INTO blob_uploads (sha256, device, size, mime, started_ms,"
                       " updated_ms) VALUES (?5, ?6, ?2, ?3, ?4, ?4)",
                       &s);
        if (err)
            return err;
        db__bind_str(s, 5, sha256);
        db__bind_str(s, 6, device);
    }
    sqlite3_bind_int64(s, 2, size);
    db__bind_text(s, 3, mime, strnlen(mime, DB_BLOB_MIME_MAX));
    sqlite3_bind_int64(s, 4, now_ms);
    err = db__blob_step(db, s, "starting the upload", sha256);
    if (!err)
        *out = (struct db_blob_state){.size = size, .have = 0, .complete = 0};
    return err;
}

/*
 * The SHA-256 of upload id's parts, read in offset order, as lowercase hex
 * into got. The parts must follow one another from 0 to size without a
 * gap (DB_ECORRUPT otherwise: only this file writes them).
 */
static int db__upload_hash(struct db *db, int64_t id, int64_t size, const char *sha256,
                           char got[DB__SHA_HEX + 1])
{
    sqlite3_stmt *s = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int64_t at = 0;
    int err, rc;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        err = db__error(db, DB_ENOMEM, "out of memory hashing photo %.12s…", sha256);
        goto out;
    }
    err = db__stmt(db, DB__BLOB_PARTS_READ,
                   "SELECT offset, data FROM blob_parts WHERE upload = ?1 ORDER BY offset", &s);
    if (err)
        goto out;
    sqlite3_bind_int64(s, 1, id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const void *data = sqlite3_column_blob(s, 1);
        int n = sqlite3_column_bytes(s, 1);
        if (sqlite3_column_int64(s, 0) != at || n <= 0) {
            err = db__error(db, DB_ECORRUPT, "the bytes of photo %.12s… have a gap at %lld",
                            sha256, (long long)at);
            goto out;
        }
        EVP_DigestUpdate(md, data, (size_t)n);
        at += n;
    }
    if (rc != SQLITE_DONE) {
        err = db__fail(db, rc, "reading back the bytes of photo %.12s…", sha256);
        goto out;
    }
    if (at != size) {
        err = db__error(db, DB_ECORRUPT, "photo %.12s… holds %lld bytes, not %lld", sha256,
                        (long long)at, (long long)size);
        goto out;
    }
    EVP_DigestFinal_ex(md, digest, &dlen);
    for (unsigned int i = 0; i < 32 && i < dlen; i++) {
        got[2 * i] = db__hex_digits[digest[i] >> 4];
        got[2 * i + 1] = db__hex_digits[digest[i] & 15];
    }
    got[DB__SHA_HEX] = '\0';
out:
    db_core_reset(s);
    EVP_MD_CTX_free(md);
    return err;
}

/*
 * The bytes of upload id hash to sha256: the photo becomes complete (the
 * upload keeps its bytes) unless another upload completed it first (this
 * one is dropped), and every grid of device's cadre is granted it.
 */
static int db__upload_complete(struct db *db, int64_t id, const char *device, const char *sha256,
                               int64_t now_ms)
{
    sqlite3_stmt *s = NULL;
    int err = db__stmt(db, DB__BLOB_ADD,
                       "INSERT OR IGNORE INTO blobs (sha256, size, mime, upload, completed_ms)"
                       " SELECT sha256, size, mime, id, ?2 FROM blob_uploads WHERE id = ?1",
                       &s);

    if (err)
        return err;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    err = db__blob_step(db, s, "completing", sha256);
    if (err)
        return err;
    if (sqlite3_changes(db->core.conn) == 0) {
        err = db__upload_drop(db, id, 1, sha256); /* another copy is complete already */
    } else {
        err = db__stmt(db, DB__BLOB_UPLOAD_DONE,
                       "UPDATE blob_uploads SET done = 1, updated_ms = ?2 WHERE id = ?1", &s);
        if (err)
            return err;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, now_ms);
        err = db__blob_step(db, s, "closing the upload", sha256);
    }
    if (err)
        return err;
    err = db__stmt(db, DB__BLOB_GRANT,
                   "INSERT OR IGNORE INTO blob_grants (sha256, grid)"
                   " SELECT ?1, u.grid_id FROM devices AS d"
                   " JOIN user_grids AS u ON u.user_id = d.user_id WHERE d.id = ?2",
                   &s);
    if (err)
        return err;
    db__bind_str(s, 1, sha256);
    db__bind_str(s, 2, device);
    return db__blob_step(db, s, "granting", sha256);
}

int db_blob_chunk(struct db *db, const char *device, const char *sha256, int64_t offset,
                  const void *data, size_t len, int64_t now_ms, struct db_blob_chunk_result *out)
{
    struct db_blob_chunk_result r;
    sqlite3_stmt *s = NULL;
    int64_t id = 0, size = 0, have = 0;
    int found = 0, err;

    if (device == NULL || !db__sha_valid(sha256) || data == NULL || len == 0 ||
        len > (size_t)INT32_MAX || offset < 0 || out == NULL)
        return db__error(db, DB_EMISUSE, "a chunk needs a device, a sha256, an offset and data");
    memset(&r, 0, sizeof r);
    err = db__upload_find(db, device, sha256, &id, &size, &have, &found);
    if (err)
        return err;
    r.size = size;
    r.have = have;
    if (!found) {
        r.verdict = DB_BLOB_NOT_OFFERED;
        goto done;
    }
    if (offset != have) {
        r.verdict = DB_BLOB_BAD_OFFSET;
        goto done;
    }
    if ((int64_t)len > size - have) {
        r.verdict = DB_BLOB_TOO_LONG;
        goto done;
    }
    err = db__stmt(db, DB__BLOB_PART_ADD,
                   "INSERT INTO blob_parts (upload, offset, data) VALUES (?1, ?2, ?3)", &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, offset);
    sqlite3_bind_blob64(s, 3, data, len, SQLITE_STATIC);
    err = db__blob_step(db, s, "storing a chunk", sha256);
    if (err)
        return err;
    r.have = have + (int64_t)len;
    err = db__stmt(db, DB__BLOB_UPLOAD_GROW,
                   "UPDATE blob_uploads SET have = ?2, updated_ms = ?3 WHERE id = ?1", &s);
    if (err)
        return err;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, r.have);
    sqlite3_bind_int64(s, 3, now_ms);
    err = db__blob_step(db, s, "counting a chunk", sha256);
    if (err)
        return err;
    if (r.have < size) {
        r.verdict = DB_BLOB_STORED;
        goto done;
    }
    err = db__upload_hash(db, id, size, sha256, r.got);
    if (err)
        return err;
    if (strcmp(r.got, sha256) != 0) {
        r.verdict = DB_BLOB_CORRUPT;
        r.have = 0;
        err = db__upload_drop(db, id, 1, sha256);
    } else {
        r.verdict = DB_BLOB_COMPLETED;
        err = db__upload_complete(db, id, device, sha256, now_ms);
    }
    if (err)
        return err;
done:
    *out = r;
    return 0;
}

int db_blob_find(struct db *db, const char *sha256, const struct db_scope *scope,
                 struct db_blob_info *out)
{
    sqlite3_stmt *s = NULL;
    struct db_blob_info info;
    char *grids = NULL;
    int err, rc;

    if (!db__sha_valid(sha256) || out == NULL)
        return db__error(db, DB_EMISUSE, "finding a photo needs a sha256 of 64 lowercase hex");
    err = db__scope_grids(db, scope, &grids);
    if (err)
        return err;
    err = db__stmt(db, DB__BLOB_FIND,
                   "SELECT b.size, b.mime FROM blobs AS b WHERE b.sha256 = ?1"
                   " AND (?2 IS NULL OR EXISTS (SELECT 1 FROM blob_grants AS g"
                   "   WHERE g.sha256 = b.sha256 AND g.grid IN (SELECT value FROM json_each(?2))))",
                   &s);
    if (err)
        goto out;
    db__bind_str(s, 1, sha256);
    db__bind_str(s, 2, grids);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *mime = (const char *)sqlite3_column_text(s, 1);
        memset(&info, 0, sizeof info);
        info.size = sqlite3_column_int64(s, 0);
        snprintf(info.mime, sizeof info.mime, "%s", mime ? mime : DB_BLOB_MIME_DEFAULT);
    } else if (rc == SQLITE_DONE) {
        err = db__error(db, DB_ENOTFOUND, "no photo %.12s… that this principal may see",
                        sha256);
    } else {
        err = db__fail(db, rc, "looking for photo %.12s…", sha256);
    }
    db_core_reset(s);
out:
    free(grids);
    if (!err)
        *out = info;
    return err;
}

int db_blob_read(struct db *db, const char *sha256, int64_t from, int64_t len,
                 db_blob_bytes_fn fn, void *ctx)
{
    sqlite3_stmt *s = NULL;
    int64_t end, at = from;
    int began = 0, err, rc;

    if (!db__sha_valid(sha256) || fn == NULL || from < 0 || len <= 0 || len > INT64_MAX - from)
        return db__error(db, DB_EMISUSE, "reading a photo needs a sha256 and a range");
    end = from + len;
    err = db__read_begin(db, &began);
    if (err)
        return err;
    /* The part that holds byte from starts at or before it; the last one starts before end. */
    err = db__stmt(db, DB__BLOB_RANGE,
                   "SELECT p.offset, p.data FROM blobs AS b"
                   " JOIN blob_parts AS p ON p.upload = b.upload"
                   " WHERE b.sha256 = ?1 AND p.offset >= coalesce((SELECT max(q.offset)"
                   "   FROM blob_parts AS q WHERE q.upload = b.upload AND q.offset <= ?2), 0)"
                   " AND p.offset < ?3 ORDER BY p.offset",
                   &s);
    if (err)
        goto out;
    db__bind_str(s, 1, sha256);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, end);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t off = sqlite3_column_int64(s, 0);
        const unsigned char *data = sqlite3_column_blob(s, 1);
        int64_t n = sqlite3_column_bytes(s, 1);
        int64_t lo = at - off, hi = (off + n < end ? off + n : end) - off;
        if (off > at || lo >= n || data == NULL) {
            err = db__error(db, DB_ECORRUPT, "the bytes of photo %.12s… have a gap at %lld",
                            sha256, (long long)at);
            goto out;
        }
        err = fn(ctx, data + lo, (size_t)(hi - lo));
        if (err)
            goto out;
        at = off + hi;
    }
    if (rc != SQLITE_DONE)
        err = db__fail(db, rc, "reading photo %.12s…", sha256);
    else if (at == from)
        err = db__error(db, DB_ENOTFOUND, "no complete photo %.12s…", sha256);
    else if (at != end)
        err = db__error(db, DB_EMISUSE, "photo %.12s… ends at %lld, before %lld", sha256,
                        (long long)at, (long long)end);
out:
    db_core_reset(s);
    return db__read_end(db, began, err);
}

int db_blob_token_device(struct db *db, const unsigned char token_hash[32], char device[65])
{
    sqlite3_stmt *s = NULL;
    int err, rc;

    if (token_hash == NULL || device == NULL)
        return db__error(db, DB_EMISUSE, "finding a device by token needs a hash");
    err = db__stmt(db, DB__BLOB_TOKEN_DEVICE, "SELECT id FROM devices WHERE token_hash = ?1", &s);
    if (err)
        return err;
    sqlite3_bind_blob(s, 1, token_hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        if (id == NULL || strlen(id) > DB__MAX_ID)
            err = db__error(db, DB_ECORRUPT, "a device id is longer than %d characters",
                            DB__MAX_ID);
        else
            memcpy(device, id, strlen(id) + 1);
    } else if (rc == SQLITE_DONE) {
        err = db__error(db, DB_ENOTFOUND, "no device has that token");
    } else {
        err = db__fail(db, rc, "looking for a device by its token");
    }
    db_core_reset(s);
    return err;
}
