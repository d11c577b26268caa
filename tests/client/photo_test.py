#!/usr/bin/env python3
"""`visitsync client` uploads photos to the real `visitsync serve`, resuming
after a connection cut midway (§2.6).

Usage: photo_test.py PATH/TO/visitsync

A 5 MB photo is kept with `client photo`, a visit naming it is queued with
`client add`, and the first sync goes through a small TCP proxy on loopback
that cuts both directions once about half the photo's bytes went through:
that sync must fail with a sentence naming the photo and exit 1, and the
server counts the photo missing. A second sync straight to the server must
resume (its line says "resumed at N" with N > 0) and complete; the server
then serves the identical bytes at GET /blobs/<sha> to a supervisor's token
and /api/status counts no missing photo. Also: a photo no record names is
kept on the tablet and not uploaded; a tablet of the same grid offering the
same photo is told the server has it; bytes damaged in the store are not
sent and stay pending; over 20 MiB is refused; the type comes from the
bytes. Every wait is bounded.
"""
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

VISITSYNC = None
TMP = None
FAILURES = []
PHOTO_SIZE = 5 * 1000 * 1000


def run(*args, ok=True, timeout=120):
    """Runs visitsync with args; returns (stdout, stderr, status)."""
    p = subprocess.run([VISITSYNC, *args], capture_output=True, text=True, timeout=timeout)
    if ok and p.returncode != 0:
        raise AssertionError("visitsync %s -> %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout, p.stderr, p.returncode


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)
    else:
        print("ok: " + what, flush=True)


class CutProxy:
    """Forwards one TCP connection to the server and cuts it (both ways)
    once `cut_after` bytes went from the client to the server. It takes one
    connection only: a retry would find nobody listening."""

    def __init__(self, port, cut_after):
        self.port, self.cut_after = port, cut_after
        self.forwarded = 0
        self.cut = threading.Event()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.lsock.settimeout(30)
        self.url = "ws://127.0.0.1:%d/sync" % self.lsock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            client, _ = self.lsock.accept()
        except OSError:
            return
        finally:
            self.lsock.close()
        server = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        back = threading.Thread(target=self._pump, args=(server, client, False), daemon=True)
        back.start()
        self._pump(client, server, True)
        back.join(30)

    def _pump(self, src, dst, upstream):
        src.settimeout(30)
        try:
            while not self.cut.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    room = self.cut_after - self.forwarded
                    data = data[:max(room, 0)]
                    self.forwarded += len(data)
                dst.sendall(data)
                if upstream and self.forwarded >= self.cut_after:
                    self.cut.set()
        except OSError:
            pass
        self.cut.set()
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def http_get(port, path, token):
    """GET on the server; returns (status, body bytes)."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def missing_photos(port, token):
    status, body = http_get(port, "/api/status", token)
    if status != 200:
        raise AssertionError("/api/status -> %d %r" % (status, body[:200]))
    return json.loads(body)["missing_photos"]


def start_server(db):
    proc = subprocess.Popen([VISITSYNC, "serve", "--db", db, "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    m = re.match(r"visitsync listening on 127\.0\.0\.1:(\d+)$", line)
    if not m:
        proc.kill()
        raise AssertionError("no startup line from serve: %r %s" % (line, proc.stderr.read()))
    return proc, int(m.group(1))


def stop_server(proc):
    proc.terminate()
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def add_visit(replica, rid, sha):
    run("client", "add", "--replica", replica, "--collection", "visits", "--id", rid,
        "--set", "subject=s1", "--set", "grid=g01",
        "--set", "visited_at=2026-12-05T10:00:00+08:00",
        "--set", 'photos=["sha256:%s"]' % sha)


def sync(replica, *extra):
    return run("client", "sync", "--replica", replica, "--timeout", "20", *extra, ok=False)


def scenario(port, tokens, sup):
    url = "ws://127.0.0.1:%d/sync" % port
    a = os.path.join(TMP, "tab-a.db")
    # Random bytes behind a JPEG signature: nothing compresses them on the way.
    photo = b"\xff\xd8\xff\xe0" + os.urandom(PHOTO_SIZE - 4)
    sha = hashlib.sha256(photo).hexdigest()
    proxy = CutProxy(port, PHOTO_SIZE // 2)
    run("client", "init", "--replica", a, "--url", proxy.url, "--device", "tab-a",
        "--token", tokens["tab-a"])
    out, err, _ = run("client", "photo", write("photo.jpg", photo), "--replica", a)
    check(out.strip() == "sha256:" + sha, "client photo prints the photo's name: %r" % out)
    check("image/jpeg" in err, "the type comes from the JPEG signature: %r" % err)
    add_visit(a, "v1", sha)
    stray = os.urandom(1000)
    run("client", "photo", write("stray.bin", stray), "--replica", a, "--mime", "image/jpeg")
    stray_sha = hashlib.sha256(stray).hexdigest()

    out, err, rc = sync(a, "--attempts", "1")
    proxy.thread.join(30)
    check(proxy.cut.is_set() and proxy.forwarded >= PHOTO_SIZE // 2,
          "the proxy cut the connection after %d bytes" % proxy.forwarded)
    check(rc == 1, "a sync cut midway exits 1 (%d)" % rc)
    check(("sha256:" + sha[:12]) in err and "stays pending" in err,
          "the failure names the photo and says it stays pending: %r" % err)
    held = re.search(r"stopped with (\d+) of %d bytes on the server" % PHOTO_SIZE, err)
    check(held is not None, "the failure says how much the server held: %r" % err)
    status = run("client", "status", "--replica", a)[0]
    check("photos: 1 pending upload (%d bytes), 0 uploaded, 1 not named by any record"
          % PHOTO_SIZE in status, "status lists the photo pending: %r" % status)
    check(missing_photos(port, sup) == 1, "the server counts the visit's photo missing")
    status, _ = http_get(port, "/blobs/" + sha, sup)
    check(status == 404, "an incomplete photo is not served (%d)" % status)

    # Straight to the server: the upload resumes where the server's copy stops.
    run("client", "init", "--replica", a, "--url", url, "--device", "tab-a",
        "--token", tokens["tab-a"])
    out, err, rc = sync(a)
    check(rc == 0, "the second sync succeeds: %r %r" % (out, err))
    m = re.search(r"^photo sha256:%s resumed at (\d+) of %d bytes, complete$" % (sha, PHOTO_SIZE),
                  out, re.M)
    check(m is not None and 0 < int(m.group(1)) < PHOTO_SIZE,
          "the second sync resumed the photo midway: %r" % out)
    if m and held:
        check(int(m.group(1)) >= int(held.group(1)),
              "it resumed at or after what the server held when cut (%s >= %s)"
              % (m.group(1), held.group(1)))
    check(stray_sha not in out, "a photo no record names is not uploaded")
    status, body = http_get(port, "/blobs/" + sha, sup)
    check(status == 200 and body == photo, "the server serves the identical bytes (%d, %d bytes)"
          % (status, len(body)))
    status, _ = http_get(port, "/blobs/" + stray_sha, sup)
    check(status == 404, "the unnamed photo is not on the server (%d)" % status)
    check(missing_photos(port, sup) == 0, "no photo is missing any more")
    status = run("client", "status", "--replica", a)[0]
    check("photos: 0 pending upload (0 bytes), 1 uploaded, 1 not named by any record" in status
          and stray_sha in status, "status: uploaded, and the unnamed one listed: %r" % status)
    out, err, rc = sync(a)
    check(rc == 0 and "photo " not in out, "a third sync offers nothing: %r" % out)

    # Another tablet of the same grid with the same photo: nothing to send.
    b = os.path.join(TMP, "tab-b.db")
    run("client", "init", "--replica", b, "--url", url, "--device", "tab-b",
        "--token", tokens["tab-b"])
    run("client", "photo", os.path.join(TMP, "photo.jpg"), "--replica", b)
    add_visit(b, "v2", sha)
    out, err, rc = sync(b)
    check(rc == 0 and ("photo sha256:%s already on the server, %d bytes" % (sha, PHOTO_SIZE))
          in out, "a tablet of the same grid is told the server has it: %r %r" % (out, err))


def corrupt_scenario(port, sup):
    """Bytes that no longer hash to their name (a damaged store) are not
    sent: the sync says the photo is damaged, exits 1, and the photo stays
    pending, while the visit naming it was pushed."""
    a = os.path.join(TMP, "tab-a.db")
    photo = b"\xff\xd8\xff\xe0" + os.urandom(600 * 1000)
    sha = hashlib.sha256(photo).hexdigest()
    run("client", "photo", write("damaged.jpg", photo), "--replica", a)
    db = sqlite3.connect(a)
    db.execute("UPDATE photo SET bytes = zeroblob(size) WHERE sha256 = ?", (sha,))
    db.commit()
    db.close()
    add_visit(a, "v3", sha)
    out, err, rc = sync(a)
    check(rc == 1 and "is damaged" in err and sha[:12] in err and "stays pending" in err
          and "1 photo not uploaded" in err, "a damaged photo is reported: %r" % err)
    check(re.search(r"^pushed 1 \(applied 1", out, re.M) is not None,
          "the visit naming it was pushed all the same: %r" % out)
    status = run("client", "status", "--replica", a)[0]
    check("photos: 1 pending upload" in status, "the damaged photo stays pending: %r" % status)
    status, _ = http_get(port, "/blobs/" + sha, sup)
    check(status == 404, "the server has none of it (%d)" % status)


def refusals():
    a = os.path.join(TMP, "tab-a.db")
    big = os.path.join(TMP, "big.jpg")
    with open(big, "wb") as f:
        f.truncate(20 * 1024 * 1024 + 1)
    _, err, rc = run("client", "photo", big, "--replica", a, ok=False)
    check(rc == 1 and "20971520" in err and len(err.splitlines()) == 1,
          "a photo over 20 MiB is refused in one line: %r" % err)
    png = write("p.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    _, err, _ = run("client", "photo", png, "--replica", a, "--mime", "image/jpeg")
    check("image/png" in err, "the bytes win over --mime: %r" % err)
    _, err, rc = run("client", "photo", png, "--replica", a, "--mime", "no type", ok=False)
    check(rc == 2, "a --mime that is not a media type is a usage error: %r" % err)


def main():
    global VISITSYNC, TMP
    if len(sys.argv) != 2:
        print("usage: photo_test.py PATH/TO/visitsync", file=sys.stderr)
        return 2
    VISITSYNC = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="vs-photo-test-")
    db = os.path.join(TMP, "server.db")
    server = None
    try:
        run("init", "--db", db)
        run("grid", "add", "g01", "Grid One", "--db", db)
        tokens = {}
        for user, device in (("c01", "tab-a"), ("c02", "tab-b")):
            run("user", "add", "--id", user, "--name", "Cadre " + user, "--role", "cadre",
                "--grids", "g01", "--db", db)
            tokens[device] = run("device", "enroll", "--user", user, "--device", device,
                                 "--db", db)[0].strip()
        run("user", "add", "--id", "sup", "--name", "Supervisor", "--role", "supervisor",
            "--grids", "g01", "--db", db)
        sup = run("token", "create", "--user", "sup", "--db", db)[0].strip()
        server, port = start_server(db)
        scenario(port, tokens, sup)
        corrupt_scenario(port, sup)
        refusals()
        check(stop_server(server) == 0, "the server stops cleanly")
        server = None
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
