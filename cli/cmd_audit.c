/*
 * cmd_audit.c — the audit log from the command line: `visitsync audit
 * [--since TIME] [--limit N]` lists the recorded admin and supervisor acts,
 * oldest first, one line each:
 *
 *     2026-12-05T10:11:12Z  cli:root  device enroll  tab-c001  user=c001
 *
 * (when, who, what, to what, a short note; "-" for no target). Text from
 * the store passes through cli_term_printf, so a reason typed into the
 * dashboard cannot drive the operator's terminal.
 *
 * Also what the other commands use to record their act (cli_audit_commit):
 * the actor of a command-line act is "cli:<the OS user name>", the user
 * the process runs as, or "cli:uid<N>" when the system has no name for it.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "proto_time.h"

#define AUDIT_DEFAULT_LIMIT 100

void cli_audit_actor(char *out, size_t size)
{
    struct passwd pw, *found = NULL;
    char buf[1024];
    uid_t uid = geteuid();

    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != NULL &&
        found->pw_name[0] != '\0')
        snprintf(out, size, "cli:%s", found->pw_name);
    else
        snprintf(out, size, "cli:uid%lu", (unsigned long)uid);
}

int cli_audit_commit(struct db *db, const char *act, const char *target, const char *detail)
{
    char actor[128];
    int err;

    cli_audit_actor(actor, sizeof actor);
    err = db_audit_add(db, proto_now_ms(), actor, act, target, detail);
    if (err == 0)
        err = db_commit(db);
    return err;
}

/*
 * Reads --since: RFC 3339 ("2026-12-05T10:11:12Z", "...+08:00", with or
 * without a fraction) or a date (YYYY-MM-DD, midnight UTC). 0 and *ms on
 * success, -1 when it is neither.
 */
static int parse_since(const char *s, int64_t *ms)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, off_min = 0;
    size_t n = strlen(s);

    memset(&tm, 0, sizeof tm);
    if (proto_date_valid(s, n)) {
        if (sscanf(s, "%4d-%2d-%2d", &y, &mo, &d) != 3)
            return -1;
    } else if (proto_datetime_valid(s, n)) {
        const char *p = s + 19, *tz;
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
            return -1;
        if (*p == '.') {
            /* The first three digits are ms; finer ones are dropped. */
            int scale = 100;
            for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                frac_ms += (*p - '0') * scale;
        }
        tz = p;
        if (*tz == '+' || *tz == '-') {
            off_min = ((tz[1] - '0') * 10 + (tz[2] - '0')) * 60 + (tz[4] - '0') * 10 +
                      (tz[5] - '0');
            if (*tz == '-')
                off_min = -off_min;
        }
    } else {
        return -1;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    errno = 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && errno != 0)
        return -1;
    *ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
    return 0;
}

/* "2026-12-05T10:11:12Z" (UTC, whole seconds) into buf (>= 32 bytes). */
static void format_at(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "@%lld", (long long)ms);
}

struct audit_out {
    int failed; /* stdout could not be written */
    int64_t next_at;
};

static int audit_row(void *ctx, const struct db_audit *a)
{
    struct audit_out *o = ctx;
    char at[40];

    format_at(a->at_ms, at, sizeof at);
    if (cli_term_printf(stdout, "%s  %s  %s  %s%s%s", at, a->actor, a->act,
                        a->target != NULL ? a->target : "-", a->detail != NULL ? "  " : "",
                        a->detail != NULL ? a->detail : "") != 0) {
        o->failed = 1;
        return -1;
    }
    return 0;
}

/* Remembers the time of the first act after a full page. */
static int audit_peek(void *ctx, const struct db_audit *a)
{
    struct audit_out *o = ctx;
    o->next_at = a->at_ms;
    return 0;
}

int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *since_opt = NULL, *limit_opt = NULL;
    const struct cli_opt opts[] = {
        {"since", &since_opt, NULL, 0},
        {"limit", &limit_opt, NULL, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 2, .db_path = &ctx->db_path};
    struct audit_out out = {0, 0};
    int64_t since = 0, limit = AUDIT_DEFAULT_LIMIT, next = 0, peek_next = 0;
    size_t n_pos = 0;
    char err[256];
    struct db *db = NULL;
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);

    if (rc != CLI_ARGS_OK)
        return cli_usage_error("audit", "audit", "%s", err);
    if (since_opt != NULL && parse_since(since_opt, &since) != 0)
        return cli_usage_error("audit", "audit",
                               "--since must be a date (2026-12-05) or an RFC 3339 time "
                               "(2026-12-05T10:11:12Z, 2026-12-05T18:11:12+08:00), not '%.40s'",
                               since_opt);
    if (limit_opt != NULL) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(limit_opt, &end, 10);
        if (errno != 0 || end == limit_opt || *end != '\0' || v < 1 || v > DB_AUDIT_MAX_LIMIT)
            return cli_usage_error("audit", "audit",
                                   "--limit must be a whole number from 1 to %d, not '%.40s'",
                                   DB_AUDIT_MAX_LIMIT, limit_opt);
        limit = v;
    }
    if ((rc = cli_open_db(ctx, "audit", DB_OPEN_READONLY, &db)) != 0)
        return rc;
    rc = db_audit_page(db, since, 0, limit, audit_row, &out, &next);
    if (rc == 0 && next != 0)
        rc = db_audit_page(db, since, next, 1, audit_peek, &out, &peek_next);
    if (out.failed) {
        rc = cli_fail("audit: cannot write to stdout");
        goto out;
    }
    if (rc != 0) {
        rc = cli_fail("audit: cannot read the audit log: %s", db_errmsg(db));
        goto out;
    }
    if (fflush(stdout) != 0) {
        rc = cli_fail("audit: cannot write to stdout");
        goto out;
    }
    if (next != 0) {
        char at[40];
        format_at(out.next_at, at, sizeof at);
        cli_note("audit: %lld acts shown and more follow; see them with --since %s",
                 (long long)limit, at);
    }
    rc = CLI_EXIT_OK;
out:
    db_close(db);
    return rc;
}
