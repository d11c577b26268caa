/*
 * cli.h — what the `visitsync` subcommands share: the exit codes of the
 * contract (§1), the one-line error helpers, opening the store, and the
 * entry point of each subcommand for main.c's dispatch table.
 *
 * Everything here runs on the process's only thread. Errors go to stderr as
 * exactly one line starting with "visitsync: "; stdout carries only data
 * (tokens, exports, the demo's table) so that scripts can capture it.
 */
#ifndef VS_CLI_H
#define VS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "db.h"

struct proto_buf;

/* Exit statuses of §1. */
enum cli_exit { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

#define CLI_DEFAULT_DB "./visitsync.db"

/* The options every subcommand shares. db_path is NULL until --db is given. */
struct cli_ctx {
    const char *db_path;
};

/* The database path in force: --db, else $VISITSYNC_DB, else ./visitsync.db. */
const char *cli_db_path(const struct cli_ctx *ctx);

/* Prints "visitsync: <message>" as one line on stderr (newlines in the
 * message become spaces). Returns CLI_EXIT_FAIL so callers can `return`. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "visitsync: <cmd>: <message> (see: visitsync help <topic>)" as one
 * line on stderr. Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *topic, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "visitsync: <message>" as one line on stderr for progress and
 * confirmations (not an error). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Opens the existing database for cmd (named in messages) without creating
 * it; flags may add DB_OPEN_READONLY. A missing file is a runtime failure
 * whose line suggests `visitsync init`. On success the caller owns *out and
 * returns 0; otherwise the line is printed and CLI_EXIT_FAIL returned.
 */
int cli_open_db(const struct cli_ctx *ctx, const char *cmd, int flags, struct db **out);

/* The most characters of a grid's or a user's display name. */
#define CLI_NAME_MAX_CHARS 200

/* Counts the code points of a valid UTF-8 string without control
 * characters (proto_utf8_chars); -1 when s is not valid UTF-8 or holds a
 * C0/DEL control. */
long cli_utf8_chars(const char *s, size_t len);

/*
 * Text from the store, the server or the command line may hold control
 * characters (a record's notes: "\x1b]0;title\x07"). Everything the CLI
 * writes to stdout or stderr passes through one of these two, so no such
 * text can move the cursor, clear or retitle the operator's terminal:
 *
 * cli_term_write writes s[0..n) to out with each C0, DEL and C1 control
 * character (TAB, CR and LF included) as the six characters \u00XX and each
 * byte that is not valid UTF-8 as U+FFFD; other text, CJK included, is
 * unchanged. JSON text stays valid JSON with the same meaning. Returns 0,
 * or -1 when writing failed.
 *
 * cli_term_printf formats, writes the result like cli_term_write, then a
 * newline: one line, whatever the arguments hold. Returns 0 or -1.
 */
int cli_term_write(FILE *out, const char *s, size_t n);
int cli_term_printf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Appends s[0..n) to b as one CSV cell (RFC 4180) that a spreadsheet shows
 * as text and never runs (OWASP, "CSV injection"):
 *   - text != 0 (a string value, an id) and s starts with = + - @ TAB CR or
 *     full-width ＝ ＋ － ＠: the cell is quoted and starts with a ' ;
 *   - C0 controls other than TAB, CR and LF, DEL, C1 controls and bytes that
 *     are not valid UTF-8 become U+FFFD (an escape sequence loses its ESC);
 *   - the cell is quoted when it holds , ; " CR LF or TAB; quotes doubled.
 * Numbers, bools and JSON arrays are passed with text == 0: "-5" stays a
 * number. Returns 0 or a PROTO_E* code (b then holds part of the cell).
 */
int cli_csv_cell(struct proto_buf *b, const char *s, size_t n, int text);

/* Checks an id argument (§1); on failure prints a usage line naming what
 * (e.g. "grid id") and returns CLI_EXIT_USAGE, else 0. */
int cli_check_id(const char *cmd, const char *topic, const char *what, const char *id);

/* A subcommand of a command ("grid add"): its name and what runs it. */
struct cli_sub {
    const char *name;
    int (*run)(struct cli_ctx *ctx, int argc, char **argv);
};

/*
 * Runs the subcommand argv[0] of cmd (after a leading --db), or prints the
 * usage line for a missing or unknown one naming the known ones, and returns
 * what it returned (CLI_EXIT_USAGE for those).
 */
int cli_subcommand(struct cli_ctx *ctx, const char *cmd, const struct cli_sub *subs, size_t n,
                   int argc, char **argv);

/*
 * Checks that user exists; otherwise prints one line naming it, with the
 * `visitsync user add` command that would add it (role_hint: the role to
 * suggest), and returns CLI_EXIT_FAIL. Returns 0 when the user exists.
 */
int cli_require_user(struct db *db, const char *cmd, const char *user, const char *role_hint);

/*
 * Takes `--db PATH` or `--db=PATH` given between a command and its
 * subcommand ("visitsync grid --db F add") off the front of the argument list. Returns
 * 0, or prints a usage line and returns CLI_EXIT_USAGE.
 */
int cli_leading_db(struct cli_ctx *ctx, const char *cmd, int *argc, char ***argv);

/* ---- subcommands: argv holds the arguments after the command's name ---- */

int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_grid(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_user(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_device(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_token(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_demo(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_backup(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv);

/* ---- the audit log (cmd_audit.c) ---------------------------------------- */

/* The actor of this process's acts: "cli:<OS user name>" (geteuid), else "cli:uid<N>". */
void cli_audit_actor(char *out, size_t size);

/*
 * Records an act in the audit log (db_audit_add, now, cli_audit_actor) and
 * commits the transaction the act ran in (db_begin ... db_commit), so the
 * act and its record are durable together; detail never holds a token.
 * Returns 0 or a DB_E* code: the caller then rolls back (db_rollback) and
 * nothing of the act remains.
 */
int cli_audit_commit(struct db *db, const char *act, const char *target, const char *detail);

/* ---- added by the client engineer: `visitsync client` (cmd_client.c) ---- */
int cli_cmd_client(struct cli_ctx *ctx, int argc, char **argv);

/* ---- added by the server engineer: `visitsync serve` (cmd_serve.c) ---- */
int cli_cmd_serve(struct cli_ctx *ctx, int argc, char **argv);

#endif
