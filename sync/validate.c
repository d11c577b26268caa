/*
 * validate.c — the checks a change passes before it is merged (§2.2, §3, §4).
 *
 * The order is part of the contract: bad_id, unknown_collection,
 * unknown_field, invalid_field, clock_skew, missing_field, out_of_scope.
 * A record outside the principal's grids is checked as if it did not
 * exist (scope.c says why), so no message here names a stored record's
 * grid or rev.
 * Each fault names the field at fault and says which rule it broke, in a
 * sentence a field worker or an operator can act on.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto_text.h"
#include "sync_internal.h"

#define STRING_MAX_CHARS 200
#define TEXT_MAX_CHARS 10000
#define ARRAY_DEFAULT_MAX_ITEMS 100
#define SHOW_MAX 48 /* bytes of a rejected value quoted back in a message */

static const char DELETED[] = "_deleted";

/* Copies the value's JSON into buf for a message, cut at a UTF-8 boundary. */
static const char *show(const struct proto_value *v, char *buf, size_t size)
{
    size_t n = v->json_len;
    if (n + 1 > size || n > SHOW_MAX) {
        n = SHOW_MAX < size - 4 ? SHOW_MAX : size - 4;
        while (n > 0 && ((unsigned char)v->json[n] & 0xC0) == 0x80)
            n--;
        memcpy(buf, v->json, n);
        memcpy(buf + n, "...", 4);
        return buf;
    }
    memcpy(buf, v->json, n);
    buf[n] = '\0';
    return buf;
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* Writes "a, b, c" into buf, truncated to fit. */
static void enum_list(const struct proto_ftype_spec *spec, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < spec->n_values && len < size; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", spec->values[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/*
 * Checks one non-null value (or array item) against its type. label names it
 * in the message ("assistance[2]"), field in fault->field ("assistance").
 * Returns 1 with *fault filled when the value is invalid.
 */
static int value_invalid(const struct proto_ftype_spec *spec, const struct proto_value *v,
                         const char *field, const char *label, struct proto_fault *fault)
{
    char shown[SHOW_MAX + 8];
    char list[120];
    enum proto_code bad = PROTO_CODE_INVALID_FIELD;

    switch (spec->type) {
    case PROTO_F_STRING:
    case PROTO_F_TEXT: {
        size_t max = spec->type == PROTO_F_STRING ? STRING_MAX_CHARS : TEXT_MAX_CHARS;
        if (v->type != PROTO_STRING) {
            proto_fault_set(fault, bad, field, "%s: %s is not a string", label,
                            show(v, shown, sizeof shown));
            return 1;
        }
        if (v->chars > max) {
            proto_fault_set(fault, bad, field,
                            "%s: is %zu characters long; a %s holds at most %zu", label,
                            v->chars, spec->type == PROTO_F_STRING ? "string" : "text", max);
            return 1;
        }
        return 0;
    }
    case PROTO_F_NUMBER:
        if (v->type != PROTO_NUMBER || !isfinite(v->number)) {
            proto_fault_set(fault, bad, field, "%s: %s is not a number", label,
                            show(v, shown, sizeof shown));
            return 1;
        }
        if (spec->has_min && v->number < spec->min) {
            proto_fault_set(fault, bad, field, "%s: %s is below the minimum of %g", label,
                            show(v, shown, sizeof shown), spec->min);
            return 1;
        }
        return 0;
    case PROTO_F_BOOL:
        if (v->type != PROTO_BOOL) {
            proto_fault_set(fault, bad, field, "%s: %s is not true or false", label,
                            show(v, shown, sizeof shown));
            return 1;
        }
        return 0;
    case PROTO_F_ENUM:
        if (v->type == PROTO_STRING) {
            for (size_t i = 0; i < spec->n_values; i++) {
                if (strcmp(spec->values[i], v->str) == 0 && strlen(v->str) == v->len)
                    return 0;
            }
        }
        enum_list(spec, list, sizeof list);
        proto_fault_set(fault, bad, field, "%s: %s is not one of %s", label,
                        show(v, shown, sizeof shown), list);
        return 1;
    case PROTO_F_DATE:
        if (v->type != PROTO_STRING || !proto_date_valid(v->str, v->len)) {
            proto_fault_set(fault, bad, field,
                            "%s: %s is not a calendar date written YYYY-MM-DD", label,
                            show(v, shown, sizeof shown));
            return 1;
        }
        return 0;
    case PROTO_F_DATETIME:
        if (v->type != PROTO_STRING || !proto_datetime_valid(v->str, v->len)) {
            proto_fault_set(fault, bad, field,
                            "%s: %s is not an RFC 3339 date-time with an offset, like "
                            "2026-11-28T09:30:00+08:00",
                            label, show(v, shown, sizeof shown));
            return 1;
        }
        return 0;
    case PROTO_F_ID:
        if (v->type != PROTO_STRING || !proto_id_valid(v->str, v->len)) {
            proto_fault_set(fault, bad, field,
                            "%s: %s is not an id (1 to 64 of A-Z a-z 0-9 _ - . :)", label,
                            show(v, shown, sizeof shown));
            return 1;
        }
        return 0;
    case PROTO_F_SHA256:
        if (v->type != PROTO_STRING || v->len != 7 + 64 || memcmp(v->str, "sha256:", 7) != 0 ||
            !is_lower_hex(v->str + 7, 64)) {
            proto_fault_set(fault, bad, field,
                            "%s: %s is not \"sha256:\" followed by 64 lowercase hex digits",
                            label, show(v, shown, sizeof shown));
            return 1;
        }
        return 0;
    case PROTO_F_ARRAY: {
        size_t max = spec->max_items ? spec->max_items : ARRAY_DEFAULT_MAX_ITEMS;
        if (v->type != PROTO_ARRAY) {
            proto_fault_set(fault, bad, field, "%s: %s is not an array", label,
                            show(v, shown, sizeof shown));
            return 1;
        }
        if (v->n_items > max) {
            proto_fault_set(fault, bad, field, "%s: has %zu items; at most %zu are allowed",
                            label, v->n_items, max);
            return 1;
        }
        if (spec->item == NULL)
            return 0;
        for (size_t i = 0; i < v->n_items; i++) {
            /*
             * The item's label ("assistance[2]") is only needed for a fault:
             * a valid item is checked without formatting one, an invalid one
             * is checked again (the check is pure) to word the fault.
             */
            struct proto_fault scratch;
            if (!value_invalid(spec->item, &v->items[i], field, label, &scratch))
                continue;
            char item_label[sizeof fault->field + 24];
            snprintf(item_label, sizeof item_label, "%s[%zu]", label, i);
            return value_invalid(spec->item, &v->items[i], field, item_label, fault);
        }
        return 0;
    }
    }
    proto_fault_set(fault, bad, field, "%s: the schema gives it a type this server does not know",
                    label);
    return 1;
}

static const struct proto_field *change_field(const struct proto_change *c, const char *name)
{
    for (size_t i = 0; i < c->n_fields; i++) {
        /* Called per schema field for every change: the first byte settles most misses. */
        if (c->fields[i].name[0] == name[0] && strcmp(c->fields[i].name, name) == 0)
            return &c->fields[i];
    }
    return NULL;
}

/* A present, non-null value: what "the change carries the field" means. */
static int carries(const struct proto_change *c, const char *name)
{
    const struct proto_field *f = change_field(c, name);
    return f != NULL && f->value.type != PROTO_NULL;
}

static int check_fields(const struct proto_collection *col, const struct proto_change *c,
                        struct proto_fault *fault)
{
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *name = c->fields[i].name;
        if (strcmp(name, DELETED) != 0 && proto_collection_field(col, name) == NULL) {
            proto_fault_set(fault, PROTO_CODE_UNKNOWN_FIELD, name,
                            "%s: collection %s has no such field", name, col->name);
            return 1;
        }
    }
    for (size_t i = 0; i < c->n_fields; i++) {
        const struct proto_field *f = &c->fields[i];
        if (strcmp(f->name, DELETED) == 0) {
            char shown[SHOW_MAX + 8];
            if (f->value.type != PROTO_BOOL) {
                proto_fault_set(fault, PROTO_CODE_INVALID_FIELD, f->name,
                                "%s: %s is not true or false", f->name,
                                show(&f->value, shown, sizeof shown));
                return 1;
            }
            continue;
        }
        const struct proto_schema_field *sf = proto_collection_field(col, f->name);
        int is_scope = col->scope != NULL && strcmp(col->scope, f->name) == 0;
        if (f->value.type == PROTO_NULL) {
            if (sf->required || is_scope) {
                proto_fault_set(fault, PROTO_CODE_INVALID_FIELD, f->name,
                                "%s: is required and cannot be set to null", f->name);
                return 1;
            }
            continue; /* null clears an optional field */
        }
        if (value_invalid(&sf->spec, &f->value, f->name, f->name, fault))
            return 1;
    }
    return 0;
}

/*
 * stored is NULL both when the record does not exist and when it is outside
 * the principal's grids, so the words below must be true of both: they
 * speak of the user's grids, not of the store.
 */
static int check_missing(const struct proto_collection *col, const struct db_principal *who,
                         const struct proto_change *c, const struct db_record *stored,
                         struct proto_fault *fault)
{
    for (size_t i = 0; i < col->n_fields; i++) {
        const struct proto_schema_field *sf = &col->fields[i];
        int is_scope = col->scope != NULL && strcmp(col->scope, sf->name) == 0;
        if (carries(c, sf->name))
            continue;
        if (c->base == 0 && sf->required) {
            proto_fault_set(fault, PROTO_CODE_MISSING_FIELD, sf->name,
                            "%s: is required when a record is created (base 0)", sf->name);
            return 1;
        }
        if (stored == NULL && is_scope) {
            proto_fault_set(fault, PROTO_CODE_MISSING_FIELD, sf->name,
                            "%s: no record %s of %s is in the grids of user %s, so the change "
                            "must name its %s",
                            sf->name, c->id, col->name, who->user, sf->name);
            return 1;
        }
    }
    /* A scope field the schema does not list still has to be carried by a new record. */
    if (stored == NULL && col->scope != NULL && proto_collection_field(col, col->scope) == NULL &&
        !carries(c, col->scope)) {
        proto_fault_set(fault, PROTO_CODE_MISSING_FIELD, col->scope,
                        "%s: no record %s of %s is in the grids of user %s, so the change must "
                        "name its %s",
                        col->scope, c->id, col->name, who->user, col->scope);
        return 1;
    }
    return 0;
}

/* The grid the change gives its record must be one of the principal's. */
static int check_scope(const struct proto_collection *col, const struct db_principal *who,
                       const struct proto_change *c, struct proto_fault *fault)
{
    const char *scope = col->scope != NULL ? col->scope : "";
    const struct proto_field *f = col->scope != NULL ? change_field(c, col->scope) : NULL;
    if (f != NULL && (f->value.type != PROTO_STRING || !sync__allows(who, f->value.str))) {
        char shown[SHOW_MAX + 8];
        proto_fault_set(fault, PROTO_CODE_OUT_OF_SCOPE, scope,
                        "%s: grid %s is outside the grids of user %s", scope,
                        show(&f->value, shown, sizeof shown), who->user);
        return 1;
    }
    return 0;
}

/*
 * Checks c against the schema, the clock and who's scope (see sync.h).
 * Borrows every argument; fills *fault only when it returns 1. Any thread.
 * A max_skew_ms of 0 or less means the default (SYNC_DEFAULT_MAX_SKEW_MS),
 * so zeroed rules are safe. A stored record outside who's grids is treated
 * as absent, and a change that would then be valid is refused as taking
 * its id (sync__taken_fault): the answer is the one for a record that does
 * not exist wherever there is one.
 */
int sync_validate(const struct sync_rules *rules, const struct db_principal *who,
                  const struct proto_change *c, const struct db_record *stored, int64_t now_ms,
                  struct proto_fault *fault)
{
    struct proto_fault f = {0};
    int64_t max_skew = rules->max_skew_ms > 0 ? rules->max_skew_ms : SYNC_DEFAULT_MAX_SKEW_MS;
    const struct proto_collection *col;
    int hidden = stored != NULL && !sync__allows(who, stored->grid);
    int bad = 1;

    if (hidden)
        stored = NULL;

    if (c->id == NULL || !proto_id_valid(c->id, strlen(c->id))) {
        proto_fault_set(&f, PROTO_CODE_BAD_ID, "id",
                        "id: %.70s is not an id (1 to 64 of A-Z a-z 0-9 _ - . :)",
                        c->id ? c->id : "(none)");
        goto out;
    }
    col = c->collection ? proto_schema_collection(rules->schema, c->collection) : NULL;
    if (col == NULL) {
        proto_fault_set(&f, PROTO_CODE_UNKNOWN_COLLECTION, "collection",
                        "collection: %.70s is not a collection of the schema",
                        c->collection ? c->collection : "(none)");
        goto out;
    }
    if (check_fields(col, c, &f))
        goto out;
    if (c->hlc.ms > now_ms + max_skew) {
        proto_fault_set(&f, PROTO_CODE_CLOCK_SKEW, "hlc",
                        "hlc: the change is stamped %.3f s ahead of the server clock; at most "
                        "%.0f s are allowed, so the tablet's clock must be corrected",
                        (double)(c->hlc.ms - now_ms) / 1000.0, (double)max_skew / 1000.0);
        goto out;
    }
    if (check_missing(col, who, c, stored, &f))
        goto out;
    if (check_scope(col, who, c, &f))
        goto out;
    if (hidden) {
        sync__taken_fault(who, c, &f);
        goto out;
    }
    bad = 0;
out:
    if (bad)
        *fault = f; /* proto_fault_set cuts what it quotes at a UTF-8 boundary */
    return bad;
}
