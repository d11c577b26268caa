/*
 * test_schema.c — the schema file (§4): the built-in default parses to the
 * collections and fields of the contract with a stable version; layout
 * does not change the version, meaning does; and each bad schema under
 * schemas/ (first line: the member the fault must name, "-" for none)
 * is refused with that member.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_schema.h"

static const char *schemas_dir;

/* The version clients of the default schema have cached: it must never drift. */
#define DEFAULT_VERSION "e4a338c41d63641a82592d008ed87c120b7bfdd74be7ba8d69371951982743b7"

static struct proto_schema *parse_ok(const char *json)
{
    struct proto_schema *s = NULL;
    struct proto_fault f = {0};
    int err = proto_schema_parse(json, strlen(json), &s, &f);
    if (err)
        fail_msg("schema refused: %s [%s] %s", proto_strerror(err), f.field, f.message);
    return s;
}

static void default_schema(void **state)
{
    (void)state;
    struct proto_schema *s = parse_ok(proto_default_schema_json);
    assert_string_equal(s->version, DEFAULT_VERSION);
    /* collections_json is the "collections" value of the (already compact) default text. */
    const char *text = proto_default_schema_json;
    size_t prefix = strlen("{\"collections\":");
    assert_int_equal(strlen(s->collections_json), strlen(text) - prefix - 1);
    assert_memory_equal(s->collections_json, text + prefix, strlen(s->collections_json));

    assert_int_equal(s->n_collections, 2);
    assert_string_equal(s->collections[0].name, "subjects");
    assert_string_equal(s->collections[1].name, "visits");
    const struct proto_collection *subjects = proto_schema_collection(s, "subjects");
    const struct proto_collection *visits = proto_schema_collection(s, "visits");
    assert_non_null(subjects);
    assert_non_null(visits);
    assert_null(proto_schema_collection(s, "households"));
    assert_int_equal(subjects->n_fields, 12);
    assert_int_equal(visits->n_fields, 12);
    assert_string_equal(subjects->scope, "grid");
    assert_string_equal(visits->scope, "grid");
    /* File order is kept. */
    assert_string_equal(subjects->fields[0].name, "name");
    assert_string_equal(visits->fields[11].name, "follow_up");

    const struct proto_schema_field *f = proto_collection_field(subjects, "name");
    assert_true(f->required);
    assert_int_equal(f->spec.type, PROTO_F_STRING);
    f = proto_collection_field(subjects, "income");
    assert_false(f->required);
    assert_int_equal(f->spec.type, PROTO_F_NUMBER);
    assert_true(f->spec.has_min);
    assert_true(f->spec.min == 0);
    f = proto_collection_field(visits, "income");
    assert_false(f->spec.has_min);
    f = proto_collection_field(subjects, "dibao");
    assert_int_equal(f->spec.type, PROTO_F_ENUM);
    assert_int_equal(f->spec.n_values, 4);
    assert_string_equal(f->spec.values[3], "rejected");
    f = proto_collection_field(visits, "visited_at");
    assert_true(f->required);
    assert_int_equal(f->spec.type, PROTO_F_DATETIME);
    f = proto_collection_field(visits, "assistance");
    assert_int_equal(f->spec.type, PROTO_F_ARRAY);
    assert_int_equal(f->spec.max_items, 100);
    assert_int_equal(f->spec.item->type, PROTO_F_ENUM);
    assert_int_equal(f->spec.item->n_values, 8);
    f = proto_collection_field(visits, "photos");
    assert_int_equal(f->spec.item->type, PROTO_F_SHA256);
    assert_int_equal(proto_collection_field(visits, "follow_up")->spec.type, PROTO_F_DATE);
    assert_int_equal(proto_collection_field(visits, "subject")->spec.type, PROTO_F_ID);
    assert_int_equal(proto_collection_field(subjects, "disability_cert")->spec.type,
                     PROTO_F_BOOL);
    assert_int_equal(proto_collection_field(subjects, "family_notes")->spec.type, PROTO_F_TEXT);
    assert_int_equal(proto_collection_field(subjects, "cadre")->spec.type, PROTO_F_STRING);
    assert_null(proto_collection_field(visits, "_deleted"));
    assert_string_equal(proto_ftype_name(PROTO_F_DATETIME), "datetime");

    /* A second parse gives the same version. */
    struct proto_schema *again = parse_ok(proto_default_schema_json);
    assert_string_equal(again->version, s->version);
    proto_schema_free(again);
    proto_schema_free(s);
}

static void version_follows_meaning(void **state)
{
    (void)state;
    const char *a = "{\"collections\":{\"c\":{\"scope\":\"g\",\"fields\":{\"g\":{\"type\":\"id\","
                    "\"required\":true}}}}}";
    const char *a_pretty = "{\n  \"collections\" : {\n    \"c\" : { \"scope\" : \"g\",\n"
                           "      \"fields\" : { \"g\" : { \"type\" : \"id\", \"required\" : "
                           "true } } }\n  },\n  \"description\": \"测试\"\n}\n";
    const char *b = "{\"collections\":{\"c\":{\"scope\":\"g\",\"fields\":{\"g\":{\"type\":\"id\","
                    "\"required\":true},\"n\":{\"type\":\"text\",\"label\":\"备注\"}}}}}";
    struct proto_schema *sa = parse_ok(a), *sp = parse_ok(a_pretty), *sb = parse_ok(b);
    assert_string_equal(sa->version, sp->version);
    assert_string_not_equal(sa->version, sb->version);
    assert_int_equal(strlen(sa->version), 64);
    assert_string_equal(sp->collections_json, sa->collections_json);
    proto_schema_free(sa);
    proto_schema_free(sp);
    proto_schema_free(sb);

    const char *arr = "{\"collections\":{\"c\":{\"scope\":\"g\",\"fields\":{\"g\":{\"type\":\"id\","
                      "\"required\":true},\"tags\":{\"type\":\"array\",\"max_items\":5,"
                      "\"items\":{\"type\":\"number\",\"min\":-3}}}}}}";
    struct proto_schema *s = parse_ok(arr);
    const struct proto_schema_field *f =
        proto_collection_field(proto_schema_collection(s, "c"), "tags");
    assert_int_equal(f->spec.max_items, 5);
    assert_true(f->spec.item->has_min);
    assert_true(f->spec.item->min == -3);
    proto_schema_free(s);
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, fp) : 0;
    fclose(fp);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void bad_schemas(void **state)
{
    (void)state;
    DIR *d = opendir(schemas_dir);
    assert_non_null(d);
    int seen = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", schemas_dir, e->d_name);
        char *text = read_all(path);
        assert_non_null(text);
        char *nl = strchr(text, '\n');
        assert_non_null(nl);
        *nl = '\0';
        const char *want = strcmp(text, "-") == 0 ? "" : text;
        struct proto_schema *s = NULL;
        struct proto_fault f = {0};
        int err = proto_schema_parse(nl + 1, strlen(nl + 1), &s, &f);
        if (err != PROTO_EINVALID) {
            proto_schema_free(s);
            fail_msg("%s: the bad schema was accepted", e->d_name);
        }
        if (strcmp(f.field, want) != 0)
            fail_msg("%s: expected the fault at \"%s\", got \"%s\": %s", e->d_name, want,
                     f.field, f.message);
        if (strlen(f.message) < 10)
            fail_msg("%s: the message \"%s\" is too short to act on", e->d_name, f.message);
        if (getenv("PROTO_SHOW"))
            printf("%-26s %s\n", e->d_name, f.message);
        free(text);
        seen++;
    }
    closedir(d);
    assert_true(seen >= 10);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCHEMAS_DIR\n", argv[0]);
        return 2;
    }
    schemas_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_schema),
        cmocka_unit_test(version_follows_meaning),
        cmocka_unit_test(bad_schemas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
