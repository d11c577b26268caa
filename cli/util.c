/*
 * util.c — the helpers every subcommand shares: one-line messages on
 * stderr, the database path and opening it, the clock, UTF-8 checks, and
 * the two places where text from the store or the command line is made
 * safe for where it goes: cli_term_* for a terminal (stdout, stderr) and
 * cli_csv_cell for a spreadsheet (docs/cli.md, "Untrusted text").
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto_buf.h"
#include "proto_text.h"

/* Writes "visitsync: " + the formatted text as one line: any CR or LF the
 * text carries (a SQLite message, a user's argument) becomes a space, and
 * every other control character is shown escaped (cli_term_write). */
__attribute__((format(printf, 3, 0))) static void vline(const char *prefix, const char *suffix,
                                                    const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    /* Escaped in memory first (6 bytes per control at most), so the line is one write. */
    char line[6 * (sizeof buf + 64 + 96) + 16];
    FILE *m = fmemopen(line, sizeof line, "w");
    FILE *out = m ? m : stderr;
    fputs("visitsync: ", out);
    cli_term_write(out, prefix, strlen(prefix));
    cli_term_write(out, buf, len);
    cli_term_write(out, suffix, strlen(suffix));
    fputc('\n', out);
    if (m) {
        long n_line = ftell(m);
        fclose(m);
        if (n_line > 0)
            fwrite(line, 1, (size_t)n_line, stderr);
    }
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

/*
 * The length (1-4) of the valid UTF-8 sequence at p (n > 0 bytes left) and
 * its code point in *cp; 0 when the byte at p starts no valid sequence
 * (a stray continuation byte, a truncated, overlong or surrogate form, or a
 * code point past U+10FFFF).
 */
static size_t utf8_next(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0], v;
    size_t more;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        more = 1;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        more = 2;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        more = 3;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (more >= n) /* the sequence runs past the end */
        return 0;
    for (size_t k = 1; k <= more; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[k] & 0x3f);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
    if ((more == 2 && v < 0x800) || (more == 3 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return more + 1;
}

/* C0, DEL and C1: the code points a terminal may act on instead of showing. */
static int is_control(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

long cli_utf8_chars(const char *s, size_t len)
{
    /* C0 and DEL are single bytes: UTF-8 never uses them inside a sequence. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return -1;
    return proto_utf8_chars(s, len);
}

/* ---- untrusted text to a terminal ---------------------------------------- */

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD in UTF-8 */

/* Writes n bytes (0 or -1). */
static int term_put(FILE *out, const char *s, size_t n)
{
    return n == 0 || fwrite(s, 1, n, out) == n ? 0 : -1;
}

/*
 * The one escaping of text for a terminal: a C0, DEL or C1 control
 * character becomes the six visible characters \u00XX (lowercase hex, as
 * JSON writes it, so JSON text stays JSON with the same meaning) and a byte
 * that is not part of valid UTF-8 becomes U+FFFD. Everything else, CJK
 * included, passes unchanged (cli.h).
 */
int cli_term_write(FILE *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* p[run..i) is plain text not yet written */
    while (i < n) {
        unsigned cp;
        size_t k = utf8_next(p + i, n - i, &cp);
        if (k != 0 && !is_control(cp)) {
            i += k;
            continue;
        }
        if (term_put(out, s + run, i - run) != 0)
            return -1;
        if (k == 0) {
            if (term_put(out, REPLACEMENT, 3) != 0)
                return -1;
            i++;
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
            if (term_put(out, esc, sizeof esc) != 0)
                return -1;
            i += k;
        }
        run = i;
    }
    return term_put(out, s + run, i - run);
}

int cli_term_printf(FILE *out, const char *fmt, ...)
{
    char small[512], *text = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof small) {
        text = malloc((size_t)n + 1);
        if (text == NULL)
            return -1;
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    int rc = cli_term_write(out, text, (size_t)n);
    if (rc == 0 && fputc('\n', out) == EOF)
        rc = -1;
    if (text != small)
        free(text);
    return rc;
}

/* ---- untrusted text to a spreadsheet ---------------------------------------- */

/*
 * True when a spreadsheet may read text starting at p as a formula: one of
 * = + - @ TAB CR (OWASP's list), or their full-width forms ＝ ＋ － ＠
 * (U+FF1D, U+FF0B, U+FF0D, U+FF20), which Chinese input methods type: we
 * could not rule out a spreadsheet (or an IME-aware paste) reading them as
 * the ASCII ones, and a ' in front of a rare cell costs little.
 */
static int csv_formula_start(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (memchr("=+-@\t\r", p[0], 6) != NULL)
        return 1;
    return n >= 3 && p[0] == 0xef && p[1] == 0xbc &&
           (p[2] == 0x9d || p[2] == 0x8b || p[2] == 0x8d || p[2] == 0xa0);
}

int cli_csv_cell(struct proto_buf *b, const char *s, size_t n, int text)
{
    const unsigned char *p = (const unsigned char *)s;
    int prefix = text && csv_formula_start(p, n);
    int quote = prefix;
    for (size_t i = 0; !quote && i < n; i++)
        quote = p[i] == ',' || p[i] == ';' || p[i] == '"' || p[i] == '\r' || p[i] == '\n' ||
                p[i] == '\t';
    int rc = 0;
    if (quote)
        rc = proto_buf_append(b, prefix ? "\"'" : "\"", prefix ? 2 : 1);
    size_t i = 0, run = 0; /* s[run..i) is plain text not yet appended */
    while (rc == 0 && i < n) {
        unsigned cp;
        size_t k = utf8_next(p + i, n - i, &cp);
        int keep = k != 0 && (!is_control(cp) || cp == '\t' || cp == '\r' || cp == '\n');
        if (keep && cp != '"') {
            i += k;
            continue;
        }
        rc = proto_buf_append(b, s + run, i - run);
        if (rc == 0 && keep) /* a quote, doubled */
            rc = proto_buf_append(b, "\"\"", 2);
        else if (rc == 0)
            rc = proto_buf_append(b, REPLACEMENT, 3);
        i += k ? k : 1;
        run = i;
    }
    if (rc == 0)
        rc = proto_buf_append(b, s + run, i - run);
    if (rc == 0 && quote)
        rc = proto_buf_append(b, "\"", 1);
    return rc;
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
