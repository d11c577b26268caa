/*
 * srv_log.c — a small thread-safe logger.
 *
 * Debian's libwebsockets is built with LWS_MAX_SMP 1: its lwsl_* functions
 * format into a static buffer, so only the service thread may call them.
 * Our own threads log here instead: one line per call, timestamped, written
 * to stderr under a mutex so lines never interleave. lws's own lines are
 * routed here too (srv_log_lws) so stderr has one format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_internal.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static enum srv_log_level log_level = SRV_LOG_NOTICE;

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};

/* Main thread, before any other thread starts. */
void srv_log_init(void)
{
    const char *v = getenv("VISITSYNC_LOG");
    if (v == NULL)
        return;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(v, level_names[i]) == 0)
            log_level = (enum srv_log_level)i;
}

/* Any thread. Formats into a local buffer, then writes the line under the mutex. */
void srv_log(enum srv_log_level level, const char *fmt, ...)
{
    char msg[1024];
    char stamp[32];
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    proto_format_time(proto_now_ms(), stamp, sizeof stamp);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s visitsync %s: %s\n", stamp, level_names[level], msg);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

/*
 * The last line lws logged, to fold repeats: out of file descriptors, lws
 * retries accept() in a tight loop and logs "accept: errno 24" each time,
 * hundreds of thousands of lines a minute. Only the service thread logs
 * through lws, so these need no lock.
 */
static char lws_last[256];
static size_t lws_last_len;
static enum srv_log_level lws_last_level;
static int64_t lws_last_ms;
static unsigned long lws_repeats;

/*
 * Service thread (lws calls it while logging). Strips lws's trailing
 * newline. A line equal to the last one written, less than a second after
 * it, is only counted; the count is written before the next line that is.
 */
void srv_log_lws(int level, const char *line)
{
    enum srv_log_level lv = (level & LLL_ERR)    ? SRV_LOG_ERR
                            : (level & LLL_WARN) ? SRV_LOG_WARN
                                                 : SRV_LOG_INFO;
    size_t n = strlen(line);
    int64_t now = proto_mono_ms();

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (n < sizeof lws_last && n == lws_last_len && memcmp(line, lws_last, n) == 0 &&
        now - lws_last_ms < 1000) {
        lws_repeats++;
        return;
    }
    if (lws_repeats > 0)
        srv_log(lws_last_level, "lws: (the line before %lu more times)", lws_repeats);
    lws_repeats = 0;
    lws_last_len = n < sizeof lws_last ? n : sizeof lws_last; /* too long: never folded */
    memcpy(lws_last, line, lws_last_len);
    lws_last_level = lv;
    lws_last_ms = now;
    srv_log(lv, "lws: %.*s", (int)n, line);
}

/* True for the bytes srv_log_escape copies as they are. */
static int log_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/*
 * Any thread. A device id is text the peer chose: should a newline or a
 * terminal escape ever get past the parser, it must not forge or hide a log
 * line.
 */
void srv_log_escape(const char *text, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p;
    size_t o = 0, whole = 0, room;

    if (size == 0)
        return;
    for (p = (const unsigned char *)text; *p; p++)
        whole += log_plain(*p) ? 1 : 4;
    room = whole < size ? size - 1 : (size > 4 ? size - 4 : 0); /* "..." when cut */
    for (p = (const unsigned char *)text; *p; p++) {
        int plain = log_plain(*p);
        if (o + (plain ? 1 : 4) > room)
            break;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (*p && size > 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}
