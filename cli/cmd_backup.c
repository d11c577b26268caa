/*
 * cmd_backup.c — `visitsync backup FILE`: a consistent copy of the database,
 * taken while the server runs (db_backup: one read snapshot, which in WAL
 * mode blocks no writer), verified, written 0600 and renamed into place.
 * Progress goes to stderr, one line per tenth; stdout stays empty.
 *
 * The copy gets an epoch of its own (db_backup), named in the last line
 * and in the audit row the live store records once the copy is verified.
 * Restoring is copying FILE back over the database while the server is
 * stopped (docs/operations.md, "Restore").
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"

struct backup_progress {
    int last_tenth; /* the last tenth printed, -1 before the first */
};

static void backup_progress(void *ctx, int done, int total)
{
    struct backup_progress *p = ctx;
    int tenth = total > 0 ? (int)((long long)done * 10 / total) : 10;

    if (tenth == p->last_tenth)
        return;
    p->last_tenth = tenth;
    fprintf(stderr, "backup: %d%% (%d of %d pages)\n", tenth * 10, done, total);
}

/* True when a and b name one existing file (a rename over the live store would destroy it). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int cli_cmd_backup(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const names[] = {"FILE"};
    struct cli_args_spec spec = {.pos_names = names, .min_pos = 1, .max_pos = 1,
                                 .db_path = &ctx->db_path};
    struct backup_progress progress = {.last_tenth = -1};
    const char *pos[1];
    size_t n_pos = 0;
    char err[256], epoch[DB_EPOCH_SIZE], detail[32];
    struct db *db = NULL;
    int rc = cli_args_parse(&spec, argc, argv, pos, &n_pos, err, sizeof err);

    if (rc != CLI_ARGS_OK)
        return cli_usage_error("backup", "backup", "%s", err);
    if (same_file(pos[0], cli_db_path(ctx)))
        return cli_usage_error("backup", "backup",
                               "'%s' is the database itself; name a new file for the copy",
                               pos[0]);
    /* Read-write: the live store records the backup in its audit log. */
    if ((rc = cli_open_db(ctx, "backup", 0, &db)) != 0)
        return rc;
    if (db_backup(db, pos[0], backup_progress, &progress, epoch) != 0) {
        rc = cli_fail("backup: %s", db_errmsg(db));
        goto out;
    }
    fprintf(stderr, "backup: done, verified copy at %s (epoch %s)\n", pos[0], epoch);
    /* Only a verified copy is recorded; the copy itself holds the log up to before it. */
    snprintf(detail, sizeof detail, "epoch=%s", epoch);
    rc = db_begin(db);
    if (rc == 0)
        rc = cli_audit_commit(db, "backup", pos[0], detail);
    if (rc != 0) {
        db_rollback(db);
        rc = cli_fail("backup: the copy at %s is good but could not be recorded in the audit "
                      "log: %s",
                      pos[0], db_errmsg(db));
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    db_close(db);
    return rc;
}
