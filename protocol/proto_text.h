/*
 * proto_text.h — the rules for text that the contract sets (protocol/text.c):
 * the shape of an id (§1) and well-formed UTF-8. Any thread; no state.
 */
#ifndef VS_PROTO_TEXT_H
#define VS_PROTO_TEXT_H

#include <stddef.h>

#define PROTO_ID_MAX 64            /* ids: 1..64 of A-Z a-z 0-9 _ - . : (§1) */

/* True when s (len bytes) is a valid id: 1..64 of A-Z a-z 0-9 _ - . : */
int proto_id_valid(const char *s, size_t len);
/*
 * The one UTF-8 counter of the tree (protocol/text.c): the code points of s
 * (len bytes), or -1 when s is not well-formed UTF-8 (a stray or missing
 * continuation byte, an overlong form, a surrogate, past U+10FFFF).
 */
long proto_utf8_chars(const char *s, size_t len);

#endif
