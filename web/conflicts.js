// conflicts.js — the conflicts queue: each open entry of the conflict log as a
// card with its candidates side by side and one "choose" button each; the
// resolved ones (who, when, why) behind a toggle.
import { h, clear } from './dom.js';
import { t, word, when, valueText } from './i18n.js';
import { getConflicts, resolveConflict, ApiError, Unauthorized, aborted } from './api.js';

const view = { status: 'open', items: [], next: null, loaded: false };
let hooks = { onUnauthorized() {}, onResolved() {} };

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The body of a resolve that picks candidate i. The last candidate is what the
// record holds ("winner"); "loser" is the newest other candidate whose value
// differs; any other is sent as its value.
function loserIndex(cands) {
  const last = cands.length - 1;
  for (let j = last - 1; j >= 0; j--) if (!same(cands[j].value, cands[last].value)) return j;
  return -1;
}

export function choiceBody(cands, i) {
  const last = cands.length - 1;
  if (i === last || same(cands[i].value, cands[last].value)) return { choose: 'winner' };
  return i === loserIndex(cands) ? { choose: 'loser' } : { value: cands[i].value };
}

function errorText(e) {
  if (e instanceof ApiError) {
    if (e.code === 'already_resolved') return t('err_already');
    if (e.code === 'not_found') return t('err_not_found');
    if (e.code === 'bad_request') return t('err_bad_request', { msg: e.message });
    return t('err_other', { status: e.status, msg: e.message });
  }
  return t('net_error', { msg: e.message });
}

function title(c) {
  return h('div', { class: 'c-title' },
    h('strong', null, word(c.collection), ' · ', h('span', { class: 'mono' }, c.record), ' · ', word(c.field)),
    h('span', { class: 'chip' }, t('grid'), ' ', c.grid),
    h('span', { class: 'muted small' }, t('conflict_created'), ' ', when(c.created)));
}

function candidate(c, cand, i, onChoose) {
  const current = i === c.candidates.length - 1;
  return h('div', { class: 'cand' + (current ? ' current' : '') },
    current ? h('span', { class: 'badge ok' }, t('candidate_current')) : null,
    h('div', { class: 'value' }, valueText(cand.value)),
    h('dl', null,
      h('dt', null, t('cand_by')), h('dd', { title: cand.user }, cand.user_name || cand.user || '—'),
      h('dt', null, t('cand_device')), h('dd', { class: 'mono' }, cand.device || '—'),
      h('dt', null, t('cand_time')), h('dd', null, when(cand.time))),
    onChoose ? h('button', { type: 'button', class: 'primary choose', dataset: { index: i }, onclick: () => onChoose(i) }, t('choose')) : null);
}

function openCard(c, list) {
  const msg = h('p', { class: 'msg', role: 'alert' });
  const reason = h('textarea', { maxlength: 500, rows: 2, placeholder: t('reason_placeholder'), class: 'reason' });
  const card = h('article', { class: 'card conflict', dataset: { id: c.id } });
  async function choose(i) {
    const buttons = card.querySelectorAll('button.choose');
    buttons.forEach((b) => { b.disabled = true; });
    msg.textContent = t('choosing');
    msg.className = 'msg';
    const body = choiceBody(c.candidates, i);
    if (reason.value.trim()) body.reason = reason.value.trim();
    try {
      await resolveConflict(c.id, body);
      view.items = view.items.filter((x) => x.id !== c.id);
      card.classList.add('leaving');
      setTimeout(() => { card.remove(); if (!list.querySelector('.conflict')) renderList(list); }, 250);
      hooks.onResolved();
    } catch (e) {
      if (aborted(e)) return; // signed out meanwhile
      if (e instanceof Unauthorized) { hooks.onUnauthorized(); return; }
      msg.textContent = errorText(e);
      msg.className = 'msg error';
      if (e instanceof ApiError && (e.code === 'already_resolved' || e.code === 'not_found')) {
        view.items = view.items.filter((x) => x.id !== c.id);
        setTimeout(() => { card.remove(); hooks.onResolved(); }, 2500);
        return;
      }
      buttons.forEach((b) => { b.disabled = false; });
    }
  }
  card.append(title(c),
    h('div', { class: 'cands' }, c.candidates.map((cand, i) => candidate(c, cand, i, choose))),
    h('label', { class: 'reason-label' }, t('reason'), reason), msg);
  return card;
}

function resolution(c) {
  const r = c.resolution;
  if (r && typeof r === 'object' && 'value' in r) return valueText(r.value);
  if (r && typeof r === 'object' && r.choose) {
    const i = r.choose === 'winner' ? c.candidates.length - 1 : loserIndex(c.candidates);
    return i >= 0 ? valueText(c.candidates[i].value) : r.choose;
  }
  return r == null ? '—' : valueText(r);
}

function resolvedCard(c) {
  return h('article', { class: 'card conflict resolved', dataset: { id: c.id } }, title(c),
    h('div', { class: 'cands' }, c.candidates.map((cand, i) => candidate(c, cand, i, null))),
    h('dl', { class: 'resolution' },
      h('dt', null, t('resolved_value')), h('dd', null, resolution(c)),
      h('dt', null, t('resolved_by')), h('dd', null, c.resolved_by || '—'),
      h('dt', null, t('resolved_at')), h('dd', null, when(c.resolved_at)),
      h('dt', null, t('resolved_reason')), h('dd', null, c.reason || t('no_reason'))));
}

function renderList(list) {
  clear(list);
  if (!view.loaded) { list.append(h('p', { class: 'muted' }, t('loading'))); return; }
  if (!view.items.length) list.append(h('p', { class: 'empty' }, t(view.status === 'open' ? 'no_open' : 'no_resolved')));
  for (const c of view.items) list.append(view.status === 'open' ? openCard(c, list) : resolvedCard(c));
  if (view.next) {
    list.append(h('button', { type: 'button', class: 'more', onclick: () => load(list, view.next) }, t('load_more')));
  }
}

// Reads a page into list. An answer for a list no longer on the page (the
// toggle was switched, or the supervisor signed out) is dropped.
async function load(list, after) {
  try {
    const data = await getConflicts(view.status, after);
    if (!list.isConnected) return;
    view.items = after ? view.items.concat(data.conflicts) : data.conflicts;
    view.next = data.next;
    view.loaded = true;
    renderList(list);
  } catch (e) {
    if (aborted(e) || !list.isConnected) return;
    if (e instanceof Unauthorized) { hooks.onUnauthorized(); return; }
    clear(list).append(h('p', { class: 'msg error' }, errorText(e)));
  }
}

let root = null;

// Draws the queue into el and (re)loads it; h.onUnauthorized runs on a 401,
// h.onResolved after a resolve so the header's count can follow.
export function renderConflicts(el, hk) {
  root = el;
  if (hk) hooks = hk;
  const list = h('div', { class: 'conflict-list', id: 'conflict-list' });
  const toggle = h('div', { class: 'segmented', role: 'group' },
    ['open', 'resolved'].map((st) => h('button', {
      type: 'button', 'aria-pressed': String(view.status === st), id: 'show-' + st,
      dataset: { i18n: st === 'open' ? 'show_open' : 'show_resolved' }, // follows the language switch
      onclick: () => { view.status = st; view.loaded = false; view.items = []; renderConflicts(el); },
    }, t(st === 'open' ? 'show_open' : 'show_resolved'))));
  clear(el).append(h('div', { class: 'toolbar' }, toggle), list);
  renderList(list);
  return load(list, null);
}

// Re-reads the queue (after a monitor event). A card being worked on (reason
// typed, a button pressed) is not redrawn under the supervisor's hands.
export function refreshConflicts() {
  if (!root) return Promise.resolve();
  const busy = [...root.querySelectorAll('.conflict')].some((c) =>
    c.querySelector('textarea.reason')?.value || c.querySelector('button.choose:disabled') || c.contains(document.activeElement));
  if (busy) return Promise.resolve();
  return load(root.querySelector('#conflict-list'), null);
}

export function resetConflicts() { view.items = []; view.next = null; view.loaded = false; view.status = 'open'; root = null; }
