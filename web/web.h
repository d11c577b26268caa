/*
 * web.h — the web apps embedded in the binary (web/): every file under web/
 * whose extension is an asset's (html, js, css, svg, png, json, webmanifest,
 * ico, txt) becomes a byte array at build time (web/embed.cmake), with its URL
 * path, Content-Type and an ETag computed from its content. The server serves
 * them; this library depends on nothing and knows nothing of HTTP.
 */
#ifndef VS_WEB_H
#define VS_WEB_H

#include <stddef.h>

struct web_asset {
    const char *path;          /* URL path: "/index.html", "/field/index.html" */
    const char *type;          /* Content-Type, with "; charset=utf-8" for text */
    const unsigned char *data; /* len bytes (followed by one NUL not counted) */
    size_t len;
    const char *etag;          /* a strong ETag, quotes included: "\"3f2a…\"" */
};

/* The embedded file at path ("/index.html"), or NULL. A directory path ("/")
 * is not mapped to its index.html here: that is the server's choice. The
 * table is constant; any thread may call this. */
const struct web_asset *web_asset_find(const char *path);

#endif
