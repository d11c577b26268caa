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
 */
#ifndef VS_VSC_SYNC_H
#define VS_VSC_SYNC_H

#include <stdint.h>

#include "vsc.h"
#include "vsc_replica.h"

struct vsc_sync_opts {
    const struct vsc_opts *conn; /* TLS, timeout; NULL: defaults */
    const char *app;             /* sent as hello.app; NULL: "visitsync-client" */
    int attempts;                /* connections tried before giving up; 0: 5 */
    int backoff_ms;              /* wait before the 2nd attempt, doubling; 0: 500 */
    int in_flight;               /* pushes sent before waiting; 0: 4 */
    int64_t max_batch;           /* changes per push, also capped by the server's; 0: 500 */
    /* Called with a sentence for each retry (may be NULL). */
    void (*note)(void *ctx, const char *line);
    void *note_ctx;
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
};

/*
 * Syncs r with the server named in its config (url, device, token). Uses
 * the caller's thread; blocks for the whole sync. Fills *report as far as
 * the sync got, also on failure. Returns 0, a VSC_E* code (the connection
 * failed on every attempt, or the server refused: errbuf says why) or a
 * DB_E* code (the local store failed).
 */
int vsc_sync(struct vsc_replica *r, const struct vsc_sync_opts *opts,
             struct vsc_sync_report *report, char *errbuf, size_t errsize);

#endif
