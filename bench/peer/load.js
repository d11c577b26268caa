#!/usr/bin/env node
// load.js — the loadgen workload against a CouchDB HTTP API (pouchdb-server):
// D concurrent clients, each posting its V docs with _bulk_docs in batches of
// B with up to K requests in flight (keep-alive agents), then each client
// reading its grid from _changes (a filter function, include_docs) in pages of
// 1000 until a short page. The docs are the ones loadgen --emit-docs wrote,
// so both servers ingest the same records. Loopback only; bounded by
// --timeout; prints "name: value" lines and its own CPU, so a reader can
// check that this client was not the bottleneck.
'use strict';
const http = require('http');
const fs = require('fs');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : def;
}
const port = parseInt(arg('port', '0'), 10);
const docsPath = arg('docs', '');
const D = parseInt(arg('devices', '200'), 10);
const V = parseInt(arg('visits', '500'), 10);
const B = parseInt(arg('batch', '50'), 10);
const K = parseInt(arg('inflight', '4'), 10);
const timeoutS = parseInt(arg('timeout', '120'), 10);
const dbName = arg('db', 'visits');
const noPull = process.argv.includes('--no-pull');
const pullers = parseInt(arg('pullers', '12'), 10);
if (!port || !docsPath) {
  console.error('usage: load.js --port P --docs FILE [--devices 200] [--visits 500] [--batch 50] ' +
                '[--inflight 4] [--timeout 120] [--db visits] [--no-pull] [--pullers 12]');
  process.exit(2);
}
const deadline = Date.now() + timeoutS * 1000;

function request(agent, method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const req = http.request({host: '127.0.0.1', port, method, path, agent,
      headers: Object.assign({'Accept': 'application/json'},
        data ? {'Content-Type': 'application/json', 'Content-Length': data.length} : {})},
    (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode >= 300) return reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
        try { resolve(JSON.parse(text)); } catch (e) { reject(new Error(`${method} ${path}: not JSON`)); }
      });
    });
    req.on('error', reject);
    req.setTimeout(Math.max(1000, deadline - Date.now()), () => req.destroy(new Error('timeout')));
    if (data) req.write(data);
    req.end();
  });
}

async function main() {
  const lines = fs.readFileSync(docsPath, 'utf8').split('\n').filter((l) => l.length);
  if (lines.length < D * V) throw new Error(`${docsPath} holds ${lines.length} docs, ${D * V} needed`);
  const admin = new http.Agent({keepAlive: true, maxSockets: 1});
  await request(admin, 'PUT', '/' + dbName);
  // express-pouchdb has no filter=_selector: a CouchDB filter function
  // selects a grid's docs, as a CouchDB deployment would do it.
  await request(admin, 'PUT', `/${dbName}/_design/bench`, {filters: {
    grid: 'function (doc, req) { return doc.grid === req.query.grid; }'}});

  const lat = [];
  let okDocs = 0, errDocs = 0, firstErr = null;
  const devices = [];
  for (let d = 0; d < D; d++) {
    const docs = lines.slice(d * V, (d + 1) * V).map((l) => JSON.parse(l));
    devices.push({agent: new http.Agent({keepAlive: true, maxSockets: K}), docs,
      grid: docs[0].grid, pulled: 0});
  }
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let tLast = t0;
  async function pushDevice(dev) {
    let next = 0;
    async function lane() {
      while (next < dev.docs.length && Date.now() < deadline) {
        const batch = dev.docs.slice(next, next + B);
        next += B;
        const s = process.hrtime.bigint();
        const res = await request(dev.agent, 'POST', `/${dbName}/_bulk_docs`, {docs: batch});
        const e = process.hrtime.bigint();
        lat.push(Number(e - s) / 1e6);
        tLast = e;
        for (const r of res) {
          if (r.ok) okDocs++; else { errDocs++; if (!firstErr) firstErr = r; }
        }
      }
    }
    const lanes = [];
    for (let k = 0; k < K; k++) lanes.push(lane());
    await Promise.all(lanes);
  }
  await Promise.all(devices.map(pushDevice));
  const cpu1 = process.cpuUsage(cpu0);
  const ts = Number(tLast - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const pct = (p) => lat.length ? lat[Math.round(p * (lat.length - 1))] : 0;
  console.log(`peer_docs_ok: ${okDocs}\npeer_docs_failed: ${errDocs}`);
  if (firstErr) console.log(`peer_first_error: ${JSON.stringify(firstErr)}`);
  console.log(`peer_ingest_seconds: ${ts.toFixed(3)}`);
  console.log(`peer_records_per_s: ${ts > 0 ? Math.round(okDocs / ts) : 0}`);
  console.log(`peer_bulk_p50_ms: ${pct(0.5).toFixed(2)}\npeer_bulk_p99_ms: ${pct(0.99).toFixed(2)}`);
  console.log(`peer_client_cpu_s: ${((cpu1.user + cpu1.system) / 1e6).toFixed(2)}`);
  console.log(`peer_timed_out: ${Date.now() >= deadline ? 'yes' : 'no'}`);
  if (noPull) return;

  // Pull: each client reads the docs of its grid from the changes feed.
  const p0 = process.hrtime.bigint();
  const cpu2 = process.cpuUsage();
  let pulled = 0;
  async function pullDevice(dev) {
    // A fresh agent: sockets idle past the server's keep-alive timeout
    // (5 s in node) are closed by the server and would fail on reuse.
    dev.agent.destroy();
    dev.agent = new http.Agent({keepAlive: true, maxSockets: 1});
    let since = 0;
    while (Date.now() < deadline) {
      const res = await request(dev.agent, 'GET',
        `/${dbName}/_changes?filter=bench/grid&grid=${dev.grid}&include_docs=true&limit=1000&since=${since}`);
      const n = res.results.filter((r) => r.doc && r.doc.grid === dev.grid).length;
      dev.pulled += n;
      pulled += n;
      since = res.last_seq;
      if (res.results.length < 1000) break;
    }
  }
  // The first `pullers` clients pull (12: one per grid); a filter function
  // scans the whole feed for each, so all 200 would take minutes.
  await Promise.all(devices.slice(0, pullers).map(pullDevice));
  const tp = Number(process.hrtime.bigint() - p0) / 1e9;
  const cpu3 = process.cpuUsage(cpu2);
  console.log(`peer_pullers: ${Math.min(pullers, D)}`);
  console.log(`peer_pull_records: ${pulled}\npeer_pull_seconds: ${tp.toFixed(3)}`);
  console.log(`peer_pull_records_per_s: ${tp > 0 ? Math.round(pulled / tp) : 0}`);
  console.log(`peer_pull_client_cpu_s: ${((cpu3.user + cpu3.system) / 1e6).toFixed(2)}`);
  console.log(`peer_timed_out: ${Date.now() >= deadline ? 'yes' : 'no'}`);
}

const guard = setTimeout(() => { console.error('load.js: timeout'); process.exit(3); },
  (timeoutS + 10) * 1000);
main().then(() => { clearTimeout(guard); process.exit(0); },
  (e) => { console.error('load.js: ' + e.message); process.exit(1); });
