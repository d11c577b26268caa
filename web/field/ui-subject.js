// ui-subject.js — one person's page: their fields, the buttons for a new
// visit and for editing employment and 低保, and their visits newest first
// with the visits' photos. Also the value formatting the form's readers
// share (valueText). Runs on the page's thread.
import { h } from '../dom.js';
import { t, fieldName, valueName, dateText, dateTimeText } from './i18n.js';

// A stored value as a person reads it, by the field's schema type.
export function valueText(name, def, v) {
  if (v === null || v === undefined || v === '') return '—';
  switch (def?.type) {
    case 'bool': return v ? t('yes') : t('no');
    case 'enum': return valueName(name, v);
    case 'datetime': return dateTimeText(v);
    case 'date': return dateText(v + 'T00:00:00');
    case 'array':
      return Array.isArray(v) ? v.map((x) => (def.items?.type === 'enum' ? valueName(name, x) : String(x))).join('、') : String(v);
    default: return String(v);
  }
}

// The photos of a visit: local bytes or the server's, else a placeholder.
function photos(field, refs) {
  const box = h('div', { class: 'photos' });
  for (const ref of refs) {
    const slot = h('div', { class: 'photo' }, h('span', { class: 'muted small' }, t('photo_missing')));
    box.append(slot);
    field.photoURL(ref).then((url) => {
      if (url) slot.replaceChildren(h('img', { src: url, alt: '', onload: () => URL.revokeObjectURL(url) }));
    }, () => {});
  }
  return box;
}

function visitCard(field, schema, v, subjectId) {
  const f = v.fields;
  const skip = new Set(['subject', 'grid', 'visited_at', 'photos']);
  const rows = Object.keys(schema || {}).filter((n) => !skip.has(n) && f[n] !== undefined && f[n] !== null && f[n] !== '')
    .map((n) => h('div', { class: 'kv' }, h('dt', {}, fieldName(n, schema[n])), h('dd', {}, valueText(n, schema[n], f[n]))));
  return h('li', { class: 'visit', dataset: { id: v.id } },
    h('a', { class: 'visit-head', href: `#/s/${encodeURIComponent(subjectId)}/visit/${encodeURIComponent(v.id)}` },
      h('strong', {}, f.visited_at ? dateTimeText(f.visited_at) : '—'),
      v.pending ? h('span', { class: 'badge pend' }, t('pending_mark')) : null),
    h('dl', { class: 'fields' }, rows),
    Array.isArray(f.photos) && f.photos.length ? photos(field, f.photos) : null);
}

export async function renderSubject(main, { field, stale }, id) {
  const [s, visits] = await Promise.all([field.record('subjects', id), field.visitsOf(id)]);
  if (stale()) return;
  if (!s) {
    main.replaceChildren(h('a', { class: 'back', href: '#/' }, t('back')), h('p', { class: 'empty' }, t('not_found')));
    return;
  }
  const sdef = field.schema?.subjects?.fields || {};
  const vdef = field.schema?.visits?.fields || {};
  const names = Object.keys(sdef).length ? Object.keys(sdef) : Object.keys(s.fields);
  const enc = encodeURIComponent(id);
  main.replaceChildren(
    h('a', { class: 'back', href: '#/' }, t('back')),
    h('div', { class: 'subject-head' },
      h('h1', {}, s.fields.name || id, s.pending ? h('span', { class: 'badge pend' }, t('pending_mark')) : null),
      h('div', { class: 'row' },
        h('a', { class: 'button primary', id: 'new-visit', href: `#/s/${enc}/visit` }, t('new_visit')),
        h('a', { class: 'button', id: 'edit-subject', href: `#/s/${enc}/edit` }, t('edit_subject')))),
    h('section', { class: 'card' }, h('h2', {}, t('details')),
      h('dl', { class: 'fields', id: 'subject-fields' }, names.filter((n) => n !== 'name')
        .map((n) => h('div', { class: 'kv', dataset: { field: n } }, h('dt', {}, fieldName(n, sdef[n])), h('dd', {}, valueText(n, sdef[n], s.fields[n])))))),
    h('section', {}, h('h2', {}, t('visits')),
      visits.length ? h('ul', { class: 'visits' }, visits.map((v) => visitCard(field, vdef, v, id))) : h('p', { class: 'empty' }, t('no_visits'))));
}
