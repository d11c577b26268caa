"""No scope leaks (§3): an attacker cadre of grid g02 probing the ids of grid g01 over the
socket learns nothing a record that does not exist would not tell it — the same ack, byte for
byte, wherever a record that does not exist is refused; never another grid's name or rev; no
visit attached to another grid's subject. Also: a pull `limit` over 1000 is served as 1000."""
import asyncio
import json
import re

from vstest import WAIT, Server, change, push, pull_all, send, session, subject

VISITED = "2026-11-28T09:30:00+08:00"


async def raw_ack(ws, req, changes):
    """Pushes changes and returns the ack's text exactly as the server sent it."""
    await send(ws, {"type": "push", "req": req, "changes": changes})
    while True:
        raw = await asyncio.wait_for(ws.recv(), WAIT)
        m = json.loads(raw)
        if m["type"] != "poke":
            assert m["type"] == "ack" and m["req"] == req, m
            return raw


def normal(raw, rid):
    """The ack with what legitimately differs between two probes made uniform: the seq and
    cursor, and the probed id (the device sent it, so naming it tells nothing)."""
    raw = re.sub(r'"cursor":"\d+-[0-9a-f]{8}"', '"cursor":"C"', raw)
    raw = re.sub(r'"seq":\d+', '"seq":0', raw)
    return raw.replace(rid, "<id>")


def result(raw):
    return json.loads(raw)["results"][0]


async def victim_data(srv, env):
    """g01's data, made by cadre c1's tablet: subject s-0001 at rev 3 and its visit."""
    ws, _ = await session(srv, env, "tabA")
    ack = await push(ws, "v1", [
        subject(1, "s-0001", "g01", phone="13800000000"),
        change(2, "subjects", "s-0001", 1, {"status": "voluntary"}),
        change(3, "subjects", "s-0001", 2, {"employer": "旭峰农牧"}),
        change(4, "visits", "v-0001", 0, {"subject": "s-0001", "grid": "g01",
                                          "visited_at": VISITED})])
    assert [r["status"] for r in ack["results"]] == ["applied"] * 4, ack
    assert ack["results"][2]["rev"] == 3
    return ws


async def test_attacker_learns_nothing_a_missing_record_would_not_tell(env):
    env.standard()
    srv = Server(env)
    try:
        victim = await victim_data(srv, env)
        ws, _ = await session(srv, env, "tabC")  # cadre c2, grid g02
        seq = [0]

        def nxt():
            seq[0] += 1
            return seq[0]

        # Pairs: the same change to g01's record and to an id that never existed.
        probes = [
            ("subjects", "s-0001", "s-9999", 3, {"phone": "110"}),
            ("subjects", "s-0001", "s-9998", 3, {"_deleted": True}),
            ("subjects", "s-0001", "s-9997", 1, {"_deleted": False}),
            ("subjects", "s-0001", "s-9996", 3, {"phone": "110", "grid": "g01"}),
            ("subjects", "s-0001", "s-9995", 0, {"phone": "110"}),
            ("subjects", "s-0001", "s-9994", 0, {"name": "X", "grid": "g02", "income": -1}),
            ("visits", "v-0001", "v-9999", 1, {"notes": "seen"}),
        ]
        for n, (col, real, never, base, fields) in enumerate(probes):
            a = await raw_ack(ws, "p", [change(nxt(), col, real, base, fields)])
            b = await raw_ack(ws, "p", [change(nxt(), col, never, base, fields)])
            assert normal(a, real) == normal(b, never), (
                "probe %d: g01's record answered differently from a missing one:\n %s\n %s"
                % (n, a, b))
            assert result(a)["status"] == "rejected" and result(a)["rev"] == 0, a
            if "grid" not in fields:
                assert "g01" not in a, a
        # A seq used again, naming g01's record: a duplicate that does not tell its rev.
        a = await raw_ack(ws, "d", [change(1, "subjects", "s-0001", 3, {"phone": "110"})])
        b = await raw_ack(ws, "d", [change(1, "subjects", "s-9999", 3, {"phone": "110"})])
        assert normal(a, "s-0001") == normal(b, "s-9999"), (a, b)
        assert result(a) == {"seq": 1, "id": "s-0001", "status": "duplicate", "rev": 0}, a

        # The same id before and after g01 creates it: only seq and cursor may differ.
        before = await raw_ack(ws, "s", [change(nxt(), "subjects", "s-0050", 2, {"phone": "1"})])
        await push(victim, "v2", [subject(5, "s-0050", "g01")])
        after = await raw_ack(ws, "s", [change(nxt(), "subjects", "s-0050", 2, {"phone": "1"})])
        assert normal(before, "s-0050") == normal(after, "s-0050"), (before, after)

        # A create under a taken id cannot succeed; the refusal names only that id.
        a = await raw_ack(ws, "t", [subject(nxt(), "s-0001", "g02")])
        r = result(a)
        assert r["status"] == "rejected" and r["rev"] == 0, a
        assert r["error"]["code"] == "out_of_scope" and r["error"]["field"] == "id", a
        assert "g01" not in a, a
        b = await raw_ack(ws, "t", [subject(nxt(), "v-0001", "g02")])  # not a subject: applied
        assert result(b)["status"] == "applied", b
        c = await raw_ack(ws, "t", [subject(nxt(), "s-0050", "g02")])
        assert normal(a, "s-0001") == normal(c, "s-0050"), (a, c)

        # g01's records are as g01 left them.
        rows = env.sql("SELECT id, rev, grid, deleted, body FROM records WHERE"
                       " (collection, id) IN (VALUES ('subjects', 's-0001'), ('visits', 'v-0001'))"
                       " ORDER BY id")
        assert [(i, rev, g, d) for i, rev, g, d, _ in rows] == [
            ("s-0001", 3, "g01", 0), ("v-0001", 1, "g01", 0)], rows
        assert "110" not in rows[0][4]

        # A pull with a limit over 1000 is served (as 1000) and holds only g02.
        await send(ws, {"type": "pull", "req": "big", "since": "0", "limit": 100000})
        m = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert m["type"] == "changes" and m["req"] == "big", m
        items, _, _ = await pull_all(ws)
        assert items and all(i["fields"]["grid"] == "g02" for i in items), items
        await victim.close()
        await ws.close()
    finally:
        srv.kill()


async def test_visit_cannot_name_another_grids_subject(env):
    env.standard()
    srv = Server(env)
    try:
        victim = await victim_data(srv, env)
        ws, _ = await session(srv, env, "tabC")

        def visit(seq, vid, subj):
            return change(seq, "visits", vid, 0, {"subject": subj, "grid": "g02",
                                                  "visited_at": VISITED})

        a = await raw_ack(ws, "v", [visit(1, "v-a", "s-0001")])
        r = result(a)
        assert r["status"] == "rejected" and r["rev"] == 0, a
        assert r["error"]["code"] == "out_of_scope" and r["error"]["field"] == "subject", a
        assert "g01" not in a, a
        assert env.sql("SELECT count(*) FROM records WHERE id = 'v-a'") == [(0,)]
        # A subject the server does not have yet is allowed (records arrive in any order)...
        b = await raw_ack(ws, "v", [visit(2, "v-b", "s-7777")])
        assert result(b)["status"] == "applied", b
        # ...and so is one of the cadre's own grid.
        ack = await push(ws, "own", [subject(3, "s-0100", "g02"), visit(4, "v-c", "s-0100")])
        assert [x["status"] for x in ack["results"]] == ["applied", "applied"], ack
        # Every hidden subject is refused in the same words, whatever its grid or state.
        await push(victim, "v3", [subject(5, "s-0002", "g01"),
                                  change(6, "subjects", "s-0002", 1, {"_deleted": True})])
        c = await raw_ack(ws, "v", [visit(5, "v-a", "s-0002")])
        assert normal(a, "s-0001") == normal(c, "s-0002"), (a, c)
        # A supervisor of every grid may name any subject.
        sup, _ = await session(srv, env, "tabS")
        ack = await push(sup, "s", [visit(1, "v-e", "s-0001")])
        assert ack["results"][0]["status"] == "applied", ack
        await sup.close()
        await victim.close()
        await ws.close()
    finally:
        srv.kill()


async def test_duplicate_does_not_tell_the_rev_of_a_record_that_moved_away(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabC")
        mine = subject(1, "s-0200", "g02")
        ack = await push(ws, "m", [mine])
        assert ack["results"][0] == {"seq": 1, "id": "s-0200", "status": "applied", "rev": 1}
        again = await push(ws, "m", [mine])
        assert again["results"][0]["rev"] == 1, again  # in scope: its rev is told
        # A supervisor moves it to g01 and edits it there.
        sup, _ = await session(srv, env, "tabS")
        ack = await push(sup, "mv", [change(1, "subjects", "s-0200", 1, {"grid": "g01"}),
                                     change(2, "subjects", "s-0200", 2, {"phone": "1"})])
        assert ack["results"][1]["rev"] == 3, ack
        await sup.close()
        a = await raw_ack(ws, "m", [mine])
        never = dict(mine, id="s-0404")
        b = await raw_ack(ws, "m", [never])
        assert normal(a, "s-0200") == normal(b, "s-0404"), (a, b)
        assert result(a)["status"] == "duplicate" and result(a)["rev"] == 0, a
        await ws.close()
    finally:
        srv.kill()
