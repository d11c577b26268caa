// A TCP proxy on 127.0.0.1 (port 0) between a client and `visitsync serve`
// that can break the link the way a township's mobile network does. It
// reads the WebSocket frames passing through (RFC 6455), so a test can lose
// one message, such as the ack of a push, without breaking the stream.
//
//   import { CutProxy } from './lib/cutproxy.mjs';
//   const proxy = await CutProxy.start(vs.port);   // → proxy.port, proxy.ws 'ws://127.0.0.1:P/sync', proxy.http
//   proxy.cut();                      // drop every open link now (both sides see a reset)
//   proxy.refuse = true;              // new connections are closed at once (server "unreachable")
//   proxy.cutAfterBytes(500_000);     // drop the link once 500 000 more bytes went client → server
//   proxy.onServerMessage = (text) => 'pass' | 'drop' | 'cut';   // each server → client text message
//   proxy.onClientMessage = (msg) => 'pass' | 'drop' | 'cut' | 'cut-after';  // msg: string, or Buffer if binary
//        // 'cut-after' forwards the message, then drops the link (the server got it, the client
//        // never hears the answer); 'cut' drops the link without forwarding.
//   proxy.target = otherPort;         // later connections go there (e.g. a restarted server)
//   proxy.stats                       // {connections, up, down, dropped}: bytes client → server, server → client
//   await proxy.close();
//
// The proxy removes Sec-WebSocket-Extensions from the client's handshake, so
// no permessage-deflate context spans frames and a dropped frame leaves the
// rest readable. Fragmented messages and control frames always pass.
import net from 'node:net';

export class CutProxy {
  static start(targetPort) {
    const p = new CutProxy(targetPort);
    return new Promise((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => {
        p.port = p.server.address().port;
        p.http = `http://127.0.0.1:${p.port}`;
        p.ws = `ws://127.0.0.1:${p.port}/sync`;
        resolve(p);
      });
    });
  }

  constructor(targetPort) {
    this.target = targetPort;
    this.refuse = false;
    this.onServerMessage = null;
    this.onClientMessage = null;
    this.stats = { connections: 0, up: 0, down: 0, dropped: 0 };
    this.links = new Set();
    this.upBudget = Infinity;
    this.server = net.createServer((client) => this.link(client));
  }

  cutAfterBytes(n) { this.upBudget = n; }

  cut() { for (const l of [...this.links]) l.close(); }

  close() {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  link(client) {
    if (this.refuse) { client.destroy(); return; }
    this.stats.connections++;
    const upstream = net.connect(this.target, '127.0.0.1');
    const l = {
      closed: false,
      close: () => {
        if (l.closed) return;
        l.closed = true;
        this.links.delete(l);
        client.resetAndDestroy?.() ?? client.destroy();
        upstream.destroy();
      },
    };
    this.links.add(l);
    client.on('error', l.close);
    upstream.on('error', l.close);
    client.on('close', l.close);
    upstream.on('close', l.close);
    const up = new Framer(true, (frame, text) => {
      const verdict = this.onClientMessage && text !== undefined ? this.onClientMessage(text) : 'pass';
      if (verdict === 'drop') { this.stats.dropped++; return; }
      if (verdict === 'cut') { l.close(); return; }
      this.send(upstream, frame, l, true);
      if (verdict === 'cut-after') setImmediate(l.close);
    });
    const down = new Framer(false, (frame, text) => {
      const verdict = this.onServerMessage && typeof text === 'string' ? this.onServerMessage(text) : 'pass';
      if (verdict === 'drop') { this.stats.dropped++; return; }
      if (verdict === 'cut') { l.close(); return; }
      this.send(client, frame, l, false);
    });
    let handshake = Buffer.alloc(0);
    client.on('data', (b) => {
      if (l.closed) return;
      if (handshake) {
        // Until the end of the HTTP request: strip the extension offer.
        handshake = Buffer.concat([handshake, b]);
        const end = handshake.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = handshake.subarray(0, end + 4).toString('latin1')
          .replace(/\r\nsec-websocket-extensions:[^\r]*/ig, '');
        const rest = handshake.subarray(end + 4);
        handshake = null;
        this.send(upstream, Buffer.from(head, 'latin1'), l, true);
        if (rest.length) up.push(rest);
        return;
      }
      up.push(b);
    });
    let httpHead = true;
    upstream.on('data', (b) => {
      if (l.closed) return;
      if (httpHead) {
        // The server's 101 answer passes as is; frames follow it. A plain
        // HTTP answer (not an upgrade) also passes as is.
        const s = b.toString('latin1');
        const end = s.indexOf('\r\n\r\n');
        if (!s.startsWith('HTTP/1.1 101')) { this.send(client, b, l, false); return; }
        if (end < 0) { this.send(client, b, l, false); return; }
        httpHead = false;
        this.send(client, b.subarray(0, end + 4), l, false);
        if (b.length > end + 4) down.push(b.subarray(end + 4));
        return;
      }
      down.push(b);
    });
  }

  send(sock, buf, l, isUp) {
    if (l.closed) return;
    if (isUp) {
      if (buf.length > this.upBudget) {
        sock.write(buf.subarray(0, this.upBudget));
        this.stats.up += this.upBudget;
        this.upBudget = Infinity;
        // Give the bytes a moment to leave, then break the link.
        setTimeout(l.close, 20);
        l.closing = true;
        return;
      }
      if (this.upBudget !== Infinity) this.upBudget -= buf.length;
      this.stats.up += buf.length;
    } else {
      this.stats.down += buf.length;
    }
    if (!l.closing) sock.write(buf);
  }
}

// Splits a byte stream into whole WebSocket frames and calls
// onFrame(rawFrame, payload) for each: payload is a string for an unfragmented
// text frame, a Buffer for an unfragmented binary frame, undefined otherwise.
class Framer {
  constructor(masked, onFrame) {
    this.masked = masked;
    this.onFrame = onFrame;
    this.buf = Buffer.alloc(0);
  }

  push(b) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b;
    for (;;) {
      const f = this.buf;
      if (f.length < 2) return;
      let len = f[1] & 0x7f, at = 2;
      if (len === 126) { if (f.length < 4) return; len = f.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (f.length < 10) return; len = Number(f.readBigUInt64BE(2)); at = 10; }
      const hasMask = (f[1] & 0x80) !== 0;
      const mask = hasMask ? f.subarray(at, at + 4) : null;
      if (hasMask) at += 4;
      if (f.length < at + len) return;
      const frame = f.subarray(0, at + len);
      this.buf = f.subarray(at + len);
      const fin = (f[0] & 0x80) !== 0, op = f[0] & 0x0f;
      let payload;
      if (fin && (op === 1 || op === 2)) {
        const data = Buffer.from(f.subarray(at, at + len));
        if (mask) for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
        payload = op === 1 ? data.toString('utf8') : data;
      }
      this.onFrame(frame, payload);
    }
  }
}
