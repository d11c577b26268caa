// field_bench.mjs — the field app in a real headless Chromium (Debian's
// /usr/bin/chromium, driven by tests/web's playwright-core) against the real
// `visitsync serve` on 127.0.0.1, on the demo township (tests/web/lib/server.mjs).
//
//   node bench/field_bench.mjs [--grid g01] [--runs 3] [--changes 1000] [--timeout 120]
//   with VISITSYNC_BIN=path/to/visitsync; the database goes under $TMPDIR.
//
// Two figures, printed as "name: value" lines like bench/run.sh's phases:
//   field_first_sync_ms  from page.goto of a cadre's sign-in link
//                        (/field/#device=…&token=…) in a fresh browser
//                        context until the app is fully offline-ready: its
//                        service worker controls the page and every record
//                        of the grid (subjects and visits, as `visitsync
//                        export` has them) is in IndexedDB. The median of
//                        --runs fresh contexts (each installs the worker and
//                        pulls the grid from cursor 0); each run is printed.
//   field_outbox_N_ms    N new visits saved through the app's data layer
//                        (field.js: validation, the IndexedDB outbox) while
//                        the server is stopped, then, with the server back,
//                        field.syncNow() until status().pending is 0; checked
//                        against `visitsync export`. Also the records/s it
//                        gives and the time the N saves took offline.
// Every wait is bounded by --timeout seconds; exit 1 on any failure.
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const TOP = join(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(TOP, 'tests', 'web', 'package.json'))('playwright-core');
const { VisitSync } = await import(join(TOP, 'tests', 'web', 'lib', 'server.mjs'));

function options(argv) {
  const o = { grid: 'g01', runs: 3, changes: 1000, timeout: 120 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o) || argv[i + 1] === undefined) {
      console.error(`field_bench: usage: field_bench.mjs [--grid ID] [--runs N] [--changes N] [--timeout S] (not '${argv[i]}')`);
      process.exit(2);
    }
    o[k] = k === 'grid' ? argv[i + 1] : Number(argv[i + 1]);
  }
  return o;
}

const opt = options(process.argv.slice(2));
const deadline = () => Date.now() + opt.timeout * 1000;
const say = (s) => console.error('field_bench: ' + s);

// Counts of the app's IndexedDB records (store.js's 'records' store) by collection.
function storedCounts(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const req = indexedDB.open('visitsync-field');
    req.onerror = () => resolve(null);
    req.onsuccess = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('records')) { db.close(); resolve(null); return; }
      const all = db.transaction('records').objectStore('records').getAll();
      all.onsuccess = () => {
        const n = { subjects: 0, visits: 0 };
        for (const r of all.result) if (r.collection in n && !r.deleted) n[r.collection]++;
        db.close();
        resolve(n);
      };
      all.onerror = () => { db.close(); resolve(null); };
    };
  }));
}

// One first sign-in in a fresh context: ms until offline-ready.
async function firstSync(browser, url, want) {
  const ctx = await browser.newContext({ viewport: { width: 768, height: 1024 }, locale: 'zh-CN' });
  try {
    const page = await ctx.newPage();
    const t0 = performance.now();
    await page.goto(url);
    const end = deadline();
    for (;;) {
      const ready = await page.evaluate(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null);
      const have = ready ? await storedCounts(page) : null;
      if (have && have.subjects === want.subjects && have.visits === want.visits) return performance.now() - t0;
      if (Date.now() > end)
        throw new Error(`not offline-ready within ${opt.timeout} s: worker ${ready}, stored ${JSON.stringify(have)}, want ${JSON.stringify(want)}`);
      await page.waitForTimeout(20);
    }
  } finally {
    await ctx.close();
  }
}

// N visits queued with the server down, then synced: {saveMs, syncMs}.
async function outbox(browser, vs, cred, subjects) {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    // The app's page, not signed in (its own instance stays idle); the bench
    // drives a second instance of the data layer on a database of its own.
    await page.goto(vs.http + '/field/');
    await page.evaluate(async ({ cred, ms }) => {
      const { openField } = await import('/field/field.js');
      const f = window.benchField = await openField({ dbName: 'bench-outbox' });
      await f.signIn(cred);
      const end = Date.now() + ms;
      while (!(f.schema && f.me && f.status().lastSyncOk)) {
        if (Date.now() > end) throw new Error('no first sync: ' + f.status().lastError);
        await f.syncNow();
      }
    }, { cred, ms: opt.timeout * 1000 });
    await vs.stop();
    const saveMs = await page.evaluate(async ({ n, subjects, grid }) => {
      const f = window.benchField;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const at = new Date(Date.UTC(2026, 10, 1, 8, 0, 0) + i * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
        await f.save('visits', null, { subject: subjects[i % subjects.length], grid, visited_at: at,
          kind: 'home', notes: `field_bench outbox ${i}` });
      }
      const t = performance.now() - t0;
      // status() follows the outbox a moment later (the facade re-reads it after each change).
      const end = Date.now() + 10_000;
      while (f.status().pending !== n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      if (f.status().pending !== n) throw new Error(`${f.status().pending} pending after ${n} saves`);
      return t;
    }, { n: opt.changes, subjects, grid: opt.grid });
    await vs.start();
    const syncMs = await page.evaluate(async ({ ms }) => {
      const f = window.benchField;
      const t0 = performance.now();
      const end = Date.now() + ms;
      while (f.status().pending > 0) {
        if (Date.now() > end) throw new Error(`${f.status().pending} still pending: ${f.status().lastError}`);
        await f.syncNow();
      }
      const t = performance.now() - t0;
      await f.close();
      return t;
    }, { ms: opt.timeout * 1000 });
    return { saveMs, syncMs };
  } finally {
    await ctx.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let vs, browser, rc = 0;
try {
  vs = await VisitSync.create({ demo: true });
  const cadre = Object.values(vs.demo.users).find((u) => u.role === 'cadre' && u.grid === opt.grid && u.device);
  if (!cadre) throw new Error(`the demo township has no cadre with a tablet in grid ${opt.grid}`);
  const live = (c) => vs.exportRecords(c).filter((r) => !r.deleted && r.fields.grid === opt.grid);
  const subjects = live('subjects').map((s) => s.id);
  const want = { subjects: subjects.length, visits: live('visits').length };
  await vs.start();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const url = `${vs.http}/field/#device=${cadre.device}&token=${encodeURIComponent(cadre.token)}`;
  say(`grid ${opt.grid}: ${want.subjects} subjects, ${want.visits} visits; tablet ${cadre.device} (${cadre.user})`);
  const runs = [];
  for (let i = 0; i < opt.runs; i++) runs.push(await firstSync(browser, url, want));
  console.log(`field_first_sync_runs_ms: ${runs.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`field_first_sync_ms: ${median(runs).toFixed(0)} (grid ${opt.grid}: ${want.subjects} subjects + ${want.visits} visits, median of ${runs.length}, Chromium headless)`);

  const before = vs.exportRecords('visits').length;
  const { saveMs, syncMs } = await outbox(browser, vs, { device: cadre.device, token: cadre.token }, subjects);
  const arrived = vs.exportRecords('visits').filter((v) => /^field_bench outbox \d+$/.test(v.fields.notes || '')).length;
  if (arrived !== opt.changes || vs.exportRecords('visits').length !== before + opt.changes)
    throw new Error(`${arrived} of ${opt.changes} queued visits are on the server`);
  console.log(`field_outbox_save_ms: ${saveMs.toFixed(0)} (${opt.changes} field.save calls offline, ${(saveMs / opt.changes).toFixed(2)} ms each)`);
  console.log(`field_outbox_${opt.changes}_ms: ${syncMs.toFixed(0)} (server back until pending 0)`);
  console.log(`field_outbox_records_per_s: ${(opt.changes / (syncMs / 1000)).toFixed(0)}`);
} catch (e) {
  console.error('field_bench: ' + e.message);
  if (vs) console.error(vs.log().slice(-2000));
  rc = 1;
} finally {
  if (browser) await browser.close();
  if (vs) await vs.close();
}
process.exit(rc);
