/*
 * test_print.c — our compact printer (proto__json_print) and the canonical
 * value text (proto__value_from_json) write exactly the bytes
 * cJSON_PrintUnformatted writes: the stored history and the conflict
 * comparison depend on that encoding, which the speed pass took off cJSON.
 * The one exception is a number whose "%1.15g" text does not read back as
 * exactly the same double: cJSON writes it anyway, we write "%1.17g"
 * (exact_cases; the fuzzer found DBL_MAX stored as a text that reads back
 * as infinity).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const cases[] = {
    "\"a\\u0001b\\u001fc\\\"\\\\\\/\\b\\f\\n\\r\\t\\u007f \\u00e9 中\"",
    "\"\"", "0", "-0", "-0.0", "0.0", "1", "-1", "3.0", "1E2", "-5e2", "1e9", "1e3",
    "2147483647", "2147483648", "-2147483649", "123456789012", "999999999999999",
    "-999999999999999", "1000000000000000", "1e15", "1.5", "0.1", "1e300", "4.9e-324", "true", "false", "null",
    "[]", "{}", "[ 1 , 2 ]", "[[[[]]],{}]", "[1,\"x\",[true,null],{\"a\":1}]",
    "{\"b\":[1,2],\"a\":\"\\u0002\"}",
    "{\"x\\n\":{\"y\":[1e9,-0,0.5,\"\\u00e9\\/\"]},\"seq\":1,\"hlc\":[1795973898463,0]}",
};

static void test_same_bytes_as_cjson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *item = cJSON_Parse(cases[i]);
        assert_non_null(item);
        char *want = cJSON_PrintUnformatted(item);
        assert_non_null(want);
        struct proto_arena *a = proto__arena_new();
        assert_non_null(a);
        size_t len = 0;
        const char *got = proto__json_print(a, item, &len);
        assert_non_null(got);
        assert_string_equal(got, want);
        assert_int_equal(len, strlen(want));
        struct proto_value v;
        const char *why = NULL;
        assert_int_equal(proto__value_from_json(a, item, &v, &why), 0);
        assert_int_equal(v.json_len, strlen(want));
        assert_memory_equal(v.json, want, v.json_len);
        proto__arena_free(a);
        cJSON_free(want);
        cJSON_Delete(item);
    }
}

/* Numbers cJSON prints lossily, and the exact text we print instead. */
static const char *const exact_cases[][2] = {
    {"9007199254740993", "9007199254740992"}, /* 2^53 + 1 reads as 2^53 */
    {"9007199254740991", "9007199254740991"}, /* cJSON: 9.00719925474099e+15 */
    {"12345678901234567890", "1.2345678901234567e+19"},
    {"1.7976931348623157e308", "1.7976931348623157e+308"}, /* cJSON: inf on reading back */
    {"[0.30000000000000004,-2.2250738585072014e-308]",
     "[0.30000000000000004,-2.2250738585072014e-308]"},
};

/* True when a and b hold bitwise-equal doubles in the same places. */
static int same_doubles(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsNumber(a))
        return cJSON_IsNumber(b) && memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) == 0;
    for (a = a->child, b = b->child; a && b; a = a->next, b = b->next)
        if (!same_doubles(a, b))
            return 0;
    return a == NULL && b == NULL;
}

static void test_exact_numbers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof exact_cases / sizeof exact_cases[0]; i++) {
        cJSON *item = cJSON_Parse(exact_cases[i][0]);
        assert_non_null(item);
        struct proto_arena *a = proto__arena_new();
        assert_non_null(a);
        size_t len = 0;
        const char *got = proto__json_print(a, item, &len);
        assert_non_null(got);
        assert_string_equal(got, exact_cases[i][1]);
        struct proto_value v;
        const char *why = NULL;
        assert_int_equal(proto__value_from_json(a, item, &v, &why), 0);
        assert_memory_equal(v.json, exact_cases[i][1], v.json_len);
        cJSON *again = cJSON_Parse(got); /* reads back as the very same doubles */
        assert_non_null(again);
        assert_true(same_doubles(item, again));
        cJSON_Delete(again);
        proto__arena_free(a);
        cJSON_Delete(item);
    }
}

static void test_int_format(void **state)
{
    (void)state;
    char out[PROTO__I64_MAX + 1];
    size_t n = proto__i64_format(INT64_MIN, out);
    out[n] = '\0';
    assert_string_equal(out, "-9223372036854775808");
    n = proto__i64_format(INT64_MAX, out);
    out[n] = '\0';
    assert_string_equal(out, "9223372036854775807");
    n = proto__i64_format(0, out);
    out[n] = '\0';
    assert_string_equal(out, "0");
    n = proto__i64_format(-42, out);
    out[n] = '\0';
    assert_string_equal(out, "-42");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_as_cjson),
        cmocka_unit_test(test_exact_numbers),
        cmocka_unit_test(test_int_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
