/*
 * cmd_serve.c — `visitsync serve`: turns the command line into a struct
 * srv_config and runs the server (server/srv.h) until SIGINT/SIGTERM.
 *
 * Usage problems (a bad --listen, a number that is not one) are reported
 * here; what needs the files or the network (TLS files, --schema, the
 * non-loopback rule, binding) is checked by srv_run, which prints its own
 * one-line errors and returns the exit status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "srv.h"

/* Parses a whole non-negative number of at most max; -1 when it is not one. */
static int64_t parse_count(const char *s, int64_t max)
{
    char *end;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > max)
        return -1;
    return v;
}

/* The `serve` subcommand; argv holds the arguments after "serve". Main thread. */
int cli_cmd_serve(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *listen = NULL, *max_skew = NULL, *max_batch = NULL, *max_message = NULL;
    const char *max_conn = NULL, *ping = NULL, *idle = NULL, *max_blob = NULL;
    struct srv_config cfg;
    int insecure = 0;
    char err[256];
    size_t n_pos = 0;
    int64_t v;

    srv_config_init(&cfg);
    const struct cli_opt opts[] = {
        {"listen", &listen, NULL, 0},
        {"tls-cert", &cfg.tls_cert, NULL, 0},
        {"tls-key", &cfg.tls_key, NULL, 0},
        {"web", &cfg.web_dir, NULL, 0},
        {"schema", &cfg.schema_path, NULL, 0},
        {"insecure", NULL, &insecure, 0},
        {"max-skew", &max_skew, NULL, 0},
        {"max-batch", &max_batch, NULL, 0},
        {"max-message", &max_message, NULL, 0},
        {"max-blob", &max_blob, NULL, 0},
        {"max-conn-per-ip", &max_conn, NULL, 0},
        {"ping-interval", &ping, NULL, 0},
        {"idle-timeout", &idle, NULL, 0},
        {"metrics-token", &cfg.metrics_token, NULL, 0},
    };
    struct cli_args_spec spec = {
        .opts = opts, .n_opts = sizeof opts / sizeof opts[0], .db_path = &ctx->db_path};

    if (cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err) != CLI_ARGS_OK)
        return cli_usage_error("serve", "serve", "%s", err);
    if (listen != NULL && srv_parse_listen(&cfg, listen, err, sizeof err) != 0)
        return cli_usage_error("serve", "serve", "%s", err);
    if (max_skew != NULL) {
        if ((v = parse_count(max_skew, 365LL * 24 * 3600)) < 0)
            return cli_usage_error("serve", "serve",
                                   "--max-skew %.40s: give whole seconds, e.g. 600", max_skew);
        cfg.max_skew_ms = v * 1000;
    }
    if (max_batch != NULL) {
        if ((v = parse_count(max_batch, 100000)) < 1)
            return cli_usage_error("serve", "serve",
                                   "--max-batch %.40s: give a number of changes from 1 to 100000",
                                   max_batch);
        cfg.max_batch = v;
    }
    if (max_message != NULL) {
        if ((v = parse_count(max_message, (int64_t)1 << 30)) < 1024)
            return cli_usage_error("serve", "serve",
                                   "--max-message %.40s: give bytes from 1024 to 1073741824",
                                   max_message);
        cfg.max_message = v;
    }
    if (max_blob != NULL) {
        if ((v = parse_count(max_blob, SRV_MAX_BLOB_CEILING)) < 1)
            return cli_usage_error("serve", "serve",
                                   "--max-blob %.40s: give the largest photo in bytes, from 1 to "
                                   "%lld (default 20971520)",
                                   max_blob, (long long)SRV_MAX_BLOB_CEILING);
        cfg.max_blob = v;
    }
    if (max_conn != NULL) {
        if ((v = parse_count(max_conn, 1000000)) < 0)
            return cli_usage_error("serve", "serve",
                                   "--max-conn-per-ip %.40s: give a number of connections from "
                                   "0 (no cap) to 1000000",
                                   max_conn);
        cfg.max_conn_per_ip = (int)v;
    }
    /* srv_run checks that the idle timeout is longer than the ping interval. */
    if (ping != NULL) {
        if ((v = parse_count(ping, SRV_KEEPALIVE_MAX_S)) < 1)
            return cli_usage_error("serve", "serve",
                                   "--ping-interval %.40s: give whole seconds from 1 to %d", ping,
                                   SRV_KEEPALIVE_MAX_S);
        cfg.ping_s = (int)v;
    }
    if (idle != NULL) {
        if ((v = parse_count(idle, SRV_KEEPALIVE_MAX_S)) < 2)
            return cli_usage_error("serve", "serve",
                                   "--idle-timeout %.40s: give whole seconds from 2 to %d", idle,
                                   SRV_KEEPALIVE_MAX_S);
        cfg.idle_s = (int)v;
    }
    cfg.insecure = insecure;
    cfg.db_path = cli_db_path(ctx);
    return srv_run(&cfg);
}
