/*
 * vsc_replica.h — a tablet's local store: one SQLite file of its own.
 *
 * The sync client (cli/cmd_client.c, and any app built on client/vsc.h)
 * keeps three things here, all in one file so that a crash leaves them
 * consistent with each other:
 *   - config: key/value settings (server url, device, token, the next seq,
 *     the hybrid logical clock, the pull cursor, the last sync summary,
 *     whether the server ever welcomed this store, the seq it last
 *     reported as committed and the highest seq it ever acked);
 *   - outbox: changes made offline and not yet acknowledged by the server,
 *     in seq order, plus the ones the server rejected with their error;
 *     an acknowledged change stays, marked acked, for VSC_RETAIN_DAYS so
 *     that it can be sent again when the server is restored from an older
 *     backup (docs/protocol.md §2.4a), and the ranges of seqs pruned after
 *     that and lost in such a restore are kept to be reported;
 *   - replica: the records pulled from the server at their newest state;
 *   - photos: the bytes of the photos taken on the tablet (§2.6), named by
 *     their SHA-256, kept until the server said it holds them complete.
 *
 * The file is opened by db/'s connection core (db_core.h), as the server's
 * store is: WAL mode (verified) with synchronous=FULL, so a change queued or
 * an ack recorded survives a power cut. It is part of the client library
 * (client/), which with db/ is the only module that sees sqlite3; errors are
 * db.h's DB_E* codes, mapped from SQLite's by the core's one map, and
 * db_strerror() names them. A struct vsc_replica is used by one thread at a
 * time. Output parameters are set only on success; strings
 * handed out are copies the caller frees with free() or the named *_clear
 * function.
 */
#ifndef VS_VSC_REPLICA_H
#define VS_VSC_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct vsc_replica;

/*
 * Opens (with create != 0: creates) the store at path (":memory:" for
 * tests) and creates its tables when missing. Without create a missing file
 * is DB_ENOTFOUND. A file it creates is 0600 (it will hold the device's
 * token); an existing one keeps its mode. On failure returns a DB_E* code
 * and, when errbuf is not NULL, a sentence naming the file. The caller owns
 * *out (vsc_replica_close).
 */
int vsc_replica_open(const char *path, int create, struct vsc_replica **out, char *errbuf,
                     size_t errsize);
void vsc_replica_close(struct vsc_replica *r);

/* The last error's sentence for this store (never NULL). */
const char *vsc_replica_errmsg(const struct vsc_replica *r);

/* ---- config ------------------------------------------------------------- */

/* Copies the value of key into *out (free it). DB_ENOTFOUND when unset. */
int vsc_replica_config_get(struct vsc_replica *r, const char *key, char **out);
/* Sets key to value (NULL deletes it). */
int vsc_replica_config_set(struct vsc_replica *r, const char *key, const char *value);
/* Integer settings; *out = dflt when unset. DB_ECORRUPT when not an integer. */
int vsc_replica_config_get_int(struct vsc_replica *r, const char *key, int64_t dflt, int64_t *out);
int vsc_replica_config_set_int(struct vsc_replica *r, const char *key, int64_t value);

/*
 * Merges a clock reading from the server (welcome.time, ms) into the stored
 * hybrid logical clock: the clock's ms becomes max(ms, server_ms). Changes
 * stamped afterwards therefore never look older than what the server has
 * already seen.
 */
int vsc_replica_clock_merge(struct vsc_replica *r, int64_t server_ms);

/* What a welcome did to the store (vsc_replica_welcome). */
struct vsc_replica_welcomed {
    int64_t renumbered; /* first welcome: queued changes renumbered after server_seq */
    int64_t requeued;   /* acked changes queued again: the server had lost them */
    /*
     * lost_n > 0: acked changes the server lost that this store no longer
     * keeps (pruned after VSC_RETAIN_DAYS), with seqs in lost_lo..lost_hi.
     * They are also kept in the store's list of losses (vsc_replica_lost_list).
     */
    int64_t lost_lo, lost_hi, lost_n;
};

/*
 * Records a welcome of the server (§2.1), in one transaction; the client
 * calls it on the sync's thread after every welcome and before its first
 * push. server_seq is welcome.seq, the highest seq the server has committed
 * for this device, or -1 when the server did not say (an older server: then
 * only the welcome itself is noted). now_ms is the local wall clock.
 *
 * Two cases that must not be confused:
 *
 * A NEW store for a known device. Seqs are counted in this store, so a store
 * that is new for a device the server already knows (a reinstalled app, a
 * replaced tablet keeping its device id) starts again at 1, and every change
 * at or below server_seq would be answered `duplicate` and dropped from the
 * outbox unapplied. So on the store's FIRST welcome — nothing can have been
 * pushed from it yet, a push is only sent after a welcome — when server_seq
 * >= the lowest queued seq, every queued change is renumbered by the same
 * offset to start at server_seq + 1, in order. After the first welcome
 * nothing is renumbered again: a change re-sent after a lost ack must stay a
 * duplicate. A store with a "user" setting counts as welcomed (clients
 * before this function wrote it at every welcome).
 *
 * A RESTORED server. When server_seq is below the highest seq the server
 * ever acked to this store (the setting "acked_seq"), the server lost those
 * changes: every kept acked change with seq > server_seq is queued again
 * unchanged (same seq, hlc, base and fields), so the next push sends them in
 * seq order (§2.4a). Acked changes already pruned cannot be: their seq
 * range and count are recorded as a loss, once, and reported in *out.
 *
 * On every welcome with server_seq >= 0 the next seq moves past server_seq
 * (changes not queued yet cannot have been sent) and server_seq is kept as
 * the setting "server_seq". *out (may be NULL) says what was done. Returns 0
 * or a DB_E* code (DB_EMISUSE when renumbering would pass 2^53 - 1, the
 * largest seq a JSON reader keeps exact).
 */
int vsc_replica_welcome(struct vsc_replica *r, int64_t server_seq, int64_t now_ms,
                        struct vsc_replica_welcomed *out);

/* ---- outbox ------------------------------------------------------------- */

struct vsc_replica_change {
    int64_t seq;
    char *collection;
    char *id;
    int64_t base;
    int64_t hlc_ms;
    int64_t hlc_counter;
    char *fields; /* the JSON object of the fields this change sets, without _deleted */
    int deleted;  /* -1: _deleted not set; 1: deletes the record; 0: restores it */
    int64_t created_ms;
};
void vsc_replica_change_clear(struct vsc_replica_change *c);

/*
 * Queues one change made now (now_ms, the local wall clock) in one
 * transaction: seq = the next seq (then incremented); hlc.ms = max(now_ms,
 * the clock's ms), hlc.counter = the clock's counter + 1 when ms did not
 * move, else 0 (then stored as the clock); base = the given base, or when
 * base < 0 the replica's rev of that record (0 when it has none). fields is
 * a JSON object text the caller has validated (without "_deleted": that is
 * deleted, -1, 0 or 1). On success *out holds the queued change (caller
 * clears it).
 */
int vsc_replica_queue(struct vsc_replica *r, const char *collection, const char *id, int64_t base,
                      const char *fields, int deleted, int64_t now_ms,
                      struct vsc_replica_change *out);

/*
 * How many changes wait in the outbox, and when the oldest was made (0:
 * none). Acked changes kept for a restore are not counted.
 */
int vsc_replica_pending(struct vsc_replica *r, int64_t *count, int64_t *oldest_ms);

/*
 * Calls fn(ctx, c) for up to limit queued changes with seq > after_seq, in
 * seq order; c is valid only during the call. A non-zero return from fn
 * stops the walk and is returned. Acked changes kept for a restore are not
 * walked: they are sent again only once a welcome queued them again.
 */
typedef int (*vsc_replica_change_fn)(void *ctx, const struct vsc_replica_change *c);
int vsc_replica_outbox_list(struct vsc_replica *r, int64_t after_seq, int64_t limit,
                            vsc_replica_change_fn fn, void *ctx);

/* The server's verdict on one queued change (from an ack). */
struct vsc_replica_outcome {
    int64_t seq;
    int rejected;           /* 0: applied, conflict or duplicate: the change is done */
    const char *code;       /* rejected only: the wire error code */
    const char *field;      /* rejected only, may be "" */
    const char *message;    /* rejected only */
};

/*
 * Records one ack in one transaction: every change it names leaves the
 * queue. A rejected one moves to the rejected list with its error; any
 * other stays in the store, marked acked at now_ms, until
 * vsc_replica_prune drops it. The setting "server_seq", once a welcome set
 * it, rises to the highest seq the ack names (every one of them is
 * committed on the server), and so does "acked_seq", the highest seq the
 * server ever acked to this store, which never falls (vsc_replica_welcome).
 */
int vsc_replica_acked(struct vsc_replica *r, const struct vsc_replica_outcome *o, size_t n,
                      int64_t now_ms);

/*
 * How long an acked change is kept: the contract's "at least 30 days"
 * (§2.4a). A store is pruned at every sync (vsc_sync_opts.retain_days).
 */
#define VSC_RETAIN_DAYS 30

/*
 * Drops, in one transaction, the acked changes acked before before_ms, and
 * notes their seqs as pruned (as ranges of consecutive seqs), so that a
 * later restore that needed them is reported, not silently passed over.
 * *count (may be NULL) is set to how many were dropped.
 */
int vsc_replica_prune(struct vsc_replica *r, int64_t before_ms, int64_t *count);

/* How many acked changes are kept, and when the oldest was acked (0: none). */
int vsc_replica_retained(struct vsc_replica *r, int64_t *count, int64_t *oldest_acked_ms);

/* One loss found at a welcome: acked changes the server lost and this store had pruned. */
struct vsc_replica_lost {
    int64_t lo, hi; /* their seqs are in lo..hi */
    int64_t n;      /* how many */
    int64_t found_ms;
};
/* Calls fn(ctx, x) for each recorded loss, oldest first (x valid during the call). */
typedef int (*vsc_replica_lost_fn)(void *ctx, const struct vsc_replica_lost *x);
int vsc_replica_lost_list(struct vsc_replica *r, vsc_replica_lost_fn fn, void *ctx);

struct vsc_replica_rejected {
    int64_t seq;
    const char *collection;
    const char *id;
    const char *fields;
    const char *code;
    const char *field;
    const char *message;
    int64_t created_ms;
    int64_t rejected_ms;
};
/* Calls fn(ctx, x) for each rejected change in seq order (x valid during the call). */
typedef int (*vsc_replica_rejected_fn)(void *ctx, const struct vsc_replica_rejected *x);
int vsc_replica_rejected_list(struct vsc_replica *r, vsc_replica_rejected_fn fn, void *ctx);

/* ---- replica ------------------------------------------------------------ */

/* One record of a pull page (§2.4): removed → only collection and id count. */
struct vsc_replica_item {
    const char *collection;
    const char *id;
    int64_t rev;
    int deleted;
    int removed;
    const char *body;
    size_t body_len;
};

/*
 * Applies one pull page and stores the cursor it ends at, in one
 * transaction: each item replaces the local copy of its record (a removed
 * one is dropped). So the cursor never runs ahead of the records.
 */
int vsc_replica_apply(struct vsc_replica *r, const struct vsc_replica_item *items, size_t n,
                      const char *cursor);

/*
 * The first page of a pull the server answered with reset (§2.4: the cursor
 * was not one it issued, as after a restore from a backup): removes every
 * local record, then applies the page and stores its cursor, in one
 * transaction, so the replica is rebuilt from the pages that follow. The
 * outbox, the kept acked changes and the settings stay.
 */
int vsc_replica_rebuild(struct vsc_replica *r, const struct vsc_replica_item *items, size_t n,
                        const char *cursor);

/* A local record: rev 0 and no body when it has never been pulled. */
struct vsc_replica_record {
    int64_t rev;
    int deleted;
    char *body;
};
/* DB_ENOTFOUND when absent. Caller frees out->body. */
int vsc_replica_get(struct vsc_replica *r, const char *collection, const char *id,
                    struct vsc_replica_record *out);

/*
 * Calls fn(ctx, collection, id, rev, deleted, body) for each local record
 * (of one collection, or all when collection is NULL) in (collection, id)
 * order; the strings are valid during the call.
 */
typedef int (*vsc_replica_record_fn)(void *ctx, const char *collection, const char *id,
                                     int64_t rev, int deleted, const char *body);
int vsc_replica_list(struct vsc_replica *r, const char *collection, vsc_replica_record_fn fn,
                     void *ctx);

/* Calls fn(ctx, collection, live, deleted) per collection, in name order. */
typedef int (*vsc_replica_count_fn)(void *ctx, const char *collection, int64_t live,
                                    int64_t deleted);
int vsc_replica_counts(struct vsc_replica *r, vsc_replica_count_fn fn, void *ctx);

/* ---- photos ------------------------------------------------------------- */

#define VSC_PHOTO_MAX (20 * 1024 * 1024) /* the server's default --max-blob */

/*
 * Stores a photo of len bytes (1..VSC_PHOTO_MAX) taken now (now_ms) and
 * writes its SHA-256 as 64 lowercase hex digits into sha256_hex; a record
 * names it as "sha256:<hex>". mime is kept for the upload (the caller
 * guesses it). Storing the same bytes again changes nothing (the first
 * mime stays). DB_EMISUSE for an empty or too large photo.
 */
int vsc_replica_photo_add(struct vsc_replica *r, const void *bytes, size_t len, const char *mime,
                          int64_t now_ms, char sha256_hex[65]);

/*
 * Copies the bytes of the photo sha256_hex; the caller frees *bytes.
 * DB_ENOTFOUND when the store has no such photo, DB_ECORRUPT when its bytes
 * no longer hash to its name (the file was damaged).
 */
int vsc_replica_photo_bytes(struct vsc_replica *r, const char *sha256_hex, void **bytes,
                            size_t *len);

/* Notes that the server holds the photo complete (at now_ms); the bytes stay. */
int vsc_replica_photo_uploaded(struct vsc_replica *r, const char *sha256_hex, int64_t now_ms);

/* One stored photo, without its bytes. */
struct vsc_replica_photo {
    const char *sha256; /* 64 lowercase hex */
    const char *mime;
    int64_t size;
    int64_t added_ms;
    int64_t uploaded_ms; /* 0: the server does not hold it complete yet */
    /*
     * A change in the outbox (queued or kept) or a pulled record names it
     * ("sha256:<hex>" in its text): only named photos are uploaded.
     */
    int named;
};
/*
 * Calls fn(ctx, p) for each stored photo (pending != 0: only those not
 * uploaded yet), oldest first; p is valid during the call. A non-zero
 * return from fn stops the walk and is returned.
 */
typedef int (*vsc_replica_photo_fn)(void *ctx, const struct vsc_replica_photo *p);
int vsc_replica_photo_list(struct vsc_replica *r, int pending, vsc_replica_photo_fn fn,
                           void *ctx);

#endif
