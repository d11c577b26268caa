"""A test tablet for the dashboard's tests: one WebSocket session of §2
(docs/protocol.md) that stays connected while the test needs it online.

    python3 tablet.py URL DEVICE TOKEN

prints {"type":"welcome",…} once signed in, then reads one JSON command a line
on stdin and prints one JSON line per command:
    {"op":"push","changes":[…]}  → the ack
    {"op":"pull"}                → {"changes":[every change since 0]}
End of stdin closes the session. Every wait is bounded (WAIT seconds).
"""
import asyncio
import json
import sys

import websockets

WAIT = 10.0


async def recv_type(ws, mtype):
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if m["type"] in (mtype, "error"):
            return m


async def main(url, device, token):
    async with websockets.connect(url, subprotocols=["visitsync.v1"], open_timeout=WAIT,
                                  ping_interval=None, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "device": device, "token": token,
                                  "app": "webtest/1.0"}))
        print(json.dumps(await recv_type(ws, "welcome")), flush=True)
        loop = asyncio.get_running_loop()
        n = 0
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            cmd = json.loads(line)
            n += 1
            if cmd["op"] == "push":
                await ws.send(json.dumps({"type": "push", "req": "r%d" % n, "changes": cmd["changes"]}))
                print(json.dumps(await recv_type(ws, "ack")), flush=True)
            elif cmd["op"] == "pull":
                items, since = [], "0"
                for _ in range(100):
                    await ws.send(json.dumps({"type": "pull", "req": "p%d" % n, "since": since}))
                    m = await recv_type(ws, "changes")
                    if m["type"] == "error":
                        print(json.dumps(m), flush=True)
                        break
                    items += m["changes"]
                    since = m["cursor"]
                    if not m["more"]:
                        print(json.dumps({"changes": items, "cursor": since}), flush=True)
                        break


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
