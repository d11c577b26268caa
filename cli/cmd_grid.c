/*
 * cmd_grid.c — `visitsync grid add ID NAME`: adds a grid (网格), the unit
 * of data scope. Arguments are checked before the store is touched; the
 * grid and its audit row (cli_audit_commit) commit together.
 */
#include <string.h>

#include "args.h"
#include "cli.h"
#include "proto_time.h"

static int grid_add(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const names[] = {"ID", "NAME"};
    struct cli_args_spec spec = {
        .pos_names = names, .min_pos = 2, .max_pos = 2, .db_path = &ctx->db_path};
    const char *pos[2];
    size_t n_pos = 0;
    char err[256];
    struct db *db = NULL;
    int rc = cli_args_parse(&spec, argc, argv, pos, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("grid add", "grid", "%s", err);
    const char *id = pos[0], *name = pos[1];
    if ((rc = cli_check_id("grid add", "grid", "grid id", id)) != 0)
        return rc;
    long chars = cli_utf8_chars(name, strlen(name));
    if (chars < 1 || chars > CLI_NAME_MAX_CHARS)
        return cli_usage_error("grid add", "grid",
                               "grid name must be 1-%d characters of UTF-8 text without control "
                               "characters",
                               CLI_NAME_MAX_CHARS);

    if ((rc = cli_open_db(ctx, "grid add", 0, &db)) != 0)
        return rc;
    /* The grid and its audit row commit together. */
    rc = db_begin(db);
    if (rc == 0)
        rc = db_grid_add(db, id, name, proto_now_ms());
    if (rc == 0)
        rc = cli_audit_commit(db, "grid add", id, NULL);
    if (rc != 0)
        db_rollback(db);
    if (rc == DB_EEXISTS)
        rc = cli_fail("grid add: grid '%s' already exists", id);
    else if (rc != 0)
        rc = cli_fail("grid add: cannot add grid '%s': %s", id, db_errmsg(db));
    else
        cli_note("grid %s (%s) added", id, name);
    db_close(db);
    return rc;
}

int cli_cmd_grid(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"add", grid_add}};
    return cli_subcommand(ctx, "grid", subs, sizeof subs / sizeof subs[0], argc, argv);
}
