#!/usr/bin/env python3
"""Crash cycles: the real `visitsync serve` killed with SIGKILL again and again
under a continuous push load, with nothing acked lost or applied twice.

usage: crash_cycles.py VISITSYNC_BINARY [--cycles N] [--seed S] [--slow F] [--keep]
                       [--no-deflate] [--mutate FAULT]

What it does
  Twenty tablets (18 cadres' devices over four grids, 2 supervisors' devices
  over all of them) push without pause over WebSocket, exactly as a tablet
  does: every change gets the next seq and a hybrid-logical-clock stamp when
  it is made, and stays in the tablet's outbox until an ack answers it; after
  a lost connection the tablet reconnects and sends its whole outbox again
  (same seq, same hlc, same base, same fields). The changes are new visits and
  subjects, edits of the tablet's own records, deletes (`_deleted`), and edits,
  deletes and restores of a small pool of shared subjects per grid that every
  tablet of the grid (and the supervisors) write at once, so conflicts happen.
  Tablets also pull after some pokes and take their `base` from what they saw.

  The server is killed with SIGKILL after a random delay (seeded; a quarter
  of the kills come within 150 ms of the restart, in the re-send storm),
  started again on the same database and port, and the tablets reconnect.
  That is one cycle; there are N of them (default 20, VS_CRASH_CYCLES=100
  for the long run). At the end the server runs once more, the tablets stop
  making changes and drain their outboxes, and it is stopped with SIGTERM
  (exit 0 expected: under ASan that also proves no leak or memory error).

What it checks
  - after every kill: `PRAGMA integrity_check` is ok (read-only connection);
    the server had not exited by itself before the kill;
  - at every reconnect: welcome.seq is at least the highest seq acked to the
    tablet (else acked changes were lost) and at most the highest it sent;
    every re-sent change at or below welcome.seq is answered `duplicate` and
    every one above it `applied` or `conflict`; a `duplicate` answers only a
    change sent before on an earlier connection; nothing is `rejected` (the
    workload is valid in any order: every change names its grid, and a change
    with base 0 carries the required fields); acks come in push order;
  - at the end, in the crashed store: every change ever made is in the history
    as applied or conflict exactly once, with the very text that was sent, and
    nothing else is; devices.max_seq is each tablet's last seq;
  - the records equal a replay into a FRESH store: a second server on a new
    database with the same grids, users and devices receives every change
    again, each tablet's changes in reverse order (renumbered 1..n, since seq
    must grow) and the tablets interleaved in reverse order. Both stores are
    exported with `visitsync export` (jsonl, both collections) and compared
    record by record: the same ids, equal fields (the exported body), equal
    `deleted` and equal `rev`;
  - both equal an independent Python model of the merge rule (§2.3: per field,
    the greatest (hlc.ms, hlc.counter, device) wins).
  About revs: a record's rev counts the changes merged into it on that store
  (`rev = stored rev + 1` for every applied or conflicting change; duplicates
  and rejections do not count). Under exactly-once delivery it is therefore
  the number of changes ever made to the record, the same in any order, and
  it is compared: a change applied twice raises it, a lost one lowers it.
  Revs may legitimately differ between stores that saw different sets of
  accepted changes (a supervisor's conflict resolution, a change rejected in
  one arrival order but not another); this workload has none of those.
  Conflict logs and history ids are order-dependent and are not compared.

Bounds: every wait has a timeout; the whole run has one too. --slow F (the
ctest registration passes 4 for a sanitizer build; env VS_CRASH_SLOW) pushes
F times less often, waits F times longer and stretches the kill delays by
sqrt(F); the checks stay the same.

Compression: the tablets make the WebSocket library's default offer, which
includes permessage-deflate, as browsers do. --no-deflate leaves it out: it
separates a crash-recovery fault from libwebsockets 4.1.6's permessage-deflate
fault (docs/operations.md, "Hardening"), which shows here as `bad_json` errors and a server abort.

Self-check: --mutate FAULT injects a fault the run must then report:
skip-resend (a tablet drops an unacked change as if acked: LOST),
double (a change sent again under a new seq: applied twice, rev too high),
corrupt-record (a record of the crashed store altered: record differences),
corrupt-page (an index page overwritten after a kill: integrity_check),
restore-old (the store put back as it was one kill earlier: welcome.seq
below the highest acked seq).

Replaying a failure: the seed is printed first; run again with
VS_CRASH_SEED=<seed> (and the same cycles and slow factor). The kill delays
and each tablet's sequence of changes follow from the seed; the interleaving
with the server does not, so a failure may need a few runs. The database
directory is kept on failure and its path printed.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import vstest  # noqa: E402
import websockets  # noqa: E402

GRIDS = ("g1", "g2", "g3", "g4")
N_CADRES = 18
N_SUPERVISORS = 2
POOL = 6  # shared subjects per grid that every tablet of the grid edits
MAX_INFLIGHT = 4  # pushes a tablet has in flight at once
MAX_BATCH = 50  # changes per push (re-sends after a reconnect are batched up to this)
OUTBOX_MAX = 300  # a tablet stops making changes while its outbox is this full
PACE = 0.045  # seconds between a tablet's changes bursts (times --slow)

STATUS = ("community_rehab", "voluntary", "completed", "relapsed")
EMPLOYMENT = ("employed", "self_employed", "unemployed", "unable")
DIBAO = ("none", "applied", "approved", "rejected")
KIND = ("home", "phone", "workplace", "office", "group")
ASSIST = ("rehab", "training", "placement", "family", "fund", "purchase", "dibao", "medical")
EMPLOYER = ("旭峰农牧", "县砖厂", "合作社", None)  # None clears the optional field


class Failure(Exception):
    """A check failed; the message says which and how."""


def now_ms():
    return int(time.time() * 1000)


def pool_id(grid, k):
    return "%s-pool-%d" % (grid, k)


def pool_name(rid):
    return "共享 " + rid  # the same for every writer: name never conflicts


class Harness:
    """What the tablets share: the server's address and the failure list."""

    def __init__(self, slow):
        self.slow = slow
        self.connect_kw = {}  # --no-deflate: {"compression": None}
        self.mutate = None  # --mutate: a deliberate fault, to prove the checks catch it
        self.mutated = False
        self.url = None
        self.up = asyncio.Event()
        self.generating = True
        self.finished = False
        self.failures = []
        self.failed = asyncio.Event()

    def fail(self, msg):
        if len(self.failures) < 50:
            self.failures.append(msg)
        self.failed.set()
        raise Failure(msg)


class Tablet:
    """One device: its outbox, its clock, what it has seen; reconnects forever."""

    def __init__(self, h, device, grids, seed):
        self.h = h
        self.device = device
        self.grids = grids
        self.rng = random.Random(seed)
        self.token = None
        self.next_seq = 1
        self.hlc = (0, 0)
        self.outbox = collections.deque()  # made, not acked, in seq order
        self.unsent = collections.deque()  # the outbox's tail not sent on this connection
        self.inflight = collections.deque()  # (req, [changes]) sent on this connection
        self.made = []  # every change ever made, in seq order
        self.acks = {}  # seq -> status of its ack
        self.sends = collections.Counter()  # seq -> connections it was sent on
        self.max_acked = 0
        self.known = {}  # (collection, id) -> newest rev seen (the base of an edit)
        self.own = []  # (collection, id, grid, required fields) of records it created
        self.n_req = 0
        self.wake = asyncio.Event()
        self.welcome_seq = None
        self.cursor = "0"
        self.pulling = False
        self.sessions = 0
        self.last_exit = None  # why the last connection attempt or session ended
        self.statuses = collections.Counter()

    # ---- making changes -------------------------------------------------

    def stamp(self):
        ms = max(now_ms(), self.hlc[0])
        self.hlc = (ms, self.hlc[1] + 1) if ms == self.hlc[0] else (ms, 0)
        return [self.hlc[0], self.hlc[1]]

    def new_change(self, collection, rid, fields, required):
        base = self.known.get((collection, rid), 0)
        f = dict(fields)
        if base == 0:  # base 0 must carry the required fields (§4): same values every time
            f.update(required)
        c = {"seq": self.next_seq, "collection": collection, "id": rid, "base": base,
             "hlc": self.stamp(), "fields": f}
        self.next_seq += 1
        return c

    def make_one(self):
        r = self.rng.random()
        g = self.rng.choice(self.grids)
        if r < 0.28 or (r >= 0.75 and not self.own):  # a new visit
            rid = "%s-v%d" % (self.device, self.next_seq)
            req = {"subject": pool_id(g, self.rng.randrange(POOL)), "grid": g,
                   "visited_at": "2026-11-%02dT%02d:%02d:00+08:00" % (
                       self.rng.randint(1, 28), self.rng.randint(8, 18), self.rng.randint(0, 59))}
            fields = {"kind": self.rng.choice(KIND),
                      "employment": self.rng.choice(EMPLOYMENT),
                      "income": self.rng.randrange(0, 6000),
                      "assistance": self.rng.sample(ASSIST, self.rng.randint(0, 3)),
                      "notes": "走访 %s 第%d次" % (self.device, self.next_seq)}
            self.own.append(("visits", rid, g, req))
            return self.new_change("visits", rid, fields, req)
        if r < 0.36:  # a new subject of its own
            rid = "%s-s%d" % (self.device, self.next_seq)
            req = {"name": "对象 " + rid, "grid": g}
            fields = {"status": self.rng.choice(STATUS),
                      "employment": self.rng.choice(EMPLOYMENT)}
            self.own.append(("subjects", rid, g, req))
            return self.new_change("subjects", rid, fields, req)
        if r < 0.75:  # an edit of a shared subject: concurrent with the grid's other tablets
            rid = pool_id(g, self.rng.randrange(POOL))
            names = self.rng.sample(("status", "employment", "employer", "income", "dibao",
                                     "phone", "disability_cert"), self.rng.randint(1, 3))
            fields = {"grid": g}
            for n in names:
                fields[n] = {"status": lambda: self.rng.choice(STATUS),
                             "employment": lambda: self.rng.choice(EMPLOYMENT),
                             "employer": lambda: self.rng.choice(EMPLOYER),
                             "income": lambda: self.rng.randrange(0, 4) * 1000,
                             "dibao": lambda: self.rng.choice(DIBAO),
                             "phone": lambda: "1390000%04d" % self.rng.randrange(3),
                             "disability_cert": lambda: self.rng.random() < 0.5}[n]()
            return self.new_change("subjects", rid, fields, {"name": pool_name(rid)})
        if r < 0.88:  # an edit of one of its own records
            coll, rid, og, req = self.rng.choice(self.own)
            if coll == "visits":
                fields = {"grid": og, "needs": "需要 %d" % self.rng.randrange(100),
                          "follow_up": "2026-12-%02d" % self.rng.randint(1, 28)}
            else:
                fields = {"grid": og, "employment": self.rng.choice(EMPLOYMENT),
                          "income": self.rng.randrange(0, 6000)}
            return self.new_change(coll, rid, fields, req)
        if r < 0.95:  # a delete: of its own record, or of a shared one
            if self.rng.random() < 0.6:
                coll, rid, og, req = self.rng.choice(self.own)
                return self.new_change(coll, rid, {"_deleted": True, "grid": og}, req)
            rid = pool_id(g, self.rng.randrange(POOL))
            return self.new_change("subjects", rid, {"_deleted": True, "grid": g},
                                   {"name": pool_name(rid)})
        rid = pool_id(g, self.rng.randrange(POOL))  # a restore of a shared subject
        return self.new_change("subjects", rid, {"_deleted": False, "grid": g},
                               {"name": pool_name(rid)})

    async def generate(self):
        """Makes 1-4 changes per tick while the harness says so, online or not."""
        while self.h.generating and not self.h.failed.is_set():
            if len(self.outbox) < OUTBOX_MAX:
                for _ in range(self.rng.randint(1, 4)):
                    c = self.make_one()
                    self.made.append(c)
                    self.outbox.append(c)
                    self.unsent.append(c)
                self.wake.set()
            await asyncio.sleep(PACE * self.h.slow * self.rng.uniform(0.5, 1.5))

    # ---- the connection -------------------------------------------------

    async def run(self):
        """Connects, pushes and reconnects until the harness finishes."""
        while not self.h.finished and not self.h.failed.is_set():
            url = self.h.url
            if url is None:
                try:
                    await asyncio.wait_for(self.h.up.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                ws = await vstest.connect(url, open_timeout=5 * self.h.slow, close_timeout=1,
                                          **self.h.connect_kw)
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException,
                    EOFError) as e:
                self.last_exit = "connect: %s: %s" % (type(e).__name__, e)
                await asyncio.sleep(0.02 + self.rng.random() * 0.03)
                continue
            try:
                await self.session(ws)
            except (websockets.ConnectionClosed, OSError) as e:
                self.last_exit = "session: %s: %s" % (type(e).__name__, e)  # killed: reconnect
            except Failure:
                pass  # already recorded
            except asyncio.TimeoutError:
                self.h.failures.append("%s: hello not answered within %.0f s" % (
                    self.device, 10 * self.h.slow))
                self.h.failed.set()
            except Exception as e:  # noqa: B902 - a harness fault must fail the run, not hide
                self.h.failures.append("%s: %s: %s" % (self.device, type(e).__name__, e))
                self.h.failed.set()
            finally:
                try:
                    await asyncio.wait_for(ws.close(), 2)
                except (asyncio.TimeoutError, websockets.WebSocketException, OSError):
                    pass

    async def session(self, ws):
        h = self.h
        await ws.send(json.dumps({"type": "hello", "device": self.device, "token": self.token,
                                  "app": "crash/1.0", "pending": len(self.outbox),
                                  "clock": now_ms()}))
        m = json.loads(await asyncio.wait_for(ws.recv(), 10 * h.slow))
        if m.get("type") != "welcome":
            h.fail("%s: hello answered %r" % (self.device, m))
        seq = m.get("seq")
        if not isinstance(seq, int):
            h.fail("%s: welcome without an integer seq: %r" % (self.device, m))
        if seq < self.max_acked:
            h.fail("%s: LOST ACKED CHANGES: welcome.seq %d is below the highest acked seq %d"
                   % (self.device, seq, self.max_acked))
        if seq > self.next_seq - 1:
            h.fail("%s: welcome.seq %d is above the highest seq ever made, %d"
                   % (self.device, seq, self.next_seq - 1))
        self.welcome_seq = seq
        self.hlc = max(self.hlc, (m["time"], 0))
        if h.mutate == "skip-resend" and not h.mutated:
            # Self-check: a tablet that wrongly drops one unacked change as if acked.
            lost = [c for c in self.outbox if c["seq"] > seq]
            if lost:
                h.mutated = True
                self.outbox.remove(lost[0])
                self.acks[lost[0]["seq"]] = "skipped"
                print("mutate: %s drops seq %d without an ack" % (self.device, lost[0]["seq"]))
        # Everything not acked goes again, in order, on this connection.
        self.unsent = collections.deque(self.outbox)
        self.inflight.clear()
        self.pulling = False
        self.sessions += 1
        reader = asyncio.ensure_future(self.reader(ws))
        sender = asyncio.ensure_future(self.sender(ws))
        try:
            done, _ = await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # raises what ended the session
        finally:
            for t in (reader, sender):
                t.cancel()
            self.wake.set()
            try:
                await asyncio.wait_for(asyncio.gather(reader, sender, return_exceptions=True), 5)
            except asyncio.TimeoutError:
                h.fail("%s: the session's reader and sender did not end within 5 s of its end"
                       % self.device)

    async def sender(self, ws):
        """Sends the unsent changes, MAX_INFLIGHT pushes at most; ends with the connection.

        It waits on wake with no timeout of its own, on purpose: Python 3.11's wait_for
        can swallow a cancellation that races with its timeout (gh-86296), and a sender
        that missed the session's cancel would spin on a dead connection forever. The
        bound is the reader's: no ack within ack_limit fails the run."""
        h = self.h
        while not h.finished and not ws.closed:
            if not self.unsent or len(self.inflight) >= MAX_INFLIGHT:
                self.wake.clear()
                await self.wake.wait()  # set by the generator, by every ack, at session end
                continue
            batch = [self.unsent.popleft() for _ in range(min(MAX_BATCH, len(self.unsent)))]
            self.n_req += 1
            req = "%s-%d" % (self.device, self.n_req)
            for c in batch:
                self.sends[c["seq"]] += 1
            self.inflight.append((req, batch, time.monotonic()))
            await ws.send(json.dumps({"type": "push", "req": req, "changes": batch},
                                     ensure_ascii=False))

    async def reader(self, ws):
        h = self.h
        ack_limit = 20 * h.slow  # the longest an ack may take while the server runs
        while not h.finished:
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                if self.inflight and time.monotonic() - self.inflight[0][2] > ack_limit:
                    h.fail("%s: push %s not answered within %.0f s (server hung?)"
                           % (self.device, self.inflight[0][0], ack_limit))
                continue
            m = json.loads(raw)
            t = m.get("type")
            if t == "ack":
                self.on_ack(m)
            elif t == "poke":
                if not self.pulling and self.rng.random() < 0.3:
                    self.pulling = True
                    await ws.send(json.dumps({"type": "pull", "req": "pull", "since": self.cursor,
                                              "limit": 1000}))
            elif t == "changes":
                self.on_changes(m)
            else:
                hint = ""
                if ws.extensions:
                    hint = (" (permessage-deflate was negotiated: libwebsockets 4.1.6 corrupts "
                            "inflates of concurrent compressing clients, see STYLE.md)")
                h.fail("%s: unexpected message %r%s" % (self.device, m, hint))

    def on_ack(self, m):
        h = self.h
        if not self.inflight:
            h.fail("%s: an ack with no push in flight: %r" % (self.device, m))
        req, batch, _ = self.inflight.popleft()
        if m.get("req") != req:
            h.fail("%s: ack for %r arrived where %r was next (acks out of push order)"
                   % (self.device, m.get("req"), req))
        results = m.get("results", [])
        if len(results) != len(batch):
            h.fail("%s: %d results for %d changes in %s" % (self.device, len(results),
                                                             len(batch), req))
        for c, r in zip(batch, results):
            seq, st = c["seq"], r.get("status")
            if r.get("seq") != seq or r.get("id") != c["id"]:
                h.fail("%s: result %r answers change seq %d id %s" % (self.device, r, seq,
                                                                       c["id"]))
            if not self.outbox or self.outbox[0] is not c:
                h.fail("%s: seq %d acked but it is not the oldest unacked change"
                       % (self.device, seq))
            if st == "rejected":
                h.fail("%s: seq %d rejected: %r (the workload is valid)" % (self.device, seq, r))
            if seq <= self.welcome_seq:
                if st != "duplicate":
                    h.fail("%s: DOUBLE APPLY: seq %d is at or below welcome.seq %d but was "
                           "answered %r" % (self.device, seq, self.welcome_seq, st))
            elif st not in ("applied", "conflict"):
                h.fail("%s: seq %d is above welcome.seq %d but was answered %r"
                       % (self.device, seq, self.welcome_seq, st))
            if st == "duplicate" and self.sends[seq] < 2:
                h.fail("%s: seq %d answered duplicate on its first send" % (self.device, seq))
            self.outbox.popleft()
            self.acks[seq] = st
            self.statuses[st] += 1
            self.max_acked = seq
            key = (c["collection"], c["id"])
            if r.get("rev", 0) > self.known.get(key, 0):
                self.known[key] = r["rev"]
        self.wake.set()

    def on_changes(self, m):
        if m.get("reset"):
            self.h.fail("%s: pull since %s answered reset: a cursor the server issued was "
                        "lost in the crash" % (self.device, self.cursor))
        for it in m.get("changes", []):
            if "rev" in it:
                key = (it["collection"], it["id"])
                self.known[key] = max(self.known.get(key, 0), it["rev"])
        self.cursor = m.get("cursor", self.cursor)
        self.pulling = False


# ---- the stores ---------------------------------------------------------


def device_plan():
    """(device, user, role, grids it writes): 18 cadres over 4 grids, 2 supervisors."""
    plan = []
    for i in range(N_CADRES):
        plan.append(("tab%02d" % (i + 1), "c%02d" % (i + 1), "cadre", [GRIDS[i % len(GRIDS)]]))
    for i in range(N_SUPERVISORS):
        plan.append(("sup%d" % (i + 1), "s%d" % (i + 1), "supervisor", list(GRIDS)))
    return plan


def fill(env, plan):
    for g in GRIDS:
        env.grid(g)
    for dev, user, role, grids in plan:
        env.user(user, role, grids if role == "cadre" else None)
        env.device(dev, user)


def integrity(db):
    """PRAGMA integrity_check's rows on a read-only connection ([("ok",)] when sound)."""
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            return con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        return [("cannot check: %s" % e,)]


def start_server(env, port, slow):
    """`visitsync serve` on port (0: any); the same port again after a kill when it can."""
    vstest.WAIT = 10.0 * slow
    last = None
    for attempt in range(5):
        try:
            return vstest.Server(env, listen="127.0.0.1:%d" % port)
        except AssertionError as e:  # the port may still be held for a moment
            last = e
            time.sleep(0.1 * (attempt + 1))
    if port:
        print("note: port %d could not be bound again (%s); using a new port" % (port, last),
              flush=True)
        return vstest.Server(env, listen="127.0.0.1:0")
    raise last


def export(env):
    """{(collection, id): (fields, deleted, rev)} through `visitsync export`."""
    out = {}
    for coll in ("subjects", "visits"):
        p = env.cli("export", "--collection", coll, "--format", "jsonl")
        for line in p.stdout.splitlines():
            if line.strip():
                o = json.loads(line)
                out[(coll, o["id"])] = (o["fields"], bool(o["deleted"]), o["rev"])
    return out


def model(tablets):
    """The merge rule of §2.3 in Python: the records every change ever made leads to."""
    recs = {}
    for t in tablets:
        for c in t.made:
            key = (c["collection"], c["id"])
            r = recs.setdefault(key, {"fields": {}, "n": 0})
            r["n"] += 1
            stamp = (c["hlc"][0], c["hlc"][1], t.device.encode())
            for name, value in c["fields"].items():
                old = r["fields"].get(name)
                if old is None or stamp > old[0]:
                    r["fields"][name] = (stamp, value)
    out = {}
    for key, r in recs.items():
        fields = {n: v for n, (_, v) in r["fields"].items() if n != "_deleted"}
        deleted = bool(r["fields"].get("_deleted", (None, False))[1])
        out[key] = (fields, deleted, r["n"])
    return out


def canon(v):
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def compare(a, b, a_name, b_name):
    """Lines naming every record where a and b differ (empty when equal)."""
    diffs = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            diffs.append("%s/%s: only in %s" % (key[0], key[1], a_name if key in a else b_name))
            continue
        (fa, da, ra), (fb, db, rb) = a[key], b[key]
        # JSON text, not Python equality: True == 1 and 1 == 1.0 must not pass.
        if canon(fa) != canon(fb):
            fields = sorted(n for n in set(fa) | set(fb)
                            if canon(fa.get(n, "∅")) != canon(fb.get(n, "∅")))
            diffs.append("%s/%s: fields %s differ: %s %r, %s %r" % (
                key[0], key[1], fields, a_name, {n: fa.get(n, "∅") for n in fields},
                b_name, {n: fb.get(n, "∅") for n in fields}))
        if da != db:
            diffs.append("%s/%s: deleted %s in %s, %s in %s" % (key[0], key[1], da, a_name, db,
                                                                  b_name))
        if ra != rb:
            diffs.append("%s/%s: rev %d in %s, %d in %s" % (key[0], key[1], ra, a_name, rb,
                                                              b_name))
    return diffs


def check_history(env, tablets):
    """Every change made is applied exactly once, as sent; nothing else is."""
    problems = []
    rows = env.sql("SELECT device, seq, outcome, change FROM history "
                   "WHERE outcome IN ('applied', 'conflict', 'rejected')")
    seen = collections.defaultdict(list)
    for dev, seq, outcome, text in rows:
        if outcome == "rejected":
            problems.append("history: %s seq %d was rejected" % (dev, seq))
        seen[(dev, seq)].append(text)
    for t in tablets:
        for c in t.made:
            texts = seen.pop((t.device, c["seq"]), [])
            if len(texts) == 0:
                problems.append("LOST: %s seq %d (%s/%s, acked %s) is not in the history as "
                                "applied" % (t.device, c["seq"], c["collection"], c["id"],
                                             t.acks.get(c["seq"])))
            elif len(texts) > 1:
                problems.append("DOUBLED: %s seq %d was applied %d times" % (
                    t.device, c["seq"], len(texts)))
            elif json.loads(texts[0]) != c:
                problems.append("%s seq %d: history holds %s, the tablet sent %s" % (
                    t.device, c["seq"], texts[0], json.dumps(c, ensure_ascii=False)))
        got = env.sql("SELECT max_seq FROM devices WHERE id = ?", t.device)[0][0]
        if got != t.next_seq - 1:
            problems.append("%s: devices.max_seq %d, the tablet's last seq %d" % (
                t.device, got, t.next_seq - 1))
    for (dev, seq), texts in sorted(seen.items()):
        problems.append("history: %s seq %d applied %d times but never made" % (dev, seq,
                                                                              len(texts)))
    return problems


async def replay(plan, tablets, slow, connect_kw):
    """A fresh store fed every change, each tablet's in reverse; returns its export."""
    env = vstest.Env()
    try:
        fill(env, plan)
        srv = await asyncio.to_thread(start_server, env, 0, slow)
        try:
            conns = {}
            for t in reversed(tablets):
                ws = await vstest.connect(srv, open_timeout=10 * slow, close_timeout=1,
                                          **connect_kw)
                await ws.send(json.dumps({"type": "hello", "device": t.device,
                                          "token": env.tokens[t.device]}))
                m = json.loads(await asyncio.wait_for(ws.recv(), 10 * slow))
                if m.get("type") != "welcome":
                    raise Failure("replay: hello of %s answered %r" % (t.device, m))
                # seq must grow per device, so the reversed list is renumbered 1..n.
                todo = [dict(c, seq=i + 1) for i, c in enumerate(reversed(t.made))]
                conns[t.device] = (ws, todo)
            k = 0
            while any(todo for _, todo in conns.values()):
                sent = []
                for dev, (ws, todo) in conns.items():  # one batch per tablet per round
                    if todo:
                        batch, todo[:] = todo[:200], todo[200:]
                        k += 1
                        await ws.send(json.dumps({"type": "push", "req": "r%d" % k,
                                                  "changes": batch}, ensure_ascii=False))
                        sent.append((dev, ws, "r%d" % k, len(batch)))
                for dev, ws, req, n in sent:
                    m = await vstest.recv_type(ws, "ack", 60 * slow)
                    if m.get("type") != "ack" or m.get("req") != req:
                        raise Failure("replay: push %s of %s answered %r" % (req, dev, m))
                    bad = [r for r in m["results"] if r["status"] not in ("applied", "conflict")]
                    if bad or len(m["results"]) != n:
                        raise Failure("replay: push %s of %s: %r" % (req, dev, bad[:3]))
            for ws, _ in conns.values():
                await asyncio.wait_for(ws.close(), 5)
        finally:
            await asyncio.to_thread(srv.kill)
        return export(env)
    finally:
        env.close()


# ---- self-checks (--mutate): faults the checks above must catch ----------


def corrupt_page(db):
    """Overwrites the first bytes of the records_grid index's root page."""
    con = sqlite3.connect(db, timeout=10)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'records_grid'"
                           ).fetchone()[0]
        size = con.execute("PRAGMA page_size").fetchone()[0]
    finally:
        con.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\x07" * 64)
    print("mutate: page %d (index records_grid) overwritten" % root, flush=True)


def restore_old(db, save):
    """Saves the store's files after the second kill; puts them back after the third."""
    for ext in ("", "-wal"):
        a, b = db + ext, db + ext + ".old"
        if save:
            if os.path.exists(a):
                shutil.copyfile(a, b)
        elif os.path.exists(b):
            shutil.copyfile(b, a)
        elif os.path.exists(a):
            os.remove(a)
    if not save:
        if os.path.exists(db + "-shm"):
            os.remove(db + "-shm")
        print("mutate: the store is back as it was after cycle 2", flush=True)


async def apply_twice(srv, env, t, connect_kw):
    """A change of t sent again under a new seq: the server applies it a second time."""
    c = dict(t.made[0], seq=t.next_seq + 1000)
    ws = await vstest.connect(srv, close_timeout=1, **connect_kw)
    try:
        await ws.send(json.dumps({"type": "hello", "device": t.device, "token": t.token}))
        await vstest.recv_type(ws, "welcome")
        await ws.send(json.dumps({"type": "push", "req": "twice", "changes": [c]}))
        m = await vstest.recv_type(ws, "ack")
        print("mutate: %s seq %d sent again as seq %d: %s" % (
            t.device, t.made[0]["seq"], c["seq"], m["results"][0]["status"]), flush=True)
    finally:
        await asyncio.wait_for(ws.close(), 5)


# ---- the run --------------------------------------------------------------


async def crash_cycles(env, cycles, seed, slow, connect_kw, mutate):
    plan = device_plan()
    fill(env, plan)
    h = Harness(slow)
    h.connect_kw = connect_kw
    h.mutate = mutate
    tablets = []
    for i, (dev, _, _, grids) in enumerate(plan):
        t = Tablet(h, dev, grids, seed * 1000 + i)
        t.token = env.tokens[dev]
        tablets.append(t)
    krng = random.Random(seed)
    tasks = [asyncio.ensure_future(t.run()) for t in tablets]
    tasks += [asyncio.ensure_future(t.generate()) for t in tablets]
    port = 0
    srv = None
    t0 = time.monotonic()
    stats = {"inflight_at_kill": 0, "outbox_at_kill": 0}
    try:
        for cycle in range(1, cycles + 1):
            srv = await asyncio.to_thread(start_server, env, port, slow)
            port = srv.port
            h.url = srv.url
            h.up.set()
            delay = krng.uniform(0.0, 0.15) if krng.random() < 0.25 else krng.uniform(0.15, 1.5)
            delay *= slow ** 0.5  # the server starts slower too; the load is scaled by pace
            try:
                await asyncio.wait_for(h.failed.wait(), delay)
            except asyncio.TimeoutError:
                pass
            if srv.proc.poll() is not None:
                h.failures.append("cycle %d: the server exited by itself (%s) before the kill; "
                                  "stderr:\n%s" % (cycle, srv.proc.returncode,
                                                   srv.stderr()[-3000:]))
                break
            srv.proc.send_signal(signal.SIGKILL)
            h.up.clear()
            h.url = None
            await asyncio.to_thread(srv.proc.wait, 10)
            srv.errf.close()
            report = srv.tsan_report()  # a killed server never exits 66: read its stderr
            if report:
                h.failures.append("cycle %d: ThreadSanitizer reported:\n%s" % (cycle, report))
                break
            inflight = sum(len(b) for t in tablets for _, b, _ in t.inflight)
            outbox = sum(len(t.outbox) for t in tablets)
            stats["inflight_at_kill"] += inflight > 0
            stats["outbox_at_kill"] += outbox
            if mutate == "corrupt-page" and cycle == 2:
                corrupt_page(env.db)
            if mutate == "restore-old" and cycle in (2, 3):
                restore_old(env.db, cycle == 2)
            ic = await asyncio.to_thread(integrity, env.db)
            acked = sum(t.max_acked for t in tablets)
            print("cycle %3d: killed after %.3f s; acked %d, in flight %d, outbox %d; "
                  "integrity %s (%.1f s)" % (cycle, delay, acked, inflight, outbox,
                                             ic[0][0] if len(ic) == 1 else ic[:3],
                                             time.monotonic() - t0), flush=True)
            if ic != [("ok",)]:
                h.failures.append("cycle %d: PRAGMA integrity_check: %r" % (cycle, ic[:10]))
            srv = None
            if h.failures:
                break

        if not h.failures:
            # The last start: stop making changes, let every outbox drain, stop cleanly.
            srv = await asyncio.to_thread(start_server, env, port, slow)
            h.url = srv.url
            h.up.set()
            h.generating = False
            limit = 60 * slow
            deadline = time.monotonic() + limit
            while any(t.outbox for t in tablets) and not h.failed.is_set():
                if time.monotonic() > deadline:
                    h.failures.append("the outboxes did not drain within %.0f s: %s" % (
                        limit, "; ".join("%s: %d left, %d in flight, %d unsent, %d sessions, "
                                         "last ended by %s" % (
                                             t.device, len(t.outbox), len(t.inflight),
                                             len(t.unsent), t.sessions, t.last_exit)
                                         for t in tablets if t.outbox)))
                    break
                await asyncio.sleep(0.05)
            print("drained: %d changes acked (%.1f s)" % (sum(len(t.acks) for t in tablets),
                                                        time.monotonic() - t0), flush=True)
    finally:
        h.finished = True
        h.generating = False
        h.up.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
        if mutate == "double" and srv is not None and not h.failures:
            await apply_twice(srv, env, tablets[0], connect_kw)
        if srv is not None:
            await asyncio.to_thread(srv.kill)  # SIGTERM; must exit 0
    if h.failures:
        raise Failure("\n".join(h.failures))

    made = sum(len(t.made) for t in tablets)
    statuses = collections.Counter()
    for t in tablets:
        statuses.update(t.statuses)
    n_del = sum(1 for t in tablets for c in t.made if "_deleted" in c["fields"])
    print("made %d changes (%d deletes/restores); acks %s; kills with pushes in flight %d/%d; "
          "reconnects %d" % (made, n_del, dict(statuses), stats["inflight_at_kill"], cycles,
                             sum(t.sessions for t in tablets)), flush=True)
    problems = []
    if sum(len(t.acks) for t in tablets) != made:
        problems.append("acked %d of %d changes" % (sum(len(t.acks) for t in tablets), made))
    ic = integrity(env.db)
    if ic != [("ok",)]:
        problems.append("final PRAGMA integrity_check: %r" % ic[:10])
    problems += check_history(env, tablets)
    # The test must not pass vacuously: it saw load, conflicts and deletes.
    if statuses["conflict"] == 0:
        problems.append("no change was answered conflict: the workload is too thin")
    if n_del == 0 or made < 100 * cycles // max(1, int(slow)):
        problems.append("too little load: %d changes, %d deletes" % (made, n_del))
    if cycles >= 10 and stats["inflight_at_kill"] == 0:
        problems.append("no kill ever hit a push in flight")

    if mutate == "corrupt-record":
        # Self-check: one record flips its deleted flag, another gets a wrong income.
        con = sqlite3.connect(env.db, timeout=10)
        with con:
            con.execute("UPDATE records SET deleted = 1 - deleted WHERE rowid = "
                        "(SELECT min(rowid) FROM records)")
            con.execute("UPDATE records SET body = json_set(body, '$.income', -7) WHERE rowid = "
                        "(SELECT max(rowid) FROM records)")
        con.close()
    crashed = export(env)
    expect = model(tablets)
    t1 = time.monotonic()
    fresh = await replay(plan, tablets, slow, connect_kw)
    print("replayed %d changes into a fresh store in %.1f s; %d records" % (
        made, time.monotonic() - t1, len(fresh)), flush=True)
    diffs = compare(crashed, fresh, "crashed", "fresh")
    diffs += compare(crashed, expect, "crashed", "model")
    if diffs:
        problems.append("%d record differences, first:\n%s" % (len(diffs),
                                                               "\n".join(diffs[:30])))
    if problems:
        raise Failure("\n".join(problems[:40]))
    return made, statuses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--cycles", type=int, default=int(os.environ.get("VS_CRASH_CYCLES", "20")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("VS_CRASH_SEED", "0")) or None)
    ap.add_argument("--slow", type=float, default=float(os.environ.get("VS_CRASH_SLOW", "1")))
    ap.add_argument("--keep", action="store_true", help="keep the database directory")
    ap.add_argument("--no-deflate", action="store_true",
                    help="clients do not offer permessage-deflate (by default they offer it, "
                         "as browsers do)")
    ap.add_argument("--mutate", choices=("skip-resend", "double", "corrupt-record",
                                         "corrupt-page", "restore-old"),
                    help="inject a fault the test must report (to check the test itself)")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 2 ** 31)
    if a.cycles < 1 or a.cycles > 10000 or a.slow < 1:
        ap.error("--cycles must be 1..10000 and --slow at least 1")
    vstest.BIN = os.path.abspath(a.binary)
    print("crash cycles: %d cycles, seed %d, slow %g (replay: VS_CRASH_SEED=%d "
          "VS_CRASH_CYCLES=%d VS_CRASH_SLOW=%g)" % (a.cycles, a.seed, a.slow, a.seed, a.cycles,
                                                   a.slow), flush=True)
    env = vstest.Env()
    t0 = time.monotonic()
    ok = False
    limit = 60 + a.cycles * 8 * a.slow  # the whole run's bound
    try:
        made, statuses = asyncio.run(asyncio.wait_for(
            crash_cycles(env, a.cycles, a.seed, a.slow,
                         {"compression": None} if a.no_deflate else {}, a.mutate), limit))
        ok = True
        print("PASS crash_cycles: %d cycles, %d changes, %d conflicts, %d duplicates (%.1f s)"
              % (a.cycles, made, statuses["conflict"], statuses["duplicate"],
                 time.monotonic() - t0), flush=True)
    except Failure as e:
        print("FAIL crash_cycles (seed %d, %.1f s):\n%s" % (a.seed, time.monotonic() - t0, e),
              flush=True)
    except asyncio.TimeoutError:
        print("FAIL crash_cycles (seed %d): the run exceeded %.0f s" % (a.seed, limit),
              flush=True)
    except AssertionError as e:  # vstest: a server that does not start (a crash loop)
        print("FAIL crash_cycles (seed %d, %.1f s): %s" % (a.seed, time.monotonic() - t0, e),
              flush=True)
    finally:
        if ok and not a.keep:
            env.close()
        else:
            print("database kept in %s" % env.dir, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
