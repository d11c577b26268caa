/*
 * push_helper.c — test helper: applies a push message (a JSON file, as a
 * tablet would send it) to a database as device DEVICE, through
 * proto_parse_client, db_device_load and sync_apply_push inside
 * db_commit_group, exactly as the server's writer does. Prints one JSON
 * line per result: {"seq":N,"id":"…","status":"applied","rev":R,"code":"…"}.
 *
 * usage: cli_push_helper DB DEVICE PUSH.json   (exit 0 when committed)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "proto.h"
#include "sync.h"

struct job {
    const struct sync_rules *rules;
    const struct db_principal *who;
    const struct proto_push *push;
    struct proto_result *results;
    int64_t now_ms;
};

static int apply(struct db *db, void *arg)
{
    struct job *j = arg;
    return sync_apply_push(j->rules, db, j->who, j->push->changes, j->push->n_changes, j->now_ms,
                           j->results, NULL);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > PROTO_MAX_MESSAGE * 4u)
                break;
            char *p = realloc(buf, cap);
            if (p == NULL)
                break;
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    struct db *db = NULL;
    struct proto_msg *msg = NULL;
    struct proto_schema *schema = NULL;
    struct proto_fault fault;
    struct db_principal who;
    char req[PROTO_REQ_BYTES + 1];
    char err[512] = "";
    size_t len = 0;
    int rc = 1, loaded = 0;
    char *text = NULL;

    if (argc != 4) {
        fprintf(stderr, "usage: cli_push_helper DB DEVICE PUSH.json\n");
        return 2;
    }
    text = slurp(argv[3], &len);
    if (text == NULL) {
        fprintf(stderr, "push_helper: cannot read %s\n", argv[3]);
        goto out;
    }
    if (proto_parse_client(text, len, &msg, &fault, req) != 0 || msg->type != PROTO_PUSH) {
        fprintf(stderr, "push_helper: not a push: %s %s\n", fault.field, fault.message);
        goto out;
    }
    if (proto_schema_parse(proto_default_schema_json, strlen(proto_default_schema_json), &schema,
                           &fault) != 0) {
        fprintf(stderr, "push_helper: schema: %s\n", fault.message);
        goto out;
    }
    if (db_open(argv[1], 0, &db, err, sizeof err) != 0) {
        fprintf(stderr, "push_helper: %s\n", err);
        goto out;
    }
    memset(&who, 0, sizeof who);
    if (db_device_load(db, argv[2], &who) != 0) {
        fprintf(stderr, "push_helper: device %s: %s\n", argv[2], db_errmsg(db));
        goto out;
    }
    loaded = 1;
    struct sync_rules rules = {.schema = schema, .max_skew_ms = SYNC_DEFAULT_MAX_SKEW_MS};
    size_t n = msg->u.push.n_changes;
    struct proto_result *results = calloc(n ? n : 1, sizeof *results);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct job j = {&rules, &who, &msg->u.push, results,
                    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
    void *jobs[1] = {&j};
    int job_rc = 0;
    if (results == NULL || db_commit_group(db, apply, jobs, 1, &job_rc) != 0 || job_rc != 0) {
        fprintf(stderr, "push_helper: commit failed: %s\n", db_errmsg(db));
        free(results);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct proto_result *r = &results[i];
        printf("{\"seq\":%" PRId64 ",\"id\":\"%s\",\"status\":\"%s\",\"rev\":%" PRId64
               ",\"code\":\"%s\"}\n",
               r->seq, r->id ? r->id : "", proto_status_name(r->status), r->rev,
               r->status == PROTO_REJECTED ? proto_code_name(r->error.code) : "");
        if (r->status == PROTO_REJECTED)
            fprintf(stderr, "push_helper: seq %" PRId64 " rejected: %s %s\n", r->seq,
                    r->error.field, r->error.message);
    }
    sync_results_clear(results, n);
    free(results);
    rc = 0;
out:
    if (loaded)
        db_principal_clear(&who);
    db_close(db);
    proto_schema_free(schema);
    proto_msg_free(msg);
    free(text);
    return rc;
}
