/*
 * test_blob.c — the binary chunk of §2.6 (protocol/blob.c): a header written
 * by proto_blob_chunk_header reads back the same, every malformed length is
 * refused with a sentence naming the limit, a large offset survives the
 * big-endian round trip, and the hex helpers accept only lowercase hex.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto_blob.h"

/* A message of header + n data bytes for sha (bytes 0..31) at offset; the caller frees it. */
static unsigned char *chunk_msg(int64_t offset, size_t n, unsigned char sha[PROTO_SHA256_BYTES])
{
    unsigned char *m = malloc(PROTO_BLOB_HEADER + n + 1);

    assert_non_null(m);
    for (int i = 0; i < PROTO_SHA256_BYTES; i++)
        sha[i] = (unsigned char)(i * 7 + 1);
    proto_blob_chunk_header(m, sha, offset);
    for (size_t i = 0; i < n; i++)
        m[PROTO_BLOB_HEADER + i] = (unsigned char)i;
    return m;
}

static void test_chunk_round_trip(void **state)
{
    (void)state;
    unsigned char sha[PROTO_SHA256_BYTES];
    struct proto_blob_chunk c;
    struct proto_fault f;
    char hex[PROTO_SHA256_HEX + 1];

    static const size_t sizes[] = {1, 2, 4096, PROTO_BLOB_CHUNK_MAX - 1, PROTO_BLOB_CHUNK_MAX};

    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *m = chunk_msg(((int64_t)1 << 40) + 3, n, sha);
        memset(&c, 0, sizeof c);
        assert_int_equal(proto_blob_chunk_parse(m, PROTO_BLOB_HEADER + n, &c, &f), 0);
        assert_memory_equal(c.sha256, sha, sizeof sha);
        proto_sha256_hex(sha, hex);
        assert_string_equal(c.sha256_hex, hex);
        assert_int_equal(c.offset, ((int64_t)1 << 40) + 3);
        assert_int_equal(c.len, n);
        assert_ptr_equal(c.data, m + PROTO_BLOB_HEADER); /* borrowed, not copied */
        free(m);
    }
    /* The offset is big-endian on the wire. */
    unsigned char *m = chunk_msg(0x0102030405060708LL, 1, sha);
    for (int i = 0; i < 8; i++)
        assert_int_equal(m[PROTO_SHA256_BYTES + i], i + 1);
    free(m);
}

static void test_chunk_refused(void **state)
{
    (void)state;
    unsigned char sha[PROTO_SHA256_BYTES];
    struct proto_blob_chunk c;
    struct proto_fault f;
    unsigned char *m = chunk_msg(0, PROTO_BLOB_CHUNK_MAX + 1, sha);

    memset(&f, 0, sizeof f);
    assert_int_equal(proto_blob_chunk_parse(m, 10, &c, &f), PROTO_EINVALID);
    assert_int_equal(f.code, PROTO_CODE_BAD_MESSAGE);
    assert_non_null(strstr(f.message, "shorter than the 40-byte header"));
    assert_int_equal(proto_blob_chunk_parse(m, PROTO_BLOB_HEADER, &c, &f), PROTO_EINVALID);
    assert_non_null(strstr(f.message, "no data"));
    assert_int_equal(proto_blob_chunk_parse(m, PROTO_BLOB_HEADER + PROTO_BLOB_CHUNK_MAX + 1, &c,
                                            &f),
                     PROTO_EINVALID);
    assert_non_null(strstr(f.message, "262145 bytes of data, over the 262144"));
    assert_int_equal(proto_blob_chunk_parse(NULL, 0, &c, &f), PROTO_EINVALID);
    /* An offset with the top bit set does not fit an int64_t. */
    m[PROTO_SHA256_BYTES] = 0x80;
    assert_int_equal(proto_blob_chunk_parse(m, PROTO_BLOB_HEADER + 1, &c, &f), PROTO_EINVALID);
    assert_non_null(strstr(f.message, "over 2^63-1"));
    m[PROTO_SHA256_BYTES] = 0x7f;
    assert_int_equal(proto_blob_chunk_parse(m, PROTO_BLOB_HEADER + 1, &c, &f), 0);
    free(m);
}

static void test_hex(void **state)
{
    (void)state;
    unsigned char raw[PROTO_SHA256_BYTES], back[PROTO_SHA256_BYTES];
    char hex[PROTO_SHA256_HEX + 1], bad[PROTO_SHA256_HEX + 1];

    for (int i = 0; i < PROTO_SHA256_BYTES; i++)
        raw[i] = (unsigned char)(255 - i * 5);
    proto_sha256_hex(raw, hex);
    assert_int_equal(strlen(hex), PROTO_SHA256_HEX);
    assert_memory_equal(hex, "fffaf5f0", 8);
    assert_int_equal(proto_sha256_hex_decode(hex, back), 0);
    assert_memory_equal(raw, back, sizeof raw);
    memcpy(bad, hex, sizeof bad);
    bad[3] = 'F';
    assert_int_equal(proto_sha256_hex_decode(bad, back), -1);
    bad[3] = 'g';
    assert_int_equal(proto_sha256_hex_decode(bad, back), -1);
    bad[63] = '\0';
    assert_int_equal(proto_sha256_hex_decode(bad, back), -1);
    assert_int_equal(proto_sha256_hex_decode(NULL, back), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_round_trip),
        cmocka_unit_test(test_chunk_refused),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
