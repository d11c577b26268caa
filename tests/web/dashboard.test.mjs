// The supervisors' dashboard in a real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core), against the real
// `visitsync serve` on port 0 with a database made by the CLI.
//
//   node --test dashboard.test.mjs   with VISITSYNC_BIN=path/to/visitsync and
//   VISITSYNC_SCREENSHOTS=dir (ctest sets both; tests/web/CMakeLists.txt).
//   VISITSYNC_WEB_DIR=dir serves that folder with --web instead of the
//   embedded files (for development).
//
// Test tablets are tests/web/tablet.py (Python's websockets, §2); every wait
// is bounded. Screenshots of each step, zh and en, desktop and tablet sizes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.VISITSYNC_BIN;
const SHOTS = process.env.VISITSYNC_SCREENSHOTS || join(HERE, 'screenshots');
const WAIT = 10_000; // ms: the longest any one thing may take to show
const PY = process.env.VISITSYNC_PYTHON3 || '/usr/bin/python3';
if (!BIN) throw new Error('set VISITSYNC_BIN to the visitsync binary');

let dir, db, base, browser;
const servers = [];
const tok = {};
const tablets = [];

function cli(...args) {
  return cliOn(db, ...args);
}

function cliOn(path, ...args) {
  return execFileSync(BIN, ['--db', path, ...args], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

// Starts `visitsync serve` on the database at path and resolves with
// "http://127.0.0.1:PORT" from its startup line.
function serve(path) {
  const args = ['--db', path, 'serve', '--listen', '127.0.0.1:0'];
  if (process.env.VISITSYNC_WEB_DIR) args.push('--web', process.env.VISITSYNC_WEB_DIR);
  const server = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(server);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no startup line within 10 s')), WAIT);
    createInterface({ input: server.stdout }).on('line', (line) => {
      const m = line.match(/^visitsync listening on (\S+):(\d+)$/);
      if (m) { clearTimeout(timer); resolve(`http://127.0.0.1:${m[2]}`); }
    });
    server.on('exit', (code) => reject(new Error('visitsync serve exited ' + code)));
  });
}

// A tablet connected over §2 until stop(); cmd() sends one command of tablet.py.
function tablet(device) {
  const p = spawn(PY, [join(HERE, 'tablet.py'), base.replace('http', 'ws') + '/sync', device, tok[device]],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  tablets.push(p);
  const lines = [];
  let waiter = null;
  createInterface({ input: p.stdout }).on('line', (l) => { lines.push(JSON.parse(l)); if (waiter) waiter(); });
  const next = () => new Promise((resolve, reject) => {
    const take = () => { if (lines.length) { waiter = null; clearTimeout(timer); resolve(lines.shift()); } };
    const timer = setTimeout(() => reject(new Error(`tablet ${device}: no answer within 10 s`)), WAIT);
    waiter = take;
    take();
  });
  return {
    welcome: next(),
    async cmd(c) { p.stdin.write(JSON.stringify(c) + '\n'); return next(); },
    stop() { p.stdin.end(); },
  };
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });

async function open(token, viewport = { width: 1280, height: 860 }, at = base) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(at + '/#token=' + encodeURIComponent(token));
  return page;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vs-web-test-'));
  db = join(dir, 'visitsync.db');
  mkdirSync(SHOTS, { recursive: true });
  cli('init');
  cli('grid', 'add', 'g01', '蚬冈村');
  cli('grid', 'add', 'g02', '锦湖村');
  cli('user', 'add', '--id', 'c001', '--name', '李明', '--role', 'cadre', '--grids', 'g01');
  cli('user', 'add', '--id', 'c002', '--name', '王芳', '--role', 'cadre', '--grids', 'g01');
  cli('user', 'add', '--id', 'sup1', '--name', '陈督导', '--role', 'supervisor');
  for (const [dev, user] of [['t-c001', 'c001'], ['t-c002', 'c002']]) tok[dev] = cli('device', 'enroll', '--user', user, '--device', dev);
  tok.sup = cli('token', 'create', '--user', 'sup1');
  // t-old was enrolled 5 days ago and has never synced.
  tok['t-old'] = cli('device', 'enroll', '--user', 'c002', '--device', 't-old');
  execFileSync(PY, ['-c', 'import sqlite3, sys, time\n'
    + 'c = sqlite3.connect(sys.argv[1])\n'
    + 'c.execute("UPDATE devices SET created_ms = ? WHERE id = ?", (int(time.time() * 1000) - 5 * 86400000, "t-old"))\n'
    + 'c.commit()\n', db], { timeout: 30_000 });
  base = await serve(db);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  for (const p of tablets) p.kill();
  if (browser) await browser.close();
  await Promise.all(servers.filter((p) => p.exitCode === null).map((p) => {
    p.kill('SIGTERM');
    return new Promise((r) => { const t = setTimeout(r, 8000); p.on('exit', () => { clearTimeout(t); r(); }); });
  }));
  rmSync(dir, { recursive: true, force: true });
});

test('a sign-in link opens the board and leaves the address bar', async () => {
  const page = await open(tok.sup);
  await page.locator('tr.dev[data-device="t-c001"]').waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).hash, '', 'the token stays in the address bar');
  assert.equal(await page.evaluate(() => localStorage.getItem('visitsync.token')), tok.sup);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.match(await page.locator('#tab-devices').textContent(), /设备/);
  await shot(page, 'signed-in-zh-desktop');
  // A reload signs in from localStorage; signing out forgets the token.
  await page.reload();
  await page.locator('tr.dev').first().waitFor({ timeout: WAIT });
  await page.click('#signout');
  assert.equal(await page.evaluate(() => localStorage.getItem('visitsync.token')), null);
  assert.equal(await page.locator('tr.dev').count(), 0);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

// The race behind a once-flaky sign-out: answers that were on their way when
// the supervisor signed out must not put data back on the page. The first
// /api/status passes (the board shows); every later API answer is held until
// after the click, then let through.
test('signing out drops every answer still on its way', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  const held = [];
  let statusCalls = 0, heldStatus;
  const statusHeld = new Promise((resolve) => { heldStatus = resolve; });
  await page.route(/\/api\//, (route) => {
    const isStatus = new URL(route.request().url()).pathname === '/api/status';
    if (isStatus && ++statusCalls === 1) return route.continue();
    held.push(route);
    if (isStatus) heldStatus();
  });
  await page.goto(base + '/#token=' + encodeURIComponent(tok.sup));
  await page.locator('tr.dev').first().waitFor({ timeout: WAIT });
  // The monitor's welcome makes the page re-read the status: that one is held.
  await Promise.race([statusHeld, new Promise((_, reject) => setTimeout(() => reject(new Error('no second /api/status within 10 s')), WAIT))]);
  await page.click('#signout');
  await page.unroute(/\/api\//);
  // Let the held answers through (one the page aborted has nowhere to go) and
  // wait until each has arrived or failed, then for one more round trip.
  await Promise.all(held.map(async (route) => {
    await route.continue().catch(() => {});
    const res = await route.request().response().catch(() => null);
    if (res) await res.finished();
  }));
  await page.evaluate(() => fetch('/healthz').then((r) => r.json()));
  assert.ok(held.length >= 2, `only ${held.length} answers were held`);
  assert.equal(await page.locator('tr.dev').count(), 0, 'a late answer put devices back after sign-out');
  assert.equal(await page.locator('#fig-records').textContent(), '—');
  assert.match(await page.locator('#signin-msg').textContent(), /已退出登录/);
  assert.equal(await page.locator('#signin').isVisible(), true);
  assert.equal(await page.locator('#live').isHidden(), true);
  assert.deepEqual(page.errors, []);
  await ctx.close();
});

for (const [what, token] of [['an unknown token', () => 'x'.repeat(43)], ["a cadre's device token", () => tok['t-c001']]]) {
  test(`${what} gets the sign-in page and no data`, async () => {
    const page = await open(token());
    await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT });
    assert.match(await page.locator('#signin-msg').textContent(), /令牌无效/);
    assert.equal(await page.locator('#app').isHidden(), true);
    assert.equal(await page.locator('tr.dev').count(), 0);
    assert.equal(await page.locator('#fig-records').textContent(), '—');
    assert.equal(await page.evaluate(() => localStorage.getItem('visitsync.token')), null);
    await shot(page, 'refused-' + (what.includes('cadre') ? 'cadre' : 'unknown'));
    await page.context().close();
  });
}

test('a tablet that never synced needs sync once enrolled over 3 days ago, not before', async () => {
  const page = await open(tok.sup);
  const old = page.locator('tr.dev[data-device="t-old"]');
  const fresh = page.locator('tr.dev[data-device="t-c001"]');
  await old.waitFor({ timeout: WAIT });
  assert.match(await old.textContent(), /从未同步（5 天前注册）/);
  assert.equal(await old.locator('.badge.alert').count(), 1, 't-old is not flagged');
  assert.match(await old.getAttribute('class'), /\bstale\b/);
  assert.match(await fresh.textContent(), /从未同步（刚刚注册）/);
  assert.equal(await fresh.locator('.badge.alert').count(), 0, 't-c001, enrolled just now, is flagged');
  // The rule itself, at its edges: 3 days and a minute is stale, 3 days less a minute is not.
  const verdicts = await page.evaluate(async () => {
    const { isStale, STALE_MS } = await import('/devices.js');
    const now = Date.parse('2026-12-05T10:00:00Z'), iso = (ms) => new Date(ms).toISOString();
    const over = iso(now - STALE_MS - 60e3), under = iso(now - STALE_MS + 60e3);
    return [
      isStale({ enrolled: over }, now), isStale({ enrolled: under }, now),
      isStale({ enrolled: over, revoked: true }, now), isStale({}, now),
      isStale({ enrolled: over, last_pull: under }, now), isStale({ enrolled: under, last_push: over }, now),
      isStale({ enrolled: over, last_pull: iso(now), oldest_pending: over }, now),
    ];
  });
  assert.deepEqual(verdicts, [true, false, false, false, false, true, true]);
  await shot(page, 'never-synced');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a tablet turns online, and a new enrollment appears, without a reload', async () => {
  const page = await open(tok.sup);
  const row = page.locator('tr.dev[data-device="t-c001"]');
  await row.waitFor({ timeout: WAIT });
  assert.equal(await row.locator('.dot.on').count(), 0, 't-c001 online before it connected');
  await page.locator('#live.on').waitFor({ timeout: WAIT });
  const tab = tablet('t-c001');
  assert.equal((await tab.welcome).type, 'welcome');
  await row.locator('.dot.on').waitFor({ timeout: WAIT });
  tok['t-c003'] = cli('device', 'enroll', '--user', 'c001', '--device', 't-c003');
  const added = page.locator('tr.dev[data-device="t-c003"]');
  await added.waitFor({ timeout: WAIT });
  assert.equal(await added.locator('.badge.alert').count(), 0, 'a tablet enrolled just now is flagged');
  await shot(page, 'live-online-enrolled');
  tab.stop();
  await row.locator('.dot.off').waitFor({ timeout: WAIT });
  await page.context().close();
});

test('a conflict resolved by a click reaches a tablet', async () => {
  const a = tablet('t-c001'), b = tablet('t-c002');
  await a.welcome; await b.welcome;
  const now = Date.now();
  const make = await a.cmd({ op: 'push', changes: [{ seq: 1000, collection: 'subjects', id: 's-001', base: 0,
    hlc: [now - 3000, 0], fields: { name: '张三', grid: 'g01', employment: 'unemployed' } }] });
  assert.equal(make.results[0].status, 'applied');
  // Both edit the same field from rev 1: b's later stamp wins, a's value is the loser.
  await a.cmd({ op: 'push', changes: [{ seq: 1001, collection: 'subjects', id: 's-001', base: 1, hlc: [now - 2000, 0], fields: { employment: 'employed' } }] });
  const ack = await b.cmd({ op: 'push', changes: [{ seq: 1, collection: 'subjects', id: 's-001', base: 1, hlc: [now - 1000, 0], fields: { employment: 'unable' } }] });
  assert.equal(ack.results[0].status, 'conflict');

  const page = await open(tok.sup);
  await page.locator('tr.dev').first().waitFor({ timeout: WAIT });
  await page.click('#tab-conflicts');
  const card = page.locator('article.conflict').first();
  await card.waitFor({ timeout: WAIT });
  assert.match(await card.locator('.cand.current .value').textContent(), /无劳动能力/);
  // Candidates name the cadre, not the user id.
  assert.deepEqual(await card.locator('.cand dl dd:first-of-type').allTextContents(), ['李明', '王芳']);
  await shot(page, 'conflict-zh-desktop');
  await card.locator('textarea.reason').fill('电话核实：已在旭峰农牧上班');
  await card.locator('.cand', { hasText: '就业' }).filter({ hasNotText: '当前值' }).locator('button.choose').click();
  await page.locator('article.conflict').waitFor({ state: 'detached', timeout: WAIT });
  await page.locator('#conflict-list .empty').waitFor({ timeout: WAIT });
  await page.click('#show-resolved');
  await page.locator('article.conflict.resolved').waitFor({ timeout: WAIT });
  assert.match(await page.locator('article.conflict.resolved').textContent(), /电话核实/);
  await shot(page, 'conflict-resolved');

  const pulled = await b.cmd({ op: 'pull' });
  const rec = pulled.changes.filter((c) => c.id === 's-001').pop();
  assert.equal(rec.fields.employment, 'employed', 'the tablet did not pull the chosen value');
  a.stop(); b.stop();
  await page.context().close();
});

test('English switch, figures, and no sideways scroll on a tablet', async () => {
  for (const [vw, vh] of [[768, 1024], [1024, 768]]) {
    const page = await open(tok.sup, { width: vw, height: vh });
    await page.locator('tr.dev').first().waitFor({ timeout: WAIT });
    for (const lang of ['zh', 'en']) {
      if (lang === 'en') {
        await page.click('#lang');
        assert.equal(await page.getAttribute('html', 'lang'), 'en');
        assert.equal((await page.locator('#tab-devices').textContent()).trim(), 'Devices');
        assert.equal(await page.evaluate(() => localStorage.getItem('visitsync.lang')), 'en');
      }
      for (const tab of ['devices', 'conflicts', 'report']) {
        await page.click('#tab-' + tab);
        if (tab === 'report') await page.locator('#panel-report svg.gauge').first().waitFor({ timeout: WAIT });
        if (tab === 'conflicts') {
          // The open/resolved switch was drawn before the language changed: it must follow.
          assert.equal((await page.locator('#show-open').textContent()).trim(), lang === 'en' ? 'Open' : '待处理');
          assert.equal((await page.locator('#show-resolved').textContent()).trim(), lang === 'en' ? 'Resolved' : '已处理');
        }
        // The cursor figure is the change-feed position, without the store's epoch.
        assert.match((await page.locator('#fig-cursor').textContent()).trim(), /^[\d,]+$/);
        const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.equal(over, 0, `${vw}x${vh} ${lang} ${tab}: the page scrolls sideways by ${over}px`);
        await shot(page, `${tab}-${lang}-${vw}x${vh}`);
      }
    }
    assert.match(await page.locator('#panel-report').textContent(), /83\.67%/);
    assert.deepEqual(page.errors, []);
    // The choice is remembered: a new page opens in English.
    await page.reload();
    await page.locator('tr.dev').first().waitFor({ timeout: WAIT });
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.click('#lang');
    await page.context().close();
  }
});

// The demo town (`visitsync demo`: 12 grids, 184 cadres with tablets, about
// 200 people and 3,000 visits) in its own database and server, for
// screenshots that look like a real township and for what only shows at that
// size: 12 coverage bars, a long cadre table, a long device list.
test('the demo town: figures, the cadre table and the board at full size', async () => {
  const demoDb = join(dir, 'demo.db');
  cliOn(demoDb, 'init');
  // The table of tokens: USER NAME ROLE GRID DEVICE TOKEN, one person a line.
  const rows = cliOn(demoDb, 'demo').split('\n').map((l) => l.trim().split(/\s+/));
  const sup = rows.find((r) => r[2] === 'supervisor');
  assert.ok(sup, 'visitsync demo printed no supervisor');
  const cadres = rows.filter((r) => r[2] === 'cadre').length;
  const demoBase = await serve(demoDb);
  const token = sup[sup.length - 1];

  for (const [vw, vh, langs, tabs] of [[1280, 860, ['zh', 'en'], ['report']], [1024, 768, ['zh'], ['devices']], [768, 1024, ['zh'], ['report']]]) {
    const page = await open(token, { width: vw, height: vh }, demoBase);
    await page.locator('tr.dev').first().waitFor({ timeout: WAIT });
    assert.equal(await page.locator('tr.dev').count(), cadres, 'one row per tablet');
    for (const lang of langs) {
      if (lang === 'en') await page.click('#lang');
      for (const tab of tabs) {
        await page.click('#tab-' + tab);
        if (tab === 'report') {
          await page.locator('#panel-report svg.gauge').first().waitFor({ timeout: WAIT });
          assert.match(await page.locator('#panel-report .big').first().textContent(), /^\d{1,3}\.\d%$/);
          assert.equal(await page.locator('#panel-report svg.hbars text.label').count(), 12, 'a coverage bar per grid');
          // Every cadre, the ones with most paired people not visited first, in a
          // box that scrolls inside its card rather than a page 184 rows long.
          const table = await page.evaluate(() => {
            const box = document.querySelector('#panel-report .cadres-wrap');
            const rows = [...box.querySelectorAll('tbody tr')].map((tr) => [...tr.cells].map((td) => Number(td.textContent.replace(/,/g, ''))));
            return { rows, scrolls: box.scrollHeight > box.clientHeight + 100, tall: box.getBoundingClientRect().height };
          });
          assert.equal(table.rows.length, cadres, 'a row per cadre');
          // [paired, paired and visited]: most not visited first, then fewest visited.
          const key = (r) => [-(r[1] - r[2]), r[2]];
          const bad = table.rows.findIndex((r, i) => i > 0 && (key(r)[0] - key(table.rows[i - 1])[0] || key(r)[1] - key(table.rows[i - 1])[1]) < 0);
          assert.equal(bad, -1, `cadre row ${bad} is out of the "needs attention first" order`);
          assert.ok(table.scrolls && table.tall <= vh, `the cadre table is ${table.tall}px tall and does not scroll inside its box`);
        }
        const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.equal(over, 0, `${vw}x${vh} ${lang} ${tab}: the page scrolls sideways by ${over}px`);
        await shot(page, `demo-${tab}-${lang}-${vw === 1280 ? '1280' : `${vw}x${vh}`}`);
      }
    }
    if (langs.includes('en')) await page.click('#lang'); // back to zh for the next page
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }

  // A click on a heading sorts the cadres by it; a second click reverses.
  const page = await open(token, undefined, demoBase);
  await page.click('#tab-report');
  const col = (i) => page.$$eval('table.cadres tbody tr', (trs, k) => trs.map((tr) => Number(tr.cells[k].textContent.replace(/,/g, ''))), i);
  const sortedBy = (xs, dir) => xs.every((x, i) => i === 0 || (x - xs[i - 1]) * dir >= 0);
  await page.locator('table.cadres tbody tr').first().waitFor({ timeout: WAIT });
  await page.click('table.cadres button.sort[data-key="visits"]');
  assert.ok(sortedBy(await col(4), 1), 'not sorted by visits, ascending');
  await page.click('table.cadres button.sort[data-key="visits"]');
  const visits = await col(4);
  assert.ok(sortedBy(visits, -1) && visits[0] > visits[visits.length - 1], 'not sorted by visits, descending');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
