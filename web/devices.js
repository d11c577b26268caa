// devices.js — the devices board: every tablet's sync health, sortable by any
// column, filtered by grid and by a text search on device and cadre.
import { h, clear } from './dom.js';
import { t, ago, duration, num, getLang } from './i18n.js';

const DAY = 86400e3;
export const STALE_MS = 3 * DAY;   // "needs sync" after 3 days without a sync (or since enrolment)
export const SKEW_WARN_MS = 60e3;  // a clock more than a minute off is flagged

const view = { sort: 'device', dir: 1, grid: '', query: '' };

function ms(iso) { const v = iso ? Date.parse(iso) : NaN; return Number.isNaN(v) ? null : v; }

export function lastSync(d) {
  const a = ms(d.last_push), b = ms(d.last_pull);
  return a === null ? b : b === null ? a : Math.max(a, b);
}

// Why a device needs attention: not synced for 3 days, holding a change
// older than 3 days, or never synced though enrolled more than 3 days ago
// (one enrolled a minute ago is not flagged). A revoked device never does.
export function isStale(d, now) {
  if (d.revoked) return false;
  const since = lastSync(d) ?? ms(d.enrolled), oldest = ms(d.oldest_pending);
  return (since !== null && now - since > STALE_MS) || (oldest !== null && now - oldest > STALE_MS);
}

const COLUMNS = [
  { key: 'device', label: 'col_device', val: (d) => d.device },
  { key: 'user', label: 'col_user', val: (d) => d.user_name || d.user },
  { key: 'grids', label: 'col_grids', val: (d) => (d.grids || []).join(',') },
  { key: 'online', label: 'col_online', val: (d) => (d.online ? 1 : 0) },
  { key: 'last_sync', label: 'col_last_sync', val: lastSync },
  { key: 'pending', label: 'col_pending', val: (d) => d.pending, num: true },
  { key: 'oldest', label: 'col_oldest', val: (d) => ms(d.oldest_pending) },
  { key: 'app', label: 'col_app', val: (d) => d.app },
  { key: 'skew', label: 'col_skew', val: (d) => (d.clock_skew_ms == null ? null : Math.abs(d.clock_skew_ms)), num: true },
  { key: 'error', label: 'col_error', val: (d) => d.last_error },
];

const missing = (v) => v === null || v === undefined || v === '';

function compare(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// Sorted by the chosen column; missing values last whatever the direction.
function sorted(devices) {
  const col = COLUMNS.find((c) => c.key === view.sort) || COLUMNS[0];
  return devices.slice().sort((x, y) => {
    const a = col.val(x), b = col.val(y);
    if (missing(a) || missing(b)) return missing(a) - missing(b) || compare(x.device, y.device);
    return compare(a, b) * view.dir || compare(x.device, y.device);
  });
}

function matches(d) {
  if (view.grid && d.grids && d.grids.length && !d.grids.includes(view.grid)) return false;
  if (!view.query) return true;
  const q = view.query.toLowerCase();
  return [d.device, d.user, d.user_name].some((s) => s && String(s).toLowerCase().includes(q));
}

function skewCell(d) {
  if (d.clock_skew_ms == null) return '—';
  const text = t(d.clock_skew_ms >= 0 ? 'skew_ahead' : 'skew_behind', { d: duration(d.clock_skew_ms) });
  if (Math.abs(d.clock_skew_ms) <= SKEW_WARN_MS) return text;
  return [h('span', { class: 'badge warn' }, t('clock_off')), ' ', text];
}

// row's grids cell: the grids' names where the report gave them (蚬冈村 says
// more than g01 in a town of 12), the ids in the tooltip.
function gridsCell(d, names) {
  if (!d.grids || !d.grids.length) return h('td', null, t('every_grid'));
  return h('td', { title: d.grids.join(', ') }, d.grids.map((g) => names.get(g) || g).join(getLang() === 'zh' ? '、' : ', '));
}

function row(d, now, names) {
  const stale = isStale(d, now);
  const last = lastSync(d);
  const cls = ['dev', d.revoked && 'revoked', stale && 'stale', d.online && 'is-online'].filter(Boolean).join(' ');
  return h('tr', { class: cls, dataset: { device: d.device } },
    h('td', { class: 'mono' }, d.device,
      d.revoked ? [' ', h('span', { class: 'badge muted' }, t('revoked'))] : null),
    h('td', { title: d.user }, d.user_name || d.user),
    gridsCell(d, names),
    h('td', { class: 'center' }, h('span', {
      class: 'dot ' + (d.online ? 'on' : 'off'), role: 'img',
      'aria-label': t(d.online ? 'online' : 'offline'), title: t(d.online ? 'online' : 'offline'),
    })),
    h('td', { title: last ? new Date(last).toISOString() : d.enrolled },
      last ? ago(new Date(last).toISOString(), now)
        : h('span', { class: 'muted' }, d.enrolled ? t('never_synced_enrolled', { t: ago(d.enrolled, now) }) : t('never_synced')),
      stale ? [' ', h('span', { class: 'badge alert' }, t('needs_sync'))] : null),
    h('td', { class: 'num' }, d.pending == null ? '—' : num(d.pending)),
    h('td', { title: d.oldest_pending }, ago(d.oldest_pending, now)),
    h('td', { class: 'mono' }, d.app || '—'),
    h('td', null, skewCell(d)),
    h('td', { class: 'err' + (d.last_error ? ' has-error' : ' muted'), title: d.last_error || null }, d.last_error || '—'));
}

// Draws the board into root from the latest /api/status; grids is the list
// of [id, name] to filter by (from the report when known).
export function renderDevices(root, status, grids) {
  const now = Date.now();
  const devices = status ? status.devices : [];
  const names = new Map(grids);
  const bar = h('div', { class: 'toolbar' },
    h('label', null, t('filter_grid'), ' ',
      h('select', { id: 'grid-filter', onchange: (e) => { view.grid = e.target.value; renderDevices(root, status, grids); } },
        h('option', { value: '' }, t('all_grids')),
        grids.map(([id, name]) => h('option', { value: id, selected: view.grid === id }, name && name !== id ? `${name} (${id})` : id)))),
    h('label', null, t('search'), ' ',
      h('input', {
        id: 'device-search', type: 'search', value: view.query, placeholder: t('search_placeholder'),
        oninput: (e) => { view.query = e.target.value; drawBody(); },
      })),
    h('span', { class: 'count', id: 'device-count' }));
  const head = h('tr', null, COLUMNS.map((c) => h('th', {
    scope: 'col', class: c.num ? 'num' : null, title: t('sort_hint'),
    'aria-sort': view.sort === c.key ? (view.dir > 0 ? 'ascending' : 'descending') : 'none',
  }, h('button', {
    type: 'button', class: 'sort', dataset: { key: c.key },
    onclick: () => {
      view.dir = view.sort === c.key ? -view.dir : 1;
      view.sort = c.key;
      renderDevices(root, status, grids);
    },
  }, t(c.label), h('span', { class: 'arrow', 'aria-hidden': 'true' },
    view.sort === c.key ? (view.dir > 0 ? '▲' : '▼') : '')))));
  const body = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'devices' }, h('thead', null, head), body));

  function drawBody() {
    const shown = sorted(devices.filter(matches));
    clear(body).append(...shown.map((d) => row(d, now, names)));
    if (!shown.length) body.append(h('tr', null, h('td', { colspan: COLUMNS.length, class: 'empty' }, t('no_devices'))));
    bar.querySelector('#device-count').textContent = t('devices_count', { n: shown.length });
  }
  // Keep the search box's focus and caret across a refresh from the monitor.
  const had = document.activeElement && document.activeElement.id === 'device-search';
  clear(root).append(bar, table);
  drawBody();
  if (had) { const i = root.querySelector('#device-search'); i.focus(); i.setSelectionRange(i.value.length, i.value.length); }
}
