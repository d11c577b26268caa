/*
 * test_cli_units.c — unit tests of cli/'s pieces: the strict option
 * parser, the UTF-8 check, the escaping of untrusted text for a terminal
 * and for a CSV cell, and the change builder (whose output must parse
 * back, through protocol/, to the same values).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "change.h"
#include "cli.h"

/* ---- args ---------------------------------------------------------------- */

struct parsed {
    const char *id, *name, *db;
    int qr;
    const char *pos[2];
    size_t n_pos;
    char err[256];
};

static int parse(struct parsed *p, size_t min_pos, size_t max_pos, int argc, char **argv)
{
    static const char *const names[] = {"ID", "NAME"};
    const struct cli_opt opts[] = {
        {"id", &p->id, NULL, 0},
        {"name", &p->name, NULL, 0},
        {"qr", NULL, &p->qr, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 3, .pos_names = names,
                                 .min_pos = min_pos, .max_pos = max_pos, .db_path = &p->db};
    memset(p, 0, sizeof *p);
    return cli_args_parse(&spec, argc, argv, p->pos, &p->n_pos, p->err, sizeof p->err);
}

static void test_args_forms(void **state)
{
    (void)state;
    struct parsed p;
    char **v = (char *[]){"--id", "c1", "--name=张 三", "--qr", "x", "--db", "a.db"};
    assert_int_equal(parse(&p, 0, 2, 7, v), CLI_ARGS_OK);
    assert_string_equal(p.id, "c1");
    assert_string_equal(p.name, "张 三");
    assert_int_equal(p.qr, 1);
    assert_string_equal(p.db, "a.db");
    assert_int_equal(p.n_pos, 1);
    assert_string_equal(p.pos[0], "x");

    /* "--" ends the options; a lone "-" and negative-looking values are arguments. */
    v = (char *[]){"--", "--id", "-"};
    assert_int_equal(parse(&p, 0, 2, 3, v), CLI_ARGS_OK);
    assert_int_equal(p.n_pos, 2);
    assert_string_equal(p.pos[0], "--id");
    assert_string_equal(p.pos[1], "-");
    v = (char *[]){"--id", "-5", "--db=x.db"};
    assert_int_equal(parse(&p, 0, 0, 3, v), CLI_ARGS_OK);
    assert_string_equal(p.id, "-5");
    assert_string_equal(p.db, "x.db");
    /* Joined by '=', a value that starts with "--" is the value (an old token may). */
    v = (char *[]){"--id=--Ab3", "--db=--x.db"};
    assert_int_equal(parse(&p, 0, 0, 2, v), CLI_ARGS_OK);
    assert_string_equal(p.id, "--Ab3");
    assert_string_equal(p.db, "--x.db");
}

static void test_args_errors(void **state)
{
    (void)state;
    struct parsed p;
    struct {
        int argc;
        char **argv;
        size_t min, max;
        const char *err;
    } cases[] = {
        {1, (char *[]){"--frob"}, 0, 2, "unknown option '--frob'"},
        {1, (char *[]){"--frob=1"}, 0, 2, "unknown option '--frob'"},
        {1, (char *[]){"-x"}, 0, 2, "unknown option '-x'"},
        {1, (char *[]){"--id"}, 0, 2, "option --id needs a value"},
        {1, (char *[]){"--id="}, 0, 2, "option --id needs a value"},
        {2, (char *[]){"--id", "--name"}, 0, 2, "option --id needs a value"},
        {1, (char *[]){"--qr=yes"}, 0, 2, "option --qr takes no value"},
        {4, (char *[]){"--id", "a", "--id", "b"}, 0, 2, "option --id given twice"},
        {2, (char *[]){"--qr", "--qr"}, 0, 2, "option --qr given twice"},
        {3, (char *[]){"a", "b", "c"}, 0, 2, "unexpected argument 'c'"},
        {1, (char *[]){"a"}, 2, 2, "missing NAME"},
        {0, (char *[]){NULL}, 1, 2, "missing ID"},
        {1, (char *[]){"--db"}, 0, 0, "option --db needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(&p, cases[i].min, cases[i].max, cases[i].argc, cases[i].argv);
        if (rc != CLI_ARGS_USAGE || strcmp(p.err, cases[i].err) != 0)
            fail_msg("case %zu: rc %d, err '%s', want '%s'", i, rc, p.err, cases[i].err);
    }
}

static void test_args_help_and_required(void **state)
{
    (void)state;
    struct parsed p;
    assert_int_equal(parse(&p, 2, 2, 1, (char *[]){"--help"}), CLI_ARGS_HELP);
    assert_int_equal(parse(&p, 2, 2, 1, (char *[]){"-h"}), CLI_ARGS_HELP);
    assert_true(cli_args_wants_help(2, (char *[]){"add", "--help"}));
    assert_false(cli_args_wants_help(2, (char *[]){"--", "--help"}));

    const char *id = NULL;
    const struct cli_opt opts[] = {{"id", &id, NULL, 1}};
    struct cli_args_spec spec = {.opts = opts, .n_opts = 1};
    char err[128];
    size_t n = 0;
    assert_int_equal(cli_args_parse(&spec, 0, NULL, NULL, &n, err, sizeof err), CLI_ARGS_USAGE);
    assert_string_equal(err, "missing option --id");
    /* Without a db_path in the spec, --db is an unknown option. */
    assert_int_equal(cli_args_parse(&spec, 2, (char *[]){"--db", "x"}, NULL, &n, err, sizeof err),
                     CLI_ARGS_USAGE);
    assert_string_equal(err, "unknown option '--db'");
}

/* ---- UTF-8 --------------------------------------------------------------- */

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(cli_utf8_chars("蚬冈村", strlen("蚬冈村")), 3);
    assert_int_equal(cli_utf8_chars("a b", 3), 3);
    assert_int_equal(cli_utf8_chars("😀", 4), 1);
    assert_int_equal(cli_utf8_chars("a\nb", 3), -1);      /* control character */
    assert_int_equal(cli_utf8_chars("\xc0\xaf", 2), -1);  /* overlong */
    assert_int_equal(cli_utf8_chars("\xed\xa0\x80", 3), -1); /* surrogate */
    assert_int_equal(cli_utf8_chars("\xe8\x9a", 2), -1);  /* truncated */
    assert_int_equal(cli_utf8_chars("\xff", 1), -1);
}

/* ---- untrusted text ------------------------------------------------------- */

/* What cli_term_write makes of n bytes of s; *out is malloc'd. */
static void term(const char *s, size_t n, const char *want)
{
    char *got = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&got, &len);
    assert_non_null(f);
    assert_int_equal(cli_term_write(f, s, n), 0);
    fclose(f);
    assert_string_equal(got, want);
    free(got);
}

static void test_term_write(void **state)
{
    (void)state;
    term("蚬冈村 ok", strlen("蚬冈村 ok"), "蚬冈村 ok");
    term("\x1b[2J\x1b]0;t\x07", 10, "\\u001b[2J\\u001b]0;t\\u0007");
    term("a\0b\tc\r\n", 7, "a\\u0000b\\u0009c\\u000d\\u000a");
    term("\x08\x7f\xc2\x9b\xc2\x80\xc2\x9f\xc2\xa0", 10,
         "\\u0008\\u007f\\u009b\\u0080\\u009f\xc2\xa0"); /* NBSP is text */
    term("\x9b\xff\xe8\x9a", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    term("{\"a\":\"\\u001b\"}", 14, "{\"a\":\"\\u001b\"}"); /* JSON escapes stay */
    term("", 0, "");
}

/* What cli_csv_cell makes of s (n bytes) as text or not. */
static void cell(const char *s, size_t n, int text, const char *want)
{
    struct proto_buf b;
    proto_buf_init(&b, 0, 1024);
    assert_int_equal(cli_csv_cell(&b, s, n, text), 0);
    assert_memory_equal(b.len ? proto_buf_data(&b) : "", want, strlen(want) + 1);
    assert_int_equal(b.len, strlen(want));
    proto_buf_free(&b);
}

static void test_csv_cell(void **state)
{
    (void)state;
    static const char *const formulas[] = {"=1+1", "+1", "-1", "@SUM(1)", "\t=1", "\r=1",
                                           "＝1", "＋1", "－1", "＠A1"};
    char want[64];
    for (size_t i = 0; i < sizeof formulas / sizeof formulas[0]; i++) {
        snprintf(want, sizeof want, "\"'%s\"", formulas[i]);
        cell(formulas[i], strlen(formulas[i]), 1, want);
        /* Not text (a number, JSON): as it is. */
        if (formulas[i][0] == '-' || formulas[i][0] == '+')
            cell(formulas[i], strlen(formulas[i]), 0, formulas[i]);
    }
    cell("-5.5", 4, 0, "-5.5");
    cell("a=1 -2", 6, 1, "a=1 -2");         /* only the first character counts */
    cell("帮助；找工作，好", strlen("帮助；找工作，好"), 1, "帮助；找工作，好");
    cell("a,b", 3, 1, "\"a,b\"");
    cell("a;b", 3, 1, "\"a;b\"");
    cell("say \"hi\"", 8, 1, "\"say \"\"hi\"\"\"");
    cell("=\"x\"", 4, 1, "\"'=\"\"x\"\"\"");
    cell("a\r\nb\tc", 6, 1, "\"a\r\nb\tc\"");
    cell("\x1b[2J", 4, 1, "\xef\xbf\xbd[2J");
    cell("a\0b\x7f\xc2\x9b\xff", 7, 1, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    cell("\x1b=1", 3, 1, "\xef\xbf\xbd=1"); /* starts with U+FFFD now: text */
    cell("", 0, 1, "");
}

/* ---- the change builder -------------------------------------------------- */

static void test_change_builder_parses_back(void **state)
{
    (void)state;
    struct cli_arena *a = cli_arena_new(1 << 20);
    struct cli_fields f = {0};
    struct proto_change c;
    const char *items[] = {"placement", "fund"};
    assert_non_null(a);
    cli_fields_str(&f, a, "notes", "说 \"引号\", 逗号\n换行");
    cli_fields_num(&f, a, "income", 3200);
    cli_fields_num(&f, a, "score", 2.5);
    cli_fields_bool(&f, a, "_deleted", 0);
    cli_fields_strs(&f, a, "assistance", items, 2);
    cli_fields_str(&f, a, "grid", "g01");
    assert_int_equal(cli_change_build(a, &c, 7, "visits", "v-1", 0, 1764409000000LL, 3, &f), 0);
    assert_int_equal(c.n_fields, 6);
    for (size_t i = 1; i < c.n_fields; i++)
        assert_true(strcmp(c.fields[i - 1].name, c.fields[i].name) < 0);
    assert_string_equal(c.fields[0].name, "_deleted");

    /* The raw text, wrapped in a push, must parse to the very same fields. */
    char msg[4096];
    snprintf(msg, sizeof msg, "{\"type\":\"push\",\"changes\":[%.*s]}", (int)c.raw_len, c.raw);
    struct proto_msg *m = NULL;
    struct proto_fault fault;
    char req[PROTO_REQ_BYTES + 1];
    assert_int_equal(proto_parse_client(msg, strlen(msg), &m, &fault, req), 0);
    const struct proto_change *p = &m->u.push.changes[0];
    assert_int_equal(p->fault.code, PROTO_CODE_NONE);
    assert_int_equal(p->seq, 7);
    assert_int_equal(p->hlc.ms, 1764409000000LL);
    assert_int_equal(p->hlc.counter, 3);
    assert_string_equal(p->collection, "visits");
    assert_string_equal(p->id, "v-1");
    assert_int_equal(p->n_fields, c.n_fields);
    for (size_t i = 0; i < c.n_fields; i++) {
        const struct proto_value *x = &c.fields[i].value, *y = &p->fields[i].value;
        assert_string_equal(c.fields[i].name, p->fields[i].name);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->json_len, y->json_len);
        assert_memory_equal(x->json, y->json, x->json_len);
        if (x->type == PROTO_STRING) {
            assert_int_equal(x->len, y->len);
            assert_int_equal(x->chars, y->chars);
            assert_string_equal(x->str, y->str);
        }
        if (x->type == PROTO_ARRAY)
            assert_int_equal(x->n_items, y->n_items);
        if (x->type == PROTO_NUMBER)
            assert_true(x->number == y->number);
    }
    proto_msg_free(m);

    /* A field named twice is refused. */
    struct cli_fields dup = {0};
    cli_fields_str(&dup, a, "grid", "g01");
    cli_fields_str(&dup, a, "grid", "g02");
    assert_int_equal(cli_change_build(a, &c, 8, "visits", "v-2", 0, 1, 0, &dup), -1);
    cli_arena_free(a);
}

static void test_arena_ceiling(void **state)
{
    (void)state;
    struct cli_arena *a = cli_arena_new(300 * 1024);
    assert_non_null(cli_arena_alloc(a, 1000));
    assert_null(cli_arena_alloc(a, 400 * 1024)); /* past the ceiling */
    struct cli_fields f = {0};
    char big[1024];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < CLI_FIELDS_MAX + 1; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%02d", i);
        cli_fields_str(&f, a, name, "v");
    }
    assert_int_not_equal(f.err, 0); /* too many fields is sticky */
    cli_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_forms),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_args_help_and_required),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_term_write),
        cmocka_unit_test(test_csv_cell),
        cmocka_unit_test(test_change_builder_parses_back),
        cmocka_unit_test(test_arena_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
