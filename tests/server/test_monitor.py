"""The live monitor (docs/protocol.md, "The monitor"): WebSocket /monitor, subprotocol
visitsync.monitor. A hello with a supervisor's or admin's API token is welcomed; anything else
is refused (4401), silence is closed (4408). Then online, offline, push (with its counts),
pull, conflict, enrolled and revoked events arrive, each only to supervisors whose grids meet
the event's; a watcher that never reads is closed (4413) without harming the server."""
import asyncio
import json
import socket
import time

import websockets

import vstest
from vstest import (Server, expect_close, healthz, pull_all, push, recv, send, session,
                    subject, ws_frame, ws_read_frame)

MONITOR = "visitsync.monitor"


def api_token(env, user):
    return env.cli("token", "create", "--user", user).stdout.strip()


def monitor_url(server):
    return "ws://127.0.0.1:%d/monitor" % server.port


async def watch(server, token):
    """A welcomed watcher: (websocket, welcome)."""
    ws = await websockets.connect(monitor_url(server), subprotocols=[MONITOR],
                                  open_timeout=vstest.WAIT, ping_interval=None, max_size=None)
    await send(ws, {"type": "hello", "token": token})
    m = await recv(ws)
    assert m["type"] == "welcome", "hello answered %r" % m
    return ws, m


async def next_event(ws, event, timeout=vstest.WAIT, **match):
    """Skips events until one named event (with the given members) arrives."""
    deadline = time.monotonic() + timeout
    while True:
        m = await recv(ws, max(0.01, deadline - time.monotonic()))
        assert m["type"] == "event", "not an event: %r" % m
        if m["event"] == event and all(m.get(k) == v for k, v in match.items()):
            return m


def check_time(m):
    assert m["time"].endswith("Z") and len(m["time"]) == 24, m["time"]  # ...T10:11:12.345Z


async def test_unauthorized_hello(env):
    env.standard()
    env.user("sup2", "supervisor")
    api_token(env, "sup2")
    srv = Server(env)
    try:
        for token in ("not-a-token", env.tokens["tabA"], env.tokens["tabS"], ""):
            ws = await websockets.connect(monitor_url(srv), subprotocols=[MONITOR],
                                          open_timeout=vstest.WAIT, ping_interval=None)
            await send(ws, {"type": "hello", "token": token})
            code, seen = await expect_close(ws)
            assert code == 4401, "token %r: closed with %s" % (token, code)
            assert seen and seen[0]["type"] == "error" and seen[0]["code"] == "unauthorized", seen
            assert seen[0]["message"], seen
        # A first message that is no hello is refused too.
        ws = await websockets.connect(monitor_url(srv), subprotocols=[MONITOR],
                                      open_timeout=vstest.WAIT, ping_interval=None)
        await send(ws, {"type": "push"})
        code, seen = await expect_close(ws)
        assert code == 4400 and seen[0]["code"] == "bad_message", (code, seen)
    finally:
        srv.kill()


async def test_no_hello_closes_4408(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await websockets.connect(monitor_url(srv), subprotocols=[MONITOR],
                                      open_timeout=vstest.WAIT, ping_interval=None)
        t0 = time.monotonic()
        code, _ = await expect_close(ws, timeout=14)
        took = time.monotonic() - t0
        assert code == 4408, code
        assert 9 <= took <= 13, "closed after %.1f s" % took
    finally:
        srv.kill()


async def test_oversized_message_closes_1009(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await websockets.connect(monitor_url(srv), subprotocols=[MONITOR],
                                      open_timeout=vstest.WAIT, ping_interval=None)
        await ws.send(json.dumps({"type": "hello", "token": "x" * 17000}))
        code, _ = await expect_close(ws)
        assert code == 1009, code
    finally:
        srv.kill()


async def test_events(env):
    env.standard()
    token = api_token(env, "sup")
    srv = Server(env)
    try:
        mon, welcome = await watch(srv, token)
        assert welcome == {"type": "welcome", "user": "sup", "role": "supervisor",
                           "grids": []}, welcome

        ws, _ = await session(srv, env, "tabA")
        m = await next_event(mon, "online", device="tabA")
        assert m["user"] == "c1" and m["grids"] == ["g01"], m
        check_time(m)

        ack = await push(ws, "p1", [subject(1, "s-1", "g01"), subject(2, "s-2", "g01"),
                                    subject(1, "s-1", "g01")])
        m = await next_event(mon, "push", device="tabA")
        assert (m["changes"], m["applied"], m["conflicts"], m["duplicates"], m["rejected"]) == \
            (3, 2, 0, 1, 0), m
        # The same cursor as the ack's, epoch included.
        assert m["cursor"] == ack["cursor"] and m["grids"] == ["g01"], (m, ack)

        items, _, _ = await pull_all(ws)
        m = await next_event(mon, "pull", device="tabA")
        assert m["records"] == len(items) == 2, (m, len(items))

        await ws.close()
        m = await next_event(mon, "offline", device="tabA")
        assert m["user"] == "c1", m

        env.device("tabNew", "c2")
        m = await next_event(mon, "enrolled", timeout=4, device="tabNew")
        assert m["user"] == "c2" and m["grids"] == ["g02"], m
        env.cli("device", "revoke", "tabNew")
        m = await next_event(mon, "revoked", timeout=4, device="tabNew")
        assert m["user"] == "c2" and m["grids"] == ["g02"], m
        # Announced once, although the poll reports a revocation for about two seconds.
        assert await vstest.no_message(mon, 3.5) is None
    finally:
        srv.kill()


async def test_replaced_session_is_not_offline(env):
    env.standard()
    srv = Server(env)
    try:
        mon, _ = await watch(srv, api_token(env, "sup"))
        ws1, _ = await session(srv, env, "tabA")
        await next_event(mon, "online", device="tabA")
        ws2, _ = await session(srv, env, "tabA")  # replaces ws1 (4409)
        await next_event(mon, "online", device="tabA")
        assert await vstest.no_message(mon, 1.0) is None, "an offline for a replaced session"
        await ws2.close()
        await next_event(mon, "offline", device="tabA")
        await ws1.close()
    finally:
        srv.kill()


async def test_conflict_event(env):
    env.standard()
    srv = Server(env)
    try:
        mon, _ = await watch(srv, api_token(env, "sup"))
        a, _ = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        await push(a, "a1", [subject(1, "s-1", "g01", status="voluntary")])
        ack = await push(b, "b1", [subject(1, "s-1", "g01", status="completed")])
        assert ack["results"][0]["status"] == "conflict", ack
        # The push event comes first, then one conflict event per conflicted field.
        m = await next_event(mon, "push", device="tabB")
        assert m["conflicts"] == 1, m
        m = await recv(mon)
        assert m["event"] == "conflict" and m["record"] == "s-1" and m["field"] == "status", m
        assert m["collection"] == "subjects" and m["grid"] == "g01" and m["status"] == "open", m
        assert "id" in m and m["id"] is None, m
        check_time(m)
    finally:
        srv.kill()


async def test_limited_supervisor_sees_only_its_grids(env):
    env.standard()
    env.user("sup1", "supervisor", ["g01"])
    srv = Server(env)
    try:
        mon, welcome = await watch(srv, api_token(env, "sup1"))
        assert welcome["grids"] == ["g01"] and welcome["user"] == "sup1", welcome
        c, _ = await session(srv, env, "tabC")  # g02
        await push(c, "c1", [subject(1, "s-c", "g02")])
        await pull_all(c)
        await c.close()
        a, _ = await session(srv, env, "tabA")  # g01
        # The first event this watcher sees is tabA's: none of tabC's came.
        m = await recv(mon)
        assert m["event"] == "online" and m["device"] == "tabA", m
        await push(a, "a1", [subject(1, "s-a", "g01")])
        m = await recv(mon)
        assert m["event"] == "push" and m["device"] == "tabA", m
        assert await vstest.no_message(mon, 0.5) is None
    finally:
        srv.kill()


async def test_slow_watcher_is_closed(env):
    """A watcher that never reads: its queue passes 1 MiB and it is closed (4413), while
    another watcher and the devices carry on."""
    env.standard()
    token = api_token(env, "sup")
    srv = Server(env)
    try:
        # The slow one: a raw connection with a small receive buffer that is never read.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(("GET /monitor HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n"
                      % MONITOR).encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), vstest.WAIT)
        assert head.startswith(b"HTTP/1.1 101"), head
        writer.write(ws_frame(json.dumps({"type": "hello", "token": token}).encode()))
        op, payload = await ws_read_frame(reader)
        assert op == 1 and json.loads(payload)["type"] == "welcome", payload

        fast, _ = await watch(srv, token)
        a, _ = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        fields = dict(status="voluntary", employment="employed", phone="1", address="x",
                      employer="e", family_notes="n" * 200)
        # Each round: 200 records x 6 conflicted fields, ~1,200 conflict events (~250 KB).
        seq_a = seq_b = 0
        closed = False
        for rnd in range(30):  # bounded: the slow watcher is closed well before
            dev, n = (a, "a") if rnd % 2 == 0 else (b, "b")
            changes = []
            for i in range(200):
                if dev is a:
                    seq_a += 1
                    seq = seq_a
                else:
                    seq_b += 1
                    seq = seq_b
                f = {k: (v if k in ("status", "employment") else v + n + str(rnd))
                     for k, v in fields.items()}
                if rnd % 2:
                    f["status"], f["employment"] = "completed", "unemployed"
                changes.append(subject(seq, "s-%d" % i, "g01", **f))
            await push(dev, "%s%d" % (n, rnd), changes, timeout=20)
            # The fast watcher keeps reading: it must not be closed.
            while True:
                m = await vstest.no_message(fast, 0.05)
                if m is None:
                    break
            if "too slow" in srv.stderr() or "4413" in srv.stderr():
                closed = True
                break
        # The slow watcher's connection ends: its remaining bytes, then a close or EOF.
        got = 0
        deadline = time.monotonic() + 15
        code = None
        while time.monotonic() < deadline:
            op, payload = await ws_read_frame(reader, timeout=10)
            if op is None:
                break
            got += len(payload)
            if op == 8:
                code = int.from_bytes(payload[:2], "big")
                break
        assert time.monotonic() < deadline, "the slow watcher was not closed"
        assert code in (None, 4413), code
        writer.close()
        assert closed or code == 4413, "no sign of the slow watcher being closed"
        # Bounded: what it could still read is the kernel's buffers plus at most 1 MiB queued.
        assert got < 16 << 20, got
        # The server is fine: health, devices and the other watcher.
        assert healthz(srv)[0] == 200
        await push(a, "after", [subject(seq_a + 1, "s-new", "g01")])
        m = await next_event(fast, "push", device="tabA", timeout=10)
        assert m["applied"] == 1, m
    finally:
        srv.kill()
