"""push/ack (§2.2), welcome.seq, merge outcomes, scope (§3), pull (§2.4) and poke (§2.5)."""
import asyncio
import re
import urllib.request

from vstest import (WAIT, change, cursor_id, no_message, now_ms, pull_all, push, recv, send,
                    session, Server, subject)


async def test_push_ack_and_duplicate_resend(env):
    env.standard()
    srv = Server(env)
    try:
        ws, w = await session(srv, env, "tabA")
        changes = [subject(1, "s1", "g01"), subject(2, "s2", "g01", employment="employed")]
        ack = await push(ws, "b1", changes)
        assert [r["status"] for r in ack["results"]] == ["applied", "applied"], ack
        assert [(r["seq"], r["id"], r["rev"]) for r in ack["results"]] == [(1, "s1", 1),
                                                                           (2, "s2", 1)]
        assert cursor_id(ack["cursor"]) > cursor_id(w["cursor"]), ack
        # The ack was lost: the same push again is all duplicates with the current rev.
        again = await push(ws, "b1-again", changes)
        assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"], again
        assert [r["rev"] for r in again["results"]] == [1, 1], again
        rows = env.sql("SELECT seq, outcome FROM history WHERE device='tabA' ORDER BY id")
        assert rows == [(1, "applied"), (2, "applied"), (1, "duplicate"), (2, "duplicate")], rows
        await ws.close()
    finally:
        srv.kill()


async def test_welcome_seq_is_the_committed_max(env):
    """welcome.seq is the highest seq committed for the device: what a new
    store of that device must number its changes after. Rejected seqs count
    (they are used), duplicates do not move it, it is per device, and it
    survives a restart."""
    env.standard()
    srv = Server(env)
    try:
        ws, w = await session(srv, env, "tabA")
        assert w["seq"] == 0, w
        ack = await push(ws, "b1", [subject(1, "s1", "g01"), subject(2, "s2", "g01"),
                                    subject(5, "s5", "g01")])
        assert [r["status"] for r in ack["results"]] == ["applied"] * 3, ack
        await ws.close()
        ws, w = await session(srv, env, "tabA")
        assert w["seq"] == 5, w
        ack = await push(ws, "b2", [subject(3, "s3", "g01"), subject(8, "s8", "g02")])
        assert [r["status"] for r in ack["results"]] == ["duplicate", "rejected"], ack
        await ws.close()
        ws, w = await session(srv, env, "tabA")
        assert w["seq"] == 8, w
        assert env.sql("SELECT max_seq FROM devices WHERE id = 'tabA'") == [(8,)]
        await ws.close()
        ws, w = await session(srv, env, "tabB")
        assert w["seq"] == 0, w
        await ws.close()
    finally:
        srv.kill()
    srv = Server(env)
    try:
        ws, w = await session(srv, env, "tabA")
        assert w["seq"] == 8, w
        await ws.close()
    finally:
        srv.kill()


async def test_many_pipelined_pushes_are_acked_in_order(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        n = 300

        async def sender():
            for i in range(n):
                await send(ws, {"type": "push", "req": "r%d" % i,
                                "changes": [subject(i + 1, "s%d" % i, "g01")]})

        task = asyncio.create_task(sender())
        reqs = []
        for _ in range(n):
            m = await recv(ws, 20)
            assert m["type"] == "ack", m
            assert m["results"][0]["status"] == "applied", m
            reqs.append(m["req"])
        await task
        assert reqs == ["r%d" % i for i in range(n)], reqs[:20]
        cursors = []
        await ws.close()
        count = env.sql("SELECT count(*) FROM records")[0][0]
        assert count == n, count
        del cursors
    finally:
        srv.kill()


async def test_concurrent_edits_of_two_devices_conflict(env):
    env.standard()
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        t = now_ms()
        ack = await push(a, "a1", [subject(1, "s1", "g01", ms=t)])
        assert ack["results"][0]["rev"] == 1
        # Both edit the same field from base 1 with different values.
        ack_b = await push(b, "b1", [change(1, "subjects", "s1", 1, {"employment": "employed"},
                                            ms=t + 10)])
        assert ack_b["results"][0]["status"] == "applied", ack_b
        ack_a = await push(a, "a2", [change(2, "subjects", "s1", 1,
                                            {"employment": "unemployed"}, ms=t + 20)])
        r = ack_a["results"][0]
        assert r["status"] == "conflict" and r["conflicts"] == ["employment"], r
        assert r["rev"] == 3, r
        items, _, _ = await pull_all(b)
        rec = [i for i in items if i["id"] == "s1"][0]
        assert rec["fields"]["employment"] == "unemployed" and rec["rev"] == 3, rec
        await a.close()
        await b.close()
    finally:
        srv.kill()


async def test_each_rejection_code_leaves_the_others_alone(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        t = now_ms()
        changes = [
            change(1, "nope", "x1", 0, {"grid": "g01"}),
            change(2, "subjects", "s-miss", 0, {"grid": "g01"}),
            change(3, "subjects", "s-inv", 0, {"name": "X", "grid": "g01", "status": "weird"}),
            change(4, "subjects", "s-unk", 0, {"name": "X", "grid": "g01", "colour": "red"}),
            change(5, "subjects", "s-scope", 0, {"name": "X", "grid": "g02"}),
            change(6, "subjects", "s-skew", 0, {"name": "X", "grid": "g01"},
                   ms=t + 3600 * 1000),
            change(7, "subjects", "bad id!", 0, {"name": "X", "grid": "g01"}),
            subject(8, "s-good", "g01"),
        ]
        ack = await push(ws, "mix", changes)
        got = [(r["seq"], r["status"], r.get("error", {}).get("code")) for r in ack["results"]]
        assert got == [(1, "rejected", "unknown_collection"), (2, "rejected", "missing_field"),
                       (3, "rejected", "invalid_field"), (4, "rejected", "unknown_field"),
                       (5, "rejected", "out_of_scope"), (6, "rejected", "clock_skew"),
                       (7, "rejected", "bad_id"), (8, "applied", None)], got
        inv = ack["results"][2]["error"]
        assert inv["field"] == "status" and inv["message"], inv
        # A rejected seq still counts as used.
        again = await push(ws, "again", [subject(5, "s-scope2", "g01")])
        assert again["results"][0]["status"] == "duplicate", again
        await ws.close()
    finally:
        srv.kill()


async def test_scope_pull_and_removed_after_a_move(env):
    env.standard()
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")   # c1, g01
        c, _ = await session(srv, env, "tabC")   # c2, g02
        s, _ = await session(srv, env, "tabS")   # supervisor, all grids
        t = now_ms()
        await push(a, "a1", [subject(1, "s1", "g01", ms=t), subject(2, "s2", "g01", ms=t)])
        await push(c, "c1", [subject(1, "s9", "g02", ms=t)])
        ack = await push(c, "c2", [change(2, "subjects", "s1", 1, {"phone": "1"}, ms=t + 1)])
        assert ack["results"][0]["error"]["code"] == "missing_field", ack  # s1 is hidden from c2
        items, cursor_a, _ = await pull_all(a)
        assert sorted(i["id"] for i in items) == ["s1", "s2"], items
        items, cursor_c, _ = await pull_all(c)
        assert [i["id"] for i in items] == ["s9"], items
        items, _, _ = await pull_all(s)
        assert sorted(i["id"] for i in items) == ["s1", "s2", "s9"], items

        # The supervisor moves s1 to g02: tabA sees it removed, tabC sees it.
        ack = await push(s, "mv", [change(1, "subjects", "s1", 1, {"grid": "g02"}, ms=t + 5)])
        assert ack["results"][0]["status"] == "applied", ack
        items, _, _ = await pull_all(a, cursor_a)
        assert items == [{"collection": "subjects", "id": "s1", "removed": True}], items
        items, _, _ = await pull_all(c, cursor_c)
        assert [(i["id"], i["fields"]["grid"]) for i in items] == [("s1", "g02")], items
        for ws in (a, c, s):
            await ws.close()
    finally:
        srv.kill()


async def test_pull_pages_with_limit_and_more(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        await push(ws, "b", [subject(i + 1, "s%02d" % i, "g01") for i in range(25)])
        await send(ws, {"type": "pull", "req": "p", "since": "0", "limit": 10})
        m = await recv(ws)
        assert m["type"] == "changes" and len(m["changes"]) == 10 and m["more"] is True, m
        items, cursor, pages = await pull_all(ws, limit=10)
        assert pages == 3 and len(items) == 25, (pages, len(items))
        assert sorted(i["id"] for i in items) == ["s%02d" % i for i in range(25)]
        items, cursor2, _ = await pull_all(ws, since=cursor)
        assert items == [] and cursor2 == cursor, (items, cursor2)
        await send(ws, {"type": "pull", "req": "bad", "since": "not-a-cursor"})
        m = await recv(ws)
        assert m["type"] == "error" and m["code"] == "bad_message" and m["req"] == "bad", m
        await ws.close()
    finally:
        srv.kill()


async def test_poke_reaches_other_devices_of_the_grid_once(env):
    env.standard()
    env.user("c4", "cadre", ["g01", "g02"])
    env.device("tabD", "c4")
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")  # g01
        b, _ = await session(srv, env, "tabB")  # g01
        c, _ = await session(srv, env, "tabC")  # g02
        ack = await push(a, "a1", [subject(1, "s1", "g01")])
        m = await recv(b)
        assert m == {"type": "poke", "cursor": ack["cursor"]}, m
        assert await no_message(c, 0.5) is None, "a device of another grid was poked"
        assert await no_message(a, 0.1) is None, "the pushing device was poked"
        # At most one outstanding: no second poke before tabB pulls.
        await push(a, "a2", [subject(2, "s2", "g01")])
        assert await no_message(b, 0.5) is None, "a second poke before a pull"
        items, _, _ = await pull_all(b)
        assert len(items) == 2
        ack = await push(a, "a3", [subject(3, "s3", "g01")])
        m = await recv(b)
        assert m == {"type": "poke", "cursor": ack["cursor"]}, m
        # A rejected change changes nothing and pokes nobody.
        await pull_all(b)
        await push(a, "a4", [subject(4, "s4", "g02")])
        assert await no_message(b, 0.5) is None and await no_message(c, 0.1) is None
        assert poke_counters(srv) == (3, 2), "fan-outs (a1..a3) and pokes (b twice)"

        # Pokes are found by grid: tabC, the only tablet of g02, leaves and comes back (g02
        # leaves the index and enters it again); a supervisor's tablet (every grid) is poked
        # for any grid; a tablet of two grids is poked once for a push into both.
        await c.close()
        c, _ = await session(srv, env, "tabC")
        s, _ = await session(srv, env, "tabS")
        d, _ = await session(srv, env, "tabD")  # g01 and g02
        ack = await push(s, "s1", [subject(1, "s5", "g02")])
        for ws in (c, d):
            assert await recv(ws) == {"type": "poke", "cursor": ack["cursor"]}
            await pull_all(ws)
        assert await no_message(b, 0.3) is None, "a tablet of g01 was poked for g02"
        ack = await push(a, "a5", [subject(5, "s6", "g01")])
        for ws in (b, d, s):
            assert await recv(ws) == {"type": "poke", "cursor": ack["cursor"]}
            await pull_all(ws)
        assert await no_message(c, 0.3) is None, "a tablet of g02 was poked for g01"
        ack = await push(s, "s2", [subject(2, "s7", "g01"), subject(3, "s8", "g02")])
        for ws in (a, b, c, d):
            assert await recv(ws) == {"type": "poke", "cursor": ack["cursor"]}
        assert await no_message(d, 0.5) is None, "a tablet of both grids was poked twice"
        assert await no_message(s, 0.1) is None, "the pushing supervisor was poked"
        assert poke_counters(srv) == (6, 2 + 2 + 3 + 4)
        for ws in (a, b, c, d, s):
            await ws.close()
    finally:
        srv.kill()


def poke_counters(srv):
    """(visitsync_poke_fanouts_total, visitsync_pokes_total) of GET /metrics."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.port, timeout=WAIT) as r:
        text = r.read().decode()
    got = dict(re.findall(r"^(visitsync_poke_fanouts_total|visitsync_pokes_total) (\d+)$", text,
                          re.M))
    return int(got["visitsync_poke_fanouts_total"]), int(got["visitsync_pokes_total"])


async def test_max_skew_option(env):
    env.standard()
    srv = Server(env, "--max-skew", "5")
    try:
        ws, _ = await session(srv, env, "tabA")
        t = now_ms()
        ack = await push(ws, "k", [subject(1, "s1", "g01", ms=t + 60 * 1000),
                                   subject(2, "s2", "g01", ms=t + 1000)])
        got = [(r["status"], r.get("error", {}).get("code")) for r in ack["results"]]
        assert got == [("rejected", "clock_skew"), ("applied", None)], got
        await ws.close()
    finally:
        srv.kill()
    srv = Server(env)  # the default allows 10 minutes ahead
    try:
        ws, _ = await session(srv, env, "tabA")
        ack = await push(ws, "k2", [subject(3, "s3", "g01", ms=now_ms() + 60 * 1000)])
        assert ack["results"][0]["status"] == "applied", ack
        await ws.close()
    finally:
        srv.kill()
