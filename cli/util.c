/*
 * util.c — the helpers every subcommand shares: one-line messages on
 * stderr, the database path and opening it, the clock, UTF-8 checks.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "proto.h"

/* Writes "visitsync: " + the formatted text as one line: any CR or LF the
 * text carries (a SQLite message, a user's argument) becomes a space. */
static void vline(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "visitsync: %s%s%s\n", prefix, buf, suffix);
    fflush(stderr);
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("", "", fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("", "", fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *topic, const char *fmt, ...)
{
    char prefix[64], suffix[96];
    snprintf(prefix, sizeof prefix, "%s: ", cmd);
    snprintf(suffix, sizeof suffix, " (see: visitsync help%s%s)", topic[0] ? " " : "", topic);
    va_list ap;
    va_start(ap, fmt);
    vline(prefix, suffix, fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

const char *cli_db_path(const struct cli_ctx *ctx)
{
    if (ctx->db_path)
        return ctx->db_path;
    const char *env = getenv("VISITSYNC_DB");
    if (env && env[0])
        return env;
    return CLI_DEFAULT_DB;
}

int cli_open_db(const struct cli_ctx *ctx, const char *cmd, int flags, struct db **out)
{
    const char *path = cli_db_path(ctx);
    struct stat st;
    char err[512] = "";
    struct db *db = NULL;

    /* Checked here rather than left to SQLite so the line can say what to do. */
    if (strcmp(path, ":memory:") != 0 && stat(path, &st) != 0) {
        if (errno == ENOENT)
            return cli_fail("%s: no database at '%s' (create it with: visitsync init --db %s)",
                            cmd, path, path);
        return cli_fail("%s: cannot open database '%s': %s", cmd, path, strerror(errno));
    }
    int rc = db_open(path, flags & ~DB_OPEN_CREATE, &db, err, sizeof err);
    if (rc != 0)
        return cli_fail("%s: cannot open database '%s': %s", cmd, path,
                        err[0] ? err : db_strerror(rc));
    *out = db;
    return 0;
}

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long cli_utf8_chars(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long chars = 0;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return -1;
            i++;
            chars++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (n >= len - i) /* the sequence runs past the end */
            return -1;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += n + 1;
        chars++;
    }
    return chars;
}

int cli_check_id(const char *cmd, const char *topic, const char *what, const char *id)
{
    if (proto_id_valid(id, strlen(id)))
        return 0;
    return cli_usage_error(cmd, topic,
                           "%s '%.80s' is not valid (1-64 characters of A-Z a-z 0-9 _ - . :)",
                           what, id);
}

int cli_subcommand(struct cli_ctx *ctx, const char *cmd, const struct cli_sub *subs, size_t n,
                   int argc, char **argv)
{
    char known[128] = "";
    size_t used = 0;
    int rc = cli_leading_db(ctx, cmd, &argc, &argv);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (argc >= 1 && strcmp(argv[0], subs[i].name) == 0)
            return subs[i].run(ctx, argc - 1, argv + 1);
        int w = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", subs[i].name);
        if (w > 0 && (size_t)w < sizeof known - used)
            used += (size_t)w;
    }
    if (argc < 1 || argv[0][0] == '-')
        return cli_usage_error(cmd, cmd, "missing subcommand (%s)", known);
    return cli_usage_error(cmd, cmd, "unknown subcommand '%.60s' (known: %s)", argv[0], known);
}

int cli_require_user(struct db *db, const char *cmd, const char *user, const char *role_hint)
{
    int exists = db_user_exists(db, user);
    if (exists > 0)
        return 0;
    if (exists == 0)
        return cli_fail("%s: unknown user '%s' (add it with: visitsync user add --id %s "
                        "--name NAME --role %s)",
                        cmd, user, user, role_hint);
    return cli_fail("%s: cannot look up user '%s': %s", cmd, user, db_errmsg(db));
}

int cli_leading_db(struct cli_ctx *ctx, const char *cmd, int *argc, char ***argv)
{
    while (*argc > 0) {
        const char *a = (*argv)[0];
        const char *v;
        int used;
        if (strcmp(a, "--db") == 0) {
            v = *argc > 1 ? (*argv)[1] : NULL;
            used = 2;
        } else if (strncmp(a, "--db=", 5) == 0) {
            v = a + 5;
            used = 1;
        } else {
            return 0;
        }
        if (v == NULL || v[0] == '\0' || strncmp(v, "--", 2) == 0)
            return cli_usage_error(cmd, cmd, "option --db needs a value");
        ctx->db_path = v;
        *argc -= used;
        *argv += used;
    }
    return 0;
}
