"""`visitsync backup FILE` (§1) while a tablet pushes without pause: the copy is one
consistent snapshot (every change acked before the backup began is in it, nothing
half-applied), verified, 0600, and the pushes keep being acknowledged during the copy; a
photo uploaded before the backup is served by a server started on the copy."""
import asyncio
import json
import os
import sqlite3
import stat
import subprocess
import time

import vstest
from test_api import request, token
from vstest import Server, blob_offer, blob_send, photo, push, session, subject


async def test_backup_under_push_load(env):
    env.standard()
    sup = token(env, "sup")
    pic, pic_sha = photo(600 * 1024)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        await blob_offer(ws, "pic", pic_sha, len(pic))
        assert (await blob_send(ws, pic_sha, pic, 0, window=3))["complete"]
        # A store worth copying in several steps (1024 pages each) before the load.
        seq = 0
        for _ in range(30):
            batch = []
            for _ in range(100):
                seq += 1
                batch.append(subject(seq, "s%d" % seq, "g01", family_notes="x" * 2000))
            ack = await push(ws, "fill%d" % seq, batch)
            assert all(r["status"] == "applied" for r in ack["results"]), ack["results"][:3]

        acked_at = {}  # seq -> monotonic time of its ack
        stop = asyncio.Event()

        async def pusher():
            nonlocal seq
            while not stop.is_set():
                seq += 1
                ack = await push(ws, "p%d" % seq, [subject(seq, "s%d" % seq, "g01")])
                assert ack["results"][0]["status"] == "applied", ack
                acked_at[seq] = time.monotonic()

        task = asyncio.create_task(pusher())
        await asyncio.sleep(0.5)
        copy = os.path.join(env.dir, "copy.db")
        began = time.monotonic()
        acked_before = [s for s, t in acked_at.items() if t < began]
        p = await asyncio.get_running_loop().run_in_executor(None, lambda: subprocess.run(
            [vstest.BIN, "--db", env.db, "backup", copy], capture_output=True, text=True,
            timeout=60))
        ended = time.monotonic()
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 5)

        assert p.returncode == 0, p.stderr
        assert p.stdout == "", p.stdout
        assert "backup: 100%" in p.stderr and "verified copy" in p.stderr, p.stderr
        assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600, oct(os.stat(copy).st_mode)
        assert not os.path.exists(copy + ".partial")
        during = [s for s, t in acked_at.items() if began <= t <= ended]
        assert acked_before, "no push was acknowledged before the backup began"
        assert during or ended - began < 0.05, \
            "no push was acknowledged during a %.2f s backup" % (ended - began)

        c = sqlite3.connect(copy)
        try:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            ids = {r[0] for r in c.execute("SELECT id FROM records WHERE collection='subjects'")}
            missing = [s for s in acked_before if "s%d" % s not in ids]
            assert not missing, "acked before the backup but not in the copy: %s" % missing[:5]
            # One snapshot: every record's change is in the copied history, and the
            # device's committed seq covers exactly the records copied.
            top = c.execute("SELECT max(id) FROM history").fetchone()[0]
            assert c.execute("SELECT count(*) FROM records WHERE seq > ?", (top,)).fetchone()[0] == 0
            max_seq = c.execute("SELECT max_seq FROM devices WHERE id='tabA'").fetchone()[0]
            assert len(ids) == max_seq, (len(ids), max_seq)
        finally:
            c.close()

        # A restored copy serves: the server starts on it and a pull returns its records.
        srv.kill()
        os.replace(copy, env.db)
        for side in ("-wal", "-shm"):
            if os.path.exists(env.db + side):
                os.unlink(env.db + side)
        srv = Server(env)
        ws2, _ = await session(srv, env, "tabB")
        got, _, _ = await vstest.pull_all(ws2)
        assert len(got) == len(ids), (len(got), len(ids))
        status, _, body = request(srv, "GET", "/blobs/" + pic_sha, token=sup)
        assert status == 200 and body == pic, "the photo from the copy: %d" % status
    finally:
        srv.kill()


def test_backup_refuses_bad_targets(env):
    p = env.cli("backup", check=False)
    assert p.returncode == 2 and "missing FILE" in p.stderr, p.stderr
    p = env.cli("backup", env.db, check=False)
    assert p.returncode == 2 and "is the database itself" in p.stderr, p.stderr
    p = env.cli("backup", os.path.join(env.dir, "no", "such", "dir.db"), check=False)
    assert p.returncode == 1 and "cannot create" in p.stderr, p.stderr
    assert json.dumps(p.stdout) == '""'
