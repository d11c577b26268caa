"""Authentication: bad tokens, unknown and revoked devices (4401), replacement (4409)."""
import asyncio
import time

from vstest import Server, connect, expect_close, push, recv, send, session, subject


async def refused(srv, device, token):
    ws = await connect(srv)
    await send(ws, {"type": "hello", "req": "h", "device": device, "token": token})
    code, seen = await expect_close(ws)
    return code, seen


async def test_bad_token_unknown_and_revoked_device(env):
    env.standard()
    env.cli("device", "revoke", "tabC")
    srv = Server(env)
    try:
        for device, token in (("tabA", "wrong-token"), ("tabA", env.tokens["tabB"]),
                              ("nosuch", env.tokens["tabA"]), ("tabC", env.tokens["tabC"])):
            code, seen = await refused(srv, device, token)
            assert code == 4401, (device, code)
            assert len(seen) == 1 and seen[0]["type"] == "error", seen
            assert seen[0]["code"] == "unauthorized" and seen[0]["req"] == "h", seen
        # The right token still works.
        ws, w = await session(srv, env, "tabA")
        assert w["user"] == "c1"
        await ws.close()
    finally:
        srv.kill()


async def test_revoke_while_connected_closes_within_a_second(env):
    env.standard()
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        other, _ = await session(srv, env, "tabB")
        t0 = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: env.cli("device", "revoke", "tabA"))
        code, seen = await expect_close(ws, 4)
        took = time.monotonic() - t0
        assert code == 4401, code
        assert took < 2.5, "closed after %.2fs" % took
        assert seen and seen[-1]["code"] == "unauthorized", seen
        # Another device is untouched, and the revoked one cannot come back.
        await send(other, {"type": "schema", "req": "s"})
        assert (await recv(other))["type"] == "schema"
        code, _ = await refused(srv, "tabA", env.tokens["tabA"])
        assert code == 4401
        await other.close()
    finally:
        srv.kill()


async def test_same_device_again_replaces_the_older_connection(env):
    env.standard()
    srv = Server(env)
    try:
        old, _ = await session(srv, env, "tabA")
        new, _ = await session(srv, env, "tabA")
        code, _ = await expect_close(old)
        assert code == 4409, code
        ack = await push(new, "b1", [subject(1, "s1", "g01")])
        assert ack["results"][0]["status"] == "applied", ack
        await new.close()
    finally:
        srv.kill()


async def test_hello_with_wrong_types_is_bad_message_not_a_crash(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await connect(srv)
        for bad in ({"type": "hello"}, {"type": "hello", "device": 5, "token": "x"},
                    {"type": "hello", "device": "tabA", "token": env.tokens["tabA"],
                     "pending": "many"}):
            await send(ws, bad)
            m = await recv(ws)
            assert m["type"] == "error" and m["code"] == "bad_message", (bad, m)
        ws2, _ = await session(srv, env, "tabA")
        await ws2.close()
        await ws.close()
    finally:
        srv.kill()
