/*
 * srv_checkpoint.c — the checkpointer thread: a PASSIVE WAL checkpoint once a
 * second on a read-write connection of its own, so that copying the WAL back
 * into the database file no longer happens inside the writer's COMMIT (the
 * ack path). The writer keeps a high automatic threshold
 * (SRV_WAL_AUTOCHECKPOINT) only as the bound on WAL growth should this
 * thread fall behind. PASSIVE never waits: a checkpoint that meets the
 * writer or a reader copies what it can, and the next one the rest. The
 * stop signal is the queue ckpt_stop being stopped; nothing is ever put on
 * it. This thread logs only through srv_log.
 */
#include "srv_internal.h"

/* The checkpointer thread's body; arg is struct srv. Returns when ckpt_stop is stopped. */
void *srv_checkpoint_main(void *arg)
{
    struct srv *srv = arg;
    struct srv_job *none[1];
    int warned = 0;
    int done_pages = 0;

    for (;;) {
        int n = srv_queue_take(&srv->ckpt_stop, none, 1, 0, proto_mono_ms() + SRV_CHECKPOINT_MS);
        if (n < 0)
            break;
        int rc = db_checkpoint(srv->cdb, NULL, &done_pages);
        if (rc == 0 && done_pages > 0)
            srv_metric_inc(&srv->metrics.checkpoints);
        if (rc != 0 && rc != DB_EBUSY && !warned) {
            /* Once: the writer's own threshold still bounds the WAL. */
            srv_log(SRV_LOG_WARN, "the WAL checkpoint failed (the writer will checkpoint): %s",
                    db_errmsg(srv->cdb));
            warned = 1;
        }
    }
    return NULL;
}
