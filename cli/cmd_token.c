/*
 * cmd_token.c — `visitsync token create --user ID`: an API token for a
 * supervisor or admin (HTTP API, dashboard, monitor), printed once. The
 * store refuses a cadre (DB_EMISUSE, with a sentence saying so): a cadre's
 * tablet gets its token from `device enroll` instead.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "proto_time.h"
#include "proto_token.h"

static int token_create(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *user = NULL;
    const struct cli_opt opts[] = {{"user", &user, NULL, 1}};
    struct cli_args_spec spec = {.opts = opts, .n_opts = 1, .db_path = &ctx->db_path};
    size_t n_pos = 0;
    char err[256];
    char token[PROTO_TOKEN_CHARS + 1] = "";
    unsigned char hash[PROTO_TOKEN_HASH];
    struct db *db = NULL;
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("token create", "token", "%s", err);
    if ((rc = cli_check_id("token create", "token", "user id", user)) != 0)
        return rc;
    if ((rc = cli_open_db(ctx, "token create", 0, &db)) != 0)
        return rc;

    if ((rc = cli_require_user(db, "token create", user, "supervisor")) != 0)
        goto out;
    if ((rc = proto_token_new(token, hash)) != 0) {
        rc = cli_fail("token create: cannot get random bytes for the token: %s", strerror(-rc));
        goto out;
    }
    /* The token's hash and its audit row commit together; the token is in neither. */
    rc = db_begin(db);
    if (rc == 0)
        rc = db_token_add(db, user, hash, proto_now_ms());
    if (rc == 0)
        rc = cli_audit_commit(db, "token create", user, NULL);
    if (rc != 0)
        db_rollback(db);
    if (rc == DB_EMISUSE) {
        /* db/ says why: the user is a cadre. */
        rc = cli_fail("token create: %s (a cadre's tablet uses: visitsync device enroll)",
                      db_errmsg(db));
        goto out;
    }
    if (rc == DB_ENOTFOUND) {
        rc = cli_fail("token create: unknown user '%s'", user);
        goto out;
    }
    if (rc != 0) {
        rc = cli_fail("token create: cannot add a token for user '%s': %s", user, db_errmsg(db));
        goto out;
    }
    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        rc = cli_fail("token create: cannot write the token to stdout");
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    memset(token, 0, sizeof token);
    db_close(db);
    return rc;
}

int cli_cmd_token(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"create", token_create}};
    return cli_subcommand(ctx, "token", subs, sizeof subs / sizeof subs[0], argc, argv);
}
