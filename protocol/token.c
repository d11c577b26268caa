/*
 * token.c — device and API tokens, the one implementation every module
 * uses (proto_token.h): 32 random bytes from getrandom(), shown once
 * as URL-safe base64 without padding (43 characters), stored only as the
 * SHA-256 of that text, compared in constant time. The raw bytes never
 * leave this file. Nothing here keeps state; any thread may call it.
 */
#include "proto_token.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

/* Fills raw with n bytes from getrandom(), over EINTR and short reads; 0 or -errno. */
static int token_random(unsigned char *raw, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(raw + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Encodes n bytes as base64url without padding; see proto_token.h. Any thread. */
size_t proto_token_encode(const unsigned char *raw, size_t n, char *out)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)raw[i] << 16;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

/* The SHA-256 of the token's text; any thread. */
void proto_token_hash(const char *token, size_t len, unsigned char hash[PROTO_TOKEN_HASH])
{
    SHA256((const unsigned char *)token, len, hash);
}

/* A new token and its hash; 0 or -errno, outputs written only on success. Any thread. */
int proto_token_new(char text[PROTO_TOKEN_CHARS + 1], unsigned char hash[PROTO_TOKEN_HASH])
{
    unsigned char raw[PROTO_TOKEN_BYTES];
    char buf[48]; /* 4 * ceil(32 / 3) + 1 = 45 bytes of encoder output at most */
    int rc;

    /*
     * Never a leading '-' (1 in 64 draws): a token is pasted after --token
     * on command lines, where "-x..." reads as an option to many parsers
     * (ours refuses "--x..." there). The other 255.98 bits stay uniform.
     */
    do {
        rc = token_random(raw, sizeof raw);
        if (rc != 0)
            goto out;
        proto_token_encode(raw, sizeof raw, buf);
    } while (buf[0] == '-');
    proto_token_hash(buf, PROTO_TOKEN_CHARS, hash);
    memcpy(text, buf, PROTO_TOKEN_CHARS + 1);
out:
    /* The raw bytes are as secret as the text: do not leave them on the stack. */
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

/* True when the hashes are equal, in constant time; any thread. */
int proto_token_equal(const unsigned char a[PROTO_TOKEN_HASH],
                      const unsigned char b[PROTO_TOKEN_HASH])
{
    return CRYPTO_memcmp(a, b, PROTO_TOKEN_HASH) == 0;
}

/* True when text has a token's shape; any thread. */
int proto_token_well_formed(const char *text, size_t len)
{
    if (len != PROTO_TOKEN_CHARS)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}
