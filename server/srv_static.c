/*
 * srv_static.c — the web apps (the dashboard at /, the field app at
 * /field/): from the files embedded in the binary (web/, web_asset_find),
 * or, with `serve --web DIR`, from DIR (for development). Both paths
 * behave the same: "/x/" is "/x/index.html", a directory asked without
 * its "/" is redirected (301) so its relative links resolve, the same
 * Content-Types, an ETag with If-None-Match → 304, Cache-Control: no-cache
 * on every file, and on HTML the security headers of srv_http.c.
 *
 * Why no-cache everywhere, not a max-age on scripts and images: the files
 * have stable names (no hash in them), so only revalidation lets a browser
 * see a new server's files at once — and a revalidation that finds the
 * same ETag costs a 304 with no body. The field app must never mix two
 * versions: its service worker (sw.js, itself never served from the HTTP
 * cache for its update check) fetches the whole shell through here when a
 * new version installs, and a max-age would hand it stale files under a
 * new cache name. Offline, the service worker's cache answers, not HTTP's.
 *
 * DIR is read on the service thread, a file at a time (at most
 * SRV_WEB_FILE_MAX): it is a development aid, not the way to serve a
 * township. Only regular files under DIR are served; a path with a ".."
 * or "." segment, a backslash or a control byte is refused (404), and
 * symbolic links are not followed at the last component.
 *
 * Everything here runs on the lws service thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv_internal.h"
#include "web.h"


/* The Content-Types of web/embed.cmake, by extension: a file of any other kind is not served. */
static const struct {
    const char *ext;
    const char *type;
} web_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"json", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"ico", "image/x-icon"},
    {"txt", "text/plain; charset=utf-8"},
};

/* The Content-Type of path by its extension, or NULL. */
static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot == NULL || strchr(dot, '/') != NULL)
        return NULL;
    for (size_t i = 0; i < sizeof web_types / sizeof web_types[0]; i++)
        if (strcmp(dot + 1, web_types[i].ext) == 0)
            return web_types[i].type;
    return NULL;
}

/* True when path is one we may look up: absolute, no "." or ".." segment, no odd bytes. */
static int path_safe(const char *path)
{
    if (path[0] != '/')
        return 0;
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 0;
        if (c == '/' && p[1] == '.' &&
            (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || p[3] == '\0'))))
            return 0;
    }
    return 1;
}

/* 1 when If-None-Match names etag (or is "*"). */
static int etag_matches(struct lws *wsi, const char *etag)
{
    char h[256];

    if (lws_hdr_copy(wsi, h, sizeof h, WSI_TOKEN_HTTP_IF_NONE_MATCH) <= 0)
        return 0;
    return strcmp(h, "*") == 0 || strstr(h, etag) != NULL;
}

/* Answers with a file's bytes (borrowed for the answer) or 304 when the client has them. */
static int answer_file(struct srv_http_pss *pss, const char *type, const char *etag,
                       const char *data, size_t len)
{
    snprintf(pss->etag, sizeof pss->etag, "%s", etag);
    pss->html = strncmp(type, "text/html", 9) == 0;
    if (etag_matches(pss->wsi, etag))
        return srv_http_answer(pss, 304, SRV_HTTP_STATIC, type, "", 0);
    return srv_http_answer(pss, 200, SRV_HTTP_STATIC, type, data, len);
}

static int answer_redirect(struct srv_http_pss *pss, const char *path)
{
    if ((size_t)snprintf(pss->location, sizeof pss->location, "%s/", path) >=
        sizeof pss->location)
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    return srv_http_answer(pss, 301, SRV_HTTP_STATIC, "text/plain; charset=utf-8", "", 0);
}

/*
 * Reads DIR + path into pss->owned when it is a regular file: 0, 1 when
 * there is no such file (or it is not a regular one), -1 when it could not
 * be read. *etag gets a validator from its size and modification time.
 */
static int read_web_file(struct srv_http_pss *pss, const char *path, char *etag, size_t etag_size)
{
    char full[PATH_MAX];
    struct stat st;
    int fd = -1, rc = 1;

    if ((size_t)snprintf(full, sizeof full, "%s%s", pss->srv->cfg->web_dir, path) >= sizeof full)
        return 1;
    fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    rc = -1;
    if ((size_t)st.st_size > SRV_WEB_FILE_MAX) {
        srv_log(SRV_LOG_WARN, "--web: %s is over %zu bytes: not served", full, SRV_WEB_FILE_MAX);
        goto out;
    }
    proto_buf_free(&pss->owned);
    proto_buf_init(&pss->owned, 0, SRV_WEB_FILE_MAX);
    for (;;) {
        char chunk[16384];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && proto_buf_append(&pss->owned, chunk, (size_t)n) != 0))
            goto out;
        if (n == 0)
            break;
    }
    snprintf(etag, etag_size, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    rc = 0;
out:
    close(fd);
    return rc;
}

/* True when DIR + path is a directory. */
static int web_dir_is_dir(const struct srv *srv, const char *path)
{
    char full[PATH_MAX];
    struct stat st;

    if ((size_t)snprintf(full, sizeof full, "%s%s", srv->cfg->web_dir, path) >= sizeof full)
        return 0;
    return stat(full, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Serves path from --web DIR. */
static int serve_dir(struct srv_http_pss *pss, const char *path)
{
    const char *type = type_of(path);
    char etag[64];
    int rc;

    if (type == NULL) {
        if (web_dir_is_dir(pss->srv, path))
            return answer_redirect(pss, path);
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    }
    rc = read_web_file(pss, path, etag, sizeof etag);
    if (rc == 1)
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    if (rc != 0)
        return srv_http_answer_json(pss, 500, "{\"error\":\"internal\",\"message\":\"the file "
                                              "could not be read\"}");
    return answer_file(pss, type, etag, proto_buf_data(&pss->owned), pss->owned.len);
}

/* Serves path from the embedded web apps. */
static int serve_embedded(struct srv_http_pss *pss, const char *path)
{
    const struct web_asset *a = web_asset_find(path);
    char index[SRV_PATH_MAX + 16];

    if (a != NULL)
        return answer_file(pss, a->type, a->etag, (const char *)a->data, a->len);
    /* A directory is a path whose index.html exists: send the browser to "path/". */
    if (path[strlen(path) - 1] != '/' &&
        (size_t)snprintf(index, sizeof index, "%s/index.html", path) < sizeof index &&
        web_asset_find(index) != NULL)
        return answer_redirect(pss, path);
    return srv_http_answer_json(pss, 404, srv_http_not_found);
}

/* Service thread. */
int srv_static_serve(struct srv_http_pss *pss, const char *path)
{
    char full[SRV_PATH_MAX + 16];
    size_t n = strlen(path);

    if (n == 0 || !path_safe(path))
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    if ((size_t)snprintf(full, sizeof full, "%s%s", path, path[n - 1] == '/' ? "index.html" : "") >=
        sizeof full)
        return srv_http_answer_json(pss, 404, srv_http_not_found);
    if (pss->srv->cfg->web_dir != NULL)
        return serve_dir(pss, full);
    return serve_embedded(pss, full);
}
