// A real `visitsync serve` for the web tests, on a database of its own in a
// temporary folder, on loopback, port 0. Every wait is bounded.
//
//   import { VisitSync } from './lib/server.mjs';
//   const vs = await VisitSync.create({ demo: true });   // init (+ demo township)
//   vs.cli('grid', 'add', 'g90', '测试村');                // any CLI command → stdout
//   const tok = vs.enroll('c001', 'tab-x');               // a device token
//   const sup = vs.token('sup01');                        // a supervisor API token
//   vs.demo.users['c001']  // {user, name, role, grid, device, token} from demo's table
//   await vs.start();      // → vs.http 'http://127.0.0.1:PORT', vs.ws 'ws://…/sync', vs.port
//   await vs.start({ args: ['--max-batch', '50'], web: 'web' });  // extra serve args, --web DIR
//   vs.exportRecords('visits')  // [{id, rev, deleted, fields}] from `visitsync export`
//   vs.backup(file); await vs.stop(); vs.restore(file); await vs.start();  // restart keeps the port
//   await vs.close();      // stops the server, removes the folder (call it in after())
//
// VISITSYNC_BIN names the binary (ctest sets it); VISITSYNC_WEB_DIR, when set,
// is passed as --web unless start() is given `web`. The server's stderr is
// kept (vs.log()) and shown when it dies unexpectedly.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const WAIT = 10_000; // ms: the longest a start or a stop may take

export const BIN = process.env.VISITSYNC_BIN;

export class VisitSync {
  // Makes the folder and the database: `init`, and `demo` when opts.demo.
  static async create(opts = {}) {
    if (!BIN) throw new Error('set VISITSYNC_BIN to the visitsync binary');
    const vs = new VisitSync();
    vs.dir = mkdtempSync(join(tmpdir(), 'vs-web-'));
    vs.db = join(vs.dir, 'visitsync.db');
    vs.cli('init');
    vs.demo = { users: {}, devices: {} };
    if (opts.demo) {
      for (const line of vs.cli('demo').split('\n').slice(1)) {
        const [user, name, role, grid, device, token] = line.trim().split(/\s+/);
        if (!token) continue;
        const row = { user, name, role, grid, device: device === '(api)' ? null : device, token };
        vs.demo.users[user] = row;
        if (row.device) vs.demo.devices[row.device] = row;
      }
    }
    return vs;
  }

  constructor() {
    this.proc = null;
    this.port = 0;
    this.stderr = [];
  }

  // Runs one CLI command on this database and returns its stdout, trimmed.
  cli(...args) {
    return execFileSync(BIN, ['--db', this.db, ...args],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  }

  enroll(user, device) { return this.cli('device', 'enroll', '--user', user, '--device', device); }
  revoke(device) { return this.cli('device', 'revoke', device); }
  token(user) { return this.cli('token', 'create', '--user', user); }

  exportRecords(collection) {
    const out = this.cli('export', '--collection', collection);
    return out ? out.split('\n').map((l) => JSON.parse(l)) : [];
  }

  backup(file) { this.cli('backup', file); }

  // The documented restore, with the server stopped: copy over the database,
  // remove -wal and -shm, run init.
  restore(file) {
    if (this.proc) throw new Error('restore: stop the server first');
    copyFileSync(file, this.db);
    rmSync(this.db + '-wal', { force: true });
    rmSync(this.db + '-shm', { force: true });
    this.cli('init');
  }

  log() { return this.stderr.join(''); }

  // Starts `visitsync serve`; resolves once it prints its listening line.
  // A restart asks for the port it had before, so clients keep their URL.
  start(opts = {}) {
    if (this.proc) throw new Error('start: the server is already running');
    const args = ['--db', this.db, 'serve', '--listen', `127.0.0.1:${this.port}`, ...(opts.args || [])];
    const web = opts.web || process.env.VISITSYNC_WEB_DIR;
    if (web) args.push('--web', web);
    const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s) => { this.stderr.push(s); if (this.stderr.length > 2000) this.stderr.splice(0, 1000); });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('visitsync serve: no startup line within 10 s\n' + this.log())); }, WAIT);
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const m = line.match(/^visitsync listening on (\S+):(\d+)$/);
        if (!m) return;
        clearTimeout(timer);
        this.port = Number(m[2]);
        this.http = `http://127.0.0.1:${this.port}`;
        this.ws = `ws://127.0.0.1:${this.port}/sync`;
        resolve(this);
      });
      proc.on('exit', (code, sig) => {
        if (this.proc === proc) this.proc = null;
        clearTimeout(timer);
        reject(new Error(`visitsync serve exited ${code ?? sig}\n` + this.log()));
      });
    });
  }

  // SIGTERM, then SIGKILL if it has not exited within 10 s.
  stop() {
    const proc = this.proc;
    if (!proc) return Promise.resolve();
    this.proc = null;
    return new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
      const timer = setTimeout(() => proc.kill('SIGKILL'), WAIT);
      proc.on('exit', () => { clearTimeout(timer); resolve(); });
      proc.kill('SIGTERM');
    });
  }

  async restart(opts) { await this.stop(); return this.start(opts); }

  async close() {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  // fetch() on the server with an optional bearer token; returns the Response.
  api(path, token, init = {}) {
    const headers = { ...(init.headers || {}) };
    if (token) headers.authorization = 'Bearer ' + token;
    return fetch(this.http + path, { ...init, headers, signal: AbortSignal.timeout(WAIT) });
  }
}
