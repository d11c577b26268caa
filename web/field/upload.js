// upload.js — photos (§2.6): their SHA-256 names, and the resumable upload
// of the ones visits name, after the push of a run.
//
// An upload offers the photo (blob_offer → blob_status with the server's
// `have` for this device), then sends binary chunks of 32 raw hash bytes ‖
// 8-byte big-endian offset ‖ at most 256 KiB of data from `have` on, up to
// WINDOW chunks ahead of the server's durable blob_status answers. A lost
// connection fails the run; the next run offers again and resumes from
// the server's `have`. A photo is marked uploaded only on complete:true.
// Runs on the page's thread.

const CHUNK = 262144;
const WINDOW = 4; // chunks sent ahead of the server's answers
const CHUNK_WAIT_MS = 60000;

// "sha256:<hex>" of bytes. crypto.subtle exists only on secure origins (https,
// localhost); on plain http the app still works online, so a small
// SHA-256 in JS stands in.
export async function sha256Hex(bytes) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle) return hex(new Uint8Array(await subtle.digest('SHA-256', bytes)));
  return hex(sha256(new Uint8Array(bytes)));
}

function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

// FIPS 180-4 SHA-256 of msg (a Uint8Array); returns the 32-byte digest.
export function sha256(msg) {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const len = msg.length, total = Math.ceil((len + 9) / 64) * 64;
  const buf = new Uint8Array(total);
  buf.set(msg);
  buf[len] = 0x80;
  const dv = new DataView(buf.buffer);
  dv.setUint32(total - 8, Math.floor(len / 0x20000000));
  dv.setUint32(total - 4, (len * 8) >>> 0);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let at = 0; at < total; at += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(at + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const odv = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) odv.setUint32(i * 4, h[i]);
  return out;
}

// The photos named by visits of the replica or the outbox.
async function named(store) {
  const refs = new Set();
  const add = (fields) => { for (const p of (fields && fields.photos) || []) if (typeof p === 'string') refs.add(p.slice(7)); };
  for (const r of await store.records('visits')) add(r.fields);
  for (const c of await store.outbox()) if (c.collection === 'visits') add(c.fields);
  return refs;
}

// How many local photos named by a visit are not yet uploaded.
export async function photosPending(store) {
  const refs = await named(store);
  return (await store.waitingBlobs()).filter((b) => refs.has(b.sha)).length;
}

// Uploads every pending photo over session s; onProgress after each photo.
export async function uploadAll(s, store, onProgress) {
  const refs = await named(store);
  for (const b of await store.waitingBlobs()) {
    if (!refs.has(b.sha)) continue;
    await uploadOne(s, b);
    await store.markUploaded(b.sha);
    onProgress();
  }
}

function uploadOne(s, b) {
  const bytes = new Uint8Array(b.bytes);
  const raw = new Uint8Array(b.sha.match(/../g).map((x) => parseInt(x, 16)));
  return new Promise((resolve, reject) => {
    let have = 0, sent = 0, timer = null, done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.onBlob = null;
      if (err) reject(err); else resolve();
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new Error(`photo ${b.sha.slice(0, 12)}: no answer within 60 s`)), CHUNK_WAIT_MS);
    };
    const pump = () => {
      while (sent < bytes.length && sent - have < WINDOW * CHUNK) {
        const n = Math.min(CHUNK, bytes.length - sent);
        const msg = new Uint8Array(40 + n);
        msg.set(raw, 0);
        new DataView(msg.buffer).setBigUint64(32, BigInt(sent));
        msg.set(bytes.subarray(sent, sent + n), 40);
        try { s.send(msg); } catch (e) { finish(e); return; }
        sent += n;
      }
      arm();
    };
    s.onBlob = (m) => {
      if (m.type === 'closed') { finish(new Error(`photo ${b.sha.slice(0, 12)}: ${m.message}`)); return; }
      if (m.type === 'error') { finish(new Error(`photo ${b.sha.slice(0, 12)}: ${m.code}: ${m.message}`)); return; }
      if (m.sha256 !== b.sha) return;
      if (m.complete) { finish(); return; }
      have = m.have;
      pump();
    };
    s.request({ type: 'blob_offer', sha256: b.sha, size: bytes.length, mime: b.mime || 'application/octet-stream' }).then((m) => {
      if (m.complete) { finish(); return; }
      have = sent = m.have || 0;
      pump();
    }, finish);
  });
}
