#!/usr/bin/env python3
"""api_latency.py — latency of one supervisors' API endpoint while ingest runs.

Asks GET PATH (with the supervisor's bearer token) COUNT times, one request at
a time on a fresh loopback connection, GAP ms apart, and prints the latency
from sending the request to the last byte of the body:

    NAME_samples: 200 of 200 (errors 0)
    NAME_bytes: 3456789
    NAME_p50_ms: 12.3
    NAME_p99_ms: 45.6
    NAME_max_ms: 50.1
    NAME_ingest_records_per_s: 4600 (server records 51200 -> 143200 in 20.0 s)

bench/run.sh starts the server and a paced loadgen, then this script. Before
sampling it waits until the server's record count grows (ingest has begun);
the ingest rate is read from /api/status before the first and after the last
sample. With --while-pid, the load generator must still be running after the
last sample, or the figure would not be one "while ingest runs": exit 1.

Every response must be 200 with JSON of the endpoint's shape (the first and
the last are parsed in full; --expect-devices checks /api/status's device
count). Any error makes the exit status 1. Bounded by COUNT and by
--max-seconds of sampling: a slow server yields fewer samples (the samples
line says how many), not an error.
"""
import argparse
import http.client
import json
import math
import os
import sys
import time


def get(port, token, path, timeout):
    """One GET on a new connection; returns (status, body bytes, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": "Bearer " + token})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, time.perf_counter() - t0
    finally:
        conn.close()


def server_records(port, token, timeout, tries=3):
    """The store's record count from /api/status (server.records); a failed
    read is tried again (the sampling, not this, counts failures)."""
    for attempt in range(tries):
        try:
            status, body, _ = get(port, token, "/api/status", timeout)
            if status != 200:
                raise RuntimeError("/api/status answered %d: %.200s" % (status, body))
            return int(json.loads(body)["server"]["records"])
        except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError):
            if attempt == tries - 1:
                raise


def check_shape(path, doc, expect_devices):
    """Returns a sentence on what is wrong with the body, or None."""
    if path.startswith("/api/status"):
        devices = doc.get("devices")
        if not isinstance(devices, list) or "server" not in doc:
            return "no server or devices in /api/status"
        if expect_devices is not None and len(devices) != expect_devices:
            return "/api/status lists %d devices, %d expected" % (len(devices), expect_devices)
    elif path.startswith("/api/report"):
        for key in ("subjects", "placement", "coverage", "assistance", "pairing"):
            if key not in doc:
                return "no %s in /api/report" % key
        if len(doc.get("visits_per_week", [])) != 12:
            return "/api/report's visits_per_week does not have 12 weeks"
        if doc["subjects"].get("total", 0) <= 0:
            return "/api/report counts no subjects: is this the demo town?"
    return None


def pct(sorted_ms, p):
    """Nearest-rank percentile of a sorted list."""
    return sorted_ms[max(0, math.ceil(p / 100.0 * len(sorted_ms)) - 1)]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True, help="a supervisor's API token")
    ap.add_argument("--path", required=True, help="/api/status or /api/report")
    ap.add_argument("--name", required=True, help="prefix of the printed lines")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--gap-ms", type=float, default=50.0, help="pause between two requests")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    ap.add_argument("--max-seconds", type=float, default=25.0, help="stop sampling after this")
    ap.add_argument("--expect-devices", type=int)
    ap.add_argument("--while-pid", type=int, help="the load generator, which must outlive the sampling")
    a = ap.parse_args()
    if a.count < 1 or a.count > 100000:
        ap.error("--count must be 1..100000")

    name = a.name
    errors = 0
    try:
        # Ingest has begun when the record count grows; wait at most 15 s.
        r0 = server_records(a.port, a.token, a.timeout)
        t_wait = time.monotonic()
        while True:
            time.sleep(0.2)
            r1 = server_records(a.port, a.token, a.timeout)
            if r1 > r0:
                break
            if time.monotonic() - t_wait > 15:
                print("%s: the server's record count stayed at %d for 15 s: no ingest is running"
                      % (name, r1), file=sys.stderr)
                return 1
        t_begin, rec_begin = time.monotonic(), r1
    except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError) as e:
        print("%s: cannot read /api/status on port %d: %r" % (name, a.port, e), file=sys.stderr)
        return 1

    lat_ms, size, last_body = [], 0, None
    deadline = time.monotonic() + a.max_seconds
    for i in range(a.count):
        if time.monotonic() > deadline:
            print("%s: stopped after %d of %d requests (--max-seconds %g)"
                  % (name, i, a.count, a.max_seconds), file=sys.stderr)
            break
        try:
            status, body, secs = get(a.port, a.token, a.path, a.timeout)
        except (OSError, http.client.HTTPException) as e:
            # IncompleteRead: the server closed before Content-Length bytes.
            print("%s: request %d failed: %r" % (name, i + 1, e), file=sys.stderr)
            errors += 1
            continue
        if status != 200:
            print("%s: request %d answered %d: %.200s" % (name, i + 1, status, body),
                  file=sys.stderr)
            errors += 1
            continue
        lat_ms.append(secs * 1000.0)
        size = len(body)
        if last_body is None:
            why = check_shape(a.path, json.loads(body), a.expect_devices)
            if why:
                print("%s: %s" % (name, why), file=sys.stderr)
                return 1
        last_body = body
        time.sleep(a.gap_ms / 1000.0)
    if last_body is not None:
        why = check_shape(a.path, json.loads(last_body), a.expect_devices)
        if why:
            print("%s: %s (last response)" % (name, why), file=sys.stderr)
            errors += 1

    try:
        rec_end = server_records(a.port, a.token, a.timeout)
    except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError) as e:
        print("%s: cannot read /api/status after sampling: %r" % (name, e), file=sys.stderr)
        return 1
    t_end = time.monotonic()
    if a.while_pid is not None and not alive(a.while_pid):
        print("%s: the load generator (pid %d) ended before the last sample: the figure is not "
              "one under ingest; give it more visits" % (name, a.while_pid), file=sys.stderr)
        errors += 1

    if not lat_ms:
        print("%s: no request succeeded" % name, file=sys.stderr)
        return 1
    lat_ms.sort()
    print("%s_samples: %d of %d (errors %d)" % (name, len(lat_ms), a.count, errors))
    print("%s_bytes: %d" % (name, size))
    print("%s_p50_ms: %.1f" % (name, pct(lat_ms, 50)))
    print("%s_p99_ms: %.1f" % (name, pct(lat_ms, 99)))
    print("%s_max_ms: %.1f" % (name, lat_ms[-1]))
    secs = t_end - t_begin
    print("%s_ingest_records_per_s: %.0f (server records %d -> %d in %.1f s)"
          % (name, (rec_end - rec_begin) / secs if secs > 0 else 0.0, rec_begin, rec_end, secs))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
