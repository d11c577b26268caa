/*
 * test_srv_units.c — the server's pieces that need no network: --listen
 * parsing, the loopback rule, the job queue the threads share, and the
 * intrusive list (srv_list.h) the service thread's lists are made of.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "srv_internal.h"

static void test_parse_listen(void **state)
{
    struct srv_config c;
    char err[200];
    (void)state;

    srv_config_init(&c);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.max_batch, 500);
    assert_int_equal(c.max_message, 1048576);
    assert_int_equal(c.max_skew_ms, 600000);

    assert_int_equal(srv_parse_listen(&c, "0.0.0.0:0", err, sizeof err), 0);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 0);
    assert_int_equal(srv_parse_listen(&c, "[::1]:9000", err, sizeof err), 0);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.port, 9000);
    assert_int_equal(srv_parse_listen(&c, "localhost:65535", err, sizeof err), 0);
    assert_int_equal(c.port, 65535);

    const char *bad[] = {"8080", ":8080", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                         "127.0.0.1:80x", "[::1]8080", "[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(srv_parse_listen(&c, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "--listen"));
    }
    /* A failed parse leaves the configuration as it was. */
    assert_string_equal(c.host, "localhost");
    assert_int_equal(c.port, 65535);
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(srv_host_is_loopback("127.0.0.1"));
    assert_true(srv_host_is_loopback("127.8.9.10"));
    assert_true(srv_host_is_loopback("::1"));
    assert_true(srv_host_is_loopback("localhost"));
    assert_false(srv_host_is_loopback("0.0.0.0"));
    assert_false(srv_host_is_loopback("192.168.1.5"));
    assert_false(srv_host_is_loopback("::"));
    assert_false(srv_host_is_loopback("example.org"));
}

struct producer {
    struct srv_queue *q;
    int n;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 1; i <= p->n; i++) {
        struct srv_job *job = srv_job_new(SRV_JOB_NOTE);
        job->session = (uint64_t)i;
        if (srv_queue_put(p->q, job) != 0)
            srv_job_free(job);
    }
    return NULL;
}

static void test_queue_order_batching_and_stop(void **state)
{
    struct srv_queue q;
    struct srv_job *jobs[SRV_GROUP_MAX];
    struct producer p = {.q = &q, .n = 2000};
    pthread_t t;
    uint64_t next = 1;
    int got = 0, batches = 0;
    (void)state;

    assert_int_equal(srv_queue_init(&q), 0);
    /* Nothing queued: take times out with 0. */
    assert_int_equal(srv_queue_take(&q, jobs, SRV_GROUP_MAX, 0, proto_mono_ms() + 20), 0);
    assert_int_equal(pthread_create(&t, NULL, produce, &p), 0);
    while (got < p.n) {
        int n = srv_queue_take(&q, jobs, SRV_GROUP_MAX, 0, proto_mono_ms() + 5000);
        assert_true(n > 0 && n <= SRV_GROUP_MAX);
        batches++;
        for (int i = 0; i < n; i++) {
            assert_int_equal(jobs[i]->session, next); /* FIFO across batches */
            next++;
            srv_job_free(jobs[i]);
        }
        got += n;
    }
    pthread_join(t, NULL);
    assert_true(batches <= p.n);

    /* take_all hands back the whole list in order. */
    for (int i = 1; i <= 3; i++) {
        struct srv_job *job = srv_job_new(SRV_JOB_PUSH);
        job->session = (uint64_t)i;
        assert_int_equal(srv_queue_put(&q, job), 0);
    }
    struct srv_job *list = srv_queue_take_all(&q);
    for (uint64_t i = 1; i <= 3; i++) {
        struct srv_job *job = list;
        assert_non_null(job);
        assert_int_equal(job->session, i);
        list = job->next;
        srv_job_free(job);
    }
    assert_null(list);
    assert_null(srv_queue_take_all(&q));

    /*
     * The byte cap: a group stops before the job that would pass it, but
     * always takes one job, however large.
     */
    const size_t sizes[] = {400, 500, 200, 2000, 10};
    for (size_t i = 0; i < 5; i++) {
        struct srv_job *job = srv_job_new(SRV_JOB_PUSH);
        job->session = i + 1;
        job->bytes = sizes[i];
        assert_int_equal(srv_queue_put(&q, job), 0);
    }
    const int expect[] = {2, 1, 1, 1}; /* 400+500 | 200 | 2000 | 10 */
    uint64_t want = 1;
    for (int b = 0; b < 4; b++) {
        int n = srv_queue_take(&q, jobs, SRV_GROUP_MAX, 1000, proto_mono_ms() + 1000);
        assert_int_equal(n, expect[b]);
        for (int i = 0; i < n; i++) {
            assert_int_equal(jobs[i]->session, want++);
            srv_job_free(jobs[i]);
        }
    }

    /* After stop: take returns -1 and put refuses (the caller keeps the job). */
    struct srv_job *late = srv_job_new(SRV_JOB_NOTE);
    assert_int_equal(srv_queue_put(&q, late), 0);
    srv_queue_stop(&q);
    assert_int_equal(srv_queue_take(&q, jobs, SRV_GROUP_MAX, 0, proto_mono_ms() + 1000), -1);
    struct srv_job *refused = srv_job_new(SRV_JOB_NOTE);
    assert_int_equal(srv_queue_put(&q, refused), -1);
    srv_job_free(refused);
    srv_queue_destroy(&q); /* frees the job still queued */
}

static void test_job_names_are_a_set(void **state)
{
    struct srv_job *job = srv_job_new(SRV_JOB_PUSH);
    (void)state;

    assert_int_equal(srv_job_add_name(job, "g01"), 0);
    assert_int_equal(srv_job_add_name(job, "g02"), 0);
    assert_int_equal(srv_job_add_name(job, "g01"), 0);
    assert_int_equal(job->n_names, 2);
    assert_string_equal(job->names[0], "g01");
    assert_string_equal(job->names[1], "g02");
    srv_job_free(job);
}

struct list_item {
    int value;
    struct srv_list link;
};

/* The values on head, first to last, as a string ("" when empty). */
static void list_values(const struct srv_list *head, char *out, size_t size)
{
    const struct srv_list *l;
    size_t n = 0;

    out[0] = '\0';
    SRV_LIST_FOREACH(l, head) {
        const struct list_item *it = srv_list_entry(l, struct list_item, link);
        n += (size_t)snprintf(out + n, size - n, "%d", it->value);
    }
}

/* srv_list.h: insert at both ends, remove anywhere, the linked state, a safe walk. */
static void test_list(void **state)
{
    struct list_item items[5];
    struct srv_list head, *l, *next;
    char got[16];
    (void)state;

    memset(items, 0, sizeof items);
    srv_list_init(&head);
    assert_true(srv_list_empty(&head));
    assert_null(srv_list_first(&head));
    for (int i = 0; i < 5; i++) {
        items[i].value = i;
        assert_false(srv_list_linked(&items[i].link)); /* zeroed: on no list */
    }
    srv_list_insert_tail(&head, &items[1].link);
    srv_list_insert_tail(&head, &items[2].link);
    srv_list_insert_head(&head, &items[0].link);
    srv_list_insert_tail(&head, &items[3].link);
    list_values(&head, got, sizeof got);
    assert_string_equal(got, "0123");
    assert_ptr_equal(srv_list_entry(srv_list_first(&head), struct list_item, link), &items[0]);

    srv_list_remove(&items[2].link); /* the middle */
    assert_false(srv_list_linked(&items[2].link));
    srv_list_remove(&items[0].link); /* the first */
    srv_list_remove(&items[3].link); /* the last */
    list_values(&head, got, sizeof got);
    assert_string_equal(got, "1");
    assert_true(srv_list_linked(&items[1].link));

    srv_list_insert_tail(&head, &items[4].link);
    srv_list_insert_head(&head, &items[2].link);
    SRV_LIST_FOREACH_SAFE(l, next, &head) {
        if (srv_list_entry(l, struct list_item, link)->value != 4)
            srv_list_remove(l);
    }
    list_values(&head, got, sizeof got);
    assert_string_equal(got, "4");
    srv_list_remove(&items[4].link);
    assert_true(srv_list_empty(&head));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_queue_order_batching_and_stop),
        cmocka_unit_test(test_job_names_are_a_set),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
