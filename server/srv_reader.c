/*
 * srv_reader.c — the reader thread: answers pulls (§2.4) from its own
 * read-only connection, so a large pull never delays a commit.
 *
 * A page is serialized straight from db_pull's rows into the reply buffer.
 * The buffer has a ceiling (SRV_CHANGES_MAX); when a page would exceed it the
 * page is read again with half the limit: the cursor and `more` always come
 * from db_pull, so a smaller page is just as correct.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_internal.h"

struct page {
    struct proto_buf *out;
    int first;
    int rc;
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
    return pg->rc == 0 ? 0 : -1;
}

/* Parses a cursor this server issued: a decimal history id. Returns 0 or -1. */
static int parse_cursor(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Answers one pull into job->out. Reader thread. */
static void reader_pull(struct srv *srv, struct srv_job *job)
{
    const struct proto_pull *pull = &job->msg->u.pull;
    const char *req = job->msg->req;
    int64_t since, limit = pull->limit, next = 0;
    char cursor[24];
    int more = 0;
    int rc;

    if (parse_cursor(pull->since, &since) != 0) {
        srv_write_error(&job->out, req, PROTO_CODE_BAD_MESSAGE,
                        "since: \"%.64s\" is not a cursor this server issued; pull from \"0\"",
                        pull->since);
        return;
    }
    if (limit <= 0 || limit > PROTO_PULL_LIMIT)
        limit = PROTO_PULL_LIMIT;
    proto_buf_free(&job->out);
    proto_buf_init(&job->out, LWS_PRE, SRV_CHANGES_MAX);
    for (;;) {
        struct page pg = {.out = &job->out, .first = 1, .rc = 0};
        proto_buf_reset(&job->out);
        rc = proto_write_changes_begin(&job->out, req);
        if (rc == 0)
            rc = db_pull(srv->rdb, since, &job->who->p.scope, limit, page_row, &pg, &next, &more);
        if (pg.rc == PROTO_ETOOBIG && limit > 1) {
            limit /= 2;
            continue;
        }
        if (rc == 0)
            rc = pg.rc;
        if (rc == 0) {
            snprintf(cursor, sizeof cursor, "%" PRId64, next);
            rc = proto_write_changes_end(&job->out, cursor, more);
        }
        break;
    }
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
