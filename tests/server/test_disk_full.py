"""A store that cannot be written (the disk is full): the push that could not be
committed is answered with an error and no ack, /healthz says 503, the server
keeps running and stops cleanly, and after a restart with room again every
acked change is there and the refused one can simply be sent again.

The full disk is a file size limit (RLIMIT_FSIZE) on the server process, which
makes SQLite's writes fail the way a full file system does, with no need for
privileges to mount one."""
import asyncio
import resource

from vstest import Server, push, recv_type, send, session, subject
from test_basic import http_get

NOTE = "走访记录：本人在家，精神状态良好，家属配合帮教工作。" * 40  # ~1.6 KB of text


def limited(max_bytes):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return preexec


async def test_full_disk_refuses_the_push_and_loses_nothing_acked(env):
    env.standard()
    srv = Server(env, preexec_fn=limited(1 << 20))
    acked, refused = [], None
    try:
        ws, _ = await session(srv, env, "tabA")
        status, _ = http_get(srv.port, "/healthz")
        assert status == 200
        seq = 0
        for n in range(1, 200):
            changes = []
            for _ in range(20):
                seq += 1
                changes.append(subject(seq, "s%d" % seq, "g01", family_notes=NOTE))
            await send(ws, {"type": "push", "req": "b%d" % n, "changes": changes})
            m = await recv_type(ws, "ack", 10)
            if m["type"] == "error":
                assert m["req"] == "b%d" % n and m["code"] == "internal", m
                assert "send it again" in m["message"], m
                refused = changes
                break
            assert [r["status"] for r in m["results"]] == ["applied"] * 20, m
            acked += [c["id"] for c in changes]
        print("acked %d changes before the store filled up" % len(acked))
        assert refused is not None, "1 MiB of store never filled up"
        assert acked, "the very first push was refused; the limit is too small for this test"
        status, body = http_get(srv.port, "/healthz")
        assert status == 503 and "unavailable" in body, (status, body)
        await ws.close()
    finally:
        srv.kill()

    srv = Server(env)
    try:
        status, _ = http_get(srv.port, "/healthz")
        assert status == 200
        have = {r[0] for r in env.sql("SELECT id FROM records WHERE collection = 'subjects'")}
        missing = [i for i in acked if i not in have]
        assert not missing, "acked but lost: %r" % missing[:5]
        assert not any(c["id"] in have for c in refused), "a refused push was half applied"
        ws, welcome = await session(srv, env, "tabA")
        assert welcome["seq"] == seq - len(refused), (welcome["seq"], seq, len(refused))
        m = await push(ws, "again", refused, timeout=10)
        assert [r["status"] for r in m["results"]] == ["applied"] * len(refused), m
        await ws.close()
    finally:
        srv.kill()
    applied = env.sql("SELECT count(*) FROM history WHERE device = 'tabA' AND outcome = 'applied'")
    assert applied[0][0] == len(acked) + len(refused), applied
