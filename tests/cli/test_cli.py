#!/usr/bin/env python3
"""End-to-end tests of the `visitsync` command line (interface.md §1).

Runs the built binary in a temporary directory: every command's success
path, the exit codes (0 ok, 1 runtime failure, 2 usage error) with exactly
one line on stderr naming what was wrong, tokens stored only as SHA-256,
export round trips in jsonl and csv, and the demo township; files created
0600 under umask 022 (database, replica, their -wal and -shm); text from
records and arguments neutralised in CSV cells (formulas, control
characters) and escaped on the terminal (export, client list/status, errors).

usage: test_cli.py VISITSYNC_BINARY PUSH_HELPER_BINARY
"""
import csv
import hashlib
import io
import json
import os
import re
import select
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import unittest

VS = None
HELPER = None
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")

SUBJECT_FIELDS = ["name", "grid", "status", "employment", "employer", "income", "dibao",
                  "disability_cert", "phone", "address", "family_notes", "cadre"]


def run(args, cwd, env=None, timeout=60):
    full_env = dict(os.environ)
    full_env.pop("VISITSYNC_DB", None)
    if env:
        full_env.update(env)
    p = subprocess.run([VS] + args, cwd=cwd, env=full_env, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vs-cli-")
        self.db = os.path.join(self.dir, "t.db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers ------------------------------------------------------------
    def vs(self, *args, env=None):
        return run(["--db", self.db] + list(args), self.dir, env)

    def ok(self, *args):
        rc, out, err = self.vs(*args)
        self.assertEqual(rc, 0, "visitsync %s failed: %s" % (" ".join(args), err))
        return out, err

    def one_line_error(self, err, *needles):
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, "want exactly one line on stderr, got %r" % err)
        self.assertTrue(err.endswith("\n"))
        self.assertTrue(lines[0].startswith("visitsync: "), lines[0])
        self.assertNotRegex(lines[0], r"^visitsync: error$")
        for n in needles:
            self.assertIn(n, lines[0])
        return lines[0]

    def usage(self, args, *needles, db=True):
        rc, out, err = self.vs(*args) if db else run(list(args), self.dir)
        self.assertEqual(rc, 2, "visitsync %s: want 2, got %d (%s)" % (args, rc, err))
        self.assertEqual(out, "")
        return self.one_line_error(err, *needles)

    def fails(self, args, *needles):
        rc, out, err = self.vs(*args)
        self.assertEqual(rc, 1, "visitsync %s: want 1, got %d (%s)" % (args, rc, err))
        self.assertEqual(out, "")
        return self.one_line_error(err, *needles)

    def init(self):
        self.ok("init")

    def setup_people(self):
        self.init()
        self.ok("grid", "add", "g01", "蚬冈村")
        self.ok("grid", "add", "g02", "东和村")
        self.ok("user", "add", "--id", "c001", "--name", "关丽萍", "--role", "cadre",
                "--grids", "g01")
        self.ok("user", "add", "--id", "sup01", "--name", "司徒国华", "--role", "supervisor")

    def all_db_values(self):
        """Every value of every table (the WAL is read too, through SQLite)."""
        con = sqlite3.connect(self.db)
        try:
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")]
            values = []
            for t in tables:
                for row in con.execute('SELECT * FROM "%s"' % t):
                    values.extend(row)
            return values
        finally:
            con.close()

    def raw_db_bytes(self):
        data = b""
        for suffix in ("", "-wal"):
            path = self.db + suffix
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data += f.read()
        return data

    def assert_stored_only_as_hash(self, token):
        digest = hashlib.sha256(token.encode()).digest()
        values = self.all_db_values()
        self.assertIn(digest, values, "sha256(token) is not in the database")
        for v in values:
            if isinstance(v, str):
                self.assertNotIn(token, v)
            if isinstance(v, bytes):
                self.assertNotIn(token.encode(), v)
        self.assertNotIn(token.encode(), self.raw_db_bytes())

    # -- global ---------------------------------------------------------------
    def test_version_and_help(self):
        rc, out, err = run(["--version"], self.dir)
        self.assertEqual((rc, out, err), (0, "visitsync 0.1.0\n", ""))
        rc, out, err = run(["help"], self.dir)
        self.assertEqual(rc, 0)
        for c in ("init", "grid", "user", "device", "token", "export", "demo", "help"):
            self.assertRegex(out, r"(?m)^  %s " % c)
        for c in ("init", "grid", "user", "device", "token", "export", "demo"):
            rc, out, err = run(["help", c], self.dir)
            self.assertEqual(rc, 0, err)
            self.assertIn("usage: visitsync %s" % c, out)
            rc, out2, err = run([c, "--help"], self.dir)
            self.assertEqual((rc, out2), (0, out))
        rc, out, err = run(["device", "enroll", "-h"], self.dir)
        self.assertEqual(rc, 0)
        self.assertIn("--qr", out)

    def test_usage_errors_global(self):
        self.usage(["frob"], "unknown command 'frob'", "visitsync help")
        self.assertEqual(
            self.usage(["frob"], db=False),
            "visitsync: unknown command 'frob' (see: visitsync help)")
        self.usage([], "missing command", db=False)
        self.usage(["--frob"], "'--frob'", db=False)
        self.usage(["--db"], "--db", db=False)
        self.usage(["help", "frob"], "'frob'")
        self.usage(["grid"], "missing subcommand")
        self.usage(["grid", "del", "g01"], "unknown subcommand 'del'")
        self.usage(["device", "frob"], "'frob'")

    def test_missing_database(self):
        line = self.fails(["grid", "add", "g01", "X"], "visitsync init", self.db)
        self.assertTrue(line.startswith("visitsync: grid add: "))
        self.fails(["export", "--collection", "visits"], "visitsync init")
        self.fails(["demo"], "visitsync init")
        self.fails(["device", "revoke", "tab-1"], "visitsync init")
        self.assertFalse(os.path.exists(self.db), "a command other than init created the file")

    def test_init_idempotent_and_db_option_forms(self):
        rc, out, err = self.vs("init")
        self.assertEqual(rc, 0, err)
        line = self.one_line_error(err, self.db, "schema version")
        version = re.search(r"schema version (\d+)", line).group(1)
        rc, out, err2 = self.vs("init")
        self.assertEqual(rc, 0, err2)
        self.assertIn("schema version %s" % version, err2)
        self.assertEqual(len(err2.splitlines()), 1)
        # --db before or after the command, --db=PATH, $VISITSYNC_DB, ./visitsync.db
        rc, _, err = run(["grid", "add", "g01", "一", "--db", self.db], self.dir)
        self.assertEqual(rc, 0, err)
        rc, _, err = run(["grid", "add", "--db=" + self.db, "g02", "二"], self.dir)
        self.assertEqual(rc, 0, err)
        rc, _, err = run(["grid", "--db", self.db, "add", "g03", "三"], self.dir)
        self.assertEqual(rc, 0, err)
        rc, _, err = run(["grid", "add", "g04", "四"], self.dir, env={"VISITSYNC_DB": self.db})
        self.assertEqual(rc, 0, err)
        rc, _, err = run(["grid", "add", "g05", "五"], self.dir, env={"VISITSYNC_DB": self.db})
        self.assertEqual(rc, 0, err)
        rc, _, err = run(["grid", "add", "g05", "五"], self.dir, env={"VISITSYNC_DB": self.db})
        self.assertEqual(rc, 1)
        self.one_line_error(err, "'g05'", "already exists")
        rc, _, err = run(["init"], self.dir)
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "visitsync.db")))
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM grids").fetchone()[0], 5)
        con.close()

    def test_not_a_database(self):
        with open(self.db, "w") as f:
            f.write("this is not sqlite\n" * 200)
        rc, out, err = self.vs("init")
        self.assertEqual(rc, 1)
        self.one_line_error(err, self.db)
        self.fails(["grid", "add", "g01", "X"], self.db)

    # -- grid -----------------------------------------------------------------
    def test_grid(self):
        self.init()
        out, err = self.ok("grid", "add", "g01", "蚬冈村")
        self.assertEqual(out, "")
        self.assertEqual(
            self.fails(["grid", "add", "g01", "别的"]),
            "visitsync: grid add: grid 'g01' already exists")
        self.usage(["grid", "add", "g01"], "missing NAME")
        self.usage(["grid", "add"], "missing ID")
        self.usage(["grid", "add", "g02", "x", "y"], "unexpected argument 'y'")
        self.usage(["grid", "add", "g 2", "x"], "'g 2'", "grid id")
        self.usage(["grid", "add", "g" * 65, "x"], "grid id")
        self.usage(["grid", "add", "g02", "x" * 201], "grid name")
        self.usage(["grid", "add", "g02", "a\nb"], "grid name")
        self.usage(["grid", "add", "--frob", "g02", "x"], "'--frob'")
        self.ok("grid", "add", "a-Z_0.9:x", "x" * 200)

    # -- user -----------------------------------------------------------------
    def test_user(self):
        self.init()
        self.ok("grid", "add", "g01", "蚬冈村")
        self.ok("grid", "add", "g02", "东和村")
        self.ok("user", "add", "--id", "c001", "--name", "关丽萍", "--role", "cadre",
                "--grids", "g01,g02")
        self.ok("user", "add", "--id=sup01", "--name=司徒国华", "--role=supervisor")
        self.ok("user", "add", "--id", "sup02", "--name", "何", "--role", "supervisor",
                "--grids", "g02")
        self.ok("user", "add", "--id", "admin", "--name", "谢建文", "--role", "admin")
        self.assertEqual(
            self.usage(["user", "add", "--id", "x1", "--name", "X", "--role", "boss"]),
            "visitsync: user add: --role must be cadre, supervisor or admin, not 'boss' "
            "(see: visitsync help user)")
        self.usage(["user", "add", "--id", "x1", "--name", "X", "--role", "cadre"],
                   "cadre must name at least one grid")
        self.assertEqual(
            self.fails(["user", "add", "--id", "x1", "--name", "X", "--role", "cadre",
                        "--grids", "g01,g99"]),
            "visitsync: user add: unknown grid 'g99' (add it with: visitsync grid add g99 NAME)")
        self.fails(["user", "add", "--id", "c001", "--name", "X", "--role", "cadre",
                    "--grids", "g01"], "user 'c001' already exists")
        self.usage(["user", "add", "--name", "X", "--role", "admin"], "--id")
        self.usage(["user", "add", "--id", "x1", "--role", "admin"], "--name")
        self.usage(["user", "add", "--id", "x1", "--name", "X", "--role"], "--role needs a value")
        self.usage(["user", "add", "--id", "x1", "--id", "x2", "--name", "X", "--role", "admin"],
                   "--id given twice")
        self.usage(["user", "add", "--id", "x 1", "--name", "X", "--role", "admin"], "'x 1'")
        self.usage(["user", "add", "--id", "x1", "--name", "X", "--role", "cadre",
                    "--grids", "g01,,g02"], "empty entry")
        self.usage(["user", "add", "--id", "x1", "--name", "X", "--role", "cadre",
                    "--grids", "g01,g 2"], "'g 2'")
        self.usage(["user", "add", "--id", "x1", "--name", "X", "--role", "admin", "extra"],
                   "unexpected argument 'extra'")
        self.usage(["user", "add", "--id", "x1", "--name", "X", "--role", "admin",
                    "--colour", "red"], "unknown option '--colour'")
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM users").fetchone()[0], 4)
        con.close()

    # -- device ---------------------------------------------------------------
    def test_device_enroll_and_revoke(self):
        self.setup_people()
        rc, out, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-c001")
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        lines = out.split("\n")
        self.assertEqual(len(lines), 2, out)
        self.assertEqual(lines[1], "")
        token = lines[0]
        self.assertRegex(token, TOKEN_RE)
        self.assert_stored_only_as_hash(token)

        self.fails(["device", "enroll", "--user", "c001", "--device", "tab-c001"],
                   "'tab-c001'", "already")
        self.fails(["device", "enroll", "--user", "c404", "--device", "tab-x"],
                   "unknown user 'c404'")
        self.usage(["device", "enroll", "--user", "c001"], "--device")
        self.usage(["device", "enroll", "--device", "t"], "--user")
        self.usage(["device", "enroll", "--user", "c001", "--device", "bad id"], "'bad id'")
        self.usage(["device", "enroll", "--user", "c001", "--device", "t2", "--qr=1"], "--qr")

        self.ok("device", "revoke", "tab-c001")
        con = sqlite3.connect(self.db)
        self.assertEqual(
            con.execute("SELECT revoked FROM devices WHERE id='tab-c001'").fetchone()[0], 1)
        con.close()
        self.ok("device", "revoke", "tab-c001")  # twice is not an error
        self.fails(["device", "revoke", "tab-404"], "unknown device 'tab-404'")
        self.usage(["device", "revoke"], "missing DEVICE_ID")
        self.usage(["device", "revoke", "a", "b"], "unexpected argument 'b'")

    def test_device_enroll_qr(self):
        self.setup_people()
        rc, out, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-q", "--qr")
        self.assertEqual(rc, 0, err)
        lines = out.split("\n")
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], TOKEN_RE)
        self.assertNotIn("█", out)
        qr = err.splitlines()
        self.assertGreater(len(qr), 10)
        self.assertTrue(any("▀" in l or "▄" in l for l in qr))
        self.assertNotIn(lines[0], err)  # the QR encodes it, never prints it
        widths = {len(l) for l in qr}
        self.assertEqual(len(widths), 1, "QR rows have different widths")
        # The quiet zone: the first and last rows are all light.
        self.assertEqual(set(qr[0]), {"█"})
        self.assert_stored_only_as_hash(lines[0])

    def test_device_enroll_url(self):
        self.setup_people()
        # --qr --url: the QR code holds the sign-in link, which follows as text under it.
        rc, out, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-u",
                               "--qr", "--url", "https://sync.example.cn//")
        self.assertEqual(rc, 0, err)
        lines = out.split("\n")
        self.assertEqual(len(lines), 2, out)
        token = lines[0]
        self.assertRegex(token, TOKEN_RE)
        rows = err.splitlines()
        link = "https://sync.example.cn/field/#device=tab-u&token=" + token
        self.assertEqual(rows[-1], "visitsync: device tab-u signs in with " + link)
        qr = rows[:-1]
        self.assertEqual(set(qr[0]), {"█"})
        self.assertEqual(len({len(l) for l in qr}), 1, "QR rows have different widths")
        self.assertFalse(any(token in l for l in qr))
        # The link is longer than the bare token: a larger symbol (more rows) than --qr alone.
        _, _, err_bare = self.vs("device", "enroll", "--user", "c001", "--device", "tab-b", "--qr")
        self.assertGreater(len(qr), len(err_bare.splitlines()))
        # --url alone: no QR code, only the link on stderr; stdout is still the token.
        rc, out, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-v",
                               "--url", "http://192.168.1.10:8080")
        self.assertEqual(rc, 0, err)
        token = out.split("\n")[0]
        self.assertEqual(err, "visitsync: device tab-v signs in with "
                         "http://192.168.1.10:8080/field/#device=tab-v&token=%s\n" % token)
        for url, words in (("ftp://x", "must start with http:// or https://"),
                           ("sync.example.cn", "must start with http:// or https://"),
                           ("https://", "names no host"), ("http:///x", "names no host"),
                           ("https://x/?a=1", "'?' or '#'"), ("https://x/#y", "'?' or '#'"),
                           ("https://x y", "a space"), ("https://" + "x" * 260, "over 256")):
            self.usage(["device", "enroll", "--user", "c001", "--device", "tab-w", "--url", url],
                       "--url", words)
        self.usage(["device", "enroll", "--user", "c001", "--device", "tab-w", "--url"], "--url")
        con = sqlite3.connect(self.db)
        self.assertEqual(
            con.execute("SELECT count(*) FROM devices WHERE id='tab-w'").fetchone()[0], 0)
        con.close()

    # -- token ----------------------------------------------------------------
    def test_token_create(self):
        self.setup_people()
        out, err = self.ok("token", "create", "--user", "sup01")
        self.assertEqual(err, "")
        lines = out.split("\n")
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], TOKEN_RE)
        self.assert_stored_only_as_hash(lines[0])
        out2, _ = self.ok("token", "create", "--user", "sup01")
        self.assertNotEqual(out, out2)
        self.fails(["token", "create", "--user", "c001"], "'c001'", "cadre")
        self.fails(["token", "create", "--user", "nobody"], "unknown user 'nobody'")
        self.usage(["token", "create"], "--user")
        self.usage(["token", "create", "--user", "sup01", "x"], "unexpected argument 'x'")
        self.usage(["token", "make", "--user", "sup01"], "unknown subcommand 'make'")
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM api_tokens").fetchone()[0], 2)
        con.close()

    # -- export ---------------------------------------------------------------
    def push(self, device, changes):
        path = os.path.join(self.dir, "push.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"type": "push", "req": "t1", "changes": changes}, f, ensure_ascii=False)
        p = subprocess.run([HELPER, self.db, device, path], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return [json.loads(l) for l in p.stdout.decode().splitlines()]

    def test_export_round_trip(self):
        self.setup_people()
        rc, out, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-c001")
        self.assertEqual(rc, 0, err)
        now = int(time.time() * 1000) - 60000
        tricky = '他说："好, 明天去旭峰农牧"\r\n第二行,\n"引号"'
        subjects = {
            "s-0001": {"name": "关伟强", "grid": "g01", "status": "community_rehab",
                       "employment": "employed", "employer": '旭峰农牧, "一厂"', "income": 3200.5,
                       "dibao": "applied", "disability_cert": True, "phone": "13800000000",
                       "address": "开平市蚬冈镇蚬冈村东安里3号", "family_notes": tricky},
            "s-0002": {"name": "Tom, \"Jr\"", "grid": "g01", "income": 0,
                       "disability_cert": False},
            "s-0003": {"name": "要删除的人", "grid": "g01"},
        }
        visits = {
            "v-1": {"subject": "s-0001", "grid": "g01", "visited_at": "2026-11-28T09:30:00+08:00",
                    "kind": "home", "employment": "employed", "income": 3200,
                    "assistance": ["placement", "fund"], "notes": tricky,
                    "photos": [], "follow_up": "2026-12-12"},
            "v-2": {"subject": "s-0002", "grid": "g01", "visited_at": "2026-11-29T10:00:00+08:00",
                    "living": "独居,\n住所简陋"},
        }
        changes, seq = [], 0
        for coll, recs in (("subjects", subjects), ("visits", visits)):
            for rid, fields in recs.items():
                seq += 1
                changes.append({"seq": seq, "collection": coll, "id": rid, "base": 0,
                                "hlc": [now + seq, 0], "fields": fields})
        results = self.push("tab-c001", changes)
        self.assertEqual([r["status"] for r in results], ["applied"] * len(changes), results)
        # An update of one field and a delete.
        results = self.push("tab-c001", [
            {"seq": seq + 1, "collection": "subjects", "id": "s-0002", "base": 1,
             "hlc": [now + 100, 0], "fields": {"employment": "unemployed"}},
            {"seq": seq + 2, "collection": "subjects", "id": "s-0003", "base": 1,
             "hlc": [now + 101, 0], "fields": {"_deleted": True}},
        ])
        self.assertEqual([r["status"] for r in results], ["applied", "applied"], results)
        subjects["s-0002"]["employment"] = "unemployed"
        revs = {"s-0001": 1, "s-0002": 2, "s-0003": 2}

        # jsonl
        out, err = self.ok("export", "--collection", "subjects")
        self.assertEqual(err, "")
        self.assertTrue(out.endswith("\n"))
        rows = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([r["id"] for r in rows], sorted(subjects))
        for r in rows:
            self.assertEqual(set(r), {"id", "rev", "deleted", "fields"})
            self.assertEqual(r["rev"], revs[r["id"]])
            self.assertEqual(r["deleted"], r["id"] == "s-0003")
            self.assertEqual(r["fields"], subjects[r["id"]])
        out_default, _ = self.ok("export", "--collection", "subjects", "--format", "jsonl")
        self.assertEqual(out_default, out)

        # csv
        p = subprocess.run([VS, "--db", self.db, "export", "--collection", "subjects",
                            "--format=csv"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        raw = p.stdout
        self.assertFalse(raw.startswith(b"\xef\xbb\xbf"), "no BOM")
        raw.decode("utf-8")
        self.assertTrue(raw.endswith(b"\r\n"))
        text = raw.decode("utf-8")
        table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        self.assertEqual(table[0], ["id", "rev", "deleted"] + SUBJECT_FIELDS)
        self.assertEqual(len(table), 1 + len(subjects))
        for line in table[1:]:
            rid = line[0]
            cells = dict(zip(table[0], line))
            self.assertEqual(int(cells["rev"]), revs[rid])
            self.assertEqual(cells["deleted"], "true" if rid == "s-0003" else "false")
            want = subjects[rid]
            for f in SUBJECT_FIELDS:
                v = want.get(f)
                if v is None:
                    self.assertEqual(cells[f], "", f)
                elif isinstance(v, bool):
                    self.assertEqual(cells[f], "true" if v else "false")
                elif isinstance(v, (int, float)):
                    self.assertEqual(float(cells[f]), v)
                    self.assertEqual(json.loads(cells[f]), v)
                else:
                    self.assertEqual(cells[f], v, f)
        # Record lines end in CRLF; only quoted cells hold bare line breaks.
        self.assertIn(b'"' + '他说：""好, 明天去旭峰农牧""'.encode(), raw)

        # visits: arrays as compact JSON, absent as empty, schema order.
        out, _ = self.ok("export", "--collection", "visits", "--format", "csv")
        table = list(csv.reader(io.StringIO(out, newline="")))
        header = table[0]
        self.assertEqual(header[:3], ["id", "rev", "deleted"])
        self.assertEqual(header[3:], ["subject", "grid", "visited_at", "kind", "living",
                                      "employment", "income", "assistance", "needs", "notes",
                                      "photos", "follow_up"])
        for line in table[1:]:
            cells = dict(zip(header, line))
            want = visits[cells["id"]]
            for f in header[3:]:
                v = want.get(f)
                if v is None:
                    self.assertEqual(cells[f], "")
                elif isinstance(v, list):
                    self.assertEqual(json.loads(cells[f]), v)
                    self.assertNotIn(" ", cells[f])
                elif isinstance(v, (int, float)):
                    self.assertEqual(json.loads(cells[f]), v)
                else:
                    self.assertEqual(cells[f], v)
        out, _ = self.ok("export", "--collection", "visits")
        got = {json.loads(l)["id"]: json.loads(l)["fields"] for l in out.splitlines()}
        self.assertEqual(got, visits)

    def test_export_errors(self):
        self.init()
        self.assertEqual(
            self.fails(["export", "--collection", "frob"]),
            "visitsync: export: unknown collection 'frob' (known: subjects, visits)")
        self.usage(["export", "--collection", "visits", "--format", "xml"], "'xml'", "--format")
        self.usage(["export"], "--collection")
        self.usage(["export", "--collection"], "--collection needs a value")
        out, _ = self.ok("export", "--collection", "visits")
        self.assertEqual(out, "")
        out, _ = self.ok("export", "--collection", "visits", "--format", "csv")
        self.assertTrue(out.startswith("id,rev,deleted,subject,"))
        self.assertEqual(out.count("\r\n"), 1)

    # -- untrusted text: CSV cells, JSON lines, the terminal -----------------
    HOSTILE = {
        # id: (notes, extra fields)
        "-1": ("普通的中文备注，不变。", {"income": -5}),
        "v-01": ('=HYPERLINK("http://x","y")', {}),
        "v-02": ("@SUM(1+1)", {}),
        "v-03": ("+1", {}),
        "v-04": ("-1+2", {}),
        "v-05": ("\x1b[2J\x1b]0;pwned\x07", {}),
        "v-06": ("入户走访，情况稳定；下次带上就业信息。", {"income": -5.5}),
        "v-07": ("＝1+1", {"living": "a\x7fb\u009bc\td"}),
        "v-08": ("\t=1", {"employment": "employed"}),
    }

    def push_hostile(self):
        self.setup_people()
        rc, out, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-c001")
        self.assertEqual(rc, 0, err)
        now = int(time.time() * 1000) - 60000
        visits = {}
        for rid, (notes, extra) in self.HOSTILE.items():
            visits[rid] = dict({"subject": "s-0001", "grid": "g01",
                                "visited_at": "2026-11-28T09:30:00+08:00", "notes": notes},
                               **extra)
        changes = [{"seq": i + 1, "collection": "visits", "id": rid, "base": 0,
                    "hlc": [now + i, 0], "fields": f} for i, (rid, f) in enumerate(visits.items())]
        results = self.push("tab-c001", changes)
        self.assertEqual([r["status"] for r in results], ["applied"] * len(changes), results)
        return visits

    def test_export_csv_neutralises_formulas_and_controls(self):
        self.push_hostile()
        p = subprocess.run([VS, "--db", self.db, "export", "--collection", "visits",
                            "--format", "csv"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        fffd = "\ufffd".encode()

        def row(rid, notes=b"", living=b"", employment=b"", income=b""):
            # id,rev,deleted,subject,grid,visited_at,kind,living,employment,income,
            # assistance,needs,notes,photos,follow_up
            return b",".join([rid, b"1", b"false", b"s-0001", b"g01",
                              b"2026-11-28T09:30:00+08:00", b"", living, employment, income,
                              b"", b"", notes, b"", b""]) + b"\r\n"
        want = (b"id,rev,deleted,subject,grid,visited_at,kind,living,employment,income,"
                b"assistance,needs,notes,photos,follow_up\r\n"
                # An id is text too; a negative number stays a number.
                + row(b"\"'-1\"", notes="普通的中文备注，不变。".encode(), income=b"-5")
                + row(b"v-01", notes=b"\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")
                + row(b"v-02", notes=b"\"'@SUM(1+1)\"")
                + row(b"v-03", notes=b"\"'+1\"")
                + row(b"v-04", notes=b"\"'-1+2\"")
                # ESC and BEL become U+FFFD; the ; makes the cell quoted.
                + row(b"v-05", notes=b"\"" + fffd + b"[2J" + fffd + b"]0;pwned" + fffd + b"\"")
                + row(b"v-06", notes="入户走访，情况稳定；下次带上就业信息。".encode(),
                      income=b"-5.5")
                # Full-width ＝ counts as =; DEL and C1 CSI become U+FFFD, TAB stays (quoted).
                + row(b"v-07", notes="\"'＝1+1\"".encode(),
                      living=b"\"a" + fffd + b"b" + fffd + b"c\td\"")
                + row(b"v-08", notes=b"\"'\t=1\"", employment=b"employed"))
        self.assertEqual(p.stdout, want)
        # What a spreadsheet reads back: the text, a quote in front where it could run.
        table = list(csv.reader(io.StringIO(p.stdout.decode("utf-8"), newline=""), strict=True))
        notes = {r[0]: r[12] for r in table[1:]}
        self.assertEqual(notes["v-01"], "'" + self.HOSTILE["v-01"][0])
        self.assertEqual(notes["'-1"], self.HOSTILE["-1"][0])

    def test_export_jsonl_escapes_controls(self):
        visits = self.push_hostile()
        p = subprocess.run([VS, "--db", self.db, "export", "--collection", "visits"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        raw = p.stdout
        text = raw.decode("utf-8")
        for c in text:
            self.assertFalse((ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f,
                             "control character U+%04X in the export" % ord(c))
        self.assertIn(b'"notes":"\\u001b[2J\\u001b]0;pwned\\u0007"', raw)
        self.assertIn(b'"living":"a\\u007fb\\u009bc\\td"', raw)
        self.assertIn("普通的中文备注，不变。".encode(), raw)
        # The same JSON: every value reads back as it was pushed.
        got = {json.loads(l)["id"]: json.loads(l)["fields"] for l in text.splitlines()}
        self.assertEqual(got, visits)

    def test_errors_escape_controls(self):
        self.init()
        line = self.usage(["grid", "add", "g\x1b[2J", "x"], "grid id")
        self.assertNotIn("\x1b", line)
        self.assertIn("'g\\u001b[2J'", line)
        line = self.usage(["user", "add", "--id", "x1", "--name", "X", "--role",
                           "\x1b]0;pwned\x07\x08\u009b"], "--role")
        self.assertIn("not '\\u001b]0;pwned\\u0007\\u0008\\u009b'", line)
        line = self.fails(["export", "--collection", "\x1b[31mred"], "unknown collection")
        self.assertIn("'\\u001b[31mred'", line)
        # Bytes that are not UTF-8 are shown as U+FFFD.
        p = subprocess.run([VS, "--db", self.db, "grid", "add", b"g\x9b\xff", "x"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("'g\ufffd\ufffd'".encode(), p.stderr)

    # -- file modes and the client's terminal ----------------------------------
    def start_server(self):
        log = open(os.path.join(self.dir, "serve.log"), "w")
        proc = subprocess.Popen([VS, "--db", self.db, "serve", "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=log, cwd=self.dir)
        log.close()
        self.addCleanup(self.stop_server, proc)
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().decode() if ready else ""
        m = re.match(r"visitsync listening on (\S+):(\d+)$", line.strip())
        self.assertTrue(m, "no startup line from serve: %r" % line)
        return proc, int(m.group(2))

    @staticmethod
    def stop_server(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)
        proc.stdout.close()

    def assert_private(self, *paths):
        for path in paths:
            deadline = time.time() + 10
            while not os.path.exists(path) and time.time() < deadline:
                time.sleep(0.05)
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode, 0o600, "%s is %o" % (path, mode))

    def test_files_are_private(self):
        old = os.umask(0o022)  # what most shells have: files 0644 unless we say otherwise
        self.addCleanup(os.umask, old)
        self.setup_people()
        self.assert_private(self.db)
        rc, token, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-c001")
        self.assertEqual(rc, 0, err)
        # A running server keeps the database open: its -wal and -shm exist.
        server, port = self.start_server()
        self.assert_private(self.db, self.db + "-wal", self.db + "-shm")
        self.stop_server(server)

        # The replica holds the token in plain text.
        replica = os.path.join(self.dir, "r.db")
        self.ok("client", "init", "--replica", replica, "--url", "ws://127.0.0.1:1/sync",
                "--device", "tab-c001", "--token", token.strip())
        self.assert_private(replica)
        # A sync against a server that never answers keeps the replica open.
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = "ws://127.0.0.1:%d/sync" % silent.getsockname()[1]
        self.ok("client", "init", "--replica", replica, "--url", url, "--device", "tab-c001",
                "--token", token.strip())
        sync = subprocess.Popen([VS, "client", "sync", "--replica", replica, "--timeout", "20",
                                 "--attempts", "1"], cwd=self.dir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.assert_private(replica + "-wal", replica + "-shm")
        finally:
            sync.kill()
            sync.wait(timeout=20)
        # An existing file keeps the mode its operator chose.
        os.chmod(self.db, 0o640)
        self.ok("init")
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o640)

    def test_client_output_escapes_controls(self):
        self.setup_people()
        rc, token, err = self.vs("device", "enroll", "--user", "c001", "--device", "tab-c001")
        self.assertEqual(rc, 0, err)
        server, port = self.start_server()
        replica = os.path.join(self.dir, "r.db")
        self.ok("client", "init", "--replica", replica, "--url",
                "ws://127.0.0.1:%d/sync" % port, "--device", "tab-c001", "--token", token.strip())
        hostile = "\x1b[2J\x1b]0;pwned\x07"
        fields = {"subject": "s-0001", "grid": "g01", "visited_at": "2026-11-28T09:30:00+08:00",
                  "notes": hostile, "living": "a\x7fb\u009bc\x08d", "needs": "帮助找工作"}
        self.ok("client", "add", "--replica", replica, "--collection", "visits", "--id", "v-1",
                *["--set=%s=%s" % kv for kv in fields.items()])
        # A bad enum and an unknown field come back rejected: `client status`
        # shows the server's field and message, which echo them.
        self.ok("client", "add", "--replica", replica, "--collection", "visits", "--id", "v-2",
                "--json", json.dumps(dict(fields, kind="\x1b[31mhome")))
        self.ok("client", "add", "--replica", replica, "--collection", "visits", "--id", "v-3",
                "--json", json.dumps(dict(fields, **{"\x1b[31mx": 1})))
        rc, out, err = run(["client", "sync", "--replica", replica, "--timeout", "20"], self.dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("rejected 2", out)
        for args in (["list"], ["status"]):
            p = subprocess.run([VS, "client"] + args + ["--replica", replica],
                               capture_output=True, timeout=60, cwd=self.dir)
            self.assertEqual(p.returncode, 0, p.stderr)
            for b in (b"\x1b", b"\x07", b"\x08", b"\x7f", "\u009b".encode()):
                self.assertNotIn(b, p.stdout + p.stderr, (args, b))
            if args == ["list"]:
                self.assertIn(b'"notes":"\\u001b[2J\\u001b]0;pwned\\u0007"', p.stdout)
                self.assertIn("帮助找工作".encode(), p.stdout)
                rec = json.loads(p.stdout.decode("utf-8"))
                self.assertEqual(rec["fields"], fields)  # the same JSON
            else:
                self.assertIn(b"rejected: 2", p.stdout)
                self.assertIn(b"unknown_field \\u001b[31mx: ", p.stdout)

    # -- demo -----------------------------------------------------------------
    def test_demo(self):
        self.init()
        start = time.time()
        rc, out, err = self.vs("demo")
        elapsed = time.time() - start
        self.assertEqual(rc, 0, err)
        self.assertLess(elapsed, 60)
        for l in err.splitlines():
            self.assertTrue(l.startswith("visitsync: "), l)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["USER", "NAME", "ROLE", "GRID", "DEVICE", "TOKEN"])
        rows = [l.split() for l in lines[1:]]
        self.assertEqual(len(rows), 188)
        for r in rows:
            self.assertEqual(len(r), 6, r)
            self.assertRegex(r[5], TOKEN_RE)
        tokens = [r[5] for r in rows]
        self.assertEqual(len(set(tokens)), 188)
        roles = [r[2] for r in rows]
        self.assertEqual(roles.count("cadre"), 184)
        self.assertEqual(roles.count("supervisor"), 3)
        self.assertEqual(roles.count("admin"), 1)
        self.assertEqual([r[0] for r in rows[:3]], ["c001", "c002", "c003"])
        self.assertEqual(rows[183][0], "c184")
        self.assertEqual(rows[183][4], "tab-c184")
        self.assertEqual([r[0] for r in rows[184:187]], ["sup01", "sup02", "sup03"])
        # Token column starts at the same offset on every line: aligned.
        col = lines[1].index(rows[0][5])
        self.assertTrue(all(len(l) >= col for l in lines))
        self.assert_stored_only_as_hash(tokens[0])
        self.assert_stored_only_as_hash(tokens[-1])

        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM grids").fetchone()[0], 12)
        self.assertEqual(con.execute("SELECT count(*) FROM users WHERE role='cadre'")
                         .fetchone()[0], 184)
        self.assertEqual(con.execute("SELECT count(*) FROM devices").fetchone()[0], 184)
        con.close()

        out, _ = self.ok("export", "--collection", "subjects")
        subjects = [json.loads(l) for l in out.splitlines()]
        self.assertTrue(180 <= len(subjects) <= 230, len(subjects))
        self.assertEqual(len({s["fields"]["grid"] for s in subjects}), 12)
        open_ = [s for s in subjects if s["fields"]["status"] != "completed"]
        placed = [s for s in open_ if s["fields"]["employment"] in ("employed", "self_employed")]
        rate = 100.0 * len(placed) / len(open_)
        self.assertLess(abs(rate - 83.67), 3.0, rate)
        statuses = [s["fields"]["status"] for s in subjects]
        self.assertGreater(statuses.count("community_rehab"), len(subjects) / 2)
        for s in ("voluntary", "completed", "relapsed"):
            self.assertGreater(statuses.count(s), 0)

        out, _ = self.ok("export", "--collection", "visits")
        visits = [json.loads(l)["fields"] for l in out.splitlines()]
        self.assertGreater(len(visits), 2000)
        now = time.time()
        ids = {s["id"] for s in subjects}
        by_grid = {s["id"]: s["fields"]["grid"] for s in subjects}
        for v in visits:
            self.assertIn(v["subject"], ids)
            self.assertEqual(v["grid"], by_grid[v["subject"]])
            self.assertTrue(v["visited_at"].endswith("+08:00"))
            self.assertTrue(60 <= len(v["notes"]) <= 200, v["notes"])
        stamps = sorted(time.mktime(time.strptime(v["visited_at"][:19], "%Y-%m-%dT%H:%M:%S"))
                        for v in visits)
        # Within the last 90 days (a day of slack for the local time zone).
        self.assertGreater(stamps[0], now - 92 * 86400)
        self.assertLess(stamps[-1], now + 86400)

        # A second demo refuses: the database is not empty.
        self.fails(["demo"], "empty")

        # Deterministic: another database gets the same records (only tokens differ).
        other = os.path.join(self.dir, "other.db")
        self.assertEqual(run(["--db", other, "init"], self.dir)[0], 0)
        rc, out2, err = run(["--db", other, "demo"], self.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual([l.split()[:5] for l in out2.splitlines()],
                         [l.split()[:5] for l in lines])
        self.assertTrue(set(l.split()[5] for l in out2.splitlines()[1:]).isdisjoint(tokens))
        for coll in ("subjects", "visits"):
            a = run(["--db", self.db, "export", "--collection", coll], self.dir)[1]
            b = run(["--db", other, "export", "--collection", coll], self.dir)[1]
            beijing = time.gmtime(time.time() + 8 * 3600)
            if coll == "visits" and a != b and time.strftime("%H%M", beijing) in ("0000", "0001"):
                continue  # the demo's calendar moved at midnight between the two runs
            self.assertEqual(a, b, coll)

    def test_demo_refuses_non_empty(self):
        self.init()
        self.ok("grid", "add", "x1", "别的村")
        self.fails(["demo"], "empty")
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*) FROM grids").fetchone()[0], 1)
        self.assertEqual(con.execute("SELECT count(*) FROM users").fetchone()[0], 0)
        con.close()
        self.usage(["demo", "extra"], "unexpected argument 'extra'")

    # -- audit ------------------------------------------------------------------
    AUDIT_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  (\S+)  ([a-z ]+?)  (\S+)(?:  (.*))?$")

    def audit_lines(self, *args):
        out, _ = self.ok("audit", *args)
        rows = []
        for line in out.splitlines():
            m = self.AUDIT_RE.match(line)
            self.assertIsNotNone(m, "not an audit line: %r" % line)
            rows.append(m.groups())
        return rows

    def test_audit_records_each_act(self):
        import calendar
        import pwd
        actor = "cli:" + pwd.getpwuid(os.geteuid()).pw_name
        self.setup_people()
        out, _ = self.ok("device", "enroll", "--user", "c001", "--device", "tab-c001")
        device_token = out.strip()
        self.ok("device", "revoke", "tab-c001")
        out, _ = self.ok("token", "create", "--user", "sup01")
        api_token = out.strip()
        self.ok("export", "--collection", "subjects")
        self.ok("export", "--collection", "visits", "--format", "csv")
        copy = os.path.join(self.dir, "copy.db")
        _, err = self.ok("backup", copy)
        # Acts that fail record nothing.
        self.fails(["grid", "add", "g01", "again"], "already exists")
        self.fails(["device", "enroll", "--user", "nobody", "--device", "tab-x"], "nobody")
        self.fails(["device", "revoke", "tab-none"], "unknown device")
        self.fails(["token", "create", "--user", "c001"], "cadre")

        rows = self.audit_lines()
        self.assertEqual([(r[1], r[2], r[3], r[4]) for r in rows], [
            (actor, "grid add", "g01", None),
            (actor, "grid add", "g02", None),
            (actor, "user add", "c001", "role=cadre grids=g01"),
            (actor, "user add", "sup01", "role=supervisor grids=all"),
            (actor, "device enroll", "tab-c001", "user=c001"),
            (actor, "device revoke", "tab-c001", None),
            (actor, "token create", "sup01", None),
            (actor, "export", "subjects", "format=jsonl records=0"),
            (actor, "export", "visits", "format=csv records=0"),
            (actor, "backup", copy, rows[-1][4]),
        ])
        now = time.time()
        for r in rows:
            t = calendar.timegm(time.strptime(r[0], "%Y-%m-%dT%H:%M:%SZ"))
            self.assertLess(abs(t - now), 120, r)
        # The backup names the copy's epoch: new, and not the live store's.
        con = sqlite3.connect(copy)
        copy_epoch = con.execute("SELECT value FROM store_meta WHERE key='epoch'").fetchone()[0]
        self.assertEqual(con.execute("SELECT count(*) FROM audit").fetchone()[0], len(rows) - 1)
        con.close()
        con = sqlite3.connect(self.db)
        live_epoch = con.execute("SELECT value FROM store_meta WHERE key='epoch'").fetchone()[0]
        con.close()
        self.assertEqual(rows[-1][4], "epoch=" + copy_epoch)
        self.assertNotEqual(copy_epoch, live_epoch)
        self.assertIn("epoch " + copy_epoch, err)
        # No token is in the log, not even in part.
        con = sqlite3.connect(self.db)
        text = " ".join(str(v) for row in con.execute("SELECT * FROM audit") for v in row)
        con.close()
        for tok in (device_token, api_token):
            self.assertNotIn(tok[:12], text)
        # The log is append-only.
        con = sqlite3.connect(self.db)
        for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit"):
            with self.assertRaisesRegex(sqlite3.DatabaseError, "append-only"):
                con.execute(sql)
        con.close()

    def test_audit_since_limit_and_errors(self):
        self.init()
        t = 1796464800000  # 2026-12-05T10:00:00Z
        con = sqlite3.connect(self.db)
        with con:
            for at, act, detail in ((t - 1, "export", "a"), (t, "backup", "b"),
                                    (t + 3600000, "resolve", "reason=\x1b]0;owned\x07 done")):
                con.execute("INSERT INTO audit (at_ms, actor, act, target, detail)"
                            " VALUES (?, 'cli:op', ?, 'x', ?)", (at, act, detail))
        con.close()
        acts = lambda *a: [r[2] for r in self.audit_lines(*a)]  # noqa: E731
        self.assertEqual(acts(), ["export", "backup", "resolve"])
        self.assertEqual(acts("--since", "2026-12-05"), ["export", "backup", "resolve"])
        self.assertEqual(acts("--since", "2026-12-05T10:00:00Z"), ["backup", "resolve"])
        self.assertEqual(acts("--since", "2026-12-05T18:00:00+08:00"), ["backup", "resolve"])
        self.assertEqual(acts("--since", "2026-12-05T05:00:00.001-05:00"), ["resolve"])
        self.assertEqual(acts("--since", "2026-12-06"), [])
        # Controls in the text are escaped for the terminal.
        out, _ = self.ok("audit", "--since", "2026-12-05T10:30:00Z")
        self.assertEqual(out, "2026-12-05T11:00:00Z  cli:op  resolve  x  "
                              "reason=\\u001b]0;owned\\u0007 done\n")
        # --limit: at most N, oldest first; a note on stderr says from when the rest follow.
        out, err = self.ok("audit", "--limit", "2")
        self.assertEqual([l.split("  ")[2] for l in out.splitlines()], ["export", "backup"])
        self.assertIn("--since 2026-12-05T11:00:00Z", self.one_line_error(err))
        out, err = self.ok("audit", "--limit", "3")
        self.assertEqual((len(out.splitlines()), err), (3, ""))
        self.assertEqual(len(self.audit_lines("--limit", "10000")), 3)
        for bad in ("0", "10001", "-1", "2x", "", "1.5"):
            self.usage(["audit", "--limit", bad], "--limit" if bad else "")
        for bad in ("yesterday", "2026-02-30", "2026-12-05 10:00:00", "2026-12-05T10:00:00",
                    "1796464800000"):
            self.usage(["audit", "--since", bad], "--since")
        self.usage(["audit", "extra"], "unexpected argument 'extra'")
        self.usage(["audit", "--frob"], "--frob")
        os.remove(self.db)
        self.fails(["audit"], "visitsync init")
        rc, out, _ = run(["help", "audit"], self.dir)
        self.assertEqual(rc, 0)
        self.assertIn("--since TIME", out)


def main():
    global VS, HELPER
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    VS, HELPER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[3:], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
