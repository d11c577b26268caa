/*
 * test_cases.c — the data-driven protocol tests: one file per case under
 * cases/valid and cases/invalid (the folder is the test's argument). The
 * first line of a file is the expectation, the rest is the message:
 *
 *   ok TYPE [key=value ...]      parses; each key=value is a line of dump_msg
 *   error CODE FIELD [req=R]     fails with that wire code and fault field
 *                                ("-" for none); req= checks the echoed req
 *
 * Valid cases must parse with no per-change fault, and are written back
 * with the proto_write_* of their type and parsed again to the same dump.
 * A last test cuts every case at every byte (big ones at a stride) and
 * parses the pieces with both parsers from exact-size heap copies, so ASan
 * sees any over-read.
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

#include "dump.h"
#include "proto.h"

#define MAX_CASES 512
#define DUMP_SIZE 65536

struct tcase {
    char path[1024];
    int valid; /* from cases/valid */
    char *expect;
    char *msg;
    size_t msg_len;
};

static struct tcase cases[MAX_CASES];
static size_t n_cases;

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int load_case(struct tcase *c)
{
    size_t len;
    char *all = read_all(c->path, &len);
    if (!all)
        return -1;
    char *nl = memchr(all, '\n', len);
    if (!nl) {
        free(all);
        return -1;
    }
    *nl = '\0';
    c->expect = all;
    c->msg = nl + 1;
    c->msg_len = len - (size_t)(c->msg - all);
    if (c->msg_len && c->msg[c->msg_len - 1] == '\n')
        c->msg_len--;
    return 0;
}

/* True when dump holds line exactly. */
static int dump_has(const char *dump, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = dump; (p = strstr(p, line)) != NULL; p++) {
        if ((p == dump || p[-1] == '\n') && p[n] == '\n')
            return 1;
    }
    return 0;
}

/* Writes m back with its type's serializer; 0 when the type has none. */
static int write_back(const struct proto_msg *m, struct proto_buf *b)
{
    switch (m->type) {
    case PROTO_HELLO:
        return proto_write_hello(b, m->req, &m->u.hello) == 0;
    case PROTO_PUSH:
        return proto_write_push(b, m->req, m->u.push.changes, m->u.push.n_changes) == 0;
    case PROTO_PULL:
        return proto_write_pull(b, m->req, m->u.pull.since, m->u.pull.limit) == 0;
    case PROTO_SCHEMA:
        return proto_write_schema_request(b, m->req) == 0;
    case PROTO_BLOB_OFFER:
        return proto_write_blob_offer(b, m->req, &m->u.blob_offer) == 0;
    default:
        return 0;
    }
}

static void check_ok(const struct tcase *c, char *tokens)
{
    struct proto_msg *m = NULL;
    struct proto_fault fault = {0};
    char req[PROTO_REQ_BYTES + 1];
    int err = proto_parse_client(c->msg, c->msg_len, &m, &fault, req);
    if (err)
        fail_msg("%s: expected ok, got %s: %s [%s] %s", c->path, proto_strerror(err),
                 proto_code_name(fault.code), fault.field, fault.message);
    char *dump = malloc(DUMP_SIZE);
    assert_non_null(dump);
    dump_msg(m, dump, DUMP_SIZE);
    char *save = NULL;
    char *type = strtok_r(tokens, " ", &save);
    assert_non_null(type);
    char want[256];
    snprintf(want, sizeof(want), "type=%s", type);
    if (!dump_has(dump, want))
        fail_msg("%s: expected type %s, dump:\n%s", c->path, type, dump);
    for (char *kv; (kv = strtok_r(NULL, " ", &save)) != NULL;) {
        if (!dump_has(dump, kv))
            fail_msg("%s: expected %s, dump:\n%s", c->path, kv, dump);
    }
    if (c->valid) {
        for (const char *p = dump; (p = strstr(p, ".fault=")) != NULL; p++) {
            if (strncmp(p, ".fault=none\n", 12) != 0)
                fail_msg("%s: a valid case has a faulted change:\n%s", c->path, dump);
        }
        /* Round trip through the serializer of the type. */
        struct proto_buf b;
        proto_buf_init(&b, 16, PROTO_MAX_MESSAGE);
        if (write_back(m, &b)) {
            struct proto_msg *again = NULL;
            err = proto_parse_client(proto_buf_data(&b), b.len, &again, &fault, NULL);
            if (err)
                fail_msg("%s: written back as %s, which does not parse: %s", c->path,
                         proto_buf_data(&b), fault.message);
            char *dump2 = malloc(DUMP_SIZE);
            assert_non_null(dump2);
            dump_msg(again, dump2, DUMP_SIZE);
            if (strcmp(dump, dump2) != 0)
                fail_msg("%s: round trip differs:\n%s\n---\n%s", c->path, dump, dump2);
            free(dump2);
            proto_msg_free(again);
        }
        proto_buf_free(&b);
    }
    free(dump);
    proto_msg_free(m);
}

static void check_error(const struct tcase *c, char *tokens)
{
    struct proto_msg *m = NULL;
    struct proto_fault fault = {0};
    char req[PROTO_REQ_BYTES + 1];
    int err = proto_parse_client(c->msg, c->msg_len, &m, &fault, req);
    if (err == 0) {
        proto_msg_free(m);
        fail_msg("%s: expected an error, but the message parsed", c->path);
    }
    assert_int_equal(err, PROTO_EINVALID);
    char *save = NULL;
    char *code = strtok_r(tokens, " ", &save);
    char *field = strtok_r(NULL, " ", &save);
    assert_non_null(code);
    assert_non_null(field);
    if (strcmp(field, "-") == 0)
        field = "";
    if (strcmp(proto_code_name(fault.code), code) != 0 || strcmp(fault.field, field) != 0)
        fail_msg("%s: expected %s [%s], got %s [%s]: %s", c->path, code, field,
                 proto_code_name(fault.code), fault.field, fault.message);
    if (strlen(fault.message) < 10)
        fail_msg("%s: the fault's message is too short to act on: \"%s\"", c->path,
                 fault.message);
    for (char *kv; (kv = strtok_r(NULL, " ", &save)) != NULL;) {
        if (strncmp(kv, "req=", 4) == 0) {
            if (strcmp(req, kv + 4) != 0)
                fail_msg("%s: expected fault_req \"%s\", got \"%s\"", c->path, kv + 4, req);
        } else {
            fail_msg("%s: unknown expectation %s", c->path, kv);
        }
    }
}

static void run_case(void **state)
{
    const struct tcase *c = *state;
    char *tokens = strdup(c->expect);
    assert_non_null(tokens);
    if (strncmp(tokens, "ok ", 3) == 0)
        check_ok(c, tokens + 3);
    else if (strncmp(tokens, "error ", 6) == 0 && !c->valid)
        check_error(c, tokens + 6);
    else
        fail_msg("%s: the first line must be \"ok TYPE ...\" or (invalid only) \"error CODE "
                 "FIELD\"; got \"%s\"",
                 c->path, c->expect);
    free(tokens);
}

/* Every prefix of every case, parsed by both parsers, must not crash. */
static void truncations(void **state)
{
    (void)state;
    size_t parsed = 0;
    for (size_t i = 0; i < n_cases; i++) {
        const struct tcase *c = &cases[i];
        /* Big cases (the 10,001-change push) are cut every few bytes near their ends only. */
        size_t step = c->msg_len > 4096 ? c->msg_len / 256 : 1;
        for (size_t k = 0; k <= c->msg_len; k += (k < 512 || c->msg_len - k < 512) ? 1 : step) {
            char *piece = malloc(k ? k : 1);
            assert_non_null(piece);
            memcpy(piece, c->msg, k);
            struct proto_msg *m = NULL;
            struct proto_fault fault;
            int err = proto_parse_client(piece, k, &m, &fault, NULL);
            assert_true(err == 0 || err == PROTO_EINVALID);
            if (err == 0) {
                parsed++;
                proto_msg_free(m);
            }
            err = proto_parse_server(piece, k, &m, &fault);
            assert_true(err == 0 || err == PROTO_EINVALID);
            if (err == 0)
                proto_msg_free(m);
            free(piece);
        }
    }
    /* Whole valid messages are among the prefixes, so some must have parsed. */
    assert_true(parsed > 0);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct tcase *)a)->path, ((const struct tcase *)b)->path);
}

static void collect(const char *dir, const char *sub, int valid)
{
    char path[512];
    if (snprintf(path, sizeof(path), "%s/%s", dir, sub) >= (int)sizeof(path)) {
        fprintf(stderr, "%s: path too long\n", dir);
        exit(1);
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0 || n_cases == MAX_CASES)
            continue;
        struct tcase *c = &cases[n_cases];
        snprintf(c->path, sizeof(c->path), "%s/%s", path, e->d_name);
        c->valid = valid;
        if (load_case(c)) {
            fprintf(stderr, "cannot read %s (needs an expectation line)\n", c->path);
            exit(1);
        }
        n_cases++;
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASES_DIR\n", argv[0]);
        return 2;
    }
    collect(argv[1], "valid", 1);
    collect(argv[1], "invalid", 0);
    qsort(cases, n_cases, sizeof(cases[0]), by_path);
    size_t n_valid = 0;
    for (size_t i = 0; i < n_cases; i++)
        n_valid += (size_t)cases[i].valid;
    /* Too few cases means the folder was not found or not filled: fail loudly. */
    if (n_valid < 15 || n_cases - n_valid < 40) {
        fprintf(stderr, "expected at least 15 valid and 40 invalid cases; found %zu and %zu\n",
                n_valid, n_cases - n_valid);
        return 1;
    }
    struct CMUnitTest *tests = calloc(n_cases + 1, sizeof(*tests));
    if (!tests)
        return 1;
    for (size_t i = 0; i < n_cases; i++) {
        const char *name = strstr(cases[i].path, cases[i].valid ? "valid/" : "invalid/");
        tests[i].name = name ? name : cases[i].path;
        tests[i].test_func = run_case;
        tests[i].initial_state = &cases[i];
    }
    tests[n_cases].name = "truncations";
    tests[n_cases].test_func = truncations;
    int failed = _cmocka_run_group_tests("protocol cases", tests, n_cases + 1, NULL, NULL);
    for (size_t i = 0; i < n_cases; i++)
        free(cases[i].expect);
    free(tests);
    return failed;
}
