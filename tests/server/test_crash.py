"""Durability (§2.2): an ack is sent only after COMMIT, so kill -9 loses nothing acked,
and re-sending after a crash never applies a change twice."""
import asyncio
import json
import signal

import websockets

from vstest import Server, connect, hello, pull_all, recv, send, subject

DEVICES = ("tabA", "tabB", "tabC", "tabS")
GRID = {"tabA": "g01", "tabB": "g01", "tabC": "g02", "tabS": "g01"}
PER_PUSH = 5


def push_msg(device, k):
    """Push number k (1-based) of device: PER_PUSH new records, seqs (k-1)*PER_PUSH+1…"""
    base = (k - 1) * PER_PUSH
    return {"type": "push", "req": "%s-%d" % (device, k), "changes": [
        subject(base + i + 1, "%s-r%d" % (device, base + i + 1), GRID[device])
        for i in range(PER_PUSH)]}


async def pusher(srv, env, device, acked, stop):
    """Pushes in a loop, 8 in flight; records the pushes acknowledged, in order."""
    ws = await connect(srv)
    await hello(ws, env, device)
    window = asyncio.Semaphore(8)
    k = 0

    async def reader():
        try:
            while True:
                m = json.loads(await ws.recv())
                if m["type"] != "ack":
                    continue
                acked.append(int(m["req"].rsplit("-", 1)[1]))
                window.release()
        except websockets.ConnectionClosed:
            pass

    rt = asyncio.create_task(reader())
    try:
        while not stop.is_set():
            await asyncio.wait_for(window.acquire(), 5)
            k += 1
            await ws.send(json.dumps(push_msg(device, k)))
    except (websockets.ConnectionClosed, asyncio.TimeoutError, ConnectionError):
        pass
    await asyncio.wait_for(rt, 5)
    return k


async def test_kill_9_under_load_then_resend(env):
    env.standard()
    srv = Server(env)
    acked = {d: [] for d in DEVICES}
    sent = {}
    try:
        stop = asyncio.Event()
        tasks = {d: asyncio.create_task(pusher(srv, env, d, acked[d], stop)) for d in DEVICES}
        await asyncio.sleep(1.5)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=5)
        stop.set()
        for d, t in tasks.items():
            sent[d] = await asyncio.wait_for(t, 10)
    finally:
        srv.kill()
    total_acked = sum(len(a) for a in acked.values())
    print("acked", {d: len(a) for d, a in acked.items()}, "sent", sent)
    assert total_acked >= 8, "too little load before the kill: %r" % {
        d: len(a) for d, a in acked.items()}
    for d in DEVICES:
        assert acked[d] == list(range(1, len(acked[d]) + 1)), (d, acked[d][-5:])

    # Everything acknowledged survived the kill.
    for d in DEVICES:
        seqs = {r[0] for r in env.sql("SELECT seq FROM history WHERE device = ? "
                                      "AND outcome = 'applied'", d)}
        want = set(range(1, len(acked[d]) * PER_PUSH + 1))
        assert want <= seqs, (d, sorted(want - seqs)[:5])

    # Restart on the same file; every client re-sends from its first unacked push.
    srv = Server(env)
    try:
        for d in DEVICES:
            ws = await connect(srv)
            await hello(ws, env, d)
            for k in range(len(acked[d]) + 1, sent[d] + 1):
                await send(ws, push_msg(d, k))
                m = await recv(ws, 10)
                assert m["type"] == "ack", m
                assert all(r["status"] in ("applied", "duplicate") for r in m["results"]), m
            items, _, _ = await pull_all(ws)
            if d == "tabC":
                ids = sorted(i["id"] for i in items)
                want = sorted("tabC-r%d" % s for s in range(1, sent[d] * PER_PUSH + 1))
                assert ids == want, (len(ids), len(want))
            await ws.close()
    finally:
        srv.kill()

    # Each (device, seq) applied exactly once; every record at rev 1.
    dup = env.sql("SELECT device, seq, count(*) FROM history WHERE outcome = 'applied' "
                  "GROUP BY device, seq HAVING count(*) > 1")
    assert dup == [], dup[:5]
    for d in DEVICES:
        n = env.sql("SELECT count(*) FROM history WHERE device = ? AND outcome = 'applied'",
                    d)[0][0]
        assert n == sent[d] * PER_PUSH, (d, n, sent[d])
    revs = env.sql("SELECT rev, count(*) FROM records GROUP BY rev")
    assert revs == [(1, sum(sent.values()) * PER_PUSH)], revs
