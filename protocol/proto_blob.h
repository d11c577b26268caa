/*
 * proto_blob.h — the binary side of photo upload (§2.6), spelled and read in
 * one place (protocol/blob.c): the server reads chunks with
 * proto_blob_chunk_parse, the C client and the load generator write their
 * headers with proto_blob_chunk_header. The JSON side (blob_offer,
 * blob_status) lives in proto.h with the other messages.
 *
 * A chunk is one binary WebSocket message:
 *
 *     32 bytes raw SHA-256 ‖ 8 bytes big-endian offset ‖ 1 .. 256 KiB of data
 *
 * Nothing here keeps state; any thread may call these.
 */
#ifndef VS_PROTO_BLOB_H
#define VS_PROTO_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "proto_errors.h"

#define PROTO_SHA256_BYTES 32
#define PROTO_SHA256_HEX 64                        /* lowercase hex, without "sha256:" */
#define PROTO_BLOB_HEADER (PROTO_SHA256_BYTES + 8) /* sha256 ‖ offset */
#define PROTO_BLOB_CHUNK_MAX (256 * 1024)          /* data bytes in one chunk */
#define PROTO_BLOB_MAX_DEFAULT (20 * 1024 * 1024)  /* --max-blob when not given */

/* A parsed chunk. data points into the message it was parsed from. */
struct proto_blob_chunk {
    unsigned char sha256[PROTO_SHA256_BYTES];
    char sha256_hex[PROTO_SHA256_HEX + 1];
    int64_t offset;
    const unsigned char *data;
    size_t len;
};

/*
 * Reads one binary message as a chunk. Returns 0, or PROTO_EINVALID with *f
 * naming what was wrong (shorter than the header, no data, more than
 * PROTO_BLOB_CHUNK_MAX bytes of data, an offset over INT64_MAX).
 */
int proto_blob_chunk_parse(const void *msg, size_t len, struct proto_blob_chunk *out,
                           struct proto_fault *f);

/* Writes the 40-byte header of the chunk of sha256 that starts at offset. */
void proto_blob_chunk_header(unsigned char out[PROTO_BLOB_HEADER],
                             const unsigned char sha256[PROTO_SHA256_BYTES], int64_t offset);

/* Raw digest ↔ lowercase hex. hex_decode returns -1 unless hex is 64 of [0-9a-f]. */
void proto_sha256_hex(const unsigned char raw[PROTO_SHA256_BYTES], char hex[PROTO_SHA256_HEX + 1]);
int proto_sha256_hex_decode(const char *hex, unsigned char raw[PROTO_SHA256_BYTES]);

#endif
