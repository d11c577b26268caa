/*
 * apply.c — one push through the pipeline of §2.2/§2.3, inside the
 * caller's transaction: dedupe by seq, validate, check the records a
 * change names, merge, then write the history row, the record and its
 * conflict candidates through db/.
 *
 * Design: every change gets exactly one history row, whatever its outcome,
 * so the history is the full log of what each device sent. The running
 * max_seq is read once from the store (the principal's copy may be stale
 * when a device reconnected) and written back once at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "proto_text.h"
#include "sync_internal.h"

static enum db_outcome outcome_of(enum proto_status s)
{
    switch (s) {
    case PROTO_APPLIED:
        return DB_APPLIED;
    case PROTO_CONFLICT:
        return DB_CONFLICT;
    case PROTO_DUPLICATE:
        return DB_DUPLICATE;
    case PROTO_REJECTED:
        break;
    }
    return DB_REJECTED;
}

/* The part of a history row that every outcome shares: who sent what, when. */
static struct db_history history_base(const char *device, const struct proto_change *c,
                                      int64_t now_ms)
{
    struct db_history h = {
        .device = device,
        .seq = c->seq,
        .received_ms = now_ms,
        .collection = c->collection,
        .record_id = c->id,
        .change = c->raw ? c->raw : "",
        .change_len = c->raw ? c->raw_len : 0,
    };
    return h;
}

/* A history row for a change that was not merged (duplicate or rejected). */
static int history_unmerged(struct db *db, const struct db_principal *who,
                            const struct proto_change *c, int64_t now_ms,
                            const struct proto_result *r)
{
    int64_t id;
    struct db_history h = history_base(who->device, c, now_ms);
    h.outcome = outcome_of(r->status);
    h.rev = r->rev;
    if (r->status == PROTO_REJECTED) {
        h.error_code = proto_code_name(r->error.code);
        h.error_field = r->error.field;
        h.error_message = r->error.message;
    }
    return db_history_add(db, &h, &id);
}

/*
 * The rev a duplicate reports: the record's current one, or 0 when it does
 * not exist or is outside who's grids (a seq may be re-sent naming any id,
 * so this must not tell another grid's rev). Negative on a store error.
 */
static int current_rev(struct db *db, const struct db_principal *who,
                       const struct proto_change *c, int64_t *rev)
{
    char grid[PROTO_ID_MAX + 1];
    int64_t r = 0;
    int rc;

    *rev = 0;
    if (c->fault.code != PROTO_CODE_NONE || c->collection == NULL || c->id == NULL)
        return 0;
    rc = db_record_head(db, c->collection, c->id, &r, grid, sizeof grid);
    if (rc == DB_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (sync__allows(who, grid))
        *rev = r;
    return 0;
}

static int str_differ(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}

/* A candidate's value must be a NUL-terminated string for db/. */
static char *json_copy(const struct proto_value *v)
{
    char *s = malloc(v->json_len + 1);
    if (s != NULL) {
        memcpy(s, v->json, v->json_len);
        s[v->json_len] = '\0';
    }
    return s;
}

static int add_conflicts(struct db *db, const struct proto_change *c, const char *device,
                         const struct sync__merged *m, int64_t history_id, int64_t now_ms)
{
    for (size_t i = 0; i < m->n_conflicts; i++) {
        const struct sync__conflict *k = &m->conflicts[i];
        char *stored_json = json_copy(k->stored);
        char *incoming_json = json_copy(k->incoming);
        int rc = SYNC_ENOMEM;
        if (stored_json != NULL && incoming_json != NULL) {
            struct db_candidate s = {
                .device = k->stored_stamp->device,
                .hlc_ms = k->stored_stamp->hlc.ms,
                .hlc_counter = k->stored_stamp->hlc.counter,
                .value = stored_json,
                .history_id = 0,
            };
            struct db_candidate in = {
                .device = device,
                .hlc_ms = c->hlc.ms,
                .hlc_counter = c->hlc.counter,
                .value = incoming_json,
                .history_id = history_id,
            };
            rc = db_conflict_add(db, c->collection, c->id, k->field, &s, &in, now_ms);
        }
        free(stored_json);
        free(incoming_json);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* See sync_internal.h. The caller's thread, inside its transaction. */
int sync__merge_and_store(const struct sync_rules *rules, struct db *db, const char *device,
                          const char *user, const struct proto_change *c, const struct db_record *stored,
                          int64_t now_ms, struct proto_result *r, int64_t *history_out,
                          struct sync_touched *t)
{
    const struct proto_collection *col = proto_schema_collection(rules->schema, c->collection);
    struct proto_record *dec = NULL;
    struct proto_fault fault;
    struct sync__merged m = {0};
    struct proto_buf body, meta;
    const char **names = NULL;
    int64_t history_id = 0;
    int rc;

    proto_buf_init(&body, 0, SYNC__RECORD_MAX);
    proto_buf_init(&meta, 0, SYNC__RECORD_MAX);
    if (stored != NULL) {
        rc = proto_record_decode(stored->body, stored->body_len, stored->meta, stored->meta_len,
                                 &dec, &fault);
        if (rc != 0) {
            rc = rc == PROTO_ENOMEM ? SYNC_ENOMEM : SYNC_ESTORE;
            goto out;
        }
    }
    rc = sync__merge(col, dec, stored ? stored->rev : 0, c, device, &m);
    if (rc != 0)
        goto out;
    rc = proto_record_encode(m.fields, m.stamps, m.n, &body, &meta);
    if (rc != 0)
        goto out;
    if (m.n_conflicts > 0) {
        names = malloc(m.n_conflicts * sizeof *names);
        if (names == NULL) {
            rc = SYNC_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < m.n_conflicts; i++)
            names[i] = m.conflicts[i].field;
    }

    const char *left = stored != NULL && str_differ(stored->grid, m.grid) ? stored->grid : NULL;
    struct db_history h = history_base(device, c, now_ms);
    h.outcome = m.n_conflicts ? DB_CONFLICT : DB_APPLIED;
    h.rev = m.rev;
    h.left_grid = left;
    rc = db_history_add(db, &h, &history_id);
    if (rc != 0)
        goto out;

    /* db_record_put takes a const record; the casts only lend it our strings. */
    struct db_record put = {
        .collection = (char *)c->collection,
        .id = (char *)c->id,
        .rev = m.rev,
        .grid = (char *)m.grid,
        .deleted = m.deleted,
        .body = proto_buf_data(&body) ? proto_buf_data(&body) : (char *)"{}",
        .body_len = proto_buf_data(&body) ? body.len : 2,
        .meta = proto_buf_data(&meta) ? proto_buf_data(&meta) : (char *)"{}",
        .meta_len = proto_buf_data(&meta) ? meta.len : 2,
        .seq = history_id,
    };
    struct db_visit_facts facts;
    if (strcmp(c->collection, "visits") == 0 && sync__visit_facts(&m, user, &facts) == 0)
        put.facts = &facts;
    rc = db_record_put(db, &put);
    if (rc != 0)
        goto out;
    rc = add_conflicts(db, c, device, &m, history_id, now_ms);
    if (rc != 0)
        goto out;
    if (t != NULL) {
        /* Copies: m.grid may point into dec, and stored belongs to the caller. */
        t->grid_after = m.grid != NULL ? strdup(m.grid) : NULL;
        t->grid_before = left != NULL ? strdup(left) : NULL;
        if ((m.grid != NULL && t->grid_after == NULL) || (left != NULL && t->grid_before == NULL)) {
            rc = SYNC_ENOMEM;
            goto out;
        }
    }

    r->status = m.n_conflicts ? PROTO_CONFLICT : PROTO_APPLIED;
    r->rev = m.rev;
    r->conflicts = names;
    r->n_conflicts = m.n_conflicts;
    names = NULL;
    if (history_out != NULL)
        *history_out = history_id;
out:
    free(names);
    sync__merged_clear(&m);
    proto_record_free(dec);
    proto_buf_free(&body);
    proto_buf_free(&meta);
    return rc;
}

/*
 * Runs one change after dedupe: malformed, validation, the records it
 * names, merge. A stored record outside who's grids is hidden: validated
 * as absent, then refused as taking its id, and its rev never reported.
 */
static int apply_change(const struct sync_rules *rules, struct db *db,
                     const struct db_principal *who, const struct proto_change *c,
                     int64_t now_ms, struct proto_result *r, struct sync_touched *t)
{
    struct db_record stored = {0};
    int have = 0, visible = 0, bad;
    int rc;

    if (c->fault.code != PROTO_CODE_NONE) {
        r->status = PROTO_REJECTED;
        r->error = c->fault;
        return history_unmerged(db, who, c, now_ms, r);
    }
    if (c->collection != NULL && c->id != NULL) {
        rc = db_record_get(db, c->collection, c->id, &stored);
        if (rc == 0)
            have = 1;
        else if (rc != DB_ENOTFOUND)
            return rc;
    }
    visible = have && sync__allows(who, stored.grid);
    /* A hidden record is left out here, so that its id is refused last. */
    bad = sync_validate(rules, who, c, visible ? &stored : NULL, now_ms, &r->error);
    if (!bad) {
        bad = sync__refs_check(rules, db, who, c, &r->error);
        if (bad < 0) {
            rc = bad;
            goto out;
        }
    }
    if (!bad && have && !visible) {
        sync__taken_fault(who, c, &r->error);
        bad = 1;
    }
    if (bad) {
        r->status = PROTO_REJECTED;
        r->rev = visible ? stored.rev : 0;
        rc = history_unmerged(db, who, c, now_ms, r);
    } else {
        rc = sync__merge_and_store(rules, db, who->device, who->user, c, have ? &stored : NULL,
                                   now_ms, r, NULL, t);
    }
out:
    if (have)
        db_record_clear(&stored);
    return rc;
}

/*
 * The pipeline of one push (see sync.h). Borrows everything; results[i]
 * borrows its strings from changes[i] and owns only its conflicts array
 * (sync_results_clear); touched (may be NULL) owns its grid copies
 * (sync_touched_clear). Called by the writer thread inside a transaction.
 * On a store error the results and touched already filled are cleared, so
 * clearing them afterwards is harmless.
 */
int sync_apply_push(const struct sync_rules *rules, struct db *db,
                    const struct db_principal *who, const struct proto_change *changes,
                    size_t n, int64_t now_ms, struct proto_result *results,
                    struct sync_touched *touched)
{
    int64_t start_seq = 0, max_seq;
    size_t i = 0;
    int rc;

    memset(results, 0, n * sizeof *results);
    if (touched != NULL)
        memset(touched, 0, n * sizeof *touched);
    rc = db_device_max_seq(db, who->device, &start_seq);
    if (rc != 0)
        goto out;
    max_seq = start_seq;
    for (i = 0; i < n; i++) {
        const struct proto_change *c = &changes[i];
        struct proto_result *r = &results[i];
        r->seq = c->seq;
        r->id = c->id;
        if (c->seq <= max_seq) {
            r->status = PROTO_DUPLICATE;
            rc = current_rev(db, who, c, &r->rev);
            if (rc == 0)
                rc = history_unmerged(db, who, c, now_ms, r);
        } else {
            max_seq = c->seq;
            rc = apply_change(rules, db, who, c, now_ms, r, touched ? &touched[i] : NULL);
        }
        if (rc != 0)
            goto out;
    }
    if (max_seq > start_seq)
        rc = db_device_set_max_seq(db, who->device, max_seq, now_ms);
out:
    if (rc != 0) {
        sync_results_clear(results, i < n ? i + 1 : n);
        if (touched != NULL)
            sync_touched_clear(touched, i < n ? i + 1 : n);
    }
    return rc;
}

/* Frees the grid copies inside touched[0..n); any thread. */
void sync_touched_clear(struct sync_touched *touched, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(touched[i].grid_before);
        free(touched[i].grid_after);
        touched[i].grid_before = NULL;
        touched[i].grid_after = NULL;
    }
}

/* Frees the conflicts arrays inside results[0..n); any thread. */
void sync_results_clear(struct proto_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)results[i].conflicts);
        results[i].conflicts = NULL;
        results[i].n_conflicts = 0;
    }
}
