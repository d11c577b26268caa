/*
 * token.h — device and API tokens: 32 random bytes from getrandom(),
 * shown once as URL-safe base64 without padding (43 characters), stored
 * only as the SHA-256 of that text, compared in constant time.
 *
 * The hash is taken over the token's text exactly as a client sends it
 * (the 43 characters), so the server hashes what arrives in `hello` or an
 * `Authorization: Bearer` header and compares the two digests with
 * cli_token_equal(). Nothing here keeps state; any thread may call it.
 */
#ifndef VS_CLI_TOKEN_H
#define VS_CLI_TOKEN_H

#include <stddef.h>

#define CLI_TOKEN_BYTES 32
#define CLI_TOKEN_CHARS 43 /* base64url of 32 bytes, no padding */
#define CLI_TOKEN_HASH 32  /* SHA-256 */

/* Fills raw with n bytes from getrandom(), looping over EINTR and short
 * reads. Returns 0, or -errno when the kernel cannot give randomness. */
int cli_token_random(unsigned char *raw, size_t n);

/* Encodes n bytes as URL-safe base64 without padding into out, which must
 * hold 4 * ceil(n / 3) + 1 bytes; returns the length written (NUL added). */
size_t cli_token_encode(const unsigned char *raw, size_t n, char *out);

/* The SHA-256 of the token text (len bytes). */
void cli_token_hash(const char *token, size_t len, unsigned char hash[CLI_TOKEN_HASH]);

/* Makes a new token: its text in text (CLI_TOKEN_CHARS + 1 bytes) and its
 * hash. Returns 0 or -errno (no randomness); text and hash are written only
 * on success. */
int cli_token_new(char text[CLI_TOKEN_CHARS + 1], unsigned char hash[CLI_TOKEN_HASH]);

/* True when the two hashes are equal; constant time (CRYPTO_memcmp). */
int cli_token_equal(const unsigned char a[CLI_TOKEN_HASH], const unsigned char b[CLI_TOKEN_HASH]);

/* True when text is the shape of a token: 43 characters of A-Z a-z 0-9 - _. */
int cli_token_well_formed(const char *text, size_t len);

#endif
