/*
 * srv_log.c — a small thread-safe logger and the server's clocks.
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
#include <time.h>

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
    proto_format_time(srv_now_ms(), stamp, sizeof stamp);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s visitsync %s: %s\n", stamp, level_names[level], msg);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

/* Service thread (lws calls it while logging). Strips lws's trailing newline. */
void srv_log_lws(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    srv_log((level & LLL_ERR) ? SRV_LOG_ERR : (level & LLL_WARN) ? SRV_LOG_WARN : SRV_LOG_INFO,
            "lws: %.*s", (int)n, line);
}

/* Any thread. */
int64_t srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Any thread. */
int64_t srv_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
