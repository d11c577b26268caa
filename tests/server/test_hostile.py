"""Peers that never sign in: the pre-hello message cap, --max-conn-per-ip, descriptors.

Before the welcome a connection may send at most 16 KiB (SRV_PREHELLO_MAX) in
one message; over it the server closes with 1009 and frees what it held.
Without the cap each of these connections could make the server hold up to
max_message (1 MiB) for the 10 s a hello may take: the server before the cap
grew by 146 MiB in the first test (limit 60 MiB), with it by about 12 MiB.

The client side needs a descriptor per connection: the first test raises this
process's limit (the server it starts inherits it, and raises its own too).
"""
import asyncio
import json
import os
import resource
import subprocess
import time

import websockets

import vstest
from vstest import (Server, connect, healthz, hello, push, raise_nofile, raw_ws_open, rss_kb,
                    session, subject, ws_close_code, ws_frame)

HOSTILE = 1000
SOURCES = 20           # 127.0.0.1 .. 127.0.0.20: 50 connections each, under the default cap
PARTIAL = 12 * 1024    # a first fragment under the 16 KiB cap: the server must keep it
OVERSIZE = 256 * 1024  # of a frame announcing 1 MiB: the old server kept all of it
GROWTH_MAX_KIB = 60 * 1024


def asan_small_quarantine():
    # AddressSanitizer keeps freed memory in a quarantine (256 MiB by default), which
    # would count as growth; other builds ignore the variable.
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=4"}


# Built once: masking 256 KiB in Python takes longer than a connection.
PARTIAL_FRAME = ws_frame(b"{" + b" " * (PARTIAL - 1), fin=False)  # the rest never comes
# ASCII: a text frame that is not UTF-8 would be closed (1007) for that instead.
OVERSIZE_FRAME = ws_frame(b"[" * OVERSIZE, declared=1 << 20)


async def hostile(srv, i):
    """Opens connection i and sends its pre-hello load; returns (kind, reader, writer)."""
    reader, writer = await raw_ws_open(srv, "127.0.0.%d" % (1 + i % SOURCES), timeout=15)
    kind = "partial" if i % 2 == 0 else "oversized"
    writer.write(PARTIAL_FRAME if kind == "partial" else OVERSIZE_FRAME)
    return kind, reader, writer


async def test_a_thousand_strangers_cannot_grow_the_server(env):
    env.standard()
    limit = raise_nofile(4 * HOSTILE)
    assert limit >= HOSTILE + 100, "the test needs %d descriptors, has %d" % (HOSTILE + 100,
                                                                              limit)
    srv = Server(env, environ=asan_small_quarantine())
    conns = []
    try:
        ws, _ = await session(srv, env, "tabA")  # warms up the threads and the store
        await ws.close()
        before = rss_kb(srv.proc.pid)
        t0 = time.monotonic()
        for start in range(0, HOSTILE, 100):
            conns += await asyncio.gather(*(hostile(srv, i)
                                            for i in range(start, min(start + 100, HOSTILE))))
        await asyncio.gather(*(asyncio.wait_for(w.drain(), 10) for _, _, w in conns),
                             return_exceptions=True)
        opened = time.monotonic() - t0
        await asyncio.sleep(1.0)  # for the server to read what was sent
        during = rss_kb(srv.proc.pid)
        took = time.monotonic() - t0
        assert took < 8, "too slow (%.1fs): the 10 s hello timeout would close them" % took
        grown = during - before
        print("RSS %d KiB before, %d KiB with %d pre-hello connections from %d addresses "
              "(%d sent %d KiB of a fragmented message, %d sent %d KiB of a 1 MiB frame): "
              "grew %d KiB; opened in %.1fs" %
              (before, during, HOSTILE, SOURCES, HOSTILE // 2, PARTIAL // 1024, HOSTILE // 2,
               OVERSIZE // 1024, grown, opened))
        limit = GROWTH_MAX_KIB * (4 if vstest.tsan_build() else 1)  # TSan's shadow memory
        assert grown < limit, "the server grew by %d KiB" % grown
        # The oversized ones were closed: 1009, or only the reset that follows it when
        # the server closes with their unread bytes still in its socket.
        codes = await asyncio.gather(*(ws_close_code(r, 3) for k, r, _ in conns
                                       if k == "oversized"), return_exceptions=True)
        still_open = [c for c in codes if c not in (1009, None)]
        assert not still_open, "oversized pre-hello messages not closed: %r" % still_open[:5]
        print("oversized: %d closed 1009, %d reset" % (codes.count(1009), codes.count(None)))
        # Meanwhile the server serves: health, and a device signs in and pushes.
        assert srv.proc.poll() is None, srv.stderr()[-2000:]
        assert healthz(srv) == (200, {"status": "ok"})
        ws, _ = await session(srv, env, "tabB")
        ack = await push(ws, "ok", [subject(1, "s1", "g01")])
        assert ack["results"][0]["status"] == "applied", ack
        await ws.close()
    finally:
        for _, _, w in conns:
            w.close()
        srv.kill()


async def test_partial_hello_under_the_cap_still_signs_in(env):
    """A hello sent in fragments, just under 16 KiB in all, is read and answered."""
    env.standard()
    srv = Server(env)
    try:
        text = json.dumps({"type": "hello", "device": "tabA", "token": env.tokens["tabA"],
                           "app": "field/1.3.0"})
        text = text[:-1] + " " * (16 * 1024 - len(text)) + "}"
        assert len(text) == 16 * 1024
        ws = await connect(srv)
        await ws.send([text[i:i + 4000] for i in range(0, len(text), 4000)])
        m = await asyncio.wait_for(ws.recv(), 5)
        assert '"welcome"' in m, m
        # After the welcome the ordinary max_message applies again.
        await ws.send("x" * 100000)
        m = await asyncio.wait_for(ws.recv(), 5)
        assert "bad_json" in m, m
        await ws.close()
        ws = await connect(srv)
        await ws.send(text + " ")
        try:
            await asyncio.wait_for(ws.recv(), 5)
            raise AssertionError("a pre-hello message over 16 KiB was not closed")
        except websockets.ConnectionClosed as e:
            assert e.code == 1009, e.code
    finally:
        srv.kill()


async def test_connections_per_address_are_capped(env):
    env.standard()
    srv = Server(env, "--max-conn-per-ip", "4")
    try:
        mine = [await connect(srv, local_addr=("127.0.0.1", 0)) for _ in range(4)]
        try:
            extra = await connect(srv, local_addr=("127.0.0.1", 0))
            await extra.close()
            raise AssertionError("the 5th connection from 127.0.0.1 was accepted")
        except websockets.InvalidStatusCode as e:
            assert e.status_code == 429, e
        # Another address is not affected, and a connection under the cap works.
        other = await connect(srv, local_addr=("127.0.0.2", 0))
        await hello(other, env, "tabB")
        await hello(mine[0], env, "tabA")
        ack = await push(mine[0], "b1", [subject(1, "s1", "g01")])
        assert ack["results"][0]["status"] == "applied", ack
        await other.close()
        # A connection that closes frees its place.
        await mine[1].close()
        deadline = time.monotonic() + 3
        while True:
            try:
                again = await connect(srv, local_addr=("127.0.0.1", 0))
                break
            except websockets.InvalidStatusCode:
                assert time.monotonic() < deadline, "the closed connection still counts"
                await asyncio.sleep(0.05)
        await hello(again, env, "tabC")
        await again.close()
        for ws in mine:
            await ws.close()
        log = srv.stderr()
        assert "refused 1 connection(s) from 127.0.0.1" in log, log
    finally:
        srv.kill()


async def test_out_of_descriptors_is_survived_and_logged_briefly(env):
    """With its descriptors used up, lws retries accept() in a tight loop and logs each
    failure; the server folds the repeats, keeps its connections and recovers."""
    env.standard()

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
    srv = Server(env, preexec_fn=low_limit)
    conns = []
    try:
        ws, _ = await session(srv, env, "tabA")
        results = await asyncio.gather(*(raw_ws_open(srv, "127.0.0.%d" % (1 + i % 8), timeout=1)
                                         for i in range(150)), return_exceptions=True)
        conns = [c for c in results if not isinstance(c, BaseException)]
        assert 60 < len(conns) < 150, len(conns)
        await asyncio.sleep(1.5)
        # The connection made before still works.
        ack = await push(ws, "b1", [subject(1, "s1", "g01")])
        assert ack["results"][0]["status"] == "applied", ack
        for _, w in conns:
            w.close()
        conns = []
        deadline = time.monotonic() + 5
        while True:
            try:  # in a thread: the loop must run for the closes above to happen
                assert await asyncio.to_thread(healthz, srv) == (200, {"status": "ok"})
                break
            except OSError as e:
                assert time.monotonic() < deadline, "no recovery: %r" % e
                await asyncio.sleep(0.1)
        await ws.close()
        log = srv.stderr()
        print("%d connections fit; %d log lines, %d of them accept errors" %
              (len(results) - sum(isinstance(c, BaseException) for c in results),
               log.count("\n"), log.count("errno 24")))
        assert "only 128 file descriptors" in log, log[:500]
        assert log.count("\n") < 100, log[-2000:]
    finally:
        for _, w in conns:
            w.close()
        srv.kill()


def test_max_conn_per_ip_is_validated(env):
    for bad in ("-1", "x", "1000001"):
        p = subprocess.run([vstest.BIN, "--db", env.db, "serve", "--max-conn-per-ip", bad],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "--max-conn-per-ip" in p.stderr, (bad, p.stderr)
