"""Cursors with the store's epoch and the pull's reset (docs/protocol.md §2.4), and
the audit row of a conflict's resolution.

A cursor is "<history id>-<epoch>". A since with another epoch (a store restored
from a backup), or beyond the newest change, is answered with "reset":true and
the changes from the beginning; a plain id of a server before epochs is taken as
this store's while it is not beyond the newest change; "0" never resets;
anything else is bad_message."""
import os
import shutil

from test_api import api, make_conflict, setup, sql_read
from vstest import Server, cursor_id, pull_all, push, recv, send, session, subject


async def pull(ws, req, since, limit=None):
    msg = {"type": "pull", "req": req, "since": since}
    if limit:
        msg["limit"] = limit
    await send(ws, msg)
    m = await recv(ws)
    assert m.get("req") == req, m
    return m


def other_epoch(cursor):
    """The same id under an epoch that is not the store's."""
    n, epoch = cursor.split("-")
    return "%s-%08x" % (n, int(epoch, 16) ^ 0x1)


async def test_cursors_carry_the_epoch(env):
    env.standard()
    epoch = env.sql("SELECT value FROM store_meta WHERE key = 'epoch'")[0][0]
    srv = Server(env)
    try:
        ws, w = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        assert w["cursor"] == "0-" + epoch, w
        ack = await push(ws, "p1", [subject(1, "s1", "g01")])
        assert ack["cursor"] == "%d-%s" % (cursor_id(ack["cursor"]), epoch), ack
        poke = await recv(b)
        assert poke == {"type": "poke", "cursor": ack["cursor"]}, poke
        m = await pull(b, "p", "0")
        assert m["cursor"] == ack["cursor"] and "reset" not in m, m
    finally:
        srv.kill()


async def test_reset_and_legacy_cursors(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        await push(ws, "p1", [subject(i + 1, "s%d" % i, "g01") for i in range(3)])
        _, mid, _ = await pull_all(ws)
        await push(ws, "p2", [subject(4, "s3", "g01")])
        _, newest, _ = await pull_all(ws, since=mid)
        n_mid, n_new = cursor_id(mid), cursor_id(newest)
        assert n_new > n_mid > 0, (mid, newest)

        # This store's cursor: only what came after it, no reset.
        m = await pull(ws, "own", mid)
        assert [c["id"] for c in m["changes"]] == ["s3"] and "reset" not in m, m
        # "0" (and no since) is the beginning, never a reset.
        for req, since in (("zero", "0"), ("none", None)):
            msg = {"type": "pull", "req": req}
            if since is not None:
                msg["since"] = since
            await send(ws, msg)
            m = await recv(ws)
            assert len(m["changes"]) == 4 and "reset" not in m, m
        # Another store's epoch (a cursor from before a restore): everything, reset.
        m = await pull(ws, "foreign", other_epoch(mid))
        assert m["reset"] is True and m["more"] is False, m
        assert sorted(c["id"] for c in m["changes"]) == ["s0", "s1", "s2", "s3"], m
        assert m["cursor"] == newest, m
        # Beyond the newest change, with this store's epoch or with none: reset.
        epoch = newest.split("-")[1]
        for since in ("%d-%s" % (n_new + 1, epoch), str(n_new + 1), "9223372036854775807"):
            m = await pull(ws, "beyond", since)
            assert m["reset"] is True and len(m["changes"]) == 4, (since, m)
        # A plain id of a server before epochs, not beyond the newest: this store's.
        m = await pull(ws, "legacy", str(n_mid))
        assert [c["id"] for c in m["changes"]] == ["s3"] and "reset" not in m, m
        m = await pull(ws, "legacy-newest", str(n_new))
        assert m["changes"] == [] and "reset" not in m and m["cursor"] == newest, m
        # Not a cursor at all: bad_message, as before. (An upper-case letter
        # always: an epoch of digits only is its own upper case.)
        for bad in ("abc", "%d-A%s" % (n_mid, epoch[1:]), "%d-" % n_mid, "-%s" % epoch,
                    "0%d-%s" % (n_mid, epoch), "%d-%s0" % (n_mid, epoch)):
            m = await pull(ws, "bad", bad)
            assert m["type"] == "error" and m["code"] == "bad_message", (bad, m)
        await ws.close()
    finally:
        srv.kill()


async def test_paging_after_a_reset(env):
    """Only the first page says reset; the pages after it continue with the new cursor
    and together hold every record once."""
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        await push(ws, "p", [subject(i + 1, "s%02d" % i, "g01") for i in range(25)])
        _, newest, _ = await pull_all(ws)
        m = await pull(ws, "r1", other_epoch(newest), limit=10)
        assert m["reset"] is True and m["more"] is True and len(m["changes"]) == 10, m
        ids = [c["id"] for c in m["changes"]]
        pages = 1
        while m["more"]:
            m = await pull(ws, "r%d" % (pages + 1), m["cursor"], limit=10)
            assert "reset" not in m and m["type"] == "changes", m
            ids += [c["id"] for c in m["changes"]]
            pages += 1
            assert pages < 10
        assert pages == 3 and sorted(ids) == ["s%02d" % i for i in range(25)], (pages, ids)
        assert m["cursor"] == newest, m
        await ws.close()
    finally:
        srv.kill()


async def test_restored_store_resets_old_cursors(env):
    """A store restored from `visitsync backup` has another epoch: a cursor handed out
    before the restore resets even once the restored store has issued its id again."""
    env.standard()
    copy = os.path.join(env.dir, "copy.db")
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        await push(ws, "p1", [subject(1, "s1", "g01")])
        env.cli("backup", copy)
        await push(ws, "p2", [subject(2, "s2", "g01"), subject(3, "s3", "g01")])
        _, before, _ = await pull_all(ws)
        await ws.close()
    finally:
        srv.stop()
    for side in ("-wal", "-shm"):
        if os.path.exists(env.db + side):
            os.remove(env.db + side)
    shutil.copyfile(copy, env.db)
    srv = Server(env)
    try:
        ws, w = await session(srv, env, "tabA")
        assert w["cursor"].split("-")[1] != before.split("-")[1], (w, before)
        # The restored store issues the lost ids again.
        await push(ws, "p3", [subject(2, "s2", "g01"), subject(3, "s3", "g01"),
                              subject(4, "s4", "g01")])
        assert cursor_id(w["cursor"]) < cursor_id(before)
        m = await pull(ws, "old", before)
        assert m["reset"] is True, m
        assert sorted(c["id"] for c in m["changes"]) == ["s1", "s2", "s3", "s4"], m
        await ws.close()
    finally:
        srv.kill()


async def test_resolve_is_audited(env):
    """A resolution writes its audit row in its own transaction: who (the supervisor's user
    id), which conflict, what was chosen and why. A refused one writes none."""
    sup, sup1 = setup(env)
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        await make_conflict(a, b, "s-1", "g01", "employment", "unemployed", "employed",
                            (1, 1, 2))
        cid = api(srv, "/api/conflicts", sup)[1]["conflicts"][0]["id"]
        before = sql_read(env, "SELECT count(*) FROM audit")[0]
        status, got = api(srv, "/api/conflicts/%d/resolve" % cid, sup, "POST", {"choose": "x"})
        assert status == 400, got
        status, got = api(srv, "/api/conflicts/%d/resolve" % cid, sup, "POST",
                          {"choose": "loser", "reason": "called \x1b[31m them"})
        assert status == 200, got
        row = sql_read(env, "SELECT actor, act, target, detail, at_ms FROM audit"
                            " ORDER BY id DESC LIMIT 1")
        assert sql_read(env, "SELECT count(*) FROM audit")[0] == before + 1
        assert row[:4] == ("sup", "resolve", str(cid),
                           "choose=loser field=subjects/s-1.employment reason=called \x1b[31m them"), row
        status, got = api(srv, "/api/conflicts/%d/resolve" % cid, sup, "POST",
                          {"choose": "winner"})
        assert status == 409, got
        assert sql_read(env, "SELECT count(*) FROM audit")[0] == before + 1
        # The CLI lists it, with the control character escaped for the terminal.
        out = env.cli("audit").stdout
        line = [x for x in out.splitlines() if "  resolve  " in x]
        assert len(line) == 1 and "\x1b" not in out, out
        assert line[0].endswith("  sup  resolve  %d  choose=loser field=subjects/s-1.employment"
                                " reason=called \\u001b[31m them" % cid), line
        await a.close()
        await b.close()
    finally:
        srv.kill()
