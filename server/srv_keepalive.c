/*
 * srv_keepalive.c — pings idle WebSocket connections and drops those that
 * stop answering (--ping-interval, --idle-timeout), for the tablets'
 * sessions and the supervisors' monitors alike.
 *
 * Why not lws's own (the vhost's retry_and_idle_policy): lws 4.1.6 keeps one
 * timer per connection in a sorted list and re-inserts it at every ping, a
 * walk of the list each time. With 19,500 tablets connected within a few
 * seconds their pings fall due together and the service thread stalled for
 * tens of seconds (docs/performance.md); at 50,000 it would pass the idle
 * timeout itself. Here every connection is on one list ordered by the time
 * it last proved alive (the upgrade, then each pong moves it to the tail),
 * and one periodic tick walks only its head: the connections due a ping or
 * a drop. Entering, leaving and a pong are O(1).
 *
 * Service thread only.
 */
#include "srv_internal.h"

/* Service thread: s has just upgraded; it is alive now. */
void srv_alive_start(struct srv *srv, struct srv_alive *a, struct lws *wsi)
{
    a->wsi = wsi;
    a->valid_ms = proto_mono_ms();
    a->ping_due = 0;
    a->pinged = 0;
    srv_list_insert_tail(&srv->alive, &a->link);
}

/* Service thread: a pong came. */
void srv_alive_pong(struct srv *srv, struct srv_alive *a)
{
    if (!srv_list_linked(&a->link))
        return;
    a->valid_ms = proto_mono_ms();
    a->pinged = 0;
    srv_list_remove(&a->link);
    srv_list_insert_tail(&srv->alive, &a->link);
}

/* Service thread: the connection is closing or gone. */
void srv_alive_stop(struct srv_alive *a)
{
    if (srv_list_linked(&a->link))
        srv_list_remove(&a->link);
    a->ping_due = 0;
}

/*
 * Service thread, at SERVER_WRITEABLE before anything else is written:
 * sends a ping that the tick asked for. 0 when none was due or it was sent,
 * -1 when the write failed (the callback returns -1: lws closes).
 */
int srv_alive_write(struct srv_alive *a)
{
    /* Not empty: lws 4.1.6 passes no empty pong up to the callback. */
    unsigned char frame[LWS_PRE + 2] = {[LWS_PRE] = 'v', [LWS_PRE + 1] = 's'};

    if (!a->ping_due)
        return 0;
    a->ping_due = 0;
    a->pinged = 1;
    if (lws_write(a->wsi, frame + LWS_PRE, 2, LWS_WRITE_PING) < 2)
        return -1;
    /* What else was waiting gets its turn. */
    lws_callback_on_writable(a->wsi);
    return 0;
}

/*
 * Service thread, from the periodic tick: drops the connections whose last
 * sign of life is idle_s old (no close frame: a peer that answers no ping
 * would not read one), asks a ping of those ping_s old. The list is in
 * order of valid_ms, so the walk stops at the first connection not yet due.
 */
void srv_alive_tick(struct srv *srv, int64_t now)
{
    const int64_t ping_ms = (int64_t)srv->cfg->ping_s * 1000;
    const int64_t idle_ms = (int64_t)srv->cfg->idle_s * 1000;
    struct srv_list *l, *tmp;

    SRV_LIST_FOREACH_SAFE(l, tmp, &srv->alive) {
        struct srv_alive *a = srv_list_entry(l, struct srv_alive, link);
        if (now - a->valid_ms < ping_ms)
            break;
        if (now - a->valid_ms >= idle_ms) {
            srv_list_remove(&a->link);
            /* lws closes it on its next service pass; CLOSED follows. */
            lws_set_timeout(a->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            continue;
        }
        if (!a->pinged && !a->ping_due) {
            a->ping_due = 1;
            lws_callback_on_writable(a->wsi);
        }
    }
}
