/*
 * srv_queue.c — jobs, the queues that carry them between threads, and the
 * shared principals they reference.
 *
 * Design (after redis's bio.c): a queue is a mutex, a condition variable and
 * a linked list. Producers lock, append, signal. The writer takes every job
 * waiting (up to a cap) in one go, which is what makes group commit work:
 * while one COMMIT's fsync runs, the next group accumulates.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv_internal.h"

#define SRV_NAMES_MAX 4096

/* Any thread. */
struct srv_principal *srv_principal_ref(struct srv_principal *w)
{
    atomic_fetch_add(&w->refs, 1);
    return w;
}

/* Any thread. */
void srv_principal_unref(struct srv_principal *w)
{
    if (w == NULL || atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    db_principal_clear(&w->p);
    free(w);
}

/* Any thread. */
struct srv_job *srv_job_new(enum srv_job_kind kind)
{
    struct srv_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return NULL;
    job->kind = kind;
    proto_buf_init(&job->out, LWS_PRE, SRV_REPLY_MAX);
    return job;
}

/* Any thread. */
void srv_job_free(struct srv_job *job)
{
    if (job == NULL)
        return;
    if (job->msg != NULL)
        proto_msg_free(job->msg);
    srv_principal_unref(job->who);
    proto_buf_free(&job->out);
    proto_buf_free(&job->in);
    for (size_t i = 0; i < job->n_names; i++)
        free(job->names[i]);
    free(job->names);
    srv_monitor_note_free(job->note);
    free(job->blob.raw);
    free(job);
}

/* Any thread (the job's current owner). Returns 0 or -1 (no memory, or the ceiling). */
int srv_job_add_name(struct srv_job *job, const char *name)
{
    char **grown;
    char *copy;

    for (size_t i = 0; i < job->n_names; i++)
        if (strcmp(job->names[i], name) == 0)
            return 0;
    if (job->n_names >= SRV_NAMES_MAX)
        return -1;
    grown = realloc(job->names, (job->n_names + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    job->names = grown;
    copy = strdup(name);
    if (copy == NULL)
        return -1;
    job->names[job->n_names++] = copy;
    return 0;
}

/* Main thread, before the queue is shared. */
int srv_queue_init(struct srv_queue *q)
{
    pthread_condattr_t attr;

    memset(q, 0, sizeof *q);
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return -1;
    /* Waits use the monotonic clock so a wall-clock step cannot stall the writer. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_cond_init(&q->cv, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        pthread_mutex_destroy(&q->mu);
        return -1;
    }
    pthread_condattr_destroy(&attr);
    return 0;
}

/* Main thread, after every producer and consumer stopped. */
void srv_queue_destroy(struct srv_queue *q)
{
    struct srv_job *job = q->head;
    while (job != NULL) {
        struct srv_job *next = job->next;
        srv_job_free(job);
        job = next;
    }
    q->head = q->tail = NULL;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

/* Any thread. */
int srv_queue_put(struct srv_queue *q, struct srv_job *job)
{
    int rc = -1;

    pthread_mutex_lock(&q->mu);
    if (!q->stopped) {
        job->next = NULL;
        if (q->tail != NULL)
            q->tail->next = job;
        else
            q->head = job;
        q->tail = job;
        q->n++;
        pthread_cond_signal(&q->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* The consumer thread. */
int srv_queue_take(struct srv_queue *q, struct srv_job **jobs, size_t max, size_t max_bytes,
                   int64_t until_mono_ms)
{
    struct timespec ts = {.tv_sec = until_mono_ms / 1000,
                          .tv_nsec = (long)(until_mono_ms % 1000) * 1000000L};
    size_t bytes = 0;
    int n = 0;

    pthread_mutex_lock(&q->mu);
    while (q->head == NULL && !q->stopped) {
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
            break;
    }
    if (q->stopped) {
        n = -1;
    } else {
        while (q->head != NULL && (size_t)n < max) {
            struct srv_job *job = q->head;
            if (max_bytes != 0 && n > 0 && bytes + job->bytes > max_bytes)
                break;
            bytes += job->bytes;
            q->head = job->next;
            job->next = NULL;
            jobs[n++] = job;
            q->n--;
        }
        if (q->head == NULL)
            q->tail = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Any thread. */
struct srv_job *srv_queue_take_all(struct srv_queue *q)
{
    struct srv_job *list;

    pthread_mutex_lock(&q->mu);
    list = q->head;
    q->head = q->tail = NULL;
    q->n = 0;
    pthread_mutex_unlock(&q->mu);
    return list;
}

/* Any thread. */
void srv_queue_stop(struct srv_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopped = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Any thread. Message longer than the buffer is cut; the reply stays valid JSON. */
int srv_write_verror(struct proto_buf *b, const char *req, enum proto_code code, const char *fmt,
                     va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof msg, fmt, ap);
    proto_buf_reset(b);
    return proto_write_error(b, req, code, msg);
}

/* Any thread. */
int srv_write_error(struct proto_buf *b, const char *req, enum proto_code code, const char *fmt,
                    ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = srv_write_verror(b, req, code, fmt, ap);
    va_end(ap);
    return rc;
}
