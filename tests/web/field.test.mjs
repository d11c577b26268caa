// The field app in a real headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core) against the real `visitsync serve` on port 0,
// on the demo township (grid g01: tablets tab-c001, tab-c013, tab-c025).
//
//   node --test field.test.mjs   with VISITSYNC_BIN=path/to/visitsync and
//   VISITSYNC_SCREENSHOTS=dir (ctest sets both; tests/web/CMakeLists.txt).
//   VISITSYNC_WEB_DIR=dir serves that folder with --web (for development).
//
// One tablet's day, in order: signed in from the link, offline-ready, the
// server gone and the network off, a reload that still shows the grid, three
// visits (one with a photo) and an edit offline, everything acked and in
// `visitsync export` once the server is back; then a conflict with a second
// tablet, a change the server refuses, a photo upload cut midway, English,
// sizes, signing out, refused tokens, and plain http. Every wait is bounded.
// Screenshots of each step, zh and en, tablet and phone sizes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, crc32 } from 'node:zlib';
import { chromium } from 'playwright-core';
import { VisitSync } from './lib/server.mjs';
import { show } from './lib/fieldpage.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIELD_DIR = join(HERE, '..', '..', 'web', 'field');
const SHOTS = process.env.VISITSYNC_SCREENSHOTS || join(HERE, 'screenshots');
const WAIT = 10_000;  // ms: the longest any one thing may take to show
const SYNC = 45_000;  // ms: automatic sync after the network is back (backoff is at most 30 s)
const TABLET = { width: 768, height: 1024 };
const LANDSCAPE = { width: 1024, height: 768 };
const PHONE = { width: 390, height: 844 };
// A host name that is not localhost, mapped to the loopback server: plain
// http there is not a secure context.
const PLAIN_HOST = 'town-server.test';

let vs, browser, sup;
const A = {}; // tablet tab-c001 (cadre c001), the tablet the story follows
const pages = [];

const shot = (page, name) => page.screenshot({ path: join(SHOTS, 'field-' + name + '.png') });
const text = (page, sel) => page.locator(sel).first().innerText({ timeout: WAIT });

async function open(url, viewport = TABLET, opts = {}) {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...opts });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  pages.push(page);
  await page.goto(url);
  return page;
}

function link(base, device) {
  return `${base}/field/#device=${device}&token=${encodeURIComponent(vs.demo.devices[device].token)}`;
}

// Waits until the sync bar says nothing is pending and a sync succeeded.
async function synced(page, timeout = SYNC) {
  await page.waitForFunction(() => {
    const p = document.getElementById('pending');
    return p && !p.classList.contains('has') && /\d/.test(p.textContent) && document.getElementById('photos').hidden
      && !/尚未同步|Never synced/.test(document.getElementById('last-sync').textContent)
      && !/正在同步|Syncing/.test(document.getElementById('conn-text').textContent);
  }, null, { timeout });
}

// Waits until the sync bar shows n changes pending.
async function pending(page, n) {
  await page.waitForFunction((n) => Number(document.getElementById('pending').textContent.match(/\d+/)?.[0]) === n, n, { timeout: WAIT });
}

// A width × height PNG of random pixels (so that its JPEG stays large):
// the "camera photo" of the upload tests.
function noisePng(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let x = 0x2545f491;
  for (let i = 0; i < raw.length; i++) {
    if (i % (width * 3 + 1) === 0) { raw[i] = 0; continue; }
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    raw[i] = x & 0xff;
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}

// Records a visit from a person's page with the form: kind, assistance and
// notes, and photos when given. Returns to the person's page.
async function recordVisit(page, subjectId, { kind, assistance = [], notes, photos = [] }) {
  await show(page, '#/s/' + subjectId);
  await page.click('#new-visit');
  await page.locator('form.record-form').waitFor({ timeout: WAIT });
  if (kind) await page.click(`[data-field="kind"] button[value="${kind}"]`);
  for (const a of assistance) await page.click(`[data-field="assistance"] button[value="${a}"]`);
  await page.fill('#f-notes', notes);
  for (const p of photos) {
    const before = await page.locator('.field[data-field="photos"] .photo').count();
    await page.setInputFiles('#photo-input', p);
    await page.waitForFunction((n) => document.querySelectorAll('.field[data-field="photos"] .photo img').length > n, before, { timeout: WAIT });
  }
  await page.click('#save');
  await page.locator('#new-visit').waitFor({ timeout: WAIT });
}

// A §2 client in a page of the server's origin (Node 20 has no WebSocket):
// hello, one push, the ack's results.
async function pushAs(page, device, token, changes) {
  return page.evaluate(async ({ device, token, changes }) => {
    const ws = new WebSocket(location.origin.replace('http', 'ws') + '/sync', 'visitsync.v1');
    const msgs = [];
    const next = () => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer')), 10000);
      const take = () => { if (msgs.length) { clearTimeout(t); resolve(msgs.shift()); } else setTimeout(take, 20); };
      take();
    });
    ws.onmessage = (e) => msgs.push(JSON.parse(e.data));
    await new Promise((r, j) => { ws.onopen = r; ws.onerror = () => j(new Error('ws failed')); });
    ws.send(JSON.stringify({ type: 'hello', device, token, app: 'test/1' }));
    const welcome = await next();
    if (welcome.type !== 'welcome') throw new Error(JSON.stringify(welcome));
    const hlc = [welcome.time, 0];
    ws.send(JSON.stringify({ type: 'push', req: 'p', changes: changes.map((c, i) => ({ seq: (welcome.seq || 0) + 1 + i, hlc, ...c })) }));
    const ack = await next();
    ws.close();
    return ack;
  }, { device, token, changes });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  vs = await VisitSync.create({ demo: true });
  sup = vs.token('sup01');
  // A cadre of two grids, who moves a person from g01 to g02 (the rejected-change test).
  vs.cli('user', 'add', '--id', 'cmove', '--name', '调动员', '--role', 'cadre', '--grids', 'g01,g02');
  vs.demo.devices['tab-move'] = { token: vs.enroll('cmove', 'tab-move') };
  await vs.start();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', `--host-resolver-rules=MAP ${PLAIN_HOST} 127.0.0.1`],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (vs) await vs.close();
  for (const p of pages) assert.deepEqual(p.errors, [], 'errors on a page');
});

test('the service worker caches every file of the app', async () => {
  const src = readFileSync(join(FIELD_DIR, 'sw.js'), 'utf8');
  const shell = JSON.parse(src.match(/const SHELL = (\[[^\]]*\])/)[1].replace(/'/g, '"').replace(/,\s*\]/, ']'));
  const files = readdirSync(FIELD_DIR).filter((f) => f !== 'sw.js' && !f.startsWith('.'));
  for (const f of files) assert.ok(shell.includes(f), `sw.js SHELL lacks ${f}: the app would not open offline`);
  for (const f of shell.filter((x) => x !== './' && !x.startsWith('../'))) assert.ok(files.includes(f), `sw.js SHELL names ${f}, which is not in web/field/`);
  // Every import of the app's modules is in the list too (e.g. ../dom.js).
  for (const f of files.filter((x) => x.endsWith('.js'))) {
    for (const m of readFileSync(join(FIELD_DIR, f), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)) {
      assert.ok(shell.includes(m[1].replace(/^\.\//, '')), `${f} imports ${m[1]}, which sw.js does not cache`);
    }
  }
  // The cache is named by the files' digest, so tablets notice every change.
  const digest = createHash('sha256');
  for (const f of shell.filter((x) => x !== './')) {
    digest.update(f + '\n');
    digest.update(readFileSync(join(FIELD_DIR, f)));
    digest.update('\n');
  }
  const name = `visitsync-field-${digest.digest('hex').slice(0, 12)}`;
  assert.ok(src.includes(`const CACHE = '${name}';`),
    `web/field changed since sw.js named its cache: set CACHE to '${name}' so tablets take the new files`);
  for (const f of shell) {
    const res = await fetch(new URL(f, vs.http + '/field/'));
    assert.equal(res.status, 200, `GET /field/${f}`);
  }
  const manifest = await (await fetch(vs.http + '/field/manifest.webmanifest')).json();
  assert.equal(manifest.start_url, '/field/');
  assert.equal(manifest.scope, '/field/');
  assert.equal(manifest.display, 'standalone');
  assert.deepEqual(manifest.icons.map((i) => i.sizes).sort(), ['192x192', '512x512', 'any']);
});

test('a sign-in link shows the grid, mine first, and leaves the address bar', async () => {
  const page = A.page = await open(link(vs.http, 'tab-c001'));
  await page.locator('a.subject').first().waitFor({ timeout: WAIT });
  assert.equal(new URL(page.url()).hash, '', 'the token stays in the address bar');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  // The grid's people: c001's own first, then the others; all of g01.
  const subjects = vs.exportRecords('subjects').filter((s) => !s.deleted && s.fields.grid === 'g01');
  await page.waitForFunction((n) => document.querySelectorAll('a.subject').length === n, subjects.length, { timeout: WAIT });
  const mine = subjects.filter((s) => s.fields.cadre === 'c001').map((s) => s.id).sort();
  assert.ok(mine.length > 0, 'the demo pairs c001 with someone');
  assert.deepEqual((await page.locator('.group.mine a.subject').evaluateAll((as) => as.map((a) => a.dataset.id))).sort(), mine);
  assert.equal(await page.locator('.group').first().getAttribute('class'), 'group mine');
  // Not visited for 30 days: a label, not only a colour.
  for (const el of await page.locator('a.subject.overdue').all()) assert.match(await el.innerText(), /超过 30 天未走访|从未走访/);
  // Offline-ready: the service worker controls the page and the data is in.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: WAIT });
  await synced(page);
  assert.equal(await page.locator('#insecure-notice').isHidden(), true);
  await shot(page, '01-list-zh-tablet');
  A.mine = mine;
  A.subjects = subjects;
  // Search by name.
  const name = subjects.find((s) => s.id === mine[0]).fields.name;
  await page.fill('#search', name);
  await page.waitForFunction((n) => [...document.querySelectorAll('a.subject .name')].every((e) => e.textContent.includes(n)), name, { timeout: WAIT });
  await page.fill('#search', '');
});

test('with the server gone and the network off, a reload still shows the grid', async () => {
  const page = A.page;
  await vs.stop();
  await page.context().setOffline(true);
  await page.reload();
  await page.waitForFunction((n) => document.querySelectorAll('a.subject').length === n, A.subjects.length, { timeout: WAIT });
  assert.match(await text(page, '#conn-text'), /离线|正在连接/);
  await shot(page, '02-offline-reload-zh');
});

test('three visits and an edit offline wait in the outbox', async () => {
  const page = A.page;
  const [s1, s2, s3] = [A.mine[0], ...A.subjects.map((s) => s.id).filter((id) => id !== A.mine[0]).slice(0, 2)];
  A.s1 = s1;
  A.photo = join(FIELD_DIR, 'icon-512.png');
  await recordVisit(page, s1, { kind: 'home', assistance: ['training', 'placement'], notes: '离线走访一：已推荐到镇上工厂面试', photos: [A.photo] });
  await page.locator('.visit .photo img').first().waitFor({ timeout: WAIT });
  await shot(page, '03-subject-with-visit-zh');
  await recordVisit(page, s2, { kind: 'phone', notes: '离线走访二：电话了解近况' });
  await recordVisit(page, s3, { kind: 'workplace', assistance: ['rehab'], notes: '离线走访三：到工作单位回访' });
  // The edit, with the server's rule checked first: income ≥ 0.
  await show(page, '#/s/' + s1);
  await page.click('#edit-subject');
  await page.click('[data-field="employment"] button[value="employed"]');
  await page.fill('#f-employer', '蚬冈镇服装厂');
  await page.fill('#f-income', '-5');
  await page.click('#save');
  await page.locator('#err-income').filter({ hasText: '月收入' }).waitFor({ timeout: WAIT });
  assert.match(await text(page, '#err-income'), /不符合要求/);
  await shot(page, '04-edit-invalid-zh');
  await page.fill('#f-income', '3200');
  await page.click('#save');
  await page.locator('#new-visit').waitFor({ timeout: WAIT });
  assert.match(await text(page, '[data-field="employer"] dd'), /蚬冈镇服装厂/);
  await pending(page, 4);
  assert.equal(await page.locator('#photos').isVisible(), true, 'the photo waits too');
  await page.locator('.visit .photo img').first().waitFor({ timeout: WAIT });
  await shot(page, '05-pending-offline-zh');
});

test('back online, the outbox is acked and in the export without touching the app', async () => {
  const page = A.page;
  await vs.start();
  await page.context().setOffline(false);
  await synced(page);
  const visits = vs.exportRecords('visits');
  for (const n of ['离线走访一', '离线走访二', '离线走访三']) {
    assert.equal(visits.filter((v) => (v.fields.notes || '').startsWith(n)).length, 1, `${n} in the export`);
  }
  const v1 = visits.find((v) => (v.fields.notes || '').startsWith('离线走访一'));
  assert.equal(v1.fields.subject, A.s1);
  assert.deepEqual(v1.fields.assistance, ['training', 'placement']);
  assert.match(v1.fields.visited_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
  assert.equal(v1.fields.photos.length, 1);
  const s1 = vs.exportRecords('subjects').find((s) => s.id === A.s1);
  assert.equal(s1.fields.employer, '蚬冈镇服装厂');
  assert.equal(s1.fields.income, 3200);
  assert.equal(s1.fields.employment, 'employed');
  // The photo reached the server whole, shrunk as a JPEG.
  const res = await vs.api('/blobs/' + v1.fields.photos[0].slice(7), sup);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/jpeg');
  await shot(page, '06-synced-zh');
});

test('two tablets edit the same field: one conflict, the same merged value on both', async () => {
  const a = A.page;
  const b = A.b = await open(link(vs.http, 'tab-c013'), LANDSCAPE);
  await synced(b);
  await vs.stop();
  for (const [page, value] of [[a, '甲平板：镇服装厂'], [b, '乙平板：江门电子厂']]) {
    await show(page, '#/s/' + A.s1 + '/edit');
    await page.fill('#f-employer', value);
    await page.click('#save');
    await page.locator('#new-visit').waitFor({ timeout: WAIT });
  }
  await vs.start();
  for (const page of [a, b]) await page.click('#sync');
  await synced(a);
  await synced(b);
  const open_ = await (await vs.api('/api/conflicts?status=open', sup)).json();
  const list = open_.conflicts || open_;
  assert.equal(list.filter((c) => c.record === A.s1 || c.id === A.s1 || JSON.stringify(c).includes(A.s1)).length, 1, 'one conflict logged');
  // Whichever tablet pushed second was told; after the next pull both show the winner.
  const stored = vs.exportRecords('subjects').find((s) => s.id === A.s1).fields.employer;
  for (const page of [a, b]) {
    await page.click('#sync');
    await synced(page);
    await show(page, '#/s/' + A.s1);
    await page.locator('[data-field="employer"] dd').filter({ hasText: stored }).waitFor({ timeout: WAIT });
  }
  const told = [];
  for (const page of [a, b]) if (await page.locator('.conflict-item').count()) told.push(page);
  assert.equal(told.length, 1, 'one tablet shows the conflict');
  assert.match(await told[0].locator('.conflict-item').first().innerText(), /与其他平板的修改冲突，已按规则合并/);
  await shot(told[0], '07-conflict-zh');
});

test('a change the server refuses is shown with its message and a way to correct it', async () => {
  // An honest refusal the app cannot foresee: while tab-c001 is offline, a
  // person of its grid is moved to another grid; its edit of that person
  // then arrives out of scope.
  const page = A.page;
  const moved = A.subjects.map((s) => s.id).find((id) => id !== A.s1 && !A.mine.includes(id));
  await vs.stop();
  await page.context().setOffline(true);
  await vs.start();
  const mover = await open(vs.http + '/healthz');
  const ack = await pushAs(mover, 'tab-move', vs.demo.devices['tab-move'].token,
    [{ collection: 'subjects', id: moved, base: 1, fields: { grid: 'g02' } }]);
  assert.notEqual(ack.results[0].status, 'rejected', JSON.stringify(ack));
  await show(page, '#/s/' + moved + '/edit');
  await page.click('[data-field="dibao"] button[value="applied"]');
  await page.click('#save');
  await page.locator('#new-visit').waitFor({ timeout: WAIT });
  await page.context().setOffline(false);
  await page.click('#sync');
  const item = page.locator('.rejected-item').first();
  await item.waitFor({ timeout: SYNC });
  assert.match(await item.innerText(), /已不在您负责的网格内/);
  assert.match(await item.innerText(), /服务器说明：\S/);
  await shot(page, '08-rejected-zh');
  await item.locator('a.button').click();
  await page.locator('form.record-form .msg.error').waitFor({ timeout: WAIT });
  await shot(page, '09-rejected-fix-zh');
  await show(page, '#/');
  await page.locator('.rejected-item button.plain').first().click();
  await page.locator('.rejected-item').waitFor({ state: 'detached', timeout: WAIT });
  // The moved person has left this tablet's list with the next pull.
  await page.locator(`a.subject[data-id="${moved}"]`).waitFor({ state: 'detached', timeout: SYNC });
});

test('a photo upload cut midway resumes where it stopped', async () => {
  // The tablet's WebSocket goes through Playwright (routeWebSocket), which
  // passes every message on and breaks the link right after the second
  // photo chunk has reached the server, as a village's network would.
  const offsets = [];
  let cuts = 0;
  const ctx = await browser.newContext({ viewport: PHONE, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  await ctx.routeWebSocket(/\/sync$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((msg) => {
      server.send(msg);
      if (typeof msg === 'string') return;
      offsets.push(Number(Buffer.from(msg).readBigUInt64BE(32)));
      if (offsets.length === 2 && cuts++ === 0) setTimeout(() => { server.close(); ws.close({ code: 4000, reason: 'cut' }); }, 50);
    });
    server.onMessage((msg) => ws.send(msg));
  });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  pages.push(page);
  await page.goto(link(vs.http, 'tab-c025'));
  await synced(page);
  const photo = { name: 'camera.png', mimeType: 'image/png', buffer: noisePng(2400, 1800) };
  await recordVisit(page, A.s1, { kind: 'home', notes: '大照片走访', photos: [photo] });
  await shot(page, '10-photo-phone-zh');
  // The server gets the visit, then the whole photo, with no help.
  const deadline = Date.now() + 60_000;
  let visit, res;
  while (Date.now() < deadline) {
    visit = visit || vs.exportRecords('visits').find((v) => v.fields.notes === '大照片走访');
    if (visit) {
      res = await vs.api('/blobs/' + visit.fields.photos[0].slice(7), sup);
      if (res.status === 200) break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(res?.status, 200, 'the photo reached the server within 60 s');
  assert.equal(cuts, 1, `the link was cut during the upload (chunks at ${offsets})`);
  const cutAt = offsets[1];
  const after = offsets.slice(2);
  assert.ok(after.length > 0, 'chunks after the cut');
  assert.ok(after[0] > 0 && after[0] >= cutAt, `resumed at ${after[0]}, not from 0 (cut after offset ${cutAt})`);
  await synced(page);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.ok(bytes.length > 262144, `a photo of several chunks (${bytes.length} bytes)`);
  assert.ok(bytes.length < photo.buffer.length, 'shrunk on the tablet');
  A.uploadPage = page;
});

test('English on a switch, remembered; large targets; no sideways scroll', async () => {
  const page = A.page;
  await show(page, '#/');
  await page.click('#lang');
  assert.equal(await text(page, '#sync'), 'Sync');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.reload();
  await page.locator('a.subject').first().waitFor({ timeout: WAIT });
  assert.equal(await text(page, '#sync'), 'Sync', 'the language is remembered');
  for (const [name, size] of [['tablet', TABLET], ['landscape', LANDSCAPE], ['phone', PHONE]]) {
    await page.setViewportSize(size);
    for (const [view, hash] of [['list', '#/'], ['subject', '#/s/' + A.s1], ['visit', '#/s/' + A.s1 + '/visit']]) {
      await show(page, hash);
      await page.locator(view === 'visit' ? 'form.record-form' : view === 'list' ? 'a.subject' : '#new-visit').first().waitFor({ timeout: WAIT });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, `${view} at ${name}: ${wide} px of sideways scroll`);
      const small = await page.evaluate(() => [...document.querySelectorAll('button, a.button, a.subject, label.button, input:not(.file), textarea')]
        .filter((e) => e.offsetParent !== null)
        .map((e) => [e.id || e.textContent.trim().slice(0, 20), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 48));
      assert.deepEqual(small, [], `${view} at ${name}: touch targets under 48 px`);
      await shot(page, `11-${view}-en-${name}`);
    }
  }
  await page.click('#lang');
  await page.setViewportSize(PHONE);
  await show(page, '#/s/' + A.s1);
  await shot(page, '12-subject-zh-phone');
  await page.setViewportSize(TABLET);
});

test('signing out names what would be lost, and forgets everything', async () => {
  const page = A.b;
  await vs.stop();
  await show(page, '#/s/' + A.s1 + '/edit');
  await page.fill('#f-employer', '未上传的修改');
  await page.click('#save');
  await page.locator('#new-visit').waitFor({ timeout: WAIT });
  await pending(page, 1);
  await page.click('#signout');
  const dialog = page.locator('#signout-dialog');
  await dialog.waitFor({ timeout: WAIT });
  assert.match(await dialog.innerText(), /还有 1 条修改没有上传/);
  assert.match(await dialog.innerText(), new RegExp(A.subjects.find((s) => s.id === A.s1).fields.name));
  await shot(page, '13-signout-confirm-zh');
  await page.click('#signout-dialog button[value="cancel"]');
  assert.equal(await page.locator('a.subject, #new-visit').first().isVisible(), true, 'cancel keeps the data');
  await page.click('#signout');
  await page.click('#signout-ok');
  await page.locator('#signin-form').waitFor({ timeout: WAIT });
  await vs.start();
  await page.reload();
  await page.locator('#signin-form').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('a.subject').count(), 0);
  // What is left in IndexedDB: nothing but empty stores.
  const left = await page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    let n = 0;
    for (const name of names) {
      const db = await new Promise((r, j) => { const q = indexedDB.open(name); q.onsuccess = () => r(q.result); q.onerror = j; });
      for (const s of db.objectStoreNames) {
        n += await new Promise((r) => { const q = db.transaction(s).objectStore(s).count(); q.onsuccess = () => r(q.result); });
      }
      db.close();
    }
    return n;
  });
  assert.equal(left, 0, 'the local data is deleted');
});

test('a wrong or revoked token shows the sign-in page, never data', async () => {
  const bad = await open(`${vs.http}/field/#device=tab-c001&token=not-a-token`, PHONE);
  await bad.locator('#signin-msg').filter({ hasText: '令牌无效或已被撤销' }).waitFor({ timeout: WAIT });
  assert.equal(await bad.locator('a.subject').count(), 0);
  await shot(bad, '14-signin-bad-zh-phone');
  // tab-c025 is revoked while it is open.
  const page = A.uploadPage;
  vs.revoke('tab-c025');
  await page.locator('#signin-msg').filter({ hasText: '令牌无效或已被撤销' }).waitFor({ timeout: SYNC });
  assert.equal(await page.locator('a.subject').count(), 0);
  // The sign-in form: paste the device id and the token.
  const form = await open(vs.http + '/field/', TABLET);
  await form.locator('#signin-form').waitFor({ timeout: WAIT });
  await form.click('#lang');
  await shot(form, '15-signin-en');
  await form.fill('#device-input', 'tab-c013');
  await form.fill('#token-input', vs.demo.devices['tab-c013'].token);
  await form.click('#signin-form button[type="submit"]');
  await form.locator('a.subject').first().waitFor({ timeout: WAIT });
});

test('on plain http away from localhost the app works online and says why not offline', async () => {
  vs.demo.devices['tab-plain'] = { token: vs.enroll('c013', 'tab-plain') };
  const page = await open(link(`http://${PLAIN_HOST}:${vs.port}`, 'tab-plain'), TABLET);
  await page.locator('a.subject').first().waitFor({ timeout: WAIT });
  const notice = page.locator('#insecure-notice');
  assert.equal(await notice.isVisible(), true);
  assert.match(await notice.innerText(), /不是受信任的安全地址.*管理员/s);
  assert.equal(await page.evaluate(() => window.isSecureContext), false);
  await shot(page, '16-insecure-zh');
});
