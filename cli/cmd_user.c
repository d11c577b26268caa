/*
 * cmd_user.c — `visitsync user add --id ID --name NAME --role ROLE
 * [--grids G1,G2]`: adds a person. A cadre must name at least one grid;
 * supervisors and admins see every grid unless --grids limits them.
 * Everything that can be checked without the store is checked first; the
 * user and its audit row (cli_audit_commit) commit together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "proto_time.h"

#define GRIDS_MAX 256

/* Splits list at commas into grids[] (pointing into buf, a copy of list);
 * returns the count, or CLI_EXIT_USAGE after printing why. */
static int split_grids(const char *list, char *buf, const char **grids, size_t max)
{
    size_t n = 0;
    char *p = buf;
    strcpy(buf, list);
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0')
            return -cli_usage_error("user add", "user",
                                    "--grids has an empty entry in '%.80s' (write G1,G2)", list);
        if (cli_check_id("user add", "user", "grid id", p) != 0)
            return -CLI_EXIT_USAGE;
        for (size_t i = 0; i < n; i++)
            if (strcmp(grids[i], p) == 0)
                return -cli_usage_error("user add", "user", "--grids names grid '%s' twice", p);
        if (n == max)
            return -cli_usage_error("user add", "user", "--grids names more than %zu grids", max);
        grids[n++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    return (int)n;
}

static int user_add(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *name = NULL, *role_s = NULL, *grid_list = NULL;
    const struct cli_opt opts[] = {
        {"id", &id, NULL, 1},
        {"name", &name, NULL, 1},
        {"role", &role_s, NULL, 1},
        {"grids", &grid_list, NULL, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 4, .db_path = &ctx->db_path};
    const char *grids[GRIDS_MAX];
    char *grid_buf = NULL;
    int n_grids = 0;
    size_t n_pos = 0;
    char err[256], detail[DB_AUDIT_DETAIL_MAX + 1];
    struct db *db = NULL;
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("user add", "user", "%s", err);
    if ((rc = cli_check_id("user add", "user", "user id", id)) != 0)
        return rc;
    long chars = cli_utf8_chars(name, strlen(name));
    if (chars < 1 || chars > CLI_NAME_MAX_CHARS)
        return cli_usage_error("user add", "user",
                               "--name must be 1-%d characters of UTF-8 text without control "
                               "characters",
                               CLI_NAME_MAX_CHARS);
    int role = db_role_parse(role_s);
    if (role < 0)
        return cli_usage_error("user add", "user",
                               "--role must be cadre, supervisor or admin, not '%.40s'", role_s);
    if (grid_list) {
        grid_buf = malloc(strlen(grid_list) + 1);
        if (grid_buf == NULL)
            return cli_fail("user add: out of memory");
        n_grids = split_grids(grid_list, grid_buf, grids, GRIDS_MAX);
        if (n_grids < 0) {
            rc = -n_grids;
            goto out;
        }
    }
    if (role == DB_ROLE_CADRE && n_grids == 0) {
        rc = cli_usage_error("user add", "user",
                             "a cadre must name at least one grid with --grids G1,G2");
        goto out;
    }

    if ((rc = cli_open_db(ctx, "user add", 0, &db)) != 0)
        goto out;
    for (int i = 0; i < n_grids; i++) {
        int exists = db_grid_exists(db, grids[i]);
        if (exists == 0) {
            rc = cli_fail("user add: unknown grid '%s' (add it with: visitsync grid add %s NAME)",
                          grids[i], grids[i]);
            goto out;
        }
        if (exists < 0) {
            rc = cli_fail("user add: cannot look up grid '%s': %s", grids[i], db_errmsg(db));
            goto out;
        }
    }
    /* The user and its audit row commit together. */
    snprintf(detail, sizeof detail, "role=%s grids=%s", db_role_name((enum db_role)role),
             n_grids ? grid_list : "all");
    rc = db_begin(db);
    if (rc == 0)
        rc = db_user_add(db, id, name, (enum db_role)role, n_grids ? grids : NULL,
                         (size_t)n_grids, proto_now_ms());
    if (rc == 0)
        rc = cli_audit_commit(db, "user add", id, detail);
    if (rc != 0)
        db_rollback(db);
    if (rc == DB_EEXISTS) {
        rc = cli_fail("user add: user '%s' already exists", id);
    } else if (rc == DB_ENOTFOUND) {
        rc = cli_fail("user add: a grid of --grids '%s' does not exist (add it with: visitsync "
                      "grid add ID NAME)",
                      grid_list);
    } else if (rc != 0) {
        rc = cli_fail("user add: cannot add user '%s': %s", id, db_errmsg(db));
    } else {
        cli_note("user %s (%s, %s) added", id, name, db_role_name((enum db_role)role));
        rc = CLI_EXIT_OK;
    }
out:
    if (db)
        db_close(db);
    free(grid_buf);
    return rc;
}

int cli_cmd_user(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"add", user_add}};
    return cli_subcommand(ctx, "user", subs, sizeof subs / sizeof subs[0], argc, argv);
}
