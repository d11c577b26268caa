/*
 * srv_peer.c — what the server knows of each peer address: how many
 * visitsync.v1 connections it holds (--max-conn-per-ip) and how its recent
 * sign-ins failed (the hello throttle, close code 4429).
 *
 * Everything here runs on the lws service thread. Nothing reads a clock:
 * every call is given now (proto_mono_ms), so the unit test drives it.
 *
 * Design:
 * - A chained hash table keyed by the address string as
 *   lws_get_peer_simple() prints it. An entry lives while its address has a
 *   connection or a hello at the writer (a job points at it), and after that
 *   only while its throttle state has not decayed; srv_peers_sweep() frees
 *   those once it has. At most SRV_PEER_IDLE_MAX entries are kept for their
 *   throttle state alone: past that, a disconnected address is forgotten,
 *   so memory stays bounded however many addresses a peer has.
 * - The throttle is a token bucket of SRV_THROTTLE_FREE failures that
 *   refills one every SRV_THROTTLE_COST_MS, kept as one time (debt_until:
 *   when the bucket is full again; each failure moves it one cost further,
 *   never more than a window ahead of now). The failure that empties the
 *   bucket begins a ban; while it lasts hellos are refused without reaching
 *   the writer. While the bucket is empty only one hello at a time may try
 *   (a probe), so a burst after a ban costs the writer one check. Each ban
 *   is twice the last, up to the maximum, until a window passes after a ban
 *   without a failure. A steady attacker thus gets through at about the
 *   free rate (5 a minute), each time into a 60 s ban. Only failures count:
 *   a welcome neither lifts a ban nor fills the bucket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_internal.h"

static size_t peer_bucket(const char *addr)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % SRV_PEER_BUCKETS);
}

/* True when a ban ended less than a window ago: the next ban is still longer. */
static int peer_recently_banned(const struct srv_peer *p, int64_t now)
{
    return p->ban_until != 0 && p->ban_until + SRV_THROTTLE_WINDOW_MS > now;
}

/* True while the entry's throttle state still matters at now. */
static int peer_marked(const struct srv_peer *p, int64_t now)
{
    return p->debt_until > now || peer_recently_banned(p, now);
}

/* True when no failure is left free: the bucket is empty. */
static int peer_exhausted(const struct srv_peer *p, int64_t now)
{
    return p->debt_until - now > (int64_t)(SRV_THROTTLE_FREE - 1) * SRV_THROTTLE_COST_MS;
}

static void peer_unlink_free(struct srv_peers *t, struct srv_peer *p)
{
    struct srv_peer **pp = &t->buckets[peer_bucket(p->addr)];

    while (*pp != NULL && *pp != p)
        pp = &(*pp)->next;
    if (*pp == p)
        *pp = p->next;
    if (p->idle)
        t->n_idle--;
    t->n--;
    free(p);
}

/*
 * Called when p may have nothing left but its throttle state: keeps it
 * (counted as idle) while that state matters and there is room, else frees it.
 */
static void peer_settle(struct srv_peers *t, struct srv_peer *p, int64_t now)
{
    if (p->conns > 0 || p->pending > 0)
        return;
    if (!peer_marked(p, now) || (!p->idle && t->n_idle >= SRV_PEER_IDLE_MAX)) {
        peer_unlink_free(t, p);
        return;
    }
    if (!p->idle) {
        p->idle = 1;
        t->n_idle++;
    }
}

/* Service thread. */
struct srv_peer *srv_peer_find(struct srv_peers *t, const char *addr)
{
    struct srv_peer *p = t->buckets[peer_bucket(addr)];

    while (p != NULL && strcmp(p->addr, addr) != 0)
        p = p->next;
    return p;
}

/* Service thread. */
struct srv_peer *srv_peer_attach(struct srv_peers *t, const char *addr)
{
    struct srv_peer *p = srv_peer_find(t, addr);
    size_t b;

    if (p == NULL) {
        p = calloc(1, sizeof *p);
        if (p == NULL)
            return NULL;
        snprintf(p->addr, sizeof p->addr, "%s", addr);
        p->backoff_ms = SRV_THROTTLE_BAN_MIN_MS;
        b = peer_bucket(p->addr);
        p->next = t->buckets[b];
        t->buckets[b] = p;
        t->n++;
    }
    if (p->idle) {
        p->idle = 0;
        t->n_idle--;
    }
    p->conns++;
    return p;
}

/* Service thread. */
void srv_peer_detach(struct srv_peers *t, struct srv_peer *p, int64_t now)
{
    if (p == NULL || p->conns == 0)
        return;
    p->conns--;
    peer_settle(t, p, now);
}

/* Service thread. */
int srv_peer_hello_begin(struct srv_peer *p, int64_t now, int64_t *wait_ms)
{
    if (p->ban_until > now) {
        p->refused++;
        *wait_ms = p->ban_until - now;
        return 1;
    }
    if (peer_exhausted(p, now) && p->pending > 0) {
        /* A probe is at the writer already: its answer decides. */
        p->refused++;
        *wait_ms = SRV_THROTTLE_BAN_MIN_MS;
        return 1;
    }
    p->pending++;
    return 0;
}

/* Service thread. */
int srv_peer_hello_end(struct srv_peers *t, struct srv_peer *p, int failed, int64_t now,
                       int64_t *ban_ms, uint32_t *fails)
{
    int banned = 0;

    if (p->pending > 0)
        p->pending--;
    if (failed) {
        if (p->debt_until < now)
            p->debt_until = now; /* the allowance is whole again */
        if (p->debt_until == now && !peer_recently_banned(p, now)) {
            p->backoff_ms = SRV_THROTTLE_BAN_MIN_MS; /* a quiet minute: start over */
            p->fails = 0;
        }
        p->debt_until += SRV_THROTTLE_COST_MS;
        if (p->debt_until > now + SRV_THROTTLE_WINDOW_MS)
            p->debt_until = now + SRV_THROTTLE_WINDOW_MS;
        p->fails++;
        *fails = p->fails;
        /* Failures of hellos sent before the ban began do not lengthen it. */
        if (p->ban_until <= now && peer_exhausted(p, now)) {
            p->ban_until = now + p->backoff_ms;
            *ban_ms = p->backoff_ms;
            p->backoff_ms *= 2;
            if (p->backoff_ms > SRV_THROTTLE_BAN_MAX_MS)
                p->backoff_ms = SRV_THROTTLE_BAN_MAX_MS;
            p->refused = 0;
            banned = 1;
        }
    }
    peer_settle(t, p, now);
    return banned;
}

/* Service thread. */
void srv_peers_sweep(struct srv_peers *t, int64_t now)
{
    if (t->n_idle == 0)
        return;
    for (size_t b = 0; b < SRV_PEER_BUCKETS; b++) {
        struct srv_peer *p = t->buckets[b];
        while (p != NULL) {
            struct srv_peer *next = p->next;
            if (p->idle && !peer_marked(p, now))
                peer_unlink_free(t, p);
            p = next;
        }
    }
}

/* Service thread, at shutdown. */
void srv_peers_free(struct srv_peers *t)
{
    for (size_t b = 0; b < SRV_PEER_BUCKETS; b++) {
        while (t->buckets[b] != NULL) {
            struct srv_peer *next = t->buckets[b]->next;
            free(t->buckets[b]);
            t->buckets[b] = next;
        }
    }
    t->n = t->n_idle = 0;
}

/* Service thread. */
const char *srv_peer_address(struct lws *wsi, char *buf, size_t size)
{
    static const char mapped[] = "::ffff:";
    size_t n = sizeof mapped - 1;

    if (lws_get_peer_simple(wsi, buf, size) == NULL || buf[0] == '\0')
        snprintf(buf, size, "unknown");
    else if (strncmp(buf, mapped, n) == 0 && strchr(buf + n, '.') != NULL)
        memmove(buf, buf + n, strlen(buf + n) + 1);
    return buf;
}
