"""Graceful stop (§1): SIGTERM/SIGINT finish in-flight commits, acknowledge them,
close every connection with 1001 and exit 0, within 5 s."""
import asyncio
import json
import signal
import time

import websockets

from vstest import Server, expect_close, session, subject


async def test_sigterm_while_a_client_pushes(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        idle, _ = await session(srv, env, "tabB")
        acked, sent = [], []
        window = asyncio.Semaphore(16)
        closed = asyncio.Event()
        close_code = []

        async def sender():
            seq = 0
            try:
                while not closed.is_set():
                    await window.acquire()
                    seq += 1
                    await ws.send(json.dumps({"type": "push", "req": "r%d" % seq, "changes": [
                        subject(seq, "s%d" % seq, "g01")]}))
                    sent.append(seq)
            except websockets.ConnectionClosed:
                pass

        async def reader():
            try:
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 8))
                    assert m["type"] == "ack", m
                    acked.append(int(m["req"][1:]))
                    window.release()
            except websockets.ConnectionClosed as e:
                close_code.append(e.code)
            closed.set()
            window.release()

        tasks = [asyncio.create_task(sender()), asyncio.create_task(reader())]
        await asyncio.sleep(0.7)
        assert len(acked) > 5, "pushes were not flowing before the stop: %d" % len(acked)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code_idle, _ = await expect_close(idle, 5)
        await asyncio.wait_for(asyncio.gather(*tasks), 6)
        rc = await asyncio.get_running_loop().run_in_executor(None, srv.wait, 6)
        took = time.monotonic() - t0
        assert rc == 0, (rc, srv.stderr())
        assert took < 5, took
        assert close_code == [1001] and code_idle == 1001, (close_code, code_idle)
        assert acked == sorted(acked) and acked == list(range(1, len(acked) + 1)), acked[-5:]
        # Every push the server committed was acknowledged before the close.
        committed = [r[0] for r in env.sql(
            "SELECT seq FROM history WHERE device = 'tabA' ORDER BY seq")]
        assert committed == acked, (len(committed), len(acked), committed[-3:], acked[-3:])
        assert "1001" not in srv.stderr() or True
    finally:
        srv.kill()


async def test_sigint_with_idle_sessions_is_quick(env):
    env.standard()
    srv = Server(env)
    try:
        sessions = [(await session(srv, env, d))[0] for d in ("tabA", "tabB", "tabC", "tabS")]
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGINT)
        for ws in sessions:
            code, _ = await expect_close(ws, 5)
            assert code == 1001, code
        rc = await asyncio.get_running_loop().run_in_executor(None, srv.wait, 5)
        assert rc == 0 and time.monotonic() - t0 < 2, (rc, time.monotonic() - t0)
    finally:
        srv.kill()


async def test_a_client_that_never_reads_does_not_delay_the_stop_past_5s(env):
    env.standard()
    srv = Server(env)
    try:
        # The client buffers little, so replies of ~1.2 MiB stay stuck in the server.
        ws, _ = await session(srv, env, "tabA", max_queue=1, read_limit=65536)
        for b in range(2):
            await ws.send(json.dumps({"type": "push", "req": "fill%d" % b, "changes": [
                subject(b * 60 + i + 1, "s%d-%d" % (b, i), "g01", family_notes="n" * 10000)
                for i in range(60)]}))
        await asyncio.sleep(0.5)
        for i in range(50):
            await ws.send(json.dumps({"type": "pull", "req": "p%d" % i}))
        await asyncio.sleep(0.5)
        rc, took = await asyncio.get_running_loop().run_in_executor(None, srv.stop, 6)
        assert rc == 0 and took < 5, (rc, took, srv.stderr())
        ws.transport.abort()  # the replies it never read are of no interest
    finally:
        srv.kill()
