/*
 * test_srv_peer.c — the peer-address table and the sign-in throttle
 * (server/srv_peer.c) on a made-up clock, and srv_log_escape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "srv_internal.h"

/* One failed hello from p at now; returns 1 when it began a ban (its length in *ban). */
static int fail_once(struct srv_peers *t, struct srv_peer *p, int64_t now, int64_t *ban)
{
    int64_t wait;
    uint32_t fails = 0;

    assert_int_equal(srv_peer_hello_begin(p, now, &wait), 0);
    *ban = 0;
    return srv_peer_hello_end(t, p, 1, now, ban, &fails);
}

static void test_five_free_then_bans_that_double(void **state)
{
    struct srv_peers t;
    struct srv_peer *p;
    int64_t now = 1000000, wait, ban = 0;
    (void)state;

    memset(&t, 0, sizeof t);
    p = srv_peer_attach(&t, "10.0.0.1");
    assert_non_null(p);
    for (int i = 0; i < SRV_THROTTLE_FREE - 1; i++)
        assert_int_equal(fail_once(&t, p, now, &ban), 0);
    assert_int_equal(fail_once(&t, p, now, &ban), 1); /* the 5th uses the last free one */
    assert_int_equal(ban, SRV_THROTTLE_BAN_MIN_MS);
    /* Banned: refused with the time left, and refusals do not lengthen the ban. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(srv_peer_hello_begin(p, now + 400, &wait), 1);
        assert_int_equal(wait, 600);
    }
    assert_int_equal(p->refused, 100);
    /* A welcome (a hello begun before the ban) does not lift it. */
    p->pending++;
    assert_int_equal(srv_peer_hello_end(&t, p, 0, now + 500, NULL, NULL), 0);
    assert_int_equal(srv_peer_hello_begin(p, now + 500, &wait), 1);
    /* The ban ends with the bucket still empty: one probe at a time. */
    now += SRV_THROTTLE_BAN_MIN_MS;
    assert_int_equal(srv_peer_hello_begin(p, now, &wait), 0);
    assert_int_equal(srv_peer_hello_begin(p, now, &wait), 1);
    assert_int_equal(srv_peer_hello_end(&t, p, 1, now, &ban, &(uint32_t){0}), 1);
    assert_int_equal(ban, 2 * SRV_THROTTLE_BAN_MIN_MS);
    srv_peers_free(&t);
}

/*
 * An attacker that tries again the moment it may, for ten minutes: the bans
 * double to the cap and stay there, and the writer sees about the free rate.
 */
static void test_a_steady_attacker_gets_the_free_rate(void **state)
{
    struct srv_peers t;
    struct srv_peer *p;
    int64_t t0 = 2000000, now = t0, wait, ban, bans[64];
    size_t n_bans = 0, checked = 0;
    uint32_t fails;
    (void)state;

    memset(&t, 0, sizeof t);
    p = srv_peer_attach(&t, "10.0.0.9");
    while (now < t0 + 10 * (int64_t)SRV_THROTTLE_WINDOW_MS) {
        if (srv_peer_hello_begin(p, now, &wait) != 0) {
            now += wait;
            continue;
        }
        checked++;
        if (srv_peer_hello_end(&t, p, 1, now, &ban, &fails) == 1 && n_bans < 64)
            bans[n_bans++] = ban;
        now += 1;
    }
    assert_true(n_bans >= 12);
    for (size_t i = 0; i < n_bans; i++) {
        int64_t want = (int64_t)SRV_THROTTLE_BAN_MIN_MS << (i < 7 ? i : 7);
        assert_int_equal(bans[i], want > SRV_THROTTLE_BAN_MAX_MS ? SRV_THROTTLE_BAN_MAX_MS
                                                                 : want);
    }
    printf("a steady attacker: %zu sign-ins checked in 10 minutes, %zu bans\n", checked, n_bans);
    assert_true(checked <= 10 * SRV_THROTTLE_FREE + 15);
    /* Quiet for a window after the last ban: the next ban is short again. */
    now = p->ban_until + SRV_THROTTLE_WINDOW_MS;
    for (int i = 0; i < SRV_THROTTLE_FREE - 1; i++)
        assert_int_equal(fail_once(&t, p, now, &ban), 0);
    assert_int_equal(fail_once(&t, p, now, &ban), 1);
    assert_int_equal(ban, SRV_THROTTLE_BAN_MIN_MS);
    srv_peers_free(&t);
}

static void test_the_allowance_refills(void **state)
{
    struct srv_peers t;
    struct srv_peer *p;
    int64_t now = 5000000, wait, ban;
    (void)state;

    memset(&t, 0, sizeof t);
    p = srv_peer_attach(&t, "10.0.0.2");
    for (int i = 0; i < SRV_THROTTLE_FREE; i++)
        fail_once(&t, p, now, &ban);
    assert_int_equal(ban, SRV_THROTTLE_BAN_MIN_MS);
    /* One failure is free again a cost later: hellos are no longer limited to a probe. */
    now += SRV_THROTTLE_COST_MS;
    assert_int_equal(srv_peer_hello_begin(p, now, &wait), 0);
    assert_int_equal(srv_peer_hello_begin(p, now, &wait), 0);
    assert_int_equal(srv_peer_hello_end(&t, p, 0, now, NULL, NULL), 0);
    assert_int_equal(srv_peer_hello_end(&t, p, 1, now, &ban, &(uint32_t){0}), 1);
    assert_int_equal(ban, 2 * SRV_THROTTLE_BAN_MIN_MS); /* not clean yet: the backoff holds */
    /* A window after the ban without failures: five free again, the backoff starts over. */
    now = p->ban_until + SRV_THROTTLE_WINDOW_MS;
    for (int i = 0; i < SRV_THROTTLE_FREE - 1; i++)
        assert_int_equal(fail_once(&t, p, now, &ban), 0);
    assert_int_equal(fail_once(&t, p, now, &ban), 1);
    assert_int_equal(ban, SRV_THROTTLE_BAN_MIN_MS);
    srv_peers_free(&t);
}

static void test_entries_live_as_long_as_they_matter(void **state)
{
    struct srv_peers t;
    struct srv_peer *a, *b;
    int64_t now = 9000000, ban;
    char addr[32];
    (void)state;

    memset(&t, 0, sizeof t);
    a = srv_peer_attach(&t, "192.168.1.10");
    assert_ptr_equal(srv_peer_attach(&t, "192.168.1.10"), a);
    assert_int_equal(a->conns, 2);
    assert_int_equal(t.n, 1);
    srv_peer_detach(&t, a, now);
    srv_peer_detach(&t, a, now); /* clean and unconnected: freed */
    assert_int_equal(t.n, 0);
    assert_null(srv_peer_find(&t, "192.168.1.10"));

    /* A failure keeps the entry after its connection; the sweep frees it once it decays. */
    b = srv_peer_attach(&t, "192.168.1.11");
    fail_once(&t, b, now, &ban);
    srv_peer_detach(&t, b, now);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.n_idle, 1);
    srv_peers_sweep(&t, now + SRV_THROTTLE_COST_MS - 1);
    assert_non_null(srv_peer_find(&t, "192.168.1.11"));
    b = srv_peer_attach(&t, "192.168.1.11"); /* back: the failure is remembered */
    assert_int_equal(t.n_idle, 0);
    assert_int_equal(b->fails, 1);
    srv_peer_detach(&t, b, now);
    srv_peers_sweep(&t, now + SRV_THROTTLE_COST_MS);
    assert_int_equal(t.n, 0);
    assert_int_equal(t.n_idle, 0);

    /* A hello at the writer keeps the entry after its connection closed. */
    b = srv_peer_attach(&t, "192.168.1.12");
    assert_int_equal(srv_peer_hello_begin(b, now, &ban), 0);
    srv_peer_detach(&t, b, now);
    assert_ptr_equal(srv_peer_find(&t, "192.168.1.12"), b);
    srv_peer_hello_end(&t, b, 0, now, NULL, NULL);
    assert_int_equal(t.n, 0);

    /* Entries kept only for their throttle state are capped. */
    for (int i = 0; i < SRV_PEER_IDLE_MAX + 100; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        b = srv_peer_attach(&t, addr);
        fail_once(&t, b, now, &ban);
        srv_peer_detach(&t, b, now);
    }
    assert_int_equal(t.n_idle, SRV_PEER_IDLE_MAX);
    assert_int_equal(t.n, SRV_PEER_IDLE_MAX);
    srv_peers_sweep(&t, now + SRV_THROTTLE_WINDOW_MS);
    assert_int_equal(t.n, 0);
    srv_peers_free(&t);
}

static void test_log_escape(void **state)
{
    char out[16], big[300];
    (void)state;

    srv_log_escape("tab-0042", out, sizeof out);
    assert_string_equal(out, "tab-0042");
    srv_log_escape("a\nb\"c\\", out, sizeof out);
    assert_string_equal(out, "a\\x0ab\\x22c\\x5c");
    srv_log_escape("\x1b[2J\xe4", big, sizeof big);
    assert_string_equal(big, "\\x1b[2J\\xe4");
    srv_log_escape("0123456789abcde", out, sizeof out); /* exactly fits */
    assert_string_equal(out, "0123456789abcde");
    srv_log_escape("0123456789abcdef", out, sizeof out);
    assert_string_equal(out, "0123456789ab...");
    srv_log_escape("0123456789\n\n", out, sizeof out); /* an escape is never cut */
    assert_string_equal(out, "0123456789...");
    srv_log_escape("", out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_five_free_then_bans_that_double),
        cmocka_unit_test(test_a_steady_attacker_gets_the_free_rate),
        cmocka_unit_test(test_the_allowance_refills),
        cmocka_unit_test(test_entries_live_as_long_as_they_matter),
        cmocka_unit_test(test_log_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
