/*
 * fuzz_schema.c — any bytes as a schema file (proto_schema_parse), the
 * text an operator passes to `serve --schema`.
 *
 * Properties: a refused file has a fault a person can act on; an accepted
 * one is consistent — its version is the SHA-256 (64 lowercase hex) of its
 * collections_json, {"collections":<collections_json>} parses to the same
 * version and text (reformatting never changes a schema), every collection
 * and field is found by its name, every scope names a field, and every spec
 * is complete. Last, an empty change of each collection goes through
 * sync_validate, the code every push meets under this schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto_text.h"
#include "sync.h"

static void check_spec(const struct proto_ftype_spec *s, const char *where, int depth)
{
    FZ_CHECK(strcmp(proto_ftype_name(s->type), "unknown") != 0, "%s: type %d", where,
             (int)s->type);
    FZ_CHECK(depth < 64, "%s: specs nested %d deep", where, depth);
    if (s->type == PROTO_F_ENUM) {
        FZ_CHECK(s->n_values > 0 && s->values != NULL, "%s: an enum without values", where);
        for (size_t i = 0; i < s->n_values; i++)
            FZ_CHECK(s->values[i] != NULL, "%s: values[%zu] is NULL", where, i);
    }
    if (s->type == PROTO_F_ARRAY) {
        FZ_CHECK(s->item != NULL, "%s: an array without items", where);
        FZ_CHECK(s->max_items > 0, "%s: max_items is 0", where);
        check_spec(s->item, where, depth + 1);
    }
}

static void check_schema(const struct proto_schema *s)
{
    FZ_CHECK(s->version != NULL && strlen(s->version) == 64 &&
                 strspn(s->version, "0123456789abcdef") == 64,
             "version \"%s\" is not 64 lowercase hex digits", s->version ? s->version : "(null)");
    FZ_CHECK(s->collections_json != NULL, "no collections_json");
    FZ_CHECK(s->n_collections > 0, "a schema without collections was accepted");
    for (size_t i = 0; i < s->n_collections; i++) {
        const struct proto_collection *c = &s->collections[i];
        FZ_CHECK(c->name != NULL && proto_schema_collection(s, c->name) == c,
                 "collection %zu is not found by its name", i);
        FZ_CHECK(c->n_fields > 0, "collection %s has no fields", c->name);
        for (size_t k = 0; k < c->n_fields; k++) {
            const struct proto_schema_field *f = &c->fields[k];
            FZ_CHECK(f->name != NULL && proto_collection_field(c, f->name) == f,
                     "%s.%zu is not found by its name", c->name, k);
            FZ_CHECK(proto_id_valid(f->name, strlen(f->name)), "field name %s", f->name);
            check_spec(&f->spec, f->name, 0);
        }
        FZ_CHECK(c->scope == NULL || proto_collection_field(c, c->scope) != NULL,
                 "%s: scope %s is not a field", c->name, c->scope);
    }

    /* Reformatting never changes a schema: its collections alone parse to the same. */
    size_t len = strlen(s->collections_json) + 32;
    char *text = malloc(len);
    FZ_CHECK(text != NULL, "out of memory");
    int n = snprintf(text, len, "{\"collections\":%s}", s->collections_json);
    char *exact = fz_copy(text, (size_t)n);
    free(text);
    struct proto_schema *again = NULL;
    struct proto_fault fault = {0};
    int err = proto_schema_parse(exact, (size_t)n, &again, &fault);
    FZ_CHECK(err == 0, "the schema's own collections_json does not parse: %s\n%s", fault.message,
             exact);
    FZ_CHECK(strcmp(again->version, s->version) == 0 &&
                 strcmp(again->collections_json, s->collections_json) == 0,
             "re-parsed, the schema changes:\n%s\n%s", s->collections_json,
             again->collections_json);
    proto_schema_free(again);
    free(exact);
}

/* An empty change of every collection, as a supervisor of all grids sends it. */
static void validate_empty(const struct proto_schema *s)
{
    struct sync_rules rules = {.schema = s, .max_skew_ms = 0};
    struct db_principal who;
    memset(&who, 0, sizeof who);
    snprintf(who.device, sizeof who.device, "sup");
    snprintf(who.user, sizeof who.user, "s1");
    who.role = DB_ROLE_SUPERVISOR;
    who.scope.all = 1;
    for (size_t i = 0; i < s->n_collections; i++) {
        struct proto_change c;
        struct proto_fault fault;
        memset(&c, 0, sizeof c);
        memset(&fault, 0, sizeof fault);
        c.seq = 1;
        c.collection = s->collections[i].name;
        c.id = "r1";
        c.base = (int64_t)i % 2;
        if (sync_validate(&rules, &who, &c, NULL, 1000, &fault))
            fz_check_fault(&fault, "sync_validate");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_schema *s = NULL;
    struct proto_fault fault = {0};
    int err = proto_schema_parse((const char *)data, size, &s, &fault);
    if (err != 0) {
        FZ_CHECK(err == PROTO_EINVALID || err == PROTO_ENOMEM, "proto_schema_parse returned %d",
                 err);
        if (err == PROTO_EINVALID) {
            fz_check_fault(&fault, "proto_schema_parse");
            FZ_CHECK(fault.code != PROTO_CODE_NONE, "refused without a code");
        }
        return 0;
    }
    check_schema(s);
    validate_empty(s);
    proto_schema_free(s);
    return 0;
}
