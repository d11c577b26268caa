/*
 * test_text.c — the word-at-a-time text helpers of the hot path
 * (proto__utf8_valid with its ASCII and three-byte shortcuts,
 * proto__json_plain, proto_buf_append_json_string) agree with plain
 * byte-by-byte reference versions on every prefix of random byte strings
 * biased toward the bytes that matter (quotes, backslashes, control bytes,
 * UTF-8 lead and continuation bytes, surrogates, overlongs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The UTF-8 rules of text.c written the slow way: decode, then judge the code point. */
static int ref_utf8(const unsigned char *p, size_t n, size_t *chars)
{
    size_t i = 0, count = 0;
    while (i < n) {
        unsigned c = p[i], cp, need, min;
        if (c < 0x80) {
            i++;
            count++;
            continue;
        }
        if (c >= 0xC0 && c < 0xE0) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c < 0xF0) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c < 0xF8) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
        count++;
    }
    *chars = count;
    return 1;
}

static size_t ref_plain(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

/* The escaping cJSON_PrintUnformatted does, one byte at a time. */
static size_t ref_quote(const unsigned char *p, size_t n, char *out)
{
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                      : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : NULL;
        if (e) {
            memcpy(out + k, e, 2);
            k += 2;
        } else if (c < 0x20) {
            k += (size_t)sprintf(out + k, "\\u%04x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    return k;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static unsigned next_byte(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state >> 32);
}

/* Fills buf with n bytes: runs of ASCII, valid 3-byte characters and odd bytes. */
static void fill(unsigned char *buf, size_t n)
{
    static const unsigned char pool[] = {'a', ' ', '"', '\\', '\n', 0x01, 0x1f, 0x7f, 0x80,
                                         0xBF, 0xC0, 0xC2, 0xE0, 0xE4, 0xED, 0xA0, 0xB8,
                                         0xAD, 0xEF, 0xF0, 0xF4, 0x90, 0xF5, 0xFF, 'z', '0'};
    size_t i = 0;
    while (i < n) {
        unsigned r = next_byte();
        if (r % 8 < 3 && n - i >= 3) { /* 中 */
            memcpy(buf + i, "\xE4\xB8\xAD", 3);
            i += 3;
        } else if (r % 8 == 3 && n - i >= 4) { /* U+1D11E, four bytes */
            memcpy(buf + i, "\xF0\x9D\x84\x9E", 4);
            i += 4;
        } else if (r % 8 == 4 && n - i >= 2) { /* é, two bytes */
            memcpy(buf + i, "\xC3\xA9", 2);
            i += 2;
        } else if (r % 8 < 7 || r % 64 < 60) {
            buf[i++] = (unsigned char)('a' + r % 26);
        } else {
            buf[i++] = pool[(r >> 8) % sizeof pool];
        }
    }
}

static void test_agrees_with_reference(void **state)
{
    (void)state;
    unsigned char buf[64];
    char want[64 * 6 + 3];
    int valid = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(next_byte() % sizeof buf);
        fill(buf, n);
        size_t ref_chars = 0, chars = 0;
        int ref_ok = ref_utf8(buf, n, &ref_chars);
        int ok = proto__utf8_valid((const char *)buf, n, &chars);
        assert_int_equal(ok != 0, ref_ok);
        if (ref_ok) {
            assert_int_equal(chars, ref_chars);
            valid++;
        }
        assert_int_equal(proto__json_plain((const char *)buf, n), ref_plain(buf, n));

        struct proto_buf b;
        proto_buf_init(&b, 4, 4096);
        assert_int_equal(proto_buf_append_json_string(&b, (const char *)buf, n), 0);
        size_t want_len = ref_quote(buf, n, want);
        assert_int_equal(b.len, want_len);
        assert_memory_equal(proto_buf_data(&b), want, want_len);
        proto_buf_free(&b);
    }
    /* Both answers must have been exercised many times. */
    assert_true(valid > 2000 && valid < 18000);
}

static void test_known_strings(void **state)
{
    (void)state;
    size_t chars = 0;
    assert_true(proto__utf8_valid("abcdefghijklmnop", 16, &chars));
    assert_int_equal(chars, 16);
    assert_true(proto__utf8_valid("\xE4\xB8\xAD\xE6\x96\x87" "abcdefgh", 14, &chars));
    assert_int_equal(chars, 10);
    assert_false(proto__utf8_valid("\xED\xA0\x80", 3, NULL));     /* a surrogate */
    assert_false(proto__utf8_valid("\xE0\x80\xAF", 3, NULL));     /* overlong */
    assert_false(proto__utf8_valid("abcdefg\xE4\xB8", 9, NULL)); /* cut short */
    assert_int_equal(proto__json_plain("abcdefgh\"", 9), 8);
    assert_int_equal(proto__json_plain("abcdefghijklmno\\", 16), 15);
    assert_int_equal(proto__json_plain("\xE4\xB8\xAD\xE4\xB8\xAD\x7f\x1f", 8), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_reference),
        cmocka_unit_test(test_known_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
