#!/usr/bin/env python3
"""Restore without loss (docs/protocol.md §2.4a), end to end: the real
`visitsync serve`, `visitsync backup` and several `visitsync client` tablets.

Usage: restore_test.py PATH/TO/visitsync

Case 1, a recent backup:
  - three tablets of one grid push; `visitsync backup` runs while they push;
    they push more, among it edits of the same records from two tablets from
    the same base (so conflicts exist);
  - every record (`visitsync export`), the history's changes, the conflict
    log and each tablet's replica are recorded; the server is stopped, the
    copy put back (and its -wal/-shm removed), the server started again;
  - the tablets sync: those acked further than the copy knows send their
    kept changes again, and each replica is rebuilt from a `reset` pull.
    Then every record equals its state before the restore, every acked
    change is in the history exactly once, the conflict log is unchanged
    (collection, record, field and candidates) and so is every replica.
Case 2, a backup older than what a tablet keeps: a tablet whose acked
changes were pruned (VISITSYNC_CLIENT_RETAIN_DAYS=0 stands in for 30 days)
reports the lost seq range on stderr and in `client status`, sends the
changes it still keeps, and reports the loss only once.

Python 3 standard library; the helpers come from sync_test.py.
"""
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time

import sync_test as st
from sync_test import Tablet, check, run, start_server, stop_server, summary


def export(db):
    """Every record of the server, by `visitsync export`, as sorted lines."""
    lines = []
    for collection in ("subjects", "visits"):
        out = run("export", "--db", db, "--collection", collection)[0]
        lines += ["%s %s" % (collection, l) for l in out.splitlines() if l]
    return sorted(lines)


def query(db, sql):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def changes_applied(db):
    """(device, seq) of every change the history holds as merged, with how often."""
    return query(db, "SELECT device, seq, count(*) FROM history "
                     "WHERE outcome IN ('applied', 'conflict') GROUP BY device, seq")


def conflict_log(db):
    """The conflict log as a set: (collection, record, field, status, candidates)."""
    entries = {}
    for cid, coll, rid, field, status in query(
            db, "SELECT id, collection, record_id, field, status FROM conflicts"):
        entries[cid] = [coll, rid, field, status, set()]
    for cid, device, ms, counter, value in query(
            db, "SELECT conflict_id, device, hlc_ms, hlc_counter, value FROM conflict_candidates"):
        entries[cid][4].add((device, ms, counter, value))
    return sorted((c, r, f, s, tuple(sorted(cands))) for c, r, f, s, cands in entries.values())


def listing(t):
    return run("client", "list", "--replica", t.replica)[0]


def sync_env(t, env_extra, ok=True):
    env = dict(os.environ, **env_extra)
    out, err, rc = run("client", "sync", "--replica", t.replica, "--timeout", "20", env=env,
                       ok=ok)
    return out.strip(), err.strip(), rc


def same_port(url):
    """The --listen of the server at url: the tablets' stores name its port."""
    return ("--listen", "127.0.0.1:" + url.rsplit(":", 1)[1].split("/")[0])


def put_back(copy, db):
    """Restores the copy as docs/operations.md says: copy it back, drop -wal/-shm."""
    shutil.copyfile(copy, db)
    for ext in ("-wal", "-shm"):
        if os.path.exists(db + ext):
            os.unlink(db + ext)


def prepare(db, devices):
    run("init", "--db", db)
    run("grid", "add", "g01", "Grid One", "--db", db)
    tokens = {}
    for i, device in enumerate(devices):
        user = "c%02d" % (i + 1)
        run("user", "add", "--id", user, "--name", "Cadre " + user, "--role", "cadre",
            "--grids", "g01", "--db", db)
        tokens[device] = run("device", "enroll", "--user", user, "--device", device,
                             "--db", db)[0].strip()
    return tokens


def subject(t, rid, *sets):
    t.add("subjects", rid, "name=" + rid, "grid=g01", *sets)


def pusher(t, prefix, rounds, per_round, errors):
    """A tablet at work: queues a few subjects, syncs, again (run in a thread)."""
    try:
        for r in range(rounds):
            for i in range(per_round):
                subject(t, "%s-%d-%d" % (prefix, r, i), "income=%d" % i)
            summary(t.sync()[0])
    except Exception as e:  # reported by the main thread
        errors.append("%s: %s" % (t.name, e))


def recent_backup_case():
    db = os.path.join(st.TMP, "server.db")
    copy = os.path.join(st.TMP, "copy.db")
    names = ("tab-1", "tab-2", "tab-3")
    tokens = prepare(db, names)
    server, url = start_server(db)
    try:
        tabs = [Tablet(n, url, tokens[n]) for n in names]
        # Before the backup: records of every tablet, and a conflict the copy holds.
        for t in tabs:
            for i in range(3):
                subject(t, "%s-early-%d" % (t.name, i))
            summary(t.sync()[0])
        for t in tabs:
            summary(t.sync()[0])
        tabs[0].add("subjects", "tab-3-early-0", "phone=tel-111")
        tabs[1].add("subjects", "tab-3-early-0", "phone=tel-222")
        summary(tabs[0].sync()[0])
        s = summary(tabs[1].sync()[0])
        check(s["conflict"] == 1, "an edit of the same field from the same base: conflict: %s" % s)

        # Back up while the tablets push.
        before = len(query(db, "SELECT id FROM history"))
        errors = []
        threads = [threading.Thread(target=pusher, args=(t, t.name + "-during", 6, 8, errors))
                   for t in tabs]
        for th in threads:
            th.start()
        deadline = time.time() + 120
        while len(query(db, "SELECT id FROM history")) == before and time.time() < deadline:
            time.sleep(0.05)
        _, err, _ = run("backup", "--db", db, copy, timeout=300)
        for th in threads:
            th.join(timeout=600)
        check(not errors, "the tablets pushed while the backup ran: %s" % errors)
        in_copy = len(query(copy, "SELECT id FROM history"))
        total = len(query(db, "SELECT id FROM history"))
        print("history: %d changes before the backup, %d in the copy, %d after the pushes"
              % (before, in_copy, total), flush=True)
        check(before < in_copy <= total, "the copy holds changes pushed while it ran")

        # They push more: new records, and edits of the same records from the same base.
        for t in tabs:
            summary(t.sync()[0])
        for t in tabs:
            subject(t, t.name + "-late")
        tabs[0].add("subjects", "tab-2-early-1", "phone=tel-333", "employment=employed")
        tabs[1].add("subjects", "tab-2-early-1", "phone=tel-444")
        tabs[2].add("subjects", "tab-1-early-2", "phone=tel-555")
        tabs[1].add("subjects", "tab-1-early-2", "employment=unemployed")
        tabs[0].add("visits", "v-late-1", "subject=tab-2-early-1", "grid=g01",
                    "visited_at=2026-11-28T09:30:00+08:00", "kind=home")
        conflicts = 0
        for t in tabs:
            conflicts += summary(t.sync()[0])["conflict"]
        check(conflicts >= 1, "edits after the backup made conflicts (%d)" % conflicts)
        for t in tabs:
            summary(t.sync()[0])

        records = export(db)
        merged = changes_applied(db)
        log = conflict_log(db)
        replicas = {t.name: listing(t) for t in tabs}
        acked = {t.name: int(re.search(r"^server seq: (\d+)$", t.status(), re.M).group(1))
                 for t in tabs}
        check(len(log) >= 2 and all(n == 1 for _, _, n in merged),
              "before: %d conflict entries, every change merged once" % len(log))
    finally:
        check(stop_server(server) == 0, "the server stops cleanly")

    put_back(copy, db)
    copy_seq = dict(query(db, "SELECT id, max_seq FROM devices"))
    check(any(copy_seq[n] < acked[n] for n in names),
          "the copy is behind a tablet (copy %s, acked %s)" % (copy_seq, acked))
    server, url = start_server(db, *same_port(url))
    try:
        for t in tabs:
            out, err, _ = t.sync()
            s = summary(out)
            behind = acked[t.name] - copy_seq[t.name]
            if behind > 0:
                check("sent again" in err and s["pushed"] == behind and
                      s["applied"] + s["conflict"] == behind,
                      "%s sends the %d changes the copy lacks again: %s %r"
                      % (t.name, behind, s, err))
            else:
                check(s["pushed"] == 0 and "sent again" not in err,
                      "%s, all in the copy, sends nothing again: %s" % (t.name, s))
            check("the server was restored from a backup: replica rebuilt (" in err,
                  "%s: the pull was reset and the replica rebuilt: %r" % (t.name, err))
            check("lost" not in err, "%s: nothing is lost: %r" % (t.name, err))
        for t in tabs:
            summary(t.sync()[0])

        check(export(db) == records, "every record equals its state before the restore")
        after = changes_applied(db)
        check(after == merged,
              "every acked change is in the history once, as before the restore (%d)"
              % len(after))
        check(conflict_log(db) == log, "the conflict log is unchanged (%d entries)" % len(log))
        for t in tabs:
            check(listing(t) == replicas[t.name], "%s: its replica is as before" % t.name)
            check(re.search(r"^lost: 0$", t.status(), re.M) is not None,
                  "%s: status shows nothing lost" % t.name)
    finally:
        check(stop_server(server) == 0, "the server stops cleanly after the restore")


def pruned_case():
    db = os.path.join(st.TMP, "old.db")
    copy = os.path.join(st.TMP, "old-copy.db")
    tokens = prepare(db, ("tab-p",))
    prune = {"VISITSYNC_CLIENT_RETAIN_DAYS": "0"}
    server, url = start_server(db)
    try:
        t = Tablet("tab-p", url, tokens["tab-p"])
        for i in range(3):
            subject(t, "p-in-copy-%d" % i)
        summary(t.sync()[0])
        run("backup", "--db", db, copy)
        subject(t, "p-lost-1")
        subject(t, "p-lost-2")
        s = summary(t.sync()[0])
        check(s["applied"] == 2, "seqs 4 and 5 acked after the backup: %s" % s)
        check(re.search(r"^kept: 5 acked", t.status(), re.M) is not None,
              "status: the 5 acked changes are kept")
        # "30 days later": the next sync prunes every acked change.
        summary(sync_env(t, prune)[0])
        check(re.search(r"^kept: 0$", t.status(), re.M) is not None,
              "with 0 days kept, the sync pruned them")
        subject(t, "p-kept-1")
        subject(t, "p-kept-2")
        s = summary(sync_env(t, prune)[0])
        check(s["applied"] == 2, "seqs 6 and 7 acked, kept until the next sync: %s" % s)
        _, err, rc = sync_env(t, {"VISITSYNC_CLIENT_RETAIN_DAYS": "soon"}, ok=False)
        check(rc == 2 and "VISITSYNC_CLIENT_RETAIN_DAYS" in err,
              "a bad VISITSYNC_CLIENT_RETAIN_DAYS is a usage error: %r" % err)
    finally:
        check(stop_server(server) == 0, "the server stops cleanly")

    put_back(copy, db)
    server, url = start_server(db, *same_port(url))
    try:
        out, err, _ = t.sync()
        s = summary(out)
        warn = [l for l in err.splitlines() if "warning" in l]
        check(len(warn) == 1 and "seq 4..5" in warn[0] and "2 changes" in warn[0] and
              "paper" in warn[0],
              "the sync warns once, naming seqs 4..5 and what to do: %r" % err)
        check(s["applied"] == 2 and "sent again" in err,
              "the kept seqs 6 and 7 are sent again: %s" % s)
        ids = {l.split('"')[3] for l in run("export", "--db", db, "--collection",
                                            "subjects")[0].splitlines() if l}
        check({"p-kept-1", "p-kept-2", "p-in-copy-0"} <= ids and not ids & {"p-lost-1", "p-lost-2"},
              "the server has the kept changes back; the pruned ones are not there: %s"
              % sorted(ids))
        status = t.status()
        check(re.search(r"^lost: 2$", status, re.M) is not None and
              re.search(r"^  seq 4\.\.5: 2 changes .*again", status, re.M) is not None,
              "status lists the loss: %r" % status)
        out, err, _ = t.sync()
        check("warning" not in err, "the next sync does not warn again: %r" % err)
        check(re.search(r"^lost: 2$", t.status(), re.M) is not None,
              "the loss stays listed in status")
    finally:
        check(stop_server(server) == 0, "the server stops cleanly after the restore")


def main():
    if len(sys.argv) != 2:
        print("usage: restore_test.py PATH/TO/visitsync", file=sys.stderr)
        return 2
    st.VISITSYNC = os.path.abspath(sys.argv[1])
    st.TMP = tempfile.mkdtemp(prefix="vs-restore-test-")
    try:
        recent_backup_case()
        pruned_case()
    finally:
        if not st.FAILURES:
            shutil.rmtree(st.TMP, ignore_errors=True)
    if st.FAILURES:
        print("%d check(s) failed; files kept in %s" % (len(st.FAILURES), st.TMP))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
