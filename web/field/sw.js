// sw.js — the field app's service worker (scope /field/): it keeps every
// file the app needs in a cache from the install on, and answers from that
// cache first, so the app opens on a tablet with no network at all. Data
// never goes through here: the records live in IndexedDB and sync over the
// WebSocket, and photos (/blobs/…) go to the network.
//
// A new version of the app reaches tablets because the server sends sw.js
// with Cache-Control: no-cache and the browser compares it byte for byte:
// CACHE is named by a digest of the SHELL files (SHA-256 over each name, a
// newline, its bytes and a newline, in SHELL order without './'; the first
// 12 hex digits), so any change of the app changes this file too. The new
// worker caches the new files at install and deletes the old caches once
// it is active. tests/web/field.test.mjs checks that SHELL names every file
// of web/field/ and recomputes the digest: a change without a new CACHE
// fails there, with the name to write.

const CACHE = 'visitsync-field-25193792eea6';

// Relative to this file (/field/); '../dom.js' is the helper shared with the dashboard.
const SHELL = [
  './',
  'index.html',
  'app.js',
  'ui-list.js',
  'ui-subject.js',
  'ui-form.js',
  'i18n.js',
  'style.css',
  'manifest.webmanifest',
  'icon.svg',
  'icon-192.png',
  'icon-512.png',
  'field.js',
  'store.js',
  'sync.js',
  'hlc.js',
  'validate.js',
  'upload.js',
  '../dom.js',
];

const shellURLs = new Set(SHELL.map((p) => new URL(p, self.location).href));

self.addEventListener('install', (event) => {
  // cache: 'reload' skips the browser's HTTP cache, so the files are this version's.
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(SHELL.map((p) => new Request(p, { cache: 'reload' }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('visitsync-field-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The app's own files, and any page of /field/ (the sign-in link's hash
// never reaches here; a query such as ?x is ignored), come from the cache;
// everything else is left to the network.
self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  url.search = '';
  url.hash = '';
  const page = req.mode === 'navigate' && url.pathname.startsWith(new URL('./', self.location).pathname);
  if (!page && !shellURLs.has(url.href)) return;
  const key = page ? new URL('./', self.location).href : url.href;
  event.respondWith(caches.open(CACHE)
    .then((cache) => cache.match(key))
    .then((hit) => hit || fetch(req)));
});
