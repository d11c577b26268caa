"""GET /metrics (docs/operations.md, "Monitoring"): the Prometheus text format with HELP and
TYPE lines, counters that move by exactly what was pushed, histograms whose _count and +Inf
bucket equal the number of pushes, and `serve --metrics-token`."""
import json
import re
import urllib.error
import urllib.request

import vstest
from vstest import Server, connect, push, send, session, subject

SAMPLE_RE = re.compile(r'^([a-z_]+)(\{[a-z]+="[^"]*"\})? (\S+)$')
FAMILIES = {
    "visitsync_uptime_seconds": "gauge", "visitsync_connections": "gauge",
    "visitsync_devices_online": "gauge", "visitsync_monitor_watchers": "gauge",
    "visitsync_changes_total": "counter", "visitsync_push_changes": "histogram",
    "visitsync_commit_seconds": "histogram", "visitsync_commits_total": "counter",
    "visitsync_checkpoints_total": "counter", "visitsync_signin_failures_total": "counter",
    "visitsync_throttled_hellos_total": "counter", "visitsync_db_bytes": "gauge",
    "visitsync_records": "gauge", "visitsync_cursor": "gauge",
    "visitsync_conflicts_open": "gauge", "visitsync_poke_fanouts_total": "counter",
    "visitsync_pokes_total": "counter", "visitsync_poke_fanout_seconds_total": "counter",
    "visitsync_poke_fanout_max_seconds": "gauge",
}


def get(server, token=None):
    """(status, content type, body text) of GET /metrics."""
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % server.port)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=vstest.WAIT) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def scrape(server, token=None):
    """The samples of one scrape as {"name{labels}": value}; checks the format on the way."""
    status, ctype, text = get(server, token)
    assert status == 200, "GET /metrics answered %d: %s" % (status, text)
    assert ctype.startswith("text/plain"), ctype
    samples, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            typed[name] = kind
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        family = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert family in typed or m.group(1) in typed, "sample before its TYPE: %r" % line
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    for name, kind in FAMILIES.items():
        assert typed.get(name) == kind, "%s: TYPE %r, want %s" % (name, typed.get(name), kind)
        assert ("# HELP %s " % name) in text, "no HELP line for " + name
    return samples


def delta(after, before, key):
    return after[key] - before.get(key, 0)


def histogram_consistent(s, name, bounds):
    """Buckets cumulative and ending in +Inf == _count."""
    prev = 0
    for b in bounds + ["+Inf"]:
        v = s['%s_bucket{le="%s"}' % (name, b)]
        assert v >= prev, "%s buckets not cumulative at le=%s" % (name, b)
        prev = v
    assert prev == s[name + "_count"], "%s: +Inf bucket %d, _count %d" % (name, prev,
                                                                          s[name + "_count"])


PUSH_LE = ["1", "5", "10", "50", "100", "250", "500"]
COMMIT_LE = ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.25", "0.5", "1"]


async def test_counts_move_with_pushes(env):
    env.standard()
    srv = Server(env)
    try:
        s0 = scrape(srv)
        assert s0["visitsync_connections"] == 0 and s0["visitsync_devices_online"] == 0
        ws, _ = await session(srv, env, "tabA")
        sizes = [1, 7, 60]
        seq = 0
        for k, n in enumerate(sizes):
            changes = []
            for _ in range(n):
                seq += 1
                changes.append(subject(seq, "s-%d" % seq, "g01"))
            ack = await push(ws, "p%d" % k, changes)
            assert all(r["status"] == "applied" for r in ack["results"])
        # One duplicate (seq 1 again) and one rejected (a grid outside tabA's scope).
        ack = await push(ws, "dup", [subject(1, "s-1", "g01"), subject(seq + 1, "s-x", "g02")])
        assert [r["status"] for r in ack["results"]] == ["duplicate", "rejected"], ack
        s1 = scrape(srv)
        pushed = sum(sizes)
        assert delta(s1, s0, 'visitsync_changes_total{outcome="applied"}') == pushed
        assert delta(s1, s0, 'visitsync_changes_total{outcome="duplicate"}') == 1
        assert delta(s1, s0, 'visitsync_changes_total{outcome="rejected"}') == 1
        assert delta(s1, s0, 'visitsync_changes_total{outcome="conflict"}') == 0
        assert delta(s1, s0, "visitsync_push_changes_count") == 4
        assert delta(s1, s0, "visitsync_push_changes_sum") == pushed + 2
        assert delta(s1, s0, 'visitsync_push_changes_bucket{le="1"}') == 1
        assert delta(s1, s0, 'visitsync_push_changes_bucket{le="5"}') == 2   # 1 and 2
        assert delta(s1, s0, 'visitsync_push_changes_bucket{le="10"}') == 3  # and 7
        assert delta(s1, s0, 'visitsync_push_changes_bucket{le="100"}') == 4  # and 60
        histogram_consistent(s1, "visitsync_push_changes", PUSH_LE)
        histogram_consistent(s1, "visitsync_commit_seconds", COMMIT_LE)
        # The hello and the four pushes committed in at least one group each way round.
        assert delta(s1, s0, "visitsync_commits_total") >= 1
        assert s1["visitsync_commit_seconds_count"] == s1["visitsync_commits_total"]
        assert s1["visitsync_commit_seconds_sum"] > 0
        assert s1["visitsync_connections"] == 1 and s1["visitsync_devices_online"] == 1
        assert s1["visitsync_records"] == pushed
        assert s1["visitsync_cursor"] >= pushed + 2  # every change received is a history row
        assert s1["visitsync_db_bytes"] > 0 and s1["visitsync_uptime_seconds"] >= 0
        await ws.close()
        for _ in range(50):  # the close reaches the server asynchronously
            s2 = scrape(srv)
            if s2["visitsync_connections"] == 0:
                break
            await __import__("asyncio").sleep(0.1)
        assert s2["visitsync_connections"] == 0 and s2["visitsync_devices_online"] == 0
    finally:
        srv.kill()


async def test_failed_signins_counted(env):
    env.standard()
    srv = Server(env)
    try:
        s0 = scrape(srv)
        ws = await connect(srv)
        await send(ws, {"type": "hello", "device": "tabA", "token": "wrong"})
        code, _ = await vstest.expect_close(ws)
        assert code == 4401
        s1 = scrape(srv)
        assert delta(s1, s0, "visitsync_signin_failures_total") == 1
        assert delta(s1, s0, "visitsync_throttled_hellos_total") == 0
    finally:
        srv.kill()


async def test_metrics_token(env):
    env.standard()
    srv = Server(env, "--metrics-token", "scrape-secret")
    try:
        for token in (None, "wrong", "scrape-secre", "scrape-secretX"):
            status, ctype, body = get(srv, token)
            assert status == 401, "token %r answered %d" % (token, status)
            assert json.loads(body) == {"error": "unauthorized"}, body
        scrape(srv, "scrape-secret")
    finally:
        srv.kill()


def test_metrics_token_must_not_be_empty(env):
    p = env.cli("serve", "--listen", "127.0.0.1:0", "--metrics-token", "", check=False)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--metrics-token" in p.stderr and "needs a value" in p.stderr, p.stderr
