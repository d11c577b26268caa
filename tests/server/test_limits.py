"""Limits (§2.2, §2.8): max_message (also when deflate is offered), max_batch, back-pressure."""
import asyncio
import json
import os

from vstest import (Server, connect, expect_close, hello, pull_all, push, recv, send, session,
                    subject)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def test_message_over_max_message_closes_1009_plain(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await connect(srv)
        await hello(ws, env, "tabA")
        # Just under the limit is an ordinary (bad) message: the connection stays.
        await ws.send("x" * (1048576 - 10))
        m = await recv(ws)
        assert m["type"] == "error" and m["code"] == "bad_json", m
        await ws.send("x" * (1048576 + 1))
        code, _ = await expect_close(ws)
        assert code == 1009, code
        # The server is fine afterwards.
        ws, _ = await session(srv, env, "tabB")
        await ws.close()
    finally:
        srv.kill()


async def test_message_over_max_message_closes_1009_deflate_offered(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await connect(srv)  # websockets offers permessage-deflate by default
        # The server declines it (lws 4.1.6 breaks with it; test_compression.py).
        assert ws.extensions == [], ws.extensions
        await hello(ws, env, "tabA")
        big = json.dumps({"type": "push", "req": "z", "changes": [],
                          "pad": "a" * (1536 * 1024)})
        await ws.send(big)
        code, seen = await expect_close(ws)
        assert code == 1009, (code, seen)
        assert not any(m.get("type") == "ack" for m in seen), seen
        ws, _ = await session(srv, env, "tabB")
        ack = await push(ws, "ok", [subject(1, "s1", "g01")])
        assert ack["results"][0]["status"] == "applied"
        await ws.close()
    finally:
        srv.kill()


async def test_max_message_option_lowers_the_limit(env):
    env.standard()
    srv = Server(env, "--max-message", "4096")
    try:
        ws = await connect(srv)
        w = await hello(ws, env, "tabA")
        assert w["max_message"] == 4096, w
        await ws.send("y" * 5000)
        code, _ = await expect_close(ws)
        assert code == 1009, code
    finally:
        srv.kill()


async def test_push_over_max_batch_is_refused_whole(env):
    env.standard()
    srv = Server(env)
    try:
        ws, w = await session(srv, env, "tabA")
        changes = [subject(i + 1, "s%d" % i, "g01") for i in range(501)]
        await send(ws, {"type": "push", "req": "big", "changes": changes})
        m = await recv(ws)
        assert m["type"] == "error" and m["code"] == "bad_message" and m["req"] == "big", m
        assert "501" in m["message"] and "500" in m["message"], m
        assert env.sql("SELECT count(*) FROM history")[0][0] == 0
        # Exactly max_batch is fine.
        ack = await push(ws, "ok", changes[:500], timeout=20)
        assert len(ack["results"]) == 500
        await ws.close()
    finally:
        srv.kill()
    srv = Server(env, "--max-batch", "3")
    try:
        ws, w = await session(srv, env, "tabB")
        assert w["max_batch"] == 3
        await send(ws, {"type": "push", "req": "four",
                        "changes": [subject(i + 1, "t%d" % i, "g01") for i in range(4)]})
        m = await recv(ws)
        assert m["code"] == "bad_message" and "3" in m["message"], m
        await ws.close()
    finally:
        srv.kill()


async def test_a_client_that_never_reads_cannot_grow_the_server(env):
    env.standard()
    # Under AddressSanitizer freed memory is quarantined (256 MiB by default), which
    # would show as growth; a small quarantine keeps RSS meaningful. Other builds ignore it.
    asan = os.environ.get("ASAN_OPTIONS", "")
    srv = Server(env, environ={"ASAN_OPTIONS": (asan + ":" if asan else "") +
                               "quarantine_size_mb=4"})
    try:
        ws, _ = await session(srv, env, "tabA")
        await push(ws, "fill", [subject(i + 1, "s%d" % i, "g01", family_notes="n" * 8000)
                                for i in range(50)])
        before = rss_kb(srv.proc.pid)
        n = 300  # each reply is ~400 KiB: 120 MiB if the server buffered them all
        for i in range(n):
            await send(ws, {"type": "pull", "req": "p%d" % i})
        await asyncio.sleep(2)
        grown = rss_kb(srv.proc.pid) - before
        assert grown < 24 * 1024, "the server grew by %d KiB for a client that does not read" \
            % grown
        # Others are still served meanwhile.
        other, _ = await session(srv, env, "tabB")
        items, _, _ = await pull_all(other)
        assert len(items) == 50
        await other.close()
        # Once the client reads, every reply arrives, in order.
        for i in range(n):
            m = await recv(ws, 20)
            if m["type"] == "poke":
                m = await recv(ws, 20)
            assert m["type"] == "changes" and m["req"] == "p%d" % i, (i, m.get("req"))
        await ws.close()
    finally:
        srv.kill()
