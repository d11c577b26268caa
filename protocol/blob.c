/*
 * blob.c — the binary chunk of photo upload (§2.6): reading one
 * (proto_blob_chunk_parse, the server), writing its header
 * (proto_blob_chunk_header, the clients), and SHA-256 digests as the
 * lowercase hex the JSON messages carry. Nothing here keeps state or
 * copies a chunk's data: any thread may call these.
 */
#include <string.h>

#include "internal.h"
#include "proto_blob.h"

static const char hex_digits[] = "0123456789abcdef";

/* Any thread. */
int proto_blob_chunk_parse(const void *msg, size_t len, struct proto_blob_chunk *out,
                           struct proto_fault *f)
{
    const unsigned char *m = msg;
    uint64_t offset = 0;

    if (m == NULL || len < PROTO_BLOB_HEADER)
        return proto_fault_set(f, PROTO_CODE_BAD_MESSAGE, "chunk",
                               "chunk: a binary message of %zu bytes is shorter than the %d-byte "
                               "header (32 bytes of sha256, 8 of offset)",
                               len, PROTO_BLOB_HEADER);
    if (len == PROTO_BLOB_HEADER)
        return proto_fault_set(f, PROTO_CODE_BAD_MESSAGE, "chunk",
                               "chunk: no data after the header; send 1 to %d bytes",
                               PROTO_BLOB_CHUNK_MAX);
    if (len - PROTO_BLOB_HEADER > PROTO_BLOB_CHUNK_MAX)
        return proto_fault_set(f, PROTO_CODE_BAD_MESSAGE, "chunk",
                               "chunk: %zu bytes of data, over the %d a chunk may carry; split "
                               "it",
                               len - PROTO_BLOB_HEADER, PROTO_BLOB_CHUNK_MAX);
    for (int i = 0; i < 8; i++)
        offset = offset << 8 | m[PROTO_SHA256_BYTES + i];
    if (offset > (uint64_t)INT64_MAX)
        return proto_fault_set(f, PROTO_CODE_BAD_MESSAGE, "chunk",
                               "chunk: the offset %llu is over 2^63-1",
                               (unsigned long long)offset);
    memcpy(out->sha256, m, PROTO_SHA256_BYTES);
    proto_sha256_hex(out->sha256, out->sha256_hex);
    out->offset = (int64_t)offset;
    out->data = m + PROTO_BLOB_HEADER;
    out->len = len - PROTO_BLOB_HEADER;
    return 0;
}

/* Any thread. */
void proto_blob_chunk_header(unsigned char out[PROTO_BLOB_HEADER],
                             const unsigned char sha256[PROTO_SHA256_BYTES], int64_t offset)
{
    uint64_t o = (uint64_t)offset;

    memcpy(out, sha256, PROTO_SHA256_BYTES);
    for (int i = 7; i >= 0; i--) {
        out[PROTO_SHA256_BYTES + i] = (unsigned char)(o & 0xff);
        o >>= 8;
    }
}

/* Any thread. */
void proto_sha256_hex(const unsigned char raw[PROTO_SHA256_BYTES], char hex[PROTO_SHA256_HEX + 1])
{
    for (int i = 0; i < PROTO_SHA256_BYTES; i++) {
        hex[2 * i] = hex_digits[raw[i] >> 4];
        hex[2 * i + 1] = hex_digits[raw[i] & 15];
    }
    hex[PROTO_SHA256_HEX] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Any thread. Uppercase is refused: the wire spells digests in lowercase only. */
int proto_sha256_hex_decode(const char *hex, unsigned char raw[PROTO_SHA256_BYTES])
{
    unsigned char tmp[PROTO_SHA256_BYTES];

    if (hex == NULL || strlen(hex) != PROTO_SHA256_HEX)
        return -1;
    for (int i = 0; i < PROTO_SHA256_BYTES; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        tmp[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(raw, tmp, sizeof tmp);
    return 0;
}
