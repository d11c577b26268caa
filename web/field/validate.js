// validate.js — the server's checks of a change (sync/validate.c), run on the
// tablet before a change is queued, so a cadre hears at once, and in the
// same words, what the server would answer with `rejected` (§2.2, §3, §4).
//
// The order is the server's: bad_id, unknown_collection, unknown_field,
// invalid_field, missing_field, out_of_scope (clock_skew needs the server's
// clock and is left to it). Each message is the server's sentence, byte for
// byte, so the UI can show its translation by code and field and the English
// detail underneath. Values are quoted back as their compact JSON, cut at 48
// bytes on a UTF-8 boundary, and a message is at most 199 bytes, as the
// server's fixed buffers make them. Pure functions; any thread.

const STRING_MAX_CHARS = 200;
const TEXT_MAX_CHARS = 10000;
const ARRAY_DEFAULT_MAX_ITEMS = 100;
const SHOW_MAX = 48;
const MESSAGE_MAX = 199;
const FIELD_MAX = 95;

const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const SHA_RE = /^sha256:[0-9a-f]{64}$/;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: false });

// A refused change: code is the wire code, field the member at fault.
export class FieldError extends Error {
  constructor(code, field, message) {
    super(message);
    this.name = 'FieldError';
    this.code = code;
    this.field = field;
  }
}

// Cuts s to at most max bytes of UTF-8 without splitting a character.
function cutBytes(s, max) {
  const b = utf8.encode(s);
  if (b.length <= max) return s;
  let n = max;
  while (n > 0 && (b[n] & 0xc0) === 0x80) n--;
  return fromUtf8.decode(b.subarray(0, n));
}

function fault(code, field, message) {
  return new FieldError(code, cutBytes(field, FIELD_MAX), cutBytes(message, MESSAGE_MAX));
}

// The value's compact JSON as the server quotes it back.
function show(v) {
  const json = JSON.stringify(v);
  const b = utf8.encode(json);
  if (b.length <= SHOW_MAX) return json;
  return cutBytes(json, SHOW_MAX) + '...';
}

// %g for the small round numbers a schema's "min" holds.
function g(n) {
  return String(Number(n.toPrecision(6)));
}

// Characters as the server counts them: code points.
function chars(s) {
  return [...s].length;
}

function daysIn(y, m) {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

// YYYY-MM-DD, a real calendar day (protocol/time.c).
export function dateValid(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const y = +m[1], mo = +m[2], d = +m[3];
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo);
}

// RFC 3339 with seconds, an optional 1..9 digit fraction, and Z or ±hh:mm.
export function datetimeValid(s) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/.exec(s);
  if (!m || !dateValid(m[1])) return false;
  if (+m[2] > 23 || +m[3] > 59 || +m[4] > 59) return false;
  return m[7] === undefined || (+m[7] <= 23 && +m[8] <= 59);
}

// Whether one non-null value (or array item) breaks its type; label names it
// in the message, field in the fault.
function valueFault(spec, v, field, label) {
  const bad = (msg) => fault('invalid_field', field, `${label}: ${msg}`);
  switch (spec.type) {
  case 'string':
  case 'text': {
    const max = spec.type === 'string' ? STRING_MAX_CHARS : TEXT_MAX_CHARS;
    if (typeof v !== 'string') return bad(`${show(v)} is not a string`);
    const n = chars(v);
    if (n > max) return bad(`is ${n} characters long; a ${spec.type} holds at most ${max}`);
    return null;
  }
  case 'number':
    if (typeof v !== 'number' || !Number.isFinite(v)) return bad(`${show(v)} is not a number`);
    if (typeof spec.min === 'number' && v < spec.min) return bad(`${show(v)} is below the minimum of ${g(spec.min)}`);
    return null;
  case 'bool':
    return typeof v === 'boolean' ? null : bad(`${show(v)} is not true or false`);
  case 'enum':
    if (typeof v === 'string' && (spec.values || []).includes(v)) return null;
    return bad(`${show(v)} is not one of ${cutBytes((spec.values || []).join(', '), 119)}`);
  case 'date':
    return typeof v === 'string' && dateValid(v) ? null : bad(`${show(v)} is not a calendar date written YYYY-MM-DD`);
  case 'datetime':
    return typeof v === 'string' && datetimeValid(v) ? null
      : bad(`${show(v)} is not an RFC 3339 date-time with an offset, like 2026-11-28T09:30:00+08:00`);
  case 'id':
    return typeof v === 'string' && ID_RE.test(v) ? null : bad(`${show(v)} is not an id (1 to 64 of A-Z a-z 0-9 _ - . :)`);
  case 'sha256':
    return typeof v === 'string' && SHA_RE.test(v) ? null
      : bad(`${show(v)} is not "sha256:" followed by 64 lowercase hex digits`);
  case 'array': {
    const max = spec.max_items || ARRAY_DEFAULT_MAX_ITEMS;
    if (!Array.isArray(v)) return bad(`${show(v)} is not an array`);
    if (v.length > max) return bad(`has ${v.length} items; at most ${max} are allowed`);
    if (!spec.items) return null;
    for (let i = 0; i < v.length; i++) {
      const f = valueFault(spec.items, v[i], field, `${label}[${i}]`);
      if (f) return f;
    }
    return null;
  }
  default:
    return bad('the schema gives it a type this server does not know');
  }
}

function carries(fields, name) {
  return Object.prototype.hasOwnProperty.call(fields, name) && fields[name] !== null;
}

// The server's verdict on a change, or null when it would be accepted.
//   schema: the `collections` object of §2.7; me: {user, role, grids};
//   change: {collection, id, base, fields}; stored: whether the record is
//   known here (in the replica or the outbox).
export function checkChange(schema, me, change, stored) {
  const { collection, id, fields } = change;
  const base = change.base || 0;
  // A bad id is refused while the push is read (protocol/parse_push.c), in its words.
  if (typeof id !== 'string') return fault('bad_id', 'id', id == null ? 'id is required' : `id must be a string; got ${show(id)}`);
  if (id === '') return fault('bad_id', 'id', 'id must not be empty');
  if (utf8.encode(id).length > 64) return fault('bad_id', 'id', `id must be 1..64 of A-Z a-z 0-9 _ - . :; got a string of ${utf8.encode(id).length} bytes`);
  if (!ID_RE.test(id)) return fault('bad_id', 'id', `id "${id}" must be 1..64 of A-Z a-z 0-9 _ - . :`);
  const col = schema && Object.prototype.hasOwnProperty.call(schema, collection) ? schema[collection] : null;
  if (!col) {
    return fault('unknown_collection', 'collection', `collection: ${String(collection ?? '(none)').slice(0, 70)} is not a collection of the schema`);
  }
  const specs = col.fields || {};
  const has = (name) => Object.prototype.hasOwnProperty.call(specs, name);
  for (const name of Object.keys(fields)) {
    if (name !== '_deleted' && !has(name)) return fault('unknown_field', name, `${name}: collection ${collection} has no such field`);
  }
  for (const [name, v] of Object.entries(fields)) {
    if (name === '_deleted') {
      if (typeof v !== 'boolean') return fault('invalid_field', name, `${name}: ${show(v)} is not true or false`);
      continue;
    }
    const spec = specs[name];
    if (v === null) {
      if (spec.required || col.scope === name) return fault('invalid_field', name, `${name}: is required and cannot be set to null`);
      continue;
    }
    const f = valueFault(spec, v, name, name);
    if (f) return f;
  }
  const user = me ? me.user : '';
  for (const [name, spec] of Object.entries(specs)) {
    if (carries(fields, name)) continue;
    if (base === 0 && spec.required) return fault('missing_field', name, `${name}: is required when a record is created (base 0)`);
    if (!stored && col.scope === name) {
      return fault('missing_field', name, `${name}: no record ${id} of ${collection} is in the grids of user ${user}, so the change must name its ${name}`);
    }
  }
  if (col.scope && Object.prototype.hasOwnProperty.call(fields, col.scope) && me && me.role === 'cadre') {
    const grid = fields[col.scope];
    if (typeof grid !== 'string' || !(me.grids || []).includes(grid)) {
      return fault('out_of_scope', col.scope, `${col.scope}: grid ${show(grid)} is outside the grids of user ${user}`);
    }
  }
  return null;
}
