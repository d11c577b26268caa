/*
 * cmd_export.c — `visitsync export --collection NAME [--format jsonl|csv]`:
 * writes the current records of a collection (tombstones included, marked
 * deleted) to stdout in id order.
 *
 * jsonl: one object per line, {"id":…,"rev":N,"deleted":false,"fields":{…}}
 * where fields is the stored body, its DEL and C1 characters written as
 * \u00XX (cli_term_write: the same JSON, safe on a terminal). csv: RFC 4180
 * (CRLF, quoting only where needed, quotes doubled), UTF-8 without a BOM,
 * header id,rev,deleted,<the schema's fields in schema order>; strings and
 * ids as text cells that no spreadsheet runs as formulas (cli_csv_cell),
 * numbers and bools as their JSON text, arrays and objects as compact JSON,
 * absent or null fields empty. Columns come from the built-in schema.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "proto_record.h"
#include "proto_schema.h"

#define LINE_MAX_BYTES (64u * 1024 * 1024) /* far above any record the schema allows */

struct export_ctx {
    const struct proto_collection *coll;
    int csv;
    struct proto_buf line;
    int failed;  /* the error line is already printed */
    long count;
};

static int line_put(struct export_ctx *x, const char *s, size_t n)
{
    return proto_buf_append(&x->line, s, n);
}

static int line_puts(struct export_ctx *x, const char *s)
{
    return line_put(x, s, strlen(s));
}

/* The stored field named name, or NULL. fields are sorted by name. */
static const struct proto_field *find_field(const struct proto_record *r, const char *name)
{
    size_t lo = 0, hi = r->n_fields;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->fields[mid].name, name);
        if (c == 0)
            return &r->fields[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int csv_row(struct export_ctx *x, const struct db_record *r)
{
    struct proto_record *rec = NULL;
    struct proto_fault fault;
    char num[32];
    int rc = proto_fields_decode(r->body, r->body_len, &rec, &fault);
    if (rc != 0) {
        cli_fail("export: record %s/%s cannot be decoded: %s", r->collection, r->id,
                 fault.message);
        x->failed = 1;
        return rc;
    }
    snprintf(num, sizeof num, ",%" PRId64 ",", r->rev);
    rc = cli_csv_cell(&x->line, r->id, strlen(r->id), 1);
    if (rc == 0)
        rc = line_puts(x, num);
    if (rc == 0)
        rc = line_puts(x, r->deleted ? "true" : "false");
    for (size_t i = 0; rc == 0 && i < x->coll->n_fields; i++) {
        const struct proto_field *f = find_field(rec, x->coll->fields[i].name);
        rc = line_put(x, ",", 1);
        if (rc != 0 || f == NULL || f->value.type == PROTO_NULL)
            continue;
        /* Only strings are text: a number such as -5 must stay a number. */
        if (f->value.type == PROTO_STRING)
            rc = cli_csv_cell(&x->line, f->value.str, f->value.len, 1);
        else
            rc = cli_csv_cell(&x->line, f->value.json, f->value.json_len, 0);
    }
    if (rc == 0)
        rc = line_put(x, "\r\n", 2);
    proto_record_free(rec);
    return rc;
}

static int jsonl_row(struct export_ctx *x, const struct db_record *r)
{
    char num[48];
    int rc = line_puts(x, "{\"id\":");
    if (rc == 0)
        rc = proto_buf_append_json_string(&x->line, r->id, strlen(r->id));
    snprintf(num, sizeof num, ",\"rev\":%" PRId64 ",\"deleted\":%s,\"fields\":", r->rev,
             r->deleted ? "true" : "false");
    if (rc == 0)
        rc = line_puts(x, num);
    if (rc == 0)
        rc = r->body_len ? line_put(x, r->body, r->body_len) : line_puts(x, "{}");
    if (rc == 0)
        rc = line_put(x, "}", 1); /* the newline is written after the escaping */
    return rc;
}

/* db_export's callback: formats one record and writes it out. */
static int export_row(void *arg, const struct db_record *r, int removed)
{
    struct export_ctx *x = arg;
    (void)removed;
    proto_buf_reset(&x->line);
    int rc = x->csv ? csv_row(x, r) : jsonl_row(x, r);
    if (rc != 0) {
        if (!x->failed)
            cli_fail("export: cannot format record %s/%s: %s", r->collection, r->id,
                     proto_strerror(rc));
        x->failed = 1;
        return -1;
    }
    int werr = x->csv ? fwrite(proto_buf_data(&x->line), 1, x->line.len, stdout) != x->line.len
                      : cli_term_write(stdout, proto_buf_data(&x->line), x->line.len) != 0 ||
                            fputc('\n', stdout) == EOF;
    if (werr) {
        cli_fail("export: cannot write to stdout");
        x->failed = 1;
        return -1;
    }
    x->count++;
    return 0;
}

static int csv_header(struct export_ctx *x)
{
    proto_buf_reset(&x->line);
    int rc = line_puts(x, "id,rev,deleted");
    for (size_t i = 0; rc == 0 && i < x->coll->n_fields; i++) {
        rc = line_put(x, ",", 1);
        if (rc == 0)
            rc = cli_csv_cell(&x->line, x->coll->fields[i].name, strlen(x->coll->fields[i].name),
                              1);
    }
    if (rc == 0)
        rc = line_put(x, "\r\n", 2);
    if (rc == 0 && fwrite(proto_buf_data(&x->line), 1, x->line.len, stdout) != x->line.len)
        rc = -1;
    return rc;
}

int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *collection = NULL, *format = "jsonl";
    const char *format_opt = NULL;
    const struct cli_opt opts[] = {
        {"collection", &collection, NULL, 1},
        {"format", &format_opt, NULL, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 2, .db_path = &ctx->db_path};
    struct export_ctx x = {0};
    struct proto_schema *schema = NULL;
    struct proto_fault fault;
    struct db *db = NULL;
    size_t n_pos = 0;
    char err[256], detail[64];
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("export", "export", "%s", err);
    if (format_opt)
        format = format_opt;
    if (strcmp(format, "jsonl") == 0)
        x.csv = 0;
    else if (strcmp(format, "csv") == 0)
        x.csv = 1;
    else
        return cli_usage_error("export", "export", "--format must be jsonl or csv, not '%.40s'",
                               format);

    rc = proto_schema_parse(proto_default_schema_json, strlen(proto_default_schema_json), &schema,
                            &fault);
    if (rc != 0)
        return cli_fail("export: the built-in schema does not parse: %s", fault.message);
    x.coll = proto_schema_collection(schema, collection);
    if (x.coll == NULL) {
        char known[256] = "";
        for (size_t i = 0; i < schema->n_collections; i++) {
            size_t used = strlen(known);
            snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                     schema->collections[i].name);
        }
        rc = cli_fail("export: unknown collection '%.60s' (known: %s)", collection, known);
        goto out;
    }
    /* Read-write: the export is recorded in the audit log once it is complete. */
    if ((rc = cli_open_db(ctx, "export", 0, &db)) != 0)
        goto out;
    proto_buf_init(&x.line, 0, LINE_MAX_BYTES);
    if (x.csv && csv_header(&x) != 0) {
        rc = cli_fail("export: cannot write to stdout");
        goto out;
    }
    rc = db_export(db, collection, export_row, &x);
    if (rc != 0 && !x.failed) {
        rc = cli_fail("export: cannot read collection '%s': %s", collection, db_errmsg(db));
        goto out;
    }
    if (rc != 0 || x.failed) {
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if (fflush(stdout) != 0) {
        rc = cli_fail("export: cannot write to stdout");
        goto out;
    }
    snprintf(detail, sizeof detail, "format=%s records=%ld", x.csv ? "csv" : "jsonl", x.count);
    rc = db_begin(db);
    if (rc == 0)
        rc = cli_audit_commit(db, "export", collection, detail);
    if (rc != 0) {
        db_rollback(db);
        rc = cli_fail("export: the records are written but the export could not be recorded "
                      "in the audit log: %s",
                      db_errmsg(db));
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    proto_buf_free(&x.line);
    if (db)
        db_close(db);
    proto_schema_free(schema);
    return rc;
}
