/*
 * time.c — the clock, and the date and date-time formats of the contract.
 *
 * The clock lives here, in the lowest module, so that the server, the
 * client and the command line read time one way.
 *
 * The format checks are strict on purpose, so that every stored value sorts
 * and parses the same in C, SQLite and a browser: dates are YYYY-MM-DD
 * (years 0001..9999, real calendar days, Gregorian leap years); date-times
 * are RFC 3339 with an upper-case 'T', seconds 00..59 (no leap second:
 * JavaScript's Date refuses ":60"), an optional fraction of 1..9 digits, and
 * an upper-case 'Z' or a ±hh:mm offset.
 */
#include <stdio.h>
#include <time.h>

#include "proto_time.h"

/* Reads n decimal digits at s; -1 when any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

int proto_date_valid(const char *s, size_t len)
{
    if (!s || len != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    return d <= days_in_month(y, m);
}

int proto_datetime_valid(const char *s, size_t len)
{
    /* "YYYY-MM-DDTHH:MM:SS" is 19 bytes; then the fraction, then the offset. */
    if (!s || len < 20 || !proto_date_valid(s, 10) || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return 0;
    int hh = digits(s + 11, 2), mm = digits(s + 14, 2), ss = digits(s + 17, 2);
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59)
        return 0;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return 0;
    }
    if (i == len)
        return 0;
    if (s[i] == 'Z')
        return i + 1 == len;
    if ((s[i] != '+' && s[i] != '-') || len - i != 6 || s[i + 3] != ':')
        return 0;
    int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
    return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define TIME_MS_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z */

int proto_datetime_ms(const char *s, size_t len, int64_t *ms)
{
    if (!proto_datetime_valid(s, len))
        return -1;
    int64_t t = days_from_civil(digits(s, 4), digits(s + 5, 2), digits(s + 8, 2)) * 86400000;
    t += digits(s + 11, 2) * 3600000LL + digits(s + 14, 2) * 60000LL;
    /* Seconds as a double rounded half up to the ms, as SQLite's date
     * functions read them: the same instant whichever side computes it. */
    double sec = digits(s + 17, 2), frac = 0, scale = 1;
    size_t i = 19;
    if (s[i] == '.') {
        for (i++; s[i] >= '0' && s[i] <= '9'; i++) {
            frac = frac * 10 + (s[i] - '0');
            scale *= 10;
        }
        sec += frac / scale;
    }
    t += (int64_t)(sec * 1000 + 0.5);
    if (s[i] != 'Z') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh > 14)
            return -1; /* SQLite refuses offsets beyond ±14:00 */
        t -= (s[i] == '+' ? 1 : -1) * (oh * 3600000LL + om * 60000LL);
    }
    if (t > TIME_MS_MAX)
        return -1;
    *ms = t;
    return 0;
}

void proto_format_time(int64_t ms, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    /* Floor division, so that times before 1970 keep a positive millisecond part. */
    int64_t secs = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, size, "invalid time %lld", (long long)ms);
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
}

/* Any thread: clock_gettime is thread-safe and takes no lock. */
int64_t proto_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Any thread. */
int64_t proto_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
