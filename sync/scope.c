/*
 * scope.c — which grids a principal may read and write (§3), and what a
 * device is told about records outside them.
 *
 * Design: a record outside the device's grids is, for that device, a record
 * that does not exist (docs/protocol.md, "Scope"). The one thing no answer
 * can hide is that its id is taken — ids are global, so a second record
 * cannot be made under it — and that is all the answers below reveal: never
 * the record's grid, its rev or its state.
 */
#include <string.h>

#include "proto_text.h"
#include "sync_internal.h"

/*
 * True when scope lets its principal see grid. A NULL grid (a record with
 * no scope value) is outside every limited scope. Borrows both arguments;
 * any thread.
 */
int sync_scope_allows(const struct db_scope *scope, const char *grid)
{
    if (scope == NULL || grid == NULL)
        return 0;
    if (scope->all)
        return 1;
    for (size_t i = 0; i < scope->n; i++) {
        if (scope->grids[i] != NULL && strcmp(scope->grids[i], grid) == 0)
            return 1;
    }
    return 0;
}

/* True when who sees every grid, so that no record is hidden from it. */
static int sees_all(const struct db_principal *who)
{
    return who->scope.all && who->role != DB_ROLE_CADRE;
}

/* See sync_internal.h. Any thread. */
int sync__allows(const struct db_principal *who, const char *grid)
{
    if (who->role == DB_ROLE_CADRE && who->scope.all) {
        struct db_scope listed = who->scope;
        listed.all = 0;
        return sync_scope_allows(&listed, grid);
    }
    return sync_scope_allows(&who->scope, grid);
}

/* See sync_internal.h. Any thread. */
void sync__taken_fault(const struct db_principal *who, const struct proto_change *c,
                       struct proto_fault *fault)
{
    proto_fault_set(fault, PROTO_CODE_OUT_OF_SCOPE, "id",
                    "id: %.64s is the id of a record outside the grids of user %s; a new "
                    "record needs another id",
                    c->id, who->user);
}

/*
 * The fields that name a record of another collection. The schema is data
 * and has no reference type, so the one link the programme relies on is
 * named here: a visit's subject is a record of subjects. A schema without
 * one of these collections simply has no such link.
 */
static const struct {
    const char *collection; /* the collection whose changes are checked */
    const char *field;      /* the field that names a record... */
    const char *target;     /* ...of this collection */
} refs[] = {
    {"visits", "subject", "subjects"},
};

/* See sync_internal.h. The caller's thread, inside its transaction. */
int sync__refs_check(const struct sync_rules *rules, struct db *db,
                     const struct db_principal *who, const struct proto_change *c,
                     struct proto_fault *fault)
{
    if (sees_all(who))
        return 0;
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const struct proto_field *f = NULL;
        char grid[PROTO_ID_MAX + 1];
        int64_t rev;

        if (strcmp(c->collection, refs[i].collection) != 0 ||
            proto_schema_collection(rules->schema, refs[i].target) == NULL)
            continue;
        for (size_t j = 0; j < c->n_fields && f == NULL; j++) {
            if (strcmp(c->fields[j].name, refs[i].field) == 0)
                f = &c->fields[j];
        }
        if (f == NULL || f->value.type != PROTO_STRING)
            continue;
        int rc = db_record_head(db, refs[i].target, f->value.str, &rev, grid, sizeof grid);
        if (rc == DB_ENOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        if (sync__allows(who, grid))
            continue;
        /* The same words for every hidden record: nothing about its grid or rev. */
        proto_fault_set(fault, PROTO_CODE_OUT_OF_SCOPE, refs[i].field,
                        "%s: %.64s is a record of %s outside the grids of user %s, so this "
                        "device cannot name it",
                        refs[i].field, f->value.str, refs[i].target, who->user);
        return 1;
    }
    return 0;
}
