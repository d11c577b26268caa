"""Sign-in throttling per peer address (close 4429) and the log of failed sign-ins.

An address gets SRV_THROTTLE_FREE (5) failed sign-ins a minute free; the
failure that uses the last one bans its hellos for 1 s, doubling up to 60 s.
While banned, a hello is refused on the service thread without reaching the
writer; after a ban one hello at a time may try.
"""
import asyncio
import math
import time

from vstest import Server, connect, expect_close, hello, recv, send

FREE = 5
SECRET = "WRONG-token-7f3a9c-do-not-log"


async def attempt(srv, local, device, token):
    """One connection from local that says hello; returns (close code, messages seen)."""
    ws = await connect(srv, local_addr=(local, 0))
    try:
        await send(ws, {"type": "hello", "req": "h", "device": device, "token": token})
        return await expect_close(ws)
    finally:
        await ws.close()


async def test_wrong_tokens_from_one_address_are_throttled(env):
    env.standard()
    srv = Server(env)
    try:
        attempts, conc, rounds = 300, 10, 30
        codes = []
        t0 = time.monotonic()
        for r in range(rounds):  # 10 at once, 30 rounds paced over about 9 s
            codes += [c for c, _ in await asyncio.gather(*(
                attempt(srv, "127.0.0.3", "tabA", SECRET) for _ in range(conc)))]
            await asyncio.sleep(max(0.0, t0 + (r + 1) * 0.3 - time.monotonic()))
        took = time.monotonic() - t0
        checked, throttled = codes.count(4401), codes.count(4429)
        assert checked + throttled == attempts, sorted(set(codes))
        # What reached the writer: the free ones, the first round (sent before any answer
        # came back), then one probe per ban of 1, 2, 4, 8... s.
        bans = math.floor(math.log2(took + 1)) + 1
        bound = FREE + conc + bans
        print("%d wrong-token hellos from one address in %.1fs: %d checked by the writer "
              "(bound %d), %d refused 4429" % (attempts, took, checked, bound, throttled))
        assert checked <= bound, (checked, bound)
        assert throttled >= attempts - bound
        # Every check is logged with the address and the device, never the token.
        log = srv.stderr()
        refusals = [line for line in log.splitlines() if "sign-in refused" in line]
        assert len(refusals) == checked, (len(refusals), checked)
        assert all('device "tabA" from 127.0.0.3' in line for line in refusals), refusals[:3]
        assert "sign-ins from 127.0.0.3 refused for 1 s" in log, log[-2000:]
        assert SECRET not in log
        # A device at another address signs in at once.
        ws = await connect(srv, local_addr=("127.0.0.4", 0))
        await hello(ws, env, "tabB")
        await ws.close()
        assert env.tokens["tabB"] not in srv.stderr()
    finally:
        srv.kill()


async def test_the_sixth_failure_in_a_minute_is_refused_then_the_ban_ends(env):
    env.standard()
    srv = Server(env)
    try:
        for i in range(FREE):
            code, seen = await attempt(srv, "127.0.0.5", "tabA", "wrong-%d" % i)
            assert code == 4401 and seen[0]["code"] == "unauthorized", (i, code, seen)
        # Banned for 1 s: even the right token is not checked now (a welcome elsewhere
        # does not lift the ban either).
        other = await connect(srv, local_addr=("127.0.0.6", 0))
        await hello(other, env, "tabC")
        code, seen = await attempt(srv, "127.0.0.5", "tabB", env.tokens["tabB"])
        assert code == 4429, code
        assert len(seen) == 1 and seen[0]["type"] == "error", seen
        assert seen[0]["code"] == "not_authenticated" and seen[0]["req"] == "h", seen
        assert "too many failed sign-ins from 127.0.0.5" in seen[0]["message"], seen
        await asyncio.sleep(1.2)
        # The ban is over: the right token signs in (one hello at a time may try).
        ws = await connect(srv, local_addr=("127.0.0.5", 0))
        await hello(ws, env, "tabB")
        await send(ws, {"type": "schema", "req": "s"})
        assert (await recv(ws))["type"] == "schema"
        await ws.close()
        await other.close()
    finally:
        srv.kill()


async def test_closing_right_after_a_wrong_hello_still_counts(env):
    """A peer that hangs up before the answer is counted all the same."""
    env.standard()
    srv = Server(env)
    try:
        for i in range(FREE):
            ws = await connect(srv, local_addr=("127.0.0.7", 0))
            await send(ws, {"type": "hello", "device": "tabA", "token": "wrong-%d" % i})
            await ws.close()
        deadline = time.monotonic() + 3
        while srv.stderr().count("sign-in refused") < FREE:
            assert time.monotonic() < deadline, srv.stderr()[-2000:]
            await asyncio.sleep(0.05)
        code, _ = await attempt(srv, "127.0.0.7", "tabA", env.tokens["tabA"])
        assert code == 4429, code
    finally:
        srv.kill()


async def test_empty_token_and_unknown_device_count_as_failures(env):
    env.standard()
    env.cli("device", "revoke", "tabC")
    srv = Server(env)
    try:
        for device, token in (("tabA", ""), ("nosuch", "x"), ("tabC", env.tokens["tabC"]),
                              ("tabA", "wrong"), ("tabB", "")):
            code, _ = await attempt(srv, "127.0.0.8", device, token)
            assert code == 4401, (device, code)
        code, _ = await attempt(srv, "127.0.0.8", "tabA", env.tokens["tabA"])
        assert code == 4429, code
        log = srv.stderr()
        for device in ("tabA", "nosuch", "tabC", "tabB"):
            assert 'device "%s" from 127.0.0.8' % device in log, device
        assert env.tokens["tabC"] not in log
    finally:
        srv.kill()
