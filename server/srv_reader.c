/*
 * srv_reader.c — the reader thread: answers pulls (§2.4) from its own
 * read-only connection, so a large pull never delays a commit.
 *
 * A page is serialized straight from db_pull's rows into the reply buffer.
 * The buffer has a ceiling (SRV_CHANGES_MAX); when a page would exceed it the
 * page is read again with half the limit: the cursor and `more` always come
 * from db_pull, so a smaller page is just as correct.
 *
 * Cursors carry the store's epoch (proto_cursor.h); a since this store did
 * not issue is answered from the beginning with "reset":true (pull_start).
 */
#include <string.h>

#include "srv_internal.h"

struct page {
    struct proto_buf *out;
    int first;
    int rc;
    size_t n; /* records written */
};

/* db_pull's row callback: one record of the page. Reader thread. */
static int page_row(void *ctx, const struct db_record *r, int removed)
{
    struct page *pg = ctx;
    struct proto_pulled item;

    memset(&item, 0, sizeof item);
    item.collection = r->collection;
    item.id = r->id;
    item.rev = r->rev;
    item.deleted = r->deleted;
    item.removed = removed;
    item.body = r->body;
    item.body_len = r->body_len;
    pg->rc = proto_write_changes_item(pg->out, &item, pg->first);
    pg->first = 0;
    pg->n += pg->rc == 0;
    return pg->rc == 0 ? 0 : -1;
}

/*
 * Where a pull starts (§2.4): *since is the history id to pull after and
 * *reset whether the client's since was not this store's, so its page must
 * start from the beginning. A since with another store's epoch (handed out
 * before a restore) or beyond the newest change is not this store's; a
 * plain decimal id (a server before epochs handed it out) is taken as this
 * store's when it is not beyond the newest change, so an upgrade does not
 * make every tablet pull everything again. "0" never resets. Returns 0, 1
 * when since is not a cursor, or a DB_E* code. Reader thread.
 */
static int pull_start(struct srv *srv, const char *text, int64_t *since, int *reset)
{
    struct proto_cursor c;
    int64_t newest = 0;
    int err;

    if (proto_cursor_parse(text, &c) != 0)
        return 1;
    *reset = c.epoch[0] != '\0' && strcmp(c.epoch, srv->epoch) != 0;
    if (!*reset && c.id > 0) {
        if ((err = db_cursor(srv->rdb, &newest)) != 0)
            return err;
        *reset = c.id > newest;
    }
    *since = *reset ? 0 : c.id;
    return 0;
}

/* Answers one pull into job->out. Reader thread. */
static void reader_pull(struct srv *srv, struct srv_job *job)
{
    const struct proto_pull *pull = &job->msg->u.pull;
    const char *req = job->msg->req;
    int64_t since = 0, limit = pull->limit, next = 0;
    char cursor[PROTO_CURSOR_SIZE];
    int more = 0, reset = 0;
    int rc = pull_start(srv, pull->since, &since, &reset);

    if (rc == 1) {
        srv_write_error(&job->out, req, PROTO_CODE_BAD_MESSAGE,
                        "since: \"%.64s\" is not a cursor this server issued; pull from \"0\"",
                        pull->since);
        return;
    }
    if (rc != 0)
        goto out;
    if (limit <= 0 || limit > PROTO_PULL_LIMIT)
        limit = PROTO_PULL_LIMIT;
    proto_buf_free(&job->out);
    proto_buf_init(&job->out, LWS_PRE, SRV_CHANGES_MAX);
    for (;;) {
        struct page pg = {.out = &job->out, .first = 1, .rc = 0};
        proto_buf_reset(&job->out);
        rc = proto_write_changes_begin(&job->out, req, reset);
        if (rc == 0)
            rc = db_pull(srv->rdb, since, &job->who->p.scope, limit, page_row, &pg, &next, &more);
        if (pg.rc == PROTO_ETOOBIG && limit > 1) {
            limit /= 2;
            continue;
        }
        if (rc == 0)
            rc = pg.rc;
        if (rc == 0) {
            proto_cursor_format(next, srv->epoch, cursor);
            rc = proto_write_changes_end(&job->out, cursor, more);
            job->records = pg.n; /* the monitor's pull event */
        }
        break;
    }
out:
    if (rc != 0) {
        job->rc = rc;
        srv_log(SRV_LOG_ERR, "a pull of device %s failed: %s", job->who->p.device,
                db_errmsg(srv->rdb));
        proto_buf_free(&job->out);
        proto_buf_init(&job->out, LWS_PRE, SRV_REPLY_MAX);
        srv_write_error(&job->out, req, PROTO_CODE_INTERNAL,
                        "the pull could not be answered; pull again");
    }
}

/* The reader thread's body. Returns when the read queue is stopped. */
void *srv_reader_main(void *arg)
{
    struct srv *srv = arg;
    struct srv_job *job;

    for (;;) {
        int n = srv_queue_take(&srv->reads, &job, 1, 0, proto_mono_ms() + 60 * 1000);
        if (n < 0)
            break;
        if (n == 0)
            continue;
        reader_pull(srv, job);
        srv_complete(srv, job);
    }
    return NULL;
}
