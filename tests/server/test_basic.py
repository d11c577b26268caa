"""Startup, HTTP, hello/welcome, schema, errors of §2.8, fragments, the listen rule."""
import asyncio
import json
import os
import re
import subprocess
import urllib.error
import urllib.request

import websockets

import vstest
from vstest import (Server, connect, cursor_id, expect_close, hello, now_ms, recv, send,
                    session)


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_startup_line_port_zero_and_healthz(env):
    srv = Server(env)
    try:
        assert re.fullmatch(r"visitsync listening on 127\.0\.0\.1:\d+", srv.line), srv.line
        assert 0 < srv.port < 65536
        assert srv.read_line(0.3) is None, "more than one line on stdout"
        status, body = http_get(srv.port, "/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}, (status, body)
        status, body = http_get(srv.port, "/no/such/page")
        assert status == 404, (status, body)
        rc, took = srv.stop()
        assert rc == 0 and took < 5, (rc, took, srv.stderr())
    finally:
        srv.kill()


async def test_websocket_only_on_sync_with_subprotocol(env):
    env.standard()
    srv = Server(env)
    try:
        for url, kw in (("ws://127.0.0.1:%d/other" % srv.port, {}),
                        (srv.url, {"subprotocols": None}),
                        (srv.url, {"subprotocols": ["chat"]})):
            try:
                ws = await connect(url, **kw)
            except (websockets.InvalidHandshake, ConnectionError, OSError):
                continue
            # A refused subprotocol may also show as a connection the server drops.
            try:
                code, _ = await expect_close(ws, 3)
            finally:
                await ws.close()
            raise AssertionError("%s %r was accepted (closed later with %s)" % (url, kw, code))
        ws, _ = await session(srv, env, "tabA")
        assert ws.subprotocol == "visitsync.v1"
        await ws.close()
    finally:
        srv.kill()


async def test_hello_welcome_fields(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await connect(srv)
        t0 = now_ms()
        w = await hello(ws, env, "tabA", req="h1", app="field/1.3.0", pending=37,
                        oldest_pending="2026-11-20T08:15:00+08:00", clock=t0 - 5000)
        t1 = now_ms()
        assert w["req"] == "h1"
        assert w["user"] == "c1" and w["role"] == "cadre" and w["grids"] == ["g01"], w
        assert abs(w["time"] - now_ms()) < 5000, w
        assert w["max_batch"] == 500 and w["max_message"] == 1048576, w
        assert cursor_id(w["cursor"]) == 0 and w["protocol"] == 1, w
        assert re.fullmatch(r"[0-9a-f]{64}", w["schema_version"]), w
        await ws.close()
        row = env.sql("SELECT app, pending, oldest_pending, clock_skew_ms FROM devices "
                      "WHERE id = 'tabA'")[0]
        assert row[0] == "field/1.3.0" and row[1] == 37, row
        assert row[2] == "2026-11-20T08:15:00+08:00", row
        # The skew is clock minus the server's time when the hello arrived:
        # 5 s behind, and as much more as the hello took to arrive (t1 - t0).
        assert -5000 - (t1 - t0) - 1000 < row[3] < -4000, (row, t1 - t0)

        ws = await connect(srv)
        w = await hello(ws, env, "tabS")
        assert w["role"] == "supervisor" and sorted(w["grids"]) == ["g01", "g02"], w
        await ws.close()
    finally:
        srv.kill()


async def test_schema_request_and_version(env):
    env.standard()
    srv = Server(env)
    try:
        ws, w = await session(srv, env, "tabA")
        await send(ws, {"type": "schema", "req": "s1"})
        m = await recv(ws)
        assert m["type"] == "schema" and m["req"] == "s1", m
        assert m["version"] == w["schema_version"], (m["version"], w["schema_version"])
        assert set(m["collections"]) == {"subjects", "visits"}, m["collections"].keys()
        assert m["collections"]["visits"]["fields"]["visited_at"]["required"] is True
        await ws.close()
        srv.stop()

        # A --schema file is served as given, with its own version.
        path = os.path.join(env.dir, "schema.json")
        with open(path, "w") as f:
            json.dump({"collections": {"notes": {"scope": "grid", "fields": {
                "grid": {"type": "id", "required": True},
                "text": {"type": "text"}}}}}, f)
        srv = Server(env, "--schema", path)
        ws, w2 = await session(srv, env, "tabA")
        assert w2["schema_version"] != w["schema_version"]
        await send(ws, {"type": "schema", "req": "s2"})
        m = await recv(ws)
        assert list(m["collections"]) == ["notes"] and m["version"] == w2["schema_version"], m
        await ws.close()
    finally:
        srv.kill()


def test_bad_schema_file_is_a_usage_error(env):
    path = os.path.join(env.dir, "bad.json")
    with open(path, "w") as f:
        f.write('{"collections": {"x": {"fields": {"a": {"type": "wat"}}}}}')
    p = subprocess.run([vstest.BIN, "--db", env.db, "serve", "--listen", "127.0.0.1:0",
                        "--schema", path], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stdout == "", p.stdout
    assert path in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


async def test_errors_keep_the_connection_until_ten_in_a_row(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await connect(srv)
        # Before hello: not_authenticated, echoing req.
        await send(ws, {"type": "pull", "req": "early"})
        m = await recv(ws)
        assert m == {"type": "error", "req": "early", "code": "not_authenticated",
                     "message": m["message"]}, m
        await hello(ws, env, "tabA")
        await ws.send("{not json")
        m = await recv(ws)
        assert m["type"] == "error" and m["code"] == "bad_json" and "req" not in m, m
        await send(ws, {"type": "frobnicate", "req": "r7"})
        m = await recv(ws)
        assert m["code"] == "bad_message" and m["req"] == "r7", m
        await send(ws, {"type": "push", "req": "r8", "changes": "nope"})
        m = await recv(ws)
        assert m["code"] == "bad_message" and m["req"] == "r8", m
        # A good message resets the count: 9 bad + good + 9 bad stays open.
        for i in range(6):
            await ws.send("[1,")
            assert (await recv(ws))["code"] == "bad_json"
        await send(ws, {"type": "schema", "req": "ok"})
        assert (await recv(ws))["type"] == "schema"
        for i in range(9):
            await ws.send("nope")
            assert (await recv(ws))["code"] == "bad_json"
        await send(ws, {"type": "pull", "req": "still-open"})
        assert (await recv(ws))["type"] == "changes"
        for i in range(10):
            await ws.send("nope")
        code, seen = await expect_close(ws)
        assert code == 4400, code
        assert len(seen) == 10 and all(m["code"] == "bad_json" for m in seen), seen
    finally:
        srv.kill()


async def test_fragmented_messages_are_assembled(env):
    env.standard()
    srv = Server(env)
    try:
        ws = await connect(srv)
        text = json.dumps({"type": "hello", "device": "tabA", "token": env.tokens["tabA"]})
        await ws.send([text[i:i + 7] for i in range(0, len(text), 7)])
        assert (await recv(ws))["type"] == "welcome"
        push = json.dumps({"type": "push", "req": "f1", "changes": [
            vstest.subject(i + 1, "s-frag-%d" % i, "g01", family_notes="x" * 3000)
            for i in range(100)]})
        assert len(push) > 300000
        await ws.send([push[i:i + 65536] for i in range(0, len(push), 65536)])
        m = await recv(ws)
        assert m["type"] == "ack" and len(m["results"]) == 100, m
        assert all(r["status"] == "applied" for r in m["results"]), m
        await ws.close()
    finally:
        srv.kill()


def test_non_loopback_listen_needs_tls_or_insecure(env):
    p = subprocess.run([vstest.BIN, "--db", env.db, "serve", "--listen", "0.0.0.0:0"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and p.stdout == "", (p.returncode, p.stdout, p.stderr)
    assert "TLS" in p.stderr and "--insecure" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    p = subprocess.run([vstest.BIN, "--db", env.db, "serve", "--listen", "nonsense"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--listen" in p.stderr, (p.returncode, p.stderr)
    srv = Server(env, "--insecure", listen="0.0.0.0:0")
    try:
        assert srv.line.startswith("visitsync listening on 0.0.0.0:"), srv.line
        rc, _ = srv.stop()
        assert rc == 0
    finally:
        srv.kill()


def test_missing_database_fails_with_a_clear_line(env):
    p = subprocess.run([vstest.BIN, "--db", os.path.join(env.dir, "nope", "x.db"), "serve",
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and p.stdout == "", (p.returncode, p.stdout)
    assert "x.db" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


async def test_hello_pipelined_with_a_push(env):
    """A client may send push right after hello, without waiting for welcome."""
    env.standard()
    srv = Server(env)
    try:
        ws = await connect(srv)
        await send(ws, {"type": "hello", "device": "tabA", "token": env.tokens["tabA"]})
        await send(ws, {"type": "push", "req": "b1", "changes": [vstest.subject(1, "s1", "g01")]})
        assert (await recv(ws))["type"] == "welcome"
        m = await recv(ws)
        assert m["type"] == "ack" and m["results"][0]["status"] == "applied", m
        await ws.close()
    finally:
        srv.kill()


async def test_web_dir_is_served_at_root_beside_healthz_and_sync(env):
    env.standard()
    web = os.path.join(env.dir, "web")
    os.mkdir(web)
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("<!doctype html><title>visitsync</title>dashboard")
    srv = Server(env, "--web", web)
    try:
        status, body = http_get(srv.port, "/")
        assert status == 200 and "dashboard" in body, (status, body)
        status, body = http_get(srv.port, "/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}, (status, body)
        status, _ = http_get(srv.port, "/missing.js")
        assert status == 404, status
        ws, _ = await session(srv, env, "tabA")
        await ws.close()
    finally:
        srv.kill()
