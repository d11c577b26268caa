/*
 * token.c — generating, encoding, hashing and comparing tokens (token.h).
 * The raw bytes never leave this file: callers see the text once and the
 * hash, which is all the store keeps.
 */
#include "token.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

int cli_token_random(unsigned char *raw, size_t n)
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

size_t cli_token_encode(const unsigned char *raw, size_t n, char *out)
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

void cli_token_hash(const char *token, size_t len, unsigned char hash[CLI_TOKEN_HASH])
{
    SHA256((const unsigned char *)token, len, hash);
}

int cli_token_new(char text[CLI_TOKEN_CHARS + 1], unsigned char hash[CLI_TOKEN_HASH])
{
    unsigned char raw[CLI_TOKEN_BYTES];
    char buf[48]; /* 4 * ceil(32 / 3) + 1 = 45 bytes of encoder output at most */
    int rc = cli_token_random(raw, sizeof raw);
    if (rc != 0)
        goto out;
    cli_token_encode(raw, sizeof raw, buf);
    cli_token_hash(buf, CLI_TOKEN_CHARS, hash);
    memcpy(text, buf, CLI_TOKEN_CHARS + 1);
out:
    /* The raw bytes are as secret as the text: do not leave them on the stack. */
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

int cli_token_equal(const unsigned char a[CLI_TOKEN_HASH], const unsigned char b[CLI_TOKEN_HASH])
{
    return CRYPTO_memcmp(a, b, CLI_TOKEN_HASH) == 0;
}

int cli_token_well_formed(const char *text, size_t len)
{
    if (len != CLI_TOKEN_CHARS)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}
