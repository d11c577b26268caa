/*
 * web_assets.h — the table that web/embed.cmake generates (web_assets.c in the
 * build directory), sorted by path in byte order so web.c can bisect it.
 * Only web.c reads it.
 */
#ifndef VS_WEB_ASSETS_H
#define VS_WEB_ASSETS_H

#include "web.h"

extern const struct web_asset web__assets[];
extern const size_t web__n_assets;

#endif
