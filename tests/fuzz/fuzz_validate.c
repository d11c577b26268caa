/*
 * fuzz_validate.c — any bytes as a push under the built-in schema, through
 * the checks the writer thread runs on every change (sync_validate, called
 * by sync_apply_push), then through the whole apply path into a :memory:
 * store and out as the ack the server writes.
 *
 * Properties of sync_validate, for every change that parsed, for several
 * principals (cadres of g1,g2 and of g3, a cadre whose scope says "all",
 * supervisors of all grids and of g1) and stored records (none, in g1, in
 * g3, without a grid):
 *  - it is a function: asked twice, it answers the same;
 *  - a rejection carries a code of the validation order (bad_id ..
 *    out_of_scope) and a fault a reply can carry;
 *  - widening the scope never rejects what a narrower scope accepted: the
 *    cadre of g1,g2 accepting implies the supervisor of all grids accepts;
 *  - a stored record in the principal's scope never rejects what the
 *    absence of a record accepted (a new record must name more, not less);
 *  - a stored record outside it gets the answer for no record, and a change
 *    that is then valid is refused out_of_scope on "id" (its id is taken).
 * Properties of the apply path (device dA):
 *  - results[i] answers changes[i]; a change the parser faulted is a
 *    duplicate (dedupe comes first) or rejected with that fault; rejected
 *    iff it carries an error; conflict iff it lists conflicts;
 *  - an applied or conflicting change leaves a record at the result's rev
 *    that decodes and re-encodes to its own bytes, with deleted and grid
 *    matching its fields (fz_check_stored);
 *  - the ack written from the results parses in a client to the same
 *    results;
 *  - applied one change per push, each change gets what a prediction says
 *    (duplicate by seq, the parser's fault, else sync_validate against the
 *    record as stored then, hidden records and subjects refused) and what
 *    it got in the whole push; and the same after the supervisor of all
 *    grids sent the push first, for a cadre who may not see all it made;
 *    each such change reports the grids it touched (what the server pokes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fz_store.h"
#include "proto_text.h"

enum { P_C1, P_C2, P_C1_ALL, P_SUP, P_SUPL, P_COUNT };

static struct fz_store store;
static struct db_principal who[P_COUNT];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_store_open(&store);
    fz_principal(&store, "dA", &who[P_C1]);
    fz_principal(&store, "dX", &who[P_C2]);
    fz_principal(&store, "sup", &who[P_SUP]);
    fz_principal(&store, "supl", &who[P_SUPL]);
    /* A borrowed copy: never cleared, it shares dA's grid list. */
    who[P_C1_ALL] = who[P_C1];
    who[P_C1_ALL].scope.all = 1;
    return 0;
}

static int validate(const struct db_principal *p, const struct proto_change *c,
                    const struct db_record *stored, struct proto_fault *fault)
{
    struct proto_fault f1, f2;
    memset(&f1, 0x5a, sizeof f1); /* untouched unless rejected: garbage shows */
    memset(&f2, 0x5a, sizeof f2);
    int r1 = sync_validate(&store.rules, p, c, stored, FZ_NOW, &f1);
    int r2 = sync_validate(&store.rules, p, c, stored, FZ_NOW, &f2);
    FZ_CHECK(r1 == 0 || r1 == 1, "sync_validate returned %d", r1);
    FZ_CHECK(r1 == r2, "sync_validate answered %d, then %d", r1, r2);
    if (r1) {
        fz_check_fault(&f1, "sync_validate");
        FZ_CHECK(memcmp(&f1, &f2, sizeof f1) == 0, "sync_validate gave two faults: %s, %s",
                 f1.message, f2.message);
        FZ_CHECK(f1.code == PROTO_CODE_BAD_ID || f1.code == PROTO_CODE_UNKNOWN_COLLECTION ||
                     f1.code == PROTO_CODE_UNKNOWN_FIELD || f1.code == PROTO_CODE_INVALID_FIELD ||
                     f1.code == PROTO_CODE_CLOCK_SKEW || f1.code == PROTO_CODE_MISSING_FIELD ||
                     f1.code == PROTO_CODE_OUT_OF_SCOPE,
                 "sync_validate rejected with %s", proto_code_name(f1.code));
        if (fault != NULL)
            *fault = f1;
    }
    return r1;
}

/* Whether who may see grid: a cadre is limited to its listed grids even under "all". */
static int allows(const struct db_principal *p, const char *grid)
{
    struct db_scope scope = p->scope;
    if (p->role == DB_ROLE_CADRE)
        scope.all = 0;
    return sync_scope_allows(&scope, grid);
}

static void validate_all(const struct proto_change *c)
{
    struct db_record in_g1 = {.collection = (char *)c->collection, .id = (char *)c->id, .rev = 3,
                              .grid = "g1", .body = "{}", .body_len = 2, .meta = "{}",
                              .meta_len = 2};
    struct db_record in_g3 = in_g1, no_grid = in_g1;
    in_g3.grid = "g3";
    no_grid.grid = NULL;
    const struct db_record *stored[] = {NULL, &in_g1, &in_g3, &no_grid};
    int rejected[P_COUNT][4];
    struct proto_fault why[P_COUNT][4];

    for (int p = 0; p < P_COUNT; p++) {
        for (int s = 0; s < 4; s++)
            rejected[p][s] = validate(&who[p], c, stored[s], &why[p][s]);
    }
    /*
     * sync_validate treats a stored record outside p's grids as absent,
     * and refuses a change that is then valid for taking its id.
     */
    for (int p = 0; p < P_COUNT; p++) {
        for (int s = 1; s < 4; s++) {
            if (allows(&who[p], stored[s]->grid))
                continue;
            if (rejected[p][0])
                FZ_CHECK(rejected[p][s] && memcmp(&why[p][s], &why[p][0], sizeof why[0][0]) == 0,
                         "%s: a hidden record changes the answer \"%s\" to \"%s\"",
                         who[p].device, why[p][0].message, why[p][s].message);
            else
                FZ_CHECK(rejected[p][s] && why[p][s].code == PROTO_CODE_OUT_OF_SCOPE &&
                             strcmp(why[p][s].field, "id") == 0,
                         "%s: a change on a hidden record is not refused for its id (%s)",
                         who[p].device, rejected[p][s] ? why[p][s].message : "accepted");
        }
    }
    for (int s = 0; s < 4; s++)
        FZ_CHECK(!(rejected[P_SUP][s] && !rejected[P_C1][s]),
                 "the supervisor of all grids is refused (%s) what the cadre of g1,g2 may do",
                 why[P_SUP][s].message);
    for (int p = 0; p < P_COUNT; p++) {
        /* The stored record in g1 is in every scope but c2's. */
        if (p == P_C2)
            continue;
        FZ_CHECK(!(rejected[p][1] && !rejected[p][0]),
                 "a change accepted for a new record is refused (%s) for one in g1",
                 why[p][1].message);
    }
}

/* The ack the server writes from these results, read back by a client. */
static void check_ack(const struct proto_msg *push, const struct proto_result *res, size_t n)
{
    struct proto_buf b;
    proto_buf_init(&b, 16, (size_t)64 * 1024 * 1024);
    int err = proto_write_ack(&b, push->req, "42", res, n);
    FZ_CHECK(err == 0, "the ack cannot be written: %s", proto_strerror(err));
    char *exact = fz_copy(proto_buf_data(&b), b.len);
    struct proto_msg *m = NULL;
    struct proto_fault fault = {0};
    err = proto_parse_server(exact, b.len, &m, &fault);
    FZ_CHECK(err == 0 && m->type == PROTO_ACK,
             "the ack does not parse in a client: %s (%s)\n%.*s", fault.message, fault.field,
             (int)(b.len > 4000 ? 4000 : b.len), exact);
    FZ_CHECK(m->u.ack.n_results == n, "the ack has %zu results, not %zu", m->u.ack.n_results, n);
    for (size_t i = 0; i < n; i++) {
        const struct proto_result *x = &res[i], *y = &m->u.ack.results[i];
        FZ_CHECK(x->seq == y->seq && x->status == y->status && x->rev == y->rev &&
                     x->n_conflicts == y->n_conflicts,
                 "results[%zu] reads back differently", i);
        FZ_CHECK((x->id == NULL && y->id == NULL) ||
                     (x->id != NULL && y->id != NULL && strcmp(x->id, y->id) == 0),
                 "results[%zu].id reads back as %s, not %s", i, y->id ? y->id : "(none)",
                 x->id ? x->id : "(none)");
        if (x->status == PROTO_REJECTED)
            FZ_CHECK(x->error.code == y->error.code &&
                         strcmp(x->error.field, y->error.field) == 0 &&
                         strcmp(x->error.message, y->error.message) == 0,
                     "results[%zu].error reads back as %s [%s] %s", i,
                     proto_code_name(y->error.code), y->error.field, y->error.message);
    }
    proto_msg_free(m);
    free(exact);
    proto_buf_free(&b);
}


/*
 * What the apply path must answer change c from p, given the store as it
 * is (sync/apply.c): a record outside p's grids is hidden — validated as
 * absent, then, if nothing else is wrong, refused for taking its id — and
 * a visit may not name a subject outside p's grids. Fills *want when
 * rejected.
 */
static enum proto_status predict(const struct db_principal *p, const struct proto_change *c,
                                 int64_t max_seq, struct proto_fault *want)
{
    if (c->seq <= max_seq)
        return PROTO_DUPLICATE;
    if (c->fault.code != PROTO_CODE_NONE) {
        *want = c->fault;
        return PROTO_REJECTED;
    }
    struct db_record stored;
    int have = c->collection != NULL && c->id != NULL &&
               db_record_get(store.db, c->collection, c->id, &stored) == 0;
    int visible = have && allows(p, stored.grid);
    enum proto_status st = PROTO_APPLIED;
    if (validate(p, c, visible ? &stored : NULL, want)) {
        st = PROTO_REJECTED;
    } else if (strcmp(c->collection, "visits") == 0 &&
               !(p->scope.all && p->role != DB_ROLE_CADRE)) {
        for (size_t k = 0; k < c->n_fields; k++) {
            const struct proto_value *v = &c->fields[k].value;
            struct db_record subject;
            if (strcmp(c->fields[k].name, "subject") != 0 || v->type != PROTO_STRING ||
                db_record_get(store.db, "subjects", v->str, &subject) != 0)
                continue;
            if (!allows(p, subject.grid)) {
                proto_fault_set(want, PROTO_CODE_OUT_OF_SCOPE, "subject", "hidden subject");
                st = PROTO_REJECTED;
            }
            db_record_clear(&subject);
        }
    }
    if (st == PROTO_APPLIED && have && !visible) {
        /* What sync_validate answers for the hidden record itself. */
        FZ_CHECK(validate(p, c, &stored, want), "a hidden record's id is not refused");
        st = PROTO_REJECTED;
    }
    if (have)
        db_record_clear(&stored);
    return st;
}

/*
 * Copies the grid of c's stored record into buf (bytes of size); returns 0
 * when there is no such record or it has no grid.
 */
static int grid_of(const struct proto_change *c, char *buf, size_t size)
{
    struct db_record r;
    int have = 0;
    if (c->fault.code != PROTO_CODE_NONE || c->collection == NULL || c->id == NULL ||
        db_record_get(store.db, c->collection, c->id, &r) != 0)
        return 0;
    if (r.grid != NULL) {
        FZ_CHECK(strlen(r.grid) < size, "a stored grid of %zu bytes", strlen(r.grid));
        snprintf(buf, size, "%s", r.grid);
        have = 1;
    }
    db_record_clear(&r);
    return have;
}

/*
 * What the server pokes from (struct sync_touched): for a stored change
 * the record's grid after it, and its grid before when that differs;
 * nothing for any other outcome.
 */
static void check_touched(const struct proto_change *c, const struct proto_result *r,
                          const struct sync_touched *t, const char *before)
{
    if (r->status != PROTO_APPLIED && r->status != PROTO_CONFLICT) {
        FZ_CHECK(t->grid_before == NULL && t->grid_after == NULL,
                 "a %s change touched grids %s -> %s", proto_status_name(r->status),
                 t->grid_before ? t->grid_before : "(none)",
                 t->grid_after ? t->grid_after : "(none)");
        return;
    }
    char after[PROTO_ID_MAX + 2];
    int has = grid_of(c, after, sizeof after);
    FZ_CHECK(has ? t->grid_after != NULL && strcmp(t->grid_after, after) == 0
                 : t->grid_after == NULL,
             "touched.grid_after is %s, the record's grid %s",
             t->grid_after ? t->grid_after : "(none)", has ? after : "(none)");
    int moved = before != NULL && (!has || strcmp(before, after) != 0);
    FZ_CHECK(moved ? t->grid_before != NULL && strcmp(t->grid_before, before) == 0
                   : t->grid_before == NULL,
             "touched.grid_before is %s; the grid was %s, is %s",
             t->grid_before ? t->grid_before : "(none)", before ? before : "(none)",
             has ? after : "(none)");
}

/*
 * The same push again, one change per push from p, each predicted
 * beforehand (predict). Without pre, each outcome must also be what the
 * whole push gave (batch[i]): splitting a push changes nothing. With pre,
 * the supervisor of all grids has first sent the whole push, so p meets
 * records it may or may not see, made by someone else.
 */
static void one_by_one(const struct proto_push *p, const struct proto_result *batch,
                       const struct db_principal *by, int pre)
{
    int64_t max_seq = 0;
    fz_store_begin(&store);
    if (pre) {
        struct proto_result *first = calloc(p->n_changes ? p->n_changes : 1, sizeof *first);
        FZ_CHECK(first != NULL, "out of memory");
        fz_apply(&store, &who[P_SUP], p->changes, p->n_changes, first, NULL);
        sync_results_clear(first, p->n_changes);
        free(first);
    }
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct proto_change *c = &p->changes[i];
        struct proto_fault want = {0};
        enum proto_status predicted = predict(by, c, max_seq, &want);
        if (c->seq > max_seq)
            max_seq = c->seq;

        char before[PROTO_ID_MAX + 2];
        int had = grid_of(c, before, sizeof before);
        struct proto_result r;
        struct sync_touched t;
        fz_apply(&store, by, c, 1, &r, &t);
        check_touched(c, &r, &t, had ? before : NULL);
        sync_touched_clear(&t, 1);
        enum proto_status got = r.status == PROTO_CONFLICT ? PROTO_APPLIED : r.status;
        FZ_CHECK(got == predicted, "changes[%zu] alone from %s is %s, predicted %s (%s)", i,
                 by->device, proto_status_name(r.status), proto_status_name(predicted),
                 r.error.message);
        if (predicted == PROTO_REJECTED)
            FZ_CHECK(r.error.code == want.code && strcmp(r.error.field, want.field) == 0 &&
                         (strcmp(want.field, "subject") == 0 ||
                          strcmp(r.error.message, want.message) == 0),
                     "changes[%zu] alone from %s is rejected for \"%s\" (%s), predicted "
                     "\"%s\" (%s)",
                     i, by->device, r.error.message, r.error.field, want.message, want.field);
        if (r.status == PROTO_REJECTED)
            fz_check_fault(&r.error, "a rejected result");
        if (!pre) {
            FZ_CHECK(r.status == batch[i].status && r.rev == batch[i].rev &&
                         r.n_conflicts == batch[i].n_conflicts &&
                         r.error.code == batch[i].error.code &&
                         strcmp(r.error.message, batch[i].error.message) == 0,
                     "changes[%zu] alone is %s rev %lld, in the whole push %s rev %lld", i,
                     proto_status_name(r.status), (long long)r.rev,
                     proto_status_name(batch[i].status), (long long)batch[i].rev);
            for (size_t k = 0; k < r.n_conflicts; k++)
                FZ_CHECK(strcmp(r.conflicts[k], batch[i].conflicts[k]) == 0,
                         "changes[%zu] alone conflicts on %s, in the whole push on %s", i,
                         r.conflicts[k], batch[i].conflicts[k]);
        }
        sync_results_clear(&r, 1);
    }
    fz_store_reset(&store);
}

static void apply_all(const struct proto_msg *m)
{
    const struct proto_push *p = &m->u.push;
    struct proto_result *res = calloc(p->n_changes ? p->n_changes : 1, sizeof *res);
    FZ_CHECK(res != NULL, "out of memory");

    fz_store_begin(&store);
    fz_apply(&store, &who[P_C1], p->changes, p->n_changes, res, NULL);
    for (size_t i = 0; i < p->n_changes; i++) {
        const struct proto_change *c = &p->changes[i];
        const struct proto_result *r = &res[i];
        FZ_CHECK(r->seq == c->seq && r->id == c->id, "results[%zu] does not answer its change",
                 i);
        FZ_CHECK((r->status == PROTO_REJECTED) == (r->error.code != PROTO_CODE_NONE),
                 "results[%zu] is %s with error %s", i, proto_status_name(r->status),
                 proto_code_name(r->error.code));
        FZ_CHECK((r->status == PROTO_CONFLICT) == (r->n_conflicts > 0),
                 "results[%zu] is %s with %zu conflicts", i, proto_status_name(r->status),
                 r->n_conflicts);
        /* Dedupe comes first: a faulted change with an old seq is a duplicate. */
        if (c->fault.code != PROTO_CODE_NONE && r->status != PROTO_DUPLICATE)
            FZ_CHECK(r->status == PROTO_REJECTED && r->error.code == c->fault.code &&
                         strcmp(r->error.field, c->fault.field) == 0,
                     "a faulted change is %s", proto_status_name(r->status));
        if (r->status == PROTO_REJECTED)
            fz_check_fault(&r->error, "a rejected result");
        if (r->status != PROTO_APPLIED && r->status != PROTO_CONFLICT)
            continue;
        struct db_record rec;
        FZ_CHECK(db_record_get(store.db, c->collection, c->id, &rec) == 0,
                 "results[%zu] is %s but %s/%s is not stored", i, proto_status_name(r->status),
                 c->collection, c->id);
        /* A later change of the same push may have moved the record on. */
        FZ_CHECK(rec.rev >= r->rev && r->rev >= 1, "results[%zu] rev %lld, stored %lld", i,
                 (long long)r->rev, (long long)rec.rev);
        const struct proto_collection *col = proto_schema_collection(store.rules.schema,
                                                                      c->collection);
        fz_check_stored(&rec, col ? col->scope : NULL);
        db_record_clear(&rec);
    }
    check_ack(m, res, p->n_changes);
    fz_store_reset(&store);
    one_by_one(p, res, &who[P_C1], 0);
    /* After the supervisor: the cadre of g1,g2, or the one of g3, by the number of changes. */
    one_by_one(p, res, &who[p->n_changes % 2 ? P_C2 : P_C1], 1);
    sync_results_clear(res, p->n_changes);
    free(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_msg *m = NULL;
    struct proto_fault fault = {0};
    if (proto_parse_client((const char *)data, size, &m, &fault, NULL) != 0)
        return 0;
    if (m->type == PROTO_PUSH) {
        for (size_t i = 0; i < m->u.push.n_changes; i++) {
            if (m->u.push.changes[i].fault.code == PROTO_CODE_NONE)
                validate_all(&m->u.push.changes[i]);
        }
        apply_all(m);
    }
    proto_msg_free(m);
    return 0;
}
