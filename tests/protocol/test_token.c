/*
 * test_token.c — the token scheme of protocol/token.c: base64url encoding
 * (RFC 4648 vectors, URL-safe alphabet, no padding), new tokens and their
 * hashes (the SHA-256 of the text, as the server computes it), the
 * constant-time comparison and the well-formedness check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/sha.h>

#include "proto_token.h"

static void test_token_encode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(proto_token_encode((const unsigned char *)"", 0, out), 0);
    assert_string_equal(out, "");
    proto_token_encode((const unsigned char *)"f", 1, out);
    assert_string_equal(out, "Zg");
    proto_token_encode((const unsigned char *)"fo", 2, out);
    assert_string_equal(out, "Zm8");
    proto_token_encode((const unsigned char *)"foobar", 6, out);
    assert_string_equal(out, "Zm9vYmFy");
    const unsigned char hi[] = {0xfb, 0xff, 0xfe};
    proto_token_encode(hi, 3, out);
    assert_string_equal(out, "-__-");
    unsigned char raw[PROTO_TOKEN_BYTES];
    memset(raw, 0xff, sizeof raw);
    assert_int_equal(proto_token_encode(raw, sizeof raw, out), PROTO_TOKEN_CHARS);
}

static void test_token_new(void **state)
{
    (void)state;
    char a[PROTO_TOKEN_CHARS + 1], b[PROTO_TOKEN_CHARS + 1];
    unsigned char ha[PROTO_TOKEN_HASH], hb[PROTO_TOKEN_HASH], check[PROTO_TOKEN_HASH];
    assert_int_equal(proto_token_new(a, ha), 0);
    assert_int_equal(proto_token_new(b, hb), 0);
    assert_int_equal(strlen(a), PROTO_TOKEN_CHARS);
    assert_true(proto_token_well_formed(a, strlen(a)));
    assert_string_not_equal(a, b);
    /* The stored hash is the SHA-256 of the text, as the server computes it. */
    SHA256((const unsigned char *)a, strlen(a), check);
    assert_memory_equal(check, ha, PROTO_TOKEN_HASH);
    proto_token_hash(a, strlen(a), check);
    assert_true(proto_token_equal(check, ha));
    assert_false(proto_token_equal(ha, hb));
    check[31] ^= 1;
    assert_false(proto_token_equal(check, ha));
    /* Never a leading '-' (1 draw in 64 would have one): 2,000 draws. */
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(proto_token_new(a, ha), 0);
        assert_true(a[0] != '-');
    }
}

static void test_token_well_formed(void **state)
{
    (void)state;
    char t[PROTO_TOKEN_CHARS + 1];
    memset(t, 'A', PROTO_TOKEN_CHARS);
    t[PROTO_TOKEN_CHARS] = '\0';
    t[0] = '-';
    t[1] = '_';
    t[2] = '9';
    assert_true(proto_token_well_formed(t, PROTO_TOKEN_CHARS));
    assert_false(proto_token_well_formed("abc", 3));
    assert_false(proto_token_well_formed(t, PROTO_TOKEN_CHARS - 1));
    t[5] = '+';
    assert_false(proto_token_well_formed(t, PROTO_TOKEN_CHARS));
    t[5] = '=';
    assert_false(proto_token_well_formed(t, PROTO_TOKEN_CHARS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_encode),
        cmocka_unit_test(test_token_new),
        cmocka_unit_test(test_token_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
