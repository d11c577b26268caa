/*
 * test_replica.c — the client's local store (client/vsc_replica.h) on
 * :memory: and on a file: seq and hybrid-clock stamping, the default base,
 * the outbox and its acks, the rejected list, the first welcome's
 * renumbering of the outbox, acked changes kept, pruned, queued again after a
 * server restore and reported when they are gone, pulled pages with their
 * cursor and a rebuild after a reset, photos (kept, named, uploaded,
 * damaged), the step from the first schema, and the modes of the files a
 * store is made of.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vsc_replica.h"

static int setup(void **state)
{
    struct vsc_replica *r = NULL;
    char err[256];
    if (vsc_replica_open(":memory:", 1, &r, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    vsc_replica_close(*state);
    return 0;
}

static void test_queue_stamps(void **state)
{
    struct vsc_replica *r = *state;
    struct vsc_replica_change c;

    assert_int_equal(vsc_replica_queue(r, "visits", "v1", -1, "{\"a\":1}", -1, 1000, &c), 0);
    assert_int_equal(c.seq, 1);
    assert_int_equal(c.base, 0);
    assert_int_equal(c.hlc_ms, 1000);
    assert_int_equal(c.hlc_counter, 0);
    assert_int_equal(c.deleted, -1);
    vsc_replica_change_clear(&c);
    /* The same ms again, and a clock that went back: the counter breaks ties. */
    assert_int_equal(vsc_replica_queue(r, "visits", "v2", 4, "{}", 1, 1000, &c), 0);
    assert_int_equal(c.seq, 2);
    assert_int_equal(c.base, 4);
    assert_int_equal(c.hlc_ms, 1000);
    assert_int_equal(c.hlc_counter, 1);
    assert_int_equal(c.deleted, 1);
    vsc_replica_change_clear(&c);
    assert_int_equal(vsc_replica_queue(r, "visits", "v3", -1, "{}", -1, 900, &c), 0);
    assert_int_equal(c.hlc_ms, 1000);
    assert_int_equal(c.hlc_counter, 2);
    vsc_replica_change_clear(&c);
    /* The server's clock is ahead: stamps follow it. */
    assert_int_equal(vsc_replica_clock_merge(r, 5000), 0);
    assert_int_equal(vsc_replica_queue(r, "visits", "v4", -1, "{}", -1, 1200, &c), 0);
    assert_int_equal(c.hlc_ms, 5000);
    assert_int_equal(c.hlc_counter, 1);
    assert_int_equal(c.seq, 4);
    vsc_replica_change_clear(&c);
    /* A clock merge from the past changes nothing. */
    assert_int_equal(vsc_replica_clock_merge(r, 10), 0);
    assert_int_equal(vsc_replica_queue(r, "visits", "v5", -1, "{}", -1, 6000, &c), 0);
    assert_int_equal(c.hlc_ms, 6000);
    assert_int_equal(c.hlc_counter, 0);
    vsc_replica_change_clear(&c);

    int64_t n = 0, oldest = 0;
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 5);
    assert_int_equal(oldest, 900);
}

static void test_base_from_replica(void **state)
{
    struct vsc_replica *r = *state;
    struct vsc_replica_change c;
    struct vsc_replica_item it = {"subjects", "s1", 7, 0, 0, "{\"name\":\"x\"}", 12};

    assert_int_equal(vsc_replica_apply(r, &it, 1, "42"), 0);
    assert_int_equal(vsc_replica_queue(r, "subjects", "s1", -1, "{}", -1, 1, &c), 0);
    assert_int_equal(c.base, 7);
    vsc_replica_change_clear(&c);
    char *cursor = NULL;
    assert_int_equal(vsc_replica_config_get(r, "cursor", &cursor), 0);
    assert_string_equal(cursor, "42");
    free(cursor);
}

struct seen {
    int64_t seqs[16];
    int n;
};

static int collect(void *ctx, const struct vsc_replica_change *c)
{
    struct seen *s = ctx;
    s->seqs[s->n++] = c->seq;
    return 0;
}

static int collect_rejected(void *ctx, const struct vsc_replica_rejected *x)
{
    struct seen *s = ctx;
    assert_string_equal(x->code, "invalid_field");
    assert_string_equal(x->field, "kind");
    assert_string_equal(x->id, "v2");
    s->seqs[s->n++] = x->seq;
    return 0;
}

static void test_outbox_and_acks(void **state)
{
    struct vsc_replica *r = *state;
    struct vsc_replica_change c;
    for (int i = 1; i <= 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "v%d", i);
        assert_int_equal(vsc_replica_queue(r, "visits", id, 0, "{}", -1, 100 * i, &c), 0);
        vsc_replica_change_clear(&c);
    }
    struct seen s = {0};
    assert_int_equal(vsc_replica_outbox_list(r, 1, 2, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seqs[0], 2);
    assert_int_equal(s.seqs[1], 3);

    struct vsc_replica_outcome o[2] = {
        {1, 0, NULL, NULL, NULL},
        {2, 1, "invalid_field", "kind", "kind must be one of home, phone"},
    };
    assert_int_equal(vsc_replica_acked(r, o, 2, 999), 0);
    int64_t n = 0, oldest = 0;
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 2);
    assert_int_equal(oldest, 300);
    struct seen rej = {0};
    assert_int_equal(vsc_replica_rejected_list(r, collect_rejected, &rej), 0);
    assert_int_equal(rej.n, 1);
    assert_int_equal(rej.seqs[0], 2);
    /* The applied one is kept, marked acked, out of the queue's walk. */
    int64_t kept = 0, acked_at = 0;
    assert_int_equal(vsc_replica_retained(r, &kept, &acked_at), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(acked_at, 999);
    struct seen all = {0};
    assert_int_equal(vsc_replica_outbox_list(r, 0, 100, collect, &all), 0);
    assert_int_equal(all.n, 2);
    assert_int_equal(all.seqs[0], 3);
    /* Acking an unknown seq (a duplicate of something long gone) is harmless. */
    struct vsc_replica_outcome gone = {77, 0, NULL, NULL, NULL};
    assert_int_equal(vsc_replica_acked(r, &gone, 1, 999), 0);
    /* So is a second ack of a kept change: it keeps its first ack time. */
    assert_int_equal(vsc_replica_acked(r, o, 1, 5000), 0);
    assert_int_equal(vsc_replica_retained(r, &kept, &acked_at), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(acked_at, 999);
}

/* The outbox as "seq:id" entries in seq order, for the renumbering tests. */
struct outbox_text {
    char text[512];
};

static int outbox_append(void *ctx, const struct vsc_replica_change *c)
{
    struct outbox_text *o = ctx;
    size_t len = strlen(o->text);
    snprintf(o->text + len, sizeof o->text - len, "%s%lld:%s", len ? " " : "", (long long)c->seq,
             c->id);
    return 0;
}

static const char *outbox_of(struct vsc_replica *r, struct outbox_text *o)
{
    o->text[0] = '\0';
    assert_int_equal(vsc_replica_outbox_list(r, INT64_MIN, 1000, outbox_append, o), 0);
    return o->text;
}

static void queue_ids(struct vsc_replica *r, const char *const *ids, int64_t first_seq)
{
    struct vsc_replica_change c;
    for (int64_t i = 0; ids[i]; i++) {
        assert_int_equal(vsc_replica_queue(r, "visits", ids[i], 0, "{}", -1, 1000 + i, &c), 0);
        assert_int_equal(c.seq, first_seq + i);
        vsc_replica_change_clear(&c);
    }
}

/*
 * vsc_replica_welcome for the renumbering tests: *moved as renumbered, set
 * only on success. None of them is a restored server: nothing is re-sent.
 */
static int welcome(struct vsc_replica *r, int64_t server_seq, int64_t *moved)
{
    struct vsc_replica_welcomed w;
    int rc = vsc_replica_welcome(r, server_seq, 5000, &w);
    if (rc == 0) {
        assert_int_equal(w.requeued, 0);
        assert_int_equal(w.lost_n, 0);
        *moved = w.renumbered;
    }
    return rc;
}

static int64_t next_seq_of(struct vsc_replica *r)
{
    int64_t next = 0;
    assert_int_equal(vsc_replica_config_get_int(r, "next_seq", 1, &next), 0);
    return next;
}

/*
 * A new store for a device the server knows (committed up to 36): its
 * first welcome renumbers the queue after 36, in order; a later welcome
 * never renumbers again (a re-send after a lost ack stays a duplicate),
 * but changes queued afterwards still start past what the server has.
 */
static void test_first_welcome_renumbers(void **state)
{
    static const char *const ids[] = {"v1", "v2", "v3", NULL};
    struct vsc_replica *r = *state;
    struct outbox_text o;
    struct vsc_replica_change c;
    int64_t moved = -1, server = 0;

    queue_ids(r, ids, 1);
    assert_int_equal(welcome(r, 36, &moved), 0);
    assert_int_equal(moved, 3);
    assert_string_equal(outbox_of(r, &o), "37:v1 38:v2 39:v3");
    assert_int_equal(next_seq_of(r), 40);
    assert_int_equal(vsc_replica_config_get_int(r, "server_seq", -1, &server), 0);
    assert_int_equal(server, 36);
    assert_int_equal(vsc_replica_queue(r, "visits", "v4", 0, "{}", -1, 2000, &c), 0);
    assert_int_equal(c.seq, 40);
    vsc_replica_change_clear(&c);

    /* An ack of 37 raises the known server seq; the change leaves the queue. */
    struct vsc_replica_outcome acked = {37, 0, NULL, NULL, NULL};
    assert_int_equal(vsc_replica_acked(r, &acked, 1, 2500), 0);
    assert_int_equal(vsc_replica_config_get_int(r, "server_seq", -1, &server), 0);
    assert_int_equal(server, 37);
    assert_int_equal(vsc_replica_queue(r, "visits", "v1", 0, "{}", -1, 2600, &c), 0);
    assert_int_equal(c.seq, 41);
    vsc_replica_change_clear(&c);

    /* The next welcome says 38 were committed (the ack of 38 was lost). */
    assert_int_equal(welcome(r, 38, &moved), 0);
    assert_int_equal(moved, 0);
    assert_string_equal(outbox_of(r, &o), "38:v2 39:v3 40:v4 41:v1");
    assert_int_equal(next_seq_of(r), 42);

    /* Another store of the device went further: only new changes move past it. */
    assert_int_equal(welcome(r, 100, &moved), 0);
    assert_int_equal(moved, 0);
    assert_string_equal(outbox_of(r, &o), "38:v2 39:v3 40:v4 41:v1");
    assert_int_equal(vsc_replica_queue(r, "visits", "v5", 0, "{}", -1, 3000, &c), 0);
    assert_int_equal(c.seq, 101);
    vsc_replica_change_clear(&c);
    assert_int_equal(vsc_replica_config_get_int(r, "server_seq", -1, &server), 0);
    assert_int_equal(server, 100);
}

/* A shift smaller than the queue's span: rows move onto seqs still in use. */
static void test_first_welcome_overlapping_shift(void **state)
{
    static const char *const ids[] = {"a", "b", "c", "d", "e", NULL};
    struct vsc_replica *r = *state;
    struct outbox_text o;
    int64_t moved = -1;

    queue_ids(r, ids, 1);
    assert_int_equal(welcome(r, 2, &moved), 0);
    assert_int_equal(moved, 5);
    assert_string_equal(outbox_of(r, &o), "3:a 4:b 5:c 6:d 7:e");
    assert_int_equal(next_seq_of(r), 8);
}

/* Nothing to renumber: the server is behind the queue, or the outbox is empty. */
static void test_first_welcome_without_overlap(void **state)
{
    static const char *const ids[] = {"x", "y", NULL};
    struct vsc_replica *r = *state;
    struct outbox_text o;
    int64_t moved = -1;
    struct vsc_replica_change c;

    assert_int_equal(welcome(r, 0, &moved), 0);
    assert_int_equal(moved, 0);
    assert_int_equal(next_seq_of(r), 1);
    queue_ids(r, ids, 1);
    assert_int_equal(welcome(r, 0, &moved), 0);
    assert_string_equal(outbox_of(r, &o), "1:x 2:y");

    /* An empty store welcomed by a server that has 9: the first change is 10. */
    struct vsc_replica *e = NULL;
    assert_int_equal(vsc_replica_open(":memory:", 1, &e, NULL, 0), 0);
    assert_int_equal(welcome(e, 9, &moved), 0);
    assert_int_equal(moved, 0);
    assert_int_equal(vsc_replica_queue(e, "visits", "z", 0, "{}", -1, 1, &c), 0);
    assert_int_equal(c.seq, 10);
    vsc_replica_change_clear(&c);
    vsc_replica_close(e);
}

/*
 * A server that does not send seq (-1): nothing moves, but the store counts
 * as welcomed, so a later server that does send it cannot renumber changes
 * that may have been pushed meanwhile. Likewise a store from a client that
 * predates the setting (it has "user").
 */
static void test_welcome_without_seq_and_legacy_store(void **state)
{
    static const char *const ids[] = {"p", "q", NULL};
    struct vsc_replica *r = *state;
    struct outbox_text o;
    int64_t moved = -1, server = 0;

    queue_ids(r, ids, 1);
    assert_int_equal(welcome(r, -1, &moved), 0);
    assert_int_equal(moved, 0);
    assert_string_equal(outbox_of(r, &o), "1:p 2:q");
    assert_int_equal(next_seq_of(r), 3);
    assert_int_equal(vsc_replica_config_get_int(r, "server_seq", -1, &server), 0);
    assert_int_equal(server, -1);
    /* An ack does not make the server's seq known either. */
    struct vsc_replica_outcome acked = {1, 0, NULL, NULL, NULL};
    assert_int_equal(vsc_replica_acked(r, &acked, 1, 2000), 0);
    assert_int_equal(vsc_replica_config_get_int(r, "server_seq", -1, &server), 0);
    assert_int_equal(server, -1);
    assert_int_equal(welcome(r, 5, &moved), 0);
    assert_int_equal(moved, 0);
    assert_string_equal(outbox_of(r, &o), "2:q");
    assert_int_equal(next_seq_of(r), 6);

    struct vsc_replica *old = NULL;
    assert_int_equal(vsc_replica_open(":memory:", 1, &old, NULL, 0), 0);
    assert_int_equal(vsc_replica_config_set(old, "user", "c001"), 0);
    queue_ids(old, ids, 1);
    assert_int_equal(welcome(old, 5, &moved), 0);
    assert_int_equal(moved, 0);
    assert_string_equal(outbox_of(old, &o), "1:p 2:q");
    vsc_replica_close(old);
}

/* Renumbering past 2^53 - 1 fails and leaves the store as it was. */
static void test_first_welcome_seq_ceiling(void **state)
{
    static const char *const ids[] = {"m", "n", NULL};
    struct vsc_replica *r = *state;
    struct outbox_text o;
    int64_t moved = -1, next = 0;

    queue_ids(r, ids, 1);
    assert_int_equal(welcome(r, 9007199254740990LL, &moved), DB_EMISUSE);
    assert_int_equal(moved, -1);
    assert_non_null(strstr(vsc_replica_errmsg(r), "9007199254740990"));
    assert_string_equal(outbox_of(r, &o), "1:m 2:n");
    assert_int_equal(vsc_replica_config_get_int(r, "welcomed", 0, &next), 0);
    assert_int_equal(next, 0);
}

/* Acks every seq in [lo, hi] at at_ms, as applied, except reject (0: none). */
static void ack_range(struct vsc_replica *r, int64_t lo, int64_t hi, int64_t reject,
                      int64_t at_ms)
{
    for (int64_t seq = lo; seq <= hi; seq++) {
        struct vsc_replica_outcome o = {seq, seq == reject, "invalid_field", "kind", "bad kind"};
        assert_int_equal(vsc_replica_acked(r, &o, 1, at_ms), 0);
    }
}

/* The whole outbox row of each queued change, to see a re-sent one is unchanged. */
static int outbox_full(void *ctx, const struct vsc_replica_change *c)
{
    struct outbox_text *o = ctx;
    size_t len = strlen(o->text);
    snprintf(o->text + len, sizeof o->text - len, "%s%lld:%s:%lld:%lld.%lld:%s:%d",
             len ? " " : "", (long long)c->seq, c->id, (long long)c->base, (long long)c->hlc_ms,
             (long long)c->hlc_counter, c->fields, c->deleted);
    return 0;
}

static const char *outbox_full_of(struct vsc_replica *r, struct outbox_text *o)
{
    o->text[0] = '\0';
    assert_int_equal(vsc_replica_outbox_list(r, 0, 1000, outbox_full, o), 0);
    return o->text;
}

static int collect_lost(void *ctx, const struct vsc_replica_lost *x)
{
    struct vsc_replica_lost *into = ctx;
    into[0].n++; /* into[0] counts; the entries follow it */
    into[into[0].n] = *x;
    return 0;
}

/*
 * A server restored from a backup that knew seqs up to 2, after this store
 * was acked up to 5: the kept 3..5 are queued again exactly as they were
 * first sent, in order, and counted as pending; once acked again they are
 * kept again, and a welcome that knows them all re-sends nothing.
 */
static void test_restore_requeues_kept(void **state)
{
    static const char *const ids[] = {"a", "b", "c", "d", "e", NULL};
    struct vsc_replica *r = *state;
    struct outbox_text before, after;
    struct vsc_replica_welcomed w;
    struct vsc_replica_change c;
    int64_t n = 0, oldest = 0, acked = 0;

    assert_int_equal(vsc_replica_welcome(r, 0, 100, &w), 0);
    queue_ids(r, ids, 1);
    assert_int_equal(vsc_replica_queue(r, "visits", "f", 3, "{\"k\":\"v\"}", 1, 2000, &c), 0);
    vsc_replica_change_clear(&c);
    outbox_full_of(r, &before);
    ack_range(r, 1, 6, 0, 3000);
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vsc_replica_config_get_int(r, "acked_seq", 0, &acked), 0);
    assert_int_equal(acked, 6);

    assert_int_equal(vsc_replica_welcome(r, 2, 4000, &w), 0);
    assert_int_equal(w.renumbered, 0);
    assert_int_equal(w.requeued, 4);
    assert_int_equal(w.lost_n, 0);
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 4);
    outbox_full_of(r, &after);
    /* The same rows as first queued, from seq 3 on. */
    assert_non_null(strstr(before.text, after.text));
    assert_string_equal(after.text, strstr(before.text, "3:c:"));
    assert_non_null(strstr(after.text, "6:f:3:2000.0:{\"k\":\"v\"}:1"));
    /* The seq counter does not move back: new changes still follow 6. */
    assert_int_equal(next_seq_of(r), 7);
    /* The push failed; the next welcome finds them queued already. */
    assert_int_equal(vsc_replica_welcome(r, 2, 4100, &w), 0);
    assert_int_equal(w.requeued, 0);
    ack_range(r, 3, 6, 0, 5000);
    assert_int_equal(vsc_replica_welcome(r, 6, 5100, &w), 0);
    assert_int_equal(w.requeued, 0);
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 0);
}

/*
 * Pruning drops acked changes older than the cut, and a restore that needed
 * them reports exactly which and how many: the rejected seq 3 is no loss
 * (nothing of it was applied), the kept 6 is sent again. The loss is
 * recorded once: a second welcome with the same seq reports nothing new.
 */
static void test_restore_reports_pruned(void **state)
{
    static const char *const ids[] = {"a", "b", "c", "d", "e", "f", NULL};
    struct vsc_replica *r = *state;
    struct vsc_replica_welcomed w;
    struct vsc_replica_lost lost[4];
    struct outbox_text o;
    int64_t pruned = -1, kept = 0, oldest = 0;

    assert_int_equal(vsc_replica_welcome(r, 0, 100, &w), 0);
    queue_ids(r, ids, 1);
    ack_range(r, 1, 5, 3, 1000);
    ack_range(r, 6, 6, 0, 9000);
    assert_int_equal(vsc_replica_prune(r, 1000, &pruned), 0);
    assert_int_equal(pruned, 0); /* acked at the cut: still kept */
    assert_int_equal(vsc_replica_prune(r, 5000, &pruned), 0);
    assert_int_equal(pruned, 4);
    assert_int_equal(vsc_replica_retained(r, &kept, &oldest), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(oldest, 9000);

    assert_int_equal(vsc_replica_welcome(r, 1, 10000, &w), 0);
    assert_int_equal(w.requeued, 1);
    assert_int_equal(w.lost_n, 3);
    assert_int_equal(w.lost_lo, 2);
    assert_int_equal(w.lost_hi, 5);
    assert_string_equal(outbox_of(r, &o), "6:f");
    memset(lost, 0, sizeof lost);
    assert_int_equal(vsc_replica_lost_list(r, collect_lost, lost), 0);
    assert_int_equal(lost[0].n, 1);
    assert_int_equal(lost[1].lo, 2);
    assert_int_equal(lost[1].hi, 5);
    assert_int_equal(lost[1].n, 3);
    assert_int_equal(lost[1].found_ms, 10000);

    assert_int_equal(vsc_replica_welcome(r, 1, 11000, &w), 0);
    assert_int_equal(w.lost_n, 0);
    memset(lost, 0, sizeof lost);
    assert_int_equal(vsc_replica_lost_list(r, collect_lost, lost), 0);
    assert_int_equal(lost[0].n, 1);

    /* A later restore below 1 still reports seq 1, pruned and not yet reported. */
    assert_int_equal(vsc_replica_welcome(r, 0, 12000, &w), 0);
    assert_int_equal(w.lost_n, 1);
    assert_int_equal(w.lost_lo, 1);
    assert_int_equal(w.lost_hi, 1);
}

/*
 * A new store for a known device is renumbered, never treated as a restored
 * server: it has never been acked anything, whatever the welcome says.
 */
static void test_new_store_is_not_a_restore(void **state)
{
    static const char *const ids[] = {"a", "b", NULL};
    struct vsc_replica *r = *state;
    struct vsc_replica_welcomed w;
    struct outbox_text o;

    queue_ids(r, ids, 1);
    assert_int_equal(vsc_replica_welcome(r, 40, 100, &w), 0);
    assert_int_equal(w.renumbered, 2);
    assert_int_equal(w.requeued, 0);
    ack_range(r, 41, 42, 0, 200);
    /* The server restored to 41: 42 is sent again, with its renumbered seq. */
    assert_int_equal(vsc_replica_welcome(r, 41, 300, &w), 0);
    assert_int_equal(w.renumbered, 0);
    assert_int_equal(w.requeued, 1);
    assert_string_equal(outbox_of(r, &o), "42:b");
}

static int count_cb(void *ctx, const char *collection, int64_t live, int64_t deleted)
{
    int64_t *t = ctx;
    if (strcmp(collection, "visits") == 0) {
        t[0] = live;
        t[1] = deleted;
    }
    return 0;
}

static void test_apply_pages(void **state)
{
    struct vsc_replica *r = *state;
    struct vsc_replica_item page1[] = {
        {"visits", "a", 1, 0, 0, "{\"k\":1}", 7},
        {"visits", "b", 2, 1, 0, "{}", 2},
        {"visits", "c", 1, 0, 0, "{}", 2},
    };
    struct vsc_replica_item page2[] = {
        {"visits", "a", 3, 0, 0, "{\"k\":3}", 7},
        {"visits", "c", 0, 0, 1, NULL, 0},
    };
    assert_int_equal(vsc_replica_apply(r, page1, 3, "10"), 0);
    assert_int_equal(vsc_replica_apply(r, page2, 2, "12"), 0);
    struct vsc_replica_record rec;
    assert_int_equal(vsc_replica_get(r, "visits", "a", &rec), 0);
    assert_int_equal(rec.rev, 3);
    assert_string_equal(rec.body, "{\"k\":3}");
    free(rec.body);
    assert_int_equal(vsc_replica_get(r, "visits", "c", &rec), DB_ENOTFOUND);
    int64_t t[2] = {-1, -1};
    assert_int_equal(vsc_replica_counts(r, count_cb, t), 0);
    assert_int_equal(t[0], 1);
    assert_int_equal(t[1], 1);
}

/*
 * A reset page replaces the replica: records the new page does not hold are
 * gone, while the queue, the kept acked changes and the settings stay.
 */
static void test_rebuild(void **state)
{
    struct vsc_replica *r = *state;
    struct vsc_replica_item old[] = {
        {"visits", "a", 5, 0, 0, "{\"k\":5}", 7},
        {"visits", "stale", 9, 0, 0, "{}", 2},
    };
    struct vsc_replica_item page[] = {{"visits", "a", 2, 0, 0, "{\"k\":2}", 7}};
    struct vsc_replica_change c;
    struct vsc_replica_record rec;
    int64_t n = 0, oldest = 0;
    char *cursor = NULL;

    assert_int_equal(vsc_replica_apply(r, old, 2, "900-aaaaaaaa"), 0);
    assert_int_equal(vsc_replica_queue(r, "visits", "q1", -1, "{}", -1, 10, &c), 0);
    vsc_replica_change_clear(&c);
    assert_int_equal(vsc_replica_queue(r, "visits", "q2", -1, "{}", -1, 11, &c), 0);
    vsc_replica_change_clear(&c);
    ack_range(r, 1, 1, 0, 20);
    assert_int_equal(vsc_replica_rebuild(r, page, 1, "1-bbbbbbbb"), 0);
    assert_int_equal(vsc_replica_get(r, "visits", "stale", &rec), DB_ENOTFOUND);
    assert_int_equal(vsc_replica_get(r, "visits", "a", &rec), 0);
    assert_int_equal(rec.rev, 2);
    free(rec.body);
    assert_int_equal(vsc_replica_config_get(r, "cursor", &cursor), 0);
    assert_string_equal(cursor, "1-bbbbbbbb");
    free(cursor);
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 1);
    assert_int_equal(vsc_replica_retained(r, &n, &oldest), 0);
    assert_int_equal(n, 1);
}

static void test_config(void **state)
{
    struct vsc_replica *r = *state;
    int64_t v = 0;
    char *s = NULL;
    assert_int_equal(vsc_replica_config_get(r, "url", &s), DB_ENOTFOUND);
    assert_null(s);
    assert_int_equal(vsc_replica_config_get_int(r, "n", 5, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(vsc_replica_config_set_int(r, "n", -12), 0);
    assert_int_equal(vsc_replica_config_get_int(r, "n", 5, &v), 0);
    assert_int_equal(v, -12);
    assert_int_equal(vsc_replica_config_set(r, "n", "abc"), 0);
    assert_int_equal(vsc_replica_config_get_int(r, "n", 5, &v), DB_ECORRUPT);
    assert_non_null(strstr(vsc_replica_errmsg(r), "n"));
    assert_int_equal(vsc_replica_config_set(r, "n", NULL), 0);
    assert_int_equal(vsc_replica_config_get(r, "n", &s), DB_ENOTFOUND);
}

static void test_file_persists(void **state)
{
    (void)state;
    char path[] = "/tmp/vs-replica-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct vsc_replica *r = NULL;
    char err[256];
    /* Without create, a missing store is an error that says what to do. */
    assert_int_equal(vsc_replica_open(path, 0, &r, err, sizeof err), DB_ENOTFOUND);
    assert_non_null(strstr(err, "client init"));
    assert_int_equal(vsc_replica_open(path, 1, &r, err, sizeof err), 0);
    struct vsc_replica_change c;
    assert_int_equal(vsc_replica_queue(r, "visits", "v1", -1, "{}", -1, 5, &c), 0);
    vsc_replica_change_clear(&c);
    vsc_replica_close(r);
    assert_int_equal(vsc_replica_open(path, 0, &r, err, sizeof err), 0);
    int64_t n = 0, oldest = 0;
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 1);
    assert_int_equal(vsc_replica_queue(r, "visits", "v2", -1, "{}", -1, 6, &c), 0);
    assert_int_equal(c.seq, 2);
    vsc_replica_change_clear(&c);
    vsc_replica_close(r);
    char wal[64], shm[64];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(path);
    unlink(wal);
    unlink(shm);
}

static unsigned file_mode(const char *path, const char *suffix)
{
    char full[512];
    struct stat st;
    snprintf(full, sizeof full, "%s%s", path, suffix);
    if (stat(full, &st) != 0)
        fail_msg("%s: %s", full, strerror(errno));
    return (unsigned)(st.st_mode & 07777);
}

static void unlink_store(const char *path)
{
    static const char *const sides[] = { "", "-wal", "-shm", "-journal" };
    char full[512];
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        snprintf(full, sizeof full, "%s%s", path, sides[i]);
        unlink(full);
    }
}

/*
 * A store made by the first schema (user_version 1) is brought to the
 * current one on open: its queued change stays queued, and is kept once acked.
 */
static void test_schema_step_from_v1(void **state)
{
    (void)state;
    char path[256], err[256];
    sqlite3 *raw = NULL;
    struct vsc_replica *r = NULL;
    int64_t n = 0, oldest = 0;

    snprintf(path, sizeof path, "/tmp/vs-replica-v1-%ld.db", (long)getpid());
    unlink(path);
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(raw,
                     "CREATE TABLE config(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "CREATE TABLE outbox(seq INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
                     " id TEXT NOT NULL, base INTEGER NOT NULL, hlc_ms INTEGER NOT NULL,"
                     " hlc_counter INTEGER NOT NULL, fields TEXT NOT NULL,"
                     " deleted INTEGER NOT NULL DEFAULT -1, created_ms INTEGER NOT NULL);"
                     "CREATE TABLE rejected(seq INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
                     " id TEXT NOT NULL, fields TEXT NOT NULL, code TEXT NOT NULL,"
                     " field TEXT NOT NULL, message TEXT NOT NULL, created_ms INTEGER NOT NULL,"
                     " rejected_ms INTEGER NOT NULL);"
                     "CREATE TABLE replica(collection TEXT NOT NULL, id TEXT NOT NULL,"
                     " rev INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
                     " body TEXT NOT NULL, PRIMARY KEY(collection, id)) WITHOUT ROWID;"
                     "INSERT INTO outbox VALUES (7, 'visits', 'v7', 0, 50, 0, '{}', -1, 50);"
                     "INSERT INTO config VALUES ('welcomed', '1'), ('next_seq', '8');"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(vsc_replica_open(path, 0, &r, err, sizeof err), 0);
    assert_int_equal(vsc_replica_pending(r, &n, &oldest), 0);
    assert_int_equal(n, 1);
    assert_int_equal(oldest, 50);
    ack_range(r, 7, 7, 0, 60);
    assert_int_equal(vsc_replica_retained(r, &n, &oldest), 0);
    assert_int_equal(n, 1);
    /* The later steps ran too: the photo table is there. */
    char sha[65];
    assert_int_equal(vsc_replica_photo_add(r, "x", 1, NULL, 70, sha), 0);
    vsc_replica_close(r);
    unlink_store(path);
}

/* What test_photos reads back from vsc_replica_photo_list. */
struct photo_seen {
    int n;
    char sha[4][65];
    char mime[4][64];
    int64_t size[4], uploaded_ms[4];
    int named[4];
};

static int photo_collect(void *ctx, const struct vsc_replica_photo *p)
{
    struct photo_seen *s = ctx;
    assert_true(s->n < 4);
    snprintf(s->sha[s->n], sizeof s->sha[0], "%s", p->sha256);
    snprintf(s->mime[s->n], sizeof s->mime[0], "%s", p->mime);
    s->size[s->n] = p->size;
    s->uploaded_ms[s->n] = p->uploaded_ms;
    s->named[s->n] = p->named;
    s->n++;
    return 0;
}

/*
 * Photos: named by their SHA-256 (the FIPS 180-2 vectors), kept once
 * whatever the mime of a second add, "named" only once a change or a
 * pulled record holds "sha256:<hex>", and out of the pending list once
 * uploaded, with their bytes kept.
 */
static void test_photos(void **state)
{
    static const char abc_sha[] =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    static const char two_sha[] =
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
    static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    struct vsc_replica *r = *state;
    struct vsc_replica_change c;
    struct photo_seen seen = {0};
    char sha[65], fields[200];
    void *bytes = NULL;
    size_t len = 0;

    assert_int_equal(vsc_replica_photo_add(r, "abc", 3, "image/jpeg", 100, sha), 0);
    assert_string_equal(sha, abc_sha);
    /* The same bytes again: one photo, the first mime. */
    assert_int_equal(vsc_replica_photo_add(r, "abc", 3, "image/png", 200, sha), 0);
    assert_string_equal(sha, abc_sha);
    assert_int_equal(vsc_replica_photo_add(r, two, strlen(two), NULL, 300, sha), 0);
    assert_string_equal(sha, two_sha);
    assert_int_equal(vsc_replica_photo_list(r, 1, photo_collect, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.sha[0], abc_sha);
    assert_string_equal(seen.mime[0], "image/jpeg");
    assert_int_equal(seen.size[0], 3);
    assert_string_equal(seen.mime[1], "application/octet-stream");
    assert_int_equal(seen.named[0], 0);
    assert_int_equal(seen.named[1], 0);

    /* A queued visit names the first; a pulled record names the second. */
    snprintf(fields, sizeof fields, "{\"photos\":[\"sha256:%s\"]}", abc_sha);
    assert_int_equal(vsc_replica_queue(r, "visits", "v1", -1, fields, -1, 400, &c), 0);
    vsc_replica_change_clear(&c);
    snprintf(fields, sizeof fields, "{\"photos\":[\"sha256:%s\"]}", two_sha);
    struct vsc_replica_item item = {"visits", "v2", 3, 0, 0, fields, strlen(fields)};
    assert_int_equal(vsc_replica_apply(r, &item, 1, "c1"), 0);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(vsc_replica_photo_list(r, 1, photo_collect, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.named[0], 1);
    assert_int_equal(seen.named[1], 1);

    assert_int_equal(vsc_replica_photo_bytes(r, two_sha, &bytes, &len), 0);
    assert_int_equal(len, strlen(two));
    assert_memory_equal(bytes, two, len);
    free(bytes);
    assert_int_equal(vsc_replica_photo_bytes(r, "00", &bytes, &len), DB_ENOTFOUND);

    /* Uploaded: out of the pending list, still listed, bytes kept. */
    assert_int_equal(vsc_replica_photo_uploaded(r, abc_sha, 500), 0);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(vsc_replica_photo_list(r, 1, photo_collect, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.sha[0], two_sha);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(vsc_replica_photo_list(r, 0, photo_collect, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.uploaded_ms[0], 500);
    assert_int_equal(seen.uploaded_ms[1], 0);
    assert_int_equal(vsc_replica_photo_bytes(r, abc_sha, &bytes, &len), 0);
    free(bytes);

    /* Empty, and one byte over the limit: refused, nothing kept. */
    assert_int_equal(vsc_replica_photo_add(r, "", 0, NULL, 600, sha), DB_EMISUSE);
    char *big = calloc(1, (size_t)VSC_PHOTO_MAX + 1);
    assert_non_null(big);
    assert_int_equal(vsc_replica_photo_add(r, big, (size_t)VSC_PHOTO_MAX + 1, NULL, 600, sha),
                     DB_EMISUSE);
    assert_non_null(strstr(vsc_replica_errmsg(r), "20971520"));
    free(big);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(vsc_replica_photo_list(r, 0, photo_collect, &seen), 0);
    assert_int_equal(seen.n, 2);
}

/* Bytes damaged in the file are refused when read for an upload, not sent. */
static void test_photo_damaged(void **state)
{
    (void)state;
    char path[256], err[256], sha[65];
    struct vsc_replica *r = NULL;
    sqlite3 *raw = NULL;
    void *bytes = NULL;
    size_t len = 0;

    snprintf(path, sizeof path, "/tmp/vs-replica-photo-%ld.db", (long)getpid());
    unlink_store(path);
    assert_int_equal(vsc_replica_open(path, 1, &r, err, sizeof err), 0);
    assert_int_equal(vsc_replica_photo_add(r, "abc", 3, NULL, 100, sha), 0);
    vsc_replica_close(r);
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "UPDATE photo SET bytes = X'616263FF'", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(vsc_replica_open(path, 0, &r, err, sizeof err), 0);
    assert_int_equal(vsc_replica_photo_bytes(r, sha, &bytes, &len), DB_ECORRUPT);
    assert_non_null(strstr(vsc_replica_errmsg(r), "damaged"));
    assert_null(bytes);
    vsc_replica_close(r);
    unlink_store(path);
}

/*
 * A replica holds the device's token: its files are 0600 under any umask.
 * It is opened as the server's store is (db_core.h): in WAL mode.
 */
static void test_new_files_private(void **state)
{
    (void)state;
    char path[256], err[512];
    struct vsc_replica *r = NULL;
    mode_t old = umask(022);

    snprintf(path, sizeof path, "/tmp/vs-replica-mode-%ld.db", (long)getpid());
    unlink_store(path);
    assert_int_equal(vsc_replica_open(path, 1, &r, err, sizeof err), 0);
    assert_int_equal(vsc_replica_config_set(r, "token", "secret"), 0);
    assert_int_equal(file_mode(path, ""), 0600);
    assert_int_equal(file_mode(path, "-wal"), 0600);
    assert_int_equal(file_mode(path, "-shm"), 0600);
    vsc_replica_close(r);
    /* The connection core switched it to WAL (and checked that it took). */
    sqlite3 *raw = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(raw);
    unlink_store(path);

    /* A file that cannot be created: the sentence says why. */
    r = NULL;
    assert_int_equal(vsc_replica_open("/nonexistent-vs-dir/x.db", 1, &r, err, sizeof err), DB_EIO);
    assert_null(r);
    assert_non_null(strstr(err, strerror(ENOENT)));
    umask(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_stamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_from_replica, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_and_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_welcome_renumbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_welcome_overlapping_shift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_welcome_without_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_welcome_without_seq_and_legacy_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_first_welcome_seq_ceiling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_requeues_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_reports_pruned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_store_is_not_a_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_photos, setup, teardown),
        cmocka_unit_test(test_photo_damaged),
        cmocka_unit_test(test_file_persists),
        cmocka_unit_test(test_schema_step_from_v1),
        cmocka_unit_test(test_new_files_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
