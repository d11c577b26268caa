/*
 * test_time.c — the small validators: calendar dates (leap years, month
 * lengths), RFC 3339 date-times in the strict form we accept, the time
 * formatter, and the id alphabet of §1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "proto_text.h"
#include "proto_time.h"

#define DATE_OK(s) assert_true(proto_date_valid(s, strlen(s)))
#define DATE_BAD(s) assert_false(proto_date_valid(s, strlen(s)))
#define DT_OK(s) assert_true(proto_datetime_valid(s, strlen(s)))
#define DT_BAD(s) assert_false(proto_datetime_valid(s, strlen(s)))

static void dates(void **state)
{
    (void)state;
    DATE_OK("2026-11-29");
    DATE_OK("2024-02-29"); /* divisible by 4 */
    DATE_OK("2000-02-29"); /* divisible by 400 */
    DATE_OK("0001-01-01");
    DATE_OK("9999-12-31");
    DATE_OK("2026-04-30");
    DATE_BAD("2026-02-29");
    DATE_BAD("1900-02-29"); /* divisible by 100, not 400 */
    DATE_BAD("2026-04-31");
    DATE_BAD("2026-13-01");
    DATE_BAD("2026-00-10");
    DATE_BAD("2026-01-00");
    DATE_BAD("2026-01-32");
    DATE_BAD("0000-01-01");
    DATE_BAD("2026-1-01");
    DATE_BAD("2026/01/01");
    DATE_BAD("2026-01-01 ");
    DATE_BAD("2026-01-0a");
    DATE_BAD("+2026-01-01");
    DATE_BAD("");
    assert_false(proto_date_valid(NULL, 0));
    /* Length is honoured: a valid date followed by more text in the buffer. */
    assert_true(proto_date_valid("2026-11-29T00:00:00Z", 10));
}

static void datetimes(void **state)
{
    (void)state;
    DT_OK("2026-11-28T09:30:00+08:00");
    DT_OK("2026-11-28T09:30:00Z");
    DT_OK("2026-11-28T09:30:00.5Z");
    DT_OK("2026-11-28T09:30:00.123456789-05:30");
    DT_OK("2024-02-29T23:59:59+23:59");
    DT_OK("2026-01-01T00:00:00-00:00");
    DT_BAD("2026-11-28t09:30:00Z"); /* strict: upper-case T */
    DT_BAD("2026-11-28T09:30:00z"); /* strict: upper-case Z */
    DT_BAD("2026-11-28 09:30:00Z");
    DT_BAD("2026-11-28T09:30:00");   /* no offset */
    DT_BAD("2026-11-28T09:30Z");     /* no seconds */
    DT_BAD("2026-11-28T24:00:00Z");
    DT_BAD("2026-11-28T23:60:00Z");
    DT_BAD("2026-11-28T23:59:60Z");  /* no leap second */
    DT_BAD("2026-11-28T09:30:00.Z"); /* empty fraction */
    DT_BAD("2026-11-28T09:30:00.1234567890Z");
    DT_BAD("2026-11-28T09:30:00+0800");
    DT_BAD("2026-11-28T09:30:00+8:00");
    DT_BAD("2026-11-28T09:30:00+24:00");
    DT_BAD("2026-11-28T09:30:00+08:60");
    DT_BAD("2026-11-28T09:30:00+08:00 ");
    DT_BAD("2026-11-28T09:30:00ZZ");
    DT_BAD("2026-02-30T09:30:00Z");
    DT_BAD("2026-11-28");
    DT_BAD("");
    assert_false(proto_datetime_valid(NULL, 0));
}

static void format_time(void **state)
{
    (void)state;
    char buf[32];
    proto_format_time(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    proto_format_time(1764409990123, buf, sizeof(buf));
    assert_string_equal(buf, "2025-11-29T09:53:10.123Z");
    assert_true(proto_datetime_valid(buf, strlen(buf)));
    proto_format_time(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    proto_format_time(951782400000, buf, sizeof(buf));
    assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
    /* A short buffer is cut, never overrun. */
    char tiny[8];
    proto_format_time(0, tiny, sizeof(tiny));
    assert_string_equal(tiny, "1970-01");
}

static void ids(void **state)
{
    (void)state;
    char max[65];
    memset(max, 'a', 64);
    max[64] = '\0';
    assert_true(proto_id_valid("tab-0042", 8));
    assert_true(proto_id_valid("A.b:c_d-9", 9));
    assert_true(proto_id_valid(max, 64));
    assert_false(proto_id_valid(max, 65));
    assert_false(proto_id_valid("", 0));
    assert_false(proto_id_valid("a b", 3));
    assert_false(proto_id_valid("a/b", 3));
    assert_false(proto_id_valid("a\0b", 3));
    assert_false(proto_id_valid("记录", strlen("记录")));
    assert_false(proto_id_valid(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dates),
        cmocka_unit_test(datetimes),
        cmocka_unit_test(format_time),
        cmocka_unit_test(ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
