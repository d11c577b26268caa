/*
 * resolve.c — a supervisor closes an open conflict entry by choosing a
 * value for its field (the record's current value, the newest value that
 * lost, or one of their own).
 *
 * Design: the choice becomes an ordinary change of the record, so it
 * travels to every replica by the normal pull and merge and nothing else
 * needs to know about resolutions. The change is written as a push would
 * carry it and read back by the push parser, so the value gets exactly
 * the checks (parser, sync_validate, the records it names) and the fault
 * that a tablet's change would; then sync__merge_and_store stores it like
 * any change (stamps, meta, history, rev). Three things make it settle
 * the field for good:
 *   - its stamp is later than every stamp of the field (the record's and
 *     the entry's candidates'), so no replica that saw those keeps them;
 *   - its base is the record's current rev, so the merge sees nothing
 *     concurrent and opens no conflict of its own;
 *   - its device is "@<user id>": no device id contains '@', so history
 *     tells a resolution from a tablet's change and the stamp's tie-break
 *     can never equal a tablet's. Its seq is the entry's id, which is how
 *     the history row names the entry it closed.
 * A tablet that pushes an older value later (stamped before the
 * resolution) loses the field to it by the same merge, and that meeting
 * is a new conflict as any concurrent edit is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_record.h"
#include "proto_text.h"
#include "sync_internal.h"

#define REASON_MAX_CHARS 500
/* Appends a string literal to a proto_buf. */
#define APPEND_LIT(b, lit) proto_buf_append((b), (lit), sizeof(lit) - 1)
/* '@' and a user id of up to PROTO_ID_MAX characters. */
#define RESOLVER_MAX (PROTO_ID_MAX + 2)

/* The field's value in the decoded record (the winner), or NULL when the record lacks it. */
static const struct proto_field *field_of(const struct proto_record *rec, const char *name,
                                          const struct proto_stamp **stamp)
{
    for (size_t i = 0; rec != NULL && i < rec->n_fields; i++) {
        if (strcmp(rec->fields[i].name, name) == 0) {
            *stamp = &rec->stamps[i];
            return &rec->fields[i];
        }
    }
    *stamp = NULL;
    return NULL;
}

/* A stamp after every stamp of the field, and not before now_ms. */
static struct proto_hlc later_stamp(const struct db_conflict *k, const struct proto_stamp *cur,
                                    int64_t now_ms)
{
    struct proto_hlc top = {0, 0};
    if (cur != NULL)
        top = cur->hlc;
    for (size_t i = 0; i < k->n_candidates; i++) {
        const struct db_candidate *c = &k->candidates[i];
        if (c->hlc_ms > top.ms || (c->hlc_ms == top.ms && c->hlc_counter > top.counter)) {
            top.ms = c->hlc_ms;
            top.counter = c->hlc_counter;
        }
    }
    if (now_ms > top.ms)
        return (struct proto_hlc){now_ms, 0};
    if (top.counter < PROTO_HLC_COUNTER_MAX)
        return (struct proto_hlc){top.ms, top.counter + 1};
    return (struct proto_hlc){top.ms + 1, 0};
}

/*
 * Writes the push that carries the resolution: one change whose "fields"
 * come last, so that nothing in the value's text can stand in for the
 * members before it (a reader takes the first of two equal keys).
 */
static int write_push(struct proto_buf *b, const struct db_conflict *k, int64_t base,
                      struct proto_hlc hlc, const char *value, size_t value_len)
{
    char num[96];
    int rc = APPEND_LIT(b, "{\"type\":\"push\",\"changes\":[{\"seq\":");
    snprintf(num, sizeof num, "%" PRId64, k->id);
    if (rc == 0)
        rc = proto_buf_append(b, num, strlen(num));
    if (rc == 0)
        rc = APPEND_LIT(b, ",\"collection\":");
    if (rc == 0)
        rc = proto_buf_append_json_string(b, k->collection, strlen(k->collection));
    if (rc == 0)
        rc = APPEND_LIT(b, ",\"id\":");
    if (rc == 0)
        rc = proto_buf_append_json_string(b, k->record_id, strlen(k->record_id));
    snprintf(num, sizeof num, ",\"base\":%" PRId64 ",\"hlc\":[%" PRId64 ",%" PRId64 "]",
             base, hlc.ms, hlc.counter);
    if (rc == 0)
        rc = proto_buf_append(b, num, strlen(num));
    if (rc == 0)
        rc = APPEND_LIT(b, ",\"fields\":{");
    if (rc == 0)
        rc = proto_buf_append_json_string(b, k->field, strlen(k->field));
    if (rc == 0)
        rc = APPEND_LIT(b, ":");
    if (rc == 0)
        rc = proto_buf_append(b, value, value_len);
    if (rc == 0)
        rc = APPEND_LIT(b, "}}]}");
    return rc == PROTO_ETOOBIG ? PROTO_EINVALID : rc;
}

/* True when the parsed push is exactly the one change write_push meant. */
static int is_our_change(const struct proto_msg *m, const struct db_conflict *k, int64_t base,
                         struct proto_hlc hlc)
{
    if (m->type != PROTO_PUSH || m->u.push.n_changes != 1)
        return 0;
    const struct proto_change *c = &m->u.push.changes[0];
    if (c->fault.code != PROTO_CODE_NONE)
        return 1; /* the value was read and refused: that fault is the answer */
    return c->seq == k->id && c->collection != NULL && strcmp(c->collection, k->collection) == 0 &&
           c->id != NULL && strcmp(c->id, k->record_id) == 0 && c->base == base &&
           c->hlc.ms == hlc.ms && c->hlc.counter == hlc.counter && c->n_fields == 1 &&
           strcmp(c->fields[0].name, k->field) == 0;
}

/* The value chosen by r: the winner's, the newest differing candidate's, or r's own. */
static int chosen_value(const struct db_conflict *k, const struct sync_resolution *r,
                        const struct proto_field *winner, const char **value, size_t *len,
                        struct proto_fault *fault)
{
    const char *win = winner != NULL ? winner->value.json : "null";
    size_t win_len = winner != NULL ? winner->value.json_len : 4;

    switch (r->choose) {
    case SYNC_CHOOSE_WINNER:
        *value = win;
        *len = win_len;
        return 0;
    case SYNC_CHOOSE_LOSER:
        /* Candidates are ordered by stamp: the newest one that lost is the last that differs. */
        for (size_t i = k->n_candidates; i-- > 0;) {
            const char *v = k->candidates[i].value;
            if (v != NULL && (strlen(v) != win_len || memcmp(v, win, win_len) != 0)) {
                *value = v;
                *len = strlen(v);
                return 0;
            }
        }
        proto_fault_set(fault, PROTO_CODE_INVALID_FIELD, k->field,
                        "%s: every candidate of conflict %" PRId64 " holds the value the "
                        "record has now, so there is no losing value; choose the winner",
                        k->field, k->id);
        return 1;
    case SYNC_CHOOSE_VALUE:
        if (r->value_json == NULL || r->value_len == 0) {
            proto_fault_set(fault, PROTO_CODE_INVALID_FIELD, k->field,
                            "%s: choosing a value of your own needs the value", k->field);
            return 1;
        }
        *value = r->value_json;
        *len = r->value_len;
        return 0;
    }
    proto_fault_set(fault, PROTO_CODE_INVALID_FIELD, "choose",
                    "choose must be winner, loser or value");
    return 1;
}

/* A compact JSON value as a NUL-terminated copy for db/; NULL when out of memory. */
static char *value_copy(const struct proto_value *v)
{
    char *s = malloc(v->json_len + 1);
    if (s != NULL) {
        memcpy(s, v->json, v->json_len);
        s[v->json_len] = '\0';
    }
    return s;
}

int sync_resolve(const struct sync_rules *rules, struct db *db, const struct db_principal *who,
                 const struct sync_resolution *r, int64_t now_ms, struct proto_fault *fault,
                 int64_t *rev, int64_t *history_id, struct sync_touched *touched)
{
    struct db_conflict k = {0};
    struct db_record stored = {0};
    struct proto_record *dec = NULL;
    struct proto_msg *msg = NULL;
    struct proto_result res = {0};
    struct proto_fault pf;
    struct proto_buf push;
    char device[RESOLVER_MAX + 1];
    char *resolution = NULL;
    const char *value = NULL;
    size_t value_len = 0;
    int64_t hid = 0;
    int have = 0, rc;

    if (rules == NULL || db == NULL || who == NULL || r == NULL || fault == NULL || rev == NULL ||
        history_id == NULL)
        return DB_EMISUSE;
    memset(fault, 0, sizeof *fault);
    if (touched != NULL)
        memset(touched, 0, sizeof *touched);
    proto_buf_init(&push, 0, SYNC__RECORD_MAX);
    snprintf(device, sizeof device, "@%s", who->user);

    rc = db_conflict_get(db, r->conflict_id, &k);
    if (rc == DB_ENOTFOUND) {
        rc = SYNC_RESOLVE_NOT_FOUND;
        goto out;
    }
    if (rc != 0)
        goto out;
    /* An entry of a record who cannot see does not exist for them, closed or not. */
    if (k.grid == NULL || !sync__allows(who, k.grid)) {
        rc = SYNC_RESOLVE_NOT_FOUND;
        goto out;
    }
    if (k.status != DB_CONFLICT_OPEN) {
        rc = SYNC_RESOLVE_CLOSED;
        goto out;
    }
    if (r->reason != NULL) {
        long chars = proto_utf8_chars(r->reason, strlen(r->reason));
        if (chars < 0 || chars > REASON_MAX_CHARS) {
            proto_fault_set(fault, PROTO_CODE_INVALID_FIELD, "reason",
                            "reason must be UTF-8 text of at most %d characters",
                            REASON_MAX_CHARS);
            rc = SYNC_RESOLVE_INVALID;
            goto out;
        }
    }
    rc = db_record_get(db, k.collection, k.record_id, &stored);
    if (rc != 0)
        goto out;
    have = 1;
    rc = proto_record_decode(stored.body, stored.body_len, stored.meta, stored.meta_len, &dec,
                             &pf);
    if (rc != 0) {
        rc = rc == PROTO_ENOMEM ? SYNC_ENOMEM : SYNC_ESTORE;
        goto out;
    }
    const struct proto_stamp *cur;
    const struct proto_field *winner = field_of(dec, k.field, &cur);
    if (chosen_value(&k, r, winner, &value, &value_len, fault)) {
        rc = SYNC_RESOLVE_INVALID;
        goto out;
    }

    struct proto_hlc hlc = later_stamp(&k, cur, now_ms);
    rc = write_push(&push, &k, stored.rev, hlc, value, value_len);
    if (rc == 0)
        rc = proto_parse_client(proto_buf_data(&push), push.len, &msg, &pf, NULL);
    if (rc == PROTO_ENOMEM) {
        rc = SYNC_ENOMEM;
        goto out;
    }
    if (rc != 0 || !is_our_change(msg, &k, stored.rev, hlc)) {
        proto_fault_set(fault, PROTO_CODE_INVALID_FIELD, k.field,
                        "%s: the chosen value must be one JSON value (null, a boolean, a "
                        "number, a string, an array or an object)",
                        k.field);
        rc = SYNC_RESOLVE_INVALID;
        goto out;
    }
    const struct proto_change *c = &msg->u.push.changes[0];
    if (c->fault.code != PROTO_CODE_NONE) {
        *fault = c->fault;
        rc = SYNC_RESOLVE_INVALID;
        goto out;
    }
    rc = sync_validate(rules, who, c, &stored, now_ms, fault);
    if (rc == 0)
        rc = sync__refs_check(rules, db, who, c, fault);
    if (rc < 0)
        goto out;
    if (rc > 0) {
        rc = SYNC_RESOLVE_INVALID;
        goto out;
    }

    rc = sync__merge_and_store(rules, db, device, NULL, c, &stored, now_ms, &res, &hid, touched);
    if (rc != 0)
        goto out;
    resolution = value_copy(&c->fields[0].value);
    if (resolution == NULL) {
        rc = SYNC_ENOMEM;
        goto out;
    }
    rc = db_conflict_resolve(db, k.id, who->user, now_ms, r->reason, resolution);
    if (rc != 0)
        goto out;
    *rev = res.rev;
    *history_id = hid;
out:
    if (rc < 0 && touched != NULL)
        sync_touched_clear(touched, 1);
    sync_results_clear(&res, 1);
    free(resolution);
    proto_msg_free(msg);
    proto_record_free(dec);
    proto_buf_free(&push);
    if (have)
        db_record_clear(&stored);
    db_conflict_clear(&k);
    return rc;
}
