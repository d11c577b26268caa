// store.js — the tablet's durable state in IndexedDB: the replica of the
// cadre's grid, the outbox, the acked changes kept for a server restore,
// the photos, and the sync state (credential, cursor, seq, clock).
//
// Object stores:
//   meta     key → value: credential, me, schema, schemaVersion, cursor,
//            nextSeq, ackedSeq, welcomed, hlc, rejected, conflicts, lastSyncOk
//   records  {collection, id, rev, fields, deleted}, key [collection, id]
//   outbox   {seq, collection, id, base, hlc:[ms, counter], fields, madeAt}
//   acked    an outbox entry plus {ackedAt, status, rev}: kept RETAIN_MS
//            and queued again when the server knows less than it acked (§2.4a)
//   blobs    {sha, mime, size, bytes:ArrayBuffer, uploaded:bool, waiting:1}
//            (waiting is present until the upload completes: the sparse
//            index on it finds the photos still to send without reading
//            the bytes of every photo the tablet holds)
// The outbox is indexed by record, so a save reads only its own record's
// queued changes, not the whole queue.
// Every step that must not half-happen (queue a change, record an ack,
// apply a page, renumber) is one transaction. Runs on the page's thread;
// the same file runs in Node over fake-indexeddb for the tests.
import { hlcTick, hlcMerge, hlcCompare, HLC_ZERO } from './hlc.js';

const VERSION = 1;
export const RETAIN_MS = 30 * 86400000; // acked changes kept 30 days (§2.4a)
const CONFLICTS_KEPT = 50;
// The server refuses a stamp more than its max_skew ahead of its clock (10
// minutes unless the operator changed it; protocol.md §2.2).
const SERVER_SKEW_MS = 10 * 60000;

const req = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

export async function openStore(idb, name) {
  const open = idb.open(name, VERSION);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore('meta');
    db.createObjectStore('records', { keyPath: ['collection', 'id'] }).createIndex('collection', 'collection');
    db.createObjectStore('outbox', { keyPath: 'seq' }).createIndex('record', ['collection', 'id']);
    db.createObjectStore('acked', { keyPath: 'seq' }).createIndex('ackedAt', 'ackedAt');
    db.createObjectStore('blobs', { keyPath: 'sha' }).createIndex('waiting', 'waiting');
  };
  return new Store(await req(open), idb, name);
}

// One transaction: fn gets {get, put, del, all, clear}, each a promise on
// the named object store; the result resolves once the transaction committed.
// durability 'strict' waits for the disk (a saved change); the browser's
// default may report a commit before it is flushed.
function run(db, names, mode, fn, durability = 'default') {
  return new Promise((resolve, reject) => {
    const t = db.transaction(names, mode, { durability });
    const s = (n) => t.objectStore(n);
    let out;
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('IndexedDB transaction aborted'));
    const ops = {
      get: (n, k) => req(s(n).get(k)),
      put: (n, v, k) => req(k === undefined ? s(n).put(v) : s(n).put(v, k)),
      del: (n, k) => req(s(n).delete(k)),
      all: (n, q, count) => req(s(n).getAll(q, count)),
      byIndex: (n, i, q) => req(s(n).index(i).getAll(q)),
      clear: (n) => req(s(n).clear()),
    };
    Promise.resolve(fn(ops)).then((v) => { out = v; }, (e) => { try { t.abort(); } catch { /* already over */ } reject(e); });
  });
}

// A tablet whose clock once ran ahead (a wrong date) would stamp every
// later change after that bad time, and the server would refuse each as
// clock_skew until real time caught up. When the clock is beyond anything
// the server can have accepted, it is set back to the server's time, but
// never below a stamp the server did accept (the acked changes kept), so
// this device's own changes stay in order; queued changes stamped that far
// ahead were never accepted and are stamped again after it, in seq order.
async function settleClock(o, serverTime) {
  const hlc = (await o.get('meta', 'hlc')) || HLC_ZERO;
  if (!Number.isFinite(serverTime) || hlc.ms <= serverTime + SERVER_SKEW_MS) return;
  let c = { ms: serverTime, counter: 0 };
  for (const a of await o.all('acked')) {
    const s = { ms: a.hlc[0], counter: a.hlc[1] };
    if (hlcCompare(s, c) > 0) c = s;
  }
  for (const q of await o.all('outbox')) {
    if (q.hlc[0] <= serverTime + SERVER_SKEW_MS) continue;
    c = hlcTick(c, serverTime);
    await o.put('outbox', { ...q, hlc: [c.ms, c.counter] });
  }
  await o.put('meta', c, 'hlc');
}

// The fields a change leaves on a record: null clears a field.
export function mergeFields(into, fields) {
  const out = { ...into };
  for (const [k, v] of Object.entries(fields)) {
    if (k === '_deleted') continue;
    if (v === null) delete out[k]; else out[k] = v;
  }
  return out;
}

export class Store {
  constructor(db, idb, name) {
    this.db = db;
    this.idb = idb;
    this.name = name;
  }

  close() { this.db.close(); }

  // Closes and deletes the whole database (sign-out).
  async destroy() {
    this.db.close();
    await req(this.idb.deleteDatabase(this.name));
  }

  meta(key) { return run(this.db, ['meta'], 'readonly', (o) => o.get('meta', key)); }
  setMeta(key, value) { return run(this.db, ['meta'], 'readwrite', (o) => o.put('meta', value, key)); }

  records(collection) { return run(this.db, ['records'], 'readonly', (o) => o.byIndex('records', 'collection', collection)); }
  record(collection, id) { return run(this.db, ['records'], 'readonly', (o) => o.get('records', [collection, id])); }
  outbox() { return run(this.db, ['outbox'], 'readonly', (o) => o.all('outbox')); }
  // The queued changes of one record, in seq order.
  outboxOf(collection, id) {
    return run(this.db, ['outbox'], 'readonly', (o) => o.byIndex('outbox', 'record', [collection, id]));
  }

  // Up to limit queued changes with seq above after, in seq order.
  outboxAfter(after, limit) {
    return run(this.db, ['outbox'], 'readonly', (o) => o.all('outbox', IDBKeyRange.lowerBound(after, true), limit));
  }

  // Queues a change: numbers it, stamps it with the clock, takes its base
  // from the replica. A record this tablet has never had acked (rev 0)
  // carries all its fields, since the server checks a base-0 change as a
  // creation. Returns the queued entry.
  queue(collection, id, fields, now) {
    return run(this.db, ['meta', 'records', 'outbox'], 'readwrite', async (o) => {
      const rec = await o.get('records', [collection, id]);
      const base = rec ? rec.rev : 0;
      let body = fields;
      if (base === 0) {
        const earlier = await o.byIndex('outbox', 'record', [collection, id]);
        body = {};
        for (const c of earlier) body = { ...body, ...c.fields };
        body = { ...body, ...fields };
        // A null stays: it clears what an earlier queued change of this
        // record set, which the server would otherwise keep.
        if (fields._deleted !== undefined) body._deleted = fields._deleted;
      }
      const seq = (await o.get('meta', 'nextSeq')) || 1;
      const clock = hlcTick((await o.get('meta', 'hlc')) || HLC_ZERO, now);
      const entry = { seq, collection, id, base, hlc: [clock.ms, clock.counter], fields: body, madeAt: now };
      await o.put('outbox', entry);
      await o.put('meta', seq + 1, 'nextSeq');
      await o.put('meta', clock, 'hlc');
      const rejected = ((await o.get('meta', 'rejected')) || []).filter((r) => r.collection !== collection || r.id !== id);
      await o.put('meta', rejected, 'rejected');
      return entry;
    }, 'strict');
  }

  // Merges a server time into the clock.
  mergeClock(serverMs) {
    return run(this.db, ['meta'], 'readwrite', async (o) => {
      await o.put('meta', hlcMerge((await o.get('meta', 'hlc')) || HLC_ZERO, serverMs), 'hlc');
    });
  }

  // What a welcome means for the outbox (as client/vsc_replica.c): a store
  // never welcomed before numbers its queue after the server's seq; a store
  // that had acks above the server's seq (a restored server) queues its
  // kept acked changes above it again. Returns {renumbered, requeued}.
  welcome(serverSeq, serverTime) {
    return run(this.db, ['meta', 'outbox', 'acked'], 'readwrite', async (o) => {
      const out = { renumbered: 0, requeued: 0 };
      const welcomed = await o.get('meta', 'welcomed');
      let next = (await o.get('meta', 'nextSeq')) || 1;
      const acked = (await o.get('meta', 'ackedSeq')) || 0;
      const queued = await o.all('outbox');
      if (!welcomed && queued.length && serverSeq >= queued[0].seq) {
        const offset = serverSeq + 1 - queued[0].seq;
        await o.clear('outbox');
        for (const c of queued) await o.put('outbox', { ...c, seq: c.seq + offset });
        out.renumbered = queued.length;
        next += offset;
      } else if (welcomed && serverSeq >= 0 && serverSeq < acked) {
        for (const a of await o.all('acked', IDBKeyRange.lowerBound(serverSeq, true))) {
          await o.put('outbox', { seq: a.seq, collection: a.collection, id: a.id, base: a.base, hlc: a.hlc,
            fields: a.fields, madeAt: a.madeAt });
          await o.del('acked', a.seq);
          out.requeued++;
        }
      }
      if (next <= serverSeq) next = serverSeq + 1;
      await o.put('meta', next, 'nextSeq');
      await settleClock(o, serverTime);
      await o.put('meta', true, 'welcomed');
      return out;
    });
  }

  // Records one ack: each answered change leaves the outbox; the accepted
  // ones are kept in acked, the rejected ones join the rejected list,
  // conflicts the conflict list. Only an applied change is shown in the
  // replica at once: after a conflict or a duplicate the server's record
  // may hold another tablet's values, and the pull that follows brings
  // them (writing ours would show a losing value and claim a base the
  // tablet never saw).
  ack(results, now) {
    return run(this.db, ['meta', 'records', 'outbox', 'acked'], 'readwrite', async (o) => {
      let ackedSeq = (await o.get('meta', 'ackedSeq')) || 0;
      const rejected = (await o.get('meta', 'rejected')) || [];
      let conflicts = (await o.get('meta', 'conflicts')) || [];
      for (const r of results) {
        const c = await o.get('outbox', r.seq);
        if (r.seq > ackedSeq) ackedSeq = r.seq;
        if (!c) continue; // answered twice (a re-sent push): already recorded
        await o.del('outbox', r.seq);
        if (r.status === 'rejected') {
          const e = r.error || {};
          rejected.push({ seq: r.seq, collection: c.collection, id: c.id, code: e.code || 'rejected',
            field: e.field || '', message: e.message || '', fields: c.fields });
          continue;
        }
        await o.put('acked', { ...c, ackedAt: now, status: r.status, rev: r.rev });
        if (r.status === 'conflict') {
          conflicts = [{ collection: c.collection, id: c.id, fields: r.conflicts || [], at: now }, ...conflicts].slice(0, CONFLICTS_KEPT);
        }
        if (r.status !== 'applied') continue;
        const rec = await o.get('records', [c.collection, c.id]);
        if (!rec || (r.rev || 0) >= rec.rev) {
          const deleted = c.fields._deleted !== undefined ? c.fields._deleted : !!(rec && rec.deleted);
          await o.put('records', { collection: c.collection, id: c.id, rev: Math.max(r.rev || 0, rec ? rec.rev : 0),
            fields: mergeFields(rec ? rec.fields : {}, c.fields), deleted });
        }
      }
      await o.put('meta', ackedSeq, 'ackedSeq');
      await o.put('meta', rejected, 'rejected');
      await o.put('meta', conflicts, 'conflicts');
    });
  }

  dismissRejected(seq) {
    return run(this.db, ['meta'], 'readwrite', async (o) => {
      await o.put('meta', ((await o.get('meta', 'rejected')) || []).filter((r) => r.seq !== seq), 'rejected');
    });
  }

  // Applies one page of a pull with its cursor; reset: the page starts from
  // the beginning, so the replica is replaced (the outbox stays).
  applyPage(items, cursor, reset) {
    return run(this.db, ['meta', 'records'], 'readwrite', async (o) => {
      if (reset) await o.clear('records');
      for (const it of items) {
        if (it.removed) { await o.del('records', [it.collection, it.id]); continue; }
        await o.put('records', { collection: it.collection, id: it.id, rev: it.rev, fields: it.fields || {}, deleted: !!it.deleted });
      }
      await o.put('meta', cursor, 'cursor');
    });
  }

  // Drops the acked changes older than the retention.
  prune(now) {
    return run(this.db, ['acked'], 'readwrite', async (o) => {
      const old = await o.byIndex('acked', 'ackedAt', IDBKeyRange.upperBound(now - RETAIN_MS, true));
      for (const a of old) await o.del('acked', a.seq);
      return old.length;
    });
  }

  putBlob(b) {
    const entry = { ...b };
    if (entry.uploaded) delete entry.waiting; else entry.waiting = 1;
    return run(this.db, ['blobs'], 'readwrite', (o) => o.put('blobs', entry));
  }
  blob(sha) { return run(this.db, ['blobs'], 'readonly', (o) => o.get('blobs', sha)); }
  // The photos not uploaded yet.
  waitingBlobs() { return run(this.db, ['blobs'], 'readonly', (o) => o.byIndex('blobs', 'waiting', 1)); }
  markUploaded(sha) {
    return run(this.db, ['blobs'], 'readwrite', async (o) => {
      const b = await o.get('blobs', sha);
      if (!b) return;
      const done = { ...b, uploaded: true };
      delete done.waiting;
      await o.put('blobs', done);
    });
  }
}
