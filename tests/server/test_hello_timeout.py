"""A connection that sends no hello within 10 s is closed with 4408 (§2.1).

Kept apart from test_basic so its 10 s wait runs in parallel with the rest.
"""
import asyncio
import time

from vstest import Server, connect, expect_close, recv, send, session


async def test_no_hello_within_ten_seconds_closes_4408(env):
    env.standard()
    srv = Server(env)
    try:
        silent = await connect(srv)
        # Messages that are not hello do not count as one.
        chatty = await connect(srv)
        await send(chatty, {"type": "pull", "req": "p"})
        assert (await recv(chatty))["code"] == "not_authenticated"
        # A device that said hello is not affected.
        ok, _ = await session(srv, env, "tabA")
        t0 = time.monotonic()
        code, _ = await expect_close(silent, 14)
        took = time.monotonic() - t0
        assert code == 4408, code
        assert 8 < took < 12.5, took
        code, _ = await expect_close(chatty, 3)
        assert code == 4408, code
        await send(ok, {"type": "schema", "req": "s"})
        assert (await recv(ok))["type"] == "schema"
        await ok.close()
    finally:
        srv.kill()
