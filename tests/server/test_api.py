"""The supervisors' HTTP API (docs/protocol.md, "HTTP"): who may call it, /api/status,
/api/conflicts and their paging, resolving a conflict (and that the tablets get the chosen value
and a poke), /api/report on a small known store, /metrics with --metrics-token, and the web apps
(embedded and --web DIR): headers, ETag, redirect, traversal."""
import base64
import datetime
import hashlib
import http.client
import json
import os
import socket
import sqlite3
import time

import websockets
from vstest import (WAIT, Server, change, connect, cursor_id, hello, no_message, now_ms, pull_all,
                    push, recv, recv_type, send, session, subject)

DAY = 24 * 3600 * 1000


def request(srv, method, path, body=None, token=None, headers=None):
    """(status, headers with lower-case names, body bytes) of one HTTP request."""
    con = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=WAIT)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    try:
        con.request(method, path, body=body, headers=h)
        r = con.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        con.close()


def api(srv, path, token, method="GET", body=None):
    """(status, parsed JSON) of an API call; every API answer is JSON and never cached."""
    status, h, raw = request(srv, method, path, body=body, token=token)
    assert h["content-type"] == "application/json", (path, h)
    assert h["cache-control"] == "no-store", (path, h)
    assert h["x-content-type-options"] == "nosniff", (path, h)
    return status, json.loads(raw)


def token(env, user):
    return env.cli("token", "create", "--user", user).stdout.strip()


def rfc3339(ms):
    """ms since the epoch as the API writes a time: UTC with milliseconds."""
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def sql_read(env, query, *params):
    """The first row of a query on the test's database."""
    con = sqlite3.connect(env.db, timeout=10)
    try:
        return con.execute(query, params).fetchone()
    finally:
        con.close()


def sql_write(env, query, *params):
    """One statement on the test's database, committed (the server sees it at once)."""
    con = sqlite3.connect(env.db, timeout=10)
    try:
        with con:
            con.execute(query, params)
    finally:
        con.close()


def planted_token(env, user):
    """An API token of user written into the store as the CLI would (its SHA-256)."""
    text = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    sql_write(env, "INSERT INTO api_tokens (hash, user_id, created_ms) VALUES (?, ?, ?)",
                  hashlib.sha256(text.encode()).digest(), user, now_ms())
    return text


def setup(env):
    """env.standard() plus cadre c4 (tabD) in g02 and a supervisor limited to g01."""
    env.standard()
    env.user("c4", "cadre", ["g02"])
    env.device("tabD", "c4")
    env.user("sup1", "supervisor", ["g01"])
    return token(env, "sup"), token(env, "sup1")


async def make_conflict(a, b, rid, grid, field, va, vb, seqs):
    """Tablet a creates record rid, b changes field (base 1), then a changes it concurrently
    (base 1, an older stamp): a conflict on field whose winner is b's value vb."""
    t = now_ms()
    ack = await push(a, "c-%s-1" % rid, [subject(seqs[0], rid, grid, ms=t - 3000)])
    assert ack["results"][0]["status"] == "applied", ack
    ack = await push(b, "c-%s-2" % rid, [change(seqs[1], "subjects", rid, 1, {field: vb},
                                                ms=t - 1000)])
    assert ack["results"][0]["status"] == "applied", ack
    ack = await push(a, "c-%s-3" % rid, [change(seqs[2], "subjects", rid, 1, {field: va},
                                                ms=t - 2000)])
    assert ack["results"][0]["status"] == "conflict", ack


async def watch(srv, tok):
    """A signed-in /monitor connection (subprotocol visitsync.monitor)."""
    ws = await websockets.connect("ws://127.0.0.1:%d/monitor" % srv.port,
                                  subprotocols=["visitsync.monitor"], open_timeout=WAIT,
                                  ping_interval=None)
    await send(ws, {"type": "hello", "token": tok})
    m = await recv(ws)
    assert m["type"] == "welcome", m
    return ws


async def monitor_event(ws, event, **match):
    """The next monitor event of that kind whose members match."""
    deadline = time.monotonic() + WAIT
    while True:
        m = await recv(ws, max(0.01, deadline - time.monotonic()))
        if m.get("event") == event and all(m.get(k) == v for k, v in match.items()):
            return m


def test_unauthorized(env):
    sup, _ = setup(env)
    srv = Server(env)
    try:
        for path in ("/api/status", "/api/conflicts", "/api/report"):
            for tok in (None, "", "x" * 43, "not a token", env.tokens["tabA"],
                        env.tokens["tabS"]):
                status, body = api(srv, path, tok)
                assert (status, body) == (401, {"error": "unauthorized"}), (path, tok, body)
            status, h, raw = request(srv, "GET", path, headers={"Authorization": "Basic " + sup})
            assert status == 401 and json.loads(raw) == {"error": "unauthorized"}, raw
        status, body = api(srv, "/api/conflicts/1/resolve", env.tokens["tabA"], "POST",
                           {"choose": "winner"})
        assert (status, body) == (401, {"error": "unauthorized"}), body
        # The CLI makes API tokens only for supervisors and admins, and cannot revoke one:
        # the store is written directly for a cadre's API token and a revoked one.
        cadre = planted_token(env, "c1")
        revoked = planted_token(env, "sup")
        assert api(srv, "/api/status", revoked)[0] == 200
        sql_write(env, "UPDATE api_tokens SET revoked = 1 WHERE hash = ?",
                      hashlib.sha256(revoked.encode()).digest())
        for tok in (cadre, revoked):
            status, body = api(srv, "/api/status", tok)
            assert (status, body) == (401, {"error": "unauthorized"}), body
        status, body = api(srv, "/api/status", sup)
        assert status == 200, body
    finally:
        srv.kill()


async def test_status_online_offline_and_scope(env):
    sup, sup1 = setup(env)
    srv = Server(env)
    try:
        ws = await connect(srv)
        await hello(ws, env, "tabA", app="field/1.3.0", pending=3,
                    oldest_pending="2026-11-20T08:15:00+08:00", clock=now_ms() - 1500)
        await push(ws, "p1", [subject(1, "s-1", "g01")])
        status, body = api(srv, "/api/status", sup)
        assert status == 200, body
        s = body["server"]
        assert s["version"] and s["uptime_s"] >= 0 and cursor_id(s["cursor"]) >= 1 and "-" in s["cursor"], s
        assert s["records"] == 1 and s["db_bytes"] > 0 and s["time"].endswith("Z"), s
        devices = {d["device"]: d for d in body["devices"]}
        assert [d["device"] for d in body["devices"]] == sorted(devices), body["devices"]
        assert set(devices) == {"tabA", "tabB", "tabC", "tabD", "tabS"}, devices
        a = devices["tabA"]
        assert a["online"] is True and a["user"] == "c1" and a["grids"] == ["g01"], a
        assert a["app"] == "field/1.3.0" and a["pending"] == 3, a
        assert a["oldest_pending"] == "2026-11-20T08:15:00+08:00", a
        assert 1000 <= a["clock_skew_ms"] <= 3000 or -3000 <= a["clock_skew_ms"] <= -1000, a
        assert a["last_seen"].endswith("Z") and a["last_push"] is not None, a
        assert a["revoked"] is False and a["user_name"] == "User c1", a
        # enrolled: when the device was enrolled, a time even before its first hello.
        for dev in ("tabA", "tabC"):
            (created,) = sql_read(env, "SELECT created_ms FROM devices WHERE id = ?", dev)
            assert devices[dev]["enrolled"] == rfc3339(created), devices[dev]
        c = devices["tabC"]
        assert c["online"] is False and c["last_seen"] is None and c["pending"] is None, c
        assert c["app"] is None and c["clock_skew_ms"] is None, c
        assert devices["tabS"]["grids"] == [], devices["tabS"]
        assert body["conflicts_open"] == 0 and body["missing_photos"] == 0, body
        # The supervisor of g01 sees g01's devices only, and g01's records.
        status, body = api(srv, "/api/status", sup1)
        assert status == 200, body
        assert [d["device"] for d in body["devices"]] == ["tabA", "tabB"], body["devices"]
        await ws.close()
        # Offline once the tablet left.
        for _ in range(50):
            status, body = api(srv, "/api/status", sup)
            if not [d for d in body["devices"] if d["online"]]:
                break
        assert not [d["device"] for d in body["devices"] if d["online"]], body["devices"]
    finally:
        srv.kill()


async def test_conflicts_paging_and_scope(env):
    sup, sup1 = setup(env)
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        c, _ = await session(srv, env, "tabC")
        d, _ = await session(srv, env, "tabD")
        await make_conflict(a, b, "s-1", "g01", "employment", "unemployed", "employed",
                            (1, 1, 2))
        await make_conflict(a, b, "s-2", "g01", "phone", "111", "222", (3, 2, 4))
        await make_conflict(c, d, "s-3", "g02", "employer", "A", "B", (1, 1, 2))
        status, body = api(srv, "/api/conflicts", sup)
        assert status == 200 and body["next"] is None, body
        got = body["conflicts"]
        assert [(x["record"], x["field"], x["grid"]) for x in got] == [
            ("s-1", "employment", "g01"), ("s-2", "phone", "g01"), ("s-3", "employer", "g02")], got
        e = got[0]
        assert e["collection"] == "subjects" and e["status"] == "open", e
        assert e["created"].endswith("Z") and e["updated"].endswith("Z"), e
        assert e["resolved_by"] is None and e["resolved_at"] is None, e
        assert e["reason"] is None and e["resolution"] is None, e
        cands = e["candidates"]
        assert [(x["device"], x["user"], x["user_name"], x["value"]) for x in cands] == [
            ("tabA", "c1", "User c1", "unemployed"), ("tabB", "c3", "User c3", "employed")], cands
        assert cands[0]["time"] < cands[1]["time"], cands
        # Paging: after/next.
        status, p1 = api(srv, "/api/conflicts?limit=2", sup)
        assert status == 200 and len(p1["conflicts"]) == 2 and p1["next"] is not None, p1
        status, p2 = api(srv, "/api/conflicts?limit=2&after=" + p1["next"], sup)
        assert status == 200 and p2["next"] is None, p2
        assert [x["id"] for x in p1["conflicts"] + p2["conflicts"]] == [x["id"] for x in got]
        status, body = api(srv, "/api/conflicts?status=resolved", sup)
        assert status == 200 and body == {"conflicts": [], "next": None}, body
        status, body = api(srv, "/api/conflicts?status=all", sup)
        assert len(body["conflicts"]) == 3, body
        for bad in ("status=closed", "limit=0", "limit=1001", "after=-1", "after=x"):
            status, body = api(srv, "/api/conflicts?" + bad, sup)
            assert status == 400 and body["error"] == "bad_request" and body["message"], (bad,
                                                                                          body)
        # The supervisor of g01 sees g01's entries only, and cannot resolve g02's.
        status, body = api(srv, "/api/conflicts", sup1)
        assert [x["record"] for x in body["conflicts"]] == ["s-1", "s-2"], body
        status, body = api(srv, "/api/conflicts/%d/resolve" % got[2]["id"], sup1, "POST",
                           {"choose": "winner"})
        assert (status, body) == (404, {"error": "not_found"}), body
        status, body = api(srv, "/api/status", sup1)
        assert body["conflicts_open"] == 2, body
        for ws in (a, b, c, d):
            await ws.close()
    finally:
        srv.kill()


async def test_resolve(env):
    sup, _ = setup(env)
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")
        b, _ = await session(srv, env, "tabB")
        c, _ = await session(srv, env, "tabC")
        await make_conflict(a, b, "s-1", "g01", "employment", "unemployed", "employed",
                            (1, 1, 2))
        await make_conflict(a, b, "s-2", "g01", "phone", "111", "222", (3, 2, 4))
        await make_conflict(a, b, "s-3", "g01", "employer", "A", "B", (5, 3, 6))
        ids = [x["id"] for x in api(srv, "/api/conflicts", sup)[1]["conflicts"]]
        # Bad bodies: each names what is wrong.
        cases = [
            (b"{", "not JSON"),
            (b"[1]", "object"),
            ({"choose": "best"}, 'choose must be "winner" or "loser"'),
            ({}, "give either choose or value"),
            ({"choose": "winner", "value": "x"}, "give either choose or value"),
            ({"choose": "winner", "reason": "r" * 501}, "reason is over 500 characters"),
            ({"value": "nonsense"}, "employment"),
        ]
        for body, words in cases:
            status, got = api(srv, "/api/conflicts/%d/resolve" % ids[0], sup, "POST", body)
            assert status == 400 and got["error"] == "bad_request", (body, got)
            assert words in got["message"], (body, got)
        status, got = api(srv, "/api/conflicts/99999/resolve", sup, "POST", {"choose": "winner"})
        assert (status, got) == (404, {"error": "not_found"}), got
        status, got = api(srv, "/api/conflicts/%d/resolve" % ids[0], sup, "GET")
        assert status == 405, got
        status, got = api(srv, "/api/conflicts/%d/resolve" % ids[0], sup, "POST",
                          b"{" + b" " * 70000 + b"}")
        assert status == 413, got
        mon = await watch(srv, sup)
        # A pull clears the pokes the conflicts' pushes left outstanding (one at a time).
        for ws in (a, c):
            await pull_all(ws)
            assert await no_message(ws, 0.2) is None
        # winner, with a reason: b's value stays; a is poked; the entry keeps both candidates.
        status, got = api(srv, "/api/conflicts/%d/resolve" % ids[0], sup, "POST",
                          {"choose": "winner", "reason": "checked by phone"})
        assert status == 200, got
        e = got["conflict"]
        assert e["status"] == "resolved" and e["resolved_by"] == "sup", e
        assert e["reason"] == "checked by phone" and e["resolution"] == "employed", e
        assert e["resolved_at"].endswith("Z") and len(e["candidates"]) == 2, e
        assert got["rev"] >= 3, got
        poke = await recv_type(a, "poke")
        assert poke["type"] == "poke", poke
        # The dashboards hear of it on /monitor.
        ev = await monitor_event(mon, "conflict", status="resolved")
        assert ev["id"] == ids[0] and ev["record"] == "s-1" and ev["field"] == "employment", ev
        assert ev["collection"] == "subjects" and ev["grid"] == "g01", ev
        assert ev["time"].endswith("Z"), ev
        await mon.close()
        status, again = api(srv, "/api/conflicts/%d/resolve" % ids[0], sup, "POST",
                            {"choose": "loser"})
        assert (status, again) == (409, {"error": "already_resolved"}), again
        # loser: a's value comes back; value: anything the schema allows.
        status, got = api(srv, "/api/conflicts/%d/resolve" % ids[1], sup, "POST",
                          {"choose": "loser"})
        assert status == 200 and got["conflict"]["resolution"] == "111", got
        status, got = api(srv, "/api/conflicts/%d/resolve" % ids[2], sup, "POST",
                          {"value": "旭峰农牧"})
        assert status == 200 and got["conflict"]["resolution"] == "旭峰农牧", got
        assert await no_message(c, 0.3) is None, "a tablet of g02 was poked for g01"
        # A tablet pulling afterwards gets the chosen values.
        items, _, _ = await pull_all(b)
        recs = {i["id"]: i["fields"] for i in items if i["collection"] == "subjects"}
        assert recs["s-1"]["employment"] == "employed", recs
        assert recs["s-2"]["phone"] == "111", recs
        assert recs["s-3"]["employer"] == "旭峰农牧", recs
        status, body = api(srv, "/api/conflicts?status=resolved", sup)
        assert len(body["conflicts"]) == 3, body
        for ws in (a, b, c):
            await ws.close()
    finally:
        srv.kill()


async def test_report(env):
    """Figures of a small store: 4 subjects in g01 (one completed, two employed of the three
    others, two paired with c1), 1 in g02; visits in the last 30 days to 2 of them."""
    sup, sup1 = setup(env)
    srv = Server(env)
    try:
        a, _ = await session(srv, env, "tabA")
        c, _ = await session(srv, env, "tabC")
        recent = datetime.datetime.fromtimestamp((now_ms() - 2 * DAY) / 1000,
                                                 datetime.timezone.utc)
        recent = recent.strftime("%Y-%m-%dT%H:%M:%SZ")
        ack = await push(a, "r1", [
            subject(1, "s-1", "g01", status="community_rehab", employment="employed",
                    cadre="c1"),
            subject(2, "s-2", "g01", status="voluntary", employment="self_employed",
                    cadre="c1"),
            subject(3, "s-3", "g01", status="voluntary", employment="unemployed"),
            subject(4, "s-4", "g01", status="completed", employment="employed"),
            change(5, "visits", "v-1", 0, {"subject": "s-1", "grid": "g01", "visited_at": recent,
                                           "assistance": ["rehab", "training"]}),
            change(6, "visits", "v-2", 0, {"subject": "s-2", "grid": "g01", "visited_at": recent,
                                           "assistance": ["rehab"]}),
        ])
        assert all(r["status"] == "applied" for r in ack["results"]), ack
        ack = await push(c, "r2", [subject(1, "s-5", "g02", status="relapsed")])
        assert ack["results"][0]["status"] == "applied", ack
        status, r = api(srv, "/api/report", sup)
        assert status == 200, r
        assert r["generated"].endswith("Z"), r
        assert r["subjects"] == {"total": 5, "by_status": {
            "community_rehab": 1, "voluntary": 2, "completed": 1, "relapsed": 1, "none": 0}}, r
        p = r["placement"]
        assert (p["employed"], p["self_employed"], p["eligible"]) == (1, 1, 4), p
        assert p["rate"] == 0.5 and p["reference"] == 0.8367, p
        cov = r["coverage"]
        assert (cov["subjects"], cov["visited_30d"], cov["rate"]) == (5, 2, 0.4), cov
        grids = {g["grid"]: g for g in cov["grids"]}
        assert (grids["g01"]["subjects"], grids["g01"]["visited_30d"]) == (4, 2), grids
        assert grids["g01"]["rate"] == 0.5 and grids["g01"]["paired"] == 2, grids
        assert grids["g02"]["rate"] == 0 and grids["g02"]["subjects"] == 1, grids
        ass = r["assistance"]
        assert ass["all"] == {"rehab": 2, "training": 1, "placement": 0, "family": 0, "fund": 0,
                              "purchase": 0, "dibao": 0, "medical": 0}, ass
        assert ass["last_30d"] == ass["all"], ass
        assert ass["four_in_one"] == ["rehab", "training", "placement", "family"], ass
        pr = r["pairing"]
        assert (pr["subjects"], pr["paired"], pr["rate"], pr["goal"]) == (5, 2, 0.4, 1), pr
        c1 = [x for x in pr["cadres"] if x["user"] == "c1"][0]
        assert (c1["paired"], c1["paired_visited_30d"]) == (2, 2), c1
        weeks = r["visits_per_week"]
        assert len(weeks) == 12 and weeks[-1]["visits"] == 2, weeks
        assert sum(w["visits"] for w in weeks) == 2, weeks
        assert [w["week_start"] for w in weeks] == sorted(w["week_start"] for w in weeks), weeks
        # The supervisor of g01 sees g01's figures only.
        status, r1 = api(srv, "/api/report", sup1)
        assert r1["subjects"]["total"] == 4 and r1["subjects"]["by_status"]["relapsed"] == 0, r1
        assert [g["grid"] for g in r1["coverage"]["grids"]] == ["g01"], r1
        await a.close()
        await c.close()
    finally:
        srv.kill()


def test_metrics_token(env):
    env.standard()
    srv = Server(env)
    try:
        status, h, raw = request(srv, "GET", "/metrics")
        assert status == 200 and h["content-type"].startswith("text/plain; version=0.0.4"), h
        text = raw.decode()
        for name in ("visitsync_uptime_seconds", "visitsync_records", "visitsync_cursor"):
            assert "\n" + name + " " in "\n" + text, (name, text[:500])
    finally:
        srv.kill()
    srv = Server(env, "--metrics-token", "s3cret-metrics")
    try:
        for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-metrics"}):
            status, _, raw = request(srv, "GET", "/metrics", headers=h)
            assert status == 401 and json.loads(raw) == {"error": "unauthorized"}, (h, raw)
        status, h, raw = request(srv, "GET", "/metrics", token="s3cret-metrics")
        assert status == 200 and b"visitsync_uptime_seconds" in raw, raw[:200]
        status, _, _ = request(srv, "POST", "/metrics", body=b"x", token="s3cret-metrics")
        assert status == 405
    finally:
        srv.kill()


def check_html(h):
    assert h["content-type"] == "text/html; charset=utf-8", h
    assert h["content-security-policy"] == (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
        "style-src 'self' 'unsafe-inline'; worker-src 'self'; manifest-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"), h
    assert h["x-frame-options"] == "DENY" and h["referrer-policy"] == "no-referrer", h
    assert h["cache-control"] == "no-cache" and h["x-content-type-options"] == "nosniff", h


def test_static_embedded(env):
    env.standard()
    srv = Server(env)
    try:
        status, h, raw = request(srv, "GET", "/")
        assert status == 200 and b"<html" in raw.lower(), raw[:100]
        check_html(h)
        status, h2, raw2 = request(srv, "GET", "/index.html")
        assert status == 200 and raw2 == raw and h2["etag"] == h["etag"], h2
        status, h3, raw3 = request(srv, "GET", "/", headers={"If-None-Match": h["etag"]})
        assert status == 304 and raw3 == b"" and h3["etag"] == h["etag"], (status, h3)
        status, _, _ = request(srv, "GET", "/", headers={"If-None-Match": '"other"'})
        assert status == 200
        status, h, raw = request(srv, "GET", "/no-such-file.js")
        assert status == 404 and json.loads(raw) == {"error": "not_found"}, raw
        for path in ("/api/nope", "/api/", "/api", "/api/conflicts/x/resolve"):
            status, body = api(srv, path, None)
            assert (status, body) == (404, {"error": "not_found"}), (path, body)
        status, body = api(srv, "/api/status", None, "POST", {})
        assert status == 405, body
        status, h, raw = request(srv, "GET", "/healthz")
        assert status == 200 and json.loads(raw) == {"status": "ok"}, raw
        # The field app, embedded: its page, service worker, manifest and icons.
        status, h, _ = request(srv, "GET", "/field")
        assert status == 301 and h["location"] == "/field/", h
        status, h, raw = request(srv, "GET", "/field/")
        assert status == 200 and b"<html" in raw.lower(), raw[:100]
        check_html(h)
        for path, ctype in (("/field/sw.js", "text/javascript; charset=utf-8"),
                            ("/field/manifest.webmanifest", "application/manifest+json"),
                            ("/field/icon.svg", "image/svg+xml"),
                            ("/field/icon-192.png", "image/png")):
            status, h, raw = request(srv, "GET", path)
            assert status == 200 and h["content-type"] == ctype and raw, (path, h)
            assert h["cache-control"] == "no-cache" and h["etag"], (path, h)
            assert "content-security-policy" not in h, (path, h)
        manifest = json.loads(request(srv, "GET", "/field/manifest.webmanifest")[2])
        assert manifest["display"] == "standalone" and manifest["icons"], manifest
    finally:
        srv.kill()


def raw_get(srv, path):
    """The status line and body of a GET sent byte for byte (no client-side normalizing)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


def test_static_web_dir(env):
    env.standard()
    sup = token(env, "sup")
    root = os.path.join(env.dir, "site")
    os.makedirs(os.path.join(root, "field"))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><html>dev dashboard</html>")
    with open(os.path.join(root, "field", "index.html"), "w") as f:
        f.write("<!doctype html><html>dev field</html>")
    with open(os.path.join(root, "app.js"), "w") as f:
        f.write("console.log(1);")
    site = {"field/sw.js": ("self.x = 1;", "text/javascript; charset=utf-8"),
            "field/lib.mjs": ("export const x = 1;", "text/javascript; charset=utf-8"),
            "field/manifest.webmanifest": ('{"name":"x"}', "application/manifest+json"),
            "field/icon.png": ("\x89PNG", "image/png"),
            "field/icon.svg": ("<svg/>", "image/svg+xml"),
            "field/strings.json": ("{}", "application/json"),
            "favicon.ico": ("ico", "image/x-icon")}
    for rel, (text, _) in site.items():
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)
    with open(os.path.join(env.dir, "secret.txt"), "w") as f:
        f.write("TOP-SECRET")
    os.symlink(os.path.join(env.dir, "secret.txt"), os.path.join(root, "link.txt"))
    srv = Server(env, "--web", root)
    try:
        status, h, raw = request(srv, "GET", "/")
        assert status == 200 and raw == b"<!doctype html><html>dev dashboard</html>", raw
        check_html(h)
        status, h2, _ = request(srv, "GET", "/", headers={"If-None-Match": h["etag"]})
        assert status == 304, status
        status, h, raw = request(srv, "GET", "/app.js")
        assert status == 200 and h["content-type"] == "text/javascript; charset=utf-8", h
        assert "content-security-policy" not in h and h["cache-control"] == "no-cache", h
        status, h, _ = request(srv, "GET", "/field")
        assert status == 301 and h["location"] == "/field/", h
        status, h, raw = request(srv, "GET", "/field/")
        assert status == 200 and b"dev field" in raw, raw
        check_html(h)
        for rel, (text, ctype) in site.items():
            status, h, raw = request(srv, "GET", "/" + rel)
            assert status == 200 and raw == text.encode(), (rel, status, raw)
            assert h["content-type"] == ctype and h["cache-control"] == "no-cache", (rel, h)
            assert "content-security-policy" not in h, (rel, h)
            status, _, _ = request(srv, "GET", "/" + rel, headers={"If-None-Match": h["etag"]})
            assert status == 304, (rel, status)
        # The API, /healthz and /sync keep working beside the files.
        assert api(srv, "/api/status", sup)[0] == 200
        assert request(srv, "GET", "/healthz")[0] == 200
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/field/../../secret.txt",
                     "/link.txt", "/..%2fsecret.txt"):
            line, body = raw_get(srv, path)
            assert b"TOP-SECRET" not in body, (path, line)
            assert " 200 " not in line, (path, line)
    finally:
        srv.kill()


async def test_sync_beside_http(env):
    """A tablet syncs while the API answers on the same port."""
    sup, _ = setup(env)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        await push(ws, "p", [subject(1, "s-1", "g01")])
        assert api(srv, "/api/status", sup)[0] == 200
        items, _, _ = await pull_all(ws)
        assert [i["id"] for i in items] == ["s-1"], items
        await ws.close()
    finally:
        srv.kill()
