"""Keep-alive (--ping-interval, --idle-timeout): pings, and peers that never answer them.

The server (server/srv_keepalive.c) pings a WebSocket --ping-interval
seconds after the upgrade or its last pong and drops it (no close frame: the
TCP connection is closed) when no pong came --idle-timeout seconds after the
last one. Only a pong counts: messages do not. Tablets' sessions and
supervisors' monitors alike.
"""
import asyncio
import subprocess
import time

import websockets

import vstest
from vstest import Server, connect, hello, raw_ws_open, recv, send, ws_read_frame

PING, IDLE = 1, 3


async def until_dropped(reader, limit):
    """Reads (never answering) until the server ends the stream; returns (seconds, pings)."""
    t0 = time.monotonic()
    pings = 0
    while time.monotonic() - t0 < limit:
        try:
            op, _ = await ws_read_frame(reader, limit)
        except (asyncio.TimeoutError, ConnectionError):
            break
        if op is None:
            break
        pings += op == 9
    return time.monotonic() - t0, pings


async def test_a_peer_that_never_answers_pings_is_dropped(env):
    env.standard()
    srv = Server(env, "--ping-interval", str(PING), "--idle-timeout", str(IDLE))
    try:
        # A raw peer: the upgrade, then silence (it reads, but never pongs).
        reader, writer = await raw_ws_open(srv)
        # A signed-in client whose automatic pongs are switched off.
        mute = await connect(srv)
        await hello(mute, env, "tabA")

        async def no_pong(data=b""):
            return None
        mute.pong = no_pong
        # A live client: websockets answers every ping while it reads in the background.
        live = await connect(srv)
        await hello(live, env, "tabB")

        took, pings = await until_dropped(reader, IDLE + 4)
        writer.close()
        print("silent peer dropped after %.1fs (%d ping(s) seen)" % (took, pings))
        assert IDLE - 1 <= took <= IDLE + 2, took
        assert pings >= 1, pings
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(mute.recv(), IDLE + 2)
            raise AssertionError("the mute client got a message")
        except websockets.ConnectionClosed as e:
            assert e.code == 1006, e.code  # dropped without a close frame
        print("mute client dropped %.1fs after the silent one" % (time.monotonic() - t0))
        # The live one is kept past several intervals and still served.
        await asyncio.sleep(2 * IDLE - (time.monotonic() - t0))
        await send(live, {"type": "schema", "req": "s"})
        assert (await recv(live))["type"] == "schema"
        await live.close()
    finally:
        srv.kill()


async def test_a_silent_monitor_is_dropped_too(env):
    env.standard()
    srv = Server(env, "--ping-interval", str(PING), "--idle-timeout", str(IDLE))
    try:
        reader, writer = await raw_ws_open(srv, path="/monitor", subprotocol="visitsync.monitor")
        took, pings = await until_dropped(reader, IDLE + 14)
        writer.close()
        print("silent monitor dropped after %.1fs (%d ping(s) seen)" % (took, pings))
        # Its hello deadline is 10 s: the keep-alive must come first.
        assert IDLE - 1 <= took <= IDLE + 2, took
        assert pings >= 1, pings
    finally:
        srv.kill()


async def test_messages_alone_do_not_keep_a_connection(env):
    """A client that keeps sending but never pongs is dropped all the same."""
    env.standard()
    srv = Server(env, "--ping-interval", str(PING), "--idle-timeout", str(IDLE))
    try:
        ws = await connect(srv)
        await hello(ws, env, "tabA")

        async def no_pong(data=b""):
            return None
        ws.pong = no_pong
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < IDLE + 3:
                await send(ws, {"type": "schema", "req": "s"})
                await recv(ws)
                await asyncio.sleep(0.2)
            raise AssertionError("still connected after %.1fs" % (time.monotonic() - t0))
        except websockets.ConnectionClosed:
            pass
        took = time.monotonic() - t0
        assert took <= IDLE + 2, took
    finally:
        srv.kill()


def test_keepalive_options_are_validated(env):
    for args, word in ((["--ping-interval", "0"], "--ping-interval"),
                       (["--ping-interval", "5", "--idle-timeout", "5"], "idle timeout"),
                       (["--ping-interval", "10", "--idle-timeout", "3"], "idle timeout"),
                       (["--idle-timeout", "70000"], "--idle-timeout"),
                       (["--ping-interval", "x"], "--ping-interval")):
        p = subprocess.run([vstest.BIN, "--db", env.db, "serve", *args],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and word in p.stderr and p.stdout == "", (args, p.stderr)
