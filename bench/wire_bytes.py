#!/usr/bin/python3
"""Bytes on the wire for one push of 50 realistic visits, with and without
permessage-deflate.

usage: bench/wire_bytes.py BUILD/cli/visitsync [PUSHES]

Builds the demo town in a temporary store, takes real visits of grid g01
(Chinese notes, assistance lists, dates) as the shape of new visits, starts
`visitsync serve` on loopback and sends PUSHES pushes of 50 through a
byte-counting TCP proxy, twice: once with the client's compression turned
off, once with the client offering permessage-deflate as browsers and
Python's websockets do. The proxy counts what really crossed the socket in
each direction (frames, headers, masks; the handshake is counted apart).

The server as built negotiates no compression (libwebsockets 4.1.6 crashes
with it; docs/operations.md), so the second run also goes uncompressed. What
compression would have saved is therefore computed beside it with zlib
exactly as permessage-deflate frames a message (raw deflate, default level,
a fresh window per message as with client_no_context_takeover, the 4-byte
tail stripped), plus the case where the client keeps its window between
messages. Every loop is bounded; loopback only.
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zlib

import websockets

N_VISITS = 50


class Counter:
    def __init__(self):
        self.up = 0    # client -> server
        self.down = 0  # server -> client


async def pipe(reader, writer, counter, attr):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            setattr(counter, attr, getattr(counter, attr) + len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def start_proxy(port, counter):
    async def handle(cr, cw):
        sr, sw = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(cr, sw, counter, "up"), pipe(sr, cw, counter, "down"))
    return await asyncio.start_server(handle, "127.0.0.1", 0)


def deflate_size(payloads, keep_window):
    """permessage-deflate payload bytes of each message (RFC 7692 §7.2.1)."""
    sizes, comp = [], zlib.compressobj(wbits=-15)
    for p in payloads:
        if not keep_window:
            comp = zlib.compressobj(wbits=-15)
        out = comp.compress(p) + comp.flush(zlib.Z_SYNC_FLUSH)
        sizes.append(len(out) - 4)  # the 00 00 ff ff tail is not sent
    return sizes


def frame_size(payload_len, masked):
    head = 2 if payload_len < 126 else 4 if payload_len < 65536 else 10
    return head + (4 if masked else 0) + payload_len


def make_pushes(templates, start_seq, n_pushes, now_ms):
    pushes, seq = [], start_seq
    for k in range(n_pushes):
        changes = []
        for i in range(N_VISITS):
            fields = dict(templates[(k * N_VISITS + i) % len(templates)])
            seq += 1
            changes.append({"seq": seq, "collection": "visits", "id": str(uuid.uuid4()),
                            "base": 0, "hlc": [now_ms + seq, 0], "fields": fields})
        pushes.append({"type": "push", "req": "w%d" % k, "changes": changes})
    return pushes


async def run_once(url, device, token, templates, n_pushes, compression):
    counter = Counter()
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    proxy = await start_proxy(int(host_port.rsplit(":", 1)[1]), counter)
    purl = "ws://127.0.0.1:%d/sync" % proxy.sockets[0].getsockname()[1]
    kw = {} if compression else {"compression": None}
    ws = await websockets.connect(purl, subprotocols=["visitsync.v1"], max_size=None,
                                  ping_interval=None, open_timeout=10, **kw)
    negotiated = [type(e).__name__ for e in ws.extensions]
    await ws.send(json.dumps({"type": "hello", "device": device, "token": token}))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome", welcome
    pushes = make_pushes(templates, welcome.get("seq", 0), n_pushes, 1_790_000_000_000)
    base_up, base_down = counter.up, counter.down
    for p in pushes:
        await ws.send(json.dumps(p, ensure_ascii=False, separators=(",", ":")))
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if m["type"] == "ack":
                break
        assert all(r["status"] == "applied" for r in m["results"]), m["results"][:2]
    up, down = counter.up - base_up, counter.down - base_down
    await ws.close()
    proxy.close()
    await proxy.wait_closed()
    return negotiated, up, down, pushes


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    n_pushes = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    tmp = tempfile.mkdtemp(prefix="vs-wire-")
    db = os.path.join(tmp, "v.db")
    srv = None
    try:
        subprocess.run([binary, "--db", db, "init"], check=True, capture_output=True)
        toks = subprocess.run([binary, "--db", db, "demo"], check=True, capture_output=True,
                              text=True).stdout.splitlines()
        devs = [line.split() for line in toks[1:] if line.split()[3:4] == ["g01"]]
        dev_a, tok_a, dev_b, tok_b = devs[0][4], devs[0][5], devs[1][4], devs[1][5]
        rows = subprocess.run([binary, "--db", db, "export", "--collection", "visits",
                               "--format", "jsonl"], check=True, capture_output=True,
                              text=True).stdout.splitlines()
        templates = [r["fields"] for r in map(json.loads, rows) if r["fields"]["grid"] == "g01"]
        srv = subprocess.Popen([binary, "--db", db, "serve", "--listen", "127.0.0.1:0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = "ws://%s/sync" % srv.stdout.readline().split()[-1]
        n_a, up_a, down_a, plain = asyncio.run(run_once(url, dev_a, tok_a, templates,
                                                        n_pushes, False))
        n_b, up_b, down_b, _ = asyncio.run(run_once(url, dev_b, tok_b, templates, n_pushes,
                                                    True))
        payloads = [json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode()
                    for p in plain]
        raw = sum(frame_size(len(p), True) for p in payloads) / n_pushes
        fresh = sum(frame_size(s, True) for s in deflate_size(payloads, False)) / n_pushes
        kept = sum(frame_size(s, True) for s in deflate_size(payloads, True)) / n_pushes
        print("pushes_of_%d_visits %d (grid g01 templates: %d)" % (N_VISITS, n_pushes,
                                                                  len(templates)))
        print("wire_up_per_push_no_compression_bytes %.0f" % (up_a / n_pushes))
        print("wire_down_per_ack_no_compression_bytes %.0f" % (down_a / n_pushes))
        print("wire_up_per_push_deflate_offered_bytes %.0f (negotiated: %s)" %
              (up_b / n_pushes, ",".join(n_b) or "none"))
        print("wire_down_per_ack_deflate_offered_bytes %.0f" % (down_b / n_pushes))
        print("frame_per_push_uncompressed_bytes %.0f" % raw)
        print("frame_per_push_deflate_fresh_window_bytes %.0f (%.2f x smaller)" %
              (fresh, raw / fresh))
        print("frame_per_push_deflate_kept_window_bytes %.0f (%.2f x smaller)" %
              (kept, raw / kept))
    finally:
        if srv is not None:
            srv.terminate()
            srv.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
