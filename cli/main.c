/*
 * main.c — the `visitsync` command line: global options (--db, --version,
 * --help), `help [COMMAND]`, and the dispatch table. Each subcommand lives
 * in its own cmd_*.c and gets the arguments after its name; it parses them
 * with args.h and reports every problem as one line on stderr.
 *
 * To add a command, add its entry to `commands` (and declare its function
 * in cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"

#ifndef VS_VERSION
#error "VS_VERSION must be defined by the build (PROJECT_VERSION)"
#endif

struct cli_command {
    const char *name;
    int (*run)(struct cli_ctx *ctx, int argc, char **argv);
    const char *summary;
    const char *usage; /* shown by `help COMMAND` and `COMMAND --help` */
};

static const struct cli_command commands[] = {
    {"init", cli_cmd_init, "create or migrate the database (safe to run again)",
     "usage: visitsync init [--db PATH]\n"
     "\n"
     "Creates the database, or migrates it to this version's schema. Running it\n"
     "again changes nothing.\n"},
    {"grid", cli_cmd_grid, "add a grid (网格), the unit of data scope",
     "usage: visitsync grid add ID NAME [--db PATH]\n"
     "\n"
     "Adds a grid. ID is 1-64 characters of A-Z a-z 0-9 _ - . : and NAME is\n"
     "1-200 characters, e.g.: visitsync grid add g01 蚬冈村\n"},
    {"user", cli_cmd_user, "add a cadre, supervisor or admin",
     "usage: visitsync user add --id ID --name NAME --role cadre|supervisor|admin\n"
     "                          [--grids G1,G2] [--db PATH]\n"
     "\n"
     "Adds a person. A cadre must name at least one grid; supervisors and admins\n"
     "see every grid unless --grids limits them.\n"},
    {"device", cli_cmd_device, "enroll a tablet (prints its token) or revoke one",
     "usage: visitsync device enroll --user ID --device DEVICE_ID [--qr] [--url URL]\n"
     "                               [--db PATH]\n"
     "       visitsync device revoke DEVICE_ID [--db PATH]\n"
     "\n"
     "enroll binds a tablet to a person and prints the device's token, and only\n"
     "it, as one line on stdout. The token is shown once and stored only as a\n"
     "hash. --qr also draws it as a QR code on stderr for the tablet's camera.\n"
     "--url URL (the server's address as tablets reach it, e.g.\n"
     "https://sync.example.cn) puts the field app's sign-in link into the QR code\n"
     "instead, and prints the link on stderr under it (alone without --qr).\n"
     "revoke makes the token stop working at once; a running server closes the\n"
     "device's connections.\n"},
    {"token", cli_cmd_token, "create an API token for a supervisor or admin",
     "usage: visitsync token create --user ID [--db PATH]\n"
     "\n"
     "Prints a new token for the HTTP API, the dashboard and the monitor, once.\n"
     "Only supervisors and admins get API tokens.\n"},
    {"serve", cli_cmd_serve, "run the sync server (WebSocket /sync, GET /healthz)",
     "usage: visitsync serve [--listen HOST:PORT] [--tls-cert F --tls-key F] [--web DIR]\n"
     "                       [--schema F] [--insecure] [--max-skew SECONDS]\n"
     "                       [--max-batch N] [--max-message BYTES] [--max-conn-per-ip N]\n"
     "                       [--ping-interval SECONDS] [--idle-timeout SECONDS]\n"
     "                       [--max-blob BYTES] [--metrics-token T] [--db PATH]\n"
     "\n"
     "Serves the sync protocol on ws://HOST:PORT/sync (wss:// with --tls-cert and\n"
     "--tls-key) until SIGINT/SIGTERM. Default listen 127.0.0.1:8080; port 0 picks a\n"
     "free port. Prints `visitsync listening on HOST:PORT` once the socket is bound.\n"
     "A non-loopback HOST needs TLS, or --insecure behind a TLS proxy. Defaults:\n"
     "--max-skew 600, --max-batch 500, --max-message 1048576, --max-conn-per-ip 512\n"
     "(0: no cap), --ping-interval 30, --idle-timeout 70 (a connection that answers no\n"
     "ping for that long is dropped).\n"
     "--max-blob BYTES (default 20971520, at most 67108864) is the largest photo\n"
     "a tablet may upload; photos are kept in the database and in its backups.\n"
     "GET /metrics (Prometheus) is open to anyone who reaches the port unless\n"
     "--metrics-token T is given: then it needs `Authorization: Bearer T`.\n"},
    {"export", cli_cmd_export, "write a collection's current records to stdout",
     "usage: visitsync export --collection NAME [--format jsonl|csv] [--db PATH]\n"
     "\n"
     "jsonl (the default): one object per line,\n"
     "  {\"id\":…,\"rev\":N,\"deleted\":false,\"fields\":{…}}\n"
     "csv: RFC 4180, UTF-8, header id,rev,deleted and the collection's fields in\n"
     "schema order; arrays and objects as compact JSON, absent fields empty. A text\n"
     "cell starting with = + - @ (or TAB, CR, full-width ＝＋－＠) gets a leading ' so\n"
     "no spreadsheet runs it; control characters in cells become U+FFFD.\n"},
    {"backup", cli_cmd_backup, "copy the database while the server runs",
     "usage: visitsync backup FILE [--db PATH]\n"
     "\n"
     "Writes a consistent copy of the database to FILE while the server keeps\n"
     "serving (pushes are not held up). The copy is checked with SQLite's\n"
     "integrity check, made readable by its owner only (0600) and written under\n"
     "FILE.partial first, so FILE is never a half copy. Progress goes to stderr.\n"
     "The copy gets an epoch of its own, so tablets that synced after it pull\n"
     "everything again once it is restored, and re-send what it lacks.\n"
     "To restore: stop the server, copy FILE over the database, remove the\n"
     "database's -wal and -shm files, run visitsync init, start the server\n"
     "(docs/operations.md, \"Restore\").\n"},
    {"audit", cli_cmd_audit, "list the recorded admin and supervisor acts",
     "usage: visitsync audit [--since TIME] [--limit N] [--db PATH]\n"
     "\n"
     "Lists who did what and when, oldest first, one act per line:\n"
     "  2026-12-05T10:11:12Z  cli:root  device enroll  tab-c001  user=c001\n"
     "(time in UTC, who, the act, its target or -, a note). Recorded: grid add,\n"
     "user add, device enroll, device revoke, token create, export, backup (who:\n"
     "cli:<the OS user>) and a supervisor's conflict resolution (who: the user id).\n"
     "The log is append-only and is part of every backup.\n"
     "--since TIME: acts at or after TIME, a date (2026-12-05, UTC midnight) or an\n"
     "RFC 3339 time (2026-12-05T18:00:00+08:00). --limit N: at most N acts, 1-10000\n"
     "(default 100); when more follow, a line on stderr says from when.\n"},
    {"demo", cli_cmd_demo, "fill an empty database with a demo township",
     "usage: visitsync demo [--db PATH]\n"
     "\n"
     "Fills an empty database (run visitsync init first) with the grids, cadres,\n"
     "tablets, supervisors, subjects and visits of a demo township (蚬冈镇, 开平),\n"
     "written through the same merge path as tablets' pushes, and prints a table\n"
     "of the users, devices and tokens it made.\n"},
    {"client", cli_cmd_client, "a tablet in a terminal: queue changes offline, sync them",
     "usage: visitsync client init --url ws://HOST:PORT/sync --device ID --token TOKEN\n"
     "       visitsync client add --collection C --id ID [--base N]\n"
     "                            (--set FIELD=VALUE ... | --json OBJECT) [--delete|--restore]\n"
     "       visitsync client photo FILE [--mime TYPE]\n"
     "       visitsync client sync [--ca FILE] [--insecure] [--timeout S] [--attempts N]\n"
     "                             [--batch N] [--no-deflate]\n"
     "       visitsync client status\n"
     "       visitsync client list [--collection C]\n"
     "\n"
     "Every client command takes --replica PATH, the tablet's local store (default:\n"
     "$VISITSYNC_REPLICA, else ./visitsync-client.db). add queues a change offline; a\n"
     "--set value is JSON when it parses as a JSON scalar or array, else a string.\n"
     "photo keeps FILE (at most 20 MiB) in the store and prints its name,\n"
     "sha256:HEX, to put in a visit's photos (--set 'photos=[\"sha256:HEX\"]'); the\n"
     "type comes from the file's first bytes (JPEG, PNG, WebP, HEIC), else --mime.\n"
     "sync pushes the queued changes, pulls what changed, uploads the photos a\n"
     "change or record names (resuming a cut-off upload), a line for each:\n"
     "  photo sha256:HEX resumed at 2621440 of 5242880 bytes, complete\n"
     "and ends with one line:\n"
     "  pushed N (applied a, conflict c, duplicate d, rejected r), pulled M, cursor X\n"
     "status shows the device, server, pending changes, cursor, record counts,\n"
     "the rejected changes with their errors, the photos not uploaded yet, the\n"
     "acked changes it keeps and any changes lost in a server restore; list prints the local records as JSON lines.\n"
     "Acked changes are kept 30 days, to be sent again if the server is restored\n"
     "from a backup ($VISITSYNC_CLIENT_RETAIN_DAYS sets the days; 0 prunes them at\n"
     "the next sync).\n"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_overview(FILE *out)
{
    fprintf(out,
            "usage: visitsync [--db PATH] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "  %-8s %s\n"
            "\n"
            "Every command takes --db PATH (default: $VISITSYNC_DB, else %s).\n"
            "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n"
            "See `visitsync help COMMAND` for a command's arguments; `visitsync --version`.\n",
            "help", "show this list, or a command's usage", CLI_DEFAULT_DB);
}

static int cmd_help(int argc, char **argv)
{
    if (argc == 0) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[0], "help") == 0) {
        printf("usage: visitsync help [COMMAND]\n");
        return CLI_EXIT_OK;
    }
    const struct cli_command *c = find_command(argv[0]);
    if (c == NULL)
        return cli_usage_error("help", "", "unknown command '%.60s'", argv[0]);
    /* `help device enroll` is fine: the usage covers the subcommands. */
    fputs(c->usage, stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx = {0};
    int i = 1;

    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0) {
            printf("visitsync %s\n", VS_VERSION);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_overview(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
            const char *v = a[4] == '=' ? a + 5 : (i + 1 < argc ? argv[++i] : NULL);
            if (v == NULL || v[0] == '\0' || strncmp(v, "--", 2) == 0) {
                cli_fail("option --db needs a value (see: visitsync help)");
                return CLI_EXIT_USAGE;
            }
            ctx.db_path = v;
            i++;
            continue;
        }
        cli_fail("unknown option '%.60s' (see: visitsync help)", a);
        return CLI_EXIT_USAGE;
    }
    if (i >= argc) {
        cli_fail("missing command (see: visitsync help)");
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    if (strcmp(name, "help") == 0)
        return cmd_help(sub_argc, sub_argv);
    const struct cli_command *c = find_command(name);
    if (c == NULL) {
        cli_fail("unknown command '%.60s' (see: visitsync help)", name);
        return CLI_EXIT_USAGE;
    }
    if (cli_args_wants_help(sub_argc, sub_argv)) {
        fputs(c->usage, stdout);
        return CLI_EXIT_OK;
    }
    return c->run(&ctx, sub_argc, sub_argv);
}
