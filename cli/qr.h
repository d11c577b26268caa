/*
 * qr.h — draws text as a QR code in a terminal with Unicode half blocks.
 */
#ifndef VS_CLI_QR_H
#define VS_CLI_QR_H

#include <stdio.h>

/*
 * Encodes text (byte mode, error correction M) and draws it on out, two
 * module rows per text line, with a 4-module quiet zone. Light modules are
 * drawn as blocks and dark ones as blanks, like `qrencode -t UTF8`, which
 * reads right on the usual light-on-dark terminal. Returns 0, or -1 when
 * libqrencode cannot encode the text (errno says why).
 */
int cli_qr_print(FILE *out, const char *text);

#endif
