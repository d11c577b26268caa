/*
 * proto_token.h — device and API credentials (protocol/token.c).
 *
 * One scheme for the CLI that makes tokens, the server that checks them and
 * the benchmarks: 32 random bytes from getrandom(), shown once as URL-safe
 * base64 without padding (43 characters), stored only as the SHA-256 of
 * that text exactly as a client sends it, compared in constant time.
 * Nothing here keeps state; any thread may call these.
 */
#ifndef VS_PROTO_TOKEN_H
#define VS_PROTO_TOKEN_H

#include <stddef.h>

#define PROTO_TOKEN_BYTES 32
#define PROTO_TOKEN_CHARS 43 /* base64url of 32 bytes, no padding */
#define PROTO_TOKEN_HASH 32  /* SHA-256 */

/* Makes a new token: its text in text (PROTO_TOKEN_CHARS + 1 bytes, NUL
 * ended; never starting with '-', so it passes as an option's value) and
 * its hash. Returns 0 or -errno (no randomness from the kernel); text and
 * hash are written only on success. */
int proto_token_new(char text[PROTO_TOKEN_CHARS + 1], unsigned char hash[PROTO_TOKEN_HASH]);
/* The SHA-256 of the token text (len bytes) into hash. */
void proto_token_hash(const char *token, size_t len, unsigned char hash[PROTO_TOKEN_HASH]);
/* True when the two hashes are equal; constant time (CRYPTO_memcmp). */
int proto_token_equal(const unsigned char a[PROTO_TOKEN_HASH],
                      const unsigned char b[PROTO_TOKEN_HASH]);
/* True when text is the shape of a token: 43 characters of A-Z a-z 0-9 - _. */
int proto_token_well_formed(const char *text, size_t len);
/* Encodes n bytes as URL-safe base64 without padding into out, which must
 * hold 4 * ceil(n / 3) + 1 bytes; returns the length written (NUL added). */
size_t proto_token_encode(const unsigned char *raw, size_t n, char *out);

#endif
