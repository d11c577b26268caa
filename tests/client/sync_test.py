#!/usr/bin/env python3
"""`visitsync client` against the real `visitsync serve`, end to end.

Usage: sync_test.py PATH/TO/visitsync

Prepares a server database with `visitsync init`, `grid add`, `user add`
and `device enroll`, starts `visitsync serve --listen 127.0.0.1:0` (the port
comes from its startup line), and drives tablets through `visitsync client`:
  - two tablets of the same grid add records offline, sync, and each sees
    the other's records after its pull;
  - an offline tablet with 1,200 queued changes catches up (more than one
    push batch, more than one pull page);
  - a lost ack (the local store restored to its state before a sync) gives
    `duplicate` on the re-send, and nothing is applied twice;
  - a new store for a device the server already has seqs of (a replaced
    tablet; the README tour's tab-c001 after `visitsync demo`): its first
    welcome renumbers the queue after welcome.seq, so the changes are
    applied and exported, and a lost ack afterwards is still a duplicate;
  - two tablets editing the same field from the same base: `conflict`;
  - a bad enum is `rejected`, kept with its error, and does not block the
    change queued with it;
  - `client status` shows all that; failures exit 1 (bad token, no server)
    or 2 (usage) with one line on stderr;
  - a sync started while the server is down retries with backoff and
    completes once it is up;
  - wss:// with a self-signed certificate: refused with the reason, then
    accepted with --insecure or trusted with --ca.
Python 3 standard library and the `openssl` command (.ci/deps installs it).
Nothing is skipped: a binary without `serve`, or an `openssl` that cannot
make the certificate, fails the test like any other broken check.
"""
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

VISITSYNC = None
TMP = None
FAILURES = []


def run(*args, ok=True, code=None, env=None, timeout=120):
    """Runs visitsync with args; returns (stdout, stderr, status)."""
    p = subprocess.run([VISITSYNC, *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    if ok and p.returncode != 0:
        raise AssertionError("visitsync %s -> %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, p.stdout, p.stderr))
    if code is not None and p.returncode != code:
        raise AssertionError("visitsync %s -> %d, expected %d\nstderr: %s"
                             % (" ".join(args), p.returncode, code, p.stderr))
    return p.stdout, p.stderr, p.returncode


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)
    else:
        print("ok: " + what, flush=True)


class Tablet:
    def __init__(self, name, url, token, device=None):
        """A store TMP/name.db for device (default: name)."""
        self.name = name
        self.replica = os.path.join(TMP, name + ".db")
        run("client", "init", "--replica", self.replica, "--url", url, "--device",
            device or name, "--token", token)

    def add(self, collection, rid, *sets, base=None, extra=()):
        args = ["client", "add", "--replica", self.replica, "--collection", collection,
                "--id", rid]
        if base is not None:
            args += ["--base", str(base)]
        for s in sets:
            args += ["--set", s]
        return run(*args, *extra)[0]

    def sync(self, ok=True, extra=()):
        out, err, rc = run("client", "sync", "--replica", self.replica, "--timeout", "20",
                           *extra, ok=ok)
        return out.strip(), err.strip(), rc

    def lose_next_ack(self):
        """Returns a function that puts the store back as it is now, as if the
        acks of a sync made in between had been lost."""
        saved = self.replica + ".before"
        shutil.copyfile(self.replica, saved)

        def restore():
            shutil.copyfile(saved, self.replica)
            for ext in ("-wal", "-shm"):
                if os.path.exists(self.replica + ext):
                    os.unlink(self.replica + ext)
        return restore

    def status(self):
        return run("client", "status", "--replica", self.replica)[0]

    def records(self, collection=None):
        args = ["client", "list", "--replica", self.replica]
        if collection:
            args += ["--collection", collection]
        return {(r.group(1), r.group(2)): int(r.group(3)) for r in re.finditer(
            r'\{"collection":"([^"]*)","id":"([^"]*)","rev":(\d+)', run(*args)[0])}


def summary(line):
    m = re.match(r"pushed (\d+) \(applied (\d+), conflict (\d+), duplicate (\d+), "
                 r"rejected (\d+)\), pulled (\d+), cursor (\S+)$", line)
    if not m:
        raise AssertionError("not a sync summary: %r" % line)
    keys = ("pushed", "applied", "conflict", "duplicate", "rejected", "pulled")
    d = dict(zip(keys, map(int, m.groups()[:6])))
    d["cursor"] = m.group(7)
    return d


def subject(t, rid, name, *more, base=None):
    return t.add("subjects", rid, "name=" + name, "grid=g01", *more, base=base)


def start_server(db, *extra, scheme="ws"):
    listen = [] if "--listen" in extra else ["--listen", "127.0.0.1:0"]
    proc = subprocess.Popen([VISITSYNC, "serve", "--db", db, *listen, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    m = re.match(r"visitsync listening on (\S+):(\d+)$", line)
    if not m:
        proc.kill()
        raise AssertionError("no startup line from serve: %r %s" % (line, proc.stderr.read()))
    return proc, "%s://%s:%s/sync" % (scheme, m.group(1), m.group(2))


def stop_server(proc):
    proc.terminate()
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def exported(db, collection):
    """The ids of a collection in the server's store, by `visitsync export`."""
    out = run("export", "--db", db, "--collection", collection)[0]
    return {re.match(r'\{"id":"([^"]*)"', l).group(1) for l in out.splitlines() if l}


def demo_tour_scenario():
    """The README tour: `visitsync demo` pushed thousands of changes as
    tab-c001, then a new store is made for tab-c001. Its first change
    (seq 1 locally, far below what the server committed) must be applied,
    not answered `duplicate` and dropped."""
    db = os.path.join(TMP, "demo.db")
    run("init", "--db", db)
    listing = run("demo", "--db", db)[0]
    m = re.search(r"\btab-c001\s+(\S+)\s*$", listing, re.M)
    check(m is not None, "demo prints a token for tab-c001")
    with sqlite3.connect(db) as con:
        committed = con.execute("SELECT max_seq FROM devices WHERE id='tab-c001'").fetchone()[0]
    con.close()
    check(committed > 1, "demo committed seqs up to %d for tab-c001" % committed)
    subjects = run("export", "--db", db, "--collection", "subjects")[0]
    s01 = re.search(r'\{"id":"([^"]*)".*"grid":"g01"', subjects).group(1)
    server, url = start_server(db)
    try:
        t = Tablet("tour-c001", url, m.group(1), device="tab-c001")
        t.add("visits", "v-tour-1", "subject=" + s01, "grid=g01",
              "visited_at=2026-11-29T10:00:00+08:00")
        out, err, _ = t.sync()
        s = summary(out)
        check(s["applied"] == 1 and s["duplicate"] == 0,
              "tour: the new store's first visit is applied, not a duplicate: %s" % s)
        check("renumbered" in err, "tour: the sync says the queue was renumbered: %r" % err)
        check("v-tour-1" in exported(db, "visits"), "tour: the visit is on the server (export)")
        st = t.status()
        check(re.search(r"^server seq: %d$" % (committed + 1), st, re.M) is not None,
              "tour: status shows the server's committed seq %d: %r" % (committed + 1, st))
    finally:
        check(stop_server(server) == 0, "tour: the server stops cleanly")


def reused_device_scenario(url, db, token):
    """A tablet replaced (or its app reinstalled) keeps its device id: the
    new store starts at seq 1 while the server has committed seqs of the
    old one. Its queued changes are renumbered once, at its first welcome;
    a re-send after a lost ack is still a duplicate afterwards."""
    old = Tablet("tab-re-old", url, token, device="tab-re")
    for i in range(5):
        subject(old, "s-re-%d" % i, "Old %d" % i)
    s = summary(old.sync()[0])
    check(s["applied"] == 5, "the old store of tab-re pushes 5: %s" % s)

    new = Tablet("tab-re-new", url, token, device="tab-re")
    subject(new, "s-re-new-1", "New 1")
    subject(new, "s-re-new-2", "New 2")
    out, err, _ = new.sync()
    s = summary(out)
    check(s["applied"] == 2 and s["duplicate"] == 0,
          "a new store of a known device: its 2 queued changes are applied: %s" % s)
    check("renumbered" in err and "up to 5" in err, "the sync names the renumbering: %r" % err)
    ids = exported(db, "subjects")
    check({"s-re-new-1", "s-re-new-2"} <= ids, "both are on the server (export)")
    check(re.search(r"^server seq: 7$", new.status(), re.M) is not None,
          "status shows the server's committed seq (5 at the welcome, 7 after the acks)")

    # The ack is lost after the first welcome: the re-send stays a duplicate.
    subject(new, "s-re-new-3", "New 3")
    restore = new.lose_next_ack()
    s = summary(new.sync()[0])
    check(s["applied"] == 1, "the next change is applied once: %s" % s)
    restore()
    out, err, _ = new.sync()
    s = summary(out)
    check(s["duplicate"] == 1 and s["applied"] == 0 and "renumbered" not in err,
          "re-sent after a lost ack, the store is not renumbered again: duplicate: %s" % s)
    check(new.records().get(("subjects", "s-re-new-3")) == 1, "and nothing was applied twice (rev 1)")

    # A new store that syncs before it queues anything: its first change
    # is numbered after the server's seq too.
    empty = Tablet("tab-re-empty", url, token, device="tab-re")
    summary(empty.sync()[0])
    subject(empty, "s-re-empty", "Empty")
    s = summary(empty.sync()[0])
    check(s["applied"] == 1, "a change queued after an empty store's first sync is applied: %s"
          % s)
    check("s-re-empty" in exported(db, "subjects"), "and it is on the server (export)")


def retry_scenario(db, token):
    """The server is down when the sync starts and comes up a moment later:
    the client retries with backoff and then pushes everything."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    t = Tablet("tab-retry", "ws://127.0.0.1:%d/sync" % port, token)
    for i in range(3):
        subject(t, "s-retry-%d" % i, "Retry %d" % i)
    sync = subprocess.Popen([VISITSYNC, "client", "sync", "--replica", t.replica,
                             "--attempts", "8", "--timeout", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.2)
    server, _ = start_server(db, "--listen", "127.0.0.1:%d" % port)
    try:
        out, err = sync.communicate(timeout=120)
        check(sync.returncode == 0 and "retrying" in err,
              "sync retries until the server is up: rc %d, %r" % (sync.returncode, err))
        s = summary(out.strip())
        check(s["applied"] == 3, "then every queued change is acked: %s" % s)
    finally:
        stop_server(server)


def tls_scenario(db, token):
    """wss://: a self-signed certificate is refused with a reason, unless
    trusted with --ca or accepted with --insecure."""
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    try:
        gen = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                              "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2"],
                             capture_output=True, text=True)
        made, why = gen.returncode == 0, gen.stderr.strip()
    except OSError as e:  # no openssl on PATH
        made, why = False, str(e)
    check(made, "openssl makes a self-signed certificate for the TLS checks"
          + ("" if made else ": " + why))
    if not made:
        return
    server, url = start_server(db, "--tls-cert", cert, "--tls-key", key, scheme="wss")
    try:
        t = Tablet("tab-tls", url, token)
        out, err, rc = t.sync(ok=False, extra=("--attempts", "1"))
        check(rc == 1 and "not trusted" in err and "self-signed" in err,
              "wss with an untrusted certificate: exit 1 and the reason: %r" % err)
        subject(t, "s-tls", "Tls")
        s = summary(t.sync(extra=("--insecure",))[0])
        check(s["applied"] == 1, "wss --insecure syncs: %s" % s)
        s = summary(t.sync(extra=("--ca", cert))[0])
        check(s["pushed"] == 0 and s["pulled"] == 0, "wss --ca CERT syncs: %s" % s)
    finally:
        stop_server(server)


def scenario(url, tokens):
    a = Tablet("tab-a", url, tokens["tab-a"])
    b = Tablet("tab-b", url, tokens["tab-b"])

    # Two tablets of one grid work offline, then sync and see each other.
    subject(a, "s-a1", "Chen")
    a.add("visits", "v-a1", "subject=s-a1", "grid=g01", "visited_at=2026-11-28T09:30:00+08:00",
          "kind=home", 'assistance=["placement","training"]', "notes=first visit")
    subject(b, "s-b1", "Li")
    s = summary(a.sync()[0])
    check(s["pushed"] == 2 and s["applied"] == 2, "tablet a pushes its 2 changes: %s" % s)
    s = summary(b.sync()[0])
    check(s["applied"] == 1 and s["pulled"] >= 3, "tablet b pushes 1 and pulls all 3: %s" % s)
    summary(a.sync()[0])
    ra, rb = a.records(), b.records()
    check(("subjects", "s-b1") in ra, "tablet a sees tablet b's subject")
    check(("subjects", "s-a1") in rb and ("visits", "v-a1") in rb,
          "tablet b sees tablet a's subject and visit")
    listing = run("client", "list", "--replica", b.replica, "--collection", "visits")[0]
    check('"assistance":["placement","training"]' in listing and '"notes":"first visit"' in listing,
          "--set values: JSON arrays stay arrays, other text becomes a string")

    # Conflict: both edit the same field from the same base.
    base = ra[("subjects", "s-a1")]
    a.add("subjects", "s-a1", "employment=employed", "employer=旭峰农牧")
    b.add("subjects", "s-a1", "employment=unemployed")
    check(b.records()[("subjects", "s-a1")] == base, "both tablets edit from the same base")
    summary(a.sync()[0])
    s = summary(b.sync()[0])
    check(s["conflict"] == 1 and s["pushed"] == 1, "the second edit of the field is a conflict: %s" % s)
    summary(a.sync()[0])
    body_a = run("client", "list", "--replica", a.replica, "--collection", "subjects")[0]
    body_b = run("client", "list", "--replica", b.replica, "--collection", "subjects")[0]
    line_a = [l for l in body_a.splitlines() if '"id":"s-a1"' in l]
    line_b = [l for l in body_b.splitlines() if '"id":"s-a1"' in l]
    check(line_a == line_b and len(line_a) == 1, "both tablets converge on one record after pulls")

    # Rejected (bad enum) does not block the change queued with it.
    subject(a, "s-bad", "Wang", "status=bogus")
    subject(a, "s-good", "Zhao", "status=voluntary")
    s = summary(a.sync()[0])
    check(s["rejected"] == 1 and s["applied"] == 1, "bad enum rejected, the other applied: %s" % s)
    st = a.status()
    check(re.search(r"^pending: 0$", st, re.M) is not None, "status: nothing pending")
    check(re.search(r"^rejected: 1$", st, re.M) is not None, "status: one rejected change")
    check(re.search(r"seq \d+ subjects/s-bad: invalid_field status: ", st) is not None,
          "status lists the rejected change with its error: %r" % st)
    check(("subjects", "s-good") in a.records() and ("subjects", "s-bad") not in a.records(),
          "the valid change reached the replica, the rejected one did not")

    # Delete (a tombstone) and restore, the latter with --json fields.
    a.add("subjects", "s-good", extra=("--delete",))
    summary(a.sync()[0])
    line = [l for l in run("client", "list", "--replica", a.replica)[0].splitlines()
            if '"id":"s-good"' in l]
    check(len(line) == 1 and '"deleted":true' in line[0], "--delete leaves a tombstone: %s" % line)
    check(re.search(r"subjects \d+ \(1 deleted\)", a.status()) is not None,
          "status counts the deleted record")
    a.add("subjects", "s-good", extra=("--restore", "--json", '{"phone":"13800138000"}'))
    summary(a.sync()[0])
    line = [l for l in run("client", "list", "--replica", a.replica)[0].splitlines()
            if '"id":"s-good"' in l]
    check(len(line) == 1 and '"deleted":false' in line[0] and '"phone":"13800138000"' in line[0],
          "--restore with --json brings it back with the new field: %s" % line)

    # Duplicate after a lost ack: restore the store as it was before the sync.
    subject(a, "s-dup", "Sun")
    restore = a.lose_next_ack()
    s = summary(a.sync()[0])
    check(s["applied"] == 1, "the change is applied once")
    restore()
    s = summary(a.sync()[0])
    check(s["duplicate"] == 1 and s["applied"] == 0, "re-sent after a lost ack: duplicate: %s" % s)
    check(a.records()[("subjects", "s-dup")] == 1, "the duplicate was not applied again (rev 1)")

    # Status of tablet b: device, server, records.
    st = b.status()
    check("device: tab-b" in st and "server: " + url in st, "status names device and server")
    check(re.search(r"^records: .*subjects \d+ \(0 deleted\)", st, re.M) is not None,
          "status counts records per collection: %r" % st)

    # Pending count while offline, then a tablet that holds 1,200 changes.
    c = Tablet("tab-c", url, tokens["tab-c"])
    started = time.time()
    for i in range(1200):
        c.add("subjects", "bulk-%04d" % i, "name=Bulk %d" % i, "grid=g01", "income=%d" % i)
    print("queued 1200 changes in %.1f s" % (time.time() - started), flush=True)
    st = c.status()
    check(re.search(r"^pending: 1200 \(oldest \S+\)$", st, re.M) is not None,
          "status shows 1200 pending with the oldest time")
    out, err, _ = c.sync()
    s = summary(out)
    check(s["pushed"] == 1200 and s["applied"] == 1200, "1200 changes pushed in batches: %s" % s)
    check(s["pulled"] == 1200 + 5, "more than one pull page (>1000 records): %s" % s)
    check(len([k for k in c.records() if k[1].startswith("bulk-")]) == 1200,
          "all 1200 records are in the replica")
    check(re.search(r"^pending: 0$", c.status(), re.M) is not None, "outbox empty after catch-up")
    s = summary(b.sync(extra=("--no-deflate",))[0])
    check(s["pulled"] == 1200 + 2, "tablet b pulls the 1200 new records and s-good, s-dup: %s" % s)

    # Failures: a bad token (exit 1, 4401), no server (exit 1), usage (exit 2).
    bad = Tablet("tab-bad", url, "x" * 43)
    out, err, rc = bad.sync(ok=False)
    check(rc == 1 and len(err.splitlines()) == 1 and "code 4401 (unauthorized" in err,
          "bad token: exit 1 and one line naming 4401 unauthorized: %r" % err)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    gone = Tablet("tab-gone", "ws://127.0.0.1:%d/sync" % (1 if port != 1 else 2), tokens["tab-a"])
    out, err, rc = gone.sync(ok=False, extra=("--attempts", "2"))
    check(rc == 1 and "refused" in err.splitlines()[-1],
          "no server: exit 1, the last line says the connection was refused: %r" % err)
    _, err, rc = run("client", "add", "--replica", a.replica, "--collection", "subjects",
                     ok=False)
    check(rc == 2 and len(err.splitlines()) == 1 and "--id" in err, "usage error: exit 2: %r" % err)
    _, err, rc = run("client", "sync", "--replica", os.path.join(TMP, "none.db"), ok=False)
    check(rc == 1 and "client init" in err, "a missing store says to run client init: %r" % err)


def main():
    global VISITSYNC, TMP
    if len(sys.argv) != 2:
        print("usage: sync_test.py PATH/TO/visitsync", file=sys.stderr)
        return 2
    VISITSYNC = os.path.abspath(sys.argv[1])
    if subprocess.run([VISITSYNC, "help", "serve"], capture_output=True).returncode != 0:
        print("FAIL: `visitsync help serve` fails: the binary has no serve command")
        return 1
    TMP = tempfile.mkdtemp(prefix="vs-client-test-")
    db = os.path.join(TMP, "server.db")
    server = None
    try:
        run("init", "--db", db)
        run("grid", "add", "g01", "Grid One", "--db", db)
        tokens = {}
        for user, device in (("c01", "tab-a"), ("c02", "tab-b"), ("c03", "tab-c")):
            run("user", "add", "--id", user, "--name", "Cadre " + user, "--role", "cadre",
                "--grids", "g01", "--db", db)
            tokens[device] = run("device", "enroll", "--user", user, "--device", device,
                                 "--db", db)[0].strip()
        tokens["tab-re"] = run("device", "enroll", "--user", "c01", "--device", "tab-re",
                               "--db", db)[0].strip()
        server, url = start_server(db)
        scenario(url, tokens)
        reused_device_scenario(url, db, tokens["tab-re"])
        check(stop_server(server) == 0, "the server stops cleanly")
        server = None
        tokens["tab-retry"] = run("device", "enroll", "--user", "c01", "--device", "tab-retry",
                                  "--db", db)[0].strip()
        retry_scenario(db, tokens["tab-retry"])
        tokens["tab-tls"] = run("device", "enroll", "--user", "c01", "--device", "tab-tls",
                                "--db", db)[0].strip()
        tls_scenario(db, tokens["tab-tls"])
        demo_tour_scenario()
    finally:
        if server:
            stop_server(server)
        if not FAILURES:
            shutil.rmtree(TMP, ignore_errors=True)
    if FAILURES:
        print("%d check(s) failed; files kept in %s" % (len(FAILURES), TMP))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
