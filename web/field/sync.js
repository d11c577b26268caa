// sync.js — the field app's §2 engine: one WebSocket session at a time, and
// the runs that push the outbox, pull the replica and upload the photos.
//
// Design (the same steps as client/vsc_sync.c, the terminal tablet): a
// session is connect → hello → welcome (the store numbers its queue after
// the server's seq, or queues its kept acked changes again after a server
// restore; the clock merges the server's time; the schema is fetched when
// its version changed). A run is: prune acked changes past 30 days → push
// the whole outbox, up to IN_FLIGHT pushes of at most max_batch changes
// outstanding, each ack written to IndexedDB as it arrives → pull pages
// until more is false (rebuilding the replica on reset) → upload the photos
// records name. Runs are serialized; a run asked for while one is going
// happens once after it. A change leaves the outbox only with its ack, so a
// run that fails anywhere loses nothing: the next one re-sends from the
// start of the outbox, and the server answers what it already had with
// `duplicate`.
//
// Automatic mode keeps the session open for pokes (each starts a run) and,
// while the server cannot be reached, reconnects after 1 s, 2 s, 4 s … 30 s.
// An unknown or revoked token stops everything: status 'unauthorized'.
// Runs on the page's thread (all callbacks are the event loop's).
import { uploadAll } from './upload.js';

const PROTOCOL = 'visitsync.v1';
const IN_FLIGHT = 4;
const PULL_LIMIT = 1000;
const MAX_PAGES = 100000; // a server whose "more" never ends is broken
const WELCOME_WAIT_MS = 10000;
const REPLY_WAIT_MS = 60000; // a push of max_batch changes commits well within this
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;

export class Unauthorized extends Error {
  constructor(message) { super(message); this.name = 'Unauthorized'; }
}

// One open connection after its welcome. request() sends a message with a
// fresh req and resolves with the reply echoing it.
class Session {
  constructor(ws) {
    this.ws = ws;
    this.waiting = new Map();
    this.nextReq = 1;
    this.closed = false;
    this.onPoke = null;
    this.onBlob = null; // blob_status and error messages without req (upload.js)
    this.onClose = null;
  }

  send(msg) {
    if (this.closed) throw new Error('the connection to the server is closed');
    this.ws.send(typeof msg === 'string' || msg instanceof Uint8Array ? msg : JSON.stringify(msg));
  }

  request(msg) {
    const req = String(this.nextReq++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req);
        reject(new Error(`the server did not answer ${msg.type} within ${REPLY_WAIT_MS / 1000} s`));
        this.close();
      }, REPLY_WAIT_MS);
      this.waiting.set(req, { resolve, reject, timer });
      try { this.send({ ...msg, req }); } catch (e) { clearTimeout(timer); this.waiting.delete(req); reject(e); }
    });
  }

  dispatch(m) {
    if (m.req !== undefined && this.waiting.has(m.req)) {
      const w = this.waiting.get(m.req);
      this.waiting.delete(m.req);
      clearTimeout(w.timer);
      if (m.type === 'error') w.reject(new Error(`${m.code}: ${m.message}`));
      else w.resolve(m);
      return;
    }
    if (m.type === 'poke') { if (this.onPoke) this.onPoke(m); return; }
    if ((m.type === 'blob_status' || m.type === 'error') && this.onBlob) this.onBlob(m);
  }

  // Called once the socket is gone: every waiting request fails.
  gone(why) {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.values()) { clearTimeout(w.timer); w.reject(new Error(why)); }
    this.waiting.clear();
    if (this.onBlob) this.onBlob({ type: 'closed', message: why });
    if (this.onClose) this.onClose(why);
  }

  close() {
    try { this.ws.close(1000); } catch { /* already closing */ }
    this.gone('the connection was closed');
  }
}

export class SyncEngine {
  // opts: {store, wsUrl, WebSocket, app, onChange(what)}: onChange('status')
  // or onChange('data') after anything that changes status() or the data.
  constructor(opts) {
    this.store = opts.store;
    this.wsUrl = opts.wsUrl;
    this.WebSocket = opts.WebSocket;
    this.app = opts.app;
    this.changed = opts.onChange;
    this.credential = null;
    this.generation = 0; // bumped by stop(): a connection opened before it is not kept
    this.session = null;
    this.connecting = null;
    this.auto = false;
    this.chain = Promise.resolve();
    this.queued = null;
    this.retryTimer = null;
    this.failures = 0;
    this.maxBatch = 500;
    this.maxMessage = 1048576;
    this.state = { connection: 'offline', syncing: false, lastError: null };
  }

  set(patch) {
    Object.assign(this.state, patch);
    this.changed('status');
  }

  // Opens a session, or returns the open one.
  connect() {
    if (this.session && !this.session.closed) return Promise.resolve(this.session);
    if (!this.connecting) {
      this.connecting = this.open().finally(() => { this.connecting = null; });
    }
    return this.connecting;
  }

  async open() {
    const cred = this.credential, generation = this.generation;
    if (!cred) throw new Unauthorized('not signed in');
    this.set({ connection: 'connecting' });
    // Read before the socket exists: an await between creating it and
    // setting onopen could miss the open event, and the hello with it.
    const pending = await this.store.outbox();
    const ws = new this.WebSocket(this.wsUrl, PROTOCOL);
    ws.binaryType = 'arraybuffer';
    const s = new Session(ws);
    const welcome = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no welcome from ${this.wsUrl} within 10 s`)); s.close(); }, WELCOME_WAIT_MS);
      let welcomed = false;
      ws.onopen = () => {
        const hello = { type: 'hello', device: cred.device, token: cred.token, app: this.app, pending: pending.length, clock: Date.now() };
        if (pending.length) hello.oldest_pending = new Date(Math.min(...pending.map((c) => c.madeAt))).toISOString();
        ws.send(JSON.stringify(hello));
      };
      ws.onmessage = (e) => {
        if (typeof e.data !== 'string') return;
        let m;
        try { m = JSON.parse(e.data); } catch { return; }
        if (!welcomed) {
          clearTimeout(timer);
          if (m.type === 'welcome') { welcomed = true; resolve(m); return; }
          if (m.type === 'error' && m.code === 'unauthorized') reject(new Unauthorized(m.message || 'the token was refused'));
          else reject(new Error(`the server answered hello with ${m.type}: ${m.message || m.code || ''}`));
          s.close();
          return;
        }
        s.dispatch(m);
      };
      ws.onclose = (e) => {
        clearTimeout(timer);
        if (!welcomed) {
          reject(e.code === 4401 ? new Unauthorized('the token was refused')
            : new Error(`cannot reach the server at ${this.wsUrl}` + (e.code && e.code !== 1006 ? ` (closed ${e.code})` : '')));
        }
        s.gone(`the connection closed (${e.code || 'lost'})`);
      };
      ws.onerror = () => {}; // onclose follows with the code
    });
    if (generation !== this.generation) {
      s.close();
      throw new Error('sync was stopped');
    }
    await this.welcomed(welcome);
    s.onPoke = () => { if (this.auto) this.syncNow(); };
    s.onClose = () => {
      if (this.session === s) this.session = null;
      this.set({ connection: 'offline' });
      if (this.auto) this.retryLater();
    };
    this.session = s;
    this.failures = 0;
    this.set({ connection: 'online' });
    return s;
  }

  // What a welcome changes on the tablet (runs before any push).
  async welcomed(w) {
    const st = this.store;
    await st.setMeta('me', { user: w.user, role: w.role, grids: w.grids || [] });
    await st.mergeClock(w.time);
    await st.welcome(typeof w.seq === 'number' ? w.seq : -1, w.time);
    if (w.max_batch > 0) this.maxBatch = w.max_batch;
    if (w.max_message > 0) this.maxMessage = w.max_message;
    this.welcome = w;
    this.changed('data');
  }

  // Fetches the schema when the welcome announced another version.
  async refreshSchema(s) {
    if (!this.welcome || (await this.store.meta('schemaVersion')) === this.welcome.schema_version) return;
    const m = await s.request({ type: 'schema' });
    await this.store.setMeta('schema', m.collections);
    await this.store.setMeta('schemaVersion', m.version);
    this.changed('data');
  }

  // One full run (see the top). Resolves true when it completed.
  syncNow() {
    if (this.queued) return this.queued;
    const p = this.chain.then(() => { this.queued = null; return this.run(); });
    this.queued = p;
    this.chain = p;
    return p;
  }

  async run() {
    if (!this.credential) return false;
    this.set({ syncing: true });
    try {
      const s = await this.connect();
      await this.store.prune(Date.now());
      await this.refreshSchema(s);
      await this.pushAll(s);
      await this.pullAll(s);
      await uploadAll(s, this.store, () => this.changed('status'));
      await this.store.setMeta('lastSyncOk', Date.now());
      this.set({ syncing: false, lastError: null });
      return true;
    } catch (e) {
      if (e instanceof Unauthorized) {
        this.auto = false;
        this.set({ syncing: false, connection: 'unauthorized', lastError: e.message });
        return false;
      }
      this.set({ syncing: false, lastError: e.message, connection: this.session ? this.state.connection : 'offline' });
      if (this.auto) this.retryLater();
      return false;
    }
  }

  async pushAll(s) {
    let after = 0, batch = this.maxBatch;
    const inflight = [];
    for (;;) {
      while (inflight.length < IN_FLIGHT) {
        const rows = await this.store.outboxAfter(after, batch);
        if (!rows.length) break;
        const changes = rows.map((c) => ({ seq: c.seq, collection: c.collection, id: c.id, base: c.base, hlc: c.hlc, fields: c.fields }));
        const size = new TextEncoder().encode(JSON.stringify({ type: 'push', req: '0000000000', changes })).length;
        if (size > this.maxMessage) {
          if (rows.length > 1) { batch = Math.max(1, Math.floor(rows.length / 2)); continue; }
          // One change larger than the server takes can never be sent.
          await this.store.ack([{ seq: rows[0].seq, status: 'rejected', error: { code: 'too_large', field: '',
            message: `the change is ${size} bytes; the server takes at most ${this.maxMessage} in one message` } }], Date.now());
          after = rows[0].seq;
          this.changed('data');
          continue;
        }
        after = rows[rows.length - 1].seq;
        const p = s.request({ type: 'push', changes });
        p.catch(() => {}); // awaited in turn below; a lost link fails them all at once
        inflight.push(p);
      }
      if (!inflight.length) return;
      const ack = await inflight.shift();
      await this.store.ack(ack.results || [], Date.now());
      this.changed('data');
    }
  }

  async pullAll(s) {
    let since = (await this.store.meta('cursor')) || '0';
    for (let page = 0; page < MAX_PAGES; page++) {
      const m = await s.request({ type: 'pull', since, limit: PULL_LIMIT });
      const cursor = m.cursor || since;
      await this.store.applyPage(m.changes || [], cursor, !!m.reset);
      if ((m.changes || []).length || m.reset) this.changed('data');
      if (!m.more) return;
      if (cursor === since) throw new Error(`the server says there is more to pull but its cursor stays at ${since}`);
      since = cursor;
    }
  }

  // Automatic sync: a run now, then after every poke, 'online' event and
  // failure (with backoff).
  start() {
    this.auto = true;
    this.syncNow();
  }

  retryLater() {
    if (this.retryTimer || !this.auto) return;
    const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.failures);
    this.failures++;
    this.retryTimer = setTimeout(() => { this.retryTimer = null; if (this.auto) this.syncNow(); }, wait);
  }

  // The network came back: try at once instead of waiting out the backoff.
  online() {
    if (!this.auto) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.failures = 0;
    this.syncNow();
  }

  // Stops automatic sync and closes the session; resolves after the run
  // that was going, if any.
  async stop() {
    this.auto = false;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.session) this.session.close();
    this.session = null;
    await this.chain;
    this.set({ connection: 'offline', syncing: false });
  }
}
