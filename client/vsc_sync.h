/*
 * vsc_sync.h — one full sync of a tablet's local store (vsc_replica.h)
 * with the server, built on the client library (vsc.h).
 *
 * A sync connects, says hello (with the outbox's size and age and the local
 * clock), pushes the outbox in batches with a few pushes in flight until
 * every queued change is acknowledged, then pulls from the stored cursor
 * until the server has nothing more, applying each page to the replica
 * together with its cursor. A lost connection is retried with backoff; the
 * outbox is re-sent from its start, which is safe because a seq the server
 * already committed is answered `duplicate` (§2.2). That same rule would
 * drop the changes of a store that is new for a device the server knows, so
 * the store's first welcome renumbers its queue after welcome.seq
 * (vsc_replica_welcome, docs/protocol.md §2).
 *
 * Restore without loss (§2.4a): acked changes stay in the store for
 * retain_days and are pruned at the start of every sync. A welcome whose seq
 * is below the highest seq the server ever acked to the store queues the
 * kept ones above it again, and reports the pruned ones as lost; a pull the
 * server answers with reset rebuilds the replica from the beginning, keeping
 * the outbox.
 *
 * Photos (§2.6): after the pull, every photo of the store that a change or
 * a record names and the server does not hold complete is offered and its
 * missing bytes uploaded, resuming from what the server holds (`have`). A
 * photo no change or record names stays on the tablet, not uploaded: a
 * stray picture of someone's papers is not sent anywhere until a visit
 * names it. A photo the server refuses stays pending for the next sync.
 */
#ifndef VS_VSC_SYNC_H
#define VS_VSC_SYNC_H

#include <stdint.h>

#include "vsc.h"
#include "vsc_replica.h"

/* What happened to one photo in a sync (vsc_sync_opts.photo). */
enum vsc_sync_photo_outcome {
    VSC_SYNC_PHOTO_UPLOADED,  /* sent from byte 0 and complete */
    VSC_SYNC_PHOTO_RESUMED,   /* the server held `from` bytes; the rest sent; complete */
    VSC_SYNC_PHOTO_ON_SERVER, /* the server already held it complete: nothing sent */
    VSC_SYNC_PHOTO_FAILED,    /* not complete; stays pending (error says why) */
};
struct vsc_sync_photo {
    const char *sha256; /* 64 lowercase hex */
    int64_t size;
    int64_t from; /* bytes the server held when offered (0 before an offer answered) */
    enum vsc_sync_photo_outcome outcome;
    const char *error; /* FAILED only */
};

struct vsc_sync_opts {
    const struct vsc_opts *conn; /* TLS, timeout; NULL: defaults */
    const char *app;             /* sent as hello.app; NULL: "visitsync-client" */
    int attempts;                /* connections tried before giving up; 0: 5 */
    int backoff_ms;              /* wait before the 2nd attempt, doubling; 0: 500 */
    int in_flight;               /* pushes sent before waiting; 0: 4 */
    int64_t max_batch;           /* changes per push, also capped by the server's; 0: 500 */
    /*
     * Days an acked change is kept for a restored server; 0: VSC_RETAIN_DAYS.
     * Negative: not kept past this sync (the next one prunes it), for tests
     * of what happens when a restore reaches further back than the tablet.
     */
    int retain_days;
    /* Called with a sentence for each retry (may be NULL). */
    void (*note)(void *ctx, const char *line);
    void *note_ctx;
    /* Called once per photo the sync offered, each attempt (may be NULL); ctx is note_ctx. */
    void (*photo)(void *ctx, const struct vsc_sync_photo *p);
};

struct vsc_sync_report {
    int64_t pushed; /* results received, over all attempts */
    int64_t applied, conflict, duplicate, rejected;
    int64_t pulled;  /* records received (removed ones included) */
    int64_t removed;
    int64_t pending; /* changes still queued at the end */
    int attempts;    /* connections made */
    char cursor[128];
    /*
     * The seq the server last reported as committed for the device (-1:
     * unknown), and how many queued changes the store's first welcome
     * renumbered to follow it (vsc_replica_welcome).
     */
    int64_t server_seq;
    int64_t renumbered;
    /* Acked changes pruned at the start (older than retain_days). */
    int64_t pruned;
    /*
     * A server restored from an older backup: how many kept acked changes
     * were queued again (and so pushed again), and (lost_n > 0) how many it
     * lost that this store no longer kept, with seqs in lost_lo..lost_hi.
     */
    int64_t requeued;
    int64_t lost_lo, lost_hi, lost_n;
    /*
     * reset: a pull was answered with reset (§2.4), so the replica was
     * rebuilt; records: how many records the replica holds at the end.
     */
    int reset;
    int64_t records;
    /*
     * Photos: how many the server now holds complete thanks to this sync
     * (uploaded, resumed or found there), how many failed (the last attempt
     * counts), and at the end how many named ones are still not uploaded
     * and how many are kept unnamed (never uploaded until named).
     */
    int64_t photos_done, photos_failed, photos_pending, photos_unnamed;
};

/*
 * Syncs r with the server named in its config (url, device, token). Uses
 * the caller's thread; blocks for the whole sync. Fills *report as far as
 * the sync got, also on failure. Returns 0, a VSC_E* code (the connection
 * failed on every attempt, or the server refused: errbuf says why) or a
 * DB_E* code (the local store failed). A photo the server refused (too
 * large for it, corrupt) or whose bytes in the store are damaged is counted
 * in photos_failed, reported through opts->photo, and does not fail the
 * sync by itself.
 */
int vsc_sync(struct vsc_replica *r, const struct vsc_sync_opts *opts,
             struct vsc_sync_report *report, char *errbuf, size_t errsize);

#endif
