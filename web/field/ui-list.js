// ui-list.js — the people of the cadre's grid: the cadre's own paired
// people (subjects.cadre, 点对点帮扶) first, then the others, each with the
// date of the last visit; not visited for 30 days stands out by colour and
// by a label. A search box filters by name. Runs on the page's thread.
import { h } from '../dom.js';
import { t, dateText, collator } from './i18n.js';

const OVERDUE_MS = 30 * 86400e3;
let query = ''; // kept across redraws and visits to a person's page

function overdue(s, now) {
  return !s.lastVisit || now - Date.parse(s.lastVisit) > OVERDUE_MS;
}

function row(s, now) {
  const late = overdue(s, now);
  return h('li', {},
    h('a', { class: 'subject' + (late ? ' overdue' : ''), href: '#/s/' + encodeURIComponent(s.id), dataset: { id: s.id } },
      h('span', { class: 'name' }, s.fields.name || s.id),
      h('span', { class: 'when' },
        s.lastVisit ? t('last_visit', { d: dateText(s.lastVisit) }) : t('never_visited'),
        late ? h('span', { class: 'badge warn' }, t('overdue')) : null,
        s.pending ? h('span', { class: 'badge pend' }, t('pending_mark')) : null)));
}

function group(title, list, now, cls) {
  if (!list.length) return null;
  return h('section', { class: 'group ' + cls },
    h('h2', {}, title, h('span', { class: 'muted small' }, ' · ' + t('count_subjects', { n: list.length }))),
    h('ul', { class: 'subjects' }, list.map((s) => row(s, now))));
}

// Draws the list into main; later calls (a sync brought data, a keystroke
// in the search box) keep the search box and its focus, and redraw only the
// list under it.
export async function renderList(main, { field, stale, redraw }) {
  const all = await field.subjects();
  if (stale()) return;
  const me = field.me?.user;
  const now = Date.now();
  let search = main.querySelector('#search');
  let box = main.querySelector('#subjects');
  if (!search || !box) {
    search = h('input', { id: 'search', type: 'search', placeholder: t('search'), value: query, autocomplete: 'off' });
    box = h('div', { id: 'subjects' });
    search.addEventListener('input', () => { query = search.value; redraw(); });
    main.replaceChildren(h('div', { class: 'searchbar' }, search), box);
  }
  search.placeholder = t('search');
  const q = query.trim().toLowerCase();
  const shown = all.filter((s) => !q || String(s.fields.name || s.id).toLowerCase().includes(q))
    .sort((a, b) => collator.compare(a.fields.name || a.id, b.fields.name || b.id));
  const mine = shown.filter((s) => me && s.fields.cadre === me);
  const others = shown.filter((s) => !(me && s.fields.cadre === me));
  if (!shown.length) {
    box.replaceChildren(h('p', { class: 'empty' }, all.length ? t('no_match', { q: query.trim() }) : t('no_subjects')));
    return;
  }
  box.replaceChildren(group(t('my_subjects'), mine, now, 'mine'), group(t('other_subjects'), others, now, 'others'));
}
