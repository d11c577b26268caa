"""Photo upload over the sync socket (docs/protocol.md §2.6): a 5 MiB photo resumed after
the connection was cut (between chunks and in the middle of one) and after a restart;
pipelined chunks; a corrupt upload; every malformed chunk; --max-blob on the wire and on the
command line; the same photo from two tablets at once; a tablet of another grid that must
upload a photo itself; a connection that offers compression."""
import asyncio
import hashlib

from test_api import request, token
from test_compression import assert_no_extension
from vstest import (CHUNK, Server, blob_chunk, blob_offer, blob_send, connect, expect_close,
                    hello, photo, recv, recv_type, session, ws_frame)

BIG = 5 * 1024 * 1024 + 12345  # 21 chunks, the last one short


def get_blob(srv, sha, tok):
    """(status, body) of GET /blobs/<sha> with a Bearer token."""
    status, _, body = request(srv, "GET", "/blobs/" + sha, token=tok)
    return status, body


async def bad_chunk(ws, msg, *words):
    """Sends a binary message that must be refused; checks the error names every word."""
    await ws.send(msg)
    m = await recv_type(ws, "blob_status")
    assert m["type"] == "error" and m["code"] == "bad_message", m
    for w in words:
        assert str(w) in m["message"], "%r does not name %r" % (m["message"], w)
    return m


async def test_cut_between_chunks_and_in_a_chunk_then_resume(env):
    env.standard()
    sup = token(env, "sup")
    data, sha = photo(BIG)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        st = await blob_offer(ws, "o1", sha, len(data))
        assert st == {"type": "blob_status", "req": "o1", "sha256": sha, "have": 0,
                      "complete": False}, st
        # Half the chunks acknowledged one by one, two more sent unanswered, then the
        # connection dies without a close frame.
        await blob_send(ws, sha, data, 0, 10 * CHUNK)
        for off in (10 * CHUNK, 11 * CHUNK):
            await ws.send(blob_chunk(sha, off, data[off:off + CHUNK]))
        ws.transport.abort()
        await asyncio.sleep(0.3)  # as a tablet does before it tries again

        ws, _ = await session(srv, env, "tabA")
        st = await blob_offer(ws, "o2", sha, len(data))
        assert st["have"] in (10 * CHUNK, 11 * CHUNK, 12 * CHUNK) and not st["complete"], st
        have = st["have"]
        await blob_send(ws, sha, data, have, have + 2 * CHUNK)
        have += 2 * CHUNK
        # A chunk cut in the middle of its frame: the half that arrived is not kept.
        frame = ws_frame(blob_chunk(sha, have, data[have:have + CHUNK]), opcode=2)
        ws.transport.write(frame[:len(frame) // 2])
        await asyncio.sleep(0.2)
        ws.transport.abort()
        await asyncio.sleep(0.3)

        ws, _ = await session(srv, env, "tabA")
        st = await blob_offer(ws, "o3", sha, len(data))
        assert st["have"] == have and not st["complete"], (st, have)
        last = await blob_send(ws, sha, data, have)
        assert last["complete"], last
        # Offered again once complete: nothing more to send.
        st = await blob_offer(ws, "o4", sha, len(data))
        assert st == {"type": "blob_status", "req": "o4", "sha256": sha, "have": len(data),
                      "complete": True}, st
        assert get_blob(srv, sha, sup) == (200, data)
        await ws.close()
    finally:
        srv.kill()


async def test_pipelined_chunks(env):
    env.standard()
    data, sha = photo(BIG)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        assert (await blob_offer(ws, "o", sha, len(data)))["have"] == 0
        # Every chunk sent before the first status is read; the statuses come in order.
        last = await blob_send(ws, sha, data, 0, window=1000)
        assert last["complete"], last
        assert get_blob(srv, sha, env.tokens["tabB"]) == (200, data)
        await ws.close()
    finally:
        srv.kill()


async def test_restart_mid_upload_keeps_have(env):
    env.standard()
    data, sha = photo(BIG)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        assert (await blob_offer(ws, "o", sha, len(data)))["have"] == 0
        await blob_send(ws, sha, data, 0, 8 * CHUNK)
        for off in (8 * CHUNK, 9 * CHUNK):
            await ws.send(blob_chunk(sha, off, data[off:off + CHUNK]))
        rc, _ = srv.stop()
        assert rc == 0, srv.stderr()[-2000:]
        code, _ = await expect_close(ws)
        assert code == 1001, code

        srv = Server(env)
        ws, _ = await session(srv, env, "tabA")
        st = await blob_offer(ws, "o", sha, len(data))
        # What was acknowledged survived; what was in flight at SIGTERM may have too.
        assert st["have"] in (8 * CHUNK, 9 * CHUNK, 10 * CHUNK) and not st["complete"], st
        assert (await blob_send(ws, sha, data, st["have"], window=4))["complete"]
        assert get_blob(srv, sha, env.tokens["tabA"]) == (200, data)
        await ws.close()
    finally:
        srv.kill()


async def test_corrupt_upload_is_discarded(env):
    env.standard()
    data, sha = photo(3 * CHUNK + 100)
    wrong = bytearray(data)
    wrong[2 * CHUNK + 7] ^= 0xff
    wrong = bytes(wrong)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        assert (await blob_offer(ws, "o1", sha, len(data)))["have"] == 0
        await blob_send(ws, sha, wrong, 0, 3 * CHUNK)
        await ws.send(blob_chunk(sha, 3 * CHUNK, wrong[3 * CHUNK:]))
        m = await recv_type(ws, "blob_status")
        assert m["type"] == "error" and m["code"] == "blob_corrupt", m
        for w in (sha, str(len(data)), hashlib.sha256(wrong).hexdigest(),
                  "offer it again"):
            assert w in m["message"], (w, m)
        assert get_blob(srv, sha, env.tokens["tabA"])[0] == 404
        # Nothing of the bad upload is kept: a new offer starts from 0 and can complete.
        st = await blob_offer(ws, "o2", sha, len(data))
        assert st["have"] == 0 and not st["complete"], st
        assert (await blob_send(ws, sha, data, 0, window=4))["complete"]
        assert get_blob(srv, sha, env.tokens["tabA"]) == (200, data)
        await ws.close()
    finally:
        srv.kill()


async def test_bad_chunks_are_refused_and_change_nothing(env):
    env.standard()
    data, sha = photo(CHUNK + 40000)
    other, osha = photo(1000)
    srv = Server(env)
    try:
        # Before hello.
        ws = await connect(srv)
        await ws.send(blob_chunk(sha, 0, data[:100]))
        m = await recv(ws)
        assert m["type"] == "error" and m["code"] == "not_authenticated", m
        await hello(ws, env, "tabA")

        # A sha never offered (by this device).
        await bad_chunk(ws, blob_chunk(osha, 0, other), osha[:12])
        # Offers that cannot be read: each refused with its req, nothing started.
        for n, (bad_sha, size) in enumerate(((sha.upper(), 10), (sha[:63], 10), ("", 10),
                                             (sha, 0), (sha, -1), (sha, "10"), (sha, 1.5))):
            m = await blob_offer(ws, "bad%d" % n, bad_sha, size, refused=True)
            assert m["code"] == "bad_message", m
        assert (await blob_offer(ws, "o", sha, len(data)))["have"] == 0
        await blob_send(ws, sha, data, 0, CHUNK - 1000)
        have = CHUNK - 1000
        # Offsets other than have, behind it and ahead of it.
        for off in (0, have - 1, have + 1, have + 1000):
            await bad_chunk(ws, blob_chunk(sha, off, data[off:off + 10] or b"x"),
                            sha[:12], off, have)
        # More than 256 KiB of data; past the offered size; no data; shorter than the header.
        await bad_chunk(ws, blob_chunk(sha, have, bytes(CHUNK + 1)), CHUNK)
        await bad_chunk(ws, blob_chunk(sha, have, data[have:] + b"!"), sha[:12], len(data))
        await bad_chunk(ws, blob_chunk(sha, have, b""))
        await bad_chunk(ws, bytes.fromhex(sha)[:20])
        # The upload is as it was: offered again, it resumes from the same have.
        st = await blob_offer(ws, "o2", sha, len(data))
        assert st["have"] == have and not st["complete"], st
        assert (await blob_send(ws, sha, data, have))["complete"]
        # Another device has not offered this sha: its chunk is refused even now.
        other_ws, _ = await session(srv, env, "tabB")
        await bad_chunk(other_ws, blob_chunk(sha, 0, data[:10]), sha[:12])
        await other_ws.close()
        await ws.close()
    finally:
        srv.kill()


async def test_ten_bad_chunks_in_a_row_close_4400(env):
    env.standard()
    _, sha = photo(10)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        for i in range(10):
            await ws.send(blob_chunk(sha, i, b"x"))
        code, seen = await expect_close(ws)
        assert code == 4400, (code, seen)
        assert len(seen) == 10 and all(m["code"] == "bad_message" for m in seen), seen
    finally:
        srv.kill()


async def check_limit(srv, env, limit):
    ws, _ = await session(srv, env, "tabA")
    try:
        _, sha = photo(10)
        st = await blob_offer(ws, "ok", sha, limit)
        assert st["type"] == "blob_status" and st["have"] == 0, st
        _, sha = photo(10)
        m = await blob_offer(ws, "big", sha, limit + 1, refused=True)
        assert m["code"] == "bad_message", m
        for w in (str(limit + 1), str(limit), "--max-blob"):
            assert w in m["message"], (w, m)
    finally:
        await ws.close()


async def test_max_blob(env):
    env.standard()
    srv = Server(env)
    try:
        await check_limit(srv, env, 20971520)
    finally:
        srv.kill()
    srv = Server(env, "--max-blob", "1048576")
    try:
        await check_limit(srv, env, 1048576)
    finally:
        srv.kill()


def test_max_blob_bad_values(env):
    # 64 MiB is the ceiling (docs/protocol.md §1).
    for bad in ("abc", "", "0", "-1", "20MiB", "1e6", "67108865", "99999999999999999999999"):
        p = env.cli("serve", "--listen", "127.0.0.1:0", "--max-blob", bad, check=False)
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        assert p.stdout == "", (bad, p.stdout)
        line = p.stderr.splitlines()[0] if p.stderr else ""
        assert "--max-blob" in line and bad in line, (bad, p.stderr)


async def test_two_devices_of_a_grid_upload_the_same_photo_at_once(env):
    env.standard()
    sup = token(env, "sup")
    data, sha = photo(2 * CHUNK + 5000)
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        sa, sb = await asyncio.gather(blob_offer(a, "a", sha, len(data)),
                                      blob_offer(b, "b", sha, len(data)))
        assert sa["have"] == 0 and sb["have"] == 0, (sa, sb)
        la, lb = await asyncio.gather(blob_send(a, sha, data, 0, window=2),
                                      blob_send(b, sha, data, 0, window=2))
        assert la["complete"] and lb["complete"], (la, lb)
        status, h, body = request(srv, "GET", "/blobs/" + sha, token=sup)
        assert status == 200 and body == data and h["content-length"] == str(len(data)), \
            (status, h)
        for ws in (a, b):
            st = await blob_offer(ws, "again", sha, len(data))
            assert st["have"] == len(data) and st["complete"], st
            await ws.close()
    finally:
        srv.kill()


async def test_another_grid_must_upload_the_photo_itself(env):
    env.standard()
    data, sha = photo(CHUNK + 1)
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")  # g01
        await blob_offer(a, "a", sha, len(data))
        assert (await blob_send(a, sha, data, 0))["complete"]
        # tabB (g01) sees it; tabC (g02) does not, and knowing the sha is not enough.
        assert get_blob(srv, sha, env.tokens["tabB"]) == (200, data)
        assert get_blob(srv, sha, env.tokens["tabC"])[0] == 404
        c, _ = await session(srv, env, "tabC")
        st = await blob_offer(c, "c", sha, len(data))
        assert st["have"] == 0 and not st["complete"], st
        await blob_send(c, sha, data, 0, CHUNK)
        assert get_blob(srv, sha, env.tokens["tabC"])[0] == 404
        assert (await blob_send(c, sha, data, CHUNK))["complete"]
        assert get_blob(srv, sha, env.tokens["tabC"]) == (200, data)
        # Once proven, an offer of either grid is complete at once.
        b, _ = await session(srv, env, "tabB")
        st = await blob_offer(b, "b", sha, len(data))
        assert st["have"] == len(data) and st["complete"], st
        for ws in (a, b, c):
            await ws.close()
    finally:
        srv.kill()


async def test_upload_on_a_connection_that_offers_compression(env):
    env.standard()
    data, sha = photo(4 * CHUNK + 3)
    srv = Server(env)
    try:
        ws = await connect(srv)  # websockets offers permessage-deflate by default
        await hello(ws, env, "tabA")
        assert_no_extension(ws)
        assert (await blob_offer(ws, "o", sha, len(data)))["have"] == 0
        assert (await blob_send(ws, sha, data, 0, window=3))["complete"]
        assert get_blob(srv, sha, env.tokens["tabA"]) == (200, data)
        await ws.close()
    finally:
        srv.kill()


async def test_a_new_size_restarts_an_incomplete_upload(env):
    env.standard()
    data, sha = photo(2 * CHUNK)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        await blob_offer(ws, "o1", sha, len(data) + 1, mime="text/plain")
        await blob_send(ws, sha, data + b"?", 0, CHUNK)
        st = await blob_offer(ws, "o2", sha, len(data))
        assert st["have"] == 0 and not st["complete"], st
        assert (await blob_send(ws, sha, data, 0))["complete"]
        status, h, body = request(srv, "GET", "/blobs/" + sha, token=env.tokens["tabA"])
        assert status == 200 and body == data, status
        assert h["content-type"] == "image/jpeg", h  # the mime of the offer that completed
        await ws.close()
    finally:
        srv.kill()
