// The field app's data layer (web/field/field.js and the modules behind it)
// in Node against the real `visitsync serve`: the same store.js over
// fake-indexeddb, Node's WebSocket (--experimental-websocket), links broken
// by lib/cutproxy.mjs. Every wait is bounded.
//
//   VISITSYNC_BIN=path/to/visitsync node --experimental-websocket --test field_sync.test.mjs
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import 'fake-indexeddb/auto';
import { VisitSync } from './lib/server.mjs';
import { CutProxy } from './lib/cutproxy.mjs';
import { openField } from '../../web/field/field.js';

const WAIT = 20_000;
let vs, proxy;
const fields = [];
let dbs = 0;

async function field(device, via = proxy) {
  const d = vs.demo.devices[device];
  const f = await openField({ wsUrl: via.ws, httpBase: via.http, indexedDB, WebSocket, dbName: `field-${++dbs}` });
  fields.push(f);
  await f.signIn({ device, token: d.token });
  return f;
}

// Resolves once cond() holds, polling every 50 ms, or fails after ms.
async function until(what, cond, ms = WAIT) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`not within ${ms / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const synced = (f) => until('synced', () => f.status().pending === 0 && !f.status().syncing && f.status().lastSyncOk);

function visit(f, subject, n) {
  return f.save('visits', null, { subject, grid: 'g01', visited_at: `2026-11-28T09:${String(n % 60).padStart(2, '0')}:00+08:00`,
    kind: 'home', notes: `field sync test ${n}` });
}

before(async () => {
  vs = await VisitSync.create({ demo: true });
  await vs.start();
  proxy = await CutProxy.start(vs.port);
});

// Each test's tablets stop syncing when it ends, so none adds load to the next.
afterEach(async () => {
  for (const f of fields.splice(0)) await f.close().catch(() => {});
  proxy.onServerMessage = proxy.onClientMessage = null;
});

after(async () => {
  if (proxy) await proxy.close();
  if (vs) await vs.close();
});

test('a first sync pulls the grid page by page and fetches the schema', async () => {
  const f = await field('tab-c001');
  await synced(f);
  assert.equal(f.status().connection, 'online');
  assert.deepEqual(f.me, { user: 'c001', role: 'cadre', grids: ['g01'] });
  assert.ok(f.schema.visits.fields.visited_at, 'the schema arrived');
  const subjects = await f.subjects();
  const expected = vs.exportRecords('subjects').filter((r) => r.fields.grid === 'g01' && !r.deleted);
  assert.equal(subjects.length, expected.length);
  assert.ok(subjects.some((s) => s.lastVisit), 'visits were pulled too');
});

test('600 visits offline go out in batches of max_batch, each acked once', async () => {
  const f = await field('tab-c013');
  await synced(f);
  await f.close();
  const g = await openField({ wsUrl: proxy.ws, indexedDB, WebSocket, dbName: `field-${dbs}` });
  fields.push(g);
  const s = (await g.subjects())[0].id;
  for (let i = 0; i < 600; i++) await visit(g, s, i);
  await until('600 pending', () => g.status().pending === 600);
  let pushes = 0;
  proxy.onClientMessage = (m) => { if (typeof m === 'string' && m.includes('"type":"push"')) pushes++; return 'pass'; };
  assert.equal(await g.syncNow(), true, g.status().lastError);
  proxy.onClientMessage = null;
  await until('none pending', () => g.status().pending === 0);
  assert.equal(pushes, 2, 'two pushes of at most 500');
  const mine = vs.exportRecords('visits').filter((r) => /^field sync test /.test(r.fields.notes || '') && r.fields.subject === s);
  assert.equal(mine.length, 600);
  assert.equal((await g.visitsOf(s)).filter((v) => /^field sync test/.test(v.fields.notes)).length, 600);
});

test('lost acks: the engine re-sends, the server says duplicate, each record is stored once', async () => {
  const f = await field('tab-c025');
  await synced(f);
  const s = (await f.subjects())[1].id;
  const before = vs.exportRecords('visits').length;
  // The first ack is lost on the way back, the link drops with it.
  let lost = 0, dups = 0;
  proxy.onServerMessage = (m) => {
    if (m.includes('"type":"ack"')) {
      if (lost++ === 0) return 'cut';
      dups += (m.match(/"duplicate"/g) || []).length;
    }
    return 'pass';
  };
  const ids = [];
  for (let i = 0; i < 20; i++) ids.push((await visit(f, s, i)).id);
  await synced(f);
  proxy.onServerMessage = null;
  assert.ok(lost >= 2, 'the ack was dropped and another came');
  assert.ok(dups > 0, 'the re-sent changes were answered duplicate');
  const after = vs.exportRecords('visits');
  assert.equal(after.length, before + 20);
  for (const id of ids) assert.equal(after.filter((r) => r.id === id).length, 1);
});

test('two tablets edit the same field: one conflict logged, both converge after a pull', async () => {
  const a = await field('tab-c037');
  const b = await field('tab-c049');
  await synced(a);
  await synced(b);
  a.engine.auto = false; b.engine.auto = false;
  const s = (await a.subjects())[2].id;
  await a.save('subjects', s, { employer: '甲厂' });
  await b.save('subjects', s, { employer: '乙厂' });
  assert.equal(await a.syncNow(), true);
  assert.equal(await b.syncNow(), true);
  assert.equal(await a.syncNow(), true);
  const sup = vs.demo.users.sup01.token;
  const open = await (await vs.api('/api/conflicts?status=open', sup)).json();
  const list = Array.isArray(open) ? open : open.conflicts;
  assert.equal(list.filter((c) => c.id === s || c.record === s || c.record_id === s).length, 1, JSON.stringify(open).slice(0, 400));
  assert.equal(b.status().conflicts.length, 1);
  assert.deepEqual(b.status().conflicts[0].fields, ['employer']);
  const va = (await a.record('subjects', s)).fields.employer;
  const vb = (await b.record('subjects', s)).fields.employer;
  assert.equal(va, vb);
  assert.equal(vs.exportRecords('subjects').find((r) => r.id === s).fields.employer, va);
});

test('the validator gives the server\'s code and message; a rejected change is listed', async () => {
  const f = await field('tab-c061');
  await synced(f);
  f.engine.auto = false;
  const s = (await f.subjects())[0].id;
  const cases = [
    ['subjects', s, { income: -5 }],
    ['subjects', s, { employment: 'rich' }],
    ['subjects', s, { shoe_size: 42 }],
    ['visits', 'v-bad-1', { subject: s, grid: 'g01', visited_at: '2026-11-28 09:30' }],
    ['visits', 'v-bad-2', { subject: s, grid: 'g01' }],
    ['visits', 'v-bad-3', { subject: s, grid: 'g02', visited_at: '2026-11-28T09:30:00+08:00' }],
    ['visits', 'v-bad-4', { subject: s, grid: 'g01', visited_at: '2026-11-28T09:30:00+08:00', assistance: ['rehab', 'magic'] }],
    ['visits', 'v bad', { subject: s }],
  ];
  for (const [collection, id, change] of cases) {
    const local = await f.save(collection, id, change).then(() => null, (e) => e);
    assert.ok(local && local.name === 'FieldError', `${JSON.stringify(change)} passed the local check`);
    // The same change straight onto the outbox, as an older app would have sent it.
    await f.store.queue(collection, id, change, Date.now());
  }
  assert.equal(await f.syncNow(), true, f.status().lastError);
  const rejected = f.status().rejected;
  assert.equal(rejected.length, cases.length);
  for (let i = 0; i < cases.length; i++) {
    const [collection, id, change] = cases[i];
    const local = await f.save(collection, id, change).catch((e) => e);
    const r = f.status().rejected.find((x) => x.id === id && JSON.stringify(x.fields).includes(JSON.stringify(Object.values(change).at(-1))));
    assert.ok(r, `no rejection for ${id}`);
    assert.equal(local.code, r.code, JSON.stringify(change));
    assert.equal(local.message, r.message);
  }
  const income = f.status().rejected.find((r) => r.fields.income === -5);
  assert.match(income.message, /income: -5 is below the minimum of 0/);
  await f.dismissRejected(income.seq);
  await until('dismissed', () => !f.status().rejected.some((r) => r.seq === income.seq));
});

test('a poke from another tablet\'s push makes the first one pull by itself', async () => {
  const a = await field('tab-c073');
  const b = await field('tab-c085');
  await synced(a);
  await synced(b);
  const s = (await a.subjects())[3].id;
  const { id } = await visit(b, s, 7);
  await until('the visit reached the other tablet', async () => (await a.record('visits', id)) !== null);
});

test('a server restored from a backup gets the retained changes again', async () => {
  const f = await field('tab-c097');
  await synced(f);
  const backup = join(vs.dir, 'before.db');
  vs.backup(backup);
  const s = (await f.subjects())[4].id;
  for (let i = 0; i < 5; i++) await visit(f, s, 40 + i);
  await f.save('subjects', s, { employer: '恢复测试厂' });
  await synced(f);
  // Revs may differ (the changes are merged again); ids and fields may not.
  const content = () => JSON.stringify(['visits', 'subjects'].map((c) => vs.exportRecords(c)
    .map((r) => [r.id, r.deleted, r.fields]).sort((x, y) => (x[0] < y[0] ? -1 : 1))));
  const before = content();
  await vs.stop();
  vs.restore(backup);
  await vs.start();
  proxy.target = vs.port;
  let now = '';
  await until('re-sent and pulled after the restore', async () => {
    now = content();
    return now === before && f.status().pending === 0 && f.status().connection === 'online';
  }, 120_000).catch((e) => {
    const at = [...now].findIndex((c, i) => c !== before[i]);
    throw new Error(`${e.message}; status ${JSON.stringify({ ...f.status(), rejected: undefined })}; `
      + `export differs at ${at}: ${before.slice(at - 80, at + 120)} | ${now.slice(at - 80, at + 120)}`);
  });
  await synced(f);
  assert.equal((await f.record('subjects', s)).fields.employer, '恢复测试厂');
});

test('a 1 MB photo: the link cut midway, the upload resumes from have', async () => {
  const f = await field('tab-c109');
  await synced(f);
  f.engine.auto = false;
  const bytes = randomBytes(1 << 20);
  const ref = await f.addPhoto(new Blob([bytes], { type: 'image/jpeg' }), 'image/jpeg');
  assert.equal(ref, 'sha256:' + createHash('sha256').update(bytes).digest('hex'));
  const s = (await f.subjects())[0].id;
  await f.save('visits', null, { subject: s, grid: 'g01', visited_at: '2026-11-28T10:00:00+08:00', photos: [ref] });
  await until('a photo pending', () => f.status().photosPending === 1);
  proxy.cutAfterBytes(600_000);
  assert.equal(await f.syncNow(), false, 'the cut failed the run');
  let offered = null;
  proxy.onServerMessage = (m) => { if (m.includes('"blob_status"') && m.includes('"req"')) offered = JSON.parse(m); return 'pass'; };
  assert.equal(await f.syncNow(), true, f.status().lastError);
  proxy.onServerMessage = null;
  assert.ok(offered && offered.have > 0, `resumed from have ${offered && offered.have}`);
  await until('no photo pending', () => f.status().photosPending === 0);
  const res = await vs.api('/blobs/' + ref.slice(7), vs.demo.users.sup01.token);
  assert.equal(res.status, 200);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
});

test('an unknown token: unauthorized, and no retry loop', async () => {
  const f = await openField({ wsUrl: proxy.ws, indexedDB, WebSocket, dbName: `field-${++dbs}` });
  fields.push(f);
  const conns = proxy.stats.connections;
  await f.signIn({ device: 'tab-c001', token: 'x'.repeat(43) });
  await until('unauthorized', () => f.status().connection === 'unauthorized');
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(proxy.stats.connections, conns + 1);
  await f.signOut();
});

test('one device per tablet: another is refused while changes wait; a cleared field stays cleared', async () => {
  const f = await field('tab-c109');
  await synced(f);
  const s = (await f.subjects())[2].id;
  const name = `field-${dbs}`;
  await f.close();
  // Offline (nothing listens on port 9): a visit, then its notes cleared before any ack.
  const off = await openField({ wsUrl: 'ws://127.0.0.1:9/sync', indexedDB, WebSocket, dbName: name });
  fields.push(off);
  const { id } = await visit(off, s, 7);
  await off.save('visits', id, { notes: null });
  assert.equal((await off.record('visits', id)).fields.notes, undefined);
  await assert.rejects(off.signIn({ device: 'tab-c121', token: vs.demo.devices['tab-c121'].token }),
    /2 unsynced change\(s\) of device tab-c109/);
  await off.close();
  const on = await openField({ wsUrl: proxy.ws, indexedDB, WebSocket, dbName: name });
  fields.push(on);
  assert.equal(on.credential.device, 'tab-c109', 'the refused sign-in changed nothing');
  assert.equal(await on.syncNow(), true, on.status().lastError);
  const stored = vs.exportRecords('visits').find((r) => r.id === id);
  assert.ok(stored, 'the visit reached the server');
  assert.equal(stored.fields.notes ?? null, null, 'the cleared notes stayed cleared');
  // With nothing waiting, another device may take the tablet: the old data goes.
  await on.signIn({ device: 'tab-c121', token: vs.demo.devices['tab-c121'].token });
  await synced(on);
  assert.equal(on.credential.device, 'tab-c121');
  assert.equal((await on.store.meta('ackedSeq')) || 0, 0, "tab-c109's acked changes are not kept for tab-c121");
});

test('a tablet clock that ran two hours ahead: its changes are stamped again, not refused', async () => {
  const f = await field('tab-c133');
  await synced(f);
  const s = (await f.subjects())[3].id;
  const name = `field-${dbs}`;
  await f.close();
  const off = await openField({ wsUrl: 'ws://127.0.0.1:9/sync', indexedDB, WebSocket, dbName: name });
  fields.push(off);
  const realNow = Date.now;
  Date.now = () => realNow() + 2 * 3600_000; // the tablet's date is wrong
  try {
    await visit(off, s, 11);
  } finally {
    Date.now = realNow; // and then corrected
  }
  await visit(off, s, 12);
  await off.close();
  const on = await openField({ wsUrl: proxy.ws, indexedDB, WebSocket, dbName: name });
  fields.push(on);
  assert.equal(await on.syncNow(), true, on.status().lastError);
  assert.deepEqual(on.status().rejected, [], 'nothing refused as clock_skew');
  const mine = vs.exportRecords('visits').filter((r) => r.fields.subject === s && /^field sync test 1[12]$/.test(r.fields.notes));
  assert.equal(mine.length, 2);
  const { id } = await visit(on, s, 13);
  assert.equal(await on.syncNow(), true, on.status().lastError);
  assert.deepEqual(on.status().rejected, [], 'its stamp follows the settled clock');
  assert.ok(vs.exportRecords('visits').some((r) => r.id === id), 'a change made after the fix goes too');
});
