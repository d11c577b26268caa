#!/usr/bin/env python3
"""A scripted stand-in for `visitsync serve`, to test the client library's
edge cases that the real server cannot be made to produce on demand:
fragmented replies, pokes between replies, a refused token with close 4401,
an oversized message, a server that never answers, a replaced connection.

Usage: fake_server.py PROGRAM [ARGS...]
Starts the server on 127.0.0.1:0, runs PROGRAM with VSC_TEST_URL set to
ws://127.0.0.1:PORT/sync, and exits with PROGRAM's status. Python 3 stdlib
only; one thread per connection.

What a device name in hello selects:
  token "bad"          -> error unauthorized, then close 4401
  device "tab-big"     -> after welcome, a 4 KiB message
  device "tab-slow"    -> pushes are never answered
  device "tab-replaced"-> after welcome, close 4409
  anything else        -> a small in-memory server: push -> ack (seq at or
                          below the highest seen: duplicate; a field
                          "kind":"bad": rejected invalid_field), a poke
                          before each ack, pull pages of 2 records.
A pull whose since ends in "-gone" (a cursor of a store since restored from
a backup) is answered "reset":true with the first page from the beginning,
as the real server does (§2.4); only that page says reset.
Every reply is sent as three fragments (continuation frames).
"""
import base64
import hashlib
import json
import os
import socket
import socketserver
import struct
import subprocess
import sys
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STATE_LOCK = threading.Lock()
MAX_SEQ = {}  # device -> highest seq "committed"
RECORDS = []  # (collection, id, rev, fields) in change order: the change feed


class Closed(Exception):
    pass


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return buf


def read_frame(sock):
    b0, b1 = read_exact(sock, 2)
    fin, op, masked, n = b0 & 0x80, b0 & 0x0F, b1 & 0x80, b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    mask = read_exact(sock, 4) if masked else b"\0\0\0\0"
    data = bytearray(read_exact(sock, n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return bool(fin), op, bytes(data)


def send_frame(sock, op, payload, fin=True):
    head = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    sock.sendall(head + payload)


def send_text(sock, obj, pieces=3):
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    step = max(1, len(data) // pieces + 1)
    parts = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
    for i, part in enumerate(parts):
        send_frame(sock, 1 if i == 0 else 0, part, fin=(i == len(parts) - 1))


def send_close(sock, code, reason=b""):
    send_frame(sock, 8, struct.pack("!H", code) + reason)


def read_message(sock):
    parts = []
    while True:
        fin, op, data = read_frame(sock)
        if op == 8:
            try:
                send_frame(sock, 8, data[:2])
            except OSError:
                pass
            raise Closed()
        if op == 9:
            send_frame(sock, 10, data)
            continue
        if op == 10:
            continue
        parts.append(data)
        if fin:
            return json.loads(b"".join(parts).decode())


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        accept = base64.b64encode(hashlib.sha1(
            (headers["sec-websocket-key"] + GUID).encode()).digest()).decode()
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                      "Sec-WebSocket-Protocol: visitsync.v1\r\n\r\n" % accept).encode())
        try:
            self.session(sock)
        except (Closed, OSError):
            pass

    def session(self, sock):
        hello = read_message(sock)
        if hello.get("type") != "hello":
            send_text(sock, {"type": "error", "code": "not_authenticated", "message": "hello first"})
            send_close(sock, 4400)
            return
        device = hello.get("device", "")
        if hello.get("token") == "bad":
            send_text(sock, {"type": "error", "code": "unauthorized",
                             "message": "unknown or revoked token"})
            send_close(sock, 4401)
            read_message(sock)
            return
        send_text(sock, {"type": "welcome", "user": "c01", "role": "cadre", "grids": ["g01"],
                         "time": 1764410000000, "max_batch": 3, "max_message": 4096,
                         "cursor": str(len(RECORDS)), "protocol": 1, "schema_version": "abc"})
        if device == "tab-big":
            send_text(sock, {"type": "poke", "cursor": "x" * 4096}, pieces=5)
        if device == "tab-replaced":
            send_close(sock, 4409, b"replaced")
            read_message(sock)
            return
        while True:
            msg = read_message(sock)
            kind, req = msg.get("type"), msg.get("req")
            if kind == "push":
                if device == "tab-slow":
                    continue
                self.push(sock, device, msg)
            elif kind == "pull":
                self.pull(sock, msg)
            elif kind == "schema":
                send_text(sock, {"type": "schema", "req": req, "version": "abc",
                                 "collections": {"visits": {"scope": "grid", "fields": {
                                     "grid": {"type": "id", "required": True}}}}})
            else:
                send_text(sock, {"type": "error", "req": req, "code": "bad_message",
                                 "message": "unknown type"})

    def push(self, sock, device, msg):
        results = []
        with STATE_LOCK:
            for c in msg["changes"]:
                seq = c["seq"]
                if seq <= MAX_SEQ.get(device, 0):
                    results.append({"seq": seq, "id": c["id"], "status": "duplicate", "rev": 1})
                    continue
                MAX_SEQ[device] = seq
                if c["fields"].get("kind") == "bad":
                    results.append({"seq": seq, "id": c["id"], "status": "rejected", "rev": 0,
                                    "error": {"code": "invalid_field", "field": "kind",
                                              "message": "kind must be one of home, phone"}})
                    continue
                RECORDS.append((c["collection"], c["id"], 1, c["fields"]))
                results.append({"seq": seq, "id": c["id"], "status": "applied", "rev": 1})
            cursor = str(len(RECORDS))
        send_text(sock, {"type": "poke", "cursor": cursor})
        send_text(sock, {"type": "ack", "req": msg.get("req"), "cursor": cursor,
                         "results": results})

    def pull(self, sock, msg):
        since_text = msg.get("since") or "0"
        reset = since_text.endswith("-gone")
        since = 0 if reset else int(since_text)
        with STATE_LOCK:
            page = RECORDS[since:since + 2]
            more = since + 2 < len(RECORDS)
        items = []
        for coll, rid, rev, fields in page:
            item = {"collection": coll, "id": rid, "rev": rev,
                    "fields": {k: v for k, v in fields.items() if k != "_deleted"}}
            if fields.get("_deleted"):
                item["deleted"] = True
            items.append(item)
        reply = {"type": "changes", "req": msg.get("req"), "cursor": str(since + len(page)),
                 "more": more, "changes": items}
        if reset:
            reply["reset"] = True
        send_text(sock, reply)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = dict(os.environ, VSC_TEST_URL="ws://127.0.0.1:%d/sync" % srv.server_address[1])
    try:
        return subprocess.call(sys.argv[1:], env=env, timeout=120)
    finally:
        srv.shutdown()


if __name__ == "__main__":
    sys.exit(main())
