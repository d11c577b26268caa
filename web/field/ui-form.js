// ui-form.js — a form built from the schema the server announced (§2.7):
// one widget per field type (string, text, number, bool and enum as buttons,
// arrays of enum as toggle buttons, date and datetime with the tablet's own
// pickers, photos from the camera shrunk here before they are stored). On
// save only what changed is handed to field.save(), which checks it with the
// server's own rules first; a FieldError is shown at its field, in the
// cadre's language, with the server's English sentence as detail.
// Runs on the page's thread.
import { h } from '../dom.js';
import { t, fieldName, valueName, codeText } from './i18n.js';

const PHOTO_SIDE = 1600;   // px: the long side of a photo as stored
const PHOTO_QUALITY = 0.8; // JPEG quality

const pad = (n) => String(n).padStart(2, '0');

// "2026-11-28T09:30" (a datetime-local value) → RFC 3339 with the tablet's
// offset on that date, e.g. "2026-11-28T09:30:00+08:00".
export function localToRfc3339(local) {
  const d = new Date(local);
  if (!local || Number.isNaN(d.getTime())) return null;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

function rfc3339ToLocal(v) {
  const d = new Date(v);
  if (!v || Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A photo shrunk to at most PHOTO_SIDE on its long side, as a JPEG Blob.
async function shrink(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', PHOTO_QUALITY));
  if (!blob) throw new Error('the canvas made no JPEG');
  return blob;
}

// Buttons of which at most one (multi false) or any number are pressed.
function choices(values, label, current, multi) {
  let picked = multi ? new Set(Array.isArray(current) ? current : []) : current ?? null;
  const box = h('div', { class: 'choices', role: 'group' });
  const draw = () => {
    for (const b of box.children) b.setAttribute('aria-pressed', String(multi ? picked.has(b.value) : picked === b.value));
  };
  for (const v of values) {
    box.append(h('button', { type: 'button', class: 'choice', value: v, onclick: () => {
      if (multi) { if (picked.has(v)) picked.delete(v); else picked.add(v); }
      else picked = picked === v ? null : v; // pressed again: not set
      draw();
    } }, label(v)));
  }
  draw();
  return { el: box, get: () => (multi ? (picked.size ? values.filter((v) => picked.has(v)) : null) : picked) };
}

function photoWidget(field, current) {
  const refs = Array.isArray(current) ? [...current] : [];
  const list = h('div', { class: 'photos' });
  const note = h('p', { class: 'msg', role: 'status' });
  const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, class: 'file', id: 'photo-input' });
  const draw = () => {
    list.replaceChildren(...refs.map((ref) => {
      const slot = h('div', { class: 'photo' }, h('span', { class: 'muted small' }, t('photo_missing')));
      field.photoURL(ref).then((url) => {
        if (url) slot.firstChild.replaceWith(h('img', { src: url, alt: '', onload: () => URL.revokeObjectURL(url) }));
      }, () => {});
      slot.append(h('button', { type: 'button', class: 'plain remove', onclick: () => { refs.splice(refs.indexOf(ref), 1); draw(); } }, t('remove')));
      return slot;
    }));
  };
  input.addEventListener('change', async () => {
    const files = [...input.files];
    input.value = '';
    note.className = 'msg';
    note.textContent = t('photo_adding');
    try {
      for (const f of files) refs.push(await field.addPhoto(await shrink(f), 'image/jpeg'));
      note.textContent = '';
    } catch (e) {
      note.className = 'msg error';
      note.textContent = t('photo_failed', { msg: e.message });
    }
    draw();
  });
  draw();
  return {
    el: h('div', {}, list, h('label', { class: 'button', for: 'photo-input' }, t('add_photo')), input, note),
    get: () => (refs.length ? [...refs] : null),
  };
}

// One widget for a field: {el, get()}; get() is the value, null when not set
// (a number box with letters in it gives NaN, which the checks refuse).
function widget(field, name, def, current, id) {
  const has = current !== undefined && current !== null;
  switch (def.type) {
    case 'bool': {
      const c = choices(['true', 'false'], (v) => t(v === 'true' ? 'yes' : 'no'), has ? String(current) : null, false);
      return { el: c.el, get: () => (c.get() === null ? null : c.get() === 'true') };
    }
    case 'enum':
      return choices(def.values || [], (v) => valueName(name, v), current, false);
    case 'array':
      if (def.items?.type === 'enum') return choices(def.items.values || [], (v) => valueName(name, v), current, true);
      if (def.items?.type === 'sha256') return photoWidget(field, current);
      break;
    default:
      break;
  }
  const attrs = { id, name, autocomplete: 'off' };
  let el;
  if (def.type === 'text' || def.type === 'array') {
    // An array of plain values: one item a line.
    el = h('textarea', { ...attrs, rows: def.type === 'text' ? 4 : 3 });
    el.value = !has ? '' : Array.isArray(current) ? current.join('\n') : String(current);
  } else if (def.type === 'datetime') {
    el = h('input', { ...attrs, type: 'datetime-local' });
    el.value = has ? rfc3339ToLocal(current) : '';
    const now = h('button', { type: 'button', class: 'plain', onclick: () => { el.value = rfc3339ToLocal(new Date()); } }, t('now'));
    return {
      el: h('div', { class: 'row' }, el, now),
      get: () => (el.value ? localToRfc3339(el.value) : null),
    };
  } else {
    const type = { number: 'number', date: 'date' }[def.type] || 'text';
    el = h('input', { ...attrs, type, inputmode: def.type === 'number' ? 'decimal' : null, step: def.type === 'number' ? 'any' : null });
    el.value = has ? String(current) : '';
  }
  return {
    el,
    get: () => {
      const v = el.value.trim();
      if (def.type === 'number') return el.validity.badInput ? NaN : v === '' ? null : Number(v);
      if (def.type === 'array') {
        const items = v.split('\n').map((x) => x.trim()).filter(Boolean);
        return items.length ? items.map((x) => (def.items?.type === 'number' ? Number(x) : x)) : null;
      }
      return v === '' ? null : v;
    },
  };
}

// NaN (letters in a number box) is never "unchanged": the checks must see it.
const same = (a, b) => !Number.isNaN(a) && JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

// Draws the form for one record into main.
//   opts.collection, opts.id (null: a new record), opts.record (the stored
//   {fields} or null), opts.initial (values to start from, e.g. a rejected
//   change's), opts.only (these fields, else every field of the schema),
//   opts.fixed (fields set by the app, not shown: a visit's subject and
//   grid), opts.title, opts.back (where Cancel and a save go), opts.error (a
//   rejected change's {code, field, message}, shown at its field).
export function renderForm(main, { field, go }, opts) {
  const schema = field.schema?.[opts.collection]?.fields;
  const stored = opts.record?.fields || {};
  const start = { ...stored, ...(opts.initial || {}) };
  const fixed = opts.fixed || {};
  if (!opts.id && opts.collection === 'visits' && !start.visited_at) start.visited_at = localToRfc3339(rfc3339ToLocal(new Date()));
  const back = h('a', { class: 'back', href: opts.back }, t('back_subject'));
  if (!schema) {
    main.replaceChildren(back, h('p', { class: 'empty' }, t('never_synced')));
    return;
  }
  const scope = field.schema[opts.collection].scope;
  const names = (opts.only || Object.keys(schema)).filter((n) => schema[n] && !(n in fixed) && n !== scope);
  const widgets = new Map();
  const errors = new Map();
  const rows = names.map((n) => {
    const def = schema[n];
    const id = 'f-' + n;
    const w = widget(field, n, def, start[n], id);
    const err = h('p', { class: 'field-error', role: 'alert', id: 'err-' + n });
    widgets.set(n, w);
    errors.set(n, err);
    const isInput = ['string', 'text', 'number', 'date', 'datetime', 'id'].includes(def.type) || (def.type === 'array' && !['enum', 'sha256'].includes(def.items?.type));
    return h('div', { class: 'field', dataset: { field: n } },
      h(isInput ? 'label' : 'span', { class: 'label' + (def.required ? ' required' : ''), for: isInput ? id : null }, fieldName(n, def)),
      w.el, err);
  });
  const formMsg = h('p', { class: 'msg', role: 'alert', id: 'form-msg' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'save' }, t('save'));
  const form = h('form', { class: 'record-form card', novalidate: true },
    h('h1', {}, opts.title), formMsg, rows,
    h('div', { class: 'row actions-row' }, save, h('a', { class: 'button', href: opts.back }, t('cancel'))));

  const showError = (e) => {
    const at = errors.get(e.field);
    const text = codeText(e.code, e.field, schema[e.field]);
    const detail = e.message ? h('span', { class: 'detail', lang: 'en' }, e.message) : null;
    if (at) {
      at.replaceChildren(text, detail ? h('br') : null, detail);
      at.closest('.field').classList.add('invalid');
      at.closest('.field').scrollIntoView({ block: 'center' });
    }
    formMsg.className = 'msg error';
    formMsg.replaceChildren(at ? t('fix_errors') : text, !at && detail ? h('br') : null, at ? null : detail);
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const el of errors.values()) { el.replaceChildren(); el.closest('.field').classList.remove('invalid'); }
    formMsg.className = 'msg';
    formMsg.textContent = '';
    const changed = {};
    for (const [n, w] of widgets) {
      const v = w.get();
      if (!same(v, stored[n])) changed[n] = v;
    }
    if (!opts.record) for (const [n, v] of Object.entries(fixed)) if (v !== undefined && v !== null) changed[n] = v;
    if (!Object.keys(changed).length && !opts.error) {
      formMsg.textContent = t('nothing_changed');
      return;
    }
    save.disabled = true;
    save.textContent = t('saving');
    try {
      await field.save(opts.collection, opts.record || opts.id ? opts.id : null, changed);
    } catch (e) {
      save.disabled = false;
      save.textContent = t('save');
      if (e && e.code) showError(e);
      else { formMsg.className = 'msg error'; formMsg.textContent = t('err_generic', { msg: e?.message || String(e) }); }
      return;
    }
    go(opts.back);
  });
  main.replaceChildren(back, form);
  if (opts.error) showError(opts.error);
}
