// field.js — the field app's data layer: the one module the views use.
//
//   const field = await openField();      // the browser's IndexedDB, WebSocket, location
//   field.addEventListener('status', …)   // status() changed
//   field.addEventListener('data', …)     // the replica or the outbox changed: re-render
//
// Behind it: store.js (IndexedDB), sync.js (the §2 engine), hlc.js (the
// clock), validate.js (the server's rules and messages), upload.js (§2.6
// photos). The facade below is the contract with the views (app.js, ui-*.js):
// see docs/protocol.md, "The field app as a tablet". Runs on the page's
// thread; the same modules run in Node for tests/web/field_sync.test.mjs.
import { openStore, mergeFields } from './store.js';
import { SyncEngine } from './sync.js';
import { checkChange, FieldError } from './validate.js';
import { sha256Hex, photosPending } from './upload.js';

export const VERSION = '1.0.0';
export { FieldError };

// A new record's id: 128 random bits in hex (crypto.getRandomValues works on
// plain http too, unlike crypto.randomUUID).
function newId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function defaultWsUrl() {
  const l = globalThis.location;
  return `${l.protocol === 'https:' ? 'wss:' : 'ws:'}//${l.host}/sync`;
}

export async function openField(opts = {}) {
  const f = new Field(opts);
  await f.load();
  return f;
}

class Field extends EventTarget {
  constructor(opts) {
    super();
    this.idb = opts.indexedDB || globalThis.indexedDB;
    this.dbName = opts.dbName || 'visitsync-field';
    this.httpBase = opts.httpBase || (globalThis.location ? globalThis.location.origin : '');
    this.wsUrl = opts.wsUrl || defaultWsUrl();
    this.WebSocketImpl = opts.WebSocket || globalThis.WebSocket;
    this.credential = null;
    this.me = null;
    this.schema = null;
    this.cache = { pending: 0, oldestPending: null, photosPending: 0, lastSyncOk: null, rejected: [], conflicts: [] };
    this.onlineHandler = () => this.engine.online();
  }

  async load() {
    this.store = await openStore(this.idb, this.dbName);
    this.engine = new SyncEngine({ store: this.store, wsUrl: this.wsUrl, WebSocket: this.WebSocketImpl,
      app: `field/${VERSION}`, onChange: (what) => this.changed(what) });
    this.credential = (await this.store.meta('credential')) || null;
    this.engine.credential = this.credential;
    await this.refresh();
  }

  // Re-reads what status() and the properties show, then tells the views.
  async refresh() {
    const st = this.store;
    const outbox = await st.outbox();
    this.me = (await st.meta('me')) || null;
    this.schema = (await st.meta('schema')) || null;
    this.cache = {
      pending: outbox.length,
      oldestPending: outbox.length ? Math.min(...outbox.map((c) => c.madeAt)) : null,
      photosPending: await photosPending(st),
      lastSyncOk: (await st.meta('lastSyncOk')) || null,
      rejected: (await st.meta('rejected')) || [],
      conflicts: (await st.meta('conflicts')) || [],
    };
  }

  changed(what) {
    if (this.closed) return;
    const tell = () => {
      if (what === 'data') this.dispatchEvent(new Event('data'));
      this.dispatchEvent(new Event('status'));
    };
    // Status flags are in memory already; counts come from IndexedDB.
    this.refresh().then(tell, tell);
  }

  status() {
    const e = this.engine.state;
    return { connection: e.connection, syncing: e.syncing, lastError: e.lastError, ...this.cache,
      rejected: [...this.cache.rejected], conflicts: [...this.cache.conflicts] };
  }

  // Signs in. A tablet keeps one device's data: signing in as another
  // device discards it first, and is refused while it holds changes the
  // server has not acked (they would otherwise go out under the wrong
  // device, or be taken for duplicates and lost).
  async signIn({ device, token }) {
    const prev = await this.store.meta('device');
    if (prev && prev !== device) {
      const pending = (await this.store.outbox()).length;
      if (pending) {
        throw new Error(`this tablet still holds ${pending} unsynced change(s) of device ${prev}: ` +
          `sign in as ${prev} again, or sign out to discard them`);
      }
      await this.engine.stop();
      await this.store.destroy();
      this.store = await openStore(this.idb, this.dbName);
      this.engine.store = this.store;
    }
    this.credential = { device, token };
    await this.store.setMeta('device', device);
    await this.store.setMeta('credential', this.credential);
    if (globalThis.navigator && navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().catch(() => {}); // asks the browser not to evict the outbox
    }
    this.engine.credential = this.credential;
    this.start();
  }

  // A token the server refused: stops sync and forgets the credential, but
  // keeps the outbox, the acked changes and the photos, so nothing unsynced
  // is lost when the refusal was a mistake (a server restored from before
  // the tablet's enrollment) and the same device signs in again.
  async forgetCredential() {
    await this.engine.stop();
    this.engine.credential = null;
    this.credential = null;
    await this.store.setMeta('credential', null);
    this.changed('status');
  }

  // Stops sync and deletes the credential and every local record, change and photo.
  async signOut() {
    if (globalThis.removeEventListener) globalThis.removeEventListener('online', this.onlineHandler);
    await this.engine.stop();
    this.engine.credential = null;
    this.credential = null;
    this.closed = true;
    await this.store.destroy();
    this.me = null;
    this.schema = null;
  }

  start() {
    if (globalThis.addEventListener) {
      globalThis.removeEventListener('online', this.onlineHandler);
      globalThis.addEventListener('online', this.onlineHandler);
    }
    this.engine.start();
  }

  // One full sync; resolves true when it completed, false when it failed
  // (status().lastError says why).
  syncNow() { return this.engine.syncNow(); }

  // Stops sync and closes the database, keeping everything (tests, reloads).
  async close() {
    if (globalThis.removeEventListener) globalThis.removeEventListener('online', this.onlineHandler);
    await this.engine.stop();
    this.closed = true;
    this.store.close();
  }

  dismissRejected(seq) { return this.store.dismissRejected(seq).then(() => this.changed('status')); }

  // Every record of a collection as the cadre sees it: the replica with the
  // outbox applied on top, in seq order. Map id → {id, rev, fields, pending, deleted}.
  async view(collection) {
    const out = new Map();
    for (const r of await this.store.records(collection)) out.set(r.id, { id: r.id, rev: r.rev, fields: r.fields, pending: false, deleted: r.deleted });
    for (const c of await this.store.outbox()) {
      if (c.collection !== collection) continue;
      const r = out.get(c.id) || { id: c.id, rev: 0, fields: {}, pending: false, deleted: false };
      out.set(c.id, { id: c.id, rev: r.rev, fields: mergeFields(r.fields, c.fields), pending: true,
        deleted: c.fields._deleted !== undefined ? c.fields._deleted : r.deleted });
    }
    return out;
  }

  // One record as view() would show it, reading only that record's queue.
  async viewOne(collection, id) {
    const r = await this.store.record(collection, id);
    let out = r ? { id, rev: r.rev, fields: r.fields, pending: false, deleted: r.deleted } : undefined;
    for (const c of await this.store.outboxOf(collection, id)) {
      const cur = out || { id, rev: 0, fields: {}, pending: false, deleted: false };
      out = { id, rev: cur.rev, fields: mergeFields(cur.fields, c.fields), pending: true,
        deleted: c.fields._deleted !== undefined ? c.fields._deleted : cur.deleted };
    }
    return out;
  }

  async subjects() {
    const last = new Map();
    for (const v of (await this.view('visits')).values()) {
      if (v.deleted) continue;
      const s = v.fields.subject, at = v.fields.visited_at;
      if (!s || !at) continue;
      const prev = last.get(s);
      if (!prev || Date.parse(at) > Date.parse(prev)) last.set(s, at);
    }
    const out = [];
    for (const r of (await this.view('subjects')).values()) {
      if (r.deleted) continue;
      out.push({ id: r.id, rev: r.rev, fields: r.fields, lastVisit: last.get(r.id) || null, pending: r.pending });
    }
    return out;
  }

  async record(collection, id) {
    const r = await this.viewOne(collection, id);
    return r && !r.deleted ? { id: r.id, rev: r.rev, fields: r.fields, pending: r.pending } : null;
  }

  async visitsOf(subjectId) {
    const out = [];
    for (const v of (await this.view('visits')).values()) {
      if (!v.deleted && v.fields.subject === subjectId) out.push({ id: v.id, rev: v.rev, fields: v.fields, pending: v.pending });
    }
    return out.sort((a, b) => (Date.parse(b.fields.visited_at) || 0) - (Date.parse(a.fields.visited_at) || 0));
  }

  // Checks the change as the server would (throws a FieldError), queues it,
  // and pushes it at once when automatic sync is on.
  async save(collection, id, fields) {
    const cur = id !== null ? await this.viewOne(collection, id) : undefined;
    const rid = id === null ? newId() : id;
    const base = cur ? cur.rev : 0;
    // A record not yet acked goes out whole (store.js queue), so it is checked whole.
    const whole = base === 0 && cur ? mergeFields(cur.fields, fields) : fields;
    const err = checkChange(this.schema, this.me, { collection, id: rid, base, fields: whole }, !!cur);
    if (err) throw err;
    const entry = await this.store.queue(collection, rid, fields, Date.now());
    this.changed('data');
    if (this.engine.auto) this.engine.syncNow();
    return { id: rid, seq: entry.seq };
  }

  // Keeps a photo's bytes on the tablet; returns the name a visit gives it.
  async addPhoto(blob, mime) {
    const bytes = await blob.arrayBuffer();
    const sha = await sha256Hex(bytes);
    if (!(await this.store.blob(sha))) {
      await this.store.putBlob({ sha, mime: mime || blob.type || 'application/octet-stream', size: bytes.byteLength, bytes, uploaded: false });
    }
    return 'sha256:' + sha;
  }

  // An object URL for a photo: from the tablet, else from the server with
  // the device token, else null.
  async photoURL(ref) {
    const sha = typeof ref === 'string' && ref.startsWith('sha256:') ? ref.slice(7) : null;
    if (!sha) return null;
    const b = await this.store.blob(sha);
    if (b) return URL.createObjectURL(new Blob([b.bytes], { type: b.mime }));
    if (!this.credential) return null;
    try {
      const res = await fetch(`${this.httpBase}/blobs/${sha}`, { headers: { authorization: 'Bearer ' + this.credential.token } });
      return res.ok ? URL.createObjectURL(await res.blob()) : null;
    } catch {
      return null;
    }
  }
}
