"""Revocation at once (contract §1, `device revoke`; §2.1): no change of a revoked device
commits after `visitsync device revoke` returned, the push that meets the revocation is
answered `unauthorized` and the connection is closed with 4401; an empty token is
`unauthorized` too."""
import asyncio
import time

import websockets

import vstest
from vstest import Server, connect, expect_close, recv, send, session, subject

IN_FLIGHT = 6      # pushes sent and not yet answered
PER_PUSH = 20      # changes per push
WARM_ACKS = 10     # acks seen before the revoke, so that pushes are flowing


def applied(env, device):
    """How many changes of device the store has merged (the history keeps every one)."""
    return env.sql("SELECT count(*) FROM history WHERE device = ?"
                   " AND outcome IN ('applied', 'conflict')", device)[0][0]


async def revoke(env, device):
    """Runs `visitsync device revoke` as another process; returns when it has returned."""
    proc = await asyncio.create_subprocess_exec(
        vstest.BIN, "--db", env.db, "device", "revoke", device,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, "revoke failed: %s" % err.decode()


async def test_no_change_commits_after_revoke_returned(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        window = asyncio.Semaphore(IN_FLIGHT)
        acks, errors = [], []
        closed = asyncio.get_running_loop().create_future()
        warm = asyncio.Event()

        async def sender():
            seq = 0
            for k in range(100000):  # bounded: the connection closes long before
                await window.acquire()
                changes = []
                for _ in range(PER_PUSH):
                    seq += 1
                    changes.append(subject(seq, "s-%d" % seq, "g01"))
                try:
                    await send(ws, {"type": "push", "req": "b%d" % k, "changes": changes})
                except websockets.ConnectionClosed:
                    return

        async def receiver():
            try:
                while True:
                    m = await recv(ws, 10)
                    if m["type"] == "ack":
                        acks.append(m)
                        if len(acks) >= WARM_ACKS:
                            warm.set()
                    elif m["type"] == "error":
                        errors.append(m)
                    else:
                        continue  # a poke
                    window.release()
            except websockets.ConnectionClosed as e:
                closed.set_result(e.code)

        tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
        await asyncio.wait_for(warm.wait(), 20)
        await revoke(env, "tabA")
        returned = time.time()
        # Read the store at once: whatever the server commits from now on would add to it.
        at_return = applied(env, "tabA")
        code = await asyncio.wait_for(closed, 5)
        took = time.time() - returned
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        after_close = applied(env, "tabA")

        assert code == 4401, code
        assert took < 2.5, "closed %.2f s after the revoke returned" % took
        assert at_return > 0 and len(acks) >= WARM_ACKS, (at_return, len(acks))
        assert after_close == at_return, (
            "%d changes of the revoked device were committed after revoke returned"
            % (after_close - at_return))
        assert errors, "no error told the device why it was closed"
        for e in errors:
            assert e["code"] == "unauthorized" and "revoked" in e["message"], e
        # The push that met the revocation is answered in its own place, echoing its req.
        refused = [e for e in errors if e.get("req")]
        for e in refused:
            assert "nothing of this push was applied" in e["message"], e
        # Every change acked as applied is in the store, at least at that rev.
        revs = dict(env.sql("SELECT id, rev FROM records WHERE collection = 'subjects'"))
        n_applied = 0
        for a in acks:
            for r in a["results"]:
                assert r["status"] == "applied", r
                assert revs.get(r["id"], 0) >= r["rev"], r
                n_applied += 1
        assert n_applied <= at_return
        await ws.close()
    finally:
        srv.kill()


async def test_push_right_after_revoke_is_refused(env):
    """A device (a cadre's and a supervisor's) pushing just after its revoke returned:
    nothing is applied and the connection closes with 4401."""
    env.standard()
    srv = Server(env)
    try:
        for device, grid in (("tabB", "g01"), ("tabS", "g02")):
            ws, _ = await session(srv, env, device)
            await revoke(env, device)
            try:
                await send(ws, {"type": "push", "req": "late",
                                "changes": [subject(1, "late-" + device, grid)]})
            except websockets.ConnectionClosed:
                pass
            code, seen = await expect_close(ws, 4)
            assert code == 4401, (device, code)
            assert seen and seen[-1]["type"] == "error", (device, seen)
            assert seen[-1]["code"] == "unauthorized", (device, seen)
            assert "revoked" in seen[-1]["message"], (device, seen)
            assert seen[-1].get("req") in (None, "late"), (device, seen)
            assert env.sql("SELECT count(*) FROM history WHERE device = ?", device) == [(0,)]
            assert env.sql("SELECT count(*) FROM records WHERE id = ?", "late-" + device) == [(0,)]
        # Others are untouched.
        ws, _ = await session(srv, env, "tabA")
        await send(ws, {"type": "push", "req": "ok", "changes": [subject(1, "s-ok", "g01")]})
        m = await recv(ws)
        assert m["type"] == "ack" and m["results"][0]["status"] == "applied", m
        await ws.close()
    finally:
        srv.kill()


async def test_empty_token_is_unauthorized(env):
    """Contract v1.1: an empty token is `unauthorized` and closes with 4401 (not
    `bad_message`)."""
    env.standard()
    srv = Server(env)
    try:
        for device in ("tabA", "nosuch"):
            ws = await connect(srv)
            await send(ws, {"type": "hello", "req": "h", "device": device, "token": ""})
            code, seen = await expect_close(ws)
            assert code == 4401, (device, code)
            assert len(seen) == 1 and seen[0]["type"] == "error", seen
            assert seen[0]["code"] == "unauthorized" and seen[0]["req"] == "h", seen
        ws, _ = await session(srv, env, "tabA")
        await ws.close()
    finally:
        srv.kill()
