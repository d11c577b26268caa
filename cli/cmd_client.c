/*
 * cmd_client.c — `visitsync client …`: a tablet in a terminal. It keeps a
 * local store (client/vsc_replica.h: config, outbox, replica) and syncs it
 * with a server through the client library (client/vsc_sync.h):
 *
 *   client init   --url URL --device ID --token TOKEN   create the store
 *   client add    --collection C --id ID [--base N] (--set f=v … | --json OBJ)
 *                 [--delete | --restore]                 queue a change offline
 *   client photo  FILE [--mime M]                        keep a photo, print its name
 *   client sync   [--ca FILE] [--insecure] [--timeout S] push the outbox, pull,
 *                                                        upload the named photos
 *   client status                                        what the store holds
 *   client list   [--collection C]                       the replica as JSON lines
 *
 * Every subcommand takes --replica PATH (default $VISITSYNC_REPLICA, else
 * ./visitsync-client.db); --db is accepted and ignored (§1: every
 * subcommand takes it, but a tablet has no server database). The store is
 * created 0600 (it holds the device's token; vsc_replica_open). Whatever
 * came from the server or the store is printed through cli_term_* (cli.h).
 *
 * Acked changes are kept VSC_RETAIN_DAYS (30) days for a server restored
 * from an older backup (docs/protocol.md §2.4a); $VISITSYNC_CLIENT_RETAIN_DAYS
 * (a whole number of days, 0: prune them at the next sync) changes that, for
 * tests and for a tablet short of space. What a restore could not get back
 * is reported by `client sync` and stays listed by `client status`.
 *
 * Photos (§2.6): `client photo` keeps a file's bytes in the store and prints
 * its name, sha256:<hex>, for a visit's photos field; `client sync` uploads
 * the photos that a change or a record names, resuming where the server's
 * copy stopped, and prints one line per photo. A photo no change names is
 * kept, not uploaded (vsc_sync.h says why).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "proto_record.h"
#include "proto_time.h"
#include "vsc_sync.h"
#include "vsc_replica.h"

#define CLIENT_DEFAULT_REPLICA "./visitsync-client.db"
#define CLIENT_MAX_SETS 64
#define CLIENT_FIELDS_MAX (1024 * 1024) /* one change's fields, as JSON text */
#define CLIENT_RETAIN_ENV "VISITSYNC_CLIENT_RETAIN_DAYS"

static const char *client_replica_path(const char *given)
{
    const char *env = getenv("VISITSYNC_REPLICA");
    if (given)
        return given;
    return env && env[0] ? env : CLIENT_DEFAULT_REPLICA;
}

/* Opens the store for cmd; prints the line and returns CLI_EXIT_FAIL on failure. */
static int client_open(const char *cmd, const char *path, int create, struct vsc_replica **out)
{
    char err[600];
    int rc = vsc_replica_open(path, create, out, err, sizeof err);
    if (rc != 0)
        return cli_fail("%s: %s", cmd, err);
    return 0;
}

/* Parses a whole decimal integer in [min, max]; 0 or -1. */
static int client_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ---- init --------------------------------------------------------------- */

static int client_init(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *url = NULL, *device = NULL, *token = NULL, *replica = NULL;
    const struct cli_opt opts[] = {
        {"url", &url, NULL, 1},
        {"device", &device, NULL, 1},
        {"token", &token, NULL, 1},
        {"replica", &replica, NULL, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 4, .db_path = &ctx->db_path};
    struct vsc_replica *r = NULL;
    char err[256], *old = NULL;
    size_t n_pos = 0;
    int rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err);

    if (rc != CLI_ARGS_OK)
        return cli_usage_error("client init", "client", "%s", err);
    if (strncmp(url, "ws://", 5) != 0 && strncmp(url, "wss://", 6) != 0)
        return cli_usage_error("client init", "client",
                               "--url '%.100s' must start with ws:// or wss://", url);
    if ((rc = cli_check_id("client init", "client", "device id", device)) != 0)
        return rc;
    const char *path = client_replica_path(replica);
    if ((rc = client_open("client init", path, 1, &r)) != 0)
        return rc;
    /* A store belongs to one device: its seqs mean nothing to another one. */
    rc = vsc_replica_config_get(r, "device", &old);
    if (rc == 0 && strcmp(old, device) != 0) {
        rc = cli_fail("client init: %s already belongs to device %s; use another --replica "
                      "for device %s",
                      path, old, device);
        goto out;
    }
    if ((rc = vsc_replica_config_set(r, "url", url)) != 0 ||
        (rc = vsc_replica_config_set(r, "device", device)) != 0 ||
        (rc = vsc_replica_config_set(r, "token", token)) != 0) {
        rc = cli_fail("client init: %s", vsc_replica_errmsg(r));
        goto out;
    }
    cli_note("client store %s ready for device %s at %s", path, device, url);
    rc = CLI_EXIT_OK;
out:
    free(old);
    vsc_replica_close(r);
    return rc;
}

/* ---- add ---------------------------------------------------------------- */

/*
 * Appends "name":value for one --set: value as JSON when it is a JSON
 * scalar or array, else as a string. Returns 0 or a PROTO_E* code.
 */
static int client_append_set(struct proto_buf *b, const char *name, size_t name_len,
                             const char *value)
{
    struct proto_buf probe;
    struct proto_record *rec = NULL;
    struct proto_fault fault;
    int rc;

    proto_buf_init(&probe, 0, CLIENT_FIELDS_MAX);
    rc = proto_buf_append(&probe, "{\"v\":", 5);
    if (!rc)
        rc = proto_buf_append(&probe, value, strlen(value));
    if (!rc)
        rc = proto_buf_append(&probe, "}", 1);
    int as_json = !rc && proto_fields_decode(proto_buf_data(&probe), probe.len, &rec, &fault) == 0 &&
                  rec->n_fields == 1 && rec->fields[0].value.type != PROTO_OBJECT;
    rc = proto_buf_append_json_string(b, name, name_len);
    if (!rc)
        rc = proto_buf_append(b, ":", 1);
    if (!rc && as_json)
        rc = proto_buf_append(b, rec->fields[0].value.json, rec->fields[0].value.json_len);
    else if (!rc)
        rc = proto_buf_append_json_string(b, value, strlen(value));
    proto_record_free(rec);
    proto_buf_free(&probe);
    return rc;
}

/*
 * Checks a JSON object of fields and writes it compactly, sorted by name,
 * into out. Returns 0, or CLI_EXIT_USAGE after printing what was wrong.
 */
static int client_canonical_fields(const char *text, size_t len, struct proto_buf *out)
{
    struct proto_record *rec = NULL;
    struct proto_fault fault;
    int rc = 0;

    if (proto_fields_decode(text, len, &rec, &fault) != 0) {
        if (strcmp(fault.field, "_deleted") == 0)
            return cli_usage_error("client add", "client",
                                   "use --delete or --restore instead of the field _deleted");
        return cli_usage_error("client add", "client", "the fields are not a JSON object: %s%s%s",
                               fault.field, fault.field[0] ? ": " : "", fault.message);
    }
    rc = proto_buf_append(out, "{", 1);
    for (size_t i = 0; !rc && i < rec->n_fields; i++) {
        if (i)
            rc = proto_buf_append(out, ",", 1);
        if (!rc)
            rc = proto_buf_append_json_string(out, rec->fields[i].name,
                                              strlen(rec->fields[i].name));
        if (!rc)
            rc = proto_buf_append(out, ":", 1);
        if (!rc)
            rc = proto_buf_append(out, rec->fields[i].value.json, rec->fields[i].value.json_len);
    }
    if (!rc)
        rc = proto_buf_append(out, "}", 1);
    proto_record_free(rec);
    if (rc)
        return cli_usage_error("client add", "client", "the fields exceed %d bytes",
                               CLIENT_FIELDS_MAX);
    return 0;
}

/* Takes every `--set F=V` / `--set=F=V` out of argv (repeatable, unlike other options). */
static int client_take_sets(int *argc, char **argv, const char **sets, size_t *n_sets)
{
    int w = 0;
    *n_sets = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[w++] = argv[i++];
            break;
        }
        if (strcmp(a, "--set") == 0) {
            if (i + 1 >= *argc)
                return cli_usage_error("client add", "client", "option --set needs field=value");
            v = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            v = a + 6;
        } else {
            argv[w++] = argv[i];
            continue;
        }
        if (*n_sets == CLIENT_MAX_SETS)
            return cli_usage_error("client add", "client", "more than %d --set options",
                                   CLIENT_MAX_SETS);
        sets[(*n_sets)++] = v;
    }
    *argc = w;
    return 0;
}

static int client_add(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *collection = NULL, *id = NULL, *base_s = NULL, *json = NULL, *replica = NULL;
    const char *sets[CLIENT_MAX_SETS];
    int del = 0, restore = 0;
    const struct cli_opt opts[] = {
        {"collection", &collection, NULL, 1}, {"id", &id, NULL, 1},
        {"base", &base_s, NULL, 0},           {"json", &json, NULL, 0},
        {"replica", &replica, NULL, 0},       {"delete", NULL, &del, 0},
        {"restore", NULL, &restore, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 7, .db_path = &ctx->db_path};
    struct proto_buf raw, fields;
    struct vsc_replica *r = NULL;
    struct vsc_replica_change c = {0};
    size_t n_sets = 0, n_pos = 0;
    int64_t base = -1;
    char err[256];
    int rc;

    if ((rc = client_take_sets(&argc, argv, sets, &n_sets)) != 0)
        return rc;
    if ((rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err)) != CLI_ARGS_OK)
        return cli_usage_error("client add", "client", "%s", err);
    if ((rc = cli_check_id("client add", "client", "collection", collection)) != 0 ||
        (rc = cli_check_id("client add", "client", "record id", id)) != 0)
        return rc;
    if (base_s && client_parse_int(base_s, 0, PROTO_SEQ_MAX, &base) != 0)
        return cli_usage_error("client add", "client",
                               "--base '%.40s' must be a record rev (an integer >= 0)", base_s);
    if (del && restore)
        return cli_usage_error("client add", "client", "--delete and --restore exclude each other");
    if (json && n_sets)
        return cli_usage_error("client add", "client", "give the fields with --set or --json, not both");
    if (!json && !n_sets && !del && !restore)
        return cli_usage_error("client add", "client",
                               "nothing to change: give --set field=value, --json, --delete or "
                               "--restore");

    proto_buf_init(&raw, 0, CLIENT_FIELDS_MAX);
    proto_buf_init(&fields, 0, CLIENT_FIELDS_MAX);
    if (json) {
        rc = proto_buf_append(&raw, json, strlen(json));
    } else {
        rc = proto_buf_append(&raw, "{", 1);
        for (size_t i = 0; !rc && i < n_sets; i++) {
            const char *eq = strchr(sets[i], '=');
            if (!eq || eq == sets[i]) {
                rc = cli_usage_error("client add", "client",
                                     "--set '%.60s' must be field=value", sets[i]);
                goto out;
            }
            if (i)
                rc = proto_buf_append(&raw, ",", 1);
            if (!rc)
                rc = client_append_set(&raw, sets[i], (size_t)(eq - sets[i]), eq + 1);
        }
        if (!rc)
            rc = proto_buf_append(&raw, "}", 1);
    }
    if (rc) {
        rc = cli_usage_error("client add", "client", "the fields exceed %d bytes",
                             CLIENT_FIELDS_MAX);
        goto out;
    }
    if ((rc = client_canonical_fields(proto_buf_data(&raw), raw.len, &fields)) != 0)
        goto out;

    if ((rc = client_open("client add", client_replica_path(replica), 0, &r)) != 0)
        goto out;
    rc = vsc_replica_queue(r, collection, id, base, proto_buf_data(&fields),
                           del ? 1 : restore ? 0 : -1, proto_now_ms(), &c);
    if (rc != 0) {
        rc = cli_fail("client add: cannot queue the change: %s", vsc_replica_errmsg(r));
        goto out;
    }
    cli_term_printf(stdout,
                    "queued seq %" PRId64 " %s/%s base %" PRId64 " hlc [%" PRId64 ",%" PRId64 "]",
                    c.seq, c.collection, c.id, c.base, c.hlc_ms, c.hlc_counter);
    rc = CLI_EXIT_OK;
out:
    vsc_replica_change_clear(&c);
    vsc_replica_close(r);
    proto_buf_free(&raw);
    proto_buf_free(&fields);
    return rc;
}

/* ---- photo -------------------------------------------------------------- */

/*
 * The type of a photo from its first bytes: JPEG, PNG, WebP, HEIC/HEIF
 * (an ISO BMFF "ftyp" box with a HEIF brand); NULL when none matches.
 */
static const char *client_sniff_mime(const unsigned char *p, size_t n)
{
    static const char *const heic[] = {"heic", "heix", "heim", "heis", "hevc", "hevx"};
    static const char *const heif[] = {"mif1", "msf1", "heif"};

    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return "image/jpeg";
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
        for (size_t i = 0; i < sizeof heic / sizeof heic[0]; i++)
            if (memcmp(p + 8, heic[i], 4) == 0)
                return "image/heic";
        for (size_t i = 0; i < sizeof heif / sizeof heif[0]; i++)
            if (memcmp(p + 8, heif[i], 4) == 0)
                return "image/heif";
    }
    return NULL;
}

/* A --mime value: type/subtype of letters, digits and !#$&^_.+- (RFC 6838), at most 100. */
static int client_mime_ok(const char *m)
{
    const char *slash = strchr(m, '/');
    size_t n = strlen(m);

    if (!slash || slash == m || !slash[1] || n > 100)
        return 0;
    for (const char *c = m; *c; c++)
        if (c != slash && !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789!#$&^_.+-", *c))
            return 0;
    return 1;
}

/* Reads all of path (at most VSC_PHOTO_MAX bytes) into *out; prints why on failure. */
static int client_read_photo(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    unsigned char *buf = NULL;
    size_t n = 0;
    int rc = CLI_EXIT_FAIL;

    if (!f)
        return cli_fail("client photo: cannot open %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_fail("client photo: %s is not a regular file", path);
        goto out;
    }
    if (st.st_size > VSC_PHOTO_MAX) {
        cli_fail("client photo: %s is %lld bytes; a photo may be at most %d bytes (20 MiB, the "
                 "server's limit): take it again at a lower resolution",
                 path, (long long)st.st_size, VSC_PHOTO_MAX);
        goto out;
    }
    /* One byte more than the limit, to notice a file that grew since fstat. */
    if (!(buf = malloc((size_t)VSC_PHOTO_MAX + 1))) {
        cli_fail("client photo: out of memory reading %s", path);
        goto out;
    }
    n = fread(buf, 1, (size_t)VSC_PHOTO_MAX + 1, f);
    if (ferror(f)) {
        cli_fail("client photo: cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (n == 0 || n > VSC_PHOTO_MAX) {
        cli_fail("client photo: %s is %s; a photo is 1 to %d bytes", path,
                 n ? "larger than the limit" : "empty", VSC_PHOTO_MAX);
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int client_photo(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const names[] = {"FILE"};
    const char *replica = NULL, *mime_opt = NULL, *pos[1];
    const struct cli_opt opts[] = {{"replica", &replica, NULL, 0}, {"mime", &mime_opt, NULL, 0}};
    struct cli_args_spec spec = {.opts = opts, .n_opts = 2, .pos_names = names, .min_pos = 1,
                                 .max_pos = 1, .db_path = &ctx->db_path};
    struct vsc_replica *r = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0, n_pos = 0;
    char err[256], sha[65];
    int rc;

    if ((rc = cli_args_parse(&spec, argc, argv, pos, &n_pos, err, sizeof err)) != CLI_ARGS_OK)
        return cli_usage_error("client photo", "client", "%s", err);
    if (mime_opt && !client_mime_ok(mime_opt))
        return cli_usage_error("client photo", "client",
                               "--mime '%.60s' must be a media type such as image/jpeg", mime_opt);
    if ((rc = client_read_photo(pos[0], &bytes, &len)) != 0)
        return rc;
    /* The bytes say what they are better than a name does; --mime is for the rest. */
    const char *mime = client_sniff_mime(bytes, len);
    if (!mime)
        mime = mime_opt ? mime_opt : "application/octet-stream";
    if ((rc = client_open("client photo", client_replica_path(replica), 0, &r)) != 0)
        goto out;
    if (vsc_replica_photo_add(r, bytes, len, mime, proto_now_ms(), sha) != 0) {
        rc = cli_fail("client photo: cannot keep %s: %s", pos[0], vsc_replica_errmsg(r));
        goto out;
    }
    printf("sha256:%s\n", sha);
    cli_note("client photo: kept %s (%zu bytes, %s); name it in a visit's photos and the next "
             "sync uploads it", pos[0], len, mime);
    rc = CLI_EXIT_OK;
out:
    free(bytes);
    vsc_replica_close(r);
    return rc;
}

/* ---- sync --------------------------------------------------------------- */

static void client_note_retry(void *ctx, const char *line)
{
    (void)ctx;
    cli_note("client sync: %s", line);
}

/* One line per photo the sync offered: done on stdout, a failure on stderr. */
static void client_note_photo(void *ctx, const struct vsc_sync_photo *p)
{
    (void)ctx;
    switch (p->outcome) {
    case VSC_SYNC_PHOTO_UPLOADED:
        printf("photo sha256:%s uploaded, %" PRId64 " bytes, complete\n", p->sha256, p->size);
        break;
    case VSC_SYNC_PHOTO_RESUMED:
        printf("photo sha256:%s resumed at %" PRId64 " of %" PRId64 " bytes, complete\n",
               p->sha256, p->from, p->size);
        break;
    case VSC_SYNC_PHOTO_ON_SERVER:
        printf("photo sha256:%s already on the server, %" PRId64 " bytes\n", p->sha256, p->size);
        break;
    case VSC_SYNC_PHOTO_FAILED:
        /* The error names the photo and carries the server's words. */
        cli_note("client sync: %s; the photo stays pending for the next sync",
                 p->error ? p->error : "a photo was not uploaded");
        break;
    }
    fflush(stdout); /* a line per photo as it happens, also into a pipe */
}

/*
 * Reads $VISITSYNC_CLIENT_RETAIN_DAYS into *days as vsc_sync_opts wants it
 * (0: unset, the default; -1: 0 days). Prints the line and returns
 * CLI_EXIT_USAGE when it is not a whole number of days.
 */
static int client_retain_days(int *days)
{
    const char *env = getenv(CLIENT_RETAIN_ENV);
    int64_t n = 0;

    *days = 0;
    if (!env || !env[0])
        return 0;
    if (client_parse_int(env, 0, 36500, &n) != 0)
        return cli_usage_error("client sync", "client",
                               "$" CLIENT_RETAIN_ENV " '%.40s' must be a number of days, 0-36500",
                               env);
    *days = n == 0 ? -1 : (int)n;
    return 0;
}

/* Tells what a sync did after a server restore, on stderr (a person must see a loss). */
static void client_note_restore(const struct vsc_sync_report *rep)
{
    if (rep->requeued > 0)
        cli_note("client sync: the server knew fewer of this tablet's changes than it had "
                 "acked (it was restored from a backup), so the %" PRId64 " acked change%s "
                 "kept here %s sent again",
                 rep->requeued, rep->requeued == 1 ? "" : "s",
                 rep->requeued == 1 ? "was" : "were");
    if (rep->lost_n > 0)
        cli_note("client sync: warning: the server was restored from a backup and lost %" PRId64
                 " change%s of this tablet (seq %" PRId64 "..%" PRId64 ") that %s acked too long "
                 "ago to be kept here; %s only on paper or with the cadre now: enter %s again "
                 "(`visitsync client status` lists them)",
                 rep->lost_n, rep->lost_n == 1 ? "" : "s", rep->lost_lo, rep->lost_hi,
                 rep->lost_n == 1 ? "was" : "were", rep->lost_n == 1 ? "it is" : "they are",
                 rep->lost_n == 1 ? "it" : "them");
    if (rep->reset)
        cli_note("client sync: the server was restored from a backup: replica rebuilt (%" PRId64
                 " record%s)",
                 rep->records, rep->records == 1 ? "" : "s");
}

static int client_sync(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *replica = NULL, *ca = NULL, *timeout_s = NULL, *attempts_s = NULL, *batch_s = NULL;
    int insecure = 0, no_deflate = 0;
    const struct cli_opt opts[] = {
        {"replica", &replica, NULL, 0},   {"ca", &ca, NULL, 0},
        {"insecure", NULL, &insecure, 0}, {"timeout", &timeout_s, NULL, 0},
        {"attempts", &attempts_s, NULL, 0}, {"batch", &batch_s, NULL, 0},
        {"no-deflate", NULL, &no_deflate, 0},
    };
    struct cli_args_spec spec = {.opts = opts, .n_opts = 7, .db_path = &ctx->db_path};
    struct vsc_opts conn = {0};
    struct vsc_sync_opts so = {0};
    struct vsc_sync_report rep;
    struct vsc_replica *r = NULL;
    int64_t timeout = 15, attempts = 5, batch = 0;
    char err[800], *cursor = NULL;
    size_t n_pos = 0;
    int rc;

    if ((rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err)) != CLI_ARGS_OK)
        return cli_usage_error("client sync", "client", "%s", err);
    if (timeout_s && client_parse_int(timeout_s, 1, 3600, &timeout) != 0)
        return cli_usage_error("client sync", "client", "--timeout '%.40s' must be 1-3600 seconds",
                               timeout_s);
    if (attempts_s && client_parse_int(attempts_s, 1, 100, &attempts) != 0)
        return cli_usage_error("client sync", "client", "--attempts '%.40s' must be 1-100",
                               attempts_s);
    if (batch_s && client_parse_int(batch_s, 1, PROTO_MAX_BATCH, &batch) != 0)
        return cli_usage_error("client sync", "client", "--batch '%.40s' must be 1-%d", batch_s,
                               PROTO_MAX_BATCH);
    if ((rc = client_retain_days(&so.retain_days)) != 0)
        return rc;
    if ((rc = client_open("client sync", client_replica_path(replica), 0, &r)) != 0)
        return rc;
    conn.ca_file = ca;
    conn.insecure = insecure;
    conn.no_deflate = no_deflate;
    conn.timeout_ms = (int)timeout * 1000;
    so.conn = &conn;
    so.app = "visitsync-cli";
    so.attempts = (int)attempts;
    so.max_batch = batch;
    so.note = client_note_retry;
    so.photo = client_note_photo;
    rc = vsc_sync(r, &so, &rep, err, sizeof err);
    if (rep.renumbered > 0)
        cli_note("client sync: the server had already committed seqs up to %" PRId64
                 " for this device, so the %" PRId64 " change%s queued in this new store %s"
                 " renumbered to follow them",
                 rep.server_seq, rep.renumbered, rep.renumbered == 1 ? "" : "s",
                 rep.renumbered == 1 ? "was" : "were");
    client_note_restore(&rep);
    if (vsc_replica_config_get(r, "cursor", &cursor) != 0)
        cursor = NULL;
    if (rc != 0) {
        rc = cli_fail("client sync: %s; pushed %" PRId64 ", %" PRId64 " changes still queued, %"
                      PRId64 " photo%s still to upload", err, rep.pushed, rep.pending,
                      rep.photos_pending, rep.photos_pending == 1 ? "" : "s");
        goto out;
    }
    char summary[300];
    snprintf(summary, sizeof summary,
             "pushed %" PRId64 " (applied %" PRId64 ", conflict %" PRId64 ", duplicate %" PRId64
             ", rejected %" PRId64 "), pulled %" PRId64 ", cursor %s",
             rep.pushed, rep.applied, rep.conflict, rep.duplicate, rep.rejected, rep.pulled,
             cursor ? cursor : "0");
    cli_term_printf(stdout, "%s", summary); /* the cursor is the server's text */
    /* Kept for `client status`; a failure to note it does not undo the sync. */
    (void)vsc_replica_config_set_int(r, "last_sync_ms", proto_now_ms());
    (void)vsc_replica_config_set(r, "last_sync", summary);
    rc = CLI_EXIT_OK;
    if (rep.photos_failed > 0)
        rc = cli_fail("client sync: %" PRId64 " photo%s not uploaded (said above); %s pending "
                      "for the next sync", rep.photos_failed, rep.photos_failed == 1 ? "" : "s",
                      rep.photos_failed == 1 ? "it stays" : "they stay");
out:
    free(cursor);
    vsc_replica_close(r);
    return rc;
}

/* ---- status and list ---------------------------------------------------- */

static int client_print_count(void *ctx, const char *collection, int64_t live, int64_t deleted)
{
    int *any = ctx;
    fputs(*any ? ", " : "", stdout);
    cli_term_write(stdout, collection, strlen(collection));
    printf(" %" PRId64 " (%" PRId64 " deleted)", live, deleted);
    *any = 1;
    return 0;
}

static int client_print_rejected(void *ctx, const struct vsc_replica_rejected *x)
{
    (void)ctx;
    /* The code, field and message are the server's words. */
    cli_term_printf(stdout, "  seq %" PRId64 " %s/%s: %s%s%s: %s", x->seq, x->collection, x->id,
                    x->code, x->field[0] ? " " : "", x->field, x->message);
    return 0;
}

static int client_print_lost(void *ctx, const struct vsc_replica_lost *x)
{
    char when[40];
    (void)ctx;
    proto_format_time(x->found_ms, when, sizeof when);
    printf("  seq %" PRId64 "..%" PRId64 ": %" PRId64 " change%s the server lost in a restore "
           "(found %s), acked too long ago to be kept here: enter %s again from paper or "
           "with the cadre\n",
           x->lo, x->hi, x->n, x->n == 1 ? "" : "s", when, x->n == 1 ? "it" : "them");
    return 0;
}

static int client_count_lost(void *ctx, const struct vsc_replica_lost *x)
{
    *(int64_t *)ctx += x->n;
    return 0;
}

/* Photos by state, for `client status` (vsc_replica_photo_fn). */
struct client_photo_counts {
    int64_t pending, pending_bytes, unnamed, uploaded;
};

static int client_count_photo(void *ctx, const struct vsc_replica_photo *p)
{
    struct client_photo_counts *c = ctx;
    if (p->uploaded_ms) {
        c->uploaded++;
    } else if (p->named) {
        c->pending++;
        c->pending_bytes += p->size;
    } else {
        c->unnamed++;
    }
    return 0;
}

static int client_print_photo(void *ctx, const struct vsc_replica_photo *p)
{
    char when[40];
    (void)ctx;
    proto_format_time(p->added_ms, when, sizeof when);
    cli_term_printf(stdout, "  sha256:%s %" PRId64 " bytes %s, kept %s%s", p->sha256, p->size,
                    p->mime, when, p->named ? "" : ", not named by any record: not uploaded");
    return 0;
}

static int client_count_rejected(void *ctx, const struct vsc_replica_rejected *x)
{
    (void)x;
    (*(int64_t *)ctx)++;
    return 0;
}

/* Prints "label: value" from a setting, or "label: -" when unset. */
static void client_print_setting(struct vsc_replica *r, const char *label, const char *key)
{
    char *v = NULL;
    if (vsc_replica_config_get(r, key, &v) != 0)
        v = NULL;
    cli_term_printf(stdout, "%s: %s", label, v ? v : "-");
    free(v);
}

static int client_status(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *replica = NULL;
    const struct cli_opt opts[] = {{"replica", &replica, NULL, 0}};
    struct cli_args_spec spec = {.opts = opts, .n_opts = 1, .db_path = &ctx->db_path};
    struct vsc_replica *r = NULL;
    int64_t pending = 0, oldest = 0, rejected = 0, last = 0, kept = 0, kept_oldest = 0, lost = 0;
    struct client_photo_counts photos = {0};
    char err[256], when[40], *user = NULL, *role = NULL;
    size_t n_pos = 0;
    int rc, any = 0;

    if ((rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err)) != CLI_ARGS_OK)
        return cli_usage_error("client status", "client", "%s", err);
    if ((rc = client_open("client status", client_replica_path(replica), 0, &r)) != 0)
        return rc;
    if ((rc = vsc_replica_pending(r, &pending, &oldest)) != 0 ||
        (rc = vsc_replica_rejected_list(r, client_count_rejected, &rejected)) != 0 ||
        (rc = vsc_replica_retained(r, &kept, &kept_oldest)) != 0 ||
        (rc = vsc_replica_lost_list(r, client_count_lost, &lost)) != 0 ||
        (rc = vsc_replica_photo_list(r, 0, client_count_photo, &photos)) != 0 ||
        (rc = vsc_replica_config_get_int(r, "last_sync_ms", 0, &last)) != 0) {
        rc = cli_fail("client status: %s", vsc_replica_errmsg(r));
        goto out;
    }
    client_print_setting(r, "device", "device");
    if (vsc_replica_config_get(r, "user", &user) == 0 &&
        vsc_replica_config_get(r, "role", &role) == 0)
        cli_term_printf(stdout, "user: %s (%s)", user, role);
    client_print_setting(r, "server", "url");
    if (pending > 0) {
        proto_format_time(oldest, when, sizeof when);
        printf("pending: %" PRId64 " (oldest %s)\n", pending, when);
    } else {
        printf("pending: 0\n");
    }
    /* Acked changes kept to send again should the server be restored from a backup. */
    if (kept > 0) {
        proto_format_time(kept_oldest, when, sizeof when);
        printf("kept: %" PRId64 " acked (oldest acked %s)\n", kept, when);
    } else {
        printf("kept: 0\n");
    }
    client_print_setting(r, "cursor", "cursor");
    /* The highest seq the server is known to have committed for this device. */
    client_print_setting(r, "server seq", "server_seq");
    if (last > 0) {
        char *summary = NULL;
        proto_format_time(last, when, sizeof when);
        if (vsc_replica_config_get(r, "last_sync", &summary) != 0)
            summary = NULL;
        cli_term_printf(stdout, "last sync: %s: %s", when, summary ? summary : "-");
        free(summary);
    } else {
        printf("last sync: never\n");
    }
    printf("records: ");
    if ((rc = vsc_replica_counts(r, client_print_count, &any)) != 0) {
        printf("\n");
        rc = cli_fail("client status: %s", vsc_replica_errmsg(r));
        goto out;
    }
    printf("%s\n", any ? "" : "none");
    printf("rejected: %" PRId64 "\n", rejected);
    if ((rc = vsc_replica_rejected_list(r, client_print_rejected, NULL)) != 0) {
        rc = cli_fail("client status: %s", vsc_replica_errmsg(r));
        goto out;
    }
    /* Every photo not on the server yet is listed: it exists only on this tablet. */
    printf("photos: %" PRId64 " pending upload (%" PRId64 " bytes), %" PRId64 " uploaded, %"
           PRId64 " not named by any record\n",
           photos.pending, photos.pending_bytes, photos.uploaded, photos.unnamed);
    if ((rc = vsc_replica_photo_list(r, 1, client_print_photo, NULL)) != 0) {
        rc = cli_fail("client status: %s", vsc_replica_errmsg(r));
        goto out;
    }
    /* A loss stays listed: it is the record of what must be entered again. */
    printf("lost: %" PRId64 "\n", lost);
    if ((rc = vsc_replica_lost_list(r, client_print_lost, NULL)) != 0) {
        rc = cli_fail("client status: %s", vsc_replica_errmsg(r));
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    free(user);
    free(role);
    vsc_replica_close(r);
    return rc;
}

static int client_print_record(void *ctx, const char *collection, const char *id, int64_t rev,
                               int deleted, const char *body)
{
    struct proto_buf *b = ctx;
    int rc;

    proto_buf_reset(b);
    rc = proto_buf_append(b, "{\"collection\":", 14);
    if (!rc)
        rc = proto_buf_append_json_string(b, collection, strlen(collection));
    if (!rc)
        rc = proto_buf_append(b, ",\"id\":", 6);
    if (!rc)
        rc = proto_buf_append_json_string(b, id, strlen(id));
    if (rc)
        return rc;
    /* DEL and C1 characters in the body come out as \u00XX: the same JSON. */
    cli_term_printf(stdout, "%s,\"rev\":%" PRId64 ",\"deleted\":%s,\"fields\":%s}",
                    proto_buf_data(b), rev, deleted ? "true" : "false", body);
    return 0;
}

static int client_list(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *replica = NULL, *collection = NULL;
    const struct cli_opt opts[] = {{"replica", &replica, NULL, 0},
                                   {"collection", &collection, NULL, 0}};
    struct cli_args_spec spec = {.opts = opts, .n_opts = 2, .db_path = &ctx->db_path};
    struct vsc_replica *r = NULL;
    struct proto_buf b;
    char err[256];
    size_t n_pos = 0;
    int rc;

    if ((rc = cli_args_parse(&spec, argc, argv, NULL, &n_pos, err, sizeof err)) != CLI_ARGS_OK)
        return cli_usage_error("client list", "client", "%s", err);
    if ((rc = client_open("client list", client_replica_path(replica), 0, &r)) != 0)
        return rc;
    proto_buf_init(&b, 0, 4096);
    rc = vsc_replica_list(r, collection, client_print_record, &b);
    if (rc != 0)
        rc = cli_fail("client list: %s", rc < DB_ERRNO_FIRST_ ? vsc_replica_errmsg(r)
                                                             : proto_strerror(rc));
    proto_buf_free(&b);
    vsc_replica_close(r);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_cmd_client(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"init", client_init},     {"add", client_add},   {"photo", client_photo},
        {"sync", client_sync},     {"status", client_status}, {"list", client_list},
    };
    return cli_subcommand(ctx, "client", subs, sizeof subs / sizeof subs[0], argc, argv);
}
