/*
 * cmd_init.c — `visitsync init`: creates the database or migrates it to
 * the schema version of this build. db_open runs each migration step in
 * its own transaction, so running init again is a no-op.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"

/* The version of an existing file before init touches it; -1 when it cannot
 * be read (then init simply reports the result). */
static int version_before(const char *path)
{
    struct db *db = NULL;
    int v = -1;
    if (db_open(path, DB_OPEN_READONLY, &db, NULL, 0) != 0)
        return -1;
    if (db_user_version(db, &v) != 0)
        v = -1;
    db_close(db);
    return v;
}

int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_args_spec spec = {.db_path = &ctx->db_path};
    char err[256];
    size_t n_pos = 0;
    struct db *db = NULL;
    struct stat st;
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("init", "init", "%s", err);

    const char *path = cli_db_path(ctx);
    int existed = strcmp(path, ":memory:") != 0 && stat(path, &st) == 0;
    int before = existed ? version_before(path) : -1;
    char msg[512] = "";
    rc = db_open(path, DB_OPEN_CREATE, &db, msg, sizeof msg);
    if (rc != 0)
        return cli_fail("init: cannot create or migrate database '%s': %s", path,
                        msg[0] ? msg : db_strerror(rc));
    int now = -1;
    rc = db_user_version(db, &now);
    if (rc != 0) {
        cli_fail("init: cannot read the schema version of '%s': %s", path, db_errmsg(db));
        db_close(db);
        return CLI_EXIT_FAIL;
    }
    db_close(db);

    if (!existed)
        cli_note("database %s at schema version %d (created)", path, now);
    else if (before >= 0 && before < now)
        cli_note("database %s at schema version %d (migrated from %d)", path, now, before);
    else
        cli_note("database %s at schema version %d (up to date)", path, now);
    return CLI_EXIT_OK;
}
