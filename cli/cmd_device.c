/*
 * cmd_device.c — `visitsync device enroll --user ID --device DEVICE_ID
 * [--qr] [--url URL]` binds a tablet to a person and prints its token, and
 * only it, as one line on stdout (shown once; the store keeps only its
 * SHA-256); `--qr` also draws the token on stderr for the tablet's camera.
 * With `--url` (the server's address as tablets reach it) the QR code holds
 * the field app's sign-in link URL/field/#device=ID&token=TOKEN instead, and
 * the link itself follows on stderr so the operator can also copy it; with
 * `--url` alone only the link is printed there.
 * `visitsync device revoke DEVICE_ID` makes the token stop working; a
 * running server notices within a second (db_devices_revoked_since).
 * Each act commits together with its audit row (cli_audit_commit).
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "proto_time.h"
#include "proto_token.h"
#include "qr.h"

/* The longest --url taken: a short link makes a QR code a camera reads at a glance. */
#define DEVICE_URL_MAX 256

/*
 * Checks --url and copies it into out (DEVICE_URL_MAX + 1 bytes) without its
 * trailing '/'s. An http:// or https:// address with a host and nothing
 * that would end or split the link (no space or control byte, no '?' or
 * '#'). Returns 0, or CLI_EXIT_USAGE after saying what is wrong.
 */
static int check_url(const char *url, char *out)
{
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    size_t n = strlen(url);

    if (scheme == 0)
        return cli_usage_error("device enroll", "device",
                               "--url '%s' must start with http:// or https:// (the server's "
                               "address as tablets reach it, e.g. https://sync.example.cn)",
                               url);
    while (n > scheme && url[n - 1] == '/')
        n--;
    if (n == scheme || url[scheme] == '/')
        return cli_usage_error("device enroll", "device", "--url '%s' names no host", url);
    if (n > DEVICE_URL_MAX)
        return cli_usage_error("device enroll", "device",
                               "--url is over %d characters: give the server's address only",
                               DEVICE_URL_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f || c == '?' || c == '#')
            return cli_usage_error("device enroll", "device",
                                   "--url '%s' may not hold a space, a control character, '?' "
                                   "or '#': give the server's address only",
                                   url);
    }
    memcpy(out, url, n);
    out[n] = '\0';
    return 0;
}

static int device_enroll(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *user = NULL, *device = NULL, *url = NULL;
    int qr = 0;
    const struct cli_opt opts[] = {
        {"user", &user, NULL, 1},
        {"device", &device, NULL, 1},
        {"qr", NULL, &qr, 0},
        {"url", &url, NULL, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 4, .db_path = &ctx->db_path};
    size_t n_pos = 0;
    char err[256];
    char token[PROTO_TOKEN_CHARS + 1];
    char base[DEVICE_URL_MAX + 1];
    /* base + "/field/#device=" + an id (at most 64) + "&token=" + the token. */
    char link[DEVICE_URL_MAX + 15 + 64 + 7 + PROTO_TOKEN_CHARS + 1];
    char detail[80];
    unsigned char hash[PROTO_TOKEN_HASH];
    struct db *db = NULL;
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("device enroll", "device", "%s", err);
    if ((rc = cli_check_id("device enroll", "device", "user id", user)) != 0 ||
        (rc = cli_check_id("device enroll", "device", "device id", device)) != 0)
        return rc;
    if (url != NULL && (rc = check_url(url, base)) != 0)
        return rc;

    if ((rc = cli_open_db(ctx, "device enroll", 0, &db)) != 0)
        return rc;
    if ((rc = cli_require_user(db, "device enroll", user, "cadre --grids G1")) != 0)
        goto out;
    if ((rc = proto_token_new(token, hash)) != 0) {
        rc = cli_fail("device enroll: cannot get random bytes for the token: %s",
                      strerror(-rc));
        goto out;
    }
    /* The device and its audit row commit together; the token is in neither. */
    snprintf(detail, sizeof detail, "user=%s", user);
    rc = db_begin(db);
    if (rc == 0)
        rc = db_device_enroll(db, device, user, hash, proto_now_ms());
    if (rc == 0)
        rc = cli_audit_commit(db, "device enroll", device, detail);
    if (rc != 0)
        db_rollback(db);
    if (rc == DB_EEXISTS) {
        rc = cli_fail("device enroll: device '%s' already exists (device ids are never reused; "
                      "pick another)",
                      device);
        goto out;
    }
    if (rc == DB_ENOTFOUND) {
        rc = cli_fail("device enroll: unknown user '%s'", user);
        goto out;
    }
    if (rc != 0) {
        rc = cli_fail("device enroll: cannot enroll device '%s': %s", device, db_errmsg(db));
        goto out;
    }
    /* The token is committed: show it now, once. */
    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        rc = cli_fail("device enroll: cannot write the token to stdout; revoke device '%s' and "
                      "enroll again",
                      device);
        goto out;
    }
    if (url != NULL)
        snprintf(link, sizeof link, "%s/field/#device=%s&token=%s", base, device, token);
    if (qr && cli_qr_print(stderr, url != NULL ? link : token) != 0) {
        rc = cli_fail("device enroll: cannot draw the QR code (the token above is valid)");
        goto out;
    }
    /* Under the QR code (or alone): the link to copy into a message or type in a browser. */
    if (url != NULL)
        cli_note("device %s signs in with %s", device, link);
    rc = CLI_EXIT_OK;
out:
    memset(token, 0, sizeof token);
    memset(link, 0, sizeof link);
    db_close(db);
    return rc;
}

static int device_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const names[] = {"DEVICE_ID"};
    struct cli_args_spec spec = {
        .pos_names = names, .min_pos = 1, .max_pos = 1, .db_path = &ctx->db_path};
    const char *pos[1];
    size_t n_pos = 0;
    char err[256];
    struct db *db = NULL;
    int rc = cli_args_parse(&spec, argc, argv, pos, &n_pos, err, sizeof err);
    if (rc != CLI_ARGS_OK)
        return cli_usage_error("device revoke", "device", "%s", err);
    if ((rc = cli_check_id("device revoke", "device", "device id", pos[0])) != 0)
        return rc;
    if ((rc = cli_open_db(ctx, "device revoke", 0, &db)) != 0)
        return rc;
    rc = db_begin(db);
    if (rc == 0)
        rc = db_device_revoke(db, pos[0], proto_now_ms());
    if (rc == 0)
        rc = cli_audit_commit(db, "device revoke", pos[0], NULL);
    if (rc != 0)
        db_rollback(db);
    if (rc == DB_ENOTFOUND)
        rc = cli_fail("device revoke: unknown device '%s'", pos[0]);
    else if (rc != 0)
        rc = cli_fail("device revoke: cannot revoke device '%s': %s", pos[0], db_errmsg(db));
    else
        cli_note("device %s revoked", pos[0]);
    db_close(db);
    return rc;
}

int cli_cmd_device(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_sub subs[] = {{"enroll", device_enroll}, {"revoke", device_revoke}};
    return cli_subcommand(ctx, "device", subs, sizeof subs / sizeof subs[0], argc, argv);
}
