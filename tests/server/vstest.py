"""Helpers for the server's integration tests.

Every test makes its own temporary database with the real command line
(`visitsync init`, `grid add`, `user add`, `device enroll`), starts the real
`visitsync serve` on port 0, reads the port from the startup line, and talks
to it with Python's `websockets` (Debian's python3-websockets 10.4), an
implementation independent of ours. Every wait is bounded.
"""
import asyncio
import hashlib
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import websockets

BIN = None  # the visitsync binary, set by run.py
WAIT = 5.0  # seconds: the longest any single reply may take
SUBPROTOCOL = "visitsync.v1"
LISTEN_RE = re.compile(r"^visitsync listening on (\S+):(\d+)$")


def now_ms():
    return int(time.time() * 1000)


CURSOR_RE = re.compile(r"^(0|[1-9][0-9]*)-([0-9a-f]{8})$")


def cursor_id(cursor):
    """The history id of a cursor the server handed out ("1240-9f3a01bc", §2.4);
    fails the test on any other shape."""
    m = CURSOR_RE.match(cursor)
    assert m, "not a cursor with an epoch: %r" % cursor
    return int(m.group(1))


def tsan_build():
    """True when BIN is a VS_TSAN build. ThreadSanitizer's shadow memory makes the
    server's RSS several times a normal build's (1000 hostile connections: 73 MiB
    against 12 MiB), so a bound on memory growth must scale with it."""
    with open(BIN, "rb") as f:
        return b"__tsan_init" in f.read()


class Env:
    """A temporary directory with a database filled through the CLI."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vs-server-test-")
        self.db = os.path.join(self.dir, "visitsync.db")
        self.tokens = {}
        self.cli("init")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def cli(self, *args, check=True):
        p = subprocess.run([BIN, "--db", self.db, *args], capture_output=True, text=True,
                           timeout=30)
        if check and p.returncode != 0:
            raise AssertionError("visitsync %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                                    p.stderr.strip()))
        return p

    def grid(self, gid, name=None):
        self.cli("grid", "add", gid, name or ("Grid " + gid))

    def user(self, uid, role, grids=None):
        args = ["user", "add", "--id", uid, "--name", "User " + uid, "--role", role]
        if grids:
            args += ["--grids", ",".join(grids)]
        self.cli(*args)

    def device(self, dev, user):
        out = self.cli("device", "enroll", "--user", user, "--device", dev).stdout.strip()
        assert len(out.splitlines()) == 1, "enroll printed more than the token: %r" % out
        self.tokens[dev] = out
        return out

    def standard(self):
        """Two grids; cadres c1, c3 in g01 and c2 in g02; a supervisor of all grids."""
        self.grid("g01")
        self.grid("g02")
        self.user("c1", "cadre", ["g01"])
        self.user("c3", "cadre", ["g01"])
        self.user("c2", "cadre", ["g02"])
        self.user("sup", "supervisor")
        self.device("tabA", "c1")
        self.device("tabB", "c3")
        self.device("tabC", "c2")
        self.device("tabS", "sup")
        return self

    def sql(self, query, *params):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()


class Server:
    """`visitsync serve` on port 0 (or as given)."""

    def __init__(self, env, *extra, listen="127.0.0.1:0", expect_start=True, environ=None,
                 preexec_fn=None):
        self.env = env
        self.stderr_path = os.path.join(env.dir, "server-%d.err" % int(time.time() * 1e6))
        self.errf = open(self.stderr_path, "w")
        args = [BIN, "--db", env.db, "serve"]
        if listen is not None:
            args += ["--listen", listen]
        args += list(extra)
        penv = dict(os.environ)
        penv.update(environ or {})
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.errf, env=penv,
                                     preexec_fn=preexec_fn)
        self.line = None
        self.host = None
        self.port = None
        if expect_start:
            self.line = self.read_line(WAIT)
            m = LISTEN_RE.match(self.line or "")
            if not m:
                self.kill()
                raise AssertionError("no startup line, got %r; stderr: %s" %
                                     (self.line, self.stderr()))
            self.host, self.port = m.group(1), int(m.group(2))

    def read_line(self, timeout):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode().rstrip("\n")

    def stderr(self):
        if not self.errf.closed:
            self.errf.flush()
        with open(self.stderr_path) as f:
            return f.read()

    @property
    def url(self):
        return "ws://127.0.0.1:%d/sync" % self.port

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=5.0):
        """SIGTERM; returns (exit status, seconds taken)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        took = time.monotonic() - t0
        if rc is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if not self.errf.closed:
            self.errf.close()
        report = self.tsan_report()
        if report and sys.exc_info()[0] is None:
            raise AssertionError("ThreadSanitizer reported in the server:\n" + report)
        return rc, took

    def tsan_report(self):
        """The first ThreadSanitizer report in the server's stderr, or None. A VS_TSAN
        build also exits 66 after a report, but a server killed with SIGKILL never
        gets to exit: its stderr is the only witness."""
        text = self.stderr()
        at = text.find("WARNING: ThreadSanitizer")
        return text[at:at + 4000] if at >= 0 else None

    def kill(self):
        """Ends the server at the end of a test. A server still running is stopped with
        SIGTERM and must exit 0 (under ASan this also proves there was no leak or memory
        error); only one that does not stop in time is killed."""
        failure = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait(8)
            if rc is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
                failure = "the server did not stop within 8 s of SIGTERM"
            elif rc != 0:
                failure = "the server exited %d on SIGTERM" % rc
        elif self.proc.returncode not in (0, -signal.SIGKILL):
            failure = "the server had exited %d" % self.proc.returncode
        if not self.errf.closed:
            self.errf.close()
        report = self.tsan_report()
        if report and sys.exc_info()[0] is None:
            raise AssertionError("ThreadSanitizer reported in the server:\n" + report)
        if failure and sys.exc_info()[0] is None:
            raise AssertionError("%s; stderr:\n%s" % (failure, self.stderr()[-4000:]))


async def connect(server_or_url, **kw):
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    kw.setdefault("subprotocols", [SUBPROTOCOL])
    kw.setdefault("open_timeout", WAIT)
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    return await websockets.connect(url, **kw)


async def recv(ws, timeout=WAIT):
    """The next message as a dict; fails after timeout."""
    raw = await asyncio.wait_for(ws.recv(), timeout)
    return json.loads(raw)


async def recv_type(ws, mtype, timeout=WAIT):
    """Skips pokes until a message of mtype arrives."""
    deadline = time.monotonic() + timeout
    while True:
        m = await recv(ws, max(0.01, deadline - time.monotonic()))
        if m["type"] == mtype or m["type"] == "error":
            return m
        assert m["type"] == "poke", "unexpected %r while waiting for %s" % (m, mtype)


async def send(ws, msg):
    await ws.send(json.dumps(msg))


async def expect_close(ws, timeout=WAIT):
    """Reads until the server closes; returns (close code, messages seen before)."""
    seen = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the server did not close within %.1fs (saw %r)" %
                                     (timeout, seen[-3:]))
            raw = await asyncio.wait_for(ws.recv(), left)
            seen.append(json.loads(raw) if isinstance(raw, str) else raw)
    except websockets.ConnectionClosed as e:
        return e.code, seen


async def hello(ws, env, device, **extra):
    msg = {"type": "hello", "device": device, "token": env.tokens[device]}
    msg.update(extra)
    await send(ws, msg)
    m = await recv(ws)
    assert m["type"] == "welcome", "hello of %s answered %r" % (device, m)
    return m


async def session(server, env, device, **kw):
    ws = await connect(server, **kw)
    welcome = await hello(ws, env, device)
    return ws, welcome


def subject(seq, rid, grid, base=0, ms=None, **fields):
    f = {"name": "Subject " + rid, "grid": grid}
    f.update(fields)
    return {"seq": seq, "collection": "subjects", "id": rid, "base": base,
            "hlc": [ms or now_ms(), 0], "fields": f}


def change(seq, collection, rid, base, fields, ms=None, counter=0):
    return {"seq": seq, "collection": collection, "id": rid, "base": base,
            "hlc": [ms or now_ms(), counter], "fields": fields}


async def push(ws, req, changes, timeout=WAIT):
    await send(ws, {"type": "push", "req": req, "changes": changes})
    m = await recv_type(ws, "ack", timeout)
    assert m.get("req") == req, "reply to push %s: %r" % (req, m)
    return m


async def pull_all(ws, since="0", limit=None):
    """Pages through pull until more is false; returns (items, cursor, pages)."""
    items, pages, n = [], 0, 0
    while True:
        n += 1
        msg = {"type": "pull", "req": "p%d" % n, "since": since}
        if limit:
            msg["limit"] = limit
        await send(ws, msg)
        m = await recv_type(ws, "changes")
        assert m["type"] == "changes", "pull answered %r" % m
        assert m["req"] == msg["req"]
        items += m["changes"]
        pages += 1
        since = m["cursor"]
        if not m["more"]:
            return items, since, pages
        assert pages < 1000


async def no_message(ws, seconds):
    """True when nothing arrives within seconds."""
    try:
        m = await asyncio.wait_for(ws.recv(), seconds)
        return m
    except asyncio.TimeoutError:
        return None


# ---- raw WebSocket and process helpers (hostile-peer tests) -----------------------------

def rss_kb(pid):
    """The resident set of process pid in KiB (VmRSS of /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_nofile(want):
    """Raises this process's soft descriptor limit to want (capped by the hard limit);
    returns the limit in force. Children started afterwards inherit it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def healthz(server):
    """(HTTP status, parsed body) of GET /healthz."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % server.port,
                                timeout=WAIT) as r:
        return r.status, json.loads(r.read())


async def raw_ws_open(server, local_host=None, timeout=WAIT, path="/sync", subprotocol=SUBPROTOCOL):
    """A WebSocket upgrade done by hand on an asyncio stream, from local_host (an address
    such as 127.0.0.7) when given, to path with subprotocol. Returns (reader, writer)
    positioned after the 101 response; fails on any other answer."""
    import base64
    kw = {"local_addr": (local_host, 0)} if local_host else {}
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", server.port, **kw), timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: %s\r\n\r\n"
                  % (path, server.port, key, subprotocol)).encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except BaseException:
        writer.close()
        raise
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise AssertionError("upgrade answered %r" % head[:200])
    return reader, writer


def ws_frame(payload, opcode=1, fin=True, declared=None):
    """A masked client frame carrying payload; declared: the length its header announces
    (more than len(payload) makes a frame whose rest never comes)."""
    n = len(payload) if declared is None else declared
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + _masked(payload, mask)


def _masked(payload, mask):
    # XORed as one big integer: a loop over the bytes is too slow for frames of 256 KiB.
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


async def ws_read_frame(reader, timeout=WAIT):
    """The next server frame as (opcode, payload); (None, b"") at end of stream."""
    try:
        h = await asyncio.wait_for(reader.readexactly(2), timeout)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None, b""
    n = h[1] & 0x7f
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return h[0] & 0x0f, await asyncio.wait_for(reader.readexactly(n), timeout)


async def ws_close_code(reader, timeout=WAIT):
    """Reads server frames until a close frame; its code, or None when the stream ended
    without one."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no close frame within %.1fs" % timeout)
        op, payload = await ws_read_frame(reader, left)
        if op is None:
            return None
        if op == 8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


# ---- photos (§2.6) -------------------------------------------------------------------------

CHUNK = 256 * 1024  # the most data one binary chunk may carry


def photo(size):
    """(size random bytes, their SHA-256 in lowercase hex): a photo no other test has."""
    data = os.urandom(size)
    return data, hashlib.sha256(data).hexdigest()


def blob_chunk(sha, offset, data):
    """One binary chunk message: 32 raw bytes of sha ‖ offset as 8 bytes big-endian ‖ data."""
    return bytes.fromhex(sha) + offset.to_bytes(8, "big") + data


async def blob_offer(ws, req, sha, size, mime="image/jpeg", refused=False):
    """Offers a photo; returns the reply: a blob_status echoing req and sha, or (refused)
    an error echoing req."""
    msg = {"type": "blob_offer", "req": req, "sha256": sha, "size": size}
    if mime is not None:
        msg["mime"] = mime
    await send(ws, msg)
    m = await recv_type(ws, "blob_status")
    assert m["type"] == ("error" if refused else "blob_status") and m.get("req") == req, \
        "offer %s of %r bytes answered %r" % (req, size, m)
    assert refused or m["sha256"] == sha, m
    return m


async def blob_send(ws, sha, data, start, end=None, window=1):
    """Sends data[start:end] in chunks of CHUNK bytes, at most window of them unanswered at
    once (a large window pipelines them all), and checks every blob_status: no req, have
    one chunk further each time, complete only when have reaches len(data). Returns the
    last blob_status."""
    end = len(data) if end is None else end
    offsets = list(range(start, end, CHUNK))
    sent = answered = 0
    last = None
    while answered < len(offsets):
        while sent < len(offsets) and sent - answered < window:
            off = offsets[sent]
            await ws.send(blob_chunk(sha, off, data[off:min(off + CHUNK, end)]))
            sent += 1
        m = await recv_type(ws, "blob_status")
        have = min(offsets[answered] + CHUNK, end)
        want = {"type": "blob_status", "sha256": sha, "have": have,
                "complete": have == len(data)}
        assert m == want, "chunk at %d answered %r, not %r" % (offsets[answered], m, want)
        answered += 1
        last = m
    return last
