/*
 * qr.c — the QR code `device enroll --qr` shows so a tablet's camera can
 * read its token instead of someone typing 43 characters.
 */
#include "qr.h"

#include <qrencode.h>

#define QR_QUIET 4

/* True when module (x, y) of the symbol plus its quiet zone is light. */
static int light(const QRcode *q, int x, int y)
{
    int w = q->width;
    x -= QR_QUIET;
    y -= QR_QUIET;
    if (x < 0 || y < 0 || x >= w || y >= w)
        return 1;
    return !(q->data[y * w + x] & 1);
}

int cli_qr_print(FILE *out, const char *text)
{
    QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    if (q == NULL)
        return -1;
    int side = q->width + 2 * QR_QUIET;
    for (int y = 0; y < side; y += 2) {
        for (int x = 0; x < side; x++) {
            int top = light(q, x, y);
            int bottom = y + 1 < side ? light(q, x, y + 1) : 0;
            fputs(top && bottom ? "\xe2\x96\x88"   /* █ */
                  : top         ? "\xe2\x96\x80"   /* ▀ */
                  : bottom      ? "\xe2\x96\x84"   /* ▄ */
                                : " ",
                  out);
        }
        fputc('\n', out);
    }
    QRcode_free(q);
    return fflush(out) == 0 ? 0 : -1;
}
