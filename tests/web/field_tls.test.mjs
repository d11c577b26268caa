// A trusted origin for the field app (docs/operations.md), in a real headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core) against the
// real `visitsync serve --tls-cert … --tls-key …` on 127.0.0.1, port 0.
//
//   node --test field_tls.test.mjs   with VISITSYNC_BIN=path/to/visitsync and
//   VISITSYNC_SCREENSHOTS=dir (ctest sets both; tests/web/CMakeLists.txt).
//
// The town's own CA, made with openssl as the docs show, signs a certificate
// for sync.xiangang.test; the browser finds that name on loopback through
// --host-resolver-rules and trusts the CA because its HOME holds an NSS
// database (~/.pki/nssdb, made with certutil from libnss3-tools) with the CA
// in it — what installing the CA on a tablet does. A browser without the CA
// must refuse the same address (else the rest would prove nothing). Then:
// signed in from the link, the page is a secure context, the service worker
// is ready, and with the server stopped and the network off a reload still
// opens the app with its data. Last, the same app on plain http under that
// name shows #insecure-notice and still syncs. Every wait is bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { VisitSync } from './lib/server.mjs';
import { show } from './lib/fieldpage.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = process.env.VISITSYNC_SCREENSHOTS || join(HERE, 'screenshots');
const WAIT = 10_000;  // ms: the longest any one thing may take to show
const SYNC = 45_000;  // ms: a change reaches the server (the app's backoff is at most 30 s)
const HOST = 'sync.xiangang.test';
const GRID = 'g01';
const DEVICE = 'tab-c001';       // cadre c001 of g01 in the demo township
const PLAIN_DEVICE = 'tab-c013'; // another cadre of g01, for the plain-http tablet

let vs, tls, trusting;
const browsers = [];
const pages = [];

function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error(`${cmd} is missing: install it (.ci/deps: ${cmd === 'certutil' ? 'libnss3-tools' : cmd})`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

// The town's CA and the server's certificate, as docs/operations.md makes
// them (2048-bit keys here, to be quick): → {ca, cert, key} file names.
function makeCertificates(dir) {
  const f = (name) => join(dir, name);
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-days', '30',
    '-subj', '/CN=Xiangang visitsync test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${HOST}`,
    '-keyout', f('key.pem'), '-out', f('req.csr')]);
  writeFileSync(f('san.ext'), [`subjectAltName=DNS:${HOST}`, 'extendedKeyUsage=serverAuth',
    'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ''].join('\n'));
  run('openssl', ['x509', '-req', '-in', f('req.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-days', '30', '-sha256', '-extfile', f('san.ext'), '-out', f('cert.pem')]);
  assert.match(run('openssl', ['verify', '-CAfile', f('ca.pem'), f('cert.pem')]), /: OK/);
  return { ca: f('ca.pem'), cert: f('cert.pem'), key: f('key.pem') };
}

// A HOME whose NSS database trusts ca (as a CA for servers), or an empty one.
function makeHome(dir, ca) {
  const nssdb = join(dir, '.pki', 'nssdb');
  mkdirSync(nssdb, { recursive: true });
  if (ca) {
    run('certutil', ['-d', 'sql:' + nssdb, '-N', '--empty-password']);
    run('certutil', ['-d', 'sql:' + nssdb, '-A', '-t', 'C,,', '-n', 'Xiangang visitsync test CA', '-i', ca]);
    assert.match(run('certutil', ['-d', 'sql:' + nssdb, '-L']), /Xiangang visitsync test CA\s+C,,/);
  }
  return dir;
}

function launch(home) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    env: { ...process.env, HOME: home },
    args: ['--no-sandbox', `--host-resolver-rules=MAP ${HOST} 127.0.0.1`],
  }).then((b) => { browsers.push(b); return b; });
}

async function open(browser, url) {
  const ctx = await browser.newContext({ viewport: { width: 768, height: 1024 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  pages.push(page);
  await page.goto(url);
  return page;
}

const link = (base, device) =>
  `${base}/field/#device=${device}&token=${encodeURIComponent(vs.demo.devices[device].token)}`;
const shot = (page, name) => page.screenshot({ path: join(SHOTS, 'field-tls-' + name + '.png'), fullPage: true });
const serveTls = () => vs.start({ args: ['--tls-cert', tls.cert, '--tls-key', tls.key] });

// The grid's live records on the server: what the tablet must hold.
function gridCounts() {
  const live = (c) => vs.exportRecords(c).filter((r) => !r.deleted && r.fields.grid === GRID).length;
  return { subjects: live('subjects'), visits: live('visits') };
}

// The records of each collection in the app's IndexedDB (store.js), read
// directly: what a reload with no network has to show.
function storedCounts(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('visitsync-field');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const tx = db.transaction('records');
      const all = tx.objectStore('records').getAll();
      all.onsuccess = () => {
        const n = { subjects: 0, visits: 0 };
        for (const r of all.result) if (r.collection in n && !r.deleted) n[r.collection]++;
        db.close();
        resolve(n);
      };
      all.onerror = () => reject(all.error);
    };
  }));
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  vs = await VisitSync.create({ demo: true });
  tls = makeCertificates(vs.dir);
  await serveTls();
  trusting = await launch(makeHome(join(vs.dir, 'home-ca'), tls.ca));
});

after(async () => {
  for (const b of browsers) await b.close();
  if (vs) await vs.close();
  for (const p of pages) assert.deepEqual(p.errors, [], 'errors on a page');
});

test('a browser without the town CA refuses the address', async () => {
  const untrusting = await launch(makeHome(join(vs.dir, 'home-empty'), null));
  const ctx = await untrusting.newContext();
  const page = await ctx.newPage();
  await assert.rejects(page.goto(`https://${HOST}:${vs.port}/field/`, { timeout: WAIT }), /ERR_CERT_AUTHORITY_INVALID/);
  await ctx.close();
});

test('with the town CA trusted, the app is offline-ready and reopens with no network', async () => {
  const want = gridCounts();
  assert.ok(want.subjects > 0 && want.visits > 0, `the demo grid ${GRID} has people and visits`);
  const page = await open(trusting, link(`https://${HOST}:${vs.port}`, DEVICE));
  assert.equal(await page.evaluate(() => window.isSecureContext && location.protocol), 'https:');
  await page.waitForFunction((n) => document.querySelectorAll('a.subject').length === n, want.subjects, { timeout: WAIT });
  assert.equal(new URL(page.url()).hash, '', 'the token left the address bar');
  assert.equal(await page.locator('#insecure-notice').isHidden(), true);
  // Offline-ready: the worker controls the page and every record of the grid is stored.
  assert.equal(await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active.state)), 'activated');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: WAIT });
  const deadline = Date.now() + WAIT;
  let have;
  while (JSON.stringify(have = await storedCounts(page)) !== JSON.stringify(want) && Date.now() < deadline)
    await page.waitForTimeout(100);
  assert.deepEqual(have, want, 'the grid in IndexedDB');
  await shot(page, '01-online');

  await vs.stop();
  await page.context().setOffline(true);
  await page.reload();
  await page.waitForFunction((n) => document.querySelectorAll('a.subject').length === n, want.subjects, { timeout: WAIT });
  assert.equal(await page.evaluate(() => window.isSecureContext), true);
  assert.deepEqual(await storedCounts(page), want);
  // A person's page still shows their visits.
  const visited = vs.exportRecords('visits').find((v) => !v.deleted && v.fields.grid === GRID).fields.subject;
  await show(page, '#/s/' + visited);
  await page.locator('.visit').first().waitFor({ timeout: WAIT });
  await shot(page, '02-offline-reload');
  await page.context().setOffline(false);
});

test('on plain http under the same name the app says why not offline, and still syncs', async () => {
  await vs.stop();
  await vs.start(); // the same port, without TLS
  const page = await open(trusting, link(`http://${HOST}:${vs.port}`, PLAIN_DEVICE));
  await page.locator('a.subject').first().waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => window.isSecureContext), false);
  assert.equal(await page.evaluate(() => 'serviceWorker' in navigator), false);
  const notice = page.locator('#insecure-notice');
  assert.equal(await notice.isVisible(), true);
  assert.match(await notice.innerText(), new RegExp(`http://${HOST.replace(/\./g, '\\.')}:${vs.port}`));
  // Online it works as on https: a visit recorded here reaches the server.
  const subject = vs.exportRecords('subjects').find((s) => !s.deleted && s.fields.grid === GRID).id;
  const notes = '明文地址上的走访记录（在线）';
  await show(page, '#/s/' + subject);
  await page.click('#new-visit');
  await page.locator('form.record-form').waitFor({ timeout: WAIT });
  await page.click('[data-field="kind"] button[value="home"]');
  await page.fill('#f-notes', notes);
  await page.click('#save');
  await page.locator('#new-visit').waitFor({ timeout: WAIT });
  const deadline = Date.now() + SYNC;
  let found = false;
  while (!(found = vs.exportRecords('visits').some((v) => v.fields.notes === notes && v.fields.subject === subject)) &&
         Date.now() < deadline)
    await page.waitForTimeout(250);
  assert.ok(found, 'the visit recorded over plain http is on the server');
  await shot(page, '03-plain-http');
});
