// report.js — the programme's figures from /api/report: placement against
// the 83.67% reference, coverage per grid, pairing against the 100% goal,
// assistance by kind with the "four in one" highlighted, visits per week and
// a table per cadre, the cadres needing attention first.
import { h, clear } from './dom.js';
import { t, word, num, pct, when } from './i18n.js';
import { gauge, hbars, vbars } from './charts.js';

const KINDS = ['rehab', 'training', 'placement', 'family', 'fund', 'purchase', 'dibao', 'medical'];

function card(title, note, ...body) {
  return h('section', { class: 'card figure' }, h('h3', null, title), note ? h('p', { class: 'note' }, note) : null, ...body);
}

function big(rate) { return h('p', { class: 'big' }, pct(rate)); }

// The cadre table's order: 'attention' (the most paired people not visited in
// 30 days first) until a heading is clicked; a heading clicked again reverses.
const cadreSort = { key: 'attention', dir: 1 };
const CADRE_COLS = [
  { key: 'name', label: 'col_cadre' },
  { key: 'paired', label: 'col_paired', num: true },
  { key: 'paired_visited_30d', label: 'col_paired_visited', num: true },
  { key: 'visits_30d', label: 'col_visits_30d', num: true },
  { key: 'visits', label: 'col_visits', num: true },
];

const cadreName = (c) => String(c.name || c.user);
const byName = (a, b) => cadreName(a).localeCompare(cadreName(b), 'zh-CN');
const unvisited = (c) => c.paired - c.paired_visited_30d;

function cadreOrder(a, b) {
  const k = cadreSort.key;
  if (k === 'attention') return unvisited(b) - unvisited(a) || a.paired_visited_30d - b.paired_visited_30d || byName(a, b);
  if (k === 'name') return byName(a, b) * cadreSort.dir;
  return (a[k] - b[k]) * cadreSort.dir || byName(a, b);
}

// The table of cadres into box (a .table-wrap that scrolls inside its card);
// a click on a heading re-sorts and redraws only the table.
function cadreTable(box, cadres) {
  const rows = cadres.slice().sort(cadreOrder);
  const head = h('tr', null, CADRE_COLS.map((c) => h('th', {
    scope: 'col', class: c.num ? 'num' : null, title: t('sort_hint'),
    'aria-sort': cadreSort.key === c.key ? (cadreSort.dir > 0 ? 'ascending' : 'descending') : 'none',
  }, h('button', {
    type: 'button', class: 'sort', dataset: { key: c.key },
    onclick: () => {
      cadreSort.dir = cadreSort.key === c.key ? -cadreSort.dir : 1;
      cadreSort.key = c.key;
      cadreTable(box, cadres);
    },
  }, t(c.label), h('span', { class: 'arrow', 'aria-hidden': 'true' },
    cadreSort.key === c.key ? (cadreSort.dir > 0 ? '▲' : '▼') : '')))));
  clear(box).append(h('table', { class: 'cadres' }, h('thead', null, head),
    h('tbody', null, rows.length ? rows.map((c) => h('tr', { dataset: { user: c.user } },
      h('td', { title: c.user }, cadreName(c)), h('td', { class: 'num' }, num(c.paired)),
      h('td', { class: 'num' + (unvisited(c) > 0 ? ' short' : '') }, num(c.paired_visited_30d)),
      h('td', { class: 'num' }, num(c.visits_30d)), h('td', { class: 'num' }, num(c.visits))))
      : h('tr', null, h('td', { colspan: CADRE_COLS.length, class: 'empty' }, t('rep_none'))))));
  return box;
}

export function renderReport(root, r) {
  clear(root);
  if (!r) { root.append(h('p', { class: 'muted' }, t('loading'))); return; }
  const p = r.placement, cov = r.coverage, pair = r.pairing;
  const four = r.assistance.four_in_one || KINDS.slice(0, 4);
  const kinds = four.concat(KINDS.filter((k) => !four.includes(k)));
  const weeks = r.visits_per_week || [];
  const statuses = Object.entries(r.subjects.by_status || {});

  root.append(h('p', { class: 'muted small' }, t('rep_generated', { t: when(r.generated) })));
  const grid = h('div', { class: 'figures-grid' });
  // Cards of like height side by side: the two gauges, the two tall charts
  // (12 grids, 8 kinds), then visits per week beside the people by status.
  grid.append(
    card(t('rep_placement'), t('rep_placement_note', { e: num(p.employed), s: num(p.self_employed), n: num(p.eligible) }),
      big(p.rate), gauge(p.rate, p.reference, t('rep_reference', { p: pct(p.reference, 2) }), t('rep_placement'))),
    card(t('rep_pairing'), t('rep_pairing_note', { p: num(pair.paired), n: num(pair.subjects) }),
      big(pair.rate), gauge(pair.rate, pair.goal, t('rep_goal', { p: pct(pair.goal, 0) }), t('rep_pairing'))),
    card(t('rep_coverage'), t('rep_coverage_note', { v: num(cov.visited_30d), n: num(cov.subjects) }),
      big(cov.rate),
      cov.grids.length ? hbars(cov.grids.map((g) => ({ label: g.name || g.grid, value: g.rate, text: pct(g.rate, 0) })), t('rep_coverage'))
        : h('p', { class: 'muted' }, t('rep_none'))),
    card(t('rep_assistance'), null,
      h('p', { class: 'legend' }, h('span', { class: 'key s0' }), t('rep_all'), ' ', h('span', { class: 'key s1' }), t('rep_30d')),
      vbars(kinds.map((k) => ({ label: word(k), values: [r.assistance.all[k] || 0, r.assistance.last_30d[k] || 0], highlight: four.includes(k) })),
        [t('rep_all'), t('rep_30d')], t('rep_assistance'), { from: 0, to: four.length - 1, text: t('rep_four') })),
    card(t('rep_visits_week'), null,
      vbars(weeks.map((w) => ({ label: w.week_start.slice(5), values: [w.visits] })), [t('rep_visits_week')], t('rep_visits_week'))),
    card(t('rep_status'), t('rep_subjects_total', { n: num(r.subjects.total) }),
      h('ul', { class: 'status-list' }, statuses.map(([k, n]) => h('li', null, h('span', null, word(k)), h('strong', null, num(n)))))),
  );
  const cadres = pair.cadres || [];
  root.append(grid, card(t('rep_cadres'), t('rep_cadres_note', { n: num(cadres.length) }),
    cadreTable(h('div', { class: 'table-wrap cadres-wrap' }), cadres)));
}
